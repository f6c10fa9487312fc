# Running the platform as a service: make install into a DESTDIR, setup-user
# for real (a test user, removed afterwards), a rootless deploy as that user
# passing validate, doctor's error cases and its clean bill as that user,
# wait, and the systemd units (systemd-analyze verify, the plan's edges, no
# rewrite when unchanged, no secret value in any unit).  Uses the isolated
# test Podman (run under the one-Podman lock).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(install-destdir installed-finds-share install-root-overrides uninstall-removes
	setup-user-check-only setup-user-creates setup-user-subids-disjoint setup-user-env-private
	setup-user-rerun-unchanged
	systemd-units-written systemd-analyze-verify systemd-verify-catches-errors systemd-edges-equal-plan
	systemd-rerun-unchanged systemd-no-secret-in-units systemd-manifests-private systemd-install-without-systemd
	doctor-runtime-missing doctor-occupied-port doctor-missing-socket doctor-incomplete-env doctor-user-without-subuid
	wait-ready wait-timeout-diagnostic wait-unknown-pod
	rootless-deploy-as-service-user rootless-validate-as-service-user doctor-ok-as-service-user)
[ "$(id -u)" -eq 0 ] || skip_all "needs root (install, useradd, rootful Podman)"
USER_NAME=aegis-svc-test
INSTALLED=$TMP/destdir
SOCK=$TMP/podman.sock
service_pid=
user_service_pid=
uid=
cleanup() {
	if [ -n "$uid" ]; then
		as_user "$AEGIS_BIN" --root "$ROOT" --env "$env_path" clean --yes >/dev/null 2>&1
		[ -n "$user_service_pid" ] && kill "$user_service_pid" 2>/dev/null && wait "$user_service_pid" 2>/dev/null
		sleep 0.3
		# what rootless Podman leaves running for the test user (its pause process)
		for p in $(pgrep -u "$uid"); do kill "$p" 2>/dev/null; done
		sleep 0.3
		userdel -r "$USER_NAME" >/dev/null 2>&1
		rm -rf "/tmp/aegis-svc-run-$uid"
	fi
	sed -i "/^$USER_NAME:/d" /etc/subuid /etc/subgid
	if [ -n "$service_pid" ]; then
		aegis --env "$TMP/.env" clean --yes >/dev/null 2>&1
		kill "$service_pid" 2>/dev/null
		wait "$service_pid" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
if id "$USER_NAME" >/dev/null 2>&1; then
	# left over from an interrupted run
	userdel -r "$USER_NAME" >/dev/null 2>&1
	sed -i "/^$USER_NAME:/d" /etc/subuid /etc/subgid
fi

# --- make install / uninstall ------------------------------------------------------
out=$(make -s -C "$ROOT" install DESTDIR="$INSTALLED" PREFIX=/usr/local 2>&1); rc=$?
share=$INSTALLED/usr/local/share/aegis-deploy
if [ $rc -eq 0 ] && [ -x "$INSTALLED/usr/local/bin/aegis-deploy" ] && [ -f "$share/kube/variables.yaml" ] &&
	[ -f "$share/profiles/minimal.yaml" ] && [ -f "$share/.env.example" ] &&
	grep -q '^.SS rollback' "$INSTALLED/usr/local/share/man/man1/aegis-deploy.1"; then
	pass install-destdir
else
	fail install-destdir "rc=$rc $out"
fi
# Outside any checkout (a copy of the tree that is no git repository), the
# binary finds <bin>/../share/aegis-deploy.
mkdir -p "$TMP/elsewhere"
plan=$(cd "$TMP/elsewhere" && env -u AEGIS_ROOT "$INSTALLED/usr/local/bin/aegis-deploy" plan --profile minimal 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q 'profile minimal: 2 pods' <<<"$plan"; then
	pass installed-finds-share
else
	fail installed-finds-share "rc=$rc $plan"
fi
# --root and AEGIS_ROOT still win over the installed tree.
fx=$ROOT/tests/fixtures/config
o1=$(cd "$TMP/elsewhere" && "$INSTALLED/usr/local/bin/aegis-deploy" --root "$fx" plan --profile one 2>&1); r1=$?
o2=$(cd "$TMP/elsewhere" && AEGIS_ROOT=$fx "$INSTALLED/usr/local/bin/aegis-deploy" plan --profile one 2>&1); r2=$?
o3=$(cd "$TMP/elsewhere" && env -u AEGIS_ROOT "$INSTALLED/usr/local/bin/aegis-deploy" plan --profile one 2>&1); r3=$?
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ $r3 -eq 2 ] && grep -q 'profile one' <<<"$o1$o2"; then
	pass install-root-overrides
else
	fail install-root-overrides "r1=$r1 r2=$r2 r3=$r3 $o1 $o2 $o3"
fi
make -s -C "$ROOT" uninstall DESTDIR="$INSTALLED" PREFIX=/usr/local >/dev/null 2>&1; rc=$?
if [ $rc -eq 0 ] && [ ! -e "$INSTALLED/usr/local/bin/aegis-deploy" ] && [ ! -e "$share" ]; then
	pass uninstall-removes
else
	fail uninstall-removes "rc=$rc; left: $(find "$INSTALLED" -type f | head -3)"
fi

# --- setup-user for real ---------------------------------------------------------------
subuid_before=$(sha256sum /etc/subuid /etc/subgid)
out=$(aegis setup-user --user "$USER_NAME" --check-only 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "would create system user $USER_NAME" <<<"$out" &&
	grep -Eq "/etc/subuid: add the line $USER_NAME:[0-9]+:65536" <<<"$out" &&
	! id "$USER_NAME" >/dev/null 2>&1 && [ "$(sha256sum /etc/subuid /etc/subgid)" = "$subuid_before" ]; then
	pass setup-user-check-only
else
	fail setup-user-check-only "rc=$rc $out"
fi
out=$(aegis setup-user --user "$USER_NAME" 2>&1); rc=$?
echo "$out" | sed 's/^/    | /'
uid=$(id -u "$USER_NAME" 2>/dev/null)
home=$(getent passwd "$USER_NAME" | cut -d: -f6)
shell=$(getent passwd "$USER_NAME" | cut -d: -f7)
env_path=$home/.config/aegis-deploy/.env
if [ $rc -eq 0 ] && [ -n "$uid" ] && [ "$shell" = /usr/sbin/nologin ] && [ -d "$home" ] &&
	[ "$(stat -c %U "$home")" = "$USER_NAME" ] && grep -q "created system user $USER_NAME" <<<"$out" &&
	grep -q "next, as $USER_NAME" <<<"$out" && grep -q "doctor" <<<"$out" &&
	grep -q 'could not enable lingering: systemd is not running' <<<"$out"; then
	pass setup-user-creates
else
	fail setup-user-creates "rc=$rc uid=$uid shell=$shell $out"
fi
# The user's ranges exist in both files and overlap no other line.
overlap_py='
import sys
user = sys.argv[1]
for path in ("/etc/subuid", "/etc/subgid"):
    rows = [l.strip().split(":") for l in open(path) if l.strip() and not l.startswith("#")]
    mine = [r for r in rows if r[0] == user]
    assert len(mine) == 1, (path, mine)
    s, c = int(mine[0][1]), int(mine[0][2])
    assert c >= 65536, (path, c)
    for r in rows:
        if r[0] == user: continue
        s2, c2 = int(r[1]), int(r[2])
        assert s + c <= s2 or s2 + c2 <= s, (path, r)
'
if err=$("$PY" -c "$overlap_py" "$USER_NAME" 2>&1); then
	pass setup-user-subids-disjoint
else
	fail setup-user-subids-disjoint "$err"
fi
secret_vars=$(sed -n '/- name:/{s/.*name: //;h};/secret: true/{x;p}' "$ROOT/kube/variables.yaml")
pw=$(sed -n 's/^POSTGRES_PASSWORD=//p' "$env_path" 2>/dev/null)
if [ "$(stat -c '%U %a' "$env_path")" = "$USER_NAME 600" ] &&
	[ "$(stat -c '%U %a' "$(dirname "$env_path")")" = "$USER_NAME 700" ] && [ ${#pw} -ge 32 ]; then
	pass setup-user-env-private
else
	fail setup-user-env-private "$(stat -c '%U %a %n' "$env_path" "$(dirname "$env_path")" 2>&1) pw length ${#pw}"
fi
env_sum=$(sha256sum "$env_path")
ids_sum=$(sha256sum /etc/subuid /etc/subgid /etc/passwd)
out2=$(aegis setup-user --user "$USER_NAME" 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$(sha256sum "$env_path")" = "$env_sum" ] && [ "$(sha256sum /etc/subuid /etc/subgid /etc/passwd)" = "$ids_sum" ] &&
	grep -q "user $USER_NAME exists" <<<"$out2" && [ "$(grep -c '(kept)' <<<"$out2")" = 2 ] &&
	grep -q 'no missing secrets' <<<"$out2" && [ "$(stat -c '%U %a' "$env_path")" = "$USER_NAME 600" ]; then
	pass setup-user-rerun-unchanged
else
	fail setup-user-rerun-unchanged "rc=$rc $out2"
fi

# --- systemd units -----------------------------------------------------------------------
cp "$ROOT/.env.example" "$TMP/.env.example"
(cd "$TMP" && "$AEGIS_BIN" --root "$ROOT" init >/dev/null)
{
	echo "CONTAINER_SOCK=$SOCK"
	for v in $(image_vars); do echo "$v=$STANDIN_IMAGE"; done
} >>"$TMP/.env"
A() { aegis --env "$TMP/.env" "$@"; }
units=$TMP/units
out=$(A systemd --profile full --dir "$units" 2>&1); rc=$?
nunits=$(ls "$units"/*.service "$units"/*.target 2>/dev/null | wc -l)
if [ $rc -eq 0 ] && [ "$nunits" -ge 10 ] && [ -f "$units/aegis-full.target" ] && [ -f "$units/aegis-core.service" ] &&
	[ "$(grep -c '^wrote ' <<<"$out")" = $((nunits + $(ENV=$TMP/.env profile_pods full))) ] && grep -q 'ExecStartPost=.* wait --pod core' "$units/aegis-core.service" &&
	grep -q 'ExecStart=.*podman kube play --replace --service-container=true' "$units/aegis-core.service"; then
	pass systemd-units-written
else
	fail systemd-units-written "rc=$rc units=$nunits $out"
fi
verify=$(cd "$units" && systemd-analyze verify ./*.service ./*.target 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -z "$verify" ]; then
	pass systemd-analyze-verify
else
	fail systemd-analyze-verify "rc=$rc $verify"
fi
# verify must be able to fail: a broken copy of a unit
mkdir -p "$TMP/broken-units"
sed 's/^Type=notify/Type=nonsense/; s|^ExecStop=/usr/bin/podman|ExecStop=/nonexistent/podman|' "$units/aegis-core.service" >"$TMP/broken-units/aegis-core.service"
verify=$(cd "$TMP/broken-units" && systemd-analyze verify ./aegis-core.service 2>&1)
if grep -q 'nonsense' <<<"$verify" && grep -q '/nonexistent/podman' <<<"$verify"; then
	pass systemd-verify-catches-errors
else
	fail systemd-verify-catches-errors "$verify"
fi
# Requires=/After= between pod units equal plan --json's dependencies.
edges_py='
import json, re, subprocess, sys, os
units, plan_cmd = sys.argv[1], sys.argv[2:]
plan = json.loads(subprocess.check_output(plan_cmd))
names = {p["name"] for p in plan["pods"]}
bad = []
for p in plan["pods"]:
    text = open(os.path.join(units, "aegis-%s.service" % p["name"])).read()
    req = set(); after = set()
    for line in text.splitlines():
        if line.startswith("Requires="): req |= set(line[9:].split())
        if line.startswith("After="): after |= set(line[6:].split())
    pod_req = {u[6:-8] for u in req if u.startswith("aegis-") and u[6:-8] in names}
    pod_after = {u[6:-8] for u in after if u.startswith("aegis-") and u[6:-8] in names}
    if pod_req != set(p["depends"]) or pod_after != set(p["depends"]):
        bad.append("%s: Requires %s After %s, plan %s" % (p["name"], sorted(pod_req), sorted(pod_after), sorted(p["depends"])))
target = open(os.path.join(units, "aegis-full.target")).read()
for p in plan["pods"]:
    if "aegis-%s.service" % p["name"] not in target: bad.append("target lacks " + p["name"])
print("; ".join(bad)); sys.exit(1 if bad else 0)
'
if err=$("$PY" -c "$edges_py" "$units" "$AEGIS_BIN" --root "$ROOT" --env "$TMP/.env" plan --profile full --json 2>&1); then
	pass systemd-edges-equal-plan
else
	fail systemd-edges-equal-plan "$err"
fi
before=$(stat -c '%n %Y %i' "$units"/* "$units"/manifests/*)
sleep 1
out=$(A systemd --profile full --dir "$units" 2>&1); rc=$?
if [ $rc -eq 0 ] && ! grep -q '^wrote' <<<"$out" && [ "$(stat -c '%n %Y %i' "$units"/* "$units"/manifests/*)" = "$before" ]; then
	pass systemd-rerun-unchanged
else
	fail systemd-rerun-unchanged "rc=$rc $out"
fi
leaks=
for v in $secret_vars; do
	val=$(sed -n "s/^$v=//p" "$TMP/.env" | tail -1)
	[ -n "$val" ] || continue
	grep -rlF -- "$val" "$units"/*.service "$units"/*.target "$units"/manifests/* >/dev/null 2>&1 && leaks="$leaks $v"
done
if [ -z "$leaks" ] && grep -q 'secretKeyRef' "$units/manifests/database.yaml"; then pass systemd-no-secret-in-units; else fail systemd-no-secret-in-units "units or manifests hold$leaks"; fi
modes=$(stat -c '%a' "$units/manifests"; stat -c '%a' "$units"/manifests/* | sort -u)
if [ "$(echo $modes)" = "700 600" ]; then
	pass systemd-manifests-private
else
	fail systemd-manifests-private "modes: $modes"
fi
# --install as a user where systemd is not PID 1: written, and says so; the
# pods' Podman secrets stored (here in the isolated test Podman).
ihome=$TMP/ihome
mkdir -p "$ihome"
out=$(HOME=$ihome XDG_CONFIG_HOME= XDG_STATE_HOME= A systemd --profile minimal --install --user 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -f "$ihome/.config/systemd/user/aegis-minimal.target" ] &&
	[ -f "$ihome/.local/state/aegis-deploy/manifests/core.yaml" ] && grep -q 'systemd is not running here' <<<"$out" &&
	grep -q "^stored   the pods' Podman secrets" <<<"$out" && podman secret ls --format '{{.Name}}' | grep -x aegis-secrets-core >/dev/null; then
	pass systemd-install-without-systemd
else
	fail systemd-install-without-systemd "rc=$rc $out"
fi

# --- doctor's error cases ----------------------------------------------------------------
printf '[engine]\nruntime = "nosuch"\n' >"$TMP/bad-runtime.conf"
out=$(CONTAINERS_CONF=$TMP/bad-runtime.conf A doctor --profile minimal 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q '^ERROR   runtime: podman info failed: .*"nosuch"' <<<"$out" &&
	grep -q 'fix: set runtime = "runc" under \[engine\]' <<<"$out"; then
	pass doctor-runtime-missing
else
	fail doctor-runtime-missing "rc=$rc $out"
fi
# a port of the profile held by someone else
"$PY" -c 'import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$TMP/port" &
holder=$!
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
port=$(cat "$TMP/port")
out=$(OPENBAO_PORT=$port A doctor --profile minimal 2>&1); rc=$?
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
if [ $rc -eq 1 ] && grep -q "^ERROR   port $port: host port $port of pod secrets (container port 8200) is in use; fix: stop what listens on TCP port $port" <<<"$out"; then
	pass doctor-occupied-port
else
	fail doctor-occupied-port "rc=$rc port=$port $out"
fi
out=$(CONTAINER_SOCK=$TMP/none/podman.sock A doctor --profile minimal 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "^ERROR   API socket: $TMP/none/podman.sock: No such file or directory; fix: start Podman's API: .*podman system service --time=0 unix://$TMP/none/podman.sock &" <<<"$out"; then
	pass doctor-missing-socket
else
	fail doctor-missing-socket "rc=$rc $out"
fi
grep -v '^POSTGRES_PASSWORD=' "$TMP/.env" >"$TMP/incomplete.env"
out=$(aegis --env "$TMP/incomplete.env" doctor --profile minimal 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q '^ERROR   .env: .*POSTGRES_PASSWORD.*; fix: set it in .*init --fill' <<<"$out"; then
	pass doctor-incomplete-env
else
	fail doctor-incomplete-env "rc=$rc $out"
fi
# a user without subordinate ids: nobody
chmod 0644 "$TMP/.env"
out=$(runuser -u nobody -- env ASAN_OPTIONS="$ASAN_OPTIONS" HOME=/nonexistent "$AEGIS_BIN" --root "$ROOT" --env "$TMP/.env" doctor --profile minimal 2>&1); rc=$?
chmod 0600 "$TMP/.env"
if [ $rc -eq 1 ] && grep -q '^ERROR   subuid: nobody has no range in /etc/subuid; fix: add the line "nobody:[0-9]*:65536" to /etc/subuid' <<<"$out" &&
	grep -q '^ERROR   subgid: nobody has no range in /etc/subgid' <<<"$out"; then
	pass doctor-user-without-subuid
else
	fail doctor-user-without-subuid "rc=$rc $out"
fi

# --- wait, against the isolated test Podman --------------------------------------------
if ! podman_available; then
	for n in wait-ready wait-timeout-diagnostic wait-unknown-pod rootless-deploy-as-service-user \
		rootless-validate-as-service-user doctor-ok-as-service-user; do skip "$n" "$PODMAN_UNAVAILABLE"; done
	exit 0
fi
podman system service --time=0 "unix://$SOCK" >"$TMP/service.log" 2>&1 &
service_pid=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
A clean --yes >/dev/null 2>&1
A deploy --no-bootstrap --profile minimal --timeout 60 >"$TMP/deploy.out" 2>&1
out=$(A wait --pod core --timeout 20 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q 'pod core ready after' <<<"$out"; then
	pass wait-ready
else
	fail wait-ready "rc=$rc $out $(tail -5 "$TMP/deploy.out")"
fi
broken=$(standin_variant never-ready STANDIN_FAIL=1)
cp "$TMP/.env" "$TMP/broken.env"
echo "OPENBAO_IMAGE=$broken" >>"$TMP/broken.env"
aegis --env "$TMP/broken.env" redeploy --no-bootstrap --profile minimal --timeout 2 secrets >/dev/null 2>&1
t0=$(date +%s)
out=$(aegis --env "$TMP/broken.env" wait --pod secrets --timeout 3 2>&1); rc=$?
took=$(( $(date +%s) - t0 ))
if [ $rc -eq 1 ] && [ $took -le 10 ] && grep -q 'pod secrets (pod-secrets) failed' <<<"$out" &&
	grep -q 'container:  openbao' <<<"$out" && grep -q 'probe:      httpGet :8200/v1/sys/health' <<<"$out" &&
	grep -q 'last error: not ready after 3 s' <<<"$out" && grep -q '| standin: STANDIN_FAIL=1' <<<"$out"; then
	pass wait-timeout-diagnostic
else
	fail wait-timeout-diagnostic "rc=$rc took=${took}s $out"
fi
out=$(A wait --pod nosuch 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q "unknown pod 'nosuch' in profile deployed" <<<"$out"; then
	pass wait-unknown-pod
else
	fail wait-unknown-pod "rc=$rc $out"
fi
A clean --yes >/dev/null 2>&1
podman rmi "$broken" >/dev/null 2>&1

# --- the service user: rootless deploy, validate and doctor ------------------------------
run=/tmp/aegis-svc-run-$uid
mkdir -p "$run/podman" && chown -R "$USER_NAME:" "$run" && chmod 0700 "$run"
as_user() {
	runuser -u "$USER_NAME" -- env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$home" USER="$USER_NAME" \
		XDG_RUNTIME_DIR="$run" CONTAINERS_CONF="$ROOT/scripts/podman-containers.conf" \
		ASAN_OPTIONS="$ASAN_OPTIONS" TMPDIR=/tmp "$@"
}
if ! out=$(cd / && as_user bash "$ROOT/tests/podman/build-standin.sh" 2>&1); then
	for n in rootless-deploy-as-service-user rootless-validate-as-service-user doctor-ok-as-service-user; do
		fail "$n" "building the stand-in as $USER_NAME: $out"
	done
	exit 0
fi
user_sock=$run/podman/podman.sock
as_user podman system service --time=0 "unix://$user_sock" >"$TMP/user-service.log" 2>&1 &
user_service_pid=$!
for _ in $(seq 100); do [ -S "$user_sock" ] && break; sleep 0.1; done
for v in $(image_vars); do echo "$v=$STANDIN_IMAGE"; done >>"$env_path"
U() { (cd / && as_user "$AEGIS_BIN" --root "$ROOT" --env "$env_path" "$@"); }
U deploy --no-bootstrap --profile minimal --timeout 90 >"$TMP/user-deploy.out" 2>&1; rc=$?
if [ $rc -eq 0 ] && [ "$(as_user podman pod ls --format '{{.Name}}' | grep -c '^pod-')" = 2 ]; then
	pass rootless-deploy-as-service-user
else
	fail rootless-deploy-as-service-user "rc=$rc $(tail -8 "$TMP/user-deploy.out")"
fi
out=$(U validate --profile minimal 2>&1); rc=$?
if [ $rc -eq 0 ]; then pass rootless-validate-as-service-user; else fail rootless-validate-as-service-user "rc=$rc $out"; fi
# No error as that user: the ports are held by its own pods, its images present.
out=$(U doctor --profile minimal 2>&1); rc=$?
echo "$out" | sed 's/^/    | /'
if [ $rc -eq 0 ] && ! grep -q '^ERROR' <<<"$out" && grep -q "^OK      mode: rootless, as $USER_NAME" <<<"$out" &&
	grep -q '^OK      subuid: 65536 ids' <<<"$out" && grep -q '^OK      port .*held by our own pod' <<<"$out"; then
	pass doctor-ok-as-service-user
else
	fail doctor-ok-as-service-user "rc=$rc"
fi
