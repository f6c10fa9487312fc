#!/usr/bin/env bash
# Published ports listen on loopback unless the user says otherwise: every
# port a template declares is published with a variable of its own and a
# hostIP, 127.0.0.1 by default; AEGIS_BIND_ADDRESS and the per-pod
# *_BIND_ADDRESS variables change it, and a value that is not an IP address
# is a configuration error.  No Podman needed (the Podman side is checked in
# 30-podman-engine.sh after a real deploy).
. "$(dirname "$0")/lib.sh"

env_file=$TMP/.env
printf 'POSTGRES_PASSWORD=p\nKEYCLOAK_ADMIN_PASSWORD=k\nGRAFANA_ADMIN_PASSWORD=g\n' >"$env_file"

# ports_of ENV_FILE: one line "pod container containerPort hostPort hostIP" per declared port
ports_of() {
	aegis --env "$1" render --profile full 2>/dev/null | "$PY" -c '
import sys, yaml
for d in yaml.safe_load_all(sys.stdin):
    if not d or d.get("kind") != "Pod":
        continue
    for c in d["spec"]["containers"]:
        for p in c.get("ports") or []:
            # every address is written as no address ("*" here): Podman 4.3
            # takes an explicit 0.0.0.0 for packets to 0.0.0.0 only
            print(d["metadata"]["name"], c["name"], p.get("containerPort"), p.get("hostPort", "-"), p.get("hostIP", "-") or "*")
'
}

out=$(ports_of "$env_file")
n=$(wc -l <<<"$out")
bad=$(awk '$4 == "-" || $5 != "127.0.0.1"' <<<"$out")
if [ "$n" -ge 25 ] && [ -z "$bad" ]; then
	pass "every-port-published-on-loopback-by-default"
else
	fail "every-port-published-on-loopback-by-default" "$n ports; not on loopback or without a host port: $bad"
fi

# every host port has a variable: no template publishes a literal port
if grep -nE '^\s*hostPort:\s*[0-9]' "$ROOT"/kube/*/pod.yaml; then
	fail "every-host-port-has-a-variable"
else
	pass "every-host-port-has-a-variable"
fi

# every port variable and bind-address variable has a row in the configuration reference (docs/configuration.md)
missing=
for v in $(sed -n 's/^  - name: \([A-Z0-9_]*\(_PORT\|_BIND_ADDRESS\)\)$/\1/p' "$ROOT/kube/variables.yaml"); do
	grep -q "^| \`$v\` |" "$ROOT/docs/configuration.md" || missing="$missing $v"
done
[ -z "$missing" ] && pass "port-variables-documented" || fail "port-variables-documented" "no README row:$missing"

out=$(AEGIS_BIND_ADDRESS=0.0.0.0 ports_of "$env_file")
bad=$(awk '$5 != "*"' <<<"$out")
[ -n "$out" ] && [ -z "$bad" ] && pass "bind-address-exposes-every-pod" || fail "bind-address-exposes-every-pod" "$bad"

cp "$env_file" "$TMP/db.env"
echo 'DATABASE_BIND_ADDRESS=::' >>"$TMP/db.env"
echo 'IAM_BIND_ADDRESS=10.1.2.3' >>"$TMP/db.env"
out=$(ports_of "$TMP/db.env")
db=$(awk '$1 == "pod-database" {print $5}' <<<"$out" | sort -u)
others=$(awk '$1 != "pod-database" && $1 != "pod-iam" {print $5}' <<<"$out" | sort -u)
iam=$(awk '$1 == "pod-iam" {print $5}' <<<"$out" | sort -u)
[ "$db" = "*" ] && [ "$iam" = 10.1.2.3 ] && [ "$others" = 127.0.0.1 ] && pass "bind-address-per-pod" || fail "bind-address-per-pod" "db=$db iam=$iam others=$others"

for bad_value in 'localhost' '0.0.0.0; rm -rf /' '300.1.1.1' '"127.0.0.1 "'; do
	printf 'AEGIS_BIND_ADDRESS=%s\n' "$bad_value" >"$TMP/bad.env"
	cat "$env_file" >>"$TMP/bad.env"
	msg=$(aegis --env "$TMP/bad.env" render --profile full 2>&1 >/dev/null); rc=$?
	if [ $rc -eq 2 ] && grep -q "AEGIS_BIND_ADDRESS" <<<"$msg" && grep -q "bad.env:1" <<<"$msg"; then
		pass "bind-address-rejects-'$bad_value'"
	else
		fail "bind-address-rejects-'$bad_value'" "rc=$rc: $msg"
	fi
done

# an empty value is the default, like every other variable
printf 'AEGIS_BIND_ADDRESS=\n' >"$TMP/empty.env"
cat "$env_file" >>"$TMP/empty.env"
out=$(ports_of "$TMP/empty.env")
[ -n "$out" ] && [ "$(awk '{print $5}' <<<"$out" | sort -u)" = 127.0.0.1 ] && pass "bind-address-empty-is-loopback" || fail "bind-address-empty-is-loopback"
