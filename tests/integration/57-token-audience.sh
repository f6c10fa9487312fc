#!/usr/bin/env bash
# Tokens the services accept.  After `deploy --profile full` with an `init`
# .env (the demo's OpenBao and Keycloak test servers as stand-ins), a token
# from the Keycloak test server is checked the way each service's rendered
# configuration says:
#   core (aegis-orchestrator 59bc51e9, keycloak_iam_service.rs:493-617): the
#     realm whose issuer_url is the token's iss, the key of its kid from that
#     realm's jwks_uri, RS256, iss, aud contains audience, exp and nbf; then
#     (:433-471) an operator's aegis_role must be a role, a token with azp
#     and no aegis_role is a service account;
#   the SEAL gateway (aegis-seal-gateway c17803d5, jwks_validator.rs:143-190,
#     auth.rs:171-222): the key of its kid (kty RSA) from operator_jwks_uri,
#     RS256, operator_jwt_issuer, operator_jwt_audience, exp; then aegis_role
#     aegis:admin or aegis:operator.
# The JWKS is fetched from inside the pods' network (wget in pod-core's and
# pod-seal-gateway's containers) at the URL the configuration names; the
# signature is checked with openssl, not with the test server's own code.
# Tokens: the administrator's, signed in as the aegis CLI does (device
# authorisation grant, client aegis-cli: aegis-orchestrator
# cli/src/auth/device_flow.rs), the browser side at the verification URL on
# KEYCLOAK_PUBLIC_URL; and the Temporal worker's (client credentials, client
# aegis-temporal-worker).  Last, the worker's audience mapper is removed and
# its next token must fail core's check.
# test-images: demo
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(token-audience-deploy token-audience-operator-core token-audience-operator-gateway
	token-audience-worker-core token-audience-worker-not-operator token-audience-mapper-needed)
require_rootful_podman
podman_bootstrap_stack
# The stand-ins this tree just built, by their hash tags: an image build of
# another checkout (the runner builds before it takes the test lock) may
# move :latest before the deploy.
for v in OPENBAO_IMAGE KEYCLOAK_IMAGE; do
	img=$(sed -n "s/^$v=//p" "$ENV" | tail -n 1)
	echo "$v=${img%:*}:h-$(podman image inspect --format '{{index .Labels "aegis.build.hash"}}' "$img")" >>"$ENV"
done
A() { "$AEGIS_BIN" --root "$ROOT" --env "$ENV" "$@"; }
value() { A config --profile full --json | "$PY" -c 'import json,sys; print(next(v["value"] for v in json.load(sys.stdin)["variables"] if v["name"]==sys.argv[1]))' "$1"; }

t0=$(date +%s)
A deploy --profile full --timeout 240 --json >"$TMP/deploy.json" 2>"$TMP/deploy.err"; rc=$?
echo "   deploy full: $(($(date +%s) - t0)) s"
if [ $rc -eq 0 ]; then
	pass token-audience-deploy
else
	fail token-audience-deploy "rc=$rc $(tail -5 "$TMP/deploy.err")"
	exit 0
fi

# What core and the gateway check, from their rendered configurations.
A render --profile full --pod core >"$TMP/core.yaml" 2>&1
A render --profile full --pod seal-gateway >"$TMP/gateway.yaml" 2>&1
"$PY" - "$TMP" <<'EOF' >"$TMP/checks.json" 2>"$TMP/checks.err"
import json, sys, yaml
tmp = sys.argv[1]
def config(path, key):
    for doc in yaml.safe_load_all(open(path)):
        if doc and doc.get("kind") == "ConfigMap" and key in (doc.get("data") or {}):
            return yaml.safe_load(doc["data"][key])
    raise SystemExit("%s: no ConfigMap with %s" % (path, key))
core = config(tmp + "/core.yaml", "aegis-config.yaml")["spec"]["iam"]["realms"][0]
auth = config(tmp + "/gateway.yaml", "seal-gateway-config.yaml")["spec"]["auth"]
json.dump({"core": {"issuer": core["issuer_url"], "audience": core["audience"], "jwks": core["jwks_uri"]},
           "gateway": {"issuer": auth["operator_jwt_issuer"], "audience": auth["operator_jwt_audience"],
                       "jwks": auth["operator_jwks_uri"]}}, sys.stdout)
EOF
check_field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' "$TMP/checks.json" "$1" "$2"; }

# The JWKS each service would fetch, from inside its own pod.
# (bounded by timeout here: busybox-static 1.35's wget -T segfaults)
fetch_jwks() { # SERVICE CONTAINER
	timeout 20 podman exec "$2" /bin/busybox wget -q -O - "$(check_field "$1" jwks)" >"$TMP/$1.jwks" 2>"$TMP/$1.jwks.err" ||
		echo "wget in $2 exited $?" >>"$TMP/$1.jwks.err"
}
fetch_jwks core pod-core-aegis-runtime
fetch_jwks gateway pod-seal-gateway-seal-gateway

kc=$(value KEYCLOAK_PORT)
KC=http://127.0.0.1:$kc
admin_user=$(value KEYCLOAK_ADMIN)
# secrets from the .env itself (config --json does not show their values)
envval() { sed -n "s/^$1=//p" "$ENV" | tail -n 1; }
( umask 077
  printf 'grant_type=password&client_id=admin-cli&username=%s&password=%s' "$admin_user" "$(envval KEYCLOAK_ADMIN_PASSWORD)" >"$TMP/admin.form"
  printf 'grant_type=client_credentials&client_id=aegis-temporal-worker&client_secret=%s' "$(envval TEMPORAL_WORKER_CLIENT_SECRET)" >"$TMP/worker.form"
  "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["aegis-system"]["aegis-admin"], end="")' \
	"$TMP/generated/keycloak-passwords.json" >"$TMP/operator.pw" )
token() { # FORM-FILE REALM -> the access token on stdout
	curl -s --max-time 10 -d @"$1" "$KC/realms/$2/protocol/openid-connect/token" |
		"$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("access_token") or d, end="")'
}
admin_call() { # METHOD PATH [JSON]
	local t
	t=$(token "$TMP/admin.form" master)
	( umask 077; printf 'Authorization: Bearer %s\n' "$t" >"$TMP/admin.hdr" )
	curl -s --max-time 10 -X "$1" -H @"$TMP/admin.hdr" -H 'Content-Type: application/json' \
		${3:+--data "$3"} "$KC/admin/realms/aegis-system$2"
}
client_uuid() { admin_call GET "/clients?clientId=$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }

# verify SERVICE TOKEN: exit 0 when SERVICE would accept it; prints why not.
verify() {
	local dir=$TMP/verify-$1-$RANDOM
	mkdir -p "$dir"
	printf '%s' "$2" >"$dir/token"
	"$PY" - "$1" "$dir" "$TMP/checks.json" "$TMP/$1.jwks" <<'EOF' || return 1
import base64, json, sys, time
service, d, checks, jwks = sys.argv[1:]
want = json.load(open(checks))[service]
def b64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
h, p, s = open(d + "/token").read().split(".")
header, claims = json.loads(b64(h)), json.loads(b64(p))
def no(why):
    print("%s refuses: %s (claims %s)" % (service, why, json.dumps(claims, sort_keys=True)))
    sys.exit(1)
if header.get("alg") != "RS256":
    no("alg %s" % header.get("alg"))
keys = [k for k in json.load(open(jwks))["keys"] if k.get("kid") == header.get("kid") and k.get("kty") == "RSA"]
if not header.get("kid") or not keys:
    no("no RSA key with kid %s at %s" % (header.get("kid"), want["jwks"]))
if claims.get("iss") != want["issuer"]:
    no("iss %s, not %s" % (claims.get("iss"), want["issuer"]))
aud = claims.get("aud")
aud = [aud] if isinstance(aud, str) else (aud or [])
if want["audience"] not in aud:
    no("aud %s lacks %s" % (aud, want["audience"]))
now = time.time()
if claims.get("exp", 0) <= now - 60 or claims.get("nbf", 0) > now + 60:
    no("exp/nbf")
role = claims.get("aegis_role")
if service == "gateway" and role not in ("aegis:admin", "aegis:operator"):
    no("aegis_role %s" % role)
if service == "core" and role is None and not claims.get("azp"):
    no("no aegis_role and no azp")
if service == "core" and role is not None and role not in ("aegis:admin", "aegis:operator", "aegis:readonly"):
    no("aegis_role %s" % role)
# the signature, for openssl: the key as an ASN.1 RSAPublicKey, the signed bytes, the signature
n, e = (int.from_bytes(b64(keys[0][x]), "big") for x in ("n", "e"))
open(d + "/key.conf", "w").write("asn1=SEQUENCE:k\n[k]\nn=INTEGER:0x%X\ne=INTEGER:0x%X\n" % (n, e))
open(d + "/signed", "w").write(h + "." + p)
open(d + "/sig", "wb").write(b64(s))
EOF
	openssl asn1parse -genconf "$dir/key.conf" -out "$dir/key.der" >/dev/null 2>&1 &&
		openssl rsa -RSAPublicKey_in -inform DER -in "$dir/key.der" -pubout -out "$dir/key.pem" 2>/dev/null &&
		openssl dgst -sha256 -verify "$dir/key.pem" -signature "$dir/sig" "$dir/signed" >/dev/null 2>&1 ||
		{ echo "$1 refuses: the signature does not verify with the key from $(check_field "$1" jwks)"; return 1; }
}
claim() { "$PY" -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; print(json.dumps(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4))).get(sys.argv[2])))' "$1" "$2"; }

# The operator: the device authorisation grant of aegis-cli.  The browser
# side goes to KEYCLOAK_PUBLIC_URL, resolved to loopback as on this host.
public=$(value KEYCLOAK_PUBLIC_URL)
resolve="$(printf '%s' "$public" | sed -E 's#^[a-z]+://([^:/]+).*#\1#'):$kc:127.0.0.1"
field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2"; }
curl -s --max-time 10 -d client_id=aegis-cli "$KC/realms/aegis-system/protocol/openid-connect/auth/device" >"$TMP/device.json"
curl -s --max-time 10 --resolve "$resolve" "$(field "$TMP/device.json" verification_uri_complete)" >"$TMP/device-login.html"
action=$(sed -n 's/.*<form[^>]* action="\([^"]*\)".*/\1/p' "$TMP/device-login.html" | sed 's/&amp;/\&/g')
curl -s --max-time 10 --resolve "$resolve" --data-urlencode username=aegis-admin \
	--data-urlencode "password@$TMP/operator.pw" "$action" >"$TMP/device-done.html"
( umask 077; printf 'grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Adevice_code&client_id=aegis-cli&device_code=%s' \
	"$(field "$TMP/device.json" device_code)" >"$TMP/operator.form" )
operator=$(token "$TMP/operator.form" aegis-system)
grep -q 'Device Login Successful' "$TMP/device-done.html" ||
	echo "   device login: $(head -c 300 "$TMP/device.json") $(grep -o 'kc-error-message.*' "$TMP/device-login.html" "$TMP/device-done.html" | head -2)"
why=$(verify core "$operator") && [ "$(claim "$operator" azp)" = '"aegis-cli"' ] &&
	pass token-audience-operator-core || fail token-audience-operator-core "$why $(cat "$TMP/core.jwks.err" 2>/dev/null)"
why=$(verify gateway "$operator") && pass token-audience-operator-gateway ||
	fail token-audience-operator-gateway "$why $(cat "$TMP/gateway.jwks.err" 2>/dev/null)"

# The Temporal worker: client credentials; core takes it for a service
# account (azp, no aegis_role); the gateway refuses it (no operator role).
worker=$(token "$TMP/worker.form" aegis-system)
why=$(verify core "$worker") && [ "$(claim "$worker" azp)" = '"aegis-temporal-worker"' ] &&
	[ "$(claim "$worker" aegis_role)" = null ] &&
	pass token-audience-worker-core || fail token-audience-worker-core "$why"
why=$(verify gateway "$worker") && fail token-audience-worker-not-operator "the gateway would take the worker for an operator" ||
	pass token-audience-worker-not-operator

# Without its audience mapper the worker's token no longer names core.
worker_id=$(client_uuid aegis-temporal-worker)
mapper=$(admin_call GET "/clients/$worker_id/protocol-mappers/models" |
	"$PY" -c 'import json,sys; print(next(m["id"] for m in json.load(sys.stdin) if m["protocolMapper"]=="oidc-audience-mapper"))')
admin_call DELETE "/clients/$worker_id/protocol-mappers/models/$mapper" >/dev/null
worker=$(token "$TMP/worker.form" aegis-system)
why=$(verify core "$worker") && fail token-audience-mapper-needed "core accepts a token without its audience: $(claim "$worker" aud)" ||
	{ [[ "$why" == *"lacks aegis-orchestrator"* ]] && pass token-audience-mapper-needed || fail token-audience-mapper-needed "$why"; }
