// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: arbitrary byte streams and facts into the HTTP/2
 * framing module. The input is a list of records: one op byte, two length
 * bytes, then (for feeds) that many bytes. The module must never crash or
 * spin, and its open-stream count must always equal opens minus closes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http2.h"

struct count {
	long opens, closes;
	unsigned last_open;
	int errors, hpack;
};

static void on_open(void *ctx, const struct h2_stream_info *s, unsigned open)
{
	struct count *k = ctx;

	k->opens++;
	k->last_open = open;
	if ((long)open != k->opens - k->closes)
		abort();
}

static void on_close(void *ctx, const struct h2_stream_info *s, enum h2_close_why why,
		     unsigned open)
{
	struct count *k = ctx;

	k->closes++;
	if ((long)open != k->opens - k->closes)
		abort();
	/* strings the module hands out are always terminated */
	if (strlen(s->method) >= H2_METHOD_MAX || strlen(s->path) >= H2_PATH_MAX ||
	    strlen(s->authority) >= H2_AUTHORITY_MAX)
		abort();
}

static void on_error(void *ctx, enum h2_dir dir, const char *why)
{
	if (++((struct count *)ctx)->errors > 1)
		abort(); /* one warning per connection */
}

static void on_hpack(void *ctx, enum h2_dir dir, const char *why)
{
	if (++((struct count *)ctx)->hpack > 1)
		abort();
}

static const struct h2_cb cb = {
	.on_stream_open = on_open,
	.on_stream_close = on_close,
	.on_error = on_error,
	.on_hpack_broken = on_hpack,
};

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct count k = { 0 };
	struct h2_conn *c = h2_new(&cb, &k);
	uint64_t given[2] = { 0, 0 };

	if (!c)
		return 0;
	/* most inputs start with a preface so the fuzzer reaches frames */
	if (n && (d[0] & 1)) {
		h2_feed(c, H2_CLIENT, (const uint8_t *)H2_PREFACE, H2_PREFACE_LEN);
		given[0] = H2_PREFACE_LEN;
	}
	if (n && (d[0] & 2))
		h2_upgrade(c, "GET", "/", "h");
	if (n) {
		d++;
		n--;
	}
	while (n >= 3) {
		uint8_t op = d[0];
		size_t len = (size_t)d[1] << 8 | d[2];
		enum h2_dir dir = op & 1 ? H2_SERVER : H2_CLIENT;

		d += 3;
		n -= 3;
		switch ((op >> 1) % 4) {
		case 0: /* feed */
			if (len > n)
				len = n;
			h2_feed(c, dir, d, len);
			given[dir] += len;
			d += len;
			n -= len;
			break;
		case 1: /* a hole */
			h2_skip(c, dir, len);
			given[dir] += len;
			break;
		case 2: { /* a frame header from the kernel's walk */
			struct h2_frame_hdr fh;
			uint64_t off = h2_offset(c, dir) + (len & 0xff);

			if (n < 9)
				goto out;
			fh.length = (uint32_t)d[0] << 16 | d[1] << 8 | d[2];
			fh.type = d[3];
			fh.flags = d[4];
			fh.stream_id = (uint32_t)d[5] << 24 | d[6] << 16 | d[7] << 8 | d[8];
			d += 9;
			n -= 9;
			h2_frame_at(c, dir, off, &fh);
			if (h2_offset(c, dir) < given[dir])
				abort();
			given[dir] = h2_offset(c, dir);
			break;
		}
		case 3:
			h2_eof(c);
			if (h2_open_streams(c))
				abort();
			break;
		}
		if (h2_offset(c, dir) != given[dir] || h2_open_streams(c) > H2_STREAMS_MAX)
			abort();
	}
out:
	h2_eof(c);
	if (k.opens != k.closes)
		abort();
	h2_free(c);
	return 0;
}
