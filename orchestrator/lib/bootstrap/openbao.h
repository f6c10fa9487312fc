/* OpenBao (pod-secrets) through its HTTP API: bring it to a usable state and
 * apply the declaration of kube/secrets/bootstrap.yaml to it.
 *
 * sys/health says where it stands: 200 active, 429 standby, 472 / 473
 * disaster-recovery / performance standby (not the node to configure), 501
 * not initialised, 503 sealed.  Not initialised: sys/init, and its answer
 * (unseal keys, root token) is saved to GENERATED_DIR/openbao-init.json
 * (0600, in a 0700 directory, atomically) before anything uses it.  Sealed:
 * sys/unseal with the saved keys.  Then each declared item is read and
 * written only when missing or different; nothing is deleted.  The root
 * token travels only in the X-Vault-Token header. */
#ifndef AEGIS_OPENBAO_H
#define AEGIS_OPENBAO_H

#include <jansson.h>
#include <stdbool.h>

#include "util/error.h"

#define OPENBAO_INIT_FILE "openbao-init.json"
#define OPENBAO_OIDC_FILE "openbao-oidc.json"

enum {
	/* auth methods, mounts, policies, the AppRole role, tenants, and the
	 * AppRole credentials */
	OPENBAO_CORE = 1 << 0,
	/* the OIDC auth method against Keycloak (needs its client secret) */
	OPENBAO_OIDC = 1 << 1,
};

typedef struct openbao_opts {
	const char *addr;	   /* OPENBAO_ADDR */
	const char *cacert;	   /* CA file for https, or NULL */
	const json_t *desired;	   /* kube/secrets/bootstrap.yaml, loaded */
	const char *generated_dir; /* where openbao-init.json lives */
	int shares, threshold;	   /* > 0: instead of the declared init values */
	int wait_s;		   /* how long sys/health may take to answer */
	unsigned steps;		   /* OPENBAO_CORE | OPENBAO_OIDC */
	/* AppRole credentials known so far: kept when they still log in */
	const char *role_id, *secret_id;
	const char *oidc_client_secret; /* for OPENBAO_OIDC */
	void (*trace)(void *ctx, const char *line);
	void *trace_ctx;
} openbao_opts;

typedef struct openbao_result {
	json_t *log;	 /* [{"item", "result"}]: what was created, changed, unchanged */
	char *role_id;	 /* OPENBAO_CORE: the AppRole credentials to use */
	char *secret_id; /* (wiped by openbao_result_free) */
} openbao_result;

int openbao_bootstrap(const openbao_opts *o, openbao_result *res, aerr_t *err);
void openbao_result_free(openbao_result *res);

/* The readiness gate of pod-secrets after a restart (OpenBao always starts
 * sealed): sys/health, and when sealed, sys/unseal with the keys of
 * O->generated_dir/openbao-init.json, then wait until active.  Only addr,
 * cacert, generated_dir, wait_s and trace of O are used; nothing else is
 * touched.  0 when OpenBao is initialised and unsealed (*UNSEALED: by this
 * call), or not initialised and ALLOW_UNINIT (the bootstrap initialises it);
 * -1 with ERR otherwise (sealed without the file, keys of another
 * initialisation, a standby node, no answer). */
int openbao_unseal_saved(const openbao_opts *o, bool allow_uninit, bool *unsealed, aerr_t *err);

/* The unseal key shares and threshold sys/init would be given: O's
 * override (> 0), else the declaration's init (1 when absent), checked with
 * the rules OpenBao applies to a seal configuration, so that a split it would
 * refuse (3 shares with threshold 1, say) is refused here, before anything is
 * touched: a configuration error (2) naming where each number came from.
 * openbao_bootstrap does this first. */
int openbao_init_split(const openbao_opts *o, int *shares, int *threshold, aerr_t *err);

/* One GET sys/health: *STATUS is its HTTP status (see above). */
int openbao_health(const char *addr, const char *cacert, long *status, aerr_t *err);

#endif
