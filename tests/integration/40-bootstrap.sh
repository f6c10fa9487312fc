#!/usr/bin/env bash
# bootstrap-secrets and bootstrap-keycloak against the OpenBao and Keycloak
# API test servers (tests/servers/): fresh init, idempotent re-runs, restart
# sealed, sealed without the init file, a 500 and a dropped connection in the
# middle, .env preserved byte for byte but for the keys written, Keycloak
# apply / re-apply / changed declaration / bad admin password, and no secret
# in any output; the KV v2 upgrade window of a new mount on the first run, a
# key split OpenBao would refuse refused before anything is touched, and the
# OIDC login end to end (Keycloak's login through its public URL, OpenBao's
# callback, a token of the declared policies) with the discovery check on.
. "$(dirname "$0")/lib.sh"

OUT=$TMP/out
mkdir -p "$OUT"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$TMP"' EXIT

# A root of our own (generated/ lands in it), sharing the repository's data.
TROOT=$TMP/root
mkdir -p "$TROOT"
ln -s "$ROOT/kube" "$TROOT/kube"
ln -s "$ROOT/profiles" "$TROOT/profiles"
GEN=$TROOT/generated

# start_server NAME SCRIPT ARGS...: sets PORT_<NAME>, PID_<NAME>
start_server() {
	local name=$1 script=$2; shift 2
	local pf=$TMP/$name.port
	rm -f "$pf"
	"$PY" "$ROOT/tests/servers/$script" --port "${SERVER_PORT:-0}" --port-file "$pf" "$@" 2>>"$TMP/$name.log" &
	local pid=$!
	PIDS+=("$pid")
	for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.1; done
	printf -v "PORT_$name" '%s' "$(cat "$pf" 2>/dev/null)"
	printf -v "PID_$name" '%s' "$pid"
}

# api PORT METHOD PATH [JSON]: a test control request; prints the body
api() {
	"$PY" - "$@" <<'EOF'
import sys, urllib.request
port, method, path = sys.argv[1:4]
data = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=data, method=method,
                             headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode())
EOF
}
# count PORT PYTHON-EXPR: how many logged requests r satisfy the expression
count() {
	api "$1" GET /_test/requests | "$PY" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if eval(sys.argv[1])))' "$2"
}
status_of() { # PORT PATH: HTTP status of GET PATH
	"$PY" - "$@" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=10) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
EOF
}
json_get() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
envval() { sed -n "s/^$2=\([^ ]*\).*/\1/p" "$1" | tail -1; }
mode_of() { stat -c %a "$1"; }
# no temporary or partial file under generated/: every file is whole
no_partial() {
	! ls -a "$GEN" 2>/dev/null | grep -qv -E '^(\.|\.\.|openbao-init\.json(\.replaced-.*)?|openbao-approle\.env|openbao-oidc\.json|keycloak-clients\.env|keycloak-passwords\.json)$' &&
		{ [ ! -f "$GEN/openbao-init.json" ] || "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$GEN/openbao-init.json"; }
}
# only_keys_changed BEFORE AFTER KEY...: line by line, only lines assigning KEYs differ
only_keys_changed() {
	"$PY" - "$@" <<'EOF'
import sys
before, after, keys = open(sys.argv[1], "rb").read().split(b"\n"), open(sys.argv[2], "rb").read().split(b"\n"), sys.argv[3:]
assert len(before) == len(after), "line count %d -> %d" % (len(before), len(after))
changed = set()
for b, a in zip(before, after):
    if a != b:
        key = a.split(b"=", 1)[0].decode()
        assert key in keys, "line changed: %r -> %r" % (b, a)
        changed.add(key)
assert changed == set(keys), "changed %s" % sorted(changed)
EOF
}

# free_port: a port nobody listens on now (Keycloak's public URL names its
# port before it starts)
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The first OpenBao holds a new KV v2 mount in its upgrade window for 1.5 s,
# as a real one may on a slow disk: the first run must get through it.
start_server bao openbao.py --state "$TMP/bao.state" --kv-upgrade-seconds 1.5
export KEYCLOAK_ADMIN=admin
KC_PASS=kc-$RANDOM-admin-password
# Keycloak with its frontend hostname set to the one public URL, as
# kube/iam/pod.yaml sets it (KC_HOSTNAME_URL=${KEYCLOAK_PUBLIC_URL}).
KC_PORT=$(free_port)
KC_PUBLIC=http://127.0.0.1:$KC_PORT
KEYCLOAK_ADMIN_PASSWORD=$KC_PASS KC_HOSTNAME_URL=$KC_PUBLIC SERVER_PORT=$KC_PORT start_server kc keycloak.py
if [ -z "$PORT_bao" ] || [ -z "$PORT_kc" ]; then
	fail bootstrap-test-servers "did not start: $(tail -5 "$TMP"/*.log)"
	exit 0
fi

# A .env as people write them: comments, blank lines, quoted values, an
# export, unrelated keys, the two AppRole keys present but empty.
ENVF=$TMP/test.env
cat >"$ENVF" <<EOF
# AEGIS test configuration
POSTGRES_PASSWORD='pg pass: with spaces'
export GRAFANA_ADMIN_PASSWORD="grafana \"quoted\""

KEYCLOAK_ADMIN_PASSWORD=$KC_PASS   # the Keycloak test server's
OPENBAO_ADDR=http://127.0.0.1:$PORT_bao
KEYCLOAK_URL="http://127.0.0.1:$PORT_kc"
KEYCLOAK_PUBLIC_URL=$KC_PUBLIC

# AppRole credentials (bootstrap-secrets writes them)
OPENBAO_ROLE_ID=""   # filled in by bootstrap
OPENBAO_SECRET_ID=
OIDC_CLIENT_SECRET=
TEMPORAL_WORKER_CLIENT_SECRET=
RUST_LOG=info
EOF
chmod 600 "$ENVF"
# Unset everything the schema knows, so only the file counts.
for v in $(sed -n 's/^[[:space:]]*- name: \([A-Z0-9_]*\)$/\1/p' "$ROOT/kube/variables.yaml"); do
	[ "$v" = KEYCLOAK_ADMIN ] || unset "$v"
done
A() { "$AEGIS_BIN" --root "$TROOT" --env "$ENVF" "$@"; }
# run NAME ARGS...: output to $OUT/NAME.{out,err}; sets rc
run() { local n=$1; shift; A "$@" >"$OUT/$n.out" 2>"$OUT/$n.err"; rc=$?; }

# --- usage ---------------------------------------------------------------------------
if A bootstrap-secrets --help | grep -q 'Usage: aegis-deploy bootstrap-secrets' &&
	A bootstrap-keycloak --help | grep -q -- '--show-passwords'; then
	pass bootstrap-help
else
	fail bootstrap-help
fi
A bootstrap-secrets --bogus >/dev/null 2>&1; r1=$?
A bootstrap-keycloak extra-arg >/dev/null 2>&1; r2=$?
A bootstrap-secrets --key-shares 1 --key-threshold 2 >/dev/null 2>&1; r3=$?
if [ $r1 -eq 2 ] && [ $r2 -eq 2 ] && [ $r3 -eq 2 ]; then pass bootstrap-usage-exit-2; else fail bootstrap-usage-exit-2 "$r1 $r2 $r3"; fi

# --- OpenBao: fresh ------------------------------------------------------------------
cp "$ENVF" "$TMP/env.before"
run fresh --profile minimal bootstrap-secrets --json
# The tenants' _meta reads came right after secret/ was enabled, inside its
# upgrade window: answered 400 "Upgrading ..." at first, and waited out.
upgrading=$(count "$PORT_bao" 'r["status"]==400 and r["path"].startswith("/v1/secret/data/aegis/tenants/")')
if [ $rc -eq 0 ] && [ "$upgrading" -ge 1 ]; then
	pass bootstrap-secrets-first-run-waits-out-kv-upgrade
else
	fail bootstrap-secrets-first-run-waits-out-kv-upgrade "rc=$rc upgrade answers=$upgrading $(cat "$OUT/fresh.err")"
fi
if [ $rc -eq 0 ] && [ "$(count "$PORT_bao" 'r["method"]=="PUT" and r["path"]=="/v1/sys/init"')" = 1 ] &&
	[ "$(status_of "$PORT_bao" /v1/sys/health)" = 200 ] &&
	json_get "$OUT/fresh.out" '[i["item"] for i in d["items"] if i["result"]=="created"]' |
		grep -q "auth method approle/.*policy aegis-platform.*AppRole role aegis-platform.*secrets engine secret/.*tenant aegis-system.*tenant zaru-consumer.*AppRole credentials"; then
	pass bootstrap-secrets-fresh-init
else
	fail bootstrap-secrets-fresh-init "rc=$rc $(cat "$OUT/fresh.err") $(head -c 600 "$OUT/fresh.out")"
fi
if [ "$(mode_of "$GEN/openbao-init.json")" = 600 ] && [ "$(mode_of "$GEN")" = 700 ] &&
	[ "$(mode_of "$GEN/openbao-approle.env")" = 600 ] &&
	json_get "$GEN/openbao-init.json" 'd["root_token"] and len(d["keys"])==1' | grep -q True; then
	pass bootstrap-init-file-private
else
	fail bootstrap-init-file-private "$(ls -la "$GEN")"
fi
ROLE_ID=$(envval "$ENVF" OPENBAO_ROLE_ID | sed 's/ .*//')
SECRET_ID=$(envval "$ENVF" OPENBAO_SECRET_ID)
if out=$(only_keys_changed "$TMP/env.before" "$ENVF" OPENBAO_ROLE_ID OPENBAO_SECRET_ID 2>&1) &&
	[ -n "$ROLE_ID" ] && [ -n "$SECRET_ID" ] && [ "$(mode_of "$ENVF")" = 600 ] &&
	grep -q '^OPENBAO_ROLE_ID=[^ ]*   # filled in by bootstrap$' "$ENVF" &&
	grep -q "^OPENBAO_ROLE_ID=$ROLE_ID$" "$GEN/openbao-approle.env"; then
	pass bootstrap-env-only-two-keys-changed
else
	fail bootstrap-env-only-two-keys-changed "$out $(diff "$TMP/env.before" "$ENVF")"
fi
# The credentials really log in (through the server, not our word).
login=$(api "$PORT_bao" POST /v1/auth/approle/login "{\"role_id\":\"$ROLE_ID\",\"secret_id\":\"$SECRET_ID\"}")
if echo "$login" | grep -q '"client_token"'; then pass bootstrap-approle-credentials-log-in; else fail bootstrap-approle-credentials-log-in "$login"; fi

# --- OpenBao: ten more runs ------------------------------------------------------------
api "$PORT_bao" POST /_test/reset >/dev/null
cp "$ENVF" "$TMP/env.after1"
bad=""
for i in $(seq 10); do
	run rerun$i --profile minimal bootstrap-secrets --json
	[ $rc -eq 0 ] || bad="$bad run$i:rc=$rc:$(cat "$OUT/rerun$i.err")"
	json_get "$OUT/rerun$i.out" 'd["created"]+d["changed"]' | grep -qx 0 || bad="$bad run$i:changes"
done
inits=$(count "$PORT_bao" 'r["path"]=="/v1/sys/init" and r["method"]!="GET"')
writes=$(count "$PORT_bao" 'r["method"] not in ("GET","HEAD","LIST") and r["path"]!="/v1/auth/approle/login"')
logins=$(count "$PORT_bao" 'r["path"]=="/v1/auth/approle/login"')
if [ -z "$bad" ] && [ "$inits" = 0 ] && [ "$writes" = 0 ] && [ "$logins" = 10 ] &&
	cmp -s "$ENVF" "$TMP/env.after1" && [ "$(envval "$ENVF" OPENBAO_ROLE_ID)" = "$ROLE_ID" ]; then
	pass bootstrap-secrets-rerun-10x-idempotent
else
	fail bootstrap-secrets-rerun-10x-idempotent "bad=$bad inits=$inits writes=$writes logins=$logins $(diff "$TMP/env.after1" "$ENVF")"
fi

# --- OpenBao: restarted (sealed) ---------------------------------------------------------
kill "$PID_bao"; wait "$PID_bao" 2>/dev/null
start_server bao openbao.py --state "$TMP/bao.state"
sed -i "s|^OPENBAO_ADDR=.*|OPENBAO_ADDR=http://127.0.0.1:$PORT_bao|" "$ENVF"
cp "$ENVF" "$TMP/env.restart"
sealed=$(status_of "$PORT_bao" /v1/sys/health)
run restart --profile minimal bootstrap-secrets
if [ "$sealed" = 503 ] && [ $rc -eq 0 ] && [ "$(status_of "$PORT_bao" /v1/sys/health)" = 200 ] &&
	[ "$(count "$PORT_bao" 'r["path"]=="/v1/sys/unseal"')" -ge 1 ] &&
	[ "$(count "$PORT_bao" 'r["path"]=="/v1/sys/init" and r["method"]!="GET"')" = 0 ] &&
	cmp -s "$ENVF" "$TMP/env.restart"; then
	pass bootstrap-secrets-restart-unsealed-from-saved-keys
else
	fail bootstrap-secrets-restart-unsealed-from-saved-keys "health-before=$sealed rc=$rc $(cat "$OUT/restart.err")"
fi

# --- OpenBao: sealed, init file gone ---------------------------------------------------
api "$PORT_bao" POST /_test/seal >/dev/null
mv "$GEN/openbao-init.json" "$TMP/init.saved"
run noinit --profile minimal bootstrap-secrets
if [ $rc -eq 1 ] && grep -q "sealed" "$OUT/noinit.err" && grep -q "openbao-init.json" "$OUT/noinit.err" &&
	grep -q "another initialisation" "$OUT/noinit.err" && cmp -s "$ENVF" "$TMP/env.restart"; then
	pass bootstrap-secrets-sealed-without-init-file
else
	fail bootstrap-secrets-sealed-without-init-file "rc=$rc $(cat "$OUT/noinit.err")"
fi
mv "$TMP/init.saved" "$GEN/openbao-init.json"
run reseal --profile minimal bootstrap-secrets
[ $rc -eq 0 ] || fail bootstrap-secrets-unseal-again "rc=$rc $(cat "$OUT/reseal.err")"

# --- OpenBao: failures in the middle of a fresh bootstrap --------------------------------
# A new OpenBao and a new generated/ each time; .env must come out byte-identical.
fresh_bao() {
	kill "$PID_bao"; wait "$PID_bao" 2>/dev/null
	rm -f "$TMP/bao.state"
	start_server bao openbao.py --state "$TMP/bao.state"
	rm -rf "$GEN"
	sed -i "s|^OPENBAO_ADDR=.*|OPENBAO_ADDR=http://127.0.0.1:$PORT_bao|;s|^OPENBAO_ROLE_ID=[^ ]*|OPENBAO_ROLE_ID=\"\"|;s|^OPENBAO_SECRET_ID=.*|OPENBAO_SECRET_ID=|" "$ENVF"
	cp "$ENVF" "$TMP/env.fault"
}
# fault_case NAME METHOD PREFIX ACTION COUNT WANT-IN-STDERR
fault_case() {
	local name=$1 method=$2 prefix=$3 action=$4 n=$5 want=$6
	fresh_bao
	api "$PORT_bao" POST /_test/fault "{\"method\":\"$method\",\"path_prefix\":\"$prefix\",\"action\":\"$action\",\"count\":$n}" >/dev/null
	run "$name" --profile minimal bootstrap-secrets
	if [ $rc -eq 1 ] && grep -qF -- "$want" "$OUT/$name.err" && cmp -s "$ENVF" "$TMP/env.fault" && no_partial; then
		pass "$name"
	else
		fail "$name" "rc=$rc $(cat "$OUT/$name.err") $(diff "$TMP/env.fault" "$ENVF") $(ls -a "$GEN" 2>&1 | tr '\n' ' ')"
	fi
	# and the next run, without the fault, completes what was left
	local inits
	inits=$(count "$PORT_bao" 'r["path"]=="/v1/sys/init" and r["method"]!="GET"')
	api "$PORT_bao" POST /_test/reset >/dev/null
	run "$name-recover" --profile minimal bootstrap-secrets
	if [ $rc -eq 0 ] && [ "$inits" = 1 ] && [ "$(count "$PORT_bao" 'r["path"]=="/v1/sys/init" and r["method"]!="GET"')" = 0 ] &&
		[ -n "$(envval "$ENVF" OPENBAO_ROLE_ID)" ]; then
		pass "$name-then-recovers"
	else
		fail "$name-then-recovers" "rc=$rc $(cat "$OUT/$name-recover.err")"
	fi
}
# --key-shares 3 with the declared threshold 1: OpenBao would refuse the split
# ("threshold must be greater than one for multiple shares"), so it is refused
# here first -- exit 2, not one request, and the old init file not moved aside.
fresh_bao
mkdir -p "$GEN" && chmod 700 "$GEN"
printf '{"keys": ["00"], "root_token": "s.stale"}\n' >"$GEN/openbao-init.json"
chmod 600 "$GEN/openbao-init.json"
cp -p "$GEN/openbao-init.json" "$TMP/init.stale"
api "$PORT_bao" POST /_test/reset >/dev/null
run shares3 --profile minimal bootstrap-secrets --key-shares 3
reqs=$(count "$PORT_bao" 'True')
if [ $rc -eq 2 ] && grep -q "threshold must be greater than one for multiple shares" "$OUT/shares3.err" &&
	grep -q -- "--key-shares" "$OUT/shares3.err" && [ "$reqs" = 0 ] &&
	cmp -s "$GEN/openbao-init.json" "$TMP/init.stale" && ! ls "$GEN"/openbao-init.json.replaced-* >/dev/null 2>&1 &&
	cmp -s "$ENVF" "$TMP/env.fault"; then
	pass bootstrap-secrets-key-shares-3-threshold-1-refused-first
else
	fail bootstrap-secrets-key-shares-3-threshold-1-refused-first "rc=$rc requests=$reqs $(cat "$OUT/shares3.err") $(ls "$GEN")"
fi
rm -f "$GEN/openbao-init.json"

fault_case bootstrap-secrets-500-midway POST /v1/sys/mounts/ 500 1 "POST /v1/sys/mounts/secret: HTTP 500: internal error"
fault_case bootstrap-secrets-drop-midway POST /v1/auth/approle/role/aegis-platform/secret-id drop 1 \
	"POST /v1/auth/approle/role/aegis-platform/secret-id: connection to 127.0.0.1:"
fault_case bootstrap-secrets-persistent-500-on-read GET /v1/sys/policies/ 500 20 "GET /v1/sys/policies/acl/aegis-platform: HTTP 500"

# a single 500 or dropped connection on a read is retried
fresh_bao
api "$PORT_bao" POST /_test/fault '{"method":"GET","path_prefix":"/v1/sys/auth","action":"drop","count":1}' >/dev/null
api "$PORT_bao" POST /_test/fault '{"method":"GET","path_prefix":"/v1/sys/mounts","action":"500","count":1}' >/dev/null
run retry --profile minimal bootstrap-secrets
if [ $rc -eq 0 ] && [ "$(count "$PORT_bao" 'r["path"]=="/v1/sys/auth" and r["status"] is None')" = 1 ] &&
	[ "$(count "$PORT_bao" 'r["path"]=="/v1/sys/mounts" and r["status"]==500')" = 1 ]; then
	pass bootstrap-secrets-read-retried-after-drop-and-500
else
	fail bootstrap-secrets-read-retried-after-drop-and-500 "rc=$rc $(cat "$OUT/retry.err")"
fi
# sys/init is never retried: its answer is the only copy of the keys
fresh_bao
api "$PORT_bao" POST /_test/fault '{"method":"PUT","path_prefix":"/v1/sys/init","action":"drop","count":1}' >/dev/null
run initdrop --profile minimal bootstrap-secrets
if [ $rc -eq 1 ] && [ "$(count "$PORT_bao" 'r["path"]=="/v1/sys/init" and r["method"]=="PUT"')" = 1 ] &&
	grep -qF "PUT /v1/sys/init" "$OUT/initdrop.err" && [ ! -e "$GEN/openbao-init.json" ]; then
	pass bootstrap-secrets-init-not-retried
else
	fail bootstrap-secrets-init-not-retried "rc=$rc $(cat "$OUT/initdrop.err")"
fi
# the settled state for the rest
fresh_bao
run settle --profile minimal bootstrap-secrets
[ $rc -eq 0 ] || fail bootstrap-secrets-settle "rc=$rc $(cat "$OUT/settle.err")"

# --- stale credentials are replaced ---------------------------------------------------------
sed -i "s|^OPENBAO_SECRET_ID=[^ ]*|OPENBAO_SECRET_ID=00000000-0000-4000-8000-000000000000|" "$ENVF"
cp "$ENVF" "$TMP/env.stale"
old_role=$(envval "$ENVF" OPENBAO_ROLE_ID)
run stale --profile minimal bootstrap-secrets
if [ $rc -eq 0 ] && grep -q "no longer log in" "$OUT/stale.out" &&
	[ "$(envval "$ENVF" OPENBAO_ROLE_ID)" = "$old_role" ] &&
	only_keys_changed "$TMP/env.stale" "$ENVF" OPENBAO_SECRET_ID >/dev/null 2>&1; then
	pass bootstrap-secrets-invalid-credentials-renewed
else
	fail bootstrap-secrets-invalid-credentials-renewed "rc=$rc $(cat "$OUT/stale.err" "$OUT/stale.out")"
fi

# --- OIDC waits for Keycloak ---------------------------------------------------------------
run oidc-pending --profile development bootstrap-secrets --json
if [ $rc -eq 0 ] && json_get "$OUT/oidc-pending.out" 'd["oidc_pending"]' | grep -q True; then
	pass bootstrap-secrets-oidc-pending-before-keycloak
else
	fail bootstrap-secrets-oidc-pending-before-keycloak "rc=$rc $(cat "$OUT/oidc-pending.err")"
fi

# --- Keycloak --------------------------------------------------------------------------------
kc_admin() { # METHOD PATH [JSON]: an admin API call to the Keycloak test server; prints status and body
	"$PY" - "$PORT_kc" "$KC_PASS" "$@" <<'EOF2'
import json, sys, urllib.error, urllib.parse, urllib.request
port, password, method, path = sys.argv[1:5]
base = "http://127.0.0.1:%s" % port
form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli", "username": "admin",
                               "password": password}).encode()
with urllib.request.urlopen(base + "/realms/master/protocol/openid-connect/token", form, timeout=10) as r:
    token = json.load(r)["access_token"]
data = sys.argv[5].encode() if len(sys.argv) > 5 else None
rq = urllib.request.Request(base + path, data, method=method,
                            headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
try:
    with urllib.request.urlopen(rq, timeout=10) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
EOF2
}
cp "$ENVF" "$TMP/env.kc"
run kc-fresh bootstrap-keycloak --json
kc_writes() { count "$PORT_kc" 'r["method"] in ("POST","PUT","DELETE","PATCH") and r["path"].startswith("/admin/")'; }
if [ $rc -eq 0 ] && [ "$(count "$PORT_kc" 'r["method"]=="POST" and r["path"]=="/admin/realms"')" = 1 ] &&
	[ "$(count "$PORT_kc" 'r["method"]=="POST" and r["path"]=="/admin/realms/aegis-system/clients"')" = 5 ] &&
	[ "$(count "$PORT_kc" 'r["method"]=="POST" and r["path"].endswith("/protocol-mappers/models")')" = 5 ] &&
	[ "$(count "$PORT_kc" 'r["method"]=="POST" and r["path"]=="/admin/realms/aegis-system/roles"')" = 3 ] &&
	[ "$(count "$PORT_kc" 'r["method"]=="POST" and r["path"]=="/admin/realms/aegis-system/users"')" = 1 ] &&
	[ "$(count "$PORT_kc" 'r["method"]=="POST" and r["path"].endswith("/role-mappings/realm")')" = 1 ] &&
	json_get "$OUT/kc-fresh.out" 'd["changed"]==0 and d["unchanged"]==0 and d["env_changed"]==["OIDC_CLIENT_SECRET","TEMPORAL_WORKER_CLIENT_SECRET"]' | grep -q True; then
	pass bootstrap-keycloak-fresh-apply
else
	fail bootstrap-keycloak-fresh-apply "rc=$rc $(cat "$OUT/kc-fresh.err") $(head -c 800 "$OUT/kc-fresh.out")"
fi
CLIENT_SECRET=$(envval "$ENVF" OIDC_CLIENT_SECRET)
if [ -n "$CLIENT_SECRET" ] && only_keys_changed "$TMP/env.kc" "$ENVF" OIDC_CLIENT_SECRET TEMPORAL_WORKER_CLIENT_SECRET >/dev/null 2>&1 &&
	[ "$(mode_of "$GEN/keycloak-clients.env")" = 600 ] && [ "$(mode_of "$GEN/keycloak-passwords.json")" = 600 ] &&
	grep -q "^OIDC_CLIENT_SECRET=$CLIENT_SECRET$" "$GEN/keycloak-clients.env"; then
	pass bootstrap-keycloak-client-secret-stored
else
	fail bootstrap-keycloak-client-secret-stored "$(diff "$TMP/env.kc" "$ENVF") $(ls -la "$GEN")"
fi
ADMIN_PW=$(json_get "$GEN/keycloak-passwords.json" 'd["aegis-system"]["aegis-admin"]')
# the generated password works: a token for the user from its realm
tok=$("$PY" - "$PORT_kc" "$ADMIN_PW" <<'EOF'
import sys, urllib.request, urllib.parse
data = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli",
                               "username": "aegis-admin", "password": sys.argv[2]}).encode()
try:
    with urllib.request.urlopen("http://127.0.0.1:%s/realms/aegis-system/protocol/openid-connect/token" % sys.argv[1], data, timeout=10) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
EOF
)
[ "$tok" = 200 ] && pass bootstrap-keycloak-user-password-works || fail bootstrap-keycloak-user-password-works "$tok"

# Keycloak 24 drops a user attribute its user profile does not declare
# (kube/iam/realm.yaml, user_profile): aegis_role is declared, admin-only,
# and so kept on the declared user.
profile=$(kc_admin GET /admin/realms/aegis-system/users/profile)
user=$(kc_admin GET '/admin/realms/aegis-system/users?username=aegis-admin&exact=true')
if [ "$(count "$PORT_kc" 'r["method"]=="PUT" and r["path"]=="/admin/realms/aegis-system/users/profile"')" = 1 ] &&
	printf '%s' "${profile#* }" | "$PY" -c '
import json, sys
a = [a for a in json.load(sys.stdin)["attributes"] if a["name"] == "aegis_role"]
sys.exit(0 if a and a[0]["permissions"] == {"view": ["admin"], "edit": ["admin"]} else 1)' 2>/dev/null &&
	printf '%s' "${user#* }" | "$PY" -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)[0]["attributes"]["aegis_role"] == ["aegis:admin"] else 1)' 2>/dev/null; then
	pass bootstrap-keycloak-user-profile-keeps-aegis-role
else
	fail bootstrap-keycloak-user-profile-keeps-aegis-role "profile: $profile; user: $user"
fi
# Without the declaration (a copy of the realm), a fresh Keycloak keeps no
# aegis_role (the test server drops it as Keycloak 24 does, with a 201), and
# bootstrap-keycloak says so and exits 1.
NOUP=$TMP/no-user-profile
mkdir -p "$NOUP"
cp -r "$ROOT/kube" "$NOUP/kube"
ln -s "$ROOT/profiles" "$NOUP/profiles"
"$PY" - "$NOUP/kube/iam/realm.yaml" <<'EOF2'
import re, sys
p = sys.argv[1]
s = open(p).read()
s2 = re.sub(r"\n    user_profile:\n(      .*\n|\n)*", "\n", s)
assert s2 != s, "no user_profile block"
open(p, "w").write(s2)
EOF2
KC3_PORT=$(free_port)
KEYCLOAK_ADMIN_PASSWORD=$KC_PASS KC_HOSTNAME_URL=http://127.0.0.1:$KC3_PORT SERVER_PORT=$KC3_PORT start_server kc3 keycloak.py
cp "$ENVF" "$TMP/env.noup"
KEYCLOAK_URL=http://127.0.0.1:$KC3_PORT KEYCLOAK_PUBLIC_URL=http://127.0.0.1:$KC3_PORT \
	"$AEGIS_BIN" --root "$NOUP" --env "$TMP/env.noup" bootstrap-keycloak >"$OUT/kc-noup.out" 2>"$OUT/kc-noup.err"; rc=$?
user=$(PORT_kc=$KC3_PORT kc_admin GET '/admin/realms/aegis-system/users?username=aegis-admin&exact=true')
if [ $rc -eq 1 ] && grep -q "realm aegis-system user aegis-admin: Keycloak did not keep the attribute aegis_role .*declare it under user_profile of realm aegis-system in kube/iam/realm.yaml" "$OUT/kc-noup.err" &&
	printf '%s' "${user#* }" | "$PY" -c '
import json, sys
u = json.load(sys.stdin)[0]
sys.exit(0 if u["username"] == "aegis-admin" and "aegis_role" not in (u.get("attributes") or {}) else 1)' 2>/dev/null; then
	pass bootstrap-keycloak-undeclared-attribute-dropped
else
	fail bootstrap-keycloak-undeclared-attribute-dropped "rc=$rc $(cat "$OUT/kc-noup.err") user: $user"
fi

api "$PORT_kc" POST /_test/reset >/dev/null
cp "$ENVF" "$TMP/env.kc2"
run kc-again bootstrap-keycloak --json
w=$(kc_writes)
if [ $rc -eq 0 ] && [ "$w" = 0 ] && cmp -s "$ENVF" "$TMP/env.kc2" &&
	json_get "$OUT/kc-again.out" 'd["created"]+d["changed"]' | grep -qx 0; then
	pass bootstrap-keycloak-reapply-zero-writes
else
	fail bootstrap-keycloak-reapply-zero-writes "rc=$rc writes=$w $(cat "$OUT/kc-again.err")"
fi

# A changed declaration: realm display name, one client's redirect URIs and
# one protocol mapper's config.
CROOT=$TMP/changed
mkdir -p "$CROOT"
cp -r "$ROOT/kube" "$CROOT/kube"
ln -s "$ROOT/profiles" "$CROOT/profiles"
sed -i 's|displayName: AEGIS platform|displayName: AEGIS platform (changed)|;s|http://localhost:8250/oidc/callback|http://localhost:8251/oidc/callback|;/clientId: aegis-cli/,$ s|userinfo.token.claim: "true"|userinfo.token.claim: "false"|' "$CROOT/kube/iam/realm.yaml"
api "$PORT_kc" POST /_test/reset >/dev/null
"$AEGIS_BIN" --root "$CROOT" --env "$ENVF" bootstrap-keycloak --json >"$OUT/kc-changed.out" 2>"$OUT/kc-changed.err"; rc=$?
w=$(kc_writes)
if [ $rc -eq 0 ] && [ "$w" = 3 ] &&
	[ "$(count "$PORT_kc" 'r["method"]=="PUT" and r["path"]=="/admin/realms/aegis-system"')" = 1 ] &&
	[ "$(count "$PORT_kc" 'r["method"]=="PUT" and r["path"].startswith("/admin/realms/aegis-system/clients/") and "/protocol-mappers/" not in r["path"]')" = 1 ] &&
	[ "$(count "$PORT_kc" 'r["method"]=="PUT" and "/protocol-mappers/models/" in r["path"]')" = 1 ] &&
	json_get "$OUT/kc-changed.out" '[i["item"] for i in d["items"] if i["result"]=="changed"]' |
		grep -qx "\['realm aegis-system', 'realm aegis-system client aegis-openbao', 'realm aegis-system client aegis-cli mapper aegis_role'\]"; then
	pass bootstrap-keycloak-changed-declaration-updates-only-that
else
	fail bootstrap-keycloak-changed-declaration-updates-only-that "rc=$rc writes=$w $(cat "$OUT/kc-changed.err")"
fi

# bad admin password: a clear 401
KEYCLOAK_ADMIN_PASSWORD=wrong-password A bootstrap-keycloak >"$OUT/kc-bad.out" 2>"$OUT/kc-bad.err"; rc=$?
if [ $rc -eq 1 ] && grep -q "HTTP 401: Invalid user credentials" "$OUT/kc-bad.err" &&
	grep -q "KEYCLOAK_ADMIN_PASSWORD" "$OUT/kc-bad.err" && ! grep -q wrong-password "$OUT/kc-bad.err"; then
	pass bootstrap-keycloak-bad-admin-password-401
else
	fail bootstrap-keycloak-bad-admin-password-401 "rc=$rc $(cat "$OUT/kc-bad.err")"
fi

# a 500 in the middle (back to the repository's declaration: the realm is
# updated again): exit 1, the endpoint named, .env and generated/ untouched
cp "$ENVF" "$TMP/env.kc3"
cp -a "$GEN" "$TMP/gen.kc3"
api "$PORT_kc" POST /_test/fault '{"method":"PUT","path_prefix":"/admin/realms/aegis-system","action":"500","count":10}' >/dev/null
run kc-500 bootstrap-keycloak
api "$PORT_kc" POST /_test/reset >/dev/null
if [ $rc -eq 1 ] && grep -q "PUT /admin/realms/aegis-system: HTTP 500" "$OUT/kc-500.err" && cmp -s "$ENVF" "$TMP/env.kc3" &&
	diff -r "$GEN" "$TMP/gen.kc3" >/dev/null && no_partial; then
	pass bootstrap-keycloak-500-midway
else
	fail bootstrap-keycloak-500-midway "rc=$rc $(cat "$OUT/kc-500.err")"
fi

# a dropped connection on a create (a role added to the changed declaration):
# POST is not retried; exit 1 naming it, .env and generated/ untouched
"$PY" - "$CROOT/kube/iam/realm.yaml" <<'EOF2'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace('    roles:\n', '    roles:\n      - name: "aegis:auditor"\n        description: AEGIS auditor\n', 1)
open(p, "w").write(s)
EOF2
cp "$ENVF" "$TMP/env.kc4"
rm -rf "$TMP/gen.kc4"; cp -a "$GEN" "$TMP/gen.kc4"
api "$PORT_kc" POST /_test/fault '{"method":"POST","path_prefix":"/admin/realms/aegis-system/roles","action":"drop","count":1}' >/dev/null
"$AEGIS_BIN" --root "$CROOT" --env "$ENVF" bootstrap-keycloak >"$OUT/kc-drop.out" 2>"$OUT/kc-drop.err"; rc=$?
posts=$(count "$PORT_kc" 'r["method"]=="POST" and r["path"]=="/admin/realms/aegis-system/roles"')
api "$PORT_kc" POST /_test/reset >/dev/null
if [ $rc -eq 1 ] && grep -q "POST /admin/realms/aegis-system/roles: connection to 127.0.0.1:$PORT_kc dropped" "$OUT/kc-drop.err" &&
	[ "$posts" = 1 ] && cmp -s "$ENVF" "$TMP/env.kc4" && diff -r "$GEN" "$TMP/gen.kc4" >/dev/null && no_partial; then
	pass bootstrap-keycloak-drop-midway
else
	fail bootstrap-keycloak-drop-midway "rc=$rc posts=$posts $(cat "$OUT/kc-drop.err")"
fi

# --show-passwords, and only then
run kc-show bootstrap-keycloak --show-passwords
if [ $rc -eq 0 ] && grep -qF -- "$ADMIN_PW" "$OUT/kc-show.out" && ! grep -qF -- "$ADMIN_PW" "$OUT/kc-again.out"; then
	pass bootstrap-keycloak-show-passwords
else
	fail bootstrap-keycloak-show-passwords "rc=$rc"
fi
mv "$OUT/kc-show.out" "$TMP/kc-show.out"

# --- OpenBao OIDC, now that Keycloak gave the client secret -------------------------------
api "$PORT_bao" POST /_test/reset >/dev/null
run oidc --profile development bootstrap-secrets --json
cfg=$(api "$PORT_bao" GET /_test/requests)
if [ $rc -eq 0 ] && json_get "$OUT/oidc.out" '[i["item"] for i in d["items"] if i["result"]=="created"]' |
	grep -q "auth method oidc/.*policy aegis-platform-admin.*OIDC configuration.*OIDC role platform-admin" &&
	[ "$(mode_of "$GEN/openbao-oidc.json")" = 600 ]; then
	pass bootstrap-secrets-oidc-configured
else
	fail bootstrap-secrets-oidc-configured "rc=$rc $(cat "$OUT/oidc.err") $(head -c 600 "$OUT/oidc.out")"
fi
api "$PORT_bao" POST /_test/reset >/dev/null
run oidc-again --profile development bootstrap-secrets --json
writes=$(count "$PORT_bao" 'r["method"] not in ("GET","HEAD","LIST") and r["path"]!="/v1/auth/approle/login"')
if [ $rc -eq 0 ] && [ "$writes" = 0 ] && json_get "$OUT/oidc-again.out" 'd["created"]+d["changed"]' | grep -qx 0; then
	pass bootstrap-secrets-oidc-rerun-unchanged
else
	fail bootstrap-secrets-oidc-rerun-unchanged "rc=$rc writes=$writes"
fi

# --- OIDC login end to end ----------------------------------------------------------------
# What an operator's browser does: OpenBao's auth_url for the declared role and
# its UI callback, Keycloak's login page through the public URL with the
# declared user (aegis-admin, password generated by bootstrap-keycloak), the
# redirect back with a code, OpenBao's callback exchanging it: an OpenBao token
# with the role's policies.
OPENBAO_ADDR_NOW=$(envval "$ENVF" OPENBAO_ADDR)
# oidc_login USER PASSWORD [ROLE]: the policies of the OpenBao token, or why not
cat >"$TMP/oidc-login.py" <<'EOF2'
import html, json, re, sys, urllib.error, urllib.parse, urllib.request
bao, public, username, password = sys.argv[1:5]
role = sys.argv[5] if len(sys.argv) > 5 else "platform-admin"
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None
web = urllib.request.build_opener(NoRedirect)
def call(method, url, data=None, form=None, token=None):
    headers = {}
    if form is not None:
        data, headers["Content-Type"] = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    elif data is not None:
        data, headers["Content-Type"] = json.dumps(data).encode(), "application/json"
    if token:
        headers["X-Vault-Token"] = token
    try:
        with web.open(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=20) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers
callback = bao + "/ui/vault/auth/oidc/oidc/callback"
st, body, _ = call("POST", bao + "/v1/auth/oidc/oidc/auth_url", {"role": role, "redirect_uri": callback})
auth_url = json.loads(body)["data"]["auth_url"] if st == 200 else ""
if not auth_url.startswith(public + "/realms/aegis-system/protocol/openid-connect/auth?"):
    sys.exit("auth_url %d %r is not under the public URL %s" % (st, auth_url or body, public))
st, page, _ = call("GET", auth_url)
m = re.search(r'<form id="kc-form-login" action="([^"]+)"', page)
if st != 200 or not m:
    sys.exit("login page: %d %s" % (st, page[:200]))
st, _, h = call("POST", html.unescape(m.group(1)), form={"username": username, "password": password})
location = h.get("Location") or ""
if st != 302 or not location.startswith(callback + "?"):
    sys.exit("login: %d, Location %r" % (st, location))
st, body, _ = call("GET", bao + "/v1/auth/oidc/oidc/callback?" + urllib.parse.urlsplit(location).query)
if st != 200:
    sys.exit("callback: %d %s" % (st, body))
token = json.loads(body)["auth"]["client_token"]
st, body, _ = call("GET", bao + "/v1/auth/token/lookup-self", token=token)
print(" ".join(json.loads(body)["data"]["policies"]))
EOF2
oidc_login() { "$PY" "$TMP/oidc-login.py" "$OPENBAO_ADDR_NOW" "$KC_PUBLIC" "$@" 2>&1; }
login=$(oidc_login aegis-admin "$ADMIN_PW")
if [ "$login" = "aegis-platform-admin default" ]; then
	pass bootstrap-oidc-login-end-to-end
else
	fail bootstrap-oidc-login-end-to-end "$login"
fi

# The role binds the audience and the operator's aegis_role (OpenBao checks
# both at the callback): another user of the realm, an aegis:operator, is
# refused, as is a role bound to another audience.
ROOT_TOKEN=$(json_get "$GEN/openbao-init.json" 'd["root_token"]')
bao_api() { # METHOD PATH [JSON] as root; prints status and body
	"$PY" - "$OPENBAO_ADDR_NOW" "$ROOT_TOKEN" "$@" <<'EOF2'
import sys, urllib.error, urllib.request
addr, token, method, path = sys.argv[1:5]
data = sys.argv[5].encode() if len(sys.argv) > 5 else None
rq = urllib.request.Request(addr + path, data, method=method, headers={"X-Vault-Token": token})
try:
    with urllib.request.urlopen(rq, timeout=10) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
EOF2
}
role=$(bao_api GET /v1/auth/oidc/role/platform-admin)
if printf '%s' "${role#* }" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)["data"]
sys.exit(0 if d["bound_audiences"] == ["aegis-openbao"] and d["bound_claims"] == {"aegis_role": ["aegis:admin"]}
         and d["bound_claims_type"] == "string" else 1)' 2>/dev/null; then
	pass bootstrap-oidc-role-bound
else
	fail bootstrap-oidc-role-bound "$role"
fi
OP_PW=op-$RANDOM-$RANDOM-password
kc_admin POST /admin/realms/aegis-system/users "{\"username\": \"op-test\", \"enabled\": true, \"email\": \"op@aegis.local\", \"emailVerified\": true, \"firstName\": \"Op\", \"lastName\": \"Erator\", \"attributes\": {\"aegis_role\": [\"aegis:operator\"]}, \"credentials\": [{\"type\": \"password\", \"value\": \"$OP_PW\", \"temporary\": false}]}" >"$OUT/op-user.out"
login=$(oidc_login op-test "$OP_PW")
case $login in
*'callback: 400'*'error validating claims: claim \"aegis_role\" does not match any associated bound claim values'*)
	pass bootstrap-oidc-login-non-admin-refused ;;
*) fail bootstrap-oidc-login-non-admin-refused "$login ($(cat "$OUT/op-user.out"))" ;;
esac
bao_api POST /v1/auth/oidc/role/other-audience '{"role_type": "oidc", "user_claim": "sub", "bound_audiences": ["aegis-orchestrator"], "token_policies": ["aegis-platform-admin"], "allowed_redirect_uris": ["'"$OPENBAO_ADDR_NOW"'/ui/vault/auth/oidc/oidc/callback"]}' >"$OUT/other-aud.out"
login=$(oidc_login aegis-admin "$ADMIN_PW" other-audience)
case $login in
*'callback: 400'*'aud'*) pass bootstrap-oidc-login-wrong-audience-refused ;;
*) fail bootstrap-oidc-login-wrong-audience-refused "$login ($(cat "$OUT/other-aud.out"))" ;;
esac
bao_api DELETE /v1/auth/oidc/role/other-audience >/dev/null

# The failure the public URL prevents: a Keycloak whose frontend hostname is
# not the URL OpenBao was given (here pod-iam:8180, a name only the pod
# network knows) issues tokens OpenBao cannot accept, so the config write
# already fails, with OpenBao's terse text.
KC2_PORT=$(free_port)
KEYCLOAK_ADMIN_PASSWORD=$KC_PASS KC_HOSTNAME_URL=http://pod-iam:8180 SERVER_PORT=$KC2_PORT start_server kc2 keycloak.py
"$PY" - "$KC2_PORT" "$KC_PASS" <<'EOF2'
import json, sys, urllib.parse, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli", "username": "admin",
                               "password": sys.argv[2]}).encode()
with urllib.request.urlopen(base + "/realms/master/protocol/openid-connect/token", form, timeout=10) as r:
    token = json.load(r)["access_token"]
rq = urllib.request.Request(base + "/admin/realms", json.dumps({"realm": "aegis-system", "enabled": True}).encode(),
                            headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
urllib.request.urlopen(rq, timeout=10).close()
EOF2
cp "$ENVF" "$TMP/env.kc2"
KEYCLOAK_PUBLIC_URL=http://127.0.0.1:$KC2_PORT A --profile development bootstrap-secrets >"$OUT/oidc-mismatch.out" 2>"$OUT/oidc-mismatch.err"; rc=$?
if [ $rc -eq 1 ] && grep -q "POST /v1/auth/oidc/config: HTTP 400: error checking oidc discovery URL" "$OUT/oidc-mismatch.err" &&
	cmp -s "$ENVF" "$TMP/env.kc2"; then
	pass bootstrap-oidc-issuer-not-the-public-url-refused
else
	fail bootstrap-oidc-issuer-not-the-public-url-refused "rc=$rc $(cat "$OUT/oidc-mismatch.err")"
fi

# --- TLS: verified against the system's CAs, or --cacert / AEGIS_CACERT ------------------
# A private CA and an https endpoint answering sys/health like an active
# OpenBao; with the CA, bootstrap gets past TLS (and stops at the missing
# root token, there being no init file for this one).
mkdir -p "$TMP/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/tls/key.pem" -out "$TMP/tls/cert.pem" >/dev/null 2>&1
"$PY" - "$TMP/tls" <<'EOF2' 2>>"$TMP/tls.log" &
import http.server, json, os, ssl, sys
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"initialized": True, "sealed": False, "standby": False}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(os.path.join(d, "port.tmp"), "w").write(str(srv.server_address[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
srv.serve_forever()
EOF2
PIDS+=($!)
for _ in $(seq 100); do [ -s "$TMP/tls/port" ] && break; sleep 0.1; done
TLS_ADDR=https://127.0.0.1:$(cat "$TMP/tls/port" 2>/dev/null)
mkdir -p "$TMP/tlsroot"
ln -s "$ROOT/kube" "$TMP/tlsroot/kube"
ln -s "$ROOT/profiles" "$TMP/tlsroot/profiles"
T() { OPENBAO_ADDR=$TLS_ADDR "$AEGIS_BIN" --root "$TMP/tlsroot" --env "$ENVF" --profile minimal bootstrap-secrets --timeout 1 "$@"; }
T >"$OUT/tls-noca.out" 2>"$OUT/tls-noca.err"; r1=$?
T --cacert "$TMP/tls/cert.pem" >"$OUT/tls-ca.out" 2>"$OUT/tls-ca.err"; r2=$?
AEGIS_CACERT=$TMP/tls/cert.pem T >"$OUT/tls-env.out" 2>"$OUT/tls-env.err"; r3=$?
if [ $r1 -eq 1 ] && grep -qi "certificate" "$OUT/tls-noca.err" &&
	[ $r2 -eq 1 ] && grep -q "root token) is missing" "$OUT/tls-ca.err" &&
	[ $r3 -eq 1 ] && grep -q "root token) is missing" "$OUT/tls-env.err"; then
	pass bootstrap-tls-verified-with-private-ca
else
	fail bootstrap-tls-verified-with-private-ca "$r1 $r2 $r3: $(cat "$OUT/tls-noca.err" "$OUT/tls-ca.err" "$OUT/tls-env.err")"
fi

# --- a wiped OpenBao (new volume) with the old init file still here ------------------------
OLD_ROOT=$(json_get "$GEN/openbao-init.json" 'd["root_token"]')
kill "$PID_bao"; wait "$PID_bao" 2>/dev/null
rm -f "$TMP/bao.state"
start_server bao openbao.py --state "$TMP/bao.state"
sed -i "s|^OPENBAO_ADDR=.*|OPENBAO_ADDR=http://127.0.0.1:$PORT_bao|" "$ENVF"
run reinit --profile minimal bootstrap-secrets
aside=$(ls "$GEN"/openbao-init.json.replaced-* 2>/dev/null | head -1)
if [ $rc -eq 0 ] && [ -n "$aside" ] && grep -qF -- "$OLD_ROOT" "$aside" && [ "$(mode_of "$aside")" = 600 ] &&
	! grep -qF -- "$OLD_ROOT" "$GEN/openbao-init.json" && grep -q "moved to" "$OUT/reinit.out" &&
	grep -q "no longer log in" "$OUT/reinit.out"; then
	pass bootstrap-secrets-new-openbao-keeps-old-init-file
else
	fail bootstrap-secrets-new-openbao-keeps-old-init-file "rc=$rc aside=$aside $(cat "$OUT/reinit.err")"
fi

# --- no secret in any output ---------------------------------------------------------------
secrets=("$OLD_ROOT"
	"$(json_get "$GEN/openbao-init.json" 'd["root_token"]')"
	"$(json_get "$GEN/openbao-init.json" 'd["keys"][0]')"
	"$(json_get "$GEN/openbao-init.json" 'd["keys_base64"][0]')"
	"$(envval "$ENVF" OPENBAO_SECRET_ID)" "$SECRET_ID"
	"$CLIENT_SECRET" "$ADMIN_PW" "$KC_PASS"
)
leaks=""
for s in "${secrets[@]}"; do
	[ -n "$s" ] || { leaks="$leaks (empty secret)"; continue; }
	if grep -rlF -- "$s" "$OUT" >/dev/null; then leaks="$leaks $(grep -rlF -- "$s" "$OUT" | xargs -n1 basename | tr '\n' ' ')"; fi
done
if [ -z "$leaks" ] && [ "$(ls "$OUT" | wc -l)" -gt 40 ]; then
	pass bootstrap-no-secret-in-output
else
	fail bootstrap-no-secret-in-output "found in:$leaks"
fi
exit 0
