# Test-only Podman environment; source it from integration tests:
#
#   . "$ROOT/tests/podman/env.sh"
#   podman_available || { skip name "$PODMAN_UNAVAILABLE"; exit 0; }
#
# It points Podman at scripts/podman-containers.conf through CONTAINERS_CONF
# (the machine's own configuration is never changed) and provides the
# stand-in image, localhost/aegis-test/standin:latest (see build-standin.sh).
PODMAN_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$PODMAN_TEST_DIR/image-cache.sh"

# An isolated Podman for the tests: as root, its own storage, volumes, run
# state and network configuration under $PODMAN_TEST_HOME, so `make test` on a
# machine that runs a real deployment never touches its pods, volumes or
# network (they share only the host ports).  The directory is kept between
# runs, so the stand-in image is built once.  As a non-root user, Podman's
# storage is already per-user; only the settings of containers.conf apply.
podman_test_env() {
	if [ "$(id -u)" -ne 0 ]; then
		export CONTAINERS_CONF=$PODMAN_TEST_DIR/../../scripts/podman-containers.conf
		return
	fi
	PODMAN_TEST_HOME=${AEGIS_TEST_PODMAN_HOME:-/var/tmp/aegis-test-podman}
	mkdir -p -m 0700 "$PODMAN_TEST_HOME"/{storage,run,tmp,networks}
	local h=$PODMAN_TEST_HOME
	# a temporary name per process: runs started at the same moment write
	# their own file and each rename is atomic (the contents are identical)
	local t=tmp.$BASHPID
	{
		cat "$PODMAN_TEST_DIR/../../scripts/podman-containers.conf"
		printf '\n# isolation (tests/podman/env.sh)\n'
		printf 'tmp_dir = "%s/tmp"\nstatic_dir = "%s/storage/libpod"\nvolume_path = "%s/storage/volumes"\n' "$h" "$h" "$h"
		printf '\n[network]\nnetwork_backend = "netavark"\nnetwork_config_dir = "%s/networks"\n' "$h"
		# subnets apart from the machine's own Podman networks (10.88/10.89)
		printf 'default_subnet_pools = [{"base" = "10.213.0.0/16", "size" = 24}]\n'
	} >"$h/containers.conf.$t" && mv "$h/containers.conf.$t" "$h/containers.conf"
	printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$h" "$h" \
		>"$h/storage.conf.$t" && mv "$h/storage.conf.$t" "$h/storage.conf"
	export CONTAINERS_CONF=$h/containers.conf CONTAINERS_STORAGE_CONF=$h/storage.conf
}
[ -n "${CONTAINERS_CONF:-}" ] || podman_test_env
STANDIN_IMAGE=localhost/aegis-test/standin:latest
PODMAN_UNAVAILABLE=

# Build the stand-in image unless it is current (quiet when it is).
standin_build() {
	bash "$PODMAN_TEST_DIR/build-standin.sh"
}

# Podman is installed and runs a container here; otherwise false with the
# reason in $PODMAN_UNAVAILABLE.  Builds the stand-in image on the way.
# The answer is kept for the rest of the shell.
podman_available() {
	if [ -n "${PODMAN_AVAILABLE_CHECKED:-}" ]; then
		[ -z "$PODMAN_UNAVAILABLE" ]
		return
	fi
	PODMAN_AVAILABLE_CHECKED=1
	local out
	if ! command -v podman >/dev/null 2>&1; then
		PODMAN_UNAVAILABLE="podman is not installed: run 'make setup'"
	elif ! out=$(standin_build 2>&1); then
		PODMAN_UNAVAILABLE="cannot build the stand-in image: $(printf '%s' "$out" | tail -n 1)"
	elif ! out=$(podman run --rm --network none --entrypoint /bin/true "$STANDIN_IMAGE" 2>&1); then
		PODMAN_UNAVAILABLE="podman cannot run a container here: $(printf '%s' "$out" | tail -n 1)"
	fi
	[ -z "$PODMAN_UNAVAILABLE" ]
}

# require_rootful_podman: the script's tests (its "names" array) need root
# and a working test Podman; otherwise each FAILs with the reason (a skip
# only under AEGIS_TEST_ALLOW_SKIP=1) and the script ends.
require_rootful_podman() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root for the rootful Podman tests"
	podman_available || skip_all "$PODMAN_UNAVAILABLE"
}

# standin_variant TAG KEY=VALUE...: the stand-in with those environment
# variables baked in, as localhost/aegis-test/standin:TAG (kube play keeps
# an image's ENV, so one pod can be made slow or broken without touching the
# templates).  Prints the image name.
standin_variant() {
	local tag=$1 image="localhost/aegis-test/standin:$1"
	shift
	local changes=()
	for kv in "$@"; do changes+=(--change "ENV $kv"); done
	image_derive "$STANDIN_IMAGE" "$image" "variant-$tag" "${changes[@]}" && echo "$image"
}

# profile_pods PROFILE: how many pods the profile has (from plan --json, so
# that a test never hard-codes what a profile holds).
profile_pods() {
	"$AEGIS_BIN" --root "$ROOT" --env "${ENV:-/dev/null}" plan --profile "$1" --json 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["pods"]))'
}

# The image variables of every pod template, from the variable schema.
image_vars() {
	sed -n 's/^[[:space:]]*- name: \([A-Z0-9_]*_IMAGE\)$/\1/p' "$PODMAN_TEST_DIR/../../kube/variables.yaml"
}

# podman_test_stack [ROOT_DIR]: what a test deploying onto the test Podman
# needs (lib.sh sourced): a long-lived API service on $SOCK ($TMP/podman.sock,
# which the pods mount as CONTAINER_SOCK); a stand-in .env in $ENV
# ($TMP/.env: init's generated secrets, the test socket, every image the
# stand-in); and an EXIT trap that removes what the test deployed (clean
# --yes), stops the service and removes $TMP.  ROOT_DIR (default $ROOT) is
# the --root of init and of that clean.  A script appends its own settings to
# $ENV (a later line wins), and may define podman_test_stack_before_cleanup
# for what else it started.
podman_test_stack() {
	PODMAN_STACK_ROOT=${1:-$ROOT}
	SOCK=$TMP/podman.sock
	podman system service --time=0 "unix://$SOCK" >"$TMP/service.log" 2>&1 &
	podman_service_pid=$!
	for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
	ENV=$TMP/.env
	trap podman_test_stack_cleanup EXIT
	cp "$ROOT/.env.example" "$TMP/.env.example"
	(cd "$TMP" && "$AEGIS_BIN" --root "$PODMAN_STACK_ROOT" init >/dev/null)
	{
		echo "CONTAINER_SOCK=$SOCK"
		for v in $(image_vars); do echo "$v=$STANDIN_IMAGE"; done
	} >>"$ENV"
}

# podman_bootstrap_stack: podman_test_stack with the OpenBao and Keycloak API
# test servers of the demo's images (bootstrap runs against them) and the
# generated files and SEAL keys under $TMP.  The script's tests ("names")
# fail when the demo images cannot be built.
podman_bootstrap_stack() {
	local out
	if ! out=$(bash "$ROOT/scripts/demo-images.sh" 2>&1); then
		skip_all "cannot build the demo images: $(printf '%s' "$out" | tail -n 2)"
	fi
	podman_test_stack
	{
		echo "OPENBAO_IMAGE=localhost/aegis-demo/openbao-standin:latest"
		echo "KEYCLOAK_IMAGE=localhost/aegis-demo/keycloak-standin:latest"
		echo "AEGIS_GENERATED_DIR=$TMP/generated"
		echo "SEAL_KEYS_DIR=$TMP/seal"
	} >>"$ENV"
}

podman_test_stack_cleanup() {
	if declare -F podman_test_stack_before_cleanup >/dev/null; then podman_test_stack_before_cleanup; fi
	"$AEGIS_BIN" --root "$PODMAN_STACK_ROOT" --env "$ENV" clean --yes >/dev/null 2>&1
	kill "$podman_service_pid" 2>/dev/null
	wait "$podman_service_pid" 2>/dev/null
	rm -rf "$TMP"
}
