/* diff against a revision of the release history, without Podman: one
 * changed value changes exactly the pods that use it, with a unified diff
 * showing the line; a changed secret shows as a changed placeholder hash;
 * the live comparison from a pod list as the libpod API returns it. */
#include "harness.h"
#include "lib/release/diff.h"
#include "lib/release/history.h"
#include "lib/util/fsutil.h"

static const char env_text[] = "POSTGRES_PASSWORD=pg-secret-value-1\n"
			       "OPENBAO_ROLE_ID=role-0123456789\n"
			       "OPENBAO_SECRET_ID=sid-abcdefabcdef\n"
			       "KEYCLOAK_ADMIN_PASSWORD=kc-admin-pw-42\n"
			       "GRAFANA_ADMIN_PASSWORD=graf-pw-77\n"
			       "OIDC_CLIENT_SECRET=oidc-secret-99\n";

static int load(const char *dir, const char *env, deployment *d, aerr_t *err)
{
	cleanup_free char *path = harness_write(dir, ".env", env);
	return deployment_load(d, harness_root(), path, "full", 0, err);
}

static const json_t *pod_entry(const json_t *js, const char *name)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(js, "pods"), i,
			   p) if (strcmp(json_string_value(json_object_get(p, "name")), name) ==
				  0) return p;
	return NULL;
}

static const char *status_of(const json_t *js, const char *name)
{
	return json_string_value(json_object_get(pod_entry(js, name), "status"));
}

static int record(const char *state, deployment *d, aerr_t *err)
{
	rollout_pod *st = xcalloc(d->npods, sizeof *st);
	history_entry e = {.command = "deploy", .ok = true, .states = st};
	int rc = history_record(state, d, &e, NULL, err);
	free(st);
	return rc;
}

TEST(diff_against_revision_one_value_one_pod)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *state = fs_join(dir, "state");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(state, 0700, &err) == 0);
	deployment a, b, c;
	if (load(dir, env_text, &a, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK(record(state, &a, &err) == 0);
	json_t *js = NULL;
	CHECK(diff_revision(state, &a, 0, &js, &err) == 0);
	CHECK(json_integer_value(json_object_get(js, "changes")) == 0);
	json_decref(js);

	cleanup_free char *changed = xasprintf("%sRUST_LOG=debug\n", env_text);
	if (load(dir, changed, &b, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK(diff_revision(state, &b, 1, &js, &err) == 0);
	/* RUST_LOG is used by the runtime (core) and the SEAL gateway only */
	CHECK(json_integer_value(json_object_get(js, "changes")) == 2);
	CHECK_STR(status_of(js, "core"), "changed");
	CHECK_STR(status_of(js, "seal-gateway"), "changed");
	CHECK_STR(status_of(js, "observability"), "unchanged");
	const char *diff = json_string_value(json_object_get(pod_entry(js, "core"), "diff"));
	CHECK_CONTAINS(diff, "--- a/manifests/core.yaml");
	CHECK_CONTAINS(diff, "+++ b/manifests/core.yaml");
	CHECK_CONTAINS(diff, "\n-      value: info\n+      value: debug\n");
	json_decref(js);

	/* a changed secret: a changed placeholder hash, never the value */
	cleanup_free char *secret = xasprintf("%sPOSTGRES_PASSWORD=pg-secret-value-2\n", env_text);
	if (load(dir, secret, &c, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK(diff_revision(state, &c, 1, &js, &err) == 0);
	CHECK_STR(status_of(js, "database"), "changed");
	diff = json_string_value(json_object_get(pod_entry(js, "database"), "diff"));
	CHECK_CONTAINS(diff, "-      value: \"<secret:POSTGRES_PASSWORD:hmac-sha256:");
	CHECK_CONTAINS(diff, "+      value: \"<secret:POSTGRES_PASSWORD:hmac-sha256:");
	CHECK(!strstr(diff, "pg-secret-value"));
	json_decref(js);
	CHECK(diff_revision(state, &c, 5, &js, &err) < 0 && err.status == AEGIS_ECONFIG);
	deployment_free(&a);
	deployment_free(&b);
	deployment_free(&c);
}

TEST(diff_live_from_labels)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *state = fs_join(dir, "state");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(state, 0700, &err) == 0);
	deployment a, b;
	if (load(dir, env_text, &a, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK(record(state, &a, &err) == 0);
	cleanup_free char *changed = xasprintf("%sRUST_LOG=debug\n", env_text);
	if (load(dir, changed, &b, &err) < 0)
		CHECK_STR(err.msg, "");
	/* live: every pod of A but storage, plus one outside the profile and
	 * one whose hash no revision knows */
	json_t *live = json_array();
	for (size_t i = 0; i < a.npods; i++) {
		if (strcmp(a.pods[i].name, "storage") == 0)
			continue;
		const char *hash = strcmp(a.pods[i].name, "temporal") == 0
				       ? "0000000000000000"
				       : a.pods[i].manifest_hash;
		json_array_append_new(live, json_pack("{s:s, s:{s:s, s:s}}", "Name",
						      a.pods[i].pod_name, "Labels", POD_LABEL,
						      a.pods[i].name, MANIFEST_HASH_LABEL, hash));
	}
	json_array_append_new(
	    live, json_pack("{s:s, s:{s:s}}", "Name", "pod-legacy", "Labels", POD_LABEL, "legacy"));
	json_t *js = NULL;
	CHECK(diff_live(state, &b, live, &js, &err) == 0);
	CHECK_STR(status_of(js, "core"), "changed");
	CHECK_CONTAINS(json_string_value(json_object_get(pod_entry(js, "core"), "diff")), "debug");
	CHECK_STR(status_of(js, "observability"), "unchanged");
	CHECK_STR(status_of(js, "storage"), "added");
	CHECK_STR(status_of(js, "legacy"), "removed");
	CHECK_STR(status_of(js, "temporal"), "changed");
	CHECK_CONTAINS(
	    json_string_value(json_object_get(pod_entry(js, "temporal"), "note")),
	    "no revision of the release history recorded manifest hash 0000000000000000");
	CHECK(json_integer_value(json_object_get(js, "changes")) == 5);
	json_decref(js);
	json_decref(live);
	deployment_free(&a);
	deployment_free(&b);
}
