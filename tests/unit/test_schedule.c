/* lib/rollout/schedule.c: the rollout's schedule driven through rollout_ops by a
 * fake Podman that records what it is asked, in milliseconds. */
#include <pthread.h>

#include "harness.h"
#include "lib/rollout/plan.h"
#include "lib/rollout/schedule.h"
#include "lib/util/clock.h"
#include "lib/util/strbuf.h"

/* What the fake does for a pod. */
enum behaviour {
	FINE = 0,
	EXITS,	      /* a container exits: the probe sweep returns -1 */
	NEVER_READY,  /* the probe never passes */
	CREATE_FAILS, /* created ahead: nothing created (-1) */
	CREATE_HALF,  /* created ahead: the pod exists, its network not (-2) */
	UNCHANGED,    /* already running with the same manifest */
};

#define MAX_PODS 8

struct world {
	deployment d;
	rollout_ops ops;
	rollout_opts opts;
	rollout_pod states[MAX_PODS];
	bool selected[MAX_PODS];
	enum behaviour behave[MAX_PODS];
	aerr_t err;
	/* the fake's record, under LOCK: "play database;create iam;..." */
	pthread_mutex_t lock;
	strbuf log;
	strbuf removed;
	int opens, closes;
	bool remove_fails;
	/* the probes wait until this many pods were created ahead (or found
	 * unchanged), so that what a failure removes does not depend on the
	 * threads' timing */
	int decided, wait_decided;
	/* deploy --atomic's hook stand-in: ready pod HOOK_POD runs HOOK */
	int hook_pod;
	int (*hook)(struct world *w, aerr_t *err);
};

static size_t pod_index(struct world *w, const pod *p)
{
	return (size_t)(p - w->d.pods);
}

static void record(struct world *w, const char *fmt, const char *a, const char *b)
{
	pthread_mutex_lock(&w->lock);
	sb_addf(&w->log, fmt, a, b);
	sb_adds(&w->log, ";");
	pthread_mutex_unlock(&w->lock);
}

static void decided(struct world *w)
{
	pthread_mutex_lock(&w->lock);
	w->decided++;
	pthread_mutex_unlock(&w->lock);
}

static int fake_open(void *ctx, void **conn, aerr_t *err)
{
	(void)err;
	struct world *w = ctx;
	pthread_mutex_lock(&w->lock);
	w->opens++;
	pthread_mutex_unlock(&w->lock);
	*conn = w;
	return 0;
}

static void fake_close(void *ctx, void *conn)
{
	struct world *w = ctx;
	if (!conn)
		return;
	pthread_mutex_lock(&w->lock);
	w->closes++;
	pthread_mutex_unlock(&w->lock);
}

static bool fake_unchanged(void *conn, const pod *p, const char *hash)
{
	struct world *w = conn;
	bool same = w->behave[pod_index(w, p)] == UNCHANGED && hash;
	if (same)
		decided(w);
	return same;
}

static int fake_create(void *conn, const pod *p, const rollout_manifest *m, const char *network,
		       aerr_t *err)
{
	struct world *w = conn;
	cleanup_free char *yaml = xstrndup(m->yaml, m->len);
	(void)network;
	record(w, "create %s", yaml, NULL);
	decided(w);
	switch (w->behave[pod_index(w, p)]) {
	case CREATE_FAILS:
		return aerr_set(err, AEGIS_EFAIL, "no space left on device");
	case CREATE_HALF:
		aerr_set(err, AEGIS_EFAIL, "network setup failed");
		return -2;
	default:
		return 0;
	}
}

static int fake_play(void *conn, const pod *p, const rollout_manifest *m, const char *network,
		     aerr_t *err)
{
	(void)network;
	struct world *w = conn;
	cleanup_free char *yaml = xstrndup(m->yaml, m->len);
	record(w, "play %s", yaml, NULL);
	decided(w);
	if (w->behave[pod_index(w, p)] == CREATE_FAILS)
		return aerr_set(err, AEGIS_EFAIL, "no space left on device");
	return 0;
}

static int fake_start(void *conn, const pod *p, size_t c, aerr_t *err)
{
	(void)err;
	record(conn, "start %s/%s", p->name, p->containers[c].name);
	return 0;
}

static int fake_probe(void *conn, const pod *p, bool *ready, char **last, size_t *last_c,
		      aerr_t *err)
{
	struct world *w = conn;
	double until = clock_mono_s() + 5;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		bool go = w->decided >= w->wait_decided;
		pthread_mutex_unlock(&w->lock);
		if (go || clock_mono_s() > until)
			break;
		clock_sleep_ms(1);
	}
	switch (w->behave[pod_index(w, p)]) {
	case EXITS:
		*last_c = p->ncontainers - 1;
		return aerr_set(err, AEGIS_EFAIL, "container %s exited with status 1",
				p->containers[*last_c].name);
	case NEVER_READY:
		free(*last);
		*last = xstrdup("connection refused");
		*last_c = 0;
		return 0;
	default:
		for (size_t c = 0; c < p->ncontainers; c++)
			ready[c] = true;
		record(w, "ready %s", p->name, NULL);
		return 1;
	}
}

static char *fake_logs(void *conn, const pod *p, size_t c)
{
	(void)conn;
	return xasprintf("logs of %s/%s", p->name, p->containers[c].name);
}

static int fake_remove(void *ctx, const pod *const *pods, size_t n, aerr_t *err)
{
	struct world *w = ctx;
	pthread_mutex_lock(&w->lock);
	for (size_t k = 0; k < n; k++)
		sb_addf(&w->removed, "%s%s", k ? " " : "", pods[k]->name);
	pthread_mutex_unlock(&w->lock);
	if (w->remove_fails)
		return aerr_set(err, AEGIS_EFAIL, "pod %s: cannot remove: device busy",
				pods[0]->name);
	return 0;
}

static void fake_sleep(void *ctx, int ms)
{
	(void)ctx;
	(void)ms;
	clock_sleep_ms(1);
}

static int fake_on_ready(void *ctx, deployment *d, size_t i, aerr_t *err)
{
	(void)d;
	struct world *w = ctx;
	if (w->hook && (int)i == w->hook_pod)
		return w->hook(w, err);
	return 0;
}

/* A deployment of pods "name" or "name:dep,dep" (profile order), each with
 * NCONTAINERS containers "app", "app1", ...; manifest "pod NAME v1". */
static void world_init(struct world *w, const char *const *specs, size_t n, size_t ncontainers)
{
	*w = (struct world){.hook_pod = -1};
	pthread_mutex_init(&w->lock, NULL);
	w->d.pods = xcalloc(n, sizeof *w->d.pods);
	w->d.manifests = xcalloc(n, sizeof *w->d.manifests);
	w->d.npods = n;
	for (size_t i = 0; i < n; i++) {
		pod *p = &w->d.pods[i];
		const char *colon = strchr(specs[i], ':');
		p->name =
		    colon ? xstrndup(specs[i], (size_t)(colon - specs[i])) : xstrdup(specs[i]);
		p->pod_name = xasprintf("aegis-%s", p->name);
		for (const char *s = colon; s && *s; s = strchr(s, ',')) {
			s++;
			size_t len = strcspn(s, ",");
			p->depends = xrealloc(p->depends, (p->ndepends + 1) * sizeof *p->depends);
			p->depends[p->ndepends++] = xstrndup(s, len);
		}
		p->containers = xcalloc(ncontainers, sizeof *p->containers);
		for (size_t c = 0; c < ncontainers; c++) {
			p->containers[c].name = c ? xasprintf("app%zu", c) : xstrdup("app");
			p->containers[c].image = xstrdup("localhost/app:1");
		}
		p->ncontainers = ncontainers;
		p->manifest_hash = xasprintf("%s-v1", p->name);
		w->d.manifests[i].yaml = xasprintf("pod %s v1", p->name);
		w->d.manifests[i].len = strlen(w->d.manifests[i].yaml);
	}
	aerr_t err = {0};
	if (plan_build(w->d.pods, n, &w->d.plan, &err) < 0)
		harness_failf(__FILE__, __LINE__, "plan: %s", err.msg);
	w->ops = (rollout_ops){
	    .ctx = w,
	    .open = fake_open,
	    .close = fake_close,
	    .unchanged = fake_unchanged,
	    .create = fake_create,
	    .play = fake_play,
	    .start = fake_start,
	    .probe = fake_probe,
	    .logs = fake_logs,
	    .remove = fake_remove,
	    .sleep_ms = fake_sleep,
	};
	w->opts = (rollout_opts){.network = "aegis",
				 .timeout_s = 10,
				 .replace = true,
				 .on_ready = fake_on_ready,
				 .ctx = w};
}

static int world_run(struct world *w)
{
	return rollout_schedule(&w->ops, &w->d, &w->opts, w->states, &w->err);
}

static void world_free(struct world *w)
{
	for (size_t i = 0; i < w->d.npods; i++) {
		rollout_pod_free(&w->states[i]);
		pod_free(&w->d.pods[i]);
		free(w->d.manifests[i].yaml);
	}
	free(w->d.pods);
	free(w->d.manifests);
	plan_free(&w->d.plan);
	sb_release(&w->log);
	sb_release(&w->removed);
	pthread_mutex_destroy(&w->lock);
}

/* Where EVENT is in the log (-1: absent). */
static long at(const struct world *w, const char *event)
{
	cleanup_free char *needle = xasprintf(";%s;", event);
	cleanup_free char *hay = xasprintf(";%s", w->log.s ? w->log.s : "");
	const char *s = strstr(hay, needle);
	return s ? s - hay : -1;
}

#define CHECK_BEFORE(w, a, b)                                                                      \
	do {                                                                                       \
		long a_ = at(w, a), b_ = at(w, b);                                                 \
		if (a_ < 0 || b_ < 0 || a_ >= b_)                                                  \
			harness_failf(__FILE__, __LINE__, "\"%s\" before \"%s\" in %s", a, b,      \
				      (w)->log.s);                                                 \
		if (a_ < 0 || b_ < 0 || a_ >= b_)                                                  \
			return;                                                                    \
	} while (0)

TEST(schedule_starts_a_tier_once_its_dependencies_are_ready)
{
	static const char *const specs[] = {"core:database,iam", "iam:database", "database",
					    "secrets", "gateway:core"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	int rc = world_run(&w);
	CHECK(rc == 0);
	for (size_t i = 0; i < w.d.npods; i++)
		CHECK(w.states[i].state == ROLL_READY);
	/* the first tier is played and started in one call; the others are
	 * created ahead and only their app containers started at their turn */
	CHECK(at(&w, "play pod database v1") >= 0 && at(&w, "play pod secrets v1") >= 0);
	CHECK(at(&w, "start database/app") < 0 && at(&w, "play pod iam v1") < 0);
	CHECK(at(&w, "create pod iam v1") >= 0 && at(&w, "create pod core v1") >= 0);
	CHECK_BEFORE(&w, "ready database", "start iam/app");
	CHECK_BEFORE(&w, "ready secrets", "start iam/app");
	CHECK_BEFORE(&w, "ready iam", "start core/app");
	CHECK_BEFORE(&w, "ready core", "start gateway/app");
	CHECK(w.states[0].start >= w.states[1].ready && w.states[1].start >= w.states[2].ready);
	CHECK(w.removed.len == 0);
	CHECK(w.opens == w.closes);
	world_free(&w);
}

TEST(schedule_a_failing_dependency_stops_its_dependents_and_removes_what_was_created_ahead)
{
	static const char *const specs[] = {"database", "iam:database", "core:iam"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.behave[0] = EXITS;
	w.wait_decided = 3;
	int rc = world_run(&w);
	CHECK(rc < 0);
	CHECK_CONTAINS(w.err.msg, "pod database failed, container app: container app exited");
	CHECK(w.states[0].state == ROLL_FAILED);
	CHECK_STR(w.states[0].logs, "logs of database/app");
	CHECK_STR(w.states[0].container, "app");
	CHECK(w.states[1].state == ROLL_WAITING && w.states[2].state == ROLL_WAITING);
	CHECK(at(&w, "start iam/app") < 0 && at(&w, "start core/app") < 0);
	CHECK_STR(w.removed.s, "iam core");
	CHECK(w.opens == w.closes);
	world_free(&w);
}

TEST(schedule_cancels_the_pods_of_a_tier_when_one_fails)
{
	static const char *const specs[] = {"database", "cache", "core:database,cache"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.behave[0] = EXITS;
	w.behave[1] = NEVER_READY;
	w.opts.timeout_s = 30; /* only the cancellation can end the cache's wait */
	double t0 = clock_mono_s();
	int rc = world_run(&w);
	CHECK(rc < 0);
	CHECK(clock_mono_s() - t0 < 5);
	CHECK(w.states[0].state == ROLL_FAILED);
	CHECK(w.states[1].state == ROLL_CANCELLED);
	CHECK(w.states[2].state == ROLL_WAITING);
	CHECK(at(&w, "start core/app") < 0);
	CHECK(w.opens == w.closes);
	world_free(&w);
}

/* The bootstrap hook of DATABASE re-renders CORE's manifest. */
static int rerender_core(struct world *w, aerr_t *err)
{
	(void)err;
	rendered *m = &w->d.manifests[1];
	free(m->yaml);
	m->yaml = xstrdup("pod core v2");
	m->len = strlen(m->yaml);
	free(w->d.pods[1].manifest_hash);
	w->d.pods[1].manifest_hash = xstrdup("core-v2");
	return 0;
}

TEST(schedule_creates_again_a_pod_whose_manifest_changed_after_its_creation_ahead)
{
	static const char *const specs[] = {"database", "core:database", "gateway:core"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 2);
	w.wait_decided = 3; /* core created ahead before the hook runs */
	w.hook_pod = 0;
	w.hook = rerender_core;
	int rc = world_run(&w);
	CHECK(rc == 0);
	CHECK_BEFORE(&w, "create pod core v1", "create pod core v2");
	CHECK_BEFORE(&w, "create pod core v2", "start core/app");
	CHECK(at(&w, "start core/app1") >= 0);
	/* the gateway's manifest did not change: created once */
	CHECK(at(&w, "create pod gateway v1") >= 0);
	CHECK(w.states[1].state == ROLL_READY && w.states[2].state == ROLL_READY);
	CHECK(w.opens == w.closes);
	world_free(&w);
}

TEST(schedule_keeps_an_unchanged_pod_unless_told_to_replace_it)
{
	static const char *const specs[] = {"database", "core:database"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.behave[1] = UNCHANGED;
	w.opts.replace = false;
	CHECK(world_run(&w) == 0);
	CHECK(w.states[1].kept && w.states[1].state == ROLL_READY);
	CHECK(at(&w, "create pod core v1") < 0 && at(&w, "start core/app") < 0);
	CHECK(at(&w, "ready core") >= 0); /* a kept pod is still probed */
	CHECK(!w.states[0].kept);
	world_free(&w);

	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.behave[1] = UNCHANGED;
	CHECK(world_run(&w) == 0); /* replace (the default here) */
	CHECK(!w.states[1].kept);
	CHECK(at(&w, "create pod core v1") >= 0 && at(&w, "start core/app") >= 0);
	world_free(&w);
}

TEST(schedule_creates_ahead_in_tier_order)
{
	static const char *const specs[] = {"gateway:core", "core:database", "database", "web"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.ops.creators = 1; /* one creator: its order is the order of the log */
	CHECK(world_run(&w) == 0);
	CHECK_BEFORE(&w, "play pod database v1", "play pod web v1");
	CHECK_BEFORE(&w, "play pod web v1", "create pod core v1");
	CHECK_BEFORE(&w, "create pod core v1", "create pod gateway v1");
	world_free(&w);
}

/* Critical chain first: within a tier the slowest pod (by the probes'
 * initialDelaySeconds, or by the previous rollout's measured times) is
 * created before the quick ones listed before it; earlier tiers still come
 * first, since their pods are needed first. */
TEST(schedule_creates_ahead_the_critical_chain_first)
{
	static const char *const specs[] = {"quick", "slow", "mid", "next:quick,slow,mid",
					    "last:next"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.ops.creators = 1;
	w.d.pods[0].containers[0].readiness.initial_delay_s = 1;
	w.d.pods[1].containers[0].readiness.initial_delay_s = 5;
	w.d.pods[2].containers[0].readiness.initial_delay_s = 3;
	CHECK(world_run(&w) == 0);
	CHECK_BEFORE(&w, "play pod slow v1", "play pod mid v1");
	CHECK_BEFORE(&w, "play pod mid v1", "play pod quick v1");
	CHECK_BEFORE(&w, "play pod quick v1", "create pod next v1");
	CHECK_BEFORE(&w, "create pod next v1", "create pod last v1");
	/* remaining paths: own time + the slowest of each later tier */
	size_t order[] = {0, 1, 2, 3, 4};
	double remaining[5];
	rollout_critical_order(&w.d, &w.opts, order, 5, remaining);
	CHECK(order[0] == 1 && order[1] == 2 && order[2] == 0 && order[3] == 3 && order[4] == 4);
	CHECK(remaining[1] == 5 && remaining[0] == 1 && remaining[3] == 0);
	world_free(&w);

	/* measured times (the state's last rollout) win over the probes */
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.ops.creators = 1;
	w.d.pods[1].containers[0].readiness.initial_delay_s = 5;
	double measured[] = {4.0, 0.5, -1, 2.0, 1.0};
	w.opts.expected_ready_s = measured;
	CHECK(world_run(&w) == 0);
	CHECK_BEFORE(&w, "play pod quick v1", "play pod slow v1");
	CHECK_BEFORE(&w, "play pod slow v1", "play pod mid v1"); /* mid: unknown, 0 s */
	size_t order2[] = {0, 1, 2, 3, 4};
	rollout_critical_order(&w.d, &w.opts, order2, 5, remaining);
	CHECK(remaining[0] == 4.0 + 2.0 + 1.0 && remaining[4] == 1.0);
	world_free(&w);
}

TEST(schedule_records_what_deploy_atomic_restores)
{
	static const char *const specs[] = {"database", "iam:database", "core:iam", "gateway:core",
					    "extra"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.behave[1] = UNCHANGED; /* kept: nothing of it was replaced */
	w.behave[2] = EXITS;	 /* fails at its turn */
	w.opts.replace = false;
	for (size_t i = 0; i < 4; i++)
		w.selected[i] = true; /* extra: not selected */
	w.opts.selected = w.selected;
	w.wait_decided = 4; /* the gateway created ahead before core fails */
	CHECK(world_run(&w) < 0);
	CHECK(w.states[4].state == ROLL_SKIPPED);
	CHECK(rollout_pod_replaced(&w.states[0]));  /* started */
	CHECK(!rollout_pod_replaced(&w.states[1])); /* kept */
	CHECK(rollout_pod_replaced(&w.states[2]));  /* failed at its turn */
	/* created ahead, then removed unstarted: it replaced what ran */
	CHECK(w.states[3].state == ROLL_WAITING);
	CHECK(rollout_pod_replaced(&w.states[3]));
	CHECK(!rollout_pod_replaced(&w.states[4])); /* not selected */
	CHECK_STR(w.removed.s, "gateway");
	CHECK(at(&w, "play pod extra v1") < 0);
	world_free(&w);
}

TEST(schedule_fails_a_pod_whose_creation_ahead_failed)
{
	static const char *const specs[] = {"database", "core:database", "gateway:core"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.behave[1] = CREATE_FAILS;
	w.wait_decided = 3;
	CHECK(world_run(&w) < 0);
	CHECK_CONTAINS(w.err.msg, "pod core failed: no space left on device");
	CHECK(w.states[0].state == ROLL_READY); /* pods already up stay up */
	CHECK(w.states[1].state == ROLL_FAILED);
	CHECK(w.states[1].container == NULL); /* no container of it failed */
	CHECK_STR(w.removed.s, "gateway");    /* core was never created */
	world_free(&w);

	/* created half-way (the pod, not its network): removed too */
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.behave[1] = CREATE_HALF;
	w.wait_decided = 3;
	CHECK(world_run(&w) < 0);
	CHECK_CONTAINS(w.err.msg, "pod core failed: network setup failed");
	CHECK_STR(w.removed.s, "core gateway");
	world_free(&w);
}

TEST(schedule_fails_a_pod_not_ready_in_time_with_its_last_probe_and_logs)
{
	static const char *const specs[] = {"database", "core:database"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.behave[0] = NEVER_READY;
	w.opts.timeout_s = 0;
	CHECK(world_run(&w) < 0);
	CHECK_STR(w.states[0].error, "not ready after 0 s: connection refused");
	CHECK_STR(w.states[0].logs, "logs of database/app");
	CHECK(w.states[1].state == ROLL_WAITING);
	world_free(&w);
}

static int hook_fails(struct world *w, aerr_t *err)
{
	(void)w;
	return aerr_set(err, AEGIS_EFAIL, "bootstrap: OpenBao is sealed");
}

TEST(schedule_a_failing_ready_hook_fails_its_pod)
{
	static const char *const specs[] = {"database", "core:database"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.hook_pod = 0;
	w.hook = hook_fails;
	w.wait_decided = 2;
	CHECK(world_run(&w) < 0);
	CHECK(w.states[0].state == ROLL_FAILED);
	CHECK_CONTAINS(w.err.msg, "pod database failed: bootstrap: OpenBao is sealed");
	CHECK(at(&w, "start core/app") < 0);
	CHECK_STR(w.removed.s, "core");
	world_free(&w);
}

TEST(schedule_leaves_unselected_pods_alone)
{
	static const char *const specs[] = {"database", "core:database"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 3);
	w.selected[1] = true;
	w.opts.selected = w.selected;
	CHECK(world_run(&w) == 0);
	CHECK(w.states[0].state == ROLL_SKIPPED && w.states[0].start < 0);
	/* core is now the first tier with work: played at once */
	CHECK(at(&w, "play pod core v1") >= 0);
	CHECK(at(&w, "play pod database v1") < 0 && at(&w, "ready database") < 0);
	CHECK(w.states[1].state == ROLL_READY);
	world_free(&w);
}

TEST(schedule_reports_pods_created_ahead_it_could_not_remove)
{
	static const char *const specs[] = {"database", "core:database"};
	struct world w;
	world_init(&w, specs, ARRAY_SIZE(specs), 1);
	w.behave[0] = EXITS;
	w.remove_fails = true;
	w.wait_decided = 2;
	CHECK(world_run(&w) < 0);
	/* the rollout's own failure first, then what was left behind */
	CHECK_CONTAINS(w.err.msg, "pod database failed, container app: container app exited");
	CHECK_CONTAINS(w.err.msg, "; the pods created ahead were not all removed: pod core: "
				  "cannot remove: device busy");
	world_free(&w);
}
