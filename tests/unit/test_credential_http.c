/* credential_http.c against the Keycloak and Grafana test servers
 * (tests/servers/keycloak.py, grafana.py, started here): the new password
 * accepted and the old one refused afterwards, a re-run finding the change
 * made, the services' refusals reported by endpoint and status, and no
 * password in any message. */
#include "harness.h"

#include <stdlib.h>
#include <unistd.h>

#include "lib/bootstrap/credential.h"
#include "lib/bootstrap/keycloak.h"
#include "lib/util/fsutil.h"
#include "lib/util/http.h"
#include "lib/util/spawn.h"

struct server {
	pid_t pid;
	int port;
};

static char *tmp;
static struct server kc, gf;
static bool started;
static char why_not[sizeof(aerr_t){0}.msg + 64];

#define KC_FIRST "kc-first-Admin-1"
#define GF_FIRST "gf-first-admin"

static void stop_servers(void)
{
	if (kc.pid > 0)
		spawn_stop(kc.pid, 2000);
	if (gf.pid > 0)
		spawn_stop(gf.pid, 2000);
}

static bool servers(void)
{
	if (!started) {
		started = true;
		tmp = harness_tmpdir();
		setenv("KEYCLOAK_ADMIN", "admin", 1);
		setenv("KEYCLOAK_ADMIN_PASSWORD", KC_FIRST, 1);
		setenv("GF_SECURITY_ADMIN_PASSWORD", GF_FIRST, 1);
		cleanup_free char *data = fs_join(tmp, "grafana-data");
		const char *gf_args[] = {"--data", data, NULL};
		if (harness_start_server(tmp, "keycloak", "keycloak.py", NULL, &kc.pid, &kc.port,
					 why_not, sizeof why_not) == 0)
			harness_start_server(tmp, "grafana", "grafana.py", gf_args, &gf.pid,
					     &gf.port, why_not, sizeof why_not);
		atexit(stop_servers);
	}
	if (!kc.port || !gf.port) {
		harness_skip(why_not);
		return false;
	}
	return true;
}

/* A configuration reaching both test servers. */
static void load(config *cfg)
{
	static const char *const mine[] = {"KEYCLOAK_URL", "KEYCLOAK_ADMIN", "GRAFANA_PORT",
					   "OBSERVABILITY_BIND_ADDRESS", "AEGIS_CACERT"};
	for (size_t i = 0; i < ARRAY_SIZE(mine); i++)
		unsetenv(mine[i]);
	char text[512];
	snprintf(text, sizeof text,
		 "POSTGRES_PASSWORD=pg\nKEYCLOAK_ADMIN_PASSWORD=x\nGRAFANA_ADMIN_PASSWORD=y\n"
		 "KEYCLOAK_URL=http://127.0.0.1:%d\nKEYCLOAK_ADMIN=admin\n"
		 "GRAFANA_PORT=%d\nOBSERVABILITY_BIND_ADDRESS=0.0.0.0\n",
		 kc.port, gf.port);
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *env = harness_write(dir, "test.env", text);
	aerr_t err = {0};
	CHECK(config_load(cfg, harness_root(), env, &err) == 0);
}

/* Does Keycloak give the administrator a token for PASSWORD? */
static long kc_status(const char *password)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", kc.port);
	http_client c;
	aerr_t err = {0};
	if (http_client_init(&c, url, NULL, &err) < 0)
		return -1;
	static const long any[] = {200, 400, 401, 0};
	http_response r;
	keycloak_password_grant(&c, "admin", password, any, &r, &err);
	long status = r.status;
	http_response_free(&r);
	http_client_free(&c);
	return status;
}

static void no_value_in(const char *msg, const char *a, const char *b)
{
	CHECK(strstr(msg, a) == NULL);
	CHECK(strstr(msg, b) == NULL);
}

TEST(keycloak_admin_password_changed_then_already)
{
	if (!servers())
		return;
	config cfg;
	load(&cfg);
	credential_target t = {.cfg = &cfg, .wait_s = 5};
	aerr_t err = {0};
	bool already = true;
	int rc = credential_keycloak_admin(&t, KC_FIRST, "kc-second-Admin-2", &already, &err);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	CHECK(!already);
	CHECK(kc_status("kc-second-Admin-2") == 200);
	CHECK(kc_status(KC_FIRST) == 401);
	/* a re-run (after a kill past the change): nothing to do */
	rc = credential_keycloak_admin(&t, KC_FIRST, "kc-second-Admin-2", &already, &err);
	CHECK(rc == 0);
	CHECK(already);
	/* neither value accepted: refused, by endpoint, with no value */
	rc = credential_keycloak_admin(&t, "kc-wrong-1", "kc-wrong-2", &already, &err);
	CHECK(rc < 0);
	CHECK_CONTAINS(err.msg, "/realms/master/protocol/openid-connect/token: HTTP 401");
	no_value_in(err.msg, "kc-wrong-1", "kc-wrong-2");
	config_free(&cfg);
}

TEST(keycloak_password_policy_refusal_reported)
{
	if (!servers())
		return;
	config cfg;
	load(&cfg);
	credential_target t = {.cfg = &cfg, .wait_s = 5};
	aerr_t err = {0};
	/* the realm declares a policy the new password breaks */
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", kc.port);
	http_client c;
	CHECK(http_client_init(&c, url, NULL, &err) == 0);
	http_response r;
	CHECK(keycloak_password_grant(&c, "admin", "kc-second-Admin-2", NULL, &r, &err) == 0);
	cleanup_free char *bearer =
	    xasprintf("Bearer %s", json_string_value(json_object_get(r.body, "access_token")));
	http_response_free(&r);
	json_t *policy = json_pack("{s:s}", "passwordPolicy", "length(40)");
	http_request rq = {.method = "PUT",
			   .path = "/admin/realms/master",
			   .token_name = "Authorization",
			   .token_value = bearer,
			   .json = policy};
	CHECK(http_do(&c, &rq, &r, &err) == 0);
	http_response_free(&r);
	bool already = true;
	int rc = credential_keycloak_admin(&t, "kc-second-Admin-2", "kc-short-3", &already, &err);
	CHECK(rc < 0);
	CHECK_CONTAINS(err.msg, "/reset-password: HTTP 400: Invalid password: minimum length 40.");
	no_value_in(err.msg, "kc-second-Admin-2", "kc-short-3");
	CHECK(kc_status("kc-second-Admin-2") == 200);
	json_object_set_new(policy, "passwordPolicy", json_string(""));
	CHECK(http_do(&c, &rq, &r, &err) == 0);
	http_response_free(&r);
	json_decref(policy);
	http_client_free(&c);
	config_free(&cfg);
}

TEST(grafana_admin_password_changed_then_already)
{
	if (!servers())
		return;
	config cfg;
	load(&cfg);
	credential_target t = {.cfg = &cfg, .wait_s = 5};
	aerr_t err = {0};
	bool already = true;
	/* too short for Grafana: its own refusal, no value */
	int rc = credential_grafana_admin(&t, GF_FIRST, "abcd", &already, &err);
	CHECK(rc < 0);
	CHECK_CONTAINS(err.msg, "PUT /api/user/password: HTTP 400: New password is too short");
	no_value_in(err.msg, GF_FIRST, "abcd");
	rc = credential_grafana_admin(&t, GF_FIRST, "gf-second-admin", &already, &err);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	CHECK(!already);
	rc = credential_grafana_admin(&t, GF_FIRST, "gf-second-admin", &already, &err);
	CHECK(rc == 0);
	CHECK(already);
	rc = credential_grafana_admin(&t, "gf-wrong-1", "gf-wrong-2", &already, &err);
	CHECK(rc < 0);
	CHECK_CONTAINS(err.msg, "GET /api/user: HTTP 401");
	no_value_in(err.msg, "gf-wrong-1", "gf-wrong-2");
	config_free(&cfg);
}
