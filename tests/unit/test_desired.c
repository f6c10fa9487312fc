#include <stdlib.h>

#include "harness.h"
#include "lib/bootstrap/desired.h"
#include "lib/util/fsutil.h"

static bool matches(const char *desired, const char *actual)
{
	json_t *d = json_loads(desired, JSON_DECODE_ANY, NULL);
	json_t *a = json_loads(actual, JSON_DECODE_ANY, NULL);
	bool m = desired_matches(d, a);
	json_decref(d);
	json_decref(a);
	return m;
}

TEST(desired_matches_subset)
{
	CHECK(matches("{\"a\":1}", "{\"a\":1,\"b\":2}"));
	CHECK(!matches("{\"a\":1,\"c\":3}", "{\"a\":1,\"b\":2}"));
	CHECK(matches("{\"o\":{\"x\":\"y\"}}", "{\"o\":{\"x\":\"y\",\"z\":1}}"));
	CHECK(!matches("{\"o\":{\"x\":\"y\"}}", "{\"o\":{\"x\":\"n\"}}"));
	/* arrays: the same set */
	CHECK(matches("[\"a\",\"b\"]", "[\"b\",\"a\"]"));
	CHECK(!matches("[\"a\"]", "[\"a\",\"b\"]"));
	CHECK(!matches("[\"a\",\"c\"]", "[\"a\",\"b\"]"));
	/* scalars of the same text */
	CHECK(matches("3600", "3600"));
	CHECK(matches("\"3600\"", "3600"));
	CHECK(matches("3600", "\"3600\""));
	CHECK(matches("true", "\"true\""));
	CHECK(matches("\"2\"", "2"));
	CHECK(!matches("true", "false"));
	CHECK(!matches("1", "\"one\""));
	CHECK(!matches("{\"a\":1}", "[1]"));
	/* a declared key the service does not show differs */
	CHECK(!matches("{\"a\":\"x\"}", "{}"));
	CHECK(matches("{\"a\":null}", "{}"));
}

TEST(desired_load_types_and_variables)
{
	char *dir = harness_tmpdir();
	char *kube = fs_join(dir, "kube");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(kube, 0755, &err) == 0);
	free(harness_write(kube, "variables.yaml",
			   "variables:\n"
			   "  - name: T_URL\n"
			   "    describes: release\n"
			   "    default: http://x:1\n"
			   "  - name: T_NUM\n"
			   "    describes: release\n"
			   "    default: \"8200\"\n"));
	free(harness_write(dir, "text.hcl", "path \"a\" {}\n"));
	char *decl = harness_write(dir, "decl.yaml",
				   "plain_int: 3600\n"
				   "plain_bool: true\n"
				   "plain_real: 1.5\n"
				   "quoted: \"true\"\n"
				   "nothing: ~\n"
				   "url: ${T_URL}/cb\n"
				   "num: ${T_NUM}\n"
				   "list: [a, 2]\n"
				   "text: !file text.hcl\n");
	unsetenv("T_URL");
	unsetenv("T_NUM");
	config cfg;
	char *env = fs_join(dir, "none.env");
	CHECK(config_load(&cfg, dir, env, &err) == 0);
	json_t *js = NULL;
	int rc = desired_load(decl, &cfg, &js, &err);
	config_free(&cfg);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	CHECK(json_integer_value(json_object_get(js, "plain_int")) == 3600);
	CHECK(json_is_true(json_object_get(js, "plain_bool")));
	CHECK(json_real_value(json_object_get(js, "plain_real")) == 1.5);
	CHECK_STR(desired_str(js, "quoted"), "true");
	CHECK(json_is_null(json_object_get(js, "nothing")));
	CHECK_STR(desired_str(js, "url"), "http://x:1/cb");
	/* a substituted value stays a string */
	CHECK_STR(desired_str(js, "num"), "8200");
	CHECK(json_array_size(json_object_get(js, "list")) == 2);
	CHECK_STR(desired_str(js, "text"), "path \"a\" {}\n");
	json_decref(js);
	free(decl);
	free(env);
	free(kube);
	free(dir);
}

TEST(desired_load_rejects_duplicates)
{
	char *dir = harness_tmpdir();
	char *kube = fs_join(dir, "kube");
	aerr_t err = {0};
	CHECK(fs_mkdir_private(kube, 0755, &err) == 0);
	free(harness_write(kube, "variables.yaml", "variables: []\n"));
	char *decl = harness_write(dir, "decl.yaml", "a: 1\na: 2\n");
	config cfg;
	char *env = fs_join(dir, "none.env");
	CHECK(config_load(&cfg, dir, env, &err) == 0);
	json_t *js = NULL;
	CHECK(desired_load(decl, &cfg, &js, &err) < 0);
	CHECK_CONTAINS(err.msg, "duplicate key 'a'");
	config_free(&cfg);
	free(decl);
	free(env);
	free(kube);
	free(dir);
}

TEST(desired_note_and_count)
{
	json_t *log = json_array();
	desired_note(log, DESIRED_CREATED, NULL, "policy %s", "p");
	desired_note(log, DESIRED_UNCHANGED, "why", "role %s", "r");
	desired_note(log, DESIRED_CREATED, NULL, "x");
	CHECK(desired_count(log, DESIRED_CREATED) == 2);
	CHECK(desired_count(log, DESIRED_CHANGED) == 0);
	CHECK_STR(desired_str(json_array_get(log, 1), "detail"), "why");
	CHECK_STR(desired_str(json_array_get(log, 0), "item"), "policy p");
	json_decref(log);
}

/* Two values that share a long prefix are still different values: a fixed
 * comparison buffer once made them "match", so bootstrap skipped an update. */
TEST(desired_matches_compares_long_values_whole)
{
	char *d = malloc(2100), *a = malloc(2100);
	CHECK(d && a);
	memset(d, 'x', 2000);
	memcpy(a, d, 2000);
	d[2000] = a[2000] = '\0';
	a[1999] = 'y';
	json_t *jd = json_string(d), *ja = json_string(a), *same = json_string(d);
	bool differ = !desired_matches(jd, ja);
	bool equal = desired_matches(jd, same);
	/* a string against a number: the whole text counts too */
	memcpy(d, "3600", 4);
	json_t *num = json_integer(3600), *long_str = json_string(d);
	bool num_differs = !desired_matches(num, long_str) && !desired_matches(long_str, num);
	/* the first 511 bytes equal, a difference after them */
	memset(d, 'p', 600);
	memcpy(a, d, 600);
	d[600] = a[600] = '\0';
	a[520] = 'q';
	json_t *o1 = json_pack("{s:s}", "secret", d), *o2 = json_pack("{s:s}", "secret", a);
	bool objects_differ = !desired_matches(o1, o2);
	json_decref(jd);
	json_decref(ja);
	json_decref(same);
	json_decref(num);
	json_decref(long_str);
	json_decref(o1);
	json_decref(o2);
	free(d);
	free(a);
	CHECK(differ);
	CHECK(equal);
	CHECK(num_differs);
	CHECK(objects_differ);
}
