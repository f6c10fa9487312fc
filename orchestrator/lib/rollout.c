#include "rollout.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "podsecret.h"
#include "probe.h"
#include "wipe.h"

/* Poll readiness at most every 200 ms; after the first few seconds back off
 * to 500 ms.  Most services are ready within seconds, and each tier waits for
 * its slowest pod, so the early polls keep a rollout close to its critical
 * path; a slow starter is not hammered for minutes. */
#define POLL_FIRST_MS 200
#define POLL_MAX_MS 500
#define POLL_BACKOFF_AFTER_S 5.0
#define FAILURE_LOG_LINES 20
/* Pods created ahead at once, and images checked at once: each creation is
 * a few hundred ms of Podman's CPU, so more than a few together on a small
 * machine only slow each other (and the probes of the first tier). */
#define AHEAD_WORKERS 4
#define IMAGE_WORKERS 4

const char *rollout_state_name(rollout_state s)
{
	static const char *const names[] = {"waiting", "creating",  "starting", "ready",
					    "failed",  "cancelled", "skipped"};
	return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "unknown";
}

char *rollout_container_name(const pod *p, const container *c)
{
	return xasprintf("%s-%s", p->pod_name, c->name);
}

/* The images of a deployment, each checked (and pulled when missing) by a
 * small pool of threads, one API connection each. */
struct image_check {
	const char **refs;
	const char **where; /* "pod P, container C" of each */
	size_t n, next;
	const char *socket;
	void (*progress)(void *, const char *);
	void *ctx;
	pthread_mutex_t lock; /* NEXT, the progress callback, the first error */
	int rc;
	aerr_t err;
};

static void image_progress(void *arg, const char *line)
{
	struct image_check *ic = arg;
	pthread_mutex_lock(&ic->lock);
	ic->progress(ic->ctx, line);
	pthread_mutex_unlock(&ic->lock);
}

static void *image_worker(void *arg)
{
	struct image_check *ic = arg;
	podman *pm = NULL;
	aerr_t err = {0};
	int rc = podman_open(&pm, ic->socket, &err);
	for (;;) {
		pthread_mutex_lock(&ic->lock);
		size_t k = ic->rc == 0 && rc == 0 ? ic->next++ : ic->n;
		pthread_mutex_unlock(&ic->lock);
		if (k >= ic->n)
			break;
		bool exists = false;
		rc = podman_image_exists(pm, ic->refs[k], &exists, &err);
		if (rc == 0 && !exists)
			rc = podman_image_pull(pm, ic->refs[k],
					       ic->progress ? image_progress : NULL, ic, &err);
		if (rc < 0)
			aerr_wrap(&err, "%s", ic->where[k]);
	}
	pthread_mutex_lock(&ic->lock);
	if (rc < 0 && ic->rc == 0) {
		ic->rc = -1;
		ic->err = err;
	}
	pthread_mutex_unlock(&ic->lock);
	podman_close(pm);
	return NULL;
}

static int check_images(podman *pm, const deployment *d,
			void (*pull_progress)(void *, const char *), void *ctx, aerr_t *err)
{
	struct image_check ic = {
	    .socket = podman_socket(pm), .progress = pull_progress, .ctx = ctx};
	size_t max = 0;
	for (size_t i = 0; i < d->npods; i++)
		max += d->pods[i].ncontainers;
	ic.refs = xcalloc(max ? max : 1, sizeof *ic.refs);
	char **where = xcalloc(max ? max : 1, sizeof *where);
	ic.where = (const char **)where;
	for (size_t i = 0; i < d->npods; i++) {
		const pod *p = &d->pods[i];
		for (size_t c = 0; c < p->ncontainers; c++) {
			const char *image = p->containers[c].image;
			bool seen = false;
			for (size_t k = 0; k < ic.n && !seen; k++)
				seen = strcmp(ic.refs[k], image) == 0;
			if (seen)
				continue;
			where[ic.n] =
			    xasprintf("pod %s, container %s", p->name, p->containers[c].name);
			ic.refs[ic.n++] = image;
		}
	}
	pthread_mutex_init(&ic.lock, NULL);
	pthread_t threads[IMAGE_WORKERS];
	size_t started = 0;
	for (; started < IMAGE_WORKERS && started < ic.n; started++)
		if (pthread_create(&threads[started], NULL, image_worker, &ic) != 0)
			break;
	if (ic.n && !started) {
		ic.rc = -1;
		aerr_set(&ic.err, AEGIS_EFAIL, "cannot start a thread to check images");
	}
	for (size_t k = 0; k < started; k++)
		pthread_join(threads[k], NULL);
	pthread_mutex_destroy(&ic.lock);
	if (ic.rc < 0)
		*err = ic.err;
	for (size_t k = 0; k < ic.n; k++)
		free(where[k]);
	free(where);
	free(ic.refs);
	return ic.rc;
}

int rollout_prepare(podman *pm, const deployment *d, const char *network,
		    void (*pull_progress)(void *, const char *), void *ctx, aerr_t *err)
{
	bool exists = false;
	json_t *net = NULL;
	if (podman_network_inspect(pm, network, &net, err) < 0)
		return -1;
	if (!net && podman_network_create(pm, network, err) < 0)
		return -1;
	if (net) {
		bool dns = json_is_true(json_object_get(net, "dns_enabled"));
		json_decref(net);
		if (!dns)
			return aerr_set(
			    err, AEGIS_ECONFIG,
			    "network %s exists without DNS, so pods could not reach each "
			    "other by name; remove it (aegis-deploy clean, or podman "
			    "network rm %s) and deploy again",
			    network, network);
	}
	for (size_t i = 0; i < d->npods; i++) {
		const pod *p = &d->pods[i];
		for (size_t v = 0; v < p->nvolumes; v++) {
			if (podman_volume_exists(pm, p->volumes[v], &exists, err) < 0)
				return -1;
			if (!exists && podman_volume_create(pm, p->volumes[v], err) < 0)
				return -1;
		}
	}
	return check_images(pm, d, pull_progress, ctx, err);
}

/* What became of a pod before its tier: created ahead (containers created,
 * infra container started: network and ports ready), kept, or failed. */
typedef enum {
	AHEAD_PENDING = 0,
	AHEAD_KEPT,
	AHEAD_CREATED,
	AHEAD_FAILED,
	AHEAD_SKIPPED, /* not selected, or the rollout failed before its turn */
} ahead_state;

struct ahead {
	/* The manifest as it was when the rollout began.  A bootstrap hook may
	 * re-render the manifests of later tiers (rollout_opts.on_ready) while
	 * pods are created ahead, so creation works from this copy and the
	 * pod's own thread compares it with the manifest at its turn. */
	char *yaml;
	size_t len;
	char *secret; /* its Podman secret's content (podsecret.h), or NULL */
	size_t secret_len;
	char *hash;
	ahead_state state; /* under shared.ahead_lock from here on */
	bool made;	   /* its pod exists (created by this rollout) */
	bool started;	   /* its containers were (or are being) started */
	char *error;	   /* AHEAD_FAILED: why */
	double created_mono, created_wall;
};

struct shared {
	deployment *d;
	const rollout_opts *opts;
	rollout_pod *states;
	const char *socket;
	double t0_mono, t0_wall;
	atomic_int cancel;
	/* Every write to STATES (and the progress callbacks, which read them)
	 * happens under this one lock; a pod's own thread may read its record
	 * without it, since only that thread writes it. */
	pthread_mutex_t lock;
	/* Creating ahead: the pods in tier order, the next one to create, each
	 * pod's AHEAD record; CREATED is signalled when a record changes. */
	struct ahead *ahead;
	size_t *order, norder, next;
	size_t first_tier; /* the first tier with a pod to roll out: its turn is now */
	pthread_mutex_t ahead_lock;
	pthread_cond_t created;
};

struct worker {
	struct shared *sh;
	size_t index;
	pthread_t thread;
};

/* Lock held. */
static void set_state_locked(struct shared *sh, size_t i, rollout_state s)
{
	rollout_pod *st = &sh->states[i];
	st->state = s;
	double m = clock_mono_s(), w = clock_wall_s();
	if (s == ROLL_CREATING) {
		st->start = m - sh->t0_mono;
		st->start_epoch = w;
	} else if (s == ROLL_READY) {
		st->ready = m - sh->t0_mono;
		st->ready_epoch = w;
	}
	if (sh->opts->progress)
		sh->opts->progress(sh->opts->ctx, sh->d, i, st);
}

static void set_state(struct shared *sh, size_t i, rollout_state s)
{
	pthread_mutex_lock(&sh->lock);
	set_state_locked(sh, i, s);
	pthread_mutex_unlock(&sh->lock);
}

static void set_kept(struct shared *sh, size_t i, bool kept)
{
	pthread_mutex_lock(&sh->lock);
	sh->states[i].kept = kept;
	pthread_mutex_unlock(&sh->lock);
}

static void replace_str(char **slot, char *value)
{
	free(*slot);
	*slot = value;
}

static void fail_pod(struct shared *sh, size_t i, podman *pm, const container *c, const char *error)
{
	const pod *p = &sh->d->pods[i];
	char *logs = NULL;
	if (c && pm) {
		cleanup_free char *name = rollout_container_name(p, c);
		aerr_t lerr = {0};
		if (podman_logs(pm, name, FAILURE_LOG_LINES, false, -1, &logs, &lerr) < 0)
			logs = xasprintf("(logs unavailable: %s)", lerr.msg);
	}
	atomic_store(&sh->cancel, 1);
	pthread_mutex_lock(&sh->lock);
	rollout_pod *st = &sh->states[i];
	replace_str(&st->error, xstrdup(error));
	if (c) {
		replace_str(&st->container, xstrdup(c->name));
		replace_str(&st->probe, probe_describe(&c->readiness));
		replace_str(&st->logs, logs);
	}
	set_state_locked(sh, i, ROLL_FAILED);
	pthread_mutex_unlock(&sh->lock);
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

/* Is the pod running, every container up, with the manifest (HASH) we would
 * play? */
static bool pod_unchanged(podman *pm, const pod *p, const char *hash)
{
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
		replace_str(last, xstrdup(why.msg));
		*last_c = c;
	}
	return all ? 1 : 0;
}

/* Create the pod from YAML without starting its containers, then start its
 * infra container: what is left for its turn is starting the app
 * containers. */
static int create_pod(podman *pm, const pod *p, const char *yaml, size_t len, const char *secret,
		      size_t secret_len, const char *network, aerr_t *err)
{
	cleanup_free char *infra = NULL;
	/* the pod's secret first: its secretKeyRefs are resolved at creation */
	if (podsecret_put(pm, p->name, secret, secret_len, err) < 0 ||
	    podman_create_kube(pm, yaml, len, network, err) < 0)
		return -1;
	if (podman_pod_infra_id(pm, p->pod_name, &infra, err) < 0 ||
	    podman_start_container(pm, infra, err) < 0)
		return -2; /* the pod exists, its network does not */
	return 0;
}

static void set_ahead(struct shared *sh, size_t i, ahead_state state, char *error)
{
	pthread_mutex_lock(&sh->ahead_lock);
	struct ahead *a = &sh->ahead[i];
	a->state = state;
	replace_str(&a->error, error);
	pthread_cond_broadcast(&sh->created);
	pthread_mutex_unlock(&sh->ahead_lock);
}

/* One of the pool that creates pods ahead, in tier order (the first tier's
 * pods first, since they are needed first). */
static void *ahead_worker(void *arg)
{
	struct shared *sh = arg;
	podman *pm = NULL;
	aerr_t err = {0};
	int open_rc = podman_open(&pm, sh->socket, &err);
	for (;;) {
		pthread_mutex_lock(&sh->ahead_lock);
		size_t i = sh->next < sh->norder ? sh->order[sh->next++] : SIZE_MAX;
		if (i != SIZE_MAX) {
			sh->ahead[i].created_mono = clock_mono_s();
			sh->ahead[i].created_wall = clock_wall_s();
		}
		pthread_mutex_unlock(&sh->ahead_lock);
		if (i == SIZE_MAX)
			break;
		struct ahead *a = &sh->ahead[i];
		const pod *p = &sh->d->pods[i];
		if (atomic_load(&sh->cancel)) {
			set_ahead(sh, i, AHEAD_SKIPPED, NULL);
		} else if (open_rc < 0) {
			set_ahead(sh, i, AHEAD_FAILED, xstrdup(err.msg));
		} else if (!sh->opts->replace && pod_unchanged(pm, p, a->hash)) {
			set_ahead(sh, i, AHEAD_KEPT, NULL);
		} else if (sh->d->plan.tier_of[i] == sh->first_tier) {
			/* nothing to wait for: created and started in one call,
			 * cheaper than creating, then starting */
			pthread_mutex_lock(&sh->ahead_lock);
			a->started = true;
			pthread_mutex_unlock(&sh->ahead_lock);
			aerr_t cerr = {0};
			cleanup_free char *net =
			    deployment_pod_network(sh->d, i, sh->opts->network);
			int rc = podsecret_put(pm, p->name, a->secret, a->secret_len, &cerr);
			if (rc == 0)
				rc = podman_play_kube(pm, a->yaml, a->len, net, &cerr);
			trace_span(sh->opts->trace, (int)i + 1, "play and start (first tier)",
				   a->created_mono, clock_mono_s());
			a->made = true;
			set_ahead(sh, i, rc < 0 ? AHEAD_FAILED : AHEAD_CREATED,
				  rc < 0 ? xstrdup(cerr.msg) : NULL);
		} else {
			aerr_t cerr = {0};
			cleanup_free char *net =
			    deployment_pod_network(sh->d, i, sh->opts->network);
			int rc = create_pod(pm, p, a->yaml, a->len, a->secret, a->secret_len, net,
					    &cerr);
			trace_span(sh->opts->trace, (int)i + 1, "create ahead (infra started)",
				   a->created_mono, clock_mono_s());
			a->made = rc == 0 || rc == -2; /* only this thread writes it */
			set_ahead(sh, i, rc < 0 ? AHEAD_FAILED : AHEAD_CREATED,
				  rc < 0 ? xstrdup(cerr.msg) : NULL);
		}
	}
	podman_close(pm);
	return NULL;
}

/* One app container's start, in its own thread and API connection. */
struct container_start {
	const char *socket;
	char *name;
	int rc;
	aerr_t err;
	pthread_t thread;
};

static void *start_one(void *arg)
{
	struct container_start *cs = arg;
	podman *pm = NULL;
	cs->rc = podman_open(&pm, cs->socket, &cs->err);
	if (cs->rc == 0)
		cs->rc = podman_start_container(pm, cs->name, &cs->err);
	podman_close(pm);
	return NULL;
}

/* Start the app containers of P together: Podman's pod start starts them
 * one after the other, each a runtime call of its own. */
static int start_containers(struct shared *sh, const pod *p, podman *pm, aerr_t *err)
{
	size_t n = p->ncontainers;
	struct container_start *cs = xcalloc(n ? n : 1, sizeof *cs);
	bool *threaded = xcalloc(n ? n : 1, sizeof *threaded);
	for (size_t c = 0; c < n; c++) {
		cs[c] = (struct container_start){
		    .socket = sh->socket, .name = rollout_container_name(p, &p->containers[c])};
		if (c > 0)
			threaded[c] = pthread_create(&cs[c].thread, NULL, start_one, &cs[c]) == 0;
	}
	/* the first here, and any whose thread could not start */
	for (size_t c = 0; c < n; c++)
		if (!threaded[c])
			cs[c].rc = podman_start_container(pm, cs[c].name, &cs[c].err);
	int rc = 0;
	for (size_t c = 0; c < n; c++) {
		if (threaded[c])
			pthread_join(cs[c].thread, NULL);
		if (cs[c].rc < 0 && rc == 0) {
			*err = cs[c].err;
			rc = -1;
		}
		free(cs[c].name);
	}
	free(threaded);
	free(cs);
	return rc;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The pod's turn: its dependencies are ready.  Once created ahead, only its
 * app containers are started; kept, nothing; its manifest changed since
 * (a bootstrap hook wrote values it uses), it is created again first.
 * Returns 1 kept, 0 started, -1 failed (ERR). */
static int start_on_gate(struct shared *sh, size_t i, podman *pm, aerr_t *err)
{
	pod *p = &sh->d->pods[i];
	pthread_mutex_lock(&sh->ahead_lock);
	struct ahead *a = &sh->ahead[i];
	while (a->state == AHEAD_PENDING)
		pthread_cond_wait(&sh->created, &sh->ahead_lock);
	ahead_state state = a->state;
	cleanup_free char *error = a->error ? xstrdup(a->error) : NULL;
	pthread_mutex_unlock(&sh->ahead_lock);
	if (state == AHEAD_SKIPPED)
		return aerr_set(err, AEGIS_EFAIL, "cancelled");
	if (!same_str(a->hash, p->manifest_hash)) {
		const rendered *m = &sh->d->manifests[i];
		pthread_mutex_lock(&sh->ahead_lock);
		a->started = false; /* what is created now is not */
		pthread_mutex_unlock(&sh->ahead_lock);
		if (!sh->opts->replace && pod_unchanged(pm, p, p->manifest_hash)) {
			state = AHEAD_KEPT;
		} else {
			size_t slen = 0;
			char *secret = podsecret_content(m, &slen);
			cleanup_free char *net =
			    deployment_pod_network(sh->d, i, sh->opts->network);
			double t0 = clock_mono_s();
			int rc = create_pod(pm, p, m->yaml, m->len, secret, slen, net, err);
			trace_span(sh->opts->trace, (int)i + 1, "create again (manifest changed)",
				   t0, clock_mono_s());
			wipe_free_len(secret, slen);
			a->made = rc == 0 || rc == -2;
			state = rc < 0 ? AHEAD_FAILED : AHEAD_CREATED;
			free(error);
			error = state == AHEAD_FAILED ? xstrdup(err->msg) : NULL;
		}
		set_ahead(sh, i, state, NULL);
	}
	if (state == AHEAD_FAILED)
		return aerr_set(err, AEGIS_EFAIL, "%s", error ? error : "not created");
	if (state == AHEAD_KEPT)
		return 1;
	pthread_mutex_lock(&sh->ahead_lock);
	bool played = a->started; /* the first tier's, played at once */
	a->started = true;
	pthread_mutex_unlock(&sh->ahead_lock);
	if (played)
		return 0;
	double t0 = clock_mono_s();
	int rc = start_containers(sh, p, pm, err);
	trace_span(sh->opts->trace, (int)i + 1, "start app containers", t0, clock_mono_s());
	return rc < 0 ? -1 : 0;
}

static void *pod_worker(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	size_t i = w->index;
	pod *p = &sh->d->pods[i];
	podman *pm = NULL;
	aerr_t err = {0};

	set_state(sh, i, ROLL_CREATING);
	trace_span(sh->opts->trace, (int)i + 1, "wait for dependencies", sh->t0_mono,
		   clock_mono_s());
	if (podman_open(&pm, sh->socket, &err) < 0) {
		fail_pod(sh, i, NULL, NULL, err.msg);
		return NULL;
	}
	int gate = start_on_gate(sh, i, pm, &err);
	if (gate < 0 && atomic_load(&sh->cancel)) {
		set_state(sh, i, ROLL_CANCELLED);
		podman_close(pm);
		return NULL;
	}
	set_kept(sh, i, gate == 1);
	if (gate < 0) {
		fail_pod(sh, i, pm, NULL, err.msg);
		podman_close(pm);
		return NULL;
	}
	/* Probing starts at once: initialDelaySeconds only delays when failures
	 * begin to count, and here only the timeout fails a pod, so waiting it
	 * out would just make every rollout slower than the service. */
	set_state(sh, i, ROLL_STARTING);
	double played = clock_mono_s();
	double deadline = sh->states[i].start + sh->t0_mono + sh->opts->timeout_s;
	bool *ready = xcalloc(p->ncontainers, sizeof *ready);
	char *last = NULL; /* why the last probe did not pass */
	size_t last_c = 0;
	int delay = POLL_FIRST_MS;
	for (;;) {
		if (atomic_load(&sh->cancel)) {
			set_state(sh, i, ROLL_CANCELLED);
			break;
		}
		aerr_t why = {0};
		int swept = rollout_probe_sweep(pm, p, ready, &last, &last_c, &why);
		if (swept < 0) {
			fail_pod(sh, i, pm, &p->containers[last_c], why.msg);
			break;
		}
		if (swept == 1) {
			double ready_at = clock_mono_s();
			trace_span(sh->opts->trace, (int)i + 1, "probe until ready", played,
				   ready_at);
			set_state(sh, i, ROLL_READY);
			if (sh->opts->on_ready &&
			    sh->opts->on_ready(sh->opts->ctx, sh->d, i, &err) < 0)
				fail_pod(sh, i, pm, NULL, err.msg);
			if (sh->opts->on_ready)
				trace_span(sh->opts->trace, (int)i + 1, "ready hook (bootstrap)",
					   ready_at, clock_mono_s());
			break;
		}
		if (clock_mono_s() >= deadline) {
			cleanup_free char *msg =
			    xasprintf("not ready after %d s: %s", sh->opts->timeout_s,
				      last && *last ? last : "probe never passed");
			trace_span(sh->opts->trace, (int)i + 1, "probe (never ready)", played,
				   clock_mono_s());
			fail_pod(sh, i, pm, &p->containers[last_c], msg);
			break;
		}
		clock_sleep_ms(delay);
		if (clock_mono_s() - played > POLL_BACKOFF_AFTER_S)
			delay = delay * 5 / 4 > POLL_MAX_MS ? POLL_MAX_MS : delay * 5 / 4;
	}
	free(ready);
	free(last);
	podman_close(pm);
	return NULL;
}

/* What would make a rollout fail for certain is refused before anything is
 * created: a socket a pod mounts that is missing, a network probe on a port
 * that is not published (it could never pass). */
int rollout_check(const deployment *d, const bool *selected, aerr_t *err)
{
	for (size_t i = 0; i < d->npods; i++) {
		if (selected && !selected[i])
			continue;
		const pod *p = &d->pods[i];
		for (size_t k = 0; k < p->nsockets; k++) {
			struct stat sb;
			int found = stat(p->sockets[k], &sb) == 0;
			if (found && S_ISSOCK(sb.st_mode))
				continue;
			if (found)
				return aerr_set(
				    err, AEGIS_ECONFIG,
				    "pod %s mounts the socket %s, which is %s, not a socket; "
				    "set CONTAINER_SOCK to Podman's API socket",
				    p->name, p->sockets[k],
				    S_ISREG(sb.st_mode)	  ? "a regular file"
				    : S_ISDIR(sb.st_mode) ? "a directory"
							  : "another kind of file");
			return aerr_set(
			    err, AEGIS_ECONFIG,
			    "pod %s mounts the socket %s, which does not exist; start "
			    "Podman's API socket first (systemctl --user enable --now "
			    "podman.socket, or: podman system service --time=0 unix://%s &) "
			    "or set CONTAINER_SOCK to the socket it listens on",
			    p->name, p->sockets[k], p->sockets[k]);
		}
		for (size_t c = 0; c < p->ncontainers; c++) {
			const probe *pr = &p->containers[c].readiness;
			if ((pr->kind == PROBE_HTTP || pr->kind == PROBE_TCP) &&
			    pr->host_port <= 0) {
				cleanup_free char *what = probe_describe(pr);
				return aerr_set(
				    err, AEGIS_ECONFIG,
				    "pod %s, container %s: readiness probe %s uses port %d, "
				    "which is not published on the host (give it a hostPort in "
				    "kube/%s/pod.yaml)",
				    p->name, p->containers[c].name, what, pr->port, p->name);
			}
		}
	}
	return 0;
}

static int remove_unstarted(struct shared *sh, aerr_t *err);

/* Every pod the rollout may replace, in tier order, with a copy of its
 * manifest and secret as they are now (see struct ahead). */
static void ahead_plan(struct shared *sh)
{
	const deployment *d = sh->d;
	sh->ahead = xcalloc(d->npods ? d->npods : 1, sizeof *sh->ahead);
	sh->order = xcalloc(d->npods ? d->npods : 1, sizeof *sh->order);
	sh->first_tier = SIZE_MAX;
	for (size_t t = 0; t < d->plan.ntiers; t++)
		for (size_t k = 0; k < d->plan.tiers[t].n; k++) {
			size_t i = d->plan.tiers[t].pods[k];
			struct ahead *a = &sh->ahead[i];
			if (sh->states[i].state == ROLL_SKIPPED) {
				a->state = AHEAD_SKIPPED;
				continue;
			}
			a->yaml = xstrndup(d->manifests[i].yaml, d->manifests[i].len);
			a->len = d->manifests[i].len;
			a->secret = podsecret_content(&d->manifests[i], &a->secret_len);
			a->hash =
			    d->pods[i].manifest_hash ? xstrdup(d->pods[i].manifest_hash) : NULL;
			sh->order[sh->norder++] = i;
			if (sh->first_tier == SIZE_MAX)
				sh->first_tier = t;
		}
}

static void ahead_free(struct shared *sh)
{
	for (size_t i = 0; i < sh->d->npods; i++) {
		struct ahead *a = &sh->ahead[i];
		wipe_free_len(a->yaml, a->len);
		wipe_free_len(a->secret, a->secret_len);
		free(a->hash);
		free(a->error);
	}
	free(sh->ahead);
	free(sh->order);
}

/* Tier T's turn: one thread per pod, all joined; the first failed pod is
 * the rollout's error. */
static int run_tier(struct shared *sh, size_t t, aerr_t *err)
{
	const deployment *d = sh->d;
	rollout_pod *states = sh->states;
	const plan_tier *tier = &d->plan.tiers[t];
	struct worker *workers = xcalloc(tier->n ? tier->n : 1, sizeof *workers);
	size_t started = 0;
	for (size_t k = 0; k < tier->n; k++) {
		size_t i = tier->pods[k];
		if (states[i].state == ROLL_SKIPPED)
			continue;
		workers[started] = (struct worker){.sh = sh, .index = i};
		if (pthread_create(&workers[started].thread, NULL, pod_worker, &workers[started]) !=
		    0) {
			fail_pod(sh, i, NULL, NULL, "cannot start a thread");
			break;
		}
		started++;
	}
	for (size_t k = 0; k < started; k++)
		pthread_join(workers[k].thread, NULL);
	free(workers);
	for (size_t k = 0; k < tier->n; k++) {
		size_t i = tier->pods[k];
		if (states[i].state == ROLL_FAILED) {
			const rollout_pod *st = &states[i];
			return aerr_set(err, AEGIS_EFAIL, "pod %s failed%s%s: %s", d->pods[i].name,
					st->container ? ", container " : "",
					st->container ? st->container : "",
					st->error ? st->error : "unknown error");
		}
	}
	return 0;
}

int rollout_run(podman *pm, deployment *d, const rollout_opts *opts, rollout_pod *states,
		aerr_t *err)
{
	struct shared sh = {
	    .d = d,
	    .opts = opts,
	    .states = states,
	    .socket = podman_socket(pm),
	    .t0_mono = clock_mono_s(),
	    .t0_wall = clock_wall_s(),
	};
	for (size_t i = 0; i < d->npods; i++) {
		states[i] = (rollout_pod){.start = -1, .ready = -1};
		if (opts->selected && !opts->selected[i])
			states[i].state = ROLL_SKIPPED;
		else
			trace_track(opts->trace, (int)i + 1, d->pods[i].pod_name);
	}
	if (rollout_check(d, opts->selected, err) < 0)
		return -1;
	/* Every pod the rollout may replace is created now, in tier order, by a
	 * small pool: creation and network set-up leave the critical path, and
	 * each tier only starts its app containers once its dependencies are
	 * ready. */
	ahead_plan(&sh);
	pthread_mutex_init(&sh.lock, NULL);
	pthread_mutex_init(&sh.ahead_lock, NULL);
	pthread_cond_init(&sh.created, NULL);
	pthread_t creators[AHEAD_WORKERS];
	size_t ncreators = 0;
	for (; ncreators < AHEAD_WORKERS && ncreators < sh.norder; ncreators++)
		if (pthread_create(&creators[ncreators], NULL, ahead_worker, &sh) != 0)
			break;
	if (sh.norder && !ncreators) {
		/* nothing would ever create them: each pod fails at its turn */
		for (size_t k = 0; k < sh.norder; k++) {
			sh.ahead[sh.order[k]].state = AHEAD_FAILED;
			sh.ahead[sh.order[k]].error = xstrdup("cannot start a thread");
		}
	}
	int rc = 0;
	for (size_t t = 0; t < d->plan.ntiers && rc == 0; t++)
		rc = run_tier(&sh, t, err);
	if (rc < 0)
		atomic_store(&sh.cancel, 1);
	for (size_t k = 0; k < ncreators; k++)
		pthread_join(creators[k], NULL);
	if (rc < 0) {
		/* a failed rollout never starts what it created ahead; its
		 * failure stays the error of the rollout */
		aerr_t rerr = {0};
		remove_unstarted(&sh, &rerr);
	}
	ahead_free(&sh);
	pthread_cond_destroy(&sh.created);
	pthread_mutex_destroy(&sh.ahead_lock);
	pthread_mutex_destroy(&sh.lock);
	return rc;
}

void rollout_pod_free(rollout_pod *st)
{
	free(st->container);
	free(st->probe);
	free(st->error);
	free(st->logs);
	*st = (rollout_pod){0};
}

/* One pod of a teardown, in its own thread with its own API connection:
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
	pthread_t thread;
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

static void *remove_pod(void *arg)
{
	struct removal *r = arg;
	podman *pm = removal_open(r);
	if (r->rc == 0 && r->existed &&
	    (podman_stop_pod(pm, r->name, r->timeout_s, &r->err) < 0 ||
	     podman_remove_pod(pm, r->name, &r->err) < 0))
		r->rc = aerr_wrap(&r->err, "pod %s", r->p ? r->p->name : r->name);
	podman_close(pm);
	return NULL;
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
	int rc = 0;
	size_t started = 0;
	if (n > 1 && !stops_together(jobs[0].socket)) {
		for (size_t k = 0; k < n; k++) {
			remove_pod(&jobs[k]);
			if (jobs[k].rc < 0 && rc == 0) {
				*err = jobs[k].err;
				rc = -1;
			}
		}
		return rc;
	}
	for (; started < n; started++) {
		if (pthread_create(&jobs[started].thread, NULL, remove_pod, &jobs[started]) != 0) {
			rc = aerr_set(err, AEGIS_EFAIL, "cannot start a thread for pod %s",
				      jobs[started].name);
			break;
		}
	}
	for (size_t k = 0; k < started; k++)
		pthread_join(jobs[k].thread, NULL);
	for (size_t k = 0; k < started; k++)
		if (jobs[k].rc < 0 && rc == 0) {
			*err = jobs[k].err;
			rc = -1;
		}
	return rc;
}

/* After a failed rollout: remove the pods created ahead whose turn never
 * came.  They replaced what ran before (its pod removed to create them), so
 * each is recorded as touched at its creation time: --atomic restores it. */
static int remove_unstarted(struct shared *sh, aerr_t *err)
{
	struct removal *jobs = xcalloc(sh->norder ? sh->norder : 1, sizeof *jobs);
	size_t n = 0;
	for (size_t k = 0; k < sh->norder; k++) {
		size_t i = sh->order[k];
		struct ahead *a = &sh->ahead[i];
		/* a creation that failed half-way may have left its pod too */
		if (!a->made || a->started)
			continue;
		const pod *p = &sh->d->pods[i];
		jobs[n++] = (struct removal){
		    .p = p, .name = p->pod_name, .socket = sh->socket, .timeout_s = 0};
		pthread_mutex_lock(&sh->lock);
		rollout_pod *st = &sh->states[i];
		if (st->start < 0) {
			st->start = a->created_mono - sh->t0_mono;
			st->start_epoch = a->created_wall;
		}
		pthread_mutex_unlock(&sh->lock);
	}
	int rc = remove_together(jobs, n, err);
	free(jobs);
	return rc;
}

/* A teardown stops each pod once every pod of the later tiers (its
 * dependents) has stopped, and removes it right after its own stop: a
 * tier's stop never waits for the slower removals of the tiers after it
 * (Podman takes seconds to remove a pod whose containers stopped at once). */
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

static void *teardown_pod(void *arg)
{
	struct teardown_job *j = arg;
	struct removal *r = &j->r;
	podman *pm = removal_open(r);
	double t0 = clock_mono_s();
	if (r->rc == 0 && r->existed && !teardown_wait_dependents(j->td, j->tier)) {
		j->skipped = true;
		teardown_stopped(j->td, j->tier, true);
		podman_close(pm);
		return NULL;
	}
	int tid = (int)j->index + 1;
	double t1 = clock_mono_s();
	if (j->td->one_stop)
		pthread_mutex_lock(j->td->one_stop);
	bool stopped =
	    r->rc == 0 && (!r->existed || podman_stop_pod(pm, r->name, r->timeout_s, &r->err) == 0);
	double t2 = clock_mono_s();
	teardown_stopped(j->td, j->tier, !stopped);
	if (stopped && r->existed && podman_remove_pod(pm, r->name, &r->err) < 0)
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
	return NULL;
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
	int rc = 0;
	size_t started = 0;
	for (; started < n; started++) {
		if (pthread_create(&jobs[started].r.thread, NULL, teardown_pod, &jobs[started]) !=
		    0) {
			rc = aerr_set(err, AEGIS_EFAIL, "cannot start a thread for pod %s",
				      jobs[started].r.name);
			/* the pods not started count as failed stops: nothing below them
			 * is stopped */
			pthread_mutex_lock(&td.lock);
			for (size_t s = started; s < n; s++)
				td.failed[jobs[s].tier] = true;
			pthread_cond_broadcast(&td.changed);
			pthread_mutex_unlock(&td.lock);
			break;
		}
	}
	for (size_t s = 0; s < started; s++)
		pthread_join(jobs[s].r.thread, NULL);
	/* reported in reverse tier order, once all are done; the first error
	 * (in that order) is returned */
	for (size_t s = 0; s < started; s++) {
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
