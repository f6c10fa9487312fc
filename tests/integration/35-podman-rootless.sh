# The same full deploy, rootless: as a dedicated non-root user with its own
# XDG_RUNTIME_DIR and Podman storage, the API socket at the user's default
# CONTAINER_SOCK ($XDG_RUNTIME_DIR/podman/podman.sock).  Creates the user
# aegis-rootless-test once (useradd assigns its subuid/subgid ranges).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(rootless-deploy-full rootless-validate rootless-status rootless-clean)
USER_NAME=aegis-rootless-test
[ "$(id -u)" -eq 0 ] || skip_all "needs root to create the test user"
command -v podman >/dev/null 2>&1 || skip_all "podman is not installed: run 'make setup'"
if ! id "$USER_NAME" >/dev/null 2>&1; then
	useradd -m -s /usr/sbin/nologin "$USER_NAME" || { for n in "${names[@]}"; do fail "$n" "useradd failed"; done; exit 0; }
fi
uid=$(id -u "$USER_NAME")
home=$(getent passwd "$USER_NAME" | cut -d: -f6)
run=/tmp/aegis-rootless-run-$uid
mkdir -p "$run" && chown "$USER_NAME:" "$run" && chmod 0700 "$run"
work=$TMP/rootless
mkdir -p "$work" && chown "$USER_NAME:" "$work"

# as_user CMD...: run as the test user with its own runtime dir and the test
# containers.conf (runc and ulimits for these machines).
as_user() {
	runuser -u "$USER_NAME" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" USER="$USER_NAME" \
		XDG_RUNTIME_DIR="$run" CONTAINERS_CONF="$ROOT/scripts/podman-containers.conf" \
		ASAN_OPTIONS="$ASAN_OPTIONS" TMPDIR=/tmp "$@"
}
cleanup() {
	as_user "$AEGIS_BIN" --root "$ROOT" --env "$work/.env" clean --yes >/dev/null 2>&1
	pkill -u "$USER_NAME" -f 'podman system service' 2>/dev/null
	sleep 0.5
	pkill -u "$USER_NAME" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

if ! out=$(as_user bash "$ROOT/tests/podman/build-standin.sh" 2>&1); then
	for n in "${names[@]}"; do fail "$n" "building the stand-in as $USER_NAME: $out"; done
	exit 0
fi

# The user's Podman API service on its default socket.
sock=$run/podman/podman.sock
as_user mkdir -p "$run/podman"
as_user podman system service --time=0 "unix://$sock" >"$work/service.log" 2>&1 &
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done

cp "$ROOT/.env.example" "$work/.env.example" && chown "$USER_NAME:" "$work/.env.example"
(cd "$work" && as_user "$AEGIS_BIN" --root "$ROOT" init >/dev/null)
for v in $(image_vars); do echo "$v=$STANDIN_IMAGE"; done >>"$work/.env"
# the SEAL keypair the pods mount, where this user can write it
echo "SEAL_KEYS_DIR=$work/seal" >>"$work/.env"
A() { as_user "$AEGIS_BIN" --root "$ROOT" --env "$work/.env" "$@"; }

A clean --yes >/dev/null 2>&1
FULL=$(ENV=$work/.env profile_pods full)
A deploy --no-bootstrap --profile full --timeout 120 --json >"$work/deploy.json" 2>"$work/deploy.err"; rc=$?
sock_used=$(A config 2>/dev/null | grep '^CONTAINER_SOCK')
if [ $rc -eq 0 ] && "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["result"]=="ok" and len(d["pods"])=='"$FULL" "$work/deploy.json" &&
	grep -q -- "$sock" <<<"$sock_used"; then
	pass rootless-deploy-full
else
	fail rootless-deploy-full "rc=$rc socket: $sock_used; $(tail -12 "$work/deploy.err")"
fi
A validate --profile full >"$work/validate.out" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q 'of 18 checks passed' "$work/validate.out"; then
	pass rootless-validate
else
	fail rootless-validate "rc=$rc $(tail -5 "$work/validate.out")"
fi
# The pods belong to the user's Podman, not root's.
user_pods=$(as_user podman pod ls --format '{{.Name}}' | grep -c '^pod-')
root_has=$(podman pod exists pod-core && echo yes || echo no)
if [ "$user_pods" = "$FULL" ] && [ "$root_has" = no ]; then
	pass rootless-status
else
	fail rootless-status "user pods=$user_pods root has pod-core: $root_has"
fi
A clean --yes >"$work/clean.out" 2>&1; rc=$?
left=$(as_user podman volume ls -q | grep -c '^aegis-')
if [ $rc -eq 0 ] && [ "$left" = 0 ]; then
	pass rootless-clean
else
	fail rootless-clean "rc=$rc volumes left=$left"
fi
