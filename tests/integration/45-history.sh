# The release history against real Podman (isolated test Podman, stand-in
# images, minimal profile): three deploys with a changed value between them
# give three revisions with the right pods replaced and kept; `history
# --json` lists them; `git log` on the repository shows them; no object of
# the repository holds a secret value of the .env; the source commit is the
# checkout's, marked -dirty once a tracked file changes; the CI job is a
# trailer; rollback to revision 1 puts back core's manifest of revision 1
# and keeps the other pod's containers; rollback without a revision goes to
# the last successful one before it; deploy --atomic of a change that makes
# one pod's probe fail restores that pod (ready, validate passes), leaves the
# other pod's containers alone and exits 1 saying both; without --atomic the
# failed pod is left as it is; teardown records a revision too; two deploys
# at once give two revisions in order.  The checkout is a copy of kube/ and
# profiles/ committed to a git repository of the test's own.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(history-three-deploys history-json-lists history-git-log history-no-secret-in-repo
	history-source-commit history-dirty-marked history-ci-trailer history-show rollback-to-revision
	rollback-default atomic-restores-replaced atomic-keeps-untouched without-atomic-left history-teardown
	history-overlap-in-order)
require_rootful_podman

CHECKOUT=$TMP/checkout
mkdir -p "$CHECKOUT"
cp -r "$ROOT/kube" "$ROOT/profiles" "$ROOT/.env.example" "$CHECKOUT/"
g() { git -C "$CHECKOUT" -c user.name=test -c user.email=test@localhost "$@"; }
g init -q && g add -A && g commit -qm "templates" || { for n in "${names[@]}"; do fail "$n" "cannot make the test checkout"; done; exit 0; }
HEAD_SHA=$(g rev-parse HEAD)
podman_test_stack "$CHECKOUT"
A() { "$AEGIS_BIN" --root "$CHECKOUT" --env "$ENV" "$@"; }
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }
REPO=$AEGIS_STATE_DIR/history
unset CI_JOB_URL CI_PIPELINE_ID GITHUB_RUN_ID GITHUB_REPOSITORY BUILD_URL

A clean --yes >/dev/null 2>&1
# 1: everything played; 2: RUST_LOG (used by core only in this profile)
# replaces core and keeps secrets; 3: nothing changed, from a dirty checkout
# and a CI job.
A deploy --no-bootstrap --profile minimal --timeout 60 >"$TMP/d1.out" 2>&1; rc1=$?
RUST_LOG=debug A deploy --no-bootstrap --profile minimal --timeout 60 >"$TMP/d2.out" 2>&1; rc2=$?
echo "# a local change" >>"$CHECKOUT/profiles/minimal.yaml"
CI_JOB_URL=http://127.0.0.1/ci/jobs/42 CI_PIPELINE_ID=7 RUST_LOG=debug \
	A deploy --no-bootstrap --profile minimal --timeout 60 >"$TMP/d3.out" 2>&1; rc3=$?

A history --json >"$TMP/history.json" 2>"$TMP/history.err"; rc=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ $rc3 -eq 0 ] && json "$TMP/history.json" '
r = d["revisions"]
assert [x["revision"] for x in r] == [1, 2, 3], r
assert all(x["command"] == "deploy" and x["result"] == "ok" and x["profile"] == "minimal" for x in r)
assert sorted(r[0]["replaced"]) == ["core", "secrets"] and r[0]["kept"] == [], r[0]
assert r[1]["replaced"] == ["core"] and r[1]["kept"] == ["secrets"], r[1]
assert r[2]["replaced"] == [] and sorted(r[2]["kept"]) == ["core", "secrets"], r[2]
'; then
	pass history-three-deploys
else
	fail history-three-deploys "rc=$rc1/$rc2/$rc3 $(tail -3 "$TMP/d1.out") $(cat "$TMP/history.err") $(head -c 600 "$TMP/history.json")"
fi
if [ $rc -eq 0 ] && json "$TMP/history.json" "assert d['repository'] == '$REPO' and all('time' in x and 'commit' in x and 'duration_s' in x for x in d['revisions'])"; then
	pass history-json-lists
else
	fail history-json-lists "rc=$rc $(head -c 400 "$TMP/history.json")"
fi

# The ordinary git command reads it.
log=$(git -C "$REPO" log --format='%s' 2>&1)
if [ "$(wc -l <<<"$log")" = 3 ] && grep -q '^deploy minimal: ok, 2 replaced, 0 kept, 0 failed, ' <<<"$(sed -n 3p <<<"$log")" &&
	grep -q '^deploy minimal: ok, 1 replaced, 1 kept, 0 failed, ' <<<"$(sed -n 2p <<<"$log")" &&
	grep -q '^deploy minimal: ok, 0 replaced, 2 kept, 0 failed, ' <<<"$(sed -n 1p <<<"$log")"; then
	pass history-git-log
else
	fail history-git-log "$log"
fi

# Every blob, tree and commit of the repository against every secret of the .env.
secrets=$(A config --json | "$PY" -c 'import json,sys; print("\n".join(v["name"] for v in json.load(sys.stdin)["variables"] if v.get("secret")))' 2>/dev/null)
git -C "$REPO" cat-file --batch-all-objects --batch >"$TMP/objects" 2>&1
nobj=$(git -C "$REPO" cat-file --batch-all-objects --batch-check | wc -l)
leaks= checked=0
for name in $secrets; do
	value=$(grep "^$name=" "$ENV" | tail -1 | cut -d= -f2-)
	[ -n "$value" ] || continue
	checked=$((checked + 1))
	grep -qF -- "$value" "$TMP/objects" && leaks="$leaks $name"
done
placeholders=$(grep -c '<secret:POSTGRES_PASSWORD:hmac-sha256:[0-9a-f]\{8\}>' "$TMP/objects")
if [ "$nobj" -gt 30 ] && [ "$checked" -ge 3 ] && [ -z "$leaks" ] && [ "$placeholders" -gt 0 ]; then
	pass history-no-secret-in-repo
else
	fail history-no-secret-in-repo "objects=$nobj secrets checked=$checked leaked:$leaks placeholders=$placeholders"
fi

if json "$TMP/history.json" "r=d['revisions']; assert r[0]['source']['commit'] == '$HEAD_SHA' and r[1]['source']['commit'] == '$HEAD_SHA', r"; then
	pass history-source-commit
else
	fail history-source-commit "head $HEAD_SHA: $(head -c 600 "$TMP/history.json")"
fi
msg3=$(git -C "$REPO" log -1 --format=%B)
if json "$TMP/history.json" "assert d['revisions'][2]['source']['commit'] == '$HEAD_SHA-dirty'" &&
	grep -q "^Source-Commit: $HEAD_SHA-dirty$" <<<"$msg3"; then
	pass history-dirty-marked
else
	fail history-dirty-marked "$msg3"
fi
if grep -q '^CI-Job: http://127.0.0.1/ci/jobs/42$' <<<"$msg3" && grep -q '^CI-Pipeline: 7$' <<<"$msg3" &&
	! git -C "$REPO" log -1 --skip=1 --format=%B | grep -q '^CI-Job'; then
	pass history-ci-trailer
else
	fail history-ci-trailer "$msg3"
fi

out=$(A history show 2 2>&1); rc=$?
core=$(A history show 2 manifests/core.yaml 2>&1)
A history show 9 >/dev/null 2>&1; rc9=$?
if [ $rc -eq 0 ] && grep -q '^revision 2 ' <<<"$out" && grep -q 'manifests/core.yaml' <<<"$out" &&
	grep -q 'Pods replaced: core' <<<"$out" && grep -q 'RUST_LOG' <<<"$core" && grep -q 'debug' <<<"$core" &&
	[ $rc9 -eq 2 ]; then
	pass history-show
else
	fail history-show "rc=$rc $out"
fi

# --- rollback ------------------------------------------------------------------
ids() { podman ps -a --no-trunc --filter "pod=pod-$1" --format '{{.Names}} {{.ID}}' | sort; }
label() { podman pod inspect --format '{{index .Labels "aegis.io/manifest-hash"}}' "pod-$1" 2>/dev/null; }
ids secrets >"$TMP/secrets.before"
A rollback 1 --no-bootstrap --timeout 60 >"$TMP/rb1.out" 2>&1; rc=$?
ids secrets >"$TMP/secrets.after"
A history --json >"$TMP/history.json" 2>/dev/null
want=$(json "$TMP/history.json" 'print(d["revisions"][0]["pods"]["core"]["manifest_hash"])')
got=$(label core)
if [ $rc -eq 0 ] && [ -n "$want" ] && [ "$got" = "$want" ] && cmp -s "$TMP/secrets.before" "$TMP/secrets.after" &&
	[ -s "$TMP/secrets.before" ] && json "$TMP/history.json" '
r = d["revisions"][-1]
assert r["revision"] == 4 and r["command"] == "rollback" and r["rollback_of"] == 1 and r["result"] == "ok", r
assert r["replaced"] == ["core"] and r["kept"] == ["secrets"], r
assert r["source"]["commit"] == d["revisions"][0]["source"]["commit"], r
'; then
	pass rollback-to-revision
else
	fail rollback-to-revision "rc=$rc core label $got, revision 1 had $want; $(diff "$TMP/secrets.before" "$TMP/secrets.after" | head -3) $(tail -5 "$TMP/rb1.out")"
fi
# the last successful revision before 4 is 3 (RUST_LOG=debug)
A rollback --no-bootstrap --timeout 60 >"$TMP/rb2.out" 2>&1; rc=$?
A history --json >"$TMP/history.json" 2>/dev/null
want=$(json "$TMP/history.json" 'print(d["revisions"][2]["pods"]["core"]["manifest_hash"])')
if [ $rc -eq 0 ] && [ "$(label core)" = "$want" ] &&
	json "$TMP/history.json" 'r=d["revisions"][-1]; assert r["revision"]==5 and r["rollback_of"]==3 and r["replaced"]==["core"], r'; then
	pass rollback-default
else
	fail rollback-default "rc=$rc core label $(label core), revision 3 had $want; $(tail -5 "$TMP/rb2.out")"
fi

# --- deploy --atomic ---------------------------------------------------------------
broken=$(standin_variant never-ready STANDIN_FAIL=1)
good_secrets=$(json "$TMP/history.json" 'print(d["revisions"][-1]["pods"]["secrets"]["manifest_hash"])')
ids core >"$TMP/core.before"
OPENBAO_IMAGE=$broken RUST_LOG=debug A deploy --no-bootstrap --profile minimal --atomic --timeout 4 >"$TMP/atomic.out" 2>&1; rc=$?
ids core >"$TMP/core.after"
A validate --profile minimal >"$TMP/validate.out" 2>&1; vrc=$?
A history --json >"$TMP/history.json" 2>/dev/null
if [ $rc -eq 1 ] && grep -q 'pod secrets (pod-secrets) failed' "$TMP/atomic.out" &&
	grep -q -- '--atomic: restored secrets to revision 5, ready in' "$TMP/atomic.out" &&
	[ "$(label secrets)" = "$good_secrets" ] && [ $vrc -eq 0 ] && json "$TMP/history.json" '
r = d["revisions"][-1]
assert r["revision"] == 6 and r["result"] == "failed" and r["failed"] == ["secrets"], r
assert r["restore"]["result"] == "ok" and r["restore"]["revision"] == 5 and r["restore"]["pods"] == ["secrets"], r
'; then
	pass atomic-restores-replaced
else
	fail atomic-restores-replaced "rc=$rc validate rc=$vrc secrets label $(label secrets) want $good_secrets; $(tail -8 "$TMP/atomic.out")"
fi
if [ -s "$TMP/core.before" ] && cmp -s "$TMP/core.before" "$TMP/core.after"; then
	pass atomic-keeps-untouched
else
	fail atomic-keeps-untouched "$(diff "$TMP/core.before" "$TMP/core.after" | head -4)"
fi
OPENBAO_IMAGE=$broken RUST_LOG=debug A deploy --no-bootstrap --profile minimal --timeout 4 >"$TMP/broken.out" 2>&1; rc=$?
if [ $rc -eq 1 ] && [ "$(label secrets)" != "$good_secrets" ] && ! grep -q -- '--atomic' "$TMP/broken.out"; then
	pass without-atomic-left
else
	fail without-atomic-left "rc=$rc secrets label $(label secrets) $(tail -3 "$TMP/broken.out")"
fi

A teardown --profile minimal --timeout 5 >"$TMP/teardown.out" 2>&1; rc=$?
A history --json >"$TMP/history2.json" 2>/dev/null
if [ $rc -eq 0 ] && json "$TMP/history2.json" 'r=d["revisions"][-1]; assert r["revision"]==8 and r["command"]=="teardown" and sorted(r["removed"])==["core","secrets"], r'; then
	pass history-teardown
else
	fail history-teardown "rc=$rc $(tail -3 "$TMP/teardown.out") $(head -c 300 "$TMP/history2.json")"
fi

# --- two pipelines at once ------------------------------------------------------------
# The lock orders them: two revisions in sequence; the first plays both pods
# (after the teardown), the second finds nothing left to change.
A deploy --no-bootstrap --profile minimal --timeout 60 >"$TMP/p1.out" 2>&1 &
p1=$!
A deploy --no-bootstrap --profile minimal --timeout 60 >"$TMP/p2.out" 2>&1 &
p2=$!
wait $p1; rc1=$?
wait $p2; rc2=$?
A history --json >"$TMP/history3.json" 2>/dev/null
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && json "$TMP/history3.json" '
r = d["revisions"][-2:]
assert [x["revision"] for x in r] == [9, 10], r
assert sorted(r[0]["replaced"]) == ["core", "secrets"] and r[0]["kept"] == [], r[0]
assert r[1]["replaced"] == [] and sorted(r[1]["kept"]) == ["core", "secrets"], r[1]
assert r[0]["time"] <= r[1]["time"]
'; then
	pass history-overlap-in-order
else
	fail history-overlap-in-order "rc=$rc1/$rc2 $(tail -2 "$TMP/p1.out") $(tail -2 "$TMP/p2.out")"
fi
