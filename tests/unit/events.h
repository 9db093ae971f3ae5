/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Builders of kernel events for driving the tracker without BPF. */
#ifndef CONNSTATE_TEST_EVENTS_H
#define CONNSTATE_TEST_EVENTS_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "tracker.h"

struct test_event {
	struct cs_event e;
	uint8_t data[CS_HEAD_CAP + CS_TAIL_CAP];
};

static uint64_t test_clock = 1000000;

static inline struct test_event *ev_make(struct test_event *t, uint16_t type, uint64_t sk)
{
	memset(t, 0, sizeof(*t));
	t->e.type = type;
	t->e.sk = sk;
	t->e.tgid = 42;
	t->e.ts_ns = (test_clock += 1000);
	return t;
}

/* A payload of len bytes of which the kernel copied all or head + tail. */
static inline void ev_payload(struct test_event *t, const char *s, size_t len)
{
	t->e.ret = (int64_t)len;
	if (len <= CS_HEAD_CAP) {
		memcpy(t->data, s, len);
		t->e.head_len = len;
		return;
	}
	memcpy(t->data, s, CS_HEAD_CAP);
	memcpy(t->data + CS_HEAD_CAP, s + len - CS_TAIL_CAP, CS_TAIL_CAP);
	t->e.head_len = CS_HEAD_CAP;
	t->e.tail_len = CS_TAIL_CAP;
}

static inline void ev_accept(struct tracker *tr, uint64_t sk, uint16_t port)
{
	struct test_event t;

	ev_make(&t, CS_EV_ACCEPT, sk);
	t.e.remote.family = AF_INET;
	t.e.remote.port = port;
	t.e.remote.addr[0] = 127;
	t.e.remote.addr[3] = 1;
	t.e.local = t.e.remote;
	t.e.local.port = 8080;
	tracker_event(tr, &t.e, t.data);
}

static inline void ev_io(struct tracker *tr, uint16_t type, uint64_t sk, const char *s, size_t len)
{
	struct test_event t;

	ev_make(&t, type, sk);
	ev_payload(&t, s, len);
	tracker_event(tr, &t.e, t.data);
}

static inline void ev_read(struct tracker *tr, uint64_t sk, const char *s)
{
	ev_io(tr, CS_EV_READ, sk, s, strlen(s));
}

static inline void ev_write(struct tracker *tr, uint64_t sk, const char *s)
{
	ev_io(tr, CS_EV_WRITE, sk, s, strlen(s));
}

/* A result without payload: EOF (0) or an error (-errno). */
static inline void ev_ret(struct tracker *tr, uint16_t type, uint64_t sk, int64_t ret)
{
	struct test_event t;

	ev_make(&t, type, sk);
	t.e.ret = ret;
	tracker_event(tr, &t.e, t.data);
}

static inline void ev_simple(struct tracker *tr, uint16_t type, uint64_t sk)
{
	struct test_event t;

	ev_make(&t, type, sk);
	tracker_event(tr, &t.e, t.data);
}

/* An event carrying a TCP state change (TCP_STATE, or a CLOSE that made it). */
static inline void ev_tcp(struct tracker *tr, uint16_t type, uint64_t sk, uint8_t old, uint8_t new)
{
	struct test_event t;

	ev_make(&t, type, sk);
	t.e.tcp_old = old;
	t.e.tcp_new = new;
	tracker_event(tr, &t.e, t.data);
}

/* Fills e's addresses as the kernel does for ACCEPT (and for CS_F_ADDRS). */
static inline void ev_addrs(struct test_event *t, uint16_t port)
{
	t->e.remote.family = AF_INET;
	t->e.remote.port = port;
	t->e.remote.addr[0] = 127;
	t->e.remote.addr[3] = 1;
	t->e.local = t->e.remote;
	t->e.local.port = 8080;
}

/* An ACCEPT of generation gen, as the kernel sends it since events carry gen. */
static inline void ev_accept_gen(struct tracker *tr, uint64_t sk, uint64_t gen, uint16_t port)
{
	struct test_event t;

	ev_make(&t, CS_EV_ACCEPT, sk);
	t.e.gen = gen;
	ev_addrs(&t, port);
	tracker_event(tr, &t.e, t.data);
}

/* A read or write of generation gen, with lost events so far and flags. */
static inline void ev_io_gen(struct tracker *tr, uint16_t type, uint64_t sk, uint64_t gen,
			     uint32_t lost, uint16_t flags, uint16_t port, const char *s)
{
	struct test_event t;

	ev_make(&t, type, sk);
	ev_payload(&t, s, strlen(s));
	t.e.gen = gen;
	t.e.lost = lost;
	t.e.flags = flags;
	if (flags & CS_F_ADDRS)
		ev_addrs(&t, port);
	tracker_event(tr, &t.e, t.data);
}

/* An event that carries its connection's ACCEPT (CS_F_ACCEPTED: the sock
 * tracepoints claim a connection at its first call): addresses, the first
 * state change (acc_old, acc_new), dated at gen. s NULL: no payload. */
static inline void ev_claimed(struct tracker *tr, uint16_t type, uint64_t sk, uint64_t gen,
			      uint32_t lost, uint8_t acc_old, uint8_t acc_new, const char *s)
{
	struct test_event t;

	ev_make(&t, type, sk);
	if (s)
		ev_payload(&t, s, strlen(s));
	t.e.gen = gen;
	t.e.lost = lost;
	t.e.flags = CS_F_ACCEPTED;
	t.e.acc_old = acc_old;
	t.e.acc_new = acc_new;
	ev_addrs(&t, 4242);
	tracker_event(tr, &t.e, t.data);
}

static inline void ev_simple_gen(struct tracker *tr, uint16_t type, uint64_t sk, uint64_t gen)
{
	struct test_event t;

	ev_make(&t, type, sk);
	t.e.gen = gen;
	tracker_event(tr, &t.e, t.data);
}

#endif /* CONNSTATE_TEST_EVENTS_H */
