#!/usr/bin/env bash
# The first deploy with the defaults: an `init` .env whose only changes are
# the images (the OpenBao and Keycloak API test servers as stand-ins, the
# busybox stand-in elsewhere) deploys the development profile with every
# bootstrap step, OpenBao's OIDC login included: OpenBao discovers
# KEYCLOAK_PUBLIC_URL from inside pod-secrets (pod-iam's network alias), the
# discovery document's issuer is that URL, Keycloak stays on loopback, and
# core's configuration checks the same issuer.
# test-images: demo
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(oidc-defaults-deploy oidc-defaults-discovery oidc-defaults-loopback oidc-defaults-all-loopback oidc-defaults-core-issuer)
require_rootful_podman
podman_bootstrap_stack
A() { "$AEGIS_BIN" --root "$ROOT" --env "$ENV" "$@"; }
value() { A config --profile development --json | "$PY" -c 'import json,sys; print(next(v["value"] for v in json.load(sys.stdin)["variables"] if v["name"]==sys.argv[1]))' "$1"; }

t0=$(date +%s)
A deploy --profile development --timeout 180 --json >"$TMP/deploy.json" 2>"$TMP/deploy.err"; rc=$?
echo "   deploy development: $(($(date +%s) - t0)) s"
pending=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
items = [i for s in d.get("bootstrap", {}).get("services", {}).values() for i in s]
print(sum(1 for i in items if i.get("result") == "skipped"))' "$TMP/deploy.json" 2>&1)
if [ $rc -eq 0 ] && [ "$pending" = 0 ]; then
	pass oidc-defaults-deploy
else
	fail oidc-defaults-deploy "rc=$rc skipped=$pending $(tail -5 "$TMP/deploy.err")"
fi

# OpenBao holds the discovery URL KEYCLOAK_PUBLIC_URL/realms/aegis-system, and
# the document there (fetched the way a browser on this host would, the name
# resolved to loopback) names that URL as its issuer.
public=$(value KEYCLOAK_PUBLIC_URL)
bao=$(value OPENBAO_PORT)
kc=$(value KEYCLOAK_PORT)
root_token=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["root_token"])' "$TMP/generated/openbao-init.json" 2>/dev/null)
( umask 077; printf 'X-Vault-Token: %s\n' "$root_token" >"$TMP/bao.hdr" )
oidc=$(curl -s --max-time 10 -H @"$TMP/bao.hdr" "http://127.0.0.1:$bao/v1/auth/oidc/config" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["data"]["oidc_discovery_url"])' 2>&1)
host=$(printf '%s' "$public" | sed -E 's#^[a-z]+://([^:/]+).*#\1#')
issuer=$(curl -s --max-time 10 --resolve "$host:$kc:127.0.0.1" "$public/realms/aegis-system/.well-known/openid-configuration" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["issuer"])' 2>&1)
if [ "$public" = "http://auth.aegis.localhost:$kc" ] && [ "$oidc" = "$public/realms/aegis-system" ] &&
	[ "$issuer" = "$oidc" ]; then
	pass oidc-defaults-discovery
else
	fail oidc-defaults-discovery "public=$public oidc=$oidc issuer=$issuer"
fi

# Keycloak is published on loopback only (no IAM_BIND_ADDRESS override).
ports=$(podman pod inspect pod-iam --format '{{json .InfraConfig.PortBindings}}' 2>&1)
if [[ "$ports" == *'"HostIp":"127.0.0.1"'* ]] && [[ "$ports" != *'"HostIp":""'* ]] && [[ "$ports" != *0.0.0.0* ]]; then
	pass oidc-defaults-loopback
else
	fail oidc-defaults-loopback "$ports"
fi
# and so is every other pod: development has no edge, nothing is published
# beyond 127.0.0.1
beyond=""
for pod in $(podman pod ls --format '{{.Name}}'); do
	binds=$(podman pod inspect "$pod" --format '{{json .InfraConfig.PortBindings}}' 2>/dev/null)
	wide=$(printf '%s' "$binds" | "$PY" -c '
import json, sys
d = json.loads(sys.stdin.read() or "null") or {}
print(" ".join(sorted("%s:%s" % (b.get("HostIp") or "*", b.get("HostPort")) for v in d.values() for b in v or [] if (b.get("HostIp") or "") != "127.0.0.1")))' 2>&1)
	[ -n "$wide" ] && beyond+=" $pod=$wide"
done
npods=$(podman pod ls --format '{{.Name}}' | wc -l)
if [ -z "$beyond" ] && [ "$npods" -ge 4 ]; then
	pass oidc-defaults-all-loopback
else
	fail oidc-defaults-all-loopback "$npods pods; published beyond 127.0.0.1:${beyond:- nothing}"
fi

# core's configuration checks the issuer Keycloak puts in its tokens.
core_issuer=$(A render --profile development --pod core | sed -n 's/.*issuer_url: "\(.*\)"/\1/p' | head -1)
if [ "$core_issuer" = "$oidc" ]; then
	pass oidc-defaults-core-issuer
else
	fail oidc-defaults-core-issuer "core issuer_url=$core_issuer, Keycloak issuer=$issuer"
fi
