#!/usr/bin/env python3
"""port-url.py SNI PORT...: the URL of each port of 127.0.0.1, with the scheme
the port serves, one per line, for the demo's summary:

  https://127.0.0.1:PORT  it completes a TLS handshake (sent the server name
                          SNI, which the edge needs to pick a certificate; the
                          certificate is not verified: this only finds the
                          scheme, the summary's HTTPS lines verify it)
  http://127.0.0.1:PORT   it answers plain HTTP (any status; a redirect, as the
                          edge's HTTP port sends, is not followed)
  127.0.0.1:PORT          neither (a TCP service, e.g. PostgreSQL)
"""
import http.client
import socket
import ssl
import sys

HOST = "127.0.0.1"


def speaks_tls(port, sni):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((HOST, port), timeout=2) as s:
            with ctx.wrap_socket(s, server_hostname=sni):
                return True
    except (OSError, ssl.SSLError):
        return False


def speaks_http(port):
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", "/")
        conn.getresponse()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def url(port, sni):
    if speaks_tls(port, sni):
        return "https://%s:%d" % (HOST, port)
    if speaks_http(port):
        return "http://%s:%d" % (HOST, port)
    return "%s:%d" % (HOST, port)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: port-url.py SNI PORT...")
    for p in sys.argv[2:]:
        print(url(int(p), sys.argv[1]))
