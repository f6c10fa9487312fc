#!/usr/bin/env bash
# aegis-deploy on Podman 5 (Debian 13's 5.4) under real systemd: systemd as
# PID 1 inside a container (tests/podman/build-podman5-image.sh) with Podman 5
# nested inside it, the stand-in image for every pod.  Phases (--phases,
# default all, in this order):
#
#   engine    rootful, as root inside: `systemctl enable --now podman.socket`,
#             doctor (Podman 5, pasta, cgroups, the socket), deploy minimal,
#             validate, deploy full (pods created ahead, app containers started
#             only once their dependencies are ready), the Podman secrets
#             behind secretKeyRef (values exact in the containers), redeploy,
#             diff (0, then 3 after a change), rollback, teardown, clean
#   quadlet   rootful Quadlet: `systemd --profile full --install` writes
#             .kube/.network/.volume files, Podman's generator makes the
#             services, `systemctl start aegis-full.target` brings the pods up
#             in dependency order each unit active only once its pod is ready,
#             a restart of the container (a reboot) brings them back, `systemctl
#             stop` goes in reverse order
#   rootless  as README's operator: `setup-user` (user aegis, lingering),
#             `sudo -u aegis aegis-deploy … doctor`, the minimal profile
#             deployed, validated and cleaned rootless, then `sudo -u aegis
#             aegis-deploy … systemd --profile minimal --install` (user Quadlet
#             units) started with `systemctl --machine aegis@ --user`, back
#             after a reboot through lingering, `journalctl --machine aegis@
#             --user -u UNIT` showing its start, `validate` as aegis; doctor
#             for the production profile names ip_unprivileged_port_start=80
#
# --quick (make test's subset, tests/integration/64-podman5.sh): the engine
# phase deploys full only (no minimal first, no redeploy, diff, rollback:
# 30-podman-engine, 45-history and 46-diff cover those on Podman 4.3, and
# nothing of them differs on 5), the rootless phase goes straight to the
# user units (no rootless deploy/validate/clean before them: 35-podman-
# rootless covers it on 4.3).
#
# --sample (make test's bounded sample, tests/integration/64-podman5.sh,
# about 130 s once the image is cached): --quick with the minimal profile
# for the engine and rootful Quadlet, and no rootful reboot (the rootless
# phase's reboot, lingering bringing the user's units back, stays).
#
# Usage (the tests' Podman is shared: run under their lock, as tests/run.sh
# does): scripts/podman5-trial.sh [--keep] [--quick|--sample] [--results FILE] [--phases LIST]
# --keep leaves the container running (name printed); --results FILE also
# writes one line per check, "ok NAME" or "fail NAME why".
# Exit 0 every check passed, 1 a check failed, 2 the image cannot be built
# here (needs root, debootstrap and the package archive).  Uses the isolated
# test Podman of tests/podman/env.sh; removes only its own container, volume
# and stand-in tag (the image is kept: it is the cache).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/tests/podman/env.sh"

keep=0
quick=0
# the engine's and rootful Quadlet's profile, and whether Quadlet reboots
eprofile=full
qreboot=1
results=/dev/null
phases="engine quadlet rootless"
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=1 ;;
	--quick) quick=1 ;;
	--sample)
		quick=1
		eprofile=minimal
		qreboot=0
		;;
	--results)
		results=$2
		shift
		;;
	--phases)
		phases=$(tr ',' ' ' <<<"$2")
		shift
		;;
	-h | --help)
		sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "podman5-trial: unknown argument $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done
: >"$results"

IMAGE=${PODMAN5_IMAGE:-localhost/aegis-test/podman5:latest}
NAME=aegis-podman5-trial-$$
VOLUME=$NAME-storage
SLOW=localhost/aegis-test/standin:podman5-trial-$$
READY_DELAY=${READY_DELAY:-3}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-150}
ENVF=/etc/aegis-deploy/.env
SVC=aegis
t_start=$(date +%s)
failed=0

log() { echo "podman5-trial: [$(($(date +%s) - t_start)) s] $*" >&2; }
ok() {
	echo "ok $1" >>"$results"
	echo "ok      $1${2:+: $2}"
}
fail() {
	failed=1
	echo "fail $1 $2" >>"$results"
	echo "FAILED  $1: $2"
}
# check NAME DETAIL CMD...: ok when CMD succeeds, else fail with its output
check() {
	local name=$1 detail=$2 out
	shift 2
	if out=$("$@" 2>&1); then ok "$name" "$detail"; else fail "$name" "$(printf '%s' "$out" | tail -n 4 | tr '\n' ' ')"; fi
}
inside() { podman exec -e PODMAN_IGNORE_CGROUPSV1_WARNING=1 "$NAME" "$@"; }
has_phase() { [[ " $phases " == *" $1 "* ]]; }
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
fmt() { date -u -d "@$1" +%T.%3N; }

cleanup() {
	if [ $keep -eq 1 ]; then
		log "kept: podman exec -it $NAME bash (CONTAINERS_CONF=$CONTAINERS_CONF${CONTAINERS_STORAGE_CONF:+ CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF}); remove with podman rm -f $NAME; podman volume rm $VOLUME"
	else
		podman rm -f -t 5 "$NAME" >/dev/null 2>&1
		podman volume rm -f "$VOLUME" >/dev/null 2>&1
	fi
	podman rmi "$SLOW" >/dev/null 2>&1
	[ -n "${stage:-}" ] && rm -rf "$stage"
}
trap cleanup EXIT

# --- the image (cached) -----------------------------------------------------------
t0=$(date +%s.%N)
out=$(bash "$root/tests/podman/build-podman5-image.sh" 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
	echo "$out" >&2
	echo "image $(printf '%s' "$out" | tail -n 1)" >>"$results"
	[ $rc -eq 2 ] && exit 2
	fail image "$(printf '%s' "$out" | tail -n 1)"
	exit 1
fi
log "image $IMAGE ready ($(secs "$t0") s)"

# --- start "the machine" ----------------------------------------------------------
make -s -C "$root" build/aegis-deploy >&2 || {
	fail build "make build/aegis-deploy failed"
	exit 1
}
stage=$(mktemp -d "${TMPDIR:-/tmp}/aegis-podman5-trial-XXXXXX")
make -s -C "$root" install DESTDIR="$stage" PREFIX=/usr/local >&2 || {
	fail build "make install failed"
	exit 1
}
standin_build >&2 && SLOW=$(standin_variant "podman5-trial-$$" "STANDIN_READY_DELAY=$READY_DELAY") || {
	fail build "cannot build the stand-in image"
	exit 1
}
podman save -q "$SLOW" >"$stage/standin.tar" || exit 1
podman volume create "$VOLUME" >/dev/null || exit 1
if ! podman run -d --name "$NAME" --privileged --systemd=always --cgroupns=private --network none \
	-v "$VOLUME:/var/lib/containers" "$IMAGE" >/dev/null; then
	fail boot "podman run of $IMAGE failed"
	exit 1
fi

# wait_booted: systemd inside answers running or degraded
wait_booted() {
	local state=
	for _ in $(seq 1 $((BOOT_TIMEOUT * 2))); do
		state=$(inside systemctl is-system-running 2>/dev/null)
		case $state in running | degraded) break ;; esac
		sleep 0.5
	done
	echo "$state"
	case $state in running | degraded) return 0 ;; esac
	return 1
}
if state=$(wait_booted); then
	ok boot "systemd $(inside systemctl --version | awk 'NR==1 {print $2}') is PID 1, system $state$([ "$state" = degraded ] && echo ": failed $(inside systemctl --failed --plain --no-legend | awk '{print $1}' | tr '\n' ' ')")"
else
	fail boot "systemd inside did not come up: is-system-running '$state'"
	inside systemctl --failed --no-pager >&2
	exit 1
fi
# Podman's conmon scopes stop within 5 s here (systemd's default is 90 s).
# Nested in this container (cgroup v1, a private cgroup namespace),
# /proc/self/cgroup names paths above the namespace's root ("/../.."),
# so a rootful podman process cannot stat its own cgroup, concludes that
# it does not own it and moves itself into a scope of its own
# (containers/podman v5.4.2, be85287f, pkg/domain/infra/abi/
# system_linux.go:44-58, "Failed to detect the owner for the current
# cgroup"; conmon's own reads "9:name=systemd:/../../machine.slice/...").
# The `podman container cleanup` that conmon runs when a pod's container
# exits then leaves the pod's slice, and with the pod's exit policy "stop" (kube play's,
# pkg/domain/infra/abi/play.go:652) it waits for the pod's lock
# (libpod/container_internal.go:2166-2200, runtime_worker.go, a wait at
# its shutdown) while the API service, holding that lock in its pod stop,
# waits for systemd to stop the pod's slice (libpod/pod_api.go:142-220,
# runtime_pod_linux.go:92-120), which waits for the conmon of that
# cleanup, its parent: a deadlock that only the scope's stop timeout ends
# (seen: POST /libpod/pods/pod-observability/stop stalled until the
# cleanup process was killed; its conmon in do_wait).  On a machine of
# its own Podman stats its cgroup, stays in the slice and is stopped
# with it.  This is the trial machine's setting, not the product's.
inside sh -c 'mkdir -p /etc/systemd/system/libpod-conmon-.scope.d &&
	printf "[Scope]\nTimeoutStopSec=5\n" >/etc/systemd/system/libpod-conmon-.scope.d/50-trial.conf &&
	systemctl daemon-reload' || exit 1
tar -C "$stage" -c usr | podman exec -i "$NAME" tar -C / -x || exit 1
podman cp "$stage/standin.tar" "$NAME:/var/tmp/standin.tar" || exit 1
# the keypair and bootstrap output beside the .env, as setup-user does
vars=$(image_vars | sed "s|\$|=$SLOW|"
	echo SEAL_KEYS_DIR=/etc/aegis-deploy/seal
	echo AEGIS_GENERATED_DIR=/etc/aegis-deploy/generated
	echo CONTAINER_SOCK=/run/podman/podman.sock)
if ! inside sh -ec "mkdir -p -m 0700 /etc/aegis-deploy; cd /etc/aegis-deploy; aegis-deploy init >/dev/null
	printf '%s\n' '$vars' >>.env"; then
	fail boot "aegis-deploy init in /etc/aegis-deploy failed"
	exit 1
fi
PODMAN_VERSION=$(inside podman version --format '{{.Client.Version}}')
log "machine up: systemd, Podman $PODMAN_VERSION, aegis-deploy installed"

# --- ordering under systemd: system or the user's manager ---------------------------
# SC: systemctl of the scope; PM: podman of the scope; UNITS_USER: for journalctl
SC=(systemctl)
PM=(podman)
JOURNAL=(journalctl)

# plan_of PROFILE ENVFILE [AS]: plan --json inside
load_plan() {
	plan=$(inside "${@:3}" aegis-deploy --env "$2" --profile "$1" plan --json)
	pods=$(python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(sys.stdin)["pods"]))' <<<"$plan")
}
deps_of() {
	python3 -c 'import json,sys
for p in json.load(sys.stdin)["pods"]:
	if p["name"] == sys.argv[1]: print(" ".join(p["depends"]))' "$1" <<<"$plan"
}
active_at() {
	local t
	t=$(inside "${SC[@]}" show --timestamp=us+utc -P ActiveEnterTimestamp "aegis-$1.service")
	[ -n "$t" ] && date -u -d "${t#* }" +%s.%N
}

# snapshot TARGET: one exec inside (each `podman exec` costs about 0.3 s
# here) printing, for the target and each pod of $pods,
#   unit NAME STATE ACTIVE_EPOCH     (systemctl of the scope)
#   pod NAME STATE                   (podman of the scope)
#   ctr NAME infra|app STARTED_EPOCH NAME   (each container's StartedAt)
snapshot() {
	inside sh -c '
		sc=$1 pm=$2 target=$3
		shift 3
		ts() { [ -n "$1" ] && date -u -d "$1" +%s.%N || echo -; }
		t=$($sc show --timestamp=us+utc -P ActiveEnterTimestamp "$target")
		echo "unit $target $($sc is-active "$target") $(ts "${t#* }")"
		for p in "$@"; do
			t=$($sc show --timestamp=us+utc -P ActiveEnterTimestamp "aegis-$p.service")
			echo "unit $p $($sc is-active "aegis-$p.service") $(ts "${t#* }")"
			echo "pod $p $($pm pod inspect --format "{{.State}}" "pod-$p" 2>/dev/null || echo missing)"
			ids=$($pm ps -a -q --no-trunc --filter "pod=pod-$p")
			[ -n "$ids" ] || continue
			$pm container inspect --format "{{.IsInfra}} {{.State.StartedAt.Format \"2006-01-02T15:04:05.000000000Z07:00\"}} {{.Name}}" $ids |
				while read -r infra t name; do
					kind=app
					[ "$infra" = true ] && kind=infra
					echo "ctr $p $kind $(ts "$t") $name"
				done
		done' sh "${SC[*]}" "${PM[*]}" "$@"
}

# diag_times: for each pod's containers the stand-in's own "starting" and
# "ready" lines (Podman's log timestamps), and each unit's activation
diag_times() {
	inside sh -c '
		sc=$1 pm=$2
		shift 2
		for p in "$@"; do
			echo "diag $p: unit active $($sc show --timestamp=us+utc -P ActiveEnterTimestamp "aegis-$p.service")"
			for id in $($pm ps -a -q --no-trunc --filter "pod=pod-$p"); do
				echo "   $($pm container inspect --format "{{.Name}} started {{.State.StartedAt}}" "$id")" \
					"$($pm logs -t "$id" 2>&1 | grep -E "standin: (starting|ready)" | cut -d" " -f1,3 | tr "\n" " ")"
			done
		done' sh "${SC[*]}" "${PM[*]}" $pods
}

# check_up PHASE SINCE TARGET: the target and every pod unit active, pods
# running; no unit active before its pod was ready (the readiness gate);
# no pod's containers started before its dependencies were ready.
#
# When can a pod be ready at the earliest?  The stand-in answers its ports
# READY_DELAY s after it starts, and the containers of one pod share its
# network: the first app container past its delay serves every port of
# the pod (tests/podman/build-standin.sh), so the httpGet/tcpSocket probes
# of its other containers pass from then on, whatever their own start.  A
# pod is therefore ready no earlier than its FIRST app container's start +
# READY_DELAY, not its last's: with 2 to 5 containers per pod (observability,
# storage, temporal, database) started one after another 0.2-1.6 s apart,
# measuring from the last container made a correct gate look 0.2-0.3 s early
# (seen: storage and observability active 2.72-2.79 s after their last
# container's StartedAt, 3.4 s after their first's).  StartedAt itself is
# within a few ms of the process's start (the stand-in's "starting" line
# was logged 3 ms before to 0.2 s after it), hence 0.1 s of slack.  Without
# the gate a unit is active about 0.1 s after its LAST container started.
check_up() {
	local phase=$1 since=$2 target=$3 snap bad="" detail="" p d
	snap=$(snapshot "$target" $pods)
	bad=$(awk -v target="$target" '
		$1 == "unit" && $3 != "active" { printf " %s:%s", ($2 == target ? $2 : "aegis-" $2 ".service"), $3 }
		$1 == "pod" && $3 != "Running" { printf " pod-%s:%s", $2, $3 }' <<<"$snap")
	if [ -z "$bad" ]; then
		ok "$phase-active" "$target and $(echo $pods | wc -w) pod units active, pods running"
	else
		fail "$phase-active" "${bad# }"
		return
	fi
	# per pod: unit active time, first and last app container start
	local table
	table=$(awk '
		$1 == "unit" { active[$2] = $4 }
		$1 == "ctr" && $3 == "app" { if (!($2 in first) || $4 < first[$2]) first[$2] = $4; if ($4 > last[$2]) last[$2] = $4 }
		$1 == "ctr" { if (!($2 in any) || $4 < any[$2]) any[$2] = $4 }
		END { for (p in active) if (p in first) printf "%s %s %s %s %s\n", p, active[p], first[p], last[p], any[p] }' <<<"$snap")
	local a first last any
	for p in $pods; do
		read -r _ a first last any <<<"$(grep "^$p " <<<"$table")"
		if [ -z "${a:-}" ] || [ "$a" = - ] || [ -z "${first:-}" ] || [ "$first" = - ]; then
			bad+=" $p: no times (active '${a:-}', first app container '${first:-}');"
			continue
		fi
		awk -v f="$any" -v t="$since" 'BEGIN { exit !(f >= t) }' || bad+=" $p: a container started $(fmt "$any"), before the $phase began $(fmt "$since");"
		awk -v a="$a" -v f="$first" -v d="$READY_DELAY" 'BEGIN { exit !(a >= f + d - 0.1) }' ||
			bad+=" $p: unit active at $(fmt "$a"), less than ${READY_DELAY}s after its first app container started $(fmt "$first");"
		awk -v a="$a" -v l="$last" 'BEGIN { exit !(a > l) }' ||
			bad+=" $p: unit active at $(fmt "$a"), before its last app container started $(fmt "$last");"
		detail+=" $p active $(fmt "$a") (app containers started $(fmt "$first")-$(fmt "$last"));"
		for d in $(deps_of "$p"); do
			local dat dfirst
			read -r _ dat dfirst _ _ <<<"$(grep "^$d " <<<"$table")"
			# every app container of the pod after the dependency's unit
			# was active and its first app container up READY_DELAY s
			awk -v f="$first" -v r="${dat:--}" -v u="${dfirst:--}" -v d="$READY_DELAY" \
				'BEGIN { exit !(r != "-" && u != "-" && f >= r && f >= u + d) }' ||
				bad+=" $p: an app container started $(fmt "$first") before $d was ready (unit active ${dat:+$(fmt "$dat")}, first container up ${READY_DELAY}s at $(awk -v u="${dfirst:-0}" -v d="$READY_DELAY" 'BEGIN { printf "%.6f", u + d }' | xargs -I{} date -u -d @{} +%T.%3N));"
			detail+=" $d ready $(fmt "$dat") < $p started $(fmt "$first");"
		done
	done
	if [ -z "$bad" ]; then ok "$phase-order" "${detail# }"; else fail "$phase-order" "${bad# }"; fi
}

# check_stop PHASE TARGET: `systemctl stop TARGET`; each pod's unit stopped
# before the units of the pods it depends on began stopping; no pod left
check_stop() {
	local phase=$1 target=$2 t0 out rc bad="" detail="" journal p d st stopped stopping busy
	t0=$(date +%s.%N)
	out=$(timeout 300 podman exec "$NAME" "${SC[@]}" stop "$target" 2>&1)
	rc=$?
	# one exec per look (each costs about 0.3 s here)
	local units=()
	for p in $pods; do units+=("aegis-$p.service"); done
	for _ in $(seq 1 240); do
		inside "${SC[@]}" is-active "${units[@]}" | grep -qxE 'active|deactivating|activating' || break
		sleep 0.5
	done
	# The last unit to stop (the first tier's) turns inactive as systemd
	# logs its "Stopped" line, and a journal read right then may not have
	# it yet: seen with systemd 257, "Stopping aegis-database.service" in
	# the journal read, "Deactivated successfully" and "Stopped" 2 s later
	# in one read after the check; `journalctl --sync` (journalctl(1))
	# before the read was not enough for aegis-secrets.service in the
	# minimal profile.  Read again until every unit's line is there (10 s
	# at most); the lines' own times are what is compared.
	local reads=0 complete
	for _ in $(seq 1 20); do
		reads=$((reads + 1))
		inside journalctl --sync 2>/dev/null
		journal=$(inside "${JOURNAL[@]}" -o short-unix --no-pager --since "@${t0%.*}" 2>/dev/null)
		complete=1
		for p in $pods; do
			awk -v u="aegis-$p.service" '$4 == "Stopped" && $5 == u { f = 1 } END { exit !f }' <<<"$journal" || complete=0
		done
		[ $complete -eq 1 ] && break
		sleep 0.5
	done
	[ $rc -eq 0 ] || bad+=" systemctl stop: exit $rc $out;"
	local snap
	snap=$(snapshot "$target" $pods)
	for p in $pods; do
		st=$(awk -v p="$p" '$1 == "unit" && $2 == p { print $3 }' <<<"$snap")
		[ "$st" = inactive ] || bad+=" aegis-$p.service is $st after the stop ($(inside "${SC[@]}" show -P Result "aegis-$p.service"));"
		awk -v p="$p" '$1 == "pod" && $2 == p && $3 != "missing" { f = 1 } END { exit !f }' <<<"$snap" && bad+=" pod-$p still exists;"
		stopped=$(awk -v u="aegis-$p.service" '$4 == "Stopped" && $5 == u { print $1; exit }' <<<"$journal")
		[ -n "$stopped" ] || {
			bad+=" aegis-$p.service: no 'Stopped' in the journal (its lines: $(awk -v u="aegis-$p.service" '$3 ~ /^systemd\[/ && index($0, u) { $1 = ""; $2 = ""; print }' <<<"$journal" | tail -n 8 | tr -s ' ' | tr '\n' '|'));"
			continue
		}
		for d in $(deps_of "$p"); do
			stopping=$(awk -v u="aegis-$d.service" '$4 == "Stopping" && $5 == u { print $1; exit }' <<<"$journal")
			awk -v a="$stopped" -v b="$stopping" 'BEGIN { exit !(b != "" && a <= b) }' ||
				bad+=" $p stopped $(fmt "$stopped") after $d began stopping ${stopping:+$(fmt "$stopping")};"
			detail+=" $p stopped $(fmt "$stopped") <= $d stopping $(fmt "$stopping");"
		done
	done
	if [ -z "$bad" ]; then ok "$phase-stop-order" "${detail# } no pod left (journal read $reads times)"; else fail "$phase-stop-order" "${bad# } (journal read $reads times)"; fi
}

# reboot PHASE TARGET: `podman restart` of the container; with no command the
# target comes back
reboot() {
	local phase=$1 target=$2 state=
	REBOOT_T0=$(date +%s.%N)
	podman restart -t 90 "$NAME" >/dev/null || {
		fail "$phase-reboot-active" "podman restart failed"
		return 1
	}
	for _ in $(seq 1 $((BOOT_TIMEOUT * 2))); do
		state=$(inside "${SC[@]}" is-active "$target" 2>/dev/null)
		[ "$state" = active ] && break
		[ "$state" = failed ] && break
		sleep 0.5
	done
	log "$target $state $(secs "$REBOOT_T0") s after the restart began"
	if [ "$state" != active ]; then
		fail "$phase-reboot-active" "$target is '$state' ${BOOT_TIMEOUT}s after the reboot: $(inside "${JOURNAL[@]}" --no-pager -n 12 -u 'aegis-*' 2>&1 | tail -n 6 | tr '\n' ' ')"
		return 1
	fi
}

# --- engine, rootful -----------------------------------------------------------------
A() { inside aegis-deploy --env $ENVF "$@"; }
# redeploy, diff, a change deployed and rolled back
engine_changes() {
	local out rc
	check engine-redeploy "redeploy core" A redeploy --profile full --timeout 240 core
	check engine-diff-none "" A diff --profile full
	inside sh -c "echo RUST_LOG=debug >>$ENVF"
	out=$(A diff --profile full 2>&1)
	rc=$?
	if [ $rc -eq 3 ]; then ok engine-diff-change "exit 3: $(grep -c '^[~+-]' <<<"$out") lines"; else fail engine-diff-change "exit $rc (expected 3): $(tail -n 3 <<<"$out" | tr '\n' ' ')"; fi
	check engine-deploy-change "" A deploy --no-bootstrap --profile full --timeout 240
	inside sed -i '$d' $ENVF
	check engine-rollback "" A rollback --no-bootstrap --timeout 240
	check engine-validate-after-rollback "" A validate --profile full
}
engine_phase() {
	local out rc t0
	inside podman load -q -i /var/tmp/standin.tar >/dev/null || {
		fail engine-load "podman load of the stand-in failed"
		return
	}
	check engine-socket "systemctl enable --now podman.socket" inside systemctl enable --now podman.socket
	out=$(A doctor 2>&1)
	rc=$?
	if [[ "$out" == *"Podman $PODMAN_VERSION"* && "$out" == *pasta* && "$out" == *"/run/podman/podman.sock answers"* ]]; then
		ok engine-doctor "$(grep -E 'podman|network helper|cgroups|API socket' <<<"$out" | tr -s ' ' | tr '\n' ';' | cut -c1-300)"
	else
		fail engine-doctor "exit $rc: $(tr '\n' ';' <<<"$out" | cut -c1-400)"
	fi
	if [ $quick -eq 0 ] && [ $eprofile = full ]; then
		t0=$(date +%s.%N)
		check engine-deploy-minimal "" A deploy --no-bootstrap --profile minimal --timeout 180
		check engine-validate-minimal "" A validate --profile minimal
		log "minimal deployed and validated in $(secs "$t0") s"
	fi
	t0=$(date +%s.%N)
	out=$(A deploy --no-bootstrap --profile $eprofile --json --timeout 240 2>/dev/null)
	rc=$?
	echo "$t0" >"$stage/t0"
	printf '%s' "$out" >"$stage/deploy.json"
	if [ $rc -eq 0 ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["result"]=="ok" and len(d["pods"])==int(sys.argv[2])' "$stage/deploy.json" "$(inside aegis-deploy --env $ENVF --profile $eprofile plan --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["pods"]))')" 2>/dev/null; then
		ok engine-deploy-$eprofile "every pod of the profile ready in $(secs "$t0") s"
	else
		fail engine-deploy-$eprofile "exit $rc: $(printf '%s' "$out" | tail -c 300)"
	fi
	check engine-validate-$eprofile "" A validate --profile $eprofile
	# created ahead, started on the gate: Podman's own container times
	# against the deploy report's ready times
	inside sh -c 'for pod in $(podman pod ps --format "{{.Name}}"); do
		infra=$(podman pod inspect "$pod" --format "{{.InfraContainerID}}")
		for id in $(podman ps -a -q --no-trunc --filter "pod=$pod"); do
			kind=app; [ "$id" = "$infra" ] && kind=infra
			podman inspect "$id" --format "$pod $kind {{.Created.Unix}}.{{printf \"%09d\" .Created.Nanosecond}} {{.State.StartedAt.Unix}}.{{printf \"%09d\" .State.StartedAt.Nanosecond}}"
		done; done' >"$stage/times"
	load_plan $eprofile $ENVF
	printf '%s' "$plan" >"$stage/plan.json"
	# at least the containers of full's dependent pods (4 and more), of
	# minimal's core (its infra and the runtime)
	local least=4
	[ $eprofile = full ] || least=2
	out=$(python3 - "$stage/deploy.json" "$stage/times" "$stage/plan.json" "$(cat "$stage/t0")" $least <<'EOF' 2>&1
import json, sys
d = json.load(open(sys.argv[1])); plan = json.load(open(sys.argv[3]))
ready = {p["name"]: p["ready_at"] for p in d["pods"]}
names = {p["pod_name"]: p["name"] for p in d["pods"]}
deps = {e["name"]: [x for x in e.get("depends", []) if x in ready] for e in plan["pods"]}
bad, n = [], 0
for pod, kind, created, started in (l.split() for l in open(sys.argv[2]) if l.strip()):
    name = names.get(pod)
    # pods the minimal profile left running are kept, not created again
    if not name or not deps[name] or float(created) < float(sys.argv[4]): continue
    n += 1
    gate = max(ready[x] for x in deps[name])
    if float(created) >= gate: bad.append("%s %s created after its dependencies were ready" % (name, kind))
    if kind == "app" and float(started) < gate: bad.append("%s app started before its dependencies were ready" % name)
print("; ".join(bad) or "%d containers of dependent pods created ahead, app containers started on the gate" % n)
sys.exit(1 if bad or n < int(sys.argv[5]) else 0)
EOF
)
	if [ $? -eq 0 ]; then ok engine-ahead "$out"; else fail engine-ahead "$out"; fi
	# secretKeyRef: the manifest has none of the value, the container has
	# it exact (full: the database's POSTGRES_PASSWORD; minimal: the
	# runtime's AEGIS_DATABASE_URL, which holds it; generated secrets are
	# base64url, which the URL keeps as it is)
	local ctr=pod-database-postgres var=POSTGRES_PASSWORD want='$POSTGRES_PASSWORD'
	if [ $eprofile != full ]; then
		ctr=pod-core-aegis-runtime var=AEGIS_DATABASE_URL
		want='postgresql://aegis:$POSTGRES_PASSWORD@pod-database:5432/aegis'
	fi
	out=$(inside sh -c ". $ENVF; v=\$(podman exec $ctr env 2>/dev/null | sed -n 's/^$var=//p')
		[ -n \"\$POSTGRES_PASSWORD\" ] && [ \"\$v\" = \"$want\" ] || { echo \"$var in $ctr has '\${#v}' chars\"; exit 1; }
		podman secret ls --format '{{.Name}}' | grep -c '^aegis-secrets-'" 2>&1)
	if [ $? -eq 0 ]; then ok engine-secrets "$var exact in $ctr through secretKeyRef; $out pod secrets"; else fail engine-secrets "$out"; fi
	[ $quick -eq 1 ] || engine_changes
	check engine-teardown "" sh -c "podman exec $NAME aegis-deploy --env $ENVF teardown --profile $eprofile && [ -z \"\$(podman exec $NAME podman pod ps -q)\" ]"
	check engine-clean "" sh -c "podman exec $NAME aegis-deploy --env $ENVF clean --yes && [ -z \"\$(podman exec $NAME podman secret ls -q)\" ] && [ -z \"\$(podman exec $NAME podman volume ls -q)\" ]"
}

# --- Quadlet, rootful ----------------------------------------------------------------
quadlet_phase() {
	local out rc t0 target=aegis-$eprofile.target gen
	inside podman image exists "$SLOW" || inside podman load -q -i /var/tmp/standin.tar >/dev/null
	out=$(A --profile $eprofile systemd --install 2>&1)
	rc=$?
	local files
	files=$(inside sh -c 'cd /etc/containers/systemd && ls aegis-*.kube *.network *.volume' 2>/dev/null | tr '\n' ' ')
	if [ $rc -eq 0 ] && [[ "$files" == *.kube* && "$files" == *.network* && "$files" == *.volume* ]] && inside systemctl is-enabled -q $target; then
		ok quadlet-install "$files"
	else
		fail quadlet-install "exit $rc: $(tail -n 3 <<<"$out" | tr '\n' ' ') files: $files"
		return
	fi
	gen=$(inside /usr/lib/systemd/system-generators/podman-system-generator --dryrun 2>&1)
	load_plan $eprofile $ENVF
	local missing=""
	for p in $pods; do
		grep -q "^---aegis-$p.service---" <<<"$gen" || missing+=" aegis-$p.service"
		[ "$(inside systemctl show -P LoadState "aegis-$p.service")" = loaded ] || missing+=" aegis-$p.service:not-loaded"
	done
	if [ -z "$missing" ] && grep -q 'kube play' <<<"$gen"; then
		ok quadlet-generator "$(grep -c '^---' <<<"$gen") units generated, every pod's service loaded"
	else
		fail quadlet-generator "missing:$missing $(head -c 300 <<<"$gen")"
	fi
	t0=$(date +%s.%N)
	out=$(timeout 600 podman exec "$NAME" systemctl start $target 2>&1)
	rc=$?
	log "systemctl start $target: exit $rc after $(secs "$t0") s"
	if [ $rc -ne 0 ]; then
		fail quadlet-start-active "exit $rc: $out $(inside journalctl --no-pager -n 20 -u 'aegis-*' | tail -n 8 | tr '\n' ' ')"
		return
	fi
	check_up quadlet-start "$t0" $target
	if [ -n "${DIAG:-}" ]; then
		diag_times >&2
		inside journalctl -o short-precise --no-pager -u 'aegis-*' | grep -E 'ready after|Started|Starting' >&2
	fi
	[ $qreboot -eq 0 ] || { reboot quadlet $target && check_up quadlet-reboot "$REBOOT_T0" $target; }
	check_stop quadlet $target
	inside systemctl disable -q $target
	inside sh -c 'rm -f /etc/containers/systemd/aegis-*.kube /etc/containers/systemd/*.network /etc/containers/systemd/*.volume /etc/systemd/system/aegis-*.target; systemctl daemon-reload'
	A clean --yes >/dev/null 2>&1
}

# --- rootless ---------------------------------------------------------------------------
rootless_phase() {
	local out rc t0 uid target=aegis-minimal.target uenv
	out=$(inside aegis-deploy setup-user 2>&1)
	rc=$?
	uid=$(inside id -u $SVC 2>/dev/null)
	if [ $rc -eq 0 ] && [ -n "$uid" ] && inside test -e /var/lib/systemd/linger/$SVC; then
		ok rootless-setup-user "uid $uid, lingering"
	else
		fail rootless-setup-user "exit $rc: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
		return
	fi
	uenv=$(inside sh -c "echo ~$SVC")/.config/aegis-deploy/.env
	# Podman 5's user Quadlet units wait for the system's
	# network-online.target (podman-user-wait-network-online.service, 90 s
	# at most, then they start anyway); a server reaches it at boot because
	# something wants it (here, in the rootful phase, the system units did).
	# This machine, as a server whose boot waits for its network:
	inside systemctl add-wants multi-user.target network-online.target >/dev/null 2>&1
	inside systemctl start network-online.target
	# the user's manager (lingering), as at boot
	for _ in $(seq 1 60); do
		[ "$(inside systemctl is-active user@$uid.service)" = active ] && break
		sleep 0.5
	done
	U() { inside sudo -u $SVC "$@"; }
	vars=$(image_vars | sed "s|\$|=$SLOW|")
	inside sh -c "printf '%s\n' '$vars' >>$uenv"
	U podman load -q -i /var/tmp/standin.tar >/dev/null || inside sh -c "chmod 0644 /var/tmp/standin.tar" && U podman load -q -i /var/tmp/standin.tar >/dev/null
	check rootless-socket "systemctl --machine $SVC@ --user enable --now podman.socket" inside systemctl --machine $SVC@ --user enable --now podman.socket
	out=$(U aegis-deploy --env "$uenv" doctor 2>&1)
	rc=$?
	printf 'doctor as %s (exit %s):\n%s\n' $SVC $rc "$out" | sed 's/^/  /' >&2
	if [[ "$out" == *"Podman $PODMAN_VERSION"* && "$out" == *rootless* && "$out" == *"/run/user/$uid/podman/podman.sock answers"* && "$out" != *"podman info failed"* ]]; then
		ok rootless-doctor "exit $rc: $(grep -E 'mode|network|cgroups|lingering|API socket' <<<"$out" | tr -s ' ' | tr '\n' ';' | cut -c1-400)"
	else
		fail rootless-doctor "exit $rc: $(tr '\n' ';' <<<"$out" | cut -c1-500)"
	fi
	out=$(U aegis-deploy --env "$uenv" --profile production doctor 2>&1)
	if grep -q 'ip_unprivileged_port_start=80\b' <<<"$out"; then
		ok rootless-doctor-port-80 "$(grep -m1 'ip_unprivileged_port_start' <<<"$out" | tr -s ' ')"
	else
		fail rootless-doctor-port-80 "$(grep -E 'port (80|443)' <<<"$out" | tr '\n' ';')"
	fi
	if [ $quick -eq 0 ]; then
		t0=$(date +%s.%N)
		check rootless-deploy "" U aegis-deploy --env "$uenv" deploy --no-bootstrap --profile minimal --timeout 180
		check rootless-validate "" U aegis-deploy --env "$uenv" validate --profile minimal
		check rootless-clean "" U aegis-deploy --env "$uenv" clean --yes
		log "rootless deploy, validate, clean in $(secs "$t0") s"
	fi
	out=$(U aegis-deploy --env "$uenv" --profile minimal systemd --install 2>&1)
	rc=$?
	local files
	files=$(inside sh -c "cd ~$SVC/.config/containers/systemd && ls" 2>/dev/null | tr '\n' ' ')
	if [ $rc -eq 0 ] && [[ "$files" == *.kube* ]]; then ok rootless-install "$files"; else
		fail rootless-install "exit $rc: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
		return
	fi
	SC=(systemctl --machine $SVC@ --user)
	PM=(sudo -u $SVC podman)
	JOURNAL=(journalctl _UID=$uid)
	load_plan minimal "$uenv" sudo -u $SVC
	t0=$(date +%s.%N)
	out=$(timeout 400 podman exec "$NAME" "${SC[@]}" start $target 2>&1)
	rc=$?
	log "systemctl --machine $SVC@ --user start $target: exit $rc after $(secs "$t0") s"
	if [ $rc -ne 0 ]; then
		fail rootless-start-active "exit $rc: $out"
	else
		sleep 2
		check_up rootless-start "$t0" $target
	fi
	# the user manager's lines (and the units') since the start
	inside journalctl --no-pager -o short-precise --since "@${t0%.*}" _UID=$uid 2>&1 |
		grep -vE 'sd-pam|session (opened|closed)' | tail -n 40 | sed 's/^/  user journal: /' >&2
	# `journalctl --machine USER@` is not supported (systemd 257: "No
	# machine 'aegis@' known"); root reads a user unit's journal by its
	# fields: the manager's lines (USER_UNIT=) and the unit's own
	# (_SYSTEMD_USER_UNIT=), both of that user's uid
	out=$(inside journalctl --no-pager _UID=$uid USER_UNIT=aegis-core.service + _UID=$uid _SYSTEMD_USER_UNIT=aegis-core.service 2>&1)
	if grep -q 'Started' <<<"$out"; then ok rootless-journal "journalctl _UID=$uid USER_UNIT=aegis-core.service + _UID=$uid _SYSTEMD_USER_UNIT=aegis-core.service: $(grep -c . <<<"$out") lines; journalctl --user-unit aegis-core.service _UID=$uid: $(inside journalctl --no-pager --user-unit aegis-core.service _UID=$uid 2>&1 | grep -c .) lines"; else fail rootless-journal "$(tail -n 3 <<<"$out" | tr '\n' ' ')"; fi
	check rootless-status "" inside "${SC[@]}" status --no-pager $target
	reboot rootless $target && { sleep 2; check_up rootless-reboot "$REBOOT_T0" $target; }
	check rootless-validate-after-reboot "" U aegis-deploy --env "$uenv" validate --profile minimal
	check_stop rootless $target
}

has_phase engine && engine_phase
has_phase quadlet && quadlet_phase
has_phase rootless && rootless_phase
log "done in $(($(date +%s) - t_start)) s"
exit $failed
