#!/bin/sh
# Entry point of localhost/aegis-demo/seal-gateway-standin: a STAND-IN for the
# AEGIS SEAL gateway, not the gateway.  tests/servers/seal_gateway_standin.py
# reads SEAL_GATEWAY_CONFIG_PATH and the SEAL_GATEWAY_* variables as the
# gateway does, answers /health, and refuses (401) a SEAL security token that
# does not verify against the configured RSA public key.
mkdir -p /app && cd /app || exit 1
exec python3 /aegis-demo/servers/seal_gateway_standin.py "$@"
