# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""usage: ok_server.py PORT

An HTTP/1.1 server on 127.0.0.1:PORT with a thread per connection that
answers every GET with 200 and the 2-byte body "ok" (Content-Length):
connections stay open until the client closes them. Its access log goes to
stderr, a write between each request's read and its response's writes.
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


Server(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
