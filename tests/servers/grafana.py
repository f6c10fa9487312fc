#!/usr/bin/python3
"""Grafana 10.4 HTTP API test server: the admin user and its password.

A stateful stand-in for the part of Grafana that `rotate
GRAFANA_ADMIN_PASSWORD` and the readiness probe use, built from Grafana's
source (github.com/grafana/grafana; the handlers of 10.x, read at b21c30e,
and v10.4's authn clients):

  GET /api/health          no authentication; 200 {"commit", "database": "ok",
                           "version"} (pkg/api/health.go)
  GET /api/user            the signed-in user (pkg/api/user.go GetSignedInUser)
  PUT /api/user/password   {"oldPassword", "newPassword"} as the signed-in user
                           (pkg/api/user.go ChangeUserPassword): a body that is
                           not JSON -> 400 "bad request data"; oldPassword not
                           the stored one -> 401 "Invalid old password"; a new
                           password of 4 characters or fewer -> 400 "New password
                           is too short" (pkg/services/user/model.go
                           Password.IsWeak: len <= 4); else 200 "User password
                           changed".  There is no confirmation field in the API
                           (confirmNew belongs to the web form and is ignored).
  PUT /api/admin/users/{id}/password  {"password"}, Grafana admins only
                           (pkg/api/admin_users.go AdminUpdateUserPassword):
                           403 "Permission denied" for others, 400 "New password
                           too short", 404 "user not found", 200 "User password
                           updated".

Authentication is HTTP basic (auth.basic enabled, the default).  A wrong
password is 401 {"message": "Invalid username or password", "messageId":
"password-auth.failed", "statusCode": 401, "traceID": ""} (authn's password
client, pkg/services/authn/clients/password.go, written by the context
handler's WriteErrOrFallback); no credentials at all 401 {"message":
"Unauthorized"} (pkg/middleware/auth.go notAuthorized).  Brute-force login
protection is on, as by default: after 5 failed logins of a user name within
5 minutes, every login of that name is refused for the rest of the window, the
right password included (pkg/login/brute_force_login_protection.go:
maxInvalidLoginAttempts = 5, loginAttemptsWindow = 5 min; loginattempt in 10.x).

Passwords are stored as Grafana stores them: PBKDF2-HMAC-SHA256, 10000
rounds, 50 bytes, hex, with a 10-character salt per user (pkg/util/encoding.go
EncodePassword), in a SQLite file, DATA_DIR/grafana.db, table "user" -- the
file Grafana keeps in its data directory ([paths] data, GF_PATHS_DATA,
/var/lib/grafana in the image).

The admin user comes from GF_SECURITY_ADMIN_USER (default "admin") and
GF_SECURITY_ADMIN_PASSWORD (default "admin") ONLY when the database has no
user yet, i.e. on the first start with an empty data directory
(pkg/services/sqlstore/sqlstore.go ensureMainOrgAndAdminUser: nothing is done
when a user exists).  Later starts ignore both variables: changing
GF_SECURITY_ADMIN_PASSWORD alone locks every client out, which is what
`rotate` exists for.  The password never appears in argv.

Test-only controls (see common.py): /_test/requests, /_test/reset, /_test/fault.

Run:  GF_SECURITY_ADMIN_PASSWORD=... [GF_PATHS_DATA=DIR]
      /usr/bin/python3 tests/servers/grafana.py [--data DIR]
          [--host 127.0.0.1] [--port 0] [--port-file FILE]
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

VERSION = "10.4.2"
COMMIT = "701c851be7"
MAX_INVALID_LOGINS = 5
LOGIN_WINDOW_S = 300
SALT_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def encode_password(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 10000, 50).hex()


def new_salt():
    return "".join(secrets.choice(SALT_CHARS) for _ in range(10))


class GrafanaError(Exception):
    def __init__(self, status, body):
        super().__init__(str(body))
        self.status = status
        self.body = body


def api_error(status, message):
    """response.Error(status, message, err): {"message": message}."""
    return GrafanaError(status, {"message": message})


def public_error(status, message_id, message):
    """An errutil error written by WriteErr: its public payload."""
    return GrafanaError(status, {"message": message, "messageId": message_id,
                                 "statusCode": status, "traceID": ""})


class Grafana(common.App):
    name = "grafana"

    def __init__(self, data_dir, admin_user, admin_password):
        super().__init__()
        self.lock = threading.Lock()
        os.makedirs(data_dir, exist_ok=True)
        self.db_path = os.path.join(data_dir, "grafana.db")
        self.db = sqlite3.connect(self.db_path, check_same_thread=False)
        self.db.execute('CREATE TABLE IF NOT EXISTS "user" (id INTEGER PRIMARY KEY AUTOINCREMENT, '
                        'login TEXT NOT NULL UNIQUE, email TEXT NOT NULL, name TEXT, password TEXT, '
                        'salt TEXT, is_admin INTEGER NOT NULL, created TEXT, updated TEXT)')
        self.db.execute("CREATE TABLE IF NOT EXISTS login_attempt (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                        "username TEXT NOT NULL, ip_address TEXT, created INTEGER NOT NULL)")
        users = self.db.execute('SELECT COUNT(*) FROM "user"').fetchone()[0]
        if users == 0:
            # First start: the only time the environment's admin is used.
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            salt = new_salt()
            self.db.execute('INSERT INTO "user" (login, email, name, password, salt, is_admin, created, updated) '
                            "VALUES (?, ?, '', ?, ?, 1, ?, ?)",
                            (admin_user, "admin@localhost", encode_password(admin_password, salt), salt, now, now))
            sys.stderr.write("grafana: created the admin user '%s' (empty database)\n" % admin_user)
        else:
            sys.stderr.write("grafana: %s has users; GF_SECURITY_ADMIN_* not used\n" % self.db_path)
        self.db.commit()

    def close(self):
        self.db.close()

    def internal_error(self):
        return common.json_response(500, {"message": "Internal Server Error", "traceID": ""})

    # --- authentication -------------------------------------------------------

    def _blocked(self, login):
        since = int(time.time()) - LOGIN_WINDOW_S
        n = self.db.execute("SELECT COUNT(*) FROM login_attempt WHERE username = ? AND created >= ?",
                            (login, since)).fetchone()[0]
        return n >= MAX_INVALID_LOGINS

    def _signed_in(self, headers, remote):
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Basic "):
            raise api_error(401, "Unauthorized")
        try:
            login, _, password = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise public_error(400, "basic-auth.invalid-header", "Invalid Basic Auth Header")
        if self._blocked(login):
            raise public_error(401, "login-attempt.blocked", "Invalid username or password")
        if not password:
            raise public_error(401, "password-auth.empty", "Invalid username or password")
        row = self.db.execute('SELECT id, login, email, name, password, salt, is_admin, created, updated '
                              'FROM "user" WHERE lower(login) = lower(?) OR lower(email) = lower(?)',
                              (login, login)).fetchone()
        if row is None or not hmac.compare_digest(encode_password(password, row[5]), row[4]):
            if row is not None:
                self.db.execute("INSERT INTO login_attempt (username, ip_address, created) VALUES (?, ?, ?)",
                                (login, remote or "", int(time.time())))
                self.db.commit()
            raise public_error(401, "password-auth.failed", "Invalid username or password")
        return {"id": row[0], "login": row[1], "email": row[2], "name": row[3], "password": row[4],
                "salt": row[5], "is_admin": bool(row[6]), "created": row[7], "updated": row[8]}

    def _set_password(self, uid, salt, password):
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.db.execute('UPDATE "user" SET password = ?, updated = ? WHERE id = ?',
                        (encode_password(password, salt), now, uid))
        self.db.commit()

    # --- routes -----------------------------------------------------------------

    def handle(self, method, path, query, headers, body, remote=None):
        try:
            with self.lock:
                return self._route(method, path, headers, body, remote)
        except GrafanaError as e:
            return common.json_response(e.status, e.body)

    def _route(self, method, path, headers, body, remote):
        if path == "/api/health":
            if method not in ("GET", "HEAD"):
                raise api_error(404, "Not found")
            return common.json_response(200, {"commit": COMMIT, "database": "ok", "version": VERSION})
        if path == "/api/user" and method == "GET":
            u = self._signed_in(headers, remote)
            return common.json_response(200, {
                "id": u["id"], "email": u["email"], "name": u["name"], "login": u["login"], "theme": "",
                "orgId": 1, "isGrafanaAdmin": u["is_admin"], "isDisabled": False, "isExternal": False,
                "authLabels": [], "updatedAt": u["updated"], "createdAt": u["created"],
                "avatarUrl": "/avatar/" + hashlib.md5(u["email"].encode()).hexdigest()})
        if path == "/api/user/password" and method == "PUT":
            u = self._signed_in(headers, remote)
            cmd = self._bind(body)
            old, new = str(cmd.get("oldPassword") or ""), str(cmd.get("newPassword") or "")
            if not hmac.compare_digest(encode_password(old, u["salt"]), u["password"]):
                raise api_error(401, "Invalid old password")
            if len(new) <= 4:
                raise api_error(400, "New password is too short")
            self._set_password(u["id"], u["salt"], new)
            return common.json_response(200, {"message": "User password changed"})
        parts = path.strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["api", "admin", "users"] and parts[4] == "password" and method == "PUT":
            u = self._signed_in(headers, remote)
            if not u["is_admin"]:
                raise api_error(403, "Permission denied")
            form = self._bind(body)
            password = str(form.get("password") or "")
            if len(password) <= 4:
                raise api_error(400, "New password too short")
            row = self.db.execute('SELECT id, salt FROM "user" WHERE id = ?',
                                  (parts[3] if parts[3].isdigit() else -1,)).fetchone()
            if row is None:
                raise api_error(404, "user not found")
            self._set_password(row[0], row[1], password)
            return common.json_response(200, {"message": "User password updated"})
        raise api_error(404, "Not found")

    @staticmethod
    def _bind(body):
        try:
            cmd = json.loads(body or b"{}")
        except ValueError:
            raise api_error(400, "bad request data")
        if not isinstance(cmd, dict):
            raise api_error(400, "bad request data")
        return cmd


def main():
    def add_args(p):
        p.add_argument("--data", help="data directory (default GF_PATHS_DATA, else /var/lib/grafana)")

    def make(args):
        data = args.data or os.environ.get("GF_PATHS_DATA") or "/var/lib/grafana"
        user = os.environ.get("GF_SECURITY_ADMIN_USER") or "admin"
        password = os.environ.get("GF_SECURITY_ADMIN_PASSWORD") or "admin"
        return Grafana(data, user, password)

    return common.run("grafana", "Grafana HTTP API test server (admin user, password change)", add_args, make)


if __name__ == "__main__":
    sys.exit(main())
