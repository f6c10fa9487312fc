#!/usr/bin/python3
"""Keycloak 24 admin REST API test server.

A stateful stand-in for the parts of Keycloak 24 that a bootstrap client
uses: the OpenID Connect token endpoint (password, refresh_token and
client_credentials grants), the admin REST API for realms, clients, client
secrets, realm roles, users, passwords and realm role mappings, the realm's
discovery document, and the health endpoint.  Status codes, JSON shapes,
headers and error texts are Keycloak's, so a client that works against this
should work against Keycloak, and a client that mishandles one of Keycloak's
failures should fail here too.

Followed: the Keycloak 24 Admin REST API reference
(keycloak.org/docs-api/24.0.0/rest-api), the Server Administration and
Securing Applications guides (token endpoint, discovery), and for error texts
the docs leave out the Keycloak source (github.com/keycloak/keycloak):
services/.../resources/admin/RealmsAdminResource.java ("Conflict detected. See
logs for details", "Realm not found."), ClientsResource.java ("Client X already
exists", "Could not find client"), UsersResource.java ("User exists with same
username", "User name is missing", "User not found"), UserResource.java
(reset-password: "No password provided"), RoleMapperResource.java (a role
mapping must name an existing role by name *and* id, else "Role not found"),
RoleContainerResource.java, services/error/KeycloakErrorHandler.java (a
WebApplicationException's message becomes {"error": message}; unauthenticated
admin calls are {"error":"HTTP 401 Unauthorized"}), and the token endpoint's
OAuth2 errors (TokenEndpoint.java, ResourceOwnerPasswordCredentialsGrantType:
bad credentials are 401 invalid_grant "Invalid user credentials").

Endpoints:
  POST /realms/{realm}/protocol/openid-connect/token   form-encoded; grant_type
        password | refresh_token | client_credentials | authorization_code
        (PKCE plain / S256); client_secret in the form or HTTP Basic for
        confidential clients
  POST /realms/{realm}/protocol/openid-connect/auth/device   the device
        authorisation grant (RFC 8628; client attribute
        oauth2.device.authorization.grant.enabled); GET /realms/{realm}/device
        ?user_code= leads to the login form; then grant_type
        urn:ietf:params:oauth:grant-type:device_code at the token endpoint
  GET  /realms/{realm}/protocol/openid-connect/auth    the browser login: checks
        client, redirect_uri, response_type=code; answers the login page
  POST /realms/{realm}/login-actions/authenticate      the login form (username,
        password); 302 to redirect_uri?state&session_state&iss&code
  GET  /realms/{realm}/.well-known/openid-configuration
  GET  /realms/{realm}, GET /realms/{realm}/protocol/openid-connect/certs
  GET  /health, /health/ready, /health/live           {"status":"UP","checks":[]}
  GET  POST        /admin/realms
  GET  PUT DELETE  /admin/realms/{realm}
  GET  POST        /admin/realms/{realm}/clients       (GET ?clientId=&first=&max=)
  GET  PUT DELETE  /admin/realms/{realm}/clients/{id}
  GET  POST        /admin/realms/{realm}/clients/{id}/client-secret
  GET  POST        /admin/realms/{realm}/client-scopes
  GET  PUT         /admin/realms/{realm}/client-scopes/{id}
  GET  POST        /admin/realms/{realm}/{clients|client-scopes}/{id}/protocol-mappers/models
  GET  PUT DELETE  /admin/realms/{realm}/{clients|client-scopes}/{id}/protocol-mappers/models/{mid}
  GET  POST        /admin/realms/{realm}/roles
  GET  PUT DELETE  /admin/realms/{realm}/roles/{role-name}
  GET  PUT         /admin/realms/{realm}/users/profile  the declarative user
                                                        profile (UPConfig)
  GET  POST        /admin/realms/{realm}/users         (GET ?username=&email=
                                                        &search=&exact=&first=&max=
                                                        &briefRepresentation=)
  GET              /admin/realms/{realm}/users/count
  GET  PUT DELETE  /admin/realms/{realm}/users/{id}
  PUT              /admin/realms/{realm}/users/{id}/reset-password
  GET              /admin/realms/{realm}/users/{id}/role-mappings
  GET  POST DELETE /admin/realms/{realm}/users/{id}/role-mappings/realm
  GET              /admin/realms/{realm}/users/{id}/role-mappings/realm/composite

URLs follow Keycloak 24's hostname options (v1) as the container reads them
from its environment: KC_HOSTNAME_URL is the base of every frontend URL (the
issuer of every token and of the discovery document, the authorization
endpoint, the login form), KC_HOSTNAME the frontend host alone; with neither,
the URL the request came in on.  Backchannel URLs (token, certs, userinfo)
always follow the request.  KC_PROXY_HEADERS=xforwarded takes the client's
address, scheme and host from X-Forwarded-For / -Proto / -Host.  A realm's
sslRequired ("external", the default, master included) refuses plain HTTP
from clients that are not local (loopback or private addresses): the token
endpoint with 403 invalid_request "HTTPS required", the login pages with the
"HTTPS required" error page.

Admin calls need "Authorization: Bearer <access token>" from the master realm
for a user holding the master realm's "admin" role (the bootstrap admin does);
a missing, bad or expired token is 401 {"error":"HTTP 401 Unauthorized"}, a
token without the role 403 {"error":"HTTP 403 Forbidden"}.  Tokens are
JWTs.  Access and ID tokens are signed RS256 with the realm's own RSA key,
published at .../protocol/openid-connect/certs, so that a relying party
(OpenBao's OIDC login, core's and the SEAL gateway's JWKS check) verifies
them as it verifies Keycloak's; refresh tokens are signed HS512 with a
per-process key (opaque to clients).  An access token's iss, azp and aud are
Keycloak 24.0.5's for the same declarations (see _access_claims): iss the
frontend URL of the realm, azp the client, aud what the client's and its
default scopes' oidc-audience-mapper add, then "account" when the client has
the roles scope (the default role grants account roles).  Only the audience
and user attribute mappers are modelled.

As in Keycloak, a realm or a user created without "enabled": true is
disabled (a disabled realm's token endpoint answers 403 "Realm not enabled", a
disabled user's password grant 400 "Account disabled"); clients created
without "directAccessGrantsEnabled": true refuse the password grant; a
temporary password leaves UPDATE_PASSWORD pending, and the password grant
then answers 400 "Account is not fully set up".  State is in memory only.

PUT .../users/{id}/reset-password (UserResource.resetPassword, Keycloak
008e3d4 services/.../resources/admin/UserResource.java; the same in 24.0)
replaces the password: the old one gets 401 invalid_grant from then on; the
realm's passwordPolicy (length, maxLength, digits, lowerCase, upperCase,
specialChars, notUsername) refuses a new one with 400 {"error":
"invalidPasswordMinLengthMessage", "error_description": "Invalid password:
minimum length 12."}; temporary:true adds UPDATE_PASSWORD (the grant then
answers "Account is not fully set up"), temporary:false removes it.  It
removes no session: tokens issued with the old password, and their refresh
tokens, stay valid until they expire, as in Keycloak.

User attributes follow Keycloak 24's declarative user profile, which 24
always uses: a realm starts with the default profile (username, email,
firstName, lastName; no unmanagedAttributePolicy, i.e. unmanaged attributes
disabled), and an attribute the profile does not declare is dropped without
an error when a user is created, imported or updated through the admin API,
so it is in no representation and no token (Keycloak 24.0.5
services/.../userprofile/DeclarativeUserProfileProvider.java and
DefaultAttributes.java: an unmanaged attribute is kept only under
unmanagedAttributePolicy ENABLED or ADMIN_EDIT for the admin API; the
Server Administration Guide 24, "Managing user attributes", "Understanding
managed and unmanaged attributes").  PUT .../users/profile replaces the
whole configuration and answers it (UserProfileResource.update); the
attributes already stored are not touched by it.

The admin user and password come from KEYCLOAK_ADMIN (default "admin") and
KEYCLOAK_ADMIN_PASSWORD (required), as for the real container; never argv.

Test-only controls (see common.py): /_test/requests, /_test/reset, /_test/fault.

Run:  KEYCLOAK_ADMIN_PASSWORD=... [KC_HOSTNAME_URL=...] [KC_PROXY_HEADERS=xforwarded]
      /usr/bin/python3 tests/servers/keycloak.py
          [--host 127.0.0.1] [--port 0] [--port-file FILE] [--token-lifetime 60]
"""

import base64
import copy
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
from urllib.parse import parse_qs, quote, unquote

# No __pycache__ beside the servers: they run from the work tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

VERSION = "24.0.5"
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def new_uuid():
    b = bytearray(secrets.token_bytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


b64url, b64url_decode = common.b64url, common.b64url_decode


def hash_password(password, salt=None):
    salt = salt or secrets.token_bytes(16)
    return {"salt": salt.hex(),
            "hash": hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 1000).hex()}


def check_password(stored, password):
    if not stored:
        return False
    want = hash_password(password, bytes.fromhex(stored["salt"]))["hash"]
    return hmac.compare_digest(want, stored["hash"])


def truthy(v):
    return str(v).lower() == "true"


class KcError(Exception):
    def __init__(self, status, body, headers=None, html=None):
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or []
        self.html = html


def error_page(status, message):
    """Keycloak's themed error page (ErrorPage.error / ErrorPageException):
    HTML whose visible message is the text of messages_en.properties."""
    page = ('<!DOCTYPE html>\n<html><head><title>Sign in to Keycloak</title></head><body>\n'
            '<div id="kc-error-message"><p class="instruction">%s</p></div>\n</body></html>\n') % (
        message.replace("&", "&amp;").replace("<", "&lt;"))
    return KcError(status, None, html=page)


def err(status, message):
    """{"error": message}: what KeycloakErrorHandler makes of a
    WebApplicationException (NotFoundException("User not found"), ...)."""
    return KcError(status, {"error": message})


def err_message(status, message):
    """{"errorMessage": ...}: ErrorResponse.error()/exists()."""
    return KcError(status, {"errorMessage": message})


def oauth_error(status, error, description):
    return KcError(status, {"error": error, "error_description": description}, NO_STORE)


UNAUTHORIZED = ("HTTP 401 Unauthorized",)

# The realm's passwordPolicy ("length(12) and digits(1)"): the policies a
# realm can declare here, with Keycloak's default argument, the test, and the
# message key and English text (PasswordPolicy providers under
# server-spi-private/.../policy/*PasswordPolicyProvider.java; texts from
# themes/.../admin/messages/messages_en.properties).
PASSWORD_POLICIES = {
    "length": (8, lambda pw, n, user: len(pw) >= n,
               "invalidPasswordMinLengthMessage", "Invalid password: minimum length {0}."),
    "maxLength": (64, lambda pw, n, user: len(pw) <= n,
                  "invalidPasswordMaxLengthMessage", "Invalid password: maximum length {0}."),
    "digits": (1, lambda pw, n, user: sum(c.isdigit() for c in pw) >= n,
               "invalidPasswordMinDigitsMessage", "Invalid password: must contain at least {0} numerical digits."),
    "lowerCase": (1, lambda pw, n, user: sum(c.islower() for c in pw) >= n,
                  "invalidPasswordMinLowerCaseCharsMessage",
                  "Invalid password: must contain at least {0} lower case characters."),
    "upperCase": (1, lambda pw, n, user: sum(c.isupper() for c in pw) >= n,
                  "invalidPasswordMinUpperCaseCharsMessage",
                  "Invalid password: must contain at least {0} upper case characters."),
    "specialChars": (1, lambda pw, n, user: sum(not c.isalnum() for c in pw) >= n,
                     "invalidPasswordMinSpecialCharsMessage",
                     "Invalid password: must contain at least {0} special characters."),
    "notUsername": (None, lambda pw, n, user: pw.lower() != user["username"].lower(),
                    "invalidPasswordNotUsernameMessage", "Invalid password: must not be equal to the username."),
}


def policy_error(realm, user, password):
    """Raise what reset-password answers when PASSWORD breaks the realm's
    policy: 400 {"error": key, "error_description": text}, Keycloak's
    ErrorResponseException built from PasswordPolicyNotMetException
    (UserResource.resetPassword, keycloak 008e3d4; ModelException in 24.0).
    The first policy broken, in the order the realm declares them."""
    for part in (realm["rep"].get("passwordPolicy") or "").split(" and "):
        part = part.strip()
        if not part:
            continue
        name, _, arg = part.partition("(")
        rule = PASSWORD_POLICIES.get(name.strip())
        if rule is None:
            continue
        default, ok, key, text = rule
        n = int(arg.rstrip(")") or default) if default is not None else None
        if not ok(password, n, user):
            raise KcError(400, {"error": key, "error_description": text.format(n)})


def default_user_profile():
    """A new realm's user profile as Keycloak 24 answers GET
    .../users/profile (services/src/main/resources/
    keycloak-default-user-profile.json): the four root attributes, the
    user-metadata group, no unmanagedAttributePolicy.  Validators are listed
    as Keycloak lists them; only the attribute names and the policy are
    acted on here."""
    both = {"view": ["admin", "user"], "edit": ["admin", "user"]}
    return {
        "attributes": [
            {"name": "username", "displayName": "${username}", "permissions": copy.deepcopy(both),
             "multivalued": False,
             "validations": {"length": {"min": 3, "max": 255}, "username-prohibited-characters": {},
                             "up-username-not-idn-homograph": {}}},
            {"name": "email", "displayName": "${email}", "permissions": copy.deepcopy(both),
             "multivalued": False, "required": {"roles": ["user"]},
             "validations": {"email": {}, "length": {"max": 255}}},
            {"name": "firstName", "displayName": "${firstName}", "permissions": copy.deepcopy(both),
             "multivalued": False, "required": {"roles": ["user"]},
             "validations": {"length": {"max": 255}, "person-name-prohibited-characters": {}}},
            {"name": "lastName", "displayName": "${lastName}", "permissions": copy.deepcopy(both),
             "multivalued": False, "required": {"roles": ["user"]},
             "validations": {"length": {"max": 255}, "person-name-prohibited-characters": {}}},
        ],
        "groups": [{"name": "user-metadata", "displayHeader": "User metadata",
                    "displayDescription": "Attributes, which refer to user metadata"}],
    }


# The root attributes: UserRepresentation fields of their own, never in
# "attributes" (UserProfileUtil / the representation's root attributes).
ROOT_ATTRIBUTES = ("username", "email", "firstName", "lastName")


def managed_attributes(realm, attrs):
    """ATTRS (a user's "attributes" as written through the admin API)
    without what Keycloak 24 drops: every attribute its user profile does
    not declare, unless unmanagedAttributePolicy lets an administrator write
    unmanaged attributes (ENABLED, ADMIN_EDIT; ADMIN_VIEW is read-only)."""
    profile = realm.get("user_profile") or {}
    if profile.get("unmanagedAttributePolicy") in ("ENABLED", "ADMIN_EDIT"):
        return copy.deepcopy(attrs or {})
    declared = {a.get("name") for a in profile.get("attributes") or [] if isinstance(a, dict)}
    return {k: copy.deepcopy(v) for k, v in (attrs or {}).items()
            if k in declared and k not in ROOT_ATTRIBUTES}


class Keycloak(common.App):
    name = "keycloak"

    def __init__(self, admin_user, admin_password, token_lifetime=60, hostname_url="", hostname="",
                 proxy_headers=""):
        super().__init__()
        self.lock = threading.RLock()
        self.key = secrets.token_bytes(32)
        self.kid = secrets.token_hex(16)
        self.hostname_url = hostname_url
        self.hostname = hostname
        self.proxy_headers = proxy_headers
        self.realms = {}
        self.sessions = {}
        self.codes = {}         # authorization code -> what it was issued for
        self.logins = {}        # session_code of a login page -> the auth request
        self.devices = {}       # device_code -> a device authorisation (RFC 8628)
        master = self._create_realm({"realm": "master", "enabled": True, "displayName": "Keycloak",
                                     "displayNameHtml": '<div class="kc-logo-text"><span>Keycloak</span></div>',
                                     "accessTokenLifespan": token_lifetime})
        # The master realm's key now, before the port is announced; other
        # realms' keys on first use (a 2048-bit key takes about a second).
        self._realm_key(master)
        for name, desc in (("admin", "${role_admin}"), ("create-realm", "${role_create-realm}")):
            self._add_role(master, {"name": name, "description": desc})
        master["roles"]["admin"]["composite"] = True
        admin = self._add_user(master, {"username": admin_user, "enabled": True})
        admin["password"] = hash_password(admin_password)
        admin["role_ids"].add(master["roles"]["admin"]["id"])

    # --- model ---------------------------------------------------------------

    def _create_realm(self, rep):
        name = rep["realm"]
        rid = rep.get("id") or new_uuid()
        realm = {"id": rid, "name": name, "roles": {}, "clients": {}, "users": {},
                 "rep": {
                     "id": rid, "realm": name, "notBefore": 0, "defaultSignatureAlgorithm": "RS256",
                     "revokeRefreshToken": False, "refreshTokenMaxReuse": 0,
                     "accessTokenLifespan": 300, "accessTokenLifespanForImplicitFlow": 900,
                     "ssoSessionIdleTimeout": 1800, "ssoSessionMaxLifespan": 36000,
                     "ssoSessionIdleTimeoutRememberMe": 0, "ssoSessionMaxLifespanRememberMe": 0,
                     "offlineSessionIdleTimeout": 2592000, "offlineSessionMaxLifespanEnabled": False,
                     "offlineSessionMaxLifespan": 5184000, "clientSessionIdleTimeout": 0,
                     "clientSessionMaxLifespan": 0, "accessCodeLifespan": 60,
                     "accessCodeLifespanUserAction": 300, "accessCodeLifespanLogin": 1800,
                     "actionTokenGeneratedByAdminLifespan": 43200, "actionTokenGeneratedByUserLifespan": 300,
                     # A realm created without "enabled": true is disabled.
                     "enabled": False, "sslRequired": "external", "registrationAllowed": False,
                     "registrationEmailAsUsername": False, "rememberMe": False, "verifyEmail": False,
                     "loginWithEmailAllowed": True, "duplicateEmailsAllowed": False,
                     "resetPasswordAllowed": False, "editUsernameAllowed": False,
                     "bruteForceProtected": False, "permanentLockout": False, "maxFailureWaitSeconds": 900,
                     "minimumQuickLoginWaitSeconds": 60, "waitIncrementSeconds": 60,
                     "quickLoginCheckMilliSeconds": 1000, "maxDeltaTimeSeconds": 43200,
                     "failureFactor": 30, "requiredCredentials": ["password"], "otpPolicyType": "totp",
                     "otpPolicyAlgorithm": "HmacSHA1", "otpPolicyInitialCounter": 0, "otpPolicyDigits": 6,
                     "otpPolicyLookAheadWindow": 1, "otpPolicyPeriod": 30, "otpPolicyCodeReusable": False,
                     "browserFlow": "browser", "registrationFlow": "registration",
                     "directGrantFlow": "direct grant", "resetCredentialsFlow": "reset credentials",
                     "clientAuthenticationFlow": "clients", "dockerAuthenticationFlow": "docker auth",
                     "firstBrokerLoginFlow": "first broker login", "attributes": {},
                     "userManagedAccessAllowed": False, "internationalizationEnabled": False,
                     "supportedLocales": [], "eventsEnabled": False, "eventsListeners": ["jboss-logging"],
                     "adminEventsEnabled": False, "adminEventsDetailsEnabled": False,
                 }}
        for k, v in rep.items():
            if k not in ("roles", "clients", "users", "id"):
                realm["rep"][k] = copy.deepcopy(v)
        realm["user_profile"] = default_user_profile()
        self.realms[name] = realm
        default = self._add_role(realm, {"name": "default-roles-" + name, "description": "${role_default-roles}"})
        default["composite"] = True
        for n, d in (("offline_access", "${role_offline-access}"), ("uma_authorization", "${role_uma_authorization}")):
            r = self._add_role(realm, {"name": n, "description": d})
            default["composites"].append(r["id"])
        for cid, public in (("account", True), ("account-console", True), ("admin-cli", True),
                            ("broker", False), ("realm-management" if name != "master" else "master-realm", False),
                            ("security-admin-console", True)):
            c = self._add_client(realm, {"clientId": cid, "publicClient": public,
                                         "name": "${client_%s}" % cid.replace("-", "_"),
                                         "directAccessGrantsEnabled": cid == "admin-cli",
                                         "standardFlowEnabled": cid not in ("admin-cli", "broker")})
            if cid in ("broker", "realm-management", "master-realm"):
                c["bearerOnly"] = True
                c.pop("secret", None)
        # The default role also grants the account client's view-profile
        # and manage-account (composite: manage-account-links), so every
        # user's token has account roles in resource_access and, through
        # the roles scope's audience resolve mapper, "account" in aud
        # (RealmManager.setupAccountManagement / createDefaultClientScopes,
        # Keycloak 24.0.5).
        links = self._add_client_role(realm, "account", "manage-account-links")
        manage = self._add_client_role(realm, "account", "manage-account")
        manage["composite"] = True
        manage["composites"].append(links["id"])
        view = self._add_client_role(realm, "account", "view-profile")
        default["composites"] += [manage["id"], view["id"]]
        realm["rep"]["defaultRole"] = self._role_rep(realm, default, brief=True)
        return realm

    def _add_client_role(self, realm, client_id, name):
        role = {"id": new_uuid(), "name": name, "description": "${role_%s}" % name, "composite": False,
                "composites": [], "clientRole": True, "client": client_id, "attributes": {}}
        realm.setdefault("client_roles", {})[role["id"]] = role
        return role

    def _realm_key(self, realm):
        """The realm's RS256 key pair and its kid: every realm has keys of
        its own (the rsa-generated key provider a new realm gets), so a
        token of one realm does not verify with another realm's certs."""
        if "rsa" not in realm:
            realm["rsa"] = common.rsa_generate(2048)
            realm["rsa_kid"] = common.b64url(hashlib.sha256(str(realm["rsa"][0]).encode()).digest())[:43]
        return realm["rsa"], realm["rsa_kid"]

    def _add_role(self, realm, rep):
        role = {"id": new_uuid(), "name": rep["name"], "description": rep.get("description"),
                "composite": False, "composites": [], "clientRole": False, "containerId": realm["id"],
                "attributes": copy.deepcopy(rep.get("attributes") or {})}
        realm["roles"][role["name"]] = role
        return role

    def _add_client(self, realm, rep):
        cid = rep.get("id") or new_uuid()
        public = bool(rep.get("publicClient", False))
        c = {
            "id": cid, "clientId": rep["clientId"], "surrogateAuthRequired": False, "enabled": True,
            "alwaysDisplayInConsole": False, "clientAuthenticatorType": "client-secret",
            "redirectUris": [], "webOrigins": [], "notBefore": 0, "bearerOnly": False,
            "consentRequired": False, "standardFlowEnabled": True, "implicitFlowEnabled": False,
            "directAccessGrantsEnabled": False, "serviceAccountsEnabled": False, "publicClient": public,
            "frontchannelLogout": True, "protocol": "openid-connect", "attributes": {},
            "authenticationFlowBindingOverrides": {}, "fullScopeAllowed": True,
            "nodeReRegistrationTimeout": -1,
            "defaultClientScopes": ["web-origins", "acr", "profile", "roles", "email"],
            "optionalClientScopes": ["address", "phone", "offline_access", "microprofile-jwt"],
        }
        for k, v in rep.items():
            if k not in ("id", "access", "protocolMappers", "authorizationSettings"):
                c[k] = copy.deepcopy(v)
        if rep.get("protocolMappers"):
            c["protocolMappers"] = [dict(copy.deepcopy(m), id=new_uuid()) for m in rep["protocolMappers"]]
        if not c["publicClient"] and not c["bearerOnly"] and not c.get("secret"):
            c["secret"] = secrets.token_urlsafe(24)[:32]
        if c["publicClient"]:
            c.pop("secret", None)
        realm["clients"][cid] = c
        return c

    def _add_user(self, realm, rep):
        uid = new_uuid()
        u = {"id": uid, "createdTimestamp": int(time.time() * 1000),
             # Like Keycloak: a user created without "enabled": true is disabled.
             "username": rep["username"].lower(), "enabled": bool(rep.get("enabled", False)),
             "totp": False, "emailVerified": bool(rep.get("emailVerified", False)),
             "firstName": rep.get("firstName"), "lastName": rep.get("lastName"),
             "email": rep["email"].lower() if rep.get("email") else None,
             "attributes": managed_attributes(realm, rep.get("attributes")),
             "requiredActions": list(rep.get("requiredActions") or []), "notBefore": 0,
             "password": None, "role_ids": set()}
        # Every new user gets the realm's default role, as in Keycloak.
        u["role_ids"].add(realm["roles"]["default-roles-" + realm["name"]]["id"])
        realm["users"][uid] = u
        return u

    def _role_by_id(self, realm, rid):
        for r in realm["roles"].values():
            if r["id"] == rid:
                return r
        return (realm.get("client_roles") or {}).get(rid)

    def _role_closure(self, realm, role_ids):
        seen, todo = set(), list(role_ids)
        while todo:
            rid = todo.pop()
            if rid in seen:
                continue
            seen.add(rid)
            r = self._role_by_id(realm, rid)
            if r:
                todo.extend(r["composites"])
        return seen

    def _effective_roles(self, realm, role_ids):
        seen = self._role_closure(realm, role_ids)
        return [r for r in realm["roles"].values() if r["id"] in seen]

    def _effective_client_roles(self, realm, role_ids):
        """{clientId: [role names]} of the client roles ROLE_IDS grant."""
        seen = self._role_closure(realm, role_ids)
        out = {}
        for r in (realm.get("client_roles") or {}).values():
            if r["id"] in seen:
                out.setdefault(r["client"], []).append(r["name"])
        return {c: sorted(names) for c, names in out.items()}

    def _service_account(self, realm, client):
        """The client's service account user (ClientManager.enableServiceAccount):
        named service-account-<clientId>, given the realm's default role like
        any new user, and not listed among the realm's users."""
        accounts = realm.setdefault("service_accounts", {})
        if client["id"] not in accounts:
            accounts[client["id"]] = {
                "id": new_uuid(), "username": "service-account-" + client["clientId"].lower(), "enabled": True,
                "emailVerified": False, "email": None, "firstName": None, "lastName": None, "attributes": {},
                "role_ids": {realm["roles"]["default-roles-" + realm["name"]]["id"]}}
        return accounts[client["id"]]

    # --- representations -----------------------------------------------------

    def _role_rep(self, realm, r, brief=False):
        rep = {"id": r["id"], "name": r["name"]}
        if r["description"] is not None:
            rep["description"] = r["description"]
        rep.update({"composite": r["composite"], "clientRole": False, "containerId": realm["id"]})
        if not brief:
            rep["attributes"] = copy.deepcopy(r["attributes"])
        return rep

    def _user_rep(self, u, brief=False):
        rep = {"id": u["id"], "createdTimestamp": u["createdTimestamp"], "username": u["username"],
               "enabled": u["enabled"]}
        if not brief:
            rep["totp"] = False
        rep["emailVerified"] = u["emailVerified"]
        for k in ("firstName", "lastName", "email"):
            if u[k] is not None:
                rep[k] = u[k]
        if brief:
            return rep
        if u["attributes"]:
            rep["attributes"] = copy.deepcopy(u["attributes"])
        rep.update({"disableableCredentialTypes": [], "requiredActions": list(u["requiredActions"]),
                    "notBefore": u["notBefore"],
                    "access": {"manageGroupMembership": True, "view": True, "mapRoles": True,
                               "impersonate": True, "manage": True}})
        return rep

    @staticmethod
    def _client_rep(c):
        rep = copy.deepcopy(c)
        rep["access"] = {"view": True, "configure": True, "manage": True}
        return rep

    # --- responses -----------------------------------------------------------

    def internal_error(self):
        return common.json_response(500, {"error": "unknown_error",
                                          "error_description": "For more on this error consult the server log."})

    @staticmethod
    def _json(status, obj, headers=None):
        return common.json_response(status, obj, headers=headers)

    @staticmethod
    def _created(location):
        return common.Response(201, b"", [("Location", location)])

    @staticmethod
    def _no_content():
        return common.Response(204)

    def _request_url(self, headers):
        """scheme://host[:port] of the request itself, as Keycloak sees it:
        behind a proxy (proxy-headers=xforwarded) from X-Forwarded-Proto and
        -Host, otherwise from the connection and the Host header."""
        scheme, host = "http", headers.get("Host") or "localhost"
        if self.proxy_headers == "xforwarded":
            scheme = (headers.get("X-Forwarded-Proto") or scheme).split(",")[0].strip()
            host = (headers.get("X-Forwarded-Host") or host).split(",")[0].strip()
        return "%s://%s" % (scheme, host)

    def _frontend_url(self, request_url):
        """The base of every frontend URL (the issuer of tokens and of the
        discovery document, the login pages).  Keycloak 24's hostname
        options, v1 (docs: keycloak.org/server/hostname for 24.0): hostname-url
        (KC_HOSTNAME_URL) is the whole base URL; hostname (KC_HOSTNAME) only
        the host, scheme and port still from the request; with neither, the
        URL the request came in on."""
        if self.hostname_url:
            return self.hostname_url.rstrip("/")
        if self.hostname:
            scheme, _, rest = request_url.partition("://")
            port = rest.rpartition(":")[2] if ":" in rest.split("]")[-1] else ""
            return "%s://%s%s" % (scheme, self.hostname, ":" + port if port else "")
        return request_url

    def _client_address(self, headers, remote):
        # With proxy headers on, Keycloak takes the client's address from the
        # first X-Forwarded-For entry, as it does the scheme and host.
        if self.proxy_headers == "xforwarded" and headers.get("X-Forwarded-For"):
            return headers["X-Forwarded-For"].split(",")[0].strip()
        return remote

    # --- dispatch ------------------------------------------------------------

    def handle(self, method, path, query, headers, body, remote=None):
        segs = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
        q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        backend = self._request_url(headers)
        ctx = {"backend": backend, "frontend": self._frontend_url(backend),
               "https": backend.startswith("https://"), "client": self._client_address(headers, remote)}
        with self.lock:
            try:
                if segs and segs[0] == "health":
                    return self._health(method, segs)
                if len(segs) >= 2 and segs[0] == "realms":
                    return self._protocol(method, segs[1], segs[2:], q, headers, body, ctx)
                if len(segs) >= 2 and segs[0] == "admin" and segs[1] == "realms":
                    return self._admin(method, segs[2:], q, headers, body, backend)
                raise err(404, "Unable to find matching target resource method")
            except KcError as e:
                if e.html is not None:
                    return common.Response(e.status, e.html.encode(), [("Content-Type", "text/html;charset=utf-8")])
                return self._json(e.status, e.body, e.headers)

    def _health(self, method, segs):
        if method != "GET" or len(segs) > 2 or (len(segs) == 2 and segs[1] not in ("ready", "live", "started")):
            raise err(404, "Unable to find matching target resource method")
        return self._json(200, {"status": "UP", "checks": []})

    # --- protocol endpoints ----------------------------------------------------

    def _protocol(self, method, realm_name, rest, q, headers, body, ctx):
        realm = self.realms.get(realm_name)
        if realm is None:
            raise err(404, "Realm does not exist")
        # Frontend URLs (the issuer above all) follow the frontend hostname,
        # backchannel ones the request (hostname-strict-backchannel false):
        # services/.../protocol/oidc/OIDCWellKnownProvider.java builds the
        # issuer, authorization and logout endpoints from the frontend URI
        # and the token, userinfo, certs and introspection endpoints from the
        # backend one.
        issuer = "%s/realms/%s" % (ctx["frontend"], quote(realm_name))
        backend = "%s/realms/%s" % (ctx["backend"], quote(realm_name))
        if rest == [".well-known", "openid-configuration"] and method == "GET":
            return self._json(200, self._discovery(issuer, backend))
        if rest == [] and method == "GET":
            return self._json(200, {"realm": realm_name, "public_key": "",
                                    "token-service": issuer + "/protocol/openid-connect",
                                    "account-service": issuer + "/account", "tokens-not-before": 0})
        if rest == ["protocol", "openid-connect", "certs"] and method == "GET":
            (n, e, _), kid = self._realm_key(realm)
            return self._json(200, {"keys": [{"kid": kid, "kty": "RSA", "alg": "RS256", "use": "sig",
                                              "n": common.b64url_uint(n), "e": common.b64url_uint(e)}]})
        if rest == ["protocol", "openid-connect", "token"]:
            if method != "POST":
                raise err(405, "HTTP 405 Method Not Allowed")
            return self._token(realm, issuer, headers, body, ctx)
        if rest == ["protocol", "openid-connect", "auth"] and method == "GET":
            return self._authorize(realm, issuer, q, ctx)
        if rest == ["login-actions", "authenticate"] and method == "POST":
            return self._authenticate(realm, issuer, q, headers, body, ctx)
        if rest == ["protocol", "openid-connect", "auth", "device"] and method == "POST":
            return self._device_authorization(realm, issuer, headers, body, ctx)
        if rest == ["device"] and method == "GET":
            return self._device_verification(realm, issuer, q, ctx)
        raise err(404, "Unable to find matching target resource method")

    # --- the device authorisation grant (RFC 8628; the aegis CLI's login) --------

    @staticmethod
    def _device_allowed(client):
        # OAuth2DeviceConfig.isOAuth2DeviceAuthorizationGrantAllowed: the
        # client attribute oauth2.device.authorization.grant.enabled.
        return truthy((client.get("attributes") or {}).get("oauth2.device.authorization.grant.enabled"))

    DEVICE_DISABLED = ("Client is not allowed to initiate OAuth 2.0 Device Authorization Grant. "
                       "The flow is disabled for the client.")

    def _device_authorization(self, realm, issuer, headers, body, ctx):
        """POST .../protocol/openid-connect/auth/device
        (protocol/oidc/grants/device/endpoints/DeviceEndpoint.java): the
        client authenticates as at the token endpoint; the answer's
        verification_uri is the realm's frontend URL + /device, valid for
        the realm's device code lifespan (600 s), polled every 5 s."""
        if self._ssl_required(realm, ctx):
            raise oauth_error(403, "invalid_request", "HTTPS required")
        form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace"), keep_blank_values=True).items()}
        client = self._client_auth(realm, form, headers)
        if not self._device_allowed(client):
            raise oauth_error(400, "unauthorized_client", self.DEVICE_DISABLED)
        device_code = common.b64url(secrets.token_bytes(32))
        letters = "BCDFGHJKLMNPQRSTVWXZ"
        user_code = "".join(secrets.choice(letters) for _ in range(8))
        user_code = user_code[:4] + "-" + user_code[4:]
        self.devices[device_code] = {"realm": realm["name"], "client": client["clientId"], "user_code": user_code,
                                     "scope": form.get("scope") or "", "expires": time.time() + 600, "user": None}
        return self._json(200, {"device_code": device_code, "user_code": user_code,
                                "verification_uri": issuer + "/device",
                                "verification_uri_complete": issuer + "/device?user_code=" + user_code,
                                "expires_in": 600, "interval": 5}, NO_STORE)

    def _device_verification(self, realm, issuer, q, ctx):
        """GET {realm}/device?user_code=...: the user's side; a known code
        leads to the login form, whose success approves the device."""
        if self._ssl_required(realm, ctx):
            raise error_page(400, "HTTPS required")
        code = (q.get("user_code") or "").upper()
        found = next((d for d, v in self.devices.items() if v["realm"] == realm["name"] and v["user_code"] == code
                      and v["user"] is None and v["expires"] > time.time()), None)
        if found is None:
            raise error_page(400, "Invalid code, please try again.")
        session_code = common.b64url(secrets.token_bytes(24))
        self.logins[session_code] = {"realm": realm["name"], "client": self.devices[found]["client"],
                                     "device": found, "expires": time.time() + 1800}
        action = "%s/login-actions/authenticate?session_code=%s&execution=%s&client_id=%s&tab_id=%s" % (
            issuer, session_code, new_uuid(), quote(self.devices[found]["client"], safe=""),
            common.b64url(secrets.token_bytes(8)))
        return self._login_page(realm, action, "")

    def _device_grant(self, realm, issuer, client, form):
        """grant_type=urn:ietf:params:oauth:grant-type:device_code
        (DeviceGrantType.java): pending until the user has signed in,
        then tokens as for any user session of the client."""
        if not self._device_allowed(client):
            raise oauth_error(400, "unauthorized_client", self.DEVICE_DISABLED)
        code = form.get("device_code")
        if not code:
            raise oauth_error(400, "invalid_request", "Missing parameter: device_code")
        dev = self.devices.get(code)
        if dev is None or dev["realm"] != realm["name"] or dev["client"] != client["clientId"]:
            raise oauth_error(400, "invalid_grant", "Device code not valid")
        if dev["expires"] < time.time():
            del self.devices[code]
            raise oauth_error(400, "expired_token", "Device code is expired")
        if dev["user"] is None:
            raise oauth_error(400, "authorization_pending", "The authorization request is still pending")
        del self.devices[code]
        user = realm["users"].get(dev["user"])
        if user is None or not user["enabled"]:
            raise oauth_error(400, "invalid_grant", "User disabled")
        return self._issue(realm, issuer, client, user, dev["sid"], refresh=True)

    def _ssl_required(self, realm, ctx):
        """Plain HTTP from a client that is not local, for a realm with
        sslRequired "external" (the default, master included), or from any
        client with "all" (common/.../enums/SslRequired.java; the checkSsl of
        TokenEndpoint.java and AuthorizationEndpointBase.java)."""
        if ctx["https"]:
            return False
        mode = (realm["rep"].get("sslRequired") or "external").lower()
        if mode == "none":
            return False
        return mode == "all" or not common.is_private_address(ctx["client"])

    # --- the authorization code flow (browser login) ----------------------------

    @staticmethod
    def _redirect_allowed(client, uri):
        # RedirectUtils.verifyRedirectUri: an exact entry, or one ending in
        # "*" that the URI starts with (the query string is not compared).
        base = uri.split("?", 1)[0]
        for allowed in client.get("redirectUris") or []:
            if allowed.endswith("*") and base.startswith(allowed[:-1]):
                return True
            if allowed == uri or allowed == base:
                return True
        return False

    def _authorize(self, realm, issuer, q, ctx):
        """GET .../protocol/openid-connect/auth (AuthorizationEndpoint.java):
        checks, then the login page, whose form posts to login-actions."""
        if self._ssl_required(realm, ctx):
            raise error_page(400, "HTTPS required")
        if not realm["rep"].get("enabled"):
            raise error_page(400, "Realm not enabled")
        client = next((c for c in realm["clients"].values() if c["clientId"] == q.get("client_id")), None)
        if client is None:
            raise error_page(400, "Client not found.")
        if not client.get("enabled", True):
            raise error_page(400, "Client disabled.")
        if client.get("bearerOnly"):
            raise error_page(400, "Bearer-only applications are not allowed to initiate browser login.")
        if not client.get("standardFlowEnabled", True):
            raise error_page(400, "Client is not allowed to initiate browser login with given response_type. "
                                  "Standard flow is disabled for the client.")
        uri = q.get("redirect_uri") or ""
        if not uri or not self._redirect_allowed(client, uri):
            raise error_page(400, "Invalid parameter: redirect_uri")
        if q.get("response_type") != "code":
            raise error_page(400, "Invalid parameter: response_type")
        method = q.get("code_challenge_method") or ("plain" if q.get("code_challenge") else "")
        if method and method not in ("plain", "S256"):
            raise error_page(400, "Invalid parameter: code_challenge_method")
        session_code = common.b64url(secrets.token_bytes(24))
        self.logins[session_code] = {"realm": realm["name"], "client": client["clientId"], "redirect_uri": uri,
                                     "state": q.get("state"), "nonce": q.get("nonce"),
                                     "scope": q.get("scope") or "", "challenge": q.get("code_challenge"),
                                     "challenge_method": method, "expires": time.time() + 1800}
        action = "%s/login-actions/authenticate?session_code=%s&execution=%s&client_id=%s&tab_id=%s" % (
            issuer, session_code, new_uuid(), quote(client["clientId"], safe=""), common.b64url(secrets.token_bytes(8)))
        return self._login_page(realm, action, "")

    @staticmethod
    def _login_page(realm, action, message):
        html_action = action.replace("&", "&amp;")
        page = ('<!DOCTYPE html>\n<html><head><title>Sign in to %s</title></head><body>\n%s'
                '<form id="kc-form-login" action="%s" method="post">\n'
                '<input id="username" name="username" type="text">\n'
                '<input id="password" name="password" type="password">\n'
                '<input type="hidden" id="id-hidden-input" name="credentialId">\n'
                '<input name="login" id="kc-login" type="submit" value="Sign In">\n'
                '</form></body></html>\n') % (
            realm["rep"].get("displayName") or realm["name"],
            '<span id="input-error">%s</span>\n' % message if message else "", html_action)
        return common.Response(200, page.encode(), [("Content-Type", "text/html;charset=utf-8")] + NO_STORE)

    def _authenticate(self, realm, issuer, q, headers, body, ctx):
        """POST login-actions/authenticate with the login form: a wrong
        password shows the form again (200, "Invalid username or
        password."); a right one ends the flow with a 302 to the client's
        redirect_uri carrying code, state, session_state and iss (RFC 9207)."""
        if self._ssl_required(realm, ctx):
            raise error_page(400, "HTTPS required")
        login = self.logins.get(q.get("session_code") or "")
        if login is None or login["realm"] != realm["name"] or login["expires"] < time.time():
            raise error_page(400, "Your login attempt timed out. Login will start from the beginning.")
        form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace"), keep_blank_values=True).items()}
        username = (form.get("username") or "").lower()
        user = next((u for u in realm["users"].values()
                     if u["username"] == username or (u["email"] and u["email"] == username)), None)
        action = "%s/login-actions/authenticate?%s" % (issuer, "&".join(
            "%s=%s" % (k, quote(v, safe="")) for k, v in sorted(q.items())))
        if user is None or not check_password(user["password"], form.get("password") or ""):
            return self._login_page(realm, action, "Invalid username or password.")
        if not user["enabled"]:
            return self._login_page(realm, action, "Account is disabled, contact your administrator.")
        del self.logins[q["session_code"]]
        sid = new_uuid()
        self.sessions[sid] = {"realm": realm["name"], "user": user["id"], "client": login["client"],
                              "started": time.time()}
        if login.get("device"):
            # A device login ends on Keycloak's success page; the device's
            # next poll gets the tokens.
            dev = self.devices.get(login["device"])
            if dev is not None:
                dev.update(user=user["id"], sid=sid)
            page = ('<!DOCTYPE html>\n<html><head><title>Sign in to %s</title></head><body>\n'
                    '<h1 id="kc-page-title">Device Login Successful</h1>\n</body></html>\n') % (
                realm["rep"].get("displayName") or realm["name"])
            return common.Response(200, page.encode(), [("Content-Type", "text/html;charset=utf-8")] + NO_STORE)
        code = "%s.%s.%s" % (new_uuid(), sid, new_uuid())
        self.codes[code] = dict(login, user=user["id"], sid=sid, expires=time.time() + int(
            realm["rep"].get("accessCodeLifespan") or 60), auth_time=int(time.time()))
        params = []
        if login["state"] is not None:
            params.append(("state", login["state"]))
        params += [("session_state", sid), ("iss", issuer), ("code", code)]
        sep = "&" if "?" in login["redirect_uri"] else "?"
        location = login["redirect_uri"] + sep + "&".join("%s=%s" % (k, quote(v, safe="")) for k, v in params)
        return common.Response(302, b"", [("Location", location)] + NO_STORE)

    @staticmethod
    def _discovery(issuer, backend):
        oidc = issuer + "/protocol/openid-connect"
        back = backend + "/protocol/openid-connect"
        return {
            "issuer": issuer,
            "authorization_endpoint": oidc + "/auth",
            "token_endpoint": back + "/token",
            "introspection_endpoint": back + "/token/introspect",
            "userinfo_endpoint": back + "/userinfo",
            "end_session_endpoint": oidc + "/logout",
            "frontchannel_logout_session_supported": True,
            "frontchannel_logout_supported": True,
            "jwks_uri": back + "/certs",
            "check_session_iframe": oidc + "/login-status-iframe.html",
            "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "password",
                                      "client_credentials", "urn:openid:params:grant-type:ciba",
                                      "urn:ietf:params:oauth:grant-type:device_code"],
            "acr_values_supported": ["0", "1"],
            "response_types_supported": ["code", "none", "id_token", "token", "id_token token",
                                         "code id_token", "code token", "code id_token token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["PS384", "ES384", "RS384", "HS256", "HS512", "ES256",
                                                      "RS256", "HS384", "ES512", "PS256", "PS512", "RS512"],
            "userinfo_signing_alg_values_supported": ["PS384", "ES384", "RS384", "HS256", "HS512", "ES256",
                                                      "RS256", "HS384", "ES512", "PS256", "PS512", "RS512",
                                                      "none"],
            "response_modes_supported": ["query", "fragment", "form_post", "query.jwt", "fragment.jwt",
                                         "form_post.jwt", "jwt"],
            "registration_endpoint": issuer + "/clients-registrations/openid-connect",
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic",
                                                      "client_secret_post", "tls_client_auth",
                                                      "client_secret_jwt"],
            "claims_supported": ["aud", "sub", "iss", "auth_time", "name", "given_name", "family_name",
                                 "preferred_username", "email", "acr"],
            "claim_types_supported": ["normal"],
            "claims_parameter_supported": True,
            "scopes_supported": ["openid", "roles", "acr", "email", "offline_access", "microprofile-jwt",
                                 "phone", "web-origins", "profile", "address"],
            "request_parameter_supported": True,
            "request_uri_parameter_supported": True,
            "require_request_uri_registration": True,
            "code_challenge_methods_supported": ["plain", "S256"],
            "tls_client_certificate_bound_access_tokens": True,
            "revocation_endpoint": back + "/revoke",
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "device_authorization_endpoint": back + "/auth/device",
            "authorization_response_iss_parameter_supported": True,
        }

    # --- tokens ----------------------------------------------------------------

    def _sign(self, claims, alg="HS256"):
        header = {"alg": alg, "typ": "JWT", "kid": self.kid}
        digest = hashlib.sha256 if alg == "HS256" else hashlib.sha512
        signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
            b64url(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(self.key, signing_input.encode(), digest).digest()
        return signing_input + "." + b64url(sig)

    def _sign_rs256(self, realm, claims):
        """An access or ID token: RS256 with the realm's key, the realm's
        default signature algorithm (defaultSignatureAlgorithm "RS256")."""
        key, kid = self._realm_key(realm)
        header = {"alg": "RS256", "typ": "JWT", "kid": kid}
        signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
            b64url(json.dumps(claims, separators=(",", ":")).encode())
        return signing_input + "." + b64url(common.rs256_sign(key, signing_input.encode()))

    def _verify(self, token):
        """Claims of a token this server signed, or None.  Expiry is the
        caller's business: the refresh grant reports it differently."""
        try:
            h, p, s = token.split(".")
            header = json.loads(b64url_decode(h))
            if header["alg"] == "RS256":
                realm = next((r for r in self.realms.values() if r.get("rsa_kid") == header.get("kid")), None)
                if realm is None or not common.rs256_verify(realm["rsa"][0], realm["rsa"][1], (h + "." + p).encode(),
                                                            b64url_decode(s)):
                    return None
                return json.loads(b64url_decode(p))
            digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[header["alg"]]
            want = hmac.new(self.key, (h + "." + p).encode(), digest).digest()
            if not hmac.compare_digest(want, b64url_decode(s)):
                return None
            return json.loads(b64url_decode(p))
        except (ValueError, KeyError, TypeError):
            return None

    def _client_auth(self, realm, form, headers):
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        auth = headers.get("Authorization") or ""
        if auth[:6].lower() == "basic ":
            try:
                cid, _, sec = base64.b64decode(auth[6:].strip()).decode().partition(":")
                client_id, secret = unquote(cid), unquote(sec)
            except (ValueError, UnicodeDecodeError):
                raise oauth_error(400, "invalid_request", "Invalid Authorization header")
        if not client_id:
            raise oauth_error(401, "invalid_client", "Missing parameter: client_id")
        client = next((c for c in realm["clients"].values() if c["clientId"] == client_id), None)
        if client is None:
            raise oauth_error(401, "invalid_client", "Invalid client or Invalid client credentials")
        if not client.get("enabled", True):
            raise oauth_error(401, "unauthorized_client", "Invalid client or Invalid client credentials")
        if client.get("bearerOnly"):
            raise oauth_error(400, "unauthorized_client", "Bearer-only not allowed")
        if not client["publicClient"]:
            if secret is None or not hmac.compare_digest(secret.encode(), (client.get("secret") or "").encode()):
                raise oauth_error(401, "unauthorized_client", "Invalid client or Invalid client credentials")
        return client

    def _token(self, realm, issuer, headers, body, ctx):
        # TokenEndpoint.java: checkSsl, then checkRealm, then the grant.
        if self._ssl_required(realm, ctx):
            raise oauth_error(403, "invalid_request", "HTTPS required")
        if not realm["rep"].get("enabled"):
            raise oauth_error(403, "access_denied", "Realm not enabled")
        # Form parameters only: a JSON body has none, so it fails on grant_type.
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        form = {}
        if ctype == "application/x-www-form-urlencoded":
            form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace"), keep_blank_values=True).items()}
        grant = form.get("grant_type")
        if not grant:
            raise oauth_error(400, "invalid_request", "Missing form parameter: grant_type")
        if grant not in ("password", "refresh_token", "client_credentials", "authorization_code", DEVICE_GRANT):
            raise oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")
        client = self._client_auth(realm, form, headers)
        if grant == "authorization_code":
            return self._code_grant(realm, issuer, client, form)
        if grant == DEVICE_GRANT:
            return self._device_grant(realm, issuer, client, form)
        if grant == "password":
            if not client.get("directAccessGrantsEnabled"):
                raise oauth_error(400, "unauthorized_client", "Client not allowed for direct access grants")
            username = (form.get("username") or "").lower()
            user = next((u for u in realm["users"].values()
                         if u["username"] == username or (u["email"] and u["email"] == username)), None)
            # The direct grant flow checks the account before the password.
            if user is not None and not user["enabled"]:
                raise oauth_error(400, "invalid_grant", "Account disabled")
            if user is None or not check_password(user["password"], form.get("password") or ""):
                raise oauth_error(401, "invalid_grant", "Invalid user credentials")
            if user["requiredActions"]:
                raise oauth_error(400, "invalid_grant", "Account is not fully set up")
            sid = new_uuid()
            self.sessions[sid] = {"realm": realm["name"], "user": user["id"], "client": client["clientId"],
                                  "started": time.time()}
            return self._issue(realm, issuer, client, user, sid, refresh=True)
        if grant == "refresh_token":
            rt = form.get("refresh_token")
            if not rt:
                raise oauth_error(400, "invalid_request", "Missing form parameter: refresh_token")
            claims = self._verify(rt)
            if claims is None or claims.get("typ") != "Refresh" or claims.get("iss") != issuer:
                raise oauth_error(400, "invalid_grant", "Invalid refresh token")
            if claims["exp"] <= time.time():
                raise oauth_error(400, "invalid_grant", "Token is not active")
            if claims.get("azp") != client["clientId"]:
                raise oauth_error(400, "invalid_grant",
                                  "Invalid refresh token. Token client and authorized client don't match")
            sess = self.sessions.get(claims.get("sid"))
            user = realm["users"].get(claims.get("sub"))
            if sess is None or user is None:
                raise oauth_error(400, "invalid_grant", "Session not active")
            if not user["enabled"]:
                raise oauth_error(400, "invalid_grant", "User disabled")
            return self._issue(realm, issuer, client, user, claims["sid"], refresh=True)
        # client_credentials
        if client["publicClient"]:
            raise oauth_error(401, "unauthorized_client", "Public client not allowed to retrieve service account")
        if not client.get("serviceAccountsEnabled"):
            raise oauth_error(400, "unauthorized_client", "Client not enabled to retrieve service account")
        return self._issue(realm, issuer, client, None, new_uuid(), refresh=False)

    def _code_grant(self, realm, issuer, client, form):
        """grant_type=authorization_code (AuthorizationCodeGrantType.java):
        the code is used once, by the client it was issued to, with the same
        redirect_uri, and with the PKCE verifier when a challenge was sent."""
        code = form.get("code")
        if not code:
            raise oauth_error(400, "invalid_request", "Missing parameter: code")
        issued = self.codes.pop(code, None)
        if issued is None or issued["realm"] != realm["name"]:
            raise oauth_error(400, "invalid_grant", "Code not valid")
        if issued["expires"] < time.time():
            raise oauth_error(400, "invalid_grant", "Code is expired")
        if issued["client"] != client["clientId"]:
            raise oauth_error(400, "invalid_grant", "Auth error")
        if form.get("redirect_uri") != issued["redirect_uri"]:
            raise oauth_error(400, "invalid_grant", "Incorrect redirect_uri")
        if issued["challenge"]:
            verifier = form.get("code_verifier")
            if not verifier:
                raise oauth_error(400, "invalid_grant", "PKCE code verifier not specified")
            if issued["challenge_method"] == "S256":
                verifier = common.b64url(hashlib.sha256(verifier.encode()).digest())
            if not hmac.compare_digest(verifier, issued["challenge"]):
                raise oauth_error(400, "invalid_grant", "PKCE verification failed: Code mismatch")
        user = realm["users"].get(issued["user"])
        if user is None or not user["enabled"]:
            raise oauth_error(400, "invalid_grant", "User disabled")
        return self._issue(realm, issuer, client, user, issued["sid"], refresh=True, login=issued)

    def _id_token(self, realm, issuer, client, user, sid, login, life):
        now = int(time.time())
        claims = {"exp": now + life, "iat": now, "auth_time": login["auth_time"], "jti": new_uuid(),
                  "iss": issuer, "aud": client["clientId"], "sub": user["id"], "typ": "ID",
                  "azp": client["clientId"], "session_state": sid, "acr": "1", "sid": sid,
                  "email_verified": user["emailVerified"], "preferred_username": user["username"]}
        if login.get("nonce") is not None:
            claims["nonce"] = login["nonce"]
        if user["email"]:
            claims["email"] = user["email"]
        names = [user[k] for k in ("firstName", "lastName") if user[k]]
        if names:
            claims["name"] = " ".join(names)
        if user["firstName"]:
            claims["given_name"] = user["firstName"]
        if user["lastName"]:
            claims["family_name"] = user["lastName"]
        # The ID token's audience is the client, plus what mappers with
        # id.token.claim add (TokenManager.initIDToken, transformIDToken).
        aud = [client["clientId"]]
        for m in self._protocol_mappers(realm, client):
            self._apply_mapper(m, "id.token.claim", claims, aud, user)
        claims["aud"] = self._aud_claim(aud)
        return self._sign_rs256(realm, claims)

    def _lifespan(self, realm, client):
        attr = (client.get("attributes") or {}).get("access.token.lifespan")
        if attr not in (None, "", "-1"):
            try:
                return int(attr)
            except ValueError:
                pass
        return int(realm["rep"].get("accessTokenLifespan") or 300)

    def _protocol_mappers(self, realm, client):
        """The protocol mappers a token for CLIENT runs: the client's own,
        then those of its default client scopes (the client itself is the
        first of the scopes DefaultClientSessionContext hands TokenManager).
        Keycloak's built-in scopes (profile, email, roles, ...) are not
        objects here: their claims are written by _access_claims."""
        scopes = {c.get("name"): c for c in (realm.get("client_scopes") or {}).values()}
        out = list(client.get("protocolMappers") or [])
        for name in client.get("defaultClientScopes") or []:
            out += (scopes.get(name) or {}).get("protocolMappers") or []
        return out

    @staticmethod
    def _apply_mapper(mapper, token_claim, claims, aud, user):
        """One mapper on a token (TOKEN_CLAIM: access.token.claim or
        id.token.claim).  A mapper adds to the token only when that config
        item is "true" (OIDCAttributeMapperHelper.includeInAccessToken /
        includeInIDToken).  oidc-audience-mapper
        (AudienceProtocolMapper.setClaim): included.client.audience, else
        included.custom.audience, appended to aud unless already there
        (JsonWebToken.addAudience).  oidc-usermodel-attribute-mapper
        (UserAttributeMapper): the user's attribute as claim.name, its first
        value unless multivalued.  Other mapper types are not modelled."""
        cfg = mapper.get("config") or {}
        if cfg.get(token_claim) != "true":
            return
        kind = mapper.get("protocolMapper")
        if kind == "oidc-audience-mapper":
            value = cfg.get("included.client.audience") or cfg.get("included.custom.audience")
            if value and value not in aud:
                aud.append(value)
        elif kind == "oidc-usermodel-attribute-mapper" and cfg.get("claim.name"):
            values = (user.get("attributes") or {}).get(cfg.get("user.attribute") or "")
            if isinstance(values, str):
                values = [values]
            if values:
                claims[cfg["claim.name"]] = list(values) if truthy(cfg.get("multivalued")) else values[0]

    @staticmethod
    def _aud_claim(aud):
        # AccessToken's audience is a String[] written as a plain string when
        # it has one element (StringOrArraySerializer), left out when empty.
        return aud[0] if len(aud) == 1 else list(aud)

    def _access_claims(self, realm, issuer, client, user, now, life):
        """An access token's claims as Keycloak 24.0.5 makes them
        (services/.../protocol/oidc/TokenManager.java, initToken and
        transformAccessToken): iss the realm's frontend URL, azp (issuedFor)
        the client, sub the user (for client credentials the client's
        service account user), then the protocol mappers sorted by priority
        (ProtocolMapperUtils.getSortedProtocolMappers): the client's own and
        its scopes' (priority 0), then the roles scope's audience resolve
        (PRIORITY_AUDIENCE_RESOLVE_MAPPER, AudienceResolveProtocolMapper),
        which adds every other client the user holds a role of: "account",
        through the realm's default role, whenever the client has the roles
        scope, and nothing else unless a mapper adds it.  The client itself
        is never an audience of its own access token."""
        claims = {"exp": now + life, "iat": now, "jti": new_uuid(), "iss": issuer, "sub": user["id"],
                  "typ": "Bearer", "azp": client["clientId"], "acr": "1"}
        aud = []
        for m in self._protocol_mappers(realm, client):
            self._apply_mapper(m, "access.token.claim", claims, aud, user)
        if "roles" in (client.get("defaultClientScopes") or []):
            claims["realm_access"] = {"roles": sorted(r["name"] for r in self._effective_roles(realm, user["role_ids"]))}
            access = self._effective_client_roles(realm, user["role_ids"])
            if access:
                claims["resource_access"] = {c: {"roles": names} for c, names in sorted(access.items())}
            aud += [c for c in sorted(access) if c != client["clientId"] and c not in aud]
        if aud:
            claims["aud"] = self._aud_claim(aud)
        claims.update({"scope": "email profile", "email_verified": bool(user["emailVerified"]),
                       "preferred_username": user["username"]})
        return claims

    def _issue(self, realm, issuer, client, user, sid, refresh, login=None):
        now = int(time.time())
        life = self._lifespan(realm, client)
        claims = self._access_claims(realm, issuer, client, user or self._service_account(realm, client), now, life)
        if refresh:
            claims["session_state"] = sid
            claims["sid"] = sid
        out = {"access_token": self._sign_rs256(realm, claims), "expires_in": life}
        if refresh:
            idle = int(realm["rep"].get("ssoSessionIdleTimeout") or 1800)
            rclaims = {"exp": now + idle, "iat": now, "jti": new_uuid(), "iss": issuer, "aud": issuer,
                       "sub": claims["sub"], "typ": "Refresh", "azp": client["clientId"],
                       "session_state": sid, "scope": "email profile", "sid": sid}
            out.update({"refresh_expires_in": idle, "refresh_token": self._sign(rclaims, "HS512")})
        else:
            out["refresh_expires_in"] = 0
        out["token_type"] = "Bearer"
        if login is not None and "openid" in login["scope"].split():
            out["id_token"] = self._id_token(realm, issuer, client, user, sid, login, life)
        out["not-before-policy"] = 0
        if refresh:
            out["session_state"] = sid
        out["scope"] = "openid email profile" if login is not None and "openid" in login["scope"].split() \
            else "email profile"
        return self._json(200, out, NO_STORE)

    # --- admin API ---------------------------------------------------------------

    def _admin_auth(self, headers):
        auth = headers.get("Authorization") or ""
        if auth[:7].lower() != "bearer ":
            raise err(401, *UNAUTHORIZED)
        claims = self._verify(auth[7:].strip())
        if claims is None or claims.get("typ") != "Bearer" or claims.get("exp", 0) <= time.time():
            raise err(401, *UNAUTHORIZED)
        realm_name = claims.get("iss", "").rsplit("/realms/", 1)[-1]
        realm = self.realms.get(unquote(realm_name))
        sid = claims.get("sid")
        if realm is None or (sid and sid not in self.sessions):
            raise err(401, *UNAUTHORIZED)
        user = realm["users"].get(claims.get("sub"))
        return realm, user

    def _require_admin(self, caller):
        realm, user = caller
        if realm["name"] != "master" or user is None or not user["enabled"]:
            raise err(403, "HTTP 403 Forbidden")
        if "admin" not in {r["name"] for r in self._effective_roles(realm, user["role_ids"])}:
            raise err(403, "HTTP 403 Forbidden")

    @staticmethod
    def _body_json(body, want=dict):
        if not body.strip():
            raise KcError(500, {"error": "unknown_error",
                                "error_description": "For more on this error consult the server log."})
        try:
            data = json.loads(body)
        except ValueError:
            raise KcError(400, {"error": "invalid_request", "error_description": "Cannot parse the JSON"})
        if not isinstance(data, want):
            raise KcError(400, {"error": "unknown_error", "error_description": "Cannot parse the JSON"})
        return data

    def _admin(self, method, segs, q, headers, body, base):
        caller = self._admin_auth(headers)
        if not segs:
            self._require_admin(caller)
            if method == "GET":
                return self._json(200, [copy.deepcopy(r["rep"]) for r in self.realms.values()])
            if method == "POST":
                rep = self._body_json(body)
                name = rep.get("realm")
                if not name:
                    raise err_message(400, "Realm name cannot be empty")
                if name in self.realms:
                    raise err_message(409, "Conflict detected. See logs for details")
                realm = self._create_realm(rep)
                self._import(realm, rep)
                return self._created("%s/admin/realms/%s" % (base, quote(name, safe="")))
            raise err(405, "HTTP 405 Method Not Allowed")
        realm = self.realms.get(segs[0])
        if realm is None:
            raise err(404, "Realm not found.")
        self._require_admin(caller)
        rest = segs[1:]
        url = "%s/admin/realms/%s" % (base, quote(realm["name"], safe=""))
        if not rest:
            return self._realm(method, realm, body)
        kind = rest[0]
        if kind == "clients":
            return self._clients(method, realm, rest[1:], q, body, url + "/clients")
        if kind == "client-scopes":
            return self._client_scopes(method, realm, rest[1:], body, url + "/client-scopes")
        if kind == "roles":
            return self._roles(method, realm, rest[1:], body, url + "/roles")
        if kind == "users":
            return self._users(method, realm, rest[1:], q, body, url + "/users")
        raise err(404, "Unable to find matching target resource method")

    def _import(self, realm, rep):
        # The parts of a realm representation a bootstrap might send in one go.
        for r in ((rep.get("roles") or {}).get("realm") or []):
            if r.get("name") and r["name"] not in realm["roles"]:
                self._add_role(realm, r)
        for c in rep.get("clients") or []:
            if c.get("clientId") and not any(x["clientId"] == c["clientId"] for x in realm["clients"].values()):
                self._add_client(realm, c)
        for u in rep.get("users") or []:
            if u.get("username"):
                self._create_user(realm, u, importing=True)

    def _realm(self, method, realm, body):
        if method == "GET":
            return self._json(200, copy.deepcopy(realm["rep"]))
        if method == "PUT":
            rep = self._body_json(body)
            new_name = rep.get("realm")
            if new_name and new_name != realm["name"]:
                if new_name in self.realms:
                    raise err_message(409, "Conflict detected. See logs for details")
                if realm["name"] == "master":
                    raise err_message(400, "Can't rename master realm")
                del self.realms[realm["name"]]
                realm["name"] = new_name
                self.realms[new_name] = realm
            for k, v in rep.items():
                if k not in ("id", "roles", "clients", "users", "defaultRole"):
                    realm["rep"][k] = copy.deepcopy(v)
            return self._no_content()
        if method == "DELETE":
            if realm["name"] == "master":
                raise err_message(400, "Can't delete master realm")
            del self.realms[realm["name"]]
            for sid in [s for s, v in self.sessions.items() if v["realm"] == realm["name"]]:
                del self.sessions[sid]
            return self._no_content()
        raise err(405, "HTTP 405 Method Not Allowed")

    # client scopes (by name only what a bootstrap needs: list, create, read, update)

    def _client_scopes(self, method, realm, rest, body, url):
        scopes = realm.setdefault("client_scopes", {})
        if not rest:
            if method == "GET":
                return self._json(200, [copy.deepcopy(c) for c in scopes.values()])
            if method == "POST":
                rep = self._body_json(body)
                if not rep.get("name"):
                    raise err_message(400, "Client Scope name cannot be empty")
                if any(c["name"] == rep["name"] for c in scopes.values()):
                    raise err_message(409, "Client Scope %s already exists" % rep["name"])
                sid = new_uuid()
                scopes[sid] = dict(copy.deepcopy(rep), id=sid)
                if rep.get("protocolMappers"):
                    scopes[sid]["protocolMappers"] = [dict(copy.deepcopy(m), id=new_uuid())
                                                      for m in rep["protocolMappers"]]
                return self._created("%s/%s" % (url, sid))
            raise err(405, "HTTP 405 Method Not Allowed")
        scope = scopes.get(rest[0])
        if scope is not None and rest[1:3] == ["protocol-mappers", "models"]:
            return self._mapper_models(method, scope, rest[3:], body, "%s/%s/protocol-mappers/models" % (url, rest[0]))
        if scope is None or len(rest) != 1:
            raise err(404, "Could not find client scope")
        if method == "GET":
            return self._json(200, copy.deepcopy(scope))
        if method == "PUT":
            for k, v in self._body_json(body).items():
                if k != "id":
                    scope[k] = copy.deepcopy(v)
            return self._no_content()
        raise err(405, "HTTP 405 Method Not Allowed")

    # clients

    def _clients(self, method, realm, rest, q, body, url):
        if not rest:
            if method == "GET":
                clients = list(realm["clients"].values())
                want = q.get("clientId")
                if want:
                    if truthy(q.get("search", "false")):
                        clients = [c for c in clients if want.lower() in c["clientId"].lower()]
                    else:
                        clients = [c for c in clients if c["clientId"] == want]
                clients = self._page(clients, q)
                return self._json(200, [self._client_rep(c) for c in clients])
            if method == "POST":
                rep = self._body_json(body)
                if not rep.get("clientId"):
                    raise err_message(400, "Client ID is required")
                if any(c["clientId"] == rep["clientId"] for c in realm["clients"].values()):
                    raise err_message(409, "Client %s already exists" % rep["clientId"])
                if rep.get("id") and rep["id"] in realm["clients"]:
                    raise err_message(409, "Client %s already exists" % rep["clientId"])
                c = self._add_client(realm, rep)
                return self._created("%s/%s" % (url, c["id"]))
            raise err(405, "HTTP 405 Method Not Allowed")
        client = realm["clients"].get(rest[0])
        if client is None:
            raise err(404, "Could not find client")
        if len(rest) == 1:
            if method == "GET":
                return self._json(200, self._client_rep(client))
            if method == "PUT":
                rep = self._body_json(body)
                if rep.get("clientId") and rep["clientId"] != client["clientId"] and any(
                        c["clientId"] == rep["clientId"] for c in realm["clients"].values()):
                    raise err_message(409, "Client %s already exists" % rep["clientId"])
                for k, v in rep.items():
                    if k not in ("id", "access", "protocolMappers"):
                        client[k] = copy.deepcopy(v)
                if rep.get("protocolMappers") is not None:
                    self._replace_mappers(client, rep["protocolMappers"])
                if client["publicClient"]:
                    client.pop("secret", None)
                elif not client.get("secret") and not client["bearerOnly"]:
                    client["secret"] = secrets.token_urlsafe(24)[:32]
                return self._no_content()
            if method == "DELETE":
                del realm["clients"][client["id"]]
                return self._no_content()
            raise err(405, "HTTP 405 Method Not Allowed")
        if rest[1:3] == ["protocol-mappers", "models"]:
            return self._mapper_models(method, client, rest[3:], body, "%s/%s/protocol-mappers/models" % (url, client["id"]))
        if rest[1:] == ["client-secret"]:
            if method == "POST":
                if client["publicClient"]:
                    raise err(400, "Client is public")
                client["secret"] = secrets.token_urlsafe(24)[:32]
            elif method != "GET":
                raise err(405, "HTTP 405 Method Not Allowed")
            rep = {"type": "secret"}
            if client.get("secret"):
                rep["value"] = client["secret"]
            return self._json(200, rep)
        raise err(404, "Unable to find matching target resource method")

    # protocol mappers of a client or a client scope

    # The mapper types this server knows (ProtocolMapper providers of
    # Keycloak 24's services/.../protocol/oidc/mappers); another is refused
    # as Keycloak refuses a provider it does not have.
    MAPPER_TYPES = ("oidc-audience-mapper", "oidc-usermodel-attribute-mapper", "oidc-audience-resolve-mapper",
                    "oidc-usermodel-realm-role-mapper", "oidc-usermodel-client-role-mapper",
                    "oidc-usermodel-property-mapper", "oidc-hardcoded-claim-mapper", "oidc-usersessionmodel-note-mapper")

    @staticmethod
    def _replace_mappers(owner, reps):
        """A client PUT that carries protocolMappers
        (RepresentationToModel.updateClientProtocolMappers): mappers matched
        by protocol and name keep their ids and take the new config, new
        ones are added, and every mapper the list does not name is removed."""
        old = {(m.get("protocol"), m.get("name")): m for m in owner.get("protocolMappers") or []}
        new = []
        for m in reps:
            prev = old.get((m.get("protocol"), m.get("name")))
            new.append(dict(copy.deepcopy(m), id=prev["id"] if prev else new_uuid()))
        owner["protocolMappers"] = new

    def _mapper_models(self, method, owner, rest, body, url):
        """services/.../resources/admin/ProtocolMappersResource.java:
        .../protocol-mappers/models of a client or a client scope."""
        mappers = owner.setdefault("protocolMappers", [])
        if not rest:
            if method == "GET":
                return self._json(200, copy.deepcopy(mappers))
            if method == "POST":
                rep = self._body_json(body)
                if rep.get("protocolMapper") not in self.MAPPER_TYPES:
                    raise err(404, "ProtocolMapper provider not found")
                if any(m.get("name") == rep.get("name") and m.get("protocol") == rep.get("protocol") for m in mappers):
                    raise err_message(409, "Protocol mapper exists with same name")
                m = dict(copy.deepcopy(rep), id=new_uuid())
                m.setdefault("config", {})
                mappers.append(m)
                return self._created("%s/%s" % (url, m["id"]))
            raise err(405, "HTTP 405 Method Not Allowed")
        m = next((m for m in mappers if m["id"] == rest[0]), None)
        if m is None or len(rest) != 1:
            raise err(404, "Model not found")
        if method == "GET":
            return self._json(200, copy.deepcopy(m))
        if method == "PUT":
            rep = self._body_json(body)
            if rep.get("protocolMapper") not in self.MAPPER_TYPES:
                raise err(404, "ProtocolMapper provider not found")
            # The model is rebuilt from the body (RepresentationToModel.toModel)
            # and stored under the body's id, not the path's: a body without
            # one fails deep in the store (500), one naming another mapper of
            # the owner updates that one.
            target = next((x for x in mappers if x["id"] == rep.get("id")), None)
            if target is None:
                raise KcError(500, {"error": "unknown_error",
                                    "error_description": "For more on this error consult the server log."})
            target.clear()
            target.update(copy.deepcopy(rep))
            target.setdefault("config", {})
            return self._no_content()
        if method == "DELETE":
            mappers.remove(m)
            return self._no_content()
        raise err(405, "HTTP 405 Method Not Allowed")

    @staticmethod
    def _page(items, q):
        try:
            first = int(q.get("first") or 0)
            mx = int(q["max"]) if q.get("max") not in (None, "") else None
        except ValueError:
            raise err(404, "Unable to find matching target resource method")
        items = items[max(first, 0):]
        return items if mx is None or mx < 0 else items[:mx]

    # roles

    def _roles(self, method, realm, rest, body, url):
        if not rest:
            if method == "GET":
                return self._json(200, [self._role_rep(realm, r, brief=True) for r in realm["roles"].values()])
            if method == "POST":
                rep = self._body_json(body)
                if not rep.get("name"):
                    raise err(400, "HTTP 400 Bad Request")
                if rep["name"] in realm["roles"]:
                    raise err_message(409, "Role with name %s already exists" % rep["name"])
                self._add_role(realm, rep)
                # UriBuilder.path() leaves a path segment's legal characters
                # (":" in "aegis:admin", say) as they are.
                return self._created("%s/%s" % (url, quote(rep["name"], safe="/!$&'()*+,;=:@")))
            raise err(405, "HTTP 405 Method Not Allowed")
        role = realm["roles"].get(rest[0])
        if role is None or len(rest) > 1:
            raise err(404, "Could not find role")
        if method == "GET":
            return self._json(200, self._role_rep(realm, role))
        if method == "PUT":
            rep = self._body_json(body)
            if "description" in rep:
                role["description"] = rep["description"]
            if "attributes" in rep:
                role["attributes"] = copy.deepcopy(rep["attributes"] or {})
            new = rep.get("name")
            if new and new != role["name"]:
                if new in realm["roles"]:
                    raise err_message(409, "Role with name %s already exists" % new)
                del realm["roles"][role["name"]]
                role["name"] = new
                realm["roles"][new] = role
            return self._no_content()
        if method == "DELETE":
            if role["name"] == "default-roles-" + realm["name"]:
                raise err_message(400, "You cannot delete a default role.")
            del realm["roles"][role["name"]]
            for u in realm["users"].values():
                u["role_ids"].discard(role["id"])
            for r in realm["roles"].values():
                if role["id"] in r["composites"]:
                    r["composites"].remove(role["id"])
            return self._no_content()
        raise err(405, "HTTP 405 Method Not Allowed")

    # users

    def _create_user(self, realm, rep, importing=False):
        username = rep.get("username")
        if realm["rep"].get("registrationEmailAsUsername"):
            username = rep.get("email")
        if not username or not str(username).strip():
            raise err_message(400, "User name is missing")
        username = str(username).lower()
        users = realm["users"].values()
        if any(u["username"] == username for u in users):
            raise err_message(409, "User exists with same username")
        email = (rep.get("email") or "").lower()
        if email and not realm["rep"].get("duplicateEmailsAllowed") and any(u["email"] == email for u in users):
            raise err_message(409, "User exists with same email")
        u = self._add_user(realm, dict(rep, username=username))
        for cred in rep.get("credentials") or []:
            if cred.get("type", "password") == "password" and cred.get("value"):
                u["password"] = hash_password(cred["value"])
                if cred.get("temporary") and "UPDATE_PASSWORD" not in u["requiredActions"]:
                    u["requiredActions"].append("UPDATE_PASSWORD")
        # realmRoles is honoured by a realm import only; POST /users ignores it.
        for name in (rep.get("realmRoles") or []) if importing else []:
            role = realm["roles"].get(name)
            if role:
                u["role_ids"].add(role["id"])
        return u

    def _user_profile(self, method, realm, rest, body):
        """GET / PUT .../users/profile (UserProfileResource, Keycloak 24):
        PUT takes a whole UPConfig, replaces the realm's and answers it;
        a configuration without username or email, an attribute without a
        name, a name twice, or an unknown unmanagedAttributePolicy is 400
        (UPConfigUtils.validate, thrown as ComponentValidationException;
        the error texts here are this server's, not checked against
        Keycloak's)."""
        if rest:
            raise err(404, "Unable to find matching target resource method")
        if method == "GET":
            return self._json(200, copy.deepcopy(realm["user_profile"]))
        if method != "PUT":
            raise err(405, "HTTP 405 Method Not Allowed")
        cfg = self._body_json(body)
        attrs = cfg.get("attributes")
        if not isinstance(attrs, list):
            raise err_message(400, "UserProfile configuration without 'attributes' section is not allowed")
        names = []
        for a in attrs:
            name = a.get("name") if isinstance(a, dict) else None
            if not name or not isinstance(name, str):
                raise err_message(400, "Attribute configuration without 'name' is not allowed")
            if name in names:
                raise err_message(400, "Duplicit attribute configuration with 'name': '%s'" % name)
            names.append(name)
        for must in ("username", "email"):
            if must not in names:
                raise err_message(400, "The attribute '%s' can not be removed" % must)
        policy = cfg.get("unmanagedAttributePolicy")
        if policy is not None and policy not in ("ENABLED", "ADMIN_VIEW", "ADMIN_EDIT"):
            raise err_message(400, "Invalid unmanagedAttributePolicy")
        realm["user_profile"] = copy.deepcopy(cfg)
        return self._json(200, copy.deepcopy(cfg))

    def _users(self, method, realm, rest, q, body, url):
        if rest[:1] == ["profile"]:
            return self._user_profile(method, realm, rest[1:], body)
        if not rest:
            if method == "GET":
                return self._json(200, [self._user_rep(u, truthy(q.get("briefRepresentation", "false")))
                                        for u in self._page(self._search_users(realm, q), q)])
            if method == "POST":
                u = self._create_user(realm, self._body_json(body))
                return self._created("%s/%s" % (url, u["id"]))
            raise err(405, "HTTP 405 Method Not Allowed")
        if rest == ["count"]:
            if method != "GET":
                raise err(405, "HTTP 405 Method Not Allowed")
            return self._json(200, len(self._search_users(realm, q)))
        user = realm["users"].get(rest[0])
        if user is None:
            raise err(404, "User not found")
        sub = rest[1:]
        if not sub:
            if method == "GET":
                return self._json(200, self._user_rep(user))
            if method == "PUT":
                return self._update_user(realm, user, self._body_json(body))
            if method == "DELETE":
                del realm["users"][user["id"]]
                for sid in [s for s, v in self.sessions.items() if v["user"] == user["id"]]:
                    del self.sessions[sid]
                return self._no_content()
            raise err(405, "HTTP 405 Method Not Allowed")
        if sub == ["reset-password"]:
            if method != "PUT":
                raise err(405, "HTTP 405 Method Not Allowed")
            cred = json.loads(body) if body.strip() else None
            if not isinstance(cred, dict) or cred.get("value") is None:
                raise err(400, "No password provided")
            if not str(cred["value"]).strip():
                raise err(400, "Empty password not allowed")
            policy_error(realm, user, str(cred["value"]))
            user["password"] = hash_password(str(cred["value"]))
            # The user's sessions are kept: tokens issued with the old
            # password stay valid until they expire (resetPassword removes
            # no session; see the module docstring).
            if cred.get("temporary"):
                if "UPDATE_PASSWORD" not in user["requiredActions"]:
                    user["requiredActions"].append("UPDATE_PASSWORD")
            elif "UPDATE_PASSWORD" in user["requiredActions"]:
                user["requiredActions"].remove("UPDATE_PASSWORD")
            return self._no_content()
        if sub == ["role-mappings"] and method == "GET":
            roles = [self._role_rep(realm, r, brief=True) for r in realm["roles"].values()
                     if r["id"] in user["role_ids"]]
            return self._json(200, {"realmMappings": roles} if roles else {})
        if sub == ["role-mappings", "realm", "composite"] and method == "GET":
            return self._json(200, [self._role_rep(realm, r, brief=True)
                                    for r in self._effective_roles(realm, user["role_ids"])])
        if sub == ["role-mappings", "realm"]:
            if method == "GET":
                return self._json(200, [self._role_rep(realm, r, brief=True) for r in realm["roles"].values()
                                        if r["id"] in user["role_ids"]])
            if method in ("POST", "DELETE"):
                reps = self._body_json(body, list)
                found = []
                for rep in reps:
                    role = realm["roles"].get((rep or {}).get("name")) if isinstance(rep, dict) else None
                    # Keycloak looks the role up by name and then insists the
                    # id matches: a mapping that names only the role fails.
                    if role is None or role["id"] != rep.get("id"):
                        raise err(404, "Role not found")
                    found.append(role)
                for role in found:
                    if method == "POST":
                        user["role_ids"].add(role["id"])
                    else:
                        user["role_ids"].discard(role["id"])
                return self._no_content()
            raise err(405, "HTTP 405 Method Not Allowed")
        raise err(404, "Unable to find matching target resource method")

    def _search_users(self, realm, q):
        users = list(realm["users"].values())
        exact = truthy(q.get("exact", "false"))
        if q.get("search"):
            s = q["search"].lower().strip("*")
            users = [u for u in users if any(s in (u[k] or "").lower()
                                             for k in ("username", "email", "firstName", "lastName"))]
        for k in ("username", "email", "firstName", "lastName"):
            if q.get(k) is not None and q.get(k) != "":
                want = q[k].lower()
                if exact:
                    users = [u for u in users if (u[k] or "").lower() == want]
                else:
                    users = [u for u in users if want in (u[k] or "").lower()]
        if "enabled" in q:
            users = [u for u in users if u["enabled"] == truthy(q["enabled"])]
        return sorted(users, key=lambda u: u["username"])

    def _update_user(self, realm, user, rep):
        if "username" in rep and rep["username"] and rep["username"].lower() != user["username"]:
            if not realm["rep"].get("editUsernameAllowed"):
                raise KcError(400, {"field": "username", "errorMessage": "error-user-attribute-read-only",
                                    "params": ["username"]})
            if any(u["username"] == rep["username"].lower() for u in realm["users"].values()):
                raise err_message(409, "User exists with same username")
            user["username"] = rep["username"].lower()
        if "email" in rep:
            email = (rep["email"] or "").lower() or None
            if email and email != user["email"] and not realm["rep"].get("duplicateEmailsAllowed") and any(
                    u["email"] == email for u in realm["users"].values()):
                raise err_message(409, "User exists with same email")
            user["email"] = email
        for k in ("firstName", "lastName"):
            if k in rep:
                user[k] = rep[k]
        for k in ("enabled", "emailVerified"):
            if k in rep and rep[k] is not None:
                user[k] = bool(rep[k])
        if "requiredActions" in rep:
            user["requiredActions"] = list(rep["requiredActions"] or [])
        if "attributes" in rep:
            user["attributes"] = managed_attributes(realm, rep["attributes"])
        for cred in rep.get("credentials") or []:
            if cred.get("type", "password") == "password" and cred.get("value"):
                user["password"] = hash_password(cred["value"])
        return self._no_content()


def main():
    def add_args(p):
        p.add_argument("--token-lifetime", type=int, default=60,
                       help="master realm access token lifespan in seconds (Keycloak's default: 60)")

    def make(args):
        admin = os.environ.get("KEYCLOAK_ADMIN") or "admin"
        password = os.environ.get("KEYCLOAK_ADMIN_PASSWORD")
        if not password:
            raise ValueError("KEYCLOAK_ADMIN_PASSWORD is not set")
        if args.token_lifetime < 1:
            raise ValueError("--token-lifetime must be at least 1")
        # The container's own settings (KC_*), as the real image reads them.
        return Keycloak(admin, password, args.token_lifetime,
                        hostname_url=os.environ.get("KC_HOSTNAME_URL") or "",
                        hostname=os.environ.get("KC_HOSTNAME") or "",
                        proxy_headers=(os.environ.get("KC_PROXY_HEADERS") or "").lower())

    return common.run("keycloak", "Keycloak admin REST API test server", add_args, make)


if __name__ == "__main__":
    sys.exit(main())
