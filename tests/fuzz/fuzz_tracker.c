// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: arbitrary event streams into the tracker (and through
 * it the HTTP/1 framing). Each record is a small header and its payload;
 * the fuzzer chooses types, sockets, results, copy lengths and bytes.
 */
#include <stdint.h>
#include <stdio.h>
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

static const struct tracker_ops ops = { on_state, on_request, on_warning };

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static uint8_t buf[sizeof(struct cs_event) + CS_HEAD_CAP + CS_TAIL_CAP];
	struct cs_event *e = (struct cs_event *)buf;
	struct tracker *t;
	uint64_t ts = 1;

	if (!out.f)
		out.f = fopen("/dev/null", "w");
	out.json = n & 1;
	t = tracker_new(&ops, NULL);
	while (n >= 6) {
		/* type, socket, result scale, flags/lost, head length, tail length */
		size_t head = d[4] * 17 % (CS_HEAD_CAP + 1), tail = d[5] % (CS_TAIL_CAP + 1);

		memset(e, 0, sizeof(*e));
		e->type = 1 + d[0] % CS_EV_PROC_EXIT;
		e->sk = 0x1000 + (d[1] & 3) * 64;
		e->ts_ns = ts += 1000;
		e->ret = (int64_t)(int8_t)d[2] * (d[2] & 0x40 ? 100000 : 37);
		e->flags = d[3] & 3;
		e->lost = d[3] >> 6;
		e->tcp_old = d[3] & 7;
		e->tcp_new = (d[3] >> 3) & 15;
		e->remote.family = d[3] & 1 ? 2 : 10;
		d += 6;
		n -= 6;
		if (head > n)
			head = n;
		if (tail > n - head)
			tail = n - head;
		memcpy(buf + sizeof(*e), d, head + tail);
		e->head_len = head;
		e->tail_len = tail;
		d += head + tail;
		n -= head + tail;
		tracker_event(t, e, buf + sizeof(*e));
	}
	tracker_free(t);
	return 0;
}
