/* The bootstrap of OpenBao and Keycloak from the configuration: what the
 * commands bootstrap-secrets and bootstrap-keycloak do, and what deploy does
 * once pod-secrets and pod-iam are ready.
 *
 *   declaration (kube/secrets/bootstrap.yaml, kube/iam/realm.yaml, rendered
 *   with the configuration) -> openbao.c / keycloak.c at OPENBAO_ADDR /
 *   KEYCLOAK_URL -> what they hand back, stored: .env (only the variables
 *   concerned; every other byte kept) and files under generated/ (0600 in a
 *   0700 directory, written atomically, only when their content differs). */
#ifndef AEGIS_BOOTSTRAP_H
#define AEGIS_BOOTSTRAP_H

#include <jansson.h>
#include <stdbool.h>

#include "bootstrap/openbao.h"
#include "config/config.h"
#include "config/deployment.h"

#define BOOTSTRAP_APPROLE_FILE "openbao-approle.env"
#define BOOTSTRAP_CLIENTS_FILE "keycloak-clients.env"
#define BOOTSTRAP_SECRETS_DECL "kube/secrets/bootstrap.yaml"
#define BOOTSTRAP_REALMS_DECL "kube/iam/realm.yaml"

typedef struct bootstrap_opts {
	const char *cacert;	   /* --cacert; NULL: AEGIS_CACERT */
	const char *generated_dir; /* NULL: AEGIS_GENERATED_DIR */
	int shares, threshold;	   /* OpenBao's sys/init: > 0 overrides the declaration */
	int wait_s;		   /* how long a service may take to answer (0: 60 s) */
	void (*trace)(void *ctx, const char *line); /* each HTTP request, for -v */
	void *trace_ctx;
} bootstrap_opts;

typedef struct bootstrap_result {
	json_t *log;	     /* [{"item", "result"[, "detail"]}] */
	json_t *env_changed; /* names of the .env variables that were written */
	json_t *passwords;   /* Keycloak: {"realm": {"user": "password"}}, generated ones */
	bool oidc_pending;   /* OpenBao's OIDC step waits for the Keycloak client secret */
} bootstrap_result;

/* OpenBao: STEPS of OPENBAO_CORE | OPENBAO_OIDC.  OPENBAO_OIDC while the
 * client secret (oidc.client_secret_variable) is still empty is recorded as
 * skipped and sets oidc_pending.  With OPENBAO_CORE, the AppRole credentials
 * go to OPENBAO_ROLE_ID / OPENBAO_SECRET_ID in .env and to
 * generated/openbao-approle.env. */
int bootstrap_secrets(const config *cfg, const bootstrap_opts *o, unsigned steps,
		      bootstrap_result *res, aerr_t *err);

/* Keycloak: the client secrets declared with secret_env go to .env and
 * generated/keycloak-clients.env. */
int bootstrap_keycloak(const config *cfg, const bootstrap_opts *o, bootstrap_result *res,
		       aerr_t *err);

void bootstrap_result_free(bootstrap_result *res);

/* The pods whose readiness starts a bootstrap (deploy) and whose state
 * validate checks beyond their readiness probe. */
#define BOOTSTRAP_SECRETS_POD "secrets"
#define BOOTSTRAP_IAM_POD "iam"

/* validate's extra check (check_extra of validate.h): the first container
 * of pod-secrets and of pod-iam answering is not the whole story, their
 * check also requires what the bootstrap sets up (OpenBao initialised and
 * unsealed, every declared realm in Keycloak).  Runs in the check's thread. */
struct deployment;
struct check;
int bootstrap_validate_check(const struct deployment *d, const struct check *k, char **detail,
			     aerr_t *err);

/* Deploy's hook (rollout_opts.on_ready, with the hook as its context):
 * bootstrap-secrets once pod-secrets is ready, bootstrap-keycloak once
 * pod-iam is, and OpenBao's OIDC login once both have run (it needs the
 * Keycloak client secret), whichever order the two pods become ready in.
 * Hooks run one at a time, with D's configuration.  What a bootstrap writes
 * to .env is read back into it and the pods of later tiers are rendered
 * again, so they are played with the fresh values. */
typedef struct bootstrap_hook bootstrap_hook;

bootstrap_hook *bootstrap_hook_new(const deployment *d, const bootstrap_opts *o);
int bootstrap_on_ready(void *ctx, deployment *d, size_t pod, aerr_t *err);
/* {"services": {"OpenBao": [{"item", "result"}...], "Keycloak": [...]},
 *  "env_changed": [names of the .env variables written]} */
json_t *bootstrap_hook_report(const bootstrap_hook *h);
void bootstrap_hook_free(bootstrap_hook *h);

/* validate: is OpenBao bootstrapped (sys/health 200: initialised, unsealed,
 * active)?  Is every realm of kube/iam/realm.yaml present in Keycloak?
 * 0 when it is, with *FOUND (newly allocated) saying what was found; -1 with
 * ERR saying what is wrong (not initialised, sealed, a realm missing, no
 * answer). */
int bootstrap_check_secrets(const config *cfg, char **found, aerr_t *err);
/* What bootstrap_check_secrets' message starts with when OpenBao is sealed
 * (status shows the pod as sealed). */
#define BOOTSTRAP_SEALED "OpenBao sealed"

/* The readiness gate of pod-secrets, for its dependents: OpenBao
 * initialised and unsealed, unsealed here from generated/openbao-init.json
 * when a restart left it sealed (openbao_unseal_saved).  Run by the rollout
 * without the bootstrap hook (which unseals too) and by `wait --pod
 * secrets`, the systemd units' ExecStartPost.  ALLOW_UNINIT: a fresh
 * OpenBao passes (deploy --no-bootstrap). */
int bootstrap_unseal_gate(const config *cfg, const bootstrap_opts *o, bool allow_uninit,
			  bool *unsealed, aerr_t *err);

/* status's extra check: OpenBao's state behind pod-secrets' probe only
 * (bootstrap_check_secrets). */
int bootstrap_status_check(const struct deployment *d, const struct check *k, char **detail,
			   aerr_t *err);
int bootstrap_check_iam(const config *cfg, char **found, aerr_t *err);

#endif
