#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Open N keep-alive connections to HOST:PORT, send one GET on each, read its
whole response, and keep them all open. Prints 'ready N' (N = connections
that got a 200) on stdout, then waits for SIGTERM or SIGINT and closes them.

usage: idle_conns.py N HOST PORT PATH
"""
import resource
import selectors
import signal
import socket
import sys
import time


def read_response(s, buf=b""):
    """Read one response with a Content-Length body; True if it was a 200."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return False
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            return False
        body += chunk
    return head.split(b" ", 2)[1] == b"200"


def main():
    n, host, port, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    want = n + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    conns, ok = [], 0
    t0 = time.monotonic()
    for i in range(n):
        if stop:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((host, port))
            s.sendall(req)
            if read_response(s):
                ok += 1
        except OSError as e:
            sys.stderr.write(f"idle_conns: connection {i}: {e}\n")
            s.close()
            continue
        conns.append(s)
    print(f"ready {ok} in {time.monotonic() - t0:.1f} s", flush=True)

    # Wait; an idle connection the server closes is just noted.
    sel = selectors.DefaultSelector()
    for s in conns:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed = 0
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            sel.unregister(key.fileobj)
            closed += 1
    if closed:
        sys.stderr.write(f"idle_conns: the server closed {closed} connections\n")
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
