# Create ahead, start on the gate (real Podman, the isolated test Podman of
# tests/podman/env.sh, stand-in images, --no-bootstrap): every pod of the
# rollout is created and its infra container started when the deploy
# begins; a pod's app containers start only once every dependency is ready
# (Podman's own State.StartedAt against the ready times of the deploy
# report); a pod created ahead whose dependency fails is never started and
# is removed; unchanged pods keep their containers.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(ahead-deploy ahead-created-before-deps-ready ahead-app-started-after-deps ahead-dep-fails-never-started
	ahead-dep-fails-removed ahead-kept-keep-ids ahead-change-replaces-only-affected)
require_rootful_podman

# A long-lived API service on a test socket (the pods mount CONTAINER_SOCK),
# a .env of generated secrets with every image the stand-in, and the cleanup.
podman_test_stack
A() { aegis --env "$ENV" "$@"; }
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }

# Start from nothing (the isolated test Podman only).
A clean --yes >/dev/null 2>&1
# The database (tier 0, on which every later tier depends) becomes ready 4 s
# after it starts, as a real one does after a while: time enough to create the
# later tiers' pods ahead even on a busy 2-core machine with the sanitizer
# build, so the checks below see the schedule, not the machine's load.
slow=$(standin_variant ahead-slow-db STANDIN_READY_DELAY=4)
for v in $(grep -o '\${[A-Z0-9_]*_IMAGE}' "$ROOT/kube/database/pod.yaml" | tr -d '${}' | sort -u); do
	echo "$v=$slow" >>"$ENV"
done

# --- a full deploy --------------------------------------------------------------
FULL=$(profile_pods full)
A deploy --no-bootstrap --profile full --json --timeout 120 >"$TMP/deploy.json" 2>"$TMP/deploy.err"; rc=$?
if [ $rc -eq 0 ] && json "$TMP/deploy.json" 'assert d["result"]=="ok" and len(d["pods"])=='"$FULL"' and all(p["result"]=="ready" for p in d["pods"])'; then
	pass ahead-deploy
else
	fail ahead-deploy "rc=$rc $(tail -5 "$TMP/deploy.err")"
fi

# Podman's own times of every container of every pod with dependencies:
# "pod kind created started" per line (kind: infra or app; times in epoch s).
podman_times() {
	local pod infra
	for pod in $(json "$TMP/deploy.json" 'print(" ".join(p["pod_name"] for p in d["pods"]))'); do
		infra=$(podman pod inspect "$pod" --format '{{.InfraContainerID}}' 2>/dev/null) || continue
		for id in $(podman ps -a -q --no-trunc --filter "pod=$pod"); do
			kind=app
			[ "$id" = "$infra" ] && kind=infra
			podman inspect "$id" --format "$pod $kind {{.Created.Unix}}.{{printf \"%09d\" .Created.Nanosecond}} {{.State.StartedAt.Unix}}.{{printf \"%09d\" .State.StartedAt.Nanosecond}}"
		done
	done
}
podman_times >"$TMP/times"
# For each pod: the latest ready time of its dependencies (from the report).
gate_py='
import json, subprocess, sys
d = json.load(open(sys.argv[1]))
plan = json.loads(subprocess.check_output(sys.argv[3:] + ["plan", "--profile", "full", "--json"]))
ready = {p["name"]: p["ready_at"] for p in d["pods"]}
names = {p["pod_name"]: p["name"] for p in d["pods"]}
deps = {e["name"]: [x for x in e.get("depends", []) if x in ready] for e in plan["pods"]}
times = [l.split() for l in open(sys.argv[2]) if l.strip()]
'
# (a) the app containers of a dependent pod started only after every
# dependency was ready, by Podman's StartedAt.
after_py="$gate_py"'
bad, n = [], 0
for pod, kind, created, started in times:
    name = names[pod]
    if kind != "app" or not deps[name]: continue
    n += 1
    for dep in deps[name]:
        if float(started) < ready[dep]:
            bad.append("%s app container started %.3f s before %s was ready" % (name, ready[dep] - float(started), dep))
print("; ".join(bad) or "%d app containers checked" % n)
sys.exit(1 if bad or n < 5 else 0)
'
if out=$("$PY" -c "$after_py" "$TMP/deploy.json" "$TMP/times" "$AEGIS_BIN" --root "$ROOT" --env "$ENV" 2>&1); then
	pass ahead-app-started-after-deps
else
	fail ahead-app-started-after-deps "$out"
fi
# Created ahead: every dependent pod's containers were created, and its infra
# container (network, ports) started, before its dependencies were ready.
# (A rollout that plays each tier only at its turn fails this.)
ahead_py="$gate_py"'
bad, n = [], 0
for pod, kind, created, started in times:
    name = names[pod]
    if not deps[name]: continue
    n += 1
    gate = max(ready[x] for x in deps[name])
    if float(created) >= gate:
        bad.append("%s %s container created %.3f s after its dependencies were ready" % (name, kind, float(created) - gate))
    if kind == "infra" and float(started) >= gate:
        bad.append("%s infra container started %.3f s after its dependencies were ready" % (name, float(started) - gate))
print("; ".join(bad) or "%d containers checked" % n)
sys.exit(1 if bad or n < 5 else 0)
'
if out=$("$PY" -c "$ahead_py" "$TMP/deploy.json" "$TMP/times" "$AEGIS_BIN" --root "$ROOT" --env "$ENV" 2>&1); then
	pass ahead-created-before-deps-ready
else
	fail ahead-created-before-deps-ready "$out"
fi

# --- (c) deploying again: kept pods keep their containers; a change replaces
# only the pods that use it ------------------------------------------------------
allids() { podman ps -a --no-trunc --format '{{.Names}} {{.ID}} {{.StartedAt}}' | sort; }
allids >"$TMP/ids0"
A deploy --no-bootstrap --profile full --json >"$TMP/again.json" 2>"$TMP/again.err"; rc=$?
allids >"$TMP/ids1"
if [ $rc -eq 0 ] && cmp -s "$TMP/ids0" "$TMP/ids1" &&
	json "$TMP/again.json" 'assert all(p["action"]=="kept" for p in d["pods"]), d'; then
	pass ahead-kept-keep-ids
else
	fail ahead-kept-keep-ids "rc=$rc $(diff "$TMP/ids0" "$TMP/ids1" | head -4) $(tail -3 "$TMP/again.err")"
fi
# RUST_LOG is used by the runtime (core) and the SEAL gateway only.
RUST_LOG=debug A deploy --no-bootstrap --profile full --json >"$TMP/changed.json" 2>"$TMP/changed.err"; rc=$?
allids >"$TMP/ids2"
# containers whose ID changed: only those of core and seal-gateway (and the
# two pods' infra containers)
changed=$(comm -3 <(awk '{print $1, $2}' "$TMP/ids1") <(awk '{print $1, $2}' "$TMP/ids2") | awk '{print $1}' | sort -u)
others=$(grep -vE '^pod-(core|seal-gateway)-|^[0-9a-f]{12}-infra$' <<<"$changed")
ninfra=$(grep -cE -- '-infra$' <<<"$changed")
if [ $rc -eq 0 ] && json "$TMP/changed.json" 'a={p["name"]:p["action"] for p in d["pods"]}; assert sorted(k for k,v in a.items() if v=="played")==["core","seal-gateway"], a' &&
	[ -z "$others" ] && [ "$ninfra" -le 4 ] && grep -q '^pod-core-' <<<"$changed"; then
	pass ahead-change-replaces-only-affected
else
	fail ahead-change-replaces-only-affected "rc=$rc changed: $(tr '\n' ' ' <<<"$changed") $(head -c 400 "$TMP/changed.json") $(tail -3 "$TMP/changed.err")"
fi

# --- (b) a dependency fails: the dependent pod, created ahead, is never
# started and is removed --------------------------------------------------------
A clean --yes >/dev/null 2>&1
broken=$(standin_variant never-ready STANDIN_FAIL=1)
cp "$ENV" "$TMP/broken.env"
echo "OPENBAO_IMAGE=$broken" >>"$TMP/broken.env"
since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
aegis --env "$TMP/broken.env" deploy --no-bootstrap --profile minimal --timeout 3 --json >"$TMP/broken.json" 2>"$TMP/broken.err"; rc=$?
sleep 1
# (Podman 4.3 answers nothing when given --until: the events since, then.)
podman events --stream=false --since "$since" --filter type=container \
	--format '{{.Status}} {{.Name}}' >"$TMP/events" 2>&1
# pod-core's app containers (not its infra, which starts ahead by design)
core_created=$(grep -cE '^create pod-core-' "$TMP/events")
core_started=$(grep -cE '^start pod-core-' "$TMP/events")
core_exists=$(podman pod exists pod-core && echo yes || echo no)
if [ $rc -eq 1 ] && [ "$core_created" -ge 1 ] && [ "$core_started" -eq 0 ] &&
	json "$TMP/broken.json" 'p={x["name"]:x for x in d["pods"]}; assert p["secrets"]["result"]=="failed" and p["core"]["result"]=="waiting"'; then
	pass ahead-dep-fails-never-started
else
	fail ahead-dep-fails-never-started "rc=$rc created=$core_created started=$core_started $(grep pod-core "$TMP/events" | head -5 | tr '\n' ';') $(tail -3 "$TMP/broken.err")"
fi
if [ $rc -eq 1 ] && [ "$core_exists" = no ] && [ "$core_created" -ge 1 ]; then
	pass ahead-dep-fails-removed
else
	fail ahead-dep-fails-removed "rc=$rc core exists: $core_exists, created ahead: $core_created"
fi
A clean --yes >/dev/null 2>&1
