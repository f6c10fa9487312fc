#!/bin/sh
# Entry point of localhost/aegis-demo/temporal-worker-standin: a STAND-IN for
# the AEGIS Temporal worker, not the worker.
# tests/servers/temporal_worker_standin.py exits non-zero without the
# KEYCLOAK_* variables, when Keycloak refuses its client credentials, and
# when the table workflow_definitions is missing, as the worker would.
exec python3 /aegis-demo/servers/temporal_worker_standin.py "$@"
