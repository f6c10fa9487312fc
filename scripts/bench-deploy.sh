#!/usr/bin/env bash
# Benchmark: deploy and validate of the full profile against real Podman, with
# stand-in images whose readiness is delayed by set amounts per pod.
#
#   scripts/bench-deploy.sh [--runs N]
#
# Reports, from one run of this script:
#   deploy / max(CP, floor)   the physical limit of an ordered rollout on this
#                             machine: the larger of the critical path (CP =
#                             sum over tiers of the slowest pod's ready delay)
#                             and the unordered floor below, measured in the
#                             same run (target <= 1 + 1 s / that limit, i.e.
#                             deploy <= max(CP, floor) + 1 s)
#   creation waits            per tier, how long the critical path waited on
#                             Podman's creation, from the --trace of every
#                             deploy run (kept in a directory it prints): a
#                             pod's start gated by its creation (create ahead,
#                             or the first tier's play) rather than by its
#                             dependencies; the tier's last ready pod counts
#   sequential / deploy       sequential reference = one pod at a time in plan
#                             order, each played and waited for before the next
#                             (what a careful shell script does; here
#                             `aegis-deploy redeploy POD` per pod, so both sides
#                             use the same probes and polling) (target >= 1.9)
#   unordered / deploy        unordered reference = every pod played at once
#                             through the API, nothing waited for, then polled
#                             until all are ready: a floor no ordered rollout
#                             can beat (reported, no target)
#   second deploy             nothing changed: time (target <= 0.5 s) and
#                             containers restarted (target 0)
#   teardown / slowest stop   the full profile's teardown against the slowest
#                             single pod's stop and removal (target <= that
#                             + 1 s); its --trace is kept with the deploys
#   validate / slowest check  every HTTP check of the stand-ins answers after a
#                             set latency (0.3-1.0 s per pod), so the slowest
#                             single check is known (target <= 1.1)
#   render, plan              mean time and peak RSS of the full profile's
#                             render and plan (targets <= 20 ms, <= 16 MB),
#                             and as ratios to /bin/true and --version (the
#                             cost of starting a process, and this binary)
# Timing by hyperfine when installed (mean of --runs), else by this script.
# Runs as root against the isolated test Podman of tests/podman/env.sh (never
# the machine's own pods); needs the host ports of the full profile free.
set -euo pipefail
args=("$@")
cd "$(dirname "$0")/.."
ROOT=$(pwd)
runs=3
[ "${1:-}" = --runs ] && runs=$2

BIN=$ROOT/build/aegis-deploy
make -s "$BIN"
# one test or benchmark run at a time on this machine (the lock of `make test`)
# one test or benchmark run at a time (the lock of `make test`), then the
# rest inside a network namespace of its own (scripts/test-netns.sh): the
# stand-ins' 127.0.0.1 host ports never meet those of a platform running on
# this machine, nor leave rules in its firewall
if [ -z "${AEGIS_TEST_NETNS:-}" ]; then
	exec 9>>"${AEGIS_TEST_LOCK:-/tmp/aegis-test-run.lock}"
	flock 9
fi
. scripts/test-netns.sh
in_test_netns bench-deploy "$0" ${args[@]+"${args[@]}"}
unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF
. tests/podman/env.sh
podman_available || { echo "bench: $PODMAN_UNAVAILABLE" >&2; exit 2; }

# Per-pod readiness delay (s) and per-check HTTP latency (s) of the stand-ins.
declare -A delay=([database]=3 [secrets]=2 [observability]=2 [temporal]=3 [iam]=3 [storage]=2
	[core]=2 [seal-gateway]=1 [temporal-worker]=1)
declare -A latency=([database]=0.3 [secrets]=0.5 [observability]=0.4 [temporal]=0.6 [iam]=1.0
	[storage]=0.3 [core]=0.8 [seal-gateway]=0.5 [temporal-worker]=0.4)

work=$(mktemp -d /tmp/aegis-bench-XXXXXX)
sock=$work/podman.sock
podman system service --time=0 "unix://$sock" >"$work/service.log" 2>&1 9>&- &
service_pid=$!
trap 'kill $service_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done

# Two .env files: delayed readiness (deploy) and slow checks (validate).
cp .env.example "$work/.env.example"
(cd "$work" && "$BIN" --root "$ROOT" init >/dev/null)
# the release history, lock and last rollout in the benchmark's own directory,
# never the machine's default state directory
printf 'CONTAINER_SOCK=%s\nAEGIS_STATE_DIR=%s/state\n' "$sock" "$work" >>"$work/.env"
cp "$work/.env" "$work/validate.env"
for pod in "${!delay[@]}"; do
	d=$(standin_variant "bench-ready-$pod" "STANDIN_READY_DELAY=${delay[$pod]}")
	v=$(standin_variant "bench-latency-$pod" "STANDIN_HTTP_LATENCY=${latency[$pod]}")
	for var in $(grep -o '\${[A-Z0-9_]*_IMAGE}' "kube/$pod/pod.yaml" | tr -d '${}' | sort -u); do
		echo "$var=$d" >>"$work/.env"
		echo "$var=$v" >>"$work/validate.env"
	done
done
A() { "$BIN" --root "$ROOT" --env "$work/.env" "$@"; }

# Critical path from the plan's tiers.
A plan --profile full --json >"$work/plan.json"
cp_s=$(/usr/bin/python3 - "$work/plan.json" "$(declare -p delay)" <<'EOF'
import json, sys, re
tiers = json.load(open(sys.argv[1]))["tiers"]
delay = dict(re.findall(r'\[([a-z-]+)\]="?([0-9.]+)"?', sys.argv[2]))
print(sum(max(float(delay[p]) for p in t) for t in tiers))
EOF
)
order=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(p for t in json.load(open(sys.argv[1]))["tiers"] for p in t))' "$work/plan.json")

# Every deploy run and the measured teardown write a trace (Perfetto,
# chrome://tracing); they outlive the run.
traces=$(mktemp -d /tmp/aegis-bench-traces-XXXXXX)
cat >"$work/deploy.sh" <<EOF
n=\$(ls "$traces" | grep -c '^deploy-')
exec "$BIN" --root "$ROOT" --env "$work/.env" -q deploy --no-bootstrap --profile full --timeout 120 --trace "$traces/deploy-\$((n + 1)).json"
EOF
cat >"$work/deploy-untraced.sh" <<EOF
exec "$BIN" --root "$ROOT" --env "$work/.env" -q deploy --no-bootstrap --profile full --timeout 120
EOF
cat >"$work/sequential.sh" <<EOF
set -e
for pod in $order; do "$BIN" --root "$ROOT" --env "$work/.env" -q redeploy --no-bootstrap --profile full --timeout 120 "\$pod"; done
EOF
cat >"$work/teardown.sh" <<EOF
"$BIN" --root "$ROOT" --env "$work/.env" -q teardown --profile full --timeout 2 >/dev/null
EOF
cat >"$work/validate.sh" <<EOF
exec "$BIN" --root "$ROOT" --env "$work/validate.env" -q validate --profile full >/dev/null
EOF

# The unordered reference: render every pod, play them all at once through
# the libpod API (nothing waited for), then poll validate until all pass.
A render --profile full --out "$work/manifests" >/dev/null
cat >"$work/unordered.sh" <<EOF
for f in "$work"/manifests/*.yaml; do
	curl -fsS --unix-socket "$sock" -X POST -H 'Content-Type: application/yaml' --data-binary @"\$f" \\
		"http://d/v4.0.0/libpod/play/kube?network=aegis-network&start=true" >/dev/null &
done
wait
until "$BIN" --root "$ROOT" --env "$work/.env" -q validate --profile full >/dev/null 2>&1; do sleep 0.1; done
EOF

# mean_s NAME PREPARE SCRIPT: mean wall time of SCRIPT over $runs runs.
mean_s() {
	local name=$1 prepare=$2 script=$3
	if command -v hyperfine >/dev/null 2>&1; then
		hyperfine --runs "$runs" --style none ${prepare:+--prepare "bash $prepare"} \
			--export-json "$work/$name.json" "bash $script" >&2
		/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$work/$name.json"
	else
		local total=0 t0 t1
		for _ in $(seq "$runs"); do
			[ -n "$prepare" ] && bash "$prepare"
			t0=$(date +%s.%N); bash "$script" >/dev/null; t1=$(date +%s.%N)
			total=$(/usr/bin/python3 -c "print($total + $t1 - $t0)")
		done
		/usr/bin/python3 -c "print($total / $runs)"
	fi
}

A clean --yes >/dev/null 2>&1 || true
echo "bench: full profile, $runs run(s) each; readiness delays: $(for p in $order; do printf '%s=%ss ' "$p" "${delay[$p]}"; done)" >&2
deploy_s=$(mean_s deploy "$work/teardown.sh" "$work/deploy.sh")
seq_s=$(mean_s sequential "$work/teardown.sh" "$work/sequential.sh")
unordered_s=$(mean_s unordered "$work/teardown.sh" "$work/unordered.sh")

# a second deploy with nothing changed: time and restarted containers
bash "$work/teardown.sh"; bash "$work/deploy-untraced.sh"
ids() { podman ps -a --no-trunc --format '{{.ID}} {{.StartedAt}}' | sort; }
ids >"$work/ids1"
second_s=$(mean_s second "" "$work/deploy-untraced.sh")
ids >"$work/ids2"
restarts=$(comm -3 "$work/ids1" "$work/ids2" | wc -l)

# teardown of the full profile, then the slowest single pod's stop + removal
now() { date +%s.%N; }
t0=$(now)
"$BIN" --root "$ROOT" --env "$work/.env" -q teardown --profile full --timeout 2 --trace "$traces/teardown.json" >/dev/null
teardown_s=$(/usr/bin/python3 -c "print($(now) - $t0)")
bash "$work/deploy-untraced.sh"
slowest_stop_s=0
for pod in $order; do
	t0=$(now)
	podman pod rm -f -t 2 "pod-$pod" >/dev/null 2>&1 || true
	slowest_stop_s=$(/usr/bin/python3 -c "print(max($slowest_stop_s, $(now) - $t0))")
done

# validate: the stack with slow-answering checks, then the slowest single check.
"$BIN" --root "$ROOT" --env "$work/validate.env" -q deploy --no-bootstrap --profile full --timeout 120 >/dev/null
"$BIN" --root "$ROOT" --env "$work/validate.env" validate --profile full --json >"$work/checks.json"
slowest_s=$(/usr/bin/python3 -c 'import json,sys; print(max(c["latency_ms"] for c in json.load(open(sys.argv[1]))["checks"]) / 1000)' "$work/checks.json")
sum_s=$(/usr/bin/python3 -c 'import json,sys; print(sum(c["latency_ms"] for c in json.load(open(sys.argv[1]))["checks"]) / 1000)' "$work/checks.json")
validate_s=$(mean_s validate "" "$work/validate.sh")
A clean --yes >/dev/null 2>&1 || true

# render and plan: mean time and peak RSS
# start-up: without a shell in between (hyperfine -N), against /bin/true and --version
startup_s() {
	if command -v hyperfine >/dev/null 2>&1; then
		hyperfine -N --warmup 3 --runs 30 --style none --export-json "$work/startup.json" "$@" >&2
		/usr/bin/python3 -c 'import json,sys; print(" ".join(str(r["mean"]) for r in json.load(open(sys.argv[1]))["results"]))' "$work/startup.json"
	else
		/usr/bin/python3 - "$@" <<'PY'
import subprocess, sys, time
out = []
for cmd in sys.argv[1:]:
    args = cmd.split()
    for _ in range(3): subprocess.call(args, stdout=subprocess.DEVNULL)
    t0 = time.perf_counter()
    for _ in range(30): subprocess.call(args, stdout=subprocess.DEVNULL)
    out.append(str((time.perf_counter() - t0) / 30))
print(" ".join(out))
PY
	fi
}
read -r true_s version_s render_s plan_s < <(startup_s /bin/true "$BIN --version" \
	"$BIN --root $ROOT --env $work/.env render --profile full" \
	"$BIN --root $ROOT --env $work/.env plan --profile full")
rss_kb() { /usr/bin/python3 -c 'import resource,subprocess,sys; subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"; }
render_rss=$(rss_kb "$BIN" --root "$ROOT" --env "$work/.env" render --profile full)
plan_rss=$(rss_kb "$BIN" --root "$ROOT" --env "$work/.env" plan --profile full)

# Per tier, how long the critical path waited on creation, from the traces
# of the deploy runs: the tier's pod that became ready last, the time from
# its turn (its dependencies ready) to the end of its creation (created
# ahead with its infra container, or the first tier's play and start).
waits=$(/usr/bin/python3 - "$work/plan.json" "$traces" <<'EOF'
import json, sys, glob, collections
tiers = json.load(open(sys.argv[1]))["tiers"]
per_tier = collections.defaultdict(list)
files = sorted(glob.glob(sys.argv[2] + "/deploy-*.json"))
for f in files:
    ev = json.load(open(f))["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    spans = collections.defaultdict(dict)
    for e in ev:
        if e["ph"] == "X" and e["tid"] in names:
            spans[names[e["tid"]]][e["name"]] = (e["ts"] / 1e6, (e["ts"] + e["dur"]) / 1e6)
    for t, pods in enumerate(tiers):
        s = [spans["pod-" + p] for p in pods if "probe until ready" in spans["pod-" + p]]
        if not s: continue
        last = max(s, key=lambda x: x["probe until ready"][1])
        turn = last["wait for dependencies"][1]
        made = last.get("create again (manifest changed)") or last.get("create ahead (infra started)") or last.get("play and start (first tier)")
        per_tier[t].append(max(0.0, made[1] - turn) if made else 0.0)
out = []
for t, pods in enumerate(tiers):
    w = per_tier.get(t, [])
    out.append("tier %d (%s) %.2f s" % (t + 1, " ".join(pods), sum(w) / len(w) if w else 0))
total = sum(sum(w) / len(w) for w in per_tier.values() if w)
print("%.2f|%s|%d" % (total, "; ".join(out), len(files)))
EOF
)

/usr/bin/python3 - "$cp_s" "$deploy_s" "$seq_s" "$slowest_s" "$sum_s" "$validate_s" "$unordered_s" "$second_s" "$restarts" \
	"$teardown_s" "$slowest_stop_s" "$render_s" "$plan_s" "$render_rss" "$plan_rss" "$true_s" "$version_s" "$waits" <<'EOF'
import sys
a = sys.argv[1:]
cp, dep, seq, slow, total, val, unord, second = map(float, a[:8])
restarts = int(a[8])
down, stop, render_s, plan_s = map(float, a[9:13])
render_rss, plan_rss = int(a[13]) / 1024, int(a[14]) / 1024
true_s, version_s = float(a[15]), float(a[16])
wait_total, wait_tiers, ntraces = a[17].split("|")
limit = max(cp, unord)
rows = [
    ("deploy (full profile)", "%.2f s" % dep, "max(CP %.1f s, unordered floor %.2f s) = %.2f s; %.2f x (target <= 1 + 1 s / %.2f s = %.2f)" % (cp, unord, limit, dep / limit, limit, 1 + 1 / limit), dep <= limit + 1),
    ("  creation waits", "%.2f s" % float(wait_total), "on the critical path, mean of %s traced runs: %s" % (ntraces, wait_tiers), None),
    ("sequential reference", "%.2f s" % seq, "deploy is %.2f x faster (target >= 1.9)" % (seq / dep), seq / dep >= 1.9),
    ("unordered reference", "%.2f s" % unord, "deploy takes %.2f x the unordered floor (no target)" % (dep / unord), None),
    ("second deploy", "%.3f s" % second, "nothing changed; %d containers restarted (targets <= 0.5 s, 0)" % restarts, second <= 0.5 and restarts == 0),
    ("teardown (full)", "%.2f s" % down, "slowest single pod stop + removal %.2f s; %.2f x (target <= 1 + 1 s / %.2f s = %.2f)" % (stop, down / stop, stop, 1 + 1 / stop), down <= stop + 1),
    ("validate (18 checks)", "%.3f s" % val, "slowest check %.3f s (all checks %.2f s in sum); %.2f x (target <= 1.1)" % (slow, total, val / slow), val / slow <= 1.1),
    ("render --profile full", "%.1f ms" % (render_s * 1000), "peak RSS %.1f MB (targets <= 20 ms, <= 16 MB); %.1f x /bin/true, %.1f x --version" % (render_rss, render_s / true_s, render_s / version_s), render_s <= 0.020 and render_rss <= 16),
    ("plan --profile full", "%.1f ms" % (plan_s * 1000), "peak RSS %.1f MB (targets <= 20 ms, <= 16 MB); %.1f x /bin/true, %.1f x --version" % (plan_rss, plan_s / true_s, plan_s / version_s), plan_s <= 0.020 and plan_rss <= 16),
    ("/bin/true, --version", "%.1f ms" % (true_s * 1000), "--version %.1f ms: the cost of starting a process, and this binary" % (version_s * 1000), None),
]
for name, t, note, ok in rows:
    print("%-24s %9s   %s  [%s]" % (name, t, note, "-" if ok is None else ("ok" if ok else "MISSED")))
EOF
echo "traces (Perfetto, chrome://tracing): $traces"
