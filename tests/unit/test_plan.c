#include "harness.h"
#include "lib/config/deployment.h"
#include "lib/rollout/plan.h"
#include "lib/util/fsutil.h"

/* A pod with only what planning reads: a name and its dependencies. */
static pod make_pod(const char *name, const char *const *deps, size_t ndeps)
{
	pod p = {.name = xstrdup(name), .pod_name = xasprintf("pod-%s", name)};
	p.depends = xcalloc(ndeps, sizeof *p.depends);
	for (size_t i = 0; i < ndeps; i++)
		p.depends[p.ndepends++] = xstrdup(deps[i]);
	return p;
}

static void free_pods(pod *pods, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pod_free(&pods[i]);
}

/* "a b | c" for the tiers of PL over PODS */
static char *tiers_text(const plan *pl, const pod *pods)
{
	char *s = xstrdup("");
	for (size_t t = 0; t < pl->ntiers; t++) {
		for (size_t k = 0; k < pl->tiers[t].n; k++) {
			char *next = xasprintf("%s%s%s", s, k ? " " : (t ? " | " : ""),
					       pods[pl->tiers[t].pods[k]].name);
			free(s);
			s = next;
		}
	}
	return s;
}

TEST(plan_tiers_keep_input_order)
{
	const char *core_deps[] = {"database", "secrets", "iam"};
	const char *iam_deps[] = {"database"};
	const char *gw_deps[] = {"core", "elsewhere"};
	pod pods[] = {
	    make_pod("gateway", gw_deps, 2), make_pod("core", core_deps, 3),
	    make_pod("secrets", NULL, 0),    make_pod("iam", iam_deps, 1),
	    make_pod("database", NULL, 0),
	};
	plan pl;
	aerr_t err = {0};
	int rc = plan_build(pods, ARRAY_SIZE(pods), &pl, &err);
	if (rc < 0) {
		free_pods(pods, ARRAY_SIZE(pods));
		CHECK_STR(err.msg, "");
	}
	cleanup_free char *text = tiers_text(&pl, pods);
	size_t gw_tier = pl.tier_of[0], nexternal = pl.nexternal[0];
	cleanup_free char *external = nexternal ? xstrdup(pl.external[0][0]) : NULL;
	size_t core_external = pl.nexternal[1];
	plan_free(&pl);
	free_pods(pods, ARRAY_SIZE(pods));
	CHECK_STR(text, "secrets database | iam | core | gateway");
	CHECK(gw_tier == 3);
	CHECK(nexternal == 1);
	CHECK_STR(external, "elsewhere");
	CHECK(core_external == 0);
}

TEST(plan_cycle_is_named)
{
	const char *a[] = {"b"}, *b[] = {"c"}, *c[] = {"d", "a"};
	pod pods[] = {make_pod("d", NULL, 0), make_pod("a", a, 1), make_pod("b", b, 1),
		      make_pod("c", c, 2)};
	plan pl;
	aerr_t err = {0};
	int rc = plan_build(pods, ARRAY_SIZE(pods), &pl, &err);
	free_pods(pods, ARRAY_SIZE(pods));
	CHECK(rc < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "a -> b -> c -> a");
	CHECK(pl.tiers == NULL && pl.tier_of == NULL);
}

TEST(plan_self_dependency_is_a_cycle)
{
	const char *s[] = {"self"};
	pod pods[] = {make_pod("self", s, 1)};
	plan pl;
	aerr_t err = {0};
	int rc = plan_build(pods, 1, &pl, &err);
	free_pods(pods, 1);
	CHECK(rc < 0);
	CHECK_CONTAINS(err.msg, "self -> self");
}

TEST(plan_of_nothing_is_empty)
{
	plan pl;
	aerr_t err = {0};
	CHECK(plan_build(NULL, 0, &pl, &err) == 0);
	CHECK(pl.ntiers == 0);
	plan_free(&pl);
}

/* The deployment of PROFILE over ROOT without a .env (as `plan` runs). */
static int load(const char *root, const char *profile, deployment *d, aerr_t *err)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *env = fs_join(dir, "missing.env");
	return deployment_load(d, root, env, profile, DEPLOYMENT_LENIENT, err);
}

static size_t tier_of(const deployment *d, const char *name)
{
	int i = deployment_pod_index(d, name);
	return i < 0 ? (size_t)-1 : d->plan.tier_of[i];
}

/* Kahn levels: every in-profile dependency is in an earlier tier, and a pod
 * in tier k > 0 has one in tier k - 1. */
static bool tiers_are_levels(const deployment *d)
{
	for (size_t i = 0; i < d->npods; i++) {
		size_t t = d->plan.tier_of[i], latest = 0;
		bool any = false;
		for (size_t k = 0; k < d->pods[i].ndepends; k++) {
			int j = deployment_pod_index(d, d->pods[i].depends[k]);
			if (j < 0)
				continue;
			if (d->plan.tier_of[j] >= t)
				return false;
			any = true;
			if (d->plan.tier_of[j] > latest)
				latest = d->plan.tier_of[j];
		}
		if (any ? latest + 1 != t : t != 0)
			return false;
	}
	return true;
}

TEST(plan_full_profile)
{
	deployment d;
	aerr_t err = {0};
	if (load(harness_root(), "full", &d, &err) < 0)
		CHECK_STR(err.msg, "");
	bool levels = tiers_are_levels(&d);
	size_t npods = d.npods, db = tier_of(&d, "database");
	size_t iam = tier_of(&d, "iam"), temporal = tier_of(&d, "temporal");
	size_t core = tier_of(&d, "core"), worker = tier_of(&d, "temporal-worker");
	size_t nexternal = 0;
	for (size_t i = 0; i < d.npods; i++)
		nexternal += d.plan.nexternal[i];
	deployment_free(&d);
	CHECK(npods == 9);
	CHECK(levels);
	CHECK(db < iam && db < temporal && db < core);
	/* the worker reads the tables the runtime's migration creates */
	CHECK(core < worker && temporal < worker);
	CHECK(nexternal == 0);
}

TEST(plan_development_profile)
{
	deployment d;
	aerr_t err = {0};
	if (load(harness_root(), "development", &d, &err) < 0)
		CHECK_STR(err.msg, "");
	bool levels = tiers_are_levels(&d);
	size_t npods = d.npods, db = tier_of(&d, "database"), core = tier_of(&d, "core");
	size_t secrets = tier_of(&d, "secrets");
	deployment_free(&d);
	CHECK(npods == 7);
	CHECK(levels);
	CHECK(secrets == 0 && db == 0);
	CHECK(db < core);
}

TEST(plan_minimal_profile_has_external_dependencies)
{
	deployment d;
	aerr_t err = {0};
	if (load(harness_root(), "minimal", &d, &err) < 0)
		CHECK_STR(err.msg, "");
	int core = deployment_pod_index(&d, "core");
	bool levels = tiers_are_levels(&d);
	size_t ntiers = d.plan.ntiers;
	size_t core_tier = tier_of(&d, "core"), secrets_tier = tier_of(&d, "secrets");
	bool database = false, temporal = false, iam = false, secrets = false;
	for (size_t k = 0; core >= 0 && k < d.plan.nexternal[core]; k++) {
		const char *e = d.plan.external[core][k];
		database |= strcmp(e, "database") == 0;
		temporal |= strcmp(e, "temporal") == 0;
		iam |= strcmp(e, "iam") == 0;
		secrets |= strcmp(e, "secrets") == 0;
	}
	deployment_free(&d);
	CHECK(core >= 0);
	CHECK(levels);
	CHECK(ntiers == 2 && secrets_tier == 0 && core_tier == 1);
	CHECK(database && temporal && iam);
	CHECK(!secrets);
}

TEST(plan_cycle_in_templates_is_named)
{
	cleanup_free char *root = fs_join(harness_root(), "tests/fixtures/plan");
	deployment d;
	aerr_t err = {0};
	int rc = load(root, "cycle", &d, &err);
	if (rc == 0)
		deployment_free(&d);
	CHECK(rc < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "alpha -> beta -> gamma -> alpha");

	aerr_t err2 = {0};
	rc = load(root, "self", &d, &err2);
	if (rc == 0)
		deployment_free(&d);
	CHECK(rc < 0);
	CHECK_CONTAINS(err2.msg, "selfish -> selfish");
}
