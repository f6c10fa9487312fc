/* Credentials changed through a service's HTTP API: Keycloak's administrator
 * and Grafana's admin user.  See credential.h. */
#include "bootstrap/credential.h"

int credential_keycloak_admin(const credential_target *t, const char *old_value,
			      const char *new_value, bool *already, aerr_t *err)
{
	(void)t, (void)old_value, (void)new_value;
	*already = false;
	return aerr_set(err, AEGIS_EFAIL, "changing KEYCLOAK_ADMIN_PASSWORD is not implemented");
}

int credential_grafana_admin(const credential_target *t, const char *old_value,
			     const char *new_value, bool *already, aerr_t *err)
{
	(void)t, (void)old_value, (void)new_value;
	*already = false;
	return aerr_set(err, AEGIS_EFAIL, "changing GRAFANA_ADMIN_PASSWORD is not implemented");
}
