"""Plumbing shared by the OpenBao and Keycloak API test servers.

Neither server is a mock that answers whatever a test scripts: each keeps the
state its real counterpart would keep and answers from it.  What they share is
the part no real server has: the request log, fault injection and the port
file, all behind the /_test/ prefix so that they can never collide with a real
API path.

Test-only contract (no authentication, not part of either real API):

  GET  /_test/requests  every request since start or the last reset, oldest
                        first, as [{"method","path","query","status"}]; path is
                        without the query string, status is null for a request
                        that was dropped.  Bodies are never recorded.
  POST /_test/reset     empties the request log and forgets pending faults.
  POST /_test/fault     {"method": "PUT" | null, "path_prefix": "/v1/sys/mounts",
                         "action": "500" | "drop", "count": 1}
                        the next `count` requests whose method matches (null:
                        any) and whose path starts with path_prefix answer 500
                        in the API's own error shape, or ("drop") have their
                        connection closed without any response.  Faults queue:
                        the oldest one that matches is used first.

Python standard library only: it also runs inside a container that has little
more than Debian's python3-minimal.
"""

import argparse
import base64
import faulthandler
import hashlib
import ipaddress
import json
import os
import secrets
import signal
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from urllib.parse import urlsplit


class Response:
    """What an application hands back: status, body bytes, extra headers."""

    __slots__ = ("status", "body", "headers")

    def __init__(self, status, body=b"", headers=None):
        self.status = status
        self.body = body
        self.headers = headers or []


def json_response(status, obj, newline=False, headers=None):
    # Go's json.Encoder (OpenBao) ends every document with a newline; Jackson
    # (Keycloak) does not.  Clients should not care, but byte-level fidelity is
    # cheap.
    data = json.dumps(obj, separators=(",", ":")).encode()
    if newline:
        data += b"\n"
    hdrs = [("Content-Type", "application/json")] + list(headers or [])
    return Response(status, data, hdrs)


# --- RS256 (RSA PKCS#1 v1.5 with SHA-256), standard library only ------------
#
# What Keycloak signs ID tokens with by default (realm defaultSignatureAlgorithm
# RS256) and what OpenBao's OIDC login verifies them with (go-oidc's default
# supported algorithm), so that the doubles exchange real, verifiable tokens.
# RFC 8017 sections 8.2 and 9.2; not constant-time, for tests only.

_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def _probable_prime(bits):
    small = [p for p in range(3, 2000, 2) if all(p % q for q in range(3, int(p ** 0.5) + 1, 2))]
    while True:
        n = secrets.randbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if any(n % p == 0 for p in small):
            continue
        d, r = n - 1, 0
        while d % 2 == 0:
            d, r = d // 2, r + 1
        for _ in range(24):
            x = pow(secrets.randbelow(n - 3) + 2, d, n)
            if x in (1, n - 1):
                continue
            for _ in range(r - 1):
                x = pow(x, 2, n)
                if x == n - 1:
                    break
            else:
                break
        else:
            return n


def rsa_generate(bits=2048):
    """(n, e, d) of a new RSA key."""
    e = 65537
    while True:
        p, q = _probable_prime(bits // 2), _probable_prime(bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e and (p * q).bit_length() == bits:
            return p * q, e, pow(e, -1, phi)


def _emsa(data, k):
    t = _SHA256_PREFIX + hashlib.sha256(data).digest()
    return b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t


def rs256_sign(key, data):
    n, _, d = key
    k = (n.bit_length() + 7) // 8
    return pow(int.from_bytes(_emsa(data, k), "big"), d, n).to_bytes(k, "big")


def rs256_verify(n, e, data, sig):
    k = (n.bit_length() + 7) // 8
    if len(sig) != k:
        return False
    return pow(int.from_bytes(sig, "big"), e, n).to_bytes(k, "big") == _emsa(data, k)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url_uint(i):
    return b64url(i.to_bytes((i.bit_length() + 7) // 8, "big"))


def is_private_address(addr):
    """Keycloak's idea of a local client for sslRequired=external
    (common/src/main/java/org/keycloak/common/enums/SslRequired.java,
    isLocal): loopback or site-local (10/8, 172.16/12, 192.168/16); later
    releases also count link-local and IPv6 unique-local addresses."""
    try:
        ip = ipaddress.ip_address((addr or "").strip())
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return True
    if ip.version == 4:
        return any(ip in ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
    return ip in ipaddress.ip_network("fec0::/10")


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []

    def add(self, method, path, query, status):
        with self._lock:
            self._entries.append({"method": method, "path": path, "query": query, "status": status})

    def snapshot(self):
        with self._lock:
            return list(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []

    def add(self, rule):
        if not isinstance(rule, dict):
            raise ValueError("fault must be a JSON object")
        method = rule.get("method")
        prefix = rule.get("path_prefix", "") or ""
        action = str(rule.get("action", "500"))
        count = rule.get("count", 1)
        if method is not None and not isinstance(method, str):
            raise ValueError("method must be a string or null")
        if not isinstance(prefix, str):
            raise ValueError("path_prefix must be a string")
        if action not in ("500", "drop"):
            raise ValueError('action must be "500" or "drop"')
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be a positive integer")
        with self._lock:
            self._rules.append({"method": method.upper() if method else None,
                                "path_prefix": prefix, "action": action, "count": count})

    def take(self, method, path):
        with self._lock:
            for rule in self._rules:
                if rule["method"] not in (None, method):
                    continue
                if not path.startswith(rule["path_prefix"]):
                    continue
                rule["count"] -= 1
                if rule["count"] == 0:
                    self._rules.remove(rule)
                return rule["action"]
        return None

    def clear(self):
        with self._lock:
            self._rules.clear()


class App:
    """Base for the two servers.  Subclasses implement handle() and
    internal_error(), and may add test controls in test_control()."""

    name = "server"

    def __init__(self):
        self.log = RequestLog()
        self.faults = Faults()

    def handle(self, method, path, query, headers, body, remote):
        """remote: the peer's IP address, as the server's socket sees it."""
        raise NotImplementedError

    def internal_error(self):
        raise NotImplementedError

    def test_control(self, method, path, body):
        """Application-specific /_test/ routes; None when unknown."""
        return None

    def close(self):
        pass


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 with keep-alive, as both real servers speak: a client that
    # reuses connections must be exercised doing so.
    protocol_version = "HTTP/1.1"

    def __getattr__(self, name):
        # Every method is routed to the application, including Vault's LIST
        # and whatever a client might send by mistake.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        return b""

    def _dispatch(self):
        app = self.server.app
        method = self.command
        split = urlsplit(self.path)
        path, query = split.path, split.query
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if path.startswith("/_test/"):
            resp = self._test_control(app, method, path, body)
            self._send(resp, method)
            return
        action = app.faults.take(method, path)
        if action == "drop":
            app.log.add(method, path, query, None)
            self._log_line(method, path, "dropped")
            self._drop()
            return
        if action == "500":
            resp = app.internal_error()
        else:
            try:
                resp = app.handle(method, path, query, self.headers, body, self.client_address[0])
            except Exception:  # a bug here must look like a server error, not a hang
                traceback.print_exc(file=sys.stderr)
                resp = app.internal_error()
        app.log.add(method, path, query, resp.status)
        self._log_line(method, path, resp.status)
        self._send(resp, method)

    def _test_control(self, app, method, path, body):
        try:
            data = json.loads(body) if body.strip() else None
        except ValueError:
            return json_response(400, {"error": "body is not JSON"})
        if path == "/_test/requests" and method == "GET":
            return json_response(200, app.log.snapshot())
        if path == "/_test/reset" and method == "POST":
            app.log.clear()
            app.faults.clear()
            return Response(204)
        if path == "/_test/fault" and method == "POST":
            try:
                app.faults.add(data)
            except ValueError as e:
                return json_response(400, {"error": str(e)})
            return Response(204)
        resp = app.test_control(method, path, data)
        if resp is None:
            return json_response(404, {"error": "no such test control"})
        return resp

    def _drop(self):
        # The request has been read completely: closing now is a clean FIN
        # and the client sees an empty reply (curl exit 52), not a reset.
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, resp, method):
        self.send_response_only(resp.status)
        self.send_header("Date", self.date_time_string())
        for k, v in resp.headers:
            self.send_header(k, v)
        body = resp.body or b""
        if resp.status != 204 and resp.status != 304 and resp.status >= 200:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method != "HEAD" and resp.status not in (204, 304):
            self.wfile.write(body)
        self.wfile.flush()

    def _log_line(self, method, path, status):
        # Path only: query strings and bodies can carry secrets.
        sys.stderr.write("%s: %s %s %s\n" % (self.server.app.name, method, path, status))
        sys.stderr.flush()

    def log_message(self, fmt, *args):
        sys.stderr.write("%s: %s\n" % (self.server.app.name, fmt % args))


class Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    # server_close() must not wait for request threads: one blocked reading a
    # keep-alive connection its client never closes would hold the stop
    # forever (socketserver joins them when block_on_close is true).
    block_on_close = False
    allow_reuse_address = True


def write_port_file(path, port):
    # Written once listening, via a temporary file and rename, so a reader
    # polling for the file never sees it half-written.
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def write_private_json(path, obj):
    """Atomically replace `path` with obj as JSON, mode 0600 from the start."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def run(prog, description, add_args, make_app):
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    for sig in stop_signals:
        signal.signal(sig, lambda signum, frame: None)
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 inside a container)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 lets the kernel choose (default)")
    parser.add_argument("--port-file", help="write the port actually bound here, atomically, once listening")
    add_args(parser)
    args = parser.parse_args()
    try:
        app = make_app(args)
    except SystemExit:
        raise
    except Exception as e:
        sys.stderr.write("%s: %s\n" % (prog, e))
        return 2
    server = Server((args.host, args.port), Handler)
    server.app = app
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    sys.stderr.write("%s: listening on %s:%d\n" % (prog, args.host, port))
    sys.stderr.flush()

    # SIGTERM and SIGINT are blocked in every thread and taken by sigwait in
    # the main thread: no Python signal handler runs.  A handler that set a
    # threading.Event could deadlock the main thread when the signal landed
    # while it held that Event's lock inside Event.wait() (the same shape as
    # python/cpython#126434): seen once, a test server alive ten minutes after
    # its SIGTERM.  The no-op handlers keep the disposition off SIG_DFL, which
    # a container's PID 1 would otherwise drop.  Blocked at the start of run(),
    # before any thread exists, so that every thread inherits the mask.
    # SIGUSR1 writes every thread's stack to the log: a test that finds a
    # server still running after its SIGTERM asks it where it is stuck.
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    signal.sigwait(stop_signals)
    sys.stderr.write("%s: stopping\n" % prog)
    sys.stderr.flush()
    # The stop is bounded: a request still being served (a client holding a
    # keep-alive connection open) must not keep the process alive, as a real
    # server's graceful shutdown is bounded too.
    def close_server():
        server.shutdown()
        server.server_close()

    closer = threading.Thread(target=close_server, daemon=True)
    closer.start()
    closer.join(5)
    if closer.is_alive():
        sys.stderr.write("%s: the listener did not stop within 5 s; stacks follow\n" % prog)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    app.close()
    sys.stderr.write("%s: stopped\n" % prog)
    sys.stderr.flush()
    os._exit(0)
