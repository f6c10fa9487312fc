/* Password hashes for services that check a password against a stored hash
 * (the edge's basic auth): bcrypt through crypt(3) (libxcrypt). */
#ifndef AEGIS_PASSHASH_H
#define AEGIS_PASSHASH_H

#include "util/error.h"

#define PASSHASH_BCRYPT_COST 10

/* The bcrypt ("$2b$") hash of PASSWORD (newly allocated in *OUT).  The salt
 * is derived from the password itself (SHA-256 under a fixed label), so the
 * same password always gives the same hash: a rendered manifest that carries
 * it stays byte-identical from one deploy to the next and the pod is kept.
 * The passwords hashed here are generated (256 bits), which is what makes a
 * per-password rather than random salt acceptable. */
int passhash_bcrypt(const char *password, char **out, aerr_t *err);

/* Does PASSWORD match HASH (any crypt(3) hash)?  1 yes, 0 no, -1 error. */
int passhash_verify(const char *password, const char *hash, aerr_t *err);

#endif
