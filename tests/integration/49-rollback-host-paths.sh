#!/usr/bin/env bash
# rollback and deploy --atomic where the host's paths are not the defaults,
# as the demo and setup-user set them: AEGIS_GENERATED_DIR, SEAL_KEYS_DIR and
# AEGIS_STATE_DIR in the .env, away from the checkout (isolated test Podman,
# stand-in images, the minimal profile with bootstrap against the OpenBao API
# test server on the host).  A deploy, a change of RUST_LOG, a deploy, then
# `rollback`: exit 0, the live pods carry revision 1's manifest hashes, and
# its bootstrap finds OpenBao initialised and unsealed with the init file in
# AEGIS_GENERATED_DIR and does nothing (no init, no unseal, nothing created
# or changed); nothing is written under the checkout's default generated/.
# deploy --atomic of a core that never gets ready exits 1 with the previous
# core restored and ready; so does it after SEAL_KEYS_DIR moved (the restore
# mounts the keys from where the configuration says they are now).
# Not covered here: the same as the service user of setup-user (rootless
# Podman of another user); the paths it sets are the ones set here.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(hostpaths-deploy hostpaths-rollback-hashes hostpaths-rollback-bootstrap-idle
	hostpaths-nothing-in-checkout hostpaths-atomic-restores hostpaths-atomic-after-keys-moved)
setup_failed() { for n in "${names[@]}"; do fail "$n" "$1"; done; exit 0; }
[ "$(id -u)" -eq 0 ] || setup_failed "needs root for the rootful test Podman"
podman_available || setup_failed "$PODMAN_UNAVAILABLE"

# Only the .env counts: nothing of the schema from the caller's environment
# (lib.sh exports AEGIS_STATE_DIR; here the .env sets it, as the demo does).
for v in $(sed -n 's/^[[:space:]]*- name: \([A-Z0-9_]*\)$/\1/p' "$ROOT/kube/variables.yaml"); do
	unset "$v"
done

CHECKOUT=$TMP/checkout
mkdir -p "$CHECKOUT"
cp -r "$ROOT/kube" "$ROOT/profiles" "$ROOT/.env.example" "$CHECKOUT/" || setup_failed "cannot copy the checkout"

# The OpenBao API test server in place of OpenBao's API (the stand-in pod
# answers its health checks; bootstrap talks to OPENBAO_ADDR).
"$PY" "$ROOT/tests/servers/openbao.py" --port 0 --port-file "$TMP/bao.port" --state "$TMP/bao.state" \
	2>"$TMP/bao.log" &
bao_pid=$!
for _ in $(seq 100); do [ -s "$TMP/bao.port" ] && break; sleep 0.1; done
BAO_PORT=$(cat "$TMP/bao.port" 2>/dev/null)
[ -n "$BAO_PORT" ] || { kill "$bao_pid"; setup_failed "the OpenBao test server did not start: $(tail -3 "$TMP/bao.log")"; }

podman_test_stack "$CHECKOUT"
trap 'podman_test_stack_cleanup; kill "$bao_pid" 2>/dev/null; wait "$bao_pid" 2>/dev/null' EXIT
HOST=$TMP/host
{
	echo "AEGIS_GENERATED_DIR=$HOST/generated"
	echo "SEAL_KEYS_DIR=$HOST/seal"
	echo "AEGIS_STATE_DIR=$HOST/state"
	echo "OPENBAO_ADDR=http://127.0.0.1:$BAO_PORT"
	echo "RUST_LOG=info"
} >>"$ENV"
A() { "$AEGIS_BIN" --root "$CHECKOUT" --env "$ENV" "$@"; }
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }
label() { podman pod inspect --format '{{index .Labels "aegis.io/manifest-hash"}}' "pod-$1" 2>/dev/null; }
# rev_hash N POD: the manifest hash revision N recorded for POD
rev_hash() { A history --json | "$PY" -c "import json,sys; r=json.load(sys.stdin)['revisions']; print(r[$1-1]['pods']['$2']['manifest_hash'])"; }
# bao_requests PYTHON-EXPR: how many requests r since the last reset satisfy it
bao_requests() {
	curl -s --max-time 10 "http://127.0.0.1:$BAO_PORT/_test/requests" |
		"$PY" -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if eval(sys.argv[1])))' "$1"
}
set_env() { sed -i "s|^$1=.*|$1=$2|" "$ENV"; }

A clean --yes >/dev/null 2>&1
# --- deploy, change, deploy ------------------------------------------------------
A deploy --profile minimal --timeout 60 >"$TMP/d1.out" 2>&1; rc1=$?
set_env RUST_LOG debug
A deploy --profile minimal --timeout 60 >"$TMP/d2.out" 2>&1; rc2=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ -s "$HOST/generated/openbao-init.json" ] &&
	[ -s "$HOST/seal/private.pem" ] && [ -d "$HOST/state/history" ] &&
	[ "$(rev_hash 2 core)" != "$(rev_hash 1 core)" ] && [ "$(label core)" = "$(rev_hash 2 core)" ]; then
	pass hostpaths-deploy
else
	fail hostpaths-deploy "rc=$rc1/$rc2 $(ls "$HOST"/* 2>&1 | tr '\n' ' ') $(tail -4 "$TMP/d1.out") $(tail -4 "$TMP/d2.out")"
fi

# --- rollback ----------------------------------------------------------------------
curl -s --max-time 10 -X POST "http://127.0.0.1:$BAO_PORT/_test/reset" >/dev/null
A rollback --json --timeout 60 >"$TMP/rb.json" 2>"$TMP/rb.err"; rc=$?
want_core=$(rev_hash 1 core) want_secrets=$(rev_hash 1 secrets)
if [ $rc -eq 0 ] && [ "$(label core)" = "$want_core" ] && [ "$(label secrets)" = "$want_secrets" ] &&
	A history --json | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["revisions"][-1]
assert r["revision"] == 3 and r["command"] == "rollback" and r["rollback_of"] == 1 and r["result"] == "ok", r
assert r["replaced"] == ["core"] and r["kept"] == ["secrets"], r'; then
	pass hostpaths-rollback-hashes
else
	fail hostpaths-rollback-hashes "rc=$rc core $(label core) want $want_core, secrets $(label secrets) want $want_secrets: $(tail -4 "$TMP/rb.err")"
fi
# Bootstrap ran, found everything in place and did nothing.
writes=$(bao_requests 'r["path"] in ("/v1/sys/init", "/v1/sys/unseal")')
if [ $rc -eq 0 ] && [ "$writes" = 0 ] && json "$TMP/rb.json" '
b = d["bootstrap"]
items = b["services"]["OpenBao"]
assert items and all(i["result"] == "unchanged" for i in items), items
assert b["env_changed"] == [], b'; then
	pass hostpaths-rollback-bootstrap-idle
else
	fail hostpaths-rollback-bootstrap-idle "rc=$rc init/unseal requests=$writes $(head -c 800 "$TMP/rb.json") $(tail -3 "$TMP/rb.err")"
fi
leftover=$(ls -d "$HOST"/state/rollback-* "$HOST"/state/restore-* 2>/dev/null)
if [ ! -e "$CHECKOUT/generated" ] && [ -z "$leftover" ]; then
	pass hostpaths-nothing-in-checkout
else
	fail hostpaths-nothing-in-checkout "$(find "$CHECKOUT/generated" 2>/dev/null | head -5) $leftover"
fi

# --- deploy --atomic -------------------------------------------------------------------
broken=$(standin_variant never-ready STANDIN_FAIL=1) || setup_failed "cannot build the never-ready stand-in"
secrets_ids() { podman ps -a --no-trunc --filter pod=pod-secrets --format '{{.Names}} {{.ID}}' | sort; }
secrets_ids >"$TMP/secrets.before"
AEGIS_RUNTIME_IMAGE=$broken A deploy --profile minimal --atomic --timeout 4 >"$TMP/atomic.out" 2>&1; rc=$?
A validate --profile minimal >"$TMP/validate.out" 2>&1; vrc=$?
if [ $rc -eq 1 ] && grep -q 'pod core (pod-core) failed' "$TMP/atomic.out" &&
	grep -q -- '--atomic: restored core to revision 3, ready in' "$TMP/atomic.out" &&
	[ "$(label core)" = "$want_core" ] && [ $vrc -eq 0 ] && secrets_ids | cmp -s - "$TMP/secrets.before"; then
	pass hostpaths-atomic-restores
else
	fail hostpaths-atomic-restores "rc=$rc validate rc=$vrc core $(label core) want $want_core: $(tail -6 "$TMP/atomic.out") $(tail -3 "$TMP/validate.out")"
fi

# The keys move, as setup-user moves them beside the service user's .env:
# the restored core gets its SEAL JWT key (AEGIS_SEAL_PRIVATE_KEY, read from
# SEAL_KEYS_DIR) from the new place (the old one is gone).
mkdir -p "$TMP/moved" && mv "$HOST/seal" "$TMP/moved/seal" && set_env SEAL_KEYS_DIR "$TMP/moved/seal"
AEGIS_RUNTIME_IMAGE=$broken A deploy --profile minimal --atomic --timeout 4 >"$TMP/atomic2.out" 2>&1; rc=$?
A validate --profile minimal >"$TMP/validate2.out" 2>&1; vrc=$?
podman exec pod-core-aegis-runtime /bin/sh -c 'printf "%s" "$AEGIS_SEAL_PRIVATE_KEY"' >"$TMP/key.env" 2>&1
mounts=$(if cmp -s <(tr -d '\n' <"$TMP/key.env") <(tr -d '\n' <"$TMP/moved/seal/seal-jwt-private.pem"); then echo same-key; else echo "key differs: $(head -c 60 "$TMP/key.env")"; fi)
if [ $rc -eq 1 ] && grep -q -- '--atomic: restored core to revision 3, ready in' "$TMP/atomic2.out" &&
	[ $vrc -eq 0 ] && [ "$mounts" = same-key ]; then
	pass hostpaths-atomic-after-keys-moved
else
	fail hostpaths-atomic-after-keys-moved "rc=$rc validate rc=$vrc mounts: $mounts $(tail -6 "$TMP/atomic2.out") $(tail -3 "$TMP/validate2.out")"
fi
