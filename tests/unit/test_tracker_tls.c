// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of user/tracker.c's TLS path: ciphertext on the socket (events
 * marked CS_F_TLS) is not framed; plaintext (CS_EV_TLS_READ/WRITE) is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "events.h"

#define SK 0xffff888012345600ull

static char states[1024];
static char requests[2048];
static int tls_records; /* state and request callbacks that saw c->tls */

static void on_state(void *ctx, const struct tr_conn *c, enum cs_state prev, uint64_t ts)
{
	size_t n = strlen(states);

	snprintf(states + n, sizeof(states) - n, "%s%s", n ? " " : "", cs_state_name(c->state));
	tls_records += c->tls;
}

static void on_request(void *ctx, const struct tr_conn *c, const struct tr_request *r,
		       bool complete)
{
	size_t n = strlen(requests);

	snprintf(requests + n, sizeof(requests) - n, "%s %s %d%s;", r->method, r->target,
		 r->status, complete ? "" : "!");
	tls_records += c->tls;
}

static const struct tracker_ops ops = { .on_state = on_state, .on_request = on_request };

static int setup(void **st)
{
	states[0] = requests[0] = '\0';
	tls_records = 0;
	*st = tracker_new(&ops, NULL);
	return *st ? 0 : -1;
}

static int teardown(void **st)
{
	tracker_free(*st);
	return 0;
}

#define GET "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
#define OK_5 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

/* ciphertext: a syscall inside an SSL call. The kernel copies none of it;
 * here it carries its bytes, which the tracker must not frame either. */
static void ev_cipher(struct tracker *tr, uint16_t type, const char *s)
{
	struct test_event t;

	ev_make(&t, type, SK);
	ev_payload(&t, s, strlen(s));
	t.e.flags = CS_F_TLS;
	tracker_event(tr, &t.e, t.data);
}

static void keep_alive_over_tls_gives_active_idle_twice(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_cipher(*st, CS_EV_READ, "\x16\x03\x01 client hello");
	ev_cipher(*st, CS_EV_WRITE, "\x16\x03\x03 server hello");
	ev_cipher(*st, CS_EV_READ, "finished + request");
	ev_io(*st, CS_EV_TLS_READ, SK, GET, strlen(GET));
	ev_cipher(*st, CS_EV_WRITE, "record");
	ev_io(*st, CS_EV_TLS_WRITE, SK, OK_5, strlen(OK_5));
	ev_cipher(*st, CS_EV_READ, "record");
	ev_io(*st, CS_EV_TLS_READ, SK, GET, strlen(GET));
	ev_io(*st, CS_EV_TLS_WRITE, SK, OK_5, strlen(OK_5));
	ev_ret(*st, CS_EV_READ, SK, 0);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active idle closed");
	assert_string_equal(requests, "GET / 200;GET / 200;");
	/* all but "new", which comes before any TLS byte */
	assert_int_equal(tls_records, 7);
}

/* Go: a failed handshake is new closed, whatever the client sent */
static void plain_http_to_tls_port_gives_new_closed(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_cipher(*st, CS_EV_READ, "GET /");
	ev_cipher(*st, CS_EV_WRITE, "\x15\x03\x03 alert");
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new closed");
	assert_string_equal(requests, "");
}

static void handshake_then_close_gives_new_closed(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_cipher(*st, CS_EV_READ, "\x16\x03\x01 client hello");
	ev_cipher(*st, CS_EV_WRITE, "\x16\x03\x03 server hello");
	ev_cipher(*st, CS_EV_READ, "finished");
	ev_ret(*st, CS_EV_READ, SK, 0);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new closed");
}

/* a read marked TLS after cleartext ones: later socket bytes are ignored */
static void partial_plaintext_request_then_close_is_active(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_cipher(*st, CS_EV_READ, "\x16\x03\x01 client hello");
	ev_io(*st, CS_EV_TLS_READ, SK, "GET / HT", 8);
	ev_cipher(*st, CS_EV_READ, GET);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(keep_alive_over_tls_gives_active_idle_twice),
		T(plain_http_to_tls_port_gives_new_closed),
		T(handshake_then_close_gives_new_closed),
		T(partial_plaintext_request_then_close_is_active),
	};

	return cmocka_run_group_tests_name("tracker_tls", tests, NULL, NULL);
}
