#!/usr/bin/env bash
# Build localhost/aegis-test/caddy-backports:latest: a Caddy newer than the
# 2.6 of Debian bookworm (build-caddy.sh), so the edge's Caddyfile is tested
# on the Caddy generation the production image (caddy:2.8.4) belongs to.
# Debian 13 (trixie) itself still ships 2.6.2 (2.6.2-12+deb13u1); the newer
# Caddy is the one of trixie-backports (2.11.2-1~bpo13+1 when this was
# written), a Go binary that needs only glibc >= 2.34 (bookworm has 2.36).
#
# Its .deb comes from the machine's own Debian mirror (image_mirror) through
# a private apt configuration in a temporary directory (its own sources list,
# lists, cache and an empty dpkg status): the host's apt sources and packages
# are never changed.  The image holds that caddy, the libraries it links and
# busybox-static (cat, sh, ls, wget: the admin API is read with
# `wget -qO- http://localhost:2019/config/` inside the container).
#
# Needs the package archive, so tests/run.sh builds it before entering the
# tests' network namespace (a script's "# test-images: caddy-backports" line).
# Rebuilt only when this script, busybox or the suite's caddy .deb (its
# SHA256 in the suite's index) changed (image-cache.sh); with the archive out
# of reach an existing image is kept.
# Usage: build-caddy-backports.sh [--force]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CONTAINERS_CONF:=$here/../../scripts/podman-containers.conf}"
export CONTAINERS_CONF
image=${CADDY_BACKPORTS_TEST_IMAGE:-localhost/aegis-test/caddy-backports:latest}
suite=${CADDY_BACKPORTS_SUITE:-trixie-backports}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || [ ! -f "$keyring" ]; then
	echo "build-caddy-backports: busybox-static and debian-archive-keyring are needed: run 'make setup' (scripts/setup.sh)" >&2
	exit 2
fi
. "$here/image-cache.sh"
mirror=$(image_mirror)
if [ -z "$mirror" ]; then
	echo "build-caddy-backports: no Debian mirror in this machine's apt sources (/etc/apt)" >&2
	exit 2
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/aegis-caddy-backports-XXXXXX")
chmod 0755 "$dir"
trap 'rm -rf "$dir"' EXIT
apt=$dir/apt
mkdir -p "$apt"/{lists/partial,cache/archives/partial,deb} "$dir/root"
echo "deb [signed-by=$keyring] $mirror $suite main" >"$apt/sources.list"
: >"$apt/status"
aptopts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=$apt/none"
	-o "Dir::State=$apt" -o "Dir::State::lists=$apt/lists" -o "Dir::State::status=$apt/status"
	-o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
if ! apt-get "${aptopts[@]}" update >"$apt/update.log" 2>&1; then
	if [ -n "$(image_label "$image")" ]; then
		echo "build-caddy-backports: $suite unreachable ($(tail -n 1 "$apt/update.log")); keeping $image" >&2
		exit 0
	fi
	echo "build-caddy-backports: apt-get update of $mirror $suite failed: $(tail -n 3 "$apt/update.log")" >&2
	exit 1
fi
info=$(apt-cache "${aptopts[@]}" show caddy 2>/dev/null || true)
version=$(awk '/^Version:/ { print $2; exit }' <<<"$info")
sha=$(awk '/^SHA256:/ { print $2; exit }' <<<"$info")
if [ -z "$version" ] || [ -z "$sha" ]; then
	echo "build-caddy-backports: no caddy in $mirror $suite" >&2
	exit 1
fi
hash=$(image_hash "${BASH_SOURCE[0]}" "$busybox" -- "$suite" "$sha")
image_current "$image" "$hash" "${1:-}" && exit 0

(cd "$apt/deb" && apt-get "${aptopts[@]}" download "caddy=$version" >"$apt/download.log" 2>&1) || {
	echo "build-caddy-backports: cannot download caddy $version: $(tail -n 3 "$apt/download.log")" >&2
	exit 1
}
deb=$(ls "$apt"/deb/caddy_*.deb)
echo "$sha  $deb" | sha256sum -c --quiet - || {
	echo "build-caddy-backports: $deb does not match the SHA256 of the index" >&2
	exit 1
}
dpkg-deb -x "$deb" "$apt/x"
r=$dir/root
mkdir -p "$r"/{bin,usr/bin,etc,data,config,proc,sys,dev}
mkdir -m 1777 "$r/tmp"
cp "$busybox" "$r/bin/busybox"
for applet in cat sh ls wget; do ln -s busybox "$r/bin/$applet"; done
cp "$apt/x/usr/bin/caddy" "$r/usr/bin/caddy"
for lib in $(ldd "$r/usr/bin/caddy" | grep -o '/[^ ]*'); do
	mkdir -p "$r$(dirname "$lib")"
	cp -L "$lib" "$r$lib"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
echo 'root:x:0:' >"$r/etc/group"
got=$("$r/usr/bin/caddy" version 2>&1 | awk '{ print $1; exit }')

image_import "$r" "$image" "$hash" \
	--change 'CMD ["/usr/bin/caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]' \
	--change 'ENV PATH=/usr/bin:/bin' \
	--change 'ENV XDG_DATA_HOME=/data' \
	--change 'ENV XDG_CONFIG_HOME=/config' \
	--change "LABEL aegis.caddy.version=$got" \
	--change "LABEL aegis.caddy.deb=caddy_$version"
echo "build-caddy-backports: built $image (caddy $got from $suite, $hash)"
