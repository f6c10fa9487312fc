#!/usr/bin/env bash
# Build localhost/aegis-test/caddy:latest: the real Caddy of the machine's
# Debian package (`caddy`, installed by scripts/setup.sh) with the libraries
# it links and busybox-static (for `cat`, which exports the internal CA), so
# the edge tests run real Caddy and real TLS without a registry.  It starts
# as the pod template says (/usr/bin/caddy run --config /etc/caddy/Caddyfile).
#
# Rebuilt only when this script, caddy or busybox changed (image label
# aegis.caddy.hash).  Usage: build-caddy.sh [--force]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CONTAINERS_CONF:=$here/../../scripts/podman-containers.conf}"
export CONTAINERS_CONF
image=${CADDY_TEST_IMAGE:-localhost/aegis-test/caddy:latest}

caddy=$(command -v caddy || true)
busybox=$(command -v busybox || true)
if [ -z "$caddy" ] || [ -z "$busybox" ]; then
	echo "build-caddy: caddy and busybox-static are needed: run 'make setup' (scripts/setup.sh)" >&2
	exit 2
fi
hash=$(cat "${BASH_SOURCE[0]}" "$caddy" "$busybox" | sha256sum | cut -c1-16)

exec 9>"${XDG_RUNTIME_DIR:-/tmp}/aegis-caddy-build.lock"
flock 9
current=$(podman image inspect --format '{{index .Labels "aegis.caddy.hash"}}' "$image" 2>/dev/null || true)
if [ "${1:-}" != --force ] && [ "$current" = "$hash" ]; then
	exit 0
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/aegis-caddy-XXXXXX")
chmod 0755 "$dir"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,usr/bin,etc,data,config,proc,sys,dev}
mkdir -m 1777 "$dir/tmp"
cp "$busybox" "$dir/bin/busybox"
for applet in cat sh ls; do ln -s busybox "$dir/bin/$applet"; done
cp "$caddy" "$dir/usr/bin/caddy"
# the shared libraries caddy links (glibc, libzstd) at the same paths
for lib in $(ldd "$caddy" | grep -o '/[^ ]*'); do
	mkdir -p "$dir$(dirname "$lib")"
	cp -L "$lib" "$dir$lib"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
echo 'root:x:0:' >"$dir/etc/group"

tar -C "$dir" -c . | podman import --quiet \
	--change 'CMD ["/usr/bin/caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]' \
	--change 'ENV PATH=/usr/bin:/bin' \
	--change 'ENV XDG_DATA_HOME=/data' \
	--change 'ENV XDG_CONFIG_HOME=/config' \
	--change "LABEL aegis.caddy.hash=$hash" \
	- "$image" >/dev/null
echo "build-caddy: built $image ($hash)"
