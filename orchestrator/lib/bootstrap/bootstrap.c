#include "bootstrap/bootstrap.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "bootstrap/desired.h"
#include "bootstrap/keycloak.h"
#include "config/env.h"
#include "config/profile.h"
#include "podman/pod.h"
#include "render/edge.h"
#include "render/render.h"
#include "rollout/validate.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/wipe.h"

static char *generated_dir(const config *cfg, const bootstrap_opts *o)
{
	if (o->generated_dir)
		return xstrdup(o->generated_dir);
	const char *dir = config_get(cfg, "AEGIS_GENERATED_DIR");
	return dir && *dir ? xstrdup(dir) : fs_join(cfg->root, "generated");
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

/* The CA OpenBao verifies KEYCLOAK_PUBLIC_URL's https with, when that URL
 * is the edge's: EDGE_VERIFY_CA_FILE, else the internal CA's root that deploy
 * exported.  OpenBao then trusts only it for the discovery (v2.4.1,
 * builtin/credential/jwt/path_config.go: createProvider passes
 * oidc_discovery_ca_pem as oidc.WithProviderCA; OverrideRootCAs replaces the
 * system's roots with it).  Added to the declared OIDC configuration, so a
 * new CA rewrites it.  Nothing when the URL is plain http or the edge is not
 * in the profile (OpenBao uses its system CAs). */
static int add_discovery_ca(const config *cfg, json_t *decl, aerr_t *err)
{
	const char *url = config_get(cfg, "KEYCLOAK_PUBLIC_URL");
	json_t *conf = json_object_get(json_object_get(decl, "oidc"), "config");
	if (!cfg->edge || !conf || !url || strncmp(url, "https://", 8) != 0)
		return 0;
	const char *verify = config_get(cfg, "EDGE_VERIFY_CA_FILE");
	const char *mode = config_get(cfg, "AEGIS_TLS_MODE");
	cleanup_free char *path = verify && *verify			  ? xstrdup(verify)
				  : mode && strcmp(mode, "internal") == 0 ? edge_ca_path(cfg)
									  : NULL;
	if (!path)
		return 0;
	char *pem = NULL;
	size_t len = 0;
	if (fs_read_file(path, &pem, &len, err) < 0)
		return aerr_wrap(err, "the CA of %s for OpenBao's OIDC discovery", url);
	json_object_set_new(conf, "oidc_discovery_ca_pem", json_stringn(pem, len));
	free(pem);
	return 0;
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
	if ((steps & OPENBAO_OIDC) && add_discovery_ca(cfg, decl, err) < 0) {
		json_decref(decl);
		return -1;
	}
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

int bootstrap_check_secrets(const config *cfg, char **found, aerr_t *err)
{
	long status = 0;
	*found = NULL;
	if (openbao_health(config_get(cfg, "OPENBAO_ADDR"), config_get(cfg, "AEGIS_CACERT"),
			   &status, err) < 0)
		return aerr_wrap(err, "OpenBao");
	if (status == 200) {
		*found = xstrdup("OpenBao initialised, unsealed, active (sys/health 200)");
		return 0;
	}
	const char *what = status == 501 ? "not initialised: run aegis-deploy bootstrap-secrets"
			   : status == 503
			       ? "sealed: deploy, `wait --pod " BOOTSTRAP_SECRETS_POD
				 "` or bootstrap-secrets unseal it from " OPENBAO_INIT_FILE
			       : "a standby node, not the active one";
	return aerr_set(err, AEGIS_EFAIL, "OpenBao %s (sys/health %ld)", what, status);
}

int bootstrap_unseal_gate(const config *cfg, const bootstrap_opts *o, bool allow_uninit,
			  bool *unsealed, aerr_t *err)
{
	cleanup_free char *dir = generated_dir(cfg, o);
	openbao_opts oo = {
	    .addr = config_get(cfg, "OPENBAO_ADDR"),
	    .cacert = cacert(cfg, o),
	    .generated_dir = dir,
	    .wait_s = o->wait_s,
	    .trace = o->trace,
	    .trace_ctx = o->trace_ctx,
	};
	if (openbao_unseal_saved(&oo, allow_uninit, unsealed, err) < 0)
		return aerr_wrap(err, "pod %s is not ready for its dependents",
				 BOOTSTRAP_SECRETS_POD);
	return 0;
}

int bootstrap_status_check(const deployment *d, const check *k, char **detail, aerr_t *err)
{
	if (k->container != 0 || strcmp(d->pods[k->pod].name, BOOTSTRAP_SECRETS_POD) != 0)
		return 0;
	return bootstrap_check_secrets(&d->cfg, detail, err);
}

int bootstrap_check_iam(const config *cfg, char **found, aerr_t *err)
{
	json_t *decl = NULL;
	*found = NULL;
	if (load_declaration(cfg, BOOTSTRAP_REALMS_DECL, &decl, err) < 0)
		return -1;
	strbuf sb = STRBUF_INIT;
	bool ok = true;
	int rc = 0;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(decl, "realms"), i, r)
	{
		const char *realm = desired_str(r, "realm");
		bool present = false;
		if (!realm)
			continue;
		if (keycloak_realm_present(config_get(cfg, "KEYCLOAK_URL"),
					   config_get(cfg, "AEGIS_CACERT"), realm, &present,
					   err) < 0) {
			rc = aerr_wrap(err, "Keycloak");
			break;
		}
		sb_addf(&sb, "%srealm %s %s", sb.len ? ", " : "", realm,
			present ? "present" : "missing: run aegis-deploy bootstrap-keycloak");
		ok = ok && present;
	}
	json_decref(decl);
	if (rc == 0 && !ok)
		rc = aerr_set(err, AEGIS_EFAIL, "%s", sb.s ? sb.s : "");
	if (rc == 0)
		*found = sb_take(&sb);
	sb_release(&sb);
	return rc;
}

/* --- deploy's hook ------------------------------------------------------- */

struct bootstrap_hook {
	pthread_mutex_t lock;
	bootstrap_opts opts;
	bool has_secrets, has_iam, has_edge; /* in the deployment */
	bool secrets_done, iam_done, edge_done, oidc_done;
	json_t *services; /* {"OpenBao": [items], "Keycloak": [items]} */
	json_t *env_changed;
};

static bool has_pod(const deployment *d, const char *name)
{
	return deployment_pod_index(d, name) >= 0;
}

bootstrap_hook *bootstrap_hook_new(const deployment *d, const bootstrap_opts *o)
{
	bootstrap_hook *h = xcalloc(1, sizeof *h);
	pthread_mutex_init(&h->lock, NULL);
	h->opts = *o;
	h->has_secrets = has_pod(d, BOOTSTRAP_SECRETS_POD);
	h->has_iam = has_pod(d, BOOTSTRAP_IAM_POD);
	h->has_edge = has_pod(d, EDGE_POD);
	h->services = json_object();
	h->env_changed = json_array();
	return h;
}

static void collect(bootstrap_hook *h, const char *service, const bootstrap_result *res,
		    json_t *changed)
{
	json_t *items = json_object_get(h->services, service);
	if (!items) {
		items = json_array();
		json_object_set_new(h->services, service, items);
	}
	json_array_extend(items, res->log);
	json_array_extend(changed, res->env_changed);
	json_array_extend(h->env_changed, res->env_changed);
}

/* Each bootstrap works with D's configuration, the one the rollout renders
 * with (for a rollback: the revision's release values, the current host
 * values); what it writes to .env is read back into it at once, so a later
 * hook sees it (OpenBao's OIDC step needs the Keycloak client secret). */
static int run_secrets(bootstrap_hook *h, deployment *d, unsigned steps, json_t *changed,
		       bool *oidc_ran, aerr_t *err)
{
	bootstrap_result res;
	int rc = bootstrap_secrets(&d->cfg, &h->opts, steps, &res, err);
	if (res.log)
		collect(h, "OpenBao", &res, changed);
	if (rc == 0)
		rc = config_refresh(&d->cfg, res.env_changed, err);
	*oidc_ran = rc == 0 && (steps & OPENBAO_OIDC) && !res.oidc_pending;
	bootstrap_result_free(&res);
	return rc;
}

static int run_keycloak(bootstrap_hook *h, deployment *d, json_t *changed, aerr_t *err)
{
	bootstrap_result res;
	int rc = bootstrap_keycloak(&d->cfg, &h->opts, &res, err);
	if (res.log)
		collect(h, "Keycloak", &res, changed);
	if (rc == 0)
		rc = config_refresh(&d->cfg, res.env_changed, err);
	bootstrap_result_free(&res);
	return rc;
}

/* After a bootstrap wrote the variables in CHANGED (already in D's
 * configuration): every pod of a later tier than READY rendered again.
 * Those pods have not been played yet: their tier starts after this one's
 * hooks have returned. */
static int refresh_later_pods(deployment *d, size_t ready, const json_t *changed, aerr_t *err)
{
	if (json_array_size(changed) == 0)
		return 0;
	size_t tier = d->plan.tier_of[ready];
	render_opts ropts = {.lenient = false};
	for (size_t j = 0; j < d->npods; j++) {
		if (d->plan.tier_of[j] <= tier)
			continue;
		cleanup_free char *tmpl = catalog_template(d->cfg.root, d->prof.pods[j]);
		cleanup_free char *secret = render_pod_secret_name(d->prof.pods[j]);
		ropts.secret_name = secret;
		rendered r;
		pod np;
		if (render_template(tmpl, &d->cfg, &ropts, &r, err) < 0)
			return -1;
		if (pod_from_manifest(tmpl, r.yaml, r.len, &np, err) < 0) {
			rendered_free(&r);
			return -1;
		}
		rendered_free(&d->manifests[j]);
		d->manifests[j] = r;
		/* what rollout compares with the running pod's label */
		free(d->pods[j].manifest_hash);
		d->pods[j].manifest_hash = np.manifest_hash;
		np.manifest_hash = NULL;
		pod_free(&np);
	}
	return 0;
}

int bootstrap_on_ready(void *ctx, deployment *d, size_t pod, aerr_t *err)
{
	bootstrap_hook *h = ctx;
	const char *name = d->pods[pod].name;
	bool secrets = strcmp(name, BOOTSTRAP_SECRETS_POD) == 0;
	bool iam = strcmp(name, BOOTSTRAP_IAM_POD) == 0;
	bool edge = strcmp(name, EDGE_POD) == 0;
	if (!secrets && !iam && !edge)
		return 0;
	pthread_mutex_lock(&h->lock);
	json_t *changed = json_array();
	bool oidc_ran = false;
	int rc = 0;
	/* The OIDC step once Keycloak has handed out the client secret and, with
	 * the edge, once the edge routes Keycloak's public URL: OpenBao fetches
	 * the discovery document through it. */
	bool front_ready = !h->has_edge || h->edge_done || edge;
	if (secrets) {
		unsigned steps =
		    OPENBAO_CORE | (h->has_iam && h->iam_done && front_ready ? OPENBAO_OIDC : 0);
		rc = run_secrets(h, d, steps, changed, &oidc_ran, err);
		h->secrets_done = rc == 0;
	} else if (iam) {
		rc = run_keycloak(h, d, changed, err);
		h->iam_done = rc == 0;
		if (rc == 0 && h->secrets_done && !h->oidc_done && front_ready)
			rc = run_secrets(h, d, OPENBAO_OIDC, changed, &oidc_ran, err);
	} else {
		h->edge_done = true;
		if (h->secrets_done && h->iam_done && !h->oidc_done)
			rc = run_secrets(h, d, OPENBAO_OIDC, changed, &oidc_ran, err);
	}
	h->oidc_done = h->oidc_done || oidc_ran;
	if (rc == 0)
		rc = refresh_later_pods(d, pod, changed, err);
	json_decref(changed);
	pthread_mutex_unlock(&h->lock);
	return rc < 0 ? aerr_wrap(err, "bootstrap") : 0;
}

json_t *bootstrap_hook_report(const bootstrap_hook *h)
{
	return json_pack("{s:O, s:O}", "services", h->services, "env_changed", h->env_changed);
}

void bootstrap_hook_free(bootstrap_hook *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	json_decref(h->services);
	json_decref(h->env_changed);
	free(h);
}

int bootstrap_validate_check(const deployment *d, const check *k, char **detail, aerr_t *err)
{
	const char *pod = d->pods[k->pod].name;
	if (k->container != 0)
		return 0;
	if (strcmp(pod, BOOTSTRAP_SECRETS_POD) == 0)
		return bootstrap_check_secrets(&d->cfg, detail, err);
	if (strcmp(pod, BOOTSTRAP_IAM_POD) == 0)
		return bootstrap_check_iam(&d->cfg, detail, err);
	return 0;
}
