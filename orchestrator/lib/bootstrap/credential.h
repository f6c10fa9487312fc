/* Changing a credential inside the service that stores it (`rotate`).
 *
 * PostgreSQL, Keycloak and Grafana read their administrator's password from
 * the environment only when their data is first created; later they keep
 * the one in their data.  Changing the variable in .env alone therefore
 * locks every client out.  Each function here makes the service accept
 * NEW_VALUE and refuse OLD_VALUE, through the service's own means (SQL
 * through exec, an admin REST API).  It is idempotent: when NEW_VALUE is
 * already the one the service accepts (a re-run after a kill), it sets
 * *ALREADY and changes nothing.  Neither value ever reaches a process's
 * arguments, a log line or an error message. */
#ifndef AEGIS_CREDENTIAL_H
#define AEGIS_CREDENTIAL_H

#include <stdbool.h>

#include "config/config.h"
#include "podman/podman.h"
#include "util/error.h"

typedef struct credential_target {
	const config *cfg;  /* resolved configuration: URLs, users, ports */
	podman *pm;	    /* the Podman API (exec), or NULL where unused */
	const char *cacert; /* CA file for https URLs, or NULL */
	int wait_s;	    /* how long the service may take to answer */
	void (*trace)(void *ctx, const char *line);
	void *trace_ctx;
} credential_target;

typedef int (*credential_fn)(const credential_target *t, const char *old_value,
			     const char *new_value, bool *already, aerr_t *err);

/* KEYCLOAK_ADMIN_PASSWORD: the master realm's KEYCLOAK_ADMIN through the
 * admin REST API (credential_http.c). */
int credential_keycloak_admin(const credential_target *t, const char *old_value,
			      const char *new_value, bool *already, aerr_t *err);
/* GRAFANA_ADMIN_PASSWORD: Grafana's admin user through its HTTP API
 * (credential_http.c). */
int credential_grafana_admin(const credential_target *t, const char *old_value,
			     const char *new_value, bool *already, aerr_t *err);

/* POSTGRES_PASSWORD: ALTER ROLE of the platform's role through podman exec
 * in pod-database's postgres container over its local socket, the value
 * handed in the exec's environment, never in an argument
 * (credential_exec.c).  Then checked over TCP: the new value logs in, the
 * old one is refused. */
int credential_postgres(const credential_target *t, const char *old_value, const char *new_value,
			bool *already, aerr_t *err);
/* OPENBAO_SECRET_ID: a new secret-id of the runtime's AppRole role, issued
 * by OpenBao with the root token the bootstrap keeps (*NEW_VALUE newly
 * allocated) (credential_exec.c). */
int credential_approle_issue(const credential_target *t, const char *old_value, char **new_value,
			     aerr_t *err);
/* OPENBAO_SECRET_ID, once the pods use NEW_VALUE: the old secret-id
 * destroyed, then its login checked to be refused; *ALREADY when OpenBao
 * no longer knew it. */
int credential_approle_retire(const credential_target *t, const char *old_value,
			      const char *new_value, bool *already, aerr_t *err);

#endif
