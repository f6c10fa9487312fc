#!/usr/bin/env bash
# What `render --profile full` gives the three AEGIS images matches what they
# read, as kube/contracts.yaml records it from their sources: the required
# fields of their configuration files, the environment variables, the type
# of the SEAL JWT keys (RSA, a matching pair), the ports, the health paths,
# the worker's place after pod-core and its client in the realm.  Then the
# same check of broken copies of the templates must fail, naming the item.
# Then the stand-ins' contracts (tests/standins/): every readiness probe asks
# its image for a port and path the image serves, and copies with a wrong
# probe path or port fail, naming the container.
# No Podman needed.
. "$(dirname "$0")/lib.sh"

# render_into ROOT OUT: the podman manifests of profile full (OUT/full.yaml)
# and, for the values behind their secretKeyRefs, the Kubernetes rendering
# with its one Secret (OUT/k8s/secret-aegis-secrets.yaml).
render_into() {
	local root=$1 out=$2
	mkdir -p "$out"
	"$AEGIS_BIN" --root "$root" --env "$TMP/.env" render --profile full >"$out/full.yaml" 2>"$out/render.err" &&
		"$AEGIS_BIN" --root "$root" --env "$TMP/.env" --profile full render --target kubernetes \
			--out "$out/k8s" >/dev/null 2>>"$out/render.err"
}

# check_contracts ROOT OUT: the contract check; prints one line per broken
# item ("image: item: what is wrong") and exits 1 when there is one.
check_contracts() {
	"$PY" - "$1/kube/contracts.yaml" "$2/full.yaml" "$2/k8s/secret-aegis-secrets.yaml" "$1/kube/iam/realm.yaml" <<'PY'
import base64, re, subprocess, sys, yaml

contracts = yaml.safe_load(open(sys.argv[1]))
docs = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
secret = yaml.safe_load(open(sys.argv[3]))
secret_data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
secret_data.update(secret.get("stringData") or {})
realm_doc = open(sys.argv[4]).read()
problems = []

def bad(image, item, what):
    problems.append("%s: %s: %s" % (image, item, what))

def lookup(node, path):
    """The values at PATH (dots, [*] for every element): None where an
    element lacks it, so one list entry without a field counts."""
    values = [node]
    for part in path.split("."):
        star = part.endswith("[*]")
        key = part[:-3] if star else part
        nxt = []
        for v in values:
            w = v.get(key) if isinstance(v, dict) else None
            if star and isinstance(w, list):
                nxt.extend(w)
            else:
                nxt.append(w)
        values = nxt
    return values

def empty(v):
    return v is None or (isinstance(v, (str, list, dict)) and len(v) == 0)

def loopback(addr):
    return addr in ("127.0.0.1", "::1", "localhost") or str(addr).startswith("127.")

def openssl_ok(args, text):
    p = subprocess.run(["openssl"] + args, input=text.encode(), capture_output=True)
    return p.returncode == 0, p.stdout.decode()

pods = {d["metadata"]["labels"].get("aegis.io/pod"): d for d in docs if d.get("kind") == "Pod"}
configmaps = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ConfigMap"}
env_values = {}

for img in contracts["images"]:
    name = img["name"]
    pod = pods.get(img["pod"])
    if not pod:
        bad(name, "pod", "no pod %s in profile full" % img["pod"])
        continue
    ctr = next((c for c in pod["spec"]["containers"] if c["name"] == img["container"]), None)
    if not ctr:
        bad(name, "container", "no container %s in pod %s" % (img["container"], img["pod"]))
        continue
    env = {e["name"]: e for e in ctr.get("env") or []}

    def env_value(var):
        e = env.get(var)
        if e is None:
            return None
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            return secret_data.get(ref["key"])
        return e.get("value")

    # -- the configuration file, where the image finds it
    cfg = img.get("config")
    if cfg:
        cm = configmaps.get(cfg["configmap"], {}).get("data") or {}
        text = cm.get(cfg["file"])
        path = env_value(cfg["path_env"])
        vol = next((v["name"] for v in pod["spec"].get("volumes") or []
                    if (v.get("configMap") or {}).get("name") == cfg["configmap"]), None)
        mount = next((m["mountPath"] for m in ctr.get("volumeMounts") or [] if m["name"] == vol), None)
        if text is None:
            bad(name, "config", "ConfigMap %s has no %s" % (cfg["configmap"], cfg["file"]))
            continue
        if not mount or path != mount.rstrip("/") + "/" + cfg["file"]:
            bad(name, "config", "%s=%r is not where %s is mounted (%s)" % (cfg["path_env"], path, cfg["file"], mount))
        doc = yaml.safe_load(text)
        for r in cfg.get("required") or []:
            vals = lookup(doc, r["path"])
            if not vals or any(empty(v) for v in vals):
                bad(name, r["path"], "required (%s), missing or empty" % r["source"])
            elif "equals" in r and any(v != r["equals"] for v in vals):
                bad(name, r["path"], "must be %r (%s), is %r" % (r["equals"], r["source"], vals))
            elif "one_of" in r and any(v not in r["one_of"] for v in vals):
                bad(name, r["path"], "must be one of %s (%s), is %r" % (r["one_of"], r["source"], vals))
        for r in cfg.get("absent") or []:
            if any(v is not None for v in lookup(doc, r["path"])):
                bad(name, r["path"], "not read by the image: %s (%s)" % (r["why"], r["source"]))
        for r in cfg.get("rules") or []:
            c, spec = r["check"], doc.get("spec") or {}
            ok = True
            if c == "insecure_bind":
                net = spec.get("network") or {}
                ok = loopback(net.get("bind_address", "127.0.0.1")) or net.get("tls") or net.get("allow_insecure_bind") is True
            elif c == "metrics_bind":
                m = (spec.get("observability") or {}).get("metrics") or {}
                ok = not loopback(m.get("bind_address", "127.0.0.1"))
            elif c == "providers_named":
                names = {p.get("name") for p in spec.get("llm_providers") or []}
                sel = spec.get("llm_selection") or {}
                ok = all(sel.get(k) in names for k in ("default_provider", "fallback_provider") if sel.get(k))
            elif c == "seal_gateway_grpc":
                # the port of the gateway's grpc_bind_addr, from its own
                # rendered configuration
                gw = next((i for i in contracts["images"] if i["name"] == "aegis-seal-gateway"), {})
                gw_text = (configmaps.get(gw.get("config", {}).get("configmap"), {}).get("data") or {}).get(
                    gw.get("config", {}).get("file"))
                gw_net = ((yaml.safe_load(gw_text) or {}).get("spec") or {}).get("network") or {} if gw_text else {}
                grpc = str(gw_net.get("grpc_bind_addr", "")).rsplit(":", 1)[-1]
                url = str((spec.get("seal_gateway") or {}).get("url", ""))
                ok = bool(grpc) and url == "http://pod-seal-gateway:" + grpc
            elif c == "auth_enabled":
                ok = (spec.get("auth") or {}).get("disabled") is not True and "SEAL_GATEWAY_AUTH_DISABLED" not in env
            else:
                ok = False
            if not ok:
                bad(name, "rule " + c, "%s (%s)" % (r["rule"], r["source"]))
        # the runtime registry the runtime cannot start without
        reg_path = (doc.get("spec") or {}).get("runtime", {}).get("runtime_registry_path") if img["pod"] == "core" else None
        if reg_path:
            reg_dir, reg_file = reg_path.rsplit("/", 1)
            reg = cm.get(reg_file) if mount and reg_dir == mount.rstrip("/") else None
            reg_doc = yaml.safe_load(reg) if reg else None
            if not reg_doc or not (reg_doc.get("spec") or {}).get("registry_url") or \
               any(not e.get("image") for v in ((reg_doc.get("spec") or {}).get("runtimes") or {}).values() for e in v.values()):
                bad(name, "runtime_registry_path", "%s is not a mounted runtime registry (spec.registry_url, runtimes with image)" % reg_path)

    # -- environment
    for e in img.get("env") or []:
        var = e["name"]
        if var not in env:
            bad(name, "env " + var, "not set (%s)" % e["source"])
            continue
        is_ref = "valueFrom" in env[var]
        if e.get("secret") and env[var].get("value"):
            bad(name, "env " + var, "a secret written into the manifest, not a secretKeyRef")
        value = env_value(var)
        if "equals" in e and value != e["equals"]:
            bad(name, "env " + var, "must be %r (%s), is %r" % (e["equals"], e["source"], value))
        key = e.get("key")
        if key:
            env_values[(name, var)] = value
            if not value:
                bad(name, "env " + var, "empty: the image needs the %s key (%s)" % (key, e["source"]))
            elif key == "rsa-private":
                ok, _ = openssl_ok(["rsa", "-check", "-noout"], value)
                if not ok or "PRIVATE KEY" not in value:
                    bad(name, "env " + var, "not an RSA private key in PEM (%s)" % e["source"])
            elif key == "rsa-public":
                ok, _ = openssl_ok(["rsa", "-pubin", "-noout"], value)
                if not ok:
                    bad(name, "env " + var, "not an RSA public key in PEM (%s)" % e["source"])

    # -- ports, health, order
    ports = {p.get("containerPort") for p in ctr.get("ports") or []}
    for p in img.get("ports") or []:
        if p["containerPort"] not in ports:
            bad(name, "port %d" % p["containerPort"], "not declared (%s)" % p["source"])
    h = img.get("health")
    if h:
        probe = (ctr.get("readinessProbe") or {}).get("httpGet") or {}
        if probe.get("path") != h["path"] or probe.get("port") != h["port"]:
            bad(name, "health", "readiness probe %s:%s, the image answers %s:%s (%s)" % (
                probe.get("path"), probe.get("port"), h["path"], h["port"], h["source"]))
    deps = [x.strip() for x in (pod["metadata"].get("annotations") or {}).get("aegis.io/depends-on", "").split(",")]
    for d in img.get("depends_on") or []:
        if d not in deps:
            bad(name, "depends_on", "pod %s does not start after %s (%s)" % (img["pod"], d, img.get("depends_source")))
    cc = img.get("client_credentials")
    if cc:
        realm = next((r for r in yaml.safe_load(realm_doc)["realms"] if r["realm"] == cc["realm"]), {})
        client = next((c for c in realm.get("clients") or [] if c.get("clientId") == cc["client"]), None)
        declared = {s.get("name") for s in realm.get("client_scopes") or []}
        if not client or client.get("serviceAccountsEnabled") is not True or not client.get("secret_env"):
            bad(name, "client " + cc["client"], "no confidential service-account client in realm %s (%s)" % (cc["realm"], cc["source"]))
        else:
            theirs = set(client.get("defaultClientScopes") or []) | set(client.get("optionalClientScopes") or [])
            for s in cc["scopes"]:
                if s not in declared or s not in theirs:
                    bad(name, "scope " + s, "not a scope of client %s in realm %s (%s)" % (cc["client"], cc["realm"], cc["source"]))

# the runtime's signing key and the gateway's verification key are one pair
priv = env_values.get(("aegis-runtime", "AEGIS_SEAL_PRIVATE_KEY"))
pub = env_values.get(("aegis-seal-gateway", "SEAL_GATEWAY_SEAL_JWT_PUBLIC_KEY_PEM"))
if priv and pub:
    ok, derived = openssl_ok(["pkey", "-pubout"], priv)
    if not ok or derived.strip() != pub.strip():
        bad("aegis-seal-gateway", "env SEAL_GATEWAY_SEAL_JWT_PUBLIC_KEY_PEM", "not the public half of the runtime's AEGIS_SEAL_PRIVATE_KEY")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
}

printf 'POSTGRES_PASSWORD=p\nKEYCLOAK_ADMIN_PASSWORD=k\nGRAFANA_ADMIN_PASSWORD=g\nSEAL_KEYS_DIR=%s\n' "$TMP/seal" >"$TMP/.env"
if ! aegis --env "$TMP/.env" generate-keys --dir "$TMP/seal" >"$TMP/keys.out" 2>&1; then
	fail "contracts-setup" "generate-keys: $(cat "$TMP/keys.out")"
	exit 0
fi

# --- the templates as they are -------------------------------------------------
if ! render_into "$ROOT" "$TMP/ok"; then
	fail "contracts-render" "$(cat "$TMP/ok/render.err")"
	exit 0
fi
if out=$(check_contracts "$ROOT" "$TMP/ok" 2>&1); then
	pass "contracts-render-full-matches-the-images"
else
	fail "contracts-render-full-matches-the-images" "$out"
fi

# every image of the contracts is pinned to a commit and named by its variable
if "$PY" - "$ROOT/kube/contracts.yaml" "$ROOT/kube/variables.yaml" <<'PY'
import re, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
names = {v["name"] for v in yaml.safe_load(open(sys.argv[2]))["variables"]}
assert len(c["images"]) == 3
for i in c["images"]:
    assert re.fullmatch(r"[0-9a-f]{8,40}", i["commit"]), i
    assert i["repository"].startswith("100monkeys-ai/"), i
    assert i["image_variable"] in names, i
PY
then pass "contracts-pinned-commits"; else fail "contracts-pinned-commits"; fi

# --- broken copies: each must fail, naming what is wrong -------------------------
# broken NAME EXPECTED SED-FILE SED-EXPR: a copy of the tree with one template
# edited; the check must fail and print EXPECTED.
broken() {
	local name=$1 expected=$2 file=$3 expr=$4 copy=$TMP/copy-$1
	mkdir -p "$copy"
	cp -r "$ROOT/kube" "$ROOT/profiles" "$copy/"
	sed -i "$expr" "$copy/$file"
	if cmp -s "$ROOT/$file" "$copy/$file"; then
		fail "contracts-broken-$name" "the edit did not change $file"
		return
	fi
	if ! render_into "$copy" "$TMP/out-$name"; then
		fail "contracts-broken-$name" "render: $(cat "$TMP/out-$name/render.err")"
		return
	fi
	local out rc
	out=$(check_contracts "$copy" "$TMP/out-$name" 2>&1); rc=$?
	if [ "$rc" -eq 1 ] && grep -qF "$expected" <<<"$out"; then
		pass "contracts-broken-$name"
	else
		fail "contracts-broken-$name" "rc=$rc, expected '$expected' in: $out"
	fi
}
# a required field
broken provider-endpoint 'spec.llm_providers[*].endpoint: required' kube/core/aegis-config.yaml \
	'/endpoint: "https:\/\/api.anthropic.com\/v1"/d'
# the key the image does not read
broken storage-key 'spec.storage.local: not read by the image' kube/core/aegis-config.yaml \
	's/^    local_host:$/    local:/'
# the insecure-bind rule
broken insecure-bind 'rule insecure_bind' kube/core/aegis-config.yaml '/allow_insecure_bind: true/d'
# metrics on loopback
broken metrics-bind 'rule metrics_bind' kube/core/aegis-config.yaml \
	's/^      bind_address: "0.0.0.0"$/      bind_address: "127.0.0.1"/'
# the gateway's HTTP port where the runtime's gRPC client needs its gRPC port
broken seal-gateway-grpc 'rule seal_gateway_grpc' kube/core/aegis-config.yaml \
	's#url: "http://pod-seal-gateway:50055"#url: "http://pod-seal-gateway:8089"#'
# a variable name the worker does not read
broken worker-env 'env KEYCLOAK_HOST: not set' kube/temporal-worker/pod.yaml \
	's/name: KEYCLOAK_HOST$/name: KEYCLOAK_URL/'
# a port
broken gateway-port 'port 50055: not declared' kube/seal-gateway/pod.yaml \
	's/containerPort: 50055/containerPort: 50056/'
# a health path
broken gateway-health 'aegis-seal-gateway: health' kube/seal-gateway/pod.yaml \
	'/readinessProbe:/,/port:/s#path: /health#path: /#'
# the key type: the Ed25519 public key where the gateway needs the RSA one
broken key-type 'not an RSA public key' kube/variables.yaml \
	's#default_file: ${SEAL_KEYS_DIR}/seal-jwt-public.pem#default_file: ${SEAL_KEYS_DIR}/public.pem#'
# the worker in the same tier as core
broken worker-order 'does not start after core' kube/temporal-worker/pod.yaml \
	's/aegis.io\/depends-on: "core,/aegis.io\/depends-on: "/'
# a scope the worker asks for, missing from its client
broken worker-scope 'scope volume:write' kube/iam/realm.yaml '/^          - "volume:write"$/d'

# --- the stand-ins' contracts (tests/standins/) --------------------------------
# Every readiness probe of every template asks its image for a port and path
# the image's contract lists (the real image serves it); each contract names
# its image, version, image variables and sources.
contracts=$ROOT/tests/standins/contracts.py
if out=$("$PY" "$contracts" check "$ROOT/kube" 2>&1); then
	pass standin-contracts-cover-every-probe
else
	fail standin-contracts-cover-every-probe "$out"
fi
if out=$("$PY" - "$ROOT/tests/standins" "$ROOT/kube/variables.yaml" <<'PY' 2>&1
import glob, os, sys, yaml
names = {v["name"] for v in yaml.safe_load(open(sys.argv[2]))["variables"]}
bad = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.yaml"))):
    c = yaml.safe_load(open(path))
    f = os.path.basename(path)
    for key in ("image", "version", "variables", "source", "ports"):
        if not c.get(key):
            bad.append("%s: no %s" % (f, key))
    bad += ["%s: %s is not an image variable" % (f, v) for v in c.get("variables") or [] if v not in names]
    for p in c.get("ports") or []:
        if p.get("protocol", "http") not in ("http", "tcp"):
            bad.append("%s: port %s: protocol %s" % (f, p.get("port"), p.get("protocol")))
        for r in p.get("routes") or []:
            if not r.get("source") or not isinstance(r.get("status"), int):
                bad.append("%s: port %s: route %s without a status or a source" % (f, p.get("port"), r.get("path")))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
); then
	pass standin-contracts-cited
else
	fail standin-contracts-cited "$out"
fi
# broken_probe NAME EXPECTED FILE SED-EXPR: a copy of kube/ with one probe
# changed; the check must fail with exactly one line, EXPECTED.
broken_probe() {
	local copy=$TMP/probe-$1 out rc
	mkdir -p "$copy"
	cp -r "$ROOT/kube" "$copy/"
	sed -i "$4" "$copy/kube/$3"
	out=$("$PY" "$contracts" check "$copy/kube" 2>&1); rc=$?
	if [ "$rc" -eq 1 ] && [ "$(grep -c . <<<"$out")" -eq 1 ] && grep -qF "$2" <<<"$out"; then
		pass "standin-contracts-broken-$1"
		echo "   $out"
	else
		fail "standin-contracts-broken-$1" "rc=$rc, expected only '$2' in: $out"
	fi
}
broken_probe loki-path 'pod-observability/loki: readinessProbe GET /readyz on 3100' observability/pod.yaml \
	'/- name: loki$/,/failureThreshold/s#path: /ready$#path: /readyz#'
broken_probe webdav-port 'pod-storage/seaweedfs-webdav: readinessProbe TCP 7334' storage/pod.yaml \
	'/tcpSocket:/,/port:/s/port: 7333$/port: 7334/'
broken_probe grafana-port 'pod-observability/grafana: readinessProbe port 3000' observability/pod.yaml \
	'/- name: grafana$/,/failureThreshold/s/port: 3300$/port: 3000/'
