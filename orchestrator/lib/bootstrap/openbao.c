#include "bootstrap/openbao.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bootstrap/desired.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/http.h"
#include "util/wipe.h"

#define TOKEN_HEADER "X-Vault-Token"
#define POLL_MS 1000
#define ACTIVE_WAIT_S 15
/* A KV version 2 engine that was just enabled upgrades its storage in the
 * background; until it is done every request on it answers 400 with this
 * text (builtin/logical/kv/upgrade.go, upgradeCheck).  On a new, empty mount
 * that takes milliseconds; the retry gives it KV_UPGRADE_WAIT_MS at most,
 * asking again every KV_UPGRADE_POLL_MS, and retries nothing else.  A write
 * refused that way was not carried out, so even a create (cas 0) may be sent
 * again. */
#define KV_UPGRADING                                                                               \
	"Upgrading from non-versioned to versioned data. This backend will be unavailable for a "  \
	"brief period and will resume service shortly."
#define KV_UPGRADE_WAIT_MS 10000
#define KV_UPGRADE_POLL_MS 100

static const long HEALTH_CODES[] = {200, 429, 472, 473, 501, 503, 0};
static const long OK_OR_404[] = {200, 204, 404, 0};

struct bao {
	http_client http;
	const openbao_opts *o;
	char *token; /* the root token */
	char *init_path;
	json_t *log;
};

/* METHOD /v1/PATH with the root token (when known). */
static int call(struct bao *b, const char *method, const char *path, const json_t *body,
		const long *accept, bool once, http_response *r, aerr_t *err)
{
	cleanup_free char *full = xasprintf("/v1/%s", path);
	http_request rq = {
	    .method = method,
	    .path = full,
	    .token_name = b->token ? TOKEN_HEADER : NULL,
	    .token_value = b->token,
	    .json = body,
	    .accept = accept,
	    .once = once,
	};
	return http_do(&b->http, &rq, r, err);
}

/* Is R the upgrade answer, {"errors": [KV_UPGRADING]}, and nothing else? */
static bool kv_upgrading(const http_response *r)
{
	json_t *errors = json_object_get(r->body, "errors");
	const char *text = json_string_value(json_array_get(errors, 0));
	return r->status == 400 && json_array_size(errors) == 1 && text &&
	       strcmp(text, KV_UPGRADING) == 0;
}

/* call() on a KV version 2 path, waiting out the upgrade of a new mount. */
static int call_kv(struct bao *b, const char *method, const char *path, const json_t *body,
		   const long *accept, http_response *r, aerr_t *err)
{
	double deadline = clock_mono_s() + KV_UPGRADE_WAIT_MS / 1000.0;
	for (;;) {
		int rc = call(b, method, path, body, accept, false, r, err);
		if (rc == 0 || !kv_upgrading(r))
			return rc;
		if (clock_mono_s() >= deadline)
			return aerr_wrap(err, "the KV engine was still upgrading after %d ms",
					 KV_UPGRADE_WAIT_MS);
		http_response_free(r);
		clock_sleep_ms(KV_UPGRADE_POLL_MS);
	}
}

/* A POST whose answer is not looked at: BODY (consumed) to PATH, through
 * call_kv when KV (a KV version 2 path). */
static int post(struct bao *b, const char *path, json_t *body, bool kv, aerr_t *err)
{
	http_response r;
	int rc = kv ? call_kv(b, "POST", path, body, NULL, &r, err)
		    : call(b, "POST", path, body, NULL, false, &r, err);
	json_decref(body);
	http_response_free(&r);
	return rc;
}

/* Vault-style answers carry their payload in "data" (sys/auth and sys/mounts
 * repeat it at the top level too). */
static json_t *payload(const http_response *r)
{
	json_t *d = json_object_get(r->body, "data");
	return json_is_object(d) ? d : r->body;
}

/* --- health, init, unseal --------------------------------------------- */

static int health(struct bao *b, long *status, aerr_t *err)
{
	http_response r;
	int rc = call(b, "GET", "sys/health", NULL, HEALTH_CODES, true, &r, err);
	*status = r.status;
	http_response_free(&r);
	return rc;
}

static int wait_answer(struct bao *b, int wait_s, long *status, aerr_t *err)
{
	double deadline = clock_mono_s() + wait_s;
	for (;;) {
		if (health(b, status, err) == 0)
			return 0;
		if (clock_mono_s() >= deadline)
			return aerr_wrap(err, "OpenBao at %s did not answer within %d s",
					 b->http.base, wait_s);
		clock_sleep_ms(POLL_MS);
	}
}

static int read_init_file(struct bao *b, json_t **out, aerr_t *err)
{
	char *text = NULL;
	size_t len = 0;
	if (fs_read_file(b->init_path, &text, &len, err) < 0)
		return -1;
	json_error_t jerr;
	*out = json_loadb(text, len, 0, &jerr);
	wipe_free(text);
	if (!*out || !json_is_string(json_object_get(*out, "root_token")) ||
	    !json_is_array(json_object_get(*out, "keys"))) {
		json_decref(*out);
		*out = NULL;
		return aerr_set(err, AEGIS_EFAIL,
				"%s is not an OpenBao init answer (no root_token and keys)",
				b->init_path);
	}
	return 0;
}

/* A stale init file (an OpenBao that no longer exists: its volume was wiped)
 * is kept beside, never overwritten: it is the only copy of those keys. */
static int set_aside(struct bao *b, aerr_t *err)
{
	char stamp[32];
	time_t now = time(NULL);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime(&now));
	cleanup_free char *aside = xasprintf("%s.replaced-%s", b->init_path, stamp);
	if (rename(b->init_path, aside) < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "cannot move %s aside", b->init_path);
	desired_note(b->log, DESIRED_CHANGED, "OpenBao is not initialised: the old file was kept",
		     "%s moved to %s", b->init_path, aside);
	return 0;
}

int openbao_init_split(const openbao_opts *o, int *shares, int *threshold, aerr_t *err)
{
	const json_t *decl = json_object_get(o->desired, "init");
	bool from_decl_n = o->shares <= 0, from_decl_t = o->threshold <= 0;
	json_int_t n =
	    from_decl_n ? json_integer_value(json_object_get(decl, "secret_shares")) : o->shares;
	json_int_t t = from_decl_t ? json_integer_value(json_object_get(decl, "secret_threshold"))
				   : o->threshold;
	if (from_decl_n && n <= 0)
		n = 1;
	if (from_decl_t && t <= 0)
		t = 1;
	/* The rules of OpenBao's seal configuration (vault/seal_config.go,
	 * SealConfig.Validate, reported by sys/init as "invalid seal
	 * configuration: ..."), in its order. */
	const char *why = NULL;
	if (n < 1)
		why = "shares must be at least one";
	else if (t < 1)
		why = "threshold must be at least one";
	else if (n > 1 && t == 1)
		why = "threshold must be greater than one for multiple shares";
	else if (n > 255)
		why = "shares must be less than 256";
	else if (t > 255)
		why = "threshold must be less than 256";
	else if (t > n)
		why = "threshold cannot be larger than shares";
	if (why)
		return aerr_set(
		    err, AEGIS_ECONFIG,
		    "%lld key share%s (%s) with threshold %lld (%s): OpenBao refuses "
		    "it: %s",
		    (long long)n, n == 1 ? "" : "s",
		    from_decl_n ? "init.secret_shares of the declaration" : "--key-shares",
		    (long long)t,
		    from_decl_t ? "init.secret_threshold of the declaration" : "--key-threshold",
		    why);
	*shares = (int)n;
	*threshold = (int)t;
	return 0;
}

static int initialise(struct bao *b, json_t **init, aerr_t *err)
{
	int shares = 0, threshold = 0;
	if (openbao_init_split(b->o, &shares, &threshold, err) < 0)
		return -1;
	if (fs_mkdir_private(b->o->generated_dir, 0700, err) < 0)
		return -1;
	struct stat st;
	if (lstat(b->init_path, &st) == 0 && set_aside(b, err) < 0)
		return -1;
	json_t *body =
	    json_pack("{s:i, s:i}", "secret_shares", shares, "secret_threshold", threshold);
	http_response r;
	/* never retried: a second sys/init cannot succeed, and the first one's
	 * answer is the only copy of the keys */
	int rc = call(b, "PUT", "sys/init", body, NULL, true, &r, err);
	json_decref(body);
	if (rc < 0) {
		http_response_free(&r);
		return -1;
	}
	if (!json_is_string(json_object_get(r.body, "root_token")) ||
	    !json_is_array(json_object_get(r.body, "keys"))) {
		http_response_free(&r);
		return aerr_set(err, AEGIS_EFAIL, "PUT /v1/sys/init: the answer has no keys");
	}
	/* saved before anything else is done with it */
	char *text = json_dumps(r.body, JSON_INDENT(2) | JSON_SORT_KEYS);
	rc = fs_write_atomic(b->init_path, text, strlen(text), 0600, err);
	wipe_free(text);
	if (rc < 0) {
		http_response_free(&r);
		return aerr_wrap(err, "OpenBao was initialised but its unseal keys and root token "
				      "could not be saved; they are lost: remove the "
				      "aegis-openbao-data volume and run again");
	}
	*init = json_incref(r.body);
	http_response_free(&r);
	desired_note(b->log, DESIRED_CREATED, NULL, "initialisation (%d key share%s, threshold %d)",
		     shares, shares == 1 ? "" : "s", threshold);
	return 0;
}

static int unseal(struct bao *b, const json_t *init, aerr_t *err)
{
	const json_t *keys = json_object_get(init, "keys");
	size_t i;
	json_t *k;
	json_array_foreach((json_t *)keys, i, k)
	{
		const char *key = json_string_value(k);
		if (!key)
			continue;
		json_t *body = json_pack("{s:s}", "key", key);
		http_response r;
		int rc = call(b, "PUT", "sys/unseal", body, NULL, true, &r, err);
		json_decref(body);
		bool sealed = !json_is_false(json_object_get(r.body, "sealed"));
		http_response_free(&r);
		if (rc < 0)
			return aerr_wrap(err,
					 "unsealing with the keys of %s failed (a file of another "
					 "initialisation of this OpenBao?)",
					 b->init_path);
		if (!sealed) {
			desired_note(b->log, DESIRED_CHANGED, NULL, "unsealed with %zu key%s",
				     i + 1, i ? "s" : "");
			return 0;
		}
	}
	return aerr_set(err, AEGIS_EFAIL,
			"OpenBao at %s is still sealed after every key of %s: the file belongs to "
			"another initialisation",
			b->http.base, b->init_path);
}

/* Sealed (a restart): unseal with the keys of the init file, which *INIT
 * receives. */
static int unseal_saved(struct bao *b, json_t **init, aerr_t *err)
{
	if (!fs_exists(b->init_path))
		return aerr_set(err, AEGIS_EFAIL,
				"OpenBao at %s is initialised and sealed, and there is no %s with "
				"its unseal keys: its data volume (aegis-openbao-data) belongs to "
				"another initialisation.  Put that initialisation's %s back, or "
				"start afresh by removing the volume (aegis-deploy clean) -- which "
				"destroys the secrets it holds",
				b->http.base, b->init_path, OPENBAO_INIT_FILE);
	int rc = read_init_file(b, init, err);
	return rc == 0 ? unseal(b, *init, err) : rc;
}

static int wait_active(struct bao *b, aerr_t *err)
{
	double deadline = clock_mono_s() + ACTIVE_WAIT_S;
	long status = 0;
	for (;;) {
		if (health(b, &status, err) == 0 && status == 200)
			return 0;
		if (clock_mono_s() >= deadline)
			return aerr_set(err, AEGIS_EFAIL,
					"OpenBao at %s is not active after unsealing (sys/health "
					"%ld)",
					b->http.base, status);
		clock_sleep_ms(POLL_MS / 4);
	}
}

/* Bring OpenBao to "initialised, unsealed, active" and hold its root token. */
static int open_session(struct bao *b, aerr_t *err)
{
	long status = 0;
	if (wait_answer(b, b->o->wait_s > 0 ? b->o->wait_s : 60, &status, err) < 0)
		return -1;
	json_t *init = NULL;
	int rc = 0;
	switch (status) {
	case 501:
		rc = initialise(b, &init, err);
		if (rc == 0)
			rc = unseal(b, init, err);
		break;
	case 503:
		rc = unseal_saved(b, &init, err);
		break;
	case 200:
		if (!fs_exists(b->init_path))
			return aerr_set(err, AEGIS_EFAIL,
					"OpenBao at %s is initialised and unsealed, but %s (its "
					"root token) is missing: it was initialised by something "
					"else; put its init answer there",
					b->http.base, b->init_path);
		rc = read_init_file(b, &init, err);
		break;
	default:
		return aerr_set(err, AEGIS_EFAIL,
				"OpenBao at %s is a standby node (sys/health %ld): point "
				"OPENBAO_ADDR at the active node",
				b->http.base, status);
	}
	if (rc == 0 && status != 200)
		rc = wait_active(b, err);
	if (rc == 0)
		b->token = xstrdup(json_string_value(json_object_get(init, "root_token")));
	json_decref(init);
	return rc;
}

/* --- declared items ------------------------------------------------------ */

/* The first authenticated read says whether the saved root token is still
 * this OpenBao's. */
static int read_table(struct bao *b, const char *path, json_t **table, aerr_t *err)
{
	http_response r;
	if (call(b, "GET", path, NULL, NULL, false, &r, err) < 0) {
		if (r.status == 403)
			aerr_wrap(err, "the root token of %s is not accepted", b->init_path);
		http_response_free(&r);
		return -1;
	}
	*table = json_incref(payload(&r));
	http_response_free(&r);
	return 0;
}

/* Auth methods (sys/auth) or secrets engines (sys/mounts): enabled when
 * missing; a declared option that differs is tuned. */
static int ensure_mounts(struct bao *b, const char *kind, const json_t *list, aerr_t *err)
{
	bool auth = strcmp(kind, "auth") == 0;
	const char *table_path = auth ? "sys/auth" : "sys/mounts";
	json_t *table = NULL;
	if (read_table(b, table_path, &table, err) < 0)
		return -1;
	int rc = 0;
	size_t i;
	json_t *m;
	json_array_foreach((json_t *)list, i, m)
	{
		const char *path = desired_str(m, "path"), *type = desired_str(m, "type");
		if (!path || !type) {
			rc = aerr_set(err, AEGIS_ECONFIG, "%s entry %zu needs a path and a type",
				      kind, i + 1);
			break;
		}
		cleanup_free char *key = xasprintf("%s/", path);
		json_t *have = json_object_get(table, key);
		const char *what = auth ? "auth method" : "secrets engine";
		if (have) {
			const char *have_type = desired_str(have, "type");
			if (!have_type || strcmp(have_type, type) != 0) {
				rc = aerr_set(err, AEGIS_EFAIL,
					      "%s %s is of type %s, not %s; it is left alone (move "
					      "it or change the declaration)",
					      what, key, have_type ? have_type : "?", type);
				break;
			}
			json_t *options = json_object_get(m, "options");
			if (!options ||
			    desired_matches(options, json_object_get(have, "options"))) {
				desired_note(b->log, DESIRED_UNCHANGED, NULL, "%s %s (%s)", what,
					     key, type);
				continue;
			}
			cleanup_free char *tune =
			    xasprintf("sys/%s/%s/tune", auth ? "auth" : "mounts", path);
			rc = post(b, tune, json_pack("{s:O}", "options", options), false, err);
			if (rc < 0)
				break;
			desired_note(b->log, DESIRED_CHANGED, "options", "%s %s (%s)", what, key,
				     type);
			continue;
		}
		json_t *body = json_pack("{s:s}", "type", type);
		const char *desc = desired_str(m, "description");
		if (desc)
			json_object_set_new(body, "description", json_string(desc));
		json_t *options = json_object_get(m, "options");
		if (options)
			json_object_set(body, "options", options);
		cleanup_free char *enable = xasprintf("%s/%s", table_path, path);
		rc = post(b, enable, body, false, err);
		if (rc < 0)
			break;
		desired_note(b->log, DESIRED_CREATED, NULL, "%s %s (%s)", what, key, type);
	}
	json_decref(table);
	return rc;
}

static int ensure_policies(struct bao *b, const json_t *list, aerr_t *err)
{
	size_t i;
	json_t *p;
	json_array_foreach((json_t *)list, i, p)
	{
		const char *name = desired_str(p, "name"), *text = desired_str(p, "policy");
		if (!name || !text)
			return aerr_set(err, AEGIS_ECONFIG,
					"policy entry %zu needs a name and a policy", i + 1);
		cleanup_free char *esc = http_escape(name);
		cleanup_free char *path = xasprintf("sys/policies/acl/%s", esc);
		http_response r;
		if (call(b, "GET", path, NULL, OK_OR_404, false, &r, err) < 0) {
			http_response_free(&r);
			return -1;
		}
		const char *have = r.status == 404 ? NULL : desired_str(payload(&r), "policy");
		const char *result = !have		       ? DESIRED_CREATED
				     : strcmp(have, text) == 0 ? DESIRED_UNCHANGED
							       : DESIRED_CHANGED;
		http_response_free(&r);
		if (strcmp(result, DESIRED_UNCHANGED) != 0 &&
		    post(b, path, json_pack("{s:s}", "policy", text), false, err) < 0)
			return -1;
		desired_note(b->log, result, NULL, "policy %s", name);
	}
	return 0;
}

/* A settings object at PATH (an AppRole or OIDC role, the OIDC config):
 * written when missing or when a declared setting differs.  HIDDEN (optional)
 * is sent as well but cannot be read back; HIDDEN_SAME says whether it is
 * known to be what the server holds. */
static int ensure_settings(struct bao *b, const char *path, const json_t *settings,
			   const json_t *hidden, bool hidden_same, const char *item,
			   const char **result, aerr_t *err)
{
	http_response r;
	if (call(b, "GET", path, NULL, OK_OR_404, false, &r, err) < 0) {
		http_response_free(&r);
		return -1;
	}
	bool exists = r.status != 404;
	bool same = exists && desired_matches(settings, payload(&r)) && (!hidden || hidden_same);
	http_response_free(&r);
	*result = !exists ? DESIRED_CREATED : same ? DESIRED_UNCHANGED : DESIRED_CHANGED;
	if (!same) {
		json_t *body = json_deep_copy(settings);
		if (hidden)
			json_object_update(body, (json_t *)hidden);
		if (post(b, path, body, false, err) < 0)
			return -1;
	}
	desired_note(b->log, *result, NULL, "%s", item);
	return 0;
}

static int ensure_tenants(struct bao *b, const json_t *tenants, aerr_t *err)
{
	const char *kv = desired_str(tenants, "kv"), *base = desired_str(tenants, "path");
	if (!kv || !base)
		return aerr_set(err, AEGIS_ECONFIG, "tenants needs kv and path");
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(tenants, "list"), i, t)
	{
		const char *slug = desired_str(t, "slug");
		if (!slug)
			return aerr_set(err, AEGIS_ECONFIG, "tenant entry %zu needs a slug", i + 1);
		cleanup_free char *esc = http_escape(slug);
		cleanup_free char *path = xasprintf("%s/data/%s/%s/_meta", kv, base, esc);
		http_response r;
		if (call_kv(b, "GET", path, NULL, OK_OR_404, &r, err) < 0) {
			http_response_free(&r);
			return -1;
		}
		bool exists = r.status != 404;
		http_response_free(&r);
		if (exists) {
			desired_note(b->log, DESIRED_UNCHANGED, NULL, "tenant %s", slug);
			continue;
		}
		char stamp[32];
		time_t now = time(NULL);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
		/* cas 0: written only if it does not exist, even if another run
		 * got there first */
		json_t *body = json_pack("{s:{s:i}, s:{s:s}}", "options", "cas", 0, "data",
					 "provisioned_at", stamp);
		if (post(b, path, body, true, err) < 0)
			return -1;
		desired_note(b->log, DESIRED_CREATED, NULL, "tenant %s", slug);
	}
	return 0;
}

/* Per-tenant KV engines, as mount declarations. */
static json_t *tenant_mounts(const json_t *tenants)
{
	json_t *list = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(tenants, "list"), i, t)
	{
		const char *mount = desired_str(t, "mount");
		if (mount)
			json_array_append_new(list, json_pack("{s:s, s:s, s:{s:s}, s:s+}", "path",
							      mount, "type", "kv", "options",
							      "version", "2", "description",
							      "tenant ", desired_str(t, "slug")));
	}
	return list;
}

/* METHOD PATH's answer's FIELD (newly allocated in *OUT). */
static int read_field(struct bao *b, const char *method, const char *path, const char *field,
		      char **out, aerr_t *err)
{
	http_response r;
	int rc = call(b, method, path, NULL, NULL, false, &r, err);
	const char *v = rc == 0 ? desired_str(payload(&r), field) : NULL;
	if (rc == 0 && !v)
		rc = aerr_set(err, AEGIS_EFAIL, "%s /v1/%s: the answer has no %s", method, path,
			      field);
	if (rc == 0)
		*out = xstrdup(v);
	http_response_free(&r);
	return rc;
}

/* Keep the credentials if they still log in; otherwise the role's role-id
 * and a new secret-id. */
static int ensure_credentials(struct bao *b, const json_t *approle, openbao_result *res,
			      aerr_t *err)
{
	const char *mount = desired_str(approle, "mount"), *role = desired_str(approle, "role");
	cleanup_free char *login = xasprintf("auth/%s/login", mount);
	const openbao_opts *o = b->o;
	const char *why = "none saved yet";
	if (o->role_id && *o->role_id && o->secret_id && *o->secret_id) {
		static const long LOGIN[] = {200, 400, 403, 0};
		json_t *body =
		    json_pack("{s:s, s:s}", "role_id", o->role_id, "secret_id", o->secret_id);
		http_response r;
		char *saved_token = b->token;
		b->token = NULL; /* a login, not the root token's business */
		int rc = call(b, "POST", login, body, LOGIN, false, &r, err);
		b->token = saved_token;
		json_decref(body);
		long status = r.status;
		http_response_free(&r);
		if (rc < 0)
			return -1;
		if (status == 200) {
			res->role_id = xstrdup(o->role_id);
			res->secret_id = xstrdup(o->secret_id);
			desired_note(b->log, DESIRED_UNCHANGED, "verified by a login",
				     "AppRole credentials of %s", role);
			return 0;
		}
		why = "the saved ones no longer log in";
	}
	cleanup_free char *esc = http_escape(role);
	cleanup_free char *role_path = xasprintf("auth/%s/role/%s/role-id", mount, esc);
	cleanup_free char *secret_path = xasprintf("auth/%s/role/%s/secret-id", mount, esc);
	if (read_field(b, "GET", role_path, "role_id", &res->role_id, err) < 0 ||
	    read_field(b, "POST", secret_path, "secret_id", &res->secret_id, err) < 0)
		return -1;
	desired_note(b->log, o->role_id && *o->role_id ? DESIRED_CHANGED : DESIRED_CREATED, why,
		     "AppRole credentials of %s", role);
	return 0;
}

static int apply_core(struct bao *b, openbao_result *res, aerr_t *err)
{
	const json_t *d = b->o->desired;
	const json_t *approle = json_object_get(d, "approle");
	const json_t *tenants = json_object_get(d, "tenants");
	if (!desired_str(approle, "mount") || !desired_str(approle, "role"))
		return aerr_set(err, AEGIS_ECONFIG, "approle needs a mount and a role");
	if (ensure_mounts(b, "auth", json_object_get(d, "auth"), err) < 0 ||
	    ensure_policies(b, json_object_get(d, "policies"), err) < 0)
		return -1;
	cleanup_free char *esc = http_escape(desired_str(approle, "role"));
	cleanup_free char *role_path =
	    xasprintf("auth/%s/role/%s", desired_str(approle, "mount"), esc);
	cleanup_free char *item = xasprintf("AppRole role %s", desired_str(approle, "role"));
	const char *result;
	if (ensure_settings(b, role_path, json_object_get(approle, "settings"), NULL, true, item,
			    &result, err) < 0)
		return -1;
	json_t *mounts = tenant_mounts(tenants);
	json_array_extend(mounts, json_object_get(d, "mounts"));
	int rc = ensure_mounts(b, "mounts", mounts, err);
	json_decref(mounts);
	if (rc < 0 || (tenants && ensure_tenants(b, tenants, err) < 0))
		return -1;
	return ensure_credentials(b, approle, res, err);
}

/* --- OIDC ------------------------------------------------------------------ */

static char *sha256_hex(const char *s)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	char *hex = xmalloc(2 * n + 1);
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

/* OpenBao never shows the client secret again, so whether the one it holds
 * is the current one is known from the fingerprint recorded when it was
 * written (GENERATED_DIR/openbao-oidc.json). */
static bool fingerprint_same(const char *file, const char *fingerprint)
{
	char *text = NULL;
	size_t len = 0;
	aerr_t ignored = {0};
	if (fs_read_file(file, &text, &len, &ignored) < 0)
		return false;
	json_t *js = json_loadb(text, len, 0, NULL);
	free(text);
	const char *have = desired_str(js, "client_secret_sha256");
	bool same = have && strcmp(have, fingerprint) == 0;
	json_decref(js);
	return same;
}

static int apply_oidc(struct bao *b, aerr_t *err)
{
	const json_t *oidc = json_object_get(b->o->desired, "oidc");
	const char *path = desired_str(oidc, "path");
	const char *secret = b->o->oidc_client_secret;
	if (!path)
		return aerr_set(err, AEGIS_ECONFIG, "oidc needs a path");
	if (!secret || !*secret)
		return aerr_set(err, AEGIS_ECONFIG, "the OIDC client secret is not known");
	json_t *method = json_pack("[{s:s, s:s}]", "path", path, "type", "oidc");
	const char *desc = desired_str(oidc, "description");
	if (desc)
		json_object_set_new(json_array_get(method, 0), "description", json_string(desc));
	int rc = ensure_mounts(b, "auth", method, err);
	json_decref(method);
	if (rc < 0 || ensure_policies(b, json_object_get(oidc, "policies"), err) < 0)
		return -1;

	cleanup_free char *fp_file = fs_join(b->o->generated_dir, OPENBAO_OIDC_FILE);
	cleanup_free char *fingerprint = sha256_hex(secret);
	json_t *hidden = json_pack("{s:s}", "oidc_client_secret", secret);
	/* A write of auth/<path>/config replaces the whole configuration
	 * (builtin/credential/jwt/path_config.go builds it from the request
	 * alone): every declared setting and the secret go in every write,
	 * never only the ones that differ. */
	cleanup_free char *config_path = xasprintf("auth/%s/config", path);
	const char *result;
	rc = ensure_settings(b, config_path, json_object_get(oidc, "config"), hidden,
			     fingerprint_same(fp_file, fingerprint), "OIDC configuration", &result,
			     err);
	json_decref(hidden);
	if (rc < 0)
		return -1;
	if (strcmp(result, DESIRED_UNCHANGED) != 0) {
		char *text = xasprintf("{\n  \"client_secret_sha256\": \"%s\"\n}\n", fingerprint);
		rc = fs_write_atomic(fp_file, text, strlen(text), 0600, err);
		free(text);
		if (rc < 0)
			return -1;
	}
	size_t i;
	json_t *role;
	json_array_foreach(json_object_get(oidc, "roles"), i, role)
	{
		const char *name = desired_str(role, "name");
		if (!name)
			return aerr_set(err, AEGIS_ECONFIG, "oidc role entry %zu needs a name",
					i + 1);
		cleanup_free char *esc = http_escape(name);
		cleanup_free char *role_path = xasprintf("auth/%s/role/%s", path, esc);
		cleanup_free char *item = xasprintf("OIDC role %s", name);
		if (ensure_settings(b, role_path, json_object_get(role, "settings"), NULL, true,
				    item, &result, err) < 0)
			return -1;
	}
	return 0;
}

/* --- entry points -------------------------------------------------------- */

int openbao_bootstrap(const openbao_opts *o, openbao_result *res, aerr_t *err)
{
	*res = (openbao_result){.log = json_array()};
	/* a split OpenBao would refuse is refused before anything is touched */
	int shares, threshold;
	if (openbao_init_split(o, &shares, &threshold, err) < 0)
		return -1;
	struct bao b = {.o = o, .log = res->log};
	if (http_client_init(&b.http, o->addr, o->cacert, err) < 0)
		return aerr_wrap(err, "OPENBAO_ADDR");
	b.http.trace = o->trace;
	b.http.trace_ctx = o->trace_ctx;
	b.init_path = fs_join(o->generated_dir, OPENBAO_INIT_FILE);
	int rc = open_session(&b, err);
	if (rc == 0 && (o->steps & OPENBAO_CORE))
		rc = apply_core(&b, res, err);
	if (rc == 0 && (o->steps & OPENBAO_OIDC))
		rc = apply_oidc(&b, err);
	wipe_free(b.token);
	free(b.init_path);
	http_client_free(&b.http);
	return rc;
}

int openbao_unseal_saved(const openbao_opts *o, bool allow_uninit, bool *unsealed, aerr_t *err)
{
	*unsealed = false;
	struct bao b = {.o = o, .log = json_array()};
	int rc = http_client_init(&b.http, o->addr, o->cacert, err);
	if (rc < 0) {
		json_decref(b.log);
		return aerr_wrap(err, "OPENBAO_ADDR");
	}
	b.http.trace = o->trace;
	b.http.trace_ctx = o->trace_ctx;
	b.init_path = fs_join(o->generated_dir, OPENBAO_INIT_FILE);
	long status = 0;
	json_t *init = NULL;
	rc = wait_answer(&b, o->wait_s > 0 ? o->wait_s : 60, &status, err);
	if (rc == 0) {
		switch (status) {
		case 200:
			break;
		case 501:
			if (!allow_uninit)
				rc = aerr_set(err, AEGIS_EFAIL,
					      "OpenBao at %s is not initialised (sys/health 501): "
					      "deploy or bootstrap-secrets initialises it",
					      b.http.base);
			break;
		case 503:
			rc = unseal_saved(&b, &init, err);
			if (rc == 0)
				rc = wait_active(&b, err);
			*unsealed = rc == 0;
			break;
		default:
			rc = aerr_set(err, AEGIS_EFAIL,
				      "OpenBao at %s is a standby node (sys/health %ld): point "
				      "OPENBAO_ADDR at the active node",
				      b.http.base, status);
		}
	}
	json_decref(init);
	json_decref(b.log);
	free(b.init_path);
	http_client_free(&b.http);
	return rc;
}

void openbao_result_free(openbao_result *res)
{
	json_decref(res->log);
	wipe_free(res->role_id);
	wipe_free(res->secret_id);
	*res = (openbao_result){0};
}

int openbao_health(const char *addr, const char *cacert, long *status, aerr_t *err)
{
	struct bao b = {0};
	*status = 0;
	if (http_client_init(&b.http, addr, cacert, err) < 0)
		return aerr_wrap(err, "OPENBAO_ADDR");
	b.http.attempts = 1;
	int rc = health(&b, status, err);
	http_client_free(&b.http);
	return rc;
}
