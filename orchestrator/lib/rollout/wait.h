/* Waiting for one running pod to become ready: every container running and
 * passing its readiness probe (the probes `deploy` uses), without playing
 * anything.  For `aegis-deploy wait` (systemd's ExecStartPost, CI). */
#ifndef AEGIS_WAIT_H
#define AEGIS_WAIT_H

#include "config/deployment.h"
#include "podman/podman.h"
#include "rollout/rollout.h"

/* Poll pod POD of D until ready or TIMEOUT_S.  ST (caller's, zeroed) gets
 * the record `deploy` keeps for a pod: state ROLL_READY with its ready time,
 * or ROLL_FAILED with the container, probe, last error and log lines that
 * report_failure prints.  Returns -1 with ERR when not ready. */
int wait_pod_ready(podman *pm, const deployment *d, size_t pod, int timeout_s, rollout_pod *st,
		   aerr_t *err);

#endif
