/* bootstrap.c against the OpenBao and Keycloak API test servers
 * (tests/servers/, started here): deploy's hook in either order of readiness,
 * the later pods rendered again with the fresh credentials, and validate's
 * checks of the bootstrapped state. */
#include "harness.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/bootstrap/bootstrap.h"
#include "lib/bootstrap/desired.h"
#include "lib/bootstrap/keycloak.h"
#include "lib/util/fsutil.h"
#include "lib/util/http.h"
#include "lib/util/spawn.h"

struct server {
	pid_t pid;
	int port;
};

static char *tmp;
static struct server bao, kc, kc_short;
static bool started;
static char why_not[sizeof(aerr_t){0}.msg + 64];

static int start(struct server *s, const char *name, const char *script, const char *const *extra)
{
	return harness_start_server(tmp, name, script, extra, &s->pid, &s->port, why_not,
				    sizeof why_not);
}

static void stop_servers(void)
{
	struct server *all[] = {&bao, &kc, &kc_short};
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		if (all[i]->pid > 0)
			spawn_stop(all[i]->pid, 2000);
}

static bool servers(void)
{
	if (!started) {
		started = true;
		tmp = harness_tmpdir();
		setenv("KEYCLOAK_ADMIN", "admin", 1);
		setenv("KEYCLOAK_ADMIN_PASSWORD", "kc-unit-admin", 1);
		static const char *const short_args[] = {"--token-lifetime", "2", NULL};
		if (start(&bao, "openbao", "openbao.py", NULL) == 0 &&
		    start(&kc, "keycloak", "keycloak.py", NULL) == 0)
			start(&kc_short, "keycloak-short", "keycloak.py", short_args);
		atexit(stop_servers);
	}
	if (!bao.port || !kc.port || !kc_short.port) {
		harness_skip(why_not);
		return false;
	}
	return true;
}

/* A .env for DIR with the test servers' URLs; the process environment must
 * not override it. */
static char *write_env(const char *dir)
{
	static const char *const mine[] = {
	    "OPENBAO_ADDR",	 "KEYCLOAK_URL",	   "KEYCLOAK_PUBLIC_URL",
	    "OPENBAO_ROLE_ID",	 "OPENBAO_SECRET_ID",	   "OIDC_CLIENT_SECRET",
	    "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "AEGIS_CACERT"};
	for (size_t i = 0; i < ARRAY_SIZE(mine); i++)
		unsetenv(mine[i]);
	char text[1024];
	snprintf(text, sizeof text,
		 "# unit test\n"
		 "POSTGRES_PASSWORD=pg\n"
		 "KEYCLOAK_ADMIN_PASSWORD=kc-unit-admin\n"
		 "GRAFANA_ADMIN_PASSWORD=gr\n"
		 "OPENBAO_ADDR=http://127.0.0.1:%d\n"
		 "KEYCLOAK_URL=http://127.0.0.1:%d\n"
		 "KEYCLOAK_PUBLIC_URL=http://127.0.0.1:%d\n"
		 "OPENBAO_ROLE_ID=\n"
		 "OPENBAO_SECRET_ID=\n"
		 "OIDC_CLIENT_SECRET=\n",
		 bao.port, kc.port, kc.port);
	return harness_write(dir, "test.env", text);
}

/* POD's containers get TEXT: a value of its Podman secret, not in its
 * manifest (render.h, render_opts.secret_name). */
static bool manifest_has(const deployment *d, const char *pod, const char *text)
{
	int i = deployment_pod_index(d, pod);
	if (i < 0 || !text || !*text || strstr(d->manifests[i].yaml, text))
		return false;
	for (size_t k = 0; k < d->manifests[i].nsecrets; k++)
		if (strcmp(d->manifests[i].secrets[k].value, text) == 0)
			return true;
	return false;
}

static size_t count(const bootstrap_hook *h, const char *service, const char *item_prefix,
		    const char *result)
{
	json_t *r = bootstrap_hook_report(h);
	size_t n = 0, i;
	json_t *e;
	json_array_foreach(json_object_get(json_object_get(r, "services"), service), i, e)
	{
		n += strncmp(desired_str(e, "item"), item_prefix, strlen(item_prefix)) == 0 &&
		     strcmp(desired_str(e, "result"), result) == 0;
	}
	json_decref(r);
	return n;
}

static int seal(void)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", bao.port);
	http_client c;
	aerr_t err = {0};
	if (http_client_init(&c, url, NULL, &err) < 0)
		return -1;
	http_request rq = {.method = "POST", .path = "/_test/seal"};
	http_response r;
	int rc = http_do(&c, &rq, &r, &err);
	http_response_free(&r);
	http_client_free(&c);
	return rc;
}

TEST(bootstrap_hook_secrets_then_iam)
{
	if (!servers())
		return;
	char *dir = harness_tmpdir();
	char *env = write_env(dir);
	cleanup_free char *gen = fs_join(dir, "generated");
	aerr_t err = {0};
	deployment d;
	int rc = deployment_load(&d, harness_root(), env, "development", 0, &err);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	char *found = NULL;
	aerr_t cerr = {0};
	CHECK(bootstrap_check_secrets(&d.cfg, &found, &cerr) < 0 && !found);
	CHECK_CONTAINS(cerr.msg, "not initialised");
	CHECK(bootstrap_check_iam(&d.cfg, &found, &cerr) < 0 && !found);
	CHECK_CONTAINS(cerr.msg, "realm aegis-system missing");

	bootstrap_opts o = {.generated_dir = gen, .wait_s = 10};
	bootstrap_hook *h = bootstrap_hook_new(&d, &o);
	int secrets = deployment_pod_index(&d, "secrets"), iam = deployment_pod_index(&d, "iam");
	int core = deployment_pod_index(&d, "core");
	cleanup_free char *hash_before = xstrdup(d.pods[core].manifest_hash);
	rc = bootstrap_on_ready(h, &d, (size_t)secrets, &err);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	/* the fresh credentials are in the configuration and in core's manifest */
	const char *role_id = config_get(&d.cfg, "OPENBAO_ROLE_ID");
	const char *secret_id = config_get(&d.cfg, "OPENBAO_SECRET_ID");
	CHECK(role_id && *role_id && secret_id && *secret_id);
	CHECK(manifest_has(&d, "core", role_id));
	CHECK(manifest_has(&d, "core", secret_id));
	CHECK(strcmp(hash_before, d.pods[core].manifest_hash) != 0);
	CHECK(bootstrap_check_secrets(&d.cfg, &found, &cerr) == 0);
	CHECK_CONTAINS(found, "unsealed");
	free(found);
	/* the OIDC login waits for Keycloak */
	CHECK(count(h, "OpenBao", "OIDC", DESIRED_CREATED) == 0);

	rc = bootstrap_on_ready(h, &d, (size_t)iam, &err);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	const char *client_secret = config_get(&d.cfg, "OIDC_CLIENT_SECRET");
	CHECK(client_secret && *client_secret);
	CHECK(manifest_has(&d, "core", client_secret));
	CHECK(count(h, "Keycloak", "realm aegis-system", DESIRED_CREATED) >= 1);
	CHECK(count(h, "OpenBao", "OIDC configuration", DESIRED_CREATED) == 1);
	CHECK(bootstrap_check_iam(&d.cfg, &found, &cerr) == 0);
	CHECK_CONTAINS(found, "realm aegis-system present");
	free(found);
	/* another pod's readiness does nothing */
	CHECK(bootstrap_on_ready(h, &d, (size_t)core, &err) == 0);
	bootstrap_hook_free(h);
	deployment_free(&d);

	/* the next deploy, iam ready first: nothing to create, nothing written */
	struct stat before, after;
	CHECK(stat(env, &before) == 0);
	CHECK(deployment_load(&d, harness_root(), env, "development", 0, &err) == 0);
	h = bootstrap_hook_new(&d, &o);
	CHECK(bootstrap_on_ready(h, &d, (size_t)iam, &err) == 0);
	CHECK(bootstrap_on_ready(h, &d, (size_t)secrets, &err) == 0);
	json_t *report = bootstrap_hook_report(h);
	CHECK(json_array_size(json_object_get(report, "env_changed")) == 0);
	CHECK(count(h, "OpenBao", "OIDC configuration", DESIRED_UNCHANGED) == 1);
	const char *service;
	json_t *items;
	json_object_foreach(json_object_get(report, "services"), service, items)
	{
		CHECK(desired_count(items, DESIRED_CREATED) == 0);
		CHECK(desired_count(items, DESIRED_CHANGED) == 0);
		CHECK(desired_count(items, DESIRED_UNCHANGED) > 5);
	}
	CHECK(json_object_size(json_object_get(report, "services")) == 2);
	json_decref(report);
	bootstrap_hook_free(h);
	CHECK(stat(env, &after) == 0);
	CHECK(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
	      before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);

	/* sealed again: validate's check says so */
	CHECK(seal() == 0);
	CHECK(bootstrap_check_secrets(&d.cfg, &found, &cerr) < 0);
	CHECK_CONTAINS(cerr.msg, "sealed");
	/* and the hook unseals it */
	h = bootstrap_hook_new(&d, &o);
	CHECK(bootstrap_on_ready(h, &d, (size_t)secrets, &err) == 0);
	bootstrap_hook_free(h);
	CHECK(bootstrap_check_secrets(&d.cfg, &found, &cerr) == 0);
	free(found);
	deployment_free(&d);
	free(env);
	free(dir);
}

TEST(bootstrap_hook_failure_names_the_endpoint)
{
	if (!servers())
		return;
	char *dir = harness_tmpdir();
	char *env = harness_write(dir, "test.env",
				  "POSTGRES_PASSWORD=pg\nKEYCLOAK_ADMIN_PASSWORD=kc-unit-admin\n"
				  "GRAFANA_ADMIN_PASSWORD=gr\nOPENBAO_ADDR=http://127.0.0.1:1\n");
	cleanup_free char *gen = fs_join(dir, "generated");
	aerr_t err = {0};
	deployment d;
	CHECK(deployment_load(&d, harness_root(), env, "minimal", 0, &err) == 0);
	bootstrap_opts o = {.generated_dir = gen, .wait_s = 1};
	bootstrap_hook *h = bootstrap_hook_new(&d, &o);
	CHECK(bootstrap_on_ready(h, &d, (size_t)deployment_pod_index(&d, "secrets"), &err) < 0);
	CHECK_CONTAINS(err.msg, "bootstrap: ");
	CHECK_CONTAINS(err.msg, "GET /v1/sys/health");
	bootstrap_hook_free(h);
	deployment_free(&d);
	free(env);
	free(dir);
}

/* Slow every request down, so that a two-second token expires mid-way. */
static void slow(void *ctx, const char *line)
{
	(void)ctx;
	(void)line;
	usleep(100000);
}

TEST(keycloak_token_renewed_when_expired)
{
	if (!servers())
		return;
	char *dir = harness_tmpdir();
	char *env = write_env(dir);
	cleanup_free char *gen = fs_join(dir, "generated");
	cleanup_free char *decl_path = fs_join(harness_root(), BOOTSTRAP_REALMS_DECL);
	aerr_t err = {0};
	config cfg;
	CHECK(config_load(&cfg, harness_root(), env, &err) == 0);
	json_t *decl = NULL;
	CHECK(desired_load(decl_path, &cfg, &decl, &err) == 0);
	config_free(&cfg);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", kc_short.port);
	keycloak_opts o = {.url = url,
			   .admin_user = "admin",
			   .admin_password = "kc-unit-admin",
			   .desired = decl,
			   .generated_dir = gen,
			   .wait_s = 5,
			   .trace = slow};
	keycloak_result res;
	int rc = keycloak_apply(&o, &res, &err);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	CHECK(desired_count(res.log, DESIRED_CREATED) >= 9);
	keycloak_result_free(&res);

	/* how many tokens it took: the server's log says */
	http_client c;
	CHECK(http_client_init(&c, url, NULL, &err) == 0);
	http_request rq = {.method = "GET", .path = "/_test/requests"};
	http_response r;
	CHECK(http_do(&c, &rq, &r, &err) == 0);
	size_t tokens = 0, unauthorised = 0, i;
	json_t *e;
	json_array_foreach(r.body, i, e)
	{
		tokens += strstr(desired_str(e, "path"), "/openid-connect/token") != NULL;
		unauthorised += json_integer_value(json_object_get(e, "status")) == 401;
	}
	http_response_free(&r);
	http_client_free(&c);
	json_decref(decl);
	CHECK(tokens >= 2);
	CHECK(unauthorised == 0);
	free(env);
	free(dir);
}
