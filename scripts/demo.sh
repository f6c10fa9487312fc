#!/usr/bin/env bash
# The whole platform on this machine, offline: `make demo` (up) and
# `make demo-down` (down; IMAGES=1 also removes the demo images).
#
#   1. dependencies (scripts/setup.sh) and the binary
#   2. the demo images, built once (scripts/demo-images.sh): real PostgreSQL,
#      postgres-exporter and Prometheus from the distribution's packages;
#      stand-ins for everything else (named localhost/aegis-demo/*standin)
#   3. a demo configuration, generated/demo/demo.env (0600), never the user's .env
#   4. deploy --profile production (the eight pods behind the TLS edge: real
#      Caddy with its internal CA; with bootstrap), validate, and a summary
#      with the HTTPS URLs, how to trust the CA, and a real query through
#      the stack
#
# Works as root (rootful Podman) and as an ordinary user (rootless Podman).
# Environment: AEGIS_DEMO_DIR (default generated/demo), CONTAINER_SOCK,
# CONTAINERS_CONF (default scripts/podman-containers.conf).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEMO_DIR=${AEGIS_DEMO_DIR:-$ROOT/generated/demo}
ENV=$DEMO_DIR/demo.env
BIN=$ROOT/build/aegis-deploy
PREFIX=localhost/aegis-demo
PROFILE=production
: "${CONTAINERS_CONF:=$ROOT/scripts/podman-containers.conf}"
export CONTAINERS_CONF
PY=/usr/bin/python3

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
A() { "$BIN" --root "$ROOT" --env "$ENV" "$@"; }

# The image each image variable gets in the demo: real where the distribution
# has the service, a labelled stand-in everywhere else.
demo_image() {
	case "$1" in
	POSTGRES_IMAGE) echo "$PREFIX/postgres:latest" ;;
	POSTGRES_EXPORTER_IMAGE) echo "$PREFIX/postgres-exporter:latest" ;;
	PROMETHEUS_IMAGE) echo "$PREFIX/prometheus:latest" ;;
	CADDY_IMAGE) echo "$PREFIX/caddy:latest" ;;
	OPENBAO_IMAGE) echo "$PREFIX/openbao-standin:latest" ;;
	KEYCLOAK_IMAGE) echo "$PREFIX/keycloak-standin:latest" ;;
	GRAFANA_IMAGE) echo "$PREFIX/grafana-standin:latest" ;;
	# the AEGIS images: stand-ins that enforce their contracts (kube/contracts.yaml)
	AEGIS_RUNTIME_IMAGE) echo "$PREFIX/runtime-standin:latest" ;;
	AEGIS_SEAL_GATEWAY_IMAGE) echo "$PREFIX/seal-gateway-standin:latest" ;;
	AEGIS_TEMPORAL_WORKER_IMAGE) echo "$PREFIX/temporal-worker-standin:latest" ;;
	*) echo "$PREFIX/standin-$(echo "$1" | tr 'A-Z_' 'a-z-'):latest" ;;
	esac
}
image_vars() { sed -n 's/^[[:space:]]*- name: \([A-Z0-9_]*_IMAGE\)$/\1/p' "$ROOT/kube/variables.yaml"; }

config_value() {
	A config --json 2>/dev/null | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
vs = d.get("variables", d) if isinstance(d, dict) else d
for v in vs:
    if v.get("name") == sys.argv[1]:
        print(v.get("value") or ""); break' "$1"
}

# The pods mount the Podman API socket: start a service on it if nothing
# listens there (kept running for the pods; demo-down stops it).
ensure_socket() {
	local sock
	sock=$(config_value CONTAINER_SOCK)
	[ -n "$sock" ] || { echo "demo: cannot resolve CONTAINER_SOCK" >&2; exit 2; }
	if [ -S "$sock" ] && curl -fsS --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
		return
	fi
	mkdir -p "$(dirname "$sock")"
	rm -f "$sock"
	say "starting the Podman API service on $sock"
	setsid podman system service --time=0 "unix://$sock" >"$DEMO_DIR/podman-service.log" 2>&1 </dev/null &
	echo $! >"$DEMO_DIR/podman-service.pid"
	for _ in $(seq 100); do [ -S "$sock" ] && return; sleep 0.1; done
	echo "demo: the Podman API service did not start; see $DEMO_DIR/podman-service.log" >&2
	exit 1
}

# set_keys FILE < "KEY=VALUE" lines: replace those keys' lines in FILE (or
# append them), keeping every other line; atomic, mode 0600.
set_keys() {
	"$PY" -c "$set_keys_py" "$1"
}
set_keys_py='
import os, sys, tempfile
path = sys.argv[1]
want = dict(line.rstrip("\n").split("=", 1) for line in sys.stdin if "=" in line)
lines = open(path).read().splitlines(keepends=True)
out, seen = [], set()
for line in lines:
    key = line.split("=", 1)[0].strip()
    if key.startswith("export "):
        key = key[7:].strip()
    if key in want:
        if key not in seen:
            out.append("%s=%s\n" % (key, want[key]))
        seen.add(key)
    else:
        out.append(line)
missing = [k for k in want if k not in seen]
if missing:
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    out.append("# demo settings (scripts/demo.sh)\n")
    out.extend("%s=%s\n" % (k, want[k]) for k in missing)
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".demo-env.")
with os.fdopen(fd, "w") as f:
    f.writelines(out)
    f.flush()
    os.fsync(f.fileno())
os.chmod(tmp, 0o600)
os.replace(tmp, path)
'

# Refuse to replace pods of a real deployment with demo pods.
guard_real_deployment() {
	local img
	img=$(podman ps -a --filter label=app.kubernetes.io/part-of=aegis --format '{{.Image}}' 2>/dev/null |
		grep -v "^$PREFIX/" | grep -v -- '-infra' | head -n 1 || true)
	if [ -n "$img" ]; then
		echo "demo: AEGIS pods of a real deployment are present on this machine (image $img);" >&2
		echo "      the demo uses the same pod names and would replace them. Tear them down first." >&2
		exit 2
	fi
}

up() {
	local t0=$SECONDS
	say "dependencies"
	bash scripts/setup.sh >&2
	say "build"
	make -s build/aegis-deploy >&2
	say "demo images"
	bash scripts/demo-images.sh >&2
	mkdir -p "$DEMO_DIR" && chmod 0700 "$DEMO_DIR"
	if [ ! -f "$ENV" ]; then
		say "demo configuration $ENV (secrets generated, 0600)"
		A init >/dev/null
	fi
	# The demo's own settings, set on every run (the secrets and what
	# bootstrap wrote stay as they are).
	{
		for v in $(image_vars); do echo "$v=$(demo_image "$v")"; done
		echo "AEGIS_GENERATED_DIR=$DEMO_DIR/generated"
		echo "AEGIS_STATE_DIR=$DEMO_DIR/state"
		echo "SEAL_KEYS_DIR=$DEMO_DIR/seal"
		echo "AEGIS_TLS_MODE=internal"
		# a user's Podman cannot publish ports below 1024
		if [ "$(id -u)" -eq 0 ]; then
			echo "EDGE_HTTP_PORT=80"; echo "EDGE_HTTPS_PORT=443"
		else
			echo "EDGE_HTTP_PORT=8480"; echo "EDGE_HTTPS_PORT=8443"
		fi
	} | set_keys "$ENV"
	guard_real_deployment
	ensure_socket
	say "deploy --profile $PROFILE"
	A deploy --profile "$PROFILE" --timeout 300
	say "validate"
	A validate --profile "$PROFILE"
	summary
	say "demo ready in $((SECONDS - t0)) s"
}

# The public HTTPS URLs through the edge (real Caddy, real TLS), each fetched
# with the exported internal CA, and how to trust that CA.
edge_summary() {
	local ca=$DEMO_DIR/generated/edge-ca.crt port host var code line
	port=$(config_value EDGE_HTTPS_PORT)
	EDGE_LINES=""
	for var in EDGE_API_HOST EDGE_KEYCLOAK_HOST EDGE_OPENBAO_HOST EDGE_GRAFANA_HOST \
		EDGE_TEMPORAL_UI_HOST EDGE_JAEGER_HOST EDGE_PROMETHEUS_HOST EDGE_SEAL_GATEWAY_HOST; do
		host=$(config_value "$var")
		code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$ca" \
			--resolve "$host:$port:127.0.0.1" "https://$host:$port/" 2>/dev/null || true)
		line=$(printf '  %-42s %s' "https://$host$([ "$port" = 443 ] || echo ":$port")/" \
			"HTTPS $code$([ "$code" = 401 ] && echo ' (basic auth: user aegis, EDGE_BASIC_AUTH_PASSWORD in the demo env)')")
		EDGE_LINES+="$line"$'\n'
	done
	export EDGE_LINES EDGE_CA=$ca EDGE_PORT=$port
}

# Wait until Prometheus has scraped the exporter: pg_up of the real database.
pg_up() {
	local port=$1 out
	for _ in $(seq 60); do
		out=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/api/v1/query?query=pg_up" 2>/dev/null |
			"$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true)
		[ -n "$out" ] && { echo "$out"; return; }
		sleep 1
	done
	echo "no sample yet"
}

summary() {
	local status prom_port runs pgup seal
	status=$(A status --profile "$PROFILE" --json)
	prom_port=$(config_value PROMETHEUS_PORT)
	runs=$(podman exec pod-database-postgres psql -h /run/postgresql -p 5432 -U aegis -d aegis -tAq -c \
		"CREATE TABLE IF NOT EXISTS demo_runs (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
		 INSERT INTO demo_runs DEFAULT VALUES; SELECT count(*) FROM demo_runs" 2>&1 | tail -n 1)
	pgup=$(pg_up "$prom_port")
	# The SEAL JWT end to end: the runtime's stand-in signs one with
	# pod-core's RSA key and posts it to the gateway it is configured with,
	# whose stand-in verifies it with its RSA public key.
	# A few tries, so that one refused or lost probe on a loaded machine is
	# not reported as the wiring's result (the last answer is shown).
	for _ in 1 2 3 4 5; do
		seal=$(podman exec pod-core-aegis-runtime /aegis-demo/runtime-standin.sh seal-probe 2>&1 |
			sed -n 's/.* HTTP \([0-9][0-9]*\) .*/HTTP \1/p' | tail -n 1)
		[ "$seal" = "HTTP 200" ] && break
		sleep 1
	done
	seal=${seal:-not accepted (see podman logs pod-seal-gateway-seal-gateway)}
	edge_summary
	"$PY" - "$status" <<EOF
import json, sys, subprocess, urllib.request, urllib.error
status = json.loads(sys.argv[1])

def url(port):
    # the scheme the port serves, as the edge serves it: 443 https, 80 http
    return subprocess.run([sys.executable, "$ROOT/scripts/demo/port-url.py", "$(config_value EDGE_API_HOST)", str(port)],
                          capture_output=True, text=True).stdout.strip()

print()
print("AEGIS demo: %d pods (profile $PROFILE)" % len(status["pods"]))
print("%-14s %-9s %-44s %s" % ("POD", "STATE", "IMAGES", "URLS"))
for p in status["pods"]:
    images = subprocess.run(["podman", "ps", "-a", "--filter", "pod=" + p["pod_name"], "--format", "{{.Image}}"],
                            capture_output=True, text=True).stdout.split()
    images = sorted({i.split("/")[-1].split(":")[0] for i in images if "-infra" not in i and "pause" not in i})
    kinds = []
    for i in images:
        if i.startswith("standin-") and i.endswith("-image"):
            kinds.append(i[len("standin-"):-len("-image")] + " (STAND-IN)")
        elif "standin" in i:
            kinds.append(i.replace("-standin", "") + " (STAND-IN)")
        else:
            kinds.append(i + " (real)")
    urls = " ".join(url(port) for port in p.get("ports", []))
    print("%-14s %-9s %-44s %s" % (p["name"], p["state"], ", ".join(kinds), urls))
print()
print("Public HTTPS (pod-edge: real Caddy, certificates from its internal CA; each URL fetched")
print("with that CA and the name resolved to 127.0.0.1):")
import os
print(os.environ.get("EDGE_LINES", "").rstrip("\n"))
print("  Trust the CA: " + os.environ.get("EDGE_CA", ""))
print("    curl --cacert %s --resolve api.aegis.localhost:%s:127.0.0.1 https://api.aegis.localhost:%s/" % (os.environ.get("EDGE_CA", ""), os.environ.get("EDGE_PORT", ""), os.environ.get("EDGE_PORT", "")))
print("    system-wide (Debian): cp %s /usr/local/share/ca-certificates/aegis-edge.crt && update-ca-certificates" % os.environ.get("EDGE_CA", ""))
print("  *.localhost names resolve to this machine in most browsers; elsewhere add them to /etc/hosts.")
print()
print("Proof of wiring:")
print("  Prometheus (real) reports pg_up = $pgup for PostgreSQL (real) through postgres-exporter (real)")
print("  rows in aegis.demo_runs (one per 'make demo'; kept across runs): $runs")
print("  a SEAL JWT signed with pod-core's RSA key, posted by the runtime (stand-in) to the")
print("  SEAL gateway (stand-in), verified with its RSA public key: $seal")
print()
print("Configuration and secrets: $ENV (0600); bootstrap output: $DEMO_DIR/generated/")
print("Stand-ins are not the real services: OpenBao, Keycloak and Grafana are the project's API")
print("test servers; the AEGIS runtime, SEAL gateway and Temporal worker are stand-ins that enforce")
print("the images' contracts (kube/contracts.yaml: configuration, keys, Keycloak client, database)")
print("without running agents; Temporal, SeaweedFS, Loki, Promtail and Jaeger are a busybox")
print("program answering their health checks; Caddy (the edge) is real.")
print("Tear down: make demo-down   (also the images: make demo-down IMAGES=1)")
EOF
}

down() {
	if [ -x "$BIN" ] && [ -f "$ENV" ]; then
		# the API service the demo started may be gone (a reboot): start it
		# again, as up does, so that clean reaches the pods
		ensure_socket
		say "removing the demo's pods, volumes and network"
		if ! A clean --yes; then
			# keep the demo's directory (its .env, state and keys): without
			# it, the pods and volumes left could no longer be removed
			echo "demo: clean failed; $DEMO_DIR kept: run 'make demo-down' again" >&2
			exit 1
		fi
	fi
	if [ -f "$DEMO_DIR/podman-service.pid" ]; then
		kill "$(cat "$DEMO_DIR/podman-service.pid")" 2>/dev/null || true
		rm -f "$DEMO_DIR/podman-service.pid"
	fi
	if [ "${IMAGES:-}" = 1 ]; then
		say "removing the demo images"
		podman images --format '{{.Repository}}:{{.Tag}}' | grep "^$PREFIX/" | xargs -r podman rmi -f >/dev/null || true
	fi
	rm -rf "$DEMO_DIR"
}

case "${1:-up}" in
up) up ;;
down) down ;;
*) echo "usage: scripts/demo.sh [up|down]" >&2; exit 2 ;;
esac
