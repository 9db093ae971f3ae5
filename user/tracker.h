/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reconstruction of each connection's Go-style ConnState from the kernel's
 * events. Pure: events in, transitions and requests out through callbacks;
 * no BPF and no I/O, so unit tests and fuzzers drive it directly.
 */
#ifndef CONNSTATE_TRACKER_H
#define CONNSTATE_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/types.h>

#include "addr.h"
#include "connstate.h"
#include "http1.h"
#include "http2.h"

enum cs_state {
	CS_ST_UNKNOWN, /* before accept was seen: adopted connections */
	CS_ST_NEW,
	CS_ST_ACTIVE,
	CS_ST_IDLE,
	CS_ST_HIJACKED,
	CS_ST_CLOSED,
};

enum cs_closer {
	CS_CLOSER_UNKNOWN,
	CS_CLOSER_CLIENT, /* the client's FIN came first */
	CS_CLOSER_SERVER, /* the server closed or shut down first */
	CS_CLOSER_RESET,  /* a reset ended it */
};

/* One request, from its header block to its response's last byte. */
struct tr_request {
	struct tr_request *next;
	char method[HTTP1_METHOD_MAX];
	char target[HTTP1_TARGET_MAX];
	int major, minor;
	bool valid;	   /* the request line parsed */
	bool target_truncated; /* target holds only the start of a longer one */
	bool req_close;	   /* the request asked to close after it */
	bool head_done;	   /* its header block was complete */
	bool resp_started;
	bool keep_alive;   /* decided by the response head */
	int status;	   /* 0 until a final response head */
	uint64_t start_ns; /* header block complete */
	uint64_t end_ns;
	uint64_t bytes_in, bytes_out;
	uint32_t stream;   /* its HTTP/2 stream id; 0 for HTTP/1 */
};

struct tr_conn {
	uint64_t sk;
	uint64_t gen;	   /* the kernel's generation of sk: 0 if not told */
	uint32_t tgid;
	struct cs_addr local, remote;
	char client_str[ADDR_STR_MAX], local_str[ADDR_STR_MAX]; /* formatted once */
	bool adopted;	   /* predates attach */
	bool uncertain;	   /* events were lost: states withheld */
	bool end_unseen;   /* ended without its CLOSE/DESTROY being seen */
	bool no_more;	   /* the server will close: later requests are moot */
	bool write_failed;
	const char *maybe_opaque; /* the client spoke TLS first */
	bool opaque;	   /* ... and the server answered in kind: nothing to frame */
	bool tls;	   /* its bytes come from the TLS library: the socket's are ciphertext */
	enum cs_state state;
	enum cs_closer closer;
	uint32_t lost;	   /* lost events seen in its stream */
	uint64_t start_ns;
	uint64_t requests;
	struct tr_request *queue; /* in arrival order; head is being served */
	struct http1_parser req, resp;
	/* HTTP/2: the framing module once the preface or an h2c upgrade chose
	 * it (NULL while HTTP/1), and the byte offsets (io_off) at which each
	 * direction switched to it */
	struct h2_conn *h2;
	uint64_t h2_base[2];
	uint64_t io_off[2];	  /* bytes read (H2_CLIENT) and written (H2_SERVER) */
	bool h2_upgraded;	  /* by h2c: hijacked was told, closed never is */
	bool h2_lost_told;
	uint8_t pre_len;	  /* first client bytes held: a start of the preface */
	uint8_t pre[H2_PREFACE_LEN];
	/* the last skip told (tracker_ops.on_skip), per io_off direction */
	uint64_t skip_until[2];
	struct tr_conn *hnext;	  /* hash chain */
	/* scratch for callbacks */
	struct tracker *t;
	uint64_t now;
};

struct tracker_ops {
	void (*on_state)(void *ctx, const struct tr_conn *c, enum cs_state prev, uint64_t ts);
	void (*on_request)(void *ctx, const struct tr_conn *c, const struct tr_request *r,
			   bool complete);
	void (*on_warning)(void *ctx, const struct tr_conn *c, const char *msg, uint64_t ts);
	/* A body framed by its Content-Length runs up to skip_until[] (in
	 * io_off's bytes): the kernel need not copy reads or writes wholly
	 * before it (struct cs_skip). Optional. */
	void (*on_skip)(void *ctx, const struct tr_conn *c);
};

/* Bodies shorter than this are not worth an on_skip. */
#define TR_SKIP_MIN_BODY (16 << 10)

struct tracker_totals {
	uint64_t conns;
	uint64_t open;
	uint64_t requests;
	uint64_t lost;	    /* events lost, as the connections' streams show */
	uint64_t uncertain; /* connections with lost events */
	uint64_t ended_unseen; /* connections ended without their end seen */
	uint64_t dropped;   /* events of no known connection and no addresses */
};

struct tracker;

struct tracker *tracker_new(const struct tracker_ops *ops, void *ctx);
void tracker_free(struct tracker *t);
/* One event as the kernel sent it; data holds head_len + tail_len bytes. */
void tracker_event(struct tracker *t, const struct cs_event *e, const uint8_t *data);
/*
 * The kernel says the connection (sk, end->gen) ended but its end event
 * was lost: it is told closed once, uncertain, with a warning. Nothing
 * happens if it already ended or sk now holds another generation (gen 0
 * matches any), unless none of its events got through (end->unannounced):
 * then it is told, under end's addresses, only by that end. Returns
 * whether it ended a connection.
 */
bool tracker_end_unseen(struct tracker *t, uint64_t sk, const struct cs_end *end);
/* Ends, as above, every open connection for which alive() says its socket
 * is gone; returns how many. */
size_t tracker_reconcile(struct tracker *t, bool (*alive)(void *ctx, uint64_t sk, uint64_t gen),
			 void *ctx, uint64_t ts);
void tracker_totals(const struct tracker *t, struct tracker_totals *out);
/* Calls fn for every open connection (for the summary at exit). */
void tracker_each_open(const struct tracker *t, void (*fn)(void *ctx, const struct tr_conn *c),
		       void *ctx);
const char *cs_state_name(enum cs_state s);
const char *cs_closer_name(enum cs_closer c);

#endif /* CONNSTATE_TRACKER_H */
