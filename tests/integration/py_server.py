#!/usr/bin/python3
"""http.server's SimpleHTTPRequestHandler in HTTP/1.1 (keep-alive) mode.

    py_server.py --bind 127.0.0.1 --port 0 --directory DIR

Prints "listening PORT" on stdout once it accepts connections. The access
log goes to stderr, one line per request, in http.server's own format except
that the client is written as ADDR:PORT, so that requests can be grouped by
connection:

    127.0.0.1:39778 - - [25/Nov/2026 16:18:53] "GET /x HTTP/1.1" 200 -
"""
import argparse
import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        sys.stderr.write("%s:%d - - [%s] %s\n" % (self.client_address[0],
                                                  self.client_address[1],
                                                  self.log_date_time_string(),
                                                  format % args))
        sys.stderr.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--directory", default=".")
    a = ap.parse_args()
    handler = functools.partial(Handler, directory=a.directory)
    with ThreadingHTTPServer((a.bind, a.port), handler) as httpd:
        print("listening %d" % httpd.server_address[1], flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
