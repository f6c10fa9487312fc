# Secret values reach the containers through Podman secrets, never through a
# manifest or a unit file (isolated test Podman, stand-in images, the
# development profile): no secret value of the .env (nor its percent-encoded
# form) in `render --out` files, in `systemd --dir` units and manifests, or in
# the YAML deploy sends; inside the running containers the values are there
# and exact; a hand edit of a password a service keeps in its data is refused (exit 2,
# nothing changed); changing another secret and deploying replaces exactly the
# pods that use it (the others keep their container IDs); teardown keeps the
# secrets, `render --podman-secrets` (the units' ExecStartPre) stores them,
# clean removes them.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(secrets-deploy secrets-hand-edit-refused secrets-none-in-render-out secrets-none-in-units secrets-stored-per-pod
	secrets-in-containers secrets-embedded-in-url secrets-change-replaces-users secrets-new-value-in-container
	secrets-teardown-keeps secrets-render-stores secrets-clean-removes)
require_rootful_podman

podman_test_stack
# Plus a PostgreSQL password that needs quoting in YAML and percent-encoding
# in a URL, so "exact" means something (no '"' nor '\': kube/variables.yaml
# refuses those for it).
PGPW='p@ss:w/rd#x y'\''z%41&'
printf "POSTGRES_PASSWORD=\"%s\"\n" "$PGPW" >>"$ENV"
A() { aegis --env "$ENV" "$@"; }
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }
# Every secret value set in .env (the last assignment wins; POSTGRES_PASSWORD
# is $PGPW, which needs unquoting), and its URL form, one a line.
secret_values() {
	A config --json 2>/dev/null | "$PY" -c '
import json, sys, urllib.parse
env, pgpw = sys.argv[1], sys.argv[2]
vals = {}
for line in open(env):
    k, _, v = line.rstrip("\n").partition("=")
    vals[k] = v
for v in json.load(sys.stdin)["variables"]:
    if not v.get("secret") or v["name"] not in vals: continue
    val = pgpw if v["name"] == "POSTGRES_PASSWORD" else vals[v["name"]]
    if len(val) >= 4:
        print(val); print(urllib.parse.quote(val, safe="-._~"))' "$ENV" "$PGPW"
}
# Files under DIRS holding any of the secret values.
leaks_in() {
	local found=
	while IFS= read -r val; do
		[ -n "$val" ] || continue
		grep -rlF -- "$val" "$@" 2>/dev/null | sed 's/^/  /' && found=1
	done < <(secret_values)
	[ -z "$found" ]
}
PROFILE=development
A clean --yes >/dev/null 2>&1

# --- deploy ----------------------------------------------------------------------------
A deploy --no-bootstrap --profile $PROFILE --json --timeout 120 >"$TMP/deploy.json" 2>"$TMP/deploy.err"; rc=$?
if [ $rc -eq 0 ] && json "$TMP/deploy.json" 'assert d["result"]=="ok" and all(p["result"]=="ready" for p in d["pods"])'; then
	pass secrets-deploy
else
	fail secrets-deploy "rc=$rc $(tail -5 "$TMP/deploy.err")"
fi

# --- nothing on disk ---------------------------------------------------------------------
nvals=$(secret_values | wc -l)
A render --profile $PROFILE --out "$TMP/rendered" >/dev/null 2>"$TMP/render.err"; rc=$?
A render --profile $PROFILE >"$TMP/stream.yaml" 2>>"$TMP/render.err"
if [ $rc -eq 0 ] && [ "$nvals" -ge 6 ] && grep -q 'secretKeyRef' "$TMP/rendered/database.yaml" &&
	out=$(leaks_in "$TMP/rendered" "$TMP/stream.yaml"); then
	pass secrets-none-in-render-out
else
	fail secrets-none-in-render-out "rc=$rc values=$nvals $(cat "$TMP/render.err") $out"
fi
A systemd --profile $PROFILE --dir "$TMP/units" --podman-version 4.3.1 >/dev/null 2>"$TMP/units.err"; rc=$?
if [ $rc -eq 0 ] && [ -f "$TMP/units/manifests/core.yaml" ] && out=$(leaks_in "$TMP/units"); then
	pass secrets-none-in-units
else
	fail secrets-none-in-units "rc=$rc $(cat "$TMP/units.err") $out"
fi

# --- the Podman secrets and the containers ----------------------------------------------
stored=$(podman secret ls --format '{{.Name}}' | grep '^aegis-secrets-' | sort | tr '\n' ' ')
# the secrets pod (OpenBao) has no secret env value: no secret of its own
want="aegis-secrets-core aegis-secrets-database aegis-secrets-iam aegis-secrets-observability aegis-secrets-temporal aegis-secrets-temporal-worker "
if [ "$stored" = "$want" ]; then
	pass secrets-stored-per-pod
else
	fail secrets-stored-per-pod "stored: $stored; expected: $want"
fi
cenv() { podman exec "$1" /bin/busybox env 2>/dev/null | sed -n "s/^$2=//p"; }
kc=$(sed -n 's/^KEYCLOAK_ADMIN_PASSWORD=//p' "$ENV" | tail -1)
got_db=$(cenv pod-database-postgres POSTGRES_PASSWORD)
got_kc=$(cenv pod-iam-keycloak KEYCLOAK_ADMIN_PASSWORD)
if [ "$got_db" = "$PGPW" ] && [ -n "$kc" ] && [ "$got_kc" = "$kc" ]; then
	pass secrets-in-containers
else
	fail secrets-in-containers "database got '${#got_db}' chars, iam got '${#got_kc}' chars"
fi
url=$(cenv pod-core-aegis-runtime AEGIS_DATABASE_URL)
want_url="postgresql://aegis:$("$PY" -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="-._~"))' "$PGPW")@pod-database:5432/aegis"
if [ -n "$url" ] && [ "$url" = "$want_url" ]; then
	pass secrets-embedded-in-url
else
	fail secrets-embedded-in-url "AEGIS_DATABASE_URL differs (${#url} chars)"
fi

# --- changing one secret replaces exactly its pods ---------------------------------------
# "container-name id" of every AEGIS container (names are pod-<pod>-<container>)
ids() { podman ps --no-trunc --filter label=app.kubernetes.io/part-of=aegis --format '{{.Names}} {{.ID}}' | sort; }
ids >"$TMP/ids.before"
# a hand edit of a password Keycloak keeps in its data is refused before
# anything changes (rotate changes it inside the service first)
cp "$ENV" "$TMP/env.before"
echo "KEYCLOAK_ADMIN_PASSWORD=rotated-$(date +%s%N)" >>"$ENV"
A deploy --no-bootstrap --profile $PROFILE --timeout 120 >"$TMP/deploy-kc.out" 2>&1; rc=$?
ids >"$TMP/ids.kc"
if [ $rc -eq 2 ] && grep -q 'KEYCLOAK_ADMIN_PASSWORD differs' "$TMP/deploy-kc.out" && grep -q 'aegis-deploy rotate KEYCLOAK_ADMIN_PASSWORD' "$TMP/deploy-kc.out" &&
	cmp -s "$TMP/ids.before" "$TMP/ids.kc"; then
	pass secrets-hand-edit-refused
else
	fail secrets-hand-edit-refused "rc=$rc $(tail -2 "$TMP/deploy-kc.out")"
fi
cp "$TMP/env.before" "$ENV"
# a secret no service keeps: the temporal worker's Keycloak client secret
newsec=rotated-$(date +%s%N)
echo "TEMPORAL_WORKER_CLIENT_SECRET=$newsec" >>"$ENV"
A deploy --no-bootstrap --profile $PROFILE --json --timeout 120 >"$TMP/deploy2.json" 2>"$TMP/deploy2.err"; rc=$?
ids >"$TMP/ids.after"
# containers whose ID changed, and those of pods other than temporal-worker among them
changed=$(join "$TMP/ids.before" "$TMP/ids.after" | awk '$2 != $3 {print $1}' | tr '\n' ' ')
others=$(join "$TMP/ids.before" "$TMP/ids.after" | awk '$2 == $3 {print $1}' | grep -c -v '^pod-temporal-worker-')
if [ $rc -eq 0 ] && [ "$changed" = "pod-temporal-worker-temporal-worker " ] && [ "$others" -ge 6 ] &&
	json "$TMP/deploy2.json" 'r={p["name"]:p["action"] for p in d["pods"]}; assert r.pop("temporal-worker")=="played" and set(r.values())=={"kept"}, r'; then
	pass secrets-change-replaces-users
else
	fail secrets-change-replaces-users "rc=$rc containers with new IDs: '$changed', others kept: $others; $(tail -3 "$TMP/deploy2.err")"
fi
if [ "$(cenv pod-temporal-worker-temporal-worker KEYCLOAK_CLIENT_SECRET)" = "$newsec" ] && [ "$(cenv pod-database-postgres POSTGRES_PASSWORD)" = "$PGPW" ]; then
	pass secrets-new-value-in-container
else
	fail secrets-new-value-in-container "temporal-worker does not have the new value"
fi

# --- teardown keeps the secrets, clean removes them --------------------------------------
A teardown --profile $PROFILE >/dev/null 2>&1; rc=$?
n=$(podman secret ls --format '{{.Name}}' | grep -c '^aegis-secrets-')
if [ $rc -eq 0 ] && [ "$n" = 6 ]; then pass secrets-teardown-keeps; else fail secrets-teardown-keeps "rc=$rc secrets=$n"; fi
# what the systemd units run before kube play stores the pod's secret again
podman secret rm aegis-secrets-database >/dev/null 2>&1
A render --profile $PROFILE --pod database --out "$TMP/unit-manifests" --podman-secrets >/dev/null 2>"$TMP/store.err"; rc=$?
if [ $rc -eq 0 ] && podman secret ls --format '{{.Name}}' | grep -x aegis-secrets-database >/dev/null; then
	pass secrets-render-stores
else
	fail secrets-render-stores "rc=$rc $(cat "$TMP/store.err")"
fi
out=$(A clean --yes 2>&1); rc=$?
n=$(podman secret ls --format '{{.Name}}' | grep -c '^aegis-secrets-')
if [ $rc -eq 0 ] && [ "$n" = 0 ] && grep -q '^removed secret aegis-secrets-core$' <<<"$out"; then
	pass secrets-clean-removes
else
	fail secrets-clean-removes "rc=$rc secrets left=$n $out"
fi
