#include "rollout/schedule.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "podman/podsecret.h"
#include "rollout/pool.h"
#include "util/clock.h"
#include "util/wipe.h"

/* Poll readiness at most every 200 ms; after the first few seconds back off
 * to 500 ms.  Most services are ready within seconds, and each tier waits for
 * its slowest pod, so the early polls keep a rollout close to its critical
 * path; a slow starter is not hammered for minutes. */
#define POLL_FIRST_MS 200
#define POLL_MAX_MS 500
#define POLL_BACKOFF_AFTER_S 5.0

const char *rollout_state_name(rollout_state s)
{
	static const char *const names[] = {"waiting", "creating",  "starting", "ready",
					    "failed",  "cancelled", "skipped"};
	return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "unknown";
}

bool rollout_pod_replaced(const rollout_pod *st)
{
	return st->start >= 0 && !st->kept;
}

void rollout_pod_free(rollout_pod *st)
{
	free(st->container);
	free(st->probe);
	free(st->error);
	free(st->logs);
	*st = (rollout_pod){0};
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
	const rollout_ops *ops;
	deployment *d;
	const rollout_opts *opts;
	rollout_pod *states;
	double t0_mono, t0_wall;
	atomic_int cancel;
	/* Every write to STATES (and the progress callbacks, which read them)
	 * happens under this one lock; a pod's own thread may read its record
	 * without it, since only that thread writes it. */
	pthread_mutex_t lock;
	/* Creating ahead: the pods critical chain first, the next one to create, each
	 * pod's AHEAD record; CREATED is signalled when a record changes. */
	struct ahead *ahead;
	size_t *order, norder, next;
	size_t first_tier; /* the first tier with a pod to roll out: its turn is now */
	pthread_mutex_t ahead_lock;
	pthread_cond_t created;
	/* run_tier: the pods of the tier being rolled out */
	const size_t *tier_pods;
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

/* Pod I failed (container C of it, when C < SIZE_MAX and CONN can fetch
 * its logs): record why and cancel the rollout. */
static void fail_pod(struct shared *sh, size_t i, void *conn, size_t c, const char *error)
{
	const pod *p = &sh->d->pods[i];
	const container *ct = c < p->ncontainers ? &p->containers[c] : NULL;
	char *logs = ct && conn ? sh->ops->logs(conn, p, c) : NULL;
	atomic_store(&sh->cancel, 1);
	pthread_mutex_lock(&sh->lock);
	rollout_pod *st = &sh->states[i];
	replace_str(&st->error, xstrdup(error));
	if (ct) {
		replace_str(&st->container, xstrdup(ct->name));
		replace_str(&st->probe, probe_describe(&ct->readiness));
		replace_str(&st->logs, logs);
	}
	set_state_locked(sh, i, ROLL_FAILED);
	pthread_mutex_unlock(&sh->lock);
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

/* Create pod I ahead from its copy A (CONN open): created and started in
 * one call in the first tier (nothing to wait for, and cheaper than
 * creating, then starting), else created with its infra container
 * started. */
static void create_ahead(struct shared *sh, size_t i, struct ahead *a, void *conn)
{
	const pod *p = &sh->d->pods[i];
	bool first = sh->d->plan.tier_of[i] == sh->first_tier;
	rollout_manifest m = {a->yaml, a->len, a->secret, a->secret_len};
	aerr_t cerr = {0};
	cleanup_free char *net = deployment_pod_network(sh->d, i, sh->opts->network);
	int rc;
	if (first) {
		pthread_mutex_lock(&sh->ahead_lock);
		a->started = true;
		pthread_mutex_unlock(&sh->ahead_lock);
		rc = sh->ops->play(conn, p, &m, net, &cerr);
		trace_span(sh->opts->trace, (int)i + 1, "play and start (first tier)",
			   a->created_mono, clock_mono_s());
		a->made = true;
	} else {
		rc = sh->ops->create(conn, p, &m, net, &cerr);
		trace_span(sh->opts->trace, (int)i + 1, "create ahead (infra started)",
			   a->created_mono, clock_mono_s());
		a->made = rc == 0 || rc == -2; /* only this thread writes it */
	}
	set_ahead(sh, i, rc < 0 ? AHEAD_FAILED : AHEAD_CREATED, rc < 0 ? xstrdup(cerr.msg) : NULL);
}

/* One of the pool that creates pods ahead, in the order of ahead_plan
 * (critical chain first). */
static void *ahead_worker(void *arg)
{
	struct shared *sh = arg;
	void *conn = NULL;
	aerr_t err = {0};
	int open_rc = sh->ops->open(sh->ops->ctx, &conn, &err);
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
		if (atomic_load(&sh->cancel))
			set_ahead(sh, i, AHEAD_SKIPPED, NULL);
		else if (open_rc < 0)
			set_ahead(sh, i, AHEAD_FAILED, xstrdup(err.msg));
		else if (!sh->opts->replace && sh->ops->unchanged(conn, &sh->d->pods[i], a->hash))
			set_ahead(sh, i, AHEAD_KEPT, NULL);
		else
			create_ahead(sh, i, a, conn);
	}
	sh->ops->close(sh->ops->ctx, conn);
	return NULL;
}

/* Starting the app containers of one pod, one thread each. */
struct starts {
	const rollout_ops *ops;
	const pod *p;
	void *conn; /* the pod's own connection, for the calling thread */
	aerr_t *errs;
	int *rcs;
};

static void start_container(void *arg, size_t c)
{
	struct starts *s = arg;
	void *conn = NULL;
	if (c == 0) {
		s->rcs[c] = s->ops->start(s->conn, s->p, c, &s->errs[c]);
		return;
	}
	s->rcs[c] = s->ops->open(s->ops->ctx, &conn, &s->errs[c]);
	if (s->rcs[c] == 0)
		s->rcs[c] = s->ops->start(conn, s->p, c, &s->errs[c]);
	s->ops->close(s->ops->ctx, conn);
}

/* Start the app containers of P together: Podman's pod start starts them
 * one after the other, each a runtime call of its own. */
static int start_containers(struct shared *sh, const pod *p, void *conn, aerr_t *err)
{
	size_t n = p->ncontainers;
	struct starts s = {.ops = sh->ops,
			   .p = p,
			   .conn = conn,
			   .errs = xcalloc(n ? n : 1, sizeof *s.errs),
			   .rcs = xcalloc(n ? n : 1, sizeof *s.rcs)};
	pool_each(n, start_container, &s);
	int rc = 0;
	for (size_t c = 0; c < n && rc == 0; c++)
		if (s.rcs[c] < 0) {
			*err = s.errs[c];
			rc = -1;
		}
	free(s.errs);
	free(s.rcs);
	return rc;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Pod I's manifest changed since it was created ahead (a bootstrap hook
 * wrote values it uses): kept if what runs already has the new one, else
 * created again.  Returns the pod's new AHEAD state; *ERROR why it
 * failed. */
static ahead_state create_again(struct shared *sh, size_t i, void *conn, char **error)
{
	pod *p = &sh->d->pods[i];
	struct ahead *a = &sh->ahead[i];
	const rendered *r = &sh->d->manifests[i];
	pthread_mutex_lock(&sh->ahead_lock);
	a->started = false; /* what is created now is not */
	pthread_mutex_unlock(&sh->ahead_lock);
	if (!sh->opts->replace && sh->ops->unchanged(conn, p, p->manifest_hash))
		return AHEAD_KEPT;
	aerr_t err = {0};
	size_t slen = 0;
	char *secret = podsecret_content(r, &slen);
	rollout_manifest m = {r->yaml, r->len, secret, slen};
	cleanup_free char *net = deployment_pod_network(sh->d, i, sh->opts->network);
	double t0 = clock_mono_s();
	int rc = sh->ops->create(conn, p, &m, net, &err);
	trace_span(sh->opts->trace, (int)i + 1, "create again (manifest changed)", t0,
		   clock_mono_s());
	wipe_free_len(secret, slen);
	a->made = rc == 0 || rc == -2;
	replace_str(error, rc < 0 ? xstrdup(err.msg) : NULL);
	return rc < 0 ? AHEAD_FAILED : AHEAD_CREATED;
}

/* The pod's turn: its dependencies are ready.  Once created ahead, only its
 * app containers are started; kept, nothing; its manifest changed since, it
 * is created again first.  Returns 1 kept, 0 started, -1 failed (ERR). */
static int start_on_gate(struct shared *sh, size_t i, void *conn, aerr_t *err)
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
		state = create_again(sh, i, conn, &error);
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
	int rc = start_containers(sh, p, conn, err);
	trace_span(sh->opts->trace, (int)i + 1, "start app containers", t0, clock_mono_s());
	return rc < 0 ? -1 : 0;
}

/* Probe pod I (started, CONN open) until it is ready, fails, times out or
 * the rollout is cancelled; then its ready hook. */
static void probe_until_ready(struct shared *sh, size_t i, void *conn)
{
	pod *p = &sh->d->pods[i];
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
		int swept = sh->ops->probe(conn, p, ready, &last, &last_c, &why);
		if (swept < 0) {
			fail_pod(sh, i, conn, last_c, why.msg);
			break;
		}
		if (swept == 1) {
			double ready_at = clock_mono_s();
			trace_span(sh->opts->trace, (int)i + 1, "probe until ready", played,
				   ready_at);
			set_state(sh, i, ROLL_READY);
			aerr_t err = {0};
			if (sh->opts->on_ready &&
			    sh->opts->on_ready(sh->opts->ctx, sh->d, i, &err) < 0)
				fail_pod(sh, i, conn, SIZE_MAX, err.msg);
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
			fail_pod(sh, i, conn, last_c, msg);
			break;
		}
		if (sh->ops->sleep_ms)
			sh->ops->sleep_ms(sh->ops->ctx, delay);
		else
			clock_sleep_ms(delay);
		if (clock_mono_s() - played > POLL_BACKOFF_AFTER_S)
			delay = delay * 5 / 4 > POLL_MAX_MS ? POLL_MAX_MS : delay * 5 / 4;
	}
	free(ready);
	free(last);
}

/* Pod I's turn, on a thread of its own with a connection of its own. */
static void pod_turn(struct shared *sh, size_t i)
{
	void *conn = NULL;
	aerr_t err = {0};

	set_state(sh, i, ROLL_CREATING);
	trace_span(sh->opts->trace, (int)i + 1, "wait for dependencies", sh->t0_mono,
		   clock_mono_s());
	if (sh->ops->open(sh->ops->ctx, &conn, &err) < 0) {
		fail_pod(sh, i, NULL, SIZE_MAX, err.msg);
		sh->ops->close(sh->ops->ctx, conn);
		return;
	}
	int gate = start_on_gate(sh, i, conn, &err);
	if (gate < 0 && atomic_load(&sh->cancel)) {
		set_state(sh, i, ROLL_CANCELLED);
	} else if (gate < 0) {
		fail_pod(sh, i, conn, SIZE_MAX, err.msg);
	} else {
		set_kept(sh, i, gate == 1);
		/* Probing starts at once: initialDelaySeconds only delays when
		 * failures begin to count, and here only the timeout fails a
		 * pod, so waiting it out would just make every rollout slower
		 * than the service. */
		set_state(sh, i, ROLL_STARTING);
		probe_until_ready(sh, i, conn);
	}
	sh->ops->close(sh->ops->ctx, conn);
}

static void tier_job(void *arg, size_t k)
{
	struct shared *sh = arg;
	pod_turn(sh, sh->tier_pods[k]);
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

/* A pod's expected time from its start to ready, in seconds: the previous
 * rollout's measured time when the caller has it (rollout_opts.expected_ready_s,
 * kept in the state directory by deploy, redeploy and rollback), else the
 * longest initialDelaySeconds of its containers' readiness probes (the
 * manifest's own statement of when the service may be ready; 0 without one). */
double rollout_expected_ready_s(const deployment *d, const rollout_opts *opts, size_t i)
{
	if (opts->expected_ready_s && opts->expected_ready_s[i] >= 0)
		return opts->expected_ready_s[i];
	const pod *p = &d->pods[i];
	int w = 0;
	for (size_t c = 0; c < p->ncontainers; c++)
		if (p->containers[c].readiness.initial_delay_s > w)
			w = p->containers[c].readiness.initial_delay_s;
	return w;
}

/* The order in which pods are created ahead: the longest remaining path to
 * the end of the rollout first.  A tier starts when every pod of the tier
 * before it is ready, so a pod's remaining path is its own expected time to
 * ready plus, for each later tier, the slowest pod of that tier.  With
 * non-negative weights this puts earlier tiers first (their pods are needed
 * first) and, within a tier, the slowest pods first: the pod that gates the
 * next tier is created (and started) before the quick ones, instead of in
 * the file's order.  Ties keep tier and file order.  ORDER (N pod indices)
 * is sorted in place; REMAINING (d->npods) receives each pod's path. */
void rollout_critical_order(const deployment *d, const rollout_opts *opts, size_t *order, size_t n,
			    double *remaining)
{
	size_t nt = d->plan.ntiers;
	double *slowest = xcalloc(nt + 1, sizeof *slowest); /* per tier */
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k], t = d->plan.tier_of[i];
		double w = rollout_expected_ready_s(d, opts, i);
		if (w > slowest[t])
			slowest[t] = w;
	}
	/* after[t]: the sum of the slowest pods of the tiers after t */
	double *after = xcalloc(nt + 1, sizeof *after);
	for (size_t t = nt; t-- > 0;)
		after[t] = after[t + 1] + (t + 1 < nt ? slowest[t + 1] : 0);
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];
		remaining[i] = rollout_expected_ready_s(d, opts, i) + after[d->plan.tier_of[i]];
	}
	/* insertion sort, stable: N is the pods of one profile */
	for (size_t k = 1; k < n; k++) {
		size_t i = order[k], j = k;
		while (j > 0 && remaining[order[j - 1]] < remaining[i]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	free(after);
	free(slowest);
}

/* Every pod the rollout may replace, critical chain first
 * (rollout_critical_order), with a copy of its manifest and secret as they
 * are now (see struct ahead). */
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
	double *remaining = xcalloc(d->npods ? d->npods : 1, sizeof *remaining);
	rollout_critical_order(d, sh->opts, sh->order, sh->norder, remaining);
	free(remaining);
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
	const plan_tier *tier = &d->plan.tiers[t];
	size_t *pods = xcalloc(tier->n ? tier->n : 1, sizeof *pods), n = 0;
	for (size_t k = 0; k < tier->n; k++)
		if (sh->states[tier->pods[k]].state != ROLL_SKIPPED)
			pods[n++] = tier->pods[k];
	sh->tier_pods = pods;
	pool_each(n, tier_job, sh);
	free(pods);
	for (size_t k = 0; k < tier->n; k++) {
		size_t i = tier->pods[k];
		const rollout_pod *st = &sh->states[i];
		if (st->state == ROLL_FAILED)
			return aerr_set(err, AEGIS_EFAIL, "pod %s failed%s%s: %s", d->pods[i].name,
					st->container ? ", container " : "",
					st->container ? st->container : "",
					st->error ? st->error : "unknown error");
	}
	return 0;
}

/* After a failed rollout: remove the pods created ahead whose turn never
 * came.  They replaced what ran before (its pod removed to create them), so
 * each is recorded as touched at its creation time: --atomic restores it. */
static int remove_unstarted(struct shared *sh, aerr_t *err)
{
	const pod **pods = xcalloc(sh->norder ? sh->norder : 1, sizeof *pods);
	size_t n = 0;
	for (size_t k = 0; k < sh->norder; k++) {
		size_t i = sh->order[k];
		struct ahead *a = &sh->ahead[i];
		/* a creation that failed half-way may have left its pod too */
		if (!a->made || a->started)
			continue;
		pods[n++] = &sh->d->pods[i];
		pthread_mutex_lock(&sh->lock);
		rollout_pod *st = &sh->states[i];
		if (st->start < 0) {
			st->start = a->created_mono - sh->t0_mono;
			st->start_epoch = a->created_wall;
		}
		pthread_mutex_unlock(&sh->lock);
	}
	int rc = n ? sh->ops->remove(sh->ops->ctx, pods, n, err) : 0;
	free(pods);
	return rc;
}

int rollout_schedule(const rollout_ops *ops, deployment *d, const rollout_opts *opts,
		     rollout_pod *states, aerr_t *err)
{
	struct shared sh = {
	    .ops = ops,
	    .d = d,
	    .opts = opts,
	    .states = states,
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
	/* Every pod the rollout may replace is created now, critical chain first, by a
	 * small pool: creation and network set-up leave the critical path, and
	 * each tier only starts its app containers once its dependencies are
	 * ready. */
	ahead_plan(&sh);
	pthread_mutex_init(&sh.lock, NULL);
	pthread_mutex_init(&sh.ahead_lock, NULL);
	pthread_cond_init(&sh.created, NULL);
	pool creators = {0};
	size_t ncreators = ops->creators ? ops->creators : ROLLOUT_CREATORS;
	if (sh.norder && !pool_start(&creators, ncreators < sh.norder ? ncreators : sh.norder,
				     ahead_worker, &sh)) {
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
	if (sh.norder)
		pool_join(&creators);
	/* A failed rollout never starts what it created ahead.  Its failure
	 * stays the error of the rollout; a removal that fails too is added,
	 * since those pods are left behind. */
	aerr_t rerr = {0};
	if (rc < 0 && remove_unstarted(&sh, &rerr) < 0)
		aerr_append(err, "; the pods created ahead were not all removed: %s", rerr.msg);
	ahead_free(&sh);
	pthread_cond_destroy(&sh.created);
	pthread_mutex_destroy(&sh.ahead_lock);
	pthread_mutex_destroy(&sh.lock);
	return rc;
}
