/* Rolling back without Podman: the deployment of a revision rebuilt from
 * the revision's own templates and release values with the current
 * secrets and host values; the default target; what deploy --atomic
 * restores. */
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "lib/release/history.h"
#include "lib/release/release.h"
#include "lib/release/rollback.h"
#include "lib/util/fsutil.h"

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

static const char *manifest_of(const deployment *d, const char *pod)
{
	return d->manifests[deployment_pod_index(d, pod)].yaml;
}

/* rollback_load of revision REV with the current configuration of ENV. */
static int load_revision(const char *state, int rev, const char *env, const char *work,
			 deployment *r, aerr_t *err)
{
	config current;
	if (config_load(&current, harness_root(), env, err) < 0)
		return -1;
	int rc = rollback_load(state, rev, &current, work, r, err);
	config_free(&current);
	return rc;
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
	if (load_revision(state, 1, env_b, work, &r, &err) < 0)
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
	if (load_revision(state, 1, env_c, work, &r, &err) < 0)
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
	CHECK(release_restore_load(state, &b, st, &r, &err) == 0);
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
	if (release_restore_load(state, &b, st, &r, &err) < 0)
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

/* The host's paths as the demo and setup-user set them: the revision was
 * deployed with one set, the current .env has moved them. */
static const char host_then[] = "RUST_LOG=info\n"
				"AEGIS_GENERATED_DIR=/srv/then/generated\n"
				"SEAL_KEYS_DIR=/srv/then/seal\n"
				"AEGIS_STATE_DIR=/srv/then/state\n"
				"CONTAINER_SOCK=/srv/then/podman.sock\n";
static const char host_now[] = "RUST_LOG=debug\n"
			       "AEGIS_GENERATED_DIR=/srv/now/generated\n"
			       "SEAL_KEYS_DIR=/srv/now/seal\n"
			       "AEGIS_STATE_DIR=/srv/now/state\n"
			       "CONTAINER_SOCK=/srv/now/podman.sock\n";

/* R has the current host values of host_now and revision 1's release values. */
static bool has_current_host_values(const deployment *r)
{
	return strcmp(config_get(&r->cfg, "AEGIS_GENERATED_DIR"), "/srv/now/generated") == 0 &&
	       strcmp(config_get(&r->cfg, "SEAL_KEYS_DIR"), "/srv/now/seal") == 0 &&
	       strcmp(config_get(&r->cfg, "AEGIS_STATE_DIR"), "/srv/now/state") == 0 &&
	       strcmp(config_get(&r->cfg, "CONTAINER_SOCK"), "/srv/now/podman.sock") == 0 &&
	       strcmp(config_get(&r->cfg, "AEGIS_ROOT"), harness_root()) == 0 &&
	       strcmp(config_get(&r->cfg, "RUST_LOG"), "info") == 0 &&
	       strstr(manifest_of(r, "core"), "/srv/now/podman.sock") &&
	       !strstr(manifest_of(r, "core"), "/srv/then/");
}

TEST(rollback_keeps_the_current_host_values)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *state = fs_join(dir, "state");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(state, 0700, &err) == 0);
	cleanup_free char *env_then = write_env(dir, "then.env", host_then);
	cleanup_free char *env_now = write_env(dir, "now.env", host_now);
	cleanup_free char *env_default = write_env(dir, "default.env", "");
	deployment a, now, r;
	CHECK(deployment_load(&a, harness_root(), env_then, "full", 0, &err) == 0);
	CHECK(record(state, &a, true, &err) == 0);

	cleanup_free char *work = fs_join(dir, "work");
	CHECK(fs_mkdir_private(work, 0700, &err) == 0);
	if (load_revision(state, 1, env_now, work, &r, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK(has_current_host_values(&r));
	/* a pod that uses no host value is the revision's exactly */
	CHECK_STR(hash_of(&r, "database"), hash_of(&a, "database"));
	deployment_free(&r);
	rollback_cleanup(work);

	/* nothing set now: the current defaults, under the checkout, never
	 * under the revision's files (removed after the rollback) */
	CHECK(fs_mkdir_private(work, 0700, &err) == 0);
	if (load_revision(state, 1, env_default, work, &r, &err) < 0)
		CHECK_STR(err.msg, "");
	cleanup_free char *generated = fs_join(harness_root(), "generated");
	cleanup_free char *seal = fs_join(generated, "seal");
	CHECK_STR(config_get(&r.cfg, "AEGIS_GENERATED_DIR"), generated);
	CHECK_STR(config_get(&r.cfg, "SEAL_KEYS_DIR"), seal);
	CHECK_STR(config_get(&r.cfg, "AEGIS_ROOT"), harness_root());
	deployment_free(&r);
	rollback_cleanup(work);

	/* deploy --atomic's restore: the failed deploy's configuration is the
	 * current one */
	CHECK(deployment_load(&now, harness_root(), env_now, "full", 0, &err) == 0);
	rollout_pod *st = xcalloc(now.npods, sizeof *st);
	for (size_t i = 0; i < now.npods; i++)
		st[i].start = -1;
	st[deployment_pod_index(&now, "core")].start = 1.0;
	release_restore rr;
	if (release_restore_load(state, &now, st, &rr, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK(rr.revision == 1 && has_current_host_values(&rr.prev));
	release_restore_free(&rr);
	free(st);
	deployment_free(&now);
	deployment_free(&a);
}

/* ROOT/kube: every entry of the repository's kube/ linked, but
 * variables.yaml a copy without the `describes` lines, as the revisions
 * recorded before the field have it; ROOT/profiles linked. */
static void old_style_root(const char *root)
{
	cleanup_free char *kube = fs_join(root, "kube");
	aerr_t err = {0};
	fs_mkdir_private(kube, 0755, &err);
	cleanup_free char *src = fs_join(harness_root(), "kube");
	DIR *d = opendir(src);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "variables.yaml") == 0)
			continue;
		cleanup_free char *from = fs_join(src, e->d_name);
		cleanup_free char *to = fs_join(kube, e->d_name);
		if (symlink(from, to) < 0)
			abort();
	}
	if (d)
		closedir(d);
	cleanup_free char *profiles = fs_join(harness_root(), "profiles");
	cleanup_free char *to = fs_join(root, "profiles");
	if (symlink(profiles, to) < 0)
		abort();
}

static void strip_describes(const char *root)
{
	cleanup_free char *from = fs_join(harness_root(), "kube/variables.yaml");
	cleanup_free char *to = fs_join(root, "kube/variables.yaml");
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	char line[4096];
	while (in && out && fgets(line, sizeof line, in))
		if (!strstr(line, "    describes: "))
			fputs(line, out);
	if (in)
		fclose(in);
	if (out)
		fclose(out);
}

/* A revision recorded before the field: its schema has no `describes`;
 * the current schema classifies its variables. */
TEST(rollback_to_a_revision_from_before_the_classification)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *state = fs_join(dir, "state");
	cleanup_free char *root = fs_join(dir, "root");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(state, 0700, &err) == 0);
	CHECK(fs_mkdir_private(root, 0700, &err) == 0);
	old_style_root(root);
	/* loaded with the classified schema, recorded with the old one */
	cleanup_free char *schema = fs_join(root, "kube/variables.yaml");
	cleanup_free char *current_schema = fs_join(harness_root(), "kube/variables.yaml");
	CHECK(symlink(current_schema, schema) == 0);
	cleanup_free char *env_then = write_env(dir, "then.env", host_then);
	cleanup_free char *env_now = write_env(dir, "now.env", host_now);
	deployment a, r;
	CHECK(deployment_load(&a, root, env_then, "full", 0, &err) == 0);
	CHECK(unlink(schema) == 0);
	strip_describes(root);
	config strict;
	CHECK(config_load(&strict, root, env_then, &err) < 0);
	CHECK_CONTAINS(err.msg, "has no 'describes:' field");
	CHECK(record(state, &a, true, &err) == 0);

	cleanup_free char *work = fs_join(dir, "work");
	CHECK(fs_mkdir_private(work, 0700, &err) == 0);
	if (load_revision(state, 1, env_now, work, &r, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK(has_current_host_values(&r));
	CHECK_STR(config_get(&r.cfg, "POSTGRES_PASSWORD"), "pg-secret-value-1");
	deployment_free(&r);
	rollback_cleanup(work);
	deployment_free(&a);
}

/* The images a revision ran (revision.json "pods".*.images) pin the
 * manifests it is rolled back to: a registry digest replaces the tag and
 * gives the pod a label of its own; an image ID keeps the tag. */
TEST(rollback_pins_recorded_digests)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *env = write_env(dir, ".env",
					   "OPENBAO_IMAGE=127.0.0.1:5117/t/bao:1.0\n"
					   "AEGIS_RUNTIME_IMAGE=localhost/aegis-runtime:dev\n");
	deployment d;
	aerr_t err = {0};
	CHECK(deployment_load(&d, harness_root(), env, "minimal", 0, &err) == 0);
	int s = deployment_pod_index(&d, "secrets"), c = deployment_pod_index(&d, "core");
	CHECK(s >= 0 && c >= 0);
	cleanup_free char *before = xstrdup(d.pods[s].manifest_hash);
	cleanup_free char *core_before = xstrdup(d.pods[c].manifest_hash);
	json_error_t je;
	json_t *pods = json_loads(
	    "{\"secrets\":{\"images\":{\"openbao\":{\"image\":\"127.0.0.1:5117/t/bao:1.0\","
	    "  \"digest\":\"127.0.0.1:5117/t/bao@sha256:aaaa\",\"pinned\":true}}},"
	    " \"core\":{\"images\":{\"aegis-runtime\":{\"image\":\"localhost/aegis-runtime:dev\","
	    "  \"digest\":\"sha256:bbbb\",\"pinned\":false}}}}",
	    0, &je);
	json_t *notes = NULL;
	CHECK(rollback_pin_images(&d, pods, &notes, &err) == 0);
	cleanup_free char *text = json_dumps(notes, JSON_COMPACT);
	CHECK_CONTAINS(d.manifests[s].yaml, "image: 127.0.0.1:5117/t/bao@sha256:aaaa\n");
	CHECK(strstr(d.manifests[s].yaml, "bao:1.0") == NULL);
	CHECK_STR(d.pods[s].containers[0].image, "127.0.0.1:5117/t/bao@sha256:aaaa");
	CHECK(strcmp(d.pods[s].manifest_hash, before) != 0);
	CHECK_CONTAINS(d.manifests[s].yaml, d.pods[s].manifest_hash);
	CHECK_CONTAINS(text, "pinned to 127.0.0.1:5117/t/bao@sha256:aaaa");
	/* local-only: the tag stays, and the output says why */
	CHECK_CONTAINS(d.manifests[c].yaml, "image: localhost/aegis-runtime:dev\n");
	CHECK_STR(d.pods[c].manifest_hash, core_before);
	CHECK_CONTAINS(text, "keeps its tag (the revision ran image ID sha256:bbbb");
	json_decref(notes);
	/* pinned again to the same digests: the same label */
	cleanup_free char *pinned = xstrdup(d.pods[s].manifest_hash);
	deployment_free(&d);
	CHECK(deployment_load(&d, harness_root(), env, "minimal", 0, &err) == 0);
	CHECK(rollback_pin_images(&d, pods, &notes, &err) == 0);
	CHECK_STR(d.pods[s].manifest_hash, pinned);
	json_decref(notes);
	/* a revision from before digests were recorded: tags, said so */
	json_t *none = json_object();
	deployment_free(&d);
	CHECK(deployment_load(&d, harness_root(), env, "minimal", 0, &err) == 0);
	CHECK(rollback_pin_images(&d, none, &notes, &err) == 0);
	cleanup_free char *text2 = json_dumps(notes, JSON_COMPACT);
	CHECK_CONTAINS(text2, "recorded no digest");
	CHECK_STR(d.pods[s].manifest_hash, before);
	json_decref(notes);
	json_decref(none);
	json_decref(pods);
	deployment_free(&d);
}
