"""What each image serves, from its contract (tests/standins/<image>.yaml),
for the pods of the templates (kube/*/pod.yaml).

One data file per image lists the ports the real image listens on and,
for HTTP ports, the paths it answers (method, status, a body where a probe
reads it), each with the source it was read from.  A port the image takes
from its configuration names where (`env`, `flag`, `config`), and this
module resolves it from what the template gives the container, as the image
would.  Two users:

  contracts.py compile KUBE_DIR OUT_DIR   the busybox stand-in's tables
      (tests/podman/build-standin.sh): OUT_DIR/pods, one line per served
      port, "POD VARIABLE PORT PROTOCOL ROUTES"; OUT_DIR/routes/ROUTES, one
      line per route, "METHOD PATH STATUS BODY CONTENT-TYPE"; bodies in
      OUT_DIR/bodies/.
  contracts.py check KUBE_DIR             every readiness probe of every
      template against the contract of its container's image (an HTTP path
      the image answers with 2xx/3xx on that port, a TCP port it listens on,
      a command it ships); one line per mismatch, exit 1 when there is one.

Python standard library and PyYAML (python3-yaml).
"""

import fnmatch
import glob
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


class Loader(yaml.SafeLoader):
    pass


# the templates' own tags (render.c): a file beside the template, a template
Loader.add_constructor("!file", lambda loader, node: loader.construct_scalar(node))
Loader.add_constructor("!template", lambda loader, node: loader.construct_scalar(node))


class ContractError(Exception):
    pass


def load_contracts(directory=HERE):
    """{image variable: contract}, each contract with its file name."""
    by_var = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        with open(path) as f:
            c = yaml.safe_load(f)
        c["file"] = os.path.relpath(path, os.path.join(HERE, "..", ".."))
        c["name"] = os.path.basename(path)[:-len(".yaml")]
        for p in c.get("ports") or []:
            for r in p.get("routes") or []:
                if not str(r.get("path", "")).startswith("/"):
                    raise ContractError("%s: port %s: route path %r does not start with /"
                                        % (c["file"], p.get("port"), r.get("path")))
        for var in c.get("variables") or []:
            if var in by_var:
                raise ContractError("%s and %s both claim %s" % (by_var[var]["file"], c["file"], var))
            by_var[var] = c
    return by_var


def pod_containers(kube_dir):
    """(pod name, template directory, container) for every container of
    every pod template."""
    out = []
    for path in sorted(glob.glob(os.path.join(kube_dir, "*", "pod.yaml"))):
        with open(path) as f:
            for doc in yaml.load_all(f, Loader=Loader):
                if doc and doc.get("kind") == "Pod":
                    for c in doc["spec"]["containers"]:
                        out.append((doc["metadata"]["name"], os.path.dirname(path), c))
    return out


def image_variable(container):
    m = re.fullmatch(r"\$\{([A-Z0-9_]+)\}", str(container.get("image", "")))
    return m.group(1) if m else None


def _literal_port(value):
    """N from "N", "host:N", ":N"; None when the value is not literal."""
    m = re.fullmatch(r"(?:.*:)?(\d+)", str(value).strip())
    return int(m.group(1)) if m else None


def _flag(args, name):
    """The value of -name=V, --name=V or -name V in args."""
    bare = name.lstrip("-")
    for i, a in enumerate(args):
        for dash in ("-", "--"):
            if a.startswith(dash + bare + "="):
                return a.split("=", 1)[1]
            if a == dash + bare and i + 1 < len(args):
                return args[i + 1]
    return None


def _config_value(args, template_dir, spec):
    """The value at spec["key"] (dots) of the YAML file named by the
    spec["file_flag"] argument, read beside the template (the ConfigMap's
    !file source has the same base name as the mounted file)."""
    named = _flag(args, spec["file_flag"])
    if not named:
        return None
    path = os.path.join(template_dir, os.path.basename(named))
    if not os.path.exists(path):
        return None
    with open(path) as f:
        node = yaml.safe_load(f)
    for part in spec["key"].split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def resolve(contract, container, template_dir):
    """The ports the image listens on when run as CONTAINER: [(port,
    contract port entry)].  A port entry applies when its `command` (the
    first argument) matches; its number is the first of env, flag, config
    the container sets, else its default; 0 means not listening."""
    args = [str(a) for a in (container.get("args") or [])]
    env = {e["name"]: e.get("value") for e in container.get("env") or [] if "name" in e}
    served = []
    for p in contract.get("ports") or []:
        if p.get("command") and (not args or args[0] != p["command"]):
            continue
        number = p.get("port", 0)
        set_by = p.get("set_by") or {}
        for kind in ("env", "flag", "config"):
            if kind not in set_by:
                continue
            if kind == "env":
                value = env.get(set_by["env"])
            elif kind == "flag":
                value = _flag(args, set_by["flag"])
            else:
                value = _config_value(args, template_dir, set_by["config"])
            if value is not None and _literal_port(value) is not None:
                number = _literal_port(value)
                break
        if number:
            served.append((number, p))
    return served


def probe_of(container):
    probe = container.get("readinessProbe") or {}
    for kind in ("httpGet", "tcpSocket", "exec"):
        if kind in probe:
            return kind, probe[kind]
    return None, None


def route_for(entry, method, path):
    """The first route of a port entry for METHOD PATH (query string
    dropped; `*` in a route's path matches anything, slashes included)."""
    path = path.split("?", 1)[0]
    for r in entry.get("routes") or []:
        if r.get("method", "GET") == method and fnmatch.fnmatchcase(path, r["path"]):
            return r
    return None


def check(kube_dir, contracts):
    problems = []
    for pod, tdir, c in pod_containers(kube_dir):
        var = image_variable(c)
        where = "%s/%s" % (pod, c["name"])
        kind, probe = probe_of(c)
        if not var:
            continue
        contract = contracts.get(var)
        if not contract:
            problems.append("%s: %s: no contract file in tests/standins/ names this image variable" % (where, var))
            continue
        what = "%s %s (%s)" % (contract["image"], contract["version"], contract["file"])
        served = dict(resolve(contract, c, tdir))
        if kind == "httpGet":
            port, path = probe.get("port"), probe.get("path", "/")
            entry = served.get(port)
            if entry is None:
                problems.append("%s: readinessProbe port %s: %s listens on %s" % (
                    where, port, what, ", ".join(map(str, sorted(served))) or "nothing"))
            elif entry.get("protocol", "http") != "http":
                problems.append("%s: readinessProbe GET %s on %s: %s speaks %s there, not HTTP" % (
                    where, path, port, what, entry["protocol"]))
            else:
                r = route_for(entry, "GET", path)
                if r is None:
                    problems.append("%s: readinessProbe GET %s on %s: %s serves no such path (404)" % (
                        where, path, port, what))
                elif not 200 <= int(r.get("status", 200)) < 400:
                    problems.append("%s: readinessProbe GET %s on %s: %s answers %s" % (
                        where, path, port, what, r["status"]))
        elif kind == "tcpSocket":
            port = probe.get("port")
            if isinstance(port, int) and port not in served:
                problems.append("%s: readinessProbe TCP %s: %s listens on %s" % (
                    where, port, what, ", ".join(map(str, sorted(served))) or "nothing"))
        elif kind == "exec":
            prog = (probe.get("command") or [""])[0]
            if prog not in (contract.get("commands") or []):
                problems.append("%s: readinessProbe exec %s: %s ships no such command" % (where, prog, what))
    return problems


def compile_tables(kube_dir, out_dir, contracts):
    os.makedirs(os.path.join(out_dir, "routes"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "bodies"), exist_ok=True)
    lines, bodies, seen = [], {}, set()
    for pod, tdir, c in pod_containers(kube_dir):
        var = image_variable(c)
        contract = contracts.get(var) if var else None
        if not contract:
            continue
        for port, entry in resolve(contract, c, tdir):
            if (pod, port) in seen:  # the pod's first container serves it
                continue
            seen.add((pod, port))
            proto = entry.get("protocol", "http")
            table = "%s-%d" % (contract["name"], port)
            if proto == "http":
                with open(os.path.join(out_dir, "routes", table), "w") as f:
                    for r in entry.get("routes") or []:
                        body = r.get("body", "")
                        if r.get("content") == "prometheus":
                            body_name = "prometheus"
                        else:
                            body_name = bodies.setdefault(body, "b%d" % len(bodies))
                        ctype = r.get("content_type", "text/plain")
                        f.write("%s %s %d %s %s\n" % (r.get("method", "GET"), r["path"],
                                                      int(r.get("status", 200)), body_name, ctype))
            lines.append("%s %s %d %s %s" % (pod, var, port, proto, table if proto == "http" else "-"))
    for body, name in bodies.items():
        with open(os.path.join(out_dir, "bodies", name), "w") as f:
            f.write(body)
    with open(os.path.join(out_dir, "pods"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv):
    if len(argv) < 3 or argv[1] not in ("compile", "check"):
        sys.stderr.write("usage: contracts.py compile KUBE_DIR OUT_DIR | check KUBE_DIR\n")
        return 2
    try:
        contracts = load_contracts()
    except (ContractError, OSError, yaml.YAMLError) as e:
        sys.stderr.write("contracts.py: %s\n" % e)
        return 2
    if argv[1] == "compile":
        compile_tables(argv[2], argv[3], contracts)
        return 0
    problems = check(argv[2], contracts)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
