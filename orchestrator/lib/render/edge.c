#include "render/edge.h"

#include <string.h>

#include "render/passhash.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/wipe.h"
#include "util/yamldoc.h"

static void route_free(edge_route *r)
{
	free(r->name);
	free(r->host);
	free(r->upstream);
	free(r->pod);
}

void edge_free(edge_config *e)
{
	for (size_t i = 0; i < e->n; i++)
		route_free(&e->routes[i]);
	free(e->routes);
	free(e->path);
	free(e->global);
	free(e->mode_options);
	free(e->tls_mode);
	free(e->tls_line);
	free(e->ca_certificate);
	free(e->auth_user);
	*e = (edge_config){0};
}

/* A value that goes into the Caddyfile as one token: a hostname, an
 * upstream, a user name.  Anything else (spaces, braces, quotes, newlines)
 * could change the file's structure. */
static bool caddy_token(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(".-_:*", *p)))
			return false;
	return true;
}

/* options: [{when: VAR, line: ...}]: lines of each site's `tls` block that
 * apply only when VAR is set (an ACME directory other than Caddy's default,
 * its root), so an unset variable leaves Caddy's own default in place. */
static int load_mode_options(const config *cfg, yaml_document_t *doc, yaml_node_t *m,
			     edge_config *e, aerr_t *err)
{
	yaml_node_t *opts = ydoc_get(doc, m, "options");
	strbuf b = STRBUF_INIT;
	if (opts && opts->type != YAML_SEQUENCE_NODE)
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: options: expected a list", e->path,
				ydoc_line(opts));
	for (yaml_node_item_t *it = opts ? opts->data.sequence.items.start : NULL;
	     opts && it < opts->data.sequence.items.top; it++) {
		yaml_node_t *o = yaml_document_get_node(doc, *it);
		const char *when = ydoc_str(ydoc_get(doc, o, "when"));
		const char *line = ydoc_str(ydoc_get(doc, o, "line"));
		if (!when || !line || !*line || strchr(line, '\n')) {
			sb_release(&b);
			return aerr_set(err, AEGIS_ECONFIG,
					"%s:%d: an option needs 'when' (a variable) and one 'line'",
					e->path, ydoc_line(o));
		}
		const char *v = config_get(cfg, when);
		if (v && *v)
			sb_addf(&b, "%s\n", line);
	}
	e->mode_options = sb_take(&b);
	return 0;
}

static int load_mode(const config *cfg, yaml_document_t *doc, edge_config *e, aerr_t *err)
{
	const char *mode = config_get(cfg, "AEGIS_TLS_MODE");
	yaml_node_t *modes = ydoc_get(doc, yaml_document_get_root_node(doc), "tls");
	if (!modes || modes->type != YAML_MAPPING_NODE)
		return aerr_set(err, AEGIS_ECONFIG, "%s: expected a 'tls:' mapping of modes",
				e->path);
	yaml_node_t *m = mode && *mode ? ydoc_get(doc, modes, mode) : NULL;
	if (!m) {
		strbuf known = STRBUF_INIT;
		for (yaml_node_pair_t *p = modes->data.mapping.pairs.start;
		     p < modes->data.mapping.pairs.top; p++)
			sb_addf(&known, "%s%s", known.len ? ", " : "",
				ydoc_str(yaml_document_get_node(doc, p->key)));
		aerr_set(err, AEGIS_ECONFIG, "AEGIS_TLS_MODE '%s': expected one of %s (%s)",
			 mode ? mode : "", known.s ? known.s : "", e->path);
		sb_release(&known);
		return -1;
	}
	const char *line = ydoc_str(ydoc_get(doc, m, "line"));
	if (!line || !*line)
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: tls mode %s has no 'line'", e->path,
				ydoc_line(m), mode);
	e->tls_mode = xstrdup(mode);
	e->tls_line = xstrdup(line);
	const char *ca = ydoc_str(ydoc_get(doc, m, "ca_certificate"));
	e->ca_certificate = ca ? xstrdup(ca) : NULL;
	const char *expiry = ydoc_str(ydoc_get(doc, m, "check_expiry"));
	if (expiry && strcmp(expiry, "ca") != 0 && strcmp(expiry, "site") != 0)
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: check_expiry: expected site or ca",
				e->path, ydoc_line(m));
	e->expiry_of_ca = expiry && strcmp(expiry, "ca") == 0;
	if (e->expiry_of_ca && !ca)
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: check_expiry: ca needs ca_certificate",
				e->path, ydoc_line(m));
	if (load_mode_options(cfg, doc, m, e, err) < 0)
		return -1;
	yaml_node_t *req = ydoc_get(doc, m, "requires");
	if (req && req->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = req->data.sequence.items.start;
		     it < req->data.sequence.items.top; it++) {
			const char *name = ydoc_str(yaml_document_get_node(doc, *it));
			const char *v = name ? config_get(cfg, name) : NULL;
			if (name && (!v || !*v))
				return aerr_set(err, AEGIS_ECONFIG,
						"AEGIS_TLS_MODE=%s needs %s; set it in %s", mode,
						name, cfg->env_path);
		}
	}
	return 0;
}

static int load_route(const config *cfg, yaml_document_t *doc, yaml_node_t *n, edge_route *r,
		      const char *path, aerr_t *err)
{
	int line = ydoc_line(n);
	const char *name = ydoc_str(ydoc_get(doc, n, "name"));
	const char *var = ydoc_str(ydoc_get(doc, n, "host_variable"));
	const char *upstream = ydoc_str(ydoc_get(doc, n, "upstream"));
	const char *pod = ydoc_str(ydoc_get(doc, n, "pod"));
	if (!name || !var || !upstream || !pod)
		return aerr_set(err, AEGIS_ECONFIG,
				"%s:%d: a route needs name, host_variable, upstream and pod", path,
				line);
	if (ydoc_bool(ydoc_get(doc, n, "basic_auth"), false, &r->basic_auth) < 0)
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: basic_auth must be true or false", path,
				line);
	const char *host = config_get(cfg, var);
	if (!host || !*host)
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: route %s: %s is not set", path, line,
				name, var);
	if (!caddy_token(host) || strchr(host, ':'))
		return aerr_set(err, AEGIS_ECONFIG,
				"%s '%s' (route %s): expected a hostname (letters, digits, '.', "
				"'-', '*')",
				var, host, name);
	if (!caddy_token(upstream))
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: route %s: bad upstream '%s'", path,
				line, name, upstream);
	r->name = xstrdup(name);
	r->host = xstrdup(host);
	r->upstream = xstrdup(upstream);
	r->pod = xstrdup(pod);
	return 0;
}

int edge_load(const config *cfg, edge_config *out, aerr_t *err)
{
	*out = (edge_config){.path = fs_join(cfg->root, EDGE_ROUTES)};
	yaml_document_t doc;
	if (ydoc_load_file(out->path, &doc, err) < 0) {
		edge_free(out);
		return -1;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	yaml_node_t *routes = root ? ydoc_get(&doc, root, "routes") : NULL;
	int rc = 0;
	if (!routes || routes->type != YAML_SEQUENCE_NODE) {
		rc = aerr_set(err, AEGIS_ECONFIG, "%s: expected a 'routes:' list", out->path);
		goto done;
	}
	const char *global = ydoc_str(ydoc_get(&doc, root, "global"));
	out->global = xstrdup(global ? global : "");
	const char *user = config_get(cfg, "EDGE_BASIC_AUTH_USER");
	if (!user || !caddy_token(user)) {
		rc = aerr_set(err, AEGIS_ECONFIG,
			      "EDGE_BASIC_AUTH_USER '%s': expected letters, digits, '.', '-', '_'",
			      user ? user : "");
		goto done;
	}
	out->auth_user = xstrdup(user);
	if ((rc = load_mode(cfg, &doc, out, err)) < 0)
		goto done;
	size_t n = (size_t)(routes->data.sequence.items.top - routes->data.sequence.items.start);
	out->routes = xcalloc(n ? n : 1, sizeof *out->routes);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *r = yaml_document_get_node(&doc, routes->data.sequence.items.start[i]);
		if ((rc = load_route(cfg, &doc, r, &out->routes[i], out->path, err)) < 0)
			goto done;
		out->n++;
	}
done:
	yaml_document_delete(&doc);
	if (rc < 0)
		edge_free(out);
	return rc;
}

char *edge_caddyfile(const edge_config *e, const char *auth_hash)
{
	strbuf b = STRBUF_INIT;
	sb_adds(&b, "# Built by aegis-deploy from kube/edge/routes.yaml; do not edit.\n{\n");
	for (const char *p = e->global ? e->global : ""; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len)
			sb_addf(&b, "\t%.*s", (int)len, p);
		sb_addc(&b, '\n');
		p += len + (nl != NULL);
	}
	sb_adds(&b, "}\n");
	/* the mode's options inside each site's `tls` block: one issuer per
	 * site, the one configured there (see routes.yaml) */
	strbuf tls = STRBUF_INIT;
	sb_adds(&tls, e->tls_line);
	if (e->mode_options && *e->mode_options) {
		sb_adds(&tls, " {\n");
		for (const char *p = e->mode_options; *p;) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			sb_addf(&tls, "\t\t%.*s\n", (int)len, p);
			p += len + (nl != NULL);
		}
		sb_adds(&tls, "\t}");
	}
	for (size_t i = 0; i < e->n; i++) {
		const edge_route *r = &e->routes[i];
		sb_addf(&b, "\n# %s\n%s {\n\t%s\n", r->name, r->host, tls.s);
		if (r->basic_auth)
			sb_addf(&b, "\tbasicauth {\n\t\t%s %s\n\t}\n", e->auth_user,
				auth_hash ? auth_hash : "");
		sb_addf(&b, "\treverse_proxy %s\n}\n", r->upstream);
	}
	sb_release(&tls);
	return sb_take(&b);
}

int edge_prepare(config *cfg, bool lenient, aerr_t *err)
{
	edge_config e;
	char *hash = NULL;
	int rc = edge_load(cfg, &e, err);
	if (rc == 0) {
		const char *pw = config_get(cfg, "EDGE_BASIC_AUTH_PASSWORD");
		if (!pw || !*pw)
			rc =
			    aerr_set(err, AEGIS_ECONFIG,
				     "EDGE_BASIC_AUTH_PASSWORD is not set (the edge's basic auth); "
				     "set it in %s or run 'aegis-deploy init --fill'",
				     cfg->env_path);
		else
			rc = passhash_bcrypt(pw, &hash, err);
		if (rc == 0) {
			char *file = edge_caddyfile(&e, hash);
			config_set(cfg, EDGE_CADDYFILE_VAR, file, SRC_DEFAULT);
			wipe_free(file);
		}
		edge_free(&e);
	}
	wipe_free(hash);
	if (rc < 0 && lenient) {
		aerr_clear(err);
		return 0;
	}
	return rc;
}

char *edge_ca_path(const config *cfg)
{
	const char *dir = config_get(cfg, "AEGIS_GENERATED_DIR");
	if (dir && *dir)
		return fs_join(dir, EDGE_CA_FILE);
	cleanup_free char *gen = fs_join(cfg->root, "generated");
	return fs_join(gen, EDGE_CA_FILE);
}
