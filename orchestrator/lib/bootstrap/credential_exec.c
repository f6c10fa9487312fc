/* Credentials changed inside their service by exec or by OpenBao's API:
 * PostgreSQL's role password and OpenBao's AppRole secret-id.  See
 * credential.h. */
#include "bootstrap/credential.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/desired.h"
#include "bootstrap/openbao.h"
#include "util/fsutil.h"
#include "util/http.h"
#include "util/strbuf.h"
#include "util/wipe.h"

/* --- PostgreSQL ------------------------------------------------------------ */

/* kube/database/pod.yaml: the pod, its PostgreSQL container (Podman names a
 * kube pod's container POD-CONTAINER) and the superuser role whose password
 * POSTGRES_PASSWORD is (POSTGRES_USER). */
#define PG_POD "pod-database"
#define PG_CONTAINER "pod-database-postgres"
#define PG_ROLE "aegis"
/* Debian's PostgreSQL (the demo image) has psql in /usr/lib/postgresql/N/bin
 * behind a version-picking wrapper; the postgres image has it on PATH. */
#define PG_PATH "for d in /usr/lib/postgresql/*/bin; do [ -x \"$d/psql\" ] && PATH=$d:$PATH; done; "
/* The environment variable of the exec session that carries the value. */
#define PG_VALUE_ENV "AEGIS_ROTATE_VALUE"
#define PG_EXEC_TIMEOUT_S 30

static void trace(const credential_target *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void trace(const credential_target *t, const char *fmt, ...)
{
	if (!t->trace)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *line = NULL;
	if (vasprintf(&line, fmt, ap) >= 0) {
		t->trace(t->trace_ctx, line);
		free(line);
	}
	va_end(ap);
}

/* The last line of OUT (a command's output: psql's errors never quote a
 * password), for an error message. */
static const char *last_line(char *out)
{
	if (!out)
		return "";
	size_t n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	const char *nl = strrchr(out, '\n');
	return nl ? nl + 1 : out;
}

/* The address of pod-database on the platform's network: a login over TCP
 * from there is checked against the password (initdb's own pg_hba.conf,
 * which the PostgreSQL image keeps, trusts 127.0.0.1; the image adds
 * "host all all all scram-sha-256" for every other address). */
static int pod_address(const credential_target *t, char **addr, aerr_t *err)
{
	*addr = NULL;
	cleanup_free char *infra = NULL;
	json_t *js = NULL;
	if (podman_pod_infra_id(t->pm, PG_POD, &infra, err) < 0 ||
	    podman_inspect_container(t->pm, infra, &js, err) < 0)
		return -1;
	json_t *nets = json_object_get(json_object_get(js, "NetworkSettings"), "Networks");
	const char *net = config_get(t->cfg, "AEGIS_NETWORK");
	const char *ip =
	    json_string_value(json_object_get(json_object_get(nets, net ? net : ""), "IPAddress"));
	const char *name;
	json_t *v;
	json_object_foreach(nets, name, v) if (!ip || !*ip) ip =
	    json_string_value(json_object_get(v, "IPAddress"));
	if (ip && *ip)
		*addr = xstrdup(ip);
	json_decref(js);
	if (!*addr)
		return aerr_set(err, AEGIS_EFAIL, "%s has no address on network %s", PG_POD,
				net ? net : "(none)");
	return 0;
}

/* Log in as the role with VALUE over TCP to ADDR: 0 accepted, 1 refused
 * (password authentication failed), -1 any other failure. */
static int pg_login(const credential_target *t, const char *addr, const char *value, aerr_t *err)
{
	char *env0 = xasprintf("PGPASSWORD=%s", value);
	char *const env[] = {env0, NULL};
	char *const argv[] = {"sh",
			      "-c",
			      PG_PATH "exec psql -X -q -w -h \"$1\" -p 5432 -U \"$2\" -d \"$2\" "
				      "-c 'SELECT 1' 2>&1 >/dev/null",
			      "sh",
			      (char *)addr,
			      PG_ROLE,
			      NULL};
	int code = -1;
	char *out = NULL;
	int rc =
	    podman_exec_env(t->pm, PG_CONTAINER, argv, env, PG_EXEC_TIMEOUT_S, &code, &out, err);
	wipe_free(env0);
	if (rc == 0 && code == 0)
		rc = 0;
	else if (rc == 0 && out && strstr(out, "password authentication failed"))
		rc = 1;
	else if (rc == 0)
		rc =
		    aerr_set(err, AEGIS_EFAIL, "psql as %s to %s:5432 in container %s: exit %d: %s",
			     PG_ROLE, addr, PG_CONTAINER, code, last_line(out));
	free(out);
	return rc;
}

/* ALTER ROLE through the local socket (trusted: no password needed).  The
 * script on psql's stdin names the variable only; psql 15's \getenv reads
 * its value from the environment (PostgreSQL 15 release notes, "Add psql
 * command \getenv to assign the value of an environment variable to a psql
 * variable"; both the template's postgres:15 image and the demo's Debian
 * bookworm PostgreSQL 15 have it) and :'v' quotes it as a literal. */
static int pg_alter(const credential_target *t, const char *value, aerr_t *err)
{
	char *env0 = xasprintf(PG_VALUE_ENV "=%s", value);
	char *const env[] = {env0, NULL};
	char *const argv[] = {"sh",
			      "-c",
			      PG_PATH "exec psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=terse -v "
				      "role=\"$1\" -U \"$1\" -d \"$1\" "
				      "2>&1 <<'EOF'\n"
				      "\\getenv aegis_new " PG_VALUE_ENV "\n"
				      "ALTER ROLE :\"role\" PASSWORD :'aegis_new';\n"
				      "EOF\n",
			      "sh",
			      PG_ROLE,
			      NULL};
	int code = -1;
	char *out = NULL;
	int rc =
	    podman_exec_env(t->pm, PG_CONTAINER, argv, env, PG_EXEC_TIMEOUT_S, &code, &out, err);
	wipe_free(env0);
	if (rc == 0 && code != 0)
		rc = aerr_set(err, AEGIS_EFAIL,
			      "ALTER ROLE %s through psql in container %s: exit %d: %s", PG_ROLE,
			      PG_CONTAINER, code, last_line(out));
	free(out);
	return rc;
}

int credential_postgres(const credential_target *t, const char *old_value, const char *new_value,
			bool *already, aerr_t *err)
{
	*already = false;
	if (!t->pm)
		return aerr_set(err, AEGIS_EFAIL, "POSTGRES_PASSWORD: no Podman connection");
	cleanup_free char *addr = NULL;
	if (pod_address(t, &addr, err) < 0)
		return aerr_wrap(err, "POSTGRES_PASSWORD");
	int r = pg_login(t, addr, new_value, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		*already = true;
		trace(t, "role %s already logs in with the new value over TCP (%s:5432)", PG_ROLE,
		      addr);
	} else {
		trace(t, "ALTER ROLE %s through exec in %s (local socket)", PG_ROLE, PG_CONTAINER);
		if (pg_alter(t, new_value, err) < 0)
			return -1;
		if ((r = pg_login(t, addr, new_value, err)) != 0)
			return r < 0 ? -1
				     : aerr_set(err, AEGIS_EFAIL,
						"after ALTER ROLE %s the new value is refused over "
						"TCP (%s:5432)",
						PG_ROLE, addr);
	}
	if (old_value && *old_value && strcmp(old_value, new_value) != 0) {
		if ((r = pg_login(t, addr, old_value, err)) < 0)
			return -1;
		if (r == 0)
			return aerr_set(err, AEGIS_EFAIL,
					"role %s still logs in with the old value over TCP "
					"(%s:5432)",
					PG_ROLE, addr);
	}
	trace(t, "checked over TCP (%s:5432): the new value logs in, the old one is refused", addr);
	return 0;
}

/* --- OpenBao ------------------------------------------------------------- */

/* The AppRole role of kube/secrets/bootstrap.yaml on OPENBAO_ADDR, with the
 * root token the bootstrap saved (GENERATED_DIR/openbao-init.json), which
 * travels only in the X-Vault-Token header. */
struct bao {
	http_client http;
	char *token;
	char *mount, *role;
};

static void bao_close(struct bao *b)
{
	http_client_free(&b->http);
	wipe_free(b->token);
	free(b->mount);
	free(b->role);
}

static int bao_open(const credential_target *t, struct bao *b, aerr_t *err)
{
	*b = (struct bao){0};
	const config *cfg = t->cfg;
	const char *addr = config_get(cfg, "OPENBAO_ADDR");
	if (http_client_init(&b->http, addr ? addr : "", t->cacert, err) < 0)
		return aerr_wrap(err, "OPENBAO_ADDR");
	b->http.trace = t->trace;
	b->http.trace_ctx = t->trace_ctx;
	const char *gen = config_get(cfg, "AEGIS_GENERATED_DIR");
	cleanup_free char *dir = gen && *gen ? xstrdup(gen) : fs_join(cfg->root, "generated");
	cleanup_free char *init_path = fs_join(dir, OPENBAO_INIT_FILE);
	char *text = NULL;
	size_t len = 0;
	if (fs_read_file(init_path, &text, &len, err) < 0)
		return aerr_wrap(err, "the root token of OpenBao (written by bootstrap-secrets)");
	json_t *init = json_loads(text, 0, NULL);
	wipe_free_len(text, len);
	const char *root = json_string_value(json_object_get(init, "root_token"));
	if (root)
		b->token = xstrdup(root);
	wipe_json_decref(init);
	if (!b->token)
		return aerr_set(err, AEGIS_EFAIL, "%s has no root_token", init_path);
	cleanup_free char *decl_path = fs_join(cfg->root, BOOTSTRAP_SECRETS_DECL);
	json_t *decl = NULL;
	if (desired_load(decl_path, cfg, &decl, err) < 0)
		return -1;
	const json_t *approle = json_object_get(decl, "approle");
	const char *mount = desired_str(approle, "mount"), *role = desired_str(approle, "role");
	if (mount && role) {
		b->mount = xstrdup(mount);
		b->role = xstrdup(role);
	}
	json_decref(decl);
	if (!b->mount)
		return aerr_set(err, AEGIS_ECONFIG, "%s: approle needs a mount and a role",
				decl_path);
	return 0;
}

/* POST /v1/auth/MOUNT/role/ROLE/LEAF {"secret_id": SECRET_ID} (or no body)
 * with the root token; *STATUS its status (200 or 204). */
static int bao_secret_id(struct bao *b, const char *leaf, const char *secret_id, long *status,
			 json_t **data, aerr_t *err)
{
	static const long OK[] = {200, 204, 0};
	cleanup_free char *esc = http_escape(b->role);
	cleanup_free char *path = xasprintf("/v1/auth/%s/role/%s/%s", b->mount, esc, leaf);
	json_t *body = secret_id ? json_pack("{s:s}", "secret_id", secret_id) : json_object();
	http_request rq = {.method = "POST",
			   .path = path,
			   .token_name = "X-Vault-Token",
			   .token_value = b->token,
			   .json = body,
			   .accept = OK,
			   .once = true};
	http_response r;
	int rc = http_do(&b->http, &rq, &r, err);
	wipe_json_decref(body);
	*status = r.status;
	if (data) {
		json_t *d = json_object_get(r.body, "data");
		*data = rc == 0 && json_is_object(d) ? json_incref(d) : NULL;
	}
	http_response_free(&r);
	return rc;
}

/* An AppRole login with SECRET_ID: 0 accepted, 1 refused (400/403). */
static int bao_login(struct bao *b, const char *role_id, const char *secret_id, aerr_t *err)
{
	static const long LOGIN[] = {200, 400, 403, 0};
	cleanup_free char *path = xasprintf("/v1/auth/%s/login", b->mount);
	json_t *body = json_pack("{s:s, s:s}", "role_id", role_id, "secret_id", secret_id);
	http_request rq = {
	    .method = "POST", .path = path, .json = body, .accept = LOGIN, .once = true};
	http_response r;
	int rc = http_do(&b->http, &rq, &r, err);
	wipe_json_decref(body);
	long status = r.status;
	/* the answer holds a client token: wiped with the response */
	http_response_free(&r);
	return rc < 0 ? -1 : status == 200 ? 0 : 1;
}

int credential_approle_issue(const credential_target *t, const char *old_value, char **new_value,
			     aerr_t *err)
{
	(void)old_value;
	*new_value = NULL;
	struct bao b;
	int rc = bao_open(t, &b, err);
	long status = 0;
	json_t *data = NULL;
	if (rc == 0)
		rc = bao_secret_id(&b, "secret-id", NULL, &status, &data, err);
	const char *sid = json_string_value(json_object_get(data, "secret_id"));
	if (rc == 0 && !sid)
		rc = aerr_set(err, AEGIS_EFAIL,
			      "POST /v1/auth/%s/role/%s/secret-id: the answer has no secret_id",
			      b.mount, b.role);
	if (rc == 0) {
		*new_value = xstrdup(sid);
		trace(t, "a new secret-id of AppRole role %s issued", b.role);
	}
	wipe_json_decref(data);
	bao_close(&b);
	return rc;
}

int credential_approle_retire(const credential_target *t, const char *old_value,
			      const char *new_value, bool *already, aerr_t *err)
{
	*already = false;
	const char *role_id = config_get(t->cfg, "OPENBAO_ROLE_ID");
	if (!role_id || !*role_id)
		return aerr_set(err, AEGIS_ECONFIG,
				"OPENBAO_ROLE_ID has no value: run bootstrap-secrets first");
	struct bao b;
	int rc = bao_open(t, &b, err);
	long status = 0;
	/* lookup: 204 when OpenBao no longer holds it (openbao/openbao v2.4.1
	 * builtin/credential/approle/path_role.go:1957-1959) */
	if (rc == 0)
		rc = bao_secret_id(&b, "secret-id/lookup", old_value, &status, NULL, err);
	if (rc == 0 && status == 204) {
		*already = true;
	} else if (rc == 0) {
		/* destroy: its entry and accessor removed (path_role.go:2002-2069) */
		rc = bao_secret_id(&b, "secret-id/destroy", old_value, &status, NULL, err);
		if (rc == 0)
			trace(t, "the old secret-id of AppRole role %s destroyed", b.role);
	}
	int r = rc == 0 ? bao_login(&b, role_id, old_value, err) : -1;
	if (r == 0)
		rc = aerr_set(
		    err, AEGIS_EFAIL,
		    "the old secret-id of AppRole role %s still logs in after its destroy", b.role);
	if (rc == 0 && r == 1 && (r = bao_login(&b, role_id, new_value, err)) != 0)
		rc = r < 0
			 ? -1
			 : aerr_set(err, AEGIS_EFAIL,
				    "the new secret-id of AppRole role %s does not log in", b.role);
	if (rc == 0 && r < 0)
		rc = -1;
	if (rc == 0)
		trace(t, "checked: the old secret-id is refused, the new one logs in");
	bao_close(&b);
	return rc;
}
