/* Strong random secrets (OpenSSL RAND_bytes), URL-safe base64 without
 * padding, and the .env they are written to (what `init` does). */
#ifndef AEGIS_SECRETGEN_H
#define AEGIS_SECRETGEN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* BYTES random bytes encoded URL-safe (newly allocated in *out). */
int secret_generate(size_t bytes, char **out, aerr_t *err);

/* What secret_fill_env did. */
typedef struct secret_fill {
	bool created; /* ENV_PATH did not exist and was created from FROM */
	char **names; /* the variables that were given a generated value */
	size_t n;
} secret_fill;

/* Fill every variable of the schema at SCHEMA_PATH marked generate: true
 * that has no value with a strong random one.  Without FILL, ENV_PATH must
 * not exist: it is created from the template FROM, atomically, mode 0600
 * (an existing file is a configuration error, never overwritten).  With
 * FILL, an existing ENV_PATH gets only the missing values (every other byte
 * kept; a missing one is created from FROM as without FILL).  No value is
 * ever returned or shown; OUT names the variables. */
int secret_fill_env(const char *schema_path, const char *env_path, const char *from, bool fill,
		    secret_fill *out, aerr_t *err);
void secret_fill_free(secret_fill *f);

#endif
