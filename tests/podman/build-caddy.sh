#!/usr/bin/env bash
# Build localhost/aegis-test/caddy:latest: the real Caddy of the machine's
# Debian package (`caddy`, installed by scripts/setup.sh) with the libraries
# it links and busybox-static (for `cat`, which exports the internal CA), so
# the edge tests run real Caddy and real TLS without a registry.  It starts
# as the pod template says (/usr/bin/caddy run --config /etc/caddy/Caddyfile).
#
# Rebuilt only when this script, caddy or busybox changed (image-cache.sh).
# Usage: build-caddy.sh [--force]
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
. "$here/image-cache.sh"
hash=$(image_hash "${BASH_SOURCE[0]}" "$caddy" "$busybox")
image_current "$image" "$hash" "${1:-}" && exit 0

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

image_import "$dir" "$image" "$hash" \
	--change 'CMD ["/usr/bin/caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]' \
	--change 'ENV PATH=/usr/bin:/bin' \
	--change 'ENV XDG_DATA_HOME=/data' \
	--change 'ENV XDG_CONFIG_HOME=/config'
echo "build-caddy: built $image ($hash)"
