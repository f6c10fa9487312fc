/* SEAL signing keys: Ed25519 through OpenSSL's EVP API. */
#ifndef AEGIS_KEYS_H
#define AEGIS_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef struct keys_result {
	char *private_path;   /* DIR/private.pem, PKCS#8 PEM, 0600 */
	char *public_path;    /* DIR/public.pem, SPKI PEM, 0644 */
	char fingerprint[96]; /* "SHA256:<hex of the DER SPKI>" */
	bool generated;	      /* false when existing keys were kept */
} keys_result;

/* Ensure an Ed25519 keypair in DIR (created 0700).  Existing keys are kept
 * (and checked to be a matching Ed25519 pair) unless FORCE.  Never writes
 * through a symlink; writes are atomic. */
int keys_generate(const char *dir, bool force, keys_result *out, aerr_t *err);
void keys_result_free(keys_result *r);

/* The fingerprint ("SHA256:<hex>", as keys_generate reports it) of the Ed25519
 * key in PEM (a PKCS#8 private key: of its public half; or an SPKI public
 * key).  SOURCE names the key in errors.  The caller wipes PEM. */
int keys_fingerprint_pem(const char *pem, size_t len, const char *source, char *out, size_t size,
			 aerr_t *err);

#endif
