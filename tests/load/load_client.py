#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Bounded HTTP/1.1 load on 127.0.0.1 for tests/load/losses.sh.

  keepalive PORT SECONDS CONNS REQS   CONNS threads, each opening a
                                      connection, making REQS keep-alive
                                      requests, closing, again until SECONDS
  churn PORT SECONDS RATE             about RATE connections a second, one
                                      "Connection: close" request each

Every connection is closed by the client before the program exits. Prints
"load: N connections, M requests" on stdout.
"""
import socket
import sys
import threading
import time

REQ = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
REQ_CLOSE = b"GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def one_response(s, buf):
    """Reads one response framed by Content-Length; returns leftover bytes."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError
        rest += d
    return rest[n:]


counts = {"conns": 0, "reqs": 0}
lock = threading.Lock()


def keepalive(port, until, reqs):
    while time.monotonic() < until:
        s = socket.create_connection(("127.0.0.1", port))
        done = 0
        try:
            buf = b""
            for _ in range(reqs):
                s.sendall(REQ)
                buf = one_response(s, buf)
                done += 1
        except (OSError, EOFError):
            pass
        s.close()
        with lock:
            counts["conns"] += 1
            counts["reqs"] += done


def churn_one(port):
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(REQ_CLOSE)
        one_response(s, b"")
        s.close()
        with lock:
            counts["conns"] += 1
            counts["reqs"] += 1
    except (OSError, EOFError):
        pass


def main():
    mode, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    until = time.monotonic() + secs
    threads = []
    if mode == "keepalive":
        for _ in range(int(sys.argv[4])):
            t = threading.Thread(target=keepalive, args=(port, until, int(sys.argv[5])))
            t.start()
            threads.append(t)
    else:
        gap = 1.0 / float(sys.argv[4])
        nxt = time.monotonic()
        while time.monotonic() < until:
            t = threading.Thread(target=churn_one, args=(port,))
            t.start()
            threads.append(t)
            nxt += gap
            time.sleep(max(0.0, nxt - time.monotonic()))
    for t in threads:
        t.join()
    print("load: %d connections, %d requests" % (counts["conns"], counts["reqs"]))


if __name__ == "__main__":
    main()
