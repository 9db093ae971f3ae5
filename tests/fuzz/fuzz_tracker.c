// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: arbitrary event streams into the tracker (and through
 * it the HTTP/1 and HTTP/2 framing). Each record is a small header and its
 * payload; the fuzzer chooses types (the kernel's, TLS plaintext, an end
 * found in unseen_ends, a reconcile at exit), sockets and their
 * generations, results, flags, copy lengths, frame records and bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "tracker.h"

static struct output out;

static void on_state(void *ctx, const struct tr_conn *c, enum cs_state prev, uint64_t ts)
{
	output_state(&out, c, prev, ts);
}

static void on_request(void *ctx, const struct tr_conn *c, const struct tr_request *r,
		       bool complete)
{
	output_request(&out, c, r, complete);
}

static void on_warning(void *ctx, const struct tr_conn *c, const char *msg, uint64_t ts)
{
	output_warning(&out, c, msg, ts);
}

/* A body's end is ahead of the bytes counted so far, in the direction whose
 * end moved, and the connection is one whose stream is sure. */
static void on_skip(void *ctx, const struct tr_conn *c)
{
	(void)ctx;
	if (!c->gen || c->uncertain || c->h2 ||
	    (c->skip_until[0] <= c->io_off[0] && c->skip_until[1] <= c->io_off[1]))
		abort();
}

static const struct tracker_ops ops = {
	.on_state = on_state,
	.on_request = on_request,
	.on_warning = on_warning,
	.on_skip = on_skip,
};

/* The reconcile's view of the kernel's conns map: odd sockets are gone. */
static bool alive(void *ctx, uint64_t sk, uint64_t gen)
{
	(void)ctx;
	(void)gen;
	return !(sk & 64);
}

/* Record types past the kernel's: what user/main.c does besides events. */
enum { FZ_END_UNSEEN = CS_EV_TLS_WRITE + 1, FZ_RECONCILE, FZ_TYPES = FZ_RECONCILE };

static bool has_payload(unsigned type)
{
	return type == CS_EV_READ || type == CS_EV_WRITE || type == CS_EV_TLS_READ ||
	       type == CS_EV_TLS_WRITE;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static uint8_t buf[sizeof(struct cs_event) + CS_HEAD_CAP + CS_TAIL_CAP +
			   CS_MAX_FRAMES * sizeof(struct cs_frame)];
	struct cs_event *e = (struct cs_event *)buf;
	struct tracker *t;
	uint64_t ts = 1;

	/* FUZZ_TRACKER_SHOW=1: print the lines, to read what a seed does */
	if (!out.f)
		out.f = getenv("FUZZ_TRACKER_SHOW") ? stdout : fopen("/dev/null", "w");
	out.json = n & 1;
	t = tracker_new(&ops, NULL);
	while (n >= 6) {
		/* type (frames in the high nibble), socket (generation in bits
		 * 2-3), result scale, flags/lost/TCP states, head length, tail
		 * length; the low values keep the seeds' first encoding */
		unsigned type = 1 + (d[0] & 15) % FZ_TYPES, nframes = has_payload(type) ? d[0] >> 4 : 0;
		size_t head = d[4] * 17 % (CS_HEAD_CAP + 1), tail = d[5] % (CS_TAIL_CAP + 1);
		size_t fbytes;

		memset(e, 0, sizeof(*e));
		e->type = type;
		e->sk = 0x1000 + (d[1] & 3) * 64;
		e->gen = (d[1] >> 2) & 3;
		e->ts_ns = ts += 1000;
		e->ret = (int64_t)(int8_t)d[2] * (d[2] & 0x40 ? 100000 : 37);
		e->flags = (d[3] & 3) |
			   (has_payload(type) && d[3] & 4 ? CS_F_TLS : 0) |
			   (has_payload(type) && d[3] & 0x20 ? CS_F_WALK_CUT : 0) |
			   (d[3] & 0x80 && d[1] & 0x10 ? CS_F_ADDRS : 0) |
			   (d[3] & 0x80 && d[1] & 0x20 ? CS_F_ADDRS | CS_F_ADOPTED : 0) |
			   (d[1] & 0x40 ? CS_F_HELD : 0);
		e->lost = d[3] >> 6;
		e->tcp_old = d[3] & 7;
		e->tcp_new = (d[3] >> 3) & 15;
		e->remote.family = d[3] & 1 ? 2 : 10;
		e->remote.port = d[1];
		d += 6;
		n -= 6;
		if (head > n)
			head = n;
		if (tail > n - head)
			tail = n - head;
		fbytes = nframes * sizeof(struct cs_frame);
		if (fbytes > n - head - tail)
			nframes = 0, fbytes = 0;
		memcpy(buf + sizeof(*e), d, head + tail + fbytes);
		e->head_len = head;
		e->tail_len = tail;
		e->nframes = nframes;
		d += head + tail + fbytes;
		n -= head + tail + fbytes;
		if (type == FZ_END_UNSEEN) {
			struct cs_end end = { .gen = e->gen, .sk = e->sk, .ts_ns = e->ts_ns,
					      .unannounced = e->flags & CS_F_ADOPTED ? CS_EV_ADOPT :
							     e->flags & CS_F_ADDRS ? CS_EV_ACCEPT : 0,
					      .remote = e->remote };

			tracker_end_unseen(t, e->sk, &end);
		} else if (type == FZ_RECONCILE) {
			tracker_reconcile(t, alive, NULL, e->ts_ns);
		} else {
			tracker_event(t, e, buf + sizeof(*e));
		}
	}
	tracker_free(t);
	return 0;
}
