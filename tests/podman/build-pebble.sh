#!/usr/bin/env bash
# Build localhost/aegis-test/pebble:latest: pebble, the ACME (RFC 8555) test
# server of the machine's Debian package (`pebble`, installed by
# scripts/setup.sh), with the libraries it links, so the edge's acme mode is
# tested against a real ACME server without a registry or the Internet
# (tests/integration/56-edge-acme.sh).  Its configuration, its own HTTPS
# certificate and key are mounted at /etc/pebble when it runs.
#
# The same package ships pebble-challtestsrv, the mock DNS server that pebble
# is pointed at with `-dnsserver` (letsencrypt/pebble v2.4.0, Debian
# bookworm's 2.4.0+ds1: cmd/pebble/main.go:45-48, README.md:177-196); it is
# in the image too, at /usr/bin/pebble-challtestsrv, and runs as a second
# container of this image, so pebble resolves the edge's names through it
# and validates the challenges against the edge for real.
#
# Rebuilt only when this script, pebble or pebble-challtestsrv changed
# (image-cache.sh).
# Usage: build-pebble.sh [--force]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CONTAINERS_CONF:=$here/../../scripts/podman-containers.conf}"
export CONTAINERS_CONF
image=${PEBBLE_TEST_IMAGE:-localhost/aegis-test/pebble:latest}

pebble=$(command -v pebble || true)
challtestsrv=$(command -v pebble-challtestsrv || true)
if [ -z "$pebble" ] || [ -z "$challtestsrv" ]; then
	echo "build-pebble: pebble and pebble-challtestsrv (Debian package pebble) are needed: run 'make setup' (scripts/setup.sh)" >&2
	exit 2
fi
. "$here/image-cache.sh"
hash=$(image_hash "${BASH_SOURCE[0]}" "$pebble" "$challtestsrv")
image_current "$image" "$hash" "${1:-}" && exit 0

dir=$(mktemp -d "${TMPDIR:-/tmp}/aegis-pebble-XXXXXX")
chmod 0755 "$dir"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{usr/bin,etc/pebble,proc,sys,dev}
mkdir -m 1777 "$dir/tmp"
cp "$pebble" "$dir/usr/bin/pebble"
cp "$challtestsrv" "$dir/usr/bin/pebble-challtestsrv"
for lib in $( { ldd "$pebble"; ldd "$challtestsrv"; } | grep -o '/[^ ]*' | sort -u); do
	mkdir -p "$dir$(dirname "$lib")"
	cp -L "$lib" "$dir$lib"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
echo 'root:x:0:' >"$dir/etc/group"

image_import "$dir" "$image" "$hash" \
	--change 'CMD ["/usr/bin/pebble", "-config", "/etc/pebble/pebble-config.json"]'
echo "build-pebble: built $image ($hash)"
