# Shared helpers for integration tests.  Source it; then
#   check "name" command args...     PASS if the command exits 0
#   pass/fail/skip "name" ["why"]
# Tests run the sanitizer build: $AEGIS_BIN.
set -uo pipefail
: "${AEGIS_TEST_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${AEGIS_BIN:=$AEGIS_TEST_ROOT/build/asan/aegis-deploy}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:exitcode=99}"
ROOT=$AEGIS_TEST_ROOT
TMP=$(mktemp -d /tmp/aegis-it-XXXXXX)
chmod 0755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
# The state directory (the lock of the mutating commands) of this test only,
# never the user's own.
export AEGIS_STATE_DIR=$TMP/state

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }
# A test that cannot set itself up fails with the reason; AEGIS_TEST_ALLOW_SKIP=1
# (a developer's laptop, never CI) turns that into a skip.
skip() {
	if [ "${AEGIS_TEST_ALLOW_SKIP:-}" = 1 ]; then echo "SKIP $1${2:+ ($2)}"; else echo "FAIL $1 (cannot run: ${2:-})"; fi
}
# skip_all WHY: none of the script's tests (its "names" array) can run; ends
# the script.
skip_all() {
	local n
	for n in "${names[@]}"; do skip "$n" "$1"; done
	exit 0
}
check() {
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}
# aegis ARGS...: run the binary with the repository as root
aegis() { "$AEGIS_BIN" --root "$ROOT" "$@"; }
# Debian's python3 (with python3-yaml from the setup script), not whatever
# interpreter happens to be first on PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# unset_schema_vars: none of kube/variables.yaml's variables comes from the
# caller's environment (a test's .env is the only source).
unset_schema_vars() {
	local v
	for v in $(sed -n 's/^[[:space:]]*- name: \([A-Z0-9_]*\)$/\1/p' "$ROOT/kube/variables.yaml"); do
		unset "$v"
	done
}

# pg_demo_stack NAME (tests/podman/env.sh sourced, require_rootful_podman
# done): podman_test_stack with the real PostgreSQL of the demo image
# (localhost/aegis-demo/postgres) in pod-database, alone in the profile
# $PROF (NAME goes into its description), the state, generated files and
# SEAL keys under $TMP.  Defines
#   A ARGS...   the binary with --root and --env
#   sql         SQL on stdin through the server's own psql (local socket)
#   rows        the checksum of table "rows" and the list of public tables
#   cid         the ID of the PostgreSQL container
# Ends the script (every name FAILs) when the demo images cannot be built.
pg_demo_stack() {
	local out
	unset_schema_vars
	if ! out=$(bash "$ROOT/scripts/demo-images.sh" 2>&1); then
		skip_all "cannot build the demo images: $(printf '%s' "$out" | tail -n 2)"
	fi
	podman_test_stack
	{
		echo "AEGIS_STATE_DIR=$TMP/state"
		echo "AEGIS_GENERATED_DIR=$TMP/generated"
		echo "SEAL_KEYS_DIR=$TMP/seal"
		echo "POSTGRES_IMAGE=localhost/aegis-demo/postgres:latest"
		echo "POSTGRES_EXPORTER_IMAGE=localhost/aegis-demo/postgres-exporter:latest"
	} >>"$ENV"
	PROF=$TMP/dbonly.yaml
	printf 'name: dbonly\ndescription: PostgreSQL alone (%s)\npods: [database]\n' "$1" >"$PROF"
	A() { "$AEGIS_BIN" --root "$ROOT" --env "$ENV" "$@"; }
	sql() {
		podman exec -i pod-database-postgres sh -c \
			'PATH=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1):$PATH; exec psql -q -v ON_ERROR_STOP=1 -U aegis -d aegis -At' 2>&1
	}
	rows() {
		printf '%s\n' "SELECT md5(string_agg(r::text, ',' ORDER BY id)) FROM rows r;" \
			"SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public';" | sql | tr '\n' ' '
	}
	cid() { podman inspect --format '{{.Id}}' pod-database-postgres 2>/dev/null; }
}

# archive_sets_ok DIR...: every archive set directly under each DIR is
# complete (its manifest lists files whose sizes and SHA-256 sums match)
# and none is a leftover NAME.partial-PID.  Prints "ok" or what is wrong.
archive_sets_ok() {
	"$PY" - "$@" <<'PY'
import hashlib, json, os, sys
bad = []
for top in sys.argv[1:]:
    if not os.path.isdir(top):
        continue
    for name in sorted(os.listdir(top)):
        d = os.path.join(top, name)
        if not os.path.isdir(d):
            continue
        if ".partial-" in name:
            bad.append("left over: " + d)
            continue
        try:
            m = json.load(open(os.path.join(d, "manifest.json")))
            for v in m["volumes"]:
                h, n = hashlib.sha256(), 0
                with open(os.path.join(d, v["file"]), "rb") as f:
                    for b in iter(lambda: f.read(1 << 20), b""):
                        h.update(b); n += len(b)
                if n != v["size"] or h.hexdigest() != v["sha256"]:
                    bad.append("%s/%s does not match its manifest" % (d, v["file"]))
        except Exception as e:
            bad.append("%s: %s" % (d, e))
print("; ".join(bad) or "ok")
PY
}

# argv_sampler_start FILE: every distinct process argument vector seen on the
# machine (/proc/*/cmdline, every 5 ms) from now until argv_sampler_stop,
# which writes them to FILE (0600: it may hold a leak), one a line.  The
# secret scans grep it for values that must never be in an argument.
sampler_pid=
argv_sampler_start() {
	(umask 077 && : >"$1")
	"$PY" - "$1" <<'PYEOF' &
import os, signal, sys, time
seen = set()
def dump(*_):
    with open(sys.argv[1], "w") as f:
        for a in sorted(seen):
            f.write(a + "\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, dump)
while True:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                a = f.read()
        except OSError:
            continue
        if a:
            seen.add(a.replace(b"\0", b" ").decode("utf-8", "replace"))
    time.sleep(0.005)
PYEOF
	sampler_pid=$!
}
argv_sampler_stop() {
	[ -n "$sampler_pid" ] || return 0
	kill "$sampler_pid" 2>/dev/null
	wait "$sampler_pid" 2>/dev/null
	sampler_pid=
}

# edge_route_path HOST: a path the upstream of the edge's route HOST (api,
# auth, ...; kube/edge/routes.yaml) answers with 200, as its image's contract
# says (tests/standins/<image>.yaml): the stand-ins serve only those, so "/"
# is a redirect or a 404 on most of them, as on the real images.
edge_route_path() {
	case $1 in
	api | seal) echo /health ;;          # aegis-runtime, aegis-seal-gateway
	auth) echo /health/ready ;;          # keycloak
	secrets) echo /v1/sys/health ;;      # openbao
	grafana) echo /api/health ;;         # grafana
	temporal) echo / ;;                  # temporal-ui (every path: the UI)
	jaeger) echo /api/services ;;        # jaeger query
	prometheus) echo /-/ready ;;         # prometheus
	*) echo / ;;
	esac
}
