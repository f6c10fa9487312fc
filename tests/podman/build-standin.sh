#!/usr/bin/env bash
# Build the test stand-in image localhost/aegis-test/standin:latest from
# busybox-static (no registry is reachable on the test machines, and most AEGIS
# services have no Debian package).  The image's /standin entrypoint plays any
# service a test needs, driven by environment variables:
#
#   STANDIN_HTTP         "port[:path[,path...]] ..."  HTTP on each port: 200 on
#                        those paths (a query string still maps to the path),
#                        404 elsewhere; with no paths (or "*"): 200 on every path
#   STANDIN_TCP          "port ..."  accept connections (and answer HTTP 200)
#   STANDIN_READY_DELAY  seconds before anything answers (default 0)
#   STANDIN_FAIL=1       never answer anything
#   STANDIN_HTTP_LATENCY seconds each "200 on every path" answer takes
#                        (benchmarks: checks of a known duration)
#
# With neither STANDIN_HTTP nor STANDIN_TCP set it answers every path on every
# containerPort of the pod templates (kube/*/pod.yaml, read at build time):
# the rendered AEGIS pods run with all their images set to the stand-in and no
# other change.  Containers of one pod share its network, so the first of them
# serves each port.
#
# It ignores its arguments (kube play passes a template's `args:` to the image
# ENTRYPOINT) and exits at once on SIGTERM.  Stub commands for exec probes
# (pg_isready, temporal, bao) succeed once the delay has passed (marker file
# /tmp/ready); run as a container's own process (a template's `command:`
# naming them, which replaces the ENTRYPOINT) they become /standin.
#
# Rebuilt only when this script, busybox or the template ports changed: their
# hash is the image's label (tests/podman/image-cache.sh).  Usage: build-standin.sh [--force]
# STANDIN_IMAGE_NAME names the image (the demo builds localhost/aegis-demo/standin).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CONTAINERS_CONF:=$here/../../scripts/podman-containers.conf}"
export CONTAINERS_CONF

image=${STANDIN_IMAGE_NAME:-localhost/aegis-test/standin:latest}
stubs=(pg_isready temporal bao)

busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! "$busybox" --list >/dev/null 2>&1; then
	echo "build-standin: busybox-static is not installed: run 'make setup' (scripts/setup.sh)" >&2
	exit 2
fi
if ! command -v podman >/dev/null 2>&1; then
	echo "build-standin: podman is not installed: run 'make setup' (scripts/setup.sh)" >&2
	exit 2
fi
if ldd "$busybox" >/dev/null 2>&1; then
	echo "build-standin: $busybox is dynamically linked; the image needs busybox-static" >&2
	exit 2
fi

default_ports=$(cat "$here"/../../kube/*/pod.yaml 2>/dev/null |
	sed -n 's/^[[:space:]-]*containerPort:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | sort -un | tr '\n' ' ')
. "$here/image-cache.sh"
hash=$(image_hash "${BASH_SOURCE[0]}" "$busybox" -- "$default_ports")
image_current "$image" "$hash" "${1:-}" && exit 0

dir=$(mktemp -d "${TMPDIR:-/tmp}/aegis-standin-XXXXXX")
chmod 0755 "$dir" # becomes the image's "/"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,usr/bin,usr/local/bin,etc,root,proc,sys,dev}
mkdir -m 1777 "$dir/tmp"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
echo 'root:x:0:' >"$dir/etc/group"

cat >"$dir/standin" <<'EOF'
#!/bin/sh
# Test stand-in: see tests/podman/build-standin.sh.  "$@" is ignored on purpose.
pids=
trap 'kill $pids 2>/dev/null; exit 0' TERM INT
# A trapped signal interrupts `wait` at once; a foreground sleep would delay it.
pause() { sleep "$1" & wait $!; }
# 200 on every path: one /standin-http per connection.  A port another
# container of the pod already serves is left to it.
serve_any() {
	nc -ll -p "$1" -e /standin-http 2>/dev/null &
	pids="$pids $!"
}

rm -f /tmp/ready
if [ "${STANDIN_FAIL:-0}" = 1 ]; then
	echo "standin: STANDIN_FAIL=1, never answering"
	while :; do pause 1; done
fi
if [ -z "${STANDIN_HTTP:-}${STANDIN_TCP:-}" ]; then
	STANDIN_HTTP=$(cat /standin-ports)
fi
echo "standin: starting (ready in ${STANDIN_READY_DELAY:-0} s)"
pause "${STANDIN_READY_DELAY:-0}"

for spec in ${STANDIN_HTTP:-}; do
	port=${spec%%:*}
	paths=${spec#*:}
	if [ "$paths" = "$spec" ] || [ "$paths" = "*" ]; then
		serve_any "$port"
		continue
	fi
	docroot=/tmp/standin/http-$port
	mkdir -p "$docroot"
	IFS=,
	for p in $paths; do
		p=${p%%\?*}
		p=${p#/}
		case "$p" in "" | */) p=${p}index.html ;; esac
		mkdir -p "$docroot/$(dirname "$p")"
		echo ok >"$docroot/$p"
	done
	unset IFS
	httpd -f -p "$port" -h "$docroot" &
	pids="$pids $!"
done
for port in ${STANDIN_TCP:-}; do
	serve_any "$port"
done
touch /tmp/ready
echo "standin: ready (http: ${STANDIN_HTTP:-none}; tcp: ${STANDIN_TCP:-none})"
while :; do pause 3600; done
EOF
chmod 0755 "$dir/standin"

cat >"$dir/standin-http" <<'EOF'
#!/bin/sh
# One HTTP exchange on stdin/stdout (nc -e): any request gets 200 "ok"
# (/metrics: one gauge in Prometheus text format).
cr=$(printf '\r')
[ -n "${STANDIN_HTTP_LATENCY:-}" ] && sleep "$STANDIN_HTTP_LATENCY"
read -r method path rest
while read -r header; do
	case "$header" in "" | "$cr") break ;; esac
done
case "$path" in
/metrics*)
	# Prometheus text format, so a scrape of a stand-in succeeds (and says
	# what it is).
	body='# HELP aegis_standin_up A stand-in (not the real service) answers here.
# TYPE aegis_standin_up gauge
aegis_standin_up 1
'
	type='text/plain; version=0.0.4' ;;
*) body='ok
' type='text/plain' ;;
esac
printf 'HTTP/1.0 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "$type" "${#body}" "$body"
EOF
chmod 0755 "$dir/standin-http"
echo "$default_ports" >"$dir/standin-ports"

# As an exec probe: ready once /standin has passed its delay.  As the
# container's own process (a template's `command:` naming the real program
# replaces the image ENTRYPOINT): become /standin.
for stub in "${stubs[@]}"; do
	cat >"$dir/usr/bin/$stub" <<-STUB
		#!/bin/sh
		# stand-in for $stub (tests/podman/build-standin.sh)
		[ \$\$ = 1 ] && exec /standin "\$@"
		[ -e /tmp/ready ]
	STUB
	chmod 0755 "$dir/usr/bin/$stub"
done

image_import "$dir" "$image" "$hash" \
	--change 'ENTRYPOINT ["/standin"]' \
	--change 'ENV PATH=/usr/local/bin:/usr/bin:/bin'
echo "build-standin: built $image ($hash)"
