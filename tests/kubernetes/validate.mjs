// Validates a directory written by `aegis-deploy render --target kubernetes`
// without a cluster:
//   - every object of every file the kustomization lists, against the
//     Kubernetes OpenAPI schema (the npm package kubernetes-models), plus the
//     name rules the API server applies (DNS-1123), and no field unknown to
//     the package's type declarations (which its schema lets through);
//   - cross references: every listed file exists; every Secret (and key),
//     ConfigMap and PersistentVolumeClaim a workload refers to is defined;
//     every Service selects exactly one workload and targets its ports; every
//     dependency (aegis.io/depends-on) has an init container whose checks all
//     name an existing Service and one of its ports.
// One line per check: "PASS name", "FAIL name: why".  Exit 1 on any failure.
//
// Usage: node tests/kubernetes/validate.mjs DIR
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const NODE_MODULES = path.join(path.dirname(fileURLToPath(import.meta.url)), "node_modules");
const declarations = new Map(); // see declaration()

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node validate.mjs DIR");
  process.exit(2);
}
let failures = 0;
const pass = (name) => console.log(`PASS ${name}`);
const fail = (name, why) => {
  failures++;
  console.log(`FAIL ${name}: ${why}`);
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job"]);
// kinds whose names must be DNS labels rather than subdomains
const LABEL_NAMED = new Set(["Namespace", "Service", "Deployment", "StatefulSet"]);

function readYaml(file) {
  const docs = parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const d of docs) if (d.errors.length) throw new Error(d.errors[0].message);
  return docs.map((d) => d.toJS()).filter((o) => o !== null);
}

// --- the kustomization ---------------------------------------------------------
let kustomization;
try {
  [kustomization] = readYaml(path.join(dir, "kustomization.yaml"));
} catch (e) {
  fail("k8s-kustomization", e.message);
  process.exit(1);
}
const resources = kustomization?.resources ?? [];
const missing = resources.filter((f) => !fs.existsSync(path.join(dir, f)));
if (kustomization?.kind !== "Kustomization" || !resources.length) fail("k8s-kustomization", "not a Kustomization with resources");
else if (missing.length) fail("k8s-kustomization-files-exist", `missing: ${missing.join(", ")}`);
else pass(`k8s-kustomization-files-exist (${resources.length} files)`);

// --- every object against the schema --------------------------------------------
const objects = [];
for (const file of resources.filter((f) => !missing.includes(f))) {
  let docs;
  try {
    docs = readYaml(path.join(dir, file));
  } catch (e) {
    fail(`k8s-yaml:${file}`, e.message);
    continue;
  }
  for (const obj of docs) {
    const id = `${obj?.kind}/${obj?.metadata?.name}`;
    objects.push({ file, obj, id });
    await validateSchema(obj, `k8s-schema:${id}`);
  }
}

async function validateSchema(obj, name) {
  const { apiVersion, kind } = obj ?? {};
  if (typeof apiVersion !== "string" || typeof kind !== "string") return fail(name, "no apiVersion or kind");
  let Model;
  try {
    const mod = await import(`kubernetes-models/${apiVersion}/${kind}`);
    Model = mod[kind];
  } catch {
    return fail(name, `no schema for ${apiVersion} ${kind}`);
  }
  if (!Model || Model.apiVersion !== apiVersion || Model.kind !== kind) return fail(name, `no schema for ${apiVersion} ${kind}`);
  try {
    new Model(obj).validate();
  } catch (e) {
    return fail(name, e.message);
  }
  const decl = declaration(path.join(NODE_MODULES, "kubernetes-models", apiVersion, `${kind}.d.ts`));
  if (!decl) return fail(name, `no type declaration for ${apiVersion} ${kind}`);
  const unknown = unknownFields(obj, decl, "");
  if (unknown.length) return fail(name, `unknown field ${unknown.slice(0, 3).join(", ")}`);
  const n = obj.metadata?.name ?? "";
  const rule = LABEL_NAMED.has(kind) ? DNS_LABEL : DNS_SUBDOMAIN;
  if (!rule.test(n) || n.length > (LABEL_NAMED.has(kind) ? 63 : 253)) return fail(name, `metadata.name "${n}" is not a valid name`);
  if (kind !== "Namespace" && !obj.metadata.namespace) return fail(name, "no metadata.namespace");
  for (const c of podSpec(obj) ? allContainers(podSpec(obj)) : []) {
    if (!DNS_LABEL.test(c.name ?? "")) return fail(name, `container name "${c.name}" is not a DNS label`);
    for (const p of c.ports ?? []) if (p.hostPort !== undefined) return fail(name, `container ${c.name} publishes hostPort ${p.hostPort}`);
  }
  pass(name);
}

// The fields of the interface declared in FILE (a kubernetes-models .d.ts):
// name -> the declaration of its type (array element for arrays), or null
// for a type with no fields to check (string, number, IntOrString, maps).
function declaration(file) {
  if (declarations.has(file)) return declarations.get(file);
  declarations.set(file, null);
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, "utf8");
  const imports = new Map();
  for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
    const spec = m[2].startsWith(".") ? path.resolve(path.dirname(file), m[2]) : path.join(NODE_MODULES, m[2]);
    imports.set(m[1], `${spec}.d.ts`);
  }
  const body = /^export interface \w+(?: extends [^{]+)? \{$([\s\S]*?)^\}$/m.exec(text);
  if (!body) return null;
  const fields = new Map();
  for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) {
    const type = m[2].replace(/;$/, "").replace(/^Array<(.*)>$/, "$1");
    fields.set(m[1], imports.has(type) ? imports.get(type) : null);
  }
  const decl = { fields };
  declarations.set(file, decl);
  return decl;
}

// Paths of the fields of V that DECL does not declare.
function unknownFields(v, decl, at) {
  if (!decl || v === null || typeof v !== "object") return [];
  if (Array.isArray(v)) return v.flatMap((item, i) => unknownFields(item, decl, `${at}[${i}]`));
  return Object.entries(v).flatMap(([k, val]) => {
    const where = at ? `${at}.${k}` : k;
    if (!decl.fields.has(k)) return [where];
    const file = decl.fields.get(k);
    return file ? unknownFields(val, declaration(file), where) : [];
  });
}

function podSpec(obj) {
  return WORKLOAD_KINDS.has(obj?.kind) ? obj.spec?.template?.spec : obj?.kind === "Pod" ? obj.spec : undefined;
}
function allContainers(spec) {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}
const byKind = (kind) => objects.filter((o) => o.obj?.kind === kind).map((o) => o.obj);
const defined = (kind, name) => byKind(kind).find((o) => o.metadata?.name === name);

// --- references of each workload -----------------------------------------------
const workloads = objects.filter((o) => podSpec(o.obj));
for (const { obj, id } of workloads) {
  const spec = podSpec(obj);
  const problems = [];
  const volumes = new Set();
  for (const v of spec.volumes ?? []) {
    volumes.add(v.name);
    if (v.configMap && !defined("ConfigMap", v.configMap.name)) problems.push(`ConfigMap ${v.configMap.name}`);
    if (v.secret && !defined("Secret", v.secret.secretName)) problems.push(`Secret ${v.secret.secretName}`);
    if (v.persistentVolumeClaim && !defined("PersistentVolumeClaim", v.persistentVolumeClaim.claimName))
      problems.push(`PersistentVolumeClaim ${v.persistentVolumeClaim.claimName}`);
  }
  for (const c of allContainers(spec)) {
    for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) problems.push(`volume ${m.name} (mounted by ${c.name})`);
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) {
        const s = defined("Secret", ref.name);
        if (!s) problems.push(`Secret ${ref.name}`);
        else if (!(ref.key in (s.data ?? {})) && !(ref.key in (s.stringData ?? {}))) problems.push(`key ${ref.key} of Secret ${ref.name}`);
      }
      const cm = e.valueFrom?.configMapKeyRef;
      if (cm && !defined("ConfigMap", cm.name)) problems.push(`ConfigMap ${cm.name}`);
    }
    for (const f of c.envFrom ?? []) {
      if (f.secretRef && !defined("Secret", f.secretRef.name)) problems.push(`Secret ${f.secretRef.name}`);
      if (f.configMapRef && !defined("ConfigMap", f.configMapRef.name)) problems.push(`ConfigMap ${f.configMapRef.name}`);
    }
  }
  if (obj.kind === "StatefulSet" && !defined("Service", obj.spec.serviceName)) problems.push(`Service ${obj.spec.serviceName}`);
  if (problems.length) fail(`k8s-references:${id}`, `undefined: ${problems.join(", ")}`);
  else pass(`k8s-references:${id}`);
}

// --- each Service selects exactly one workload -----------------------------------
const matches = (selector, labels) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);
for (const svc of byKind("Service")) {
  const name = `k8s-service-selects-one:Service/${svc.metadata.name}`;
  const selector = svc.spec?.selector ?? {};
  const selected = workloads.filter((w) => Object.keys(selector).length && matches(selector, w.obj.spec?.template?.metadata?.labels));
  if (selected.length !== 1) {
    fail(name, `selects ${selected.length} workloads (${selected.map((w) => w.id).join(", ") || "none"})`);
    continue;
  }
  const ports = new Set(allContainers(podSpec(selected[0].obj)).flatMap((c) => (c.ports ?? []).map((p) => p.containerPort)));
  const stray = (svc.spec.ports ?? []).filter((p) => !ports.has(p.targetPort ?? p.port));
  if (stray.length) fail(name, `ports not served by ${selected[0].id}: ${stray.map((p) => p.port).join(", ")}`);
  else pass(`${name} (${selected[0].id})`);
}

// --- dependencies: init containers for the plan's edges ---------------------------
// A check argument of a wait-for-* init container: http://HOST:PORT/..., tcp://HOST:PORT, dns://HOST
function target(arg) {
  const m = /^(http|tcp|dns):\/\/([^:/]+)(?::(\d+))?/.exec(arg);
  return m ? { scheme: m[1], host: m[2], port: m[3] ? Number(m[3]) : undefined } : undefined;
}
for (const { obj, id } of workloads) {
  const meta = obj.spec?.template?.metadata ?? {};
  const deps = (meta.annotations?.["aegis.io/depends-on"] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const problems = [];
  const waited = [];
  for (const dep of deps) {
    // a dependency outside the profile orders nothing (as in `plan`)
    const depWorkload = workloads.find((w) => w.obj.spec?.template?.metadata?.labels?.["aegis.io/pod"] === dep);
    if (!depWorkload) continue;
    const init = (podSpec(obj).initContainers ?? []).find((c) => c.name === `wait-for-${dep}`);
    if (!init) {
      problems.push(`no init container wait-for-${dep}`);
      continue;
    }
    const checks = [...(init.command ?? []), ...(init.args ?? [])].map(target).filter(Boolean);
    if (!checks.length) problems.push(`wait-for-${dep} checks nothing`);
    for (const t of checks) {
      const svc = defined("Service", t.host);
      if (!svc) problems.push(`wait-for-${dep}: no Service ${t.host}`);
      else if (t.port !== undefined && !(svc.spec.ports ?? []).some((p) => p.port === t.port)) problems.push(`wait-for-${dep}: Service ${t.host} has no port ${t.port}`);
      else if (!matches(svc.spec.selector ?? {}, depWorkload.obj.spec.template.metadata.labels)) problems.push(`wait-for-${dep}: Service ${t.host} does not select ${depWorkload.id}`);
    }
    waited.push(dep);
  }
  if (problems.length) fail(`k8s-dependencies:${id}`, problems.join("; "));
  else pass(`k8s-dependencies:${id}${waited.length ? ` (waits for ${waited.join(", ")})` : ""}`);
}

process.exit(failures ? 1 : 0);
