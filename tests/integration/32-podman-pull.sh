# deploy pulls a missing image, with progress, from a registry: a local
# registry (Debian's docker-registry) on 127.0.0.1 holding the stand-in; and an
# image that registry does not have is an error naming the image and registry.
# Digests: a revision records the digest each container ran (history show,
# status), and after the tag was re-pushed with another image, rollback runs
# the recorded digest again (pulled by digest from the registry).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(pull-missing-image-with-progress pull-quiet-prints-no-progress pull-unknown-image-names-registry
	digest-recorded-history-and-status rollback-runs-the-recorded-digest)
require_rootful_podman
if ! command -v docker-registry >/dev/null 2>&1; then
	for n in "${names[@]}"; do skip "$n" "docker-registry is not installed: run 'make setup'"; done
	exit 0
fi

port=5117
reg=127.0.0.1:$port
cat >"$TMP/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $TMP/registry
http:
  addr: $reg
EOF
docker-registry serve "$TMP/registry.yml" >"$TMP/registry.log" 2>&1 &
registry_pid=$!
# The registry speaks plain HTTP: registries.conf marks it insecure, for the
# API service that pulls (and the CLI push below).
cat >"$TMP/registries.conf" <<EOF
[[registry]]
location = "$reg"
insecure = true
EOF
export CONTAINERS_REGISTRIES_CONF=$TMP/registries.conf
image=$reg/aegis-test/standin:pull-test
tagged=$reg/aegis-test/standin:rollback
podman_test_stack_before_cleanup() {
	aegis --env "$ENV" clean --yes >/dev/null 2>&1
	podman rmi -f "$image" "$tagged" >/dev/null 2>&1
	kill "$registry_pid" 2>/dev/null
	wait "$registry_pid" 2>/dev/null
}
podman_test_stack
for _ in $(seq 50); do [ -S "$SOCK" ] && curl -fs --max-time 2 "http://$reg/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

podman push -q "$STANDIN_IMAGE" "docker://$image" >"$TMP/push.log" 2>&1
podman rmi "$image" >/dev/null 2>&1 # only a tag: the stand-in stays

echo "OPENBAO_IMAGE=$image" >>"$ENV"
had=$(podman image exists "$image" && echo yes || echo no)
out=$(aegis --env "$ENV" deploy --no-bootstrap --profile minimal --timeout 60 2>&1); rc=$?
if [ "$had" = no ] && [ $rc -eq 0 ] && grep -q '^pull: ' <<<"$out" && podman image exists "$image"; then
	pass pull-missing-image-with-progress
else
	fail pull-missing-image-with-progress "had=$had rc=$rc push: $(tail -2 "$TMP/push.log") $out"
fi
grep '^pull: ' <<<"$out" | head -3 | sed 's/^/   /'

# -q silences the pull lines too (the image removed again, with its container)
podman rmi -f "$image" >/dev/null 2>&1
out=$(aegis --env "$ENV" -q deploy --no-bootstrap --profile minimal --timeout 60 2>&1); rc=$?
if [ $rc -eq 0 ] && ! grep -q '^pull: ' <<<"$out" && podman image exists "$image"; then
	pass pull-quiet-prints-no-progress
else
	fail pull-quiet-prints-no-progress "rc=$rc $out"
fi

echo "OPENBAO_IMAGE=$reg/aegis-test/absent:1.0" >>"$ENV"
out=$(aegis --env "$ENV" deploy --no-bootstrap --profile minimal --timeout 60 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "cannot pull image $reg/aegis-test/absent:1.0 from registry $reg" <<<"$out"; then
	pass pull-unknown-image-names-registry
else
	fail pull-unknown-image-names-registry "rc=$rc $out"
fi

# --- digests ---------------------------------------------------------------
# push_variant V: an image of its own (the stand-in with ENV
# AEGIS_DIGEST_TEST=V) pushed as $tagged; no local name is left for it, so
# only the registry can give it back.
push_variant() {
	local ctr=aegis-digest-$$-$1 local_name=localhost/aegis-test/digest:$1 rc
	podman create --name "$ctr" "$STANDIN_IMAGE" /bin/true >/dev/null &&
		podman commit -q --change "ENV AEGIS_DIGEST_TEST=$1" --change 'CMD []' "$ctr" "$local_name" >/dev/null &&
		podman push -q "$local_name" "docker://$tagged" >>"$TMP/push.log" 2>&1
	rc=$?
	podman rm -f "$ctr" >/dev/null 2>&1
	podman rmi -f "$local_name" >/dev/null 2>&1
	return $rc
}
# field REV PATH: a value of revision REV's revision.json (history show --json)
field() {
	aegis --env "$ENV" --json history show "$1" 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("/"): v=v.get(k, {}) if isinstance(v, dict) else {}
print(v if isinstance(v, (str, int)) else "")' "$2"
}
ran() { podman container inspect --format "{{$1}}" pod-secrets-openbao 2>/dev/null; }

echo "OPENBAO_IMAGE=$tagged" >>"$ENV"
push_variant a
out=$(aegis --env "$ENV" deploy --no-bootstrap --profile minimal --timeout 60 2>&1); rc=$?
rev_a=$(field 0 revision)
digest_a=$(field 0 pods/secrets/images/openbao/digest)
id_a=$(field 0 pods/secrets/images/openbao/image_id)
shown=$(aegis --env "$ENV" history show "$rev_a" 2>&1)
status_text=$(aegis --env "$ENV" status 2>&1)
status_json=$(aegis --env "$ENV" --json status 2>&1)
if [ $rc -eq 0 ] && [[ $digest_a == "$reg/aegis-test/standin@sha256:"* ]] &&
	[ "sha256:$(ran .Image)" = "$id_a" ] && grep -qF "$digest_a" <<<"$shown" &&
	grep -qF "${digest_a:0:${#digest_a}-52}" <<<"$status_text" && grep -qF "$digest_a" <<<"$status_json"; then
	pass digest-recorded-history-and-status
else
	fail digest-recorded-history-and-status "rc=$rc rev=$rev_a digest=$digest_a id=$id_a ran=$(ran .Image) $(tail -3 <<<"$out") | $shown | $status_text"
fi
echo "   revision $rev_a ran $digest_a"

# the tag re-pushed with another image, which runs; then back to revision A
push_variant b && podman pull -q "$tagged" >/dev/null 2>&1
out=$(aegis --env "$ENV" deploy --replace --no-bootstrap --profile minimal --timeout 60 2>&1); rc_b=$?
id_b=$(ran .Image)
t0=$(date +%s.%N)
out=$(aegis --env "$ENV" rollback "$rev_a" --no-bootstrap --timeout 60 2>&1); rc=$?
took=$(echo "$(date +%s.%N) - $t0" | bc)
if [ $rc_b -eq 0 ] && [ "sha256:$id_b" != "$id_a" ] && [ $rc -eq 0 ] &&
	[ "sha256:$(ran .Image)" = "$id_a" ] && [ "$(ran .ImageName)" = "$digest_a" ] &&
	grep -qF "pinned to $digest_a" <<<"$out" && grep -q "keeps its tag" <<<"$out" &&
	[ "$(field 0 pods/secrets/images/openbao/digest)" = "$digest_a" ]; then
	pass rollback-runs-the-recorded-digest
else
	fail rollback-runs-the-recorded-digest "recorded=$(field 0 pods/secrets/images/openbao/digest) rc_b=$rc_b id_b=$id_b id_a=$id_a rc=$rc ran=$(ran .Image) $(ran .ImageName) $out"
fi
printf '   rollback to revision %s in %.1f s:\n' "$rev_a" "$took"
grep -E 'pinned to|keeps its tag' <<<"$out" | sed 's/^/   /'
