/* validate: every health check of a deployment's pods, run concurrently. */
#ifndef AEGIS_VALIDATE_H
#define AEGIS_VALIDATE_H

#include <stdbool.h>

#include "config/deployment.h"
#include "podman/podman.h"

typedef struct check {
	size_t pod, container; /* indexes into the deployment */
	char *target;	       /* the probe, described */
	bool ok;
	double latency_ms;
	char *detail; /* why it failed, or what was found (never NULL once run) */
} check;

/* More to a check than its probe (e.g. "OpenBao unsealed"): called in the
 * check's own thread once the probe passed.  Returns 0 when the check passes
 * (*DETAIL, optional, newly allocated: what was found), or -1 with ERR saying
 * why it does not.  NULL: the probes alone. */
typedef int (*check_extra)(const deployment *d, const check *c, char **detail, aerr_t *err);

/* One check per container of every pod, all at once.  Returns 0 when the
 * checks ran (whatever their results); *OUT has d->pods' containers in order. */
int validate_run(podman *pm, const deployment *d, check_extra extra, check **out, size_t *n,
		 aerr_t *err);
void checks_free(check *c, size_t n);

#endif
