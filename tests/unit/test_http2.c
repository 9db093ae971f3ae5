// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of user/http2.c. Frames are built by hand, header blocks with
 * nghttp2's HPACK deflater (one per direction, as a peer has), and every
 * fact the module reports is logged as one line so a test states the exact
 * sequence it expects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "http2.h"

struct buf {
	uint8_t b[1 << 17];
	size_t n;
};

struct t {
	struct h2_conn *c;
	nghttp2_hd_deflater *enc[2];
	char log[8192];
	size_t loglen;
	struct buf out[2]; /* bytes built for each direction, not yet fed */
	uint64_t sent[2][64]; /* frame payload bytes built per stream */
};

static const char *dn(enum h2_dir d)
{
	return d == H2_CLIENT ? "c" : "s";
}

static void logf_(struct t *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->log + t->loglen, sizeof(t->log) - t->loglen, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(t->log) - t->loglen);
	t->loglen += n;
}

static void on_preface(void *ctx)
{
	logf_(ctx, "preface\n");
}

static void on_open(void *ctx, const struct h2_stream_info *s, unsigned open)
{
	logf_(ctx, "open %u n=%u\n", s->id, open);
}

static void on_request(void *ctx, const struct h2_stream_info *s)
{
	logf_(ctx, "req %u %s %s %s\n", s->id, s->method, s->path, s->authority);
}

static void on_response(void *ctx, const struct h2_stream_info *s)
{
	logf_(ctx, "resp %u %d\n", s->id, s->status);
}

static void on_end(void *ctx, const struct h2_stream_info *s, enum h2_dir d)
{
	logf_(ctx, "end %u %s\n", s->id, dn(d));
}

static void on_reset(void *ctx, uint32_t id, enum h2_dir d, uint32_t code)
{
	logf_(ctx, "rst %u %s %u\n", id, dn(d), code);
}

static void on_close(void *ctx, const struct h2_stream_info *s, enum h2_close_why why,
		     unsigned open)
{
	static const char *const w[] = { "ended", "reset", "conn_end" };
	struct t *t = ctx;
	uint64_t in = s->id < 64 ? t->sent[H2_CLIENT][s->id] : 0;
	uint64_t out = s->id < 64 ? t->sent[H2_SERVER][s->id] : 0;

	/* the byte counts must equal what the builder put in frames */
	if (s->bytes_in == in && s->bytes_out == out)
		logf_(ctx, "close %u %s n=%u [%s %s %d bytes ok]\n", s->id, w[why], open,
		      s->method[0] ? s->method : "-", s->path[0] ? s->path : "-", s->status);
	else
		logf_(ctx, "close %u %s n=%u [in=%llu/%llu out=%llu/%llu]\n", s->id, w[why], open,
		      (unsigned long long)s->bytes_in, (unsigned long long)in,
		      (unsigned long long)s->bytes_out, (unsigned long long)out);
}

static void on_goaway(void *ctx, enum h2_dir d, uint32_t last, uint32_t code)
{
	logf_(ctx, "goaway %s %u %u\n", dn(d), last, code);
}

static void on_error(void *ctx, enum h2_dir d, const char *why)
{
	logf_(ctx, "error %s %s\n", dn(d), why);
}

static void on_hpack(void *ctx, enum h2_dir d, const char *why)
{
	logf_(ctx, "hpack %s %s\n", dn(d), why);
}

static void on_lost(void *ctx, enum h2_dir d)
{
	logf_(ctx, "lost %s\n", dn(d));
}

static const struct h2_cb cb = {
	on_preface, on_open,  on_request, on_response, on_end, on_reset,
	on_close,   on_goaway, on_error,   on_hpack,    on_lost,
};

/* A fresh connection: module, encoders, log and counts. */
static void fresh(struct t *t)
{
	if (t->c) {
		h2_free(t->c);
		nghttp2_hd_deflate_del(t->enc[0]);
		nghttp2_hd_deflate_del(t->enc[1]);
	}
	t->c = h2_new(&cb, t);
	assert_non_null(t->c);
	assert_int_equal(nghttp2_hd_deflate_new(&t->enc[0], 4096), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&t->enc[1], 4096), 0);
	t->loglen = 0;
	t->log[0] = '\0';
	memset(t->sent, 0, sizeof(t->sent));
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	fresh(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	h2_free(t->c);
	nghttp2_hd_deflate_del(t->enc[0]);
	nghttp2_hd_deflate_del(t->enc[1]);
	free(t);
	return 0;
}

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void frame(struct t *t, enum h2_dir d, uint8_t type, uint8_t flags, uint32_t sid,
		  const void *payload, size_t len)
{
	uint8_t h[9] = { len >> 16, len >> 8, len, type, flags, sid >> 24, sid >> 16, sid >> 8,
			 sid };

	put(&t->out[d], h, 9);
	if (sid < 64 && (type == H2_DATA || type == H2_HEADERS || type == H2_CONTINUATION))
		t->sent[d][sid] += len;
	if (len)
		put(&t->out[d], payload, len);
}

/* A header block from "name", "value", ... NULL, with d's encoder. */
static size_t block(struct t *t, enum h2_dir d, uint8_t *dst, size_t cap, const char **kv)
{
	nghttp2_nv nv[16];
	size_t n = 0;
	ssize_t r;

	for (; kv[0]; kv += 2, n++) {
		nv[n].name = (uint8_t *)kv[0];
		nv[n].namelen = strlen(kv[0]);
		nv[n].value = (uint8_t *)kv[1];
		nv[n].valuelen = strlen(kv[1]);
		nv[n].flags = NGHTTP2_NV_FLAG_NONE;
	}
	r = nghttp2_hd_deflate_hd(t->enc[d], dst, cap, nv, n);
	assert_true(r > 0);
	return r;
}

static void headers(struct t *t, enum h2_dir d, uint8_t flags, uint32_t sid, const char **kv)
{
	uint8_t b[4096];
	size_t n = block(t, d, b, sizeof(b), kv);

	frame(t, d, H2_HEADERS, flags | H2_F_END_HEADERS, sid, b, n);
}

static void get(struct t *t, uint32_t sid, const char *path)
{
	const char *kv[] = { ":method", "GET", ":scheme", "http", ":path", path,
			     ":authority", "h", NULL };

	headers(t, H2_CLIENT, H2_F_END_STREAM, sid, kv);
}

static void status(struct t *t, uint32_t sid, const char *code, uint8_t flags)
{
	const char *kv[] = { ":status", code, "content-type", "text/plain", NULL };

	headers(t, H2_SERVER, flags, sid, kv);
}

static void settings(struct t *t, enum h2_dir d, uint16_t id, uint32_t v)
{
	uint8_t p[6] = { id >> 8, id, v >> 24, v >> 16, v >> 8, v };

	frame(t, d, H2_SETTINGS, 0, 0, p, id ? 6 : 0);
}

static void data(struct t *t, enum h2_dir d, uint32_t sid, size_t len, uint8_t flags)
{
	static uint8_t zeros[1 << 16];

	frame(t, d, H2_DATA, flags, sid, zeros, len);
}

static void rst(struct t *t, enum h2_dir d, uint32_t sid, uint32_t code)
{
	uint8_t p[4] = { code >> 24, code >> 16, code >> 8, code };

	frame(t, d, H2_RST_STREAM, 0, sid, p, 4);
}

/* Feeds what was built for d, in one piece. */
static void flush(struct t *t, enum h2_dir d)
{
	h2_feed(t->c, d, t->out[d].b, t->out[d].n);
	t->out[d].n = 0;
}

static void preface(struct t *t)
{
	put(&t->out[H2_CLIENT], H2_PREFACE, H2_PREFACE_LEN);
	settings(t, H2_CLIENT, 0, 0);
	flush(t, H2_CLIENT);
	settings(t, H2_SERVER, 0x5, 1 << 20); /* Go's MAX_FRAME_SIZE */
	frame(t, H2_SERVER, H2_SETTINGS, H2_F_ACK, 0, NULL, 0);
	flush(t, H2_SERVER);
	frame(t, H2_CLIENT, H2_SETTINGS, H2_F_ACK, 0, NULL, 0);
	flush(t, H2_CLIENT);
}

static void preface_and_settings_give_one_fact(void **state)
{
	struct t *t = *state;

	preface(t);
	assert_string_equal(t->log, "preface\n");
	assert_int_equal(h2_open_streams(t->c), 0);
	assert_int_equal(h2_offset(t->c, H2_CLIENT), 24 + 9 + 9);
}

static const char one_get_log[] = "preface\n"
				  "open 1 n=1\n"
				  "req 1 GET / h\n"
				  "end 1 c\n"
				  "resp 1 200\n"
				  "end 1 s\n"
				  "close 1 ended n=0 [GET / 200 bytes ok]\n";

static void one_get_opens_and_closes_one_stream(void **state)
{
	struct t *t = *state;

	preface(t);
	get(t, 1, "/");
	flush(t, H2_CLIENT);
	status(t, 1, "200", 0);
	data(t, H2_SERVER, 1, 6, H2_F_END_STREAM);
	flush(t, H2_SERVER);
	assert_string_equal(t->log, one_get_log);
	h2_eof(t->c);
	assert_string_equal(t->log, one_get_log);
	assert_true(t->sent[H2_CLIENT][1] > 0 && t->sent[H2_SERVER][1] > 6);
}

static void three_overlapping_streams_then_one_more(void **state)
{
	struct t *t = *state;

	preface(t);
	get(t, 1, "/a");
	get(t, 3, "/b");
	get(t, 5, "/c");
	flush(t, H2_CLIENT);
	status(t, 3, "200", H2_F_END_STREAM);
	status(t, 1, "404", H2_F_END_STREAM);
	status(t, 5, "200", H2_F_END_STREAM);
	flush(t, H2_SERVER);
	/* same header fields again: the encoder now indexes its table */
	get(t, 7, "/a");
	flush(t, H2_CLIENT);
	status(t, 7, "200", H2_F_END_STREAM);
	flush(t, H2_SERVER);
	assert_string_equal(t->log, "preface\n"
				    "open 1 n=1\nreq 1 GET /a h\nend 1 c\n"
				    "open 3 n=2\nreq 3 GET /b h\nend 3 c\n"
				    "open 5 n=3\nreq 5 GET /c h\nend 5 c\n"
				    "resp 3 200\nend 3 s\nclose 3 ended n=2 [GET /b 200 bytes ok]\n"
				    "resp 1 404\nend 1 s\nclose 1 ended n=1 [GET /a 404 bytes ok]\n"
				    "resp 5 200\nend 5 s\nclose 5 ended n=0 [GET /c 200 bytes ok]\n"
				    "open 7 n=1\nreq 7 GET /a h\nend 7 c\n"
				    "resp 7 200\nend 7 s\nclose 7 ended n=0 [GET /a 200 bytes ok]\n");
}

static void rst_stream_either_way_closes(void **state)
{
	struct t *t = *state;
	const char *post[] = { ":method", "POST", ":scheme", "http", ":path", "/up",
			       ":authority", "h", NULL };

	preface(t);
	headers(t, H2_CLIENT, 0, 1, post);
	data(t, H2_CLIENT, 1, 100, 0);
	rst(t, H2_CLIENT, 1, 8);
	headers(t, H2_CLIENT, 0, 3, post);
	flush(t, H2_CLIENT);
	rst(t, H2_SERVER, 3, 7);
	flush(t, H2_SERVER);
	assert_string_equal(t->log, "preface\n"
				    "open 1 n=1\nreq 1 POST /up h\n"
				    "rst 1 c 8\nclose 1 reset n=0 [POST /up 0 bytes ok]\n"
				    "open 3 n=1\nreq 3 POST /up h\n"
				    "rst 3 s 7\nclose 3 reset n=0 [POST /up 0 bytes ok]\n");
}

static void continuation_carries_the_block(void **state)
{
	struct t *t = *state;
	const char *kv[] = { ":method", "GET", ":scheme", "http", ":path", "/continued/path",
			     ":authority", "example.org", "user-agent", "unit", NULL };
	uint8_t b[512];
	size_t n = block(t, H2_CLIENT, b, sizeof(b), kv);

	assert_true(n > 10);
	preface(t);
	frame(t, H2_CLIENT, H2_HEADERS, H2_F_END_STREAM, 1, b, 4);
	frame(t, H2_CLIENT, H2_CONTINUATION, 0, 1, b + 4, 4);
	frame(t, H2_CLIENT, H2_CONTINUATION, 0, 1, NULL, 0);
	frame(t, H2_CLIENT, H2_CONTINUATION, H2_F_END_HEADERS, 1, b + 8, n - 8);
	flush(t, H2_CLIENT);
	assert_string_equal(t->log, "preface\nopen 1 n=1\nreq 1 GET /continued/path example.org\n"
				    "end 1 c\n");
	/* a frame inside a header block is a connection error */
	frame(t, H2_CLIENT, H2_HEADERS, 0, 3, b, 4);
	frame(t, H2_CLIENT, H2_PING, 0, 0, "12345678", 8);
	flush(t, H2_CLIENT);
	assert_string_equal(t->log + strlen(t->log) - 39,
			    "error c a header block was interrupted\n");
}

static void stream_closes_when_both_sides_ended(void **state)
{
	struct t *t = *state;
	const char *post[] = { ":method", "POST", ":scheme", "http", ":path", "/up",
			       ":authority", "h", NULL };

	preface(t);
	headers(t, H2_CLIENT, 0, 1, post);
	data(t, H2_CLIENT, 1, 10, 0);
	flush(t, H2_CLIENT);
	/* the server answers before the request body ended */
	status(t, 1, "413", H2_F_END_STREAM);
	flush(t, H2_SERVER);
	assert_int_equal(h2_open_streams(t->c), 1);
	data(t, H2_CLIENT, 1, 10, H2_F_END_STREAM);
	flush(t, H2_CLIENT);
	assert_string_equal(t->log, "preface\nopen 1 n=1\nreq 1 POST /up h\n"
				    "resp 1 413\nend 1 s\nend 1 c\n"
				    "close 1 ended n=0 [POST /up 413 bytes ok]\n");
}

static void padding_and_priority_are_stripped(void **state)
{
	struct t *t = *state;
	const char *kv[] = { ":method", "GET", ":scheme", "http", ":path", "/padded",
			     ":authority", "h", NULL };
	uint8_t b[512], p[600];
	size_t n = block(t, H2_CLIENT, b, sizeof(b), kv);
	uint8_t prio[5] = { 0, 0, 0, 0, 15 };
	uint8_t dpad[1 + 5 + 3] = { 3, 'h', 'e', 'l', 'l', 'o' };

	preface(t);
	/* PADDED | PRIORITY: pad length, 5 priority bytes, block, padding */
	p[0] = 7;
	memset(p + 1, 0, 5);
	memcpy(p + 6, b, n);
	memset(p + 6 + n, 0, 7);
	frame(t, H2_CLIENT, H2_PRIORITY, 0, 1, prio, 5);
	frame(t, H2_CLIENT, H2_HEADERS, H2_F_END_HEADERS | H2_F_PADDED | H2_F_PRIORITY, 1, p,
	      n + 13);
	frame(t, H2_CLIENT, H2_DATA, H2_F_PADDED | H2_F_END_STREAM, 1, dpad, sizeof(dpad));
	flush(t, H2_CLIENT);
	/* the server pads too */
	n = block(t, H2_SERVER, b, sizeof(b), (const char *[]){ ":status", "204", NULL });
	p[0] = 2;
	memcpy(p + 1, b, n);
	p[1 + n] = p[2 + n] = 0;
	frame(t, H2_SERVER, H2_HEADERS, H2_F_END_HEADERS | H2_F_PADDED | H2_F_END_STREAM, 1, p,
	      n + 3);
	flush(t, H2_SERVER);
	assert_string_equal(t->log, "preface\nopen 1 n=1\nreq 1 GET /padded h\n"
				    "end 1 c\nresp 1 204\nend 1 s\n"
				    "close 1 ended n=0 [GET /padded 204 bytes ok]\n");
	/* padding longer than the frame */
	dpad[0] = 9;
	get(t, 3, "/");
	frame(t, H2_CLIENT, H2_DATA, H2_F_PADDED, 3, dpad, sizeof(dpad));
	flush(t, H2_CLIENT);
	assert_non_null(strstr(t->log, "error c padding longer than the frame\n"));
}

/* The three-stream exchange, fed whole or one byte at a time, interleaved. */
static void exchange(struct t *t, struct buf *c, struct buf *s)
{
	put(&t->out[H2_CLIENT], H2_PREFACE, H2_PREFACE_LEN);
	settings(t, H2_CLIENT, 0x1, 8192);
	settings(t, H2_SERVER, 0x3, 250);
	get(t, 1, "/a");
	get(t, 3, "/b");
	status(t, 3, "200", 0);
	data(t, H2_SERVER, 3, 100, H2_F_END_STREAM);
	frame(t, H2_CLIENT, H2_WINDOW_UPDATE, 0, 0, "\0\0\1\0", 4);
	frame(t, H2_CLIENT, 0xfa, 0xff, 0, "unknown", 7);
	frame(t, H2_SERVER, H2_PING, 0, 0, "pingpong", 8);
	status(t, 1, "200", H2_F_END_STREAM);
	frame(t, H2_SERVER, H2_GOAWAY, 0, 0, "\0\0\0\3\0\0\0\0debug", 13);
	*c = t->out[H2_CLIENT];
	*s = t->out[H2_SERVER];
	t->out[H2_CLIENT].n = t->out[H2_SERVER].n = 0;
}

static void split_byte_by_byte_gives_the_same_facts(void **state)
{
	struct t *t = *state;
	static struct buf c, s;
	char whole[4096];
	uint64_t sent[2][64];
	size_t i;

	exchange(t, &c, &s);
	h2_feed(t->c, H2_CLIENT, c.b, c.n);
	h2_feed(t->c, H2_SERVER, s.b, s.n);
	strcpy(whole, t->log);
	assert_string_equal(whole, "preface\n"
				   "open 1 n=1\nreq 1 GET /a h\nend 1 c\n"
				   "open 3 n=2\nreq 3 GET /b h\nend 3 c\n"
				   "resp 3 200\nend 3 s\nclose 3 ended n=1 [GET /b 200 bytes ok]\n"
				   "resp 1 200\nend 1 s\nclose 1 ended n=0 [GET /a 200 bytes ok]\n"
				   "goaway s 3 0\n");

	/* again, on a fresh connection, a byte at a time */
	memcpy(sent, t->sent, sizeof(sent));
	fresh(t);
	memcpy(t->sent, sent, sizeof(sent));
	for (i = 0; i < c.n; i++)
		h2_feed(t->c, H2_CLIENT, c.b + i, 1);
	for (i = 0; i < s.n; i++)
		h2_feed(t->c, H2_SERVER, s.b + i, 1);
	assert_string_equal(t->log, whole);
	assert_int_equal(h2_offset(t->c, H2_CLIENT), c.n);
	assert_int_equal(h2_offset(t->c, H2_SERVER), s.n);
}

static void hole_in_data_is_counted(void **state)
{
	struct t *t = *state;
	struct buf *s = &t->out[H2_SERVER];
	struct h2_frame_hdr second = { 16384, H2_DATA, H2_F_END_STREAM, 1 };
	uint64_t base;

	preface(t);
	get(t, 1, "/big");
	flush(t, H2_CLIENT);
	status(t, 1, "200", 0);
	data(t, H2_SERVER, 1, 16384, 0);
	data(t, H2_SERVER, 1, 16384, H2_F_END_STREAM);
	/* the kernel copied the first 4 KiB and the last 64 bytes */
	h2_feed(t->c, H2_SERVER, s->b, 4096);
	h2_skip(t->c, H2_SERVER, s->n - 4096 - 64);
	h2_feed(t->c, H2_SERVER, s->b + s->n - 64, 64);
	assert_string_equal(t->log, "preface\nopen 1 n=1\nreq 1 GET /big h\nend 1 c\n"
				    "resp 1 200\nlost s\nhpack s a frame header was not copied\n");
	/* the same with the kernel's frame walk: no loss */
	fresh(t);
	s->n = 0;
	preface(t);
	get(t, 1, "/big");
	flush(t, H2_CLIENT);
	status(t, 1, "200", 0);
	data(t, H2_SERVER, 1, 16384, 0);
	data(t, H2_SERVER, 1, 16384, H2_F_END_STREAM);
	base = h2_offset(t->c, H2_SERVER);
	h2_feed(t->c, H2_SERVER, s->b, 4096);
	h2_frame_at(t->c, H2_SERVER, base + s->n - 16384 - 9, &second);
	h2_skip(t->c, H2_SERVER, base + s->n - 64 - h2_offset(t->c, H2_SERVER));
	h2_feed(t->c, H2_SERVER, s->b + s->n - 64, 64);
	assert_string_equal(t->log, "preface\nopen 1 n=1\nreq 1 GET /big h\nend 1 c\n"
				    "resp 1 200\nend 1 s\n"
				    "close 1 ended n=0 [GET /big 200 bytes ok]\n");
	assert_int_equal(h2_offset(t->c, H2_SERVER), base + s->n);
}

static void hole_in_frame_header_loses_sync_until_frame_at(void **state)
{
	struct t *t = *state;
	struct h2_frame_hdr h;
	uint64_t off;

	preface(t);
	get(t, 1, "/");
	off = h2_offset(t->c, H2_CLIENT);
	/* the HEADERS frame header itself is in the hole */
	h2_skip(t->c, H2_CLIENT, 5);
	assert_string_equal(t->log, "preface\nlost c\nhpack c a frame header was not copied\n");
	h2_skip(t->c, H2_CLIENT, t->out[H2_CLIENT].n - 5);
	t->out[H2_CLIENT].n = 0;
	/* nothing is framed while lost */
	get(t, 3, "/");
	flush(t, H2_CLIENT);
	assert_int_equal(h2_open_streams(t->c), 0);
	/* the kernel's walk reports the next frame: back in sync; HPACK stays
	 * broken, frame headers carry the states */
	off = h2_offset(t->c, H2_CLIENT);
	h = (struct h2_frame_hdr){ 7, H2_HEADERS, H2_F_END_HEADERS | H2_F_END_STREAM, 5 };
	h2_frame_at(t->c, H2_CLIENT, off + 100, &h);
	h2_skip(t->c, H2_CLIENT, 7);
	t->sent[H2_CLIENT][5] = 7; /* the frame only the kernel saw */
	status(t, 5, "200", H2_F_END_STREAM);
	flush(t, H2_SERVER);
	assert_string_equal(t->log, "preface\nlost c\nhpack c a frame header was not copied\n"
				    "open 5 n=1\nend 5 c\nresp 5 200\nend 5 s\n"
				    "close 5 ended n=0 [- - 200 bytes ok]\n");
}

static void hole_in_header_block_breaks_hpack_once(void **state)
{
	struct t *t = *state;
	struct buf *c = &t->out[H2_CLIENT];

	preface(t);
	get(t, 1, "/secret");
	h2_feed(t->c, H2_CLIENT, c->b, 12);
	h2_skip(t->c, H2_CLIENT, c->n - 12);
	c->n = 0;
	get(t, 3, "/later");
	flush(t, H2_CLIENT);
	status(t, 1, "200", H2_F_END_STREAM);
	status(t, 3, "200", H2_F_END_STREAM);
	flush(t, H2_SERVER);
	assert_string_equal(t->log, "preface\n"
				    "hpack c a header block was not copied\n"
				    "open 1 n=1\nend 1 c\n"
				    "open 3 n=2\nend 3 c\n"
				    "resp 1 200\nend 1 s\nclose 1 ended n=1 [- - 200 bytes ok]\n"
				    "resp 3 200\nend 3 s\nclose 3 ended n=0 [- - 200 bytes ok]\n");
}

static void oversized_frame_is_one_error(void **state)
{
	struct t *t = *state;

	put(&t->out[H2_CLIENT], H2_PREFACE, H2_PREFACE_LEN);
	settings(t, H2_CLIENT, 0, 0);
	flush(t, H2_CLIENT);
	settings(t, H2_SERVER, 0, 0); /* the default: 16384 */
	flush(t, H2_SERVER);
	get(t, 1, "/");
	data(t, H2_CLIENT, 1, 16385, 0);
	data(t, H2_CLIENT, 1, 16385, 0);
	get(t, 3, "/");
	flush(t, H2_CLIENT);
	frame(t, H2_SERVER, H2_GOAWAY, 0, 0, "\0\0\0\1\0\0\0\6", 8);
	flush(t, H2_SERVER);
	/* nothing is counted after the error */
	t->sent[H2_CLIENT][1] -= 2 * 16385;
	h2_eof(t->c);
	assert_string_equal(t->log, "preface\nopen 1 n=1\nreq 1 GET / h\nend 1 c\n"
				    "error c frame larger than SETTINGS_MAX_FRAME_SIZE\n"
				    "goaway s 1 6\n"
				    "close 1 conn_end n=0 [GET / 0 bytes ok]\n");
}

static void garbage_after_preface_is_one_error(void **state)
{
	struct t *t = *state;
	const char *g = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	put(&t->out[H2_CLIENT], H2_PREFACE, H2_PREFACE_LEN);
	put(&t->out[H2_CLIENT], g, strlen(g));
	put(&t->out[H2_CLIENT], g, strlen(g));
	flush(t, H2_CLIENT);
	assert_string_equal(t->log, "preface\nerror c frame larger than SETTINGS_MAX_FRAME_SIZE\n");
	/* a small but wrong first frame */
	fresh(t);
	put(&t->out[H2_CLIENT], H2_PREFACE, H2_PREFACE_LEN);
	frame(t, H2_CLIENT, H2_PING, 0, 0, "12345678", 8);
	flush(t, H2_CLIENT);
	assert_string_equal(t->log, "preface\nerror c the first frame is not SETTINGS\n");
	/* not a preface at all */
	fresh(t);
	h2_feed(t->c, H2_CLIENT, (const uint8_t *)g, strlen(g));
	assert_string_equal(t->log, "error c not the HTTP/2 client preface\n");
	assert_false(h2_is_preface((const uint8_t *)g, 3));
	assert_true(h2_is_preface((const uint8_t *)"PRI * HT", 8));
}

static void header_block_over_the_cap_breaks_hpack(void **state)
{
	struct t *t = *state;
	static char big[70000];
	static uint8_t b[80000];
	const char *kv[] = { ":method", "GET", ":scheme", "http", ":path", "/big-header",
			     ":authority", "h", "x-big", big, NULL };
	size_t n, i;

	memset(big, '{', sizeof(big) - 1); /* Huffman cannot shrink it */
	n = block(t, H2_CLIENT, b, sizeof(b), kv);
	assert_true(n > H2_BLOCK_MAX);
	preface(t);
	frame(t, H2_CLIENT, H2_HEADERS, H2_F_END_STREAM, 1, b, 16384);
	for (i = 16384; i + 16384 < n; i += 16384)
		frame(t, H2_CLIENT, H2_CONTINUATION, 0, 1, b + i, 16384);
	frame(t, H2_CLIENT, H2_CONTINUATION, H2_F_END_HEADERS, 1, b + i, n - i);
	get(t, 3, "/");
	flush(t, H2_CLIENT);
	assert_string_equal(t->log, "preface\nhpack c a header block is too long\n"
				    "open 1 n=1\nend 1 c\nopen 3 n=2\nend 3 c\n");
}

/* Two inputs the fuzzer found: an empty header block (UBSan: arithmetic on
 * a NULL block buffer) and streams opened by bytes after h2_eof(). */
static void empty_block_and_bytes_after_eof(void **state)
{
	struct t *t = *state;

	preface(t);
	frame(t, H2_CLIENT, H2_HEADERS, H2_F_END_HEADERS | H2_F_END_STREAM, 1, NULL, 0);
	flush(t, H2_CLIENT);
	h2_eof(t->c);
	get(t, 3, "/");
	flush(t, H2_CLIENT);
	h2_upgrade(t->c, "GET", "/", "h");
	assert_int_equal(h2_open_streams(t->c), 0);
	assert_string_equal(t->log, "preface\nopen 1 n=1\nreq 1   \nend 1 c\n"
				    "close 1 conn_end n=0 [- - 0 bytes ok]\n");
}

static void hpack_rejects_a_bad_block(void **state)
{
	struct t *t = *state;

	preface(t);
	/* indexed header field 0 does not exist */
	frame(t, H2_CLIENT, H2_HEADERS, H2_F_END_HEADERS | H2_F_END_STREAM, 1, "\x80", 1);
	get(t, 3, "/");
	flush(t, H2_CLIENT);
	assert_string_equal(t->log, "preface\nerror c HPACK rejected a header block\n");
	assert_int_equal(h2_open_streams(t->c), 0);
}

static void header_table_size_follows_settings(void **state)
{
	struct t *t = *state;

	put(&t->out[H2_CLIENT], H2_PREFACE, H2_PREFACE_LEN);
	settings(t, H2_CLIENT, 0, 0);
	flush(t, H2_CLIENT);
	settings(t, H2_SERVER, 0x1, 16384);
	flush(t, H2_SERVER);
	/* the client's encoder takes the larger table: a size update */
	nghttp2_hd_deflate_del(t->enc[H2_CLIENT]);
	assert_int_equal(nghttp2_hd_deflate_new(&t->enc[H2_CLIENT], 16384), 0);
	assert_int_equal(nghttp2_hd_deflate_change_table_size(t->enc[H2_CLIENT], 16384), 0);
	get(t, 1, "/grown");
	flush(t, H2_CLIENT);
	assert_string_equal(t->log, "preface\nopen 1 n=1\nreq 1 GET /grown h\nend 1 c\n");
	/* the client allows a table beyond the cap: broken, not an error */
	settings(t, H2_CLIENT, 0x1, 1 << 20);
	flush(t, H2_CLIENT);
	nghttp2_hd_deflate_del(t->enc[H2_SERVER]);
	assert_int_equal(nghttp2_hd_deflate_new(&t->enc[H2_SERVER], 1 << 20), 0);
	assert_int_equal(nghttp2_hd_deflate_change_table_size(t->enc[H2_SERVER], 1 << 20), 0);
	status(t, 1, "200", H2_F_END_STREAM);
	flush(t, H2_SERVER);
	assert_string_equal(t->log, "preface\nopen 1 n=1\nreq 1 GET /grown h\nend 1 c\n"
				    "hpack s the HPACK table outgrew connstate's cap\n"
				    "end 1 s\nclose 1 ended n=0 [GET /grown 0 bytes ok]\n");
}

static void upgrade_makes_stream_one(void **state)
{
	struct t *t = *state;

	h2_upgrade(t->c, "GET", "/up", "h");
	preface(t);
	status(t, 1, "200", 0);
	data(t, H2_SERVER, 1, 3, H2_F_END_STREAM);
	flush(t, H2_SERVER);
	get(t, 3, "/next");
	flush(t, H2_CLIENT);
	assert_string_equal(t->log, "open 1 n=1\nreq 1 GET /up h\npreface\n"
				    "resp 1 200\nend 1 s\nclose 1 ended n=0 [GET /up 200 bytes ok]\n"
				    "open 3 n=1\nreq 3 GET /next h\nend 3 c\n");
}

static void eof_closes_open_streams_and_limits_hold(void **state)
{
	struct t *t = *state;

	put(&t->out[H2_CLIENT], H2_PREFACE, H2_PREFACE_LEN);
	settings(t, H2_CLIENT, 0, 0);
	flush(t, H2_CLIENT);
	settings(t, H2_SERVER, 0x3, 2); /* MAX_CONCURRENT_STREAMS */
	flush(t, H2_SERVER);
	get(t, 1, "/");
	get(t, 3, "/");
	get(t, 5, "/"); /* refused: Go opens no stream */
	flush(t, H2_CLIENT);
	assert_int_equal(h2_open_streams(t->c), 2);
	h2_eof(t->c);
	h2_eof(t->c);
	assert_int_equal(h2_open_streams(t->c), 0);
	assert_string_equal(t->log, "preface\n"
				    "open 1 n=1\nreq 1 GET / h\nend 1 c\n"
				    "open 3 n=2\nreq 3 GET / h\nend 3 c\n"
				    "close 1 conn_end n=1 [GET / 0 bytes ok]\n"
				    "close 3 conn_end n=0 [GET / 0 bytes ok]\n");
}

static void frame_header_cut_by_the_copy_is_taken_from_the_kernel(void **state)
{
	struct t *t = *state;
	struct buf *s = &t->out[H2_SERVER];
	struct h2_frame_hdr d = { 10, H2_DATA, H2_F_END_STREAM, 1 };
	uint64_t off;

	preface(t);
	get(t, 1, "/");
	flush(t, H2_CLIENT);
	status(t, 1, "200", 0);
	flush(t, H2_SERVER);
	data(t, H2_SERVER, 1, 10, H2_F_END_STREAM);
	off = h2_offset(t->c, H2_SERVER);
	h2_feed(t->c, H2_SERVER, s->b, 4);
	h2_frame_at(t->c, H2_SERVER, off, &d);
	h2_skip(t->c, H2_SERVER, 10);
	assert_non_null(strstr(t->log, "end 1 s\nclose 1 ended n=0 [GET / 200 bytes ok]\n"));
	assert_null(strstr(t->log, "lost"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(preface_and_settings_give_one_fact),
		T(one_get_opens_and_closes_one_stream),
		T(three_overlapping_streams_then_one_more),
		T(rst_stream_either_way_closes),
		T(continuation_carries_the_block),
		T(stream_closes_when_both_sides_ended),
		T(padding_and_priority_are_stripped),
		T(split_byte_by_byte_gives_the_same_facts),
		T(hole_in_data_is_counted),
		T(hole_in_frame_header_loses_sync_until_frame_at),
		T(hole_in_header_block_breaks_hpack_once),
		T(oversized_frame_is_one_error),
		T(garbage_after_preface_is_one_error),
		T(header_block_over_the_cap_breaks_hpack),
		T(empty_block_and_bytes_after_eof),
		T(hpack_rejects_a_bad_block),
		T(header_table_size_follows_settings),
		T(upgrade_makes_stream_one),
		T(eof_closes_open_streams_and_limits_hold),
		T(frame_header_cut_by_the_copy_is_taken_from_the_kernel),
#undef T
	};

	return cmocka_run_group_tests_name("http2", tests, NULL, NULL);
}
