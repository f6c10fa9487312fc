#!/usr/bin/env bash
# render --target kubernetes, validated without a cluster: every object
# against the Kubernetes OpenAPI schema (kubernetes-models, installed by
# scripts/setup.sh into tests/kubernetes/node_modules), the cross references
# of the kustomization, the secrets scan, the environment each container
# would get compared with what Podman gets, and the init containers' wait
# script run with busybox against servers on 127.0.0.1.  No Podman needed.
. "$(dirname "$0")/lib.sh"

K8S=$TMP/k8s
VALIDATOR=$ROOT/tests/kubernetes/validate.mjs
cd "$TMP"
aegis --env "$TMP/.env" init >/dev/null 2>&1 || fail "k8s-setup" "init failed"
# Secrets the generated .env leaves empty, set through the environment
# (which overrides .env): values Kubernetes would mangle if not escaped.
export OPENBAO_ROLE_ID='role-$(HOME)-$$-end'
export OPENBAO_SECRET_ID='secret id: with "quotes" #and $(PATH)'
export OPENAI_API_KEY='sk-test-0123456789abcdef'
# embedded in connection URLs, and a plain value with Kubernetes' own syntax
export POSTGRES_PASSWORD='pg-$(HOME)-$$-0123456789'
export KEYCLOAK_ADMIN='admin-$(HOME)-$$'

# the SEAL keys (the runtime's RSA key is a value read from its file) in a
# directory of this test
echo "SEAL_KEYS_DIR=$TMP/seal" >>"$TMP/.env"
aegis --env "$TMP/.env" generate-keys >/dev/null 2>&1
aegis --env "$TMP/.env" --profile full render --target kubernetes --out "$K8S" >"$TMP/render.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ -f "$K8S/kustomization.yaml" ]; then pass "k8s-render-full"; else fail "k8s-render-full" "rc=$rc $(cat "$TMP/render.out")"; fi

aegis --env "$TMP/.env" --profile minimal render --target kubernetes --namespace aegis-min --out "$TMP/minimal" >/dev/null 2>&1 ||
	fail "k8s-render-minimal"

# --- files: the directory 0700, the Secret 0600, the rest 0644 ---------------------
modes=$(stat -c '%a' "$K8S"; stat -c '%a %n' "$K8S"/*.yaml | sed "s|$K8S/||")
if grep -qx 700 <<<"$modes" && grep -qx '600 secret-aegis-secrets.yaml' <<<"$modes" &&
	[ "$(grep -c '^644 ' <<<"$modes")" -eq $(( $(ls "$K8S" | wc -l) - 1 )) ]; then
	pass "k8s-output-modes"
else
	fail "k8s-output-modes" "$modes"
fi
kinds=$(grep -h '^kind:' "$K8S"/*.yaml | sort | uniq -c | tr -s ' ' | tr '\n' ';')
if grep -q ' 1 kind: StatefulSet;' <<<"$kinds" && grep -q ' 8 kind: Deployment;' <<<"$kinds" &&
	grep -q ' 9 kind: Service;' <<<"$kinds" && grep -q ' 1 kind: Secret;' <<<"$kinds" &&
	grep -q ' 1 kind: Namespace;' <<<"$kinds" && grep -q ' 11 kind: PersistentVolumeClaim;' <<<"$kinds" &&
	! grep -q 'kind: Pod;' <<<"$kinds" && ! grep -rq hostPort "$K8S"; then
	pass "k8s-objects-per-pod"
else
	fail "k8s-objects-per-pod" "$kinds"
fi

# --- secrets scan: no secret value outside the Secret file -------------------------
secret_values=(
	"$POSTGRES_PASSWORD"
	"$(grep '^KEYCLOAK_ADMIN_PASSWORD=' "$TMP/.env" | cut -d= -f2-)"
	"$(grep '^GRAFANA_ADMIN_PASSWORD=' "$TMP/.env" | cut -d= -f2-)"
	"$OPENBAO_ROLE_ID" "$OPENBAO_SECRET_ID" "$OPENAI_API_KEY"
)
leaks=""
for v in "${secret_values[@]}"; do
	[ ${#v} -ge 8 ] || { leaks+=" (a secret of the test is empty)"; continue; }
	found=$(grep -rlF -- "$v" "$K8S" "$TMP/render.out" | grep -v '/secret-aegis-secrets.yaml$')
	[ -z "$found" ] || leaks+=" $found"
done
if [ -z "$leaks" ]; then pass "k8s-secrets-only-in-secret-file"; else fail "k8s-secrets-only-in-secret-file" "$leaks"; fi

# --- every container gets on Kubernetes the environment, command and args it gets
# from Podman: resolve secretKeyRef from the Secret and $(VAR) / $$ the way the
# kubelet does, and compare with the Podman rendering of the same pods (its
# secretKeyRefs resolved from what the pods' Podman secrets hold).
aegis --env "$TMP/.env" --profile full render --out "$TMP/podman" >/dev/null 2>&1
same=$(TMP=$TMP ROOT=$ROOT "$PY" - "$K8S" "$TMP/podman" <<'EOF' 2>&1
import base64, glob, os, re, sys, yaml
k8s, podman = sys.argv[1], sys.argv[2]
docs = [d for f in glob.glob(f"{k8s}/*.yaml") for d in yaml.safe_load_all(open(f)) if d]
secret = next(d for d in docs if d["kind"] == "Secret")
data = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}

def expand(s, env):
    # the kubelet's expansion: $$ -> $, $(NAME) -> value when NAME is defined
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, s)

def kube_view(c):
    env = {}
    for e in c.get("env", []):
        if "valueFrom" in e:
            ref = e["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"]
            env[e["name"]] = data[ref["key"]]
        else:
            env[e["name"]] = expand(e.get("value", ""), env)
    argv = [expand(a, env) for a in c.get("command", []) + ["--"] + c.get("args", [])]
    return {k: v for k, v in env.items() if not k.startswith("AEGIS_SECRET_")}, argv

# What the pod's Podman secret (aegis-secrets-<pod>) holds under KEY
# (README, "Secrets in the pods"): the variable's value, VAR_URLENCODED its
# percent-encoding, else the env value ENV_NAME of the template with its
# variables substituted.  Values: the environment over .env, as the tool does.
from urllib.parse import quote
dotenv = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(os.environ["TMP"], ".env")) if "=" in l and not l.startswith("#"))
class Template(yaml.SafeLoader):
    pass
Template.add_constructor("!file", lambda loader, node: loader.construct_scalar(node))
Template.add_constructor("!template", lambda loader, node: loader.construct_scalar(node))
schema = {v["name"]: v for v in yaml.safe_load(open(os.path.join(os.environ["ROOT"], "kube", "variables.yaml")))["variables"]}
def var(name):
    v = os.environ.get(name, dotenv.get(name))
    if v is None and schema.get(name, {}).get("default_file"):
        # a value read from a file (the SEAL JWT keys): its path's variables
        # are all set in this test's .env
        path = re.sub(r"\$\{([A-Z_0-9]+)\}", lambda m: var(m.group(1)), schema[name]["default_file"])
        v = open(path).read() if os.path.isfile(path) else ""
    return v or ""
def podman_secret(pod, key, env_name):
    if key.endswith("_URLENCODED"):
        return quote(var(key[:-len("_URLENCODED")]), safe="-._~")
    if key != env_name or key in dotenv or key in os.environ or schema.get(key, {}).get("default_file"):
        return var(key)
    tmpl = [d for d in yaml.load_all(open(os.path.join(os.environ["ROOT"], "kube", pod, "pod.yaml")), Template) if d and d["kind"] == "Pod"][0]
    text = next(e["value"] for c in tmpl["spec"]["containers"] for e in c.get("env", []) if e["name"] == env_name)
    return re.sub(r"\$\{([A-Z_0-9]+)(\|url)?\}", lambda m: quote(var(m.group(1)), safe="-._~") if m.group(2) else var(m.group(1)), text)

def podman_view(pod, c):
    env = {}
    for e in c.get("env", []):
        if "valueFrom" in e:
            ref = e["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "aegis-secrets-" + pod, ref
            env[e["name"]] = podman_secret(pod, ref["key"], e["name"])
        else:
            env[e["name"]] = e.get("value", "")
    return env, c.get("command", []) + ["--"] + c.get("args", [])

compared, problems = 0, []
for f in glob.glob(f"{podman}/*.yaml"):
    for pod in yaml.safe_load_all(open(f)):
        if not pod or pod["kind"] != "Pod":
            continue
        w = next(d for d in docs if d["kind"] in ("Deployment", "StatefulSet") and d["metadata"]["name"] == pod["metadata"]["name"])
        kc = {c["name"]: c for c in w["spec"]["template"]["spec"]["containers"]}
        for c in pod["spec"]["containers"]:
            compared += 1
            if kube_view(kc[c["name"]]) != podman_view(pod["metadata"]["labels"]["aegis.io/pod"], c):
                problems.append(f'{pod["metadata"]["name"]}/{c["name"]}')
print(f"{compared} containers" if not problems else "differ: " + ", ".join(problems))
sys.exit(1 if problems or not compared else 0)
EOF
)
if [ $? -eq 0 ]; then pass "k8s-same-env-as-podman ($same)"; else fail "k8s-same-env-as-podman" "$same"; fi

# --- schema and cross references (node + kubernetes-models) -------------------------
have_validator=1
if ! command -v node >/dev/null 2>&1; then
	skip "k8s-schema-validation" "node is not installed; run scripts/setup.sh"
	have_validator=0
elif [ ! -d "$ROOT/tests/kubernetes/node_modules/kubernetes-models" ]; then
	skip "k8s-schema-validation" "kubernetes-models is not installed in tests/kubernetes (scripts/setup.sh; the npm registry may have been unreachable)"
	have_validator=0
fi
if [ $have_validator = 1 ]; then
	node "$VALIDATOR" "$K8S" >"$TMP/validate.out" 2>&1
	rc=$?
	# its PASS/FAIL lines are this test's own: one per object and per check
	cat "$TMP/validate.out"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$TMP/validate.out"; then fail "k8s-validator" "exit $rc"; fi

	# a deliberately broken object must be rejected, by the schema and by the
	# cross-reference checks
	broken() { # NAME FILE SED-EXPRESSION EXPECTED-FAIL-LINE
		rm -rf "$TMP/broken" && cp -r "$K8S" "$TMP/broken" && sed -i "$3" "$TMP/broken/$2"
		node "$VALIDATOR" "$TMP/broken" >"$TMP/broken.out" 2>&1
		local rc=$?
		if [ $rc -eq 1 ] && grep -q "^FAIL $4" "$TMP/broken.out"; then
			pass "$1"
		else
			fail "$1" "rc=$rc: $(grep '^FAIL' "$TMP/broken.out" | head -3)"
		fi
	}
	broken "k8s-rejects-bad-schema" deployment-pod-core.yaml 's/containerPort: 8088/containerPort: http/' \
		"k8s-schema:Deployment/pod-core"
	broken "k8s-rejects-unknown-field" deployment-pod-core.yaml '0,/readOnly: true/s//readonly: true/' \
		"k8s-schema:Deployment/pod-core: unknown field spec.template.spec.containers\[0\].volumeMounts\[0\].readonly"
	broken "k8s-rejects-unknown-kind" service-pod-iam.yaml 's/^kind: Service/kind: Servcie/' \
		"k8s-schema:Servcie/pod-iam"
	broken "k8s-rejects-missing-file" kustomization.yaml 's/^- configmap-aegis-core-config.yaml$/- configmap-aegis-core.yaml/' \
		"k8s-kustomization-files-exist"
	broken "k8s-rejects-undefined-secret-key" deployment-pod-iam.yaml 's/key: KEYCLOAK_ADMIN_PASSWORD/key: NO_SUCH_KEY/' \
		"k8s-references:Deployment/pod-iam"
	broken "k8s-rejects-service-selecting-nothing" service-pod-secrets.yaml 's/aegis.io\/pod: secrets$/aegis.io\/pod: nothing/' \
		"k8s-service-selects-one:Service/pod-secrets"
	broken "k8s-rejects-wait-for-missing-service" deployment-pod-iam.yaml 's|tcp://pod-database:5432|tcp://pod-db:5432|' \
		"k8s-dependencies:Deployment/pod-iam"

	# the minimal profile: core's dependencies outside it order nothing
	node "$VALIDATOR" "$TMP/minimal" >"$TMP/minimal.out" 2>&1
	if [ $? -eq 0 ] && grep -q 'k8s-dependencies:Deployment/pod-core (waits for secrets)$' "$TMP/minimal.out"; then
		pass "k8s-minimal-profile-validates"
	else
		fail "k8s-minimal-profile-validates" "$(grep -v '^PASS' "$TMP/minimal.out" | head -3)"
	fi
fi

# --- kustomize accepts the directory (kubectl kustomize: the build step of
# `kubectl apply -k`, which runs offline; the apply itself needs an API server) ---
if ! command -v kubectl >/dev/null 2>&1; then
	skip "k8s-kustomize-build" "kubectl is not installed (scripts/setup.sh installs kubernetes-client)"
else
	kubectl kustomize "$K8S" >"$TMP/kustomize.out" 2>&1
	rc=$?
	built=$(grep -c '^kind: ' "$TMP/kustomize.out")
	listed=$(grep -c '^- ' "$K8S/kustomization.yaml")
	if [ $rc -eq 0 ] && [ "$built" -eq "$listed" ]; then
		pass "k8s-kustomize-build ($built objects, $(kubectl version --client 2>/dev/null | grep -i '^kustomize' | tr -d '\n'))"
	else
		fail "k8s-kustomize-build" "rc=$rc built=$built listed=$listed $(head -3 "$TMP/kustomize.out")"
	fi
fi

# --- options ------------------------------------------------------------------------
if [ "$(grep -h '^  namespace:' "$TMP/minimal"/*.yaml 2>/dev/null | sort -u)" = "  namespace: aegis-min" ] &&
	grep -q '^  name: aegis-min$' "$TMP/minimal/namespace-aegis-min.yaml" 2>/dev/null; then
	pass "k8s-namespace-option"
else
	fail "k8s-namespace-option"
fi
aegis --env "$TMP/.env" render --target kubernetes --namespace Not_A_Label --out "$TMP/bad" >"$TMP/bad.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q 'namespace "Not_A_Label"' "$TMP/bad.out" && [ ! -e "$TMP/bad" ]; then pass "k8s-bad-namespace-exit-2"; else fail "k8s-bad-namespace-exit-2" "rc=$rc"; fi
aegis --env "$TMP/.env" render --target kubernetes >/dev/null 2>&1
[ $? -eq 2 ] && pass "k8s-needs-out-exit-2" || fail "k8s-needs-out-exit-2"
aegis --env "$TMP/.env" render --target swarm --out "$TMP/x" >/dev/null 2>&1
[ $? -eq 2 ] && pass "k8s-unknown-target-exit-2" || fail "k8s-unknown-target-exit-2"
aegis --env "$TMP/.env" --profile full render --target kubernetes --out "$TMP/again" >/dev/null 2>&1
if diff -r "$K8S" "$TMP/again" >/dev/null; then pass "k8s-render-is-deterministic"; else fail "k8s-render-is-deterministic"; fi

# --- the wait script of the init containers, run by busybox ---------------------------
# The same text the Deployments carry, with targets on 127.0.0.1 instead of
# the cluster's Services.
BUSYBOX=$(command -v busybox || true)
if [ -z "$BUSYBOX" ]; then
	skip "k8s-wait-script" "busybox is not installed (scripts/setup.sh installs busybox-static)"
else
	script=$("$PY" -c '
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
print(d["spec"]["template"]["spec"]["initContainers"][0]["command"][2], end="")' "$K8S/deployment-pod-core.yaml")
	TIMEOUT=$(command -v timeout)
	bin=$TMP/bb && mkdir -p "$bin" && for a in sh wget nc timeout nslookup sleep; do ln -sf "$BUSYBOX" "$bin/$a"; done
	mkdir -p "$TMP/www" && echo ok >"$TMP/www/ready"
	port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	closed=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	(cd "$TMP/www" && exec "$PY" -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
	server=$!
	for _ in $(seq 50); do "$PY" -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break; sleep 0.1; done
	out=$(PATH=$bin "$TIMEOUT" 30 "$bin/sh" -c "$script" wait-for-test "http://127.0.0.1:$port/ready" "tcp://127.0.0.1:$port" 2>&1); rc=$?
	if [ $rc -eq 0 ] && grep -q "ready: tcp://127.0.0.1:$port" <<<"$out"; then pass "k8s-wait-script-ready"; else fail "k8s-wait-script-ready" "rc=$rc $out"; fi
	out=$(PATH=$bin "$TIMEOUT" 3 "$bin/sh" -c "$script" wait-for-test "tcp://127.0.0.1:$closed" 2>&1); rc=$?
	if [ $rc -eq 124 ] && grep -q "waiting for tcp://127.0.0.1:$closed" <<<"$out"; then pass "k8s-wait-script-waits-for-closed-port"; else fail "k8s-wait-script-waits-for-closed-port" "rc=$rc $out"; fi
	out=$(PATH=$bin "$TIMEOUT" 3 "$bin/sh" -c "$script" wait-for-test "http://127.0.0.1:$port/missing" 2>&1); rc=$?
	if [ $rc -eq 124 ] && grep -q "waiting for http://127.0.0.1:$port/missing" <<<"$out"; then pass "k8s-wait-script-waits-for-http-error"; else fail "k8s-wait-script-waits-for-http-error" "rc=$rc $out"; fi
	kill "$server" 2>/dev/null
	wait "$server" 2>/dev/null || true
fi
