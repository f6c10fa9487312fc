/* SEAL keys, through OpenSSL's EVP API: two pairs in one directory.
 *
 *   private.pem / public.pem                  Ed25519, the pair the product
 *       page documents for `generate-keys`.
 *   seal-jwt-private.pem / seal-jwt-public.pem  RSA-2048, the pair the AEGIS
 *       images use: the runtime signs its RS256 SEAL JWTs with the private key
 *       (AEGIS_SEAL_PRIVATE_KEY) and the SEAL gateway verifies them with the
 *       public key (SEAL_GATEWAY_SEAL_JWT_PUBLIC_KEY_PEM); see
 *       kube/contracts.yaml. */
#ifndef AEGIS_KEYS_H
#define AEGIS_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

typedef struct keys_result {
	char *private_path;   /* DIR/private.pem, PKCS#8 PEM, 0600 */
	char *public_path;    /* DIR/public.pem, SPKI PEM, 0644 */
	char fingerprint[96]; /* "SHA256:<hex of the DER SPKI>" */
	bool generated;	      /* false when existing keys were kept */
	/* the RSA pair of the SEAL JWTs, likewise */
	char *jwt_private_path;
	char *jwt_public_path;
	char jwt_fingerprint[96];
	bool jwt_generated;
} keys_result;

#define KEYS_JWT_PRIVATE_FILE "seal-jwt-private.pem"
#define KEYS_JWT_PUBLIC_FILE "seal-jwt-public.pem"
#define KEYS_JWT_RSA_BITS 2048

typedef enum keys_type { KEYS_ED25519, KEYS_RSA } keys_type;

/* Ensure both keypairs in DIR (created 0700).  An existing pair is kept
 * (and checked to be a matching pair of its type) unless FORCE; a missing
 * pair is generated (so a directory of an older release gains the RSA pair
 * without --force).  Never writes through a symlink; writes are atomic. */
int keys_generate(const char *dir, bool force, keys_result *out, aerr_t *err);
void keys_result_free(keys_result *r);

/* The fingerprint ("SHA256:<hex>", as keys_generate reports it) of the key
 * of type TYPE in PEM (a PKCS#8 or PKCS#1 private key: of its public half;
 * or an SPKI public key).  SOURCE names the key in errors, also when it is
 * of another type.  The caller wipes PEM. */
int keys_fingerprint_pem(const char *pem, size_t len, keys_type type, const char *source, char *out,
			 size_t size, aerr_t *err);

#endif
