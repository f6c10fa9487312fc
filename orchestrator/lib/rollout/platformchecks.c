#include "rollout/platformchecks.h"

#include <math.h>
#include <pthread.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/sealkeys.h"
#include "render/edge.h"
#include "rollout/edgecheck.h"
#include "util/clock.h"

static void add_row(json_t *rows, const char *kind, const char *pod, const char *check, bool ok,
		    bool warning, const char *detail)
{
	json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:b, s:b, s:s}", "kind", kind, "pod",
					      pod ? pod : "-", "check", check, "ok", ok, "warning",
					      warning, "detail", detail ? detail : ""));
}

int platform_checks_run(podman *pm, const deployment *d, json_t **rows, size_t *failed, aerr_t *err)
{
	*rows = json_array();
	*failed = 0;
	if (deployment_pod_index(d, EDGE_POD) >= 0) {
		edge_check *c = NULL;
		size_t n = 0;
		if (edgecheck_run(d, NULL, &c, &n, err) < 0)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			cleanup_free char *what = xasprintf("https://%s", c[i].host);
			add_row(*rows, "edge-route", c[i].pod, what, c[i].ok, c[i].warning,
				c[i].detail);
			*failed += !c[i].ok;
		}
		edge_checks_free(c, n);
	}
	if (sealkeys_needed(d)) {
		sealkey_check *c = NULL;
		size_t n = 0;
		char want[96];
		if (sealkeys_check(pm, d, want, &c, &n, err) < 0)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			cleanup_free char *what =
			    xasprintf("SEAL key %s", c[i].path ? c[i].path : "-");
			cleanup_free char *detail =
			    c[i].ok ? xasprintf("fingerprint %s", c[i].fingerprint)
				    : xstrdup(c[i].detail);
			add_row(*rows, "seal-key", c[i].pod, what, c[i].ok, false, detail);
			*failed += !c[i].ok;
		}
		sealkey_checks_free(c, n);
	}
	return 0;
fail:
	json_decref(*rows);
	*rows = NULL;
	return -1;
}

/* The platform checks (the SEAL keys' execs, the edge's HTTPS requests) run
 * beside the probes, on their own API connection, so validate takes as
 * long as its slowest check, not the sum of the two sets. */
struct platform_job {
	const char *socket;
	const deployment *d;
	json_t *rows;
	size_t failed;
	int rc;
	aerr_t err;
};

static void *platform_thread(void *arg)
{
	struct platform_job *j = arg;
	podman *pm = NULL;
	j->rc = podman_open(&pm, j->socket, &j->err);
	if (j->rc == 0)
		j->rc = platform_checks_run(pm, j->d, &j->rows, &j->failed, &j->err);
	podman_close(pm);
	return NULL;
}

int platform_validate(podman *pm, const deployment *d, validation *v, aerr_t *err)
{
	*v = (validation){0};
	double t0 = clock_mono_s();
	struct platform_job job = {.socket = podman_socket(pm), .d = d};
	pthread_t thread;
	bool threaded = pthread_create(&thread, NULL, platform_thread, &job) == 0;
	if (!threaded)
		platform_thread(&job);
	int rc = validate_run(pm, d, bootstrap_validate_check, &v->checks, &v->n, err);
	if (threaded)
		pthread_join(thread, NULL);
	v->platform = job.rows;
	v->platform_failed = job.failed;
	if (rc == 0 && job.rc < 0) {
		*err = job.err;
		rc = -1;
	}
	if (rc < 0) {
		validation_free(v);
		return -1;
	}
	v->took = clock_mono_s() - t0;
	for (size_t i = 0; i < v->n; i++)
		v->failed += !v->checks[i].ok;
	return 0;
}

json_t *validation_checks_json(const deployment *d, const validation *v)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < v->n; i++) {
		const check *k = &v->checks[i];
		const pod *p = &d->pods[k->pod];
		json_array_append_new(
		    arr, json_pack("{s:s, s:s, s:s, s:b, s:f, s:s}", "pod", p->name, "container",
				   p->containers[k->container].name, "check", k->target, "ok",
				   k->ok, "latency_ms", round(k->latency_ms * 10.0) / 10.0,
				   "detail", k->detail));
	}
	return arr;
}

void validation_free(validation *v)
{
	checks_free(v->checks, v->n);
	json_decref(v->platform);
	*v = (validation){0};
}
