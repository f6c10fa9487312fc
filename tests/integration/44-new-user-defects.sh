# What a new user met (issue "unknown variables leak, commands without
# --profile, output that misleads"), each checked as the user saw it:
#   - a variable kube/variables.yaml does not know is a secret: its value is
#     in no output (config, config --json, deploy/redeploy/validate/logs) and
#     in no object of the release history;
#   - one warning per unknown variable (file:line, the replacing or closest
#     declared name) on render, deploy and validate; --strict: exit 2;
#   - redeploy and teardown without --profile record exactly one revision;
#   - diff without --profile compares the profile last deployed;
#   - validate's RESULT column stays aligned whatever the length of a check;
#   - the demo summary shows a TLS port as https:// and an HTTP one as http://.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(unknown-var-warnings unknown-var-strict demo-port-schemes unknown-var-never-shown-or-stored
	redeploy-records-one-revision diff-defaults-to-last-deployed validate-columns-aligned
	validate-warns-unknown teardown-records-one-revision)

canary="zaru-canary-$RANDOM$RANDOM$RANDOM"
pem_canary="pemcanary$RANDOM$RANDOM$RANDOM"
unknown_lines() {
	printf 'DOMAIN_API=api.example.com\nPOSTGRES_PASWORD=typo-%s\n' "$RANDOM"
	printf 'ZARU_LLM_API_KEY=%s\n' "$canary"
	printf 'SEAL_PRIVATE_KEY_PEM="-----BEGIN PRIVATE KEY-----\\n%s\\n-----END PRIVATE KEY-----"\n' "$pem_canary"
}

# --- without Podman: warnings, --strict, the demo's URL schemes ----------------------
{
	printf 'POSTGRES_PASSWORD=p\nKEYCLOAK_ADMIN_PASSWORD=k\nGRAFANA_ADMIN_PASSWORD=g\n'
	unknown_lines
} >"$TMP/plain.env"
aegis --env "$TMP/plain.env" render --profile full >"$TMP/render.out" 2>"$TMP/render.err"; rc=$?
err=$(cat "$TMP/render.err")
if [ $rc -eq 0 ] && [ "$(grep -c 'warning: .*unknown variable' <<<"$err")" -eq 4 ] &&
	grep -q "plain.env:4: unknown variable DOMAIN_API .*EDGE_API_HOST" <<<"$err" &&
	grep -q "plain.env:5: unknown variable POSTGRES_PASWORD .*did you mean POSTGRES_PASSWORD?" <<<"$err" &&
	grep -q "plain.env:6: unknown variable ZARU_LLM_API_KEY" <<<"$err" &&
	grep -q "plain.env:7: unknown variable SEAL_PRIVATE_KEY_PEM" <<<"$err" &&
	! grep -q "$canary\|$pem_canary" "$TMP/render.out" "$TMP/render.err"; then
	pass unknown-var-warnings
else
	fail unknown-var-warnings "rc=$rc $err"
fi
aegis --env "$TMP/plain.env" --strict render --profile full >/dev/null 2>"$TMP/strict.err"; rc=$?
aegis --env "$TMP/plain.env" deploy --strict --profile minimal >/dev/null 2>"$TMP/strict2.err"; rc2=$?
if [ $rc -eq 2 ] && [ $rc2 -eq 2 ] && grep -q "error: 4 unknown variables in .*plain.env (--strict)" "$TMP/strict.err" &&
	grep -q "error: .*plain.env:6: unknown variable ZARU_LLM_API_KEY" "$TMP/strict2.err"; then
	pass unknown-var-strict
else
	fail unknown-var-strict "render rc=$rc deploy rc=$rc2 $(tail -2 "$TMP/strict.err") $(tail -2 "$TMP/strict2.err")"
fi

# a TLS server (any certificate), an HTTP server answering a redirect as the
# edge's port 80 does, and a closed port
openssl req -x509 -newkey ed25519 -nodes -subj /CN=api.aegis.localhost -days 1 \
	-keyout "$TMP/tls.key" -out "$TMP/tls.crt" >/dev/null 2>&1
"$PY" - "$TMP" <<'PY' &
import http.server, os, socket, ssl, sys, threading
tmp = sys.argv[1]
class Redirect(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(308); self.send_header("Location", "https://127.0.0.1/"); self.end_headers()
    def log_message(self, *a): pass
tls = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key"))
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
plain = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
s = socket.socket(); s.bind(("127.0.0.1", 0)); closed = s.getsockname()[1]; s.close()
for srv in (tls, plain):
    threading.Thread(target=srv.serve_forever, daemon=True).start()
with open(os.path.join(tmp, "ports.tmp"), "w") as f:
    f.write("%d %d %d\n" % (tls.server_address[1], plain.server_address[1], closed))
os.rename(os.path.join(tmp, "ports.tmp"), os.path.join(tmp, "ports"))
threading.Event().wait(60)
PY
servers=$!
for _ in $(seq 50); do [ -f "$TMP/ports" ] && break; sleep 0.1; done
read -r tls_port http_port closed_port <"$TMP/ports" 2>/dev/null
out=$(timeout 30 "$PY" "$ROOT/scripts/demo/port-url.py" api.aegis.localhost "${tls_port:-0}" "${http_port:-0}" "${closed_port:-0}" 2>&1)
kill "$servers" 2>/dev/null; wait "$servers" 2>/dev/null
if [ "$out" = "https://127.0.0.1:$tls_port
http://127.0.0.1:$http_port
127.0.0.1:$closed_port" ] && grep -q 'scripts/demo/port-url.py' "$ROOT/scripts/demo.sh"; then
	pass demo-port-schemes
else
	fail demo-port-schemes "ports ${tls_port:-?} ${http_port:-?} ${closed_port:-?}: $out"
fi

# --- real Podman (isolated test Podman, stand-in images) ------------------------------
names=("${names[@]:3}")
[ "$(id -u)" -eq 0 ] || skip_all "needs root for the rootful Podman tests"
podman_available || skip_all "$PODMAN_UNAVAILABLE"
podman_test_stack
unknown_lines >>"$ENV"
A() { aegis --env "$ENV" "$@"; }
revisions() { A history --json 2>/dev/null | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["revisions"]))'; }

A clean --yes >/dev/null 2>&1
A -v deploy --no-bootstrap --profile minimal --timeout 120 >"$TMP/deploy.log" 2>&1; rc=$?
[ $rc -eq 0 ] || fail deploy-minimal "rc=$rc $(tail -5 "$TMP/deploy.log")"

# redeploy without --profile: the pod found deployed, exactly one revision
before=$(revisions)
A -v redeploy core --no-bootstrap --timeout 120 >"$TMP/redeploy.log" 2>&1; rc=$?
after=$(revisions)
if [ $rc -eq 0 ] && [ "$after" -eq $((before + 1)) ] && ! grep -q "no revision recorded" "$TMP/redeploy.log" &&
	A history show 0 source/profiles/deployed.yaml 2>/dev/null | grep -q 'pods: \[core, secrets\]'; then
	pass redeploy-records-one-revision
else
	fail redeploy-records-one-revision "rc=$rc revisions $before -> $after $(tail -3 "$TMP/redeploy.log")"
fi

# diff without --profile: the profile last deployed (minimal), not development
out=$(A diff --exit-code 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q '^profile minimal against the live pods: 0 changed, 0 added, 0 removed, 2 unchanged' <<<"$out"; then
	pass diff-defaults-to-last-deployed
else
	fail diff-defaults-to-last-deployed "rc=$rc $out"
fi

# validate: RESULT where the header says, on every row (the OpenBao check is
# longer than the old fixed column); the full check text in --json
A validate >"$TMP/validate.out" 2>"$TMP/validate.err"
A validate --json >"$TMP/validate.json" 2>/dev/null
if "$PY" - "$TMP/validate.out" "$TMP/validate.json" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]).read().split("\n\n")[0].splitlines() if l]
col = lines[0].index("RESULT")
assert len(lines) > 2, lines
for l in lines[1:]:
    assert l[col:].split(" ")[0] in ("ok", "FAIL", "warn"), (col, l)
checks = [c["check"] for c in json.load(open(sys.argv[2]))["checks"]]
assert max(len(c) for c in checks) > 34 and all(c in open(sys.argv[1]).read() for c in checks), checks
PY
then
	pass validate-columns-aligned
else
	fail validate-columns-aligned "$(cat "$TMP/validate.out")"
fi
if grep -q "warning: .*\.env:[0-9]*: unknown variable ZARU_LLM_API_KEY" "$TMP/validate.err"; then
	pass validate-warns-unknown
else
	fail validate-warns-unknown "$(cat "$TMP/validate.err")"
fi

# teardown without --profile: one revision
before=$(revisions)
A config >"$TMP/config.out" 2>&1
A config --json >"$TMP/config.json" 2>&1
A logs core >"$TMP/logs.out" 2>&1
A teardown >"$TMP/teardown.log" 2>&1; rc=$?
after=$(revisions)
if [ $rc -eq 0 ] && [ "$after" -eq $((before + 1)) ] && ! grep -q "no revision recorded" "$TMP/teardown.log"; then
	pass teardown-records-one-revision
else
	fail teardown-records-one-revision "rc=$rc revisions $before -> $after $(tail -3 "$TMP/teardown.log")"
fi

# the canaries: in no output, no object of the history; config shows them masked
git -C "$AEGIS_STATE_DIR/history" cat-file --batch-all-objects --batch >"$TMP/objects" 2>&1
objects=$(git -C "$AEGIS_STATE_DIR/history" cat-file --batch-all-objects --batch-check 2>/dev/null | wc -l)
leaks=$(grep -l -e "$canary" -e "$pem_canary" "$TMP"/*.log "$TMP"/*.out "$TMP/config.json" "$TMP/objects" \
	"$TMP/validate.json" 2>/dev/null)
if [ -z "$leaks" ] && [ "$objects" -gt 20 ] && grep -q '^ZARU_LLM_API_KEY  *\*\*\*\*\*\*\*\*' "$TMP/config.out" &&
	grep -q '<secret:ZARU_LLM_API_KEY:hmac-sha256:' "$TMP/objects" &&
	"$PY" -c '
import json, sys
v = {x["name"]: x for x in json.load(open(sys.argv[1]))["variables"]}
assert v["ZARU_LLM_API_KEY"]["secret"] and v["ZARU_LLM_API_KEY"]["value"] == "********"
assert v["SEAL_PRIVATE_KEY_PEM"]["value"] == "********"
assert v["DOMAIN_API"]["value"] == "api.example.com" and not v["DOMAIN_API"]["secret"]' "$TMP/config.json"; then
	pass unknown-var-never-shown-or-stored
else
	fail unknown-var-never-shown-or-stored "leaks in: ${leaks:-none}; $objects objects; $(grep -E 'ZARU|SEAL_PRIVATE' "$TMP/config.out")"
fi
