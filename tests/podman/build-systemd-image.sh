#!/usr/bin/env bash
# Build localhost/aegis-test/systemd-podman:latest: Debian (the host's release,
# from the mirror in the machine's apt configuration) with systemd as PID 1,
# Podman, runc, netavark, aardvark-dns, iptables and the runtime libraries of
# aegis-deploy, for scripts/systemd-trial.sh and
# tests/integration/63-systemd-pid1.sh.  The binary, kube/, profiles/ and the
# stand-in image are not part of it: the trial copies them in, so a rebuild of
# the binary never rebuilds this image.
#
# Built once (debootstrap needs root and the package archive, about 2 min) and
# reused while it is current (image-cache.sh: this script's hash).
# Usage: build-systemd-image.sh [--force].  Exit 0 built or current, 1 failed,
# 2 cannot be built here (not root, no mirror, no debootstrap).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CONTAINERS_CONF:=$here/../../scripts/podman-containers.conf}"
export CONTAINERS_CONF
image=${SYSTEMD_IMAGE:-localhost/aegis-test/systemd-podman:latest}
log() { echo "build-systemd-image: $*" >&2; }

packages=systemd,systemd-sysv,dbus,podman,runc,conmon,netavark,aardvark-dns,iptables,catatonit,uidmap
packages+=,libyaml-0-2,libjansson4,libcurl4,libgit2-1.5,libssl3,ca-certificates,procps
# python3: the trial makes an image of this root inside to run the OpenBao
# test server (tests/servers/openbao.py), which seals on every restart
packages+=,python3
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
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
url=$(image_mirror)
[ -n "$codename" ] && [ -n "$url" ] || {
	log "cannot find this machine's distribution mirror in /etc/apt (codename '$codename')"
	exit 2
}

dir=$(mktemp -d /var/tmp/aegis-systemd-rootfs-XXXXXX)
chmod 0755 "$dir"
trap 'rm -rf "$dir" "$dir.log"' EXIT
t0=$(date +%s)
log "debootstrap $codename from $url (systemd, podman, runc)…"
if ! debootstrap --variant=minbase --include="$packages" "$codename" "$dir" "$url" >"$dir.log" 2>&1; then
	log "debootstrap failed: $(tail -n 3 "$dir.log" | tr '\n' ' ')"
	exit 1
fi
# Podman inside: runc (crun rejects hybrid cgroup layouts), ulimits within the
# host's hard limits, and storage on a volume mounted by the trial at
# /var/lib/containers (overlay cannot stack on the outer overlay).
mkdir -p "$dir/etc/containers"
cat >"$dir/etc/containers/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]
[engine]
runtime = "runc"
cgroup_manager = "systemd"
EOF
cat >"$dir/etc/containers/storage.conf" <<'EOF'
[storage]
driver = "vfs"
graphroot = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
EOF
# A container has no consoles to start gettys on, and nothing to resize.
for u in getty@tty1.service console-getty.service systemd-logind.service; do
	ln -sf /dev/null "$dir/etc/systemd/system/$u"
done
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
log "debootstrap took $(($(date +%s) - t0)) s; importing…"
image_import "$dir" "$image" "$hash" \
	--change 'ENV container=podman' \
	--change 'STOPSIGNAL SIGRTMIN+3' \
	--change 'CMD ["/sbin/init"]'
log "built $image in $(($(date +%s) - t0)) s"
