// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: HTTP/1 framing alone (user/http1.c), one direction per
 * input, fed with arbitrary splits and holes. The callbacks check what the
 * framing promises and abort() when it breaks, so the fuzzer finds logic
 * errors, not only memory errors:
 *
 *   - every byte fed or skipped is either in a finished message (on_done)
 *     or in the message in progress: done bytes + msg_bytes == bytes in;
 *   - on_done follows exactly one on_head; nothing follows a tunnel or a
 *     lost sync until the stream is reset; a body framed by the end of the
 *     stream ends only at http1_eof;
 *   - http1_pending_head never exceeds the bytes since the last message;
 *   - splitting a run of copied bytes differently changes nothing: a second
 *     parser gets the same operations with adjacent feeds joined, and both
 *     must report the same heads, message sizes and final state.
 *
 * Input: byte 0 bit 0 = response direction, bit 1 = also parse the rest as
 * one header block (http1_parse_head), bit 2 = long: repeats may pass
 * the parser's keep limits (rare on purpose: feeding them is most of a
 * run); byte 1 = how on_head frames bodies
 * (bits 0-1: the request method a response answers, bit 2: use bits 3-7
 * as the framing instead of asking http1_*_body). Then operations, each an
 * opcode byte (mod 6) and its arguments:
 *   0 feed  LEN BYTES...     http1_feed
 *   1 skip  N16 (LE)         http1_skip of N, or (N & 0x7fff) << 16 if N >= 0x8000
 *   2 write_end              http1_write_end
 *   3 eof                    http1_eof
 *   4 reset                  http1_free + http1_init (the tracker's next connection)
 *   5 repeat BYTE N16 (LE)   http1_feed of BYTE repeated N times (long header blocks;
 *                            REPEAT_SHORT in all, or REPEAT_MAX if long)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

enum { OP_FEED, OP_SKIP, OP_WRITE_END, OP_EOF, OP_RESET, OP_REPEAT, OP_COUNT };

struct op {
	uint8_t type;
	uint8_t byte;
	const uint8_t *data;
	size_t len;
	uint64_t n;
};

/* What one parser has told so far; checked against its promises. */
struct model {
	struct http1_parser p;
	uint8_t choice;
	uint64_t in;	   /* bytes fed or skipped since the last reset */
	uint64_t done;	   /* bytes of the finished messages among them */
	uint64_t in_op;	   /* bytes of the operation running now */
	bool in_msg;	   /* on_head came, on_done not yet */
	bool lost;
	bool tunnel;
	bool to_eof;
	bool at_eof;	   /* inside http1_eof */
	uint64_t hash;	   /* every callback and its arguments */
	uint64_t calls;
};

static const char *const methods[] = { NULL, "GET", "HEAD", "CONNECT" };

#define CHECK(x)                     \
	do {                         \
		if (!(x))            \
			abort();     \
	} while (0)

static void mix(struct model *m, const void *d, size_t n)
{
	const uint8_t *b = d;
	size_t i;

	for (i = 0; i < n; i++)
		m->hash = (m->hash ^ b[i]) * 0x100000001b3ull;
}

static void mix_u64(struct model *m, uint64_t v)
{
	mix(m, &v, sizeof(v));
}

static bool is_str(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void check_head(const struct http1_head *h, bool response)
{
	size_t i;

	CHECK(h->response == response);
	CHECK(is_str(h->method, sizeof(h->method)));
	CHECK(is_str(h->target, sizeof(h->target)));
	CHECK(h->content_length >= -1);
	if (!h->valid)
		return;
	CHECK(h->major >= 0 && h->major <= 9 && h->minor >= 0 && h->minor <= 9);
	if (response) {
		CHECK(h->status >= 0 && h->status <= 999);
		CHECK(!h->method[0] && !h->target[0]);
		return;
	}
	CHECK(h->method[0]);
	for (i = 0; h->method[i]; i++)
		CHECK((h->method[i] >= 'A' && h->method[i] <= 'Z') || h->method[i] == '-' ||
		      h->method[i] == '_');
}

static enum http1_body on_head(void *ctx, const struct http1_head *h)
{
	struct model *m = ctx;
	enum http1_body body;

	CHECK(!m->lost && !m->tunnel && !m->in_msg && !m->at_eof);
	check_head(h, m->p.response);
	if (m->choice & 4)
		body = (enum http1_body)((m->choice >> 3) % (HTTP1_BODY_TUNNEL + 1));
	else if (m->p.response)
		body = http1_response_body(h, methods[m->choice & 3]);
	else
		body = http1_request_body(h);
	(void)http1_keep_alive(h, h);
	m->in_msg = true;
	m->tunnel = body == HTTP1_BODY_TUNNEL;
	m->to_eof = body == HTTP1_BODY_TO_EOF;
	mix(m, "H", 1);
	mix(m, &h->valid, sizeof(h->valid));
	mix(m, h->method, strlen(h->method));
	mix(m, "", 1);
	mix(m, h->target, strlen(h->target));
	mix_u64(m, (uint64_t)h->status << 32 | (uint64_t)h->major << 16 | h->minor);
	mix_u64(m, (uint64_t)h->content_length);
	mix_u64(m, h->chunked | h->conn_close << 1 | h->conn_keep_alive << 2 |
			   h->conn_upgrade << 3 | h->expect_continue << 4 | h->truncated << 5 |
			   h->target_truncated << 6);
	m->calls++;
	return body;
}

static void on_done(void *ctx, uint64_t bytes)
{
	struct model *m = ctx;

	CHECK(!m->lost && !m->tunnel && m->in_msg);
	CHECK(!m->to_eof || m->at_eof);
	/* a header block is at least two line ends */
	CHECK(bytes >= 2);
	m->done += bytes;
	CHECK(m->done <= m->in + m->in_op);
	m->in_msg = false;
	m->to_eof = false;
	mix(m, "D", 1);
	mix_u64(m, bytes);
	m->calls++;
}

static void on_lost_sync(void *ctx)
{
	struct model *m = ctx;

	CHECK(!m->lost && !m->tunnel && !m->at_eof);
	m->lost = true;
	mix(m, "L", 1);
	m->calls++;
}

static const struct http1_cb cb = { on_head, on_done, on_lost_sync };

static void model_reset(struct model *m, bool response, uint8_t choice)
{
	http1_init(&m->p, response);
	m->choice = choice;
	m->in = m->done = m->in_op = 0;
	m->in_msg = m->lost = m->tunnel = m->to_eof = m->at_eof = false;
}

/* What must hold between operations. */
static void check_state(struct model *m)
{
	const struct http1_parser *p = &m->p;

	CHECK(m->done + p->msg_bytes == m->in);
	CHECK(http1_pending_head(p) <= m->in - m->done);
	if (m->lost)
		CHECK(p->phase == HTTP1_P_LOST);
	else if (m->tunnel)
		CHECK(p->phase == HTTP1_P_TUNNEL);
	else
		CHECK((p->phase == HTTP1_P_HEAD) == !m->in_msg);
	if (p->phase == HTTP1_P_HEAD)
		CHECK(!p->chunk_blind);
}

static void apply(struct model *m, const struct op *o, const uint8_t *data, size_t len)
{
	switch (o->type) {
	case OP_FEED:
	case OP_REPEAT:
		m->in_op = len;
		http1_feed(&m->p, data, len, &cb, m);
		m->in += len;
		break;
	case OP_SKIP:
		m->in_op = o->n;
		http1_skip(&m->p, o->n, &cb, m);
		m->in += o->n;
		break;
	case OP_WRITE_END:
		http1_write_end(&m->p, &cb, m);
		break;
	case OP_EOF:
		m->at_eof = true;
		http1_eof(&m->p, &cb, m);
		m->at_eof = false;
		break;
	case OP_RESET:
		http1_free(&m->p);
		model_reset(m, m->p.response, m->choice);
		mix(m, "R", 1);
		break;
	}
	m->in_op = 0;
	check_state(m);
}

/* Repeated bytes per input: a header block or a line of 9 KiB in a long
 * input (past every keep limit), few in the others to keep the executions
 * fast. */
#define REPEAT_MAX (9 * 1024)
#define REPEAT_SHORT 512

/* Decodes the operations; returns how many. */
static size_t decode(const uint8_t *d, size_t n, struct op *ops, size_t max, size_t *joined,
		     size_t repeat_max)
{
	size_t k = 0, repeated = 0;

	*joined = 0;
	while (n && k < max) {
		struct op *o = &ops[k];

		memset(o, 0, sizeof(*o));
		o->type = d[0] % OP_COUNT;
		d++, n--;
		switch (o->type) {
		case OP_FEED:
			if (!n)
				return k;
			o->len = d[0] < n - 1 ? d[0] : n - 1;
			o->data = d + 1;
			d += 1 + o->len, n -= 1 + o->len;
			break;
		case OP_SKIP:
			if (n < 2)
				return k;
			o->n = d[0] | d[1] << 8;
			if (o->n >= 0x8000)
				o->n = (o->n & 0x7fff) << 16;
			d += 2, n -= 2;
			break;
		case OP_REPEAT:
			if (n < 3)
				return k;
			o->byte = d[0];
			o->len = d[1] | d[2] << 8;
			if (o->len > repeat_max - repeated)
				o->len = repeat_max - repeated;
			repeated += o->len;
			d += 3, n -= 3;
			break;
		}
		*joined += o->len;
		k++;
	}
	return k;
}

static void parse_whole(const uint8_t *d, size_t n, bool response)
{
	struct http1_head h;
	size_t i;

	http1_parse_head((const char *)d, n, response, &h);
	check_head(&h, response);
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		(void)http1_response_body(&h, methods[i]);
	(void)http1_request_body(&h);
	(void)http1_keep_alive(&h, &h);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct op ops[4096];
	static struct model a, b;
	static uint8_t rep[REPEAT_MAX], join_buf[REPEAT_MAX + 8192];
	uint8_t *join = join_buf;
	size_t k, i, j, joined;
	bool response;

	if (n < 2)
		return 0;
	response = d[0] & 1;
	if (d[0] & 2)
		parse_whole(d + 2, n - 2, response);
	k = decode(d + 2, n - 2, ops, sizeof(ops) / sizeof(ops[0]), &joined,
		   d[0] & 4 ? REPEAT_MAX : REPEAT_SHORT);
	if (joined > sizeof(join_buf) && !(join = malloc(joined)))
		abort();

	/* a: every operation as it came */
	memset(&a, 0, sizeof(a));
	model_reset(&a, response, d[1]);
	for (i = 0; i < k; i++) {
		const struct op *o = &ops[i];

		if (o->type == OP_REPEAT) {
			memset(rep, o->byte, o->len);
			apply(&a, o, rep, o->len);
		} else {
			apply(&a, o, o->data, o->len);
		}
	}

	/* b: the same, with each run of adjacent feeds joined into one */
	memset(&b, 0, sizeof(b));
	model_reset(&b, response, d[1]);
	for (i = 0; i < k; i = j) {
		size_t len = 0;

		for (j = i; j < k && (ops[j].type == OP_FEED || ops[j].type == OP_REPEAT); j++) {
			if (ops[j].type == OP_REPEAT)
				memset(join + len, ops[j].byte, ops[j].len);
			else
				memcpy(join + len, ops[j].data, ops[j].len);
			len += ops[j].len;
		}
		if (j > i) {
			struct op o = { .type = OP_FEED };

			apply(&b, &o, join, len);
		} else {
			apply(&b, &ops[i], ops[i].data, ops[i].len);
			j = i + 1;
		}
	}

	CHECK(a.hash == b.hash && a.calls == b.calls);
	CHECK(a.in == b.in && a.done == b.done && a.p.phase == b.p.phase);
	CHECK(a.p.msg_bytes == b.p.msg_bytes && a.p.chunk_blind == b.p.chunk_blind);
	CHECK(http1_pending_head(&a.p) == http1_pending_head(&b.p));
	http1_free(&a.p);
	http1_free(&b.p);
	if (join != join_buf)
		free(join);
	return 0;
}
