/* Keycloak (pod-iam) through its admin REST API: apply the declaration of
 * kube/iam/realm.yaml -- realms, realm roles, clients, users and their realm
 * roles.  Every item is read first and created or updated only where it
 * differs from the declaration (409 on create: someone else made it; it is
 * read and compared like an existing one).  Nothing is deleted.
 *
 * The administrator's token comes from the master realm (admin-cli, password
 * grant) and is renewed when it expires.  Initial passwords of declared users
 * without one are generated and saved to GENERATED_DIR/keycloak-passwords.json
 * (0600, atomically) before the user is created. */
#ifndef AEGIS_KEYCLOAK_H
#define AEGIS_KEYCLOAK_H

#include <jansson.h>
#include <stdbool.h>

#include "util/error.h"
#include "util/http.h"

#define KEYCLOAK_PASSWORDS_FILE "keycloak-passwords.json"

typedef struct keycloak_opts {
	const char *url;	    /* KEYCLOAK_URL */
	const char *cacert;	    /* CA file for https, or NULL */
	const char *admin_user;	    /* KEYCLOAK_ADMIN */
	const char *admin_password; /* KEYCLOAK_ADMIN_PASSWORD */
	const json_t *desired;	    /* kube/iam/realm.yaml, loaded */
	const char *generated_dir;
	int wait_s; /* how long Keycloak may take to answer */
	void (*trace)(void *ctx, const char *line);
	void *trace_ctx;
} keycloak_opts;

typedef struct keycloak_secret {
	char *realm, *client_id;
	char *variable; /* the configuration variable it goes to (secret_env) */
	char *value;
} keycloak_secret;

typedef struct keycloak_result {
	json_t *log;		  /* [{"item", "result"}] */
	keycloak_secret *secrets; /* client secrets of clients declaring secret_env */
	size_t nsecrets;
	json_t *passwords; /* {"realm": {"user": "password"}} of declared users
			      whose password was generated (saved ones included) */
} keycloak_result;

int keycloak_apply(const keycloak_opts *o, keycloak_result *res, aerr_t *err);
void keycloak_result_free(keycloak_result *res);

/* The master realm's token endpoint, where an administrator logs in. */
#define KEYCLOAK_TOKEN_PATH "/realms/master/protocol/openid-connect/token"

/* POST KEYCLOAK_TOKEN_PATH on C: the password grant of USER / PASSWORD for
 * admin-cli, as http_do (ACCEPT: the statuses that are not errors, NULL:
 * 2xx).  The password travels in the form body only. */
int keycloak_password_grant(http_client *c, const char *user, const char *password,
			    const long *accept, http_response *r, aerr_t *err);

/* Is REALM there?  GET /realms/REALM (public): *PRESENT true on 200. */
int keycloak_realm_present(const char *url, const char *cacert, const char *realm, bool *present,
			   aerr_t *err);

#endif
