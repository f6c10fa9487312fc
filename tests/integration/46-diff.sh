# diff against real Podman (isolated test Podman, stand-in images, minimal
# profile): right after a deploy nothing differs (exit 0 with --exit-code);
# after changing one template value exactly the pod using it is changed,
# with a unified diff showing the line (exit 3); --json; --against a
# revision; an unreachable Podman is an error (exit 1) and an unknown
# revision a configuration error (exit 2).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(diff-after-deploy-unchanged diff-changed-value diff-json diff-against-revision diff-error-statuses)
require_rootful_podman

podman_test_stack
A() { aegis --env "$ENV" "$@"; }
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }

A clean --yes >/dev/null 2>&1
A deploy --no-bootstrap --profile minimal --timeout 60 >"$TMP/deploy.out" 2>&1; rc=$?
out=$(A diff --profile minimal --exit-code 2>&1); rc2=$?
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && grep -q '0 changed, 0 added, 0 removed, 2 unchanged' <<<"$out"; then
	pass diff-after-deploy-unchanged
else
	fail diff-after-deploy-unchanged "deploy rc=$rc diff rc=$rc2 $out $(tail -3 "$TMP/deploy.out")"
fi

# RUST_LOG is used by the runtime (core) only in this profile.
out=$(RUST_LOG=debug A diff --profile minimal --exit-code 2>&1); rc=$?
if [ $rc -eq 3 ] && grep -q '1 changed, 0 added, 0 removed, 1 unchanged' <<<"$out" &&
	grep -qE '^  changed +core$' <<<"$out" && grep -qE '^  unchanged +secrets$' <<<"$out" &&
	grep -q '^--- a/manifests/core.yaml$' <<<"$out" && grep -q '^-      value: info$' <<<"$out" &&
	grep -q '^+      value: debug$' <<<"$out" && ! grep -q 'manifests/secrets.yaml' <<<"$out"; then
	pass diff-changed-value
else
	fail diff-changed-value "rc=$rc $out"
fi
# without --exit-code a difference is not a failure
RUST_LOG=debug A diff --profile minimal >/dev/null 2>&1; rc0=$?

RUST_LOG=debug A diff --profile minimal --json >"$TMP/diff.json" 2>"$TMP/diff.err"; rc=$?
if [ $rc -eq 0 ] && [ $rc0 -eq 0 ] && json "$TMP/diff.json" '
p = {x["name"]: x for x in d["pods"]}
assert d["against"] == "live" and d["changes"] == 1, d
assert p["core"]["status"] == "changed" and "+      value: debug" in p["core"]["diff"]
assert p["core"]["old_hash"] != p["core"]["new_hash"]
assert p["secrets"]["status"] == "unchanged" and "diff" not in p["secrets"]
'; then
	pass diff-json
else
	fail diff-json "rc=$rc rc0=$rc0 $(head -c 600 "$TMP/diff.json") $(cat "$TMP/diff.err")"
fi

out=$(RUST_LOG=debug A diff --profile minimal --against 1 --exit-code 2>&1); rc=$?
out0=$(A diff --profile minimal --against 1 --exit-code 2>&1); rc0=$?
if [ $rc -eq 3 ] && grep -q 'against revision 1: 1 changed' <<<"$out" && [ $rc0 -eq 0 ]; then
	pass diff-against-revision
else
	fail diff-against-revision "rc=$rc $out / rc0=$rc0 $out0"
fi

# an API socket nobody listens on: an error, not "changes"
"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$TMP/dead.sock"
out=$(CONTAINER_SOCK=$TMP/dead.sock A diff --profile minimal --exit-code 2>&1); rc=$?
out2=$(A diff --profile minimal --against 99 --exit-code 2>&1); rc2=$?
if [ $rc -eq 1 ] && grep -q "$TMP/dead.sock" <<<"$out" && [ $rc2 -eq 2 ] && grep -q 'no revision 99' <<<"$out2"; then
	pass diff-error-statuses
else
	fail diff-error-statuses "rc=$rc $out / rc2=$rc2 $out2"
fi
