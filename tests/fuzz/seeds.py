#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Writes the hand-made seeds of tests/fuzz/corpus/{tracker,http1}/seed-*.

Each seed is a named, readable scenario in the target's input encoding (see
fuzz_tracker.c and fuzz_http1.c); the fuzzer's own finds sit beside them,
named by their SHA-1. Run it again after changing an encoding.
"""
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))

# --- tracker: records of [type-1 | frames << 4, socket, ret, flags, head*17,
# tail] + bytes + 16-byte frame records; flags bit 0 is both AF_INET and
# CS_F_SENDFILE (nothing copied): 0 = IPv6; bit 2 is CS_F_TLS on reads and
# writes. Types past the kernel's: an end from unseen_ends, a reconcile.
ACCEPT, READ, WRITE, CLOSE = 0, 2, 3, 4
TLS_READ, TLS_WRITE, END_UNSEEN, RECONCILE = 10, 11, 12, 13
F_TLS = 4


def ev(kind, data=b"", sock=0, flags=0):
    """One event whose ret is len(data): a multiple of 37, copied whole."""
    n = len(data)
    assert n % 37 == 0 and n // 37 < 64, n
    head = n - n % 17 if n <= 4096 else 0
    tail = n - head
    assert tail <= 64 and head % 17 == 0
    return bytes([kind, sock, n // 37, flags, head // 17, tail]) + data


def pad(msg, n, marker=b"X-Pad: "):
    """Pads a header block to n bytes with a header line before its end."""
    head, sep, body = msg.partition(b"\r\n\r\n")
    extra = n - len(msg) - len(marker) - 2
    assert extra >= 0, (msg, n)
    return head + b"\r\n" + marker + b"a" * extra + sep + body


GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def h2frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


# prior knowledge: preface, SETTINGS, HEADERS (GET / on stream 1: HPACK
# static entries and a literal :authority), PING, SETTINGS ACK: 74 bytes
H2_REQ = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2frame(4, 0, 0) + \
    h2frame(1, 5, 1, bytes([0x82, 0x84, 0x86, 0x41, 1, 0x61])) + \
    h2frame(6, 0, 0, b"12345678") + h2frame(4, 1, 0)
# SETTINGS, SETTINGS ACK, HEADERS :status 200, empty DATA ending the stream
H2_RESP = h2frame(4, 0, 0) + h2frame(4, 1, 0) + h2frame(1, 4, 1, bytes([0x88])) + \
    h2frame(0, 1, 1)
# a frame record: where a frame header starts past a write's copied head
def frame_rec(off, hdr):
    return struct.pack("<I", off) + hdr + bytes(3)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"

tracker = {
    "keepalive": ev(ACCEPT) + ev(READ, pad(GET, 37)) + ev(WRITE, pad(OK, 74)) +
    ev(READ) + ev(CLOSE),
    "pipelined": ev(ACCEPT) + ev(READ, pad(GET, 37) * 2) + ev(WRITE, pad(OK, 74)) +
    ev(WRITE, pad(OK, 74)) + ev(READ) + ev(CLOSE),
    "close": ev(ACCEPT) + ev(READ, pad(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 74)) +
    ev(WRITE, pad(OK, 74)) + ev(CLOSE),
    "chunked": ev(ACCEPT) + ev(READ, pad(GET, 37)) +
    ev(WRITE, pad(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 74)) +
    ev(WRITE, b"1a\r\n" + b"c" * 26 + b"\r\n0\r\n\r\n") + ev(CLOSE),
    "upgrade": ev(ACCEPT) +
    ev(READ, pad(b"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 74)) +
    ev(WRITE, pad(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n", 74)) +
    ev(READ, b"\x81" * 37) + ev(CLOSE),
    "two_conns": ev(ACCEPT) + ev(ACCEPT, sock=1, flags=1) + ev(READ, pad(GET, 37), sock=1) +
    ev(READ, pad(GET, 37)) + ev(WRITE, pad(OK, 74), sock=1) + ev(WRITE, pad(OK, 74)) +
    ev(CLOSE, sock=1) + ev(CLOSE),
    "garbage": ev(ACCEPT) + ev(READ, b"\x16\x03\x01" + b"z" * 34) + ev(CLOSE),
    # a hole: ret 0x41 -> 65 * 100000 bytes, only 17 copied
    "hole": ev(ACCEPT) + ev(READ, pad(GET, 37)) +
    bytes([WRITE, 0, 0x41, 0, 1, 0]) + OK[:17] + ev(CLOSE),
    "tls_keepalive": ev(ACCEPT) + ev(READ, b"\x16" * 37, flags=F_TLS) +
    ev(TLS_READ, pad(GET, 37)) + ev(WRITE, b"\x17" * 74, flags=F_TLS) + ev(TLS_WRITE, pad(OK, 74)) +
    ev(TLS_READ, pad(GET, 37)) + ev(TLS_WRITE, pad(OK, 74)) + ev(CLOSE),
    "h2": ev(ACCEPT) + ev(READ, H2_REQ) + ev(WRITE, H2_RESP) + ev(READ) + ev(CLOSE),
    # a 74-byte write, 34 bytes copied: the HEADERS frame and part of a DATA
    # frame whose header the kernel's frame walk reports at offset 10
    "h2_frames": ev(ACCEPT) + ev(READ, H2_REQ) + ev(WRITE, H2_RESP[:37]) +
    bytes([WRITE | 1 << 4, 0, 2, 0, 2, 0]) + (h2frame(1, 4, 3, bytes([0x88])) +
                                               h2frame(0, 1, 3, b"x" * 64))[:34] +
    frame_rec(10, h2frame(0, 1, 3, b"x" * 64)[:9]) + ev(CLOSE),
    "unseen_end": ev(ACCEPT) + ev(READ, pad(GET, 37)) + bytes([END_UNSEEN, 0, 0, 0, 0, 0]) +
    bytes([END_UNSEEN, 0x90, 0, 0x80, 0, 0]),
    "reconcile": ev(ACCEPT) + ev(ACCEPT, sock=1) + ev(READ, pad(GET, 37), sock=1) +
    bytes([RECONCILE, 0, 0, 0, 0, 0]),
}

# --- http1: see fuzz_http1.c for the encoding
H1_FEED, H1_SKIP, H1_WRITE_END, H1_EOF, H1_RESET, H1_REPEAT = range(6)


def feed(data):
    out = b""
    while data:
        out += bytes([H1_FEED, min(len(data), 255)]) + data[:255]
        data = data[255:]
    return out


def skip(n):
    return bytes([H1_SKIP]) + struct.pack("<H", n)


REQ, RESP, LONG = 0, 1, 4
http1 = {
    "get": bytes([REQ, 0]) + feed(GET),
    "get_split": bytes([REQ, 0]) + feed(GET[:5]) + feed(GET[5:20]) + feed(GET[20:]),
    "post_length": bytes([REQ, 0]) +
    feed(b"\r\nPOST /u HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
    "post_chunked": bytes([REQ, 0]) +
    feed(b"POST /u HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
         b"5;x=y\r\nhello\r\n0\r\nTrailer: 1\r\n\r\n"),
    "resp_length": bytes([RESP, 0]) + feed(OK) + bytes([H1_WRITE_END]),
    "resp_head": bytes([RESP, 2]) + feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"),
    "resp_eof": bytes([RESP, 0]) + feed(b"HTTP/1.0 200 OK\r\n\r\nbody") + bytes([H1_EOF]),
    "resp_chunked_hole": bytes([RESP, 0]) +
    feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n") + skip(100) +
    feed(b"abc\r\n0\r\n\r\n") + bytes([H1_WRITE_END]),
    "resp_101": bytes([RESP, 2]) +
    feed(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n") + feed(b"x" * 9),
    "head_hole": bytes([REQ, 0]) + feed(b"GET / HT") + skip(3) + bytes([H1_RESET]) + feed(GET),
    "big_head": bytes([REQ | LONG, 0]) + feed(b"GET / HTTP/1.1\r\nX: ") +
    bytes([H1_REPEAT, ord("a"), 0x00, 0x40]) + feed(b"\r\nContent-Length: 1\r\n\r\nz"),
}

for target, seeds in (("tracker", tracker), ("http1", http1)):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)
