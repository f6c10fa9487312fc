# The rollout trace (deploy/teardown --trace FILE), against real Podman
# (stand-ins, --no-bootstrap): valid Chrome trace-event JSON with a track
# per pod; each pod's phases in order (its turn after its dependencies were
# ready, its app containers started, probed until ready); the trace agrees
# with Podman's own container start times (State.StartedAt within the span
# that started them, 50 ms of slack); a teardown's trace stops each pod only
# after the pods that depend on it have stopped, and without waiting for
# their removals (the time against the slowest stop and removal is printed).
# status --json keeps the deploy's phase times (last_rollout, from the state
# directory, 0600), and they agree with the trace within 5 ms.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(trace-deploy trace-valid-json trace-phases-ordered trace-agrees-with-podman trace-status-phases
	trace-teardown-order trace-teardown-overlaps)
require_rootful_podman
podman_test_stack
A() { aegis --env "$ENV" "$@"; }
A clean --yes >/dev/null 2>&1

A deploy --no-bootstrap --profile full --timeout 120 --trace "$TMP/deploy.json" >"$TMP/deploy.out" 2>&1; rc=$?
[ $rc -eq 0 ] && [ -s "$TMP/deploy.json" ] && pass trace-deploy || fail trace-deploy "rc=$rc $(tail -5 "$TMP/deploy.out")"

# Each app container's start time as Podman saw it: "pod-name epoch-seconds".
for c in $(podman ps --format '{{.Names}}' | grep -v -- '-infra$'); do
	pod=$(podman inspect --format '{{.PodName}}' "$c")
	[ -n "$pod" ] || continue
	echo "$pod $(podman inspect --format '{{.State.StartedAt.Unix}}.{{printf "%09d" .State.StartedAt.Nanosecond}}' "$c")"
done >"$TMP/started.txt"

"$PY" - "$TMP/deploy.json" "$TMP/started.txt" "$ROOT" <<'PY' >"$TMP/check.out" 2>&1
import json, sys, collections
doc = json.load(open(sys.argv[1]))
ev = doc["traceEvents"]
names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
spans = collections.defaultdict(dict)
for e in ev:
    if e["ph"] == "X":
        assert isinstance(e["ts"], int) and isinstance(e["dur"], int) and e["dur"] >= 0, e
        spans[names[e["tid"]]][e["name"]] = (e["ts"] / 1e6, (e["ts"] + e["dur"]) / 1e6)
pods = [n for n in names.values() if n.startswith("pod-")]
assert len(pods) == 9, pods
print("valid", len(ev), "events,", len(pods), "pod tracks")
# phases in order, for every pod
bad = []
for p in pods:
    s = spans[p]
    turn = s["wait for dependencies"][1]
    start = s.get("start app containers") or s.get("play and start (first tier)")
    ready = s["probe until ready"]
    if not (start and start[1] <= ready[0] + 0.001 and turn <= ready[0] + 0.001):
        bad.append((p, s))
    if "create ahead (infra started)" in s and s["start app containers"][0] + 0.001 < turn:
        bad.append((p, "started before its turn"))
print("ordered" if not bad else "DISORDER %s" % bad)
# Podman's StartedAt within the span that started the containers (50 ms)
off = []
for line in open(sys.argv[2]):
    pod, t = line.split()
    t = float(t)
    s = spans[pod]
    a, b = s.get("start app containers") or s.get("play and start (first tier)")
    if not (a - 0.05 <= t <= b + 0.05):
        off.append((pod, round(t - a, 3), round(b - a, 3)))
print("agrees" if not off else "OFF %s" % off)
PY
grep -q '^valid' "$TMP/check.out" && pass trace-valid-json || fail trace-valid-json "$(tail -3 "$TMP/check.out")"
grep -q '^ordered' "$TMP/check.out" && pass trace-phases-ordered || fail trace-phases-ordered "$(tail -3 "$TMP/check.out")"
grep -q '^agrees' "$TMP/check.out" && pass trace-agrees-with-podman || fail trace-agrees-with-podman "$(tail -3 "$TMP/check.out")"

# status --json: the last rollout's phase times, as the trace has them
A status --profile full --json >"$TMP/status.json" 2>"$TMP/status.err"
mode=$(stat -c %a "$AEGIS_STATE_DIR/last-rollout.json" 2>/dev/null)
"$PY" - "$TMP/deploy.json" "$TMP/status.json" <<'PY' >"$TMP/phases.out" 2>&1
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
last = json.load(open(sys.argv[2]))["last_rollout"]
names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
t0 = [e["ts"] / 1e6 for e in ev if e["ph"] == "X" and e["tid"] == 0][0]
probe = {names[e["tid"]]: (e["ts"] + e["dur"]) / 1e6 - t0 for e in ev if e["ph"] == "X" and e["name"] == "probe until ready"}
pods = last["pods"]
assert last["command"] == "deploy" and len(pods) == 9, (last["command"], sorted(pods))
bad = []
for name, p in pods.items():
    if not (0 <= p["created_s"] and 0 <= p["started_s"] <= p["ready_s"] and p["ready_s"] <= last["took_s"]):
        bad.append((name, p))
    if abs(p["ready_s"] - probe["pod-" + name]) > 0.005:
        bad.append((name, "ready_s %.3f, trace %.3f" % (p["ready_s"], probe["pod-" + name])))
print("phases ok" if not bad else "PHASES %s" % bad)
PY
if [ "$mode" = 600 ] && grep -q '^phases ok' "$TMP/phases.out"; then pass trace-status-phases
else fail trace-status-phases "mode=$mode $(tail -3 "$TMP/phases.out") $(tail -2 "$TMP/status.err")"; fi

t0=$(date +%s.%N)
A teardown --profile full --trace "$TMP/teardown.json" >"$TMP/teardown.out" 2>&1; rc=$?
took=$("$PY" -c "print(round($(date +%s.%N) - $t0, 2))")
A plan --profile full --json >"$TMP/plan.json" 2>/dev/null
"$PY" - "$TMP/teardown.json" "$TMP/plan.json" "$took" <<'PY' >"$TMP/td.out" 2>&1
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
plan = json.load(open(sys.argv[2]))
names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
stop, remove = {}, {}
for e in ev:
    if e["ph"] != "X": continue
    span = (e["ts"] / 1e6, (e["ts"] + e["dur"]) / 1e6)
    if e["name"] == "stop": stop[names[e["tid"]]] = span
    if e["name"] == "remove": remove[names[e["tid"]]] = span
deps = {}
for p in plan.get("pods", []):
    deps[p["pod_name"]] = ["pod-" + d for d in p.get("depends", [])]
bad = [(p, d) for p, ds in deps.items() for d in ds if p in stop and d in stop and stop[d][0] < stop[p][1] - 0.001]
print("order ok" if not bad and len(stop) == 9 else "ORDER %s (%d stops)" % (bad, len(stop)))
slowest = max(remove[p][1] - stop[p][0] for p in stop)
took = float(sys.argv[3])
print("teardown %.2f s, slowest stop + removal %.2f s (target: within 1 s of it)" % (took, slowest))
# a pod's stop does not wait for its dependents' removals: some stop of a
# dependency began while a dependent was still being removed
overlaps = [(p, d) for p, ds in deps.items() for d in ds if p in remove and d in stop and stop[d][0] < remove[p][1] - 0.05]
print("overlap ok" if overlaps else "NO OVERLAP (each tier waited for the removals of the next)")
PY
cat "$TMP/td.out" | grep teardown | sed 's/^/   /'
[ $rc -eq 0 ] && grep -q '^order ok' "$TMP/td.out" && pass trace-teardown-order || fail trace-teardown-order "rc=$rc $(cat "$TMP/td.out") $(tail -3 "$TMP/teardown.out")"
grep -q '^overlap ok' "$TMP/td.out" && pass trace-teardown-overlaps || fail trace-teardown-overlaps "$(cat "$TMP/td.out")"
