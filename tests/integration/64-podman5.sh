#!/usr/bin/env bash
# aegis-deploy on Podman 5 (Debian 13's 5.4.2) under real systemd:
# scripts/podman5-trial.sh, systemd as PID 1 in a container with Podman 5
# nested inside it, the stand-in for every pod.  The engine rootful (doctor,
# deploy minimal and full created ahead, Podman secrets behind secretKeyRef,
# redeploy, diff, rollback, teardown, clean), Quadlet rootful (the .kube,
# .network and .volume files, the generator's services, start in dependency
# order gated on readiness, back after a reboot, stopped in reverse), and the
# rootless path as the README gives it (setup-user, doctor, a rootless
# deploy, `systemd --install` as the user with no session, the user's units
# under `systemctl --machine aegis@ --user`, back after a reboot through
# lingering, their journal, validate).  Its image is built by the runner
# before the tests (tests/podman/build-podman5-image.sh, cached).  The binary
# inside is the release build (the image has no sanitizer runtime).
# test-images: podman5
# time-limit: 600
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

checks=(boot engine-socket engine-doctor engine-deploy-minimal engine-validate-minimal engine-deploy-full
	engine-validate-full engine-ahead engine-secrets engine-redeploy engine-diff-none engine-diff-change
	engine-deploy-change engine-rollback engine-validate-after-rollback engine-teardown engine-clean
	quadlet-install quadlet-generator quadlet-start-active quadlet-start-order quadlet-reboot-active
	quadlet-reboot-order quadlet-stop-order
	rootless-setup-user rootless-socket rootless-doctor rootless-doctor-port-80 rootless-deploy
	rootless-validate rootless-clean rootless-install rootless-start-active rootless-start-order
	rootless-journal rootless-status rootless-reboot-active rootless-reboot-order
	rootless-validate-after-reboot rootless-stop-order)
names=()
for c in "${checks[@]}"; do names+=("podman5-$c"); done
require_rootful_podman

results=$TMP/results
# the trial's progress as it goes (the runner shows the last lines of a
# script that runs out of time)
bash "$ROOT/scripts/podman5-trial.sh" --results "$results" ${PODMAN5_PHASES:+--phases "$PODMAN5_PHASES"} 2>&1 |
	tee "$TMP/trial.log" | sed -u 's/^/   | /'
rc=${PIPESTATUS[0]}
out=$(cat "$TMP/trial.log")
if [ $rc -eq 2 ]; then
	skip_all "the Podman 5 image cannot be built here: $(grep -m1 '^image ' "$results" 2>/dev/null | cut -c7-)"
fi
for c in "${checks[@]}"; do
	line=$(grep -m1 -E "^(ok|fail) $c( |\$)" "$results" 2>/dev/null)
	case $line in
	"ok $c"*) pass "podman5-$c" ;;
	"fail $c"*) fail "podman5-$c" "${line#fail "$c" }" ;;
	*) fail "podman5-$c" "not reached (trial exit $rc): $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')" ;;
	esac
done
