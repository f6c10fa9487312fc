#!/usr/bin/env bash
# No secret leaks while the whole platform is deployed and bootstrapped: the
# demo (full profile, OpenBao and Keycloak bootstrapped) runs while every
# process's arguments are sampled; then deploy, validate, status and both
# bootstrap commands run again at every verbosity.  Every secret value of the
# demo's .env and of everything bootstrap wrote (generated/: unseal keys, root
# token, AppRole credentials, client secrets, passwords, the SEAL private key)
# must be absent from every sampled argv, from all output, and from every file
# of the run that group or others can read.
# test-images: demo
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(secret-scan-demo-up secret-scan-argv secret-scan-output secret-scan-readable-files secret-scan-generated-modes)
require_rootful_podman
export AEGIS_DEMO_DIR=$TMP/demo CONTAINER_SOCK=$TMP/podman.sock
demo() { bash "$ROOT/scripts/demo.sh" "$@"; }
sampler_pid=
trap '[ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null; demo down >/dev/null 2>&1; rm -rf "$TMP"' EXIT

# Every distinct argv seen on the machine, sampled every few milliseconds
# until SIGTERM (0600: it may hold a leak).
( umask 077; : >"$TMP/argv.txt" )
"$PY" - "$TMP/argv.txt" <<'PYEOF' &
import os, signal, sys, time
seen = set()
def dump(*_):
    with open(sys.argv[1], "w") as f:
        for a in sorted(seen):
            f.write(a + "\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, dump)
while True:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                a = f.read()
        except OSError:
            continue
        if a:
            seen.add(a.replace(b"\0", b" ").decode("utf-8", "replace"))
    time.sleep(0.005)
PYEOF
sampler_pid=$!

demo up >"$TMP/out.txt" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -Eq '([0-9]+) of \1 checks passed' "$TMP/out.txt"; then
	pass secret-scan-demo-up
else
	fail secret-scan-demo-up "rc=$rc $(tail -15 "$TMP/out.txt")"
fi
ENV=$AEGIS_DEMO_DIR/demo.env
for v in -q "" -v -vv; do
	for cmd in "deploy --profile full" "validate --profile full" "status --profile full" "bootstrap-secrets" "bootstrap-keycloak"; do
		# shellcheck disable=SC2086
		aegis --env "$ENV" $v $cmd >>"$TMP/out.txt" 2>&1
	done
done
# a pod replaced and bootstrapped again (OpenBao restarts sealed: unseal)
aegis --env "$ENV" -vv redeploy secrets >>"$TMP/out.txt" 2>&1
kill "$sampler_pid"; wait "$sampler_pid" 2>/dev/null; sampler_pid=

# The secrets: every secret variable of the demo .env (per the schema), and
# every value in the files bootstrap and generate-keys wrote.
( umask 077; : >"$TMP/secrets.txt" )
"$PY" - "$ROOT/kube/variables.yaml" "$ENV" "$AEGIS_DEMO_DIR/generated" >"$TMP/secrets.txt" <<'PYEOF'
import json, os, re, sys, yaml
schema = yaml.safe_load(open(sys.argv[1]))["variables"]
secret_names = {v["name"] for v in schema if v.get("secret")}
found = set()
for line in open(sys.argv[2]):
    m = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line.rstrip("\n"))
    if m and m.group(1) in secret_names:
        val = m.group(2).strip()
        if len(val) >= 2 and val[0] == val[-1] and val[0] in "'\"":
            val = val[1:-1]
        found.add(val)
def walk(x):
    if isinstance(x, str):
        found.add(x)
    elif isinstance(x, dict):
        for k, v in x.items():
            if not re.search(r"(shares|threshold|type|version|url|addr|name|realm|policies|path)$", k, re.I):
                walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
for d, _, files in os.walk(sys.argv[3]):
    for fn in files:
        text = open(os.path.join(d, fn), errors="replace").read()
        try:
            walk(json.loads(text))
            continue
        except ValueError:
            pass
        if "PRIVATE KEY" in text:
            found.add("".join(l for l in text.splitlines() if not l.startswith("-----"))[:40])
            continue
        if "PUBLIC KEY" in text or "BEGIN CERTIFICATE" in text:
            continue  # public by design (the SEAL public key, the edge's CA)
        for line in text.splitlines():
            found.add(line.split("=", 1)[-1].split(":", 1)[-1].strip())
for s in sorted(v for v in found if len(v) >= 8):
    print(s)
PYEOF
nsecrets=$(wc -l <"$TMP/secrets.txt")
echo "   $nsecrets secret values; $(wc -l <"$TMP/argv.txt") distinct argv sampled; $(wc -l <"$TMP/out.txt") output lines"

# leaks FILE...: the secrets found in the files (by line number of secrets.txt)
leaks() { grep -F -o -f "$TMP/secrets.txt" "$@" 2>/dev/null | sort -u | sed 's/^\(....\).*/\1…/'; }

if [ "$nsecrets" -lt 10 ]; then
	fail secret-scan-argv "only $nsecrets secret values found: the scan would prove nothing"
else
	l=$(leaks "$TMP/argv.txt")
	[ -z "$l" ] && [ -s "$TMP/argv.txt" ] && pass secret-scan-argv || fail secret-scan-argv "in process arguments: $l"
fi
l=$(leaks "$TMP/out.txt")
[ -z "$l" ] && pass secret-scan-output || fail secret-scan-output "in output: $l"

# every file of this run readable by group or others (the demo directory, the
# test directory, the tool's temporary directories)
readable=$({
	find "$TMP" -type f -perm /077
	find /tmp -maxdepth 2 -path '/tmp/aegis-podman-*' -type f -perm /077
} 2>/dev/null | grep -v "^$TMP/\(secrets\|argv\|out\)\.txt$")
bad=
for f in $readable; do
	[ -r "$f" ] || continue
	l=$(leaks "$f")
	[ -n "$l" ] && bad="$bad $f($l)"
done
[ -z "$bad" ] && pass secret-scan-readable-files || fail secret-scan-readable-files "$bad"

modes=$(find "$AEGIS_DEMO_DIR" \( -type f ! -perm 0600 ! -name '*.pub' ! -name '*.pem' \) -o \( -type d ! -perm 0700 \) -printf '%m %p\n' 2>/dev/null)
[ -z "$modes" ] && pass secret-scan-generated-modes || fail secret-scan-generated-modes "$modes"
