#!/usr/bin/env bash
# The demo's stand-ins for the three AEGIS images fail where the real images
# fail (kube/contracts.yaml; tests/servers/*_standin.py): each runs in the
# test Podman with what `render --profile full` gives its container (the
# ConfigMap files mounted where the pod mounts them, the container's
# environment, secrets resolved from the Kubernetes rendering's Secret and
# handed to Podman through its environment, never argv), beside the demo's
# real PostgreSQL, Keycloak test server and OpenBao test server, bootstrapped
# by bootstrap-keycloak and bootstrap-secrets, on a network of its own where
# they have their pod names.
#   - the worker started before the runtime exits: no workflow_definitions;
#   - the runtime starts (its AppRole login accepted by OpenBao), creates the
#     table, binds metrics as configured;
#     the worker then starts (its client-credentials token from Keycloak);
#   - the runtime signs a SEAL JWT and the gateway accepts it; one signed
#     with another RSA key is refused (401), and so is every one while the
#     gateway has no public key;
#   - the runtime's AppRole token (bootstrap-secrets' policy) writes and
#     reads a system secret where the runtime keeps them, KV version 2 at
#     kv/ (users/<tenant>/...), and is refused outside its grants;
#   - the gateway's operator API: an operator's token (aegis-cli's device
#     grant, aegis_role aegis:admin) is accepted; no token, or the worker's
#     (not the gateway's audience), is refused (401);
#   - broken copies: no runtime-registry.yaml, an Ed25519 key as
#     AEGIS_SEAL_PRIVATE_KEY, an AppRole secret ID OpenBao refuses, a worker
#     without KEYCLOAK_CLIENT_SECRET: each stand-in exits non-zero with the
#     reason.
# And first, the busybox stand-in of every other image (tests/standins/,
# tests/podman/build-standin.sh), deployed as pod-observability: it answers
# Loki's /ready and Jaeger's admin port, 404 on a path Loki does not serve,
# nothing on a port no image of the pod listens on; and `validate` of a copy
# of the templates whose Loki probe asks for /readyz fails naming the pod and
# the path, while the templates as they are pass.
# test-images: demo
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(standin-worker-without-table standin-runtime-starts standin-worker-starts
	standin-seal-jwt-accepted standin-seal-jwt-other-key-refused standin-gateway-without-key-refuses
	standin-runtime-kv-granted standin-gateway-operator-accepted standin-gateway-operator-refused
	standin-runtime-without-registry standin-runtime-ed25519-key standin-runtime-approle-refused
	standin-worker-without-client-secret
	standin-contract-serves-its-paths standin-contract-404-elsewhere standin-contract-validate-passes
	standin-contract-wrong-probe-path-fails)
require_rootful_podman

# --- the busybox stand-in's contracts, deployed ---------------------------------
# In a subshell with a TMP of its own: podman_test_stack's cleanup (clean
# --yes, then rm -rf "$TMP") runs when it ends.
(
	TMP=$TMP/contracts
	mkdir -p "$TMP/root"
	cp -r "$ROOT/kube" "$ROOT/profiles" "$ROOT/.env.example" "$TMP/root/"
	printf 'name: observability\ndescription: pod-observability alone\npods: [observability]\n' \
		>"$TMP/root/profiles/observability.yaml"
	copy=$TMP/root
	podman_test_stack "$copy"
	A() { "$AEGIS_BIN" --root "$copy" --env "$ENV" "$@"; }
	port() { A config --json | "$PY" -c 'import json,sys; print(next(v["value"] for v in json.load(sys.stdin)["variables"] if v["name"]==sys.argv[1]))' "$1"; }
	if ! A deploy --no-bootstrap --profile observability --timeout 120 >"$TMP/deploy.out" 2>&1; then
		for n in standin-contract-serves-its-paths standin-contract-404-elsewhere standin-contract-validate-passes \
			standin-contract-wrong-probe-path-fails; do
			skip "$n" "deploy of pod-observability failed: $(tail -3 "$TMP/deploy.out" | tr '\n' ' ')"
		done
		exit 0
	fi
	loki=$(port LOKI_PORT) jaeger=$(port JAEGER_UI_PORT)
	code() { curl -s -o "$TMP/body" -w '%{http_code}' --max-time 5 "$@"; }
	ready=$(code "http://127.0.0.1:$loki/ready") body=$(cat "$TMP/body")
	ui=$(code "http://127.0.0.1:$jaeger/search")
	if [ "$ready" = 200 ] && [ "$body" = ready ] && [ "$ui" = 200 ]; then
		pass standin-contract-serves-its-paths
		echo "   loki GET /ready: $ready '$body'; jaeger UI GET /search: $ui (the UI answers every path)"
	else
		fail standin-contract-serves-its-paths "loki /ready: $ready '$body', jaeger /search: $ui $(podman logs pod-observability-loki 2>&1 | tail -2)"
	fi
	wrong=$(code "http://127.0.0.1:$loki/readyz") post=$(code -X POST "http://127.0.0.1:$loki/ready")
	# 9999: no image of pod-observability listens there (inside the pod)
	closed=$(podman exec pod-observability-loki sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc 127.0.0.1 9999 >/dev/null 2>&1 && echo open || echo closed')
	if [ "$wrong" = 404 ] && [ "$post" = 405 ] && [ "$closed" = closed ]; then
		pass standin-contract-404-elsewhere
	else
		fail standin-contract-404-elsewhere "GET /readyz: $wrong, POST /ready: $post, port 9999: $closed"
	fi
	if A validate --profile observability >"$TMP/validate.out" 2>&1; then
		pass standin-contract-validate-passes
	else
		fail standin-contract-validate-passes "$(tail -8 "$TMP/validate.out")"
	fi
	# one probe path changed in a copy of the templates: Loki's /ready -> /readyz
	cp -r "$copy" "$TMP/wrong"
	sed -i '/- name: loki$/,/failureThreshold/s#path: /ready$#path: /readyz#' "$TMP/wrong/kube/observability/pod.yaml"
	"$AEGIS_BIN" --root "$TMP/wrong" --env "$ENV" validate --profile observability >"$TMP/wrong.out" 2>&1
	rc=$?
	# the table names the pod by its profile name ("observability")
	if [ "$rc" = 1 ] && grep -Eq '^observability +loki +httpGet :3100/readyz +FAIL .*/readyz: HTTP 404' "$TMP/wrong.out" &&
		[ "$(grep -c FAIL "$TMP/wrong.out")" = 1 ]; then
		pass standin-contract-wrong-probe-path-fails
		echo "   $(grep '/readyz' "$TMP/wrong.out" | head -1 | tr -s ' ')"
	else
		fail standin-contract-wrong-probe-path-fails "rc=$rc $(cat "$TMP/wrong.out")"
	fi
)
if ! out=$(bash "$ROOT/scripts/demo-images.sh" 2>&1); then
	skip_all "cannot build the demo images: $(printf '%s' "$out" | tail -n 2)"
fi
P=localhost/aegis-demo
net=aegis-standin-$$
ctrs=()
cleanup() {
	for c in "${ctrs[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1; done
	podman network rm -f "$net" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

# --- the configuration, as a user's: init, the SEAL keys, render -----------
cp "$ROOT/.env.example" "$TMP/.env.example"
(cd "$TMP" && aegis init >/dev/null) || skip_all "init failed"
ENV=$TMP/.env
aegis --env "$ENV" generate-keys --dir "$TMP/seal" >/dev/null || skip_all "generate-keys failed"
{
	echo "SEAL_KEYS_DIR=$TMP/seal"
	echo "AEGIS_GENERATED_DIR=$TMP/generated"
	echo "CONTAINER_SOCK=$TMP/podman.sock"
} >>"$ENV"
render() {
	rm -rf "$TMP/k8s" && aegis --env "$ENV" --profile full render --target kubernetes --out "$TMP/k8s" >/dev/null 2>"$TMP/render.err"
}
render || skip_all "render failed: $(head -3 "$TMP/render.err")"

# run NAME POD CONTAINER [--unset VAR] [--set VAR=FILE] -- PODMAN-RUN-ARGS... IMAGE [ARGS]:
# podman run --name NAME with the container's rendered environment (secret
# values from the rendered Secret), each variable passed as "-e VAR" from
# Podman's own environment.
cat >"$TMP/envrun.py" <<'PY'
import base64, os, re, sys, yaml
k8s, name, pod, ctr = sys.argv[1:5]
rest = sys.argv[5:]
unset, sets = set(), {}
while rest and rest[0] != "--":
    opt, arg = rest[0], rest[1]
    if opt == "--unset":
        unset.add(arg)
    else:
        k, f = arg.split("=", 1)
        sets[k] = open(f).read()
    rest = rest[2:]
podman_args = rest[1:]
secret = {}
for f in os.listdir(k8s):
    for d in yaml.safe_load_all(open(os.path.join(k8s, f))):
        if d and d.get("kind") == "Secret":
            secret.update({k: base64.b64decode(v).decode() for k, v in (d.get("data") or {}).items()})
            secret.update(d.get("stringData") or {})
env = {}
for f in os.listdir(k8s):
    for d in yaml.safe_load_all(open(os.path.join(k8s, f))):
        if not d or d.get("kind") not in ("Deployment", "StatefulSet") or d["metadata"]["name"] != pod:
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            if c["name"] != ctr:
                continue
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                value = secret.get(ref["key"], "") if ref else str(e.get("value", ""))
                # Kubernetes expands $(NAME) of a variable defined before it
                env[e["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                        lambda m: env.get(m.group(1), m.group(0)), value)
if not env:
    sys.exit("envrun: no container %s in %s of %s" % (ctr, pod, k8s))
for k in unset:
    env.pop(k, None)
env.update(sets)
# Variables that Podman itself reads (core's and the gateway's CONTAINER_HOST
# and DOCKER_HOST name the socket inside their pod) must not reach the podman
# command's own environment, or it would talk to another Podman: they are
# passed by value (socket addresses, not secrets).  Every other value goes
# through the environment, never argv.
podman_reads = re.compile(r"^(CONTAINER_HOST|CONTAINER_CONNECTION|DOCKER_HOST|CONTAINERS_.*|STORAGE_.*|XDG_.*|HOME|TMPDIR|REGISTRY_AUTH_FILE)$")
child = dict(os.environ)
args = ["podman", "run", "--name", name]
for k in sorted(env):
    if podman_reads.match(k):
        args += ["-e", "%s=%s" % (k, env[k])]
    else:
        child[k] = env[k]
        args += ["-e", k]
os.execvpe("podman", args + podman_args, child)
PY
run() { local name=$1; shift; ctrs+=("$name"); podman rm -f -t 0 "$name" >/dev/null 2>&1; "$PY" "$TMP/envrun.py" "$TMP/k8s" "$name" "$@"; }
# the ConfigMap files of a pod, as the pod mounts them
configmap() {
	mkdir -p "$2" && chmod 0755 "$2"
	"$PY" - "$TMP/k8s" "$1" "$2" <<'PY'
import os, sys, yaml
k8s, name, out = sys.argv[1:]
for f in os.listdir(k8s):
    for d in yaml.safe_load_all(open(os.path.join(k8s, f))):
        if d and d.get("kind") == "ConfigMap" and d["metadata"]["name"] == name:
            for k, v in d["data"].items():
                with open(os.path.join(out, k), "w") as fh:
                    fh.write(v)
PY
	chmod 0644 "$2"/*
}
# exited NAME SECONDS: wait for the container to exit; prints its exit code
exited() {
	local i
	for i in $(seq "$2"); do
		[ "$(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = false ] && break
		sleep 1
	done
	podman inspect -f '{{.State.Running}} {{.State.ExitCode}}' "$1" 2>/dev/null | awk '$1 == "true" { print "running"; next } { print $2 }'
}
# http_ok URL SECONDS: the URL answers 200 within SECONDS
http_ok() {
	local i
	for i in $(seq "$2"); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")" = 200 ] && return 0
		sleep 1
	done
	return 1
}
hostport() { podman port "$1" "$2" | head -n 1 | sed 's/.*://'; }

podman network create "$net" >/dev/null || skip_all "cannot create the network $net"

# --- the demo's real PostgreSQL, Keycloak and OpenBao test servers -------------
setting() { aegis --env "$ENV" config --json | "$PY" -c 'import json,sys; print(next(v["value"] for v in json.load(sys.stdin)["variables"] if v["name"]==sys.argv[1]))' "$1"; }
run sc-db pod-database postgres -- -d --network "$net" --network-alias pod-database "$P/postgres:latest" >/dev/null
run sc-iam pod-iam keycloak -- -d --network "$net" --network-alias pod-iam \
	-p "127.0.0.1:$(setting KEYCLOAK_PORT):8180" "$P/keycloak-standin:latest" >/dev/null
run sc-bao pod-secrets openbao -- -d --network "$net" --network-alias pod-secrets \
	-p "127.0.0.1:$(setting OPENBAO_PORT):8200" "$P/openbao-standin:latest" >/dev/null
for _ in $(seq 60); do
	podman exec sc-db psql -h /run/postgresql -U aegis -d aegis -tAq -c 'SELECT 1' >/dev/null 2>&1 && break
	sleep 1
done
if ! aegis --env "$ENV" bootstrap-keycloak --timeout 60 >"$TMP/bootstrap.out" 2>&1; then
	skip_all "bootstrap-keycloak failed: $(tail -3 "$TMP/bootstrap.out")"
fi
# the runtime's AppRole (profile minimal: core and secrets, no OIDC step)
if ! aegis --env "$ENV" --profile minimal bootstrap-secrets --timeout 60 >"$TMP/bootstrap-secrets.out" 2>&1; then
	skip_all "bootstrap-secrets failed: $(tail -3 "$TMP/bootstrap-secrets.out")"
fi
# the worker's client secret and the runtime's AppRole are in .env now
render || skip_all "render failed: $(head -3 "$TMP/render.err")"
configmap aegis-core-config "$TMP/core-config"
configmap aegis-seal-gateway-config "$TMP/gateway-config"
table() { podman exec sc-db psql -h /run/postgresql -U aegis -d aegis -tAq -c "SELECT to_regclass('workflow_definitions') IS NOT NULL"; }

# --- the worker first: the runtime has not migrated -----------------------------
run sc-worker0 pod-temporal-worker temporal-worker -- -d --network "$net" "$P/temporal-worker-standin:latest" >/dev/null
rc=$(exited sc-worker0 60)
logs=$(podman logs sc-worker0 2>&1)
if [ "$rc" != running ] && [ "$rc" != 0 ] && [[ "$logs" == *'workflow_definitions" does not exist'* ]] && [ "$(table)" = f ]; then
	pass standin-worker-without-table
else
	fail standin-worker-without-table "exit=$rc table=$(table) $(tail -3 <<<"$logs")"
fi

# --- the runtime -------------------------------------------------------------
run sc-core pod-core aegis-runtime -- -d --network "$net" --network-alias pod-core \
	-v "$TMP/core-config:/etc/aegis:ro" -p 127.0.0.1::8088 -p 127.0.0.1::9091 \
	"$P/runtime-standin:latest" >/dev/null
core_http=$(hostport sc-core 8088) core_metrics=$(hostport sc-core 9091)
if http_ok "http://127.0.0.1:$core_http/health" 90 &&
	curl -fsS --max-time 5 "http://127.0.0.1:$core_metrics/metrics" | grep -q '^aegis_standin_up' &&
	[ "$(table)" = t ]; then
	pass standin-runtime-starts
else
	fail standin-runtime-starts "health port ${core_http:-none} metrics port ${core_metrics:-none} table=$(table) $(podman logs sc-core 2>&1 | tail -4)"
fi

run sc-worker pod-temporal-worker temporal-worker -- -d --network "$net" -p 127.0.0.1::3000 \
	"$P/temporal-worker-standin:latest" >/dev/null
worker_http=$(hostport sc-worker 3000)
if http_ok "http://127.0.0.1:$worker_http/health" 60 && sleep 2 &&
	grep -q 'service account token for aegis-temporal-worker' <<<"$(podman logs sc-worker 2>&1)" &&
	[ "$(exited sc-worker 1)" = running ]; then
	pass standin-worker-starts
else
	fail standin-worker-starts "$(podman logs sc-worker 2>&1 | tail -4)"
fi

# --- SEAL JWTs: signed by the runtime, verified by the gateway -----------------
run sc-gateway pod-seal-gateway seal-gateway -- -d --network "$net" \
	-v "$TMP/gateway-config:/etc/aegis/seal-gateway:ro" -p 127.0.0.1::8089 \
	"$P/seal-gateway-standin:latest" >/dev/null
gw=$(hostport sc-gateway 8089)
http_ok "http://127.0.0.1:$gw/health" 60 || true
invoke() {
	curl -s -o "$TMP/invoke.out" -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
		--data-binary @"$1" "http://127.0.0.1:$2/v1/seal/invoke"
}
podman exec sc-core /aegis-demo/runtime-standin.sh seal-envelope >"$TMP/good.json" 2>"$TMP/sign.err"
code=$(invoke "$TMP/good.json" "$gw")
if [ "$code" = 200 ] && grep -q '"verified":true' "$TMP/invoke.out"; then
	pass standin-seal-jwt-accepted
else
	fail standin-seal-jwt-accepted "HTTP $code $(head -c 300 "$TMP/invoke.out") $(cat "$TMP/sign.err") $(podman logs sc-gateway 2>&1 | tail -3)"
fi

# the same envelope signed with another RSA key: its PEM given with "\n"
# escapes, which the runtime reads too
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/other.pem" 2>/dev/null
awk '{ printf "%s\\n", $0 }' "$TMP/other.pem" >"$TMP/other.escaped"
run sc-other pod-core aegis-runtime --set "AEGIS_SEAL_PRIVATE_KEY=$TMP/other.escaped" -- --rm --network none \
	"$P/runtime-standin:latest" seal-envelope >"$TMP/other.json" 2>"$TMP/other.err"
code=$(invoke "$TMP/other.json" "$gw")
if [ "$code" = 401 ] && grep -q 'security token invalid' "$TMP/invoke.out"; then
	pass standin-seal-jwt-other-key-refused
else
	fail standin-seal-jwt-other-key-refused "HTTP $code $(head -c 300 "$TMP/invoke.out") $(cat "$TMP/other.err")"
fi

# a gateway without the public key starts and refuses every token
: >"$TMP/empty"
run sc-gateway-nokey pod-seal-gateway seal-gateway --set "SEAL_GATEWAY_SEAL_JWT_PUBLIC_KEY_PEM=$TMP/empty" -- -d --network "$net" \
	-v "$TMP/gateway-config:/etc/aegis/seal-gateway:ro" -p 127.0.0.1::8089 \
	"$P/seal-gateway-standin:latest" >/dev/null
gw2=$(hostport sc-gateway-nokey 8089)
http_ok "http://127.0.0.1:$gw2/health" 60 || true
podman exec sc-core /aegis-demo/runtime-standin.sh seal-envelope >"$TMP/good2.json" 2>/dev/null
code=$(invoke "$TMP/good2.json" "$gw2")
if [ "$code" = 401 ] && grep -q 'public key is not configured' "$TMP/invoke.out"; then
	pass standin-gateway-without-key-refuses
else
	fail standin-gateway-without-key-refuses "HTTP $code $(head -c 300 "$TMP/invoke.out")"
fi

# --- the runtime's secrets: its AppRole's grants --------------------------------
# aegis-orchestrator 59bc51e9: a system tenant's secret has the mount "kv"
# (orchestrator/core/src/domain/secrets.rs:122-153,
# orchestrator/core/src/application/credential_service.rs:361-375), written
# and read with vaultrs::kv2 (infrastructure/secrets_manager.rs:199-218):
# POST and GET /v1/kv/data/<path>.
cat >"$TMP/kv.py" <<'PY'
import json, re, sys, urllib.error, urllib.request
env, bao = sys.argv[1:]
vals = {}
for line in open(env):
    m = re.match(r"^(OPENBAO_ROLE_ID|OPENBAO_SECRET_ID)=(.*)$", line.strip())
    if m:
        vals[m.group(1)] = m.group(2).strip("'\"")
def call(method, path, body=None, token=None):
    req = urllib.request.Request(bao + "/v1/" + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"X-Vault-Token": token} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, None
st, d = call("POST", "auth/approle/login", {"role_id": vals.get("OPENBAO_ROLE_ID"), "secret_id": vals.get("OPENBAO_SECRET_ID")})
if st != 200:
    sys.exit("AppRole login: HTTP %d" % st)
t = d["auth"]["client_token"]
path = "kv/data/users/aegis-system/standin/credentials/check"
st_w, _ = call("POST", path, {"data": {"value": "standin"}}, t)
st_r, d = call("GET", path, None, t)
got = ((d or {}).get("data") or {}).get("data")
st_x, _ = call("POST", "secret/data/outside-aegis", {"data": {"value": "x"}}, t)
st_m, _ = call("POST", "sys/mounts/standin-not-granted", {"type": "kv"}, t)
print("write %d read %d %s; outside its grants: secret/data/outside-aegis %d, sys/mounts %d" % (st_w, st_r, got, st_x, st_m))
sys.exit(0 if st_w in (200, 204) and st_r == 200 and got == {"value": "standin"} and st_x == 403 and st_m == 403 else 1)
PY
if out=$("$PY" "$TMP/kv.py" "$ENV" "http://127.0.0.1:$(setting OPENBAO_PORT)" 2>&1); then
	pass standin-runtime-kv-granted
	echo "   $out"
else
	fail standin-runtime-kv-granted "$out"
fi

# --- the gateway's operator API: Keycloak tokens --------------------------------
kc=$(setting KEYCLOAK_PORT)
KC=http://127.0.0.1:$kc
field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2"; }
token() { # FORM-FILE -> an access token of the aegis-system realm
	curl -s --max-time 10 -d @"$1" "$KC/realms/aegis-system/protocol/openid-connect/token" |
		"$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("access_token") or d, end="")'
}
operator_call() { # TOKEN METHOD PATH [JSON] -> the HTTP status; the body in $TMP/operator.out
	( umask 077; printf 'Authorization: Bearer %s\n' "$1" >"$TMP/operator.hdr" )
	curl -s -o "$TMP/operator.out" -w '%{http_code}' --max-time 10 -X "$2" ${1:+-H @"$TMP/operator.hdr"} \
		-H 'Content-Type: application/json' ${4:+--data "$4"} "http://127.0.0.1:$gw$3"
}
( umask 077
  "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["aegis-system"]["aegis-admin"], end="")' \
	"$TMP/generated/keycloak-passwords.json" >"$TMP/operator.pw"
  printf 'grant_type=client_credentials&client_id=aegis-temporal-worker&client_secret=%s' \
	"$(sed -n 's/^TEMPORAL_WORKER_CLIENT_SECRET=//p' "$ENV" | tail -n 1 | tr -d "'\"")" >"$TMP/worker.form" )
# an operator: aegis-cli's device authorisation grant, the browser side at
# KEYCLOAK_PUBLIC_URL resolved to loopback
public=$(setting KEYCLOAK_PUBLIC_URL)
resolve="$(printf '%s' "$public" | sed -E 's#^[a-z]+://([^:/]+).*#\1#'):$kc:127.0.0.1"
curl -s --max-time 10 -d client_id=aegis-cli "$KC/realms/aegis-system/protocol/openid-connect/auth/device" >"$TMP/device.json"
curl -s --max-time 10 --resolve "$resolve" "$(field "$TMP/device.json" verification_uri_complete)" >"$TMP/device-login.html"
action=$(sed -n 's/.*<form[^>]* action="\([^"]*\)".*/\1/p' "$TMP/device-login.html" | sed 's/&amp;/\&/g')
curl -s --max-time 10 --resolve "$resolve" --data-urlencode username=aegis-admin \
	--data-urlencode "password@$TMP/operator.pw" "$action" >/dev/null
( umask 077; printf 'grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Adevice_code&client_id=aegis-cli&device_code=%s' \
	"$(field "$TMP/device.json" device_code)" >"$TMP/operator.form" )
op=$(token "$TMP/operator.form")
session='{"execution_id":"00000000-0000-0000-0000-000000000001","agent_id":"standin","security_context":"default","public_key_b64":"","security_token":"","session_status":"Active"}'
c1=$(operator_call "$op" GET /v1/tools) c2=$(operator_call "$op" POST /v1/seal/sessions "$session")
if [ "$c1" = 200 ] && [ "$c2" = 200 ] && grep -q '"saved": *true' "$TMP/operator.out"; then
	pass standin-gateway-operator-accepted
else
	fail standin-gateway-operator-accepted "GET /v1/tools $c1, POST /v1/seal/sessions $c2 $(head -c 200 "$TMP/operator.out") token: $(printf '%s' "$op" | head -c 80) $(podman logs sc-gateway 2>&1 | tail -2)"
fi
c1=$(operator_call "" GET /v1/tools) c2=$(operator_call "$(token "$TMP/worker.form")" POST /v1/seal/sessions "$session")
gwlog=$(podman logs sc-gateway 2>&1)
if [ "$c1" = 401 ] && [ "$c2" = 401 ] && grep -q "InvalidAudience" <<<"$gwlog"; then
	pass standin-gateway-operator-refused
else
	fail standin-gateway-operator-refused "no token: $c1, the worker's: $c2 $(podman logs sc-gateway 2>&1 | tail -2)"
fi

# --- broken copies -----------------------------------------------------------
# broken NAME POD CONTAINER IMAGE PATTERN [envrun options] [-- podman args]:
# the container exits non-zero and its log matches PATTERN
broken() {
	local test=$1 name=$2 pod=$3 ctr=$4 image=$5 pattern=$6
	shift 6
	local opts=() extra=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	extra=("$@")
	run "$name" "$pod" "$ctr" "${opts[@]}" -- -d --network "$net" "${extra[@]}" "$image" >/dev/null
	local rc logs
	rc=$(exited "$name" 90)
	logs=$(podman logs "$name" 2>&1)
	if [ "$rc" != running ] && [ "$rc" != 0 ] && grep -Eq "$pattern" <<<"$logs"; then
		pass "$test"
		echo "   $(grep -E "$pattern" <<<"$logs" | head -n 1 | cut -c1-200)"
	else
		fail "$test" "exit=$rc $(tail -3 <<<"$logs")"
	fi
}
mkdir -p "$TMP/core-noregistry" && cp "$TMP/core-config/aegis-config.yaml" "$TMP/core-noregistry/"
broken standin-runtime-without-registry sc-core-noreg pod-core aegis-runtime "$P/runtime-standin:latest" \
	"runtime-registry.yaml exists at the configured path" -- -v "$TMP/core-noregistry:/etc/aegis:ro"
broken standin-runtime-ed25519-key sc-core-ed pod-core aegis-runtime "$P/runtime-standin:latest" \
	"AEGIS_SEAL_PRIVATE_KEY: InvalidKeyFormat: a PKCS#8 Ed25519 key" --set "AEGIS_SEAL_PRIVATE_KEY=$TMP/seal/private.pem" \
	-- -v "$TMP/core-config:/etc/aegis:ro"
# a secret ID of another AppRole login (a stale .env): OpenBao refuses it
printf %s 00000000-0000-0000-0000-000000000000 >"$TMP/stale-secret-id"
broken standin-runtime-approle-refused sc-core-approle pod-core aegis-runtime "$P/runtime-standin:latest" \
	"Failed to initialize OpenBao secrets manager: AppRole login at http://pod-secrets:8200/v1/auth/approle/login refused: HTTP 400" \
	--set "OPENBAO_SECRET_ID=$TMP/stale-secret-id" -- -v "$TMP/core-config:/etc/aegis:ro"
broken standin-worker-without-client-secret sc-worker-nosecret pod-temporal-worker temporal-worker \
	"$P/temporal-worker-standin:latest" "KEYCLOAK_CLIENT_SECRET\): Required" --unset KEYCLOAK_CLIENT_SECRET
