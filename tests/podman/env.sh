# Test-only Podman environment; source it from integration tests:
#
#   . "$ROOT/tests/podman/env.sh"
#   podman_available || { skip name "$PODMAN_UNAVAILABLE"; exit 0; }
#
# It points Podman at tests/podman/containers.conf through CONTAINERS_CONF
# (the machine's own configuration is never changed) and provides the
# stand-in image, localhost/aegis-test/standin:latest (see build-standin.sh).
PODMAN_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF=$PODMAN_TEST_DIR/containers.conf
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
