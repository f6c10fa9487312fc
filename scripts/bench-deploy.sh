#!/usr/bin/env bash
# Benchmark: deploy and validate of the full profile against real Podman, with
# stand-in images whose readiness is delayed by set amounts per pod.
#
#   scripts/bench-deploy.sh [--runs N]
#
# Reports, from one run of this script:
#   deploy / critical path    critical path = sum over tiers of the slowest
#                             pod's ready delay (target <= 1.10 x CP + 1 s)
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
#                             single pod's stop and removal
#   validate / slowest check  every HTTP check of the stand-ins answers after a
#                             set latency (0.3-1.0 s per pod), so the slowest
#                             single check is known (target <= 1.1)
#   render, plan              mean time and peak RSS of the full profile's
#                             render and plan (targets <= 20 ms, <= 16 MB)
# Timing by hyperfine when installed (mean of --runs), else by this script.
# Runs as root against the isolated test Podman of tests/podman/env.sh (never
# the machine's own pods); needs the host ports of the full profile free.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
runs=3
[ "${1:-}" = --runs ] && runs=$2

BIN=$ROOT/build/aegis-deploy
make -s "$BIN"
# one test or benchmark run at a time on this machine (the lock of `make test`)
exec 9>>"${AEGIS_TEST_LOCK:-/tmp/aegis-test-run.lock}"
flock 9
unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF
. tests/podman/env.sh
podman_available || { echo "bench: $PODMAN_UNAVAILABLE" >&2; exit 2; }

# Per-pod readiness delay (s) and per-check HTTP latency (s) of the stand-ins.
declare -A delay=([database]=3 [secrets]=2 [observability]=2 [temporal]=3 [iam]=3 [storage]=2
	[core]=2 [seal-gateway]=1)
declare -A latency=([database]=0.3 [secrets]=0.5 [observability]=0.4 [temporal]=0.6 [iam]=1.0
	[storage]=0.3 [core]=0.8 [seal-gateway]=0.5)

work=$(mktemp -d /tmp/aegis-bench-XXXXXX)
sock=$work/podman.sock
podman system service --time=0 "unix://$sock" >"$work/service.log" 2>&1 9>&- &
service_pid=$!
trap 'kill $service_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done

# Two .env files: delayed readiness (deploy) and slow checks (validate).
cp .env.example "$work/.env.example"
(cd "$work" && "$BIN" --root "$ROOT" init >/dev/null)
echo "CONTAINER_SOCK=$sock" >>"$work/.env"
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

cat >"$work/deploy.sh" <<EOF
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
bash "$work/teardown.sh"; bash "$work/deploy.sh"
ids() { podman ps -a --no-trunc --format '{{.ID}} {{.StartedAt}}' | sort; }
ids >"$work/ids1"
second_s=$(mean_s second "" "$work/deploy.sh")
ids >"$work/ids2"
restarts=$(comm -3 "$work/ids1" "$work/ids2" | wc -l)

# teardown of the full profile, then the slowest single pod's stop + removal
now() { date +%s.%N; }
t0=$(now); bash "$work/teardown.sh"; teardown_s=$(/usr/bin/python3 -c "print($(now) - $t0)")
bash "$work/deploy.sh"
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
cat >"$work/render.sh" <<EOF
exec "$BIN" --root "$ROOT" --env "$work/.env" render --profile full >/dev/null
EOF
cat >"$work/plan.sh" <<EOF
exec "$BIN" --root "$ROOT" --env "$work/.env" plan --profile full >/dev/null
EOF
render_s=$(runs=30 mean_s render "" "$work/render.sh")
plan_s=$(runs=30 mean_s plan "" "$work/plan.sh")
rss_kb() { /usr/bin/python3 -c 'import resource,subprocess,sys; subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"; }
render_rss=$(rss_kb "$BIN" --root "$ROOT" --env "$work/.env" render --profile full)
plan_rss=$(rss_kb "$BIN" --root "$ROOT" --env "$work/.env" plan --profile full)

/usr/bin/python3 - "$cp_s" "$deploy_s" "$seq_s" "$slowest_s" "$sum_s" "$validate_s" "$unordered_s" "$second_s" "$restarts" \
	"$teardown_s" "$slowest_stop_s" "$render_s" "$plan_s" "$render_rss" "$plan_rss" <<'EOF'
import sys
a = sys.argv[1:]
cp, dep, seq, slow, total, val, unord, second = map(float, a[:8])
restarts = int(a[8])
down, stop, render_s, plan_s = map(float, a[9:13])
render_rss, plan_rss = int(a[13]) / 1024, int(a[14]) / 1024
budget = 1.10 * cp + 1
rows = [
    ("deploy (full profile)", "%.2f s" % dep, "critical path %.1f s; %.2f x CP; budget 1.10 x CP + 1 s = %.2f s" % (cp, dep / cp, budget), dep <= budget),
    ("sequential reference", "%.2f s" % seq, "deploy is %.2f x faster (target >= 1.9)" % (seq / dep), seq / dep >= 1.9),
    ("unordered reference", "%.2f s" % unord, "deploy takes %.2f x the unordered floor (no target)" % (dep / unord), None),
    ("second deploy", "%.3f s" % second, "nothing changed; %d containers restarted (targets <= 0.5 s, 0)" % restarts, second <= 0.5 and restarts == 0),
    ("teardown (full)", "%.2f s" % down, "slowest single pod stop + removal %.2f s; %.2f x" % (stop, down / stop), None),
    ("validate (18 checks)", "%.3f s" % val, "slowest check %.3f s (all checks %.2f s in sum); %.2f x (target <= 1.1)" % (slow, total, val / slow), val / slow <= 1.1),
    ("render --profile full", "%.1f ms" % (render_s * 1000), "peak RSS %.1f MB (targets <= 20 ms, <= 16 MB)" % render_rss, render_s <= 0.020 and render_rss <= 16),
    ("plan --profile full", "%.1f ms" % (plan_s * 1000), "peak RSS %.1f MB (targets <= 20 ms, <= 16 MB)" % plan_rss, plan_s <= 0.020 and plan_rss <= 16),
]
for name, t, note, ok in rows:
    print("%-24s %9s   %s  [%s]" % (name, t, note, "-" if ok is None else ("ok" if ok else "MISSED")))
EOF
