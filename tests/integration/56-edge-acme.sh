#!/usr/bin/env bash
# The TLS edge in acme mode with real Podman, real Caddy and a real ACME
# server: pebble (the RFC 8555 test server, Debian's `pebble`,
# tests/podman/build-pebble.sh) runs in a container on the deployment network
# with PEBBLE_VA_ALWAYS_VALID=1 (no challenge has to reach the edge) and its
# own HTTPS certificate from a test CA made here, which Caddy trusts through
# AEGIS_ACME_CA_ROOT.  The production profile (stand-ins, Debian Caddy) is
# deployed with AEGIS_TLS_MODE=acme and AEGIS_ACME_CA pointing at pebble.
# Every hostname resolved to 127.0.0.1 must serve a certificate that chains
# to pebble's issuing CA (its root and intermediate from the management
# endpoint /roots/0 and /intermediates/0): a certificate from Caddy's
# internal CA, or none, fails.  `validate` passes with EDGE_VERIFY_CA_FILE
# set to pebble's root, fails with another CA, and its JUnit report has a
# case for every row it prints.
# Ports: edge 18080/18443, pebble's management endpoint 127.0.0.1:18150.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(acme-deploy-production acme-no-internal-ca acme-certificate-from-pebble
	acme-every-route-verified acme-validate-passes acme-validate-junit-edge-rows
	acme-validate-other-ca-fails)
require_rootful_podman
if ! out=$( { bash "$ROOT/tests/podman/build-caddy.sh" && bash "$ROOT/tests/podman/build-pebble.sh"; } 2>&1); then
	for n in "${names[@]}"; do fail "$n" "caddy or pebble image: $out"; done
	exit 0
fi
CADDY_TEST_IMAGE=localhost/aegis-test/caddy:latest
PEBBLE_TEST_IMAGE=localhost/aegis-test/pebble:latest
HTTP_PORT=18080 HTTPS_PORT=18443 PEBBLE_MGMT_PORT=18150
PEBBLE=aegis-test-pebble # container name = its hostname on the network
NETWORK=aegis-network

podman_test_stack_before_cleanup() { podman rm -f -t 1 "$PEBBLE" >/dev/null 2>&1; }
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
cat >"$P/pebble-config.json" <<JSON
{"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
 "certificate": "/etc/pebble/cert.pem", "privateKey": "/etc/pebble/key.pem",
 "httpPort": 5002, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON

{
	echo "CADDY_IMAGE=$CADDY_TEST_IMAGE"
	echo "EDGE_HTTP_PORT=$HTTP_PORT"
	echo "EDGE_HTTPS_PORT=$HTTPS_PORT"
	echo "SEAL_KEYS_DIR=$TMP/seal"
	echo "AEGIS_GENERATED_DIR=$TMP/generated"
	echo "AEGIS_NETWORK=$NETWORK"
	echo "AEGIS_TLS_MODE=acme"
	echo "AEGIS_ACME_EMAIL=ops@example.org"
	echo "AEGIS_ACME_CA=https://$PEBBLE:14000/dir"
	echo "AEGIS_ACME_CA_ROOT=$P/ca.pem"
} >>"$ENV"
A() { aegis --env "$ENV" "$@"; }
domain=aegis.localhost
hosts=(api auth secrets grafana seal temporal jaeger prometheus)

A clean --yes >/dev/null 2>&1
podman rm -f -t 1 "$PEBBLE" >/dev/null 2>&1
# pebble answers before the edge starts: Caddy's first order goes to it
podman network exists "$NETWORK" || podman network create "$NETWORK" >/dev/null
podman run -d --name "$PEBBLE" --network "$NETWORK" -p "127.0.0.1:$PEBBLE_MGMT_PORT:15000" \
	-e PEBBLE_VA_ALWAYS_VALID=1 -e PEBBLE_VA_NOSLEEP=1 -e PEBBLE_WFE_NONCEREJECT=0 \
	-v "$P:/etc/pebble:ro" "$PEBBLE_TEST_IMAGE" >"$TMP/pebble.out" 2>&1
mgmt() { # path: GET from pebble's management endpoint, verified with the test CA
	curl -sS --max-time 5 --resolve "$PEBBLE:$PEBBLE_MGMT_PORT:127.0.0.1" --cacert "$P/ca.pem" \
		"https://$PEBBLE:$PEBBLE_MGMT_PORT$1"
}
for _ in $(seq 50); do mgmt /roots/0 >"$TMP/root.pem" 2>/dev/null && break; sleep 0.2; done

A deploy --no-bootstrap --profile production --json --timeout 120 >"$TMP/deploy.json" 2>"$TMP/deploy.err"; rc=$?
if [ $rc -eq 0 ] && "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["result"]=="ok" and len(d["pods"])=='"$(profile_pods production)" "$TMP/deploy.json"; then
	pass acme-deploy-production
else
	fail acme-deploy-production "rc=$rc $(tail -8 "$TMP/deploy.err") pebble: $(cat "$TMP/pebble.out"; podman logs --tail 5 "$PEBBLE" 2>&1)"
fi

# acme mode has no CA of its own to export
if [ ! -e "$TMP/generated/edge-ca.crt" ]; then
	pass acme-no-internal-ca
else
	fail acme-no-internal-ca "edge-ca.crt exported in acme mode"
fi

mgmt /roots/0 >"$TMP/root.pem" 2>"$TMP/mgmt.err"
mgmt /intermediates/0 >"$TMP/intermediate.pem" 2>>"$TMP/mgmt.err"
served() { # host: the leaf certificate the edge serves for it
	timeout 10 openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -servername "$1" </dev/null 2>/dev/null |
		openssl x509 2>/dev/null
}
# Caddy orders the certificates once it runs: wait for the first one
for _ in $(seq 60); do
	curl -s --max-time 5 --resolve "api.$domain:$HTTPS_PORT:127.0.0.1" --cacert "$TMP/root.pem" \
		-o /dev/null "https://api.$domain:$HTTPS_PORT/" && break
	sleep 0.5
done
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

bad=""
for h in "${hosts[@]}"; do
	r=$(curl -s --max-time 5 --resolve "$h.$domain:$HTTPS_PORT:127.0.0.1" --cacert "$TMP/root.pem" \
		-o /dev/null -w '%{http_code}' "https://$h.$domain:$HTTPS_PORT/" 2>&1)
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
