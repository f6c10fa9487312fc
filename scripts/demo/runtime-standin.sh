#!/bin/sh
# Entry point of localhost/aegis-demo/runtime-standin: a STAND-IN for the AEGIS
# runtime (aegis-runtime), not the runtime.  tests/servers/runtime_standin.py
# reads the rendered aegis-config.yaml (AEGIS_CONFIG_PATH), the runtime
# registry and AEGIS_SEAL_PRIVATE_KEY as the runtime does and exits non-zero
# where it would; it creates the workflow_definitions table in the real
# PostgreSQL, as the runtime's first migration does.  The working directory
# is the image's, /app (the default runtime_registry_path is relative to it).
# `podman exec CONTAINER /aegis-demo/runtime-standin.sh sign-seal-jwt` prints
# a SEAL JWT signed with the pod's key.
mkdir -p /app && cd /app || exit 1
exec python3 /aegis-demo/servers/runtime_standin.py "$@"
