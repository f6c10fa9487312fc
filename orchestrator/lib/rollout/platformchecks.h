/* The checks of validate beyond the containers' readiness probes: every
 * route of the TLS edge over verified HTTPS (edgecheck.h), and the SEAL key
 * each pod that holds one has, against the keypair generate-keys made
 * (sealkeys.h).  Each applies only when the deployment has what it checks. */
#ifndef AEGIS_PLATFORMCHECKS_H
#define AEGIS_PLATFORMCHECKS_H

#include <jansson.h>

#include "config/deployment.h"
#include "podman/podman.h"
#include "rollout/validate.h"

/* *ROWS: [{"kind": "edge-route"|"seal-key", "pod", "check", "ok",
 * "warning", "detail"}]; *FAILED: how many did not pass. */
int platform_checks_run(podman *pm, const deployment *d, json_t **rows, size_t *failed,
			aerr_t *err);

/* Everything validate checks: the containers' readiness probes with the
 * bootstrap's own conditions (validate.h, bootstrap.h), then the checks
 * above. */
typedef struct validation {
	check *checks; /* one per probe */
	size_t n, failed;
	json_t *platform; /* platform_checks_run's rows */
	size_t platform_failed;
	double took; /* seconds, both together */
} validation;
int platform_validate(podman *pm, const deployment *d, validation *v, aerr_t *err);
/* validate --json's "checks": [{pod, container, check, ok, latency_ms, detail}] */
json_t *validation_checks_json(const deployment *d, const validation *v);
void validation_free(validation *v);

#endif
