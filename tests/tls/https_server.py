#!/usr/bin/python3
"""http.server's SimpleHTTPRequestHandler in HTTP/1.1 (keep-alive) mode,
behind Python's ssl module (OpenSSL's libssl, dynamically linked).

    https_server.py --cert CERT --key KEY --directory DIR

Prints "listening PORT" on stdout once it accepts connections. The access
log goes to stderr, one line per request, with the client as ADDR:PORT:

    127.0.0.1:39778 - - [25/Nov/2026 16:18:53] "GET /x HTTP/1.1" 200 -
"""
import argparse
import functools
import ssl
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
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--directory", default=".")
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    handler = functools.partial(Handler, directory=a.directory)
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        # the handshake runs in the handler's thread, at its first read
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True,
                                       do_handshake_on_connect=False)
        print("listening %d" % httpd.server_address[1], flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
