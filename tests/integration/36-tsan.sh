# ThreadSanitizer over the engine's threaded paths, against real Podman
# (isolated test Podman, stand-in images): the ThreadSanitizer build
# (build/tsan/aegis-deploy, `make tsan`; `make test` builds it) deploys the
# full profile (rollout and probe threads, the progress callbacks), again on
# a terminal (the live reporter's ticker thread), validates (one thread per
# check), deploys a pod that never gets ready (failure and cancellation of
# the other pods) and tears down (a thread per pod of a tier).  Each command
# must behave as usual and ThreadSanitizer must report nothing.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(tsan-deploy tsan-deploy-tty tsan-validate tsan-failing-deploy tsan-teardown)
TSAN_BIN=$ROOT/build/tsan/aegis-deploy
if [ ! -x "$TSAN_BIN" ]; then
	for n in "${names[@]}"; do fail "$n" "$TSAN_BIN is missing: make tsan"; done
	exit 0
fi
require_rootful_podman

podman_test_stack
mkdir -p "$TMP/tsan"
# Reports go to files, one per process; the exit status says a report was made.
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 log_path=$TMP/tsan/report second_deadlock_stack=1"
T() { "$TSAN_BIN" --root "$ROOT" --env "$ENV" "$@"; }

# tsan_check NAME EXPECTED_RC RC OUTPUT_FILE
tsan_check() {
	local reports
	reports=$(cat "$TMP"/tsan/report.* 2>/dev/null)
	if [ "$3" -eq "$2" ] && [ -z "$reports" ]; then
		pass "$1"
	else
		fail "$1" "rc=$3 (expected $2) $(tail -3 "$4") $(printf '%s' "$reports" | grep -m1 -A12 'WARNING: ThreadSanitizer')"
	fi
	rm -f "$TMP"/tsan/report.*
}

A() { aegis --env "$ENV" "$@"; }
A clean --yes >/dev/null 2>&1

T deploy --no-bootstrap --profile full --replace --timeout 120 >"$TMP/deploy.out" 2>&1
tsan_check tsan-deploy 0 $? "$TMP/deploy.out"

if command -v script >/dev/null 2>&1; then
	TERM=xterm script -qec "$TSAN_BIN --root $ROOT --env $ENV deploy --no-bootstrap --profile full --replace --timeout 120" /dev/null >"$TMP/tty.out" 2>&1
	rc=$?
	grep -q 'tier 3  seal-gateway .*ready' "$TMP/tty.out" || rc=$((rc + 100))
	tsan_check tsan-deploy-tty 0 $rc "$TMP/tty.out"
else
	skip tsan-deploy-tty "script(1) is not installed"
fi

T validate --profile full >"$TMP/validate.out" 2>&1
tsan_check tsan-validate 0 $? "$TMP/validate.out"

broken=$(standin_variant never-ready STANDIN_FAIL=1)
cp "$ENV" "$TMP/broken.env"
echo "OPENBAO_IMAGE=$broken" >>"$TMP/broken.env"
# the secrets pod (tier 0) never gets ready: its tier-mates are cancelled
"$TSAN_BIN" --root "$ROOT" --env "$TMP/broken.env" deploy --no-bootstrap --profile full --replace --timeout 3 >"$TMP/broken.out" 2>&1
tsan_check tsan-failing-deploy 1 $? "$TMP/broken.out"

T teardown --profile full --timeout 5 >"$TMP/teardown.out" 2>&1
rc=$?
[ "$(podman pod ls -q | wc -l)" = 0 ] || rc=$((rc + 100))
tsan_check tsan-teardown 0 $rc "$TMP/teardown.out"
