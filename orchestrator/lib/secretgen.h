/* Strong random secrets (OpenSSL RAND_bytes), URL-safe base64 without padding. */
#ifndef AEGIS_SECRETGEN_H
#define AEGIS_SECRETGEN_H

#include <stddef.h>

#include "error.h"

/* BYTES random bytes encoded URL-safe (newly allocated in *out). */
int secret_generate(size_t bytes, char **out, aerr_t *err);

#endif
