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
#   localhost/aegis-demo/grafana-standin     tests/servers/grafana.py (the Grafana HTTP API test server:
#                                            health, the admin user and its password,
#                                            kept in the data volume)
#   localhost/aegis-demo/runtime-standin     tests/servers/runtime_standin.py: the AEGIS runtime's
#                                            configuration, registry and SEAL key checks, its
#                                            first migration in the real PostgreSQL
#   localhost/aegis-demo/seal-gateway-standin  tests/servers/seal_gateway_standin.py: refuses a
#                                            SEAL JWT its RSA public key does not verify
#   localhost/aegis-demo/temporal-worker-standin  tests/servers/temporal_worker_standin.py:
#                                            KEYCLOAK_* required, client credentials, exits
#                                            without workflow_definitions
#                                            (the three enforce kube/contracts.yaml)
#   localhost/aegis-demo/standin             busybox stand-in serving what each image's
#                                            contract lists (tests/podman/build-standin.sh,
#                                            tests/standins/), and one
#   localhost/aegis-demo/standin-VAR         per image variable (e.g. standin-jaeger-image),
#                                            serving only that image's ports and paths,
#                                            so it can share a pod with a real service
#                                            (Grafana's: every path of its ports)
# The demo (scripts/demo.sh) picks them per image variable.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
: "${CONTAINERS_CONF:=$root/scripts/podman-containers.conf}"
export CONTAINERS_CONF
force=${1:-}
prefix=localhost/aegis-demo
base=$prefix/debian-services:latest
app=$prefix/debian-services-app:latest
. "$root/tests/podman/image-cache.sh"

log() { echo "demo-images: $*" >&2; }

# Distribution packages of the base image (real services, Caddy for the edge,
# python3 for the stand-ins, python3-yaml for the AEGIS stand-ins to read the
# rendered configuration files, psql from postgresql for the runtime's
# migration and the worker's check).  The base holds only
# the packages (debootstrap: the package archive, about 1.5 min), so a change
# of the stand-in servers rebuilds only the small layer above it.
packages=postgresql,prometheus,prometheus-postgres-exporter,caddy,python3,python3-yaml,busybox,ca-certificates
base_hash=$(image_hash /dev/null -- "$packages rootfs-0755")
app_hash=$(image_hash "$here"/demo/* "$root"/tests/servers/*.py -- "$base_hash")

build_base() {
	local codename url dir t0
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	url=$(image_mirror)
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
	$sudo sh -c "rm -rf '$dir'/var/cache/apt/archives/*.deb '$dir'/var/lib/apt/lists/*"
	log "debootstrap took $(($(date +%s) - t0)) s; importing…"
	$sudo tar -C "$dir" -c . | podman import --quiet \
		--change "LABEL aegis.build.hash=$base_hash" \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		- "$base" >/dev/null
	podman tag "$base" "$(image_hash_tag "$base" "$base_hash")"
	$sudo rm -rf "$dir"
	trap - EXIT
	log "base image built in $(($(date +%s) - t0)) s"
}

# The stand-in servers and entry points on top of the base.
build_app() {
	local ctr="aegis-demo-app-$$" stage
	stage=$(mktemp -d)
	mkdir -p "$stage/aegis-demo/servers"
	cp "$here"/demo/*.sh "$stage/aegis-demo/"
	chmod 0755 "$stage/aegis-demo" "$stage"/aegis-demo/*.sh
	cp "$root"/tests/servers/*.py "$stage/aegis-demo/servers/"
	podman create --name "$ctr" "$base" /bin/true >/dev/null
	podman cp "$stage/aegis-demo" "$ctr:/" &&
		podman commit -q --change "LABEL aegis.build.hash=$app_hash" "$ctr" "$app" >/dev/null &&
		podman tag "$app" "$(image_hash_tag "$app" "$app_hash")"
	local rc=$?
	podman rm -f "$ctr" >/dev/null
	rm -rf "$stage"
	[ $rc -eq 0 ] || { log "cannot build $app"; exit 1; }
	log "built $app"
}

image_current "$base" "$base_hash" "$force" || build_base
exec 8>&-
image_current "$app" "$app_hash" "$force" || build_app
exec 8>&-

# derive NAME ENTRYPOINT-JSON: an image of the app layer with its own entrypoint.
derive() {
	local image=$prefix/$1:latest hash
	hash=$(image_hash /dev/null -- "$app_hash $2")
	image_current "$image" "$hash" "$force" && { exec 8>&-; return; }
	image_derive "$app" "$image" "$hash" --change "ENTRYPOINT $2"
	exec 8>&-
	log "built $image"
}
derive postgres '["/aegis-demo/postgres-entrypoint.sh"]'
derive postgres-exporter '["/usr/bin/prometheus-postgres-exporter"]'
derive prometheus '["/usr/bin/prometheus"]'
derive caddy '["/usr/bin/caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'
derive openbao-standin '["/aegis-demo/openbao-standin.sh"]'
derive keycloak-standin '["/aegis-demo/keycloak-standin.sh"]'
derive grafana-standin '["/aegis-demo/grafana-standin.sh"]'
derive runtime-standin '["/aegis-demo/runtime-standin.sh"]'
derive seal-gateway-standin '["/aegis-demo/seal-gateway-standin.sh"]'
derive temporal-worker-standin '["/aegis-demo/temporal-worker-standin.sh"]'
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
	image=$prefix/standin-$(echo "$var" | tr 'A-Z_' 'a-z-'):latest
	# the image's contract (tests/standins/), Grafana's ports as they were
	env="STANDIN_VARIABLE=$var"
	hash=$(image_hash /dev/null -- "$standin_hash $env")
	if [ "$var" = GRAFANA_IMAGE ]; then
		env="STANDIN_HTTP=$ports"
		hash=$(image_hash /dev/null -- "$standin_hash $ports")
	fi
	if ! image_current "$image" "$hash" "$force"; then
		image_derive "$prefix/standin:latest" "$image" "$hash" --change "ENV $env"
		log "built $image ($env)"
	fi
	exec 8>&-
done < <(container_ports)
true
