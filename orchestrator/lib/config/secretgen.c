#include "config/secretgen.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "config/env.h"
#include "config/schema.h"
#include "util/fsutil.h"
#include "util/wipe.h"

/* Length of a generated secret, in random bytes (43 characters encoded). */
#define SECRET_BYTES 32

int secret_generate(size_t bytes, char **out, aerr_t *err)
{
	unsigned char raw[64];
	if (bytes == 0 || bytes > sizeof raw)
		return aerr_set(err, AEGIS_EFAIL, "secret length %zu out of range", bytes);
	if (RAND_bytes(raw, (int)bytes) != 1)
		return aerr_set(err, AEGIS_EFAIL, "RAND_bytes failed: %s",
				ERR_error_string(ERR_get_error(), NULL));
	char *s = xmalloc(4 * ((bytes + 2) / 3) + 1);
	int n = EVP_EncodeBlock((unsigned char *)s, raw, (int)bytes);
	OPENSSL_cleanse(raw, sizeof raw);
	while (n > 0 && s[n - 1] == '=')
		n--;
	s[n] = '\0';
	for (char *p = s; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	*out = s;
	return 0;
}

/* Generate a value for every variable of SC to generate that BASE leaves
 * empty: names in OUT, values in VALUES (both SC->n long). */
static int generate_missing(const schema *sc, const env_file *base, secret_fill *out, char **values,
			    aerr_t *err)
{
	for (size_t i = 0; i < sc->n; i++) {
		const schema_var *v = &sc->vars[i];
		const env_entry *e = env_find(base, v->name);
		if (!v->generate || (e && *e->value))
			continue;
		if (secret_generate(SECRET_BYTES, &values[out->n], err) < 0)
			return -1;
		out->names[out->n++] = xstrdup(v->name);
	}
	return 0;
}

int secret_fill_env(const char *schema_path, const char *env_path, const char *from, bool fill,
		    secret_fill *out, aerr_t *err)
{
	*out = (secret_fill){0};
	bool exists = fs_exists(env_path);
	if (exists && !fill)
		return aerr_set(err, AEGIS_ECONFIG,
				"%s already exists; it is never overwritten (use 'init --fill' to "
				"add missing secrets to it)",
				env_path);
	schema sc;
	if (schema_load(schema_path, &sc, err) < 0)
		return -1;
	env_file base;
	if (env_load(exists ? env_path : from, false, &base, err) < 0) {
		schema_free(&sc);
		return -1;
	}
	out->names = xcalloc(sc.n ? sc.n : 1, sizeof *out->names);
	char **values = xcalloc(sc.n ? sc.n : 1, sizeof *values);
	int rc = generate_missing(&sc, &base, out, values, err);
	const char *const *keys = (const char *const *)out->names;
	if (rc == 0 && exists) {
		rc = env_update(env_path, out->n, keys, (const char *const *)values, NULL, err);
	} else if (rc == 0) {
		bool changed = false;
		char *text = env_edit(&base, out->n, keys, (const char *const *)values, &changed);
		rc = fs_write_atomic(env_path, text, strlen(text), 0600, err);
		wipe_free(text);
		out->created = rc == 0;
	}
	for (size_t i = 0; i < out->n; i++)
		wipe_free(values[i]);
	free(values);
	env_free(&base);
	schema_free(&sc);
	if (rc < 0)
		secret_fill_free(out);
	return rc;
}

void secret_fill_free(secret_fill *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
	*f = (secret_fill){0};
}
