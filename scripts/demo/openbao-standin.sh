#!/bin/sh
# Entry point of localhost/aegis-demo/openbao-standin: a STAND-IN for OpenBao,
# not OpenBao.  It runs the project's OpenBao HTTP API test server
# (tests/servers/openbao.py) on the port OpenBao uses, with its state in the
# pod's data volume (a restart comes up sealed, as OpenBao does).  The
# template's arguments ("server") are for the real image and are ignored.
mkdir -p /openbao/file
exec python3 /aegis-demo/servers/openbao.py --host 0.0.0.0 --port 8200 \
	--state /openbao/file/standin-state.json
