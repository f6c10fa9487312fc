# `make demo` end to end, in the isolated test Podman (tests/podman/env.sh):
# images (built once, then reused), full deploy with bootstrap, validate, the
# wiring through real PostgreSQL, postgres-exporter and Prometheus, OpenBao
# and Keycloak stand-ins bootstrapped, a second run idempotent with data
# kept, and demo-down leaving nothing behind.  While it runs, every process's
# arguments are sampled; then deploy, validate, status and both bootstrap
# commands run again at every verbosity, and a pod is redeployed.  Every
# secret value of the demo's .env and of everything bootstrap wrote
# (generated/: unseal keys, root token, AppRole credentials, client secrets,
# passwords, the SEAL private key) must be absent from every sampled argv,
# from all output, and from every file of the run that group or others can
# read (the secret-scan checks; one demo serves both, for the suite's time).
# test-images: demo
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(demo-up demo-pods-ready demo-edge-https demo-pg-up demo-openbao-bootstrapped demo-keycloak-realm
	demo-oidc-discovery-from-pod demo-aegis-standins demo-second-run-idempotent demo-data-kept
	secret-scan-argv secret-scan-output secret-scan-readable-files secret-scan-generated-modes demo-down-clean)
require_rootful_podman
export AEGIS_DEMO_DIR=$TMP/demo CONTAINER_SOCK=$TMP/podman.sock
demo() { bash "$ROOT/scripts/demo.sh" "$@"; }
PREFIX_DEMO=localhost/aegis-demo
trap '[ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null; demo down >/dev/null 2>&1; rm -rf "$TMP"' EXIT

# every distinct argv seen on the machine from now on (argv_sampler_start)
argv_sampler_start "$TMP/argv.txt"

t0=$(date +%s)
demo up >"$TMP/up1.out" 2>&1; rc=$?
echo "   first run (images built if missing): $(( $(date +%s) - t0 )) s"
ENV=$AEGIS_DEMO_DIR/demo.env
PROD=$(profile_pods production)
if [ $rc -eq 0 ] && grep -q "AEGIS demo: $PROD pods" "$TMP/up1.out" && grep -Eq '([0-9]+) of \1 checks passed' "$TMP/up1.out"; then
	pass demo-up
else
	fail demo-up "rc=$rc $(tail -25 "$TMP/up1.out")"
fi
ENV=$AEGIS_DEMO_DIR/demo.env
A() { aegis --env "$ENV" "$@"; }
port() { A config --json | "$PY" -c 'import json,sys; print(next(v["value"] for v in json.load(sys.stdin)["variables"] if v["name"]==sys.argv[1]))' "$1"; }

A status --profile production --json >"$TMP/status.json" 2>&1
if "$PY" -c 'import json,sys; ps=json.load(open(sys.argv[1]))["pods"]; assert len(ps)=='"$PROD"' and all(p["state"]=="Running" and p["running"]==p["containers"] for p in ps)' "$TMP/status.json" 2>/dev/null; then
	pass demo-pods-ready
else
	fail demo-pods-ready "$(head -c 500 "$TMP/status.json")"
fi

# Prometheus (real) has scraped PostgreSQL (real) through the exporter (real).
# every public service over HTTPS through real Caddy, verified with the CA
# the deploy exported, each name resolved to 127.0.0.1
ca=$AEGIS_DEMO_DIR/generated/edge-ca.crt
https=$(port EDGE_HTTPS_PORT)
bad=""
for h in api auth secrets grafana seal temporal jaeger prometheus; do
	code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$ca" \
		--resolve "$h.aegis.localhost:$https:127.0.0.1" "https://$h.aegis.localhost:$https/" 2>&1)
	case $h:$code in temporal:401 | jaeger:401 | prometheus:401) ;; temporal:* | jaeger:* | prometheus:*) bad+=" $h:$code" ;;
	*:[234]??) ;; *) bad+=" $h:$code" ;; esac
done
if [ -z "$bad" ] && grep -q 'Trust the CA' "$TMP/up1.out" && grep -q "https://api.aegis.localhost" "$TMP/up1.out"; then
	pass demo-edge-https
else
	fail demo-edge-https "$bad $(grep -A10 'Public HTTPS' "$TMP/up1.out")"
fi

prom=$(port PROMETHEUS_PORT)
pgup=$(curl -fsS --max-time 10 "http://127.0.0.1:$prom/api/v1/query?query=pg_up" | "$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")' 2>&1)
if [ "$pgup" = 1 ] && grep -q 'reports pg_up = 1' "$TMP/up1.out"; then
	pass demo-pg-up
else
	fail demo-pg-up "pg_up=$pgup"
fi

# OpenBao stand-in: initialised, unsealed, and the AppRole credentials that
# bootstrap wrote into the demo .env log in.
bao=$(port OPENBAO_PORT)
health=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$bao/v1/sys/health")
role_id=$(sed -n 's/^OPENBAO_ROLE_ID=//p' "$ENV" | tr -d "'\"")
secret_id=$(sed -n 's/^OPENBAO_SECRET_ID=//p' "$ENV" | tr -d "'\"")
( umask 077; printf '{"role_id":"%s","secret_id":"%s"}' "$role_id" "$secret_id" >"$TMP/login.json" )
login=$(curl -s --max-time 10 -w ' %{http_code}' -X POST --data @"$TMP/login.json" "http://127.0.0.1:$bao/v1/auth/approle/login")
if [ "$health" = 200 ] && [ -n "$role_id" ] && [[ "$login" == *'"client_token"'*' 200' ]] && [[ "$login" == *aegis-platform* ]]; then
	pass demo-openbao-bootstrapped
else
	fail demo-openbao-bootstrapped "health=$health role_id=${role_id:+set} login status=${login##* }"
fi

# Keycloak stand-in: the declared realm exists.
kc=$(port KEYCLOAK_PORT)
realm=$("$PY" -c 'import yaml,sys; d=yaml.safe_load(open(sys.argv[1])); r=d["realms"]; print((r[0] if isinstance(r,list) else next(iter(r.values())))["realm"] if isinstance(r,list) else next(iter(r)))' "$ROOT/kube/iam/realm.yaml" 2>/dev/null || echo aegis-system)
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$kc/realms/$realm/.well-known/openid-configuration")
if [ "$code" = 200 ]; then pass demo-keycloak-realm; else fail demo-keycloak-realm "realm $realm: HTTP $code"; fi

# OpenBao's OIDC login was configured: the stand-in fetched Keycloak's
# discovery document at KEYCLOAK_PUBLIC_URL from inside pod-secrets and its
# issuer (Keycloak's frontend hostname, the same URL) matched.
public=$(A config --profile production --json | "$PY" -c 'import json,sys; print(next(v["value"] for v in json.load(sys.stdin)["variables"] if v["name"]=="KEYCLOAK_PUBLIC_URL"))')
root_token=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["root_token"])' "$AEGIS_DEMO_DIR/generated/openbao-init.json" 2>/dev/null)
( umask 077; printf 'X-Vault-Token: %s\n' "$root_token" >"$TMP/bao.hdr" )
oidc=$(curl -s --max-time 10 -H @"$TMP/bao.hdr" "http://127.0.0.1:$bao/v1/auth/oidc/config" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["data"]["oidc_discovery_url"])' 2>&1)
if [ -n "$public" ] && [ "$oidc" = "$public/realms/$realm" ]; then
	pass demo-oidc-discovery-from-pod
else
	fail demo-oidc-discovery-from-pod "public=$public oidc=$oidc $(grep -iE 'oidc|error' "$TMP/up1.out" | head -5)"
fi

# The AEGIS images' stand-ins enforce their contracts and still came up:
# the runtime's migrated the real database (workflow_definitions, which the
# worker's read at start-up), the worker's got its client-credentials token
# from the Keycloak stand-in, and a SEAL JWT signed with pod-core's RSA key
# was accepted by the gateway's (the summary's line, and once more here).
# The worker's pod is ready once its HTTP answers; like the real worker it
# gets its service-account token after that, so its log is waited for.
worker_token() {
	local i
	for i in $(seq "$1"); do
		podman logs pod-temporal-worker-temporal-worker 2>&1 | grep 'service account token for aegis-temporal-worker' >/dev/null && return 0
		sleep 0.5
	done
	return 1
}
images=$(podman ps --format '{{.Names}} {{.Image}}' | grep -E '^pod-(core-aegis-runtime|seal-gateway-seal-gateway|temporal-worker-temporal-worker) ' | awk '{print $2}' | sort | tr '\n' ' ')
table=$(podman exec pod-database-postgres psql -h /run/postgresql -U aegis -d aegis -tAq -c "SELECT to_regclass('workflow_definitions') IS NOT NULL" 2>&1)
probe=$(podman exec pod-core-aegis-runtime /aegis-demo/runtime-standin.sh seal-probe 2>&1)
if [ "$images" = "$PREFIX_DEMO/runtime-standin:latest $PREFIX_DEMO/seal-gateway-standin:latest $PREFIX_DEMO/temporal-worker-standin:latest " ] &&
	[ "$table" = t ] && [[ "$probe" == *" HTTP 200 "* ]] &&
	worker_token 60 &&
	grep -q 'verified with its RSA public key: HTTP 200' "$TMP/up1.out"; then
	pass demo-aegis-standins
else
	fail demo-aegis-standins "images: $images table=$table probe=${probe:0:200} summary: $(grep 'verified with its RSA public key' "$TMP/up1.out") worker: $(podman logs pod-temporal-worker-temporal-worker 2>&1 | tail -3)"
fi

# Second run: every pod kept (same container IDs), bootstrap changes nothing,
# and the row count grows: the data survived.
ids() { podman ps -a --no-trunc --format '{{.Names}} {{.ID}}' | sort; }
ids >"$TMP/ids1"
t0=$(date +%s.%N)
demo up >"$TMP/up2.out" 2>&1; rc=$?
took=$("$PY" -c "print(round($(date +%s.%N) - $t0, 1))")
ids >"$TMP/ids2"
echo "   second run (stack up): ${took} s"
kept=$(grep -c 'ready (.*unchanged)' "$TMP/up2.out")
if [ $rc -eq 0 ] && cmp -s "$TMP/ids1" "$TMP/ids2" && [ "$kept" = "$PROD" ] &&
	grep -q 'bootstrap OpenBao: 0 created, 0 changed' "$TMP/up2.out" && grep -q 'bootstrap Keycloak: 0 created, 0 changed' "$TMP/up2.out"; then
	pass demo-second-run-idempotent
else
	fail demo-second-run-idempotent "rc=$rc kept=$kept $(diff "$TMP/ids1" "$TMP/ids2" | head -4) $(grep -E 'bootstrap|error' "$TMP/up2.out")"
fi
r1=$(sed -n "s/.*kept across runs): //p" "$TMP/up1.out")
r2=$(sed -n "s/.*kept across runs): //p" "$TMP/up2.out")
if [ -n "$r1" ] && [ "$r2" = $((r1 + 1)) ]; then pass demo-data-kept; else fail demo-data-kept "rows: $r1 then $r2"; fi

# The secret scan: the commands again at every verbosity, with the output of
# both runs.
cat "$TMP/up1.out" "$TMP/up2.out" >"$TMP/out.txt"
for v in -q "" -v -vv; do
	for cmd in "deploy --profile production" "validate --profile production" "status --profile production" "bootstrap-secrets" "bootstrap-keycloak"; do
		# shellcheck disable=SC2086
		aegis --env "$ENV" $v $cmd >>"$TMP/out.txt" 2>&1
	done
done
# a pod replaced and bootstrapped again (OpenBao restarts sealed: unseal)
aegis --env "$ENV" -vv redeploy secrets >>"$TMP/out.txt" 2>&1
argv_sampler_stop

# The secrets: every secret variable of the demo .env (per the schema), and
# every value in the files bootstrap and generate-keys wrote.
( umask 077; : >"$TMP/secrets.txt" )
"$PY" - "$ROOT/kube/variables.yaml" "$ENV" "$AEGIS_DEMO_DIR/generated" >"$TMP/secrets.txt" <<'PYEOF'
import json, os, re, sys, yaml
schema = yaml.safe_load(open(sys.argv[1]))["variables"]
secret_names = {v["name"] for v in schema if v.get("secret")}
found = set()
for line in open(sys.argv[2]):
    m = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line.rstrip("\n"))
    if m and m.group(1) in secret_names:
        val = m.group(2).strip()
        if len(val) >= 2 and val[0] == val[-1] and val[0] in "'\"":
            val = val[1:-1]
        found.add(val)
def walk(x):
    if isinstance(x, str):
        found.add(x)
    elif isinstance(x, dict):
        for k, v in x.items():
            if not re.search(r"(shares|threshold|type|version|url|addr|name|realm|policies|path)$", k, re.I):
                walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
for d, _, files in os.walk(sys.argv[3]):
    for fn in files:
        text = open(os.path.join(d, fn), errors="replace").read()
        try:
            walk(json.loads(text))
            continue
        except ValueError:
            pass
        if "PRIVATE KEY" in text:
            found.add("".join(l for l in text.splitlines() if not l.startswith("-----"))[:40])
            continue
        if "PUBLIC KEY" in text or "BEGIN CERTIFICATE" in text:
            continue  # public by design (the SEAL public key, the edge's CA)
        for line in text.splitlines():
            found.add(line.split("=", 1)[-1].split(":", 1)[-1].strip())
for s in sorted(v for v in found if len(v) >= 8):
    print(s)
PYEOF
nsecrets=$(wc -l <"$TMP/secrets.txt")
echo "   $nsecrets secret values; $(wc -l <"$TMP/argv.txt") distinct argv sampled; $(wc -l <"$TMP/out.txt") output lines"

# leaks FILE...: the secrets found in the files (by line number of secrets.txt)
leaks() { grep -F -o -f "$TMP/secrets.txt" "$@" 2>/dev/null | sort -u | sed 's/^\(....\).*/\1…/'; }

if [ "$nsecrets" -lt 10 ]; then
	fail secret-scan-argv "only $nsecrets secret values found: the scan would prove nothing"
else
	l=$(leaks "$TMP/argv.txt")
	[ -z "$l" ] && [ -s "$TMP/argv.txt" ] && pass secret-scan-argv || fail secret-scan-argv "in process arguments: $l"
fi
l=$(leaks "$TMP/out.txt")
[ -z "$l" ] && pass secret-scan-output || fail secret-scan-output "in output: $l"

# every file of this run readable by group or others (the demo directory, the
# test directory, the tool's temporary directories)
readable=$({
	find "$TMP" -type f -perm /077
	find /tmp -maxdepth 2 -path '/tmp/aegis-podman-*' -type f -perm /077
} 2>/dev/null | grep -v "^$TMP/\(secrets\|argv\|out\)\.txt$")
bad=
for f in $readable; do
	[ -r "$f" ] || continue
	l=$(leaks "$f")
	[ -n "$l" ] && bad="$bad $f($l)"
done
[ -z "$bad" ] && pass secret-scan-readable-files || fail secret-scan-readable-files "$bad"

modes=$(find "$AEGIS_DEMO_DIR" \( -type f ! -perm 0600 ! -name '*.pub' ! -name '*.pem' \) -o \( -type d ! -perm 0700 \) -printf '%m %p\n' 2>/dev/null)
[ -z "$modes" ] && pass secret-scan-generated-modes || fail secret-scan-generated-modes "$modes"

demo down >"$TMP/down.out" 2>&1; rc=$?
left=$(podman pod ls -q | wc -l)
vols=$(podman volume ls -q | grep -c '^aegis-')
net=$(podman network exists aegis-network && echo yes || echo no)
if [ $rc -eq 0 ] && [ "$left" = 0 ] && [ "$vols" = 0 ] && [ "$net" = no ] && [ ! -e "$AEGIS_DEMO_DIR" ]; then
	pass demo-down-clean
else
	fail demo-down-clean "rc=$rc pods=$left volumes=$vols network=$net $(tail -3 "$TMP/down.out")"
fi
