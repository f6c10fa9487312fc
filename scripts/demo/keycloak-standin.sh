#!/bin/sh
# Entry point of localhost/aegis-demo/keycloak-standin: a STAND-IN for
# Keycloak, not Keycloak.  It runs the project's Keycloak admin REST API test
# server (tests/servers/keycloak.py) on KC_HTTP_PORT, with the administrator
# from KEYCLOAK_ADMIN / KEYCLOAK_ADMIN_PASSWORD, and the frontend hostname
# (KC_HOSTNAME_URL) and proxy headers (KC_PROXY_HEADERS) of the pod template,
# as the real image reads them.  Its
# state lives in memory: a restarted pod is bootstrapped again by deploy.
# The template's arguments ("start") are for the real image and are ignored.
exec python3 /aegis-demo/servers/keycloak.py --host 0.0.0.0 --port "${KC_HTTP_PORT:-8080}"
