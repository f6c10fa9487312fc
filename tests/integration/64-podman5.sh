#!/usr/bin/env bash
# aegis-deploy on Podman 5 (Debian 13's 5.4.2) under real systemd:
# scripts/podman5-trial.sh --sample, systemd as PID 1 in a container with
# Podman 5 nested inside it, the stand-in for every pod.  make test's
# bounded sample of the trial (about 130 s on 2 cores once the image is
# cached; the whole trial does not fit the CI budget):
#   engine    doctor (Podman 5, pasta, the socket), deploy minimal (core
#             created ahead, started once secrets is ready), the Podman
#             secrets behind secretKeyRef, validate, teardown, clean
#   quadlet   rootful, minimal: `systemd --profile minimal --install`, the
#             generator's services, start in dependency order gated on
#             readiness, `systemctl stop` in reverse order
#   rootless  as the README's operator: setup-user (lingering), doctor (and
#             port 80 for the production profile), `systemd --install` as
#             the user with no session, the user's units under `systemctl
#             --machine aegis@ --user` in order, their journal and status,
#             back after a reboot (a restart of the container) through
#             lingering, validate, stop in reverse order
# Left to `scripts/podman5-trial.sh` by hand (--quick or the whole trial):
# the full profile on the engine and under rootful Quadlet with its reboot,
# minimal before full, redeploy, diff, rollback, and the rootless
# deploy/validate/clean outside systemd (covered on Podman 4.3 by 30, 35,
# 45, 46, 63).  Its image is built by the runner before the tests
# (tests/podman/build-podman5-image.sh, cached: a second run costs
# nothing); where it cannot be built (no root, no package archive) every
# check FAILs with the reason (a skip only under AEGIS_TEST_ALLOW_SKIP=1).
# The binary inside is the release build (the image has no sanitizer
# runtime).
# test-images: podman5
# time-limit: 360
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

checks=(boot engine-socket engine-doctor engine-deploy-minimal engine-validate-minimal engine-ahead
	engine-secrets engine-teardown engine-clean
	quadlet-install quadlet-generator quadlet-start-active quadlet-start-order quadlet-stop-order
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
bash "$ROOT/scripts/podman5-trial.sh" --sample --results "$results" 2>&1 |
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
