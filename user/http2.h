/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/2 framing for one connection, both directions. Pure: bytes in,
 * callbacks out, no I/O. Header blocks are decoded with libnghttp2's HPACK
 * inflater (the maintained decoder; HPACK is too easy to get subtly wrong).
 *
 * Open streams are counted as Go's x/net/http2 server counts them
 * (curOpenStreams): a client HEADERS on a new odd stream id opens one when
 * its header block ends; it closes when both directions have sent
 * END_STREAM or when RST_STREAM crosses either way. Go fires StateActive
 * when the count goes 0 -> 1 (newStream) and StateIdle when it goes back to
 * 0 (closeStream); after the 24-byte client preface it fires active, idle
 * (serve: "we can't go directly to idle"); when the connection ends it
 * closes every open stream (closeAllStreamsOnConnClose), so idle comes
 * before closed. h2c upgrade: Go opens stream 1 (half closed remote) for
 * the HTTP/1 request *before* it reads the preface, so an upgraded
 * connection gets active (stream 1), active, idle (preface), idle (stream 1
 * done). Served by net/http with x/net's h2c handler (the only way Go
 * offers the upgrade), the whole line is "new active hijacked active active
 * idle idle": h2c hijacks the HTTP/1 connection, so no closed follows
 * (measured: tests/oracle/expected_h2.txt).
 *
 * The protocol seam (phase 2, not wired yet):
 *
 *  - The tracker keeps Go's state rules and one framing module per
 *    connection, chosen by the first client bytes: the 24-byte preface
 *    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" selects HTTP/2 (a first read shorter
 *    than 24 bytes that is a prefix of it waits for more); anything else is
 *    HTTP/1 (user/http1.c). An HTTP/1 request with "Upgrade: h2c" answered
 *    by "101 Switching Protocols" switches the connection to HTTP/2 with
 *    h2_upgrade() (stream 1 is that request); bytes after the request head
 *    and after the 101 head are fed here. TLS (later) feeds decrypted bytes
 *    into the same two modules.
 *  - Facts the tracker consumes: on_preface (active, idle), on_stream_open
 *    with open == 1 (active), on_stream_close with open == 0 (idle) and the
 *    request line (method, path, status, bytes; the tracker timestamps
 *    open/close for the duration), on_error / on_hpack_broken / on_lost_sync
 *    (one warning each; states go on from frame headers). At connection end
 *    it calls h2_eof(), which closes the open streams (Go prints idle before
 *    closed) and then prints closed itself. HTTP/2 itself has no hijacked;
 *    the h2c upgrade is the one place where hijacked is not terminal (the
 *    101 gives hijacked, the HTTP/2 states follow, closed does not).
 *  - Offsets: per direction, counted from the first byte given to this
 *    module (fed or skipped). The tracker subtracts the connection offset at
 *    which it switched to HTTP/2 from the kernel's offsets.
 *  - The kernel copies the first 4 KiB and last 64 bytes of a syscall; a
 *    frame header beyond them would be lost. So the kernel must walk frame
 *    headers for connections marked HTTP/2: a bounded loop (e.g. 64 frames
 *    per syscall, skipping by each header's 24-bit length, so one 1 MiB
 *    write of 16 KiB DATA frames needs 64 steps) reading 9 bytes at each
 *    frame start past the copied head, reported as (offset, length, type,
 *    flags, stream id) in the read/write event or a follow-up event. The
 *    walk needs the offset of the first frame header past the head, which
 *    the kernel keeps per connection and direction (the frame walk carries
 *    over syscall boundaries). User space marks a connection HTTP/2 by
 *    setting a flag in the BPF conns map entry (it has the key from the
 *    accept event) together with the current frame offsets; having user
 *    space decide keeps one preface parser. Until the flag is set (a few
 *    syscalls after the preface), the module may lose sync; with the flag,
 *    the tracker passes every reported header to h2_frame_at() before
 *    skipping the hole, and sync is only lost when the walk gave up.
 */
#ifndef CONNSTATE_HTTP2_H
#define CONNSTATE_HTTP2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define H2_FRAME_HEADER_LEN 9

#define H2_METHOD_MAX 16
#define H2_PATH_MAX 256
#define H2_AUTHORITY_MAX 128
/* A header block (HEADERS + CONTINUATION) longer than this breaks HPACK. */
#define H2_BLOCK_MAX (64 * 1024)
/* The HPACK dynamic table never grows past this, whatever is negotiated. */
#define H2_TABLE_MAX (64 * 1024)
/* Streams tracked at once; Go's default SETTINGS_MAX_CONCURRENT_STREAMS is
 * 250. A client that opens more is refused by Go without a new stream. */
#define H2_STREAMS_MAX 256

enum h2_dir {
	H2_CLIENT = 0, /* client -> server: what the server reads */
	H2_SERVER = 1, /* server -> client: what the server writes */
};

enum h2_frame_type {
	H2_DATA = 0x0,
	H2_HEADERS = 0x1,
	H2_PRIORITY = 0x2,
	H2_RST_STREAM = 0x3,
	H2_SETTINGS = 0x4,
	H2_PUSH_PROMISE = 0x5,
	H2_PING = 0x6,
	H2_GOAWAY = 0x7,
	H2_WINDOW_UPDATE = 0x8,
	H2_CONTINUATION = 0x9,
};

#define H2_F_END_STREAM 0x1
#define H2_F_ACK 0x1
#define H2_F_END_HEADERS 0x4
#define H2_F_PADDED 0x8
#define H2_F_PRIORITY 0x20

/* A decoded frame header, as the kernel's frame walk will report it. */
struct h2_frame_hdr {
	uint32_t length; /* 24 bits */
	uint8_t type;
	uint8_t flags;
	uint32_t stream_id; /* 31 bits */
};

enum h2_close_why {
	H2_CLOSE_ENDED,	 /* END_STREAM both ways */
	H2_CLOSE_RESET,	 /* RST_STREAM either way */
	H2_CLOSE_CONN_END, /* the connection ended with the stream open */
};

/* One stream's request line, as far as it could be decoded. Empty strings
 * mean "not decoded" (HPACK broken, or the header was absent). */
struct h2_stream_info {
	uint32_t id;
	char method[H2_METHOD_MAX];
	char path[H2_PATH_MAX];
	char authority[H2_AUTHORITY_MAX];
	int status;	   /* final (non-1xx) :status, 0 if none seen */
	uint64_t bytes_in;  /* client frame payload bytes on the stream */
	uint64_t bytes_out; /* server frame payload bytes on the stream */
	bool end_in, end_out;
	bool reset;
	bool reset_by_server;
	uint32_t reset_code;
};

struct h2_cb {
	/* The client preface was read: Go fires active then idle. */
	void (*on_preface)(void *ctx);
	/* A client stream opened; open is the count after it (1: active). */
	void (*on_stream_open)(void *ctx, const struct h2_stream_info *s, unsigned open);
	/* The request head of a stream was decoded. */
	void (*on_request)(void *ctx, const struct h2_stream_info *s);
	/* The final response head (s->status) of a stream was decoded. */
	void (*on_response)(void *ctx, const struct h2_stream_info *s);
	/* END_STREAM in one direction. */
	void (*on_end_stream)(void *ctx, const struct h2_stream_info *s, enum h2_dir dir);
	/* RST_STREAM sent by dir (the stream then closes, if it was open). */
	void (*on_reset)(void *ctx, uint32_t id, enum h2_dir dir, uint32_t code);
	/* A stream closed; open is the count after it (0: idle). */
	void (*on_stream_close)(void *ctx, const struct h2_stream_info *s, enum h2_close_why why,
				unsigned open);
	/* GOAWAY sent by dir. */
	void (*on_goaway)(void *ctx, enum h2_dir dir, uint32_t last_id, uint32_t code);
	/* The first protocol error of the connection (Go answers with GOAWAY
	 * and closes); the direction that sent it is not framed any more. */
	void (*on_error)(void *ctx, enum h2_dir dir, const char *reason);
	/* Header blocks can no longer be decoded (once per connection). */
	void (*on_hpack_broken)(void *ctx, enum h2_dir dir, const char *reason);
	/* A frame header fell into a hole: dir cannot be framed until a
	 * h2_frame_at() fact resynchronizes it. Once per loss. */
	void (*on_lost_sync)(void *ctx, enum h2_dir dir);
};

struct h2_conn;

/* NULL when out of memory. cb is kept; any callback may be NULL. */
struct h2_conn *h2_new(const struct h2_cb *cb, void *ctx);
void h2_free(struct h2_conn *c);
/* The connection was upgraded from HTTP/1 (h2c): stream 1 is the request
 * that carried "Upgrade: h2c", already complete. Call before any byte. */
void h2_upgrade(struct h2_conn *c, const char *method, const char *path, const char *authority);
/* Copied bytes of direction dir, in order. */
void h2_feed(struct h2_conn *c, enum h2_dir dir, const uint8_t *data, size_t len);
/* n bytes of direction dir that were counted but not copied. */
void h2_skip(struct h2_conn *c, enum h2_dir dir, uint64_t n);
/* A frame header at offset off of direction dir, reported by the kernel for
 * bytes that were not copied. off must not be before h2_offset(); bytes up
 * to off are skipped, the 9 header bytes are taken as read. Resynchronizes
 * a direction that lost sync. */
void h2_frame_at(struct h2_conn *c, enum h2_dir dir, uint64_t off, const struct h2_frame_hdr *fh);
/* The connection ended: closes the open streams (H2_CLOSE_CONN_END). */
void h2_eof(struct h2_conn *c);
/* Bytes of dir given to the module so far (fed or skipped). */
uint64_t h2_offset(const struct h2_conn *c, enum h2_dir dir);
/* Streams open now, as Go counts them. */
unsigned h2_open_streams(const struct h2_conn *c);
/* Whether the first len bytes could start a client preface (len < 24) or
 * are one (len >= 24): how the tracker picks HTTP/2 over HTTP/1. */
bool h2_is_preface(const uint8_t *data, size_t len);

#endif /* CONNSTATE_HTTP2_H */
