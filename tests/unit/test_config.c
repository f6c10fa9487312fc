#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "lib/config/config.h"
#include "lib/config/profile.h"
#include "lib/util/fsutil.h"

static char *fixture(void)
{
	char *p = NULL;
	if (asprintf(&p, "%s/tests/fixtures/config", harness_root()) < 0)
		abort();
	return p;
}

TEST(config_sources_and_defaults)
{
	char *root = fixture();
	char *dir = harness_tmpdir();
	char *env =
	    harness_write(dir, ".env", "# x\nAPP_PASSWORD=s3cret\nAPP_TAG=1.2.3\nUNKNOWN_KEY=1\n");
	setenv("APP_LOG", "debug", 1);
	config cfg;
	aerr_t err = {0};
	CHECK(config_load(&cfg, root, env, &err) == 0);
	CHECK_STR(config_get(&cfg, "APP_PASSWORD"), "s3cret");
	CHECK(config_find(&cfg, "APP_PASSWORD")->source == SRC_FILE);
	CHECK(config_find(&cfg, "APP_PASSWORD")->line == 2);
	CHECK_STR(config_get(&cfg, "APP_IMAGE"), "ghcr.io/example/app:1.2.3");
	CHECK(config_find(&cfg, "APP_IMAGE")->source == SRC_DEFAULT);
	CHECK_STR(config_get(&cfg, "APP_LOG"), "debug");
	CHECK(config_find(&cfg, "APP_LOG")->source == SRC_ENVIRONMENT);
	CHECK_STR(config_get(&cfg, "AEGIS_ROOT"), root);
	CHECK(cfg.nunknown == 1);
	const config_value *u = config_find(&cfg, "UNKNOWN_KEY");
	CHECK(u && !u->schema && u->secret && u->line == 4);
	CHECK(!config_find(&cfg, "APP_TAG")->secret && config_find(&cfg, "APP_PASSWORD")->secret);
	char *w = config_unknown_warning(&cfg, u);
	CHECK_CONTAINS(w, ".env:4: unknown variable UNKNOWN_KEY");
	CHECK_CONTAINS(w, "treated as a secret");
	free(w);
	const char *sock = config_get(&cfg, "APP_SOCK");
	CHECK(sock && sock[0] == '/');
	if (geteuid() == 0)
		CHECK_STR(sock, "/run/podman/podman.sock");
	config_free(&cfg);
	unsetenv("APP_LOG");
	free(env);
	free(dir);
	free(root);
}

TEST(config_environment_overrides_file)
{
	char *root = fixture();
	char *dir = harness_tmpdir();
	char *env = harness_write(dir, ".env", "APP_TAG=file\n");
	setenv("APP_TAG", "env", 1);
	config cfg;
	aerr_t err = {0};
	CHECK(config_load(&cfg, root, env, &err) == 0);
	CHECK_STR(config_get(&cfg, "APP_TAG"), "env");
	config_free(&cfg);
	unsetenv("APP_TAG");
	free(env);
	free(dir);
	free(root);
}

static void expect_bad(const char *text, const char *needle)
{
	char *root = fixture();
	char *dir = harness_tmpdir();
	char *env = harness_write(dir, ".env", text);
	config cfg;
	aerr_t err = {0};
	int rc = config_load(&cfg, root, env, &err);
	if (rc == 0) {
		config_free(&cfg);
		harness_failf(__FILE__, __LINE__, "no error for %s", text);
	} else if (!strstr(err.msg, needle) || err.status != AEGIS_ECONFIG) {
		harness_failf(__FILE__, __LINE__, "error '%s' lacks '%s'", err.msg, needle);
	}
	free(env);
	free(dir);
	free(root);
}

TEST(config_validators_name_file_and_line)
{
	expect_bad("A=1\nAPP_PORT=99999\n", ".env:2: APP_PORT: '99999' is not a valid port");
	expect_bad("APP_PORT=http\n", ".env:1: APP_PORT");
	expect_bad("\n\nAPP_IMAGE=Not An Image\n", ".env:3: APP_IMAGE");
	expect_bad("APP_IMAGE=ghcr.io/Upper/app:1\n", "lowercase");
	expect_bad("APP_LOG=aegis=loud\n", "not a valid log level");
	expect_bad("APP_FLAG=maybe\n", "not a boolean");
	expect_bad("AEGIS_ROOT=relative/path\n", "not an absolute path");
	expect_bad("A=1\nB=2\nC=3\nD=4\nE=5\nF=6\nG='broken\n", ".env:7:");
}

TEST(config_valid_values)
{
	char *root = fixture();
	char *dir = harness_tmpdir();
	char *env = harness_write(dir, ".env",
				  "APP_IMAGE=localhost/aegis-test/standin:latest\n"
				  "APP_LOG=aegis=debug,info\nAPP_FLAG=yes\nAPP_PORT=1\n");
	config cfg;
	aerr_t err = {0};
	int rc = config_load(&cfg, root, env, &err);
	if (rc < 0)
		harness_failf(__FILE__, __LINE__, "%s", err.msg);
	CHECK(rc == 0);
	config_free(&cfg);
	const char *images[] = {"docker.io/library/postgres:15.6",
				"quay.io/keycloak/keycloak:24.0.5", "postgres",
				"registry:5000/a/b@sha256:abcdef", "localhost/x:y"};
	schema_var v = {.validator = "image"};
	for (size_t i = 0; i < sizeof images / sizeof *images; i++)
		if (schema_check(&v, images[i], &err) < 0)
			harness_failf(__FILE__, __LINE__, "%s rejected: %s", images[i], err.msg);
	free(env);
	free(dir);
	free(root);
}

TEST(profile_errors)
{
	char *root = fixture();
	profile p;
	aerr_t err = {0};
	CHECK(profile_load(root, "one", &p, &err) == 0);
	CHECK(p.npods == 1);
	CHECK_STR(p.pods[0], "web");
	profile_free(&p);
	CHECK(profile_load(root, "nosuch", &p, &err) < 0);
	CHECK_CONTAINS(err.msg, "unknown profile 'nosuch'");
	CHECK_CONTAINS(err.msg, "available: badpod, one");
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK(profile_load(root, "badpod", &p, &err) < 0);
	CHECK_CONTAINS(err.msg, "badpod.yaml:2: unknown pod 'nosuchpod'");
	CHECK(profile_load(root, "../etc", &p, &err) < 0);
	free(root);
}

TEST(real_profiles_select_the_seed_pods)
{
	profile p;
	aerr_t err = {0};
	CHECK(profile_load(harness_root(), "minimal", &p, &err) == 0);
	CHECK(p.npods == 2);
	profile_free(&p);
	CHECK(profile_load(harness_root(), "development", &p, &err) == 0);
	CHECK(p.npods == 7);
	profile_free(&p);
	CHECK(profile_load(harness_root(), "full", &p, &err) == 0);
	CHECK(p.npods == 9);
	profile_free(&p);
}

/* The .env errors reach config_load as they are: file and line, no value. */
TEST(config_errors_never_show_secret_values)
{
	expect_bad("APP_PORT=1\nPOSTGRES-PASSWORD=Hunter2Secret\n",
		   ".env:2: invalid key 'POSTGRES-PASSWORD'");
	expect_bad("APP_PASSWORD='Hunter2Secret' trailing\n", ".env:1: unexpected text");
	/* a secret with a validator that rejects it: named, its value not shown */
	schema_var v = {.name = "APP_SECRET_PORT", .validator = "port", .secret = true};
	aerr_t err = {0};
	CHECK(schema_check(&v, "Hunter2Secret", &err) < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "is not a valid port");
	CHECK(!strstr(err.msg, "Hunter2"));
	/* a value that is not secret is quoted, as before */
	v.secret = false;
	CHECK(schema_check(&v, "http", &err) < 0);
	CHECK_CONTAINS(err.msg, "'http' is not a valid port");
	v.validator = "image";
	v.secret = true;
	CHECK(schema_check(&v, "Hunter2 Secret", &err) < 0);
	CHECK_CONTAINS(err.msg,
		       "not a valid image reference: an image reference has no whitespace");
	CHECK(!strstr(err.msg, "Hunter2"));
}

TEST(config_env_directory_and_nul_are_configuration_errors)
{
	char *root = fixture();
	char *dir = harness_tmpdir();
	config cfg;
	aerr_t err = {0};
	CHECK(config_load(&cfg, root, dir, &err) < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "is a directory");
	char *env = NULL;
	if (asprintf(&env, "%s/nul.env", dir) < 0)
		abort();
	static const char text[] = "APP_TAG=a\nAPP_PASSWORD=p\0q\nAPP_PORT=1\n";
	CHECK(fs_write_atomic(env, text, sizeof text - 1, 0600, &err) == 0);
	int rc = config_load(&cfg, root, env, &err);
	if (rc == 0)
		config_free(&cfg);
	free(env);
	free(dir);
	free(root);
	CHECK(rc < 0 && err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "nul.env:2: not a text file");
}

/* What a bootstrap wrote to .env, read back by name: the file's new value,
 * unless the environment overrides it; other values are left alone. */
TEST(config_refresh_reads_back_named_variables)
{
	char *root = fixture();
	char *dir = harness_tmpdir();
	char *env = harness_write(dir, ".env", "APP_PASSWORD=one\nAPP_TAG=t1\nAPP_LOG=warn\n");
	config cfg;
	aerr_t err = {0};
	CHECK(config_load(&cfg, root, env, &err) == 0);
	config_set(&cfg, "APP_LOG", "error", SRC_FILE); /* e.g. a revision's value */
	free(harness_write(dir, ".env", "APP_PASSWORD=two\nAPP_TAG=t2\nAPP_LOG=warn\n"));
	setenv("APP_TAG", "from-env", 1);
	json_t *names = json_pack("[s, s, s]", "APP_PASSWORD", "APP_TAG", "NOT_SET");
	CHECK(config_refresh(&cfg, names, &err) == 0);
	json_decref(names);
	unsetenv("APP_TAG");
	CHECK_STR(config_get(&cfg, "APP_PASSWORD"), "two");
	CHECK(config_find(&cfg, "APP_PASSWORD")->source == SRC_FILE);
	CHECK_STR(config_get(&cfg, "APP_TAG"), "from-env");
	CHECK(config_find(&cfg, "APP_TAG")->source == SRC_ENVIRONMENT);
	CHECK_STR(config_get(&cfg, "APP_LOG"), "error");
	CHECK(!config_find(&cfg, "NOT_SET"));
	config_free(&cfg);
	free(env);
	free(dir);
	free(root);
}

/* POSTGRES_PASSWORD of kube/variables.yaml: Temporal's config template
 * quotes it unescaped, so '"' and '\' are refused (forbid), without the
 * value in the message; other punctuation passes. */
TEST(config_forbidden_characters_of_the_real_schema)
{
	schema s;
	aerr_t err = {0};
	cleanup_free char *path = fs_join(harness_root(), "kube/variables.yaml");
	CHECK(schema_load(path, &s, &err) == 0);
	const schema_var *v = schema_find(&s, "POSTGRES_PASSWORD");
	CHECK(v && v->forbid);
	if (!v) {
		schema_free(&s);
		return;
	}
	CHECK(schema_check(v, "p@ss:w/rd#%'x$y&z", &err) == 0);
	CHECK(schema_check(v, "Hunter2\"Secret", &err) < 0);
	CHECK_CONTAINS(err.msg, "contains '\"'");
	CHECK(strstr(err.msg, "Hunter2") == NULL);
	err = (aerr_t){0};
	CHECK(schema_check(v, "Hunter2\\Secret", &err) < 0);
	CHECK_CONTAINS(err.msg, "contains '\\'");
	CHECK(strstr(err.msg, "Hunter2") == NULL);
	schema_free(&s);
}
