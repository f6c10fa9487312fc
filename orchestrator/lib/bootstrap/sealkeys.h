/* The SEAL keys (generate-keys, keys.h) in use.  The images read the RSA
 * pair of the SEAL JWTs from their environment (kube/contracts.yaml):
 * pod-core the private key as AEGIS_SEAL_PRIVATE_KEY, through the pod's
 * Podman secret, pod-seal-gateway the public key.  A pod names the key it
 * holds in its annotation aegis.io/seal-key: "container:env:NAME" (an
 * environment variable of the container) or "container:/path" (a file). */
#ifndef AEGIS_SEALKEYS_H
#define AEGIS_SEALKEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "bootstrap/keys.h"
#include "config/deployment.h"
#include "podman/podman.h"

#define SEALKEYS_ANNOTATION "aegis.io/seal-key"
#define SEALKEYS_DIR_VAR "SEAL_KEYS_DIR"

/* Does any pod of D hold a SEAL key? */
bool sealkeys_needed(const deployment *d);

/* Before the rollout: the keypairs in SEAL_KEYS_DIR, generated when missing
 * (as generate-keys: an existing matching pair is kept).  When it generated
 * one (OUT->generated or OUT->jwt_generated), load the deployment again:
 * its rendering read the keys that were there before.  Nothing to do (0,
 * OUT zeroed) when no pod of D holds a key. */
int sealkeys_ensure(const deployment *d, keys_result *out, aerr_t *err);

typedef struct sealkey_check {
	char *pod;
	char *container; /* the Podman container name */
	char *path;	 /* the key's path in the container */
	bool ok;
	char fingerprint[96]; /* of the key found in the container */
	char *detail;	      /* why it failed, or NULL */
} sealkey_check;

/* For every pod of D that holds a key: read it inside the running
 * container (the private key only in memory, wiped) and compare its
 * fingerprint with the RSA pair of the SEAL JWTs in SEAL_KEYS_DIR (WANT gets
 * that fingerprint).  Returns 0 when the checks ran, whatever their results. */
int sealkeys_check(podman *pm, const deployment *d, char want[96], sealkey_check **out, size_t *n,
		   aerr_t *err);
void sealkey_checks_free(sealkey_check *c, size_t n);

#endif
