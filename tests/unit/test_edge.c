/* The edge: routes.yaml and the Caddyfile built from it (edge.c), the bcrypt
 * hash of its basic auth (passhash.c), and the checks of a running edge
 * (edgecheck.c) against a real Caddy on 127.0.0.1, without Podman. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "lib/config/config.h"
#include "lib/render/edge.h"
#include "lib/render/passhash.h"
#include "lib/rollout/edgecheck.h"
#include "lib/util/fsutil.h"
#include "lib/util/spawn.h"

#define PASSWORD "edge-test-password-0123456789abcdef"

static const char *const edge_vars[] = {
    "AEGIS_DOMAIN",	    "AEGIS_TLS_MODE",		"AEGIS_ACME_EMAIL",
    "EDGE_TLS_CERT_FILE",   "EDGE_TLS_KEY_FILE",	"EDGE_API_HOST",
    "EDGE_GRAFANA_HOST",    "EDGE_PROMETHEUS_HOST",	"EDGE_JAEGER_HOST",
    "EDGE_BASIC_AUTH_USER", "EDGE_BASIC_AUTH_PASSWORD", "EDGE_HTTP_PORT",
    "EDGE_HTTPS_PORT",	    "AEGIS_GENERATED_DIR",	"AEGIS_ACME_CA",
    "AEGIS_ACME_CA_ROOT",   "EDGE_VERIFY_CA_FILE",
};

/* A configuration of ROOT from an .env with TEXT. */
static int load(config *cfg, const char *root, const char *text, aerr_t *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(edge_vars); i++)
		unsetenv(edge_vars[i]);
	char *dir = harness_tmpdir();
	char *env = harness_write(dir, ".env", text);
	int rc = config_load(cfg, root, env, err);
	free(env);
	free(dir);
	return rc;
}

TEST(bcrypt_hash_is_deterministic_and_verifies)
{
	aerr_t err = {0};
	char *a = NULL, *b = NULL, *c = NULL;
	CHECK(passhash_bcrypt(PASSWORD, &a, &err) == 0);
	CHECK(passhash_bcrypt(PASSWORD, &b, &err) == 0);
	CHECK(passhash_bcrypt(PASSWORD "x", &c, &err) == 0);
	CHECK(strncmp(a, "$2b$10$", 7) == 0 && strlen(a) == 60);
	CHECK_STR(a, b);
	CHECK(strcmp(a, c) != 0);
	CHECK(passhash_verify(PASSWORD, a, &err) == 1);
	CHECK(passhash_verify("wrong", a, &err) == 0);
	free(a);
	free(b);
	free(c);
	CHECK(passhash_bcrypt("", &c, &err) < 0);
}

TEST(edge_routes_and_caddyfile)
{
	aerr_t err = {0};
	config cfg;
	CHECK(load(&cfg, harness_root(),
		   "AEGIS_DOMAIN=example.org\nEDGE_GRAFANA_HOST=dash.example.net\n"
		   "EDGE_BASIC_AUTH_PASSWORD=" PASSWORD "\n",
		   &err) == 0);
	edge_config e;
	CHECK(edge_load(&cfg, &e, &err) == 0);
	CHECK(e.n == 8);
	CHECK_STR(e.tls_mode, "internal");
	CHECK_STR(e.tls_line, "tls internal");
	CHECK(e.expiry_of_ca && e.ca_certificate);
	size_t auth = 0;
	bool api = false, grafana = false;
	for (size_t i = 0; i < e.n; i++) {
		auth += e.routes[i].basic_auth;
		api |= strcmp(e.routes[i].host, "api.example.org") == 0 &&
		       strcmp(e.routes[i].upstream, "pod-core:8088") == 0;
		grafana |= strcmp(e.routes[i].host, "dash.example.net") == 0;
	}
	CHECK(auth == 3 && api && grafana);
	edge_free(&e);

	CHECK(edge_prepare(&cfg, false, &err) == 0);
	const char *file = config_get(&cfg, EDGE_CADDYFILE_VAR);
	CHECK(file);
	CHECK_CONTAINS(file, "api.example.org {\n\ttls internal\n\treverse_proxy pod-core:8088\n}");
	CHECK_CONTAINS(file,
		       "temporal.example.org {\n\ttls internal\n\tbasicauth {\n\t\taegis $2b$10$");
	CHECK(!strstr(file, PASSWORD));
	CHECK(config_find(&cfg, EDGE_CADDYFILE_VAR)->schema->secret);
	config_free(&cfg);
}

/* acme mode: ca / ca_root in each site's tls block only when their
 * variables are set, so an unset one leaves Caddy's default (Let's Encrypt);
 * never the global acme_ca, beside which Caddy 2.8 adds a ZeroSSL issuer. */
TEST(edge_acme_options)
{
	static const struct {
		const char *env;
		bool ca, root;
	} cases[] = {
	    {"", false, false},
	    {"AEGIS_ACME_CA=https://pod-pebble:14000/dir\n", true, false},
	    {"AEGIS_ACME_CA=https://pod-pebble:14000/dir\nAEGIS_ACME_CA_ROOT=/r.pem\n", true, true},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		aerr_t err = {0};
		config cfg;
		cleanup_free char *text =
		    xasprintf("AEGIS_TLS_MODE=acme\nAEGIS_ACME_EMAIL=a@b.org\n"
			      "%sEDGE_BASIC_AUTH_PASSWORD=" PASSWORD "\n",
			      cases[i].env);
		CHECK(load(&cfg, harness_root(), text, &err) == 0);
		CHECK(edge_prepare(&cfg, false, &err) == 0);
		const char *file = config_get(&cfg, EDGE_CADDYFILE_VAR);
		CHECK(file && strstr(file, "\tskip_install_trust\n"));
		CHECK(file && !strstr(file, "acme_ca"));
		cleanup_free char *want =
		    !cases[i].ca
			? xstrdup("api.aegis.localhost {\n\ttls {$ACME_EMAIL}\n")
			: xasprintf("api.aegis.localhost {\n\ttls {$ACME_EMAIL} {\n\t\tca "
				    "{$ACME_CA}\n%s\t}\n",
				    cases[i].root ? "\t\tca_root /etc/aegis-tls/acme-ca-root.pem\n"
						  : "");
		CHECK_CONTAINS(file, want);
		config_free(&cfg);
	}
}

TEST(edge_configuration_errors)
{
	static const struct {
		const char *env, *want;
	} cases[] = {
	    {"AEGIS_TLS_MODE=selfsigned\n",
	     "AEGIS_TLS_MODE 'selfsigned': expected one of internal, acme, files"},
	    {"AEGIS_TLS_MODE=acme\n", "AEGIS_TLS_MODE=acme needs AEGIS_ACME_EMAIL"},
	    {"AEGIS_TLS_MODE=files\nEDGE_TLS_CERT_FILE=/c.pem\n",
	     "AEGIS_TLS_MODE=files needs EDGE_TLS_KEY_FILE"},
	    {"EDGE_API_HOST=\"api.example.org {\"\n", "EDGE_API_HOST 'api.example.org {'"},
	    {"EDGE_BASIC_AUTH_USER=\"a b\"\n", "EDGE_BASIC_AUTH_USER 'a b'"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		aerr_t err = {0};
		config cfg;
		cleanup_free char *text =
		    xasprintf("%sEDGE_BASIC_AUTH_PASSWORD=" PASSWORD "\n", cases[i].env);
		CHECK(load(&cfg, harness_root(), text, &err) == 0);
		int rc = edge_prepare(&cfg, false, &err);
		bool unset = config_get(&cfg, EDGE_CADDYFILE_VAR) == NULL;
		/* lenient (plan, status): left unset, no error */
		aerr_t lerr = {0};
		int lrc = edge_prepare(&cfg, true, &lerr);
		config_free(&cfg);
		CHECK(rc < 0 && err.status == AEGIS_ECONFIG && unset);
		CHECK_CONTAINS(err.msg, cases[i].want);
		CHECK(lrc == 0 && lerr.msg[0] == '\0');
	}
	/* no password: an error naming it */
	aerr_t err = {0};
	config cfg;
	CHECK(load(&cfg, harness_root(), "", &err) == 0);
	CHECK(edge_prepare(&cfg, false, &err) < 0);
	config_free(&cfg);
	CHECK_CONTAINS(err.msg, "EDGE_BASIC_AUTH_PASSWORD is not set");
}

/* --- a real Caddy ---------------------------------------------------------- */

static bool wait_for_file(const char *path, int ms)
{
	for (int i = 0; i < ms / 50; i++) {
		if (fs_exists(path))
			return true;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return false;
}

static const edge_check *find(const edge_check *c, size_t n, const char *route)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].route, route) == 0)
			return &c[i];
	return NULL;
}

struct caddy {
	pid_t edge, upstream;
	char *dir;
};

static void caddy_stop(struct caddy *c)
{
	if (c->edge > 0)
		spawn_stop(c->edge, 3000);
	if (c->upstream > 0)
		spawn_stop(c->upstream, 3000);
	free(c->dir);
}

/* Start Caddy with the Caddyfile TEXT and the stand-in
 * upstream (caddy respond) on 127.0.0.1:28399. */
static int caddy_start(struct caddy *c, const char *text, int http_port, int https_port)
{
	*c = (struct caddy){.dir = harness_tmpdir()};
	char *caddyfile = harness_write(c->dir, "Caddyfile", text);
	char *log = fs_join(c->dir, "caddy.log");
	char port[16];
	snprintf(port, sizeof port, "%d", http_port);
	setenv("EDGE_TEST_HTTP_PORT", port, 1);
	snprintf(port, sizeof port, "%d", https_port);
	setenv("EDGE_TEST_HTTPS_PORT", port, 1);
	setenv("XDG_DATA_HOME", c->dir, 1);
	setenv("XDG_CONFIG_HOME", c->dir, 1);
	aerr_t err = {0};
	char *const up[] = {"caddy",  "respond", "--listen", "127.0.0.1:28399",
			    "--body", "standin", NULL};
	char *const edge[] = {"caddy",	   "run",	"--config", caddyfile,
			      "--adapter", "caddyfile", NULL};
	int rc = spawn_start(up, log, &c->upstream, &err);
	if (rc == 0)
		rc = spawn_start(edge, log, &c->edge, &err);
	free(caddyfile);
	free(log);
	return rc;
}

TEST(edgecheck_against_real_caddy)
{
	char *bin = spawn_which("caddy");
	if (!bin) {
		harness_skip("caddy is not installed: run 'make setup'");
		return;
	}
	free(bin);
	int http_port = 20000 + getpid() % 20000, https_port = http_port + 1;
	cleanup_free char *root = fs_join(harness_root(), "tests/fixtures/edge");
	cleanup_free char *text = xasprintf("EDGE_BASIC_AUTH_PASSWORD=" PASSWORD
					    "\nEDGE_HTTP_PORT=%d\nEDGE_HTTPS_PORT=%d\n",
					    http_port, https_port);
	aerr_t err = {0};
	deployment d = {0};
	CHECK(load(&d.cfg, root, text, &err) == 0);
	CHECK(edge_prepare(&d.cfg, false, &err) == 0);
	struct caddy c;
	if (caddy_start(&c, config_get(&d.cfg, EDGE_CADDYFILE_VAR), http_port, https_port) < 0) {
		caddy_stop(&c);
		config_free(&d.cfg);
		CHECK(!"caddy started");
	}
	cleanup_free char *ca = fs_join(c.dir, "caddy/pki/authorities/local/root.crt");
	bool up = wait_for_file(ca, 10000);
	/* the sites' certificates are issued just after the CA exists */
	edge_check *checks = NULL;
	size_t n = 0;
	int rc = -1;
	for (int attempt = 0; up && attempt < 40; attempt++) {
		edge_checks_free(checks, n);
		edgecheck_opts o = {.cacert = ca, .timeout_s = 5};
		rc = edgecheck_run(&d, &o, &checks, &n, &err);
		const edge_check *api = rc == 0 ? find(checks, n, "runtime-api") : NULL;
		if (api && api->ok)
			break;
		struct timespec ts = {0, 250 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* the same with the system's CAs: the internal CA is not trusted */
	edge_check *untrusted = NULL;
	size_t nu = 0;
	setenv("AEGIS_GENERATED_DIR", c.dir, 1);
	aerr_t uerr = {0};
	int urc =
	    edgecheck_run(&d, &(edgecheck_opts){.cacert = "/etc/ssl/certs/ca-certificates.crt"},
			  &untrusted, &nu, &uerr);
	unsetenv("AEGIS_GENERATED_DIR");
	caddy_stop(&c);
	config_free(&d.cfg);
	CHECK(up);
	CHECK(rc == 0 && n == 4);
	const edge_check *api = find(checks, n, "runtime-api");
	const edge_check *prom = find(checks, n, "prometheus");
	const edge_check *down = find(checks, n, "down");
	bool ok = api && api->ok && api->status == 200 && !api->warning && api->days_left > 300;
	ok = ok && find(checks, n, "grafana")->ok;
	ok = ok && prom && prom->ok && prom->status == 401;
	ok = ok && down && !down->ok && down->status == 502 && strstr(down->detail, "502");
	if (!ok)
		for (size_t i = 0; i < n; i++)
			printf("  %s: ok=%d status=%ld days=%.1f %s\n", checks[i].route,
			       checks[i].ok, checks[i].status, checks[i].days_left,
			       checks[i].detail);
	edge_checks_free(checks, n);
	CHECK(ok);
	bool verify_failed =
	    urc == 0 && nu == 4 && !untrusted[0].ok && strstr(untrusted[0].detail, "certificate");
	if (!verify_failed && urc == 0)
		printf("  untrusted: %s\n", untrusted[0].detail);
	edge_checks_free(untrusted, nu);
	CHECK(verify_failed);
}

/* A certificate of the user's (AEGIS_TLS_MODE=files) that expires in 5 days
 * is a warning; the route still passes. */
TEST(edgecheck_warns_about_expiring_certificates)
{
	char *bin = spawn_which("caddy");
	char *ossl = spawn_which("openssl");
	bool have = bin && ossl;
	free(bin);
	free(ossl);
	if (!have) {
		harness_skip("caddy or openssl is not installed: run 'make setup'");
		return;
	}
	char *dir = harness_tmpdir();
	cleanup_free char *cert = fs_join(dir, "cert.pem");
	cleanup_free char *key = fs_join(dir, "key.pem");
	cleanup_free char *out = fs_join(dir, "openssl.log");
	char *const argv[] = {"openssl",
			      "req",
			      "-x509",
			      "-newkey",
			      "ec",
			      "-pkeyopt",
			      "ec_paramgen_curve:P-256",
			      "-nodes",
			      "-days",
			      "5",
			      "-subj",
			      "/CN=aegis.localhost",
			      "-addext",
			      "subjectAltName=DNS:api.aegis.localhost,DNS:grafana.aegis.localhost,"
			      "DNS:prometheus.aegis.localhost,DNS:jaeger.aegis.localhost",
			      "-keyout",
			      key,
			      "-out",
			      cert,
			      NULL};
	aerr_t err = {0};
	int st = -1;
	free(dir);
	CHECK(spawn_run(argv, out, &st, &err) == 0 && st == 0);
	setenv("EDGE_TEST_CERT", cert, 1);
	setenv("EDGE_TEST_KEY", key, 1);
	int http_port = 20000 + (getpid() + 7) % 20000, https_port = http_port + 1;
	cleanup_free char *root = fs_join(harness_root(), "tests/fixtures/edge");
	cleanup_free char *text = xasprintf(
	    "AEGIS_TLS_MODE=files\nEDGE_TLS_CERT_FILE=%s\nEDGE_TLS_KEY_FILE=%s\n"
	    "EDGE_BASIC_AUTH_PASSWORD=" PASSWORD "\nEDGE_HTTP_PORT=%d\nEDGE_HTTPS_PORT=%d\n",
	    cert, key, http_port, https_port);
	deployment d = {0};
	CHECK(load(&d.cfg, root, text, &err) == 0);
	CHECK(edge_prepare(&d.cfg, false, &err) == 0);
	CHECK_CONTAINS(config_get(&d.cfg, EDGE_CADDYFILE_VAR),
		       "tls {$EDGE_TEST_CERT} {$EDGE_TEST_KEY}");
	struct caddy c;
	if (caddy_start(&c, config_get(&d.cfg, EDGE_CADDYFILE_VAR), http_port, https_port) < 0) {
		caddy_stop(&c);
		config_free(&d.cfg);
		CHECK(!"caddy started");
	}
	edge_check *checks = NULL;
	size_t n = 0;
	const edge_check *api = NULL;
	for (int attempt = 0; attempt < 40; attempt++) {
		edge_checks_free(checks, n);
		checks = NULL;
		n = 0;
		if (edgecheck_run(&d, &(edgecheck_opts){.cacert = cert, .timeout_s = 5}, &checks,
				  &n, &err) == 0 &&
		    (api = find(checks, n, "runtime-api")) && api->ok)
			break;
		struct timespec ts = {0, 250 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	caddy_stop(&c);
	config_free(&d.cfg);
	bool ok = api && api->ok && api->warning && api->days_left > 4 && api->days_left < 6 &&
		  strstr(api->detail, "expires in");
	if (!ok && api)
		printf("  runtime-api: ok=%d warning=%d days=%.1f %s\n", api->ok, api->warning,
		       api->days_left, api->detail);
	edge_checks_free(checks, n);
	CHECK(ok);
}

/* An edge whose basic auth went missing fails the check of that route. */
TEST(edgecheck_fails_a_route_without_its_basic_auth)
{
	char *bin = spawn_which("caddy");
	if (!bin) {
		harness_skip("caddy is not installed: run 'make setup'");
		return;
	}
	free(bin);
	int http_port = 20000 + (getpid() + 13) % 20000, https_port = http_port + 1;
	cleanup_free char *root = fs_join(harness_root(), "tests/fixtures/edge");
	cleanup_free char *text = xasprintf("EDGE_BASIC_AUTH_PASSWORD=" PASSWORD
					    "\nEDGE_HTTP_PORT=%d\nEDGE_HTTPS_PORT=%d\n",
					    http_port, https_port);
	aerr_t err = {0};
	deployment d = {0};
	CHECK(load(&d.cfg, root, text, &err) == 0);
	CHECK(edge_prepare(&d.cfg, false, &err) == 0);
	/* the Caddyfile without its basicauth block */
	cleanup_free char *file = xstrdup(config_get(&d.cfg, EDGE_CADDYFILE_VAR));
	char *from = strstr(file, "\tbasicauth {");
	char *to = from ? strstr(from, "\t}\n") : NULL;
	CHECK(from && to);
	memmove(from, to + 3, strlen(to + 3) + 1);
	struct caddy c;
	if (caddy_start(&c, file, http_port, https_port) < 0) {
		caddy_stop(&c);
		config_free(&d.cfg);
		CHECK(!"caddy started");
	}
	cleanup_free char *ca = fs_join(c.dir, "caddy/pki/authorities/local/root.crt");
	edge_check *checks = NULL;
	size_t n = 0;
	const edge_check *api = NULL;
	for (int attempt = 0; wait_for_file(ca, 10000) && attempt < 40; attempt++) {
		edge_checks_free(checks, n);
		checks = NULL;
		n = 0;
		if (edgecheck_run(&d, &(edgecheck_opts){.cacert = ca, .timeout_s = 5}, &checks, &n,
				  &err) == 0 &&
		    (api = find(checks, n, "runtime-api")) && api->ok)
			break;
		struct timespec ts = {0, 250 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	caddy_stop(&c);
	config_free(&d.cfg);
	const edge_check *prom = find(checks, n, "prometheus");
	bool ok = api && api->ok && prom && !prom->ok && prom->status == 200 &&
		  strstr(prom->detail, "expected 401");
	if (!ok && prom)
		printf("  prometheus: ok=%d status=%ld %s\n", prom->ok, prom->status, prom->detail);
	edge_checks_free(checks, n);
	CHECK(ok);
}
