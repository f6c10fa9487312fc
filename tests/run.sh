#!/usr/bin/env bash
# The test runner behind `make test`: unit binaries (sanitizer build), then the
# integration scripts.  Every test prints one line "PASS name", "FAIL name" or
# "SKIP name (why)"; this counts them and ends with "N passed, N failed".
#
#   AEGIS_TEST_ONLY=unit|integration   restricts
#   AEGIS_TEST_FILTER=regex            picks integration scripts by file name
#   AEGIS_TEST_ALLOW_SKIP=1            a test that cannot set itself up SKIPs
#                                      instead of FAILing (a laptop; never CI)
#   AEGIS_TEST_UNIT_LIMIT=s            time limit of one unit binary (300)
#   AEGIS_TEST_SCRIPT_LIMIT=s          default limit of one script (600); a
#                                      script may set its own with a line
#                                      "# time-limit: N" near its top
#
# Hermetic (tests/README.md): as root, everything runs in a network namespace
# of its own (aegis-test-PID), with the isolated test Podman of
# tests/podman/env.sh, so nothing the tests publish, create or remove (host
# ports, bridges, firewall rules) touches the host's own network or a
# platform running beside them.  The images that need the package archive
# are built before, outside that namespace.
#
# Nothing can hang: a binary or script past its limit is killed with
# everything it started (its process group, any process carrying its
# AEGIS_TEST_SCRIPT_ID, and whatever it left in the test Podman), and counted
# as a FAIL naming it with its last output lines.
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

only=${AEGIS_TEST_ONLY:-}
unit_limit=${AEGIS_TEST_UNIT_LIMIT:-300}
script_limit=${AEGIS_TEST_SCRIPT_LIMIT:-600}

# header SCRIPT KEY: the value of a "# KEY: value" line in the script's
# opening comment block.
header() {
	awk -v k="# $2:" '!/^#/ { exit } index($0, k) == 1 { sub(k "[ \t]*", ""); print; exit }' "$1"
}

# The integration scripts this run executes.
scripts=()
if [ "$only" != unit ]; then
	for t in tests/integration/[0-9]*.sh; do
		[ -f "$t" ] || continue
		if [ -n "${AEGIS_TEST_FILTER:-}" ] && ! [[ "$t" =~ ${AEGIS_TEST_FILTER} ]]; then continue; fi
		scripts+=("$t")
	done
fi

if [ -z "${AEGIS_TEST_NETNS:-}" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		# The images built from the package archive (debootstrap) need the
		# host's network: build the ones the selected scripts name in a
		# "# test-images: ..." line, here, before entering the namespace.
		# Built before the run's lock is taken (each image has a build lock of
		# its own), so a long build does not hold up another run.
		wanted=$(for t in "${scripts[@]}"; do header "$t" test-images; done | tr ' ' '\n' | sort -u)
		for image in $wanted; do
			echo "== image: $image (built once, then cached)"
			case $image in
			demo) bash scripts/demo-images.sh 2>&1 | tail -n 3 ;;
			systemd) bash tests/podman/build-systemd-image.sh 2>&1 | tail -n 3 ;;
			podman5) bash tests/podman/build-podman5-image.sh 2>&1 | tail -n 3 ;;
			caddy-backports) bash tests/podman/build-caddy-backports.sh 2>&1 | tail -n 3 ;;
			*) echo "unknown test image '$image'" ;;
			esac
		done
	fi
	# One run at a time per machine: the runs share the isolated test Podman,
	# so a second `make test` (another checkout, a benchmark) waits here.  Every
	# test runs with the lock's fd closed (9>&-), so nothing a test leaves
	# running can hold the lock.
	exec 9>>"${AEGIS_TEST_LOCK:-/tmp/aegis-test-run.lock}"
	if ! flock -n 9; then
		echo "waiting for another test run on this machine (lock ${AEGIS_TEST_LOCK:-/tmp/aegis-test-run.lock})"
		flock 9
	fi
	if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1; then
		# Under the lock no other run is active: a namespace left by a killed
		# run is removed, and so is anything such a run left in the test Podman.
		for ns in $(ip netns list 2>/dev/null | awk '/^aegis-test-[0-9]+/ { print $1 }'); do
			ip netns delete "$ns" 2>/dev/null
		done
		ns=aegis-test-$$
		# Rootful Podman keeps netavark's IP allocations and aardvark-dns's
		# configuration in /run/containers/networks whatever its storage, and
		# one aardvark-dns serves every store: with a platform running, the
		# tests' pods could not resolve each other.  In a mount namespace of
		# their own, that directory is the test Podman's.
		netrun=${PODMAN_TEST_HOME:-/var/tmp/aegis-test-podman}/networks-run
		rm -rf "$netrun" && mkdir -p -m 0700 "$netrun" /run/containers/networks
		if ip netns add "$ns" && nsenter --net="/run/netns/$ns" ip link set lo up; then
			nsenter --net="/run/netns/$ns" unshare --mount --propagation private \
				sh -c 'mount --bind "$1" /run/containers/networks && shift && exec "$@"' sh "$netrun" \
				env AEGIS_TEST_NETNS="$ns" bash "$0" "$@" 9>&-
			rc=$?
			ip netns delete "$ns" 2>/dev/null
			exit $rc
		fi
		ip netns delete "$ns" 2>/dev/null
		echo "FAIL test-network-namespace (cannot create the network namespace $ns; the tests would share the host's network)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "note: not root: the tests run in this user's own network namespace and rootless Podman storage"
fi

passed=0 failed=0 skipped=0
log=$(mktemp)
# Every curl of a test has a time limit: the scripts give their own, and this
# is the bound for any that does not.
export CURL_HOME
CURL_HOME=$(mktemp -d)
printf 'max-time = 120\nconnect-timeout = 10\n' >"$CURL_HOME/.curlrc"
trap 'rm -rf "$log" "$CURL_HOME"' EXIT

count() {
	# $1: file with the output of one test program; $2: exit status; $3: its name
	local p f s
	p=$(grep -c '^PASS ' "$1"); f=$(grep -c '^FAIL ' "$1"); s=$(grep -c '^SKIP ' "$1")
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed or a sanitizer fired outside a test: that is a failure too
		echo "FAIL $3 (exit status $2)"
		failed=$((failed + 1))
	elif [ $((p + f + s)) -eq 0 ]; then
		echo "FAIL $3 (ran no test)"
		failed=$((failed + 1))
	fi
}

# test_podman_leftovers: remove what a killed script left in the test
# Podman (only ever test pods: the store is the tests' own); prints a count.
test_podman_leftovers() {
	local n
	# only the isolated store of a root run (a user's rootless store is theirs)
	[ -n "${PODMAN_TEST_HOME:-}" ] || { echo 0; return; }
	n=$(podman pod ps -q 2>/dev/null | wc -l)
	if [ "$n" -gt 0 ]; then
		podman pod rm -af -t 1 >/dev/null 2>&1
		podman rm -af -t 1 >/dev/null 2>&1
	fi
	echo "$n"
}

# kill_marked ID: kill every process whose environment carries
# AEGIS_TEST_SCRIPT_ID=ID, or an ID a nested run made from it (what left the
# process group: setsid services, daemons); prints how many.
kill_marked() {
	local pids=() p
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = $$ ] && continue
		if grep -qzF "AEGIS_TEST_SCRIPT_ID=$1" "$p/environ" 2>/dev/null; then pids+=("${p#/proc/}"); fi
	done
	[ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}" 2>/dev/null
	echo ${#pids[@]}
}

# run_limited LIMIT NAME CMD...: CMD with its output in $log, killed past
# LIMIT seconds; sets rc (124 when it ran out of time).  A killed program's
# own PASS/FAIL lines are shown, not counted: it is one FAIL, named with its
# last lines.
run_limited() {
	local limit=$1 name=$2 id stray left
	shift 2
	# nested runs (06-runner) extend the ID, so the outer one still finds theirs
	id="${AEGIS_TEST_SCRIPT_ID:+$AEGIS_TEST_SCRIPT_ID/}$name-$$-$RANDOM"
	# timeout signals CMD's whole process group (TERM, then KILL 20 s later),
	# so a script's EXIT trap runs first and cleans what it started.
	AEGIS_TEST_SCRIPT_ID=$id timeout -k 20 "$limit" "$@" >"$log" 2>&1 9>&-
	rc=$?
	stray=$(kill_marked "$id")
	left=$(test_podman_leftovers)
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		rc=124
		local last
		last=$(tail -n 8 "$log")
		sed -i 's/^\(PASS\|FAIL\|SKIP\) /   | \1: /' "$log"
		echo "FAIL $name (timed out after $limit s; killed, with $stray stray process(es); $left pod(s) left in the test Podman removed; its last lines:)" >>"$log"
		printf '%s\n' "$last" | sed 's/^/   | /' >>"$log"
	else
		[ "$stray" -gt 0 ] && echo "   note: $name left $stray process(es) running: killed" >>"$log"
		[ "$left" -gt 0 ] && echo "   note: $name left $left pod(s) in the test Podman: removed" >>"$log"
	fi
}

left=$(test_podman_leftovers)
[ "$left" -gt 0 ] && echo "note: removed $left pod(s) an earlier, killed run left in the test Podman"

if [ "$only" != integration ]; then
	for src in tests/unit/test_*.c; do
		t=build/asan/tests/$(basename "$src" .c)
		echo "== unit: $(basename "$t")"
		if [ ! -x "$t" ]; then
			echo "FAIL $(basename "$t") (not built: make test builds it)"
			failed=$((failed + 1))
			continue
		fi
		run_limited "$unit_limit" "$(basename "$t")" "$t"
		cat "$log"
		count "$log" "$rc" "$(basename "$t")"
	done
fi

for t in "${scripts[@]}"; do
	echo "== integration: $(basename "$t")"
	limit=$(header "$t" time-limit)
	start=$(date +%s)
	run_limited "${limit:-$script_limit}" "$(basename "$t")" bash "$t"
	cat "$log"
	echo "   ($(($(date +%s) - start)) s)"
	count "$log" "$rc" "$(basename "$t")"
done

total=$((passed + failed + skipped))
if [ "$total" -eq 0 ]; then
	echo "FAIL test-run (no test was executed)"
	failed=$((failed + 1))
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
