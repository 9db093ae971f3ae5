# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""usage: ok_server.py PORT

An HTTP/1.1 server on 127.0.0.1:PORT with a thread per connection that
answers every GET with 200 and the 2-byte body "ok" (Content-Length):
connections stay open until the client closes them. Its access log goes to
stderr, a write between each request's read and its response's writes.
Its clients import answered() from here.
"""
import http.server
import sys


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # tests open tens of connections at once


def answered(s, path):
    """GETs path on socket s and reads the answer to its end."""
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    got = b""
    while not got.endswith(b"\r\n\r\nok"):
        b = s.recv(4096)
        if not b:
            raise SystemExit("server closed early")
        got += b


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
