/* Before a rollout: the network, the pods' named volumes and their images,
 * each image checked (and pulled when missing) by a small pool of threads,
 * one API connection each. */
#ifndef AEGIS_IMAGES_H
#define AEGIS_IMAGES_H

#include "config/deployment.h"
#include "podman/podman.h"

/* Ensure the network, the pods' named volumes and their images exist
 * (pulling missing images; PULL_PROGRESS gets the pull's status lines). */
int rollout_prepare(podman *pm, const deployment *d, const char *network,
		    void (*pull_progress)(void *, const char *), void *ctx, aerr_t *err);

#endif
