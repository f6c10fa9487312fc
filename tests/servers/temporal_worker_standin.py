"""STAND-IN for the AEGIS Temporal worker (aegis-temporal-worker), not the
worker: it starts only on what the worker needs and exits where the worker
exits.

Sources: 100monkeys-ai/aegis-temporal-worker (kube/contracts.yaml) at
62e4cc9c (src/config.ts), 3de09c95 (src/auth/token-manager.ts) and 0880e33c
(src/index.ts, src/worker.ts).  At start-up, in the worker's order:

 1. the configuration: a zod schema over the environment (src/config.ts:
    11-42 at 62e4cc9c): DATABASE_URL, KEYCLOAK_HOST, KEYCLOAK_SYSTEM_REALM,
    KEYCLOAK_CLIENT_ID and KEYCLOAK_CLIENT_SECRET are required strings (an
    unset one fails the parse and the process exits before main runs;
    z.string() accepts an empty one); HTTP_PORT a number (default 3000),
    LOG_LEVEL one of trace|debug|info|warn|error, NODE_ENV one of
    development|production|test.
 2. the database (src/index.ts:17): DATABASE_URL must connect.
 3. HTTP on HTTP_HOST:HTTP_PORT with /health (src/index.ts:20,
    src/server.ts:19).
 4. the workflow definitions: the worker reads the table
    workflow_definitions (src/worker.ts:25, :67-88,
    database.getAllWorkflowDefinitions); when it is missing the start fails
    and the process exits 1 (src/index.ts:40-43).  The runtime's first
    migration creates the table (aegis-orchestrator
    cli/migrations/001_initial.sql:308).
 5. a service-account token by client credentials at
    KEYCLOAK_HOST/realms/KEYCLOAK_SYSTEM_REALM/protocol/openid-connect/token
    with the worker's scopes (src/auth/token-manager.ts:31-44 at 3de09c95).
    The worker asks for it on its first call to the runtime; the stand-in
    asks at start-up and exits 1 when Keycloak refuses, so that a client or
    secret the worker could never use fails the deploy instead of every
    later call.

Not modelled: Temporal (the connection, the task queue, workflows and
activities), the runtime's gRPC API, the registration API beyond /health.
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import standin  # noqa: E402
from standin import Fatal  # noqa: E402

PROG = "aegis-temporal-worker (stand-in)"
REQUIRED = [("DATABASE_URL", "database.url"), ("KEYCLOAK_HOST", "serviceAccount.keycloakHost"),
            ("KEYCLOAK_SYSTEM_REALM", "serviceAccount.realm"), ("KEYCLOAK_CLIENT_ID", "serviceAccount.clientId"),
            ("KEYCLOAK_CLIENT_SECRET", "serviceAccount.clientSecret")]
# src/auth/token-manager.ts:43-44 (3de09c95)
SCOPES = "agent:read agent:execute execution:read execution:stream workflow:read volume:read volume:write"


def config():
    env = os.environ
    issues = ["%s (%s): Required" % (path, var) for var, path in REQUIRED if var not in env]
    port = env.get("HTTP_PORT", "3000")
    try:
        port_n = float(port) if port.strip() else 0.0
    except ValueError:
        port_n = None
    if port_n is None or port_n != port_n:
        issues.append("http.port (HTTP_PORT): Expected number, received nan")
    level = env.get("LOG_LEVEL")
    if level is not None and level not in ("trace", "debug", "info", "warn", "error"):
        issues.append("logging.level (LOG_LEVEL): Invalid enum value. Expected 'trace' | 'debug' | 'info' | "
                      "'warn' | 'error', received '%s'" % level)
    node_env = env.get("NODE_ENV")
    if node_env is not None and node_env not in ("development", "production", "test"):
        issues.append("nodeEnv (NODE_ENV): Invalid enum value. Expected 'development' | 'production' | "
                      "'test', received '%s'" % node_env)
    if issues:
        raise Fatal("ZodError: the configuration does not parse: " + "; ".join(issues))
    return {"db": env["DATABASE_URL"], "kc": env["KEYCLOAK_HOST"].rstrip("/"),
            "realm": env["KEYCLOAK_SYSTEM_REALM"], "client": env["KEYCLOAK_CLIENT_ID"],
            "secret": env["KEYCLOAK_CLIENT_SECRET"], "host": env.get("HTTP_HOST", "0.0.0.0"),
            "port": int(port_n)}


def service_token(c):
    url = "%s/realms/%s/protocol/openid-connect/token" % (c["kc"], urllib.parse.quote(c["realm"], safe=""))
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": c["client"],
                                   "client_secret": c["secret"], "scope": SCOPES}).encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    last = ""
    for attempt in range(5):
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                data = json.load(r)
            if not data.get("access_token"):
                raise Fatal("Keycloak token fetch at %s: no access_token in the answer" % url)
            return data
        except urllib.error.HTTPError as e:
            text = e.read(300).decode(errors="replace")
            raise Fatal("Keycloak token fetch failed: HTTP %d \u2014 %s (%s, client %s)"
                        % (e.code, text, url, c["client"]))
        except (urllib.error.URLError, OSError) as e:
            last = str(getattr(e, "reason", e))
            import time
            time.sleep(2)
    raise Fatal("Keycloak token fetch failed: %s unreachable: %s" % (url, last))


def start():
    c = config()
    standin.log(PROG, "Starting AEGIS Temporal Worker (stand-in)...")
    ok, why = standin.psql_connect(c["db"])
    if not ok:
        raise Fatal("Failed to start AEGIS Temporal Worker: cannot connect to the database at %s: %s"
                    % (standin.where(c["db"]), why))

    def route(method, path, headers, body):
        if path == "/health" and method in ("GET", "HEAD"):
            return common.json_response(200, {"status": "healthy", "standin": True})
        return None
    standin.serve_http(standin.SimpleApp("temporal-worker-standin", route), c["host"], c["port"])
    ok, out = standin.psql(c["db"], "SELECT count(*) FROM workflow_definitions;")
    if not ok:
        raise Fatal("Failed to start AEGIS Temporal Worker: Failed to load workflow definitions (%s): %s"
                    % (standin.where(c["db"]), out))
    standin.log(PROG, "Found %s workflow definitions in database" % out.strip())
    tok = service_token(c)
    standin.log(PROG, "service account token for %s from realm %s (expires in %s s)"
                % (c["client"], c["realm"], tok.get("expires_in")))
    standin.log(PROG, "listening on %s:%d" % (c["host"], c["port"]))


def main(argv):
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    try:
        start()
    except Fatal as e:
        standin.die(PROG, str(e))
    standin.wait_for_signal()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
