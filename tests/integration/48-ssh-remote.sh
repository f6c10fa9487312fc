# Deploying to another host over ssh://: a real sshd (Debian's openssh-server)
# of this test only, bound to 127.0.0.1 on a spare port with its own host key
# and authorized keys, logging into a second user that runs rootless Podman.
# deploy, validate, status and teardown go through
#   --host ssh://USER@127.0.0.1:PORT/run/user/UID/podman/podman.sock
# and the pods land in that user's Podman.  An unreachable port, a wrong key
# and a missing remote socket give exit 1 and errors naming the URL; no ssh
# is left behind, not even by a SIGKILLed aegis-deploy.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(ssh-deploy ssh-pods-on-remote ssh-probes-through-tunnel ssh-validate ssh-status
	ssh-teardown ssh-unreachable ssh-bad-key ssh-remote-socket-missing ssh-bad-url
	ssh-killed-leaves-nothing ssh-nothing-left)
USER_NAME=aegis-ssh-test
[ "$(id -u)" -eq 0 ] || skip_all "needs root (a second user, sshd)"
command -v podman >/dev/null 2>&1 || skip_all "podman is not installed: run 'make setup'"
[ -x /usr/sbin/sshd ] || skip_all "openssh-server is not installed: run 'make setup'"
command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 ||
	skip_all "the OpenSSH client is not installed: run 'make setup'"

if ! id "$USER_NAME" >/dev/null 2>&1; then
	useradd -m -s /usr/sbin/nologin "$USER_NAME" || skip_all "useradd failed"
fi
# useradd leaves the account locked, which sshd refuses without PAM
usermod -p '*' "$USER_NAME"
uid=$(id -u "$USER_NAME")
home=$(getent passwd "$USER_NAME" | cut -d: -f6)
run=/run/user/$uid
mkdir -p "$run" && chown "$USER_NAME:" "$run" && chmod 0700 "$run"
work=$TMP/work
mkdir -p "$work"
S=$TMP/ssh
# 0755: sshd reads the authorized keys as the user
mkdir -m 0755 "$S"

as_user() {
	runuser -u "$USER_NAME" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" USER="$USER_NAME" \
		XDG_RUNTIME_DIR="$run" CONTAINERS_CONF="$ROOT/scripts/podman-containers.conf" TMPDIR=/tmp "$@"
}
service_pid=
sshd_pid=
cleanup() {
	as_user podman pod rm -f pod-core pod-secrets >/dev/null 2>&1
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null && wait "$sshd_pid" 2>/dev/null
	# runuser does not pass SIGTERM on: the test user's own processes (its API
	# service, the rootless pause process), by PID, as 62-service.sh does
	[ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null
	for p in $(pgrep -u "$uid"); do kill "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

if ! out=$(as_user bash "$ROOT/tests/podman/build-standin.sh" 2>&1); then
	for n in "${names[@]}"; do fail "$n" "building the stand-in as $USER_NAME: $out"; done
	exit 0
fi
# The user's Podman API on its default socket.
sock=$run/podman/podman.sock
as_user mkdir -p "$run/podman"
as_user podman system service --time=0 "unix://$sock" >"$TMP/service.log" 2>&1 &
service_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done

# --- the sshd of this test ------------------------------------------------------
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
ssh-keygen -q -t ed25519 -N '' -f "$S/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$S/id"
ssh-keygen -q -t ed25519 -N '' -f "$S/wrong"
cp "$S/id.pub" "$S/authorized_keys" && chmod 0644 "$S/authorized_keys"
cat >"$S/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $S/host_key
PidFile $S/sshd.pid
AuthorizedKeysFile $S/authorized_keys
AllowUsers $USER_NAME
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
LogLevel DEBUG1
# the authorized keys are in a directory under /tmp (sticky, world-writable)
StrictModes no
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -f "$S/sshd_config" -E "$S/sshd.log" &
sshd_pid=$!
for _ in $(seq 50); do "$PY" -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break; sleep 0.1; done
# the client side: the host key known, nothing of root's own ~/.ssh used
echo "[127.0.0.1]:$port $(cat "$S/host_key.pub")" >"$S/known_hosts"
printf 'UserKnownHostsFile %s\nStrictHostKeyChecking yes\n' "$S/known_hosts" >"$S/config"
export AEGIS_SSH_CONFIG=$S/config

# --- the deployment's configuration, kept on this (the CI) side ----------------------
cp "$ROOT/.env.example" "$work/.env.example"
(cd "$work" && aegis init >/dev/null)
for v in $(image_vars); do echo "$v=$STANDIN_IMAGE"; done >>"$work/.env"
echo "SEAL_KEYS_DIR=$work/seal" >>"$work/.env"
aegis --env "$work/.env" generate-keys --dir "$work/seal" >/dev/null
# the pods of the other user mount the key: theirs to read (the same machine here)
chown -R "$USER_NAME:" "$work/seal"
URL=ssh://$USER_NAME@127.0.0.1:$port$sock
A() { aegis --env "$work/.env" --host "$URL" --identity "$S/id" "$@"; }
ssh_procs() { pgrep -f -- "-p $port" | grep -v "^$sshd_pid\$"; }

# --- deploy, validate, status, teardown through ssh:// ----------------------------
A -v deploy --no-bootstrap --profile minimal --timeout 120 --json >"$work/deploy.json" 2>"$work/deploy.err"; rc=$?
if [ $rc -eq 0 ] && "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["result"]=="ok" and len(d["pods"])==2' "$work/deploy.json" &&
	grep -q "forwarded by ssh" "$work/deploy.err"; then
	pass ssh-deploy
else
	fail ssh-deploy "rc=$rc $(tail -8 "$work/deploy.err")"
fi
user_pods=$(as_user podman pod ls --format '{{.Name}}' | sort | tr '\n' ' ')
root_has=$(podman pod exists pod-core 2>/dev/null && echo yes || echo no)
if [ "$user_pods" = "pod-core pod-secrets " ] && [ "$root_has" = no ]; then
	pass ssh-pods-on-remote
else
	fail ssh-pods-on-remote "user pods: $user_pods root has pod-core: $root_has"
fi
# the httpGet probes reached the published ports through the tunnel: sshd
# opened direct-tcpip channels to them
if grep -q "server_request_direct_tcpip" "$S/sshd.log" && grep -q "direct-tcpip" "$S/sshd.log"; then
	pass ssh-probes-through-tunnel
else
	fail ssh-probes-through-tunnel "no direct-tcpip channel in the sshd log"
fi
A validate --profile minimal >"$work/validate.out" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q 'checks passed' "$work/validate.out"; then
	pass ssh-validate
else
	fail ssh-validate "rc=$rc $(tail -5 "$work/validate.out")"
fi
A status --profile minimal >"$work/status.out" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q 'pod-core' "$work/status.out" && grep -q 'pod-secrets' "$work/status.out"; then
	pass ssh-status
else
	fail ssh-status "rc=$rc $(tail -5 "$work/status.out")"
fi

# SIGKILL in the middle of a command: the watchdog stops ssh and removes the
# private directory
# (the binary itself, not the A function, so $! is its pid)
"$AEGIS_BIN" --root "$ROOT" --env "$work/.env" --host "$URL" --identity "$S/id" \
	logs --follow core >/dev/null 2>&1 &
apid=$!
for _ in $(seq 100); do [ -n "$(ssh_procs)" ] && [ -S "$(ls -d /tmp/aegis-ssh-"$apid"-*/podman.sock 2>/dev/null | head -1)" ] && break; sleep 0.1; done
sleep 0.5
had=$(ssh_procs | wc -l)
kill -9 "$apid"; wait "$apid" 2>/dev/null
for _ in $(seq 50); do [ -z "$(ssh_procs)" ] && break; sleep 0.1; done
left=$(ssh_procs | wc -l)
dirs=$(ls -d /tmp/aegis-ssh-"$apid"-* 2>/dev/null | wc -l)
if [ "$had" -ge 1 ] && [ "$left" = 0 ]; then
	pass ssh-killed-leaves-nothing
else
	fail ssh-killed-leaves-nothing "ssh before the kill: $had, after: $left; private dirs left: $dirs"
fi

A teardown --profile minimal >"$work/teardown.out" 2>&1; rc=$?
left_pods=$(as_user podman pod ls -q | wc -l)
if [ $rc -eq 0 ] && [ "$left_pods" = 0 ]; then
	pass ssh-teardown
else
	fail ssh-teardown "rc=$rc pods left: $left_pods $(tail -5 "$work/teardown.out")"
fi

# --- the errors ----------------------------------------------------------------------
dead=$(free_port)
bad_url=ssh://$USER_NAME@127.0.0.1:$dead$sock
t0=$(date +%s)
out=$(aegis --env "$work/.env" --host "$bad_url" --identity "$S/id" status --profile minimal 2>&1); rc=$?
took=$(($(date +%s) - t0))
if [ $rc -eq 1 ] && grep -qF "$bad_url" <<<"$out" && grep -q 'cannot reach the host' <<<"$out" &&
	grep -q 'Connection refused' <<<"$out" && [ "$took" -le 15 ]; then
	pass ssh-unreachable
else
	fail ssh-unreachable "rc=$rc in ${took}s: $out"
fi
out=$(CONTAINER_HOST=$URL CONTAINER_SSHKEY=$S/wrong aegis --env "$work/.env" status --profile minimal 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -qF "$URL" <<<"$out" && grep -q 'authentication failed' <<<"$out" &&
	grep -q 'Permission denied' <<<"$out"; then
	pass ssh-bad-key
else
	fail ssh-bad-key "rc=$rc: $out"
fi
missing_url=ssh://$USER_NAME@127.0.0.1:$port$run/podman/missing.sock
out=$(aegis --env "$work/.env" --host "$missing_url" --identity "$S/id" status --profile minimal 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -qF "$missing_url" <<<"$out" && grep -q 'remote socket .* cannot be opened' <<<"$out" &&
	grep -q '(ssh: .*open failed' <<<"$out"; then
	pass ssh-remote-socket-missing
else
	fail ssh-remote-socket-missing "rc=$rc: $out"
fi
o1=$(aegis --env "$work/.env" --host "ssh://u:hunter2@127.0.0.1/x.sock" status 2>&1); r1=$?
o2=$(aegis --env "$work/.env" --host "ssh://127.0.0.1" status 2>&1); r2=$?
o3=$(aegis --env "$work/.env" --host "tcp://127.0.0.1:8080" status 2>&1); r3=$?
if [ $r1 -eq 2 ] && [ $r2 -eq 2 ] && [ $r3 -eq 2 ] && ! grep -q hunter2 <<<"$o1" &&
	grep -q 'password in the URL' <<<"$o1" && grep -q 'no socket path' <<<"$o2" &&
	grep -q 'not an ssh:// URL' <<<"$o3"; then
	pass ssh-bad-url
else
	fail ssh-bad-url "r1=$r1 r2=$r2 r3=$r3: $o1 | $o2 | $o3"
fi

sleep 0.3
left=$(ssh_procs | wc -l)
dirs=$(ls -d /tmp/aegis-ssh-* 2>/dev/null | wc -l)
if [ "$left" = 0 ] && [ "$dirs" = 0 ]; then
	pass ssh-nothing-left
else
	fail ssh-nothing-left "ssh processes left: $left ($(ssh_procs | tr '\n' ' ')); private directories left: $dirs"
fi
