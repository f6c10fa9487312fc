#include "rollout/validate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "rollout/probe.h"
#include "rollout/rollout.h"
#include "util/clock.h"

struct job {
	const deployment *d;
	check_extra extra;
	const char *socket;
	check *c;
	pthread_t thread;
};

static void *run_check(void *arg)
{
	struct job *j = arg;
	check *c = j->c;
	const pod *p = &j->d->pods[c->pod];
	const container *ct = &p->containers[c->container];
	cleanup_free char *name = rollout_container_name(p, ct);
	podman *pm = NULL;
	aerr_t err = {0};
	if (podman_open(&pm, j->socket, &err) < 0) {
		c->detail = xstrdup(err.msg);
		return NULL;
	}
	if (rollout_container_running(pm, name, &err) <= 0) {
		c->detail = xstrdup(err.msg);
	} else {
		aerr_t perr = {0};
		c->ok = probe_run(pm, name, &ct->readiness, &c->latency_ms, &perr) == 0;
		c->detail = xstrdup(c->ok ? "ready" : perr.msg);
		if (c->ok && j->extra) {
			double t0 = clock_mono_s();
			char *found = NULL;
			aerr_clear(&err);
			c->ok = j->extra(j->d, c, &found, &err) == 0;
			if (!c->ok || found) {
				free(c->detail);
				c->detail = c->ok ? found : xstrdup(err.msg);
			}
			c->latency_ms += (clock_mono_s() - t0) * 1e3;
		}
	}
	podman_close(pm);
	return NULL;
}

int validate_run(podman *pm, const deployment *d, check_extra extra, check **out, size_t *n,
		 aerr_t *err)
{
	size_t total = 0;
	for (size_t i = 0; i < d->npods; i++)
		total += d->pods[i].ncontainers;
	check *checks = xcalloc(total, sizeof *checks);
	struct job *jobs = xcalloc(total, sizeof *jobs);
	size_t k = 0;
	for (size_t i = 0; i < d->npods; i++) {
		for (size_t c = 0; c < d->pods[i].ncontainers; c++, k++) {
			checks[k].pod = i;
			checks[k].container = c;
			checks[k].target = probe_describe(&d->pods[i].containers[c].readiness);
			jobs[k] = (struct job){
			    .d = d, .extra = extra, .socket = podman_socket(pm), .c = &checks[k]};
		}
	}
	size_t started = 0;
	int rc = 0;
	for (; started < total; started++) {
		if (pthread_create(&jobs[started].thread, NULL, run_check, &jobs[started]) != 0) {
			rc = aerr_set(err, AEGIS_EFAIL, "cannot start a thread for the checks");
			break;
		}
	}
	for (size_t j = 0; j < started; j++)
		pthread_join(jobs[j].thread, NULL);
	free(jobs);
	if (rc < 0) {
		checks_free(checks, total);
		return -1;
	}
	*out = checks;
	*n = total;
	return 0;
}

void checks_free(check *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].target);
		free(c[i].detail);
	}
	free(c);
}
