#!/usr/bin/env bash
# Build localhost/aegis-test/podman5:latest: Debian 13 (trixie, from the
# mirror in this machine's apt configuration) with systemd as PID 1 (logind
# and machined included: lingering and `systemctl --machine USER@ --user`),
# Podman 5.4 with its Quadlet generator, runc, netavark, aardvark-dns, passt,
# uidmap, sudo and the runtime libraries of aegis-deploy, for
# scripts/podman5-trial.sh (whose --sample tests/integration/64-podman5.sh runs in make test).  The binary,
# kube/, profiles/ and the stand-in image are not part of it: the trial copies
# them in, so a rebuild of the binary never rebuilds this image.
#
# The binary is built on this machine (Debian 12) and links libgit2.so.1.5,
# which Debian 13 no longer has (it ships libgit2 1.9).  Bookworm's
# libgit2-1.5 and the three libraries only it needs (mbedtls 2.28,
# http-parser 2.9) are unpacked into /usr/local/lib/aegis-bookworm (ld.so.conf.d),
# about 1.3 MB; everything else it links (libcurl, libssl 3, jansson, yaml)
# keeps its soname in Debian 13.  Building the binary inside the image instead
# would add the compiler and the -dev packages to the image and a compile of
# about a minute on these machines to every trial.
#
# Built once (debootstrap needs root and the package archive) and reused while
# it is current (image-cache.sh: this script's hash).
# Usage: build-podman5-image.sh [--force].  Exit 0 built or current, 1 failed,
# 2 cannot be built here (not root, no mirror, no debootstrap).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CONTAINERS_CONF:=$here/../../scripts/podman-containers.conf}"
export CONTAINERS_CONF
image=${PODMAN5_IMAGE:-localhost/aegis-test/podman5:latest}
suite=trixie
log() { echo "build-podman5-image: $*" >&2; }

# debootstrap resolves --include poorly (virtual packages, t64 renames):
# only the base with systemd, then apt inside the root.
base=systemd,systemd-sysv,dbus
packages=(podman runc netavark aardvark-dns passt catatonit uidmap iptables conmon
	dbus-user-session libpam-systemd systemd-container sudo procps ca-certificates
	libyaml-0-2 libjansson4 libcurl4t64 libssl3t64)
# from this machine's own release: what the binary needs that Debian 13 lacks
compat=(libgit2-1.5 libmbedtls14 libmbedcrypto7 libmbedx509-1 libhttp-parser2.9)
. "$here/image-cache.sh"
hash=$(image_hash "${BASH_SOURCE[0]}" "$here/image-cache.sh")
image_current "$image" "$hash" "${1:-}" && exit 0
if [ "$(id -u)" -ne 0 ]; then
	log "debootstrap needs root"
	exit 2
fi
command -v debootstrap >/dev/null || {
	log "debootstrap is not installed: run 'make setup'"
	exit 2
}
[ -e "/usr/share/debootstrap/scripts/$suite" ] || {
	log "this debootstrap does not know $suite"
	exit 2
}
url=$(image_mirror)
[ -n "$url" ] || {
	log "cannot find this machine's distribution mirror in /etc/apt"
	exit 2
}

dir=$(mktemp -d /var/tmp/aegis-podman5-rootfs-XXXXXX)
chmod 0755 "$dir"
debs=$(mktemp -d /var/tmp/aegis-podman5-debs-XXXXXX)
trap 'umount "$dir/proc" 2>/dev/null || :; rm -rf "$dir" "$dir.log" "$debs"' EXIT
t0=$(date +%s)
log "debootstrap $suite from $url (systemd)…"
if ! debootstrap --variant=minbase --include="$base" "$suite" "$dir" "$url" >"$dir.log" 2>&1; then
	log "debootstrap failed: $(tail -n 3 "$dir.log" | tr '\n' ' ')"
	exit 1
fi
t1=$(date +%s)
log "debootstrap took $((t1 - t0)) s; apt-get install ${packages[*]}…"
# no service starts inside the chroot
printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
chmod 0755 "$dir/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$dir/etc/resolv.conf"
mount -t proc proc "$dir/proc"
if ! chroot "$dir" sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q &&
	apt-get install -y -q --no-install-recommends "$@"' sh "${packages[@]}" >"$dir.log" 2>&1; then
	log "apt-get install in the $suite root failed: $(tail -n 3 "$dir.log" | tr '\n' ' ')"
	exit 1
fi
umount "$dir/proc"
rm -f "$dir/usr/sbin/policy-rc.d"
t2=$(date +%s)
log "apt-get took $((t2 - t1)) s; bookworm's ${compat[*]}…"
if ! (cd "$debs" && apt-get download -q "${compat[@]}" >"$dir.log" 2>&1); then
	log "apt-get download ${compat[*]} failed: $(tail -n 3 "$dir.log" | tr '\n' ' ')"
	exit 1
fi
mkdir -p "$debs/x" "$dir/usr/local/lib/aegis-bookworm"
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$debs/x"; done
cp -a "$debs"/x/usr/lib/x86_64-linux-gnu/*.so.* "$dir/usr/local/lib/aegis-bookworm/"
echo /usr/local/lib/aegis-bookworm >"$dir/etc/ld.so.conf.d/aegis-bookworm.conf"
chroot "$dir" ldconfig

# Podman inside (tests/podman/env.sh's settings, and what Podman 5 on a
# cgroup v1 host needs): runc (crun rejects hybrid cgroup layouts), the
# outer container's ulimits inherited, netavark's iptables driver (1.14
# defaults to nftables, and the image has no nft), vfs storage (the trial
# mounts a volume at /var/lib/containers: no overlay on the outer overlay).
mkdir -p "$dir/etc/containers"
cat >"$dir/etc/containers/containers.conf" <<'EOF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "systemd"
[network]
firewall_driver = "iptables"
EOF
cat >"$dir/etc/containers/storage.conf" <<'EOF'
[storage]
driver = "vfs"
graphroot = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
EOF
# cgroup v1 here: Podman 5 warns about it on every call
mkdir -p "$dir/etc/environment.d"
echo PODMAN_IGNORE_CGROUPSV1_WARNING=1 >>"$dir/etc/environment"
echo PODMAN_IGNORE_CGROUPSV1_WARNING=1 >"$dir/etc/environment.d/50-podman.conf"
mkdir -p "$dir/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultEnvironment=PODMAN_IGNORE_CGROUPSV1_WARNING=1\n' \
	>"$dir/etc/systemd/system.conf.d/50-podman.conf"
# A container has no consoles to start gettys on, and no modules to load.
for u in getty@tty1.service console-getty.service systemd-modules-load.service; do
	ln -sf /dev/null "$dir/etc/systemd/system/$u"
done
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
: >"$dir/etc/resolv.conf"
t3=$(date +%s)
log "root ready in $((t3 - t0)) s ($(du -sm "$dir" | cut -f1) MB); importing…"
image_import "$dir" "$image" "$hash" \
	--change 'ENV container=podman' \
	--change 'STOPSIGNAL SIGRTMIN+3' \
	--change 'CMD ["/sbin/init"]'
log "built $image in $(($(date +%s) - t0)) s (podman $(chroot "$dir" dpkg-query -W -f '${Version}' podman))"
