#!/usr/bin/env bash
# rotate VARIABLE on the isolated test Podman: the real PostgreSQL of the
# demo image in pod-database, the OpenBao test server (tests/servers/
# openbao.py) in pod-secrets, the runtime stand-in in pod-core (it connects
# to the database and logs in to OpenBao with the AppRole credentials as it
# starts).
#  - rotate POSTGRES_PASSWORD: psql over TCP accepts the new value and
#    refuses the old; pod-core is replaced, ready, and connected again; the
#    revision names the variable; the pending file is gone;
#  - neither value appears in the history repository (git grep of every
#    revision), the command's output, the pods' logs, nor any process's argv
#    (sampled from /proc/*/cmdline while everything runs);
#  - a hand edit of POSTGRES_PASSWORD in .env: deploy refuses (exit 2) naming
#    the variable, its .env line, the pod and volume and the rotate command,
#    and nothing is changed (same containers);
#  - rotate OPENBAO_SECRET_ID: the old secret-id is refused by OpenBao, the
#    new one is in .env and pod-core logged in with it;
#  - kill sample: rotate POSTGRES_PASSWORD killed (SIGKILL) once the pending
#    value is saved, once the service took it (.env updated), and once the
#    rollout replaced pod-database; each time a second run converges and
#    psql accepts the final value.
# Not covered: KEYCLOAK_ADMIN_PASSWORD and GRAFANA_ADMIN_PASSWORD (their
# functions live in credential_http.c); a kill between OpenBao issuing a
# secret-id and its saving (a secret-id nobody knows stays valid).
# test-images: demo
# time-limit: 600
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(rotate-deploy rotate-pg-new-accepted rotate-pg-old-refused rotate-core-reconnected
	rotate-history-revision rotate-no-value-leaked rotate-hand-edit-refused
	rotate-openbao-secret-id rotate-kill-after-pending rotate-kill-after-service
	rotate-kill-mid-rollout rotate-usage)
require_rootful_podman
for v in $(sed -n 's/^[[:space:]]*- name: \([A-Z0-9_]*\)$/\1/p' "$ROOT/kube/variables.yaml"); do
	unset "$v"
done
podman_test_stack_before_cleanup() { [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null; }
podman_bootstrap_stack
{
	echo "AEGIS_STATE_DIR=$TMP/state"
	echo "POSTGRES_IMAGE=localhost/aegis-demo/postgres:latest"
	echo "POSTGRES_EXPORTER_IMAGE=localhost/aegis-demo/postgres-exporter:latest"
	echo "AEGIS_RUNTIME_IMAGE=localhost/aegis-demo/runtime-standin:latest"
} >>"$ENV"
PROF=$TMP/rot.yaml
printf 'name: rot\ndescription: database, secrets and core (65-rotate)\npods: [database, secrets, core]\n' >"$PROF"
A() { "$AEGIS_BIN" --root "$ROOT" --env "$ENV" "$@"; }
val() { sed -n "s/^$1=//p" "$ENV" | tail -n 1; }
cid() { podman inspect --format '{{.Id}}' "$1" 2>/dev/null; }
ids() { podman ps -a --no-trunc --format '{{.Names}} {{.ID}}' | grep '^pod-' | sort; }
pg_ip() {
	podman inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' \
		"$(podman pod inspect --format '{{.InfraContainerID}}' pod-database)" 2>/dev/null
}
# psql over TCP to the pod's address with the password from our environment
# (podman exec -e NAME: the value is never an argument): ok, refused, or why
pg_login() {
	local out
	out=$(PGPASSWORD=$1 podman exec -e PGPASSWORD pod-database-postgres sh -c \
		'for d in /usr/lib/postgresql/*/bin; do [ -x "$d/psql" ] && PATH=$d:$PATH; done
		exec psql -X -w -h "$1" -U aegis -d aegis -Atc "SELECT 1"' sh "$(pg_ip)" 2>&1)
	case $out in
	1) echo ok ;;
	*"password authentication failed"*) echo refused ;;
	*) echo "error: $out" ;;
	esac
}
core_db() { podman logs pod-core-aegis-runtime 2>&1 | grep -c 'Database migrations applied'; }

# every distinct argv on the machine from now on (argv_sampler_start)
argv_sampler_start "$TMP/argv.txt"

t0=$(date +%s)
A deploy --profile "$PROF" --timeout 120 >"$TMP/d1.out" 2>&1; rc=$?
echo "   deploy: $(($(date +%s) - t0)) s"
if [ $rc -eq 0 ] && [ -n "$(val OPENBAO_SECRET_ID)" ] && [ "$(core_db)" -ge 1 ]; then
	pass rotate-deploy
else
	fail rotate-deploy "rc=$rc core db=$(core_db) $(tail -8 "$TMP/d1.out")"
fi

# usage: not rotatable, unknown, stdin refused for an issued value (exit 2)
A rotate AEGIS_NETWORK >"$TMP/u1.out" 2>&1; u1=$?
A rotate NOPE >"$TMP/u2.out" 2>&1; u2=$?
echo x | A rotate --value-from-stdin OPENBAO_SECRET_ID >"$TMP/u3.out" 2>&1; u3=$?
if [ $u1 -eq 2 ] && [ $u2 -eq 2 ] && [ $u3 -eq 2 ] && grep -q "POSTGRES_PASSWORD, KEYCLOAK_ADMIN_PASSWORD" "$TMP/u1.out" &&
	grep -q "cannot choose it" "$TMP/u3.out" && [ ! -e "$TMP/state/rotate/OPENBAO_SECRET_ID.pending" ]; then
	pass rotate-usage
else
	fail rotate-usage "rc $u1 $u2 $u3: $(cat "$TMP/u1.out" "$TMP/u3.out" | tail -3)"
fi

# --- rotate POSTGRES_PASSWORD --------------------------------------------------
pg_old=$(val POSTGRES_PASSWORD)
core_before=$(cid pod-core-aegis-runtime)
t0=$(date +%s)
A rotate --profile "$PROF" POSTGRES_PASSWORD --json >"$TMP/r1.json" 2>"$TMP/r1.err"; rc=$?
echo "   rotate POSTGRES_PASSWORD: $(($(date +%s) - t0)) s"
pg_new=$(val POSTGRES_PASSWORD)
new_login=$(pg_login "$pg_new")
old_login=$(pg_login "$pg_old")
if [ $rc -eq 0 ] && [ -n "$pg_new" ] && [ "$pg_new" != "$pg_old" ] && [ "$new_login" = ok ]; then
	pass rotate-pg-new-accepted
else
	fail rotate-pg-new-accepted "rc=$rc new: $new_login $(tail -5 "$TMP/r1.err")"
fi
if [ "$old_login" = refused ]; then pass rotate-pg-old-refused; else fail rotate-pg-old-refused "old: $old_login"; fi
A validate --profile "$PROF" >"$TMP/v1.out" 2>&1; vrc=$?
if [ $vrc -eq 0 ] && [ "$(cid pod-core-aegis-runtime)" != "$core_before" ] && [ "$(core_db)" -ge 1 ]; then
	pass rotate-core-reconnected
else
	fail rotate-core-reconnected "validate rc=$vrc core db=$(core_db) $(tail -4 "$TMP/v1.out")"
fi
rec=$(A history --json 2>/dev/null | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["revisions"][-1]
print(r["command"], r.get("rotated"), r["result"], ",".join(sorted(r["replaced"])))' 2>&1)
steps=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["result"], " ".join(s["step"] for s in d["steps"]))' "$TMP/r1.json" 2>&1)
if [ "$rec" = "rotate POSTGRES_PASSWORD ok core,database" ] &&
	[ "$steps" = "ok pending service .env pods done" ] && [ ! -e "$TMP/state/rotate/POSTGRES_PASSWORD.pending" ] &&
	[ "$(stat -c %a "$TMP/state/rotate")" = 700 ]; then
	pass rotate-history-revision
else
	fail rotate-history-revision "revision: $rec; steps: $steps"
fi

# --- a hand edit -------------------------------------------------------------------
ids >"$TMP/ids.before"
cp "$ENV" "$TMP/env.saved"
hand=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 30)
echo "POSTGRES_PASSWORD=$hand" >>"$ENV"
line=$(grep -c '' "$ENV")
A deploy --profile "$PROF" --timeout 60 >"$TMP/hand.out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "$ENV:$line: POSTGRES_PASSWORD differs from the value pod-database ran with" "$TMP/hand.out" &&
	grep -q "volume aegis-postgres-data" "$TMP/hand.out" &&
	grep -q "aegis-deploy rotate POSTGRES_PASSWORD --value-from-stdin" "$TMP/hand.out" &&
	grep -q "Nothing was changed" "$TMP/hand.out" && ids | cmp -s - "$TMP/ids.before" &&
	[ "$(pg_login "$pg_new")" = ok ]; then
	pass rotate-hand-edit-refused
else
	fail rotate-hand-edit-refused "rc=$rc $(tail -6 "$TMP/hand.out")"
fi
cp "$TMP/env.saved" "$ENV"

# --- rotate OPENBAO_SECRET_ID -------------------------------------------------------
bao_port=$(A config --json | "$PY" -c 'import json,sys; print(next(v["value"] for v in json.load(sys.stdin)["variables"] if v["name"]=="OPENBAO_PORT"))')
# an AppRole login (the values on curl's stdin, never in argv): the HTTP status
bao_login() {
	"$PY" -c 'import json,sys; print(json.dumps({"role_id": sys.stdin.readline().strip(), "secret_id": sys.stdin.readline().strip()}))' \
		<<<"$(val OPENBAO_ROLE_ID)
$1" | curl -s --max-time 10 -o /dev/null -w '%{http_code}' -X POST --data-binary @- "http://127.0.0.1:$bao_port/v1/auth/approle/login"
}
sid_old=$(val OPENBAO_SECRET_ID)
core_before=$(cid pod-core-aegis-runtime)
A rotate --profile "$PROF" OPENBAO_SECRET_ID >"$TMP/r2.out" 2>&1; rc=$?
sid_new=$(val OPENBAO_SECRET_ID)
old_code=$(bao_login "$sid_old")
new_code=$(bao_login "$sid_new")
if [ $rc -eq 0 ] && [ -n "$sid_new" ] && [ "$sid_new" != "$sid_old" ] && [ "$old_code" = 400 ] &&
	[ "$new_code" = 200 ] && [ "$(cid pod-core-aegis-runtime)" != "$core_before" ] &&
	A validate --profile "$PROF" >/dev/null 2>&1 && grep -q "retire" "$TMP/r2.out"; then
	pass rotate-openbao-secret-id
else
	fail rotate-openbao-secret-id "rc=$rc old login $old_code new login $new_code $(tail -5 "$TMP/r2.out")"
fi

# --- kill sample -------------------------------------------------------------------
# kill_at NAME CONDITION: rotate POSTGRES_PASSWORD killed (SIGKILL) as soon
# as CONDITION holds, then run again; the final value must log in
values=("$pg_old" "$pg_new")
kill_at() {
	local name=$1 cond=$2 before pid killed=no rc v
	before=$(val POSTGRES_PASSWORD)
	"$AEGIS_BIN" --root "$ROOT" --env "$ENV" rotate --profile "$PROF" POSTGRES_PASSWORD >"$TMP/k-$name.out" 2>&1 &
	pid=$!
	for _ in $(seq 1200); do
		if eval "$cond"; then
			kill -9 "$pid" 2>/dev/null && killed=yes
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	pend=$(test -e "$TMP/state/rotate/POSTGRES_PASSWORD.pending" && echo pending || echo none)
	A rotate --profile "$PROF" POSTGRES_PASSWORD >"$TMP/k-$name.rerun" 2>&1; rc=$?
	v=$(val POSTGRES_PASSWORD)
	values+=("$v")
	if [ "$killed" = yes ] && [ $rc -eq 0 ] && [ "$v" != "$before" ] && [ "$(pg_login "$v")" = ok ] &&
		[ "$(pg_login "$before")" = refused ] && grep -q "resumed the rotation" "$TMP/k-$name.rerun" &&
		[ ! -e "$TMP/state/rotate/POSTGRES_PASSWORD.pending" ] && A validate --profile "$PROF" >/dev/null 2>&1; then
		pass "rotate-kill-$name"
	else
		fail "rotate-kill-$name" "killed=$killed ($pend) rerun rc=$rc login $(pg_login "$v") $(tail -4 "$TMP/k-$name.rerun")"
	fi
}
kill_at after-pending '[ -e "$TMP/state/rotate/POSTGRES_PASSWORD.pending" ]'
kill_at after-service '[ "$(val POSTGRES_PASSWORD)" != "$before" ]'
db_before=$(cid pod-database-postgres)
kill_at mid-rollout '[ "$(val POSTGRES_PASSWORD)" != "$before" ] && [ "$(cid pod-database-postgres)" != "$db_before" ]'

# --- no value anywhere ---------------------------------------------------------------
argv_sampler_stop
for c in $(podman ps -a --format '{{.Names}}' | grep '^pod-'); do podman logs "$c" >>"$TMP/pod-logs.txt" 2>&1; done
leaks=
values+=("$sid_old" "$sid_new")
for v in "${values[@]}"; do
	[ -n "$v" ] || continue
	hits=
	grep -qF -- "$v" "$TMP/argv.txt" && hits="$hits argv"
	cat "$TMP"/*.out "$TMP"/*.err "$TMP"/*.rerun "$TMP"/*.json 2>/dev/null | grep -qF -- "$v" && hits="$hits output"
	grep -qF -- "$v" "$TMP/pod-logs.txt" && hits="$hits pod-logs"
	for r in $(git --git-dir="$TMP/state/history" rev-list --all 2>/dev/null); do
		git --git-dir="$TMP/state/history" grep -q -F -e "$v" "$r" 2>/dev/null && { hits="$hits history"; break; }
	done
	[ -n "$hits" ] && leaks="$leaks [${#v} chars:$hits]"
done
nrev=$(git --git-dir="$TMP/state/history" rev-list --all 2>/dev/null | wc -l)
if [ -z "$leaks" ] && [ "${#values[@]}" -ge 7 ] && [ "$nrev" -ge 5 ] && [ -s "$TMP/argv.txt" ]; then
	pass rotate-no-value-leaked
else
	fail rotate-no-value-leaked "values ${#values[@]}, revisions $nrev, found:$leaks"
fi
