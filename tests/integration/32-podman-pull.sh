# deploy pulls a missing image, with progress, from a registry: a local
# registry (Debian's docker-registry) on 127.0.0.1 holding the stand-in; and an
# image that registry does not have is an error naming the image and registry.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/podman/env.sh"

names=(pull-missing-image-with-progress pull-quiet-prints-no-progress pull-unknown-image-names-registry)
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
podman_test_stack_before_cleanup() {
	aegis --env "$ENV" clean --yes >/dev/null 2>&1
	podman rmi -f "$image" >/dev/null 2>&1
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
