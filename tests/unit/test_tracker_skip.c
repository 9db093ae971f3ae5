// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the tracker's on_skip: where a body framed by its
 * Content-Length ends, in the bytes the kernel counts (struct cs_skip), and
 * that the uncopied reads and writes the kernel then sends frame as well.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "events.h"

#define SK 0xffff888012345600ull
#define GEN 77
#define GET "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
#define HEAD_100K "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"

static char states[512];
static char skips[512]; /* "READ_UNTIL/WRITE_UNTIL;" per on_skip */

static void on_state(void *ctx, const struct tr_conn *c, enum cs_state prev, uint64_t ts)
{
	size_t n = strlen(states);

	snprintf(states + n, sizeof(states) - n, "%s%s", n ? " " : "", cs_state_name(c->state));
}

static void on_skip(void *ctx, const struct tr_conn *c)
{
	size_t n = strlen(skips);

	assert_int_equal(c->gen, GEN);
	snprintf(skips + n, sizeof(skips) - n, "%llu/%llu;", (unsigned long long)c->skip_until[0],
		 (unsigned long long)c->skip_until[1]);
}

static const struct tracker_ops ops = { .on_state = on_state, .on_skip = on_skip };

static int setup(void **st)
{
	states[0] = skips[0] = '\0';
	*st = tracker_new(&ops, NULL);
	return *st ? 0 : -1;
}

static int teardown(void **st)
{
	tracker_free(*st);
	return 0;
}

/* n bytes the kernel counted and did not copy (CS_F_UNCOPIED) */
static void ev_uncopied(struct tracker *tr, uint16_t type, size_t n)
{
	struct test_event t;

	ev_make(&t, type, SK);
	t.e.ret = (int64_t)n;
	t.e.flags = CS_F_UNCOPIED;
	tracker_event(tr, &t.e, t.data);
}

/* A write of the head and the first n body bytes of a 100000-byte body. */
static void write_head_100k(struct tracker *tr, size_t n)
{
	size_t h = strlen(HEAD_100K);
	char *buf = malloc(h + n);

	memcpy(buf, HEAD_100K, h);
	memset(buf + h, 'x', n);
	ev_io(tr, CS_EV_WRITE, SK, buf, h + n);
	free(buf);
}

static void long_response_body_says_where_it_ends(void **st)
{
	size_t h = strlen(HEAD_100K);
	char want[64];

	ev_accept_gen(*st, SK, GEN, 1000);
	ev_read(*st, SK, GET);
	write_head_100k(*st, 4000);
	snprintf(want, sizeof(want), "0/%zu;", h + 100000);
	assert_string_equal(skips, want);
	ev_uncopied(*st, CS_EV_WRITE, 50000);
	assert_string_equal(states, "new active");
	ev_uncopied(*st, CS_EV_WRITE, 46000);
	assert_string_equal(states, "new active idle");
	assert_string_equal(skips, want); /* told once */
}

static void next_response_body_moves_the_end_on(void **st)
{
	size_t h = strlen(HEAD_100K);
	char want[96];

	ev_accept_gen(*st, SK, GEN, 1000);
	ev_read(*st, SK, GET);
	write_head_100k(*st, 0);
	ev_uncopied(*st, CS_EV_WRITE, 100000);
	ev_read(*st, SK, GET);
	write_head_100k(*st, 10);
	ev_uncopied(*st, CS_EV_WRITE, 99990);
	/* the reads did not count: the write side's bytes only */
	snprintf(want, sizeof(want), "0/%zu;0/%zu;", h + 100000, 2 * (h + 100000));
	assert_string_equal(skips, want);
	assert_string_equal(states, "new active idle active idle");
}

static void upload_body_says_where_it_ends(void **st)
{
	const char *post = "POST /up HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n";
	char want[64];

	ev_accept_gen(*st, SK, GEN, 1000);
	ev_read(*st, SK, post);
	snprintf(want, sizeof(want), "%zu/0;", strlen(post) + 1048576);
	assert_string_equal(skips, want);
	ev_uncopied(*st, CS_EV_READ, 1048576);
	ev_write(*st, SK, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	ev_read(*st, SK, GET);
	assert_string_equal(states, "new active idle active");
}

/* TLS: the plaintext's bytes count, the ciphertext's do not (the kernel
 * counts the same: never fewer). */
static void tls_plaintext_body_says_where_it_ends(void **st)
{
	size_t h = strlen(HEAD_100K);
	struct test_event t;
	char want[64];

	ev_accept_gen(*st, SK, GEN, 1000);
	ev_make(&t, CS_EV_READ, SK);
	t.e.ret = 517; /* a ClientHello, inside SSL_accept: not copied */
	t.e.flags = CS_F_TLS;
	tracker_event(*st, &t.e, t.data);
	ev_io(*st, CS_EV_TLS_READ, SK, GET, strlen(GET));
	ev_make(&t, CS_EV_TLS_WRITE, SK);
	ev_payload(&t, HEAD_100K, strlen(HEAD_100K));
	tracker_event(*st, &t.e, t.data);
	snprintf(want, sizeof(want), "%zu/%zu;", (size_t)0, h + 100000);
	assert_string_equal(skips, want);
	ev_uncopied(*st, CS_EV_TLS_WRITE, 100000);
	assert_string_equal(states, "new active idle");
}

/* Short bodies, chunked ones, HEAD's, and connections whose stream is not
 * sure (lost events) or not told (no generation) say nothing. */
static void no_skip_where_it_does_not_pay_or_is_unsure(void **st)
{
	struct test_event t;

	ev_accept_gen(*st, SK, GEN, 1000);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, "HTTP/1.1 200 OK\r\nContent-Length: 16383\r\n\r\n");
	ev_uncopied(*st, CS_EV_WRITE, 16383);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	ev_write(*st, SK, "0\r\n\r\n");
	ev_read(*st, SK, "HEAD / HTTP/1.1\r\n\r\n");
	write_head_100k(*st, 0);
	assert_string_equal(states, "new active idle active idle active idle");
	assert_string_equal(skips, "");
	/* an event lost: its stream is not sure any more */
	ev_read(*st, SK, GET);
	ev_make(&t, CS_EV_WRITE, SK);
	ev_payload(&t, HEAD_100K, strlen(HEAD_100K));
	t.e.lost = 1;
	tracker_event(*st, &t.e, t.data);
	assert_string_equal(skips, "");
	/* gen 0: the kernel did not say which connection */
	ev_accept(*st, SK + 64, 1001);
	ev_read(*st, SK + 64, GET);
	ev_write(*st, SK + 64, HEAD_100K);
	assert_string_equal(skips, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(long_response_body_says_where_it_ends),
		T(next_response_body_moves_the_end_on),
		T(upload_body_says_where_it_ends),
		T(tls_plaintext_body_says_where_it_ends),
		T(no_skip_where_it_does_not_pay_or_is_unsure),
	};

	return cmocka_run_group_tests_name("tracker_skip", tests, NULL, NULL);
}
