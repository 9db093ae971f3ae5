#!/usr/bin/python3
"""A minimal HTTP/2 server over TLS (ALPN h2) whose SSL writes cut frame
headers on purpose, for connstate's plaintext frame walk (tls.bpf.c).

    h2_split_server.py --cert CERT --key KEY

Python's ssl module (OpenSSL's libssl, dynamically linked: SSL_write_ex per
sendall), HPACK and framing from Debian's python3-h2. One connection at a
time. /big answers 60000 bytes (HEADERS, then DATA frames of 16384, 16384,
16384, 10848), anything else 5 bytes. A response of five frames or more
goes out in three writes cut so that the third frame's header is split
after 4 bytes and the fourth's after 1 byte (the walk must carry both into
the next write), and the last frame's header lies past the 4 KiB the kernel
copies. Prints "listening PORT" on stdout once it accepts; one log line per
stream on stderr: CLIENT_PORT METHOD PATH STATUS PAYLOAD_BYTES (the
stream's frame payloads as written, HEADERS included).
"""
import argparse
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events


def frame_offsets(out):
    """Offsets of the frame headers in out (whole frames)."""
    offs, pos = [], 0
    while pos + 9 <= len(out):
        offs.append(pos)
        pos += 9 + int.from_bytes(out[pos:pos + 3], "big")
    return offs


def payload_bytes(out):
    return sum(int.from_bytes(out[o:o + 3], "big") for o in frame_offsets(out))


def write_split(s, out):
    offs = frame_offsets(out)
    if len(offs) < 5:
        s.sendall(out)
        return
    for piece in (out[:offs[2] + 4], out[offs[2] + 4:offs[3] + 1], out[offs[3] + 1:]):
        s.sendall(piece)


def serve(s):
    port = s.getpeername()[1]
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    while True:
        data = s.recv(65535)
        if not data:
            return
        for ev in conn.receive_data(data):
            if not isinstance(ev, h2.events.RequestReceived):
                continue
            hdrs = dict(ev.headers)
            n = 60000 if hdrs.get(":path") == "/big" else 5
            s.sendall(conn.data_to_send())  # acks before the response
            conn.send_headers(ev.stream_id, [(":status", "200"),
                                             ("content-length", str(n))])
            body = b"z" * n
            for i in range(0, n, 16384):
                conn.send_data(ev.stream_id, body[i:i + 16384], end_stream=i + 16384 >= n)
            out = conn.data_to_send()
            write_split(s, out)
            sys.stderr.write("%d %s %s 200 %d\n" % (port, hdrs.get(":method"), hdrs.get(":path"),
                                                    payload_bytes(out)))
            sys.stderr.flush()
        out = conn.data_to_send()
        if out:
            s.sendall(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.set_alpn_protocols(["h2"])
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    print("listening %d" % ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        try:
            with ctx.wrap_socket(c, server_side=True) as s:
                serve(s)
        except (OSError, h2.exceptions.ProtocolError) as e:
            sys.stderr.write("error %s\n" % e)
            sys.stderr.flush()


if __name__ == "__main__":
    main()
