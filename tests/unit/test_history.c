/* The release history without Podman: revisions recorded for a deployment
 * loaded from the repository's templates, read back with libgit2, and every
 * object of the repository scanned for the secrets of the .env. */
#include <git2.h>
#include <sys/stat.h>

#include "harness.h"
#include "lib/release/history.h"
#include "lib/util/fsutil.h"

/* Raw and as YAML/JSON escape them: a quote, a backslash, ": ", " #". */
#define PW "p@ss\"w:rd# x'y\\z"
#define PW_ESCAPED "p@ss\\\"w:rd# x'y\\\\z"

/* (in KEYCLOAK_ADMIN_PASSWORD: POSTGRES_PASSWORD refuses '"' and '\\') */
static const char env_text[] = "KEYCLOAK_ADMIN_PASSWORD=" PW "\n"
			       "OPENBAO_ROLE_ID=role-0123456789\n"
			       "OPENBAO_SECRET_ID=sid-abcdefabcdef\n"
			       "POSTGRES_PASSWORD=pg-pw-42\n"
			       "GRAFANA_ADMIN_PASSWORD=graf-pw-77\n"
			       "OIDC_CLIENT_SECRET=oidc-secret-99\n";
static const char *const secret_values[] = {
    PW,		PW_ESCAPED,   "role-0123456789", "sid-abcdefabcdef",
    "pg-pw-42", "graf-pw-77", "oidc-secret-99"};

static int load(const char *dir, const char *env, deployment *d, aerr_t *err)
{
	cleanup_free char *path = harness_write(dir, ".env", env);
	return deployment_load(d, harness_root(), path, "full", 0, err);
}

struct scan {
	git_odb *odb;
	int found;
	size_t objects;
};

static int scan_object(const git_oid *id, void *payload)
{
	struct scan *s = payload;
	git_odb_object *obj = NULL;
	if (git_odb_read(&obj, s->odb, id) < 0)
		return -1;
	const char *data = git_odb_object_data(obj);
	size_t len = git_odb_object_size(obj);
	for (size_t i = 0; i < ARRAY_SIZE(secret_values); i++)
		if (memmem(data, len, secret_values[i], strlen(secret_values[i])))
			s->found++;
	s->objects++;
	git_odb_object_free(obj);
	return 0;
}

static rollout_pod *states_all(const deployment *d, bool kept)
{
	rollout_pod *st = xcalloc(d->npods, sizeof *st);
	for (size_t i = 0; i < d->npods; i++)
		st[i] =
		    (rollout_pod){.state = ROLL_READY, .start = 0.1, .ready = 0.2, .kept = kept};
	return st;
}

TEST(history_records_revisions_without_secrets)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *state = fs_join(dir, "state");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(state, 0700, &err) == 0);
	deployment d;
	if (load(dir, env_text, &d, &err) < 0)
		CHECK_STR(err.msg, "");
	rollout_pod *st = states_all(&d, false);
	json_t *report = json_pack("{s:s, s:s}", "result", "ok", "logs", "db says " PW);
	history_entry e = {
	    .command = "deploy", .ok = true, .duration_s = 1.5, .states = st, .report = report};
	int rev = 0;
	int rc = history_record(state, &d, &e, &rev, &err);
	if (rc < 0)
		CHECK_STR(err.msg, "");
	CHECK(rev == 1);
	/* the configuration is the same as before */
	CHECK_STR(config_get(&d.cfg, "KEYCLOAK_ADMIN_PASSWORD"), PW);
	for (size_t i = 0; i < d.npods; i++)
		st[i].kept = i != 0;
	e.error = "pod x failed: " PW;
	e.ok = false;
	CHECK(history_record(state, &d, &e, &rev, &err) == 0);
	CHECK(rev == 2);

	json_t *revs = NULL;
	CHECK(history_list(state, &revs, &err) == 0);
	CHECK(json_array_size(revs) == 2);
	json_t *r2 = json_array_get(revs, 1);
	CHECK(json_integer_value(json_object_get(r2, "revision")) == 2);
	CHECK_STR(json_string_value(json_object_get(r2, "result")), "failed");
	CHECK(json_array_size(json_object_get(r2, "replaced")) == 1);
	CHECK(json_array_size(json_object_get(r2, "kept")) == d.npods - 1);
	CHECK_CONTAINS(json_string_value(json_object_get(r2, "error")),
		       "<secret:KEYCLOAK_ADMIN_PASSWORD:hmac-sha256:");
	json_decref(revs);

	/* the manifest keeps the live hash label and shows the placeholder */
	char *yaml = NULL;
	CHECK(history_read_file(state, 1, "manifests/database.yaml", &yaml, NULL, &err) == 0);
	CHECK_CONTAINS(yaml, "<secret:POSTGRES_PASSWORD:hmac-sha256:");
	int db = deployment_pod_index(&d, "database");
	CHECK_CONTAINS(yaml, d.pods[db].manifest_hash);
	free(yaml);

	json_t *info = NULL;
	CHECK(history_show(state, 2, &info, &err) == 0);
	CHECK(json_object_get(json_object_get(info, "files"), "source/kube/database/pod.yaml"));
	CHECK(json_object_get(json_object_get(info, "files"), "report.json"));
	CHECK_CONTAINS(json_string_value(json_object_get(info, "message")), "deploy full: failed");
	json_decref(info);
	CHECK(history_show(state, 7, &info, &err) < 0 && err.status == AEGIS_ECONFIG);

	/* no object of the repository holds a secret, raw or escaped */
	git_libgit2_init();
	git_repository *repo = NULL;
	cleanup_free char *path = fs_join(state, HISTORY_DIR);
	CHECK(git_repository_open_bare(&repo, path) == 0);
	struct scan s = {0};
	CHECK(git_repository_odb(&s.odb, repo) == 0);
	CHECK(git_odb_foreach(s.odb, scan_object, &s) == 0);
	git_odb_free(s.odb);
	git_repository_free(repo);
	git_libgit2_shutdown();
	CHECK(s.objects > 20);
	CHECK(s.found == 0);

	struct stat sb;
	cleanup_free char *key = fs_join(state, "history.key");
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	CHECK(stat(key, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	json_decref(report);
	free(st);
	deployment_free(&d);
}

TEST(history_placeholder_changes_with_the_secret)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *state = fs_join(dir, "state");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(state, 0700, &err) == 0);
	deployment a, b;
	if (load(dir, env_text, &a, &err) < 0)
		CHECK_STR(err.msg, "");
	cleanup_free char *other = xasprintf("%sPOSTGRES_PASSWORD=another-one\n", env_text);
	if (load(dir, other, &b, &err) < 0)
		CHECK_STR(err.msg, "");
	char **ma = NULL, **mb = NULL, **ma2 = NULL;
	CHECK(history_redacted_manifests(state, &a, false, &ma, &err) == 0);
	CHECK(history_redacted_manifests(state, &b, false, &mb, &err) == 0);
	CHECK(history_redacted_manifests(state, &a, false, &ma2, &err) == 0);
	int db = deployment_pod_index(&a, "database");
	int core = deployment_pod_index(&a, "core");
	CHECK(strcmp(ma[db], mb[db]) != 0);
	CHECK_STR(ma[db], ma2[db]);
	CHECK(!strstr(mb[db], "another-one"));
	CHECK_STR(ma[deployment_pod_index(&a, "observability")],
		  mb[deployment_pod_index(&b, "observability")]);
	CHECK(core >= 0);
	history_strv_free(ma, a.npods);
	history_strv_free(mb, b.npods);
	history_strv_free(ma2, a.npods);
	deployment_free(&a);
	deployment_free(&b);
}

TEST(history_source_commit_of_a_checkout)
{
	aerr_t err = {0};
	cleanup_free char *dir = harness_tmpdir();
	char *commit = (char *)1;
	CHECK(history_source_commit(dir, &commit, &err) == 0);
	CHECK(commit == NULL);
}

TEST(history_list_of_nothing_is_empty)
{
	aerr_t err = {0};
	cleanup_free char *dir = harness_tmpdir();
	json_t *revs = NULL;
	CHECK(history_list(dir, &revs, &err) == 0);
	CHECK(json_array_size(revs) == 0);
	json_decref(revs);
}

/* A variable the schema does not know is a placeholder in config.json, one
 * listed harmless is recorded as written, and a deployment of the pods found
 * deployed (no profile file) records a profile listing them. */
TEST(history_unknown_variables_and_the_deployed_pods)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *state = fs_join(dir, "state");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(state, 0700, &err) == 0);
	cleanup_free char *text = xasprintf("%sZARU_LLM_API_KEY=zaru-canary-4242\nFLAG=1\n"
					    "DOMAIN_API=api.example.com\n",
					    env_text);
	cleanup_free char *env = harness_write(dir, ".env", text);
	json_t *live = json_pack("[{s:{s:s}}, {s:{s:s}}]", "Labels", "aegis.io/pod", "core",
				 "Labels", "aegis.io/pod", "secrets");
	deployment d;
	if (deployment_load_deployed(&d, harness_root(), env, live, 0, &err) < 0)
		CHECK_STR(err.msg, "");
	json_decref(live);
	rollout_pod *st = states_all(&d, false);
	history_entry e = {.command = "redeploy", .ok = true, .states = st};
	int rev = 0;
	if (history_record(state, &d, &e, &rev, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK(rev == 1);
	char *cfg = NULL;
	CHECK(history_read_file(state, 1, "config.json", &cfg, NULL, &err) == 0);
	CHECK(cfg && !strstr(cfg, "zaru-canary-4242"));
	CHECK_CONTAINS(cfg, "<secret:ZARU_LLM_API_KEY:hmac-sha256:");
	CHECK_CONTAINS(cfg, "<secret:FLAG:hmac-sha256:");
	CHECK_CONTAINS(cfg, "\"DOMAIN_API\": \"api.example.com\"");
	free(cfg);
	char *prof = NULL;
	CHECK(history_read_file(state, 1, "source/profiles/deployed.yaml", &prof, NULL, &err) == 0);
	CHECK_CONTAINS(prof, "pods: [core, secrets]");
	free(prof);
	/* the value "1" of FLAG is too short to be looked for in texts */
	char *plan = NULL;
	CHECK(history_read_file(state, 1, "plan.json", &plan, NULL, &err) == 0);
	CHECK(plan && !strstr(plan, "<secret:FLAG"));
	free(plan);
	free(st);
	deployment_free(&d);
}

/* What ran (images_running's record) is each pod's "images" in
 * revision.json, read back by history_show and history_list. */
TEST(history_records_the_images_that_ran)
{
	cleanup_free char *dir = harness_tmpdir();
	deployment d;
	aerr_t err = {0};
	if (load(dir, env_text, &d, &err) < 0)
		CHECK_STR(err.msg, "");
	rollout_pod *st = states_all(&d, false);
	json_error_t je;
	json_t *images = json_loads(
	    "{\"core\":{\"aegis-runtime\":{\"image\":\"r:5000/core:1\",\"image_id\":\"sha256:cc\","
	    "\"digest\":\"r:5000/core@sha256:dd\",\"pinned\":true}}}",
	    0, &je);
	history_entry e = {.command = "deploy", .ok = true, .states = st, .images = images};
	CHECK(history_record(dir, &d, &e, NULL, &err) == 0);
	json_t *info = NULL;
	CHECK(history_show(dir, 0, &info, &err) == 0);
	json_t *pods = json_object_get(info, "pods");
	CHECK_STR(json_string_value(json_object_get(
		      json_object_get(json_object_get(json_object_get(pods, "core"), "images"),
				      "aegis-runtime"),
		      "digest")),
		  "r:5000/core@sha256:dd");
	/* pods without a record have none */
	CHECK(json_object_get(json_object_get(pods, "database"), "images") == NULL);
	json_decref(info);
	json_decref(images);
	free(st);
	deployment_free(&d);
}
