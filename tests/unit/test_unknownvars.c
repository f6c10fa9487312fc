/* Variables the schema does not know: kube/unknown-variables.yaml, the
 * closest declared name, the warning, and how config classifies them. */
#include <stdlib.h>

#include "harness.h"
#include "lib/config/config.h"
#include "lib/config/unknownvars.h"
#include "lib/util/fsutil.h"

static char *fixture(void)
{
	cleanup_free char *rel = xasprintf("%s/tests/fixtures/config", harness_root());
	char *abs = realpath(rel, NULL);
	if (!abs)
		abort();
	return abs;
}

TEST(unknownvars_closest_name)
{
	cleanup_free char *root = fixture();
	cleanup_free char *path = fs_join(root, "kube/variables.yaml");
	schema s;
	aerr_t err = {0};
	CHECK(schema_load(path, &s, &err) == 0);
	CHECK_STR(unknownvars_closest(&s, "APP_PASWORD")->name, "APP_PASSWORD");
	CHECK_STR(unknownvars_closest(&s, "APP_PROT")->name, "APP_PORT");
	CHECK(unknownvars_closest(&s, "ZARU_LLM_API_KEY") == NULL);
	CHECK(unknownvars_closest(&s, "X") == NULL);
	schema_free(&s);
}

TEST(unknownvars_file_and_warnings)
{
	cleanup_free char *root = fixture();
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *env =
	    harness_write(dir, ".env",
			  "APP_PASSWORD=pw\nAPP_HOSTNAME=web.example\nOLD_TOKEN=t0k3n-value\n"
			  "APP_PASWORD=typo\nZARU_LLM_API_KEY=canary\n");
	config cfg;
	aerr_t err = {0};
	if (config_load(&cfg, root, env, &err) < 0)
		CHECK_STR(err.msg, "");
	CHECK(cfg.nunknown == 4);
	const config_value *host = config_find(&cfg, "APP_HOSTNAME");
	const config_value *tok = config_find(&cfg, "OLD_TOKEN");
	const config_value *typo = config_find(&cfg, "APP_PASWORD");
	const config_value *zaru = config_find(&cfg, "ZARU_LLM_API_KEY");
	CHECK(!host->secret && tok->secret && typo->secret && zaru->secret);
	char *w = config_unknown_warning(&cfg, host);
	CHECK_CONTAINS(w, ".env:2: unknown variable APP_HOSTNAME");
	CHECK_CONTAINS(w, "APP_HOSTNAME is APP_TAG here");
	CHECK(!strstr(w, "secret") && !strstr(w, "did you mean"));
	free(w);
	w = config_unknown_warning(&cfg, tok);
	CHECK_CONTAINS(w, "treated as a secret; tokens live elsewhere now");
	CHECK(!strstr(w, "t0k3n"));
	free(w);
	w = config_unknown_warning(&cfg, typo);
	CHECK_CONTAINS(w, ".env:4: unknown variable APP_PASWORD");
	CHECK_CONTAINS(w, "did you mean APP_PASSWORD?");
	free(w);
	w = config_unknown_warning(&cfg, zaru);
	CHECK(!strstr(w, "did you mean") && !strstr(w, "canary"));
	free(w);
	/* a value set later for a name the schema does not know is a secret too */
	config_set(&cfg, "NEW_ONE", "v", SRC_FILE);
	CHECK(config_find(&cfg, "NEW_ONE")->secret);
	config_free(&cfg);
}

TEST(unknownvars_missing_file_and_bad_file)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *missing = fs_join(dir, "none.yaml");
	unknown_vars u;
	aerr_t err = {0};
	CHECK(unknownvars_load(missing, &u, &err) == 0 && u.n == 0);
	unknownvars_free(&u);
	cleanup_free char *bad =
	    harness_write(dir, "bad.yaml", "unknown_variables:\n  - note: x\n");
	CHECK(unknownvars_load(bad, &u, &err) < 0);
	CHECK_CONTAINS(err.msg, "bad.yaml:2: entry without a name");
	cleanup_free char *twice =
	    harness_write(dir, "twice.yaml",
			  "unknown_variables:\n  - name: A\n  - name: A\n    harmless: maybe\n");
	CHECK(unknownvars_load(twice, &u, &err) < 0);
	CHECK_CONTAINS(err.msg, "A is listed twice");
}

/* The repository's own file loads, and the upstream names it maps name
 * declared variables. */
TEST(unknownvars_repository_file)
{
	cleanup_free char *path = fs_join(harness_root(), UNKNOWNVARS_FILE);
	cleanup_free char *spath = fs_join(harness_root(), "kube/variables.yaml");
	unknown_vars u;
	schema s;
	aerr_t err = {0};
	CHECK(unknownvars_load(path, &u, &err) == 0);
	CHECK(schema_load(spath, &s, &err) == 0);
	CHECK(u.n > 10);
	for (size_t i = 0; i < u.n; i++) {
		CHECK(!schema_find(&s, u.v[i].name));
		if (u.v[i].replaced_by && !schema_find(&s, u.v[i].replaced_by))
			CHECK_STR(u.v[i].replaced_by, "(a declared variable)");
	}
	CHECK_STR(unknownvars_find(&u, "DOMAIN_API")->replaced_by, "EDGE_API_HOST");
	CHECK(!unknownvars_find(&u, "ZARU_LLM_API_KEY")->harmless);
	schema_free(&s);
	unknownvars_free(&u);
}
