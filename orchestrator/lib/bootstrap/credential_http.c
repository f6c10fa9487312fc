/* Credentials changed through a service's HTTP API: Keycloak's administrator
 * and Grafana's admin user.  See credential.h.
 *
 * Both go the same way, so that a kill at any point leaves either the old
 * password in force or the new one, and a re-run finds out which: is the new
 * one accepted already (then nothing to do), else log in with the old one,
 * change it, and check that the new one is accepted and the old one is not.
 * Passwords travel in a form or JSON body or an Authorization header, never
 * in a URL; errors name the endpoint and the status, never a value. */
#include "bootstrap/credential.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "bootstrap/keycloak.h"
#include "util/clock.h"
#include "util/http.h"
#include "util/wipe.h"

#define POLL_MS 1000
#define DEFAULT_WAIT_S 60

static int open_client(http_client *c, const credential_target *t, const char *url,
		       const char *what, aerr_t *err)
{
	if (!url || !*url)
		return aerr_set(err, AEGIS_ECONFIG, "%s is not set", what);
	const char *ca = t->cacert ? t->cacert : config_get(t->cfg, "AEGIS_CACERT");
	if (http_client_init(c, url, ca, err) < 0)
		return aerr_wrap(err, "%s", what);
	c->trace = t->trace;
	c->trace_ctx = t->trace_ctx;
	return 0;
}

static double deadline_of(const credential_target *t)
{
	return clock_mono_s() + (t->wait_s > 0 ? t->wait_s : DEFAULT_WAIT_S);
}

/* A request body holding passwords: its strings wiped, then freed. */
static void decref_wiping(json_t *o)
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		if (json_is_string(v))
			wipe((char *)json_string_value(v), json_string_length(v));
	}
	json_decref(o);
}

/* After an exchange that returned RC with STATUS: try again?  Only when
 * nothing answered or the answer was a 5xx (the service starting), and
 * DEADLINE has not passed; then after a pause. */
static bool again(int rc, long status, double deadline)
{
	if (rc == 0 || (status && status < 500) || clock_mono_s() >= deadline)
		return false;
	clock_sleep_ms(POLL_MS);
	return true;
}

static int both_set(const char *variable, const char *old_value, const char *new_value, aerr_t *err)
{
	if (!old_value || !*old_value || !new_value || !*new_value)
		return aerr_set(err, AEGIS_ECONFIG,
				"%s: the current value and the new one must both be set", variable);
	return 0;
}

/* --- Keycloak ------------------------------------------------------------ */

static const long GRANT_ANSWERS[] = {200, 400, 401, 0};

/* Does Keycloak give USER an admin-cli token for PASSWORD?  *OK true on
 * 200 (*BEARER, when not NULL, gets "Bearer <token>"), false on 401
 * invalid_grant: the password grant's answer to a wrong password
 * (ResourceOwnerPasswordCredentialsGrantType -> "Invalid user credentials").
 * Anything else is an error: 400 "Account is not fully set up" for a
 * temporary password (a pending UPDATE_PASSWORD), 400 "Account disabled".
 * No answer, or a 5xx, is tried again until DEADLINE: Keycloak starting. */
static int kc_grant(http_client *c, const char *user, const char *password, double deadline,
		    bool *ok, char **bearer, aerr_t *err)
{
	*ok = false;
	for (;;) {
		http_response r;
		int rc = keycloak_password_grant(c, user, password, GRANT_ANSWERS, &r, err);
		if (rc == 0) {
			const char *error = json_string_value(json_object_get(r.body, "error"));
			const char *access =
			    json_string_value(json_object_get(r.body, "access_token"));
			if (r.status == 200 && access) {
				*ok = true;
				if (bearer)
					*bearer = xasprintf("Bearer %s", access);
			} else if (r.status == 401 && error &&
				   strcmp(error, "invalid_grant") == 0) {
				*ok = false;
			} else {
				cleanup_free char *text = http_error_text(r.body);
				rc = aerr_set(err, AEGIS_EFAIL, "POST %s: HTTP %ld%s%s",
					      KEYCLOAK_TOKEN_PATH, r.status, text ? ": " : "",
					      text ? text
						   : (r.status == 200 ? ": no access_token" : ""));
			}
		}
		long status = r.status;
		http_response_free(&r);
		if (!again(rc, status, deadline))
			return rc;
	}
}

/* The id of USER in the master realm (users?username=&exact=true, whose
 * match ignores case as Keycloak's user names do). */
static int kc_user_id(http_client *c, const char *bearer, const char *user, char **id, aerr_t *err)
{
	*id = NULL;
	cleanup_free char *esc = http_escape(user);
	cleanup_free char *path =
	    xasprintf("/admin/realms/master/users?username=%s&exact=true", esc);
	http_request rq = {
	    .method = "GET", .path = path, .token_name = "Authorization", .token_value = bearer};
	http_response r;
	int rc = http_do(c, &rq, &r, err);
	size_t i;
	json_t *u;
	json_array_foreach(rc == 0 ? r.body : NULL, i, u)
	{
		const char *name = json_string_value(json_object_get(u, "username"));
		const char *uid = json_string_value(json_object_get(u, "id"));
		if (name && uid && strcasecmp(name, user) == 0) {
			*id = xstrdup(uid);
			break;
		}
	}
	http_response_free(&r);
	if (rc == 0 && !*id)
		rc = aerr_set(err, AEGIS_EFAIL, "GET /admin/realms/master/users: no user '%s'",
			      user);
	return rc;
}

/* PUT .../users/ID/reset-password (UserResource.resetPassword, Keycloak
 * 008e3d4 services/.../resources/admin/UserResource.java, same in 24.0):
 * 204; 400 {"error": "No password provided" | "Empty password not allowed"},
 * or the realm's password policy refusing it: 400 {"error":
 * "invalidPasswordMinLengthMessage", "error_description": "Invalid password:
 * minimum length 12."} (PasswordPolicyNotMetException -> ErrorResponseException).
 * temporary:false also clears a pending UPDATE_PASSWORD.  Keycloak keeps the
 * user's sessions: tokens issued before stay valid until they expire. */
static int kc_reset(http_client *c, const char *bearer, const char *id, const char *value,
		    aerr_t *err)
{
	cleanup_free char *path = xasprintf("/admin/realms/master/users/%s/reset-password", id);
	json_t *body =
	    json_pack("{s:s, s:s, s:b}", "type", "password", "value", value, "temporary", 0);
	http_request rq = {.method = "PUT",
			   .path = path,
			   .token_name = "Authorization",
			   .token_value = bearer,
			   .json = body};
	http_response r;
	int rc = http_do(c, &rq, &r, err);
	http_response_free(&r);
	decref_wiping(body);
	return rc;
}

static int kc_change(http_client *c, const char *user, const char *old_value, const char *new_value,
		     double deadline, aerr_t *err)
{
	bool ok = false;
	cleanup_wipe char *bearer = NULL;
	if (kc_grant(c, user, old_value, deadline, &ok, &bearer, err) < 0)
		return aerr_wrap(err, "the current KEYCLOAK_ADMIN_PASSWORD");
	if (!ok)
		return aerr_set(err, AEGIS_EFAIL,
				"POST %s: HTTP 401 invalid_grant for both the current "
				"KEYCLOAK_ADMIN_PASSWORD and the new one: the password was "
				"changed by other means; put the one Keycloak accepts in .env",
				KEYCLOAK_TOKEN_PATH);
	cleanup_free char *id = NULL;
	if (kc_user_id(c, bearer, user, &id, err) < 0 ||
	    kc_reset(c, bearer, id, new_value, err) < 0)
		return -1;
	if (kc_grant(c, user, new_value, deadline, &ok, NULL, err) < 0)
		return aerr_wrap(err, "after the reset, the new KEYCLOAK_ADMIN_PASSWORD");
	if (!ok)
		return aerr_set(err, AEGIS_EFAIL,
				"after the reset, POST %s: HTTP 401 invalid_grant for the new "
				"KEYCLOAK_ADMIN_PASSWORD",
				KEYCLOAK_TOKEN_PATH);
	if (kc_grant(c, user, old_value, deadline, &ok, NULL, err) < 0)
		return aerr_wrap(err, "after the reset, the old KEYCLOAK_ADMIN_PASSWORD");
	if (ok)
		return aerr_set(err, AEGIS_EFAIL,
				"after the reset, POST %s: HTTP 200 for the old "
				"KEYCLOAK_ADMIN_PASSWORD: Keycloak still accepts it",
				KEYCLOAK_TOKEN_PATH);
	return 0;
}

int credential_keycloak_admin(const credential_target *t, const char *old_value,
			      const char *new_value, bool *already, aerr_t *err)
{
	*already = false;
	const char *user = config_get(t->cfg, "KEYCLOAK_ADMIN");
	if (!user || !*user)
		return aerr_set(err, AEGIS_ECONFIG, "KEYCLOAK_ADMIN is not set");
	if (both_set("KEYCLOAK_ADMIN_PASSWORD", old_value, new_value, err) < 0)
		return -1;
	http_client c;
	if (open_client(&c, t, config_get(t->cfg, "KEYCLOAK_URL"), "KEYCLOAK_URL", err) < 0)
		return -1;
	double deadline = deadline_of(t);
	bool ok = false;
	int rc = kc_grant(&c, user, new_value, deadline, &ok, NULL, err);
	if (rc < 0)
		aerr_wrap(err, "the new KEYCLOAK_ADMIN_PASSWORD");
	else if (ok)
		*already = true;
	else
		rc = kc_change(&c, user, old_value, new_value, deadline, err);
	if (rc < 0)
		aerr_wrap(err, "Keycloak at %s, administrator '%s'", c.base, user);
	http_client_free(&c);
	return rc;
}

/* --- Grafana -------------------------------------------------------------- */

/* Grafana's admin user: GF_SECURITY_ADMIN_USER of kube/observability/pod.yaml
 * (line 114, "admin"), which is also Grafana's default (conf/defaults.ini
 * [security] admin_user = admin). */
#define GRAFANA_ADMIN_USER "admin"

/* Where aegis-deploy reaches Grafana: GRAFANA_PORT on the address it is
 * published on (kube/observability/pod.yaml lines 122-125: hostPort
 * ${GRAFANA_PORT}, hostIP ${OBSERVABILITY_BIND_ADDRESS|hostip}); one published
 * on every address answers on loopback, as the readiness probes see it. */
static char *grafana_url(const config *cfg)
{
	const char *port = config_get(cfg, "GRAFANA_PORT");
	const char *host = config_get(cfg, "OBSERVABILITY_BIND_ADDRESS");
	if (!port || !*port)
		return NULL;
	if (!host || !*host || strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	bool v6 = strchr(host, ':') != NULL;
	return xasprintf("http://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* "Basic base64(USER:PASSWORD)" (newly allocated; wipe it). */
static char *basic_auth(const char *user, const char *password)
{
	cleanup_wipe char *plain = xasprintf("%s:%s", user, password);
	size_t n = strlen(plain);
	char *out = xmalloc(6 + 4 * ((n + 2) / 3) + 1);
	memcpy(out, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)plain, (int)n);
	return out;
}

static const long WHOAMI_ANSWERS[] = {200, 400, 401, 0};

/* Does Grafana sign USER in with PASSWORD?  GET /api/user with basic auth:
 * 200, or 401 {"message": "Invalid username or password"} (authn's password
 * client, pkg/services/authn/clients/password.go; 400 in the versions whose
 * errPasswordAuthFailed is a Bad Request: both mean refused).  No answer, or
 * a 5xx, is tried again until DEADLINE: Grafana starting. */
static int gf_signs_in(http_client *c, const char *user, const char *password, double deadline,
		       bool *ok, aerr_t *err)
{
	cleanup_wipe char *auth = basic_auth(user, password);
	for (;;) {
		http_request rq = {.method = "GET",
				   .path = "/api/user",
				   .token_name = "Authorization",
				   .token_value = auth,
				   .accept = WHOAMI_ANSWERS};
		http_response r;
		int rc = http_do(c, &rq, &r, err);
		long status = r.status;
		*ok = rc == 0 && status == 200;
		http_response_free(&r);
		if (!again(rc, status, deadline))
			return rc;
	}
}

static const long INVALID_OLD[] = {401, 0};

/* PUT /api/user/password as AUTH_PASSWORD's user, {oldPassword: OLD,
 * newPassword: NEW} (ChangeUserPassword, grafana/grafana b21c30e
 * pkg/api/user.go, the handler of 10.x): 200 "User password changed"; 401
 * "Invalid old password" when OLD is not the stored password; 400 "New
 * password is too short" (user.Password.IsWeak: 4 characters or fewer).
 * The API has no confirmation field (confirmNew is the web form's own).
 * EXPECT_INVALID_OLD: the answer wanted is that 401. */
static int gf_change(http_client *c, const char *user, const char *auth_password,
		     const char *old_value, const char *new_value, bool expect_invalid_old,
		     aerr_t *err)
{
	cleanup_wipe char *auth = basic_auth(user, auth_password);
	json_t *body = json_pack("{s:s, s:s}", "oldPassword", old_value, "newPassword", new_value);
	http_request rq = {.method = "PUT",
			   .path = "/api/user/password",
			   .token_name = "Authorization",
			   .token_value = auth,
			   .json = body,
			   .accept = expect_invalid_old ? INVALID_OLD : NULL,
			   /* a retry after a lost answer would send a stale old password */
			   .once = true};
	http_response r;
	int rc = http_do(c, &rq, &r, err);
	http_response_free(&r);
	decref_wiping(body);
	return rc;
}

int credential_grafana_admin(const credential_target *t, const char *old_value,
			     const char *new_value, bool *already, aerr_t *err)
{
	*already = false;
	if (both_set("GRAFANA_ADMIN_PASSWORD", old_value, new_value, err) < 0)
		return -1;
	cleanup_free char *url = grafana_url(t->cfg);
	http_client c;
	if (open_client(&c, t, url, "GRAFANA_PORT", err) < 0)
		return -1;
	const char *user = GRAFANA_ADMIN_USER;
	double deadline = deadline_of(t);
	bool ok = false;
	/* The old password first: Grafana blocks a user name for 5 minutes
	 * after 5 failed logins within 5 minutes (loginattempt: maxInvalid-
	 * LoginAttempts = 5, loginAttemptsWindow = 5 min, pkg/login/
	 * brute_force_login_protection.go), the right password included.  The
	 * usual run thus fails no login at all, and a re-run after the change
	 * fails one. */
	int rc = gf_signs_in(&c, user, old_value, deadline, &ok, err);
	if (rc == 0 && !ok) {
		rc = gf_signs_in(&c, user, new_value, deadline, &ok, err);
		if (rc == 0 && ok)
			*already = true;
		else if (rc == 0)
			rc =
			    aerr_set(err, AEGIS_EFAIL,
				     "GET /api/user: HTTP 401 for both the current "
				     "GRAFANA_ADMIN_PASSWORD and the new one: the password was "
				     "changed by other means; put the one Grafana accepts in .env");
	} else if (rc == 0 && strcmp(old_value, new_value) == 0) {
		*already = true;
	} else if (rc == 0) {
		rc = gf_change(&c, user, old_value, old_value, new_value, false, err);
		if (rc == 0 && gf_signs_in(&c, user, new_value, deadline, &ok, err) == 0 && !ok)
			rc = aerr_set(err, AEGIS_EFAIL,
				      "after the change, GET /api/user: HTTP 401 for the new "
				      "GRAFANA_ADMIN_PASSWORD");
		else if (rc == 0 && !ok)
			rc = aerr_wrap(err, "after the change, the new GRAFANA_ADMIN_PASSWORD");
		/* the old one refused, asked without a failed login: signed in
		 * with the new one, "change" from the old one -> Invalid old
		 * password */
		if (rc == 0 && gf_change(&c, user, new_value, old_value, new_value, true, err) < 0)
			rc = aerr_wrap(err, "after the change, Grafana still takes the old "
					    "GRAFANA_ADMIN_PASSWORD");
	}
	if (rc < 0)
		aerr_wrap(err, "Grafana at %s, user '%s'", c.base, user);
	http_client_free(&c);
	return rc;
}
