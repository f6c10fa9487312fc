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

#include "config.h"
#include "strbuf.h"

/* The Pod of a (non-lenient) rendering carries this label: the first
 * MANIFEST_HASH_BYTES bytes of the SHA-256 of the manifest without it, in hex. */
#define MANIFEST_HASH_LABEL "aegis.io/manifest-hash"
#define MANIFEST_HASH_BYTES 8

typedef struct render_opts {
	/* Leave ${VAR} of unset variables as written instead of failing
	 * (plan and status need the structure, not the secrets). */
	bool lenient;
} render_opts;

typedef struct rendered {
	char *yaml; /* the manifest (all documents) */
	size_t len;
	bool has_secrets; /* a secret variable was substituted */
} rendered;

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
