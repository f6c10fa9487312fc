#!/usr/bin/env bash
# Install every build, test and runtime dependency of aegis-deploy on Debian/Ubuntu.
# Idempotent: packages already present are skipped; safe to re-run.
set -euo pipefail

packages=(
  # build
  build-essential pkg-config
  libyaml-dev libcurl4-openssl-dev libjansson-dev libgit2-dev libssl-dev
  # runtime: Podman, rootless networking, the OCI runtime that works on hybrid cgroups
  podman runc crun uidmap slirp4netns catatonit netavark aardvark-dns iptables
  # tests, demo images and benchmarks
  busybox-static debootstrap curl openssl hyperfine python3 python3-yaml procps util-linux docker-registry
  clang-format
  # bcrypt for the edge's basic auth (build); real Caddy for the edge in the
  # tests and the demo (its system service is kept off below)
  libcrypt-dev caddy
  # ssh:// hosts: the OpenSSH client; the server only for the tests' own sshd
  # (its system service is kept off below when this script installed it)
  openssh-client openssh-server
  # pebble, the ACME test server, for the edge's acme mode in the tests
  pebble
)

# Root is needed only for what is missing: installing packages and opening
# /dev/net/tun for rootless networking.  As an ordinary user, sudo is used
# for those, or the script says what root must run.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else
    echo "setup: needs root for: $*" >&2
    echo "setup: run as root:  $*" >&2
    exit 2
  fi
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
else
  echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  echo "setup: installed ${missing[*]}"
fi

# docker-registry is only for the tests (a local registry to pull from); the
# package would run it as a system service on port 5000: stop that.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] &&
  systemctl is-enabled docker-registry >/dev/null 2>&1; then
  as_root systemctl disable --now docker-registry >/dev/null 2>&1 &&
    echo "setup: disabled the docker-registry system service (the tests start their own)"
fi

# caddy is only for the tests and the demo images; the package would run it
# as a system service on ports 80/443, which the edge publishes: stop that.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] &&
  systemctl is-enabled caddy >/dev/null 2>&1; then
  as_root systemctl disable --now caddy >/dev/null 2>&1 &&
    echo "setup: disabled the caddy system service (the edge runs Caddy in a pod)"
fi

# openssh-server is only for tests/integration/48-ssh-remote.sh, which runs an
# sshd of its own on 127.0.0.1; the package would start one on port 22.  Only
# when this run installed it: a host's own sshd is never touched.
if [[ " ${missing[*]} " == *" openssh-server "* ]] && command -v systemctl >/dev/null 2>&1 &&
  [ -d /run/systemd/system ] && systemctl is-enabled ssh >/dev/null 2>&1; then
  as_root systemctl disable --now ssh >/dev/null 2>&1 &&
    echo "setup: disabled the ssh system service it installed (the tests start their own sshd)"
fi

# Rootless networking (slirp4netns) opens /dev/net/tun; some hosts ship it 0600 root.
if [ -e /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != "666" ]; then
  echo "setup: /dev/net/tun is mode $(stat -c %a /dev/net/tun); rootless Podman needs 0666"
  as_root chmod 0666 /dev/net/tun && echo "setup: chmod 0666 /dev/net/tun"
fi

podman --version

# Test-only: the Kubernetes schema validator of tests/integration/60-kubernetes.sh,
# kubernetes-models and yaml pinned by tests/kubernetes/package-lock.json, into
# tests/kubernetes/node_modules (ignored by git).  Node and npm come from the
# machine, else from Debian.  Without the npm registry the validation tests
# report SKIP (a failure in CI), so this step warns instead of stopping setup.
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs and npm (for the Kubernetes validation tests)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
# `kubectl kustomize` (offline) checks that kustomize builds that directory.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "setup: installing kubernetes-client (kubectl, for the Kubernetes validation tests)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubernetes-client
fi
k8s_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/kubernetes"
if [ -f "$k8s_tests/node_modules/.package-lock.json" ] &&
  [ "$k8s_tests/node_modules/.package-lock.json" -nt "$k8s_tests/package-lock.json" ]; then
  echo "setup: tests/kubernetes/node_modules is current"
elif (cd "$k8s_tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
  echo "setup: installed kubernetes-models into tests/kubernetes/node_modules"
else
  echo "setup: WARNING: npm ci in tests/kubernetes failed; the Kubernetes schema tests will SKIP" >&2
fi
