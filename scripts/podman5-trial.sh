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
# Usage (the tests' Podman is shared: run under their lock, as tests/run.sh
# does): scripts/podman5-trial.sh [--keep] [--results FILE] [--phases LIST]
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
results=/dev/null
phases="engine quadlet rootless"
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=1 ;;
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
started_at() {
	local ids
	ids=$(inside "${PM[@]}" ps -a -q --filter "pod=pod-$1" --no-trunc) || return 1
	[ -n "$ids" ] || return 1
	inside "${PM[@]}" container inspect --format '{{.State.StartedAt.Format "2006-01-02T15:04:05.000000000Z07:00"}}' $ids |
		while read -r t; do date -u -d "$t" +%s.%N; done
}

# check_up PHASE SINCE TARGET: target and units active, pods running; each
# unit active only READY_DELAY s after its containers started (the readiness
# gate), each pod's containers started only after its dependencies' units
# were active
check_up() {
	local phase=$1 since=$2 target=$3 bad="" detail="" p d a s first last dep_at dep_up
	for p in $pods; do
		[ "$(inside "${SC[@]}" is-active "aegis-$p.service")" = active ] || bad+=" aegis-$p.service:$(inside "${SC[@]}" is-active "aegis-$p.service")"
		[ "$(inside "${PM[@]}" pod inspect --format '{{.State}}' "pod-$p" 2>/dev/null)" = Running ] || bad+=" pod-$p:not-running"
	done
	if [ -z "$bad" ] && [ "$(inside "${SC[@]}" is-active "$target")" = active ]; then
		ok "$phase-active" "$target and $(echo $pods | wc -w) pod units active, pods running"
	else
		fail "$phase-active" "$target $(inside "${SC[@]}" is-active "$target");$bad"
		return
	fi
	bad=""
	for p in $pods; do
		a=$(active_at "$p")
		s=$(started_at "$p" | sort -n)
		first=$(head -n1 <<<"$s")
		last=$(tail -n1 <<<"$s")
		if [ -z "$a" ] || [ -z "$first" ]; then
			bad+=" $p: no times (active '$a', started '$first')"
			continue
		fi
		awk -v f="$first" -v t="$since" 'BEGIN { exit !(f >= t) }' || bad+=" $p: containers started $(fmt "$first"), before the $phase began $(fmt "$since");"
		# StartedAt is written by Podman after the runtime started the
		# process: nested and under load, 0.2-0.5 s after the stand-in's
		# own clock began (seen: units active 2.73-2.79 s after StartedAt
		# with a 3 s delay).  Without the gate a unit is active within
		# about 0.1 s, so half a second of slack still tells them apart.
		awk -v a="$a" -v l="$last" -v d="$READY_DELAY" 'BEGIN { exit !(a >= l + d - 0.5) }' ||
			bad+=" $p: unit active at $(fmt "$a"), less than ${READY_DELAY}s after its last container started $(fmt "$last");"
		for d in $(deps_of "$p"); do
			dep_at=$(active_at "$d")
			dep_up=$(started_at "$d" | sort -n | tail -n1)
			dep_up=$(awk -v u="$dep_up" -v d="$READY_DELAY" 'BEGIN { if (u != "") printf "%.6f", u + d }')
			# the infra container starts with the pod; the app containers
			# are what a dependency gates
			last=$(started_at "$p" | sort -n | tail -n1)
			awk -v f="$last" -v r="$dep_at" -v u="$dep_up" 'BEGIN { exit !(r != "" && u != "" && f >= r && f >= u) }' ||
				bad+=" $p: a container started $(fmt "$last") before $d was ready (unit active ${dep_at:+$(fmt "$dep_at")}, up ${READY_DELAY}s at ${dep_up:+$(fmt "$dep_up")});"
			detail+=" $d ready $(fmt "$dep_at") < $p started $(fmt "$last");"
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
	for _ in $(seq 1 240); do
		busy=0
		for p in $pods; do
			case $(inside "${SC[@]}" is-active "aegis-$p.service") in active | deactivating | activating) busy=1 ;; esac
		done
		[ $busy -eq 0 ] && break
		sleep 0.5
	done
	journal=$(inside "${JOURNAL[@]}" -o short-unix --no-pager --since "@${t0%.*}" 2>/dev/null)
	[ $rc -eq 0 ] || bad+=" systemctl stop: exit $rc $out;"
	for p in $pods; do
		st=$(inside "${SC[@]}" is-active "aegis-$p.service")
		[ "$st" = inactive ] || bad+=" aegis-$p.service is $st after the stop ($(inside "${SC[@]}" show -P Result "aegis-$p.service"));"
		inside "${PM[@]}" pod exists "pod-$p" && bad+=" pod-$p still exists;"
		stopped=$(awk -v u="aegis-$p.service" '$4 == "Stopped" && $5 == u { print $1; exit }' <<<"$journal")
		[ -n "$stopped" ] || {
			bad+=" aegis-$p.service: no 'Stopped' in the journal;"
			continue
		}
		for d in $(deps_of "$p"); do
			stopping=$(awk -v u="aegis-$d.service" '$4 == "Stopping" && $5 == u { print $1; exit }' <<<"$journal")
			awk -v a="$stopped" -v b="$stopping" 'BEGIN { exit !(b != "" && a <= b) }' ||
				bad+=" $p stopped $(fmt "$stopped") after $d began stopping ${stopping:+$(fmt "$stopping")};"
			detail+=" $p stopped $(fmt "$stopped") <= $d stopping $(fmt "$stopping");"
		done
	done
	if [ -z "$bad" ]; then ok "$phase-stop-order" "${detail# } no pod left"; else fail "$phase-stop-order" "${bad# }"; fi
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
	t0=$(date +%s.%N)
	check engine-deploy-minimal "" A deploy --no-bootstrap --profile minimal --timeout 180
	check engine-validate-minimal "" A validate --profile minimal
	log "minimal deployed and validated in $(secs "$t0") s"
	t0=$(date +%s.%N)
	out=$(A deploy --no-bootstrap --profile full --json --timeout 240 2>/dev/null)
	echo "$t0" >"$stage/t0"
	rc=$?
	printf '%s' "$out" >"$stage/deploy.json"
	if [ $rc -eq 0 ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["result"]=="ok" and len(d["pods"])==8' "$stage/deploy.json" 2>/dev/null; then
		ok engine-deploy-full "8 pods ready in $(secs "$t0") s"
	else
		fail engine-deploy-full "exit $rc: $(printf '%s' "$out" | tail -c 300)"
	fi
	check engine-validate-full "" A validate --profile full
	# created ahead, started on the gate: Podman's own container times
	# against the deploy report's ready times
	inside sh -c 'for pod in $(podman pod ps --format "{{.Name}}"); do
		infra=$(podman pod inspect "$pod" --format "{{.InfraContainerID}}")
		for id in $(podman ps -a -q --no-trunc --filter "pod=$pod"); do
			kind=app; [ "$id" = "$infra" ] && kind=infra
			podman inspect "$id" --format "$pod $kind {{.Created.Unix}}.{{printf \"%09d\" .Created.Nanosecond}} {{.State.StartedAt.Unix}}.{{printf \"%09d\" .State.StartedAt.Nanosecond}}"
		done; done' >"$stage/times"
	load_plan full $ENVF
	printf '%s' "$plan" >"$stage/plan.json"
	out=$(python3 - "$stage/deploy.json" "$stage/times" "$stage/plan.json" "$(cat "$stage/t0")" <<'EOF' 2>&1
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
sys.exit(1 if bad or n < 4 else 0)
EOF
)
	if [ $? -eq 0 ]; then ok engine-ahead "$out"; else fail engine-ahead "$out"; fi
	# secretKeyRef: the manifest has none of the value, the container has it exact
	out=$(inside sh -c ". $ENVF; v=\$(podman exec pod-database-postgres env 2>/dev/null | sed -n 's/^POSTGRES_PASSWORD=//p')
		[ -n \"\$POSTGRES_PASSWORD\" ] && [ \"\$v\" = \"\$POSTGRES_PASSWORD\" ] || { echo \"container has '\${#v}' chars\"; exit 1; }
		podman secret ls --format '{{.Name}}' | grep -c '^aegis-secrets-'" 2>&1)
	if [ $? -eq 0 ]; then ok engine-secrets "POSTGRES_PASSWORD exact in pod-database through secretKeyRef; $out pod secrets"; else fail engine-secrets "$out"; fi
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
	check engine-teardown "" sh -c "podman exec $NAME aegis-deploy --env $ENVF teardown --profile full && [ -z \"\$(podman exec $NAME podman pod ps -q)\" ]"
	check engine-clean "" sh -c "podman exec $NAME aegis-deploy --env $ENVF clean --yes && [ -z \"\$(podman exec $NAME podman secret ls -q)\" ] && [ -z \"\$(podman exec $NAME podman volume ls -q)\" ]"
}

# --- Quadlet, rootful ----------------------------------------------------------------
quadlet_phase() {
	local out rc t0 target=aegis-full.target gen
	inside podman image exists "$SLOW" || inside podman load -q -i /var/tmp/standin.tar >/dev/null
	out=$(A --profile full systemd --install 2>&1)
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
	load_plan full $ENVF
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
	reboot quadlet $target && check_up quadlet-reboot "$REBOOT_T0" $target
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
	if [[ "$out" == *"Podman $PODMAN_VERSION"* && "$out" == *rootless* && "$out" == *"/run/user/$uid/podman/podman.sock answers"* ]]; then
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
	t0=$(date +%s.%N)
	check rootless-deploy "" U aegis-deploy --env "$uenv" deploy --no-bootstrap --profile minimal --timeout 180
	check rootless-validate "" U aegis-deploy --env "$uenv" validate --profile minimal
	check rootless-clean "" U aegis-deploy --env "$uenv" clean --yes
	log "rootless deploy, validate, clean in $(secs "$t0") s"
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
	JOURNAL=(journalctl --machine $SVC@ --user)
	load_plan minimal "$uenv" sudo -u $SVC
	t0=$(date +%s.%N)
	out=$(timeout 400 podman exec "$NAME" "${SC[@]}" start $target 2>&1)
	rc=$?
	log "systemctl --machine $SVC@ --user start $target: exit $rc after $(secs "$t0") s"
	if [ $rc -ne 0 ]; then
		fail rootless-start-active "exit $rc: $out $(inside "${JOURNAL[@]}" --no-pager -n 20 | tail -n 8 | tr '\n' ' ')"
	else
		sleep 2
		check_up rootless-start "$t0" $target
	fi
	out=$(inside "${JOURNAL[@]}" --no-pager -u aegis-core.service 2>&1)
	if grep -q 'Started' <<<"$out"; then ok rootless-journal "journalctl --machine $SVC@ --user -u aegis-core.service: $(grep -c . <<<"$out") lines"; else fail rootless-journal "$(tail -n 3 <<<"$out" | tr '\n' ' ')"; fi
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
