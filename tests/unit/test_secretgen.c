#include <stdlib.h>
#include <sys/stat.h>

#include "harness.h"
#include "lib/config/env.h"
#include "lib/config/secretgen.h"
#include "lib/util/fsutil.h"

static char *schema_path(void)
{
	return fs_join(harness_root(), "tests/fixtures/config/kube/variables.yaml");
}

static char *value_in(const char *path, const char *key)
{
	env_file e;
	aerr_t err = {0};
	if (env_load(path, false, &e, &err) < 0)
		return NULL;
	const env_entry *x = env_find(&e, key);
	char *v = x ? xstrdup(x->value) : NULL;
	env_free(&e);
	return v;
}

TEST(secretgen_values_are_strong_and_distinct)
{
	aerr_t err = {0};
	cleanup_free char *a = NULL;
	cleanup_free char *b = NULL;
	CHECK(secret_generate(32, &a, &err) == 0);
	CHECK(secret_generate(32, &b, &err) == 0);
	CHECK(strlen(a) == 43 && strcmp(a, b) != 0);
	CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
	CHECK(secret_generate(0, &b, &err) < 0);
}

TEST(secretgen_fill_creates_env_from_template)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *schema = schema_path();
	cleanup_free char *from =
	    harness_write(dir, "example", "# header\nAPP_PASSWORD=\nAPP_TAG=v1 # kept\n");
	cleanup_free char *env = fs_join(dir, ".env");
	secret_fill done;
	aerr_t err = {0};
	int rc = secret_fill_env(schema, env, from, false, &done, &err);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	bool named = done.created && done.n == 1 && strcmp(done.names[0], "APP_PASSWORD") == 0;
	secret_fill_free(&done);
	CHECK(named);
	struct stat st;
	CHECK(stat(env, &st) == 0 && (st.st_mode & 0777) == 0600);
	cleanup_free char *pw = value_in(env, "APP_PASSWORD");
	cleanup_free char *tag = value_in(env, "APP_TAG");
	CHECK(pw && strlen(pw) == 43);
	CHECK_STR(tag, "v1");
	/* an existing file is never overwritten without --fill */
	rc = secret_fill_env(schema, env, from, false, &done, &err);
	CHECK(rc < 0 && err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "already exists");
	cleanup_free char *again = value_in(env, "APP_PASSWORD");
	CHECK_STR(again, pw);
}

TEST(secretgen_fill_adds_only_missing_values)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *schema = schema_path();
	const char *text = "# mine\nexport APP_TAG=v2   # note\n\nAPP_PASSWORD= # to fill\n";
	cleanup_free char *env = harness_write(dir, ".env", text);
	secret_fill done;
	aerr_t err = {0};
	CHECK(secret_fill_env(schema, env, "/nonexistent", true, &done, &err) == 0);
	bool one = !done.created && done.n == 1;
	secret_fill_free(&done);
	CHECK(one);
	cleanup_free char *pw = value_in(env, "APP_PASSWORD");
	CHECK(pw && strlen(pw) == 43);
	cleanup_free char *after = NULL;
	CHECK(fs_read_file(env, &after, NULL, &err) == 0);
	cleanup_free char *want =
	    xasprintf("# mine\nexport APP_TAG=v2   # note\n\nAPP_PASSWORD= %s "
		      "# to fill\n",
		      pw);
	CHECK_STR(after, want);
	/* nothing missing: nothing generated, the file unchanged */
	CHECK(secret_fill_env(schema, env, "/nonexistent", true, &done, &err) == 0);
	bool none = done.n == 0;
	secret_fill_free(&done);
	CHECK(none);
	cleanup_free char *same = NULL;
	CHECK(fs_read_file(env, &same, NULL, &err) == 0);
	CHECK_STR(same, want);
}

TEST(secretgen_fill_reports_a_broken_template)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *schema = schema_path();
	cleanup_free char *from = harness_write(dir, "example", "APP_PASSWORD='open\n");
	cleanup_free char *env = fs_join(dir, ".env");
	secret_fill done;
	aerr_t err = {0};
	CHECK(secret_fill_env(schema, env, from, false, &done, &err) < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "example:1: unterminated single-quoted");
	CHECK(!fs_exists(env));
}
