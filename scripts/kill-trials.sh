#!/usr/bin/env bash
# SIGKILL trials outside `make test`: N random kill points (default 20) during
# a full deploy with the test stand-ins, each followed by a plain deploy that
# must converge with the volume data intact and nothing left behind
# (tests/integration/38-kill.sh, which `make test` runs with 5).
#
#   scripts/kill-trials.sh [N] [--seed S]
#
# It uses the isolated test Podman and the test host ports: run it when no
# other Podman-backed test runs (on shared machines, under the same lock as
# `make test`).  Ends with "N passed, N failed"; exit status 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
trials=20
while [ $# -gt 0 ]; do
	case $1 in
	--seed) export AEGIS_KILL_SEED=$2; shift 2 ;;
	-h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) trials=$1; shift ;;
	esac
done
make -s build/asan/aegis-deploy >&2 || exit 2
export AEGIS_TEST_ROOT=$PWD AEGIS_BIN=$PWD/build/asan/aegis-deploy AEGIS_KILL_TRIALS=$trials
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s)
bash tests/integration/38-kill.sh | tee "$out"
p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out")
echo "$p passed, $f failed ($(( $(date +%s) - start )) s)"
[ "$f" -eq 0 ] && [ "$p" -gt 0 ]
