/* Credentials changed inside their service by exec or by OpenBao's API:
 * PostgreSQL's role password and OpenBao's AppRole secret-id.  See
 * credential.h. */
#include "bootstrap/credential.h"

int credential_postgres(const credential_target *t, const char *old_value, const char *new_value,
			bool *already, aerr_t *err)
{
	(void)t, (void)old_value, (void)new_value;
	*already = false;
	return aerr_set(err, AEGIS_EFAIL, "changing POSTGRES_PASSWORD is not implemented yet");
}

int credential_approle_issue(const credential_target *t, const char *old_value, char **new_value,
			     aerr_t *err)
{
	(void)t, (void)old_value;
	*new_value = NULL;
	return aerr_set(err, AEGIS_EFAIL, "issuing OPENBAO_SECRET_ID is not implemented yet");
}

int credential_approle_retire(const credential_target *t, const char *old_value,
			      const char *new_value, bool *already, aerr_t *err)
{
	(void)t, (void)old_value, (void)new_value;
	*already = false;
	return aerr_set(err, AEGIS_EFAIL, "retiring OPENBAO_SECRET_ID is not implemented yet");
}
