/* Rolling back without Podman: the deployment of a revision rebuilt from
 * the revision's own templates and non-secret values with the current
 * secrets; the default target; what deploy --atomic restores. */
#include "harness.h"
#include "lib/fsutil.h"
#include "lib/history.h"
#include "lib/release.h"
#include "lib/rollback.h"

static const char env_text[] = "POSTGRES_PASSWORD=pg-secret-value-1\n"
			       "OPENBAO_ROLE_ID=role-0123456789\n"
			       "OPENBAO_SECRET_ID=sid-abcdefabcdef\n"
			       "KEYCLOAK_ADMIN_PASSWORD=kc-admin-pw-42\n"
			       "GRAFANA_ADMIN_PASSWORD=graf-pw-77\n"
			       "OIDC_CLIENT_SECRET=oidc-secret-99\n";

static char *write_env(const char *dir, const char *name, const char *extra)
{
	cleanup_free char *text = xasprintf("%s%s", env_text, extra);
	return harness_write(dir, name, text);
}

static int record(const char *state, deployment *d, bool ok, aerr_t *err)
{
	rollout_pod *st = xcalloc(d->npods, sizeof *st);
	history_entry e = {.command = "deploy", .ok = ok, .states = st};
	int rc = history_record(state, d, &e, NULL, err);
	free(st);
	return rc;
}

static const char *hash_of(const deployment *d, const char *pod)
{
	return d->pods[deployment_pod_index(d, pod)].manifest_hash;
}

TEST(rollback_rebuilds_the_revision_with_current_secrets)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *state = fs_join(dir, "state");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(state, 0700, &err) == 0);
	cleanup_free char *env_a = write_env(dir, "a.env", "");
	cleanup_free char *env_b = write_env(dir, "b.env", "RUST_LOG=debug\n");
	cleanup_free char *env_c =
	    write_env(dir, "c.env", "RUST_LOG=debug\nPOSTGRES_PASSWORD=pg-secret-value-2\n");
	deployment a, b, r;
	CHECK(deployment_load(&a, harness_root(), env_a, "full", 0, &err) == 0);
	CHECK(deployment_load(&b, harness_root(), env_b, "full", 0, &err) == 0);
	CHECK(record(state, &a, true, &err) == 0);

	json_t *target = NULL;
	/* one revision: nothing before it */
	CHECK(rollback_target(state, 0, &target, &err) < 0 && err.status == AEGIS_ECONFIG);
	CHECK(record(state, &b, true, &err) == 0);
	CHECK(rollback_target(state, 0, &target, &err) == 0);
	CHECK(json_integer_value(json_object_get(target, "revision")) == 1);
	json_decref(target);
	CHECK(rollback_target(state, 9, &target, &err) < 0 && err.status == AEGIS_ECONFIG);

	/* revision 1 with today's .env (RUST_LOG=debug): A's manifests exactly */
	cleanup_free char *work = fs_join(dir, "work");
	CHECK(fs_mkdir_private(work, 0700, &err) == 0);
	if (rollback_load(state, 1, env_b, work, &r, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK(r.npods == a.npods);
	for (size_t i = 0; i < a.npods; i++)
		CHECK_STR(r.pods[i].manifest_hash, a.pods[i].manifest_hash);
	CHECK(strcmp(hash_of(&b, "core"), hash_of(&a, "core")) != 0);
	CHECK_STR(config_get(&r.cfg, "RUST_LOG"), "info");
	CHECK_STR(config_get(&r.cfg, "POSTGRES_PASSWORD"), "pg-secret-value-1");
	deployment_free(&r);
	rollback_cleanup(work);
	CHECK(!fs_exists(work));

	/* a secret changed since: the current one is deployed */
	CHECK(fs_mkdir_private(work, 0700, &err) == 0);
	if (rollback_load(state, 1, env_c, work, &r, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK_STR(config_get(&r.cfg, "POSTGRES_PASSWORD"), "pg-secret-value-2");
	CHECK_STR(config_get(&r.cfg, "RUST_LOG"), "info");
	CHECK(strcmp(hash_of(&r, "database"), hash_of(&a, "database")) != 0);
	CHECK_STR(hash_of(&r, "observability"), hash_of(&a, "observability"));
	deployment_free(&r);
	rollback_cleanup(work);

	deployment_free(&a);
	deployment_free(&b);
}

TEST(rollback_skips_failed_revisions)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *state = fs_join(dir, "state");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(state, 0700, &err) == 0);
	cleanup_free char *env_a = write_env(dir, "a.env", "");
	deployment a;
	CHECK(deployment_load(&a, harness_root(), env_a, "full", 0, &err) == 0);
	CHECK(record(state, &a, true, &err) == 0);
	CHECK(record(state, &a, false, &err) == 0);
	CHECK(record(state, &a, false, &err) == 0);
	json_t *target = NULL;
	CHECK(rollback_target(state, 0, &target, &err) == 0);
	CHECK(json_integer_value(json_object_get(target, "revision")) == 1);
	json_decref(target);
	deployment_free(&a);
}

/* deploy --atomic's restore: only the pods the failed rollout replaced
 * (played and not kept) are selected, from the last successful revision. */
TEST(restore_selects_the_replaced_pods)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *state = fs_join(dir, "state");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(state, 0700, &err) == 0);
	cleanup_free char *env_a = write_env(dir, "a.env", "");
	cleanup_free char *env_b = write_env(dir, "b.env", "RUST_LOG=debug\n");
	deployment a, b;
	CHECK(deployment_load(&a, harness_root(), env_a, "full", 0, &err) == 0);
	CHECK(deployment_load(&b, harness_root(), env_b, "full", 0, &err) == 0);
	CHECK(record(state, &a, true, &err) == 0);

	rollout_pod *st = xcalloc(b.npods, sizeof *st);
	for (size_t i = 0; i < b.npods; i++)
		st[i].start = -1; /* never played */
	release_restore r;
	CHECK(release_restore_load(state, env_b, &b, st, &r, &err) == 0);
	CHECK(json_array_size(r.pods) == 0 && r.revision == 0 && !r.selected);
	json_t *rec = release_restore_record(&r, "nothing replaced", NULL);
	CHECK_STR(json_string_value(json_object_get(rec, "result")), "nothing replaced");
	json_decref(rec);
	release_restore_free(&r);

	int core = deployment_pod_index(&b, "core");
	int database = deployment_pod_index(&b, "database");
	st[core].start = 1.0;	  /* replaced */
	st[database].start = 1.0; /* kept: its manifest was unchanged */
	st[database].kept = true;
	if (release_restore_load(state, env_b, &b, st, &r, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK(r.revision == 1 && json_array_size(r.pods) == 1);
	CHECK_STR(json_string_value(json_array_get(r.pods, 0)), "core");
	size_t selected = 0;
	for (size_t i = 0; i < r.prev.npods; i++)
		selected += r.selected[i];
	CHECK(selected == 1 && r.selected[deployment_pod_index(&r.prev, "core")]);
	CHECK_STR(hash_of(&r.prev, "core"), hash_of(&a, "core"));
	cleanup_free char *work = xstrdup(r.workdir);
	CHECK(fs_exists(work));
	release_restore_free(&r);
	CHECK(!fs_exists(work));

	free(st);
	deployment_free(&a);
	deployment_free(&b);
}
