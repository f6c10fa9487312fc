#!/usr/bin/env bash
# `make test` beside a running demo, as tests/README.md promises: with the
# demo up (`make demo`, the production profile, real Caddy on 80/443), run
# the whole suite while a loop fetches the health URL of every public demo
# service through the edge once a second, then check that the demo is exactly as it was:
#   - the suite passed;
#   - the loop saw no failed request;
#   - the same pods and container IDs (podman ps -a --no-trunc);
#   - the same rows in its database (a checksum of aegis.demo_runs);
#   - the same firewall rules for its network (iptables-save, nat and filter
#     tables, counters left out).
# Usage: scripts/test-beside-demo.sh [make test arguments...]; as root.
# Exit 0 when every check holds, 1 otherwise.  Long (the whole suite): not
# part of `make test`, which checks the same isolation on itself.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
DEMO_DIR=${AEGIS_DEMO_DIR:-$root/generated/demo}
ENV=$DEMO_DIR/demo.env
: "${CONTAINERS_CONF:=$root/scripts/podman-containers.conf}"
export CONTAINERS_CONF
out=$(mktemp -d /tmp/aegis-beside-XXXXXX)
say() { printf '==> %s\n' "$*" >&2; }

[ -f "$ENV" ] || { echo "test-beside-demo: no demo here ($ENV): run 'make demo' first" >&2; exit 2; }
A() { "$root/build/aegis-deploy" --root "$root" --env "$ENV" "$@"; }
value() { A config --json | /usr/bin/python3 -c 'import json,sys; print(next(v.get("value") or "" for v in json.load(sys.stdin)["variables"] if v["name"]==sys.argv[1]))' "$1"; }

ids() { podman ps -a --no-trunc --format '{{.Names}} {{.ID}} {{.Status}}' | sed 's/ Up .*/ Up/' | sort; }
rows() {
	podman exec pod-database-postgres psql -h /run/postgresql -p 5432 -U aegis -d aegis -tAq -c \
		"SELECT count(*) || ' ' || md5(string_agg(id::text || at::text, ',' ORDER BY id)) FROM demo_runs" 2>&1
}
rules() { for t in nat filter; do iptables-save -t "$t" | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; done; }

port=$(value EDGE_HTTPS_PORT)
ca=$DEMO_DIR/generated/edge-ca.crt
# Each public service's health URL through the edge (a service's "/" may
# well answer 404, as OpenBao's and Keycloak's do).
urls=()
while read -r var path; do
	urls+=("$(value "$var")$path")
done <<'URLS'
EDGE_API_HOST /health
EDGE_KEYCLOAK_HOST /realms/aegis-system/.well-known/openid-configuration
EDGE_OPENBAO_HOST /v1/sys/health
EDGE_GRAFANA_HOST /api/health
EDGE_SEAL_GATEWAY_HOST /health
URLS

ids >"$out/ids.before"
rows >"$out/rows.before"
rules >"$out/rules.before"
say "demo: $(wc -l <"$out/ids.before") containers, rows $(cat "$out/rows.before"), $(wc -l <"$out/rules.before") firewall rules"

# The loop: every public URL once a second, each with a 5 s limit.
(
	ok=0 bad=0
	trap 'echo "$ok $bad" >"$out/loop.counts"; exit 0' TERM
	while :; do
		for u in "${urls[@]}"; do
			h=${u%%/*}
			code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$ca" \
				--resolve "$h:$port:127.0.0.1" "https://$h:$port/${u#*/}" 2>/dev/null)
			case $code in [23]??) ok=$((ok + 1)) ;; *) bad=$((bad + 1)); echo "$(date +%T) $u $code" >>"$out/loop.failures" ;; esac
		done
		sleep 1
	done
) &
loop=$!

say "make test $* (beside the demo)"
t0=$(date +%s)
make test "$@" >"$out/test.log" 2>&1
test_rc=$?
took=$(($(date +%s) - t0))
kill -TERM "$loop"
wait "$loop"
read -r ok bad <"$out/loop.counts"

ids >"$out/ids.after"
rows >"$out/rows.after"
rules >"$out/rules.after"

fails=0
check() { if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1"; fails=$((fails + 1)); fi; }
echo "suite: $(tail -n 1 "$out/test.log") in $took s (log: $out/test.log)"
check "the suite passed" '[ $test_rc -eq 0 ]'
echo "loop: $ok requests answered, $bad failed"
check "the demo answered every request during the run" '[ "$bad" -eq 0 ] && [ "$ok" -gt 0 ]'
check "same pods and container IDs" 'cmp -s "$out/ids.before" "$out/ids.after"'
check "same database rows ($(cat "$out/rows.after"))" 'cmp -s "$out/rows.before" "$out/rows.after"'
check "same firewall rules" 'cmp -s "$out/rules.before" "$out/rules.after"'
[ $fails -eq 0 ] || { diff "$out/ids.before" "$out/ids.after" | head; diff "$out/rules.before" "$out/rules.after" | head; }
exit $((fails > 0))
