#!/usr/bin/env bash
# The test runner behind `make test`: unit binaries (sanitizer build), then the
# integration scripts.  Every test prints one line "PASS name", "FAIL name" or
# "SKIP name (why)"; this counts them and ends with "N passed, N failed".
# AEGIS_TEST_ONLY=unit|integration restricts; AEGIS_TEST_FILTER=regex picks
# integration scripts by file name.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export AEGIS_TEST_ROOT="$root"
export AEGIS_BIN="$root/build/asan/aegis-deploy"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Every test talks to the isolated test Podman (never the machine's own pods).
unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF
. tests/podman/env.sh

# One run at a time per machine: the Podman tests publish the same host ports
# and share the isolated test Podman, so a second `make test` (another
# checkout, a benchmark) waits here.  Every test runs with the lock's fd
# closed (9>&-), so nothing a test leaves running can hold the lock.
exec 9>>"${AEGIS_TEST_LOCK:-/tmp/aegis-test-run.lock}"
if ! flock -n 9; then
	echo "waiting for another test run on this machine (lock ${AEGIS_TEST_LOCK:-/tmp/aegis-test-run.lock})"
	flock 9
fi

passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() {
	# $1: file with the output of one test program; $2: exit status
	local p f s
	p=$(grep -c '^PASS ' "$1"); f=$(grep -c '^FAIL ' "$1"); s=$(grep -c '^SKIP ' "$1")
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed or a sanitizer fired outside a test: that is a failure too
		echo "FAIL $3 (exit status $2)"
		failed=$((failed + 1))
	fi
}

if [ "${AEGIS_TEST_ONLY:-}" != integration ]; then
	for t in build/asan/tests/test_*; do
		[ -x "$t" ] || continue
		echo "== unit: $(basename "$t")"
		"$t" >"$log" 2>&1 9>&-; rc=$?
		cat "$log"
		count "$log" "$rc" "$(basename "$t")"
	done
fi

if [ "${AEGIS_TEST_ONLY:-}" != unit ]; then
	for t in tests/integration/[0-9]*.sh; do
		[ -f "$t" ] || continue
		if [ -n "${AEGIS_TEST_FILTER:-}" ] && ! [[ "$t" =~ ${AEGIS_TEST_FILTER} ]]; then continue; fi
		echo "== integration: $(basename "$t")"
		start=$(date +%s)
		bash "$t" >"$log" 2>&1 9>&-; rc=$?
		cat "$log"
		echo "   ($(( $(date +%s) - start )) s)"
		count "$log" "$rc" "$(basename "$t")"
	done
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
