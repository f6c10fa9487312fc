# validate --junit against real Podman (isolated test Podman, stand-in
# images, minimal profile): the file is valid XML (Python's xml.etree) with
# one test case per check of `validate --json` (the containers' checks and
# the platform rows: pod-core's SEAL key) and a failure, carrying the
# detail, exactly where a check failed; it is replaced atomically, never
# written through a symlink.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(junit-all-pass junit-failure-detail junit-refuses-symlink)
require_rootful_podman

podman_test_stack
A() { aegis --env "$ENV" "$@"; }

# compare REPORT.xml with VALIDATE.json: one case per check, failures where failed
junit_py='
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
report = json.load(open(sys.argv[2]))
checks = report["checks"] + [
    {"pod": r["pod"], "container": r["kind"], "check": r["check"], "ok": r["ok"],
     "detail": r["detail"] or "failed"} for r in report["platform"]]
assert any(r["kind"] == "seal-key" for r in report["platform"]), report["platform"]
cases = root.findall("./testsuite/testcase")
assert root.tag == "testsuites" and len(cases) == len(checks) > 0, (len(cases), len(checks))
suite = root.find("testsuite")
assert int(suite.get("tests")) == len(checks)
assert int(suite.get("failures")) == sum(not c["ok"] for c in checks)
for case, c in zip(cases, checks):
    assert case.get("classname") == "minimal." + c["pod"], case.get("classname")
    assert case.get("name") == c["container"] + ": " + c["check"], case.get("name")
    f = case.find("failure")
    if c["ok"]:
        assert f is None, c
    else:
        assert f is not None and f.get("message") == c["detail"] and f.text == c["detail"], (c, f)
print(len(cases), "cases,", suite.get("failures"), "failures")
'

A clean --yes >/dev/null 2>&1
A deploy --no-bootstrap --profile minimal --timeout 60 >"$TMP/deploy.out" 2>&1; rc=$?
A validate --profile minimal --junit "$TMP/report.xml" >/dev/null 2>"$TMP/v.err"; rc1=$?
A validate --profile minimal --json >"$TMP/validate.json" 2>/dev/null
if [ $rc -eq 0 ] && [ $rc1 -eq 0 ] && out=$("$PY" -c "$junit_py" "$TMP/report.xml" "$TMP/validate.json" 2>&1) &&
	grep -q ' 0 failures' <<<"$out"; then
	pass junit-all-pass
else
	fail junit-all-pass "rc=$rc/$rc1 $out $(cat "$TMP/v.err") $(tail -3 "$TMP/deploy.out")"
fi

# a stopped container: its check fails, the others pass
podman stop -t 1 pod-secrets-openbao >/dev/null 2>&1
A validate --profile minimal --junit "$TMP/report.xml" >/dev/null 2>&1; rc=$?
A validate --profile minimal --json >"$TMP/validate.json" 2>/dev/null
if [ $rc -eq 1 ] && out=$("$PY" -c "$junit_py" "$TMP/report.xml" "$TMP/validate.json" 2>&1) &&
	grep -q ' 1 failures' <<<"$out" && [ "$(ls "$TMP" | grep -c 'report.xml')" = 1 ]; then
	pass junit-failure-detail
else
	fail junit-failure-detail "rc=$rc $out"
fi

ln -s "$TMP/elsewhere.xml" "$TMP/link.xml"
out=$(A validate --profile minimal --junit "$TMP/link.xml" 2>&1); rc=$?
if [ $rc -eq 1 ] && [ ! -e "$TMP/elsewhere.xml" ] && grep -q 'link.xml' <<<"$out"; then
	pass junit-refuses-symlink
else
	fail junit-refuses-symlink "rc=$rc $out"
fi
