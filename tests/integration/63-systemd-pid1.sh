#!/usr/bin/env bash
# The generated units under real systemd: scripts/systemd-trial.sh (systemd as
# PID 1 in a container with nested rootful Podman, the minimal profile on the
# stand-in): install, start in dependency order gated on readiness, come back
# by themselves after a restart of the container, stop in reverse order.
# About 30 s once its image is cached (tests/podman/build-systemd-image.sh,
# about a minute the first time).  Uses the isolated test Podman (run under
# the one-Podman lock); the binary inside is the release build (the image has
# no sanitizer runtime).
# test-images: systemd
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

checks=(boot install start-active start-order reboot-active reboot-order stop-order unseal-reboot approle-reboot)
names=()
for c in "${checks[@]}"; do names+=("systemd-pid1-$c"); done
require_rootful_podman

results=$TMP/results
out=$(bash "$ROOT/scripts/systemd-trial.sh" --results "$results" 2>&1)
rc=$?
if [ $rc -eq 2 ]; then
	skip_all "the systemd image cannot be built here: $(grep -m1 '^image ' "$results" 2>/dev/null | cut -c7-)"
fi
for c in "${checks[@]}"; do
	line=$(grep -m1 -E "^(ok|fail) $c( |\$)" "$results" 2>/dev/null)
	case $line in
	"ok $c"*) pass "systemd-pid1-$c" ;;
	"fail $c"*) fail "systemd-pid1-$c" "${line#fail "$c" }" ;;
	*) fail "systemd-pid1-$c" "not reached (trial exit $rc): $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')" ;;
	esac
done
