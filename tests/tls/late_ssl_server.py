#!/usr/bin/python3
"""An HTTP/1.1 keep-alive server that loads OpenSSL late: it imports ssl
(and so maps libssl) only once the file TRIGGER exists, then wraps its
listener and serves HTTPS. For connstate's rescan: a library that a target
dlopens after connstate attached.

    late_ssl_server.py --cert CERT --key KEY --trigger TRIGGER

stdout: "libssl mapped: False" at start (checked in /proc/self/maps), then
"listening PORT" once it serves HTTPS. stderr: one line per request,
"ADDR:PORT METHOD PATH 200". http.server is not used: it imports ssl.
"""
import argparse
import os
import socketserver
import sys
import time


def libssl_mapped():
    with open("/proc/self/maps") as f:
        return "libssl.so" in f.read()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        self.request.do_handshake()
        while True:
            line = self.rfile.readline(8192)
            if not line:
                return
            method, path = (line.decode("latin-1").split() + ["", ""])[:2]
            while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                pass
            body = b"late ssl\n"
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" %
                             (len(body), body))
            self.wfile.flush()
            sys.stderr.write("%s:%d %s %s 200\n" % (self.client_address[0],
                                                     self.client_address[1], method, path))
            sys.stderr.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--trigger", required=True)
    a = ap.parse_args()
    print("libssl mapped: %s" % libssl_mapped(), flush=True)
    while not os.path.exists(a.trigger):
        time.sleep(0.05)
    import ssl  # noqa: E402 -- the point: libssl is mapped only now

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    socketserver.ThreadingTCPServer.daemon_threads = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as srv:
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
        print("listening %d" % srv.server_address[1], flush=True)
        srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
