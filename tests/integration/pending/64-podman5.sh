#!/usr/bin/env bash
# NOT YET IN make test (the runner runs tests/integration/[0-9]*.sh only):
# its first run (26 passed, 3 failed, the trial 289 s) failed
# engine-teardown (Podman 5.4.2's API never answered a pod stop: "POST
# /libpod/pods/pod-storage/stop: no answer within 60 s") and
# quadlet-stop-order ("aegis-database.service: no 'Stopped' in the
# journal"); engine-deploy-full's pod count is fixed since.  Move it to
# tests/integration/ once those pass.  Run it alone with
#   AEGIS_TEST_ROOT=$PWD AEGIS_BIN=$PWD/build/asan/aegis-deploy flock /tmp/aegis-test-run.lock bash tests/integration/pending/64-podman5.sh
#
# aegis-deploy on Podman 5 (Debian 13's 5.4.2) under real systemd:
# scripts/podman5-trial.sh --quick, systemd as PID 1 in a container with
# Podman 5 nested inside it, the stand-in for every pod.  make test's subset
# of the trial (the whole trial does not fit the CI budget):
#   engine    doctor (Podman 5, pasta, the socket), deploy full (pods created
#             ahead, app containers started on the readiness gate), the
#             Podman secrets behind secretKeyRef, validate, teardown, clean
#   quadlet   rootful: `systemd --profile full --install`, the generator's
#             services, start in dependency order gated on readiness, back
#             after a reboot (a restart of the container), stop in reverse
#   rootless  as the README's operator: setup-user (lingering), doctor (and
#             port 80 for the production profile), `systemd --install` as
#             the user with no session, the user's units under `systemctl
#             --machine aegis@ --user` in order, their journal and status,
#             back after a reboot through lingering, validate, stop
# Left to `scripts/podman5-trial.sh` by hand: minimal before full, redeploy,
# diff, rollback, and the rootless deploy/validate/clean outside systemd
# (covered on Podman 4.3 by 30, 35, 45, 46).  Its image is built by the
# runner before the tests (tests/podman/build-podman5-image.sh, cached: a
# second run costs nothing).  The binary inside is the release build (the
# image has no sanitizer runtime).
# test-images: podman5
# time-limit: 780
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/podman/env.sh"

checks=(boot engine-socket engine-doctor engine-deploy-full engine-validate-full engine-ahead
	engine-secrets engine-teardown engine-clean
	quadlet-install quadlet-generator quadlet-start-active quadlet-start-order
	quadlet-reboot-active quadlet-reboot-order quadlet-stop-order
	rootless-setup-user rootless-socket rootless-doctor rootless-doctor-port-80
	rootless-install rootless-start-active rootless-start-order rootless-journal
	rootless-status rootless-reboot-active rootless-reboot-order
	rootless-validate-after-reboot rootless-stop-order)
names=()
for c in "${checks[@]}"; do names+=("podman5-$c"); done
require_rootful_podman

results=$TMP/results
t0=$(date +%s)
# the trial's progress as it goes (the runner shows the last lines of a
# script that runs out of time)
bash "$ROOT/scripts/podman5-trial.sh" --quick --results "$results" 2>&1 |
	tee "$TMP/trial.log" | sed -u 's/^/   | /'
rc=${PIPESTATUS[0]}
echo "   | the trial took $(($(date +%s) - t0)) s"
if [ $rc -eq 2 ]; then
	skip_all "the Podman 5 image cannot be built here: $(grep -m1 '^image ' "$results" 2>/dev/null | cut -c7-)"
fi
for c in "${checks[@]}"; do
	line=$(grep -m1 -E "^(ok|fail) $c( |\$)" "$results" 2>/dev/null)
	case $line in
	"ok $c"*) pass "podman5-$c" ;;
	"fail $c"*) fail "podman5-$c" "${line#fail "$c" }" ;;
	*) fail "podman5-$c" "not reached (trial exit $rc): $(tail -n 3 "$TMP/trial.log" | tr '\n' ' ')" ;;
	esac
done
# a check the trial ran that this list does not name still counts
while read -r st c rest; do
	[[ " ${checks[*]} " == *" $c "* ]] && continue
	case $st in
	ok) pass "podman5-$c" ;;
	fail) fail "podman5-$c" "$rest" ;;
	esac
done < <(grep -E '^(ok|fail) ' "$results" 2>/dev/null)
