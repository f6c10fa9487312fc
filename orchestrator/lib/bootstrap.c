#include "bootstrap.h"

#include <string.h>

#include "desired.h"
#include "env.h"
#include "fsutil.h"
#include "keycloak.h"
#include "wipe.h"

static char *generated_dir(const config *cfg, const bootstrap_opts *o)
{
	return o->generated_dir ? xstrdup(o->generated_dir) : fs_join(cfg->root, "generated");
}

static const char *cacert(const config *cfg, const bootstrap_opts *o)
{
	return o->cacert ? o->cacert : config_get(cfg, "AEGIS_CACERT");
}

static int load_declaration(const config *cfg, const char *rel, json_t **out, aerr_t *err)
{
	cleanup_free char *path = fs_join(cfg->root, rel);
	return desired_load(path, cfg, out, err);
}

/* KEYS=VALUES into FILE (under generated/, created 0600) and then into the
 * configuration file; the names written to .env are added to CHANGED. */
static int store(const config *cfg, const char *dir, const char *file, size_t n,
		 const char *const *keys, const char *const *values, json_t *changed, aerr_t *err)
{
	if (n == 0)
		return 0;
	if (fs_mkdir_private(dir, 0700, err) < 0)
		return -1;
	cleanup_free char *path = fs_join(dir, file);
	if (env_update(path, n, keys, values, NULL, err) < 0)
		return -1;
	env_file before;
	if (env_load(cfg->env_path, true, &before, err) < 0)
		return -1;
	bool any = false;
	int rc = env_update(cfg->env_path, n, keys, values, &any, err);
	for (size_t i = 0; rc == 0 && any && i < n; i++) {
		const env_entry *e = env_find(&before, keys[i]);
		if (!e || strcmp(e->value, values[i]) != 0)
			json_array_append_new(changed, json_string(keys[i]));
	}
	env_free(&before);
	return rc;
}

/* The AppRole credentials to verify: the configuration's, else the ones
 * saved under generated/ (a .env restored from before the last run). */
static void saved_credentials(const config *cfg, const char *dir, char **role_id, char **secret_id)
{
	const char *r = config_get(cfg, "OPENBAO_ROLE_ID"),
		   *s = config_get(cfg, "OPENBAO_SECRET_ID");
	if (r && *r && s && *s) {
		*role_id = xstrdup(r);
		*secret_id = xstrdup(s);
		return;
	}
	cleanup_free char *path = fs_join(dir, BOOTSTRAP_APPROLE_FILE);
	env_file f;
	aerr_t ignored = {0};
	if (env_load(path, true, &f, &ignored) < 0)
		return;
	const env_entry *fr = env_find(&f, "OPENBAO_ROLE_ID"),
			*fs = env_find(&f, "OPENBAO_SECRET_ID");
	if (fr && *fr->value && fs && *fs->value) {
		*role_id = xstrdup(fr->value);
		*secret_id = xstrdup(fs->value);
	}
	env_free(&f);
}

int bootstrap_secrets(const config *cfg, const bootstrap_opts *o, unsigned steps,
		      bootstrap_result *res, aerr_t *err)
{
	*res = (bootstrap_result){.env_changed = json_array()};
	json_t *decl = NULL;
	if (load_declaration(cfg, BOOTSTRAP_SECRETS_DECL, &decl, err) < 0)
		return -1;
	cleanup_free char *dir = generated_dir(cfg, o);
	const char *oidc_var = desired_str(json_object_get(decl, "oidc"), "client_secret_variable");
	const char *oidc_secret = oidc_var ? config_get(cfg, oidc_var) : NULL;
	bool pending = (steps & OPENBAO_OIDC) && (!oidc_secret || !*oidc_secret);
	if (pending)
		steps &= ~(unsigned)OPENBAO_OIDC;
	cleanup_wipe char *role_id = NULL;
	cleanup_wipe char *secret_id = NULL;
	if (steps & OPENBAO_CORE)
		saved_credentials(cfg, dir, &role_id, &secret_id);
	openbao_opts oo = {
	    .addr = config_get(cfg, "OPENBAO_ADDR"),
	    .cacert = cacert(cfg, o),
	    .desired = decl,
	    .generated_dir = dir,
	    .shares = o->shares,
	    .threshold = o->threshold,
	    .wait_s = o->wait_s,
	    .steps = steps,
	    .role_id = role_id,
	    .secret_id = secret_id,
	    .oidc_client_secret = oidc_secret,
	    .trace = o->trace,
	    .trace_ctx = o->trace_ctx,
	};
	openbao_result br;
	int rc = openbao_bootstrap(&oo, &br, err);
	res->log = json_incref(br.log);
	if (rc == 0 && (steps & OPENBAO_CORE)) {
		const char *keys[] = {"OPENBAO_ROLE_ID", "OPENBAO_SECRET_ID"};
		const char *values[] = {br.role_id, br.secret_id};
		rc =
		    store(cfg, dir, BOOTSTRAP_APPROLE_FILE, 2, keys, values, res->env_changed, err);
	}
	if (rc == 0 && pending) {
		res->oidc_pending = true;
		desired_note(res->log, DESIRED_SKIPPED, "waits for the Keycloak client secret",
			     "OIDC login (%s is empty: run bootstrap-keycloak, then this again)",
			     oidc_var ? oidc_var : "the client secret");
	}
	openbao_result_free(&br);
	json_decref(decl);
	return rc;
}

int bootstrap_keycloak(const config *cfg, const bootstrap_opts *o, bootstrap_result *res,
		       aerr_t *err)
{
	*res = (bootstrap_result){.env_changed = json_array()};
	json_t *decl = NULL;
	if (load_declaration(cfg, BOOTSTRAP_REALMS_DECL, &decl, err) < 0)
		return -1;
	cleanup_free char *dir = generated_dir(cfg, o);
	keycloak_opts ko = {
	    .url = config_get(cfg, "KEYCLOAK_URL"),
	    .cacert = cacert(cfg, o),
	    .admin_user = config_get(cfg, "KEYCLOAK_ADMIN"),
	    .admin_password = config_get(cfg, "KEYCLOAK_ADMIN_PASSWORD"),
	    .desired = decl,
	    .generated_dir = dir,
	    .wait_s = o->wait_s,
	    .trace = o->trace,
	    .trace_ctx = o->trace_ctx,
	};
	keycloak_result kr;
	int rc = keycloak_apply(&ko, &kr, err);
	res->log = json_incref(kr.log);
	const char **keys = xcalloc(kr.nsecrets, sizeof *keys);
	const char **values = xcalloc(kr.nsecrets, sizeof *values);
	for (size_t i = 0; rc == 0 && i < kr.nsecrets; i++) {
		keys[i] = kr.secrets[i].variable;
		values[i] = kr.secrets[i].value;
		if (!schema_find(&cfg->schema, keys[i]))
			rc = aerr_set(err, AEGIS_ECONFIG,
				      "%s: client %s: secret_env %s is not a variable of %s",
				      BOOTSTRAP_REALMS_DECL, kr.secrets[i].client_id, keys[i],
				      cfg->schema.path);
	}
	if (rc == 0)
		rc = store(cfg, dir, BOOTSTRAP_CLIENTS_FILE, kr.nsecrets, keys, values,
			   res->env_changed, err);
	if (rc == 0)
		res->passwords = json_incref(kr.passwords);
	free(keys);
	free(values);
	keycloak_result_free(&kr);
	json_decref(decl);
	return rc;
}

void bootstrap_result_free(bootstrap_result *res)
{
	json_decref(res->log);
	json_decref(res->env_changed);
	json_decref(res->passwords);
	*res = (bootstrap_result){0};
}

int bootstrap_declared_realms(const config *cfg, char ***realms, size_t *n, aerr_t *err)
{
	*realms = NULL;
	*n = 0;
	json_t *decl = NULL;
	if (load_declaration(cfg, BOOTSTRAP_REALMS_DECL, &decl, err) < 0)
		return -1;
	json_t *list = json_object_get(decl, "realms");
	*realms = xcalloc(json_array_size(list), sizeof **realms);
	size_t i;
	json_t *r;
	json_array_foreach(list, i, r)
	{
		const char *name = desired_str(r, "realm");
		if (name)
			(*realms)[(*n)++] = xstrdup(name);
	}
	json_decref(decl);
	return 0;
}
