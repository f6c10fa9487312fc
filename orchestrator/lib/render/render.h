/* Rendering a pod template into a Kube manifest.
 *
 * The template is parsed with libyaml; ${VAR} and ${VAR:-default} are
 * substituted inside scalar values of the parsed tree, and the result is
 * emitted by libyaml's emitter, so any value (quotes, newlines, ": ", "#",
 * "{", "&", "*", "---", leading spaces) comes out as exactly that string.
 * A scalar tagged !file NAME is replaced by the contents of the file NAME
 * beside the template (config files mounted through ConfigMaps). */
#ifndef AEGIS_RENDER_H
#define AEGIS_RENDER_H

#include <stdbool.h>

#include "config/config.h"
#include "util/strbuf.h"

/* The Pod of a (non-lenient) rendering carries this label: the first
 * MANIFEST_HASH_BYTES bytes of the SHA-256 of the manifest without it and of
 * the values its secretKeyRefs name (rendered.secrets), in hex. */
#define MANIFEST_HASH_LABEL "aegis.io/manifest-hash"
#define MANIFEST_HASH_BYTES 8

typedef struct render_opts {
	/* Leave ${VAR} of unset variables as written instead of failing
	 * (plan and status need the structure, not the secrets). */
	bool lenient;
	/* The Podman secret of this pod (render_pod_secret_name), or NULL.
	 * When set, a container's env value holding a secret becomes
	 * valueFrom.secretKeyRef {name: SECRET_NAME, key} and the value goes
	 * to rendered.secrets instead of the manifest: the variable's name is
	 * the key of a value that is exactly ${VAR} (VAR_URLENCODED for
	 * ${VAR|url}); a value that embeds a secret in other text (a URL with
	 * the password) is stored whole under the env var's name, because
	 * Podman 4.3 does not expand $(VAR) in env values.  Equal keys with
	 * different values get a suffix _2, _3, ... */
	const char *secret_name;
} render_opts;

/* One value of a pod's Podman secret. */
typedef struct render_secret {
	char *key;
	char *value; /* wiped when freed */
	size_t len;
} render_secret;

typedef struct rendered {
	char *yaml; /* the manifest (all documents) */
	size_t len;
	bool has_secrets; /* a secret value is in YAML (not one moved to SECRETS) */
	/* with render_opts.secret_name: the values its secretKeyRefs name, in
	 * the order met; they count in the manifest-hash label, so a changed
	 * secret replaces exactly the pods that use it */
	render_secret *secrets;
	size_t nsecrets;
	char *secret_name; /* render_opts.secret_name, when SECRETS is not empty */
} rendered;

/* The Podman secret of pod POD ("aegis-secrets-POD"; newly allocated). */
#define RENDER_POD_SECRET_PREFIX "aegis-secrets-"
char *render_pod_secret_name(const char *pod);

/* Render the template at PATH with values from CFG.  An unset variable with
 * no default is an error naming PATH:LINE, the variable and its description. */
/* Append TEXT percent-encoded as a URL component (RFC 3986), as the "|url"
 * filter does: every byte but the unreserved ones (letters, digits, "-._~")
 * becomes %XX, so the component decodes to exactly TEXT whatever it holds. */
void render_url_encode(strbuf *out, const char *text, size_t len);

int render_template(const char *path, const config *cfg, const render_opts *opts, rendered *out,
		    aerr_t *err);
void rendered_free(rendered *r);

#endif
