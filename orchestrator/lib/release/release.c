#include "release/release.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "release/rollback.h"
#include "rollout/edgecheck.h"

/* The rollout's one context: progress to the caller, readiness to the
 * edge's CA export and the bootstrap hook. */
struct release_ctx {
	const release_opts *o;
	bootstrap_hook *hook;
	const char *socket; /* the rollout's API socket */
};

static void on_progress(void *ctx, const deployment *d, size_t pod, const rollout_pod *st)
{
	const release_opts *o = ((struct release_ctx *)ctx)->o;
	if (o->progress)
		o->progress(o->ctx, d, pod, st);
}

static int on_ready(void *ctx, deployment *d, size_t pod, aerr_t *err)
{
	struct release_ctx *rc = ctx;
	/* the edge's internal CA is exported whether or not bootstrap runs */
	if (edgecheck_on_ready(d, pod, rc->socket, err) < 0)
		return -1;
	if (rc->hook)
		return bootstrap_on_ready(rc->hook, d, pod, err);
	/* Without the bootstrap (which unseals too), pod-secrets' dependents
	 * still wait for an unsealed OpenBao: a restart left it sealed. */
	if (strcmp(d->pods[pod].name, BOOTSTRAP_SECRETS_POD) != 0)
		return 0;
	bootstrap_opts bo = {.trace = rc->o->trace, .trace_ctx = rc->o->ctx};
	bool unsealed = false;
	return bootstrap_unseal_gate(&d->cfg, &bo, true, &unsealed, err);
}

int release_run(podman *pm, deployment *d, const release_opts *o, rollout_pod *states,
		json_t **bootstrap, aerr_t *err)
{
	*bootstrap = NULL;
	/* kube/variables.yaml gives it its default */
	const char *network = config_get(&d->cfg, "AEGIS_NETWORK");
	if (rollout_prepare(pm, d, network, o->pull, o->ctx, err) < 0)
		return -1;
	if (o->begin)
		o->begin(o->ctx, d);
	bootstrap_opts bo = {.trace = o->trace, .trace_ctx = o->ctx};
	struct release_ctx ctx = {.o = o,
				  .hook = o->no_bootstrap ? NULL : bootstrap_hook_new(d, &bo),
				  .socket = podman_socket(pm)};
	rollout_opts ro = {
	    .network = network,
	    .timeout_s = o->timeout_s,
	    .replace = o->replace,
	    .selected = o->selected,
	    .progress = on_progress,
	    .on_ready = on_ready,
	    .ctx = &ctx,
	    .trace = o->rollout_trace,
	    .expected_ready_s = o->expected_ready_s,
	};
	int rc = rollout_run(pm, d, &ro, states, err);
	if (ctx.hook)
		*bootstrap = bootstrap_hook_report(ctx.hook);
	bootstrap_hook_free(ctx.hook);
	return rc;
}

int release_restore_load(const char *state_dir, const deployment *d, const rollout_pod *states,
			 release_restore *r, aerr_t *err)
{
	*r = (release_restore){.pods = json_array()};
	for (size_t i = 0; i < d->npods; i++)
		if (rollout_pod_replaced(&states[i]))
			json_array_append_new(r->pods, json_string(d->pods[i].name));
	if (!json_array_size(r->pods))
		return 0;
	json_t *target = NULL;
	if (rollback_target(state_dir, -1, &target, err) < 0)
		return -1;
	r->revision = (int)json_integer_value(json_object_get(target, "revision"));
	char *work = xasprintf("%s/restore-XXXXXX", state_dir);
	if (!mkdtemp(work)) {
		aerr_sys(err, AEGIS_EFAIL, errno, "cannot create %s", work);
		free(work);
		json_decref(target);
		return -1;
	}
	r->workdir = work;
	/* the previous digests, not what the tags point at now */
	if (rollback_load(state_dir, r->revision, &d->cfg, work, &r->prev, err) < 0 ||
	    rollback_pin_images(&r->prev, json_object_get(target, "pods"), &r->images, err) < 0) {
		json_decref(target);
		return -1;
	}
	json_decref(target);
	r->selected = xcalloc(r->prev.npods ? r->prev.npods : 1, sizeof *r->selected);
	size_t i;
	json_t *v;
	json_array_foreach(r->pods, i, v)
	{
		int idx = deployment_pod_index(&r->prev, json_string_value(v));
		if (idx >= 0)
			r->selected[idx] = true;
	}
	return 0;
}

json_t *release_restore_record(const release_restore *r, const char *result, const aerr_t *err)
{
	json_t *out = json_pack("{s:o}", "pods", r->pods ? json_incref(r->pods) : json_array());
	if (r->revision)
		json_object_set_new(out, "revision", json_integer(r->revision));
	json_object_set_new(out, "result", json_string(result));
	if (json_array_size(r->images))
		json_object_set(out, "images", r->images);
	if (err && err->msg[0])
		json_object_set_new(out, "error", json_string(err->msg));
	return out;
}

void release_restore_free(release_restore *r)
{
	json_decref(r->pods);
	json_decref(r->images);
	deployment_free(&r->prev);
	free(r->selected);
	if (r->workdir)
		rollback_cleanup(r->workdir);
	free(r->workdir);
	*r = (release_restore){0};
}
