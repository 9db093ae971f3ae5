// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of user/http1.c: header parsing and message framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http1.h"

struct rec {
	int heads, dones, lost;
	uint64_t last_bytes;
	struct http1_head h;
	const char *method; /* of the request a response answers */
};

static enum http1_body on_head(void *ctx, const struct http1_head *h)
{
	struct rec *r = ctx;

	r->heads++;
	r->h = *h;
	return h->response ? http1_response_body(h, r->method) : http1_request_body(h);
}

static void on_done(void *ctx, uint64_t bytes)
{
	struct rec *r = ctx;

	r->dones++;
	r->last_bytes = bytes;
}

static void on_lost(void *ctx)
{
	((struct rec *)ctx)->lost++;
}

static const struct http1_cb cb = { on_head, on_done, on_lost };

static void feed(struct http1_parser *p, struct rec *r, const char *s)
{
	http1_feed(p, (const uint8_t *)s, strlen(s), &cb, r);
}

static void parses_request_line_and_fields(void **st)
{
	struct http1_head h;
	const char *s = "POST /a?b=1 HTTP/1.1\r\nHost: x\r\ncontent-length:  12 \r\n"
			"Connection: keep-alive, Upgrade\r\nExpect: 100-continue\r\n\r\n";

	http1_parse_head(s, strlen(s), false, &h);
	assert_true(h.valid);
	assert_string_equal(h.method, "POST");
	assert_string_equal(h.target, "/a?b=1");
	assert_int_equal(h.major, 1);
	assert_int_equal(h.minor, 1);
	assert_int_equal(h.content_length, 12);
	assert_true(h.conn_keep_alive);
	assert_true(h.conn_upgrade);
	assert_false(h.conn_close);
	assert_true(h.expect_continue);
}

static void parses_status_line(void **st)
{
	struct http1_head h;
	const char *s = "HTTP/1.0 304 Not Modified\nTransfer-Encoding: gzip, chunked\n\n";

	http1_parse_head(s, strlen(s), true, &h);
	assert_true(h.valid);
	assert_int_equal(h.status, 304);
	assert_int_equal(h.minor, 0);
	assert_true(h.chunked);
	assert_int_equal(http1_response_body(&h, "GET"), HTTP1_BODY_NONE);
}

static void rejects_malformed_start_lines(void **st)
{
	struct http1_head h;
	const char *bad[] = { "HELLO THERE", "get / HTTP/1.1", "GET /", "GET / HTTP/11",
			      "HTTP/1.1 20 OK", "" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		http1_parse_head(bad[i], strlen(bad[i]), i == 4, &h);
		assert_false(h.valid);
	}
}

static void response_body_rules(void **st)
{
	struct http1_head h = { .valid = true, .response = true, .major = 1, .minor = 1,
				.content_length = -1 };

	h.status = 200;
	assert_int_equal(http1_response_body(&h, "GET"), HTTP1_BODY_TO_EOF);
	h.content_length = 0;
	assert_int_equal(http1_response_body(&h, "GET"), HTTP1_BODY_NONE);
	h.content_length = 5;
	assert_int_equal(http1_response_body(&h, "GET"), HTTP1_BODY_LENGTH);
	assert_int_equal(http1_response_body(&h, "HEAD"), HTTP1_BODY_NONE);
	assert_int_equal(http1_response_body(&h, "CONNECT"), HTTP1_BODY_TUNNEL);
	h.status = 101;
	assert_int_equal(http1_response_body(&h, "GET"), HTTP1_BODY_TUNNEL);
	h.status = 100;
	assert_int_equal(http1_response_body(&h, "GET"), HTTP1_BODY_NONE);
	h.status = 204;
	assert_int_equal(http1_response_body(&h, "GET"), HTTP1_BODY_NONE);
}

static void keep_alive_rules(void **st)
{
	struct http1_head q = { .major = 1, .minor = 1 }, s = { .major = 1, .minor = 1 };

	assert_true(http1_keep_alive(&q, &s));
	s.conn_close = true;
	assert_false(http1_keep_alive(&q, &s));
	s.conn_close = false;
	q.minor = 0;
	assert_false(http1_keep_alive(&q, &s));
	q.conn_keep_alive = true;
	assert_true(http1_keep_alive(&q, &s));
	s.minor = 0;
	assert_false(http1_keep_alive(&q, &s));
}

static void frames_pipelined_requests_with_bodies(void **st)
{
	struct http1_parser p;
	struct rec r = { 0 };

	http1_init(&p, false);
	feed(&p, &r, "\r\nPOST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n");
	assert_int_equal(r.heads, 2);
	assert_int_equal(r.dones, 2);
	assert_int_equal(r.last_bytes, 18);
	http1_free(&p);
}

static void frames_chunked_request_split_anywhere(void **st)
{
	const char *s = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			"a;x=y\r\n0123456789\r\n1\r\nz\r\n0\r\nT: 1\r\n\r\n";
	size_t cut, n = strlen(s);

	for (cut = 1; cut < n; cut++) {
		struct http1_parser p;
		struct rec r = { 0 };

		http1_init(&p, false);
		http1_feed(&p, (const uint8_t *)s, cut, &cb, &r);
		assert_int_equal(r.dones, 0);
		http1_feed(&p, (const uint8_t *)s + cut, n - cut, &cb, &r);
		assert_int_equal(r.heads, 1);
		assert_int_equal(r.dones, 1);
		assert_int_equal(r.last_bytes, n);
		assert_int_equal(r.lost, 0);
		http1_free(&p);
	}
}

static void hole_in_header_loses_sync(void **st)
{
	struct http1_parser p;
	struct rec r = { 0 };

	http1_init(&p, false);
	feed(&p, &r, "GET / HTTP/1.1\r\nX: ");
	http1_skip(&p, 100, &cb, &r);
	feed(&p, &r, "\r\n\r\n");
	assert_int_equal(r.lost, 1);
	assert_int_equal(r.heads, 0);
	http1_free(&p);
}

static void hole_in_length_body_is_counted(void **st)
{
	struct http1_parser p;
	struct rec r = { .method = "GET" };

	http1_init(&p, true);
	feed(&p, &r, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
	http1_skip(&p, 999, &cb, &r);
	assert_int_equal(r.dones, 0);
	feed(&p, &r, "x");
	assert_int_equal(r.dones, 1);
	http1_free(&p);
}

static void body_to_eof_ends_with_connection(void **st)
{
	struct http1_parser p;
	struct rec r = { .method = "GET" };

	http1_init(&p, true);
	feed(&p, &r, "HTTP/1.0 200 OK\r\n\r\nsome body");
	assert_int_equal(r.dones, 0);
	http1_eof(&p, &cb, &r);
	assert_int_equal(r.dones, 1);
	assert_int_equal(r.last_bytes, 28);
	http1_free(&p);
}

static void bad_chunk_size_loses_sync(void **st)
{
	struct http1_parser p;
	struct rec r = { .method = "GET" };

	http1_init(&p, true);
	feed(&p, &r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
	assert_int_equal(r.lost, 1);
	http1_free(&p);
}

static void long_header_block_is_framed_and_truncated(void **st)
{
	static char big[16384];
	struct http1_parser p;
	struct rec r = { 0 };
	size_t n;

	memset(big, 'a', sizeof(big));
	n = sprintf(big, "GET /long HTTP/1.1\r\nX: ");
	big[n] = 'a';
	memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
	http1_init(&p, false);
	http1_feed(&p, (const uint8_t *)big, 3000, &cb, &r);
	http1_feed(&p, (const uint8_t *)big + 3000, sizeof(big) - 3000, &cb, &r);
	assert_int_equal(r.heads, 1);
	assert_true(r.h.truncated);
	assert_string_equal(r.h.target, "/long");
	http1_free(&p);
}

/* --- long request lines and header blocks (issue 10) --- */

/* "GET /?q=qqq...q HTTP/1.1\r\n" of line_len bytes, then rest. */
static size_t long_request(char *buf, size_t line_len, const char *rest)
{
	size_t n = sprintf(buf, "GET /?q=");

	memset(buf + n, 'q', line_len - n - strlen(" HTTP/1.1\r\n"));
	n = line_len - strlen(" HTTP/1.1\r\n");
	n += sprintf(buf + n, " HTTP/1.1\r\n%s", rest);
	return n;
}

static void assert_long_get(const struct http1_head *h)
{
	assert_true(h->valid);
	assert_string_equal(h->method, "GET");
	assert_int_equal(strlen(h->target), HTTP1_TARGET_MAX - 1);
	assert_memory_equal(h->target, "/?q=qqqq", 8);
	assert_true(h->target_truncated);
	assert_int_equal(h->major, 1);
	assert_int_equal(h->minor, 1);
}

/* Feeds s in reads of step bytes, as the kernel sends a long read. */
static void feed_steps(struct http1_parser *p, struct rec *r, const char *s, size_t n,
		       size_t step)
{
	size_t off;

	for (off = 0; off < n; off += step)
		http1_feed(p, (const uint8_t *)s + off, n - off < step ? n - off : step, &cb, r);
}

static void start_line_longer_than_a_read_parses(void **st)
{
	static char buf[24 << 10];
	struct http1_parser p;
	struct rec r = { 0 };
	size_t n = long_request(buf, 20000, "Content-Length: 3\r\n\r\nabc");

	http1_init(&p, false);
	http1_feed(&p, (const uint8_t *)buf, n, &cb, &r);
	assert_int_equal(r.heads, 1);
	assert_long_get(&r.h);
	assert_int_equal(r.h.content_length, 3);
	assert_int_equal(r.dones, 1);
	assert_int_equal(r.last_bytes, n);
	http1_free(&p);
}

static void start_line_split_over_many_reads_parses(void **st)
{
	static char buf[24 << 10];
	size_t n = long_request(buf, 20000, "Connection: close\r\nContent-Length: 3\r\n\r\nabc");
	size_t steps[] = { 1, 7, 4096 };
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct http1_parser p;
		struct rec r = { 0 };

		http1_init(&p, false);
		feed_steps(&p, &r, buf, n, steps[i]);
		assert_int_equal(r.heads, 1);
		assert_long_get(&r.h);
		assert_true(r.h.conn_close);
		assert_int_equal(r.h.content_length, 3);
		assert_int_equal(r.dones, 1);
		assert_int_equal(r.last_bytes, n);
		assert_int_equal(r.lost, 0);
		http1_free(&p);
	}
}

/* A 60 KB block of fields in 4 KiB reads: a framing field after them counts. */
static void fields_after_a_long_block_are_seen(void **st)
{
	static char buf[64 << 10];
	struct http1_parser p;
	struct rec r = { 0 };
	size_t n = sprintf(buf, "POST /up HTTP/1.1\r\n");

	while (n < (60 << 10))
		n += sprintf(buf + n, "X-F: %0100d\r\n", 0);
	n += sprintf(buf + n, "Transfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n");
	http1_init(&p, false);
	feed_steps(&p, &r, buf, n, 4096);
	assert_int_equal(r.heads, 1);
	assert_true(r.h.valid);
	assert_string_equal(r.h.target, "/up");
	assert_false(r.h.target_truncated);
	assert_true(r.h.chunked);
	assert_int_equal(r.dones, 1);
	assert_int_equal(r.last_bytes, n);
	http1_free(&p);
}

/* Where the kernel still leaves a hole (a read past its 64 KiB), the block
 * cannot be framed: lost, never a guessed head. */
static void hole_in_a_long_start_line_loses_sync(void **st)
{
	static char buf[24 << 10];
	struct http1_parser p;
	struct rec r = { 0 };
	size_t n = long_request(buf, 20000, "\r\n");

	http1_init(&p, false);
	http1_feed(&p, (const uint8_t *)buf, 4096, &cb, &r);
	http1_skip(&p, n - 4096 - 64, &cb, &r);
	http1_feed(&p, (const uint8_t *)buf + n - 64, 64, &cb, &r);
	assert_int_equal(r.lost, 1);
	assert_int_equal(r.heads, 0);
	http1_free(&p);
}

static void line_of_64k_then_pipelined_request(void **st)
{
	static char buf[80 << 10];
	struct http1_parser p;
	struct rec r = { 0 };
	size_t n = long_request(buf, 64 << 10, "Host: x\r\n\r\nGET /next HTTP/1.1\r\n\r\n");

	http1_init(&p, false);
	feed_steps(&p, &r, buf, n, 4096);
	assert_int_equal(r.heads, 2);
	assert_int_equal(r.dones, 2);
	assert_string_equal(r.h.target, "/next");
	assert_false(r.h.target_truncated);
	assert_int_equal(r.last_bytes, strlen("GET /next HTTP/1.1\r\n\r\n"));
	http1_free(&p);
}

/* RFC 9112 2.2: empty lines before a request line are skipped, counted in
 * the message's bytes, and make no message of their own */
static void leading_empty_lines_before_request_are_skipped(void **st)
{
	struct http1_parser p;
	struct rec r = { 0 };

	http1_init(&p, false);
	feed(&p, &r, "\r\n\n\r\nGET /a HTTP/1.1\r\n\r\n");
	assert_int_equal(r.heads, 1);
	assert_true(r.h.valid);
	assert_string_equal(r.h.method, "GET");
	assert_string_equal(r.h.target, "/a");
	assert_int_equal(r.dones, 1);
	assert_int_equal(r.last_bytes, 5 + 19);
	assert_int_equal(r.lost, 0);
	http1_free(&p);
}

/* The same bytes parse the same whether a header block arrives in one read
 * or spread over many: lines longer than the parser keeps are cut the same
 * way (found by fuzz_http1: a 600-byte method, a 600-byte field line) */
static void long_lines_parse_the_same_whole_or_split(void **st)
{
	static char buf[2048];
	struct http1_parser p;
	struct rec whole = { 0 }, split = { 0 };
	size_t n = 0, i;

	memset(buf, 'C', 600);
	n = 600;
	n += sprintf(buf + n, "CONNECT a:44 HTTP/1.0\r\nX-Long: ");
	memset(buf + n, 'v', 600);
	n += 600;
	n += sprintf(buf + n, "\r\nContent-Length: 0\r\n\r\n");
	http1_init(&p, false);
	http1_feed(&p, (const uint8_t *)buf, n, &cb, &whole);
	http1_free(&p);
	http1_init(&p, false);
	for (i = 0; i < n; i++)
		http1_feed(&p, (const uint8_t *)buf + i, 1, &cb, &split);
	http1_free(&p);
	assert_int_equal(whole.heads, 1);
	assert_int_equal(split.heads, 1);
	assert_int_equal(whole.h.valid, split.h.valid);
	assert_string_equal(whole.h.method, split.h.method);
	assert_string_equal(whole.h.target, split.h.target);
	assert_int_equal(whole.h.target_truncated, split.h.target_truncated);
	assert_int_equal(whole.h.truncated, split.h.truncated);
	assert_true(whole.h.truncated); /* the 600-byte field line was cut */
	assert_int_equal(whole.last_bytes, split.last_bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_request_line_and_fields),
		cmocka_unit_test(parses_status_line),
		cmocka_unit_test(rejects_malformed_start_lines),
		cmocka_unit_test(response_body_rules),
		cmocka_unit_test(keep_alive_rules),
		cmocka_unit_test(frames_pipelined_requests_with_bodies),
		cmocka_unit_test(frames_chunked_request_split_anywhere),
		cmocka_unit_test(hole_in_header_loses_sync),
		cmocka_unit_test(hole_in_length_body_is_counted),
		cmocka_unit_test(body_to_eof_ends_with_connection),
		cmocka_unit_test(bad_chunk_size_loses_sync),
		cmocka_unit_test(long_header_block_is_framed_and_truncated),
		cmocka_unit_test(start_line_longer_than_a_read_parses),
		cmocka_unit_test(start_line_split_over_many_reads_parses),
		cmocka_unit_test(fields_after_a_long_block_are_seen),
		cmocka_unit_test(hole_in_a_long_start_line_loses_sync),
		cmocka_unit_test(line_of_64k_then_pipelined_request),
		cmocka_unit_test(leading_empty_lines_before_request_are_skipped),
		cmocka_unit_test(long_lines_parse_the_same_whole_or_split),
	};

	return cmocka_run_group_tests_name("http1", tests, NULL, NULL);
}
