#!/usr/bin/python3
"""OpenBao HTTP API test server.

A stateful stand-in for OpenBao 2.4's HTTP API, for testing the code that
bootstraps OpenBao (init, unseal, auth methods, mounts, policies, AppRole, KV,
OIDC).  It answers with the status codes, JSON shapes and error texts the real
server produces, so a client that works against it should work against
OpenBao, and a client that mishandles a real failure should fail here too.

Followed: the OpenBao API docs (openbao.org/api-docs: system/health,
system/init, system/unseal, system/seal-status, system/auth, system/mounts,
system/policies, auth/approle, auth/jwt, secret/kv/kv-v2) and, for error texts
and status codes the docs leave out, the OpenBao source (github.com/openbao/
openbao): http/sys_init.go, http/sys_seal.go, vault/init.go (ErrAlreadyInit),
vault/barrier.go (ErrBarrierInvalidKey), vault/seal_config.go (seal config
validation), vault/mount.go and vault/auth.go ("path is already in use at"),
sdk/logical/response_util.go (RespondErrorCommon: an error response from a
backend is a 400 unless the error is permission denied / unsupported path),
sdk/helper/consts/error.go (ErrSealed), builtin/credential/approle/path_login.go
and path_role.go, builtin/logical/kv/upgrade.go (the KV v2 upgrade window),
and the jwt/oidc plugin (builtin/credential/jwt): path_role.go, path_config.go
(the config write replaces, the terse discovery error) and path_oidc.go
(auth_url, callback).  Version: 2.4.1, the release kube/variables.yaml pins.

Endpoints (all under /v1/):
  sys/health            GET, HEAD  200 active, 429 standby, 501 uninitialized,
                                   503 sealed; activecode, standbycode,
                                   sealedcode, uninitcode, standbyok honoured
  sys/init              GET, PUT/POST
  sys/seal-status       GET
  sys/unseal            PUT/POST   key, reset; threshold > 1 with progress
  sys/seal              PUT/POST   (root/sudo)
  sys/leader            GET
  sys/auth              GET        list auth methods
  sys/auth/:path        POST/PUT enable, DELETE disable, GET read
  sys/mounts            GET        list secrets engines
  sys/mounts/:path      POST/PUT enable, DELETE disable, GET read
  sys/{auth,mounts}/:path/tune   GET, POST/PUT (TTLs, listing_visibility, ...)
  sys/policies/acl      LIST (or GET ?list=true)
  sys/policies/acl/:n   GET, PUT/POST, DELETE
  auth/token/lookup-self GET
  auth/<approle>/role            LIST
  auth/<approle>/role/:name      GET, POST/PUT, DELETE
  auth/<approle>/role/:name/role-id    GET, POST
  auth/<approle>/role/:name/secret-id  POST (generate), LIST
  auth/<approle>/role/:name/secret-id/lookup   POST: the secret-id's properties
                                 (200), 204 when unknown
  auth/<approle>/role/:name/secret-id/destroy  POST, DELETE: 204, known or not
  auth/<approle>/login           POST (unauthenticated)
  auth/<jwt|oidc>/config         GET, POST  (replaces the whole config; fetches
                                 the discovery document from where this server
                                 runs, as the real plugin does)
  auth/<jwt|oidc>/oidc/auth_url  POST (unauthenticated): role, redirect_uri
  auth/<jwt|oidc>/oidc/callback  GET (unauthenticated): state, code; exchanges
                                 the code at the provider, verifies the RS256
                                 ID token, answers with a token of the role
  auth/<jwt|oidc>/role           LIST
  auth/<jwt|oidc>/role/:name     GET, POST/PUT, DELETE
  <kv-v2>/data/:path     GET (?version=), POST/PUT (options.cas), PATCH, DELETE
  <kv-v2>/metadata/:path GET, LIST, POST/PUT (max_versions, cas_required,
                         custom_metadata), DELETE
  <kv-v2>/config         GET
  <kv-v1>/:path          GET, POST/PUT, LIST, DELETE

Every authenticated request carries X-Vault-Token (or Authorization: Bearer).
While sealed everything but health/init/seal-status/unseal/leader is 503
{"errors":["Vault is sealed"]}.  A missing, unknown or expired token is 403
{"errors":["permission denied"]}; so is a token whose policies do not grant
the capability.  Policies are real: the HCL `path "..." { capabilities = [...] }`
blocks are parsed and matched with OpenBao's rules (exact, `*` suffix glob,
`+` segment wildcard, most specific path wins, deny wins).

Test-only controls (see common.py): /_test/requests, /_test/reset,
/_test/fault, plus POST /_test/seal, which seals the server the way a restart
does (initialized, sealed, unseal keys still valid).

State: in memory, or with --state FILE persisted as JSON (0600) after every
change; starting on an existing state file comes up sealed, as a restart of
the real server does.

Run:  /usr/bin/python3 tests/servers/openbao.py [--host 127.0.0.1] [--port 0]
          [--port-file FILE] [--state FILE] [--kv-upgrade-seconds 0.05]

A new KV version 2 mount answers every request with OpenBao's 400
"Upgrading from non-versioned to versioned data..." for --kv-upgrade-seconds
after it is enabled, as the real one does while its background upgrade runs.
"""

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from urllib.parse import parse_qs, unquote

# No __pycache__ beside the servers: they run from the work tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

# The release kube/variables.yaml pins (OPENBAO_IMAGE).  The build date is
# a placeholder of the right shape; nothing reads it.
VERSION = "2.4.1"
BUILD_DATE = "2025-09-25T00:00:00Z"
# builtin/logical/kv/upgrade.go (upgradeCheck): what every request on a KV
# version 2 mount answers, as a 400 (logical.ErrInvalidRequest), while the
# mount's asynchronous storage upgrade runs.
KV_UPGRADING = ("Upgrading from non-versioned to versioned data. This backend will be unavailable "
                "for a brief period and will resume service shortly.")
# builtin/credential/jwt/path_oidc.go: the prefix the UI looks for.
LOGIN_FAILED = "Vault login failed."
# The system default token TTL (32 days), what a role without token_ttl gets.
DEFAULT_TTL = 2764800
# Unseal key shares are 32-byte keys plus the Shamir x coordinate.
SHARE_LEN = 33
MIN_KEY_LEN, MAX_KEY_LEN = 17, 33
CAPABILITIES = {"create", "read", "update", "delete", "list", "sudo", "deny", "patch", "subscribe"}

DEFAULT_POLICY = """# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}
"""

SEALED = "Vault is sealed"
DENIED = "permission denied"


def now_rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


def new_uuid():
    b = bytearray(secrets.token_bytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def new_token():
    # OpenBao service tokens: "s." and 24 base62 characters.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "s." + "".join(secrets.choice(alphabet) for _ in range(24))


def sha256(s):
    return hashlib.sha256(s if isinstance(s, bytes) else s.encode()).hexdigest()


def parse_bool(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("1", "t", "true", "yes", "y", "on"):
            return True
        if s in ("0", "f", "false", "no", "n", "off", ""):
            return False
    raise ValueError("cannot parse %r as bool" % (v,))


_DUR = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d)")


def parse_duration(v):
    """Seconds from a Vault duration: an integer, "3600", "1h", "1h30m"."""
    if v is None or v == "":
        return 0
    if isinstance(v, bool):
        raise ValueError("invalid duration")
    if isinstance(v, (int, float)):
        return int(v)
    s = str(v).strip()
    if re.fullmatch(r"\d+", s):
        return int(s)
    pos, total = 0, 0.0
    mult = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for m in _DUR.finditer(s):
        if m.start() != pos:
            raise ValueError("invalid duration %r" % s)
        total += float(m.group(1)) * mult[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError('time: invalid duration "%s"' % s)
    return int(total)


def parse_list(v):
    """Vault's TypeCommaStringSlice: a JSON list or a comma-separated string."""
    if v is None:
        return []
    if isinstance(v, list):
        out = []
        for x in v:
            out.extend(parse_list(x) if isinstance(x, str) and "," in x else [str(x).strip()])
        return [x for x in out if x]
    return [x.strip() for x in str(v).split(",") if x.strip()]


def parse_policies(v):
    # policyutil.ParsePolicies: lower-cased, trimmed, de-duplicated, sorted.
    return sorted({p.lower() for p in parse_list(v)})



def normalize_claim_list(raw):
    """normalizeList (builtin/credential/jwt/claims.go, v2.4.1): a string,
    bool or number as a list of one, a list as it is; anything else None."""
    if isinstance(raw, list):
        return raw
    if isinstance(raw, (str, bool, int, float)):
        return [raw]
    return None


def bound_claims_problem(kind, bound, claims):
    """validateBoundClaims (claims.go:128-156, v2.4.1): every bound claim
    must be present and one of its values equal (or, type "glob", match) one
    of the token's values for it.  The error text, or None.  Claims named by
    a JSON pointer ("/a/b") are looked up by path."""
    for name, expected in (bound or {}).items():
        actual = claims
        if name.startswith("/"):
            for part in name.strip("/").split("/"):
                actual = actual.get(part) if isinstance(actual, dict) else None
        else:
            actual = claims.get(name)
        if actual is None:
            return 'claim "%s" is missing' % name
        have, want = normalize_claim_list(actual), normalize_claim_list(expected)
        if have is None:
            return "received claim is not a string, bool, int or list: %s" % actual
        if want is None:
            return "bound claim is not a string, bool, int or list: %s" % expected
        if kind == "glob":
            # ryanuber/go-glob: '*' is the only wildcard
            ok = any(isinstance(w, str) and isinstance(h, str) and
                     re.fullmatch(".*".join(map(re.escape, w.split("*"))), h, re.S)
                     for w in want for h in have)
        else:
            ok = any(type(w) is type(h) and w == h for w in want for h in have)
        if not ok:
            return 'claim "%s" does not match any associated bound claim values' % name
    return None

class ApiError(Exception):
    def __init__(self, status, *errors):
        super().__init__(errors[0] if errors else "")
        self.status = status
        self.errors = list(errors)


# --- ACL policies -------------------------------------------------------------

_COMMENT = re.compile(r'("(?:[^"\\]|\\.)*")|#[^\n]*|//[^\n]*|/\*.*?\*/', re.S)
_PATH_BLOCK = re.compile(r'\s*path\s+"((?:[^"\\]|\\.)*)"\s*\{([^{}]*)\}\s*', re.S)
_CAPS = re.compile(r'capabilities\s*=\s*\[([^\]]*)\]', re.S)


def parse_policy(text):
    """[(path pattern, set of capabilities)] from policy HCL, or ValueError.

    Only `path` blocks with `capabilities` are understood; that is all an ACL
    needs to be real, and the bootstrap code writes nothing else."""
    stripped = _COMMENT.sub(lambda m: m.group(1) or "", text)
    rules, pos = [], 0
    while pos < len(stripped):
        if not stripped[pos:].strip():
            break
        m = _PATH_BLOCK.match(stripped, pos)
        if not m:
            line = stripped.count("\n", 0, pos) + 1
            raise ValueError("failed to parse policy: At %d: expected a path block" % line)
        pattern, inner = m.group(1), m.group(2)
        caps_m = _CAPS.search(inner)
        caps = set()
        if caps_m:
            for item in caps_m.group(1).split(","):
                item = item.strip()
                if not item:
                    continue
                if not (item.startswith('"') and item.endswith('"')):
                    raise ValueError('failed to parse policy: path "%s": invalid capability list' % pattern)
                cap = item[1:-1].lower()
                if cap not in CAPABILITIES:
                    raise ValueError('failed to parse policy: path "%s": invalid capability "%s"' % (pattern, cap))
                caps.add(cap)
        if "+" in pattern:
            for seg in pattern.rstrip("*").split("/"):
                if "+" in seg and seg != "+":
                    raise ValueError('failed to parse policy: path "%s": path segment wildcard "+" must be a whole segment' % pattern)
        rules.append((pattern, caps))
        pos = m.end()
    return rules


def _pattern_matches(pattern, path):
    glob = pattern.endswith("*")
    pat = pattern[:-1] if glob else pattern
    if "+" not in pat:
        return path.startswith(pat) if glob else path == pat
    pp, ps = pat.split("/"), path.split("/")
    if glob:
        if len(ps) < len(pp):
            return False
        # the last pattern segment is a prefix of the corresponding one
        for i, seg in enumerate(pp):
            last = i == len(pp) - 1
            if seg == "+":
                if ps[i] == "" and not last:
                    return False
                continue
            if last:
                if not ps[i].startswith(seg):
                    return False
            elif ps[i] != seg:
                return False
        return True
    if len(ps) != len(pp):
        return False
    return all(seg == "+" and ps[i] != "" or seg == ps[i] for i, seg in enumerate(pp))


def _priority(pattern):
    # OpenBao's "priority matching": later first wildcard wins, then no
    # trailing glob, then fewer + segments, then longer, then lexically larger.
    first = len(pattern)
    for i, ch in enumerate(pattern):
        if ch in "+*":
            first = i
            break
    return (first, not pattern.endswith("*"), -pattern.count("+"), len(pattern), pattern)


def acl_allows(policy_texts, path, capability, sudo=False):
    rules = {}
    for text in policy_texts:
        for pattern, caps in parse_policy(text):
            rules.setdefault(pattern, set()).update(caps)
    candidates = [p for p in rules if _pattern_matches(p, path)]
    if not candidates:
        return False
    caps = rules[max(candidates, key=_priority)]
    if "deny" in caps or capability not in caps:
        return False
    return not sudo or "sudo" in caps


# --- the server ----------------------------------------------------------------

class Request:
    def __init__(self, method, op, path, query, headers, data):
        self.method = method
        self.op = op            # read, list, update, delete
        self.path = path        # without /v1/ and without surrounding slashes
        self.query = query
        self.headers = headers
        self.data = data
        self.token = None       # token entry once authenticated


class OpenBao(common.App):
    name = "openbao"

    def __init__(self, state_file=None, kv_upgrade_seconds=0.05):
        super().__init__()
        self.lock = threading.RLock()
        self.state_file = state_file
        self.kv_upgrade_seconds = kv_upgrade_seconds
        self.kv_upgrading = {}   # mount uuid -> time its upgrade is done (memory only)
        self.oidc_requests = {}  # OIDC login state -> the pending login (memory only, as upstream)
        self.sealed = True
        self.unseal_parts = []   # hashes of the distinct shares entered so far
        self.unseal_nonce = ""
        if state_file and os.path.exists(state_file):
            with open(state_file) as f:
                self.st = json.load(f)
            # A restart: the state survives, the in-memory root key does not.
            self.sealed = True
        else:
            self.st = self._fresh_state()
            self._save()

    # --- state --------------------------------------------------------------

    @staticmethod
    def _fresh_state():
        return {
            "initialized": False,
            "seal": {"n": 0, "t": 0, "share_hashes": []},
            "cluster_name": "", "cluster_id": "",
            "mounts": {}, "auth": {},
            "policies": {},
            "tokens": {},
            "backends": {},   # mount uuid -> backend data
        }

    def _save(self):
        if self.state_file:
            common.write_private_json(self.state_file, self.st)

    def _mount_entry(self, mtype, description="", options=None, local=False, config=None):
        prefix = {"kv": "kv", "approle": "auth_approle", "jwt": "auth_jwt", "oidc": "auth_oidc",
                  "token": "auth_token", "cubbyhole": "cubbyhole", "identity": "identity",
                  "system": "system"}.get(mtype, mtype)
        return {
            "accessor": "%s_%s" % (prefix, secrets.token_hex(4)),
            "config": dict({"default_lease_ttl": 0, "force_no_cache": False, "max_lease_ttl": 0}, **(config or {})),
            "deprecation_status": "supported",
            "description": description,
            "external_entropy_access": False,
            "local": local,
            "options": options,
            "plugin_version": "",
            "running_plugin_version": "v%s+builtin.bao" % VERSION,
            "running_sha256": "",
            "seal_wrap": False,
            "type": mtype,
            "uuid": new_uuid(),
        }

    # --- responses ----------------------------------------------------------

    def internal_error(self):
        return self._errors(500, "internal error")

    @staticmethod
    def _errors(status, *errors):
        return common.json_response(status, {"errors": list(errors)}, newline=True,
                                    headers=[("Cache-Control", "no-store")])

    @staticmethod
    def _raw(status, obj):
        return common.json_response(status, obj, newline=True, headers=[("Cache-Control", "no-store")])

    def _logical(self, req, data=None, auth=None, warnings=None, mount_type="", status=200):
        """The standard response envelope; sys/ responses also carry the data
        at the top level, as OpenBao still does for old clients."""
        body = {}
        if req.path.startswith("sys/") and isinstance(data, dict):
            body.update(data)
        body.update({
            "request_id": new_uuid(), "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": data, "wrap_info": None, "warnings": warnings, "auth": auth,
            "mount_type": mount_type,
        })
        return self._raw(status, body)

    @staticmethod
    def _no_content():
        return common.Response(204, b"", [("Cache-Control", "no-store")])

    # --- dispatch -----------------------------------------------------------

    def handle(self, method, path, query, headers, body, remote=None):
        if not path.startswith("/v1/"):
            return self._errors(404)
        q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        rel = unquote(path[len("/v1/"):])
        if method == "GET" and "list" in q:
            try:
                is_list = parse_bool(q["list"])
            except ValueError:
                is_list = False
        else:
            is_list = method == "LIST"
        op = {"GET": "read", "HEAD": "read", "LIST": "list", "POST": "update", "PUT": "update",
              "PATCH": "patch", "DELETE": "delete"}.get(method)
        if op is None:
            return self._errors(405)
        if is_list:
            op = "list"
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError as e:
            return self._errors(400, "failed to parse JSON input: %s" % e)
        if data is None:
            data = {}
        req = Request(method, op, rel.strip("/"), q, headers, data)
        with self.lock:
            try:
                return self._route(req)
            except ApiError as e:
                return self._errors(e.status, *e.errors)

    def _route(self, req):
        p = req.path
        unauth = {"sys/health": self._sys_health, "sys/init": self._sys_init,
                  "sys/seal-status": self._sys_seal_status, "sys/unseal": self._sys_unseal,
                  "sys/leader": self._sys_leader}
        if p in unauth:
            return unauth[p](req)
        if self.sealed:
            raise ApiError(503, SEALED)
        m = re.fullmatch(r"auth/(.+)/login", p)
        if m and req.op == "update":
            mount = self._find_mount("auth/" + m.group(1) + "/login")
            if mount and mount[1]["type"] == "approle":
                return self._approle_login(req, mount)
        # The jwt/oidc plugin's unauthenticated paths (backend.go,
        # PathsSpecial.Unauthenticated: login, oidc/auth_url, oidc/callback).
        m = re.fullmatch(r"auth/(.+)/oidc/(auth_url|callback)", p)
        if m:
            mount = self._find_mount(p)
            if mount and mount[1]["type"] in ("jwt", "oidc") and mount[0] == "auth/" + m.group(1) + "/":
                return self._oidc_flow(req, mount[1], m.group(2))
        self._authenticate(req)
        if p == "sys/seal":
            return self._sys_seal(req)
        if p.startswith("sys/"):
            return self._sys(req)
        mount = self._find_mount(p)
        if mount is None:
            self._check(req, req.op)
            raise ApiError(404, 'no handler for route "%s". route entry not found.' % p)
        prefix, entry = mount
        sub = p[len(prefix):].strip("/")
        if prefix.startswith("auth/"):
            if entry["type"] == "token":
                return self._token_backend(req, sub)
            if entry["type"] == "approle":
                return self._approle(req, entry, sub)
            if entry["type"] in ("jwt", "oidc"):
                return self._jwt(req, entry, sub)
        elif entry["type"] == "kv":
            if (entry.get("options") or {}).get("version") == "2":
                return self._kv2(req, entry, prefix, sub)
            return self._kv1(req, entry, sub)
        self._check(req, req.op)
        raise ApiError(404, "unsupported path")

    def _find_mount(self, path):
        """(route prefix, entry) of the longest mount containing path."""
        best = None
        for mp, e in self.st["auth"].items():
            full = "auth/" + mp
            if (path + "/").startswith(full) and (best is None or len(full) > len(best[0])):
                best = (full, e)
        for mp, e in self.st["mounts"].items():
            if (path + "/").startswith(mp) and (best is None or len(mp) > len(best[0])):
                best = (mp, e)
        return best

    # --- authentication and authorization -------------------------------------

    def _authenticate(self, req):
        token = req.headers.get("X-Vault-Token")
        if not token:
            auth = req.headers.get("Authorization") or ""
            if auth[:7].lower() == "bearer ":
                token = auth[7:].strip()
        entry = self.st["tokens"].get(token) if token else None
        if entry is None:
            raise ApiError(403, DENIED)
        if entry["ttl"] and time.time() > entry["issue_time"] + entry["ttl"]:
            del self.st["tokens"][token]
            self._save()
            raise ApiError(403, DENIED)
        req.token = entry
        req.token_id = token

    def _check(self, req, capability, path=None, sudo=False):
        policies = req.token["policies"]
        if "root" in policies:
            return
        path = req.path if path is None else path
        if capability == "list" and not path.endswith("/"):
            path += "/"
        texts = [self.st["policies"][n] for n in policies if n in self.st["policies"]]
        if not acl_allows(texts, path, capability, sudo):
            raise ApiError(403, DENIED)

    def _write_cap(self, exists):
        return "update" if exists else "create"

    # --- sys: unauthenticated ---------------------------------------------------

    def _seal_status(self):
        st = self.st
        out = {
            "type": "shamir",
            "initialized": st["initialized"],
            "sealed": self.sealed,
            "t": st["seal"]["t"],
            "n": st["seal"]["n"],
            "progress": len(self.unseal_parts),
            "nonce": self.unseal_nonce,
            "version": VERSION,
            "build_date": BUILD_DATE,
            "migration": False,
            "recovery_seal": False,
            "storage_type": "file",
        }
        if not self.sealed:
            out["cluster_name"] = st["cluster_name"]
            out["cluster_id"] = st["cluster_id"]
        return out

    def _sys_health(self, req):
        if req.method not in ("GET", "HEAD"):
            raise ApiError(405)
        q = req.query

        def code(name, default):
            if name in q and q[name] != "":
                try:
                    return int(q[name])
                except ValueError:
                    raise ApiError(400, "unable to parse %s: %s" % (name, q[name]))
            return default

        standbyok = False
        if "standbyok" in q:
            try:
                standbyok = parse_bool(q["standbyok"]) if q["standbyok"] != "" else True
            except ValueError:
                raise ApiError(400, "bad value for standbyok parameter: %s" % q["standbyok"])
        active, standby = code("activecode", 200), code("standbycode", 429)
        sealedc, uninit = code("sealedcode", 503), code("uninitcode", 501)
        # This server is never a standby; standbycode/standbyok are parsed and
        # validated so that a client's use of them is exercised all the same.
        is_standby = False
        init = self.st["initialized"]
        if not init:
            status = uninit
        elif self.sealed:
            status = sealedc
        elif is_standby and not standbyok:
            status = standby
        else:
            status = active
        body = {
            "initialized": init,
            "sealed": self.sealed,
            "standby": self.sealed or is_standby,
            "performance_standby": False,
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled",
            "server_time_utc": int(time.time()),
            "version": VERSION,
        }
        if init and not self.sealed:
            body["cluster_name"] = self.st["cluster_name"]
            body["cluster_id"] = self.st["cluster_id"]
        if req.method == "HEAD":
            return common.Response(status, b"", [("Cache-Control", "no-store"), ("Content-Type", "application/json")])
        return self._raw(status, body)

    def _sys_leader(self, req):
        if self.sealed:
            raise ApiError(503, SEALED)
        return self._raw(200, {"ha_enabled": False, "is_self": False, "active_time": "0001-01-01T00:00:00Z",
                               "leader_address": "", "leader_cluster_address": "",
                               "performance_standby": False, "performance_standby_last_remote_wal": 0})

    def _sys_seal_status(self, req):
        if req.method != "GET":
            raise ApiError(405)
        return self._raw(200, self._seal_status())

    def _sys_init(self, req):
        if req.method == "GET":
            return self._raw(200, {"initialized": self.st["initialized"]})
        if req.method not in ("PUT", "POST"):
            raise ApiError(405)
        d = req.data
        for k in ("recovery_shares", "recovery_threshold", "recovery_pgp_keys"):
            if d.get(k):
                raise ApiError(400, "parameters %s not applicable to seal type shamir" % k)
        if self.st["initialized"]:
            raise ApiError(400, "Vault is already initialized")
        try:
            n = int(d.get("secret_shares") or 0)
            t = int(d.get("secret_threshold") or 0)
        except (TypeError, ValueError):
            raise ApiError(400, "failed to parse JSON input: secret_shares and secret_threshold must be integers")
        # vault/seal_config.go Validate(), wrapped by Core.Initialize
        problem = None
        if n < 1:
            problem = "shares must be at least one"
        elif t < 1:
            problem = "threshold must be at least one"
        elif n > 1 and t == 1:
            problem = "threshold must be greater than one for multiple shares"
        elif n > 255:
            problem = "shares must be less than 256"
        elif t > n:
            problem = "threshold cannot be larger than shares"
        if problem:
            raise ApiError(400, "invalid seal configuration: %s" % problem)
        shares = [secrets.token_bytes(SHARE_LEN) for _ in range(n)]
        root = new_token()
        st = self.st
        st["initialized"] = True
        st["seal"] = {"n": n, "t": t, "share_hashes": [sha256(s) for s in shares]}
        st["cluster_name"] = "vault-cluster-%s" % secrets.token_hex(4)
        st["cluster_id"] = new_uuid()
        st["mounts"] = {
            "cubbyhole/": self._mount_entry("cubbyhole", "per-token private secret storage", local=True),
            "identity/": self._mount_entry("identity", "identity store"),
            "sys/": self._mount_entry("system", "system endpoints used for control, policy and debugging"),
        }
        st["auth"] = {"token/": self._mount_entry("token", "token based credentials")}
        st["policies"] = {"default": DEFAULT_POLICY}
        st["tokens"] = {root: self._token_entry(["root"], "root", 0, "auth/token/root", {})}
        self.sealed = True
        self.unseal_parts, self.unseal_nonce = [], ""
        self._save()
        return self._raw(200, {
            "keys": [s.hex() for s in shares],
            "keys_base64": [base64.b64encode(s).decode() for s in shares],
            "root_token": root,
        })

    def _sys_unseal(self, req):
        if req.method not in ("PUT", "POST"):
            raise ApiError(405)
        d = {k.lower(): v for k, v in req.data.items()}  # the real one is case-insensitive here
        try:
            reset = parse_bool(d.get("reset", False))
        except ValueError:
            raise ApiError(400, "failed to parse JSON input: reset must be a bool")
        if reset:
            if not self.sealed:
                raise ApiError(400, "vault is unsealed")
            self.unseal_parts, self.unseal_nonce = [], ""
            return self._raw(200, self._seal_status())
        key = d.get("key") or ""
        if not key:
            raise ApiError(400, "'key' must be specified in request body as JSON, or 'reset' set to true")
        raw = None
        try:
            raw = bytes.fromhex(key)
            if not MIN_KEY_LEN <= len(raw) <= MAX_KEY_LEN:
                raw = None
        except ValueError:
            raw = None
        if raw is None:
            try:
                raw = base64.b64decode(key, validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(400, "'key' must be a valid hex or base64 string")
        if not self.st["initialized"]:
            raise ApiError(400, "Vault is not initialized")
        if not self.sealed:
            return self._raw(200, self._seal_status())
        if len(raw) < MIN_KEY_LEN:
            raise ApiError(400, "key is shorter than minimum %d bytes" % MIN_KEY_LEN)
        if len(raw) > MAX_KEY_LEN:
            raise ApiError(400, "key is longer than maximum %d bytes" % MAX_KEY_LEN)
        h = sha256(raw)
        if h not in self.unseal_parts:       # a repeated share does not count twice
            self.unseal_parts.append(h)
            if not self.unseal_nonce:
                self.unseal_nonce = new_uuid()
        if len(self.unseal_parts) < self.st["seal"]["t"]:
            return self._raw(200, self._seal_status())
        # Threshold reached: Shamir combines whatever was given, and only now
        # does a wrong share show, as a failure to open the barrier.
        parts, self.unseal_parts, self.unseal_nonce = self.unseal_parts, [], ""
        valid = set(self.st["seal"]["share_hashes"])
        if not all(p in valid for p in parts):
            raise ApiError(400, "Unseal failed, invalid key")
        self.sealed = False
        return self._raw(200, self._seal_status())

    def _sys_seal(self, req):
        if req.op != "update":
            raise ApiError(405)
        self._check(req, "update", sudo=True)
        self.sealed = True
        self.unseal_parts, self.unseal_nonce = [], ""
        return self._no_content()

    def test_control(self, method, path, data):
        if path == "/_test/seal" and method == "POST":
            with self.lock:
                self.sealed = True
                self.unseal_parts, self.unseal_nonce = [], ""
            return common.Response(204)
        return None

    # --- sys: authenticated -----------------------------------------------------

    def _sys(self, req):
        p = req.path
        if p in ("sys/mounts", "sys/auth"):
            if req.op != "read":
                raise ApiError(405)
            self._check(req, "read")
            table = self.st["mounts" if p == "sys/mounts" else "auth"]
            return self._logical(req, {k: v for k, v in sorted(table.items())}, mount_type="system")
        m = re.fullmatch(r"sys/(mounts|auth)/(.+)/tune", p)
        if m:
            return self._sys_tune(req, m.group(1), m.group(2).strip("/") + "/")
        m = re.fullmatch(r"sys/(mounts|auth)/(.+)", p)
        if m:
            return self._sys_mount(req, m.group(1), m.group(2).strip("/") + "/")
        if p in ("sys/policies/acl", "sys/policy"):
            if req.op != "list" and not (p == "sys/policy" and req.op == "read"):
                raise ApiError(405)
            self._check(req, req.op)
            names = sorted(set(self.st["policies"]) | {"root"})
            if p == "sys/policy":
                return self._logical(req, {"keys": names, "policies": names}, mount_type="system")
            return self._logical(req, {"keys": names}, mount_type="system")
        m = re.fullmatch(r"sys/(?:policies/acl|policy)/(.+)", p)
        if m:
            return self._sys_policy(req, m.group(1).lower())
        self._check(req, req.op)
        raise ApiError(404, "unsupported path")

    def _sys_mount(self, req, kind, path):
        auth = kind == "auth"
        table = self.st["auth" if auth else "mounts"]
        if req.op == "read":
            self._check(req, "read", sudo=auth)
            if path not in table:
                raise ApiError(400, ("No auth engine at %s" if auth else "No secret engine mount at %s") % path)
            return self._logical(req, dict(table[path]), mount_type="system")
        if req.op == "delete":
            self._check(req, "delete", sudo=auth)
            if path in table:
                entry = table.pop(path)
                if entry["type"] in ("system", "token", "cubbyhole", "identity"):
                    table[path] = entry
                    raise ApiError(400, 'cannot unmount "%s"' % path)
                self.st["backends"].pop(entry["uuid"], None)
                self._save()
            return self._no_content()
        if req.op != "update":
            raise ApiError(405)
        self._check(req, "update", sudo=auth)
        d = req.data
        mtype = (d.get("type") or "").strip()
        if not mtype:
            raise ApiError(400, "backend type must be specified")
        options = d.get("options") or None
        if options is not None and not isinstance(options, dict):
            raise ApiError(400, "failed to parse JSON input: options must be a map")
        if mtype == "kv-v2":
            mtype, options = "kv", dict(options or {}, version="2")
        elif mtype == "kv" and options is not None and "version" in options:
            options = dict(options, version=str(options["version"]))
        known = ("approle", "jwt", "oidc", "userpass", "token") if auth else ("kv", "cubbyhole")
        if mtype not in known:
            raise ApiError(400, "plugin not found in the catalog: %s" % mtype)
        if not auth and (path.startswith("sys/") or path in ("auth/", "cubbyhole/", "identity/")):
            raise ApiError(400, "cannot mount under %s" % path)
        for existing in table:
            # "oauth/github/" under "oauth/", or the other way round
            if existing.startswith(path) or path.startswith(existing):
                raise ApiError(400, "path is already in use at %s" % existing)
        if auth and mtype == "token":
            raise ApiError(400, "token credential backend cannot be instantiated")
        config = {}
        for k in ("default_lease_ttl", "max_lease_ttl"):
            if k in (d.get("config") or {}):
                try:
                    config[k] = parse_duration(d["config"][k])
                except ValueError as e:
                    raise ApiError(400, str(e))
        entry = self._mount_entry(mtype, d.get("description") or "", options,
                                  local=bool(d.get("local")), config=config)
        if mtype == "kv" and options and options.get("version") == "2":
            entry["options"] = options
        table[path] = entry
        self.st["backends"][entry["uuid"]] = {}
        if not auth and mtype == "kv" and (entry.get("options") or {}).get("version") == "2":
            # A new KV v2 mount starts its upgrade at once and in the
            # background (builtin/logical/kv/backend.go, Initialize ->
            # Upgrade in upgrade.go); --kv-upgrade-seconds is how long it
            # takes here.
            self.kv_upgrading[entry["uuid"]] = time.time() + self.kv_upgrade_seconds
        self._save()
        return self._no_content()

    def _sys_tune(self, req, kind, path):
        auth = kind == "auth"
        table = self.st["auth" if auth else "mounts"]
        entry = table.get(path)
        if req.op == "read":
            self._check(req, "read", path="sys/%s/%stune" % (kind, path))
            if entry is None:
                raise ApiError(400, "cannot fetch sysview for path \"%s\"" % ("auth/" + path if auth else path))
            cfg = entry["config"]
            data = {"default_lease_ttl": cfg["default_lease_ttl"] or 2764800,
                    "max_lease_ttl": cfg["max_lease_ttl"] or 2764800,
                    "force_no_cache": cfg["force_no_cache"], "description": entry["description"]}
            if entry.get("options"):
                data["options"] = entry["options"]
            for k in ("listing_visibility", "audit_non_hmac_request_keys", "audit_non_hmac_response_keys",
                      "passthrough_request_headers", "allowed_response_headers"):
                if k in cfg:
                    data[k] = cfg[k]
            return self._logical(req, data, mount_type="system")
        if req.op != "update":
            raise ApiError(405)
        self._check(req, "update", path="sys/%s/%stune" % (kind, path), sudo=auth)
        if entry is None:
            raise ApiError(400, "no mount entry found for path %s" % ("auth/" + path if auth else path))
        d = req.data
        try:
            for k in ("default_lease_ttl", "max_lease_ttl"):
                if k in d:
                    entry["config"][k] = parse_duration(d[k])
        except ValueError as e:
            raise ApiError(400, str(e))
        for k in ("listing_visibility", "audit_non_hmac_request_keys", "audit_non_hmac_response_keys",
                  "passthrough_request_headers", "allowed_response_headers"):
            if k in d:
                entry["config"][k] = d[k]
        if "description" in d:
            entry["description"] = d["description"] or ""
        if isinstance(d.get("options"), dict):
            opts = dict(entry.get("options") or {})
            opts.update({k: str(v) for k, v in d["options"].items()})
            entry["options"] = opts
        self._save()
        return self._no_content()

    def _sys_policy(self, req, name):
        pol = self.st["policies"]
        if req.op == "read":
            self._check(req, "read")
            if name == "root":
                return self._logical(req, {"name": "root", "rules": "", "policy": ""}, mount_type="system")
            if name not in pol:
                raise ApiError(404)
            return self._logical(req, {"name": name, "policy": pol[name]}, mount_type="system")
        if req.op == "delete":
            self._check(req, "delete")
            if name in ("root", "default"):
                raise ApiError(400, 'cannot delete "%s" policy' % name)
            # Tokens keep the name; a policy that no longer exists grants nothing.
            if pol.pop(name, None) is not None:
                self._save()
            return self._no_content()
        if req.op != "update":
            raise ApiError(405)
        self._check(req, self._write_cap(name in pol))
        if name == "root":
            raise ApiError(400, 'cannot update "root" policy')
        text = req.data.get("policy")
        if text is None and req.path.startswith("sys/policy/"):
            text = req.data.get("rules")
        if not text:
            raise ApiError(400, "'policy' parameter not supplied or empty")
        if not isinstance(text, str):
            raise ApiError(400, "failed to parse JSON input: policy must be a string")
        try:
            decoded = base64.b64decode(text, validate=True).decode()
            text = decoded
        except (binascii.Error, ValueError, UnicodeDecodeError):
            pass
        try:
            parse_policy(text)
        except ValueError as e:
            raise ApiError(400, str(e))
        pol[name] = text
        self._save()
        return self._no_content()

    # --- tokens -----------------------------------------------------------------

    def _token_entry(self, policies, display_name, ttl, path, meta):
        return {"policies": policies, "display_name": display_name, "ttl": ttl,
                "issue_time": time.time(), "accessor": secrets.token_urlsafe(18)[:24],
                "path": path, "meta": meta}

    def _token_backend(self, req, sub):
        if sub == "lookup-self" and req.op == "read":
            self._check(req, "read")
            t = req.token
            issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t["issue_time"]))
            remaining = max(0, int(t["issue_time"] + t["ttl"] - time.time())) if t["ttl"] else 0
            return self._logical(req, {
                "accessor": t["accessor"], "creation_time": int(t["issue_time"]),
                "creation_ttl": t["ttl"], "display_name": t["display_name"], "entity_id": "",
                "expire_time": None if not t["ttl"] else time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(t["issue_time"] + t["ttl"])),
                "explicit_max_ttl": 0, "id": req.token_id, "issue_time": issued,
                "meta": t["meta"] or None, "num_uses": 0, "orphan": True, "path": t["path"],
                "policies": t["policies"], "renewable": bool(t["ttl"]), "ttl": remaining,
                "type": "service",
            }, mount_type="token")
        self._check(req, req.op)
        raise ApiError(404, "unsupported path")

    # --- AppRole ----------------------------------------------------------------

    def _approle(self, req, entry, sub):
        be = self.st["backends"].setdefault(entry["uuid"], {})
        roles = be.setdefault("roles", {})
        if sub == "role":
            if req.op != "list":
                raise ApiError(405)
            self._check(req, "list")
            if not roles:
                raise ApiError(404)
            return self._logical(req, {"keys": sorted(roles)}, mount_type="approle")
        m = re.fullmatch(r"role/([^/]+)(?:/(role-id|secret-id(?:/lookup|/destroy)?))?/?", sub)
        if not m:
            self._check(req, req.op)
            raise ApiError(404, "unsupported path")
        name, leaf = m.group(1).lower(), m.group(2)
        role = roles.get(name)
        if leaf is None:
            return self._approle_role(req, roles, name, role)
        if leaf == "role-id":
            if req.op == "read":
                self._check(req, "read")
                if role is None:
                    raise ApiError(404)
                return self._logical(req, {"role_id": role["role_id"]}, mount_type="approle")
            if req.op == "update":
                self._check(req, "update")
                if role is None:
                    raise ApiError(404, 'role "%s" does not exist' % name)
                rid = (req.data.get("role_id") or "").strip()
                if not rid:
                    raise ApiError(400, "missing role_id")
                role["role_id"] = rid
                self._save()
                return self._no_content()
            raise ApiError(405)
        if leaf in ("secret-id/lookup", "secret-id/destroy"):
            return self._approle_secret_id_entry(req, name, role, leaf)
        # secret-id
        if req.op == "list":
            self._check(req, "list")
            if role is None:
                raise ApiError(404, 'role "%s" does not exist' % name)
            acc = sorted(s["accessor"] for s in role["secret_ids"].values())
            if not acc:
                raise ApiError(404)
            return self._logical(req, {"keys": acc}, mount_type="approle")
        if req.op != "update":
            raise ApiError(405)
        self._check(req, "update")
        if role is None:
            raise ApiError(404, 'role "%s" does not exist' % name)
        if not role["bind_secret_id"]:
            raise ApiError(400, "bind_secret_id is not set on the role")
        d = req.data
        try:
            ttl = parse_duration(d["ttl"]) if "ttl" in d else role["secret_id_ttl"]
            uses = int(d["num_uses"]) if "num_uses" in d else role["secret_id_num_uses"]
        except (ValueError, TypeError) as e:
            raise ApiError(400, str(e))
        meta = d.get("metadata") or {}
        if isinstance(meta, str):
            try:
                meta = json.loads(meta)
            except ValueError:
                raise ApiError(400, "failed to parse metadata: invalid JSON")
        sid, accessor = new_uuid(), new_uuid()
        role["secret_ids"][sha256(sid)] = {"accessor": accessor, "ttl": ttl, "num_uses": uses,
                                           "created": time.time(), "metadata": meta}
        self._save()
        return self._logical(req, {"secret_id": sid, "secret_id_accessor": accessor,
                                   "secret_id_ttl": ttl, "secret_id_num_uses": uses}, mount_type="approle")

    def _approle_secret_id_entry(self, req, name, role, leaf):
        # OpenBao v2.4.1 builtin/credential/approle/path_role.go: lookup is an
        # update only (:1027-1049), destroy an update or a delete (:1100-1121).
        # Both answer 400 "missing secret_id" without one, an error (500) for a
        # role that does not exist, and nothing (204) for a secret-id the role
        # does not hold (:1905-1959, :2002-2052); lookup answers the entry's
        # properties, never the secret-id (:1985-2000, ToResponseData), and
        # destroy removes the entry and its accessor (:2054-2069).
        ops = ("update",) if leaf.endswith("lookup") else ("update", "delete")
        if req.op not in ops:
            raise ApiError(405)
        self._check(req, req.op)
        sid = str(req.data.get("secret_id") or "").strip()
        if not sid:
            raise ApiError(400, "missing secret_id")
        if role is None:
            raise ApiError(500, 'role "%s" does not exist' % name)
        h = sha256(sid)
        s = role["secret_ids"].get(h)
        if s is not None and s["ttl"] and time.time() > s["created"] + s["ttl"]:
            del role["secret_ids"][h]
            self._save()
            s = None
        if s is None:
            return self._no_content()
        if leaf.endswith("destroy"):
            del role["secret_ids"][h]
            self._save()
            return self._no_content()
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s["created"]))
        expires = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s["created"] + s["ttl"]))
                   if s["ttl"] else "0001-01-01T00:00:00Z")
        return self._logical(req, {
            "secret_id_accessor": s["accessor"], "secret_id_num_uses": s["num_uses"],
            "secret_id_ttl": s["ttl"], "creation_time": created, "expiration_time": expires,
            "last_updated_time": created, "metadata": s.get("metadata") or {},
            "cidr_list": [], "token_bound_cidrs": []}, mount_type="approle")

    def _approle_role(self, req, roles, name, role):
        if req.op == "read":
            self._check(req, "read")
            if role is None:
                raise ApiError(404)
            data = {
                "bind_secret_id": role["bind_secret_id"],
                "local_secret_ids": False,
                "secret_id_bound_cidrs": role["secret_id_bound_cidrs"] or None,
                "secret_id_num_uses": role["secret_id_num_uses"],
                "secret_id_ttl": role["secret_id_ttl"],
                "token_bound_cidrs": role["token_bound_cidrs"],
                "token_explicit_max_ttl": role["token_explicit_max_ttl"],
                "token_max_ttl": role["token_max_ttl"],
                "token_no_default_policy": role["token_no_default_policy"],
                "token_num_uses": role["token_num_uses"],
                "token_period": role["token_period"],
                "token_policies": role["token_policies"],
                "token_ttl": role["token_ttl"],
                "token_type": role["token_type"],
            }
            if role.get("legacy_policies"):
                data["policies"] = role["token_policies"]
            return self._logical(req, data, mount_type="approle")
        if req.op == "delete":
            self._check(req, "delete")
            if roles.pop(name, None) is not None:
                self._save()
            return self._no_content()
        if req.op != "update":
            raise ApiError(405)
        self._check(req, self._write_cap(role is not None))
        d = req.data
        new = role is None
        r = dict(role) if role else {
            "role_id": new_uuid(), "bind_secret_id": True, "secret_id_bound_cidrs": [],
            "secret_id_num_uses": 0, "secret_id_ttl": 0, "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0, "token_max_ttl": 0, "token_no_default_policy": False,
            "token_num_uses": 0, "token_period": 0, "token_policies": [], "token_ttl": 0,
            "token_type": "default", "secret_ids": {},
        }
        try:
            if "role_id" in d and new:
                r["role_id"] = str(d["role_id"])
            if "bind_secret_id" in d:
                r["bind_secret_id"] = parse_bool(d["bind_secret_id"])
            for k in ("secret_id_bound_cidrs", "token_bound_cidrs"):
                if k in d:
                    r[k] = parse_list(d[k])
            if "secret_id_num_uses" in d:
                r["secret_id_num_uses"] = int(d["secret_id_num_uses"])
            for k in ("secret_id_ttl", "token_ttl", "token_max_ttl", "token_explicit_max_ttl", "token_period"):
                if k in d:
                    r[k] = parse_duration(d[k])
            for old, k in (("period", "token_period"), ("ttl", "token_ttl"), ("max_ttl", "token_max_ttl")):
                if old in d and k not in d:
                    r[k] = parse_duration(d[old])
            if "token_policies" in d:
                r["token_policies"] = parse_policies(d["token_policies"])
            elif "policies" in d:
                r["token_policies"] = parse_policies(d["policies"])
                r["legacy_policies"] = True
            if "token_no_default_policy" in d:
                r["token_no_default_policy"] = parse_bool(d["token_no_default_policy"])
            if "token_num_uses" in d:
                r["token_num_uses"] = int(d["token_num_uses"])
            if "token_type" in d:
                tt = str(d["token_type"])
                if tt not in ("default", "service", "batch", "default-service", "default-batch"):
                    raise ApiError(400, "invalid 'token_type' value \"%s\"" % tt)
                r["token_type"] = tt
        except (ValueError, TypeError) as e:
            raise ApiError(400, str(e))
        if r["secret_id_num_uses"] < 0:
            raise ApiError(400, "secret_id_num_uses cannot be negative")
        if not r["bind_secret_id"] and not r["secret_id_bound_cidrs"] and not r["token_bound_cidrs"]:
            raise ApiError(400, "at least one constraint should be enabled on the role")
        if r["token_max_ttl"] and r["token_ttl"] > r["token_max_ttl"]:
            raise ApiError(400, "token_ttl should not be greater than token_max_ttl")
        roles[name] = r
        self._save()
        return self._no_content()

    def _approle_login(self, req, mount):
        entry = mount[1]
        be = self.st["backends"].setdefault(entry["uuid"], {})
        roles = be.setdefault("roles", {})
        d = req.data
        role_id = str(d.get("role_id") or "").strip()
        if not role_id:
            raise ApiError(400, "missing role_id")
        found = [(n, r) for n, r in roles.items() if r["role_id"] == role_id]
        if not found:
            raise ApiError(400, "invalid role or secret ID")
        name, role = found[0]
        meta = {}
        if role["bind_secret_id"]:
            sid = str(d.get("secret_id") or "").strip()
            if not sid:
                raise ApiError(400, "missing secret_id")
            h = sha256(sid)
            s = role["secret_ids"].get(h)
            if s is not None and s["ttl"] and time.time() > s["created"] + s["ttl"]:
                del role["secret_ids"][h]
                s = None
            if s is None:
                self._save()
                raise ApiError(400, "invalid role or secret ID")
            if s["num_uses"]:
                s["num_uses"] -= 1
                if s["num_uses"] == 0:
                    del role["secret_ids"][h]
            meta = dict(s.get("metadata") or {})
        meta["role_name"] = name
        policies = list(role["token_policies"])
        if not role["token_no_default_policy"] and "default" not in policies:
            policies.append("default")
        policies = sorted(set(policies))
        ttl = role["token_ttl"] or DEFAULT_TTL
        if role["token_max_ttl"]:
            ttl = min(ttl, role["token_max_ttl"])
        token = new_token()
        entry_t = self._token_entry(policies, "approle", ttl, "auth/%slogin" % mount[0][len("auth/"):], meta)
        self.st["tokens"][token] = entry_t
        self._save()
        auth = {
            "client_token": token, "accessor": entry_t["accessor"], "policies": policies,
            "token_policies": policies, "metadata": meta, "lease_duration": ttl,
            "renewable": True, "entity_id": new_uuid(), "token_type": "service",
            "orphan": True, "mfa_requirement": None, "num_uses": role["token_num_uses"],
        }
        return self._logical(req, None, auth=auth, mount_type="approle")

    # --- JWT/OIDC auth ----------------------------------------------------------

    def _jwt(self, req, entry, sub):
        be = self.st["backends"].setdefault(entry["uuid"], {})
        roles = be.setdefault("roles", {})
        mtype = entry["type"]
        if sub == "config":
            if req.op == "read":
                self._check(req, "read")
                cfg = be.get("config")
                if cfg is None:
                    raise ApiError(404)
                shown = {k: v for k, v in cfg.items() if k != "oidc_client_secret"}
                return self._logical(req, shown, mount_type=mtype)
            if req.op != "update":
                raise ApiError(405)
            self._check(req, "update")
            return self._jwt_config(req, be, mtype)
        if sub == "role":
            if req.op != "list":
                raise ApiError(405)
            self._check(req, "list")
            if not roles:
                raise ApiError(404)
            return self._logical(req, {"keys": sorted(roles)}, mount_type=mtype)
        m = re.fullmatch(r"role/([^/]+)", sub)
        if not m:
            self._check(req, req.op)
            raise ApiError(404, "unsupported path")
        name = m.group(1)
        role = roles.get(name)
        if req.op == "read":
            self._check(req, "read")
            if role is None:
                raise ApiError(404)
            return self._logical(req, dict(role), mount_type=mtype)
        if req.op == "delete":
            self._check(req, "delete")
            if roles.pop(name, None) is not None:
                self._save()
            return self._no_content()
        if req.op != "update":
            raise ApiError(405)
        self._check(req, self._write_cap(role is not None))
        d = req.data
        r = dict(role) if role else {
            "role_type": "oidc", "expiration_leeway": 0, "not_before_leeway": 0, "clock_skew_leeway": 0,
            "bound_audiences": None, "bound_subject": "", "bound_claims_type": "string",
            "bound_claims": None, "claim_mappings": None, "user_claim": "", "groups_claim": "",
            "allowed_redirect_uris": None, "oidc_scopes": None, "verbose_oidc_logging": False,
            "max_age": 0, "token_bound_cidrs": [], "token_explicit_max_ttl": 0, "token_max_ttl": 0,
            "token_no_default_policy": False, "token_num_uses": 0, "token_period": 0,
            "token_policies": [], "token_ttl": 0, "token_type": "default", "user_claim_json_pointer": False,
        }
        rt = d.get("role_type") or "oidc"
        if rt not in ("jwt", "oidc"):
            raise ApiError(400, "invalid 'role_type': %s" % rt)
        r["role_type"] = rt
        try:
            for k in ("bound_audiences", "allowed_redirect_uris", "oidc_scopes", "token_bound_cidrs"):
                if k in d:
                    r[k] = parse_list(d[k])
            if "token_policies" in d or "policies" in d:
                r["token_policies"] = parse_policies(d.get("token_policies", d.get("policies")))
            for k in ("token_ttl", "token_max_ttl", "token_explicit_max_ttl", "token_period",
                      "expiration_leeway", "not_before_leeway", "clock_skew_leeway", "max_age"):
                if k in d:
                    r[k] = parse_duration(d[k])
            for k in ("bound_subject", "groups_claim", "token_type"):
                if k in d:
                    r[k] = str(d[k])
            for k in ("bound_claims", "claim_mappings"):
                if k in d:
                    if d[k] is not None and not isinstance(d[k], dict):
                        raise ValueError("%s must be a map" % k)
                    r[k] = d[k]
            # path_role.go:588-614 (v2.4.1): the type is checked first;
            # with "glob", every bound value must be a string.
            if "bound_claims_type" in d:
                r["bound_claims_type"] = str(d["bound_claims_type"] or "string")
            if r["bound_claims_type"] not in ("string", "glob"):
                raise ValueError("invalid 'bound_claims_type': %s" % r["bound_claims_type"])
            if r["bound_claims_type"] == "glob":
                for v in (r["bound_claims"] or {}).values():
                    vals = normalize_claim_list(v)
                    if vals is None:
                        raise ValueError("claim is not a string or list: %s" % v)
                    for x in vals:
                        if not isinstance(x, str):
                            raise ValueError("claim is not a string: %s" % x)
            for k in ("verbose_oidc_logging", "token_no_default_policy"):
                if k in d:
                    r[k] = parse_bool(d[k])
        except ValueError as e:
            raise ApiError(400, str(e))
        if "user_claim" in d:
            r["user_claim"] = str(d["user_claim"] or "")
        if not r["user_claim"]:
            raise ApiError(400, "a user claim must be defined on the role")
        if r["role_type"] == "oidc" and not r["allowed_redirect_uris"]:
            raise ApiError(400, "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.")
        if r["role_type"] != "oidc" and not (r["bound_audiences"] or r["token_bound_cidrs"]
                                               or r["bound_subject"] or r["bound_claims"]):
            raise ApiError(400, "must have at least one bound constraint when creating/updating a role")
        if r["token_max_ttl"] and r["token_ttl"] > r["token_max_ttl"]:
            raise ApiError(400, "ttl should not be greater than max ttl")
        roles[name] = r
        self._save()
        return self._no_content()

    def _jwt_config(self, req, be, mtype):
        """builtin/credential/jwt/path_config.go, pathConfigWrite: the new
        configuration is built from this request alone (a field left out is
        reset to its default, it is not kept from before), checked, and then
        replaces the stored one.  Only namespace_in_state survives when
        absent.  With oidc_discovery_url, the discovery document is fetched
        there and then, from where this server runs (inside its container
        when it runs in one); a failure is the terse "error checking oidc
        discovery URL" (the cause goes to the server log only)."""
        d = req.data
        old = be.get("config")
        try:
            cfg = {
                "oidc_discovery_url": str(d.get("oidc_discovery_url") or ""),
                "oidc_discovery_ca_pem": str(d.get("oidc_discovery_ca_pem") or ""),
                "oidc_client_id": str(d.get("oidc_client_id") or ""),
                "oidc_client_secret": str(d.get("oidc_client_secret") or ""),
                "oidc_response_mode": str(d.get("oidc_response_mode") or ""),
                "oidc_response_types": parse_list(d.get("oidc_response_types")),
                "default_role": str(d.get("default_role") or ""),
                "bound_issuer": str(d.get("bound_issuer") or ""),
                "jwks_url": str(d.get("jwks_url") or ""),
                "jwks_ca_pem": str(d.get("jwks_ca_pem") or ""),
                "jwt_validation_pubkeys": parse_list(d.get("jwt_validation_pubkeys")),
                "jwt_supported_algs": parse_list(d.get("jwt_supported_algs")),
                "provider_config": d.get("provider_config") or {},
                "override_allowed_server_names": parse_list(d.get("override_allowed_server_names")),
                "namespace_in_state": parse_bool(d["namespace_in_state"]) if "namespace_in_state" in d
                else (old or {}).get("namespace_in_state", True),
            }
            skip_validation = parse_bool(d.get("skip_jwks_validation", False))
        except ValueError as e:
            raise ApiError(400, str(e))
        warnings = []
        methods = sum(1 for k in ("oidc_discovery_url", "jwks_url") if cfg[k]) + (1 if cfg["jwt_validation_pubkeys"] else 0)
        if methods != 1:
            raise ApiError(400, "exactly one of 'jwt_validation_pubkeys', 'jwks_url' or 'oidc_discovery_url' must be set")
        if bool(cfg["oidc_client_id"]) != bool(cfg["oidc_client_secret"]):
            raise ApiError(400, "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC")
        if cfg["oidc_discovery_url"]:
            trimmed = cfg["oidc_discovery_url"].split(".well-known/openid-configuration", 1)[0]
            if trimmed != cfg["oidc_discovery_url"]:
                cfg["oidc_discovery_url"] = trimmed
                warnings.append('modifying provided `OIDCDiscoveryURL` to "%s"' % trimmed)
            try:
                self._discover(cfg["oidc_discovery_url"], cfg.get("oidc_discovery_ca_pem"))
            except ValueError as e:
                sys.stderr.write("openbao: error checking oidc discovery URL: %s\n" % e)
                if not skip_validation:
                    raise ApiError(400, "error checking oidc discovery URL")
                warnings.append("error checking oidc discovery URL")
        elif cfg["oidc_client_id"]:
            raise ApiError(400, "'oidc_discovery_url' must be set for OIDC")
        types = cfg["oidc_response_types"]
        if any(t not in ("code", "id_token") for t in types):
            raise ApiError(400, "invalid response_types %s. 'code' and 'id_token' are allowed" % types)
        if cfg["oidc_response_mode"] not in ("", "query", "form_post"):
            raise ApiError(400, 'invalid response_mode: "%s"' % cfg["oidc_response_mode"])
        be["config"] = cfg
        self._save()
        if warnings:
            return self._logical(req, None, warnings=warnings, mount_type=mtype)
        return self._no_content()

    @staticmethod
    def _provider_tls(ca_pem):
        """The TLS context of every request to the provider: with
        oidc_discovery_ca_pem, that CA and no other (v2.4.1,
        builtin/credential/jwt/path_config.go: createProvider passes it as
        oidc.WithProviderCA; OverrideRootCAs replaces the roots with it)."""
        if not ca_pem:
            return None
        return ssl.create_default_context(cadata=ca_pem)

    def _discover(self, issuer, ca_pem=None):
        """What go-oidc's NewProvider does (the jwt plugin's createProvider):
        GET <issuer>/.well-known/openid-configuration and insist that the
        document's issuer is exactly the URL configured.  The document, or
        ValueError with the cause (for the log)."""
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(url, timeout=5, context=self._provider_tls(ca_pem)) as resp:
                body = resp.read()
        except urllib.error.HTTPError as e:
            raise ValueError("%d %s: %s" % (e.code, e.reason, e.read().decode(errors="replace").strip()))
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise ValueError('Get "%s": %s' % (url, getattr(e, "reason", e)))
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise ValueError("oidc: failed to decode provider discovery object: %s" % e)
        if not isinstance(doc, dict) or doc.get("issuer") != issuer:
            raise ValueError('oidc: issuer did not match the issuer returned by provider, expected "%s" got "%s"'
                             % (issuer, doc.get("issuer") if isinstance(doc, dict) else None))
        return doc

    # --- OIDC login (builtin/credential/jwt/path_oidc.go) -----------------------

    def _oidc_flow(self, req, entry, leaf):
        be = self.st["backends"].setdefault(entry["uuid"], {})
        cfg = be.get("config")
        if leaf == "auth_url":
            if req.op != "update":
                raise ApiError(405)
            return self._oidc_auth_url(req, be, cfg, entry)
        if req.op != "read":
            # POST callback is only for oidc_response_mode form_post
            raise ApiError(405)
        return self._oidc_callback(req, be, cfg, entry)

    def _oidc_auth_url(self, req, be, cfg, entry):
        """authURL: an authorization URL of the provider for a role.  Invalid
        redirect URIs and the like answer 200 with an empty auth_url, on
        purpose (the path is unauthenticated)."""
        empty = self._logical(req, {"auth_url": ""}, mount_type=entry["type"])
        if cfg is None:
            raise ApiError(400, "could not load configuration")
        if not (cfg["oidc_discovery_url"] and cfg["oidc_client_id"]):
            raise ApiError(400, "OIDC login is not configured for this mount")
        d = req.data
        name = str(d.get("role") or "").lower() or cfg["default_role"]
        if not name:
            raise ApiError(400, "missing role")
        role = be.get("roles", {}).get(name)
        if role is None:
            raise ApiError(400, 'role "%s" could not be found' % name)
        redirect = str(d.get("redirect_uri") or "")
        if not redirect:
            raise ApiError(400, "missing redirect_uri")
        if not self._valid_redirect(redirect, role.get("allowed_redirect_uris") or []):
            sys.stderr.write("openbao: unauthorized redirect_uri\n")
            return empty
        try:
            doc = self._discover(cfg["oidc_discovery_url"], cfg.get("oidc_discovery_ca_pem"))
        except ValueError as e:
            sys.stderr.write("openbao: error getting provider for login operation: %s\n" % e)
            return empty
        state = "st_" + secrets.token_urlsafe(20)
        nonce = "n_" + secrets.token_urlsafe(20)
        verifier = secrets.token_urlsafe(48)
        challenge = common.b64url(hashlib.sha256(verifier.encode()).digest())
        self.oidc_requests[state] = {"role": name, "redirect_uri": redirect, "nonce": nonce,
                                     "verifier": verifier, "client_nonce": str(d.get("client_nonce") or ""),
                                     "expires": time.time() + 600}
        scopes = " ".join(["openid"] + list(role.get("oidc_scopes") or []))
        query = urllib.parse.urlencode([("client_id", cfg["oidc_client_id"]), ("code_challenge", challenge),
                                        ("code_challenge_method", "S256"), ("nonce", nonce),
                                        ("redirect_uri", redirect), ("response_type", "code"),
                                        ("scope", scopes), ("state", state)])
        return self._logical(req, {"auth_url": doc["authorization_endpoint"] + "?" + query},
                             mount_type=entry["type"])

    @staticmethod
    def _valid_redirect(uri, allowed):
        # validRedirect: exact, except that a loopback URI matches whatever
        # its port (RFC 8252 section 7.3).
        try:
            u = urllib.parse.urlsplit(uri)
        except ValueError:
            return False
        if u.hostname not in ("localhost", "127.0.0.1", "::1"):
            return uri in allowed

        def portless(x):
            x = urllib.parse.urlsplit(x)
            return x._replace(netloc=x.hostname or "").geturl()
        return any(portless(uri) == portless(a) for a in allowed)

    def _oidc_callback(self, req, be, cfg, entry):
        """pathCallback: the provider's redirect back, exchanged for a token
        of the role's policies.  Errors are 400s starting "Vault login
        failed." (or "Token verification failed.")."""
        if cfg is None:
            raise ApiError(400, LOGIN_FAILED + " Could not load configuration")
        q = req.query
        state = q.get("state") or ""
        pending = self.oidc_requests.pop(state, None)
        if pending is None or pending["expires"] < time.time():
            raise ApiError(400, LOGIN_FAILED + " Expired or missing OAuth state.")
        role = be.get("roles", {}).get(pending["role"])
        if role is None:
            raise ApiError(400, LOGIN_FAILED + " Role could not be found")
        if q.get("error"):
            raise ApiError(400, LOGIN_FAILED + " " + q["error"].strip().lower())
        if pending["client_nonce"] and q.get("client_nonce") != pending["client_nonce"]:
            raise ApiError(400, "invalid client_nonce")
        code = q.get("code") or ""
        if not code:
            raise ApiError(400, LOGIN_FAILED + " No code or id_token received.")
        try:
            doc = self._discover(cfg["oidc_discovery_url"], cfg.get("oidc_discovery_ca_pem"))
            claims = self._exchange(cfg, doc, pending, code, role.get("bound_audiences"))
        except ValueError as e:
            raise ApiError(400, LOGIN_FAILED + ' Error exchanging oidc code: "%s".' % e)
        if claims.get("nonce") != pending["nonce"]:
            raise ApiError(400, LOGIN_FAILED + " invalid ID token nonce.")
        if role.get("bound_subject") and role["bound_subject"] != claims.get("sub"):
            raise ApiError(400, LOGIN_FAILED + " sub claim does not match bound subject")
        user = claims.get(role["user_claim"])
        if user is None or isinstance(user, (dict, list)):
            raise ApiError(400, LOGIN_FAILED + ' claim "%s" not found in token' % role["user_claim"])
        problem = bound_claims_problem(role.get("bound_claims_type") or "string", role.get("bound_claims"), claims)
        if problem:
            raise ApiError(400, LOGIN_FAILED + " error validating claims: " + problem)
        policies = list(role.get("token_policies") or [])
        if not role.get("token_no_default_policy") and "default" not in policies:
            policies.append("default")
        policies = sorted(set(policies))
        ttl = role.get("token_ttl") or DEFAULT_TTL
        if role.get("token_max_ttl"):
            ttl = min(ttl, role["token_max_ttl"])
        meta = {"role": pending["role"]}
        token = new_token()
        mount_path = [k for k, v in self.st["auth"].items() if v is entry][0]
        t = self._token_entry(policies, "%s-%s" % (mount_path.rstrip("/"), user), ttl,
                              "auth/%soidc/callback" % mount_path, meta)
        self.st["tokens"][token] = t
        self._save()
        auth = {"client_token": token, "accessor": t["accessor"], "policies": policies,
                "token_policies": policies, "metadata": meta, "lease_duration": ttl, "renewable": True,
                "entity_id": new_uuid(), "token_type": "service", "orphan": True,
                "mfa_requirement": None, "num_uses": 0}
        return self._logical(req, None, auth=auth, mount_type=entry["type"])

    def _exchange(self, cfg, doc, pending, code, bound_audiences=None):
        """provider.Exchange (hashicorp/cap oidc, v0.10.0 in OpenBao
        v2.4.1's go.mod): the code for tokens at the token endpoint (client
        secret in HTTP Basic, the PKCE verifier), then the ID token verified
        (Provider.VerifyIDToken): RS256 signature by a key of jwks_uri,
        issuer exactly the configured URL, not expired; its aud holding one
        of the role's bound_audiences (the request's audiences,
        oidc.WithAudiences in createOIDCRequest, path_oidc.go:792), or the
        client id when the role binds none; with several audiences, the
        client id among them; azp, when present, the client id.  Its claims,
        or ValueError (pathCallback answers "Error exchanging oidc code",
        path_oidc.go:329-331)."""
        form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": pending["redirect_uri"],
                                       "code_verifier": pending["verifier"]}).encode()
        basic = base64.b64encode(("%s:%s" % (urllib.parse.quote(cfg["oidc_client_id"], safe=""),
                                             urllib.parse.quote(cfg["oidc_client_secret"], safe=""))).encode()).decode()
        rq = urllib.request.Request(doc["token_endpoint"], data=form, method="POST",
                                    headers={"Content-Type": "application/x-www-form-urlencoded",
                                             "Authorization": "Basic " + basic})
        try:
            with urllib.request.urlopen(rq, timeout=10,
                                        context=self._provider_tls(cfg.get("oidc_discovery_ca_pem"))) as resp:
                tokens = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise ValueError("unable to exchange auth code with provider: oauth2: cannot fetch token: %d %s\n"
                             "Response: %s" % (e.code, e.reason, e.read().decode(errors="replace")))
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise ValueError("unable to exchange auth code with provider: %s" % getattr(e, "reason", e))
        raw = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not raw:
            raise ValueError("id_token is missing from auth code exchange")
        try:
            h, p, sig = raw.split(".")
            header = json.loads(common.b64url_decode(h))
            claims = json.loads(common.b64url_decode(p))
            with urllib.request.urlopen(doc["jwks_uri"], timeout=10,
                                        context=self._provider_tls(cfg.get("oidc_discovery_ca_pem"))) as resp:
                keys = json.loads(resp.read()).get("keys") or []
        except (ValueError, OSError, AttributeError) as e:
            raise ValueError("unable to verify id_token: %s" % e)
        algs = cfg["jwt_supported_algs"] or ["RS256"]
        if header.get("alg") not in algs or header.get("alg") != "RS256":
            raise ValueError('unable to verify id_token: oidc: id token signed with unsupported algorithm, expected %s got "%s"'
                             % (algs, header.get("alg")))
        ok = any(k.get("kty") == "RSA" and (not header.get("kid") or k.get("kid") == header["kid"]) and
                 common.rs256_verify(int.from_bytes(common.b64url_decode(k["n"]), "big"),
                                     int.from_bytes(common.b64url_decode(k["e"]), "big"),
                                     (h + "." + p).encode(), common.b64url_decode(sig))
                 for k in keys if "n" in k and "e" in k)
        if not ok:
            raise ValueError("unable to verify id_token: failed to verify id token signature")
        if claims.get("iss") != cfg["oidc_discovery_url"]:
            raise ValueError('unable to verify id_token: oidc: id token issued by a different provider, expected "%s" got "%s"'
                             % (cfg["oidc_discovery_url"], claims.get("iss")))
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        client = cfg["oidc_client_id"]
        if not set(auds) & set(bound_audiences or [client]):
            raise ValueError("unable to verify id_token: invalid id_token audiences")
        if len(auds) > 1 and client not in auds:
            raise ValueError("unable to verify id_token: multiple audiences (%s) and one of them is not equal client_id (%s)"
                             % (auds, client))
        if "azp" in claims and claims["azp"] != client:
            raise ValueError("unable to verify id_token: authorized party (%s) is not equal client_id (%s)"
                             % (claims["azp"], client))
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < time.time():
            raise ValueError("unable to verify id_token: token is expired")
        return claims

    # --- KV ---------------------------------------------------------------------

    def _kv2(self, req, entry, prefix, sub):
        until = self.kv_upgrading.get(entry["uuid"])
        if until is not None:
            # upgradeCheck wraps every operation of the versioned backend; it
            # waits 15 ms once and then refuses.  (Upstream the ACL check
            # comes first; the bootstrap's root token passes it anyway.)
            if time.time() < until:
                time.sleep(0.015)
            if time.time() < until:
                raise ApiError(400, KV_UPGRADING)
            del self.kv_upgrading[entry["uuid"]]
        be = self.st["backends"].setdefault(entry["uuid"], {})
        secrets_ = be.setdefault("secrets", {})
        parts = sub.split("/", 1)
        section, key = parts[0], (parts[1] if len(parts) > 1 else "")
        if section == "data":
            if not key:
                self._check(req, req.op)
                raise ApiError(404, "unsupported path")
            return self._kv2_data(req, secrets_, key)
        if section == "metadata":
            return self._kv2_metadata(req, secrets_, key)
        if section == "config" and req.op == "read":
            self._check(req, "read")
            return self._logical(req, {"cas_required": False, "delete_version_after": "0s", "max_versions": 0},
                                 mount_type="kv")
        self._check(req, req.op)
        raise ApiError(404, "unsupported path")

    @staticmethod
    def _kv2_live(meta):
        v = meta["versions"].get(str(meta["current_version"]))
        return v

    def _kv2_data(self, req, secrets_, key):
        meta = secrets_.get(key)
        if req.op == "read":
            self._check(req, "read")
            if meta is None:
                raise ApiError(404)
            want = req.query.get("version")
            vnum = str(meta["current_version"]) if not want or want == "0" else want
            v = meta["versions"].get(vnum)
            if v is None:
                raise ApiError(404)
            vmeta = {"created_time": v["created_time"], "custom_metadata": meta["custom_metadata"],
                     "deletion_time": v["deletion_time"], "destroyed": v["destroyed"], "version": int(vnum)}
            if v["deletion_time"] or v["destroyed"]:
                # a deleted version is a 404 that still carries its metadata
                return self._raw(404, {"request_id": new_uuid(), "lease_id": "", "renewable": False,
                                       "lease_duration": 0, "data": {"data": None, "metadata": vmeta},
                                       "wrap_info": None, "warnings": None, "auth": None, "mount_type": "kv"})
            return self._logical(req, {"data": v["data"], "metadata": vmeta}, mount_type="kv")
        if req.op == "delete":
            self._check(req, "delete")
            if meta is not None:
                v = self._kv2_live(meta)
                if v is not None and not v["deletion_time"]:
                    v["deletion_time"] = now_rfc3339()
                    self._save()
            return self._no_content()
        if req.op not in ("update", "patch"):
            raise ApiError(405)
        self._check(req, self._write_cap(meta is not None) if req.op == "update" else "patch")
        d = req.data
        if "data" not in d or d["data"] is None:
            raise ApiError(400, "no data provided")
        if not isinstance(d["data"], dict):
            raise ApiError(400, "failed to parse JSON input: data must be a map")
        opts = d.get("options") or {}
        current = meta["current_version"] if meta else 0
        if "cas" in opts:
            try:
                cas = int(opts["cas"])
            except (TypeError, ValueError):
                raise ApiError(400, "error parsing check-and-set parameter")
            if cas != current:
                raise ApiError(400, "check-and-set parameter did not match the current version")
        elif meta and meta.get("cas_required"):
            raise ApiError(400, "check-and-set parameter required for this call")
        if req.op == "patch":
            if meta is None or self._kv2_live(meta) is None:
                raise ApiError(404)
            merged = dict(self._kv2_live(meta)["data"])
            merged.update({k: v for k, v in d["data"].items() if v is not None})
            for k, v in d["data"].items():
                if v is None:
                    merged.pop(k, None)
            d = {"data": merged}
        now = now_rfc3339()
        if meta is None:
            meta = {"created_time": now, "current_version": 0, "oldest_version": 1,
                    "max_versions": 0, "cas_required": False, "custom_metadata": None,
                    "delete_version_after": "0s", "versions": {}}
            secrets_[key] = meta
        n = meta["current_version"] + 1
        meta["current_version"] = n
        meta["updated_time"] = now
        meta["versions"][str(n)] = {"created_time": now, "deletion_time": "", "destroyed": False,
                                    "data": d["data"]}
        self._save()
        return self._logical(req, {"created_time": now, "custom_metadata": meta["custom_metadata"],
                                   "deletion_time": "", "destroyed": False, "version": n}, mount_type="kv")

    def _kv2_metadata(self, req, secrets_, key):
        if req.op == "list":
            self._check(req, "list")
            prefix = key + "/" if key else ""
            keys = set()
            for k in secrets_:
                if k.startswith(prefix):
                    rest = k[len(prefix):]
                    keys.add(rest.split("/", 1)[0] + "/" if "/" in rest else rest)
            if not keys:
                raise ApiError(404)
            return self._logical(req, {"keys": sorted(keys)}, mount_type="kv")
        meta = secrets_.get(key) if key else None
        if req.op == "read":
            self._check(req, "read")
            if meta is None:
                raise ApiError(404)
            versions = {k: {"created_time": v["created_time"], "deletion_time": v["deletion_time"],
                            "destroyed": v["destroyed"]} for k, v in meta["versions"].items()}
            return self._logical(req, {
                "cas_required": meta["cas_required"], "created_time": meta["created_time"],
                "current_version": meta["current_version"], "custom_metadata": meta["custom_metadata"],
                "delete_version_after": meta["delete_version_after"], "max_versions": meta["max_versions"],
                "oldest_version": meta["oldest_version"], "updated_time": meta.get("updated_time", meta["created_time"]),
                "versions": versions}, mount_type="kv")
        if req.op == "delete":
            self._check(req, "delete")
            if secrets_.pop(key, None) is not None:
                self._save()
            return self._no_content()
        if req.op == "update":
            self._check(req, self._write_cap(meta is not None))
            if not key:
                raise ApiError(405)
            d = req.data
            if meta is None:
                now = now_rfc3339()
                meta = {"created_time": now, "updated_time": now, "current_version": 0, "oldest_version": 0,
                        "max_versions": 0, "cas_required": False, "custom_metadata": None,
                        "delete_version_after": "0s", "versions": {}}
                secrets_[key] = meta
            if "max_versions" in d:
                meta["max_versions"] = int(d["max_versions"])
            if "cas_required" in d:
                meta["cas_required"] = parse_bool(d["cas_required"])
            if "custom_metadata" in d:
                meta["custom_metadata"] = d["custom_metadata"]
            self._save()
            return self._no_content()
        raise ApiError(405)

    def _kv1(self, req, entry, key):
        be = self.st["backends"].setdefault(entry["uuid"], {})
        data = be.setdefault("secrets", {})
        if req.op == "list":
            self._check(req, "list")
            prefix = key + "/" if key else ""
            keys = {(k[len(prefix):].split("/", 1)[0] + "/") if "/" in k[len(prefix):] else k[len(prefix):]
                    for k in data if k.startswith(prefix)}
            if not keys:
                raise ApiError(404)
            return self._logical(req, {"keys": sorted(keys)}, mount_type="kv")
        if req.op == "read":
            self._check(req, "read")
            if key not in data:
                raise ApiError(404)
            return self._logical(req, data[key], mount_type="kv")
        if req.op == "delete":
            self._check(req, "delete")
            if data.pop(key, None) is not None:
                self._save()
            return self._no_content()
        if req.op != "update":
            raise ApiError(405)
        self._check(req, self._write_cap(key in data))
        if not key:
            raise ApiError(405)
        if not req.data:
            raise ApiError(400, "missing data fields")
        data[key] = req.data
        self._save()
        return self._no_content()


def main():
    def add_args(p):
        p.add_argument("--state", help="persist all state to this JSON file (0600); an existing file means a restart")
        p.add_argument("--kv-upgrade-seconds", type=float, default=0.05,
                       help="how long a new KV version 2 mount answers 400 'Upgrading from non-versioned "
                            "to versioned data...' (default 0.05, an empty mount's upgrade on a fast disk)")
    return common.run("openbao", "OpenBao HTTP API test server", add_args,
                      lambda a: OpenBao(a.state, a.kv_upgrade_seconds))


if __name__ == "__main__":
    sys.exit(main())
