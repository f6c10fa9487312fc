# The lock of the mutating commands against real Podman (isolated test
# Podman, stand-in images, minimal profile): two `deploy --replace` at once
# serialize and both succeed; deploy and teardown at once serialize and
# teardown's report matches what is left; the waiting command names the
# holder; --lock-timeout gives up naming it; a SIGKILLed holder blocks
# nobody; read-only commands never wait.  AEGIS_STATE_DIR is the test's own
# (lib.sh).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(lock-state-dir-private lock-readonly-no-wait lock-timeout-names-holder lock-replace-serialize
	lock-waiting-names-holder lock-deploy-teardown-serialize lock-killed-holder-releases)
require_rootful_podman

podman_test_stack
# A deploy that holds the lock for a while: OpenBao's stand-in answers after 8 s.
slow=$(standin_variant slow-8 STANDIN_READY_DELAY=8)
cp "$ENV" "$TMP/slow.env"
echo "OPENBAO_IMAGE=$slow" >>"$TMP/slow.env"
A() { aegis --env "$ENV" "$@"; }
LOCK=$AEGIS_STATE_DIR/lock

# wait_holder PID: until the lock file names PID as its holder (10 s at most)
wait_holder() {
	for _ in $(seq 100); do
		grep -q "(PID $1)" "$LOCK" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# slow_deploy OUT: a --replace deploy of the slow variant in the background
# (the binary itself, so $! is its PID); sets $holder
slow_deploy() {
	"$AEGIS_BIN" --root "$ROOT" --env "$TMP/slow.env" deploy --no-bootstrap --replace --profile minimal --timeout 60 >"$1" 2>&1 &
	holder=$!
	wait_holder "$holder"
}
took_since() { "$PY" -c "import sys,time; print('%.2f' % (time.time() - float(sys.argv[1])))" "$1"; }
lt() { "$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }

A clean --yes >/dev/null 2>&1
A deploy --no-bootstrap --profile minimal --timeout 60 >"$TMP/first.out" 2>&1 || echo "   first deploy failed: $(tail -3 "$TMP/first.out")"

mode() { stat -c %a "$1" 2>/dev/null; }
if [ "$(mode "$AEGIS_STATE_DIR")" = 700 ] && [ "$(mode "$LOCK")" = 600 ] && ! grep -q 'PID' <<<"$(A status --profile minimal 2>&1)"; then
	pass lock-state-dir-private
else
	fail lock-state-dir-private "state dir $(mode "$AEGIS_STATE_DIR"), lock $(mode "$LOCK")"
fi

# --- a holder; two replaces at once; read-only commands meanwhile --------------------
slow_deploy "$TMP/p1.out"; p1=$holder
A deploy --no-bootstrap --replace --profile minimal --timeout 60 >"$TMP/p2.out" 2>&1 &
p2=$!
t0=$(date +%s.%N)
A status --profile minimal >"$TMP/status.out" 2>&1; rc_s=$?
A plan --profile minimal >"$TMP/plan.out" 2>&1; rc_p=$?
ro=$(took_since "$t0")
# done while the holder (ready after 8 s at the earliest) still runs: they did not wait
if [ $rc_s -eq 0 ] && [ $rc_p -eq 0 ] && ! grep -qi 'waiting\|lock' "$TMP/status.out" "$TMP/plan.out" && kill -0 "$p1" 2>/dev/null; then
	pass lock-readonly-no-wait
else
	fail lock-readonly-no-wait "status rc=$rc_s plan rc=$rc_p took ${ro}s, holder running: $(kill -0 "$p1" 2>/dev/null && echo yes || echo no) $(head -3 "$TMP/status.out")"
fi

t0=$(date +%s.%N)
out=$(A --lock-timeout 1 teardown --profile minimal 2>&1); rc=$?
took=$(took_since "$t0")
if [ $rc -eq 1 ] && lt "$took" 4 && grep -q "held by deploy (PID $p1) since " <<<"$out" && grep -q 'gave up after 1 s' <<<"$out" &&
	! grep -q 'removed\|absent' <<<"$out"; then
	pass lock-timeout-names-holder
else
	fail lock-timeout-names-holder "rc=$rc took=${took}s $out"
fi

wait "$p1"; rc1=$?
wait "$p2"; rc2=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && ! grep -qi 'in use\|does not exist in database' "$TMP/p1.out" "$TMP/p2.out" &&
	A validate --profile minimal >/dev/null 2>&1; then
	pass lock-replace-serialize
else
	fail lock-replace-serialize "rc1=$rc1 rc2=$rc2 $(tail -3 "$TMP/p1.out") / $(tail -3 "$TMP/p2.out")"
fi
if grep -q "waiting for $LOCK, held by deploy (PID $p1) since [0-9T:-]*Z" "$TMP/p2.out"; then
	pass lock-waiting-names-holder
else
	fail lock-waiting-names-holder "$(head -3 "$TMP/p2.out")"
fi

# --- deploy and teardown at once: teardown runs after, and says so truly ------------
slow_deploy "$TMP/p3.out"; p3=$holder
A --lock-timeout 60 teardown --profile minimal --timeout 5 >"$TMP/teardown.out" 2>&1; rc=$?
wait "$p3"; rc3=$?
left=$(podman pod ls -q | wc -l)
if [ $rc -eq 0 ] && [ $rc3 -eq 0 ] && [ "$left" = 0 ] && grep -q "held by deploy (PID $p3)" "$TMP/teardown.out" &&
	[ "$(grep -c '^removed ' "$TMP/teardown.out")" = 2 ]; then
	pass lock-deploy-teardown-serialize
else
	fail lock-deploy-teardown-serialize "teardown rc=$rc deploy rc=$rc3 pods left=$left ($(podman pod ls --format '{{.Name}}' | tr '\n' ' ')) $(cat "$TMP/teardown.out") / deploy: $(tail -3 "$TMP/p3.out")"
fi

# --- a holder killed with SIGKILL leaves no stale lock ----------------------------------
slow_deploy "$TMP/p4.out"; p4=$holder
kill -9 "$p4"
wait "$p4" 2>/dev/null
out=$(A --lock-timeout 2 teardown --profile minimal --timeout 5 2>&1); rc=$?
if [ $rc -eq 0 ] && ! grep -q 'waiting\|gave up' <<<"$out" && [ "$(podman pod ls -q | wc -l)" = 0 ] &&
	grep -q "teardown (PID" "$LOCK"; then
	pass lock-killed-holder-releases
else
	fail lock-killed-holder-releases "rc=$rc $out"
fi
