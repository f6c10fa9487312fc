#include "rollout/removal.h"

#include <pthread.h>

#include "podman/podsecret.h"
#include "rollout/pool.h"
#include "rollout/rollout.h"
#include "util/clock.h"

/* One pod to stop and remove, on a thread with its own API connection:
 * Podman takes seconds to remove a pod even when its containers stop at
 * once, so the pods of a tier are stopped and removed together. */
struct removal {
	const pod *p;	  /* teardown: the pod (else NULL) */
	const char *name; /* its Podman name */
	const char *socket;
	int timeout_s;
	bool existed;
	int rc;
	aerr_t err;
};

/* Open R's own API connection and find whether its pod exists (r->rc,
 * r->existed); the connection is returned, NULL when it could not open. */
static podman *removal_open(struct removal *r)
{
	podman *pm = NULL;
	json_t *js = NULL;
	r->rc = podman_open(&pm, r->socket, &r->err);
	if (r->rc == 0)
		r->rc = podman_inspect_pod(pm, r->name, &js, &r->err);
	r->existed = js != NULL;
	json_decref(js);
	return pm;
}

static void remove_pod(void *arg, size_t k)
{
	struct removal *r = (struct removal *)arg + k;
	podman *pm = removal_open(r);
	if (r->rc == 0 && r->existed &&
	    (podman_stop_pod(pm, r->name, r->timeout_s, &r->err) < 0 ||
	     podman_remove_pod(pm, r->name, &r->err) < 0))
		r->rc = aerr_wrap(&r->err, "pod %s", r->p ? r->p->name : r->name);
	podman_close(pm);
}

/* Podman 5 (5.4.2 seen) deadlocks on pods stopped at the same time through
 * one API service: a stop never answers, its log says "Cleaning up pod …:
 * acquiring job control semaphore: context canceled" when the client gives
 * up.  There the pods of a tier are stopped one after another. */
static bool stops_together(const char *socket)
{
	podman *pm = NULL;
	aerr_t ignored = {0};
	int major = 0;
	if (podman_open(&pm, socket, &ignored) == 0)
		podman_server_major(pm, &major, &ignored);
	podman_close(pm);
	return major < 5;
}

/* Stop and remove the N pods of JOBS together, one thread each (one after
 * another on Podman 5); the first error is returned once all are done. */
static int remove_together(struct removal *jobs, size_t n, aerr_t *err)
{
	if (n > 1 && !stops_together(jobs[0].socket)) {
		for (size_t k = 0; k < n; k++)
			remove_pod(jobs, k);
	} else {
		pool_each(n, remove_pod, jobs);
	}
	for (size_t k = 0; k < n; k++)
		if (jobs[k].rc < 0) {
			*err = jobs[k].err;
			return -1;
		}
	return 0;
}

int rollout_remove_pods(podman *pm, const pod *const *pods, size_t n, aerr_t *err)
{
	struct removal *jobs = xcalloc(n ? n : 1, sizeof *jobs);
	for (size_t k = 0; k < n; k++)
		jobs[k] = (struct removal){
		    .p = pods[k], .name = pods[k]->pod_name, .socket = podman_socket(pm)};
	int rc = remove_together(jobs, n, err);
	free(jobs);
	return rc;
}

/* A teardown stops each pod once every pod of the later tiers (its
 * dependents) has stopped, and removes it right after its own stop: a
 * tier's stop never waits for the slower removals of the tiers after it
 * (Podman takes seconds to remove a pod whose containers stopped at once).
 * On Podman 4 what the next tier waits for is only the stop of the pod's
 * own (app) containers, together: stopping the infra container (the pod's
 * network namespace; Podman 4.3 spends most of a pod stop there) is left to
 * the removal, off the chain of stops.  On Podman 5 the whole pod is
 * stopped, one pod at a time (stops_together). */
struct teardown {
	trace *trace;
	/* Podman 5: one stop and removal at a time (stops_together); else NULL */
	pthread_mutex_t *one_stop;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	size_t *left; /* per tier: pods not yet stopped (or known absent) */
	bool *failed; /* per tier: a pod of it could not be stopped */
	size_t ntiers;
};

struct teardown_job {
	struct removal r;
	struct teardown *td;
	size_t tier;
	size_t index; /* the pod's index in the deployment */
	bool skipped; /* a later tier failed: left running, as its dependents are */
};

/* Wait until every later tier has stopped; false when one of them failed. */
static bool teardown_wait_dependents(struct teardown *td, size_t tier)
{
	bool ok = true;
	pthread_mutex_lock(&td->lock);
	for (size_t t = tier + 1; t < td->ntiers && ok; t++) {
		while (td->left[t] > 0 && !td->failed[t])
			pthread_cond_wait(&td->changed, &td->lock);
		ok = !td->failed[t];
	}
	pthread_mutex_unlock(&td->lock);
	return ok;
}

static void teardown_stopped(struct teardown *td, size_t tier, bool failed)
{
	pthread_mutex_lock(&td->lock);
	td->left[tier]--;
	td->failed[tier] |= failed;
	pthread_cond_broadcast(&td->changed);
	pthread_mutex_unlock(&td->lock);
}

/* Stopping the app containers of one pod together, one connection each. */
struct app_stops {
	const pod *p;
	const char *socket;
	int timeout_s;
	int *rcs;
	aerr_t *errs;
};

static void stop_app_container(void *arg, size_t c)
{
	struct app_stops *s = arg;
	podman *pm = NULL;
	cleanup_free char *name = rollout_container_name(s->p, &s->p->containers[c]);
	s->rcs[c] = podman_open(&pm, s->socket, &s->errs[c]);
	if (s->rcs[c] == 0)
		s->rcs[c] = podman_stop_container(pm, name, s->timeout_s, &s->errs[c]);
	podman_close(pm);
}

/* Stop the app containers of R's pod (not its infra container); 0, or -1
 * with R->err. */
static int stop_app_containers(struct removal *r)
{
	size_t n = r->p->ncontainers;
	struct app_stops s = {.p = r->p,
			      .socket = r->socket,
			      .timeout_s = r->timeout_s,
			      .rcs = xcalloc(n ? n : 1, sizeof *s.rcs),
			      .errs = xcalloc(n ? n : 1, sizeof *s.errs)};
	pool_each(n, stop_app_container, &s);
	int rc = 0;
	for (size_t c = 0; c < n && rc == 0; c++)
		if (s.rcs[c] < 0) {
			r->err = s.errs[c];
			rc = -1;
		}
	free(s.rcs);
	free(s.errs);
	return rc;
}

static void teardown_pod(void *arg, size_t k)
{
	struct teardown_job *j = (struct teardown_job *)arg + k;
	struct removal *r = &j->r;
	podman *pm = removal_open(r);
	double t0 = clock_mono_s();
	if (r->rc == 0 && r->existed && !teardown_wait_dependents(j->td, j->tier)) {
		j->skipped = true;
		teardown_stopped(j->td, j->tier, true);
		podman_close(pm);
		return;
	}
	int tid = (int)j->index + 1;
	double t1 = clock_mono_s();
	if (j->td->one_stop)
		pthread_mutex_lock(j->td->one_stop);
	bool apps_only = !j->td->one_stop && r->p->ncontainers > 0;
	bool stopped =
	    r->rc == 0 &&
	    (!r->existed || (apps_only ? stop_app_containers(r)
				       : podman_stop_pod(pm, r->name, r->timeout_s, &r->err)) == 0);
	double t2 = clock_mono_s();
	teardown_stopped(j->td, j->tier, !stopped);
	/* the infra container (apps_only) is stopped by the removal */
	if (stopped && r->existed &&
	    ((apps_only && podman_stop_pod(pm, r->name, r->timeout_s, &r->err) < 0) ||
	     podman_remove_pod(pm, r->name, &r->err) < 0))
		stopped = false;
	/* held over the removal too: Podman 5 cleans the pod up there */
	if (j->td->one_stop)
		pthread_mutex_unlock(j->td->one_stop);
	if (r->existed) {
		trace_span(j->td->trace, tid, "wait for dependents to stop", t0, t1);
		trace_span(j->td->trace, tid, "stop", t1, t2);
		trace_span(j->td->trace, tid, "remove", t2, clock_mono_s());
	}
	if (!stopped && r->rc == 0)
		r->rc = -1;
	if (r->rc < 0)
		aerr_wrap(&r->err, "pod %s", r->p->name);
	podman_close(pm);
}

int rollout_teardown(podman *pm, const deployment *d, int timeout_s, trace *tr,
		     void (*done)(void *ctx, const pod *p, bool existed), void *ctx, aerr_t *err)
{
	size_t ntiers = d->plan.ntiers, n = 0;
	struct teardown td = {.trace = tr,
			      .left = xcalloc(ntiers ? ntiers : 1, sizeof *td.left),
			      .failed = xcalloc(ntiers ? ntiers : 1, sizeof *td.failed),
			      .ntiers = ntiers};
	pthread_mutex_init(&td.lock, NULL);
	pthread_cond_init(&td.changed, NULL);
	pthread_mutex_t one_stop = PTHREAD_MUTEX_INITIALIZER;
	for (size_t t = 0; t < ntiers; t++)
		n += d->plan.tiers[t].n;
	if (n > 1 && !stops_together(podman_socket(pm)))
		td.one_stop = &one_stop;
	struct teardown_job *jobs = xcalloc(n ? n : 1, sizeof *jobs);
	/* the last tier first, so that the jobs' order is the order of report */
	size_t k = 0;
	for (size_t t = ntiers; t-- > 0;) {
		const plan_tier *tier = &d->plan.tiers[t];
		td.left[t] = tier->n;
		for (size_t i = 0; i < tier->n; i++) {
			const pod *p = &d->pods[tier->pods[i]];
			trace_track(tr, (int)tier->pods[i] + 1, p->pod_name);
			jobs[k++] = (struct teardown_job){.r = {.p = p,
								.name = p->pod_name,
								.socket = podman_socket(pm),
								.timeout_s = timeout_s},
							  .td = &td,
							  .tier = t,
							  .index = tier->pods[i]};
		}
	}
	/* jobs wait only for jobs of later tiers, which come first (pool_each) */
	pool_each(n, teardown_pod, jobs);
	/* reported in reverse tier order, once all are done; the first error
	 * (in that order) is returned */
	int rc = 0;
	for (size_t s = 0; s < n; s++) {
		if (jobs[s].r.rc < 0 && rc == 0) {
			*err = jobs[s].r.err;
			rc = -1;
		}
		if (jobs[s].r.rc == 0 && !jobs[s].skipped && done)
			done(ctx, jobs[s].r.p, jobs[s].r.existed);
	}
	pthread_cond_destroy(&td.changed);
	pthread_mutex_destroy(&td.lock);
	free(jobs);
	free(td.left);
	free(td.failed);
	return rc;
}

int rollout_clean_list(podman *pm, const char *network, rollout_clean_set *out, aerr_t *err)
{
	*out = (rollout_clean_set){.network = xstrdup(network)};
	json_t *pods = NULL;
	if (podman_list_pods(pm, &pods, err) < 0 ||
	    podman_list_volumes(pm, &out->volumes, &out->nvolumes, err) < 0 ||
	    podman_network_exists(pm, network, &out->network_exists, err) < 0 ||
	    podsecret_list(pm, &out->secrets, &out->nsecrets, err) < 0) {
		json_decref(pods);
		rollout_clean_set_free(out);
		return -1;
	}
	size_t i;
	json_t *p;
	json_array_foreach(pods, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "Name"));
		if (!name)
			continue;
		out->pods = xrealloc(out->pods, (out->npods + 1) * sizeof *out->pods);
		out->pods[out->npods++] = xstrdup(name);
	}
	json_decref(pods);
	return 0;
}

int rollout_clean(podman *pm, const rollout_clean_set *c, int timeout_s,
		  void (*removed)(void *ctx, const char *kind, const char *name), void *ctx,
		  aerr_t *err)
{
	struct removal *jobs = xcalloc(c->npods ? c->npods : 1, sizeof *jobs);
	for (size_t k = 0; k < c->npods; k++)
		jobs[k] = (struct removal){
		    .name = c->pods[k], .socket = podman_socket(pm), .timeout_s = timeout_s};
	int rc = remove_together(jobs, c->npods, err);
	for (size_t k = 0; k < c->npods && removed; k++)
		if (jobs[k].rc == 0 && jobs[k].existed)
			removed(ctx, "pod", c->pods[k]);
	free(jobs);
	for (size_t v = 0; rc == 0 && v < c->nvolumes; v++) {
		rc = podman_volume_remove(pm, c->volumes[v], err);
		if (rc == 0 && removed)
			removed(ctx, "volume", c->volumes[v]);
	}
	if (rc == 0 && c->network_exists) {
		rc = podman_network_remove(pm, c->network, err);
		if (rc == 0 && removed)
			removed(ctx, "network", c->network);
	}
	for (size_t s = 0; rc == 0 && s < c->nsecrets; s++) {
		rc = podman_secret_remove(pm, c->secrets[s], err);
		if (rc == 0 && removed)
			removed(ctx, "secret", c->secrets[s]);
	}
	return rc;
}

void rollout_clean_set_free(rollout_clean_set *c)
{
	for (size_t i = 0; i < c->npods; i++)
		free(c->pods[i]);
	free(c->pods);
	for (size_t i = 0; i < c->nvolumes; i++)
		free(c->volumes[i]);
	free(c->volumes);
	for (size_t i = 0; i < c->nsecrets; i++)
		free(c->secrets[i]);
	free(c->secrets);
	free(c->network);
	*c = (rollout_clean_set){0};
}
