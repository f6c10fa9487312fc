/* Container logs of a deployed pod: which containers, and their output. */
#ifndef AEGIS_LOGS_H
#define AEGIS_LOGS_H

#include <stdbool.h>

#include "config/deployment.h"
#include "podman/podman.h"

typedef struct logs_target {
	char *container; /* the container's name in the template */
	char *podman;	 /* its name in Podman */
} logs_target;

/* The containers of POD (or only CONTAINER, when not NULL) in the order the
 * template lists them.  An unknown pod or container is a configuration
 * error that lists the valid names. */
int logs_targets(const deployment *d, const char *pod, const char *container, logs_target **out,
		 size_t *n, aerr_t *err);
void logs_targets_free(logs_target *t, size_t n);

/* Write the last TAIL lines (-1: all) of each target's logs to FD, each
 * after a "==> name <==" line when HEADERS; with FOLLOW, every target at
 * once until its container stops.  The first error is returned after all
 * targets are done. */
int logs_show(podman *pm, const logs_target *t, size_t n, int tail, bool follow, bool headers,
	      int fd, aerr_t *err);

#endif
