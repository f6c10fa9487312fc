#!/usr/bin/env bash
# The generated systemd units under real systemd: systemd as PID 1 inside a
# container (tests/podman/build-systemd-image.sh: Debian with systemd, Podman,
# runc), nested Podman inside it, rootful (the container's root), the minimal
# profile on the stand-in image.
#
#   1. start the container (--systemd=always --privileged --cgroupns=private;
#      nested Podman's storage on a volume), copy in `make install`'s tree and
#      the stand-in image (every pod made ready only READY_DELAY s after its
#      containers start), write /etc/aegis-deploy/.env (`init`, images set to
#      the stand-in)
#   2. `aegis-deploy systemd --profile minimal --install`, `systemctl start
#      aegis-minimal.target`; every unit active, every pod running
#   3. ordering, from the times: each pod's unit became active (its
#      ExecStartPost `aegis-deploy wait` returned) only after its containers
#      had been up READY_DELAY s (so it waited for readiness), and every
#      container of a pod started after the units of all the pods it depends
#      on (`plan --json`) had become active (its dependencies were ready)
#   4. `podman restart` of the container (a reboot): with no command, the target
#      comes back active, every pod runs again with new containers, and step
#      3's ordering holds again
#   5. `systemctl stop aegis-minimal.target`: each pod's unit stopped before
#      the units of the pods it depends on began stopping, ends inactive (not
#      failed); no pod left
#   6. OpenBao unsealed after a reboot: OPENBAO_IMAGE becomes the OpenBao test
#      server (tests/servers/openbao.py in an image made inside from the
#      machine's own root; it comes up sealed after every restart, as OpenBao
#      does), `aegis-deploy deploy` initialises and bootstraps it once
#      (openbao-init.json, core's AppRole credentials in .env), then a
#      reboot: with no command, pod-secrets' unit unseals it (its `wait`)
#      before pod-core's containers start, sys/health answers 200
#      (initialised, unsealed, active), and core's AppRole login, made from
#      inside pod-core with the credentials its environment holds, is
#      accepted
#
# Usage (the host Podman is shared by the tests: hold their lock):
#   flock -o /tmp/aegis-podman-test.lock scripts/systemd-trial.sh [--keep] [--results FILE]
# --keep leaves the container running (name printed) for a look inside;
# --results FILE also writes one line per check, "ok NAME" or "fail NAME why".
# SYSTEMD_TRIAL_BREAK=no-wait removes ExecStartPost (the readiness wait) from
# the installed units: the ordering checks must then fail.
# Exit 0 every check passed, 1 a check failed, 2 the image cannot be built here
# (needs root, debootstrap and the package archive).  Uses the isolated test
# Podman of tests/podman/env.sh; removes only its own container, volume and
# stand-in tag (the systemd image is kept: it is the cache).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/tests/podman/env.sh"

keep=0
results=/dev/null
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=1 ;;
	--results)
		results=$2
		shift
		;;
	-h | --help)
		sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "systemd-trial: unknown argument $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done
: >"$results"

IMAGE=${SYSTEMD_IMAGE:-localhost/aegis-test/systemd-podman:latest}
NAME=aegis-systemd-trial-$$
VOLUME=$NAME-storage
SLOW=localhost/aegis-test/standin:systemd-trial-$$
PROFILE=minimal
READY_DELAY=${READY_DELAY:-3}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
t_start=$(date +%s)
failed=0

log() { echo "systemd-trial: [$(($(date +%s) - t_start)) s] $*" >&2; }
ok() {
	echo "ok $1" >>"$results"
	echo "ok      $1${2:+: $2}"
}
fail() {
	failed=1
	echo "fail $1 $2" >>"$results"
	echo "FAILED  $1: $2"
}
inside() { podman exec "$NAME" "$@"; }

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
out=$(bash "$root/tests/podman/build-systemd-image.sh" 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
	echo "$out" >&2
	echo "image $(printf '%s' "$out" | tail -n 1)" >>"$results"
	# not root, no debootstrap, or debootstrap failing: the package archive
	# out of reach
	exit 2
fi
log "image $IMAGE ready"

# --- start "the machine" ----------------------------------------------------------
make -s -C "$root" build/aegis-deploy >&2 || {
	fail build "make build/aegis-deploy failed"
	exit 1
}
stage=$(mktemp -d "${TMPDIR:-/tmp}/aegis-systemd-trial-XXXXXX")
make -s -C "$root" install DESTDIR="$stage" PREFIX=/usr/local >&2 || {
	fail build "make install failed"
	exit 1
}
standin_build >&2 && SLOW=$(standin_variant "systemd-trial-$$" "STANDIN_READY_DELAY=$READY_DELAY") || {
	fail build "cannot build the stand-in image"
	exit 1
}
podman volume create "$VOLUME" >/dev/null || exit 1
if ! podman run -d --name "$NAME" --privileged --systemd=always --cgroupns=private --network none \
	-v "$VOLUME:/var/lib/containers" "$IMAGE" >/dev/null; then
	fail boot "podman run of $IMAGE failed"
	exit 1
fi
state=
for _ in $(seq 1 60); do
	state=$(inside systemctl is-system-running 2>/dev/null)
	case $state in running | degraded) break ;; esac
	sleep 0.5
done
case $state in
running) ok boot "systemd is PID 1, system $state" ;;
*)
	fail boot "systemd inside did not come up: is-system-running '$state'"
	inside systemctl --failed --no-pager >&2
	exit 1
	;;
esac
tar -C "$stage" -c usr | podman exec -i "$NAME" tar -C / -x || exit 1
podman save "$SLOW" | podman exec -i "$NAME" podman load -q >/dev/null || {
	fail boot "podman load inside failed"
	exit 1
}
# as setup-user does for its user: the keypair and bootstrap output beside
# the .env (`systemd --install` generates the keypair)
vars=$(image_vars | sed "s|\$|=$SLOW|"
	echo SEAL_KEYS_DIR=/etc/aegis-deploy/seal
	echo AEGIS_GENERATED_DIR=/etc/aegis-deploy/generated)
if ! inside sh -ec "mkdir -p -m 0700 /etc/aegis-deploy; cd /etc/aegis-deploy; aegis-deploy init >/dev/null
	printf '%s\n' '$vars' >>.env"; then
	fail boot "aegis-deploy init in /etc/aegis-deploy failed"
	exit 1
fi
log "machine up: systemd, podman $(inside podman --version | awk '{print $3}'), aegis-deploy installed"

# --- install and start ------------------------------------------------------------
out=$(inside aegis-deploy --env /etc/aegis-deploy/.env --profile $PROFILE systemd --install 2>&1)
rc=$?
units=$(inside sh -c 'cd /etc/systemd/system && ls -d aegis-*.service aegis-*.target' 2>/dev/null | tr '\n' ' ')
if [ $rc -eq 0 ] && inside systemctl is-enabled -q aegis-$PROFILE.target; then
	ok install "$units"
else
	fail install "systemd --install exit $rc: $(printf '%s' "$out" | tail -n 2 | tr '\n' ' ')"
	exit 1
fi

if [ "${SYSTEMD_TRIAL_BREAK:-}" = no-wait ]; then
	log "SYSTEMD_TRIAL_BREAK=no-wait: ExecStartPost removed from the units"
	inside sh -c "sed -i '/^ExecStartPost=/d' /etc/systemd/system/aegis-*.service && systemctl daemon-reload"
fi

# The pods of the profile and, per pod, its dependencies inside the profile.
plan=$(inside aegis-deploy --env /etc/aegis-deploy/.env --profile $PROFILE plan --json)
pods=$(python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(sys.stdin)["pods"]))' <<<"$plan")
deps_of() { # POD: the pods of the profile it depends on
	python3 -c 'import json,sys
for p in json.load(sys.stdin)["pods"]:
	if p["name"] == sys.argv[1]: print(" ".join(p["depends"]))' "$1" <<<"$plan"
}
if [ -z "$pods" ]; then
	fail install "plan --json inside gave no pods"
	exit 1
fi

# epoch seconds (with fraction) of a unit's ActiveEnterTimestamp
active_at() {
	local t
	t=$(inside systemctl show --timestamp=us+utc -P ActiveEnterTimestamp "aegis-$1.service")
	[ -n "$t" ] && date -u -d "${t#* }" +%s.%N
}
# epoch seconds of each container's StartedAt in pod-POD, one a line
started_at() {
	local ids
	ids=$(inside podman ps -a -q --filter "pod=pod-$1" --no-trunc) || return 1
	[ -n "$ids" ] || return 1
	inside podman container inspect --format '{{.State.StartedAt.Format "2006-01-02T15:04:05.000000000Z07:00"}}' $ids |
		while read -r t; do date -u -d "$t" +%s.%N; done
}
fmt() { date -u -d "@$1" +%T.%3N; }

# check_up PHASE: target and units active, pods running, ordering by the times
check_up() {
	local phase=$1 since=$2 bad="" p d a s first dep_at
	for p in $pods; do
		[ "$(inside systemctl is-active "aegis-$p.service")" = active ] || bad+=" aegis-$p.service:$(inside systemctl is-active "aegis-$p.service")"
		[ "$(inside podman pod inspect --format '{{.State}}' "pod-$p" 2>/dev/null)" = Running ] || bad+=" pod-$p:not-running"
	done
	if [ -z "$bad" ] && [ "$(inside systemctl is-active aegis-$PROFILE.target)" = active ]; then
		ok "$phase-active" "aegis-$PROFILE.target and $(echo $pods | wc -w) pod units active, pods running"
	else
		fail "$phase-active" "target $(inside systemctl is-active aegis-$PROFILE.target);$bad"
		return
	fi
	bad=""
	local detail=""
	for p in $pods; do
		a=$(active_at "$p")
		s=$(started_at "$p" | sort -n)
		first=$(head -n1 <<<"$s")
		last=$(tail -n1 <<<"$s")
		if [ -z "$a" ] || [ -z "$first" ]; then
			bad+=" $p: no times (active '$a', started '$first')"
			continue
		fi
		# a new container, not one from before the phase began
		awk -v f="$first" -v t="$since" 'BEGIN { exit !(f >= t) }' || bad+=" $p: containers started $(fmt "$first"), before the $phase began $(fmt "$since");"
		# systemd held the unit back until the pod was ready
		awk -v a="$a" -v l="$last" -v d="$READY_DELAY" 'BEGIN { exit !(a >= l + d) }' ||
			bad+=" $p: unit active at $(fmt "$a"), less than ${READY_DELAY}s after its last container started $(fmt "$last");"
		for d in $(deps_of "$p"); do
			# ready: its unit active, and its containers up READY_DELAY s
			dep_at=$(active_at "$d")
			dep_up=$(started_at "$d" | sort -n | tail -n1)
			dep_up=$(awk -v u="$dep_up" -v d="$READY_DELAY" 'BEGIN { if (u != "") printf "%.6f", u + d }')
			awk -v f="$first" -v r="$dep_at" -v u="$dep_up" 'BEGIN { exit !(r != "" && u != "" && f >= r && f >= u) }' ||
				bad+=" $p: a container started $(fmt "$first") before $d was ready (unit active ${dep_at:+$(fmt "$dep_at")}, up ${READY_DELAY}s at ${dep_up:+$(fmt "$dep_up")});"
			detail+=" $d ready $(fmt "$dep_at") < $p started $(fmt "$first");"
		done
		detail+=" $p started $(fmt "$first") ready $(fmt "$a");"
	done
	if [ -z "$bad" ]; then
		ok "$phase-order" "${detail# }"
	else
		fail "$phase-order" "${bad# }"
	fi
}

log "systemctl start aegis-$PROFILE.target…"
t0=$(date +%s.%N)
out=$(timeout 600 podman exec "$NAME" systemctl start aegis-$PROFILE.target 2>&1)
rc=$?
log "systemctl start returned $rc after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
if [ $rc -ne 0 ]; then
	fail start-active "systemctl start aegis-$PROFILE.target: exit $rc: $out"
	inside sh -c 'systemctl --failed --no-pager; journalctl -b --no-pager -n 40 -u "aegis-*"' >&2
	exit 1
fi
check_up start "$t0"

# --- reboot -----------------------------------------------------------------------
# reboot CHECK: `podman restart` of the container, then wait (no command
# given) until the target is active or failed; sets t0 and state
reboot() {
	log "podman restart $NAME (a reboot)…"
	t0=$(date +%s.%N)
	podman restart -t 90 "$NAME" >/dev/null || {
		fail "$1" "podman restart failed"
		exit 1
	}
	log "restarted after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s; waiting for the target, no command given"
	state=
	for _ in $(seq 1 $((BOOT_TIMEOUT * 2))); do
		state=$(inside systemctl is-active aegis-$PROFILE.target 2>/dev/null)
		[ "$state" = active ] && break
		[ "$state" = failed ] && break
		sleep 0.5
	done
}
reboot reboot-active
log "target $state $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the restart began"
if [ "$state" != active ]; then
	fail reboot-active "aegis-$PROFILE.target is '$state' ${BOOT_TIMEOUT}s after the reboot"
	inside sh -c 'systemctl --failed --no-pager; journalctl -b --no-pager -n 40 -u "aegis-*"' >&2
	exit 1
fi
check_up reboot "$t0"
# --- stop ---------------------------------------------------------------------------
# `systemctl stop` of the target: each pod's unit stopped (ExecStop: kube down)
# before the units of the pods it depends on began stopping (systemd's own
# journal lines), and no pod is left.
t0=$(date +%s.%N)
out=$(timeout 300 podman exec "$NAME" systemctl stop aegis-$PROFILE.target 2>&1)
rc=$?
# the target's own stop job ends first (it is ordered after the pods): wait
# for the pods' units
for _ in $(seq 1 240); do
	busy=0
	for p in $pods; do
		case $(inside systemctl is-active "aegis-$p.service") in active | deactivating | activating) busy=1 ;; esac
	done
	[ $busy -eq 0 ] && break
	sleep 0.5
done
journal=$(inside journalctl -o short-unix --no-pager --since "@${t0%.*}" _PID=1 2>/dev/null)
bad=""
[ $rc -eq 0 ] || bad+=" systemctl stop: exit $rc $out;"
detail=""
for p in $pods; do
	st=$(inside systemctl is-active "aegis-$p.service")
	[ "$st" = inactive ] || bad+=" aegis-$p.service is $st after the stop ($(inside systemctl show -P Result "aegis-$p.service"));"
	inside podman pod exists "pod-$p" && bad+=" pod-$p still exists;"
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
if [ -z "$bad" ]; then
	ok stop-order "${detail# } no pod left"
else
	fail stop-order "${bad# }"
fi

# --- OpenBao unsealed after a reboot --------------------------------------------------
# An image of this machine's root (python3 included) running the OpenBao test
# server; podman import keeps it local to the nested Podman.
bao_image=localhost/aegis-trial/openbao:latest
if ! inside sh -ec "tar -C / -c --one-file-system --exclude=./var/lib/containers --exclude=./var/tmp \\
		--exclude=./proc --exclude=./sys --exclude=./dev --exclude=./run --exclude=./tmp \\
		--exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/locale . |
		podman import - $bao_image >/dev/null" 2>"$stage/import.err"; then
	fail unseal-reboot "cannot make the OpenBao test server's image inside: $(tail -n 2 "$stage/import.err" | tr '\n' ' ')"
	exit 1
fi
# the test server and its entry point, added as a layer of their own
tar -C "$root" -c tests/servers/openbao.py tests/servers/common.py scripts/demo/openbao-standin.sh |
	podman exec -i "$NAME" sh -ec "d=\$(mktemp -d /var/tmp/bao-XXXXXX); tar -C \"\$d\" -x
	mkdir -p \"\$d/ctx/aegis-demo/servers\"
	cp \"\$d/tests/servers/openbao.py\" \"\$d/tests/servers/common.py\" \"\$d/ctx/aegis-demo/servers/\"
	cp \"\$d/scripts/demo/openbao-standin.sh\" \"\$d/ctx/aegis-demo/\"
	printf 'FROM %s\nCOPY aegis-demo /aegis-demo\nENTRYPOINT [\"/aegis-demo/openbao-standin.sh\"]\n' $bao_image >\"\$d/ctx/Containerfile\"
	podman build -q -t $bao_image \"\$d/ctx\" >/dev/null
	rm -rf \"\$d\"" || {
	fail unseal-reboot "cannot add the OpenBao test server to its image inside"
	exit 1
}
inside sed -i "s|^OPENBAO_IMAGE=.*|OPENBAO_IMAGE=$bao_image|" /etc/aegis-deploy/.env
log "deploy --profile $PROFILE with OpenBao's test server (initialise, bootstrap)…"
out=$(inside aegis-deploy --env /etc/aegis-deploy/.env --profile $PROFILE deploy 2>&1)
rc=$?
if [ $rc -ne 0 ] || ! inside test -s /etc/aegis-deploy/generated/openbao-init.json; then
	fail unseal-reboot "deploy with OpenBao's test server: exit $rc: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
	exit 1
fi
inside systemctl start aegis-$PROFILE.target
reboot unseal-reboot # OpenBao comes back sealed
bao_ctr=$(inside podman ps -q --no-trunc --filter pod=pod-secrets --filter ancestor=$bao_image | head -n1)
health=$(inside podman exec "$bao_ctr" python3 -c 'import urllib.request, urllib.error
try:
    print(urllib.request.urlopen("http://127.0.0.1:8200/v1/sys/health", timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)' 2>&1)
# the unseal (OpenBao's log) and the first start of core's own containers
unsealed=$(inside podman logs -t "$bao_ctr" 2>&1 | awk '/\/v1\/sys\/unseal 200/ { t = $1 } END { print t }')
core_ids=$(inside podman ps -q --no-trunc --filter pod=pod-core | tr '\n' ' ')
core_first=""
for id in $core_ids; do
	[ "$(inside podman container inspect --format '{{.IsInfra}}' "$id")" = true ] && continue
	t=$(inside podman container inspect --format '{{.State.StartedAt.Format "2006-01-02T15:04:05.000000000Z07:00"}}' "$id")
	t=$(date -u -d "$t" +%s.%N)
	[ -z "$core_first" ] || awk -v a="$t" -v b="$core_first" 'BEGIN { exit !(a < b) }' && core_first=$t
done
unsealed_s=${unsealed:+$(date -u -d "$unsealed" +%s.%N)}
if [ "$state" = active ] && [ "$health" = 200 ] && [ -n "$unsealed_s" ] && [ -n "$core_first" ] &&
	awk -v u="$unsealed_s" -v c="$core_first" -v t="$t0" 'BEGIN { exit !(u >= t && u <= c) }'; then
	ok unseal-reboot "target active, sys/health $health, unsealed $(fmt "$unsealed_s") before core's containers started $(fmt "$core_first")"
else
	fail unseal-reboot "target '$state', sys/health '$health', unsealed at '${unsealed_s:+$(fmt "$unsealed_s")}' (reboot began $(fmt "$t0")), core started '${core_first:+$(fmt "$core_first")}'"
fi
# core's login, as the runtime makes it (secrets_manager.rs:78-141 of
# aegis-orchestrator): its own environment's credentials, read inside the
# container (never in an argument), posted to pod-secrets
core_ctr=$(inside podman ps -q --no-trunc --filter pod=pod-core --filter ancestor="$SLOW" | head -n1)
login=$(inside podman exec "$core_ctr" sh -c 'printf "{\"role_id\":\"%s\",\"secret_id\":\"%s\"}" "$OPENBAO_ROLE_ID" "$OPENBAO_SECRET_ID" >/tmp/approle-login.json
	wget -q -O - --header "Content-Type: application/json" --post-file=/tmp/approle-login.json http://pod-secrets:8200/v1/auth/approle/login; rc=$?
	rm -f /tmp/approle-login.json; exit $rc' 2>&1)
if grep -q '"client_token"' <<<"$login"; then
	ok approle-reboot "pod-core's credentials log in to pod-secrets after the reboot"
else
	fail approle-reboot "login from pod-core: $(printf '%s' "$login" | head -c 300)"
fi
log "done in $(($(date +%s) - t_start)) s"
exit $failed
