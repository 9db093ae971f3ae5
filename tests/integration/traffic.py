#!/usr/bin/python3
"""Byte-exact HTTP/1.x client for the integration tests (tests/integration).

    traffic.py --port PORT --mix MIX --out FILE [--host 127.0.0.1]
    traffic.py --list-mixes

Drives a fixed, deterministic list of connections at a server, one connection
at a time, and writes one JSON object per connection to FILE:

    {"scenario": "...", "port": <client port>, "sent": [["GET", "/x", <bytes>], ...],
     "answered": [{"method", "path", "status", "keep_alive", "bytes"}],
     "closed_by": "client"|"server", "states": [expected ConnState words],
     "server_requests": <requests the server is expected to log>,
     "error": null|"..."}

Every request is written exactly as given (no library in between), so keep-
alive, pipelining (all requests of a connection in one send) and
"Connection: close" are under the test's control. Each connection is fully
finished before the next starts: when the client ends a keep-alive
connection it half-closes (FIN) and waits for the server's FIN, so the
server has closed its socket too. Client ports are unique within a run (so
the server's access log and connstate's output can be matched by port).

Only the Python standard library; run with /usr/bin/python3.
"""
import argparse
import json
import socket
import sys

TIMEOUT = 5.0


def req(method, path, version="1.1", headers=(), body=b""):
    return {"method": method, "path": path, "version": version,
            "headers": list(headers), "body": body}


# States Go's ConnState hook reports (see DESIGN.md), spelled out.
def ka_states(n):
    """n keep-alive requests answered, then the client closes."""
    return ["new"] + ["active", "idle"] * n + ["closed"]


CLOSE_STATES = ["new", "active", "closed"]  # one request, the server closes

# A connection: scenario name, requests, "seq" (one at a time) or "pipe"
# (all in one send), the expected state sequence, how many requests the
# server is expected to log (and answer), and who is expected to close.


def conn(name, reqs, mode, states, server_requests, closed_by, extra_ok=False):
    """extra_ok: bytes after the last response are the server's quirk (busybox
    httpd sends a body after a HEAD response), counted, not an error."""
    return {"scenario": name, "reqs": reqs, "mode": mode, "states": states,
            "server_requests": server_requests, "closed_by": closed_by,
            "extra_ok": extra_ok}


KA = [("Connection", "keep-alive")]
CLOSE = [("Connection", "close")]


def mix_nginx():
    # /small.txt and /big.bin go out with writev (headers) + sendfile (body);
    # under /nosf/ sendfile is off, so bodies go out with writev too.
    return [
        conn("keepalive_3", [req("GET", "/small.txt"), req("GET", "/big.bin"),
                             req("GET", "/missing")], "seq", ka_states(3), 3, "client"),
        conn("keepalive_3", [req("GET", "/nosf/small.txt"), req("GET", "/nosf/big.bin"),
                             req("GET", "/small.txt?q=1")], "seq", ka_states(3), 3, "client"),
        conn("keepalive_3", [req("HEAD", "/big.bin"), req("GET", "/missing"),
                             req("GET", "/nosf/big.bin")], "seq", ka_states(3), 3, "client"),
        conn("keepalive_3", [req("GET", "/big.bin"), req("GET", "/big.bin"),
                             req("GET", "/big.bin")], "seq", ka_states(3), 3, "client"),
        conn("pipelined_3", [req("GET", "/small.txt"), req("GET", "/missing"),
                             req("GET", "/nosf/small.txt")], "pipe", ka_states(3), 3, "client"),
        conn("pipelined_3", [req("GET", "/small.txt"), req("GET", "/big.bin"),
                             req("HEAD", "/small.txt")], "pipe", ka_states(3), 3, "client"),
        conn("conn_close", [req("GET", "/small.txt", headers=CLOSE)], "seq",
             CLOSE_STATES, 1, "server"),
        conn("conn_close", [req("GET", "/big.bin", headers=CLOSE)], "seq",
             CLOSE_STATES, 1, "server"),
        conn("conn_close", [req("GET", "/missing", headers=CLOSE)], "seq",
             CLOSE_STATES, 1, "server"),
        conn("conn_close_after_2", [req("GET", "/small.txt"),
                                    req("GET", "/nosf/small.txt", headers=CLOSE)], "seq",
             ["new", "active", "idle", "active", "closed"], 2, "server"),
        # pipelined behind "Connection: close": nginx answers two, never the third
        conn("pipelined_after_conn_close",
             [req("GET", "/small.txt"), req("GET", "/nosf/small.txt", headers=CLOSE),
              req("GET", "/big.bin")], "pipe",
             ["new", "active", "idle", "active", "closed"], 2, "server"),
        conn("http10", [req("GET", "/small.txt", "1.0")], "seq", CLOSE_STATES, 1, "server"),
        conn("http10", [req("GET", "/big.bin", "1.0")], "seq", CLOSE_STATES, 1, "server"),
        conn("http10_keepalive", [req("GET", "/small.txt", "1.0", KA),
                                  req("GET", "/nosf/small.txt", "1.0", KA)], "seq",
             ka_states(2), 2, "client"),
        conn("head", [req("HEAD", "/small.txt")], "seq", ka_states(1), 1, "client"),
        conn("head", [req("HEAD", "/missing", "1.0")], "seq", CLOSE_STATES, 1, "server"),
    ]


def mix_py10():
    # python3 -m http.server: protocol_version HTTP/1.0, every response closes.
    return [
        conn("get", [req("GET", "/small.txt")], "seq", CLOSE_STATES, 1, "server"),
        conn("get", [req("GET", "/big.bin")], "seq", CLOSE_STATES, 1, "server"),
        conn("not_found", [req("GET", "/missing")], "seq", CLOSE_STATES, 1, "server"),
        conn("head", [req("HEAD", "/small.txt")], "seq", CLOSE_STATES, 1, "server"),
        conn("http10", [req("GET", "/small.txt", "1.0")], "seq", CLOSE_STATES, 1, "server"),
        # keep-alive asked for, refused: the second request is never sent
        conn("keepalive_refused", [req("GET", "/small.txt", headers=KA),
                                   req("GET", "/big.bin", headers=KA)], "seq",
             CLOSE_STATES, 1, "server"),
        # three in one packet: the server answers the first and closes
        conn("pipelined_3", [req("GET", "/small.txt"), req("GET", "/big.bin"),
                             req("GET", "/missing")], "pipe", CLOSE_STATES, 1, "server"),
    ]


def mix_py11():
    # tests/integration/py_server.py: HTTP/1.1 keep-alive; errors (404) close.
    return [
        conn("keepalive_3", [req("GET", "/small.txt"), req("GET", "/big.bin"),
                             req("HEAD", "/small.txt")], "seq", ka_states(3), 3, "client"),
        conn("keepalive_3", [req("GET", "/big.bin"), req("GET", "/small.txt?x=1"),
                             req("GET", "/small.txt")], "seq", ka_states(3), 3, "client"),
        conn("pipelined_3", [req("GET", "/small.txt"), req("HEAD", "/big.bin"),
                             req("GET", "/big.bin")], "pipe", ka_states(3), 3, "client"),
        conn("conn_close", [req("GET", "/small.txt", headers=CLOSE)], "seq",
             CLOSE_STATES, 1, "server"),
        conn("conn_close_after_2", [req("GET", "/small.txt"),
                                    req("GET", "/big.bin", headers=CLOSE)], "seq",
             ["new", "active", "idle", "active", "closed"], 2, "server"),
        conn("http10", [req("GET", "/small.txt", "1.0")], "seq", CLOSE_STATES, 1, "server"),
        # 404 is sent with "Connection: close": the rest is never sent
        conn("not_found_closes", [req("GET", "/missing"), req("GET", "/small.txt")], "seq",
             CLOSE_STATES, 1, "server"),
        conn("head", [req("HEAD", "/small.txt")], "seq", ka_states(1), 1, "client"),
        # pipelined behind a response that closes (the 404): the server
        # reads the third request but never serves it (as Go would not)
        conn("pipelined_404_closes", [req("GET", "/small.txt"), req("GET", "/missing"),
                                      req("GET", "/small.txt")], "pipe",
             ["new", "active", "idle", "active", "closed"], 2, "server"),
    ]


def mix_busybox():
    # busybox httpd: one forked child per connection, always Connection: close.
    return [
        conn("get", [req("GET", "/small.txt")], "seq", CLOSE_STATES, 1, "server"),
        conn("get", [req("GET", "/big.bin")], "seq", CLOSE_STATES, 1, "server"),
        conn("not_found", [req("GET", "/missing")], "seq", CLOSE_STATES, 1, "server"),
        # busybox 1.35 writes the file after the headers of a HEAD response
        conn("head", [req("HEAD", "/small.txt")], "seq", CLOSE_STATES, 1, "server",
             extra_ok=True),
        conn("http10", [req("GET", "/small.txt", "1.0")], "seq", CLOSE_STATES, 1, "server"),
        conn("keepalive_refused", [req("GET", "/small.txt", headers=KA),
                                   req("GET", "/big.bin", headers=KA)], "seq",
             CLOSE_STATES, 1, "server"),
        # busybox logs the path without the query
        conn("get", [req("GET", "/small.txt?n=1")], "seq", CLOSE_STATES, 1, "server"),
        conn("get", [req("GET", "/small.txt?n=2")], "seq", CLOSE_STATES, 1, "server"),
        # three in one packet: the child answers the first and closes
        conn("pipelined_3", [req("GET", "/small.txt"), req("GET", "/big.bin"),
                             req("GET", "/missing")], "pipe", CLOSE_STATES, 1, "server"),
    ]


MIXES = {
    "nginx": mix_nginx,
    "py10": mix_py10,
    "py11": mix_py11,
    "busybox": mix_busybox,
}


def encode(r, host):
    lines = ["%s %s HTTP/%s" % (r["method"], r["path"], r["version"]),
             "Host: %s" % host, "User-Agent: connstate-integration"]
    lines += ["%s: %s" % h for h in r["headers"]]
    if r["body"]:
        lines.append("Content-Length: %d" % len(r["body"]))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + r["body"]


class Reader:
    """Reads responses off a socket, framing them as RFC 9112 says."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def fill(self):
        if self.eof:
            return False
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def take(self, n):
        while len(self.buf) < n:
            if not self.fill():
                raise EOFError("connection closed %d bytes into a %d byte body"
                               % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self):
        while b"\r\n" not in self.buf:
            if not self.fill():
                raise EOFError("connection closed inside a header block")
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out.decode("latin-1")

    def at_eof(self):
        return not self.buf and not self.fill()

    def response(self, method, req_version, req_close):
        """Returns (status, keep_alive, bytes) of one final response."""
        while True:
            status_line = self.line()
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/"):
                raise ValueError("bad status line %r" % status_line)
            version, status = parts[0], int(parts[1])
            headers = {}
            size = len(status_line) + 2
            while True:
                h = self.line()
                size += len(h) + 2
                if not h:
                    break
                k, _, v = h.partition(":")
                headers.setdefault(k.strip().lower(), []).append(v.strip())
            if 100 <= status < 200 and status != 101:
                continue
            break
        conn_tokens = ",".join(headers.get("connection", [])).lower()
        conn_tokens = [t.strip() for t in conn_tokens.split(",") if t.strip()]
        if version == "HTTP/1.1":
            keep = "close" not in conn_tokens
        else:
            keep = "keep-alive" in conn_tokens
        if req_close:
            keep = False
        te = ",".join(headers.get("transfer-encoding", [])).lower()
        body = 0
        if method == "HEAD" or status in (204, 304):
            pass
        elif "chunked" in te:
            while True:
                ln = self.line()
                size += len(ln) + 2
                n = int(ln.split(";")[0], 16)
                if n == 0:
                    while True:
                        t = self.line()
                        size += len(t) + 2
                        if not t:
                            break
                    break
                body += len(self.take(n))
                crlf = self.take(2)
                size += 2
                if crlf != b"\r\n":
                    raise ValueError("bad chunk terminator")
        elif "content-length" in headers:
            n = int(headers["content-length"][0])
            body = len(self.take(n))
        else:
            while self.fill():
                pass
            body = len(self.buf)
            self.buf = b""
            keep = False
        return status, keep, size + body


def unique_socket(host, used, spare):
    """A socket bound to a client port not used before in this run.

    bind(0) never hands out a port that a live or TIME_WAIT socket holds;
    ports the run already used are kept held by spare sockets."""
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((host, 0))
        port = s.getsockname()[1]
        if port not in used:
            used.add(port)
            return s, port
        spare.append(s)


def run_conn(c, host, port, used, spare):
    s, cport = unique_socket(host, used, spare)
    rec = {"scenario": c["scenario"], "port": cport, "mode": c["mode"], "sent": [],
           "answered": [], "closed_by": None, "states": c["states"],
           "server_requests": c["server_requests"], "expect_closed_by": c["closed_by"],
           "error": None}
    s.settimeout(TIMEOUT)
    try:
        s.connect((host, port))
        rd = Reader(s)
        hostport = "%s:%d" % (host, port)
        closed = False

        def is_close(r):
            toks = [v.lower() for k, v in r["headers"] if k.lower() == "connection"]
            return "close" in toks or (r["version"] == "1.0" and "keep-alive" not in toks)

        if c["mode"] == "pipe":
            s.sendall(b"".join(encode(r, hostport) for r in c["reqs"]))
            rec["sent"] = [[r["method"], r["path"], len(encode(r, hostport))]
                           for r in c["reqs"]]
            for r in c["reqs"]:
                if rd.at_eof():
                    closed = True
                    break
                st, keep, n = rd.response(r["method"], r["version"], is_close(r))
                rec["answered"].append({"method": r["method"], "path": r["path"],
                                        "status": st, "keep_alive": keep, "bytes": n})
                if not keep:
                    break
        else:
            for r in c["reqs"]:
                s.sendall(encode(r, hostport))
                rec["sent"].append([r["method"], r["path"], len(encode(r, hostport))])
                st, keep, n = rd.response(r["method"], r["version"], is_close(r))
                rec["answered"].append({"method": r["method"], "path": r["path"],
                                        "status": st, "keep_alive": keep, "bytes": n})
                if not keep:
                    break
        if closed or (rec["answered"] and not rec["answered"][-1]["keep_alive"]):
            # the server ends it: wait for its FIN, then close
            while rd.fill():
                pass
            rec["closed_by"] = "server"
        else:
            # we end it: FIN, then wait for the server to close its side
            s.shutdown(socket.SHUT_WR)
            while rd.fill():
                pass
            rec["closed_by"] = "client"
        rec["extra_bytes"] = len(rd.buf)
        if rd.buf and not c["extra_ok"]:
            rec["error"] = "%d unexpected bytes after the last response" % len(rd.buf)
    except (OSError, ValueError, EOFError) as e:
        rec["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--mix", choices=sorted(MIXES))
    ap.add_argument("--out")
    ap.add_argument("--list-mixes", action="store_true")
    a = ap.parse_args()
    if a.list_mixes:
        print("\n".join(sorted(MIXES)))
        return 0
    if not (a.port and a.mix and a.out):
        ap.error("--port, --mix and --out are required")
    used, spare = set(), []
    errors = 0
    with open(a.out, "w") as f:
        for c in MIXES[a.mix]():
            rec = run_conn(c, a.host, a.port, used, spare)
            errors += rec["error"] is not None
            f.write(json.dumps(rec) + "\n")
            f.flush()
    for s in spare:
        s.close()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
