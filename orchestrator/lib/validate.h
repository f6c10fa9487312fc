/* validate: every health check of a deployment's pods, run concurrently. */
#ifndef AEGIS_VALIDATE_H
#define AEGIS_VALIDATE_H

#include <stdbool.h>

#include "deployment.h"
#include "podman.h"

typedef struct check {
	size_t pod, container; /* indexes into the deployment */
	char *target;          /* the probe, described */
	bool ok;
	double latency_ms;
	char detail[768];
} check;

/* More to a check than its probe (e.g. "OpenBao unsealed"): called in the
 * check's own thread once the probe passed; returns whether the check passes
 * and may rewrite DETAIL.  NULL: the probes alone. */
typedef bool (*check_extra)(const deployment *d, const check *c, char *detail, size_t n);

/* One check per container of every pod, all at once.  Returns 0 when the
 * checks ran (whatever their results); *OUT has d->pods' containers in order. */
int validate_run(podman *pm, const deployment *d, check_extra extra, check **out, size_t *n,
		 aerr_t *err);
void checks_free(check *c, size_t n);

#endif
