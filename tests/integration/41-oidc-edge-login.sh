#!/usr/bin/env bash
# OpenBao's UI login through the edge, as a browser on this host does it:
# `deploy --profile production` (an `init` .env; the demo's OpenBao and
# Keycloak test servers, pod-edge running the machine's Debian Caddy,
# tests/podman/build-caddy.sh) with every bootstrap step, OpenBao's OIDC
# configuration included (its discovery check on, against
# https://auth.<domain> through the edge with the edge's CA).  Then, with
# every public name resolved to 127.0.0.1 and the edge's exported CA:
#   https://secrets.<domain>  POST /v1/auth/oidc/oidc/auth_url (role
#       platform-admin, the UI's callback on OPENBAO_PUBLIC_URL)
#   https://auth.<domain>     the Keycloak login page it points at, the form
#       posted as aegis-admin: a redirect to that callback with state and code
#   https://secrets.<domain>  GET /v1/auth/oidc/oidc/callback: OpenBao
#       exchanges the code at Keycloak (from pod-secrets, through the edge)
#       and answers a token carrying the admin policy.
# Edge ports 18080/18443 (EDGE_HTTP_PORT/EDGE_HTTPS_PORT) keep 80/443 free.
# test-images: demo
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(oidc-edge-deploy oidc-edge-only-edge-beyond-loopback oidc-edge-auth-url oidc-edge-keycloak-login oidc-edge-openbao-token)
require_rootful_podman
if ! out=$(bash "$ROOT/tests/podman/build-caddy.sh" 2>&1); then
	skip_all "caddy image: $(printf '%s' "$out" | tail -n 2)"
fi
HTTP_PORT=18080 HTTPS_PORT=18443
podman_bootstrap_stack
# The stand-ins this tree just built, by their hash tags (see 57).
for v in OPENBAO_IMAGE KEYCLOAK_IMAGE; do
	img=$(sed -n "s/^$v=//p" "$ENV" | tail -n 1)
	echo "$v=${img%:*}:h-$(podman image inspect --format '{{index .Labels "aegis.build.hash"}}' "$img")" >>"$ENV"
done
{
	echo "CADDY_IMAGE=localhost/aegis-test/caddy:latest"
	echo "EDGE_HTTP_PORT=$HTTP_PORT"
	echo "EDGE_HTTPS_PORT=$HTTPS_PORT"
} >>"$ENV"
A() { "$AEGIS_BIN" --root "$ROOT" --env "$ENV" "$@"; }
value() { A config --profile production --json | "$PY" -c 'import json,sys; print(next(v["value"] for v in json.load(sys.stdin)["variables"] if v["name"]==sys.argv[1]))' "$1"; }

t0=$(date +%s)
A deploy --profile production --timeout 240 --json >"$TMP/deploy.json" 2>"$TMP/deploy.err"; rc=$?
echo "   deploy production: $(($(date +%s) - t0)) s"
pending=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(1 for s in d.get("bootstrap", {}).get("services", {}).values() for i in s if i.get("result") == "skipped"))' "$TMP/deploy.json" 2>&1)
if [ $rc -eq 0 ] && [ "$pending" = 0 ]; then
	pass oidc-edge-deploy
else
	fail oidc-edge-deploy "rc=$rc skipped=$pending $(tail -5 "$TMP/deploy.err")"
	exit 0
fi

# Only the edge is published beyond 127.0.0.1: every other pod's host ports
# are on loopback (the *_BIND_ADDRESS defaults), the edge's on every address.
beyond=""
for pod in $(podman pod ls --format '{{.Name}}'); do
	binds=$(podman pod inspect "$pod" --format '{{json .InfraConfig.PortBindings}}' 2>/dev/null)
	wide=$(printf '%s' "$binds" | "$PY" -c '
import json, sys
d = json.loads(sys.stdin.read() or "null") or {}
print(" ".join(sorted("%s:%s" % (b.get("HostIp") or "*", b.get("HostPort")) for v in d.values() for b in v or [] if (b.get("HostIp") or "") != "127.0.0.1")))' 2>&1)
	[ -n "$wide" ] && beyond+=" $pod=$wide"
done
if [[ "$beyond" == " pod-edge="*"$HTTP_PORT"*"$HTTPS_PORT"* ]] && [[ "$beyond" != *" pod-"*" pod-"* ]]; then
	pass oidc-edge-only-edge-beyond-loopback
else
	fail oidc-edge-only-edge-beyond-loopback "published beyond 127.0.0.1:${beyond:- nothing}"
fi

domain=aegis.localhost
CA=$TMP/generated/edge-ca.crt
R=(--max-time 15 --cacert "$CA" --resolve "secrets.$domain:$HTTPS_PORT:127.0.0.1" --resolve "auth.$domain:$HTTPS_PORT:127.0.0.1")
S=https://secrets.$domain:$HTTPS_PORT
callback=$(value OPENBAO_PUBLIC_URL)/ui/vault/auth/oidc/oidc/callback
field() { "$PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d.get(k) if isinstance(d, dict) else None
print("" if d is None else (json.dumps(d) if isinstance(d, (list, dict)) else d))' "$1" "$2" 2>/dev/null; }

curl -s "${R[@]}" -X POST -d "{\"role\":\"platform-admin\",\"redirect_uri\":\"$callback\"}" "$S/v1/auth/oidc/oidc/auth_url" >"$TMP/auth_url.json"
auth_url=$(field "$TMP/auth_url.json" data.auth_url)
if [[ "$auth_url" == "https://auth.$domain:$HTTPS_PORT/realms/aegis-system/protocol/openid-connect/auth?"* ]]; then
	pass oidc-edge-auth-url
else
	fail oidc-edge-auth-url "callback=$callback answer: $(head -c 400 "$TMP/auth_url.json")"
	exit 0
fi

# The login page through the edge, then the form as aegis-admin (the
# password from a file: never in argv).
"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["aegis-system"]["aegis-admin"], end="")' \
	"$TMP/generated/keycloak-passwords.json" >"$TMP/admin.pw"
chmod 600 "$TMP/admin.pw"
curl -s "${R[@]}" "$auth_url" >"$TMP/login.html"
action=$(sed -n 's/.*<form[^>]* action="\([^"]*\)".*/\1/p' "$TMP/login.html" | sed 's/&amp;/\&/g')
curl -s "${R[@]}" -o /dev/null -w '%{http_code} %{redirect_url}' --data-urlencode username=aegis-admin \
	--data-urlencode "password@$TMP/admin.pw" "$action" >"$TMP/login.out" 2>&1
read -r status location <"$TMP/login.out"
if [ "$status" = 302 ] && [[ "$location" == "$callback?"*"code="* ]]; then
	pass oidc-edge-keycloak-login
else
	fail oidc-edge-keycloak-login "form action '$action': $(cat "$TMP/login.out") $(grep -o 'kc-error-message.*\|input-error.*' "$TMP/login.html" | head -2)"
	exit 0
fi

# The UI hands state and code to OpenBao's callback endpoint.
query=${location#*\?}
curl -s "${R[@]}" "$S/v1/auth/oidc/oidc/callback?$query" >"$TMP/callback.json"
token=$(field "$TMP/callback.json" auth.client_token)
policies=$(field "$TMP/callback.json" auth.policies)
( umask 077; printf 'X-Vault-Token: %s\n' "$token" >"$TMP/token.hdr" )
self=$(curl -s "${R[@]}" -H @"$TMP/token.hdr" "$S/v1/auth/token/lookup-self" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["data"]["policies"])' 2>&1)
if [ -n "$token" ] && [[ "$policies" == *'"aegis-platform-admin"'* ]] && [[ "$self" == *"'aegis-platform-admin'"* ]]; then
	pass oidc-edge-openbao-token
else
	fail oidc-edge-openbao-token "callback: $(head -c 400 "$TMP/callback.json" | sed 's/"client_token":"[^"]*"/"client_token":"…"/') lookup-self: $self"
fi
