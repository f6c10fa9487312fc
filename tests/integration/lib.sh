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
# With AEGIS_TEST_NO_SKIP=1 (set by .ci/run) a skip is a failure.
skip() {
	if [ "${AEGIS_TEST_NO_SKIP:-}" = 1 ]; then echo "FAIL $1 (would skip: ${2:-})"; else echo "SKIP $1${2:+ ($2)}"; fi
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
