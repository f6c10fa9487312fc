#include <ctype.h>
#include <stdlib.h>
#include <yaml.h>

#include "harness.h"
#include "lib/config/config.h"
#include "lib/config/profile.h"
#include "lib/render/edge.h"
#include "lib/render/render.h"
#include "lib/util/fsutil.h"
#include "lib/util/yamldoc.h"

/* a variable set in the test runner's own environment would win over .env */
static void clear_fixture_environment(void)
{
	static const char *const names[] = {"APP_TAG",	   "APP_IMAGE", "APP_PORT",
					    "HOST_PORT",   "LOG_LEVEL", "SECRET_VALUE",
					    "PLAIN_VALUE", "UNSET_ONE", "UNSET_TWO"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		unsetenv(names[i]);
}

/* A configuration over tests/fixtures/render with ENV_TEXT as .env in DIR. */
static int fixture_config(const char *dir, const char *env_text, config *cfg)
{
	clear_fixture_environment();
	cleanup_free char *root = fs_join(harness_root(), "tests/fixtures/render");
	cleanup_free char *env_path = harness_write(dir, ".env", env_text);
	aerr_t err = {0};
	if (config_load(cfg, root, env_path, &err) < 0) {
		printf("  config_load: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int render_text(const char *dir, const char *template_text, const config *cfg, bool lenient,
		       rendered *out, aerr_t *err)
{
	cleanup_free char *path = harness_write(dir, "pod.yaml", template_text);
	render_opts opts = {.lenient = lenient};
	return render_template(path, cfg, &opts, out, err);
}

/* The scalar at PATH ("spec/containers/0/image") in document DOCNO of YAML,
 * parsed back with libyaml: its text (newly allocated), style and tag. */
static char *scalar_at(const char *yaml, size_t len, int docno, const char *path,
		       yaml_scalar_style_t *style, char **tag)
{
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	char *result = NULL;
	for (int i = 0;; i++) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc)) {
			printf("  cannot parse the output back: %s\n", parser.problem);
			break;
		}
		yaml_node_t *node = yaml_document_get_root_node(&doc);
		if (!node) {
			yaml_document_delete(&doc);
			break;
		}
		if (i != docno) {
			yaml_document_delete(&doc);
			continue;
		}
		cleanup_free char *copy = xstrdup(path);
		char *save = NULL;
		for (char *seg = strtok_r(copy, "/", &save); seg && node;
		     seg = strtok_r(NULL, "/", &save)) {
			if (isdigit((unsigned char)seg[0]) && node->type == YAML_SEQUENCE_NODE) {
				long k = strtol(seg, NULL, 10);
				yaml_node_item_t *items = node->data.sequence.items.start;
				node = k < node->data.sequence.items.top - items
					   ? yaml_document_get_node(&doc, items[k])
					   : NULL;
			} else {
				node = ydoc_get(&doc, node, seg);
			}
		}
		if (node && node->type == YAML_SCALAR_NODE) {
			result = xstrndup((const char *)node->data.scalar.value,
					  node->data.scalar.length);
			if (style)
				*style = node->data.scalar.style;
			if (tag)
				*tag = xstrdup((const char *)node->tag);
		}
		yaml_document_delete(&doc);
		break;
	}
	yaml_parser_delete(&parser);
	return result;
}

static const char pod_template[] = "apiVersion: v1\n"
				   "kind: Pod\n"
				   "metadata:\n"
				   "  name: pod-app\n"
				   "  labels:\n"
				   "    aegis.io/pod: app\n"
				   "spec:\n"
				   "  containers:\n"
				   "    - name: app\n"
				   "      image: ${APP_IMAGE}\n"
				   "      env:\n"
				   "        - name: LEVEL\n"
				   "          value: ${LOG_LEVEL:-info}\n"
				   "        - name: NESTED\n"
				   "          value: ${UNSET_ONE:-${UNSET_TWO:-deep-${APP_TAG}}}\n"
				   "        - name: EMPTY\n"
				   "          value: ${UNSET_ONE:-}\n"
				   "        - name: PORT\n"
				   "          value: ${APP_PORT}\n"
				   "        - name: URL\n"
				   "          value: http://localhost:${APP_PORT}/health\n"
				   "        - name: UNTOUCHED\n"
				   "          value: 'kept as written'\n"
				   "      ports:\n"
				   "        - containerPort: ${APP_PORT}\n"
				   "          hostPort: ${HOST_PORT}\n";

TEST(render_substitutes_values_and_defaults)
{
	cleanup_free char *dir = harness_tmpdir();
	config cfg;
	CHECK(fixture_config(dir, "HOST_PORT=18088\nLOG_LEVEL=debug\n", &cfg) == 0);
	rendered r;
	aerr_t err = {0};
	int rc = render_text(dir, pod_template, &cfg, false, &r, &err);
	config_free(&cfg);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	cleanup_free char *image =
	    scalar_at(r.yaml, r.len, 0, "spec/containers/0/image", NULL, NULL);
	cleanup_free char *level =
	    scalar_at(r.yaml, r.len, 0, "spec/containers/0/env/0/value", NULL, NULL);
	cleanup_free char *nested =
	    scalar_at(r.yaml, r.len, 0, "spec/containers/0/env/1/value", NULL, NULL);
	yaml_scalar_style_t empty_style = YAML_ANY_SCALAR_STYLE, port_env_style = 0;
	cleanup_free char *empty =
	    scalar_at(r.yaml, r.len, 0, "spec/containers/0/env/2/value", &empty_style, NULL);
	cleanup_free char *port_env =
	    scalar_at(r.yaml, r.len, 0, "spec/containers/0/env/3/value", &port_env_style, NULL);
	cleanup_free char *url =
	    scalar_at(r.yaml, r.len, 0, "spec/containers/0/env/4/value", NULL, NULL);
	yaml_scalar_style_t kept_style = 0;
	cleanup_free char *kept =
	    scalar_at(r.yaml, r.len, 0, "spec/containers/0/env/5/value", &kept_style, NULL);
	bool has_secrets = r.has_secrets;
	cleanup_free char *yaml = r.yaml;
	CHECK_STR(image, "localhost/app:1.0");
	CHECK_STR(level, "debug");
	CHECK_STR(nested, "deep-1.0");
	CHECK_STR(empty, "");
	CHECK(empty_style != YAML_PLAIN_SCALAR_STYLE);
	/* an env value stays a string even when it is a number */
	CHECK_STR(port_env, "8088");
	CHECK(port_env_style != YAML_PLAIN_SCALAR_STYLE);
	CHECK_STR(url, "http://localhost:8088/health");
	CHECK_STR(kept, "kept as written");
	CHECK(kept_style == YAML_SINGLE_QUOTED_SCALAR_STYLE);
	/* ports come out as integers */
	CHECK_CONTAINS(yaml, "- containerPort: 8088\n");
	CHECK_CONTAINS(yaml, "  hostPort: 18088\n");
	CHECK(!has_secrets);
}

TEST(render_unset_variable_names_file_line_and_description)
{
	cleanup_free char *dir = harness_tmpdir();
	config cfg;
	CHECK(fixture_config(dir, "HOST_PORT=18088\n", &cfg) == 0);
	const char *tmpl = "kind: Pod\n"
			   "metadata:\n"
			   "  name: pod-app\n"
			   "spec:\n"
			   "  password: ${SECRET_VALUE}\n";
	rendered r;
	aerr_t err = {0};
	int rc = render_text(dir, tmpl, &cfg, false, &r, &err);
	cleanup_free char *want = xasprintf("%s/pod.yaml:5: ${SECRET_VALUE} is not set (the secret "
					    "under test) — set it in %s/.env",
					    dir, dir);
	config_free(&cfg);
	CHECK(rc < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_STR(err.msg, want);
}

TEST(render_lenient_leaves_references)
{
	cleanup_free char *dir = harness_tmpdir();
	config cfg;
	CHECK(fixture_config(dir, "", &cfg) == 0);
	const char *tmpl = "kind: Pod\n"
			   "spec:\n"
			   "  password: ${SECRET_VALUE}\n"
			   "  url: postgres://u:${SECRET_VALUE}@db/x\n"
			   "  tag: ${UNSET_ONE:-${APP_TAG}}\n"
			   "  hostPort: ${HOST_PORT}\n";
	rendered r;
	aerr_t err = {0};
	int rc = render_text(dir, tmpl, &cfg, true, &r, &err);
	config_free(&cfg);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	cleanup_free char *yaml = r.yaml;
	cleanup_free char *password = scalar_at(r.yaml, r.len, 0, "spec/password", NULL, NULL);
	cleanup_free char *url = scalar_at(r.yaml, r.len, 0, "spec/url", NULL, NULL);
	cleanup_free char *tag = scalar_at(r.yaml, r.len, 0, "spec/tag", NULL, NULL);
	cleanup_free char *host = scalar_at(r.yaml, r.len, 0, "spec/hostPort", NULL, NULL);
	CHECK_STR(password, "${SECRET_VALUE}");
	CHECK_STR(url, "postgres://u:${SECRET_VALUE}@db/x");
	CHECK_STR(tag, "1.0");
	CHECK_STR(host, "${HOST_PORT}");
	CHECK(!r.has_secrets);
}

TEST(render_reports_secrets)
{
	cleanup_free char *dir = harness_tmpdir();
	config cfg;
	CHECK(fixture_config(dir, "SECRET_VALUE=s3cret\n", &cfg) == 0);
	rendered with, without;
	aerr_t err = {0};
	int rc1 = render_text(dir, "a: ${SECRET_VALUE}\n", &cfg, false, &with, &err);
	int rc2 =
	    render_text(dir, "a: ${APP_TAG} ${PLAIN_VALUE:-x}\n", &cfg, false, &without, &err);
	config_free(&cfg);
	CHECK(rc1 == 0 && rc2 == 0);
	bool w = with.has_secrets, wo = without.has_secrets;
	rendered_free(&with);
	rendered_free(&without);
	CHECK(w);
	CHECK(!wo);
}

TEST(render_bad_references_are_errors)
{
	cleanup_free char *dir = harness_tmpdir();
	config cfg;
	CHECK(fixture_config(dir, "", &cfg) == 0);
	static const char *const bad[] = {"a: ${APP_TAG\n", "a: ${}\n", "a: ${1X}\n",
					  "a: ${APP_TAG:=x}\n"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		rendered r;
		aerr_t err = {0};
		int rc = render_text(dir, bad[i], &cfg, true, &r, &err);
		if (rc == 0)
			rendered_free(&r);
		if (rc == 0 || !strstr(err.msg, "pod.yaml:1: ")) {
			harness_failf(__FILE__, __LINE__, "%s: rc %d, %s", bad[i], rc, err.msg);
			break;
		}
	}
	config_free(&cfg);
}

TEST(render_yaml_error_names_line_and_column)
{
	cleanup_free char *dir = harness_tmpdir();
	config cfg;
	CHECK(fixture_config(dir, "", &cfg) == 0);
	rendered r;
	aerr_t err = {0};
	int rc = render_text(dir, "a: b\nc: [d\n", &cfg, false, &r, &err);
	config_free(&cfg);
	CHECK(rc < 0);
	cleanup_free char *prefix = xasprintf("%s/pod.yaml:3:1: YAML error: ", dir);
	CHECK_CONTAINS(err.msg, prefix);
}

TEST(render_includes_files)
{
	cleanup_free char *dir = harness_tmpdir();
	config cfg;
	CHECK(fixture_config(dir, "", &cfg) == 0);
	const char *conf = "global:\n  scrape_interval: 15s  # ${NOT_SUBSTITUTED}\n"
			   "rule: \"quoted\" 'and' \\back\n";
	cleanup_free char *f1 = harness_write(dir, "prometheus.yml", conf);
	cleanup_free char *f2 = harness_write(dir, "one-line.txt", "true");
	const char *tmpl = "kind: ConfigMap\n"
			   "data:\n"
			   "  prometheus.yml: !file prometheus.yml\n"
			   "  flag: !file one-line.txt\n"
			   "---\n"
			   "kind: Pod\n"
			   "metadata:\n"
			   "  name: pod-x\n";
	static const char *const bad[] = {"a: !file ../etc/passwd\n",
					  "a: !file sub/x\n",
					  "a: !file missing.txt\n",
					  "a: !other x\n",
					  "a: !file ''\n",
					  "a: !file {x: 1}\n"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		rendered b;
		aerr_t e = {0};
		int brc = render_text(dir, bad[i], &cfg, false, &b, &e);
		if (brc == 0)
			rendered_free(&b);
		if (brc == 0 || !strstr(e.msg, "pod.yaml:1: ")) {
			harness_failf(__FILE__, __LINE__, "%s: rc %d, %s", bad[i], brc, e.msg);
			break;
		}
	}
	rendered r;
	aerr_t err = {0};
	int rc = render_text(dir, tmpl, &cfg, false, &r, &err);
	config_free(&cfg);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	cleanup_free char *yaml = r.yaml;
	cleanup_free char *tag = NULL, *flag_tag = NULL;
	cleanup_free char *got = scalar_at(r.yaml, r.len, 0, "data/prometheus.yml", NULL, &tag);
	yaml_scalar_style_t flag_style = 0;
	cleanup_free char *flag = scalar_at(r.yaml, r.len, 0, "data/flag", &flag_style, &flag_tag);
	cleanup_free char *pod_name = scalar_at(r.yaml, r.len, 1, "metadata/name", NULL, NULL);
	CHECK_STR(got, conf);
	CHECK_STR(tag, YAML_DEFAULT_SCALAR_TAG);
	CHECK_STR(flag, "true");
	CHECK_STR(flag_tag, YAML_DEFAULT_SCALAR_TAG);
	CHECK(flag_style != YAML_PLAIN_SCALAR_STYLE);
	CHECK_STR(pod_name, "pod-x");
	CHECK(!strstr(yaml, "!file"));
	CHECK_CONTAINS(yaml, "\n---\n");
	/* a config file stays readable: a literal block */
	CHECK_CONTAINS(yaml, "prometheus.yml: |\n    global:\n");
}

TEST(render_rejects_invalid_utf8_values)
{
	cleanup_free char *dir = harness_tmpdir();
	config cfg;
	CHECK(fixture_config(dir,
			     "PLAIN_VALUE=ab\xff\xfe"
			     "cd\n",
			     &cfg) == 0);
	rendered r;
	aerr_t err = {0};
	int rc = render_text(dir, "a: ${PLAIN_VALUE}\n", &cfg, false, &r, &err);
	config_free(&cfg);
	if (rc == 0)
		rendered_free(&r);
	CHECK(rc < 0);
	CHECK_CONTAINS(err.msg, "pod.yaml:1: ");
	CHECK_CONTAINS(err.msg, "UTF-8");
}

/* Values that would change the meaning of the YAML if pasted as text. */
static const char *const hostile[] = {
    "a\"b",
    "a'b",
    "key: value",
    "x #comment",
    "{a: 1}",
    "&anchor",
    "*alias",
    "---",
    " leading space",
    "trailing space ",
    "line1\nline2",
    "true",
    "null",
    "123",
    "~",
    "[1,2]",
    "%percent",
    "@at",
    "`tick",
    "\\\\backslash",
    "pässwörd✓",
    "no",
    "0o17",
    "1e3",
    "-",
    "- item",
    "? q",
    "!tag",
    "|",
    ">",
    "a\tb",
    "\r\n",
    "...",
    "<<",
    "0x1F",
    ".inf",
    "2001-12-14",
    "a: b\nc: d",
    "#",
    "\"",
    "'",
    "\\",
};

static bool would_resolve_non_string(const char *s)
{
	static const char *const words[] = {"true", "null", "~", "no", "<<", "123"};
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return isdigit((unsigned char)s[0]) || s[0] == '.';
}

/* Render VALUE through three templates and parse each result back. */
static bool hostile_roundtrip(const char *dir, const char *value)
{
	cleanup_free char *quoted = env_quote(value);
	cleanup_free char *env = xasprintf("SECRET_VALUE=%s\n", quoted);
	config cfg;
	if (fixture_config(dir, env, &cfg) < 0)
		return false;
	const char *got_value = config_get(&cfg, "SECRET_VALUE");
	if (!got_value || strcmp(got_value, value) != 0) {
		harness_failf(__FILE__, __LINE__, ".env round trip of \"%s\" gave \"%s\"", value,
			      got_value ? got_value : "(null)");
		config_free(&cfg);
		return false;
	}
	const char *tmpl = "kind: Pod\n"
			   "spec:\n"
			   "  containers:\n"
			   "    - name: db\n"
			   "      env:\n"
			   "        - name: PLAIN\n"
			   "          value: ${SECRET_VALUE}\n"
			   "        - name: QUOTED\n"
			   "          value: \"${SECRET_VALUE}\"\n"
			   "        - name: URL\n"
			   "          value: postgres://u:${SECRET_VALUE}@h/db\n"
			   "      args: [--password, '${SECRET_VALUE}', \"${SECRET_VALUE}\"]\n"
			   "  after: end\n";
	rendered r;
	aerr_t err = {0};
	int rc = render_text(dir, tmpl, &cfg, false, &r, &err);
	config_free(&cfg);
	if (rc < 0) {
		harness_failf(__FILE__, __LINE__, "\"%s\": %s", value, err.msg);
		return false;
	}
	cleanup_free char *url = xasprintf("postgres://u:%s@h/db", value);
	struct {
		const char *path, *want;
	} checks[] = {
	    {"spec/containers/0/env/0/value", value}, {"spec/containers/0/env/1/value", value},
	    {"spec/containers/0/env/2/value", url},   {"spec/containers/0/args/1", value},
	    {"spec/containers/0/args/2", value},      {"spec/after", "end"},
	};
	bool ok = r.has_secrets;
	if (!ok)
		harness_failf(__FILE__, __LINE__, "\"%s\": has_secrets not set", value);
	for (size_t i = 0; ok && i < ARRAY_SIZE(checks); i++) {
		yaml_scalar_style_t style = 0;
		cleanup_free char *tag = NULL;
		cleanup_free char *got = scalar_at(r.yaml, r.len, 0, checks[i].path, &style, &tag);
		if (!got || strcmp(got, checks[i].want) != 0) {
			harness_failf(__FILE__, __LINE__,
				      "\"%s\" at %s came back as \"%s\" in:\n%s", checks[i].want,
				      checks[i].path, got ? got : "(nothing)", r.yaml);
			ok = false;
		} else if (strcmp(tag, YAML_DEFAULT_SCALAR_TAG) != 0 ||
			   (style == YAML_PLAIN_SCALAR_STYLE &&
			    would_resolve_non_string(checks[i].want))) {
			harness_failf(__FILE__, __LINE__, "\"%s\" at %s: tag %s, style %d in:\n%s",
				      checks[i].want, checks[i].path, tag, (int)style, r.yaml);
			ok = false;
		}
	}
	rendered_free(&r);
	return ok;
}

TEST(render_hostile_values_come_back_exactly)
{
	cleanup_free char *dir = harness_tmpdir();
	for (size_t i = 0; i < ARRAY_SIZE(hostile); i++)
		if (!hostile_roundtrip(dir, hostile[i]))
			return;
	char long_value[301];
	for (size_t i = 0; i < 300; i++)
		long_value[i] = "abc: #\"' "[i % 9];
	long_value[300] = '\0';
	CHECK(hostile_roundtrip(dir, long_value));
}

/* 1-based number of the first line where A and B differ */
static int first_difference(const char *a, const char *b)
{
	int line = 1;
	for (; *a && *a == *b; a++, b++)
		line += *a == '\n';
	return line;
}

/* Golden manifests: every pod template of the repository rendered with
 * tests/fixtures/render/golden.env.  AEGIS_UPDATE_GOLDEN=1 rewrites them. */
TEST(render_golden_manifests)
{
	const char *root = harness_root();
	cleanup_free char *env_path = fs_join(root, "tests/fixtures/render/golden.env");
	cleanup_free char *schema_path = fs_join(root, "kube/variables.yaml");
	aerr_t err = {0};
	schema s;
	CHECK(schema_load(schema_path, &s, &err) == 0);
	for (size_t i = 0; i < s.n; i++)
		unsetenv(s.vars[i].name);
	schema_free(&s);
	config cfg;
	if (config_load(&cfg, root, env_path, &err) < 0)
		printf("  %s\n", err.msg);
	CHECK(err.msg[0] == '\0');
	/* the edge's Caddyfile is computed, as deployment_load does for a profile with it */
	CHECK(edge_prepare(&cfg, false, &err) == 0);
	char **pods = NULL;
	size_t npods = 0;
	if (catalog_list(root, &pods, &npods, &err) < 0) {
		config_free(&cfg);
		CHECK(!"catalog_list");
	}
	bool update = getenv("AEGIS_UPDATE_GOLDEN") && *getenv("AEGIS_UPDATE_GOLDEN");
	if (npods < 8)
		harness_failf(__FILE__, __LINE__, "expected the eight pod templates, found %zu",
			      npods);
	for (size_t i = 0; i < npods; i++) {
		cleanup_free char *tmpl = catalog_template(root, pods[i]);
		cleanup_free char *name = xasprintf("tests/golden/%s.yaml", pods[i]);
		cleanup_free char *golden = fs_join(root, name);
		/* as deployment_load renders them: env secrets as secretKeyRefs */
		cleanup_free char *secret = render_pod_secret_name(pods[i]);
		render_opts opts = {.secret_name = secret};
		rendered r;
		if (render_template(tmpl, &cfg, &opts, &r, &err) < 0) {
			harness_failf(__FILE__, __LINE__, "%s", err.msg);
			continue;
		}
		cleanup_free char *want = NULL;
		size_t want_len = 0;
		if (update) {
			if (fs_write_atomic(golden, r.yaml, r.len, 0644, &err) < 0)
				harness_failf(__FILE__, __LINE__, "%s", err.msg);
			else
				printf("  updated %s\n", name);
		} else if (fs_read_file(golden, &want, &want_len, &err) < 0) {
			harness_failf(__FILE__, __LINE__,
				      "%s (AEGIS_UPDATE_GOLDEN=1 make unit writes it)", err.msg);
		} else if (want_len != r.len || memcmp(want, r.yaml, r.len) != 0) {
			int line = first_difference(want, r.yaml);
			harness_failf(__FILE__, __LINE__,
				      "%s:%d differs from %s rendered with golden.env; if the "
				      "change is intended, run AEGIS_UPDATE_GOLDEN=1 make unit and "
				      "review the diff",
				      name, line, tmpl);
		}
		rendered_free(&r);
	}
	strv_free(pods, npods);
	config_free(&cfg);
}

/* With a pod secret named: every env value holding a secret becomes a
 * secretKeyRef, the values move to rendered.secrets (whole when embedded in
 * other text), and they still count in the manifest-hash label. */
static const char secret_pod[] = "apiVersion: v1\n"
				 "kind: Pod\n"
				 "metadata:\n"
				 "  name: pod-x\n"
				 "spec:\n"
				 "  containers:\n"
				 "  - name: a\n"
				 "    env:\n"
				 "    - name: PW\n"
				 "      value: ${SECRET_VALUE}\n"
				 "    - name: URL\n"
				 "      value: postgresql://u:${SECRET_VALUE|url}@h/db\n"
				 "    - name: PW_ENCODED\n"
				 "      value: ${SECRET_VALUE|url}\n"
				 "    - name: PLAIN\n"
				 "      value: ${PLAIN_VALUE}\n"
				 "    - name: EMPTY\n"
				 "      value: ${UNSET_ONE:-}\n"
				 "  - name: b\n"
				 "    env:\n"
				 "    - name: URL\n"
				 "      value: mysql://u:${SECRET_VALUE|url}@h/db\n"
				 "    - value: ${SECRET_VALUE}\n"
				 "      name: PASSWORD\n";

static int render_secret_pod(const char *dir, const char *secret, rendered *r)
{
	config cfg;
	cleanup_free char *env = xasprintf("SECRET_VALUE='%s'\nPLAIN_VALUE=plain\n", secret);
	if (fixture_config(dir, env, &cfg) < 0)
		return -1;
	cleanup_free char *path = harness_write(dir, "pod.yaml", secret_pod);
	render_opts opts = {.secret_name = "aegis-secrets-x"};
	aerr_t err = {0};
	int rc = render_template(path, &cfg, &opts, r, &err);
	if (rc < 0)
		printf("  %s\n", err.msg);
	config_free(&cfg);
	return rc;
}

static const char *secret_of(const rendered *r, const char *key)
{
	for (size_t i = 0; i < r->nsecrets; i++)
		if (strcmp(r->secrets[i].key, key) == 0)
			return r->secrets[i].value;
	return NULL;
}

TEST(render_secret_env_values_become_secret_refs)
{
	cleanup_free char *dir = harness_tmpdir();
	rendered r, again, other;
	CHECK(render_secret_pod(dir, "p@ss w:rd", &r) == 0);
	CHECK(!strstr(r.yaml, "p@ss"));
	CHECK(!strstr(r.yaml, "p%40ss"));
	CHECK(!r.has_secrets);
	CHECK_STR(r.secret_name, "aegis-secrets-x");
	CHECK(r.nsecrets == 4);
	CHECK_STR(secret_of(&r, "SECRET_VALUE"), "p@ss w:rd");
	CHECK_STR(secret_of(&r, "URL"), "postgresql://u:p%40ss%20w%3Ard@h/db");
	CHECK_STR(secret_of(&r, "SECRET_VALUE_URLENCODED"), "p%40ss%20w%3Ard");
	/* the same key with another value gets a suffix; an equal one is shared */
	CHECK_STR(secret_of(&r, "URL_2"), "mysql://u:p%40ss%20w%3Ard@h/db");
	cleanup_free char *pw = scalar_at(
	    r.yaml, r.len, 0, "spec/containers/0/env/0/valueFrom/secretKeyRef/key", NULL, NULL);
	cleanup_free char *pwname = scalar_at(
	    r.yaml, r.len, 0, "spec/containers/0/env/0/valueFrom/secretKeyRef/name", NULL, NULL);
	cleanup_free char *url = scalar_at(
	    r.yaml, r.len, 0, "spec/containers/0/env/1/valueFrom/secretKeyRef/key", NULL, NULL);
	cleanup_free char *plain =
	    scalar_at(r.yaml, r.len, 0, "spec/containers/0/env/3/value", NULL, NULL);
	cleanup_free char *empty =
	    scalar_at(r.yaml, r.len, 0, "spec/containers/0/env/4/value", NULL, NULL);
	cleanup_free char *url2 = scalar_at(
	    r.yaml, r.len, 0, "spec/containers/1/env/0/valueFrom/secretKeyRef/key", NULL, NULL);
	cleanup_free char *pw2 = scalar_at(
	    r.yaml, r.len, 0, "spec/containers/1/env/1/valueFrom/secretKeyRef/key", NULL, NULL);
	cleanup_free char *pw2name =
	    scalar_at(r.yaml, r.len, 0, "spec/containers/1/env/1/name", NULL, NULL);
	CHECK_STR(pw, "SECRET_VALUE");
	CHECK_STR(pwname, "aegis-secrets-x");
	CHECK_STR(url, "URL");
	CHECK_STR(plain, "plain");
	CHECK_STR(empty, "");
	CHECK_STR(url2, "URL_2");
	CHECK_STR(pw2, "SECRET_VALUE");
	CHECK_STR(pw2name, "PASSWORD");
	/* the same secret: the same manifest; another one: only the label moves */
	CHECK(render_secret_pod(dir, "p@ss w:rd", &again) == 0);
	CHECK(render_secret_pod(dir, "another", &other) == 0);
	CHECK(again.len == r.len && memcmp(again.yaml, r.yaml, r.len) == 0);
	const char *h1 = strstr(r.yaml, MANIFEST_HASH_LABEL ": \"");
	const char *h2 = strstr(other.yaml, MANIFEST_HASH_LABEL ": \"");
	CHECK(h1 && h2 && memcmp(h1, h2, strlen(MANIFEST_HASH_LABEL) + 3 + 16) != 0);
	CHECK(other.len == r.len && h1 - r.yaml == h2 - other.yaml);
	rendered_free(&r);
	rendered_free(&again);
	rendered_free(&other);
}

/* Without a pod secret (the Kubernetes conversion's own rendering), and for
 * a secret outside env values, the value stays where the template put it. */
TEST(render_secret_refs_only_for_env_values)
{
	cleanup_free char *dir = harness_tmpdir();
	config cfg;
	CHECK(fixture_config(dir, "SECRET_VALUE=s3cret\n", &cfg) == 0);
	cleanup_free char *path =
	    harness_write(dir, "pod.yaml",
			  "kind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n"
			  "    args: [\"--pw=${SECRET_VALUE}\"]\n    env:\n    - name: PW\n"
			  "      value: ${SECRET_VALUE}\n");
	aerr_t err = {0};
	rendered inline_r, args_r;
	render_opts none = {0}, named = {.secret_name = "aegis-secrets-p"};
	CHECK(render_template(path, &cfg, &none, &inline_r, &err) == 0);
	CHECK(render_template(path, &cfg, &named, &args_r, &err) == 0);
	config_free(&cfg);
	cleanup_free char *pw =
	    scalar_at(inline_r.yaml, inline_r.len, 0, "spec/containers/0/env/0/value", NULL, NULL);
	CHECK_STR(pw, "s3cret");
	CHECK(inline_r.has_secrets && inline_r.nsecrets == 0 && !inline_r.secret_name);
	cleanup_free char *arg =
	    scalar_at(args_r.yaml, args_r.len, 0, "spec/containers/0/args/0", NULL, NULL);
	CHECK_STR(arg, "--pw=s3cret");
	CHECK(args_r.has_secrets && args_r.nsecrets == 1);
	rendered_free(&inline_r);
	rendered_free(&args_r);
}

/* ${VAR|url}: the value percent-encoded where it is a URL component, exact
 * everywhere else. */
TEST(render_url_filter_percent_encodes)
{
	cleanup_free char *dir = harness_tmpdir();
	config cfg;
	CHECK(fixture_config(dir, "SECRET_VALUE='p@ss:w/rd?x#y%z ü~._-'\nPLAIN_VALUE=a b\n",
			     &cfg) == 0);
	const char *tmpl = "a: postgresql://aegis:${SECRET_VALUE|url}@pod-database:5432/aegis\n"
			   "b: ${SECRET_VALUE}\n"
			   "c: http://h/${UNSET_ONE|url:-d/e f}?q=${PLAIN_VALUE|url}\n"
			   "d: ${UNSET_ONE|url:-${PLAIN_VALUE}}\n";
	rendered r;
	aerr_t err = {0};
	int rc = render_text(dir, tmpl, &cfg, false, &r, &err);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	cleanup_free char *a = scalar_at(r.yaml, r.len, 0, "a", NULL, NULL);
	cleanup_free char *b = scalar_at(r.yaml, r.len, 0, "b", NULL, NULL);
	cleanup_free char *c = scalar_at(r.yaml, r.len, 0, "c", NULL, NULL);
	cleanup_free char *d = scalar_at(r.yaml, r.len, 0, "d", NULL, NULL);
	bool secrets = r.has_secrets;
	rendered_free(&r);
	CHECK_STR(a, "postgresql://aegis:p%40ss%3Aw%2Frd%3Fx%23y%25z%20%C3%BC~._-@pod-database:"
		     "5432/aegis");
	CHECK_STR(b, "p@ss:w/rd?x#y%z ü~._-");
	CHECK_STR(c, "http://h/d%2Fe%20f?q=a%20b");
	CHECK_STR(d, "a%20b");
	CHECK(secrets);
	/* lenient rendering leaves an unset reference as written, filter included */
	rc = render_text(dir, "a: x://${UNSET_ONE|url}@h\n", &cfg, true, &r, &err);
	CHECK(rc == 0);
	CHECK_CONTAINS(r.yaml, "x://${UNSET_ONE|url}@h");
	rendered_free(&r);
	/* an unknown filter is an error naming the line */
	rc = render_text(dir, "a: 1\nb: ${SECRET_VALUE|base64}\n", &cfg, false, &r, &err);
	config_free(&cfg);
	if (rc == 0)
		rendered_free(&r);
	CHECK(rc < 0);
	CHECK_CONTAINS(err.msg, "pod.yaml:2: bad variable reference \"${SECRET_VALUE|base64}\"");
	CHECK(!strstr(err.msg, "p@ss"));
}

/* The real templates: every secret placed inside a URL is marked |url. */
TEST(render_templates_mark_secrets_in_urls)
{
	const char *root = harness_root();
	char **pods = NULL;
	size_t npods = 0;
	aerr_t err = {0};
	cleanup_free char *schema_path = fs_join(root, "kube/variables.yaml");
	schema sc;
	CHECK(schema_load(schema_path, &sc, &err) == 0);
	if (catalog_list(root, &pods, &npods, &err) < 0) {
		schema_free(&sc);
		CHECK(!"catalog_list");
	}
	for (size_t i = 0; i < npods; i++) {
		cleanup_free char *tmpl = catalog_template(root, pods[i]);
		cleanup_free char *text = NULL;
		if (fs_read_file(tmpl, &text, NULL, &err) < 0)
			continue;
		int line = 1;
		for (const char *s = text; *s; s++) {
			line += *s == '\n';
			if (strncmp(s, "://", 3) != 0)
				continue;
			const char *eol = strchr(s, '\n');
			size_t n = eol ? (size_t)(eol - s) : strlen(s);
			cleanup_free char *rest = xstrndup(s, n);
			for (size_t k = 0; k < sc.n; k++) {
				cleanup_free char *ref = xasprintf("${%s}", sc.vars[k].name);
				if (sc.vars[k].secret && strstr(rest, ref))
					harness_failf(__FILE__, __LINE__,
						      "%s:%d: %s inside a URL without |url", tmpl,
						      line, ref);
			}
		}
	}
	strv_free(pods, npods);
	schema_free(&sc);
}

/* pod-observability's readiness probe is Promtail's /ready: Promtail 3.0
 * answers it 500 until a scrape target is active unless
 * server.health_check_target is false (kube/observability/promtail.yaml). */
TEST(render_promtail_ready_without_a_target)
{
	cleanup_free char *path = fs_join(harness_root(), "kube/observability/promtail.yaml");
	char *text = NULL;
	size_t len = 0;
	aerr_t err = {0};
	CHECK(fs_read_file(path, &text, &len, &err) == 0);
	const char *server = text ? strstr(text, "\nserver:\n") : NULL;
	const char *next = server ? strstr(server + 9, "\n\n") : NULL;
	const char *flag = server ? strstr(server, "\n  health_check_target: false\n") : NULL;
	CHECK(server && flag && (!next || flag < next));
	free(text);
}
