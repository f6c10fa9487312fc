# Sourced by the scripts that run the test stand-ins outside tests/run.sh
# (kill-trials.sh, bench-backup.sh), once they hold the test lock:
#
#   in_test_netns NAME "$0" "$@"
#
# As root, runs the script again inside a network namespace of its own
# (aegis-NAME-PID, lo up, removed afterwards) and a mount namespace where
# /run/containers/networks is the test Podman's, as tests/run.sh does for
# make test: the pods' host ports (127.0.0.1) are reached there, and never
# meet the machine's own.  Exits with the script's status; does nothing
# inside such a namespace already, or when not root.
in_test_netns() {
	local name=$1
	shift
	[ -z "${AEGIS_TEST_NETNS:-}" ] && [ "$(id -u)" -eq 0 ] || return 0
	local ns=aegis-$name-$$ rc
	local netrun=${AEGIS_TEST_PODMAN_HOME:-/var/tmp/aegis-test-podman}/networks-run
	rm -rf "$netrun" && mkdir -p -m 0700 "$netrun" /run/containers/networks
	if ! ip netns add "$ns" || ! nsenter --net="/run/netns/$ns" ip link set lo up; then
		ip netns delete "$ns" 2>/dev/null
		echo "$name: cannot create the network namespace $ns" >&2
		exit 2
	fi
	nsenter --net="/run/netns/$ns" unshare --mount --propagation private \
		sh -c 'mount --bind "$1" /run/containers/networks && shift && exec "$@"' sh "$netrun" \
		env AEGIS_TEST_NETNS="$ns" bash "$@"
	rc=$?
	ip netns delete "$ns" 2>/dev/null
	exit $rc
}
