"""STAND-IN for the AEGIS SEAL gateway (aegis-seal-gateway), not the gateway:
it reads the gateway's configuration and environment as the gateway does and
refuses a SEAL security token where the gateway refuses it.

Sources: 100monkeys-ai/aegis-seal-gateway at c17803d5 (kube/contracts.yaml);
file:line below is in that tree.

Start-up (GatewayConfig::load_or_default, src/domain/config_manifest.rs):
  the configuration file: SEAL_GATEWAY_CONFIG_PATH when it exists, else
  ./seal-gateway-config.yaml, ~/.aegis/seal-gateway-config.yaml,
  /etc/aegis/seal-gateway-config.yaml, else the defaults (:238-285); the
  required fields of SealGatewayConfigManifest (apiVersion, kind,
  metadata.name, spec; :6-113); the environment overrides (:287-393, among
  them SEAL_GATEWAY_SEAL_JWT_PUBLIC_KEY_PEM, which replaces
  spec.auth.seal_jwt_public_key_pem, :329); validate() (:395-425).  Then
  HTTP on spec.network.bind_addr with /health always and / only while
  spec.ui.enabled (src/main.rs:215-233), and spec.network.grpc_bind_addr
  bound (not spoken).  A missing or unparsable public key does not stop it:
  every invocation is refused instead, as the gateway does.

POST /v1/invoke and /v1/seal/invoke take a SEAL envelope (src/domain/
seal.rs:5-17) and check, in the gateway's order:
  the security token's tenant_id, read unverified, else 401 with no body
  (src/infrastructure/auth.rs:55-80); exec_id (src/application/
  invocation.rs:64-82); the protocol "seal/v1" and the 30 s timestamp
  window (src/infrastructure/seal.rs:131-146); the RSA public key present
  and parsable; the token an RS256 JWT that verifies against it, with exp,
  iss = spec.auth.seal_jwt_issuer and aud = spec.auth.seal_jwt_audience
  (seal.rs:84-99); its claims sub, exec_id, scp, wid (seal.rs:12-28), wid
  not empty (:103-107); the payload a tools/call (:109-119); jti
  (application/invocation.rs:112-116).  Refusals answer the gateway's SEAL
  error body with its codes and statuses (src/infrastructure/errors.rs:
  12-18, :37-67, :77-100; src/presentation/invocation.rs:18-36): 401 for a
  token or signature refused.  An accepted call answers 200 with the
  verified claims; no tool runs.

The operator API (src/main.rs:185-214: /v1/specs, /v1/workflows,
/v1/cli-tools, /v1/seal/sessions, /v1/security-contexts, /v1/tools,
/v1/explorer) sits behind require_operator (src/infrastructure/auth.rs:
13-46, :209-221), unless spec.auth.disabled: a Bearer token, else 401; an
RS256 JWT whose kid names an RSA key of the JWKS at spec.auth.
operator_jwks_uri (fetched, cached for jwks_cache_ttl_secs, fetched again
for an unknown kid; unreachable or non-2xx: 503; a key without kty, kid, n
or e: 500), that verifies, with exp (60 s leeway), iss = spec.auth.
operator_jwt_issuer and aud containing spec.auth.operator_jwt_audience
(src/infrastructure/jwks_validator.rs:90-191), else 401; then the claim
operator_role_claim (default aegis_role, src/infrastructure/config.rs:56-60)
aegis:admin or aegis:operator, else 403 (auth.rs:171-189).  Behind it the
stand-in keeps SEAL sessions in memory (POST /v1/seal/sessions answers
{"saved": true}, control_plane.rs:567), lists them, and answers GET
/v1/tools with no tools; the rest answers 501 (not modelled).

Not modelled: the agent's SEAL session in the invocation path, and so the
envelope's Ed25519 signature against the session's key (seal.rs:52-82),
OpenBao, tools, the database.
"""

import datetime
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import standin  # noqa: E402
from standin import Fatal  # noqa: E402

PROG = "aegis-seal-gateway (stand-in)"
S, B = "str", "bool"

# config_manifest.rs:6-113: required fields of the manifest; every spec
# section has a serde default
SCHEMA = {
    "apiVersion": (S, True), "kind": (S, True),
    "metadata": ({"name": (S, True), "version": (S, False)}, True),
    "spec": ({
        "network": ({"bind_addr": (S, False), "grpc_bind_addr": (S, False)}, False),
        "database": ({"url": (S, False)}, False),
        "auth": ({"disabled": (B, False), "operator_jwks_uri": (S, False),
                  "operator_jwt_issuer": (S, False), "operator_jwt_audience": (S, False),
                  "operator_role_claim": (S, False), "jwks_cache_ttl_secs": ("u64", False),
                  "seal_jwt_public_key_pem": (S, False), "seal_jwt_issuer": (S, False),
                  "seal_jwt_audience": (S, False)}, False),
        "ui": ({"enabled": (B, False)}, False),
    }, True),
}

# config_manifest.rs:427-462: the defaults
DEFAULTS = {"bind_addr": "0.0.0.0:8089", "grpc_bind_addr": "0.0.0.0:50055", "db": "sqlite://gateway.db",
            "seal_jwt_issuer": "aegis-orchestrator", "seal_jwt_audience": "aegis-agents", "ui": True,
            "operator_jwt_issuer": "aegis-keycloak", "operator_jwt_audience": "aegis-seal-gateway",
            "jwks_cache_ttl_secs": 300}

# src/infrastructure/errors.rs:12-18
MALFORMED, INVALID_SIGNATURE, SIGNATURE_FAILED, TOKEN_EXPIRED, TOKEN_FAILED = 1000, 1001, 1002, 1003, 1004


class Config:
    pass


def discover_config():
    path = os.environ.get("SEAL_GATEWAY_CONFIG_PATH")
    if path and os.path.exists(path):
        return path
    for p in ("./seal-gateway-config.yaml", os.path.expanduser("~/.aegis/seal-gateway-config.yaml"),
              "/etc/aegis/seal-gateway-config.yaml"):
        if os.path.exists(p):
            return p
    return None


def load_config():
    path = discover_config()
    doc = None
    if path is None:
        standin.log(PROG, "WARN No seal-gateway-config.yaml found; using defaults")
    else:
        standin.log(PROG, "Loading SEAL gateway config from %s" % path)
        doc = standin.load_yaml(path, "configuration")
        standin.check_schema(doc, SCHEMA, "", path)
    g = lambda k, d=None: standin.get(doc, k, d) if doc is not None else d  # noqa: E731
    c = Config()
    c.api_version = g("apiVersion", "seal.100monkeys.ai/v1")
    c.kind = g("kind", "SealGatewayConfig")
    c.name = g("metadata.name", "aegis-seal-gateway")
    c.bind_addr = g("spec.network.bind_addr", DEFAULTS["bind_addr"])
    c.grpc_bind_addr = g("spec.network.grpc_bind_addr", DEFAULTS["grpc_bind_addr"])
    c.db = g("spec.database.url", DEFAULTS["db"])
    c.auth_disabled = g("spec.auth.disabled", False)
    c.jwks_uri = g("spec.auth.operator_jwks_uri", "")
    c.operator_issuer = g("spec.auth.operator_jwt_issuer", DEFAULTS["operator_jwt_issuer"])
    c.operator_audience = g("spec.auth.operator_jwt_audience", DEFAULTS["operator_jwt_audience"])
    c.role_claim = g("spec.auth.operator_role_claim", None)
    c.jwks_ttl = g("spec.auth.jwks_cache_ttl_secs", DEFAULTS["jwks_cache_ttl_secs"])
    c.public_key_pem = g("spec.auth.seal_jwt_public_key_pem", "")
    c.issuer = g("spec.auth.seal_jwt_issuer", DEFAULTS["seal_jwt_issuer"])
    c.audience = g("spec.auth.seal_jwt_audience", DEFAULTS["seal_jwt_audience"])
    c.ui = g("spec.ui.enabled", DEFAULTS["ui"])
    # apply_env_overrides, config_manifest.rs:287-393 (those that matter here)
    env = os.environ
    for var, attr in (("SEAL_GATEWAY_BIND", "bind_addr"), ("SEAL_GATEWAY_GRPC_BIND", "grpc_bind_addr"),
                      ("SEAL_GATEWAY_DB", "db"), ("SEAL_GATEWAY_SEAL_JWT_ISSUER", "issuer"),
                      ("SEAL_GATEWAY_SEAL_JWT_AUDIENCE", "audience")):
        if env.get(var, "").strip():
            setattr(c, attr, env[var])
    if "SEAL_GATEWAY_AUTH_DISABLED" in env:
        c.auth_disabled = env["SEAL_GATEWAY_AUTH_DISABLED"].lower() == "true"
    if "SEAL_GATEWAY_OPERATOR_JWKS_URI" in env:
        c.jwks_uri = env["SEAL_GATEWAY_OPERATOR_JWKS_URI"]
    if env.get("SEAL_GATEWAY_JWKS_CACHE_TTL_SECS", "").isdigit():
        c.jwks_ttl = int(env["SEAL_GATEWAY_JWKS_CACHE_TTL_SECS"])
    for var, attr in (("SEAL_GATEWAY_OPERATOR_JWT_ISSUER", "operator_issuer"),
                      ("SEAL_GATEWAY_OPERATOR_ROLE_CLAIM", "role_claim"),
                      ("SEAL_GATEWAY_OPERATOR_JWT_AUDIENCE", "operator_audience")):
        if env.get(var, "").strip():
            setattr(c, attr, env[var])
    # config.rs:56-60
    c.role_claim = c.role_claim or "aegis_role"
    if "SEAL_GATEWAY_SEAL_JWT_PUBLIC_KEY_PEM" in env:
        c.public_key_pem = env["SEAL_GATEWAY_SEAL_JWT_PUBLIC_KEY_PEM"]
    if "SEAL_GATEWAY_UI_ENABLED" in env:
        c.ui = env["SEAL_GATEWAY_UI_ENABLED"].lower() != "false"
    # validate(), config_manifest.rs:395-425
    if c.api_version != "seal.100monkeys.ai/v1":
        raise Fatal("Invalid apiVersion: '%s'. Must be 'seal.100monkeys.ai/v1'" % c.api_version)
    if c.kind != "SealGatewayConfig":
        raise Fatal("Invalid kind: '%s'. Must be 'SealGatewayConfig'" % c.kind)
    for value, what in ((c.name, "metadata.name"), (c.bind_addr, "spec.network.bind_addr"),
                        (c.grpc_bind_addr, "spec.network.grpc_bind_addr"), (c.db, "spec.database.url")):
        if not str(value).strip():
            raise Fatal("%s cannot be empty" % what)
    if not c.auth_disabled and not c.jwks_uri.strip():
        raise Fatal("spec.auth.operator_jwks_uri is required when auth is enabled")
    return c


def classify(msg):
    # errors.rs:77-100 (the branches a token check can reach)
    low = msg.lower()
    if any(s in low for s in ("invalid signature", "bad signature", "signature b64", "signature must be")):
        return INVALID_SIGNATURE
    if "signature" in low:
        return SIGNATURE_FAILED
    if any(s in low for s in ("timestamp", "freshness", "replay", "duplicate jti")):
        return TOKEN_EXPIRED
    if any(s in low for s in ("token invalid", "jwt", "security token")):
        return TOKEN_FAILED
    return MALFORMED


def seal_error(msg):
    # presentation/invocation.rs:18-36: 1001-1006 are 401
    code = classify(msg)
    status = 401 if 1001 <= code <= 1006 else 400
    body = {"protocol": "seal/v1", "status": "error",
            "error": {"code": code, "message": msg,
                      "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                      "request_id": str(uuid.uuid4())}}
    return common.json_response(status, body)


class Refused(Exception):
    pass


def verify_jwt(token, cfg):
    """The claims of an RS256 JWT that verifies against the configured key,
    with exp, iss and aud checked as jsonwebtoken's Validation does."""
    if not cfg.public_key_pem.strip():
        raise Refused("SEAL JWT public key is not configured")
    try:
        n, e = standin.rsa_public_from_pem(cfg.public_key_pem)
    except standin.KeyError_ as err:
        raise Refused("invalid SEAL JWT public key: %s" % err)
    parts = token.split(".")
    if len(parts) != 3:
        raise Refused("security token invalid: InvalidToken")
    try:
        header = json.loads(common.b64url_decode(parts[0]))
        claims = json.loads(common.b64url_decode(parts[1]))
        sig = common.b64url_decode(parts[2])
    except ValueError:
        raise Refused("security token invalid: InvalidToken")
    if not isinstance(header, dict) or header.get("alg") != "RS256":
        raise Refused("security token invalid: InvalidAlgorithm")
    if not common.rs256_verify(n, e, ("%s.%s" % (parts[0], parts[1])).encode(), sig):
        raise Refused("security token invalid: InvalidSignature")
    if not isinstance(claims, dict):
        raise Refused("security token invalid: InvalidToken")
    now = int(time.time())
    if "exp" not in claims:
        raise Refused('security token invalid: Missing required claim: exp')
    if not isinstance(claims["exp"], (int, float)) or claims["exp"] < now - 60:  # leeway 60 s
        raise Refused("security token invalid: ExpiredSignature")
    if claims.get("iss") != cfg.issuer:
        raise Refused("security token invalid: InvalidIssuer")
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if cfg.audience not in auds:
        raise Refused("security token invalid: InvalidAudience")
    for name in ("sub", "exec_id", "scp", "wid"):
        if not isinstance(claims.get(name), str):
            raise Refused("security token invalid: missing field `%s`" % name)
    if not claims["wid"].strip():
        raise Refused("security token wid claim is empty")
    return claims


class Status(Exception):
    """A refusal of require_operator: only a status, no body (auth.rs)."""

    def __init__(self, status, why):
        Exception.__init__(self, why)
        self.status = status


class Jwks:
    """JwksValidator (jwks_validator.rs:73-191): the keys of operator_jwks_uri,
    cached for the TTL, fetched again for a kid it does not know."""

    def __init__(self, uri, ttl):
        self.uri, self.ttl = uri, ttl
        self.keys, self.fetched = None, 0.0
        self.lock = threading.Lock()

    def fetch(self):
        # jwks_validator.rs:90-117: unreachable or non-2xx -> 503; a
        # document that does not parse as JwksResponse (every key with kty,
        # kid, n, e) -> 500
        try:
            with urllib.request.urlopen(self.uri, timeout=10) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raise Status(503, "JWKS endpoint returned %d" % e.code)
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise Status(503, "JWKS fetch failed: %s" % getattr(e, "reason", e))
        try:
            keys = json.loads(raw)["keys"]
            for k in keys:
                for f in ("kty", "kid", "n", "e"):
                    if not isinstance(k[f], str):
                        raise TypeError(f)
        except (ValueError, KeyError, TypeError) as e:
            raise Status(500, "Failed to parse JWKS response: %s" % e)
        self.keys, self.fetched = keys, time.monotonic()
        return keys

    def find(self, kid):
        with self.lock:
            keys = self.keys if self.keys is not None and time.monotonic() - self.fetched <= self.ttl \
                else self.fetch()
            key = next((k for k in keys if k["kid"] == kid and k["kty"] == "RSA"), None)
            if key is None:
                key = next((k for k in self.fetch() if k["kid"] == kid and k["kty"] == "RSA"), None)
        if key is None:
            raise Status(401, "Key not found in JWKS after refresh (kid %r)" % kid)
        return key


def verify_operator(headers, cfg, jwks):
    """auth.rs:13-46 and :209-221: the operator's claims, or Status."""
    auth = headers.get("authorization")
    if auth is None:
        raise Status(401, "no Authorization header")
    if auth.startswith("Bearer "):
        token = auth[len("Bearer "):]
    elif auth.startswith("bearer "):
        token = auth[len("bearer "):]
    else:
        raise Status(401, "Authorization is not a Bearer token")
    # jwks_validator.rs:143-191: decode_header, the key by kid, then
    # jsonwebtoken's Validation::new(RS256) with the issuer and audience
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three parts")
        header = json.loads(common.b64url_decode(parts[0]))
        claims = json.loads(common.b64url_decode(parts[1]))
        sig = common.b64url_decode(parts[2])
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ValueError("not JSON objects")
    except ValueError as e:
        raise Status(401, "Failed to decode JWT: %s" % e)
    key = jwks.find(header.get("kid") or "")
    if header.get("alg") != "RS256":
        raise Status(401, "JWT validation failed: InvalidAlgorithm")
    n = int.from_bytes(common.b64url_decode(key["n"]), "big")
    e = int.from_bytes(common.b64url_decode(key["e"]), "big")
    if not common.rs256_verify(n, e, ("%s.%s" % (parts[0], parts[1])).encode(), sig):
        raise Status(401, "JWT validation failed: InvalidSignature")
    if not isinstance(claims.get("exp"), (int, float)):
        raise Status(401, "JWT validation failed: Missing required claim: exp")
    if claims["exp"] < time.time() - 60:
        raise Status(401, "JWT validation failed: ExpiredSignature")
    if claims.get("iss") != cfg.operator_issuer:
        raise Status(401, "JWT validation failed: InvalidIssuer (%r, not %r)" % (claims.get("iss"), cfg.operator_issuer))
    aud = claims.get("aud")
    if cfg.operator_audience not in (aud if isinstance(aud, list) else [aud]):
        raise Status(401, "JWT validation failed: InvalidAudience (%r lacks %r)" % (aud, cfg.operator_audience))
    # JwtClaims (jwks_validator.rs:46-70): aegis_role and tenant_id are
    # Option<String> (another type fails to deserialize: 401); another
    # claim name is read only when it is a string
    for typed in ("aegis_role", "tenant_id"):
        if claims.get(typed) is not None and not isinstance(claims[typed], str):
            raise Status(401, "JWT validation failed: %s is not a string" % typed)
    role = claims.get(cfg.role_claim)
    if role not in ("aegis:admin", "aegis:operator"):
        raise Status(403, "Missing %s claim in operator JWT" % cfg.role_claim if role is None
                     else "Insufficient role for SEAL operator access: %r" % role)
    return claims


OPERATOR_ROUTES = [re.compile(r) for r in (
    r"/v1/specs", r"/v1/specs/[^/]+", r"/v1/workflows", r"/v1/workflows/[^/]+", r"/v1/cli-tools",
    r"/v1/cli-tools/[^/]+", r"/v1/seal/sessions", r"/v1/seal/sessions/[^/]+", r"/v1/security-contexts",
    r"/v1/security-contexts/[^/]+", r"/v1/tools", r"/v1/explorer")]


def operator(method, path, headers, body, cfg, jwks, sessions):
    if not cfg.auth_disabled:
        try:
            claims = verify_operator(headers, cfg, jwks)
        except Status as s:
            standin.log(PROG, "WARN operator call %s %s refused (%d): %s" % (method, path, s.status, s))
            return common.Response(s.status)
        standin.log(PROG, "operator call %s %s by %s (%s)" % (method, path, claims.get("sub"),
                                                             claims.get(cfg.role_claim)))
    if path == "/v1/seal/sessions" and method == "POST":
        try:
            req = json.loads(body)
            sessions[str(req["execution_id"])] = req
        except (ValueError, KeyError, TypeError) as e:
            return common.json_response(422, {"error": "invalid session: %s" % e})
        return common.json_response(200, {"saved": True})
    if path == "/v1/seal/sessions" and method == "GET":
        return common.json_response(200, list(sessions.values()))
    if path == "/v1/tools" and method == "GET":
        return common.json_response(200, [])
    return common.json_response(501, {"error": "not modelled by the stand-in", "standin": True})


def invoke(body, cfg):
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = None
    token = envelope.get("security_token") if isinstance(envelope, dict) else None
    unverified = standin.jwt_unverified_claims(token)
    # auth.rs:55-80: no tenant_id in the token, 401 with no body
    if not unverified or not isinstance(unverified.get("tenant_id"), str) or not unverified["tenant_id"]:
        return common.Response(401)
    for field in ("protocol", "signature", "payload", "timestamp"):
        if field not in envelope:
            return common.json_response(422, {"error": "missing field `%s`" % field})
    try:
        if not isinstance(unverified.get("exec_id"), str):
            raise Refused("security token missing exec_id")
        if envelope["protocol"] != "seal/v1":
            raise Refused("unsupported SEAL protocol '%s'" % envelope["protocol"])
        age = abs(time.time() - float(envelope["timestamp"]))
        if age > 30:
            raise Refused("envelope timestamp is outside the 30 second freshness window (%ds)" % age)
        claims = verify_jwt(token, cfg)
        payload = envelope["payload"]
        if not isinstance(payload, dict) or payload.get("method") != "tools/call":
            raise Refused("payload method must be tools/call")
        params = payload.get("params")
        if not isinstance(params, dict) or "name" not in params or "arguments" not in params:
            raise Refused("invalid tools/call params: missing field")
        if not claims.get("jti"):
            raise Refused("security token missing jti")
    except Refused as r:
        return seal_error(str(r))
    return common.json_response(200, {"result": {
        "standin": True, "tool": params["name"], "verified": True,
        "claims": {k: claims.get(k) for k in ("sub", "exec_id", "tenant_id", "scp", "wid", "jti", "iss", "aud")}}})


def main(argv):
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    try:
        cfg = load_config()
        if cfg.public_key_pem.strip():
            try:
                standin.rsa_public_from_pem(cfg.public_key_pem)
                standin.log(PROG, "SEAL JWT public key: RSA")
            except standin.KeyError_ as e:
                standin.log(PROG, "WARN the SEAL JWT public key does not parse (%s): every invocation "
                            "will be refused" % e)
        else:
            standin.log(PROG, "WARN no SEAL JWT public key (spec.auth.seal_jwt_public_key_pem / "
                        "SEAL_GATEWAY_SEAL_JWT_PUBLIC_KEY_PEM): every invocation will be refused")

        def route(method, path, headers, body):
            if path == "/health" and method in ("GET", "HEAD"):
                return common.Response(200, b"ok", [("Content-Type", "text/plain; charset=utf-8")])
            if path == "/" and cfg.ui and method in ("GET", "HEAD"):
                return common.Response(200, b"<!doctype html><title>AEGIS SEAL gateway (stand-in)</title>\n",
                                       [("Content-Type", "text/html; charset=utf-8")])
            if path in ("/v1/invoke", "/v1/seal/invoke") and method == "POST":
                return invoke(body, cfg)
            if any(r.fullmatch(path) for r in OPERATOR_ROUTES):
                return operator(method, path, headers, body, cfg, jwks, sessions)
            return None
        jwks, sessions = Jwks(cfg.jwks_uri, cfg.jwks_ttl), {}
        host, port = standin.split_host_port(cfg.bind_addr)
        ghost, gport = standin.split_host_port(cfg.grpc_bind_addr)
        standin.serve_http(standin.SimpleApp("seal-gateway-standin", route), host, port)
        standin.serve_tcp(ghost, gport, "gRPC")
        standin.log(PROG, "listening on %s (HTTP) and %s (gRPC port bound, not spoken)"
                    % (cfg.bind_addr, cfg.grpc_bind_addr))
    except Fatal as e:
        standin.die(PROG, str(e))
    standin.wait_for_signal()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
