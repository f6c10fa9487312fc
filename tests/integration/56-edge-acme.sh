#!/usr/bin/env bash
# The TLS edge in acme mode with real Podman, real Caddy and a real ACME
# server that validates the challenges: pebble (the RFC 8555 test server,
# Debian's `pebble` 2.4.0, tests/podman/build-pebble.sh) runs in a container
# on the deployment network with its own HTTPS certificate from a test CA made
# here, which Caddy trusts through AEGIS_ACME_CA_ROOT, and resolves the names
# it validates through pebble-challtestsrv (same package, a second container)
# as its DNS server (`pebble -dnsserver`, letsencrypt/pebble v2.4.0
# cmd/pebble/main.go:45-48, README.md:177-196; without it pebble would use the
# system resolver).  challtestsrv answers only what the test tells it through
# its management API (`add-a`, cmd/pebble-challtestsrv/README.md:65-75): the
# edge's names point at the edge's address on the test's own network as soon
# as the edge pod has one.  No PEBBLE_VA_ALWAYS_VALID: pebble fetches
# http://NAME:18080/.well-known/acme-challenge/... (HTTP-01) or makes the
# TLS-ALPN-01 handshake on NAME:18443 (its httpPort/tlsPort, README.md:147-157)
# from its own address, and the edge logs each answer ("served key
# authentication").  PEBBLE_AUTHZREUSE=0 (wfe/wfe.go:99-107): every order is
# validated, none reuses an earlier authorization.
#
# The production profile (stand-ins, Debian Caddy 2.6) is deployed with
# AEGIS_TLS_MODE=acme and AEGIS_ACME_CA pointing at pebble.  Every hostname
# resolved to 127.0.0.1 must serve a certificate that chains to pebble's
# issuing CA (its root and intermediate from the management endpoint /roots/0
# and /intermediates/0): a certificate from Caddy's internal CA, or none,
# fails.  Caddy's loaded configuration (its admin API, GET /config/ inside
# the pod's network namespace) has exactly one issuer per site, pebble: no
# Let's Encrypt or ZeroSSL beside it.  `validate` passes with
# EDGE_VERIFY_CA_FILE set to pebble's root, fails with another CA, and its
# JUnit report has a case for every row it prints.
#
# Then the same rendered Caddyfile, with the edge's environment, runs in the
# Caddy of trixie-backports (2.11, tests/podman/build-caddy-backports.sh, built
# by tests/run.sh from this script's test-images line), at a fixed address on
# the network: one issuer in its loaded configuration too, and pebble issues
# to it after validating the challenges against it, except for one name that
# challtestsrv points at an address where nothing answers the challenge (a
# broken route): pebble sets that authorization invalid and no certificate is
# served for it.
# Ports: edge 18080/18443, pebble's management endpoint 127.0.0.1:18150,
# challtestsrv's 127.0.0.1:18155, the newer Caddy's HTTPS 127.0.0.1:18543.
# test-images: caddy-backports
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(acme-deploy-production acme-no-internal-ca acme-certificate-from-pebble
	acme-challenges-validated acme-single-issuer-caddy-2.6
	acme-every-route-verified acme-validate-passes acme-validate-junit-edge-rows
	acme-validate-other-ca-fails acme-single-issuer-caddy-backports
	acme-issuance-caddy-backports acme-broken-route-fails)
require_rootful_podman
if ! out=$( { bash "$ROOT/tests/podman/build-caddy.sh" && bash "$ROOT/tests/podman/build-pebble.sh"; } 2>&1); then
	for n in "${names[@]}"; do fail "$n" "caddy or pebble image: $out"; done
	exit 0
fi
CADDY_TEST_IMAGE=localhost/aegis-test/caddy:latest
PEBBLE_TEST_IMAGE=localhost/aegis-test/pebble:latest
# built outside the tests' network namespace (it needs the package archive)
NEW_CADDY_IMAGE=localhost/aegis-test/caddy-backports:latest
HTTP_PORT=18080 HTTPS_PORT=18443 PEBBLE_MGMT_PORT=18150 DNS_MGMT_PORT=18155 NEW_HTTPS_PORT=18543
PEBBLE=aegis-test-pebble # container name = its hostname on the network
DNS=aegis-test-challtestsrv
NEW_CADDY=aegis-test-caddy-backports
NETWORK=aegis-network

podman_test_stack_before_cleanup() { podman rm -f -t 1 "$PEBBLE" "$DNS" "$NEW_CADDY" >/dev/null 2>&1; }
podman_test_stack

# pebble's own HTTPS (the ACME directory and the management endpoint): a
# test CA and a certificate for its hostname on the network
P=$TMP/pebble
mkdir -p "$P"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.pem" -days 2 \
	-subj "/CN=aegis test ACME directory CA" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$P/key.pem" -out "$P/req.csr" -subj "/CN=$PEBBLE" >/dev/null 2>&1
printf 'subjectAltName=DNS:%s\n' "$PEBBLE" >"$P/ext"
openssl x509 -req -in "$P/req.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
	-extfile "$P/ext" -out "$P/cert.pem" >/dev/null 2>&1
# httpPort/tlsPort: where pebble's VA connects for HTTP-01 and TLS-ALPN-01,
# the edge's own ports (Caddy listens on them inside the container too)
cat >"$P/pebble-config.json" <<JSON
{"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
 "certificate": "/etc/pebble/cert.pem", "privateKey": "/etc/pebble/key.pem",
 "httpPort": $HTTP_PORT, "tlsPort": $HTTPS_PORT, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON

ACME_CA_URL=https://$PEBBLE:14000/dir
{
	echo "CADDY_IMAGE=$CADDY_TEST_IMAGE"
	echo "EDGE_HTTP_PORT=$HTTP_PORT"
	echo "EDGE_HTTPS_PORT=$HTTPS_PORT"
	echo "SEAL_KEYS_DIR=$TMP/seal"
	echo "AEGIS_GENERATED_DIR=$TMP/generated"
	echo "AEGIS_NETWORK=$NETWORK"
	echo "AEGIS_TLS_MODE=acme"
	echo "AEGIS_ACME_EMAIL=ops@example.org"
	echo "AEGIS_ACME_CA=$ACME_CA_URL"
	echo "AEGIS_ACME_CA_ROOT=$P/ca.pem"
} >>"$ENV"
A() { aegis --env "$ENV" "$@"; }
domain=aegis.localhost
hosts=(api auth secrets grafana seal temporal jaeger prometheus)
fqdns=$(printf "%s.$domain " "${hosts[@]}")

A clean --yes >/dev/null 2>&1
podman rm -f -t 1 "$PEBBLE" "$DNS" "$NEW_CADDY" >/dev/null 2>&1
podman network exists "$NETWORK" || podman network create "$NETWORK" >/dev/null
ip_of() { podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1" 2>/dev/null; }
# challtestsrv: only its DNS server and management API (its own challenge
# servers off); no default answer for A or AAAA (pebble asks AAAA first,
# va/va.go:613-650, and the default ::1 would send it to itself), so a name
# resolves only once the test has added it (cmd/pebble-challtestsrv/main.go:55-70)
podman run -d --name "$DNS" --network "$NETWORK" -p "127.0.0.1:$DNS_MGMT_PORT:8055" \
	"$PEBBLE_TEST_IMAGE" /usr/bin/pebble-challtestsrv -defaultIPv4 "" -defaultIPv6 "" \
	-http01 "" -https01 "" -tlsalpn01 "" -dns01 :8053 -management :8055 >"$TMP/dns.out" 2>&1
dns_ip=$(ip_of "$DNS")
# pebble answers before the edge starts: Caddy's first order goes to it
podman run -d --name "$PEBBLE" --network "$NETWORK" -p "127.0.0.1:$PEBBLE_MGMT_PORT:15000" \
	-e PEBBLE_VA_NOSLEEP=1 -e PEBBLE_WFE_NONCEREJECT=0 -e PEBBLE_AUTHZREUSE=0 \
	-v "$P:/etc/pebble:ro" "$PEBBLE_TEST_IMAGE" \
	/usr/bin/pebble -config /etc/pebble/pebble-config.json -dnsserver "$dns_ip:8053" >"$TMP/pebble.out" 2>&1
pebble_ip=$(ip_of "$PEBBLE")
mgmt() { # path: GET from pebble's management endpoint, verified with the test CA
	curl -sS --max-time 5 --resolve "$PEBBLE:$PEBBLE_MGMT_PORT:127.0.0.1" --cacert "$P/ca.pem" \
		"https://$PEBBLE:$PEBBLE_MGMT_PORT$1"
}
for _ in $(seq 50); do mgmt /roots/0 >"$TMP/root.pem" 2>/dev/null && break; sleep 0.2; done

# point NAMES... at IP in challtestsrv's DNS (the names pebble validates)
point() {
	local ip=$1 h
	shift
	for h in "$@"; do
		curl -sS --max-time 5 -d "{\"host\":\"$h\"}" "http://127.0.0.1:$DNS_MGMT_PORT/clear-a" &&
			curl -sS --max-time 5 -d "{\"host\":\"$h\",\"addresses\":[\"$ip\"]}" "http://127.0.0.1:$DNS_MGMT_PORT/add-a" ||
			return 1
	done
}
# The edge's address exists only once deploy starts its pod: a watcher asks
# the test's Podman API every 20 ms for the address of pod-edge's infra
# container on the network (the pod's network namespace, set up before Caddy
# starts) and, as soon as there is one, points every name at it in
# challtestsrv, before Caddy's first challenge is validated.
watch_py='
import http.client, json, socket, sys, time, urllib.request
sock, network, mgmt, out, hosts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split()
class Unix(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sock)
def get(path):
    c = Unix("podman", timeout=2)
    try:
        c.request("GET", "/v4.0.0/libpod" + path)
        r = c.getresponse()
        body = r.read()
        return json.loads(body) if r.status == 200 else None
    except (OSError, ValueError):
        return None
    finally:
        c.close()
def edge_ip():
    pod = get("/pods/pod-edge/json")
    infra = pod and pod.get("InfraContainerID")
    ctr = infra and get("/containers/%s/json" % infra)
    nets = ((ctr or {}).get("NetworkSettings") or {}).get("Networks") or {}
    return (nets.get(network) or {}).get("IPAddress")
end = time.time() + 240
while time.time() < end:
    ip = edge_ip()
    if ip:
        for h in hosts:
            for path, body in (("clear-a", {"host": h}), ("add-a", {"host": h, "addresses": [ip]})):
                urllib.request.urlopen(mgmt + "/" + path, json.dumps(body).encode(), timeout=5).read()
        open(out, "w").write("%s %.3f\n" % (ip, time.time()))
        sys.exit(0)
    time.sleep(0.02)
sys.exit(1)
'
"$PY" -c "$watch_py" "$SOCK" "$NETWORK" "http://127.0.0.1:$DNS_MGMT_PORT" "$TMP/edge-ip" "$fqdns" \
	>"$TMP/watch.out" 2>&1 &
watcher=$!

A deploy --no-bootstrap --profile production --json --timeout 120 >"$TMP/deploy.json" 2>"$TMP/deploy.err"; rc=$?
if [ $rc -eq 0 ] && "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["result"]=="ok" and len(d["pods"])=='"$(profile_pods production)" "$TMP/deploy.json"; then
	pass acme-deploy-production
else
	fail acme-deploy-production "rc=$rc $(tail -8 "$TMP/deploy.err") pebble: $(cat "$TMP/pebble.out"; podman logs --tail 5 "$PEBBLE" 2>&1)"
fi
[ $rc -eq 0 ] || kill "$watcher" 2>/dev/null
wait "$watcher"
read -r edge_ip _ <"$TMP/edge-ip" 2>/dev/null || edge_ip=""

# acme mode has no CA of its own to export
if [ ! -e "$TMP/generated/edge-ca.crt" ]; then
	pass acme-no-internal-ca
else
	fail acme-no-internal-ca "edge-ca.crt exported in acme mode"
fi

mgmt /roots/0 >"$TMP/root.pem" 2>"$TMP/mgmt.err"
mgmt /intermediates/0 >"$TMP/intermediate.pem" 2>>"$TMP/mgmt.err"
served() { # host [port]: the leaf certificate served for it
	timeout 10 openssl s_client -connect "127.0.0.1:${2:-$HTTPS_PORT}" -servername "$1" </dev/null 2>/dev/null |
		openssl x509 2>/dev/null
}
issued() { # host [port]: the certificate served for host chains to pebble's root
	served "$@" >"$TMP/leaf.pem" && [ -s "$TMP/leaf.pem" ] &&
		openssl verify -CAfile "$TMP/root.pem" -untrusted "$TMP/intermediate.pem" "$TMP/leaf.pem" >/dev/null 2>&1
}
# Caddy orders the certificates once it runs: wait for all of them.  Should
# its first orders have been validated before the watcher pointed the names
# at it (a lost race), Caddy would only retry a minute later: then restart
# its container (same pod, same address) once so that it orders again now.
all_issued() {
	local h
	for h in "${hosts[@]}"; do issued "$h.$domain" || return 1; done
}
for _ in $(seq 40); do all_issued && break; sleep 0.5; done
if ! all_issued && [ -n "$edge_ip" ]; then
	echo "note: not every certificate after 20 s (the edge's first orders ran before its names resolved?); restarting pod-edge-caddy once"
	podman restart -t 2 pod-edge-caddy >/dev/null 2>&1
	for _ in $(seq 60); do all_issued && break; sleep 0.5; done
fi
served "api.$domain" >"$TMP/api.pem"
issuer=$(openssl x509 -in "$TMP/api.pem" -noout -issuer -nameopt RFC2253 2>/dev/null | sed 's/^issuer=//')
inter=$(openssl x509 -in "$TMP/intermediate.pem" -noout -subject -nameopt RFC2253 2>/dev/null | sed 's/^subject=//')
if [ -s "$TMP/api.pem" ] && [ -n "$inter" ] && [ "$issuer" = "$inter" ] &&
	openssl verify -CAfile "$TMP/root.pem" -untrusted "$TMP/intermediate.pem" "$TMP/api.pem" >/dev/null 2>&1 &&
	! grep -qi 'Caddy Local Authority' <<<"$issuer"; then
	pass acme-certificate-from-pebble
else
	fail acme-certificate-from-pebble "issuer '$issuer', pebble's intermediate '$inter' $(cat "$TMP/mgmt.err") $(podman logs --tail 10 pod-edge-caddy 2>&1 | cut -c1-300)"
fi

# The challenges really ran: pebble asked challtestsrv, connected to the
# edge's address and got each name's key authorization from the edge
# (certmagic logs "served key authentication" for HTTP-01 with the
# identifier, "served key authentication certificate" for TLS-ALPN-01 with the
# server_name, and the remote address: pebble's).
podman logs pod-edge-caddy >"$TMP/edge.log" 2>&1
podman logs "$PEBBLE" >"$TMP/pebble.log" 2>&1
challenges_py='
import json, sys
log, pebble_log, remote, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
served = {}
for line in open(log, errors="replace"):
    try:
        e = json.loads(line[line.index("{"):])
    except ValueError:
        continue
    if not str(e.get("msg", "")).startswith("served key authentication"):
        continue
    name = e.get("identifier") or e.get("server_name")
    if str(e.get("remote", "")).rsplit(":", 1)[0] == remote:
        served.setdefault(name, set()).add(e.get("challenge"))
missing = [n for n in names if n not in served]
p = open(pebble_log, errors="replace").read()
bad = [w for w in ("Skipping real validation", "always returns valid") if w in p]
dns = sys.argv[5] if len(sys.argv) > 5 else ""
assert not dns or "Using custom DNS resolver for ACME challenges: " + dns in p, "pebble does not use " + dns
valid = p.count(" set VALID by completed challenge ")
assert not missing and not bad and valid >= len(names), (missing, bad, valid)
print("ok " + " ".join(sorted(c for s in served.values() for c in s)))
'
out=$("$PY" -c "$challenges_py" "$TMP/edge.log" "$TMP/pebble.log" "$pebble_ip" "$fqdns" "$dns_ip:8053" 2>&1)
if [ -n "$edge_ip" ] && [ "${out%% *}" = ok ]; then
	pass acme-challenges-validated
else
	fail acme-challenges-validated "edge at '$edge_ip' ($(cat "$TMP/watch.out")), pebble at $pebble_ip: $(tail -n 1 <<<"$out") pebble: $(grep -E 'VALID|Attempting|DNS' "$TMP/pebble.log" | tail -n 5)"
fi

# Caddy's loaded configuration: one issuer for every site, pebble, with the
# mounted root; a policy with two (Caddy's defaults, Let's Encrypt and
# ZeroSSL, or ZeroSSL beside a global acme_ca) or a site without a policy of
# its own (the defaults apply) fails.  Read from the admin API
# (localhost:2019) in the edge's network namespace, with the wget of the
# newer Caddy's image (the 2.6 image has none).
issuer_py='
import json, sys
cfg = json.load(open(sys.argv[1]))
ca, root, hosts = sys.argv[2], sys.argv[3], sys.argv[4].split()
pols = (((cfg.get("apps") or {}).get("tls") or {}).get("automation") or {}).get("policies") or []
assert pols, "no automation policy: the default issuers of Caddy (Lets Encrypt, ZeroSSL) apply"
covered = set()
for p in pols:
    iss = p.get("issuers") or []
    assert len(iss) == 1, "policy %s: %d issuers %s" % (p.get("subjects"), len(iss), iss)
    assert iss[0].get("module") == "acme" and iss[0].get("ca") == ca, iss[0]
    assert iss[0].get("trusted_roots_pem_files") == [root], iss[0]
    covered |= set(p.get("subjects") or [])
missing = [h for h in hosts if h not in covered]
assert not missing, "no policy of their own (Caddy default issuers): %s" % missing
print("ok")
'
admin_config() { # container: its Caddy's loaded configuration, read in the
	# container's network namespace (by path: Podman refuses
	# --network container: for a container of a pod)
	local pid
	pid=$(podman inspect -f '{{.State.Pid}}' "$1") && [ "${pid:-0}" -gt 0 ] &&
		podman run --rm --network "ns:/proc/$pid/ns/net" "$NEW_CADDY_IMAGE" \
			/bin/wget -qO- http://localhost:2019/config/
}
if podman image exists "$NEW_CADDY_IMAGE"; then
	admin_config pod-edge-caddy >"$TMP/config-2.6.json" 2>"$TMP/config-2.6.err"
	out=$("$PY" -c "$issuer_py" "$TMP/config-2.6.json" "$ACME_CA_URL" /etc/aegis-tls/acme-ca-root.pem "$fqdns" 2>&1)
else
	out="no image $NEW_CADDY_IMAGE (tests/run.sh builds it: # test-images: caddy-backports)"
fi
if [ "$out" = ok ]; then
	pass acme-single-issuer-caddy-2.6
else
	fail acme-single-issuer-caddy-2.6 "$(tail -n 1 <<<"$out") $(cat "$TMP/config-2.6.err" 2>/dev/null)"
fi

bad=""
for h in "${hosts[@]}"; do
	r=$(curl -s --max-time 5 --resolve "$h.$domain:$HTTPS_PORT:127.0.0.1" --cacert "$TMP/root.pem" \
		-o /dev/null -w '%{http_code}' "https://$h.$domain:$HTTPS_PORT$(edge_route_path "$h")" 2>&1)
	case "$r" in 200 | 401) ;; *) bad+=" $h:[$r]" ;; esac
	served "$h.$domain" >"$TMP/leaf.pem"
	openssl verify -CAfile "$TMP/root.pem" -untrusted "$TMP/intermediate.pem" "$TMP/leaf.pem" >/dev/null 2>&1 ||
		bad+=" $h:[not issued by pebble]"
done
if [ -z "$bad" ]; then pass acme-every-route-verified; else fail acme-every-route-verified "$bad"; fi

echo "EDGE_VERIFY_CA_FILE=$TMP/root.pem" >>"$ENV"
A validate --profile production --json >"$TMP/validate.json" 2>"$TMP/validate.err"; rc=$?
A validate --profile production --junit "$TMP/report.xml" >"$TMP/validate.out" 2>&1; rc2=$?
edge_ok='
import json, sys
d = json.load(open(sys.argv[1]))
rows = [r for r in d["platform"] if r["kind"] == "edge-route"]
assert len(rows) == 8 and all(r["ok"] for r in rows), rows
print("ok" if d["ok"] else "not ok: " + str([c for c in d["checks"] if not c["ok"]] + [r for r in d["platform"] if not r["ok"]]))
'
out=$("$PY" -c "$edge_ok" "$TMP/validate.json" 2>&1)
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && [ "$out" = ok ]; then
	pass acme-validate-passes
else
	fail acme-validate-passes "rc=$rc/$rc2 $out $(cat "$TMP/validate.err")"
fi

# the JUnit report: one case per row validate prints, edge routes included
junit_py='
import json, sys, xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().findall("./testsuite/testcase")
d = json.load(open(sys.argv[2]))
names = {c.get("name") for c in cases}
assert len(cases) == len(d["checks"]) + len(d["platform"]), (len(cases), len(d["checks"]), len(d["platform"]))
for r in d["platform"]:
    assert r["kind"] + ": " + r["check"] in names, r
assert sum(n.startswith("edge-route: https://") for n in names) == 8, names
assert sum(n.startswith("seal-key: ") for n in names) == 2, names
print("ok")
'
out=$("$PY" -c "$junit_py" "$TMP/report.xml" "$TMP/validate.json" 2>&1)
if [ "$out" = ok ]; then pass acme-validate-junit-edge-rows; else fail acme-validate-junit-edge-rows "$out"; fi

# verified against another CA (the directory's test CA), the routes fail
sed -i "s|^EDGE_VERIFY_CA_FILE=.*|EDGE_VERIFY_CA_FILE=$P/ca.pem|" "$ENV"
A validate --profile production --junit "$TMP/report2.xml" >"$TMP/validate2.out" 2>&1; rc=$?
if [ $rc -eq 1 ] && [ "$(grep -c 'edge-route.*FAIL' "$TMP/validate2.out")" = 8 ] &&
	[ "$(grep -c '<failure' "$TMP/report2.xml")" -ge 8 ]; then
	pass acme-validate-other-ca-fails
else
	fail acme-validate-other-ca-fails "rc=$rc $(tail -12 "$TMP/validate2.out")"
fi

# The newer Caddy (trixie-backports) with the edge's own Caddyfile and
# environment, at a fixed address on the network: every name but one points
# at it; the broken route's name points at challtestsrv, where nothing answers
# on the challenge ports, so that name's validation must fail.
podman exec pod-edge-caddy cat /etc/caddy/Caddyfile >"$TMP/Caddyfile" 2>"$TMP/new.err"
chmod 0600 "$TMP/Caddyfile"
podman inspect -f '{{range .Config.Env}}{{println .}}{{end}}' pod-edge-caddy 2>>"$TMP/new.err" |
	grep -E '^(ACME_EMAIL|ACME_CA|EDGE_HTTP_PORT|EDGE_HTTPS_PORT|XDG_DATA_HOME|XDG_CONFIG_HOME|HOME)=' >"$TMP/edge.env"
subnet=$(podman network inspect -f '{{range .Subnets}}{{.Subnet}}{{end}}' "$NETWORK")
new_ip=${subnet%.*/*}.250
broken=grafana.$domain
good=()
for h in "${hosts[@]}"; do [ "$h.$domain" = "$broken" ] || good+=("$h.$domain"); done
pebble_lines=$(podman logs "$PEBBLE" 2>&1 | wc -l)
if podman image exists "$NEW_CADDY_IMAGE" && [ -s "$TMP/Caddyfile" ] &&
	point "$new_ip" "${good[@]}" >>"$TMP/new.err" 2>&1 && point "$dns_ip" "$broken" >>"$TMP/new.err" 2>&1; then
	podman run -d --name "$NEW_CADDY" --network "$NETWORK" --ip "$new_ip" \
		-p "127.0.0.1:$NEW_HTTPS_PORT:$HTTPS_PORT" --env-file "$TMP/edge.env" \
		-v "$TMP/Caddyfile:/etc/caddy/Caddyfile:ro" -v "$P/ca.pem:/etc/aegis-tls/acme-ca-root.pem:ro" \
		"$NEW_CADDY_IMAGE" >>"$TMP/new.err" 2>&1
fi
new_version=$(podman exec "$NEW_CADDY" /usr/bin/caddy version 2>/dev/null | awk '{ print $1 }')
failed_py='
import json, sys
name, seen = sys.argv[2], set()
for line in open(sys.argv[1], errors="replace"):
    try:
        e = json.loads(line[line.index("{"):])
    except ValueError:
        continue
    if name in (e.get("identifier"), e.get("server_name")) or name in (e.get("identifiers") or []):
        if str(e.get("msg", "")).startswith("served key authentication"):
            seen.add("served")
        if e.get("level") == "error":
            seen.add(e.get("msg"))
assert "served" not in seen and ("challenge failed" in seen or "could not get certificate from issuer" in seen), seen
print("ok")
'
new_all() {
	local h
	for h in "${good[@]}"; do issued "$h" "$NEW_HTTPS_PORT" || return 1; done
	podman logs "$NEW_CADDY" >"$TMP/new.log" 2>&1
	"$PY" -c "$failed_py" "$TMP/new.log" "$broken" >/dev/null 2>&1
}
for _ in $(seq 90); do new_all && break; sleep 0.5; done
podman logs "$NEW_CADDY" >"$TMP/new.log" 2>&1
podman logs "$PEBBLE" 2>&1 | tail -n +"$((pebble_lines + 1))" >"$TMP/pebble-new.log"

admin_config "$NEW_CADDY" >"$TMP/config-new.json" 2>"$TMP/config-new.err"
out=$("$PY" -c "$issuer_py" "$TMP/config-new.json" "$ACME_CA_URL" /etc/aegis-tls/acme-ca-root.pem "$fqdns" 2>&1)
if [ -n "$new_version" ] && [ "$out" = ok ]; then
	pass acme-single-issuer-caddy-backports
else
	fail acme-single-issuer-caddy-backports "caddy '$new_version': $(tail -n 1 <<<"$out") $(cat "$TMP/config-new.err" "$TMP/new.err" 2>/dev/null | tail -n 3)"
fi

bad=""
for h in "${good[@]}"; do issued "$h" "$NEW_HTTPS_PORT" || bad+=" $h"; done
old_serial=$(openssl x509 -in "$TMP/api.pem" -noout -serial 2>/dev/null)
new_serial=$(served "api.$domain" "$NEW_HTTPS_PORT" | openssl x509 -noout -serial 2>/dev/null)
# (pebble-new.log: the lines since the newer Caddy started; pebble's choice of
# DNS server was checked above)
out=$("$PY" -c "$challenges_py" "$TMP/new.log" "$TMP/pebble-new.log" "$pebble_ip" "${good[*]}" 2>&1)
if [ -n "$new_version" ] && [ -z "$bad" ] && [ -n "$new_serial" ] && [ "$new_serial" != "$old_serial" ] &&
	[ "${out%% *}" = ok ]; then
	pass acme-issuance-caddy-backports
else
	fail acme-issuance-caddy-backports "caddy '$new_version' at $new_ip: not issued:${bad:- none} serials '$old_serial' '$new_serial' $(tail -n 1 <<<"$out") $(grep -E 'error' "$TMP/new.log" | tail -n 3 | cut -c1-300)"
fi

# the broken route: pebble could not validate it, so it issued nothing
out=$("$PY" -c "$failed_py" "$TMP/new.log" "$broken" 2>&1)
if [ -n "$new_version" ] && [ "$out" = ok ] && ! issued "$broken" "$NEW_HTTPS_PORT" &&
	grep -q ' set INVALID by completed challenge ' "$TMP/pebble-new.log"; then
	pass acme-broken-route-fails
else
	fail acme-broken-route-fails "$broken -> $dns_ip: $(tail -n 1 <<<"$out") pebble: $(grep -E 'INVALID|Attempting' "$TMP/pebble-new.log" | tail -n 3)"
fi
