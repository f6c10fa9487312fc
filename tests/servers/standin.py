"""Plumbing shared by the contract-enforcing stand-ins of the three AEGIS
images (runtime_standin.py, seal_gateway_standin.py,
temporal_worker_standin.py): PEM keys, YAML, PostgreSQL through psql, a
small HTTP listener and the fatal start-up error.

The stand-ins are not the AEGIS images.  Each one reads what its image reads
(kube/contracts.yaml names the sources and commits) and refuses to start, or
refuses a request, where the image would; what it does not model is said in
its own docstring.  Python standard library, plus PyYAML from the
distribution (python3-yaml in the demo's base image).
"""

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
from urllib.parse import unquote, urlsplit

import common


class Fatal(Exception):
    """A start-up error: the stand-in prints it and exits 1, as the image
    exits non-zero on the same error."""


def die(prog, message):
    sys.stderr.write("%s: error: %s\n" % (prog, message))
    sys.stderr.flush()
    sys.exit(1)


def log(prog, message):
    sys.stderr.write("%s: %s\n" % (prog, message))
    sys.stderr.flush()


# --- YAML --------------------------------------------------------------------

def load_yaml(path, what):
    try:
        import yaml
    except ImportError:
        raise Fatal("PyYAML is not installed (python3-yaml); cannot read %s" % path)
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except OSError as e:
        raise Fatal("cannot read %s %s: %s" % (what, path, e.strerror))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = ":%d" % (mark.line + 1) if mark is not None else ""
        raise Fatal("%s %s%s is not valid YAML: %s" % (what, path, where,
                                                       getattr(e, "problem", None) or e))
    return doc


# A serde-like check of a parsed document against a schema, so that a
# missing required field or a value of the wrong type fails the way
# serde_yaml fails in the image ("missing field `endpoint`").  A schema is
#   {"field": (kind, required), ...}
# with kind one of "str", "bool", "u16", "u32", "u64", a tuple
# ("enum", [values]), ("list", kind), ("map", kind) or a nested schema
# dict.  Fields the schema does not name are not checked (serde ignores
# unknown fields unless told otherwise).

_INT_MAX = {"u16": 65535, "u32": 2 ** 32 - 1, "u64": 2 ** 64 - 1}


def check_schema(value, schema, path, file):
    if not isinstance(value, dict):
        raise Fatal("%s: %s: invalid type: expected a mapping" % (file, path or "document"))
    for name, (kind, required) in schema.items():
        here = "%s.%s" % (path, name) if path else name
        if name not in value or value[name] is None:
            if required:
                raise Fatal("%s: %s: missing field `%s`" % (file, path or "document", name))
            continue
        _check_kind(value[name], kind, here, file)


def _check_kind(value, kind, path, file):
    if isinstance(kind, dict):
        check_schema(value, kind, path, file)
    elif kind == "str":
        if not isinstance(value, str):
            raise Fatal("%s: %s: invalid type: %r, expected a string" % (file, path, value))
    elif kind == "bool":
        if not isinstance(value, bool):
            raise Fatal("%s: %s: invalid type: %r, expected a boolean" % (file, path, value))
    elif isinstance(kind, str) and kind in _INT_MAX:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT_MAX[kind]:
            raise Fatal("%s: %s: invalid value: %r, expected %s" % (file, path, value, kind))
    elif kind[0] == "enum":
        if value not in kind[1]:
            raise Fatal("%s: %s: unknown variant `%s`, expected one of %s"
                        % (file, path, value, ", ".join("`%s`" % v for v in kind[1])))
    elif kind[0] == "list":
        if not isinstance(value, list):
            raise Fatal("%s: %s: invalid type: expected a sequence" % (file, path))
        for i, item in enumerate(value):
            _check_kind(item, kind[1], "%s[%d]" % (path, i), file)
    elif kind[0] == "map":
        if not isinstance(value, dict):
            raise Fatal("%s: %s: invalid type: expected a mapping" % (file, path))
        for k, item in value.items():
            _check_kind(item, kind[1], "%s.%s" % (path, k), file)


def get(doc, dotted, default=None):
    """doc["a"]["b"] for "a.b"; default when any step is missing or null."""
    cur = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict) or cur.get(part) is None:
            return default
        cur = cur[part]
    return cur


# --- PEM and DER ---------------------------------------------------------------
#
# What jsonwebtoken's EncodingKey::from_rsa_pem / DecodingKey::from_rsa_pem
# accept (Keats/jsonwebtoken src/pem/decoder.rs, PemEncodedKey::new and
# classify_pem, at 1bdfb914): the first PEM block; "RSA PRIVATE KEY" /
# "RSA PUBLIC KEY" (PKCS#1) as they are; "PRIVATE KEY" / "PUBLIC KEY"
# (PKCS#8 / SPKI) classified by the first algorithm OID inside -- RSA
# (1.2.840.113549.1.1.1) is accepted, Ed25519 (1.3.101.112) and EC
# (1.2.840.10045.2.1) are InvalidKeyFormat for an RSA key; any other label
# is InvalidKeyFormat.

OID_RSA = "1.2.840.113549.1.1.1"
OID_ED25519 = "1.3.101.112"
OID_EC = "1.2.840.10045.2.1"
_OID_NAMES = {OID_RSA: "RSA", OID_ED25519: "Ed25519", OID_EC: "EC"}


class KeyError_(Exception):
    pass


def pem_first_block(text):
    m = re.search(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", text, re.S)
    if not m:
        raise KeyError_("no PEM block")
    body = re.sub(r"\s+", "", m.group(2))
    try:
        der = base64.b64decode(body, validate=True)
    except ValueError:
        raise KeyError_("the PEM block %s is not base64" % m.group(1))
    return m.group(1), der


def der_read(data, pos=0):
    """(tag, content, next position) of the DER element at pos."""
    if pos + 2 > len(data):
        raise KeyError_("truncated DER")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise KeyError_("bad DER length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise KeyError_("truncated DER")
    return tag, data[pos:pos + length], pos + length


def der_children(content):
    out, pos = [], 0
    while pos < len(content):
        tag, value, pos = der_read(content, pos)
        out.append((tag, value))
    return out


def _oid(value):
    first = value[0]
    parts = [first // 40 if first < 80 else 2, first % 40 if first < 80 else first - 80]
    n = 0
    for b in value[1:]:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(n)
            n = 0
    return ".".join(map(str, parts))


def _first_oid(content):
    """The first OBJECT IDENTIFIER, depth first through SEQUENCEs (classify_pem)."""
    for tag, value in der_children(content):
        if tag == 0x30:
            found = _first_oid(value)
            if found:
                return found
        elif tag == 0x06:
            return _oid(value)
    return None


def _first_string(content):
    """The first BIT STRING or OCTET STRING, depth first (extract_first_bitstring)."""
    for tag, value in der_children(content):
        if tag == 0x30:
            found = _first_string(value)
            if found is not None:
                return found
        elif tag == 0x03:
            return value[1:]
        elif tag == 0x04:
            return value
    return None


def _ints(content):
    tag, seq, _ = der_read(content)
    if tag != 0x30:
        raise KeyError_("not a DER SEQUENCE")
    return [int.from_bytes(v, "big") for t, v in der_children(seq) if t == 0x02]


def rsa_private_from_pem(text):
    """(n, e, d) of an RSA private key, as from_rsa_pem reads it, or
    KeyError_ saying why it is refused."""
    label, der = pem_first_block(text)
    if label == "PRIVATE KEY":
        tag, content, _ = der_read(der)
        oid = _first_oid(content) if tag == 0x30 else None
        if oid != OID_RSA:
            raise KeyError_("InvalidKeyFormat: a PKCS#8 %s key, not RSA"
                            % _OID_NAMES.get(oid, "unknown (%s)" % oid))
        der = _first_string(content)
    elif label != "RSA PRIVATE KEY":
        raise KeyError_("InvalidKeyFormat: a PEM block '%s', not an RSA private key" % label)
    ints = _ints(der)
    if len(ints) < 4:
        raise KeyError_("InvalidKeyFormat: not a PKCS#1 RSAPrivateKey")
    _, n, e, d = ints[:4]
    return n, e, d


def rsa_public_from_pem(text):
    """(n, e) of an RSA public key, as DecodingKey::from_rsa_pem reads it."""
    label, der = pem_first_block(text)
    if label == "PUBLIC KEY":
        tag, content, _ = der_read(der)
        oid = _first_oid(content) if tag == 0x30 else None
        if oid != OID_RSA:
            raise KeyError_("InvalidKeyFormat: an SPKI %s key, not RSA"
                            % _OID_NAMES.get(oid, "unknown (%s)" % oid))
        der = _first_string(content)
    elif label != "RSA PUBLIC KEY":
        raise KeyError_("InvalidKeyFormat: a PEM block '%s', not an RSA public key" % label)
    ints = _ints(der)
    if len(ints) < 2:
        raise KeyError_("InvalidKeyFormat: not a PKCS#1 RSAPublicKey")
    return ints[0], ints[1]


# --- JWT (RS256) -------------------------------------------------------------

def jwt_sign_rs256(key, claims):
    header = common.b64url(json.dumps({"typ": "JWT", "alg": "RS256"}, separators=(",", ":")).encode())
    payload = common.b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = ("%s.%s" % (header, payload)).encode()
    return "%s.%s.%s" % (header, payload, common.b64url(common.rs256_sign(key, signing_input)))


def jwt_unverified_claims(token):
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(common.b64url_decode(parts[1]))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


# --- PostgreSQL through psql ---------------------------------------------------

def pg_env(url):
    """libpq environment for a postgresql:// URL: the password goes to the
    child's environment (PGPASSWORD), never to its arguments."""
    u = urlsplit(url)
    if u.scheme not in ("postgres", "postgresql"):
        raise Fatal("the database URL is not postgresql:// (scheme '%s')" % u.scheme)
    env = dict(os.environ)
    env.update({
        "PGHOST": u.hostname or "localhost",
        "PGPORT": str(u.port or 5432),
        "PGUSER": unquote(u.username or ""),
        "PGPASSWORD": unquote(u.password or ""),
        "PGDATABASE": unquote(u.path.lstrip("/")) or unquote(u.username or ""),
        "PGCONNECT_TIMEOUT": "5",
        "PGAPPNAME": "aegis-standin",
    })
    return env


def where(url):
    u = urlsplit(url)
    return "%s:%s/%s" % (u.hostname, u.port or 5432, u.path.lstrip("/"))


def psql(url, sql):
    """(ok, output) of running sql with psql against url."""
    try:
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
                           input=sql, env=pg_env(url), capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise Fatal("psql is not installed in this image")
    except subprocess.TimeoutExpired:
        return False, "psql timed out after 30 s"
    return p.returncode == 0, (p.stdout if p.returncode == 0 else p.stderr).strip()


def psql_connect(url, attempts=15, delay=2.0):
    """Wait until the database answers; (ok, last error)."""
    last = ""
    for i in range(attempts):
        ok, out = psql(url, "SELECT 1;")
        if ok:
            return True, ""
        last = out
        if i + 1 < attempts:
            time.sleep(delay)
    return False, last


# --- listeners -----------------------------------------------------------------

def split_host_port(addr, default_port=None):
    """("0.0.0.0", 8089) from "0.0.0.0:8089" (Rust SocketAddr syntax, also
    "[::]:8089")."""
    m = re.fullmatch(r"\[([^\]]+)\]:(\d+)|([^:]+):(\d+)", addr or "")
    if not m:
        if default_port is not None and addr:
            return addr, default_port
        raise Fatal("invalid socket address syntax: '%s'" % addr)
    host = m.group(1) or m.group(3)
    return host, int(m.group(2) or m.group(4))


def serve_http(app, host, port):
    """Start a common.Server for app on host:port in a thread; Fatal when the
    address cannot be bound (as the image fails to bind)."""
    try:
        server = common.Server((_v4(host), port), common.Handler)
    except OSError as e:
        raise Fatal("cannot bind %s:%d: %s" % (host, port, e.strerror))
    server.app = app
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    return server


def serve_tcp(host, port, name):
    """Accept connections on host:port and close them (a port that is bound,
    as the image's gRPC listener is, without speaking gRPC)."""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((_v4(host), port))
    except OSError as e:
        raise Fatal("cannot bind %s %s:%d: %s" % (name, host, port, e.strerror))
    s.listen(16)

    def loop():
        while True:
            try:
                c, _ = s.accept()
                c.close()
            except OSError:
                return
    threading.Thread(target=loop, daemon=True).start()
    return s


def _v4(host):
    # the servers here are IPv4; "::" and "localhost" map to their IPv4 forms
    return {"::": "0.0.0.0", "[::]": "0.0.0.0", "::1": "127.0.0.1", "localhost": "127.0.0.1"}.get(host, host)


class SimpleApp(common.App):
    """A common.App from a routing function route(method, path, headers,
    body) -> common.Response or None (404)."""

    def __init__(self, name, route):
        super().__init__()
        self.name = name
        self.route = route

    def handle(self, method, path, query, headers, body, remote):
        resp = self.route(method, path, headers, body)
        return resp if resp is not None else common.Response(404, b"", [("Content-Type", "text/plain")])

    def internal_error(self):
        return common.Response(500, b"internal error", [("Content-Type", "text/plain")])


def wait_for_signal():
    import signal
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda s, f: stop.set())
    signal.signal(signal.SIGINT, lambda s, f: stop.set())
    while not stop.wait(0.5):
        pass
