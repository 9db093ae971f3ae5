// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of user/tracker.c: event sequences in, Go's ConnState out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "events.h"

#define SK 0xffff888012345600ull
/* the kernel's TCP states (include/net/tcp_states.h) */
#define TCP_ESTABLISHED 1
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8

static char states[1024];   /* "new active idle closed" */
static char requests[2048]; /* "GET /a 200;" */
static int warnings;
static char streams[256]; /* "1 HTTP/2;" per request with a stream id */
static char closed_by[32];  /* the closer when closed */

static void on_state(void *ctx, const struct tr_conn *c, enum cs_state prev, uint64_t ts)
{
	size_t n = strlen(states);

	snprintf(states + n, sizeof(states) - n, "%s%s", n ? " " : "", cs_state_name(c->state));
	if (c->state == CS_ST_CLOSED)
		snprintf(closed_by, sizeof(closed_by), "%s", cs_closer_name(c->closer));
}

static void on_request(void *ctx, const struct tr_conn *c, const struct tr_request *r,
		       bool complete)
{
	size_t n = strlen(requests);

	snprintf(requests + n, sizeof(requests) - n, "%s %s %d%s;", r->method, r->target,
		 r->status, complete ? "" : "!");
	n = strlen(streams);
	if (r->stream)
		snprintf(streams + n, sizeof(streams) - n, "%u;", r->stream);
}

static void on_warning(void *ctx, const struct tr_conn *c, const char *msg, uint64_t ts)
{
	warnings++;
}

static const struct tracker_ops ops = { .on_state = on_state, .on_request = on_request, .on_warning = on_warning };

static int setup(void **st)
{
	states[0] = requests[0] = streams[0] = closed_by[0] = '\0';
	warnings = 0;
	*st = tracker_new(&ops, NULL);
	return *st ? 0 : -1;
}

static int teardown(void **st)
{
	struct tracker_totals t;

	tracker_totals(*st, &t);
	tracker_free(*st);
	return 0;
}

#define OK_5 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
#define GET "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

static void connect_then_close_gives_new_closed(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_ret(*st, CS_EV_READ, SK, 0);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new closed");
	assert_string_equal(requests, "");
}

/* The first change out of ESTABLISHED says who ended the connection; the
 * sock tracepoints send it in the CLOSE event when the close made it. */
static void tcp_state_then_close_names_the_closer(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_tcp(*st, CS_EV_TCP_STATE, SK, TCP_ESTABLISHED, TCP_CLOSE_WAIT);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new closed");
	assert_string_equal(closed_by, "client");
}

/* A server's close with a request unread resets (ESTABLISHED -> CLOSE in
 * tcp_close): "reset", where a close alone would say "server". */
static void close_with_its_state_change_names_the_closer(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, OK_5);
	ev_tcp(*st, CS_EV_CLOSE, SK, TCP_ESTABLISHED, TCP_CLOSE);
	assert_string_equal(states, "new active idle closed");
	assert_string_equal(closed_by, "reset");
}

/* The client's FIN came before the accept (or, under the sock tracepoints,
 * before the first call, which claims the connection): its ACCEPT says it.
 * The server saw the end with a peek (no event), then closed. */
static void accept_with_a_state_change_names_the_closer(void **st)
{
	ev_tcp(*st, CS_EV_ACCEPT, SK, TCP_ESTABLISHED, TCP_CLOSE_WAIT);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, OK_5);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle closed");
	assert_string_equal(closed_by, "client");
}

/* Under the sock tracepoints two threads' first calls can both claim a
 * pending connection: the same ACCEPT (one generation) twice is one. */
static void accept_twice_with_one_generation_is_one_connection(void **st)
{
	ev_accept_gen(*st, SK, 77, 1000);
	ev_accept_gen(*st, SK, 77, 1000);
	ev_io_gen(*st, CS_EV_READ, SK, 77, 0, 0, 1000, GET);
	ev_io_gen(*st, CS_EV_WRITE, SK, 77, 0, 0, 1000, OK_5);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle closed");
}

static void close_alone_is_the_servers(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new closed");
	assert_string_equal(closed_by, "server");
}

static void partial_header_then_close_gives_active(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "GET / HTTP/1.1\r\nHost: x\r\n");
	assert_string_equal(states, "new");
	ev_ret(*st, CS_EV_READ, SK, 0);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
}

static void garbage_gets_400_and_closes(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "HELLO THERE\r\n\r\n");
	ev_write(*st, SK, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n400 Bad Request");
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
}

/* TLS bytes sent to a plain HTTP server: Go answers 400 */
static void bad_request_line_answered_before_header_end(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "\x16\x03\x01garbage\r\n");
	ev_write(*st, SK, "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad");
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
	assert_string_equal(requests, "- - 400;");
}

static void keep_alive_request_gives_active_idle(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, GET);
	assert_string_equal(states, "new active");
	ev_write(*st, SK, OK_5);
	assert_string_equal(states, "new active idle");
	ev_ret(*st, CS_EV_READ, SK, 0);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle closed");
	assert_string_equal(requests, "GET / 200;");
}

static void three_sequential_requests(void **st)
{
	int i;

	ev_accept(*st, SK, 1000);
	for (i = 0; i < 3; i++) {
		ev_read(*st, SK, GET);
		ev_write(*st, SK, OK_5);
	}
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active idle active idle closed");
}

static void pipelined_requests_give_one_pair_each(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
	assert_string_equal(states, "new active");
	ev_write(*st, SK, OK_5);
	ev_write(*st, SK, OK_5 OK_5); /* two responses in one write */
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active idle active idle closed");
	assert_string_equal(requests, "GET /a 200;GET /b 200;GET /c 200;");
}

static void pipelined_request_after_close_is_not_reported(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	ev_write(*st, SK, "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
	assert_string_equal(requests, "GET /a 404;");
}

static void connection_close_skips_idle(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
	ev_write(*st, SK, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello");
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
}

static void http10_closes_unless_keep_alive(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "GET / HTTP/1.0\r\n\r\n");
	ev_write(*st, SK, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	ev_simple(*st, CS_EV_CLOSE, SK);
	ev_accept(*st, SK + 64, 1001);
	ev_read(*st, SK + 64, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ev_write(*st, SK + 64, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello");
	ev_simple(*st, CS_EV_CLOSE, SK + 64);
	assert_string_equal(states, "new active closed new active idle closed");
}

static void http10_request_answered_as_11_still_closes(void **st)
{
	/* python's http.server in HTTP/1.1 mode answering an HTTP/1.0 client */
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "GET / HTTP/1.0\r\n\r\n");
	ev_write(*st, SK, OK_5);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
}

static void response_split_over_writes_idles_at_last_byte(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
	assert_string_equal(states, "new active");
	ev_write(*st, SK, "world");
	assert_string_equal(states, "new active idle");
}

static void big_response_with_hole_is_framed(void **st)
{
	size_t hdr = strlen("HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n");
	size_t len = hdr + 10485760;
	char *buf = malloc(len);

	memset(buf, 'x', len);
	memcpy(buf, "HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n", hdr);
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, GET);
	ev_io(*st, CS_EV_WRITE, SK, buf, 4000000);
	ev_io(*st, CS_EV_WRITE, SK, buf + 4000000, len - 4000000 - 1);
	assert_string_equal(states, "new active");
	ev_io(*st, CS_EV_WRITE, SK, buf + len - 1, 1);
	assert_string_equal(states, "new active idle");
	free(buf);
}

static void abandoned_response_gives_no_idle(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nxxxx");
	ev_ret(*st, CS_EV_WRITE, SK, -EPIPE);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
	assert_string_equal(requests, "GET / 200!;");
}

static void client_gone_during_handler_still_idles(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "GET /slow HTTP/1.1\r\n\r\n");
	ev_ret(*st, CS_EV_READ, SK, 0);
	ev_write(*st, SK, OK_5);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle closed");
}

static void chunked_response_ends_at_zero_chunk(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n");
	ev_write(*st, SK, "3\r\nabc\r\n");
	assert_string_equal(states, "new active");
	ev_write(*st, SK, "0\r\nX-Trailer: 1\r\n\r\n");
	assert_string_equal(states, "new active idle");
}

static void chunked_response_blind_in_hole_ends_at_terminator(void **st)
{
	size_t n = 20000;
	char *buf = malloc(n + 64);
	int len;

	/* one big write holding many chunks: their sizes fall in the hole */
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	len = 0;
	while ((size_t)len < n - 20)
		len += sprintf(buf + len, "4\r\nabcd\r\n");
	ev_io(*st, CS_EV_WRITE, SK, buf, len);
	assert_string_equal(states, "new active");
	ev_write(*st, SK, "4\r\nabcd\r\n0\r\n\r\n");
	assert_string_equal(states, "new active idle");
	free(buf);
}

static void expect_continue_upload(void **st)
{
	size_t len = 1048576;
	char *body = malloc(len);

	memset(body, 'b', len);
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "POST /upload HTTP/1.1\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n");
	ev_write(*st, SK, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_string_equal(states, "new active");
	ev_io(*st, CS_EV_READ, SK, body, 500000);
	ev_io(*st, CS_EV_READ, SK, body, len - 500000);
	ev_write(*st, SK, OK_5);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle closed");
	assert_string_equal(requests, "POST /upload 200;");
	free(body);
}

static void head_and_no_body_statuses(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "HEAD / HTTP/1.1\r\n\r\n");
	ev_write(*st, SK, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
	ev_read(*st, SK, GET);
	ev_write(*st, SK, "HTTP/1.1 204 No Content\r\n\r\n");
	ev_read(*st, SK, GET);
	ev_write(*st, SK, "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n");
	assert_string_equal(states, "new active idle active idle active idle");
}

static void switching_protocols_is_hijacked_and_terminal(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
	ev_write(*st, SK, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\n");
	ev_read(*st, SK, "ping");
	ev_write(*st, SK, "ping");
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active hijacked");
}

static void header_too_large_then_431(void **st)
{
	static char big[3 * 4096];

	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	ev_accept(*st, SK, 1000);
	ev_io(*st, CS_EV_READ, SK, big, 4096);
	ev_io(*st, CS_EV_READ, SK, big + 4096, 4096);
	ev_write(*st, SK, "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n");
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
}

static void header_split_into_tiny_reads(void **st)
{
	const char *req = GET;
	char one[2] = { 0 };

	ev_accept(*st, SK, 1000);
	for (; req[1]; req++) {
		one[0] = *req;
		ev_read(*st, SK, one);
	}
	assert_string_equal(states, "new");
	one[0] = *req;
	ev_read(*st, SK, one);
	assert_string_equal(states, "new active");
}

static void lost_events_withhold_states_but_tell_closed(void **st)
{
	struct test_event t;

	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, GET);
	ev_make(&t, CS_EV_WRITE, SK);
	ev_payload(&t, OK_5, strlen(OK_5));
	t.e.lost = 2;
	tracker_event(*st, &t.e, t.data);
	ev_read(*st, SK, GET);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
	assert_int_equal(warnings, 1);
}

static void adopted_connection_tracked_from_next_request(void **st)
{
	struct test_event t;

	ev_make(&t, CS_EV_ADOPT, SK);
	t.e.remote.family = AF_INET;
	tracker_event(*st, &t.e, t.data);
	ev_read(*st, SK, "partial body of an old request");
	ev_write(*st, SK, "rest of an old response");
	assert_string_equal(states, "");
	ev_read(*st, SK, GET);
	ev_write(*st, SK, OK_5);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "active idle closed");
}

static void destroy_without_close_ends_connection(void **st)
{
	struct tracker_totals t;

	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, OK_5);
	ev_simple(*st, CS_EV_DESTROY, SK);
	ev_simple(*st, CS_EV_CLOSE, SK); /* late duplicate: ignored */
	assert_string_equal(states, "new active idle closed");
	tracker_totals(*st, &t);
	assert_int_equal(t.open, 0);
	assert_int_equal(t.conns, 1);
	assert_int_equal(t.requests, 1);
}

static void many_connections_are_kept_apart(void **st)
{
	struct tracker_totals t;
	uint64_t i;

	for (i = 0; i < 5000; i++)
		ev_accept(*st, SK + i * 64, 1000 + i);
	for (i = 0; i < 5000; i++)
		ev_read(*st, SK + i * 64, GET);
	for (i = 0; i < 5000; i += 2)
		ev_simple(*st, CS_EV_CLOSE, SK + i * 64);
	tracker_totals(*st, &t);
	assert_int_equal(t.conns, 5000);
	assert_int_equal(t.open, 2500);
}

/* HTTP/2 is followed since issue 7 (the h2 block below); TLS is not yet. */
static void tls_server_is_told_as_opaque(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_io(*st, CS_EV_READ, SK, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
	ev_write(*st, SK, "\x16\x03\x03 server hello");
	ev_read(*st, SK, GET); /* looks like HTTP, but is inside TLS */
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new closed");
	assert_int_equal(warnings, 1);
	assert_string_equal(requests, "");
}

/* --- losses: unsure, never wrong (issue 10) ---
 * These record the client address with each line, through their own ops. */

static char lines[4096]; /* "127.0.0.1:1000 new; ..." */
static uint64_t new_ts; /* when the last "new" was dated */
static char lossreq[1024]; /* "GET / bytes_out=N!;" */

static void loss_state(void *ctx, const struct tr_conn *c, enum cs_state prev, uint64_t ts)
{
	size_t n = strlen(lines);

	snprintf(lines + n, sizeof(lines) - n, "%s %s%s;", c->client_str,
		 cs_state_name(c->state), c->uncertain ? "?" : "");
	if (c->state == CS_ST_NEW)
		new_ts = ts;
	if (c->state == CS_ST_CLOSED)
		snprintf(closed_by, sizeof(closed_by), "%s", cs_closer_name(c->closer));
}

static void loss_request(void *ctx, const struct tr_conn *c, const struct tr_request *r,
			 bool complete)
{
	size_t n = strlen(lossreq);

	snprintf(lossreq + n, sizeof(lossreq) - n, "%s %s bytes_out=%llu%s;", r->method,
		 r->target, (unsigned long long)r->bytes_out, complete ? "" : "!");
}

static void loss_warning(void *ctx, const struct tr_conn *c, const char *msg, uint64_t ts)
{
	size_t n = strlen(lines);

	snprintf(lines + n, sizeof(lines) - n, "%s warning;", c->client_str);
}

static const struct tracker_ops loss_ops = { .on_state = loss_state,
					     .on_request = loss_request,
					     .on_warning = loss_warning };

static int loss_setup(void **st)
{
	lines[0] = lossreq[0] = closed_by[0] = '\0';
	*st = tracker_new(&loss_ops, NULL);
	return *st ? 0 : -1;
}

static char open_conns[512];

static void note_open(void *ctx, const struct tr_conn *c)
{
	size_t n = strlen(open_conns);

	snprintf(open_conns + n, sizeof(open_conns) - n, "%s%s%s;", c->client_str,
		 c->uncertain ? "?" : "", c->adopted ? "+adopted" : "");
}

static const char *opened(struct tracker *t)
{
	open_conns[0] = '\0';
	tracker_each_open(t, note_open, NULL);
	return open_conns;
}

static bool end_unseen_gen(struct tracker *t, uint64_t sk, uint64_t gen)
{
	struct cs_end end = { .gen = gen, .ts_ns = (test_clock += 1000) };

	return tracker_end_unseen(t, sk, &end);
}

static void lost_accept_is_told_under_its_real_address(void **st)
{
	struct tracker_totals t;

	/* the ACCEPT of gen 7 was lost: its first read carries the addresses */
	ev_io_gen(*st, CS_EV_READ, SK, 7, 1, CS_F_ADDRS, 4242, GET);
	assert_string_equal(opened(*st), "127.0.0.1:4242?;");
	ev_io_gen(*st, CS_EV_WRITE, SK, 7, 1, 0, 0, OK_5);
	ev_simple_gen(*st, CS_EV_CLOSE, SK, 7);
	/* states withheld but the end; never a line under ?:0 */
	assert_string_equal(lines, "127.0.0.1:4242 warning;127.0.0.1:4242 warning;"
				   "127.0.0.1:4242 closed?;");
	assert_string_equal(lossreq, "GET / bytes_out=43;");
	tracker_totals(*st, &t);
	assert_int_equal(t.conns, 1);
	assert_int_equal(t.uncertain, 1);
	assert_int_equal(t.open, 0);
}

/* The sock tracepoints claim a connection at its first call; its ACCEPT
 * rides on that call's event: new first, dated at the handshake (gen). */
static void claimed_read_carries_its_accept(void **st)
{
	ev_claimed(*st, CS_EV_READ, SK, 5000, 0, 0, 0, GET);
	assert_int_equal(new_ts, 5000);
	ev_io_gen(*st, CS_EV_WRITE, SK, 5000, 0, 0, 0, OK_5);
	ev_simple_gen(*st, CS_EV_CLOSE, SK, 5000);
	assert_string_equal(lines, "127.0.0.1:4242 new;127.0.0.1:4242 active;"
				   "127.0.0.1:4242 idle;127.0.0.1:4242 closed;");
}

/* Claimed at its close: the close carries the ACCEPT and the client's FIN
 * that came before it (acc_old/acc_new), so the client closed it. */
static void claimed_close_carries_its_accept_and_the_fin(void **st)
{
	ev_claimed(*st, CS_EV_CLOSE, SK, 5000, 0, TCP_ESTABLISHED, TCP_CLOSE_WAIT, NULL);
	assert_string_equal(lines, "127.0.0.1:4242 new;127.0.0.1:4242 closed;");
	assert_string_equal(closed_by, "client");
	assert_string_equal(opened(*st), "");
}

/* A loss in the claiming call itself (bytes read unseen before it): new is
 * sure, what follows is withheld. */
static void claimed_read_with_a_loss_tells_new_then_withholds(void **st)
{
	ev_claimed(*st, CS_EV_READ, SK, 5000, 1, 0, 0, GET);
	ev_io_gen(*st, CS_EV_WRITE, SK, 5000, 1, 0, 0, OK_5);
	ev_simple_gen(*st, CS_EV_CLOSE, SK, 5000);
	assert_string_equal(lines, "127.0.0.1:4242 new;127.0.0.1:4242 warning;"
				   "127.0.0.1:4242 closed?;");
}

static void event_without_addresses_of_unknown_conn_is_dropped(void **st)
{
	struct tracker_totals t;

	/* lost data of a connection never announced, no addresses: no line */
	ev_io_gen(*st, CS_EV_READ, SK, 7, 3, 0, 0, GET);
	ev_simple_gen(*st, CS_EV_CLOSE, SK, 7);
	assert_string_equal(lines, "");
	assert_string_equal(lossreq, "");
	tracker_totals(*st, &t);
	assert_int_equal(t.conns, 0);
	assert_int_equal(t.dropped, 2);
}

static void lost_close_is_ended_unseen_once(void **st)
{
	struct tracker_totals t;

	ev_accept_gen(*st, SK, 7, 1000);
	ev_io_gen(*st, CS_EV_READ, SK, 7, 0, 0, 0, GET);
	ev_io_gen(*st, CS_EV_WRITE, SK, 7, 0, 0, 0, OK_5);
	/* its CLOSE was lost: the kernel's unseen_ends says so */
	assert_true(end_unseen_gen(*st, SK, 7));
	assert_false(end_unseen_gen(*st, SK, 7));
	ev_simple_gen(*st, CS_EV_DESTROY, SK, 7); /* a late end: nothing after closed */
	assert_string_equal(lines, "127.0.0.1:1000 new;127.0.0.1:1000 active;127.0.0.1:1000 idle;"
				   "127.0.0.1:1000 warning;127.0.0.1:1000 closed?;");
	tracker_totals(*st, &t);
	assert_int_equal(t.ended_unseen, 1);
	assert_int_equal(t.open, 0);
	assert_int_equal(t.requests, 1);
}

static void reused_sk_after_lost_close_ends_old_once(void **st)
{
	ev_accept_gen(*st, SK, 7, 1000);
	ev_io_gen(*st, CS_EV_READ, SK, 7, 0, 0, 0, GET);
	ev_io_gen(*st, CS_EV_WRITE, SK, 7, 0, 0, 0, OK_5);
	/* gen 7's CLOSE lost; gen 8 accepted on the same socket address */
	ev_accept_gen(*st, SK, 8, 1001);
	/* the kernel's record of 7's end comes later: 8 is not touched */
	assert_false(end_unseen_gen(*st, SK, 7));
	ev_io_gen(*st, CS_EV_READ, SK, 8, 0, 0, 0, GET);
	ev_io_gen(*st, CS_EV_WRITE, SK, 8, 0, 0, 0, OK_5);
	ev_simple_gen(*st, CS_EV_CLOSE, SK, 8);
	assert_string_equal(lines, "127.0.0.1:1000 new;127.0.0.1:1000 active;127.0.0.1:1000 idle;"
				   "127.0.0.1:1000 warning;127.0.0.1:1000 closed?;"
				   "127.0.0.1:1001 new;127.0.0.1:1001 active;127.0.0.1:1001 idle;"
				   "127.0.0.1:1001 closed;");
}

static void reused_sk_after_lost_close_and_accept(void **st)
{
	ev_accept_gen(*st, SK, 7, 1000);
	/* 7's CLOSE and 8's ACCEPT lost: 8's first read says both */
	ev_io_gen(*st, CS_EV_READ, SK, 8, 1, CS_F_ADDRS, 1001, GET);
	ev_simple_gen(*st, CS_EV_CLOSE, SK, 8);
	assert_string_equal(lines, "127.0.0.1:1000 new;127.0.0.1:1000 warning;127.0.0.1:1000 closed?;"
				   "127.0.0.1:1001 warning;127.0.0.1:1001 warning;"
				   "127.0.0.1:1001 closed?;");
	assert_string_equal(opened(*st), "");
}

static void no_state_after_closed(void **st)
{
	struct tracker_totals t;

	ev_accept_gen(*st, SK, 7, 1000);
	ev_simple_gen(*st, CS_EV_CLOSE, SK, 7);
	/* events of the closed generation still in flight */
	ev_io_gen(*st, CS_EV_READ, SK, 7, 1, 0, 0, GET);
	ev_simple_gen(*st, CS_EV_DESTROY, SK, 7);
	assert_false(end_unseen_gen(*st, SK, 7));
	assert_string_equal(lines, "127.0.0.1:1000 new;127.0.0.1:1000 closed;");
	tracker_totals(*st, &t);
	assert_int_equal(t.conns, 1);
}

static void connection_seen_only_by_its_lost_end_is_told(void **st)
{
	struct cs_end end = { .gen = 7, .ts_ns = 5, .unannounced = CS_EV_ACCEPT };
	struct tracker_totals t;

	end.remote.family = AF_INET;
	end.remote.port = 4243;
	end.remote.addr[0] = 127;
	end.remote.addr[3] = 1;
	assert_true(tracker_end_unseen(*st, SK, &end));
	assert_false(tracker_end_unseen(*st, SK, &(struct cs_end){ .gen = 7 }));
	assert_string_equal(lines, "127.0.0.1:4243 warning;127.0.0.1:4243 warning;"
				   "127.0.0.1:4243 closed?;");
	tracker_totals(*st, &t);
	assert_int_equal(t.conns, 1);
	assert_int_equal(t.open, 0);
}

static bool only_sk_plus_64_alive(void *ctx, uint64_t sk, uint64_t gen)
{
	return sk == SK + 64;
}

static void reconcile_ends_what_the_kernel_no_longer_has(void **st)
{
	struct tracker_totals t;

	ev_accept_gen(*st, SK, 7, 1000);
	ev_accept_gen(*st, SK + 64, 9, 1001);
	assert_int_equal(tracker_reconcile(*st, only_sk_plus_64_alive, NULL, test_clock + 1), 1);
	assert_string_equal(opened(*st), "127.0.0.1:1001;");
	assert_string_equal(lines, "127.0.0.1:1000 new;127.0.0.1:1001 new;"
				   "127.0.0.1:1000 warning;127.0.0.1:1000 closed?;");
	tracker_totals(*st, &t);
	assert_int_equal(t.ended_unseen, 1);
}

static void cut_off_response_counts_bytes_written(void **st)
{
	static char body[100 * 1024];
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 3145728\r\n\r\n";
	size_t i;

	ev_accept_gen(*st, SK, 7, 1000);
	ev_io_gen(*st, CS_EV_READ, SK, 7, 0, 0, 0, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
	ev_io_gen(*st, CS_EV_WRITE, SK, 7, 0, 0, 0, head);
	memset(body, 'x', sizeof(body));
	for (i = 0; i < 4; i++)
		ev_io(*st, CS_EV_WRITE, SK, body, sizeof(body));
	ev_ret(*st, CS_EV_WRITE, SK, -ECONNRESET);
	ev_simple_gen(*st, CS_EV_CLOSE, SK, 7);
	snprintf(open_conns, sizeof(open_conns), "GET /big bytes_out=%zu!;",
		 strlen(head) + 4 * sizeof(body));
	assert_string_equal(lossreq, open_conns);
}

/* --- long request lines and header blocks (issue 10) --- */

/* One read of s as the kernel sends it: in CS_HEAD_CAP events while a
 * header block may be arriving (up to CS_HEAD_BLOCK_MAX), or, with
 * pieces false, as one event with a hole (head and tail copied). */
static void read_long(struct tracker *tr, uint64_t sk, const char *s, size_t len, bool pieces)
{
	size_t off = 0;

	while (pieces && len - off > CS_HEAD_CAP) {
		ev_io(tr, CS_EV_READ, sk, s + off, CS_HEAD_CAP);
		off += CS_HEAD_CAP;
	}
	ev_io(tr, CS_EV_READ, sk, s + off, len - off);
}

static size_t long_get(char *buf, size_t line_len, const char *rest)
{
	size_t n = sprintf(buf, "GET /");

	memset(buf + n, 'q', line_len - n - strlen(" HTTP/1.1\r\n"));
	n = line_len - strlen(" HTTP/1.1\r\n");
	return n + sprintf(buf + n, " HTTP/1.1\r\n%s", rest);
}

static void line_of_64k_then_pipelined_request_gives_two_pairs(void **st)
{
	static char buf[80 << 10];
	size_t n = long_get(buf, 64 << 10, "Host: x\r\n\r\n" GET);

	ev_accept(*st, SK, 1000);
	read_long(*st, SK, buf, n, true);
	assert_string_equal(states, "new active");
	ev_write(*st, SK, OK_5);
	assert_string_equal(states, "new active idle active");
	ev_write(*st, SK, OK_5);
	ev_ret(*st, CS_EV_READ, SK, 0);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active idle closed");
	/* the long target is cut to what output keeps */
	assert_int_equal(strlen(requests), 4 + HTTP1_TARGET_MAX - 1 + strlen(" 200;GET / 200;"));
	assert_memory_equal(requests, "GET /qqq", 8);
	assert_string_equal(requests + strlen(requests) - strlen("q 200;GET / 200;"),
			    "q 200;GET / 200;");
}

static void header_block_of_60k_in_pieces_is_followed(void **st)
{
	static char buf[64 << 10];
	size_t n = sprintf(buf, "GET /h HTTP/1.1\r\n");

	while (n < (60 << 10))
		n += sprintf(buf + n, "X-F: %0100d\r\n", 0);
	n += sprintf(buf + n, "\r\n");
	ev_accept(*st, SK, 1000);
	read_long(*st, SK, buf, n, true);
	ev_write(*st, SK, OK_5);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, OK_5);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active idle closed");
	assert_string_equal(requests, "GET /h 200;GET / 200;");
	assert_int_equal(warnings, 0);
}

/* The same block read with a hole in it: a warning, states withheld. */
static void header_block_with_a_hole_is_told_uncertain(void **st)
{
	static char buf[64 << 10];
	size_t n = sprintf(buf, "GET /h HTTP/1.1\r\n");

	while (n < (20 << 10))
		n += sprintf(buf + n, "X-F: %0100d\r\n", 0);
	n += sprintf(buf + n, "\r\n");
	ev_accept(*st, SK, 1000);
	read_long(*st, SK, buf, n, false);
	ev_write(*st, SK, OK_5);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new closed");
	assert_int_equal(warnings, 1);
}

/* --- HTTP/2 (issue 7): the framing module behind Go's h2 rules ---
 * Header blocks use HPACK's static table and literals only, so they are
 * written out by hand. */

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

struct h2buf {
	uint8_t b[64 << 10];
	size_t n;
};

static void frame(struct h2buf *f, uint32_t len, uint8_t type, uint8_t flags, uint32_t sid,
		  const void *payload)
{
	uint8_t *p = f->b + f->n;

	assert_true(f->n + 9 + len <= sizeof(f->b));
	p[0] = len >> 16;
	p[1] = len >> 8;
	p[2] = len;
	p[3] = type;
	p[4] = flags;
	p[5] = sid >> 24;
	p[6] = sid >> 16;
	p[7] = sid >> 8;
	p[8] = sid;
	if (payload)
		memcpy(p + 9, payload, len);
	else
		memset(p + 9, 'd', len);
	f->n += 9 + len;
}

/* HEADERS of a GET of path (":path" literal, indexed name 4) */
static void get(struct h2buf *f, uint32_t sid, const char *path)
{
	uint8_t blk[64] = { 0x82, 0x86, 0x04 }; /* :method GET, :scheme http, :path */
	size_t n = strlen(path);

	blk[3] = n;
	memcpy(blk + 4, path, n);
	frame(f, 4 + n, 0x1, 0x5, sid, blk); /* END_STREAM | END_HEADERS */
}

/* HEADERS of a 200 (static index 8) and, if body, DATA that ends the stream */
static void ok(struct h2buf *f, uint32_t sid, uint32_t body)
{
	static const uint8_t st200 = 0x88;

	frame(f, 1, 0x1, body ? 0x4 : 0x5, sid, &st200);
	if (body)
		frame(f, body, 0x0, 0x1, sid, NULL);
}

/* A read or write of f's bytes, copied as the kernel copies them (head
 * and tail), with the frame headers of the hole reported if walk is set
 * (the payload starts at a frame boundary). Empties f. */
static uint16_t h2_io_flags; /* flags of the next h2_io event */

static void h2_io(struct tracker *tr, uint16_t type, uint64_t sk, struct h2buf *f, bool walk)
{
	static struct {
		struct cs_event e;
		uint8_t data[CS_HEAD_CAP + CS_TAIL_CAP + CS_MAX_FRAMES * sizeof(struct cs_frame)];
	} t;
	size_t len = f->n, off, rec;

	memset(&t.e, 0, sizeof(t.e));
	t.e.type = type;
	t.e.sk = sk;
	t.e.tgid = 42;
	t.e.ts_ns = (test_clock += 1000);
	t.e.ret = (int64_t)len;
	t.e.flags = h2_io_flags;
	h2_io_flags = 0;
	if (len <= CS_HEAD_CAP) {
		memcpy(t.data, f->b, len);
		t.e.head_len = len;
	} else {
		memcpy(t.data, f->b, CS_HEAD_CAP);
		memcpy(t.data + CS_HEAD_CAP, f->b + len - CS_TAIL_CAP, CS_TAIL_CAP);
		t.e.head_len = CS_HEAD_CAP;
		t.e.tail_len = CS_TAIL_CAP;
	}
	rec = t.e.head_len + t.e.tail_len;
	for (off = 0; walk && len > CS_HEAD_CAP && off + 9 <= len; ) {
		struct cs_frame fr = { .off = off };

		if (off + 9 > CS_HEAD_CAP && off < len - CS_TAIL_CAP) {
			assert_true(t.e.nframes < CS_MAX_FRAMES);
			memcpy(fr.hdr, f->b + off, 9);
			memcpy(t.data + rec + t.e.nframes++ * sizeof(fr), &fr, sizeof(fr));
		}
		off += 9 + ((size_t)f->b[off] << 16 | (size_t)f->b[off + 1] << 8 | f->b[off + 2]);
	}
	tracker_event(tr, &t.e, t.data);
	f->n = 0;
}

static void h2_hello(struct tracker *tr, uint64_t sk, struct h2buf *f)
{
	memcpy(f->b, PREFACE, 24);
	f->n = 24;
	frame(f, 0, 0x4, 0, 0, NULL); /* SETTINGS */
	h2_io(tr, CS_EV_READ, sk, f, false);
	frame(f, 0, 0x4, 0, 0, NULL);
	frame(f, 0, 0x4, 0x1, 0, NULL); /* SETTINGS ACK */
	h2_io(tr, CS_EV_WRITE, sk, f, false);
}

static void h2_get_gives_go_sequence_and_a_stream_record(void **st)
{
	static struct h2buf f;

	ev_accept(*st, SK, 1000);
	h2_hello(*st, SK, &f);
	get(&f, 1, "/a?x=1");
	h2_io(*st, CS_EV_READ, SK, &f, false);
	assert_string_equal(states, "new active idle active");
	ok(&f, 1, 5);
	h2_io(*st, CS_EV_WRITE, SK, &f, false);
	ev_ret(*st, CS_EV_READ, SK, 0);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active idle closed");
	assert_string_equal(requests, "GET /a?x=1 200;");
	assert_string_equal(streams, "1;");
	assert_int_equal(warnings, 0);
}

static void h2_overlapping_streams_give_one_pair(void **st)
{
	static struct h2buf f;

	ev_accept(*st, SK, 1000);
	h2_hello(*st, SK, &f);
	get(&f, 1, "/1");
	get(&f, 3, "/3");
	h2_io(*st, CS_EV_READ, SK, &f, false);
	get(&f, 5, "/5");
	h2_io(*st, CS_EV_READ, SK, &f, false);
	ok(&f, 3, 0);
	ok(&f, 1, 10);
	h2_io(*st, CS_EV_WRITE, SK, &f, false);
	ok(&f, 5, 1);
	h2_io(*st, CS_EV_WRITE, SK, &f, false);
	get(&f, 7, "/7");
	h2_io(*st, CS_EV_READ, SK, &f, false);
	ok(&f, 7, 1);
	h2_io(*st, CS_EV_WRITE, SK, &f, false);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active idle active idle closed");
	assert_string_equal(requests, "GET /3 200;GET /1 200;GET /5 200;GET /7 200;");
	assert_string_equal(streams, "3;1;5;7;");
}

/* Go closes the open streams when the connection ends: idle, then closed. */
static void h2_stream_open_at_close_idles_first(void **st)
{
	static struct h2buf f;

	ev_accept(*st, SK, 1000);
	h2_hello(*st, SK, &f);
	get(&f, 1, "/slow");
	h2_io(*st, CS_EV_READ, SK, &f, false);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active idle closed");
	assert_string_equal(requests, "GET /slow 0!;");
}

/* The preface in pieces waits for its end; "P" of a POST does not stay held. */
static void h2_preface_split_over_reads_and_post_start(void **st)
{
	static struct h2buf f;

	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "PRI * HTTP/2.0\r\n");
	assert_string_equal(states, "new");
	ev_read(*st, SK, "\r\nSM");
	ev_read(*st, SK, "\r\n\r\n");
	assert_string_equal(states, "new active idle");
	frame(&f, 0, 0x4, 0, 0, NULL);
	get(&f, 1, "/");
	h2_io(*st, CS_EV_READ, SK, &f, false);
	frame(&f, 0, 0x4, 0, 0, NULL);
	ok(&f, 1, 0);
	h2_io(*st, CS_EV_WRITE, SK, &f, false);
	ev_simple(*st, CS_EV_CLOSE, SK);
	ev_accept(*st, SK + 64, 1001);
	ev_read(*st, SK + 64, "P");
	ev_read(*st, SK + 64, "OST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
	ev_write(*st, SK + 64, OK_5);
	ev_simple(*st, CS_EV_CLOSE, SK + 64);
	assert_string_equal(states, "new active idle active idle closed "
				    "new active idle closed");
	assert_string_equal(requests, "GET / 200;POST / 200;");
	assert_string_equal(streams, "1;");
	assert_int_equal(warnings, 0);
}

/* Go via net/http and h2c: "new active hijacked active active idle idle". */
static void h2c_upgrade_gives_go_sequence(void **st)
{
	static struct h2buf f;
	static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
				 "Upgrade: h2c\r\n\r\n";

	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
			 "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n");
	memcpy(f.b, sw, sizeof(sw) - 1);
	f.n = sizeof(sw) - 1;
	frame(&f, 0, 0x4, 0, 0, NULL); /* the server's SETTINGS in the same write */
	h2_io(*st, CS_EV_WRITE, SK, &f, false);
	assert_string_equal(states, "new active hijacked active");
	memcpy(f.b, PREFACE, 24);
	f.n = 24;
	frame(&f, 0, 0x4, 0, 0, NULL);
	h2_io(*st, CS_EV_READ, SK, &f, false);
	ok(&f, 1, 3);
	h2_io(*st, CS_EV_WRITE, SK, &f, false);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active hijacked active active idle idle");
	assert_string_equal(requests, "GET /up 101;GET /up 200;");
	assert_string_equal(streams, "1;");
	assert_int_equal(warnings, 0);
}

/* 1 MiB in one write of 64 16 KiB DATA frames, then HEADERS of the next
 * response: the frame headers past the copied head come from the kernel. */
static void h2_big_write_followed_by_kernel_frame_headers(void **st)
{
	static struct h2buf f;
	int i;

	ev_accept(*st, SK, 1000);
	h2_hello(*st, SK, &f);
	get(&f, 1, "/big");
	get(&f, 3, "/small");
	h2_io(*st, CS_EV_READ, SK, &f, false);
	frame(&f, 1, 0x1, 0x4, 1, "\x88");
	for (i = 0; i < 3; i++)
		frame(&f, 16384, 0x0, i == 2 ? 0x1 : 0, 1, NULL);
	ok(&f, 3, 7);
	h2_io(*st, CS_EV_WRITE, SK, &f, true);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active idle closed");
	assert_string_equal(requests, "GET /big 200;GET /small 200;");
	assert_int_equal(warnings, 0);
}

/* The same without the kernel's frame headers: a header in the hole is
 * lost, the connection is told uncertain once, only its end follows. */
static void h2_frame_header_in_hole_makes_it_uncertain(void **st)
{
	static struct h2buf f;
	int i;

	ev_accept(*st, SK, 1000);
	h2_hello(*st, SK, &f);
	get(&f, 1, "/big");
	h2_io(*st, CS_EV_READ, SK, &f, false);
	frame(&f, 1, 0x1, 0x4, 1, "\x88");
	for (i = 0; i < 3; i++)
		frame(&f, 16384, 0x0, i == 2 ? 0x1 : 0, 1, NULL);
	h2_io(*st, CS_EV_WRITE, SK, &f, false);
	get(&f, 3, "/next");
	h2_io(*st, CS_EV_READ, SK, &f, false);
	ok(&f, 3, 0);
	h2_io(*st, CS_EV_WRITE, SK, &f, false);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active closed");
	assert_int_equal(warnings, 2); /* lost sync; HPACK of the server broken */
}

/* The kernel's walk gave up: unsure from then on, one warning. */
static void h2_walk_cut_makes_it_uncertain(void **st)
{
	static struct h2buf f;

	ev_accept(*st, SK, 1000);
	h2_hello(*st, SK, &f);
	get(&f, 1, "/a");
	h2_io(*st, CS_EV_READ, SK, &f, false);
	ok(&f, 1, 0);
	h2_io_flags = CS_F_WALK_CUT;
	h2_io(*st, CS_EV_WRITE, SK, &f, true);
	get(&f, 3, "/b");
	h2_io_flags = CS_F_WALK_CUT;
	h2_io(*st, CS_EV_READ, SK, &f, false);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active closed");
	assert_int_equal(warnings, 1);
}

/* Preface then garbage: one warning, Go's states (it answers GOAWAY). */
static void h2_garbage_after_preface_warns_once(void **st)
{
	static struct h2buf f;

	ev_accept(*st, SK, 1000);
	h2_hello(*st, SK, &f);
	memcpy(f.b, "\xff\xff\xff\x01\x05\0\0\0\x01GET / HTTP/1.1\r\n\r\n", 27);
	f.n = 27;
	h2_io(*st, CS_EV_READ, SK, &f, false);
	h2_io(*st, CS_EV_READ, SK, &f, false);
	frame(&f, 8, 0x7, 0, 0, "\0\0\0\0\0\0\0\x06"); /* GOAWAY */
	h2_io(*st, CS_EV_WRITE, SK, &f, false);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle closed");
	assert_int_equal(warnings, 1);
	assert_string_equal(requests, "");
}

/* --- guards that a mutation once removed without any test noticing --- */

/* Go closes a connection whose write failed, even if the response's last
 * bytes go out afterwards: no idle */
static void response_ended_after_failed_write_gives_no_idle(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
	ev_ret(*st, CS_EV_WRITE, SK, -EPIPE);
	ev_write(*st, SK, "world");
	assert_string_equal(states, "new active");
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
	assert_string_equal(requests, "GET / 200;");
}

/* A malformed head is answered and closed: what follows it is not framed
 * (here a chunked body that is not one, which would lose sync and warn) */
static void malformed_request_is_not_framed_further(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "NOT AN HTTP REQUEST\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n");
	assert_string_equal(states, "new active");
	ev_write(*st, SK, "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad");
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
	assert_string_equal(requests, "- - 400;");
	assert_int_equal(warnings, 0);
}

/* The request that hijacked a connection is still told, with its 101 */
static void hijacking_request_is_reported(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
	ev_write(*st, SK, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\n");
	assert_string_equal(requests, "GET /ws 101;");
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active hijacked");
	assert_string_equal(requests, "GET /ws 101;");
}

/* The server closes with a request read but no response begun (a handler
 * that crashed): the request is told, incomplete, with no status */
static void request_never_answered_is_reported_incomplete(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, "GET /crash HTTP/1.1\r\n\r\n");
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active closed");
	assert_string_equal(requests, "GET /crash 0!;");
}

/* Empty lines before a request (a client's CRLF after a body) are no
 * request of their own */
static void crlf_before_request_is_skipped(void **st)
{
	ev_accept(*st, SK, 1000);
	ev_read(*st, SK, GET);
	ev_write(*st, SK, OK_5);
	ev_read(*st, SK, "\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	ev_write(*st, SK, OK_5);
	ev_simple(*st, CS_EV_CLOSE, SK);
	assert_string_equal(states, "new active idle active idle closed");
	assert_string_equal(requests, "GET / 200;GET /b 200;");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(connect_then_close_gives_new_closed),
		T(tcp_state_then_close_names_the_closer),
		T(close_with_its_state_change_names_the_closer),
		T(accept_with_a_state_change_names_the_closer),
		T(accept_twice_with_one_generation_is_one_connection),
		T(close_alone_is_the_servers),
		T(partial_header_then_close_gives_active),
		T(garbage_gets_400_and_closes),
		T(bad_request_line_answered_before_header_end),
		T(keep_alive_request_gives_active_idle),
		T(three_sequential_requests),
		T(pipelined_requests_give_one_pair_each),
		T(pipelined_request_after_close_is_not_reported),
		T(connection_close_skips_idle),
		T(http10_closes_unless_keep_alive),
		T(http10_request_answered_as_11_still_closes),
		T(response_split_over_writes_idles_at_last_byte),
		T(big_response_with_hole_is_framed),
		T(abandoned_response_gives_no_idle),
		T(client_gone_during_handler_still_idles),
		T(chunked_response_ends_at_zero_chunk),
		T(chunked_response_blind_in_hole_ends_at_terminator),
		T(expect_continue_upload),
		T(head_and_no_body_statuses),
		T(switching_protocols_is_hijacked_and_terminal),
		T(header_too_large_then_431),
		T(header_split_into_tiny_reads),
		T(lost_events_withhold_states_but_tell_closed),
		T(adopted_connection_tracked_from_next_request),
		T(destroy_without_close_ends_connection),
		T(many_connections_are_kept_apart),
		T(tls_server_is_told_as_opaque),
		T(line_of_64k_then_pipelined_request_gives_two_pairs),
		T(header_block_of_60k_in_pieces_is_followed),
		T(header_block_with_a_hole_is_told_uncertain),
		T(h2_get_gives_go_sequence_and_a_stream_record),
		T(h2_overlapping_streams_give_one_pair),
		T(h2_stream_open_at_close_idles_first),
		T(h2_preface_split_over_reads_and_post_start),
		T(h2c_upgrade_gives_go_sequence),
		T(h2_big_write_followed_by_kernel_frame_headers),
		T(h2_frame_header_in_hole_makes_it_uncertain),
		T(h2_garbage_after_preface_warns_once),
		T(h2_walk_cut_makes_it_uncertain),
		T(response_ended_after_failed_write_gives_no_idle),
		T(malformed_request_is_not_framed_further),
		T(hijacking_request_is_reported),
		T(request_never_answered_is_reported_incomplete),
		T(crlf_before_request_is_skipped),
#define T2(f) cmocka_unit_test_setup_teardown(f, loss_setup, teardown)
		T2(lost_accept_is_told_under_its_real_address),
		T2(claimed_read_carries_its_accept),
		T2(claimed_close_carries_its_accept_and_the_fin),
		T2(claimed_read_with_a_loss_tells_new_then_withholds),
		T2(event_without_addresses_of_unknown_conn_is_dropped),
		T2(lost_close_is_ended_unseen_once),
		T2(reused_sk_after_lost_close_ends_old_once),
		T2(reused_sk_after_lost_close_and_accept),
		T2(no_state_after_closed),
		T2(reconcile_ends_what_the_kernel_no_longer_has),
		T2(connection_seen_only_by_its_lost_end_is_told),
		T2(cut_off_response_counts_bytes_written),
	};

	return cmocka_run_group_tests_name("tracker", tests, NULL, NULL);
}
