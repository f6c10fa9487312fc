"""STAND-IN for the AEGIS runtime (ghcr.io/100monkeys-ai/aegis-runtime), not
the runtime: it starts only where the runtime would start, on the same
inputs, and fails with the runtime's own reasons where the runtime fails.

Sources: 100monkeys-ai/aegis-orchestrator at 59bc51e9 (kube/contracts.yaml);
file:line below is in that tree.  What it does at start-up, in the order of
start_daemon (cli/src/daemon/server.rs:191-1392):

 1. the configuration: AEGIS_CONFIG_PATH when that file exists, else
    ./aegis-config.yaml, ~/.aegis/aegis-config.yaml,
    /etc/aegis/aegis-config.yaml (node_config.rs:1907-1947).  Parsed with
    the required fields and types of NodeConfigManifest's structs
    (node_config.rs:40-1560, SCHEMA below), the environment overrides
    AEGIS_PORT, AEGIS_HOST and AEGIS_NETWORK_ALLOW_INSECURE_BIND
    (node_config.rs:2000-2063), then validate() (node_config.rs:2172-2300).
    Unlike the runtime, it refuses to start with no configuration file at
    all (the runtime runs on empty defaults: in-memory, no IAM), since a
    deployment of ours always mounts one.
 2. metrics: spec.observability.metrics, when enabled, bound on its
    bind_address (default 127.0.0.1) and port (9091) (server.rs:213-247,
    node_config.rs:696-733, :1619-1634).
 3. the database: spec.database.url, "env:NAME" resolved from the
    environment (node_config.rs:2351-2361); when it resolves, connect and
    apply the first migration (server.rs:266-345).  The stand-in creates
    what the Temporal worker reads of it: the tables tenants (with its two
    seed rows) and workflow_definitions, as cli/migrations/001_initial.sql:
    24-49 and :308-335 create them.  A production node (metadata.labels.
    environment: production) exits without spec.database or when it
    cannot connect (server.rs:340-356).
 4. IAM: a production node needs spec.iam with at least one realm; every
    realm needs issuer_url and jwks_uri (server.rs:483-507).
 5. the StandardRuntime registry: spec.runtime.runtime_registry_path
    (default "runtime-registry.yaml", relative to the working directory)
    must exist and parse (server.rs:971-1024, runtime_registry.rs:28-35,
    :72-105, :130-141).
 6. the SEAL signing key: AEGIS_SEAL_PRIVATE_KEY only, PEM text ("\\n"
    escapes accepted), an RSA key for RS256 (server.rs:1361-1380, :3188-3194,
    orchestrator/core/src/infrastructure/seal/signature.rs:94-103).
 7. the secrets manager: with spec.secrets.backend, an AppRole login at
    <address>/v1/auth/approle/login with the role ID (spec.secrets.backend.
    approle.role_id, "env:NAME" resolved) and the secret ID (the variable
    named by secret_id_env_var, default OPENBAO_SECRET_ID); a variable that
    is not set, or a login OpenBao refuses, ends start-up (server.rs:
    1513-1528, orchestrator/core/src/infrastructure/secrets_manager.rs:
    78-141).  Without spec.secrets.backend, an in-memory store.
 8. HTTP on spec.network.bind_address:port (/health, router.rs:102-104)
    and the gRPC port bound (not spoken).

What it does not model: Temporal, Keycloak, the LLM providers, OpenBao past
the login (token renewal, KV), the container socket and agent execution;
the rest of the schema.

Stand-in only (the runtime has no such command): `runtime_standin.py
sign-seal-jwt` prints a SEAL JWT signed RS256 with AEGIS_SEAL_PRIVATE_KEY,
with the claims the runtime's SecurityTokenIssuer sets (iss
"aegis-orchestrator", server.rs:1374; aud "aegis-agents",
node_config.rs:1736) and those the SEAL gateway requires (sub, exec_id,
tenant_id, jti, scp, wid: aegis-seal-gateway src/infrastructure/seal.rs:
12-28 at c17803d5), so that a test can hand it to the gateway; run it with
`podman exec`, never over the network.  `seal-envelope` wraps it in a SEAL
envelope for POST /v1/seal/invoke; `seal-probe` posts that envelope to the
gateway the runtime is configured with (AEGIS_SEAL_GATEWAY_URL, default
http://localhost:8089, server.rs:1387) and exits 0 when it is accepted.
"""

import base64
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import standin  # noqa: E402
from standin import Fatal  # noqa: E402

PROG = "aegis-runtime (stand-in)"

S, B, U16, U32, U64 = "str", "bool", "u16", "u32", "u64"
REQ, OPT = True, False

# Required fields (no serde default, not Option) and types of
# NodeConfigManifest, node_config.rs at 59bc51e9 (struct: line).
MODEL = {"alias": (S, REQ), "model": (S, REQ), "capabilities": (("list", S), REQ),  # ModelConfig :322
         "context_window": (U32, REQ), "max_output_tokens": (U32, OPT)}
PROVIDER = {"name": (S, REQ), "type": (S, REQ), "endpoint": (S, REQ),  # LLMProviderConfig :287
            "api_key": (S, OPT), "enabled": (B, OPT), "models": (("list", MODEL), REQ)}
SCHEMA = {  # NodeConfigManifest :40
    "apiVersion": (S, REQ), "kind": (S, REQ),
    "metadata": ({"name": (S, REQ), "version": (S, OPT),  # ManifestMetadata :77
                  "labels": (("map", S), OPT)}, REQ),
    "spec": ({  # NodeConfigSpec :109
        "node": ({"id": (S, REQ),  # NodeIdentity :232
                  "type": (("enum", ["edge", "orchestrator", "hybrid"]), REQ),  # NodeType :256
                  "tags": (("list", S), OPT),
                  "resources": ({"cpu_cores": (U32, REQ), "memory_gb": (U32, REQ),  # NodeResources :263
                                 "disk_gb": (U32, REQ)}, OPT)}, REQ),
        "llm_providers": (("list", PROVIDER), OPT),
        "llm_selection": ({"strategy": (("enum", ["prefer-local", "prefer-cloud", "cost-optimized",  # :383
                                                  "latency-optimized"]), OPT),
                           "default_provider": (S, OPT), "fallback_provider": (S, OPT),  # LLMSelection :352
                           "max_retries": (U32, OPT), "retry_delay_ms": (U64, OPT)}, OPT),
        "runtime": ({"container_socket_path": (S, OPT), "container_network_mode": (S, OPT),  # RuntimeConfig :392
                     "orchestrator_url": (S, OPT), "nfs_server_host": (S, OPT),
                     "nfs_port": (U16, OPT), "nfs_mountport": (U16, OPT),
                     "runtime_registry_path": (S, OPT), "fuse_mount_prefix": (S, OPT),
                     "fuse_daemon_endpoint": (S, OPT)}, OPT),
        "network": ({"tls": ({"cert_path": (S, REQ), "key_path": (S, REQ)}, OPT),  # NetworkConfig :495, TlsConfig :536
                     "bind_address": (S, OPT), "allow_insecure_bind": (B, OPT),
                     "port": (U16, OPT), "grpc_port": (U16, OPT)}, OPT),
        "observability": ({"metrics": ({"enabled": (B, OPT), "bind_address": (S, OPT),  # MetricsConfig :696
                                        "port": (U16, OPT), "path": (S, OPT)}, OPT),
                           "tracing": ({"enabled": (B, OPT), "otlp_endpoint": (S, OPT)}, OPT)}, OPT),
        "storage": ({"backend": (S, OPT),  # StorageConfig :735
                     "seaweedfs": ({"filer_url": (S, REQ), "mount_point": (S, OPT)}, OPT),  # :773
                     "local_host": ({"mount_point": (S, OPT)}, OPT),  # LocalHostStorageConfig :829
                     "opendal": ({"provider": (S, REQ)}, OPT)}, OPT),  # OpenDalConfig :846
        "database": ({"url": (S, REQ), "max_connections": (U32, OPT),  # DatabaseConfig :1002
                      "connect_timeout_seconds": (U64, OPT)}, OPT),
        "temporal": ({"address": (S, OPT), "worker_http_endpoint": (S, OPT),  # TemporalConfig :1025
                      "namespace": (S, OPT), "task_queue": (S, OPT)}, OPT),
        "secrets": ({"backend": ({"address": (S, REQ), "auth_method": (S, OPT),  # SecretBackendConfig :1108
                                  "namespace": (S, OPT),
                                  "approle": ({"role_id": (S, REQ),  # SecretBackendAppRoleConfig :1129
                                               "secret_id_env_var": (S, OPT)}, REQ)}, OPT)}, OPT),
        "seal": ({"private_key_path": (S, REQ), "public_key_path": (S, REQ)}, OPT),  # SealConfig :1170
        "iam": ({"realms": (("list", {"slug": (S, REQ), "issuer_url": (S, REQ),  # IamConfig :1445
                                      "jwks_uri": (S, REQ), "audience": (S, REQ),  # IamRealmConfig :1467
                                      "kind": (S, REQ)}), REQ)}, OPT),
        "seal_gateway": ({"url": (S, REQ)}, OPT),  # SealGatewayConfig :1550
    }, REQ),
}

# runtime_registry.rs:72-105: RegistryManifest, RegistrySpec, RuntimeEntry
REGISTRY_SCHEMA = {
    "apiVersion": (S, REQ), "kind": (S, REQ), "metadata": (("map", "any"), REQ),
    "spec": ({"registry_url": (S, REQ),
              "runtimes": (("map", ("map", {"image": (S, REQ), "description": (S, OPT),
                                            "deprecated": (B, OPT)})), REQ)}, REQ),
}


def discover_config():
    # node_config.rs:1907-1947
    path = os.environ.get("AEGIS_CONFIG_PATH")
    if path and os.path.exists(path):
        return path
    for p in ("./aegis-config.yaml", os.path.expanduser("~/.aegis/aegis-config.yaml"),
              "/etc/aegis/aegis-config.yaml"):
        if os.path.exists(p):
            return p
    return None


def resolve_env_value(raw):
    # node_config.rs:2351-2361
    if isinstance(raw, str) and raw.startswith("env:"):
        name = raw[4:]
        if name not in os.environ:
            raise Fatal("Environment variable '%s' not set (referenced via 'env:%s' in config)" % (name, name))
        return os.environ[name]
    return raw


def is_loopback_bind(bind):
    # node_config.rs:1649-1660
    import ipaddress
    if bind.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind).is_loopback
    except ValueError:
        return False


def is_production(cfg):
    # node_config.rs:1981-1995: metadata.labels.environment, or a node tag
    labels = standin.get(cfg, "metadata.labels", {}) or {}
    tags = standin.get(cfg, "spec.node.tags", []) or []
    return str(labels.get("environment", "")).lower() == "production" or \
        any(str(t).lower() == "production" for t in tags)


def apply_env_overrides(cfg):
    # node_config.rs:2000-2063 (each only while the field is at its default)
    spec = cfg["spec"]

    def network():
        if spec.get("network") is None:
            spec["network"] = {}
        return spec["network"]
    port = os.environ.get("AEGIS_PORT")
    if port is not None and port.isdigit() and int(port) <= 65535:
        if network().get("port", 8088) == 8088:
            network()["port"] = int(port)
    host = os.environ.get("AEGIS_HOST")
    if host:
        if network().get("bind_address", "127.0.0.1") == "127.0.0.1":
            network()["bind_address"] = host
    raw = os.environ.get("AEGIS_NETWORK_ALLOW_INSECURE_BIND")
    if raw is not None and raw.strip():
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            network()["allow_insecure_bind"] = True


def validate(cfg):
    # node_config.rs:2172-2300, the messages as the runtime words them
    if cfg["apiVersion"] != "100monkeys.ai/v1":
        raise Fatal("Invalid apiVersion: '%s'. Must be '100monkeys.ai/v1'" % cfg["apiVersion"])
    if cfg["kind"] != "NodeConfig":
        raise Fatal("Invalid kind: '%s'. Must be 'NodeConfig'" % cfg["kind"])
    if not cfg["metadata"]["name"]:
        raise Fatal("metadata.name cannot be empty")
    spec = cfg["spec"]
    if not spec["node"]["id"]:
        raise Fatal("spec.node.id cannot be empty")
    providers = spec.get("llm_providers") or []
    for p in providers:
        if not p["name"]:
            raise Fatal("LLM provider name cannot be empty")
        if not p["endpoint"]:
            raise Fatal("LLM provider endpoint cannot be empty for: %s" % p["name"])
        if not p["models"]:
            raise Fatal("LLM provider must have at least one model: %s" % p["name"])
        for m in p["models"]:
            if not m["alias"]:
                raise Fatal("Model alias cannot be empty in provider: %s" % p["name"])
            if not m["model"]:
                raise Fatal("Model identifier cannot be empty for alias: %s" % m["alias"])
    names = {p["name"] for p in providers}
    sel = spec.get("llm_selection") or {}
    if sel.get("default_provider") is not None and sel["default_provider"] not in names:
        raise Fatal("Default provider '%s' not found in llm_providers" % sel["default_provider"])
    if sel.get("fallback_provider") is not None and sel["fallback_provider"] not in names:
        raise Fatal("Fallback provider '%s' not found in llm_providers" % sel["fallback_provider"])
    net = spec.get("network")
    if net is not None:
        bind = net.get("bind_address", "127.0.0.1")
        if not is_loopback_bind(bind) and net.get("tls") is None:
            if net.get("allow_insecure_bind", False):
                standin.log(PROG, "WARN spec.network.allow_insecure_bind is set: bound to a non-loopback "
                            "interface ('%s') without TLS" % bind)
            else:
                raise Fatal("spec.network.bind_address '%s' is non-loopback but spec.network.tls is not "
                            "configured. Bind to '127.0.0.1' for local development, configure TLS to expose "
                            "externally, or set spec.network.allow_insecure_bind: true to acknowledge that TLS "
                            "is terminated upstream of this pod (security audit 002 \u00a74.27)." % bind)


def check_registry(path):
    # server.rs:1008-1022, runtime_registry.rs:130-141
    msg = ("Failed to load StandardRuntime registry from '%s': %%s. Ensure runtime-registry.yaml exists at "
           "the configured path (spec.runtime.runtime_registry_path in aegis-config.yaml)." % path)
    if not os.path.isfile(path):
        raise Fatal(msg % ("Registry file not found: %s:No such file or directory (os error 2)" % path))
    try:
        doc = standin.load_yaml(path, "runtime registry")
        standin.check_schema(doc, {k: v for k, v in REGISTRY_SCHEMA.items() if k != "metadata"}, "", path)
        if not isinstance(doc.get("metadata"), dict):
            raise Fatal("%s: document: missing field `metadata`" % path)
    except Fatal as e:
        raise Fatal(msg % ("Invalid registry format: YAML parse error: %s" % e))
    return sum(len(v) for v in doc["spec"]["runtimes"].values())


def seal_key():
    # server.rs:1361-1380, :3188-3194; signature.rs:94-103
    raw = os.environ.get("AEGIS_SEAL_PRIVATE_KEY")
    if raw is None:
        raise Fatal("SEAL private key not configured: set AEGIS_SEAL_PRIVATE_KEY "
                    "(PEM-encoded RSA private key; see ADR-034/ADR-035)")
    pem = raw.replace("\\n", "\n") if "\\n" in raw and "\n" not in raw else raw
    try:
        return standin.rsa_private_from_pem(pem)
    except standin.KeyError_ as e:
        raise Fatal("Failed to initialize SEAL token issuer from AEGIS_SEAL_PRIVATE_KEY: %s" % e)


def secrets_login(spec):
    # server.rs:1513-1528: SecretsManager::from_config, fatal on error;
    # secrets_manager.rs:78-141: OpenBaoSecretStore::new -> authenticate
    backend = (spec.get("secrets") or {}).get("backend")
    if backend is None:
        standin.log(PROG, "WARN No spec.secrets.backend configured; using in-memory secret store "
                    "(development/testing only, not production-safe)")
        return
    prefix = "Failed to initialize OpenBao secrets manager: "
    method = backend.get("auth_method", "approle")  # node_config.rs:1153
    if method != "approle":
        raise Fatal(prefix + "Unsupported auth method: %s" % method)
    approle = backend["approle"]
    var = approle.get("secret_id_env_var", "OPENBAO_SECRET_ID")  # node_config.rs:1157
    if var not in os.environ:
        raise Fatal(prefix + "Environment variable '%s' for AppRole Secret ID is not set" % var)
    try:
        role_id = resolve_env_value(approle["role_id"])
    except Fatal as e:
        raise Fatal(prefix + "Failed to resolve AppRole Role ID: %s" % e)
    # vaultrs::auth::approle::login(&client, "approle", ...) (secrets_manager.rs:138): the
    # mount is always "approle"; spec.secrets.backend.namespace, when set,
    # goes as X-Vault-Namespace (secrets_manager.rs:99-101)
    url = backend["address"].rstrip("/") + "/v1/auth/approle/login"
    headers = {"Content-Type": "application/json"}
    if backend.get("namespace"):
        headers["X-Vault-Namespace"] = backend["namespace"]
    req = urllib.request.Request(url, method="POST", headers=headers,
                                 data=json.dumps({"role_id": role_id, "secret_id": os.environ[var]}).encode())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            body = json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        text = e.read(500).decode(errors="replace").strip()
        raise Fatal(prefix + "AppRole login at %s refused: HTTP %d %s (role_id from %s, secret_id from %s)"
                    % (url, e.code, text, approle["role_id"], var))
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise Fatal(prefix + "AppRole login at %s failed: %s" % (url, getattr(e, "reason", e)))
    if not ((body.get("auth") or {}).get("client_token")):
        raise Fatal(prefix + "AppRole login at %s returned no auth.client_token" % url)
    standin.log(PROG, "Successfully authenticated with OpenBao AppRole (%s)" % url)


# cli/migrations/001_initial.sql:24-49 (tenants, its seed rows) and :308-335
# (workflow_definitions), re-stated; IF NOT EXISTS where the migration has
# none, since the stand-in keeps no _sqlx_migrations ledger.
MIGRATION = r"""
BEGIN;
CREATE TABLE IF NOT EXISTS tenants (
    slug            VARCHAR(63)  PRIMARY KEY,
    display_name    VARCHAR(255) NOT NULL,
    status          VARCHAR(32)  NOT NULL DEFAULT 'active',
    tier            VARCHAR(32)  NOT NULL DEFAULT 'enterprise',
    keycloak_realm  VARCHAR(255) NOT NULL,
    openbao_namespace VARCHAR(255) NOT NULL,
    max_concurrent_executions  INTEGER NOT NULL DEFAULT 50,
    max_agents                 INTEGER NOT NULL DEFAULT 500,
    max_storage_gb             NUMERIC(10, 2) NOT NULL DEFAULT 100.0,
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    deleted_at      TIMESTAMPTZ  NULL,
    CONSTRAINT tenants_slug_format CHECK (slug ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'),
    CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended', 'deleted')),
    CONSTRAINT tenants_tier_check CHECK (tier IN ('free', 'pro', 'business', 'enterprise', 'system'))
);
CREATE INDEX IF NOT EXISTS idx_tenants_status ON tenants(status);
INSERT INTO tenants (slug, display_name, tier, keycloak_realm, openbao_namespace)
VALUES
    ('zaru-consumer', 'Zaru Consumer Pool', 'free', 'zaru-consumer', 'tenant-zaru-consumer/'),
    ('aegis-system',  'AEGIS Platform',     'system',   'aegis-system',  'tenant-aegis-system/')
ON CONFLICT (slug) DO NOTHING;
CREATE TABLE IF NOT EXISTS workflow_definitions (
    workflow_id UUID PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    definition JSONB NOT NULL,
    scope TEXT NOT NULL DEFAULT 'tenant',
    registered_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    registered_by TEXT,
    version TEXT NOT NULL DEFAULT '0.0.1',
    definition_hash TEXT NOT NULL,
    CONSTRAINT workflow_definitions_name_format CHECK (name ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'),
    CONSTRAINT workflow_definitions_scope_check CHECK (scope IN ('global', 'tenant')),
    CONSTRAINT workflow_definitions_global_requires_system_tenant CHECK (
        scope != 'global' OR tenant_id = 'aegis-system'
    ),
    CONSTRAINT workflow_definitions_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants(slug) ON DELETE RESTRICT
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_workflow_definitions_scope_unique
    ON workflow_definitions(tenant_id, name, version, scope);
CREATE INDEX IF NOT EXISTS idx_workflow_definitions_name ON workflow_definitions(name);
CREATE INDEX IF NOT EXISTS idx_workflow_definitions_scope ON workflow_definitions(scope);
COMMIT;
"""


def start():
    path = discover_config()
    if path is None:
        raise Fatal("no configuration file: AEGIS_CONFIG_PATH (%s) does not exist, nor ./aegis-config.yaml, "
                    "~/.aegis/aegis-config.yaml or /etc/aegis/aegis-config.yaml (the runtime would run on "
                    "empty defaults; the stand-in refuses)" % os.environ.get("AEGIS_CONFIG_PATH", "unset"))
    standin.log(PROG, "Loading configuration from discovered path: %s" % path)
    cfg = standin.load_yaml(path, "configuration")
    try:
        standin.check_schema(cfg, SCHEMA, "", path)
    except Fatal as e:
        raise Fatal("Failed to load configuration: %s" % e)
    apply_env_overrides(cfg)
    try:
        validate(cfg)
    except Fatal as e:
        raise Fatal("Configuration validation failed: %s" % e)
    spec = cfg["spec"]

    metrics = standin.get(cfg, "spec.observability.metrics")
    if metrics is not None and metrics.get("enabled", True):
        mhost, mport = metrics.get("bind_address", "127.0.0.1"), metrics.get("port", 9091)
        mpath = metrics.get("path", "/metrics")
        node = spec["node"]["id"]

        def metrics_route(method, p, headers, body):
            if p == mpath and method in ("GET", "HEAD"):
                text = ('# HELP aegis_standin_up The AEGIS runtime stand-in is running.\n'
                        '# TYPE aegis_standin_up gauge\naegis_standin_up{node_id="%s"} 1\n' % node)
                return common.Response(200, text.encode(), [("Content-Type", "text/plain; version=0.0.4")])
            return None
        try:
            standin.serve_http(standin.SimpleApp("metrics", metrics_route), mhost, mport)
        except Fatal as e:
            raise Fatal("Failed to initialize metrics: %s" % e)
        standin.log(PROG, "Metrics exporter initialized on %s:%d%s" % (mhost, mport, mpath))

    if spec.get("seal_gateway") is not None:
        try:
            url = resolve_env_value(spec["seal_gateway"]["url"])
        except Fatal:
            url = spec["seal_gateway"]["url"]
        standin.log(PROG, "Configured SEAL tooling gateway URL from node config: %s" % url)

    db = spec.get("database")
    if db is None and is_production(cfg):
        raise Fatal("Production mode requires spec.database; refusing to fall back to InMemory repositories")
    if db is not None:
        try:
            url = resolve_env_value(db["url"])
        except Fatal as e:
            standin.log(PROG, "WARN Failed to resolve database URL: %s. Falling back to InMemory." % e)
            url = None
        if url is not None:
            ok, why = standin.psql_connect(url)
            if not ok:
                if is_production(cfg):
                    raise Fatal("Failed to connect to PostgreSQL in production mode (%s): %s"
                                % (standin.where(url), why))
                standin.log(PROG, "WARN cannot connect to PostgreSQL at %s: %s; InMemory repositories"
                            % (standin.where(url), why))
            else:
                ok, out = standin.psql(url, MIGRATION)
                if not ok:
                    raise Fatal("Failed to apply migrations (%s): %s" % (standin.where(url), out))
                standin.log(PROG, "Database migrations applied (tenants, workflow_definitions) at %s"
                            % standin.where(url))

    iam = spec.get("iam")
    if is_production(cfg) and iam is None:
        raise Fatal("Production nodes require spec.iam to be configured.")
    if is_production(cfg) and not iam["realms"]:
        raise Fatal("Production nodes must configure at least one IAM realm")
    for realm in (iam or {}).get("realms", []):
        if not realm["issuer_url"].strip():
            raise Fatal("IAM realm '%s' has empty issuer_url" % realm["slug"])
        if not realm["jwks_uri"].strip():
            raise Fatal("IAM realm '%s' has empty jwks_uri" % realm["slug"])

    registry = (spec.get("runtime") or {}).get("runtime_registry_path", "runtime-registry.yaml")
    n = check_registry(registry)
    standin.log(PROG, "StandardRuntime registry loaded from %s (%d runtimes)" % (registry, n))

    seal_key()
    standin.log(PROG, "SEAL token issuer initialized (RS256, AEGIS_SEAL_PRIVATE_KEY)")

    secrets_login(spec)

    net = spec.get("network") or {}
    host, port = net.get("bind_address", "127.0.0.1"), net.get("port", 8088)
    grpc = net.get("grpc_port", 50051)

    def route(method, p, headers, body):
        if p in ("/health", "/health/live", "/health/ready") and method in ("GET", "HEAD"):
            return common.json_response(200, {"status": "healthy", "standin": True})
        return None
    standin.serve_http(standin.SimpleApp("aegis-runtime-standin", route), host, port)
    standin.serve_tcp(host, grpc, "gRPC")
    standin.log(PROG, "listening on %s:%d (HTTP) and %s:%d (gRPC port bound, not spoken)" % (host, port, host, grpc))


def seal_claims():
    now = int(time.time())
    return {"sub": "standin-agent", "exec_id": str(uuid.uuid4()), "tenant_id": "aegis-system",
            "jti": str(uuid.uuid4()), "scp": "default", "wid": "standin-workload",
            "iss": "aegis-orchestrator", "aud": ["aegis-agents"], "iat": now, "exp": now + 300}


def seal_probe(envelope):
    base = os.environ.get("AEGIS_SEAL_GATEWAY_URL", "http://localhost:8089").rstrip("/")
    url = base + "/v1/seal/invoke"
    req = urllib.request.Request(url, data=envelope.encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, body = r.status, r.read(2000)
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read(2000)
    except (urllib.error.URLError, OSError) as e:
        raise Fatal("SEAL gateway %s unreachable: %s" % (url, getattr(e, "reason", e)))
    print("%s HTTP %d %s" % (url, status, body.decode(errors="replace")))
    return 0 if status == 200 else 1


def main(argv):
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        print("\nUsage: runtime_standin.py [sign-seal-jwt | seal-envelope | seal-probe]")
        return 0
    try:
        if len(argv) > 1 and argv[1] in ("sign-seal-jwt", "seal-envelope", "seal-probe"):
            token = standin.jwt_sign_rs256(seal_key(), seal_claims())
            if argv[1] == "sign-seal-jwt":
                print(token)
                return 0
            # a SEAL envelope (aegis-seal-gateway src/domain/seal.rs:5-17);
            # its Ed25519 signature is a placeholder: the gateway stand-in
            # does not model agent sessions
            envelope = json.dumps({"protocol": "seal/v1", "security_token": token,
                                   "signature": base64.b64encode(secrets.token_bytes(64)).decode(),
                                   "payload": {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                               "params": {"name": "standin.echo", "arguments": {}}},
                                   "container_id": "standin-workload", "timestamp": int(time.time())})
            if argv[1] == "seal-envelope":
                print(envelope)
                return 0
            return seal_probe(envelope)
        if len(argv) > 1:
            # the image's entrypoint arguments (e.g. "daemon") are ignored
            standin.log(PROG, "ignoring arguments %s" % " ".join(argv[1:]))
        start()
    except Fatal as e:
        standin.die(PROG, str(e))
    standin.wait_for_signal()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
