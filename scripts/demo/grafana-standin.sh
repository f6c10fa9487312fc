#!/bin/sh
# Entry point of localhost/aegis-demo/grafana-standin: a STAND-IN for Grafana,
# not Grafana.  It runs the project's Grafana HTTP API test server
# (tests/servers/grafana.py) on GF_SERVER_HTTP_PORT (3300 in pod-observability)
# with its data in GF_PATHS_DATA (/var/lib/grafana, the aegis-grafana-data
# volume): /api/health for the readiness probe, the admin user and its
# password change.  As in Grafana, GF_SECURITY_ADMIN_USER/PASSWORD are used
# only when that data is empty, so `rotate GRAFANA_ADMIN_PASSWORD` is the way
# to change the password afterwards.
exec python3 /aegis-demo/servers/grafana.py --host 0.0.0.0 --port "${GF_SERVER_HTTP_PORT:-3000}" \
	--data "${GF_PATHS_DATA:-/var/lib/grafana}"
