# Test-only Podman environment; source it from integration tests:
#
#   . "$ROOT/tests/podman/env.sh"
#   podman_available || { skip name "$PODMAN_UNAVAILABLE"; exit 0; }
#
# It points Podman at scripts/podman-containers.conf through CONTAINERS_CONF
# (the machine's own configuration is never changed) and provides the
# stand-in image, localhost/aegis-test/standin:latest (see build-standin.sh).
PODMAN_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

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
	{
		cat "$PODMAN_TEST_DIR/../../scripts/podman-containers.conf"
		printf '\n# isolation (tests/podman/env.sh)\n'
		printf 'tmp_dir = "%s/tmp"\nstatic_dir = "%s/storage/libpod"\nvolume_path = "%s/storage/volumes"\n' "$h" "$h" "$h"
		printf '\n[network]\nnetwork_backend = "netavark"\nnetwork_config_dir = "%s/networks"\n' "$h"
		# subnets apart from the machine's own Podman networks (10.88/10.89)
		printf 'default_subnet_pools = [{"base" = "10.213.0.0/16", "size" = 24}]\n'
	} >"$h/containers.conf.tmp" && mv "$h/containers.conf.tmp" "$h/containers.conf"
	printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$h" "$h" \
		>"$h/storage.conf.tmp" && mv "$h/storage.conf.tmp" "$h/storage.conf"
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

# standin_variant TAG KEY=VALUE...: the stand-in with those environment
# variables baked in, as localhost/aegis-test/standin:TAG (kube play keeps
# an image's ENV, so one pod can be made slow or broken without touching the
# templates).  Prints the image name.
standin_variant() {
	local tag=$1 ctr="aegis-standin-variant-$$-$RANDOM" image="localhost/aegis-test/standin:$1"
	shift
	local changes=()
	for kv in "$@"; do changes+=(--change "ENV $kv"); done
	podman create --name "$ctr" "$STANDIN_IMAGE" >/dev/null &&
		podman commit -q "${changes[@]}" "$ctr" "$image" >/dev/null
	local rc=$?
	podman rm -f "$ctr" >/dev/null 2>&1
	[ $rc -eq 0 ] && echo "$image"
}

# The image variables of every pod template, from the variable schema.
image_vars() {
	sed -n 's/^[[:space:]]*- name: \([A-Z0-9_]*_IMAGE\)$/\1/p' "$PODMAN_TEST_DIR/../../kube/variables.yaml"
}
