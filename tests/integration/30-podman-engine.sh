# The engine against real Podman (rootful, isolated test Podman; see
# tests/podman/env.sh): full deploy in tier order, validate, a stopped
# container, redeploy keeping other containers, volume data across teardown +
# deploy, clean, a failing readiness probe, an image that cannot be pulled,
# and the Podman API answering errors.  Every image is the busybox stand-in,
# which is not OpenBao or Keycloak: deploys run with --no-bootstrap here;
# bootstrap end to end, with the API test servers inside the secrets and iam
# pods, is tests/integration/50-demo.sh.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(deploy-full ports-on-loopback-only no-profile-acts-on-deployed tiers-in-order redeploy-unchanged-keeps-all change-replaces-only-affected containers-started-after-deps validate-all-pass status-all-running
	validate-stopped-container redeploy-keeps-others redeploy-unknown-pod teardown-keeps-volumes
	volume-data-survives clean-removes logs-tail logs-follow tty-progress failing-probe-diagnostic failing-probe-json
	pull-error-names-image api-error-names-endpoint missing-socket-refused)
require_rootful_podman

# A long-lived API service on a test socket (the pods mount CONTAINER_SOCK)
# and a .env: generated secrets (init), the test socket, every image the
# stand-in (tests/podman/env.sh).
podman_test_stack
A() { aegis --env "$ENV" "$@"; }
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }

# Start from nothing (the isolated test Podman only).
A clean --yes >/dev/null 2>&1

# --- full deploy, tier order -----------------------------------------------------
FULL=$(profile_pods full)
start=$(date +%s)
A deploy --no-bootstrap --profile full --json --timeout 120 >"$TMP/deploy.json" 2>"$TMP/deploy.err"; rc=$?
if [ $rc -eq 0 ] && json "$TMP/deploy.json" 'assert d["result"]=="ok" and len(d["pods"])=='"$FULL"' and all(p["result"]=="ready" for p in d["pods"])'; then
	pass deploy-full
else
	fail deploy-full "rc=$rc $(tail -5 "$TMP/deploy.err")"
fi
echo "   full deploy: $(( $(date +%s) - start )) s"

# Nothing the platform publishes is reachable from other machines by default:
# Podman's own port bindings all name 127.0.0.1, and no socket for those
# ports listens on a wildcard or another address.
bindings=$(podman pod ps --filter label=app.kubernetes.io/part-of=aegis --format '{{.Name}}' |
	xargs -r podman pod inspect --format '{{range $p, $b := .InfraConfig.PortBindings}}{{range $b}}{{.HostIP}} {{.HostPort}}
{{end}}{{end}}' | sed '/^$/d')
nbind=$(wc -l <<<"$bindings")
not_lo=$(awk '$1 != "127.0.0.1"' <<<"$bindings")
wild=
for port in $(awk '{print $2}' <<<"$bindings"); do
	wild="$wild$(ss -ltnH "sport = :$port" | awk '{print $4}' | grep -v '^127\.0\.0\.1:' || true)"
done
if [ "$nbind" -ge 25 ] && [ -z "$not_lo" ] && [ -z "$wild" ]; then
	pass ports-on-loopback-only
else
	fail ports-on-loopback-only "$nbind bindings; not on 127.0.0.1: $not_lo; listening elsewhere: $wild"
fi

# Every pod of tier t starts after every pod of tier t-1 is ready, and after
# each of its own dependencies is ready.
deps_py='
import json, subprocess, sys
d = json.load(open(sys.argv[1]))
pods = {p["name"]: p for p in d["pods"]}
plan = json.loads(subprocess.check_output(sys.argv[2:] + ["plan", "--profile", "full", "--json"]))
bad = []
tiers = {}
for p in d["pods"]:
    tiers.setdefault(p["tier"], []).append(p)
for t in sorted(tiers):
    if t == 0: continue
    prev_ready = max(p["ready_at"] for p in tiers[t - 1])
    for p in tiers[t]:
        if p["started_at"] < prev_ready:
            bad.append("%s started %.3f s before tier %d was ready" % (p["name"], prev_ready - p["started_at"], t - 1))
for entry in plan["pods"]:
    for dep in entry.get("depends", []):
        if dep in pods and pods[entry["name"]]["started_at"] < pods[dep]["ready_at"]:
            bad.append("%s started before its dependency %s was ready" % (entry["name"], dep))
print("; ".join(bad))
sys.exit(1 if bad or len(tiers) != 4 else 0)
'
if out=$("$PY" -c "$deps_py" "$TMP/deploy.json" "$AEGIS_BIN" --root "$ROOT" --env "$ENV" 2>&1); then
	pass tiers-in-order
else
	fail tiers-in-order "$out"
fi

# The same from Podman's side: each app container's start time against the
# ready time the rollout recorded for the pods it depends on.  (Pods are
# created, and their infra containers started, ahead of their turn; what
# waits for the dependencies is the start of the app containers.)
started_py='
import json, subprocess, sys
d = json.load(open(sys.argv[1]))
ready = {p["name"]: p["ready_at"] for p in d["pods"]}
plan = json.loads(subprocess.check_output(sys.argv[2:] + ["plan", "--profile", "full", "--json"]))
bad = []
for entry in plan["pods"]:
    deps = [x for x in entry.get("depends", []) if x in ready]
    if not deps: continue
    ids = subprocess.check_output(["podman", "ps", "-a", "-q", "--filter", "pod=pod-" + entry["name"]]).split()
    for c in json.loads(subprocess.check_output(["podman", "inspect"] + [i.decode() for i in ids])):
        if c.get("IsInfra"): continue
        ts = subprocess.check_output(["podman", "inspect", "--format", "{{.State.StartedAt.Unix}}.{{.State.StartedAt.Nanosecond}}", c["Id"]]).decode().strip()
        sec, ns = ts.split(".")
        t = int(sec) + int(ns) / 1e9
        for dep in deps:
            if t < ready[dep]:
                bad.append("%s started %.3f s before %s was ready" % (c["Name"], ready[dep] - t, dep))
print("; ".join(bad))
sys.exit(1 if bad else 0)
'
if out=$("$PY" -c "$started_py" "$TMP/deploy.json" "$AEGIS_BIN" --root "$ROOT" --env "$ENV" 2>&1); then
	pass containers-started-after-deps
else
	fail containers-started-after-deps "$out"
fi

# --- validate and status -------------------------------------------------------------
A validate --profile full --json >"$TMP/validate.json" 2>"$TMP/validate.err"; rc=$?
if [ $rc -eq 0 ] && json "$TMP/validate.json" 'assert d["ok"] and d["failed"]==0 and d["passed"]>=16 and all(c["ok"] for c in d["checks"])'; then
	pass validate-all-pass
else
	fail validate-all-pass "rc=$rc $(cat "$TMP/validate.err")"
fi
A status --profile full --json >"$TMP/status.json" 2>&1; rc=$?
if [ $rc -eq 0 ] && json "$TMP/status.json" 'ps=d["pods"]; assert len(ps)=='"$FULL"' and all(p["state"]=="Running" and p["running"]==p["containers"]==p["ready"] for p in ps), ps'; then
	pass status-all-running
else
	fail status-all-running "rc=$rc $(head -c 600 "$TMP/status.json")"
fi

# Without --profile, status, validate and logs act on what is deployed (the
# full profile here), not on the default profile (development: six pods).
A status --json >"$TMP/status-any.json" 2>&1; s_rc=$?
A validate --json >"$TMP/validate-any.json" 2>"$TMP/validate-any.err"; v_rc=$?
A logs storage --tail 1 >"$TMP/logs-any.out" 2>&1; l_rc=$?
if [ $s_rc -eq 0 ] && [ $v_rc -eq 0 ] && [ $l_rc -eq 0 ] &&
	json "$TMP/status-any.json" 'assert d["profile"]=="deployed" and len(d["pods"])=='"$FULL"' and not d["absent"]' &&
	json "$TMP/validate-any.json" 'assert {c["pod"] for c in d["checks"]} >= {"storage", "seal-gateway"} and d["ok"]'; then
	pass no-profile-acts-on-deployed
else
	fail no-profile-acts-on-deployed "rc=$s_rc/$v_rc/$l_rc $(head -c 300 "$TMP/status-any.json") $(head -c 300 "$TMP/logs-any.out")"
fi

# --- deploying again: unchanged pods are kept; a changed value replaces only
# the pods that use it -------------------------------------------------------------
allids() { podman ps -a --no-trunc --format '{{.Names}} {{.ID}}' | sort; }
allids >"$TMP/ids0"
A deploy --no-bootstrap --profile full --json >"$TMP/again.json" 2>"$TMP/again.err"; rc=$?
allids >"$TMP/ids1"
if [ $rc -eq 0 ] && cmp -s "$TMP/ids0" "$TMP/ids1" &&
	json "$TMP/again.json" 'assert all(p["action"]=="kept" for p in d["pods"]) and d["duration_s"] < 3, d["duration_s"]'; then
	pass redeploy-unchanged-keeps-all
else
	fail redeploy-unchanged-keeps-all "rc=$rc $(diff "$TMP/ids0" "$TMP/ids1" | head -4) $(tail -3 "$TMP/again.err")"
fi
echo "   second deploy: $(json "$TMP/again.json" 'print(d["duration_s"])' 2>/dev/null) s"
# RUST_LOG is used by the runtime (core) and the SEAL gateway only.
RUST_LOG=debug A deploy --no-bootstrap --profile full --json >"$TMP/changed.json" 2>"$TMP/changed.err"; rc=$?
if [ $rc -eq 0 ] && json "$TMP/changed.json" 'a={p["name"]:p["action"] for p in d["pods"]}; assert sorted(k for k,v in a.items() if v=="played")==["core","seal-gateway"], a'; then
	pass change-replaces-only-affected
else
	fail change-replaces-only-affected "rc=$rc $(head -c 400 "$TMP/changed.json") $(tail -3 "$TMP/changed.err")"
fi
A deploy --no-bootstrap --profile full >/dev/null 2>&1 # back to the .env's values

# --- a stopped container ------------------------------------------------------------
podman stop -t 1 pod-storage-seaweedfs-filer >/dev/null 2>&1
out=$(A validate --profile full 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q 'seaweedfs-filer.*FAIL' <<<"$out"; then
	pass validate-stopped-container
else
	fail validate-stopped-container "rc=$rc $out"
fi

# --- redeploy one pod: the others' containers are untouched --------------------------
# every container (infra included) of every pod but storage, with its ID
others() {
	for p in core database temporal secrets iam observability seal-gateway; do
		podman ps -a --no-trunc --filter "pod=pod-$p" --format "$p {{.Names}} {{.ID}}"
	done | sort
}
others >"$TMP/before"
A redeploy --no-bootstrap --profile full --pod storage --timeout 60 >"$TMP/redeploy.out" 2>&1; rc=$?
others >"$TMP/after"
new_filer=$(podman inspect --format '{{.State.Status}}' pod-storage-seaweedfs-filer 2>/dev/null)
if [ $rc -eq 0 ] && cmp -s "$TMP/before" "$TMP/after" && [ "$(wc -l <"$TMP/before")" -ge 20 ] && [ "$new_filer" = running ] &&
	A validate --profile full >/dev/null 2>&1; then
	pass redeploy-keeps-others
else
	fail redeploy-keeps-others "rc=$rc filer=$new_filer $(diff "$TMP/before" "$TMP/after" | head -5) $(tail -3 "$TMP/redeploy.out")"
fi
out=$(A redeploy --no-bootstrap --profile full nosuchpod 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q "unknown pod 'nosuchpod'.*valid: .*seal-gateway" <<<"$out"; then
	pass redeploy-unknown-pod
else
	fail redeploy-unknown-pod "rc=$rc $out"
fi

# --- logs --------------------------------------------------------------------------------
out=$(A logs core --tail 1 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c '^standin: ready' <<<"$out")" = 1 ] && ! grep -q 'standin: starting' <<<"$out"; then
	pass logs-tail
else
	fail logs-tail "rc=$rc $out"
fi

# --follow keeps streaming until interrupted
out=$(timeout 3 "$AEGIS_BIN" --root "$ROOT" --env "$ENV" logs core --follow 2>&1); rc=$?
if [ $rc -eq 124 ] && grep -q '^standin: ready' <<<"$out"; then pass logs-follow; else fail logs-follow "rc=$rc $out"; fi

# On a terminal: a live line per pod (state, elapsed seconds), and the final
# summary is not overwritten by a late redraw.
if command -v script >/dev/null 2>&1; then
	out=$(TERM=xterm script -qc "$AEGIS_BIN --root $ROOT --env $ENV deploy --no-bootstrap --profile full" /dev/null 2>&1); rc=$?
	last=$(printf '%s' "$out" | tr -d '\r' | tail -n 1)
	if [ $rc -eq 0 ] && grep -q 'tier 3  seal-gateway .*ready' <<<"$out" && [[ "$last" == "full: all pods ready in "* ]]; then
		pass tty-progress
	else
		fail tty-progress "rc=$rc last line: $last"
	fi
else
	skip tty-progress "script(1) is not installed"
fi

# --- volume data across teardown + deploy; clean ------------------------------------
podman exec pod-database-postgres sh -c 'echo kept-$PPID > /var/lib/postgresql/data/aegis-test-marker; cat /var/lib/postgresql/data/aegis-test-marker' >"$TMP/marker" 2>&1
A teardown --profile full --timeout 5 >"$TMP/teardown.out" 2>&1; rc=$?
pods_left=$(podman pod ls -q | wc -l)
if [ $rc -eq 0 ] && [ "$pods_left" = 0 ] && podman volume exists aegis-postgres-data && podman network exists aegis-network; then
	pass teardown-keeps-volumes
else
	fail teardown-keeps-volumes "rc=$rc pods left=$pods_left $(tail -3 "$TMP/teardown.out")"
fi
A deploy --no-bootstrap --profile full --timeout 120 >"$TMP/deploy2.out" 2>&1; rc=$?
got=$(podman exec pod-database-postgres cat /var/lib/postgresql/data/aegis-test-marker 2>&1)
if [ $rc -eq 0 ] && [ -s "$TMP/marker" ] && [ "$got" = "$(cat "$TMP/marker")" ]; then
	pass volume-data-survives
else
	fail volume-data-survives "rc=$rc wrote='$(cat "$TMP/marker")' read='$got'"
fi
A clean --yes >"$TMP/clean.out" 2>&1; rc=$?
vols=$(podman volume ls -q --filter name=aegis- | wc -l)
if [ $rc -eq 0 ] && [ "$vols" = 0 ] && ! podman network exists aegis-network && [ "$(podman pod ls -q | wc -l)" = 0 ] &&
	grep -q 'removed volume aegis-postgres-data' "$TMP/clean.out"; then
	pass clean-removes
else
	fail clean-removes "rc=$rc volumes left=$vols $(tail -3 "$TMP/clean.out")"
fi

# --- a pod whose probe never passes -------------------------------------------------
broken=$(standin_variant never-ready STANDIN_FAIL=1)
cp "$ENV" "$TMP/broken.env"
echo "OPENBAO_IMAGE=$broken" >>"$TMP/broken.env"
t0=$(date +%s.%N)
out=$(aegis --env "$TMP/broken.env" deploy --no-bootstrap --profile minimal --timeout 4 2>&1); rc=$?
took=$(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || "$PY" -c "print($(date +%s.%N) - $t0)")
core_exists=$(podman pod exists pod-core && echo yes || echo no)
if [ $rc -eq 1 ] && "$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) < 4 + 10 else 1)" "$took" &&
	grep -q 'pod secrets (pod-secrets) failed' <<<"$out" && grep -q 'container:  openbao' <<<"$out" &&
	grep -q 'probe:      httpGet :8200/v1/sys/health' <<<"$out" && grep -q 'last error: not ready after 4 s: GET http://127.0.0.1:8200' <<<"$out" &&
	grep -q '| standin: STANDIN_FAIL=1, never answering' <<<"$out" && [ "$core_exists" = no ]; then
	pass failing-probe-diagnostic
else
	fail failing-probe-diagnostic "rc=$rc took=${took}s core=$core_exists $out"
fi
echo "   failing deploy with --timeout 4 took ${took} s"
aegis --env "$TMP/broken.env" deploy --no-bootstrap --profile minimal --timeout 2 --json >"$TMP/broken.json" 2>/dev/null; rc=$?
if [ $rc -eq 1 ] && json "$TMP/broken.json" 'p={x["name"]:x for x in d["pods"]}; assert d["result"]=="failed" and p["secrets"]["result"]=="failed" and p["secrets"]["container"]=="openbao" and "never answering" in p["secrets"]["logs"] and p["core"]["result"]=="waiting"'; then
	pass failing-probe-json
else
	fail failing-probe-json "rc=$rc $(head -c 800 "$TMP/broken.json")"
fi
A clean --yes >/dev/null 2>&1

# --- an image that cannot be pulled ---------------------------------------------------
cp "$ENV" "$TMP/nopull.env"
echo "OPENBAO_IMAGE=localhost:1/aegis-test/missing:1.0" >>"$TMP/nopull.env"
out=$(aegis --env "$TMP/nopull.env" deploy --no-bootstrap --profile minimal --timeout 10 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q 'localhost:1/aegis-test/missing:1.0' <<<"$out" && grep -qi 'registry localhost:1' <<<"$out"; then
	pass pull-error-names-image
else
	fail pull-error-names-image "rc=$rc $out"
fi

# --- the Podman API answering an error --------------------------------------------
# A socket whose server answers every request like a failing libpod: HTTP 500
# with Podman's error body.
"$PY" - "$TMP/broken.sock" >"$TMP/fake.log" 2>&1 <<'PYEOF' &
import socketserver, sys, json
from http.server import BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    def answer(self):
        if self.path.endswith("/_ping"):
            body = b"OK"
            self.send_response(200)
        else:
            body = json.dumps({"cause": "database is locked", "message": "getting pods: database is locked", "response": 500}).encode()
            self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_DELETE = answer
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    def get_request(self):
        r, _ = super().get_request()
        return r, ["local", 0]
S(sys.argv[1], H).serve_forever()
PYEOF
fake_pid=$!
for _ in $(seq 50); do [ -S "$TMP/broken.sock" ] && break; sleep 0.1; done
out=$(CONTAINER_SOCK=$TMP/broken.sock aegis --env "$ENV" status --profile full 2>&1); rc=$?
kill "$fake_pid" 2>/dev/null
if [ $rc -eq 1 ] && grep -q '/libpod/' <<<"$out" && grep -q '500' <<<"$out" && grep -q 'getting pods: database is locked' <<<"$out"; then
	pass api-error-names-endpoint
else
	fail api-error-names-endpoint "rc=$rc $out"
fi

# --- a missing socket ---------------------------------------------------------------
# status and validate start a private service; deploy refuses up front because
# the pods mount the socket.
out=$(CONTAINER_SOCK=$TMP/nowhere/podman.sock aegis --env "$ENV" deploy --no-bootstrap --profile minimal 2>&1); rc=$?
out2=$(CONTAINER_SOCK=$TMP/nowhere/podman.sock aegis --env "$ENV" status --profile minimal 2>&1); rc2=$?
if [ $rc -eq 2 ] && grep -q "mounts the socket $TMP/nowhere/podman.sock, which does not exist" <<<"$out" &&
	[ $rc2 -eq 0 ] && grep -q 'absent' <<<"$out2" && ! pgrep -f "$TMP/.*private" >/dev/null; then
	pass missing-socket-refused
else
	fail missing-socket-refused "deploy rc=$rc $out / status rc=$rc2 $out2"
fi
