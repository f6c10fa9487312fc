#include "rollout/rollout.h"

#include <string.h>

#include "podman/podsecret.h"
#include "rollout/probe.h"

#define FAILURE_LOG_LINES 20

char *rollout_container_name(const pod *p, const container *c)
{
	return xasprintf("%s-%s", p->pod_name, c->name);
}

int rollout_container_running(podman *pm, const char *name, aerr_t *err)
{
	json_t *js = NULL;
	if (podman_inspect_container(pm, name, &js, err) < 0)
		return 0;
	if (!js) {
		aerr_set(err, AEGIS_EFAIL, "container %s does not exist", name);
		return 0;
	}
	json_t *state = json_object_get(js, "State");
	const char *status = json_string_value(json_object_get(state, "Status"));
	json_int_t restarts = json_integer_value(json_object_get(js, "RestartCount"));
	json_int_t code = json_integer_value(json_object_get(state, "ExitCode"));
	int rc = 0;
	if (!status)
		status = "unknown";
	if (json_is_true(json_object_get(state, "Restarting")) || restarts > 0) {
		rc = aerr_set(err, AEGIS_EFAIL,
			      "container %s is restarting (restarts: %lld, last exit status %lld)",
			      name, (long long)restarts, (long long)code);
	} else if (strcmp(status, "running") == 0) {
		rc = 1;
	} else if (strcmp(status, "exited") == 0 || strcmp(status, "stopped") == 0 ||
		   strcmp(status, "dead") == 0) {
		rc = aerr_set(err, AEGIS_EFAIL, "container %s %s with status %lld", name, status,
			      (long long)code);
	} else {
		aerr_set(err, AEGIS_EFAIL, "container %s is %s", name, status);
	}
	json_decref(js);
	return rc;
}

int rollout_probe_sweep(podman *pm, const pod *p, bool *ready, char **last, size_t *last_c,
			aerr_t *err)
{
	bool all = true;
	for (size_t c = 0; c < p->ncontainers; c++) {
		if (ready[c])
			continue;
		const container *ct = &p->containers[c];
		cleanup_free char *name = rollout_container_name(p, ct);
		aerr_t why = {0};
		int run = rollout_container_running(pm, name, &why);
		if (run < 0) {
			*last_c = c;
			return aerr_set(err, why.status ? why.status : AEGIS_EFAIL, "%s", why.msg);
		}
		if (run > 0 && probe_run(pm, name, &ct->readiness, NULL, &why) == 0) {
			ready[c] = true;
			continue;
		}
		all = false;
		free(*last);
		*last = xstrdup(why.msg);
		*last_c = c;
	}
	return all ? 1 : 0;
}

/* The schedule's operations (rollout_ops) on the Podman API: the context is
 * the caller's connection, used only on the caller's thread; every thread
 * opens a connection of its own to the same socket. */

static int pm_open(void *ctx, void **conn, aerr_t *err)
{
	podman *pm = NULL;
	int rc = podman_open(&pm, podman_socket(ctx), err);
	*conn = pm;
	return rc;
}

static void pm_close(void *ctx, void *conn)
{
	(void)ctx;
	podman_close(conn);
}

/* Is the pod running, every container up, with the manifest (HASH) we would
 * play? */
static bool pm_unchanged(void *conn, const pod *p, const char *hash)
{
	podman *pm = conn;
	if (!hash)
		return false;
	json_t *js = NULL;
	aerr_t err = {0};
	if (podman_inspect_pod(pm, p->pod_name, &js, &err) < 0 || !js)
		return false;
	const char *label =
	    json_string_value(json_object_get(json_object_get(js, "Labels"), MANIFEST_HASH_LABEL));
	const char *state = json_string_value(json_object_get(js, "State"));
	bool same = label && strcmp(label, hash) == 0 && state && strcmp(state, "Running") == 0;
	json_decref(js);
	for (size_t c = 0; same && c < p->ncontainers; c++) {
		cleanup_free char *name = rollout_container_name(p, &p->containers[c]);
		same = rollout_container_running(pm, name, &err) == 1;
	}
	return same;
}

/* Create the pod from its manifest without starting its containers, then
 * start its infra container: what is left for its turn is starting the app
 * containers. */
static int pm_create(void *conn, const pod *p, const rollout_manifest *m, const char *network,
		     aerr_t *err)
{
	podman *pm = conn;
	cleanup_free char *infra = NULL;
	/* the pod's secret first: its secretKeyRefs are resolved at creation */
	if (podsecret_put(pm, p->name, m->secret, m->secret_len, err) < 0 ||
	    podman_create_kube(pm, m->yaml, m->len, network, err) < 0)
		return -1;
	if (podman_pod_infra_id(pm, p->pod_name, &infra, err) < 0 ||
	    podman_start_container(pm, infra, err) < 0)
		return -2; /* the pod exists, its network does not */
	return 0;
}

static int pm_play(void *conn, const pod *p, const rollout_manifest *m, const char *network,
		   aerr_t *err)
{
	podman *pm = conn;
	if (podsecret_put(pm, p->name, m->secret, m->secret_len, err) < 0)
		return -1;
	return podman_play_kube(pm, m->yaml, m->len, network, err);
}

static int pm_start(void *conn, const pod *p, size_t c, aerr_t *err)
{
	cleanup_free char *name = rollout_container_name(p, &p->containers[c]);
	return podman_start_container(conn, name, err);
}

static int pm_probe(void *conn, const pod *p, bool *ready, char **last, size_t *last_c, aerr_t *err)
{
	return rollout_probe_sweep(conn, p, ready, last, last_c, err);
}

static char *pm_logs(void *conn, const pod *p, size_t c)
{
	cleanup_free char *name = rollout_container_name(p, &p->containers[c]);
	char *logs = NULL;
	aerr_t err = {0};
	if (podman_logs(conn, name, FAILURE_LOG_LINES, false, -1, &logs, &err) < 0)
		logs = xasprintf("(logs unavailable: %s)", err.msg);
	return logs;
}

static int pm_remove(void *ctx, const pod *const *pods, size_t n, aerr_t *err)
{
	return rollout_remove_pods(ctx, pods, n, err);
}

int rollout_run(podman *pm, deployment *d, const rollout_opts *opts, rollout_pod *states,
		aerr_t *err)
{
	const rollout_ops ops = {
	    .ctx = pm,
	    .open = pm_open,
	    .close = pm_close,
	    .unchanged = pm_unchanged,
	    .create = pm_create,
	    .play = pm_play,
	    .start = pm_start,
	    .probe = pm_probe,
	    .logs = pm_logs,
	    .remove = pm_remove,
	};
	return rollout_schedule(&ops, d, opts, states, err);
}
