#!/usr/bin/env bash
# SIGKILL trials outside `make test`, the long versions of
# tests/integration/38-kill.sh and 39-kill-data.sh:
#  - N random kill points (default 20) during a full deploy with the test
#    stand-ins, each followed by a plain deploy that must converge with the
#    volume data intact and nothing left behind (38, which `make test` runs
#    with 5);
#  - with --data M: M random kill points of backup, restore, a failing
#    deploy --atomic while it puts the snapshot's data back, and rollback
#    --with-data, in turn, against the demo's real PostgreSQL; the command
#    after each must converge with the rows' checksum as before, the pod
#    ready and every archive set complete (39, which `make test` runs with 4).
#    Only the data trials run unless N is given too.
#
#   scripts/kill-trials.sh [N] [--data M] [--seed S]
#
# It waits for the lock of `make test` (one test or benchmark run at a time)
# and uses the isolated test Podman, on the host's network: the test host
# ports (the full profile's; pod-database's for --data) must be free.  Ends
# with "N passed, N failed"; exit status 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
args=("$@")
trials= data=
while [ $# -gt 0 ]; do
	case $1 in
	--seed) export AEGIS_KILL_SEED=$2; shift 2 ;;
	--data) data=$2; shift 2 ;;
	-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) trials=$1; shift ;;
	esac
done
[ -z "$trials" ] && [ -z "$data" ] && trials=20
make -s build/asan/aegis-deploy >&2 || exit 2
if [ -z "${AEGIS_TEST_NETNS:-}" ]; then
	exec 9>>"${AEGIS_TEST_LOCK:-/tmp/aegis-test-run.lock}"
	if ! flock -n 9; then
		echo "waiting for another test run on this machine" >&2
		flock 9
	fi
fi
# the test stand-ins' host ports answer in a network namespace of the tests'
. scripts/test-netns.sh
in_test_netns kill-trials "$0" "${args[@]}"
export AEGIS_TEST_ROOT=$PWD AEGIS_BIN=$PWD/build/asan/aegis-deploy
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s)
if [ -n "$trials" ]; then
	AEGIS_KILL_TRIALS=$trials bash tests/integration/38-kill.sh 9>&- | tee -a "$out"
fi
if [ -n "$data" ]; then
	AEGIS_KILL_DATA_TRIALS=$data bash tests/integration/39-kill-data.sh 9>&- | tee -a "$out"
fi
p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out")
echo "$p passed, $f failed ($(($(date +%s) - start)) s)"
[ "$f" -eq 0 ] && [ "$p" -gt 0 ]
