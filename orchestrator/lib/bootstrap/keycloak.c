#include "bootstrap/keycloak.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bootstrap/desired.h"
#include "config/secretgen.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/http.h"
#include "util/wipe.h"

#define POLL_MS 1000
#define PASSWORD_BYTES 18

static const long OK_OR_404[] = {200, 404, 0};
static const long CREATED_OR_409[] = {201, 204, 409, 0};

struct kc {
	http_client http;
	const keycloak_opts *o;
	char *bearer; /* "Bearer <access token>" */
	char *refresh;
	double access_until, refresh_until; /* monotonic seconds */
	json_t *log;
	json_t *saved_passwords; /* the passwords file */
	char *passwords_path;
};

/* --- the administrator's token ------------------------------------------- */

/* Renew early: expiry is stamped in whole seconds (so up to a second
 * sooner than expires_in says), and a request takes time too. */
static double lifetime(json_t *v)
{
	double s = (double)json_integer_value(v);
	double margin = 1 + (s / 4 < 5 ? s / 4 : 5);
	return s - margin;
}

int keycloak_password_grant(http_client *c, const char *user, const char *password,
			    const long *accept, http_response *r, aerr_t *err)
{
	const char *keys[] = {"grant_type", "client_id", "username", "password"};
	const char *vals[] = {"password", "admin-cli", user, password};
	cleanup_wipe char *form = http_form(4, keys, vals);
	http_request rq = {
	    .method = "POST", .path = KEYCLOAK_TOKEN_PATH, .form = form, .accept = accept};
	return http_do(c, &rq, r, err);
}

static int token_request(struct kc *k, bool use_refresh, http_response *r, aerr_t *err)
{
	if (!use_refresh)
		return keycloak_password_grant(&k->http, k->o->admin_user, k->o->admin_password,
					       NULL, r, err);
	const char *keys[] = {"grant_type", "client_id", "refresh_token"};
	const char *vals[] = {"refresh_token", "admin-cli", k->refresh};
	cleanup_wipe char *form = http_form(3, keys, vals);
	http_request rq = {.method = "POST", .path = KEYCLOAK_TOKEN_PATH, .form = form};
	return http_do(&k->http, &rq, r, err);
}

static int take_token(struct kc *k, const http_response *r, aerr_t *err)
{
	const char *access = desired_str(r->body, "access_token");
	if (!access)
		return aerr_set(err, AEGIS_EFAIL, "POST %s: the answer has no access_token",
				KEYCLOAK_TOKEN_PATH);
	wipe_free(k->bearer);
	wipe_free(k->refresh);
	k->bearer = xasprintf("Bearer %s", access);
	const char *refresh = desired_str(r->body, "refresh_token");
	k->refresh = refresh ? xstrdup(refresh) : NULL;
	double now = clock_mono_s();
	k->access_until = now + lifetime(json_object_get(r->body, "expires_in"));
	k->refresh_until = now + lifetime(json_object_get(r->body, "refresh_expires_in"));
	return 0;
}

/* The first login also waits for Keycloak to answer at all. */
static int login(struct kc *k, int wait_s, aerr_t *err)
{
	double deadline = clock_mono_s() + wait_s;
	for (;;) {
		http_response r;
		int rc = token_request(k, false, &r, err);
		if (rc == 0)
			rc = take_token(k, &r, err);
		long status = r.status;
		http_response_free(&r);
		if (rc == 0)
			return 0;
		if (status == 400 || status == 401)
			return aerr_wrap(err,
					 "Keycloak at %s refused the administrator '%s' (master "
					 "realm, admin-cli): check KEYCLOAK_ADMIN and "
					 "KEYCLOAK_ADMIN_PASSWORD (Keycloak takes them only on its "
					 "first start)",
					 k->http.base, k->o->admin_user);
		if ((status && status < 500) || clock_mono_s() >= deadline)
			return aerr_wrap(err, "Keycloak at %s: no administrator token",
					 k->http.base);
		clock_sleep_ms(POLL_MS);
	}
}

static int renew(struct kc *k, aerr_t *err)
{
	if (k->refresh && clock_mono_s() < k->refresh_until) {
		http_response r;
		int rc = token_request(k, true, &r, err);
		if (rc == 0)
			rc = take_token(k, &r, err);
		http_response_free(&r);
		if (rc == 0)
			return 0;
	}
	return login(k, 0, err);
}

/* METHOD PATH as the administrator; an expired token is renewed first, and
 * a 401 (revoked, clock skew) once more. */
static int call(struct kc *k, const char *method, const char *path, const json_t *body,
		const long *accept, http_response *r, aerr_t *err)
{
	if (clock_mono_s() >= k->access_until && renew(k, err) < 0) {
		*r = (http_response){0};
		return -1;
	}
	for (int attempt = 0;; attempt++) {
		http_request rq = {.method = method,
				   .path = path,
				   .token_name = "Authorization",
				   .token_value = k->bearer,
				   .json = body,
				   .accept = accept};
		int rc = http_do(&k->http, &rq, r, err);
		if (rc == 0 || r->status != 401 || attempt > 0)
			return rc;
		http_response_free(r);
		if (renew(k, err) < 0)
			return -1;
	}
}

/* --- items ------------------------------------------------------------- */

/* DECL without the keys that are ours, not Keycloak's. */
static json_t *representation(const json_t *decl, const char *const *ours, size_t n)
{
	json_t *rep = json_deep_copy(decl);
	for (size_t i = 0; i < n; i++)
		json_object_del(rep, ours[i]);
	return rep;
}

/* GET PATH (a search answering an array): the element whose FIELD is VALUE
 * (NOCASE: ignoring case, as Keycloak does for user names), or NULL. */
static int find_one(struct kc *k, const char *path, const char *field, const char *value,
		    bool nocase, json_t **found, aerr_t *err)
{
	*found = NULL;
	http_response r;
	if (call(k, "GET", path, NULL, NULL, &r, err) < 0) {
		http_response_free(&r);
		return -1;
	}
	size_t i;
	json_t *e;
	json_array_foreach(r.body, i, e)
	{
		const char *v = desired_str(e, field);
		if (v && (nocase ? strcasecmp(v, value) : strcmp(v, value)) == 0) {
			*found = json_incref(e);
			break;
		}
	}
	http_response_free(&r);
	return 0;
}

/* An item of the declaration: created with POST CREATE_PATH unless LOOKUP
 * finds it, updated with PUT when it differs.  ITEM names it in the log. */
struct item {
	const char *item;
	const char *create_path;
	int (*lookup)(struct kc *k, const void *ctx, json_t **actual, aerr_t *err);
	/* PUT path of the existing one (newly allocated) */
	char *(*update_path)(const void *ctx, const json_t *actual);
	/* optional: the body that creates it, when it is more than REP */
	int (*create_body)(struct kc *k, const void *ctx, const json_t *rep, json_t **body,
			   aerr_t *err);
	/* the PUT body names the existing one's id (a protocol mapper: Keycloak
	 * takes the id of the model it updates from the body) */
	bool update_with_id;
	const void *ctx;
};

/* *ACTUAL gets the item's current representation (re-read after a create). */
static int apply_item(struct kc *k, const struct item *it, const json_t *rep, json_t **actual,
		      const char **outcome, aerr_t *err)
{
	const char *result = DESIRED_UNCHANGED;
	if (it->lookup(k, it->ctx, actual, err) < 0)
		return -1;
	if (!*actual) {
		json_t *body = json_incref((json_t *)rep);
		if (it->create_body) {
			json_decref(body);
			if (it->create_body(k, it->ctx, rep, &body, err) < 0)
				return -1;
		}
		http_response r;
		int rc = call(k, "POST", it->create_path, body, CREATED_OR_409, &r, err);
		long status = r.status;
		http_response_free(&r);
		json_decref(body);
		if (rc < 0 || it->lookup(k, it->ctx, actual, err) < 0)
			return -1;
		if (!*actual)
			return aerr_set(err, AEGIS_EFAIL, "%s: created, but not found afterwards",
					it->item);
		/* 409: made meanwhile by someone else; compared like any other */
		if (status != 409)
			result = DESIRED_CREATED;
	}
	if (strcmp(result, DESIRED_CREATED) != 0 && !desired_matches(rep, *actual)) {
		cleanup_free char *path = it->update_path(it->ctx, *actual);
		json_t *body = json_deep_copy(rep);
		if (it->update_with_id)
			json_object_set(body, "id", json_object_get(*actual, "id"));
		http_response r;
		int rc = call(k, "PUT", path, body, NULL, &r, err);
		http_response_free(&r);
		json_decref(body);
		if (rc < 0)
			return -1;
		result = DESIRED_CHANGED;
	}
	desired_note(k->log, result, NULL, "%s", it->item);
	if (outcome)
		*outcome = result;
	return 0;
}

struct named {
	const char *realm; /* escaped */
	const char *name;
};

static int lookup_realm(struct kc *k, const void *ctx, json_t **actual, aerr_t *err)
{
	const struct named *n = ctx;
	cleanup_free char *path = xasprintf("/admin/realms/%s", n->realm);
	http_response r;
	int rc = call(k, "GET", path, NULL, OK_OR_404, &r, err);
	*actual = rc == 0 && r.status == 200 ? json_incref(r.body) : NULL;
	http_response_free(&r);
	return rc;
}

static char *realm_path(const void *ctx, const json_t *actual)
{
	(void)actual;
	return xasprintf("/admin/realms/%s", ((const struct named *)ctx)->realm);
}

static int lookup_role(struct kc *k, const void *ctx, json_t **actual, aerr_t *err)
{
	const struct named *n = ctx;
	cleanup_free char *esc = http_escape(n->name);
	cleanup_free char *path = xasprintf("/admin/realms/%s/roles/%s", n->realm, esc);
	http_response r;
	int rc = call(k, "GET", path, NULL, OK_OR_404, &r, err);
	*actual = rc == 0 && r.status == 200 ? json_incref(r.body) : NULL;
	http_response_free(&r);
	return rc;
}

static char *role_path(const void *ctx, const json_t *actual)
{
	(void)actual;
	const struct named *n = ctx;
	cleanup_free char *esc = http_escape(n->name);
	return xasprintf("/admin/realms/%s/roles/%s", n->realm, esc);
}

static int lookup_client(struct kc *k, const void *ctx, json_t **actual, aerr_t *err)
{
	const struct named *n = ctx;
	cleanup_free char *esc = http_escape(n->name);
	cleanup_free char *path = xasprintf("/admin/realms/%s/clients?clientId=%s", n->realm, esc);
	return find_one(k, path, "clientId", n->name, false, actual, err);
}

static char *client_path(const void *ctx, const json_t *actual)
{
	return xasprintf("/admin/realms/%s/clients/%s", ((const struct named *)ctx)->realm,
			 desired_str(actual, "id"));
}

/* Keycloak has no search by name for client scopes: the list, filtered. */
static int lookup_scope(struct kc *k, const void *ctx, json_t **actual, aerr_t *err)
{
	const struct named *n = ctx;
	cleanup_free char *path = xasprintf("/admin/realms/%s/client-scopes", n->realm);
	return find_one(k, path, "name", n->name, false, actual, err);
}

static char *scope_path(const void *ctx, const json_t *actual)
{
	return xasprintf("/admin/realms/%s/client-scopes/%s", ((const struct named *)ctx)->realm,
			 desired_str(actual, "id"));
}

static int lookup_user(struct kc *k, const void *ctx, json_t **actual, aerr_t *err)
{
	const struct named *n = ctx;
	cleanup_free char *esc = http_escape(n->name);
	cleanup_free char *path =
	    xasprintf("/admin/realms/%s/users?username=%s&exact=true", n->realm, esc);
	return find_one(k, path, "username", n->name, true, actual, err);
}

static char *user_path(const void *ctx, const json_t *actual)
{
	return xasprintf("/admin/realms/%s/users/%s", ((const struct named *)ctx)->realm,
			 desired_str(actual, "id"));
}

/* --- protocol mappers ----------------------------------------------------- */

/* A client's or a client scope's mappers, one by one through their own
 * API, never as the owner's protocolMappers list: a client PUT with that
 * list deletes every mapper it does not name (RepresentationToModel.
 * updateClientProtocolMappers, Keycloak 24.0.5, called by ClientResource.
 * update), the three Keycloak adds to a service account among them
 * (ClientManager.enableServiceAccount), and the next run would find the
 * client changed again. */
struct mapper_ctx {
	const char *models; /* .../protocol-mappers/models of the owner */
	const char *name;
};

static int lookup_mapper(struct kc *k, const void *ctx, json_t **actual, aerr_t *err)
{
	const struct mapper_ctx *m = ctx;
	return find_one(k, m->models, "name", m->name, false, actual, err);
}

static char *mapper_path(const void *ctx, const json_t *actual)
{
	return xasprintf("%s/%s", ((const struct mapper_ctx *)ctx)->models,
			 desired_str(actual, "id"));
}

/* The declared mappers of OWNER (ITEM in the log), whose path is BASE. */
static int apply_mappers(struct kc *k, const char *item, const char *base, const json_t *mappers,
			 aerr_t *err)
{
	cleanup_free char *models = xasprintf("%s/protocol-mappers/models", base);
	size_t i;
	json_t *d;
	json_array_foreach((json_t *)mappers, i, d)
	{
		const char *name = desired_str(d, "name");
		if (!name)
			return aerr_set(err, AEGIS_ECONFIG, "%s: a protocol mapper has no name",
					item);
		cleanup_free char *what = xasprintf("%s mapper %s", item, name);
		struct mapper_ctx m = {.models = models, .name = name};
		struct item it = {.item = what,
				  .create_path = models,
				  .lookup = lookup_mapper,
				  .update_path = mapper_path,
				  .update_with_id = true,
				  .ctx = &m};
		json_t *actual = NULL;
		int rc = apply_item(k, &it, d, &actual, NULL, err);
		json_decref(actual);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* --- clients: the secret others need ----------------------------------- */

static int read_client_secret(struct kc *k, const char *realm, const char *esc_realm,
			      const json_t *client, const char *variable, keycloak_result *res,
			      aerr_t *err)
{
	const char *id = desired_str(client, "id");
	const char *client_id = desired_str(client, "clientId");
	cleanup_free char *path =
	    xasprintf("/admin/realms/%s/clients/%s/client-secret", esc_realm, id);
	http_response r;
	if (call(k, "GET", path, NULL, NULL, &r, err) < 0) {
		http_response_free(&r);
		return -1;
	}
	const char *value = desired_str(r.body, "value");
	if (!value || !*value) {
		http_response_free(&r);
		return aerr_set(err, AEGIS_EFAIL,
				"client %s of realm %s has no secret (is it a public client?)",
				client_id, realm);
	}
	res->secrets = xrealloc(res->secrets, (res->nsecrets + 1) * sizeof *res->secrets);
	res->secrets[res->nsecrets++] = (keycloak_secret){
	    .realm = xstrdup(realm),
	    .client_id = xstrdup(client_id),
	    .variable = xstrdup(variable),
	    .value = xstrdup(value),
	};
	http_response_free(&r);
	return 0;
}

/* --- users: initial passwords and realm roles --------------------------- */

static int save_passwords(struct kc *k, aerr_t *err)
{
	if (fs_mkdir_private(k->o->generated_dir, 0700, err) < 0)
		return -1;
	char *text = json_dumps(k->saved_passwords, JSON_INDENT(2) | JSON_SORT_KEYS);
	int rc = fs_write_atomic(k->passwords_path, text, strlen(text), 0600, err);
	wipe_free(text);
	return rc;
}

/* The password a new user is created with: declared, else saved by an
 * earlier run that did not get to create the user, else generated now (and
 * saved before it is used). */
static int initial_password(struct kc *k, const char *realm, const char *user, const char *declared,
			    const char **out, aerr_t *err)
{
	if (declared && *declared) {
		*out = declared;
		return 0;
	}
	json_t *per_realm = json_object_get(k->saved_passwords, realm);
	const char *saved = desired_str(per_realm, user);
	if (saved) {
		*out = saved;
		return 0;
	}
	cleanup_wipe char *pw = NULL;
	if (secret_generate(PASSWORD_BYTES, &pw, err) < 0)
		return -1;
	if (!per_realm) {
		per_realm = json_object();
		json_object_set_new(k->saved_passwords, realm, per_realm);
	}
	json_object_set_new(per_realm, user, json_string(pw));
	if (save_passwords(k, err) < 0)
		return -1;
	*out = desired_str(per_realm, user);
	return 0;
}

static int ensure_user_roles(struct kc *k, const char *esc_realm, const json_t *user,
			     const json_t *roles, const char *item, bool fresh, aerr_t *err)
{
	if (!json_array_size(roles))
		return 0;
	cleanup_free char *path = xasprintf("/admin/realms/%s/users/%s/role-mappings/realm",
					    esc_realm, desired_str(user, "id"));
	http_response r;
	if (call(k, "GET", path, NULL, NULL, &r, err) < 0) {
		http_response_free(&r);
		return -1;
	}
	json_t *missing = json_array();
	int rc = 0;
	size_t i, j;
	json_t *want, *have;
	json_array_foreach((json_t *)roles, i, want)
	{
		const char *name = json_string_value(want);
		bool found = false;
		json_array_foreach(r.body, j, have)
		{
			const char *hn = desired_str(have, "name");
			if (name && hn && strcmp(name, hn) == 0)
				found = true;
		}
		if (found || !name)
			continue;
		struct named n = {.realm = esc_realm, .name = name};
		json_t *role = NULL;
		rc = lookup_role(k, &n, &role, err);
		if (rc == 0 && !role)
			rc = aerr_set(err, AEGIS_ECONFIG, "%s: realm role %s is not declared", item,
				      name);
		if (rc < 0)
			break;
		json_array_append_new(missing, role);
	}
	http_response_free(&r);
	if (rc == 0 && json_array_size(missing) > 0) {
		rc = call(k, "POST", path, missing, NULL, &r, err);
		http_response_free(&r);
		if (rc == 0)
			desired_note(k->log, fresh ? DESIRED_CREATED : DESIRED_CHANGED, NULL,
				     "%s realm roles (%zu added)", item, json_array_size(missing));
	} else if (rc == 0) {
		desired_note(k->log, DESIRED_UNCHANGED, NULL, "%s realm roles", item);
	}
	json_decref(missing);
	return rc;
}

struct user_ctx {
	struct named n;
	const char *realm;    /* as declared */
	const char *password; /* declared, or NULL */
};

static int lookup_user_ctx(struct kc *k, const void *ctx, json_t **actual, aerr_t *err)
{
	return lookup_user(k, &((const struct user_ctx *)ctx)->n, actual, err);
}

static char *user_ctx_path(const void *ctx, const json_t *actual)
{
	return user_path(&((const struct user_ctx *)ctx)->n, actual);
}

/* A new user comes with its initial password, saved before it is used. */
static int user_create_body(struct kc *k, const void *ctx, const json_t *rep, json_t **body,
			    aerr_t *err)
{
	const struct user_ctx *u = ctx;
	const char *pw = NULL;
	if (initial_password(k, u->realm, u->n.name, u->password, &pw, err) < 0)
		return -1;
	*body = json_deep_copy(rep);
	json_object_set_new(
	    *body, "credentials",
	    json_pack("[{s:s, s:s, s:b}]", "type", "password", "value", pw, "temporary", 0));
	return 0;
}

/* Keycloak 24 drops an attribute its user profile does not declare, with
 * 201/204 and no error (DeclarativeUserProfileProvider, unmanaged attributes
 * disabled in a new realm): read the user back and say so, rather than
 * leave a user whose tokens lack the claim. */
static int check_user_attributes(struct kc *k, const struct user_ctx *u, const char *item,
				 const json_t *declared, aerr_t *err)
{
	if (!json_object_size(declared))
		return 0;
	json_t *now = NULL;
	if (lookup_user_ctx(k, u, &now, err) < 0)
		return -1;
	int rc = 0;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)declared, key, v)
	{
		if (!json_object_get(json_object_get(now, "attributes"), key)) {
			rc = aerr_set(
			    err, AEGIS_EFAIL,
			    "%s: Keycloak did not keep the attribute %s (it drops attributes "
			    "its user profile does not declare): declare it under "
			    "user_profile of realm %s in kube/iam/realm.yaml",
			    item, key, u->realm);
			break;
		}
	}
	json_decref(now);
	return rc;
}

static int apply_user(struct kc *k, const char *realm, const char *esc_realm, const json_t *decl,
		      aerr_t *err)
{
	static const char *const ours[] = {"realm_roles", "password"};
	const char *name = desired_str(decl, "username");
	if (!name)
		return aerr_set(err, AEGIS_ECONFIG, "a user of realm %s has no username", realm);
	cleanup_free char *item = xasprintf("realm %s user %s", realm, name);
	cleanup_free char *create_path = xasprintf("/admin/realms/%s/users", esc_realm);
	struct user_ctx u = {.n = {.realm = esc_realm, .name = name},
			     .realm = realm,
			     .password = desired_str(decl, "password")};
	struct item it = {.item = item,
			  .create_path = create_path,
			  .lookup = lookup_user_ctx,
			  .update_path = user_ctx_path,
			  .create_body = user_create_body,
			  .ctx = &u};
	json_t *rep = representation(decl, ours, ARRAY_SIZE(ours));
	json_t *actual = NULL;
	const char *outcome = NULL;
	int rc = apply_item(k, &it, rep, &actual, &outcome, err);
	if (rc == 0)
		rc = ensure_user_roles(k, esc_realm, actual, json_object_get(decl, "realm_roles"),
				       item, strcmp(outcome, DESIRED_CREATED) == 0, err);
	if (rc == 0 && strcmp(outcome, DESIRED_UNCHANGED) != 0)
		rc = check_user_attributes(k, &u, item, json_object_get(rep, "attributes"), err);
	json_decref(actual);
	json_decref(rep);
	return rc;
}

/* A realm's roles and clients: declared in an array under COLLECTION,
 * named by ID_KEY, created at /admin/realms/REALM/COLLECTION. */
struct named_kind {
	const char *word; /* in messages */
	const char *collection;
	const char *id_key;
	int (*lookup)(struct kc *k, const void *ctx, json_t **actual, aerr_t *err);
	char *(*update_path)(const void *ctx, const json_t *actual);
};
static const struct named_kind role_kind = {"role", "roles", "name", lookup_role, role_path};
static const struct named_kind client_kind = {"client", "clients", "clientId", lookup_client,
					      client_path};
static const struct named_kind scope_kind = {"client scope", "client-scopes", "name", lookup_scope,
					     scope_path};

/* The declared item D of KIND in realm REALM (ESC: escaped) as REP. */
static int apply_named(struct kc *k, const struct named_kind *kind, const char *realm,
		       const char *esc, const json_t *d, const json_t *rep, json_t **actual,
		       aerr_t *err)
{
	*actual = NULL;
	const char *id = desired_str(d, kind->id_key);
	if (!id)
		return aerr_set(err, AEGIS_ECONFIG, "a %s of realm %s has no %s", kind->word, realm,
				kind->id_key);
	cleanup_free char *item = xasprintf("realm %s %s %s", realm, kind->word, id);
	cleanup_free char *list = xasprintf("/admin/realms/%s/%s", esc, kind->collection);
	struct named n = {.realm = esc, .name = id};
	struct item it = {.item = item,
			  .create_path = list,
			  .lookup = kind->lookup,
			  .ctx = &n,
			  .update_path = kind->update_path};
	return apply_item(k, &it, rep, actual, NULL, err);
}

/* The mappers declared with D, an item of KIND that now exists as ACTUAL. */
static int apply_owned_mappers(struct kc *k, const struct named_kind *kind, const char *realm,
			       const char *esc, const json_t *d, const json_t *actual, aerr_t *err)
{
	const json_t *mappers = json_object_get(d, "protocolMappers");
	if (!json_array_size(mappers))
		return 0;
	cleanup_free char *item =
	    xasprintf("realm %s %s %s", realm, kind->word, desired_str(d, kind->id_key));
	cleanup_free char *base =
	    xasprintf("/admin/realms/%s/%s/%s", esc, kind->collection, desired_str(actual, "id"));
	return apply_mappers(k, item, base, mappers, err);
}

/* --- the user profile ----------------------------------------------------- */

/* The attributes DECL declares in realm REALM's user profile (Keycloak 24's
 * UPConfig, GET/PUT /admin/realms/R/users/profile: UserProfileResource).
 * The PUT replaces the whole configuration, so it is read first, each
 * declared attribute is added or its declared fields updated, and it is
 * written back once, only when something differs.  Before the users: an
 * attribute the profile does not declare is dropped when a user is written
 * (unmanaged attributes are disabled in a new realm). */
static int apply_user_profile(struct kc *k, const char *realm, const char *esc, const json_t *decl,
			      aerr_t *err)
{
	const json_t *attrs = json_object_get(decl, "attributes");
	if (!json_array_size(attrs))
		return 0;
	cleanup_free char *path = xasprintf("/admin/realms/%s/users/profile", esc);
	http_response r;
	if (call(k, "GET", path, NULL, NULL, &r, err) < 0) {
		http_response_free(&r);
		return -1;
	}
	json_t *cfg = json_deep_copy(r.body);
	http_response_free(&r);
	json_t *have = json_object_get(cfg, "attributes");
	if (!json_is_object(cfg) || !json_is_array(have)) {
		json_decref(cfg);
		return aerr_set(err, AEGIS_EFAIL,
				"GET %s: the answer has no 'attributes' list (is this Keycloak 24 "
				"or later?)",
				path);
	}
	json_t *log = json_array();
	bool write = false;
	size_t i;
	json_t *d;
	json_array_foreach((json_t *)attrs, i, d)
	{
		const char *name = desired_str(d, "name");
		if (!name) {
			json_decref(cfg);
			json_decref(log);
			return aerr_set(err, AEGIS_ECONFIG,
					"realm %s: a user_profile attribute has no name", realm);
		}
		json_t *found = NULL;
		size_t j;
		json_t *a;
		json_array_foreach(have, j, a)
		{
			const char *n = desired_str(a, "name");
			if (n && strcmp(n, name) == 0) {
				found = a;
				break;
			}
		}
		const char *result = DESIRED_UNCHANGED;
		if (!found) {
			json_array_append(have, (json_t *)d);
			result = DESIRED_CREATED;
		} else if (!desired_matches(d, found)) {
			json_object_update(found, (json_t *)d);
			result = DESIRED_CHANGED;
		}
		write = write || strcmp(result, DESIRED_UNCHANGED) != 0;
		json_array_append_new(log, json_pack("{s:s, s:s}", "result", result, "name", name));
	}
	int rc = 0;
	if (write) {
		rc = call(k, "PUT", path, cfg, NULL, &r, err);
		http_response_free(&r);
	}
	json_decref(cfg);
	/* noted once the write went through: "created" means it is there now */
	json_array_foreach(log, i, d)
	{
		if (rc == 0)
			desired_note(k->log, desired_str(d, "result"), NULL,
				     "realm %s user profile attribute %s", realm,
				     desired_str(d, "name"));
	}
	json_decref(log);
	return rc;
}

/* --- realms -------------------------------------------------------------- */

static int apply_realm(struct kc *k, const json_t *decl, keycloak_result *res, aerr_t *err)
{
	static const char *const realm_ours[] = {"roles", "client_scopes", "clients",
						 "user_profile", "users"};
	static const char *const client_ours[] = {"secret_env", "protocolMappers"};
	static const char *const scope_ours[] = {"protocolMappers"};
	const char *realm = desired_str(decl, "realm");
	if (!realm)
		return aerr_set(err, AEGIS_ECONFIG, "a realm entry has no 'realm' name");
	cleanup_free char *esc = http_escape(realm);
	cleanup_free char *item = xasprintf("realm %s", realm);
	struct named rn = {.realm = esc};
	struct item it = {.item = item,
			  .create_path = "/admin/realms",
			  .lookup = lookup_realm,
			  .ctx = &rn,
			  .update_path = realm_path};
	json_t *rep = representation(decl, realm_ours, ARRAY_SIZE(realm_ours));
	json_t *actual = NULL;
	int rc = apply_item(k, &it, rep, &actual, NULL, err);
	json_decref(rep);
	json_decref(actual);
	if (rc < 0)
		return -1;

	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(decl, "roles"), i, d)
	{
		rc = apply_named(k, &role_kind, realm, esc, d, d, &actual, err);
		json_decref(actual);
		if (rc < 0)
			return -1;
	}
	/* before the clients, which name them in their scope lists */
	json_array_foreach(json_object_get(decl, "client_scopes"), i, d)
	{
		rep = representation(d, scope_ours, ARRAY_SIZE(scope_ours));
		rc = apply_named(k, &scope_kind, realm, esc, d, rep, &actual, err);
		json_decref(rep);
		if (rc == 0)
			rc = apply_owned_mappers(k, &scope_kind, realm, esc, d, actual, err);
		json_decref(actual);
		if (rc < 0)
			return -1;
	}
	json_array_foreach(json_object_get(decl, "clients"), i, d)
	{
		rep = representation(d, client_ours, ARRAY_SIZE(client_ours));
		rc = apply_named(k, &client_kind, realm, esc, d, rep, &actual, err);
		json_decref(rep);
		if (rc == 0)
			rc = apply_owned_mappers(k, &client_kind, realm, esc, d, actual, err);
		const char *variable = desired_str(d, "secret_env");
		if (rc == 0 && variable)
			rc = read_client_secret(k, realm, esc, actual, variable, res, err);
		json_decref(actual);
		if (rc < 0)
			return -1;
	}

	if (apply_user_profile(k, realm, esc, json_object_get(decl, "user_profile"), err) < 0)
		return -1;
	json_array_foreach(json_object_get(decl, "users"), i, d)
	{
		if (apply_user(k, realm, esc, d, err) < 0)
			return -1;
	}
	return 0;
}

/* The saved passwords of the declared users whose password is generated. */
static json_t *declared_passwords(const struct kc *k)
{
	json_t *out = json_object();
	size_t i, j;
	json_t *realm, *user;
	json_array_foreach(json_object_get(k->o->desired, "realms"), i, realm)
	{
		const char *rname = desired_str(realm, "realm");
		json_t *saved = json_object_get(k->saved_passwords, rname ? rname : "");
		json_array_foreach(json_object_get(realm, "users"), j, user)
		{
			const char *uname = desired_str(user, "username");
			const char *declared = desired_str(user, "password");
			const char *pw = uname ? desired_str(saved, uname) : NULL;
			if (!pw || (declared && *declared))
				continue;
			json_t *per = json_object_get(out, rname);
			if (!per) {
				per = json_object();
				json_object_set_new(out, rname, per);
			}
			json_object_set_new(per, uname, json_string(pw));
		}
	}
	return out;
}

static int load_passwords(struct kc *k, aerr_t *err)
{
	k->passwords_path = fs_join(k->o->generated_dir, KEYCLOAK_PASSWORDS_FILE);
	if (!fs_exists(k->passwords_path)) {
		k->saved_passwords = json_object();
		return 0;
	}
	char *text = NULL;
	size_t len = 0;
	if (fs_read_file(k->passwords_path, &text, &len, err) < 0)
		return -1;
	k->saved_passwords = json_loadb(text, len, 0, NULL);
	wipe_free(text);
	if (!json_is_object(k->saved_passwords)) {
		json_decref(k->saved_passwords);
		k->saved_passwords = NULL;
		return aerr_set(err, AEGIS_EFAIL, "%s is not a JSON object of passwords",
				k->passwords_path);
	}
	return 0;
}

int keycloak_apply(const keycloak_opts *o, keycloak_result *res, aerr_t *err)
{
	*res = (keycloak_result){.log = json_array()};
	struct kc k = {.o = o, .log = res->log};
	if (!o->admin_user || !*o->admin_user || !o->admin_password || !*o->admin_password)
		return aerr_set(err, AEGIS_ECONFIG,
				"KEYCLOAK_ADMIN and KEYCLOAK_ADMIN_PASSWORD must be set");
	if (!json_is_array(json_object_get(o->desired, "realms")))
		return aerr_set(err, AEGIS_ECONFIG, "the declaration has no 'realms' list");
	if (http_client_init(&k.http, o->url, o->cacert, err) < 0)
		return aerr_wrap(err, "KEYCLOAK_URL");
	k.http.trace = o->trace;
	k.http.trace_ctx = o->trace_ctx;
	int rc = load_passwords(&k, err);
	if (rc == 0)
		rc = login(&k, o->wait_s > 0 ? o->wait_s : 60, err);
	size_t i;
	json_t *realm;
	json_array_foreach(json_object_get(o->desired, "realms"), i, realm)
	{
		if (rc == 0)
			rc = apply_realm(&k, realm, res, err);
	}
	if (rc == 0)
		res->passwords = declared_passwords(&k);
	wipe_free(k.bearer);
	wipe_free(k.refresh);
	json_decref(k.saved_passwords);
	free(k.passwords_path);
	http_client_free(&k.http);
	return rc;
}

void keycloak_result_free(keycloak_result *res)
{
	json_decref(res->log);
	for (size_t i = 0; i < res->nsecrets; i++) {
		free(res->secrets[i].realm);
		free(res->secrets[i].client_id);
		free(res->secrets[i].variable);
		wipe_free(res->secrets[i].value);
	}
	free(res->secrets);
	json_decref(res->passwords);
	*res = (keycloak_result){0};
}

int keycloak_realm_present(const char *url, const char *cacert, const char *realm, bool *present,
			   aerr_t *err)
{
	http_client c;
	*present = false;
	if (http_client_init(&c, url, cacert, err) < 0)
		return aerr_wrap(err, "KEYCLOAK_URL");
	c.attempts = 1;
	cleanup_free char *esc = http_escape(realm);
	cleanup_free char *path = xasprintf("/realms/%s", esc);
	http_request rq = {.method = "GET", .path = path, .accept = OK_OR_404};
	http_response r;
	int rc = http_do(&c, &rq, &r, err);
	*present = rc == 0 && r.status == 200;
	http_response_free(&r);
	http_client_free(&c);
	return rc;
}
