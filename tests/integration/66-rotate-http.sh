#!/usr/bin/env bash
# rotate KEYCLOAK_ADMIN_PASSWORD and rotate GRAFANA_ADMIN_PASSWORD on the test
# Podman: pod-iam with the Keycloak stand-in (tests/servers/keycloak.py) and
# pod-observability with the Grafana stand-in (tests/servers/grafana.py, which
# keeps its admin password in the aegis-grafana-data volume and reads
# GF_SECURITY_ADMIN_PASSWORD only when that data is empty, as Grafana does:
# after the pod is replaced with the new .env, only a password changed inside
# the service gets in).  For each: rotate exits 0; the new value (from .env)
# is accepted and the old one refused; for Keycloak, bootstrap-keycloak works
# with the new .env; for Grafana, the new password still works after the pod
# is restarted on its data.  Neither value appears in rotate's output, the
# release history and state, the pods' logs, or any process's argv while
# rotate runs.
# test-images: demo
# time-limit: 900
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(rotate-http-deploy
	rotate-kc-exit-0 rotate-kc-changed-in-service rotate-kc-new-accepted rotate-kc-old-refused
	rotate-kc-bootstrap-after
	rotate-gf-exit-0 rotate-gf-changed-in-service rotate-gf-new-accepted rotate-gf-old-refused
	rotate-gf-kept-on-restart
	rotate-http-no-value-in-output rotate-http-no-value-in-state rotate-http-no-value-in-logs
	rotate-http-no-value-in-argv)
require_rootful_podman
podman_bootstrap_stack
# Grafana's stand-in shares pod-observability's network namespace: its
# neighbours get the demo's stand-ins that serve only their own ports (the
# generic one answers on every template port, 3300 included)
{
	echo "GRAFANA_IMAGE=localhost/aegis-demo/grafana-standin:latest"
	for v in JAEGER_IMAGE PROMETHEUS_IMAGE LOKI_IMAGE PROMTAIL_IMAGE; do
		echo "$v=localhost/aegis-demo/standin-$(echo "$v" | tr 'A-Z_' 'a-z-'):latest"
	done
} >>"$ENV"
# the pods this needs, no more: Keycloak (and the database it depends on), Grafana
PROFILE=$TMP/rotate-http.yaml
cat >"$PROFILE" <<'EOF'
name: rotate-http
description: pod-iam and pod-observability, for rotate's HTTP credentials
pods: [database, iam, observability]
EOF
A() { "$AEGIS_BIN" --root "$ROOT" --env "$ENV" "$@"; }
setting() { A config --json | "$PY" -c 'import json,sys; print(next(v["value"] or "" for v in json.load(sys.stdin)["variables"] if v["name"]==sys.argv[1]))' "$1"; }
# value VAR FILE: VAR's value in .env (the last line setting it) into FILE
# (0600), never through argv (config masks secrets)
value() {
	(umask 077 && "$PY" - "$ENV" "$1" >"$2" <<'PY'
import sys
value = ""
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("export "):
        line = line[7:]
    k, sep, v = line.partition("=")
    if sep and k.strip() == sys.argv[2]:
        v = v.split(" #")[0].strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            v = v[1:-1]
        value = v
print(value, end="")
PY
	)
}
# kc_grant FILE: the status of the master realm's password grant for the
# administrator with the password in FILE
kc_grant() {
	"$PY" - "$KC_URL" "$1" <<'PY'
import sys, urllib.parse, urllib.request
form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli", "username": "admin",
                               "password": open(sys.argv[2]).read()}).encode()
try:
    with urllib.request.urlopen(sys.argv[1] + "/realms/master/protocol/openid-connect/token", form, timeout=10) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except OSError:
    print(0)
PY
}
# gf_user FILE: the status of Grafana's GET /api/user as admin with the password in FILE
gf_user() {
	"$PY" - "$GF_URL" "$1" <<'PY'
import base64, sys, urllib.request
auth = base64.b64encode(b"admin:" + open(sys.argv[2], "rb").read()).decode()
req = urllib.request.Request(sys.argv[1] + "/api/user", headers={"Authorization": "Basic " + auth})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except OSError:
    print(0)
PY
}
# argv_watch FILE: every process's argv, sampled every 50 ms, into FILE until killed
argv_watch() {
	while :; do
		for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' <"$f" 2>/dev/null && echo; done >>"$1"
		sleep 0.05
	done
}
# leaked WHERE FILES...: does any of the four values appear in FILES?
VALUES=()
leaked() {
	local v f
	for v in "${VALUES[@]}"; do
		for f in "$@"; do
			[ -f "$f" ] && grep -qF -- "$(cat "$v")" "$f" && { echo "$f"; return 0; }
		done
	done
	return 1
}

t0=$(date +%s)
A deploy --profile "$PROFILE" --timeout 240 >"$TMP/deploy.out" 2>&1
rc=$?
echo "   deploy database, iam, observability: $(($(date +%s) - t0)) s"
KC_URL=$(setting KEYCLOAK_URL)
GF_URL=http://127.0.0.1:$(setting GRAFANA_PORT)
value KEYCLOAK_ADMIN_PASSWORD "$TMP/kc.old"
value GRAFANA_ADMIN_PASSWORD "$TMP/gf.old"
if [ $rc -eq 0 ] && [ "$(kc_grant "$TMP/kc.old")" = 200 ] && [ "$(gf_user "$TMP/gf.old")" = 200 ]; then
	pass rotate-http-deploy
else
	fail rotate-http-deploy "rc=$rc kc=$(kc_grant "$TMP/kc.old") gf=$(gf_user "$TMP/gf.old") $(tail -5 "$TMP/deploy.out")"
	exit 0
fi

argv_watch "$TMP/argv" &
watcher=$!

# --- KEYCLOAK_ADMIN_PASSWORD -------------------------------------------------------
t0=$(date +%s)
A rotate KEYCLOAK_ADMIN_PASSWORD --timeout 240 >"$TMP/rotate-kc.out" 2>&1
rc=$?
echo "   rotate KEYCLOAK_ADMIN_PASSWORD: $(($(date +%s) - t0)) s"
value KEYCLOAK_ADMIN_PASSWORD "$TMP/kc.new"
VALUES+=("$TMP/kc.old" "$TMP/kc.new")
[ $rc -eq 0 ] && pass rotate-kc-exit-0 || fail rotate-kc-exit-0 "rc=$rc $(tail -5 "$TMP/rotate-kc.out")"
# The Keycloak stand-in keeps its state in memory: once pod-iam is replaced
# it takes the new .env's password afresh.  That the running Keycloak was
# changed, and checked (new accepted, old refused) before the pods were
# replaced, is what rotate's service step reports.
changed_in_service() { grep -Eq '^rotate: service +changed: accepts the new value, refuses the old' "$1"; }
changed_in_service "$TMP/rotate-kc.out" && pass rotate-kc-changed-in-service ||
	fail rotate-kc-changed-in-service "$(grep -m1 'service' "$TMP/rotate-kc.out")"
if ! cmp -s "$TMP/kc.old" "$TMP/kc.new" && [ "$(kc_grant "$TMP/kc.new")" = 200 ]; then
	pass rotate-kc-new-accepted
else
	fail rotate-kc-new-accepted "status $(kc_grant "$TMP/kc.new") (.env changed: $(cmp -s "$TMP/kc.old" "$TMP/kc.new" && echo no || echo yes))"
fi
s=$(kc_grant "$TMP/kc.old")
[ "$s" = 401 ] && pass rotate-kc-old-refused || fail rotate-kc-old-refused "status $s"
if A bootstrap-keycloak --timeout 60 >"$TMP/bootstrap-after.out" 2>&1; then
	pass rotate-kc-bootstrap-after
else
	fail rotate-kc-bootstrap-after "$(tail -3 "$TMP/bootstrap-after.out")"
fi

# --- GRAFANA_ADMIN_PASSWORD ----------------------------------------------------------
t0=$(date +%s)
A rotate GRAFANA_ADMIN_PASSWORD --timeout 240 >"$TMP/rotate-gf.out" 2>&1
rc=$?
echo "   rotate GRAFANA_ADMIN_PASSWORD: $(($(date +%s) - t0)) s"
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
value GRAFANA_ADMIN_PASSWORD "$TMP/gf.new"
VALUES+=("$TMP/gf.old" "$TMP/gf.new")
[ $rc -eq 0 ] && pass rotate-gf-exit-0 || fail rotate-gf-exit-0 "rc=$rc $(tail -5 "$TMP/rotate-gf.out")"
changed_in_service "$TMP/rotate-gf.out" && pass rotate-gf-changed-in-service ||
	fail rotate-gf-changed-in-service "$(grep -m1 'service' "$TMP/rotate-gf.out")"
# pod-observability now runs with the new .env, on its old data: the stand-in
# took no password from the environment, so only the change made inside it
# lets the new one in
if ! cmp -s "$TMP/gf.old" "$TMP/gf.new" && [ "$(gf_user "$TMP/gf.new")" = 200 ]; then
	pass rotate-gf-new-accepted
else
	fail rotate-gf-new-accepted "status $(gf_user "$TMP/gf.new") (.env changed: $(cmp -s "$TMP/gf.old" "$TMP/gf.new" && echo no || echo yes))"
fi
s=$(gf_user "$TMP/gf.old")
[ "$s" = 401 ] && pass rotate-gf-old-refused || fail rotate-gf-old-refused "status $s"
podman pod stop -t 5 pod-observability >/dev/null 2>&1
podman pod start pod-observability >/dev/null 2>&1
for _ in $(seq 60); do [ "$(gf_user "$TMP/gf.new")" = 200 ] && break; sleep 1; done
s=$(gf_user "$TMP/gf.new")
[ "$s" = 200 ] && pass rotate-gf-kept-on-restart || fail rotate-gf-kept-on-restart "status $s after a restart"

# --- no value anywhere ------------------------------------------------------------------
A history --json >"$TMP/history.json" 2>&1
if f=$(leaked "$TMP/rotate-kc.out" "$TMP/rotate-gf.out" "$TMP/history.json" "$TMP/deploy.out"); then
	fail rotate-http-no-value-in-output "a value in $f"
else
	pass rotate-http-no-value-in-output
fi
mapfile -t state_files < <(find "$AEGIS_STATE_DIR" -type f 2>/dev/null)
if f=$(leaked "${state_files[@]}"); then
	fail rotate-http-no-value-in-state "a value in $f"
else
	pass rotate-http-no-value-in-state
fi
for pod in pod-iam pod-observability; do
	for c in $(podman pod inspect "$pod" --format '{{range .Containers}}{{.Name}} {{end}}' 2>/dev/null); do
		podman logs "$c" >>"$TMP/pod-logs" 2>&1
	done
done
if f=$(leaked "$TMP/pod-logs"); then
	fail rotate-http-no-value-in-logs "a value in the pods' logs"
else
	pass rotate-http-no-value-in-logs
fi
if [ -s "$TMP/argv" ] && ! f=$(leaked "$TMP/argv"); then
	pass rotate-http-no-value-in-argv
else
	fail rotate-http-no-value-in-argv "$([ -s "$TMP/argv" ] && echo "a value in a process's argv" || echo "no argv sampled")"
fi
