#include "rollout/wait.h"

#include <stdio.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "rollout/probe.h"
#include "util/clock.h"

#define WAIT_POLL_MS 500
#define WAIT_LOG_LINES 20

static int fail(podman *pm, const pod *p, const container *c, rollout_pod *st, const char *why,
		aerr_t *err)
{
	st->state = ROLL_FAILED;
	st->error = xstrdup(why);
	if (c) {
		st->container = xstrdup(c->name);
		st->probe = probe_describe(&c->readiness);
		cleanup_free char *name = rollout_container_name(p, c);
		aerr_t lerr = {0};
		if (podman_logs(pm, name, WAIT_LOG_LINES, false, -1, &st->logs, &lerr) < 0)
			st->logs = xasprintf("(logs unavailable: %s)", lerr.msg);
	}
	return aerr_set(err, AEGIS_EFAIL, "pod %s (%s) is not ready: %s", p->name, p->pod_name,
			why);
}

/* pod-secrets is ready for its dependents once OpenBao is initialised and
 * unsealed: after a restart (a reboot, `podman pod restart`) it is sealed,
 * and is unsealed here from the init file (bootstrap_unseal_gate). */
static int gate_secrets(const deployment *d, const pod *p, double deadline, aerr_t *err)
{
	if (strcmp(p->name, BOOTSTRAP_SECRETS_POD) != 0)
		return 0;
	int left = (int)(deadline - clock_mono_s());
	bootstrap_opts bo = {.wait_s = left > 1 ? left : 1};
	bool unsealed = false;
	return bootstrap_unseal_gate(&d->cfg, &bo, false, &unsealed, err);
}

int wait_pod_ready(podman *pm, const deployment *d, size_t i, int timeout_s, rollout_pod *st,
		   aerr_t *err)
{
	const pod *p = &d->pods[i];
	double t0 = clock_mono_s(), deadline = t0 + timeout_s;
	st->state = ROLL_STARTING;
	st->start = 0;
	st->start_epoch = clock_wall_s();
	st->ready = -1;
	bool *ready = xcalloc(p->ncontainers ? p->ncontainers : 1, sizeof *ready);
	char *last = NULL;
	size_t last_c = 0;
	int rc = 0;
	for (;;) {
		aerr_t why = {0};
		int swept = rollout_probe_sweep(pm, p, ready, &last, &last_c, &why);
		if (swept < 0) {
			rc = fail(pm, p, &p->containers[last_c], st, why.msg, err);
			break;
		}
		if (swept == 1 && gate_secrets(d, p, deadline, err) < 0) {
			cleanup_free char *why = xstrdup(err->msg);
			rc = fail(pm, p, &p->containers[0], st, why, err);
			break;
		}
		if (swept == 1) {
			st->state = ROLL_READY;
			st->ready = clock_mono_s() - t0;
			st->ready_epoch = clock_wall_s();
			break;
		}
		if (clock_mono_s() >= deadline) {
			cleanup_free char *msg =
			    xasprintf("not ready after %d s: %s", timeout_s,
				      last && *last ? last : "probe never passed");
			rc = fail(pm, p, &p->containers[last_c], st, msg, err);
			break;
		}
		clock_sleep_ms(WAIT_POLL_MS);
	}
	free(last);
	free(ready);
	return rc;
}
