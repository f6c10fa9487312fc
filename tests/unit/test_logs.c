/* Which containers `logs` reads, without Podman. */
#include "harness.h"
#include "lib/rollout/logs.h"

static int load(const char *profile, deployment *d, aerr_t *err)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *env = harness_write(dir, ".env", "");
	return deployment_load(d, harness_root(), env, profile, DEPLOYMENT_LENIENT, err);
}

TEST(logs_targets_every_container_of_the_pod)
{
	deployment d;
	aerr_t err = {0};
	if (load("full", &d, &err) < 0)
		CHECK_STR(err.msg, "");
	logs_target *t = NULL;
	size_t n = 0;
	int rc = logs_targets(&d, "database", NULL, &t, &n, &err);
	cleanup_free char *first =
	    rc == 0 && n ? xasprintf("%s=%s", t[0].container, t[0].podman) : NULL;
	logs_targets_free(t, n);
	deployment_free(&d);
	CHECK(rc == 0);
	CHECK(n == 2);
	CHECK_STR(first, "postgres=pod-database-postgres");
}

TEST(logs_targets_one_container)
{
	deployment d;
	aerr_t err = {0};
	if (load("full", &d, &err) < 0)
		CHECK_STR(err.msg, "");
	logs_target *t = NULL;
	size_t n = 0;
	int rc = logs_targets(&d, "database", "postgres-exporter", &t, &n, &err);
	cleanup_free char *only = rc == 0 && n == 1 ? xstrdup(t[0].podman) : NULL;
	logs_targets_free(t, n);
	deployment_free(&d);
	CHECK(rc == 0);
	CHECK_STR(only, "pod-database-postgres-exporter");
}

TEST(logs_unknown_pod_lists_the_profile)
{
	deployment d;
	aerr_t err = {0};
	if (load("minimal", &d, &err) < 0)
		CHECK_STR(err.msg, "");
	logs_target *t = NULL;
	size_t n = 0;
	int rc = logs_targets(&d, "storage", NULL, &t, &n, &err);
	deployment_free(&d);
	CHECK(rc < 0 && err.status == AEGIS_ECONFIG);
	CHECK_STR(err.msg, "unknown pod 'storage' in profile minimal; valid: core, secrets");
}

TEST(logs_unknown_container_lists_the_pod_s)
{
	deployment d;
	aerr_t err = {0};
	if (load("full", &d, &err) < 0)
		CHECK_STR(err.msg, "");
	logs_target *t = NULL;
	size_t n = 0;
	int rc = logs_targets(&d, "database", "nope", &t, &n, &err);
	deployment_free(&d);
	CHECK(rc < 0 && err.status == AEGIS_ECONFIG);
	CHECK_STR(
	    err.msg,
	    "pod database has no container 'nope'; its containers: postgres, postgres-exporter");
}
