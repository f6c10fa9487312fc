#include "bootstrap/sealkeys.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <yaml.h>

#include "rollout/rollout.h"
#include "util/fsutil.h"
#include "util/yamldoc.h"

/* The aegis.io/seal-key annotation of the Pod document of MANIFEST (newly
 * allocated), or NULL. */
static char *seal_key_annotation(const rendered *manifest)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return NULL;
	yaml_parser_set_input_string(&parser, (const unsigned char *)manifest->yaml, manifest->len);
	char *found = NULL;
	for (;;) {
		yaml_document_t doc;
		aerr_t err = {0};
		if (ydoc_next(&parser, "manifest", &doc, &err) <= 0)
			break;
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		const char *kind = ydoc_str(ydoc_get(&doc, root, "kind"));
		if (kind && strcmp(kind, "Pod") == 0) {
			yaml_node_t *ann =
			    ydoc_get(&doc, ydoc_get(&doc, root, "metadata"), "annotations");
			const char *v =
			    ann ? ydoc_str(ydoc_get(&doc, ann, SEALKEYS_ANNOTATION)) : NULL;
			found = v && *v ? xstrdup(v) : NULL;
		}
		yaml_document_delete(&doc);
		if (found)
			break;
	}
	yaml_parser_delete(&parser);
	return found;
}

bool sealkeys_needed(const deployment *d)
{
	for (size_t i = 0; i < d->npods; i++) {
		char *a = seal_key_annotation(&d->manifests[i]);
		free(a);
		if (a)
			return true;
	}
	return false;
}

static int keys_dir(const deployment *d, const char **dir, aerr_t *err)
{
	*dir = config_get(&d->cfg, SEALKEYS_DIR_VAR);
	if (!*dir || !**dir)
		return aerr_set(err, AEGIS_ECONFIG, "%s is not set", SEALKEYS_DIR_VAR);
	return 0;
}

int sealkeys_ensure(const deployment *d, keys_result *out, aerr_t *err)
{
	memset(out, 0, sizeof *out);
	if (!sealkeys_needed(d))
		return 0;
	const char *dir;
	if (keys_dir(d, &dir, err) < 0)
		return -1;
	if (keys_generate(dir, false, out, err) < 0)
		return aerr_wrap(err, "SEAL keys in %s (%s)", dir, SEALKEYS_DIR_VAR);
	return 0;
}

/* The command that prints the key at WHERE inside the container: a file
 * ("/path") or an environment variable ("env:NAME", whose value only the
 * container's shell sees; argv holds its name, never the key). */
static char *read_key_script(const char *where, aerr_t *err)
{
	if (strncmp(where, "env:", 4) != 0)
		return xasprintf("cat -- '%s'", where);
	const char *name = where + 4;
	if (!*name ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
		strlen(name)) {
		aerr_set(err, AEGIS_ECONFIG, "\"%s\": not an environment variable name", name);
		return NULL;
	}
	return xasprintf("printf '%%s' \"$%s\"", name);
}

static void check_pod(podman *pm, const deployment *d, size_t i, const char *want,
		      const char *annotation, sealkey_check *c)
{
	const pod *p = &d->pods[i];
	c->pod = xstrdup(p->name);
	const char *colon = strchr(annotation, ':');
	const container *ct = NULL;
	for (size_t k = 0; colon && k < p->ncontainers; k++)
		if (strlen(p->containers[k].name) == (size_t)(colon - annotation) &&
		    strncmp(p->containers[k].name, annotation, (size_t)(colon - annotation)) == 0)
			ct = &p->containers[k];
	if (!ct || (colon[1] != '/' && strncmp(colon + 1, "env:", 4) != 0) ||
	    strchr(colon + 1, '\'')) {
		c->detail = xasprintf("annotation %s \"%s\": expected CONTAINER:/path or "
				      "CONTAINER:env:NAME with a container of the pod",
				      SEALKEYS_ANNOTATION, annotation);
		return;
	}
	c->container = rollout_container_name(p, ct);
	c->path = xstrdup(colon + 1);
	aerr_t err = {0};
	cleanup_free char *script = read_key_script(c->path, &err);
	if (!script) {
		c->detail = xstrdup(err.msg);
		return;
	}
	char *const argv[] = {"/bin/sh", "-c", script, NULL};
	char *pem = NULL;
	int code = -1;
	if (podman_exec(pm, c->container, argv, 10, &code, &pem, &err) < 0) {
		c->detail = xstrdup(err.msg);
	} else if (code != 0 || !pem || !*pem) {
		c->detail = xasprintf("%s: cannot read %s (exit %d%s)", c->container, c->path, code,
				      code == 0 ? ", empty" : "");
	} else {
		cleanup_free char *source = xasprintf("%s:%s", c->container, c->path);
		if (keys_fingerprint_pem(pem, strlen(pem), KEYS_RSA, source, c->fingerprint,
					 sizeof c->fingerprint, &err) < 0)
			c->detail = xstrdup(err.msg);
		else if (strcmp(c->fingerprint, want) != 0)
			c->detail =
			    xasprintf("%s holds %s, not the keypair's %s (redeploy the pod)",
				      c->path, c->fingerprint, want);
		else
			c->ok = true;
	}
	if (pem) {
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
	}
}

int sealkeys_check(podman *pm, const deployment *d, char want[96], sealkey_check **out, size_t *n,
		   aerr_t *err)
{
	*out = NULL;
	*n = 0;
	want[0] = '\0';
	if (!sealkeys_needed(d))
		return 0;
	const char *dir;
	if (keys_dir(d, &dir, err) < 0)
		return -1;
	cleanup_free char *pub = fs_join(dir, KEYS_JWT_PUBLIC_FILE);
	char *pem = NULL;
	size_t len = 0;
	if (fs_read_file(pub, &pem, &len, err) < 0)
		return aerr_wrap(err, "the SEAL JWT public key (run generate-keys)");
	int rc = keys_fingerprint_pem(pem, len, KEYS_RSA, pub, want, 96, err);
	free(pem);
	if (rc < 0)
		return -1;
	sealkey_check *checks = xcalloc(d->npods, sizeof *checks);
	size_t k = 0;
	for (size_t i = 0; i < d->npods; i++) {
		char *a = seal_key_annotation(&d->manifests[i]);
		if (!a)
			continue;
		check_pod(pm, d, i, want, a, &checks[k++]);
		free(a);
	}
	*out = checks;
	*n = k;
	return 0;
}

void sealkey_checks_free(sealkey_check *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].pod);
		free(c[i].container);
		free(c[i].path);
		free(c[i].detail);
	}
	free(c);
}
