#!/usr/bin/env python3
"""A Podman API socket that misbehaves, for tests/integration/36-podman-faults.sh.

    fault-socket.py MODE SOCKET

MODE:
  silent      accepts connections, never answers
  garbage     answers every request with bytes that are not HTTP
  stall       answers GET /libpod/_ping with "OK", then never answers again
  slow-ping   sends the _ping status line and headers, never the body
Runs until killed.  Only a unix socket: nothing listens on the network."""
import os
import signal
import socket
import sys
import threading
import time


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def hold(conn):
    # keep the connection open, answering nothing, until the client leaves
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def serve(mode, conn):
    try:
        if mode == "silent":
            hold(conn)
            return
        while True:
            line = read_request(conn)
            if line is None:
                return
            if mode == "garbage":
                conn.sendall(b"\x00\x01garbage, not HTTP\r\n\r\n")
                conn.close()
                return
            is_ping = "/_ping" in line
            if mode == "stall" and is_ping:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: 2\r\n\r\nOK")
                continue
            if mode == "slow-ping" and is_ping:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: 2\r\n\r\n")
            hold(conn)
            return
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    mode, path = sys.argv[1], sys.argv[2]
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda s, f: (print("ended by signal %d" % s, flush=True), os._exit(1)))
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(64)
    while True:
        try:
            conn, _ = srv.accept()
        except OSError as e:  # keep serving; say why in the log
            print("accept: %s" % e, flush=True)
            time.sleep(0.05)
            continue
        threading.Thread(target=serve, args=(mode, conn), daemon=True).start()


if __name__ == "__main__":
    main()
