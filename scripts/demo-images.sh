#!/usr/bin/env bash
# Build the demo's local images (no registry needed), once; reused while
# present and current.  `scripts/demo-images.sh --force` (make demo-images)
# rebuilds them.
#
# Real services, from the host distribution's own packages (debootstrap from
# the mirror in the machine's apt configuration):
#   localhost/aegis-demo/postgres            PostgreSQL (Debian bookworm: 15)
#   localhost/aegis-demo/postgres-exporter   prometheus-postgres-exporter
#   localhost/aegis-demo/prometheus          Prometheus
#   localhost/aegis-demo/caddy               Caddy, the TLS edge (pod-edge)
# Stand-ins, labelled as such in their names:
#   localhost/aegis-demo/openbao-standin     tests/servers/openbao.py (the OpenBao HTTP API test server)
#   localhost/aegis-demo/keycloak-standin    tests/servers/keycloak.py (the Keycloak admin API test server)
#   localhost/aegis-demo/standin             busybox stand-in answering health checks
#                                            (tests/podman/build-standin.sh), and one
#   localhost/aegis-demo/standin-VAR         per image variable (e.g. standin-jaeger-image),
#                                            serving only that container's ports from
#                                            the pod templates, so it can share a pod
#                                            with a real service
# The demo (scripts/demo.sh) picks them per image variable.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
: "${CONTAINERS_CONF:=$root/scripts/podman-containers.conf}"
export CONTAINERS_CONF
force=${1:-}
prefix=localhost/aegis-demo
base=$prefix/debian-services:latest

log() { echo "demo-images: $*" >&2; }

# Distribution packages of the base image (real services, Caddy for the edge,
# and python3 for the OpenBao and Keycloak stand-ins).
packages=postgresql,prometheus,prometheus-postgres-exporter,caddy,python3,busybox,ca-certificates
# The hash of what the base image is built from: a change rebuilds it.
src_hash=$( (echo "$packages rootfs-0755"; cat "$here"/demo/* "$root"/tests/servers/*.py) | sha256sum | cut -c1-16)
label() { podman image inspect --format '{{index .Labels "aegis.demo.hash"}}' "$1" 2>/dev/null || true; }

mirror() {
	# The first deb URI of the host's apt sources for its own release.
	local codename f
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v c="$codename" '
			/^Types:/ { deb = ($0 ~ /deb( |$)/) }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == c && deb && uri != "") { print uri; exit } }
			/^$/ { deb = 0; uri = "" }' "$f" | head -1
	done | head -1
	if [ -f /etc/apt/sources.list ]; then
		awk -v c="$codename" '$1 == "deb" && $0 ~ (" " c " ") { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i; exit } }' /etc/apt/sources.list | head -1
	fi
	true
}

build_base() {
	local codename url dir t0
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	url=$(mirror | head -1)
	[ -n "$codename" ] && [ -n "$url" ] || { log "cannot find this machine's distribution mirror in /etc/apt (codename '$codename')"; exit 2; }
	# debootstrap needs root; as an ordinary user (rootless Podman) it runs
	# through sudo and only the import runs as the user.
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if sudo -n true 2>/dev/null || { [ -t 0 ] && sudo -v; }; then
			sudo=sudo
		else
			log "building the base image runs debootstrap, which needs root: allow this user sudo, or build as root"
			exit 2
		fi
	fi
	dir=$(mktemp -d /var/tmp/aegis-demo-rootfs-XXXXXX)
	# the image's "/" gets this directory's mode: 0700 (mktemp's) would keep
	# every non-root user in the container (postgres) out of it with the vfs
	# driver that rootless Podman uses here
	chmod 0755 "$dir"
	trap '$sudo rm -rf "$dir"' EXIT
	t0=$(date +%s)
	log "debootstrap $codename from $url (real PostgreSQL, Prometheus, postgres-exporter, Caddy, python3)…"
	$sudo debootstrap --variant=minbase \
		--include="$packages" \
		"$codename" "$dir" "$url" >"$dir.log" 2>&1 || { log "debootstrap failed; see $dir.log"; exit 1; }
	$sudo rm -f "$dir.log"
	$sudo mkdir -p "$dir/aegis-demo/servers"
	$sudo cp "$here"/demo/*.sh "$dir/aegis-demo/"
	$sudo chmod 0755 "$dir"/aegis-demo/*.sh
	$sudo cp "$root"/tests/servers/*.py "$dir/aegis-demo/servers/"
	$sudo sh -c "rm -rf '$dir'/var/cache/apt/archives/*.deb '$dir'/var/lib/apt/lists/*"
	log "debootstrap took $(($(date +%s) - t0)) s; importing…"
	$sudo tar -C "$dir" -c . | podman import --quiet \
		--change "LABEL aegis.demo.hash=$src_hash" \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		- "$base" >/dev/null
	$sudo rm -rf "$dir"
	trap - EXIT
	log "base image built in $(($(date +%s) - t0)) s"
}

# derive NAME ENTRYPOINT-JSON: an image of the base with its own entrypoint.
derive() {
	local name=$1 entrypoint=$2 ctr="aegis-demo-derive-$$"
	podman create --name "$ctr" "$base" /bin/true >/dev/null
	podman commit -q --change "ENTRYPOINT $entrypoint" --change 'CMD []' \
		--change "LABEL aegis.demo.hash=$src_hash" "$ctr" "$prefix/$name:latest" >/dev/null
	podman rm -f "$ctr" >/dev/null
	log "built $prefix/$name"
}

if [ "$force" = --force ] || [ "$(label "$base")" != "$src_hash" ]; then
	build_base
fi
[ "$force" = --force ] || [ "$(label "$prefix/postgres:latest")" != "$src_hash" ] &&
	derive postgres '["/aegis-demo/postgres-entrypoint.sh"]'
[ "$force" = --force ] || [ "$(label "$prefix/postgres-exporter:latest")" != "$src_hash" ] &&
	derive postgres-exporter '["/usr/bin/prometheus-postgres-exporter"]'
[ "$force" = --force ] || [ "$(label "$prefix/prometheus:latest")" != "$src_hash" ] &&
	derive prometheus '["/usr/bin/prometheus"]'
[ "$force" = --force ] || [ "$(label "$prefix/caddy:latest")" != "$src_hash" ] &&
	derive caddy '["/usr/bin/caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'
[ "$force" = --force ] || [ "$(label "$prefix/openbao-standin:latest")" != "$src_hash" ] &&
	derive openbao-standin '["/aegis-demo/openbao-standin.sh"]'
[ "$force" = --force ] || [ "$(label "$prefix/keycloak-standin:latest")" != "$src_hash" ] &&
	derive keycloak-standin '["/aegis-demo/keycloak-standin.sh"]'
STANDIN_IMAGE_NAME=$prefix/standin:latest bash "$root/tests/podman/build-standin.sh" ${force:+--force} >&2

# The ports of the containers using each image variable, from the templates
# (containerPort and probe ports): "VAR port port ...".
container_ports() {
	/usr/bin/python3 - "$root"/kube/*/pod.yaml <<'PY'
import re, sys, yaml
class Loader(yaml.SafeLoader):
    pass
Loader.add_constructor("!file", lambda loader, node: loader.construct_scalar(node))
Loader.add_constructor("!template", lambda loader, node: loader.construct_scalar(node))
ports = {}
for path in sys.argv[1:]:
    for doc in yaml.load_all(open(path), Loader=Loader):
        if not doc or doc.get("kind") != "Pod":
            continue
        for c in doc["spec"]["containers"]:
            m = re.fullmatch(r"\$\{([A-Z0-9_]+)\}", c["image"])
            if not m:
                continue
            found = {p["containerPort"] for p in c.get("ports", [])}
            probe = c.get("readinessProbe") or {}
            for kind in ("httpGet", "tcpSocket"):
                if isinstance(probe.get(kind, {}).get("port"), int):
                    found.add(probe[kind]["port"])
            ports.setdefault(m.group(1), set()).update(found)
for var, found in sorted(ports.items()):
    print(var, *sorted(found))
PY
}
standin_hash=$(podman image inspect --format '{{.Id}}' "$prefix/standin:latest")
while read -r var ports; do
	name=standin-$(echo "$var" | tr 'A-Z_' 'a-z-')
	want="$standin_hash $ports"
	have=$(podman image inspect --format '{{index .Labels "aegis.demo.standin"}}' "$prefix/$name:latest" 2>/dev/null || true)
	[ "$force" != --force ] && [ "$have" = "$want" ] && continue
	ctr="aegis-demo-derive-$$"
	podman create --name "$ctr" "$prefix/standin:latest" >/dev/null
	podman commit -q --change "ENV STANDIN_HTTP=$ports" --change "LABEL aegis.demo.standin=$want" \
		"$ctr" "$prefix/$name:latest" >/dev/null
	podman rm -f "$ctr" >/dev/null
	log "built $prefix/$name (ports $ports)"
done < <(container_ports)
true
