# A Podman API that misbehaves, and a command stopped or killed while it runs
# its private Podman service (README, "Time bounds of the Podman API" and
# "Signals").  The fault sockets are served by tests/podman/fault-socket.py
# (a unix socket only); every case must fail within its documented bound with
# a message naming what was wrong.  The kill and SIGTERM cases use the
# isolated test Podman (tests/podman/env.sh).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

ENV=$TMP/.env
printf 'POSTGRES_PASSWORD=p\nKEYCLOAK_ADMIN_PASSWORD=k\nGRAFANA_ADMIN_PASSWORD=g\n' >"$ENV"
servers=()
cleanup() {
	for p in "${servers[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# fault MODE: a fault socket at $TMP/MODE.sock, its path in $sock (not in
# a subshell: the server must be ours to stop).
fault() {
	sock=$TMP/$1.sock
	"$PY" "$ROOT/tests/podman/fault-socket.py" "$1" "$sock" >"$TMP/$1.log" 2>&1 &
	servers+=($!)
	server=$!
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
}

# expect NAME MAX_S WANT_RC 'grep -E pattern' [! 'pattern it must not show'] -- COMMAND...
# COMMAND must exit WANT_RC within MAX_S seconds, its output (stderr, or the
# report on stdout) matching.
expect() {
	local name=$1 max=$2 want=$3 pat=$4 bad=
	shift 4
	if [ "$1" = '!' ]; then bad=$2; shift 2; fi
	[ "$1" = -- ] && shift
	local t0 t1 rc
	t0=$(date +%s.%N)
	timeout 60 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"; rc=$?
	t1=$(date +%s.%N)
	local took
	took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	local msg
	cat "$TMP/$name.out" >>"$TMP/$name.err"
	msg=$(grep -v '^ *$' "$TMP/$name.err" | tail -n 3 | tr '\n' ' ')
	if [ -n "${server:-}" ] && ! kill -0 "$server" 2>/dev/null; then
		fail "$name" "the fault server ended: $(tail -n 3 "$TMP"/*.log | tr '\n' ' ')"
	elif [ "$rc" -ne "$want" ]; then
		fail "$name" "exit $rc (want $want) after $took s: $msg"
	elif awk -v t="$took" -v m="$max" 'BEGIN { exit !(t > m) }'; then
		fail "$name" "took $took s (bound $max s): $msg"
	elif ! grep -Eq -- "$pat" "$TMP/$name.err"; then
		fail "$name" "message does not match /$pat/: $msg"
	elif [ -n "$bad" ] && grep -Eq -- "$bad" "$TMP/$name.err"; then
		fail "$name" "message matches /$bad/: $msg"
	else
		pass "$name"
		echo "   $name: exit $rc after $took s: $msg"
	fi
}
A() { aegis --env "$ENV" "$@"; }

# --- CONTAINER_SOCK is a regular file ---------------------------------------------
printf 'not a socket\n' >"$TMP/file.sock"
expect fault-regular-file-status 5 2 "$TMP/file.sock.*regular file, not a socket" \
	-- env CONTAINER_SOCK="$TMP/file.sock" "$AEGIS_BIN" --root "$ROOT" --env "$ENV" status
expect fault-regular-file-deploy 5 2 "$TMP/file.sock.*regular file" ! 'does not exist' \
	-- env CONTAINER_SOCK="$TMP/file.sock" "$AEGIS_BIN" --root "$ROOT" --env "$ENV" deploy --profile minimal

# --- a socket that accepts and never answers: the _ping bound (5 s) -------------------
fault silent
expect fault-silent-socket 9 1 "Podman API at $sock.*_ping.*no answer within 5 s" \
	-- env CONTAINER_SOCK="$sock" "$AEGIS_BIN" --root "$ROOT" --env "$ENV" status

# --- garbage instead of HTTP ------------------------------------------------------------
fault garbage
expect fault-garbage 5 1 "Podman API at $sock.*(not an HTTP answer|connection closed)" \
	-- env CONTAINER_SOCK="$sock" "$AEGIS_BIN" --root "$ROOT" --env "$ENV" status

# --- _ping sends its headers, never its body: a timeout, not "HTTP 200, not OK" ---------
fault slow-ping
expect fault-slow-ping 9 1 "Podman API at $sock.*_ping.*no complete answer within 5 s" ! 'not OK' \
	-- env CONTAINER_SOCK="$sock" "$AEGIS_BIN" --root "$ROOT" --env "$ENV" status

# --- _ping answers, then nothing: every command fails within the call bound -------------
# (AEGIS_PODMAN_TIMEOUT=3 instead of the default 30 s keeps this short)
fault stall
for cmd in status validate teardown deploy; do
	extra=()
	[ "$cmd" = teardown ] && extra=(--timeout 1)
	expect "fault-stall-after-ping-$cmd" 12 1 "podman API [A-Z]+ /libpod/.*\\(at $sock\\): no answer within 3 s" \
		-- env CONTAINER_SOCK="$sock" AEGIS_PODMAN_TIMEOUT=3 "$AEGIS_BIN" --root "$ROOT" --env "$ENV" \
		"$cmd" --profile minimal "${extra[@]}"
done

# --- SIGPIPE: a reader that went away is not a death mid-write ---------------------------
{ sleep 0.3; "$AEGIS_BIN" --root "$ROOT" --env "$ENV" plan --profile full; } | true
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 141 ] && [ "$rc" -lt 128 ]; then
	pass sigpipe-not-fatal
else
	fail sigpipe-not-fatal "plan into a closed pipe: exit $rc (141: killed by SIGPIPE)"
fi

# --- killed or stopped while the private service runs -----------------------------------
names=(kill-leaves-no-private-service sigterm-status-exit-143 sigterm-deploy-keeps-pods)
if [ "${AEGIS_FAULTS_ONLY:-}" = 1 ]; then
	exit 0
fi
require_rootful_podman

# leftovers PID...: the private services and directories of those commands
# still there (nothing printed: none)
leftovers() {
	local pid
	for pid in "$@"; do
		ls -d /tmp/aegis-podman-"$pid"-* 2>/dev/null
		pgrep -af "system service .*aegis-podman-$pid-" 2>/dev/null
	done
}
# gone_within S PID...: wait until nothing of those commands is left
gone_within() {
	local s=$1
	shift
	for _ in $(seq $((s * 10))); do
		[ -z "$(leftovers "$@")" ] && return 0
		sleep 0.1
	done
	return 1
}

# The reproduction of the issue, three times: SIGKILL 0.1 s after the start,
# then twice once the private service has been started.
killed=()
for i in 1 2 3; do
	CONTAINER_SOCK=/missing/podman.sock "$AEGIS_BIN" --root "$ROOT" --env "$ENV" status >/dev/null 2>&1 &
	pid=$!
	if [ "$i" -eq 1 ]; then
		sleep 0.1
	else
		for _ in $(seq 100); do pgrep -f "system service .*aegis-podman-$pid-" >/dev/null && break; sleep 0.05; done
	fi
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	killed+=("$pid")
done
if gone_within 15 "${killed[@]}"; then
	pass kill-leaves-no-private-service
else
	fail kill-leaves-no-private-service "left after 15 s: $(leftovers "${killed[@]}" | tr '\n' ' ')"
fi

# SIGTERM while the private service runs: exit 143, nothing left.
CONTAINER_SOCK=/missing/podman.sock "$AEGIS_BIN" --root "$ROOT" --env "$ENV" status >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do pgrep -f "system service .*aegis-podman-$pid-" >/dev/null && break; sleep 0.05; done
kill -TERM "$pid"
wait "$pid"
rc=$?
if [ "$rc" -eq 143 ] && gone_within 15 "$pid"; then
	pass sigterm-status-exit-143
else
	fail sigterm-status-exit-143 "exit $rc; left: $(leftovers "$pid" | tr '\n' ' ')"
fi

# SIGTERM during a deploy (a long-lived API service on a test socket, which
# the pods mount): exit 143, the pods already up stay up, no temporary file
# left in the generated directory.
podman_test_stack_before_cleanup() {
	for p in "${servers[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
podman_test_stack
echo "AEGIS_GENERATED_DIR=$TMP/generated" >>"$ENV"
A clean --yes >/dev/null 2>&1
A deploy --no-bootstrap --profile minimal --timeout 60 >"$TMP/deploy.out" 2>"$TMP/deploy.err" &
pid=$!
for _ in $(seq 600); do grep -q ': ready' "$TMP/deploy.err" 2>/dev/null && break; sleep 0.05; done
first=$(grep -m1 ': ready' "$TMP/deploy.err" | sed -E 's/.* pod ([a-z-]+): ready.*/\1/')
kill -TERM "$pid"
wait "$pid"
rc=$?
state=$(podman pod inspect "pod-$first" --format '{{.State}}' 2>&1)
tmpfiles=$(find "$TMP/generated" /tmp -maxdepth 2 \( -name '*.tmp.*' -o -name "aegis-podman-$pid-*" \) 2>/dev/null)
if [ "$rc" -eq 143 ] && [ -n "$first" ] && [ "$state" = Running ] && [ -z "$tmpfiles" ]; then
	pass sigterm-deploy-keeps-pods
else
	fail sigterm-deploy-keeps-pods "exit $rc, first ready pod '${first}' state '$state', temp files: $tmpfiles; $(tail -3 "$TMP/deploy.err" | tr '\n' ' ')"
fi
A clean --yes >/dev/null 2>&1
