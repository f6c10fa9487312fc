#!/usr/bin/env bash
# Build the test stand-in image localhost/aegis-test/standin:latest from
# busybox-static (no registry is reachable on the test machines, and most AEGIS
# services have no Debian package).  The image's /standin entrypoint plays the
# images of the pod templates, each as its contract says
# (tests/standins/<image>.yaml: the ports the real image listens on and the
# HTTP paths it answers, with the source of each):
#
#   - on each port the real image listens on, HTTP ports answer the
#     contract's paths (method, status, body) and 404 on every other path
#     (405 for another method on a listed path); TCP-only ports (gRPC and
#     the like) accept connections; every other port is closed;
#   - a port the image takes from its configuration (an environment
#     variable, a flag, its configuration file) is the one the template
#     gives it (tests/standins/contracts.py resolves them at build time);
#   - it knows its pod by its hostname (kube play names it after the pod) and
#     serves what the pod's containers serve; containers of one pod share
#     its network, so the first of them binds each port.
#
# Environment variables change that:
#   STANDIN_VARIABLE     serve only the containers whose image is that image
#                        variable (the demo's per-variable stand-ins, which
#                        share a pod with real services)
#   STANDIN_HTTP         "port[:path[,path...]] ..."  instead of the
#                        contracts: HTTP on each port, 200 on those paths (a
#                        query string still maps to the path), 404 elsewhere;
#                        with no paths (or "*"): 200 on every path
#   STANDIN_TCP          "port ..."  accept connections (and answer HTTP 200)
#   STANDIN_READY_DELAY  seconds before anything answers (default 0)
#   STANDIN_FAIL=1       never answer anything
#   STANDIN_HTTP_LATENCY seconds each HTTP answer takes (benchmarks: checks
#                        of a known duration)
#
# A pod no contract names (a container run outside kube play) serves nothing
# and says so, unless STANDIN_HTTP or STANDIN_TCP is set.
#
# It ignores its arguments (kube play passes a template's `args:` to the image
# ENTRYPOINT) and exits at once on SIGTERM.  Stub commands for exec probes
# (pg_isready, temporal, bao) succeed once the delay has passed (marker file
# /tmp/ready); run as a container's own process (a template's `command:`
# naming them, which replaces the ENTRYPOINT) they become /standin.
#
# Rebuilt only when this script, busybox or the compiled contracts changed:
# their hash is the image's label (tests/podman/image-cache.sh).  Usage:
# build-standin.sh [--force].  STANDIN_IMAGE_NAME names the image (the demo
# builds localhost/aegis-demo/standin).
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

# The contracts, compiled for the shell server below: which pod serves which
# ports, and each HTTP port's routes (tests/standins/contracts.py).
tables=$(mktemp -d "${TMPDIR:-/tmp}/aegis-standin-tables-XXXXXX")
trap 'rm -rf "$tables"' EXIT
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if ! "$py" "$here/../standins/contracts.py" compile "$here/../../kube" "$tables" >&2; then
	echo "build-standin: cannot compile the contracts (tests/standins/contracts.py)" >&2
	exit 2
fi
. "$here/image-cache.sh"
hash=$(image_hash "${BASH_SOURCE[0]}" "$busybox" $(find "$tables" -type f | LC_ALL=C sort) -- \
	"$(cd "$tables" && find . -type f | LC_ALL=C sort)")
image_current "$image" "$hash" "${1:-}" && exit 0

dir=$(mktemp -d "${TMPDIR:-/tmp}/aegis-standin-XXXXXX")
chmod 0755 "$dir" # becomes the image's "/"
trap 'rm -rf "$dir" "$tables"' EXIT
mkdir -p "$dir"/{bin,usr/bin,usr/local/bin,etc,root,proc,sys,dev}
mkdir -m 1777 "$dir/tmp"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
echo 'root:x:0:' >"$dir/etc/group"
cp -r "$tables" "$dir/standin-contracts"
chmod -R a+rX "$dir/standin-contracts"
# the answers the contracts do not spell out: a scrape of a stand-in
# succeeds (and says what it is); 404 and 405 as Go's net/http words them
printf '# HELP aegis_standin_up A stand-in (not the real service) answers here.\n# TYPE aegis_standin_up gauge\naegis_standin_up 1\n' \
	>"$dir/standin-contracts/bodies/prometheus"
printf '404 page not found\n' >"$dir/standin-contracts/bodies/404"
printf 'Method Not Allowed\n' >"$dir/standin-contracts/bodies/405"
printf 'ok\n' >"$dir/standin-contracts/bodies/ok"

cat >"$dir/standin" <<'EOF'
#!/bin/sh
# Test stand-in: see tests/podman/build-standin.sh.  "$@" is ignored on purpose.
pids=
trap 'kill $pids 2>/dev/null; exit 0' TERM INT
# A trapped signal interrupts `wait` at once; a foreground sleep would delay it.
pause() { sleep "$1" & wait $!; }
# HTTP on a port: one /standin-http per connection, answering from the
# routes file ROUTES ("" = 200 on every path).  A port another container of
# the pod already serves is left to it.
serve_http() {
	STANDIN_ROUTES=$2 nc -ll -p "$1" -e /standin-http 2>/dev/null &
	pids="$pids $!"
}
# A port that only accepts connections (gRPC and the like).
serve_tcp() {
	nc -ll -p "$1" -e /bin/true 2>/dev/null &
	pids="$pids $!"
}
C=/standin-contracts

rm -f /tmp/ready
if [ "${STANDIN_FAIL:-0}" = 1 ]; then
	echo "standin: STANDIN_FAIL=1, never answering"
	while :; do pause 1; done
fi
pod=$(hostname)
served=
if [ -z "${STANDIN_HTTP:-}${STANDIN_TCP:-}" ]; then
	served=$(awk -v pod="$pod" -v var="${STANDIN_VARIABLE:-}" \
		'$1 == pod && (var == "" || $2 == var) { print $2, $3, $4, $5 }' $C/pods)
	[ -n "$served" ] || echo "standin: no contract names pod '$pod'${STANDIN_VARIABLE:+ with $STANDIN_VARIABLE} (tests/standins/): serving nothing"
fi
echo "standin: starting (ready in ${STANDIN_READY_DELAY:-0} s)"
pause "${STANDIN_READY_DELAY:-0}"

while read -r var port proto table; do
	[ -n "$port" ] || continue
	case $proto in
	http) serve_http "$port" "$C/routes/$table" ;;
	*) serve_tcp "$port" ;;
	esac
done <<SERVED
$served
SERVED
for spec in ${STANDIN_HTTP:-}; do
	port=${spec%%:*}
	paths=${spec#*:}
	if [ "$paths" = "$spec" ] || [ "$paths" = "*" ]; then
		serve_http "$port" ""
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
	serve_http "$port" ""
done
touch /tmp/ready
if [ -n "$served" ]; then
	echo "standin: ready (pod $pod: $(echo "$served" | awk '{ printf "%s%s %s/%s", (NR > 1 ? ", " : ""), $1, $2, $3 }'))"
else
	echo "standin: ready (http: ${STANDIN_HTTP:-none}; tcp: ${STANDIN_TCP:-none})"
fi
while :; do pause 3600; done
EOF
chmod 0755 "$dir/standin"

cat >"$dir/standin-http" <<'EOF'
#!/bin/sh
# One HTTP exchange on stdin/stdout (nc -e).  STANDIN_ROUTES names the
# port's routes ("METHOD PATH STATUS BODY CONTENT-TYPE" per line, `*` in
# PATH matching anything): the first route whose path matches and whose
# method is the request's answers; a matching path with another method is
# 405; no matching path is 404.  Without STANDIN_ROUTES every request gets
# 200 "ok" (/metrics: one gauge in Prometheus text format).
C=/standin-contracts
cr=$(printf '\r')
[ -n "${STANDIN_HTTP_LATENCY:-}" ] && sleep "$STANDIN_HTTP_LATENCY"
read -r method path rest
while read -r header; do
	case "$header" in "" | "$cr") break ;; esac
done
path=${path%%\?*}
status=200 body=ok type=text/plain
if [ -n "${STANDIN_ROUTES:-}" ]; then
	status=404 body=404
	while read -r m p s b t; do
		# $p unquoted: its `*` is a pattern
		# shellcheck disable=SC2254
		case "$path" in $p) ;; *) continue ;; esac
		if [ "$m" = "$method" ]; then
			status=$s body=$b type=$t
			break
		fi
		status=405 body=405
	done <"$STANDIN_ROUTES"
else
	case "$path" in /metrics*) body=prometheus ;; esac
fi
[ "$body" = prometheus ] && type='text/plain; version=0.0.4'
case $status in
200) reason=OK ;; 202) reason=Accepted ;; 204) reason='No Content' ;; 302) reason=Found ;;
303) reason='See Other' ;; 307) reason='Temporary Redirect' ;; 404) reason='Not Found' ;;
405) reason='Method Not Allowed' ;; *) reason=Status ;;
esac
f=$C/bodies/$body
printf 'HTTP/1.0 %s %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' \
	"$status" "$reason" "$type" "$(($(wc -c <"$f")))"
cat "$f"
EOF
chmod 0755 "$dir/standin-http"

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
