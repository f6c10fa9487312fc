#!/usr/bin/env bash
# The TLS edge with real Podman, real Caddy and real TLS: the production
# profile (the eight pods as stand-ins, pod-edge running the machine's Debian
# Caddy, tests/podman/build-caddy.sh) deployed on the isolated test Podman.
# Every public hostname is resolved to 127.0.0.1 (curl --resolve) and
# verified against the CA exported from the edge (--cacert): the stand-in
# answers through Caddy; the UIs without a login answer 401 without
# credentials; plain HTTP redirects to HTTPS.  The library's own checks
# (edgecheck, sealkeys; tests/podman/edge-probe.c) run too, and the SEAL
# keys inside pod-core and pod-seal-gateway must match generate-keys, also
# when read from their environment (AEGIS_SEAL_PRIVATE_KEY,
# SEAL_GATEWAY_SEAL_JWT_PUBLIC_KEY_PEM).  The CA is exported by `deploy --no-bootstrap`
# itself, not by the bootstrap.
# Edge ports 18080/18443 (EDGE_HTTP_PORT/EDGE_HTTPS_PORT) keep 80/443 free.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(edge-deploy-production edge-seal-keys-generated edge-ca-exported edge-https-every-route
	edge-untrusted-without-ca edge-basic-auth-401 edge-basic-auth-credentials edge-http-redirects
	edge-checks-pass edge-seal-keys-match edge-seal-key-env-path edge-seal-key-mismatch-detected)
require_rootful_podman
PROBE=$ROOT/build/asan/tests/edge-probe
if ! out=$(bash "$ROOT/tests/podman/build-caddy.sh" 2>&1) || [ ! -x "$PROBE" ]; then
	for n in "${names[@]}"; do fail "$n" "caddy image or $PROBE: $out"; done
	exit 0
fi
CADDY_TEST_IMAGE=localhost/aegis-test/caddy:latest
HTTP_PORT=18080 HTTPS_PORT=18443

podman_test_stack
{
	echo "CADDY_IMAGE=$CADDY_TEST_IMAGE"
	echo "EDGE_HTTP_PORT=$HTTP_PORT"
	echo "EDGE_HTTPS_PORT=$HTTPS_PORT"
	echo "SEAL_KEYS_DIR=$TMP/seal"
	echo "AEGIS_GENERATED_DIR=$TMP/generated"
} >>"$ENV"
A() { aegis --env "$ENV" "$@"; }
probe() { "$PROBE" "$ROOT" "$ENV" production "$1"; }
domain=aegis.localhost
public=(api auth secrets grafana seal)
protected=(temporal jaeger prometheus)

A clean --yes >/dev/null 2>&1
PROD=$(profile_pods production)
A deploy --no-bootstrap --profile production --json --timeout 120 >"$TMP/deploy.json" 2>"$TMP/deploy.err"; rc=$?
if [ $rc -eq 0 ] && "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["result"]=="ok" and len(d["pods"])=='"$PROD"' and any(p["name"]=="edge" for p in d["pods"])' "$TMP/deploy.json"; then
	pass edge-deploy-production
else
	fail edge-deploy-production "rc=$rc $(tail -8 "$TMP/deploy.err")"
fi

# deploy generated the SEAL keypair the pods mount
if [ "$(stat -c %a "$TMP/seal/private.pem" 2>/dev/null)" = 600 ] && [ -f "$TMP/seal/public.pem" ]; then
	pass edge-seal-keys-generated
else
	fail edge-seal-keys-generated "$(ls -la "$TMP/seal" 2>&1)"
fi

# exported by the deploy (no bootstrap ran), the same as on the edge's volume
CA=$TMP/generated/edge-ca.crt
cp "$CA" "$TMP/deployed-ca.crt" 2>/dev/null
out=$(probe export-ca 2>&1); rc=$?
if [ -s "$TMP/deployed-ca.crt" ] && [ $rc -eq 0 ] && cmp -s "$CA" "$TMP/deployed-ca.crt" &&
	openssl x509 -in "$CA" -noout -subject 2>/dev/null | grep -q 'Caddy Local Authority'; then
	pass edge-ca-exported
else
	fail edge-ca-exported "after deploy: $(ls -la "$TMP/generated" 2>&1); probe rc=$rc $out"
fi

get() { # host [curl options...]: the status of https://host/PATH, PATH one
	# its upstream answers with 200 (edge_route_path)
	local h=$1.$domain path
	path=$(edge_route_path "$1")
	shift
	curl -sS --max-time 5 --resolve "$h:$HTTPS_PORT:127.0.0.1" --cacert "$CA" -o /dev/null -w '%{http_code}' "$@" "https://$h:$HTTPS_PORT$path" 2>&1
}
bad=""
for h in "${public[@]}"; do
	r=$(get "$h"); [ "$r" = 200 ] || bad+=" $h:[$r]"
done
if [ -z "$bad" ]; then pass edge-https-every-route; else fail edge-https-every-route "$bad"; fi

# without the exported CA the certificate does not verify
curl -sS --max-time 5 --resolve "api.$domain:$HTTPS_PORT:127.0.0.1" "https://api.$domain:$HTTPS_PORT/" >"$TMP/untrusted.out" 2>&1; rc=$?
if [ $rc -eq 60 ]; then pass edge-untrusted-without-ca; else fail edge-untrusted-without-ca "curl rc=$rc $(cat "$TMP/untrusted.out")"; fi

bad=""
for h in "${protected[@]}"; do
	r=$(get "$h"); [ "$r" = 401 ] || bad+=" $h:[$r]"
done
if [ -z "$bad" ]; then pass edge-basic-auth-401; else fail edge-basic-auth-401 "$bad"; fi

# the generated password (from a curl config file: never in argv)
pw=$(grep '^EDGE_BASIC_AUTH_PASSWORD=' "$ENV" | cut -d= -f2-)
umask 077
printf 'user = "aegis:%s"\n' "$pw" >"$TMP/curl-auth"
bad=""
for h in "${protected[@]}"; do
	r=$(get "$h" -K "$TMP/curl-auth"); [ "$r" = 200 ] || bad+=" $h:[$r]"
done
rendered=$(A render --profile production --pod edge 2>&1)
if [ -z "$bad" ] && ! grep -qF "$pw" <<<"$rendered" && grep -q 'basicauth' <<<"$rendered"; then
	pass edge-basic-auth-credentials
else
	fail edge-basic-auth-credentials "$bad (or the password is in the manifest)"
fi

bad=""
for h in "${public[@]}" "${protected[@]}"; do
	r=$(curl -sS --max-time 5 --resolve "$h.$domain:$HTTP_PORT:127.0.0.1" -o /dev/null -w '%{http_code} %{redirect_url}' "http://$h.$domain:$HTTP_PORT/x" 2>&1)
	case "$r" in 30[178]\ https://$h.$domain/x) ;; *) bad+=" $h:[$r]" ;; esac
done
if [ -z "$bad" ]; then pass edge-http-redirects; else fail edge-http-redirects "$bad"; fi

out=$(probe routes 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c '^route .* ok ' <<<"$out")" = 8 ]; then
	pass edge-checks-pass
else
	fail edge-checks-pass "rc=$rc $out"
fi

want=$(A generate-keys --dir "$TMP/seal" 2>&1 | sed -n 's/^ *jwt fingerprint: *//p')
out=$(probe seal-keys 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -n "$want" ] && [ "$(grep -c "^seal-key .* ok $want" <<<"$out")" = 2 ] &&
	grep -q "^seal-key core env:AEGIS_SEAL_PRIVATE_KEY ok" <<<"$out" &&
	grep -q "^seal-key seal-gateway env:SEAL_GATEWAY_SEAL_JWT_PUBLIC_KEY_PEM ok" <<<"$out"; then
	pass edge-seal-keys-match
else
	fail edge-seal-keys-match "rc=$rc want=$want $out"
fi

# the key in the container's environment (the images read it there),
# fingerprinted here (SHA-256 of the DER public key, as generate-keys prints it)
key_at_env_path() { # container variable openssl-pkey-options...
	local ctr=$1 var=$2; shift 2
	podman exec "$ctr" /bin/sh -c "printf '%s' \"\$$var\"" 2>/dev/null |
		openssl pkey "$@" -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1
}
core_fp=SHA256:$(key_at_env_path pod-core-aegis-runtime AEGIS_SEAL_PRIVATE_KEY -pubout)
gw_fp=SHA256:$(key_at_env_path pod-seal-gateway-seal-gateway SEAL_GATEWAY_SEAL_JWT_PUBLIC_KEY_PEM -pubin)
if [ -n "$want" ] && [ "$core_fp" = "$want" ] && [ "$gw_fp" = "$want" ]; then
	pass edge-seal-key-env-path
else
	fail edge-seal-key-env-path "want $want, core $core_fp, seal-gateway $gw_fp"
fi

# a new keypair on the host: the running pods still hold the old one
A generate-keys --force --dir "$TMP/seal" >/dev/null 2>&1
out=$(probe seal-keys 2>&1); rc=$?
if [ $rc -eq 1 ] && [ "$(grep -c '^seal-key .* FAIL .*not the keypair' <<<"$out")" = 2 ]; then
	pass edge-seal-key-mismatch-detected
else
	fail edge-seal-key-mismatch-detected "rc=$rc $out"
fi
