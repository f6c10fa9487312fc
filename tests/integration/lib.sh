# Shared helpers for integration tests.  Source it; then
#   check "name" command args...     PASS if the command exits 0
#   pass/fail/skip "name" ["why"]
# Tests run the sanitizer build: $AEGIS_BIN.
set -uo pipefail
: "${AEGIS_TEST_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${AEGIS_BIN:=$AEGIS_TEST_ROOT/build/asan/aegis-deploy}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:exitcode=99}"
ROOT=$AEGIS_TEST_ROOT
TMP=$(mktemp -d /tmp/aegis-it-XXXXXX)
chmod 0755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
# The state directory (the lock of the mutating commands) of this test only,
# never the user's own.
export AEGIS_STATE_DIR=$TMP/state

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }
# A test that cannot set itself up fails with the reason; AEGIS_TEST_ALLOW_SKIP=1
# (a developer's laptop, never CI) turns that into a skip.
skip() {
	if [ "${AEGIS_TEST_ALLOW_SKIP:-}" = 1 ]; then echo "SKIP $1${2:+ ($2)}"; else echo "FAIL $1 (cannot run: ${2:-})"; fi
}
# skip_all WHY: none of the script's tests (its "names" array) can run; ends
# the script.
skip_all() {
	local n
	for n in "${names[@]}"; do skip "$n" "$1"; done
	exit 0
}
check() {
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}
# aegis ARGS...: run the binary with the repository as root
aegis() { "$AEGIS_BIN" --root "$ROOT" "$@"; }
# Debian's python3 (with python3-yaml from the setup script), not whatever
# interpreter happens to be first on PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
