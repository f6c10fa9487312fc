/* The checks of validate beyond the containers' readiness probes: every
 * route of the TLS edge over verified HTTPS (edgecheck.h), and the SEAL key
 * each pod that holds one has, against the keypair generate-keys made
 * (sealkeys.h).  Each applies only when the deployment has what it checks. */
#ifndef AEGIS_PLATFORMCHECKS_H
#define AEGIS_PLATFORMCHECKS_H

#include <jansson.h>

#include "deployment.h"
#include "podman.h"

/* *ROWS: [{"kind": "edge-route"|"seal-key", "pod", "check", "ok",
 * "warning", "detail"}]; *FAILED: how many did not pass. */
int platform_checks_run(podman *pm, const deployment *d, json_t **rows, size_t *failed,
			aerr_t *err);

#endif
