// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go's ConnState rules, applied to what the kernel saw (see docs/design.md):
 *  new      accept returned the connection;
 *  active   a request's header block is complete, or, on Go's error path,
 *           the server answers or the connection ends after some bytes of
 *           an unfinished one were read;
 *  idle     a response ended and both sides keep the connection; a request
 *           already read (pipelined) then makes it active at once;
 *  hijacked a 101, or a 2xx to CONNECT, was written; nothing follows;
 *  closed   the server closed its last descriptor, or the socket died.
 * HTTP/2 (the preface, or an h2c upgrade) has Go's own rules, told by the
 * framing module in http2.c: active and idle after the preface, active
 * when open streams go 0 -> 1, idle when back to 0, each time Go calls its
 * hook (repeats included); hijacked only by the h2c upgrade's 101.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker.h"

#define TCP_ESTABLISHED 1
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8

struct tracker {
	const struct tracker_ops *ops;
	void *ctx;
	struct tr_conn **buckets;
	size_t nbuckets; /* a power of two */
	size_t nconns;
	struct tr_conn *free_conns;
	struct tr_request *free_reqs;
	struct tracker_totals totals;
};

static const char *const state_names[] = {
	[CS_ST_UNKNOWN] = "unknown", [CS_ST_NEW] = "new",	  [CS_ST_ACTIVE] = "active",
	[CS_ST_IDLE] = "idle",	     [CS_ST_HIJACKED] = "hijacked", [CS_ST_CLOSED] = "closed",
};

static const char *const closer_names[] = {
	[CS_CLOSER_UNKNOWN] = "unknown",
	[CS_CLOSER_CLIENT] = "client",
	[CS_CLOSER_SERVER] = "server",
	[CS_CLOSER_RESET] = "reset",
};

const char *cs_state_name(enum cs_state s)
{
	return s <= CS_ST_CLOSED ? state_names[s] : "?";
}

const char *cs_closer_name(enum cs_closer c)
{
	return c <= CS_CLOSER_RESET ? closer_names[c] : "?";
}

struct tracker *tracker_new(const struct tracker_ops *ops, void *ctx)
{
	struct tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ops = ops;
	t->ctx = ctx;
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	return t;
}

static void free_requests(struct tr_request *r)
{
	while (r) {
		struct tr_request *n = r->next;

		free(r);
		r = n;
	}
}

static void free_conn_list(struct tr_conn *c)
{
	while (c) {
		struct tr_conn *n = c->hnext;

		http1_free(&c->req);
		http1_free(&c->resp);
		h2_free(c->h2);
		free_requests(c->queue);
		free(c);
		c = n;
	}
}

void tracker_free(struct tracker *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nbuckets; i++)
		free_conn_list(t->buckets[i]);
	free_conn_list(t->free_conns);
	free_requests(t->free_reqs);
	free(t->buckets);
	free(t);
}

static size_t bucket_of(const struct tracker *t, uint64_t sk)
{
	/* socket addresses are cache-line aligned: mix the high bits in */
	return (size_t)((sk >> 6) ^ (sk >> 20)) & (t->nbuckets - 1);
}

static struct tr_conn *conn_find(struct tracker *t, uint64_t sk)
{
	struct tr_conn *c = t->buckets[bucket_of(t, sk)];

	while (c && c->sk != sk)
		c = c->hnext;
	return c;
}

static void grow(struct tracker *t)
{
	size_t n = t->nbuckets * 2, i;
	struct tr_conn **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (i = 0; i < t->nbuckets; i++) {
		struct tr_conn *c = t->buckets[i];

		while (c) {
			struct tr_conn *next = c->hnext;
			size_t k = (size_t)((c->sk >> 6) ^ (c->sk >> 20)) & (n - 1);

			c->hnext = b[k];
			b[k] = c;
			c = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

static struct tr_conn *conn_new(struct tracker *t, const struct cs_event *e)
{
	struct tr_conn *c = t->free_conns;
	size_t k;

	if (c)
		t->free_conns = c->hnext;
	else if (!(c = malloc(sizeof(*c))))
		return NULL;
	memset(c, 0, sizeof(*c));
	strcpy(c->client_str, "?:0"); /* until its addresses are known */
	strcpy(c->local_str, "?:0");
	c->sk = e->sk;
	c->gen = e->gen;
	c->tgid = e->tgid;
	c->start_ns = e->ts_ns;
	c->t = t;
	http1_init(&c->req, false);
	http1_init(&c->resp, true);
	if (t->nconns >= t->nbuckets)
		grow(t);
	k = bucket_of(t, c->sk);
	c->hnext = t->buckets[k];
	t->buckets[k] = c;
	t->nconns++;
	t->totals.conns++;
	t->totals.open++;
	return c;
}

static void conn_remove(struct tracker *t, struct tr_conn *c)
{
	struct tr_conn **pp = &t->buckets[bucket_of(t, c->sk)];
	struct tr_request *r;

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	http1_free(&c->req);
	http1_free(&c->resp);
	h2_free(c->h2);
	c->h2 = NULL;
	while ((r = c->queue)) {
		c->queue = r->next;
		r->next = t->free_reqs;
		t->free_reqs = r;
	}
	c->hnext = t->free_conns;
	t->free_conns = c;
	t->nconns--;
	t->totals.open--;
}

static void set_state(struct tr_conn *c, enum cs_state next)
{
	enum cs_state prev = c->state;

	if (prev == next)
		return;
	c->state = next;
	/* after lost events only the certain end is told */
	if (c->uncertain && next != CS_ST_CLOSED)
		return;
	if (c->t->ops->on_state)
		c->t->ops->on_state(c->t->ctx, c, prev, c->now);
}

static void warn(struct tr_conn *c, const char *msg)
{
	if (c->t->ops->on_warning)
		c->t->ops->on_warning(c->t->ctx, c, msg, c->now);
}

static bool waiting(const struct tr_conn *c)
{
	return c->state == CS_ST_NEW || c->state == CS_ST_IDLE || c->state == CS_ST_UNKNOWN;
}

static struct tr_request *req_tail(struct tr_conn *c)
{
	struct tr_request *r = c->queue;

	while (r && r->next)
		r = r->next;
	return r;
}

static struct tr_request *req_push(struct tr_conn *c)
{
	struct tracker *t = c->t;
	struct tr_request *r = t->free_reqs, *tail = req_tail(c);

	if (r)
		t->free_reqs = r->next;
	else if (!(r = malloc(sizeof(*r))))
		return NULL;
	memset(r, 0, sizeof(*r));
	r->start_ns = c->now;
	if (tail)
		tail->next = r;
	else
		c->queue = r;
	return r;
}

static void req_pop(struct tr_conn *c)
{
	struct tr_request *r = c->queue;

	if (!r)
		return;
	c->queue = r->next;
	r->next = c->t->free_reqs;
	c->t->free_reqs = r;
}

static void report_request(struct tr_conn *c, struct tr_request *r, bool complete)
{
	r->end_ns = c->now;
	c->requests++;
	c->t->totals.requests++;
	if (c->t->ops->on_request)
		c->t->ops->on_request(c->t->ctx, c, r, complete);
}

/* The request at the head of the queue begins to be served. */
static void maybe_activate(struct tr_conn *c)
{
	if (waiting(c) && c->queue && c->queue->head_done && !c->no_more)
		set_state(c, CS_ST_ACTIVE);
}

/* Go's error path: bytes of an unfinished request make it active. */
static void activate_partial(struct tr_conn *c)
{
	struct tr_request *r;

	if (!waiting(c) || c->no_more || !http1_pending_head(&c->req))
		return;
	r = req_push(c);
	if (r) {
		strcpy(r->method, "-");
		strcpy(r->target, "-");
		r->bytes_in = http1_pending_head(&c->req);
		r->head_done = true;
	}
	c->req.phase = HTTP1_P_LOST; /* nothing more can be framed */
	set_state(c, CS_ST_ACTIVE);
}

/* --- request direction --- */

static enum http1_body req_on_head(void *ctx, const struct http1_head *h)
{
	struct tr_conn *c = ctx;
	struct tr_request *r = req_push(c);

	if (!r)
		return http1_request_body(h);
	r->valid = h->valid;
	strcpy(r->method, h->valid ? h->method : "-");
	strcpy(r->target, h->valid ? h->target : "-");
	r->target_truncated = h->valid && h->target_truncated;
	r->major = h->major;
	r->minor = h->minor;
	r->req_close = h->conn_close ||
		       ((h->major < 1 || (h->major == 1 && h->minor == 0)) && !h->conn_keep_alive);
	r->head_done = true;
	maybe_activate(c);
	/* a malformed request is answered and closed; no body to frame */
	return h->valid ? http1_request_body(h) : HTTP1_BODY_TUNNEL;
}

static void req_on_done(void *ctx, uint64_t bytes)
{
	struct tr_request *r = req_tail(ctx);

	if (r)
		r->bytes_in += bytes;
}

static void mark_uncertain(struct tr_conn *c)
{
	if (!c->uncertain)
		c->t->totals.uncertain++;
	c->uncertain = true;
}

static void on_lost_sync(void *ctx)
{
	warn(ctx, "stream cannot be framed (a header block was not copied); states withheld");
	mark_uncertain(ctx);
}

static const struct http1_cb req_cb = {
	.on_head = req_on_head,
	.on_done = req_on_done,
	.on_lost_sync = on_lost_sync,
};

/* --- response direction --- */

static enum http1_body resp_on_head(void *ctx, const struct http1_head *h)
{
	struct tr_conn *c = ctx;
	struct tr_request *r = c->queue;
	struct http1_head req = { 0 };
	enum http1_body body;

	if (!r)
		return http1_response_body(h, NULL);
	body = http1_response_body(h, r->method);
	if (h->status / 100 == 1 && body != HTTP1_BODY_TUNNEL)
		return HTTP1_BODY_NONE; /* 100 Continue and friends: interim */
	r->resp_started = true;
	r->status = h->valid ? h->status : 0;
	req.major = r->major;
	req.minor = r->minor;
	req.conn_close = r->req_close;
	req.conn_keep_alive = !r->req_close;
	r->keep_alive = r->valid && h->valid && body != HTTP1_BODY_TO_EOF &&
			http1_keep_alive(&req, h);
	if (!r->keep_alive)
		c->no_more = true;
	if (body == HTTP1_BODY_TUNNEL) {
		report_request(c, r, true);
		set_state(c, CS_ST_HIJACKED);
	}
	return body;
}

static void resp_on_done(void *ctx, uint64_t bytes)
{
	struct tr_conn *c = ctx;
	struct tr_request *r = c->queue;
	bool keep;

	if (!r || !r->resp_started)
		return; /* an interim response */
	r->bytes_out += bytes;
	keep = r->keep_alive;
	report_request(c, r, true);
	req_pop(c);
	if (c->state == CS_ST_ACTIVE && keep && !c->write_failed) {
		set_state(c, CS_ST_IDLE);
		maybe_activate(c);
	}
}

static const struct http1_cb resp_cb = {
	.on_head = resp_on_head,
	.on_done = resp_on_done,
	.on_lost_sync = on_lost_sync,
};

/* Feed a payload: head bytes, a counted hole, then tail bytes. */
static void feed_payload(struct tr_conn *c, struct http1_parser *p, const struct http1_cb *cb,
			 const struct cs_event *e, const uint8_t *data)
{
	uint64_t len = (uint64_t)e->ret, head = e->head_len, tail = e->tail_len;

	if (head > len)
		head = len;
	if (tail > len - head)
		tail = len - head;
	http1_feed(p, data, head, cb, c);
	if (len - head - tail)
		http1_skip(p, len - head - tail, cb, c);
	if (tail)
		http1_feed(p, data + e->head_len, tail, cb, c);
}

static bool looks_like_request_start(const uint8_t *d, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < HTTP1_METHOD_MAX; i++) {
		if (d[i] == ' ')
			return i > 0;
		if (d[i] < 'A' || d[i] > 'Z')
			return false;
	}
	return false;
}

/* A protocol whose bytes say nothing about HTTP requests (until the TLS
 * issue gives us its plaintext). */
static const char *opaque_protocol(const uint8_t *d, size_t n)
{
	if (n >= 3 && d[0] == 0x16 && d[1] == 0x03 && d[2] <= 0x04)
		return "TLS";
	return NULL;
}

/* --- HTTP/2: the framing module's facts, in Go's words --- */

/* Go's HTTP/2 server calls its hook on every change it makes, a repeat
 * included (an upgraded connection prints active twice). */
static void h2_state(struct tr_conn *c, enum cs_state next)
{
	enum cs_state prev = c->state;

	c->state = next;
	if (c->uncertain)
		return;
	if (c->t->ops->on_state)
		c->t->ops->on_state(c->t->ctx, c, prev, c->now);
}

static struct tr_request *stream_find(struct tr_conn *c, uint32_t id)
{
	struct tr_request *r;

	for (r = c->queue; r && r->stream != id; r = r->next)
		;
	return r;
}

static void stream_unlink(struct tr_conn *c, struct tr_request *r)
{
	struct tr_request **pp = &c->queue;

	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	r->next = c->t->free_reqs;
	c->t->free_reqs = r;
}

static void h2_on_preface(void *ctx)
{
	h2_state(ctx, CS_ST_ACTIVE); /* Go: "we can't go directly to idle" */
	h2_state(ctx, CS_ST_IDLE);
}

static void h2_on_stream_open(void *ctx, const struct h2_stream_info *s, unsigned open)
{
	struct tr_conn *c = ctx;
	struct tr_request *r = req_push(c);

	if (r) {
		r->stream = s->id;
		r->valid = s->path[0] != '\0';
		strcpy(r->method, s->method[0] ? s->method : "-");
		snprintf(r->target, sizeof(r->target), "%s", s->path);
		r->target_truncated = strlen(s->path) >= sizeof(s->path) - 1;
		r->major = 2;
		r->head_done = true;
	}
	if (open == 1)
		h2_state(c, CS_ST_ACTIVE);
}

static void h2_on_stream_close(void *ctx, const struct h2_stream_info *s, enum h2_close_why why,
			       unsigned open)
{
	struct tr_conn *c = ctx;
	struct tr_request *r = stream_find(c, s->id);

	if (r) {
		r->status = s->status;
		r->resp_started = s->status != 0;
		r->bytes_in = s->bytes_in;
		r->bytes_out = s->bytes_out;
		report_request(c, r, why == H2_CLOSE_ENDED);
		stream_unlink(c, r);
	}
	if (!open)
		h2_state(c, CS_ST_IDLE);
}

static void h2_on_error(void *ctx, enum h2_dir dir, const char *reason)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "HTTP/2 protocol error by the %s: %s",
		 dir == H2_CLIENT ? "client" : "server", reason);
	warn(ctx, msg);
}

static void h2_on_hpack_broken(void *ctx, enum h2_dir dir, const char *reason)
{
	char msg[160];

	snprintf(msg, sizeof(msg),
		 "HTTP/2 %s headers cannot be decoded any more (%s); they print as -",
		 dir == H2_CLIENT ? "request" : "response", reason);
	warn(ctx, msg);
}

static void h2_on_lost_sync(void *ctx, enum h2_dir dir)
{
	struct tr_conn *c = ctx;

	(void)dir;
	if (!c->h2_lost_told)
		warn(c, "HTTP/2 frames cannot be followed (a frame header was not copied); "
			"states withheld");
	c->h2_lost_told = true;
	mark_uncertain(c);
}

static const struct h2_cb h2_cbs = {
	.on_preface = h2_on_preface,
	.on_stream_open = h2_on_stream_open,
	.on_stream_close = h2_on_stream_close,
	.on_error = h2_on_error,
	.on_hpack_broken = h2_on_hpack_broken,
	.on_lost_sync = h2_on_lost_sync,
};

/* HTTP/2 from here on. Each direction is framed from h2_base, its offset
 * 0 of the module: by default the bytes after those seen so far (a server
 * that wrote SETTINGS before the preface was read starts at its next
 * write, a frame boundary); the callers move it where HTTP/2 began. */
static bool h2_start(struct tr_conn *c)
{
	c->h2 = h2_new(&h2_cbs, c);
	if (!c->h2) {
		c->opaque = true;
		warn(c, "out of memory for HTTP/2 framing; only its end will be told");
		return false;
	}
	c->h2_base[H2_CLIENT] = c->io_off[H2_CLIENT];
	c->h2_base[H2_SERVER] = c->io_off[H2_SERVER];
	return true;
}

/* Bytes [i, i + n) of a syscall whose byte 0 is at module offset pos0 (it
 * may be negative: HTTP/2 began inside it); p NULL for uncopied bytes.
 * What the module already has (a frame header the kernel reported) and
 * what came before HTTP/2 are left out. */
static void h2_give(struct tr_conn *c, enum h2_dir dir, int64_t pos0, uint64_t i, const uint8_t *p,
		    uint64_t n)
{
	int64_t at = pos0 + (int64_t)i, have = (int64_t)h2_offset(c->h2, dir);
	uint64_t cut;

	if (at + (int64_t)n <= have)
		return;
	if (at < have) {
		cut = (uint64_t)(have - at);
		if (p)
			p += cut;
		n -= cut;
		at = have;
	}
	if (at > have) /* cannot happen: offsets only grow with the bytes given */
		h2_skip(c->h2, dir, (uint64_t)(at - have));
	if (p)
		h2_feed(c->h2, dir, p, n);
	else
		h2_skip(c->h2, dir, n);
}

/* One read or write of an HTTP/2 connection: the copied head, the hole
 * with the frame headers the kernel walked in it, then the copied tail. */
static void h2_payload(struct tr_conn *c, enum h2_dir dir, const struct cs_event *e,
		       const uint8_t *data, int64_t pos0)
{
	uint64_t len = (uint64_t)e->ret, head = e->head_len, tail = e->tail_len, hole;
	const uint8_t *rec = data + e->head_len + e->tail_len;
	unsigned k;

	if (e->flags & CS_F_SENDFILE)
		head = tail = 0;
	/* the kernel will not report frame headers any more: later holes
	 * would lose the stream, so unsure from here on */
	if (e->flags & CS_F_WALK_CUT)
		h2_on_lost_sync(c, dir);
	if (head > len)
		head = len;
	if (tail > len - head)
		tail = len - head;
	hole = len - head - tail;
	h2_give(c, dir, pos0, 0, data, head);
	for (k = 0; hole && k < e->nframes; k++) {
		struct cs_frame f;
		struct h2_frame_hdr fh;

		memcpy(&f, rec + k * sizeof(f), sizeof(f));
		/* only what the copied bytes do not hold whole */
		if (f.off + H2_FRAME_HEADER_LEN <= head || f.off >= head + hole ||
		    pos0 + (int64_t)f.off < (int64_t)h2_offset(c->h2, dir) - H2_FRAME_HEADER_LEN)
			continue;
		fh.length = (uint32_t)f.hdr[0] << 16 | (uint32_t)f.hdr[1] << 8 | f.hdr[2];
		fh.type = f.hdr[3];
		fh.flags = f.hdr[4];
		fh.stream_id = ((uint32_t)f.hdr[5] << 24 | (uint32_t)f.hdr[6] << 16 |
				(uint32_t)f.hdr[7] << 8 | f.hdr[8]) & 0x7fffffff;
		if (pos0 + (int64_t)f.off >= 0)
			h2_frame_at(c->h2, dir, (uint64_t)(pos0 + (int64_t)f.off), &fh);
	}
	/* a frame header left in the hole loses sync there (and says so) */
	if (hole)
		h2_give(c, dir, pos0, head, NULL, hole);
	if (tail)
		h2_give(c, dir, pos0, head + hole, data + e->head_len, tail);
}

static int64_t h2_pos0(const struct tr_conn *c, enum h2_dir dir, uint64_t at)
{
	return (int64_t)at - (int64_t)c->h2_base[dir];
}

/* Gives the held first client bytes to HTTP/1 after all. */
static void flush_pre(struct tr_conn *c)
{
	uint8_t n = c->pre_len;

	if (!n)
		return;
	c->pre_len = 0;
	http1_feed(&c->req, c->pre, n, &req_cb, c);
}

/*
 * The first client bytes choose the framing module: the preface picks
 * HTTP/2; a shorter start of it is held until more come. Returns whether
 * the event was taken (held, or fed to HTTP/2); at is io_off before it.
 */
static bool pick_h2(struct tr_conn *c, const struct cs_event *e, const uint8_t *data, uint64_t at)
{
	uint8_t buf[H2_PREFACE_LEN];
	size_t n = c->pre_len, take;

	if (at != n || c->queue || c->requests)
		return false;
	take = H2_PREFACE_LEN - n < e->head_len ? H2_PREFACE_LEN - n : e->head_len;
	memcpy(buf, c->pre, n);
	memcpy(buf + n, data, take);
	if (!take || !h2_is_preface(buf, n + take) ||
	    (n + take < H2_PREFACE_LEN && take < (uint64_t)e->ret)) {
		flush_pre(c);
		return false;
	}
	if (n + take < H2_PREFACE_LEN) {
		memcpy(c->pre + n, data, take);
		c->pre_len = (uint8_t)(n + take);
		return true;
	}
	c->pre_len = 0;
	if (!h2_start(c))
		return true;
	c->h2_base[H2_CLIENT] = 0; /* the held bytes and this read */
	h2_feed(c->h2, H2_CLIENT, c->pre, n);
	h2_payload(c, H2_CLIENT, e, data, h2_pos0(c, H2_CLIENT, at));
	return true;
}

static size_t lower_eq(const uint8_t *d, size_t n, const char *s)
{
	size_t k = strlen(s), i;

	if (n < k)
		return 0;
	for (i = 0; i < k; i++)
		if ((d[i] | 0x20) != s[i] && d[i] != s[i])
			return 0;
	return k;
}

/* Where the head of a "101" that switches to h2c ends in a write's copied
 * bytes, or 0. */
static size_t h2c_switch_end(const uint8_t *d, size_t n)
{
	size_t i, start = n, end = 0, line;
	bool h2c = false;

	for (i = 0; i + 13 <= n; i++)
		if ((i == 0 || d[i - 1] == '\n') && !memcmp(d + i, "HTTP/1.", 7) &&
		    !memcmp(d + i + 8, " 101", 4)) {
			start = i;
			break;
		}
	for (i = start; i + 4 <= n; i++)
		if (!memcmp(d + i, "\r\n\r\n", 4)) {
			end = i + 4;
			break;
		}
	for (line = start; end && line < end; line++) {
		size_t k, j;

		if (line != start && d[line - 1] != '\n')
			continue;
		if (!(k = lower_eq(d + line, end - line, "upgrade:")))
			continue;
		for (j = line + k; j < end && d[j] != '\r'; j++)
			if (lower_eq(d + j, end - j, "h2c") &&
			    (j + 3 == end || d[j + 3] == '\r' || d[j + 3] == ' ' || d[j + 3] == ','))
				h2c = true;
	}
	return h2c ? end : 0;
}

/* A 101 to "Upgrade: h2c" was written (hijacked is told): the request
 * that asked for it is stream 1, and HTTP/2 follows in both directions. */
static void h2c_upgrade(struct tr_conn *c, const struct cs_event *e, const uint8_t *data,
			uint64_t at, size_t end)
{
	char method[HTTP1_METHOD_MAX] = "", path[HTTP1_TARGET_MAX] = "";

	if (c->queue) {
		strcpy(method, c->queue->method);
		strcpy(path, c->queue->target);
	}
	while (c->queue)
		req_pop(c);
	if (!h2_start(c))
		return;
	c->h2_base[H2_SERVER] = at + end;
	c->h2_upgraded = true;
	h2_upgrade(c->h2, method, path, "");
	h2_payload(c, H2_SERVER, e, data, h2_pos0(c, H2_SERVER, at));
}

/*
 * After a payload of direction dir (H2_CLIENT: read) was fed to p: a body
 * framed by Content-Length with at least TR_SKIP_MIN_BODY bytes to come
 * ends at io_off + remaining, and the kernel may count its bytes without
 * copying them (cleartext, or TLS plaintext: the kernel counts what
 * io_off counts, and more, never less). Not after a lost event, nor for
 * HTTP/2, framed elsewhere.
 */
static void maybe_skip(struct tr_conn *c, const struct http1_parser *p, int dir)
{
	uint64_t until;

	if (!c->t->ops->on_skip || !c->gen || c->uncertain || c->lost || c->h2 ||
	    p->phase != HTTP1_P_BODY_LENGTH || p->remaining < TR_SKIP_MIN_BODY)
		return;
	until = c->io_off[dir] + p->remaining;
	if (until <= c->skip_until[dir])
		return;
	c->skip_until[dir] = until;
	c->t->ops->on_skip(c->t->ctx, c);
}

static void on_read(struct tr_conn *c, const struct cs_event *e, const uint8_t *data)
{
	const char *proto;
	uint64_t at = c->io_off[H2_CLIENT];

	if (e->ret == 0) {
		if (c->closer == CS_CLOSER_UNKNOWN)
			c->closer = CS_CLOSER_CLIENT;
		return;
	}
	if (e->ret < 0) {
		if (e->ret == -ECONNRESET && c->closer == CS_CLOSER_UNKNOWN)
			c->closer = CS_CLOSER_RESET;
		return;
	}
	c->io_off[H2_CLIENT] += (uint64_t)e->ret;
	if (c->h2) {
		h2_payload(c, H2_CLIENT, e, data, h2_pos0(c, H2_CLIENT, at));
		return;
	}
	if (c->state == CS_ST_HIJACKED || c->opaque)
		return;
	if (pick_h2(c, e, data, at))
		return;
	/* decided by the server's answer: an HTTP/1 server answers 400 */
	if (!c->requests && !c->queue && !http1_pending_head(&c->req) &&
	    (proto = opaque_protocol(data, e->head_len)))
		c->maybe_opaque = proto;
	/* joined mid-stream: wait for a read that starts a request */
	if (c->state == CS_ST_UNKNOWN && !c->queue && !http1_pending_head(&c->req) &&
	    c->req.phase == HTTP1_P_HEAD && !looks_like_request_start(data, e->head_len))
		return;
	feed_payload(c, &c->req, &req_cb, e, data);
	maybe_skip(c, &c->req, H2_CLIENT);
}

static void on_write(struct tr_conn *c, const struct cs_event *e, const uint8_t *data)
{
	uint64_t at = c->io_off[H2_SERVER];
	size_t end;

	if (e->ret < 0) {
		c->write_failed = true;
		if ((e->ret == -EPIPE || e->ret == -ECONNRESET) &&
		    c->closer == CS_CLOSER_UNKNOWN)
			c->closer = CS_CLOSER_RESET;
		return;
	}
	c->io_off[H2_SERVER] += (uint64_t)e->ret;
	if (c->h2) {
		h2_payload(c, H2_SERVER, e, data, h2_pos0(c, H2_SERVER, at));
		return;
	}
	if (c->state == CS_ST_HIJACKED || c->opaque)
		return;
	if (c->maybe_opaque) {
		if (e->head_len < 5 || memcmp(data, "HTTP/", 5)) {
			char msg[96];

			snprintf(msg, sizeof(msg),
				 "%s cannot be followed; only its end will be told",
				 c->maybe_opaque);
			c->opaque = true;
			warn(c, msg);
			return;
		}
		c->maybe_opaque = NULL;
	}
	if (!c->queue)
		activate_partial(c);
	if (!c->queue)
		return; /* nothing asked for this: a greeting, or joined mid-response */
	if (e->flags & CS_F_SENDFILE)
		http1_skip(&c->resp, e->ret, &resp_cb, c);
	else
		feed_payload(c, &c->resp, &resp_cb, e, data);
	http1_write_end(&c->resp, &resp_cb, c);
	maybe_skip(c, &c->resp, H2_SERVER);
	if (c->state == CS_ST_HIJACKED && !(e->flags & CS_F_SENDFILE) &&
	    (end = h2c_switch_end(data, e->head_len)))
		h2c_upgrade(c, e, data, at, end);
}

static void on_tcp_state(struct tr_conn *c, const struct cs_event *e)
{
	if (c->closer != CS_CLOSER_UNKNOWN || e->tcp_old != TCP_ESTABLISHED)
		return;
	if (e->tcp_new == TCP_CLOSE_WAIT)
		c->closer = CS_CLOSER_CLIENT;
	else if (e->tcp_new == TCP_FIN_WAIT1)
		c->closer = CS_CLOSER_SERVER;
	else if (e->tcp_new == TCP_CLOSE)
		c->closer = CS_CLOSER_RESET;
}

static void on_close(struct tracker *t, struct tr_conn *c)
{
	struct tr_request *r;

	if (c->h2) {
		/* Go closes the open streams first: idle before closed */
		h2_eof(c->h2);
		if (c->closer == CS_CLOSER_UNKNOWN && !c->end_unseen)
			c->closer = CS_CLOSER_SERVER;
		/* h2c hijacked the connection: Go tells no closed */
		if (!c->h2_upgraded)
			set_state(c, CS_ST_CLOSED);
		conn_remove(t, c);
		return;
	}
	if (c->state == CS_ST_HIJACKED) {
		conn_remove(t, c); /* Go: hijacked is terminal, no closed */
		return;
	}
	flush_pre(c);
	if (!c->opaque)
		activate_partial(c);
	http1_eof(&c->resp, &resp_cb, c);
	/* a request whose response never ended; not one pipelined behind a
	 * response that said close: the server never took that one up */
	r = c->queue;
	if (r && !c->opaque && c->state == CS_ST_ACTIVE &&
	    (r->resp_started || (r->valid && !c->no_more))) {
		/* a response cut off: what was written of it so far */
		if (r->resp_started && !r->bytes_out)
			r->bytes_out = c->resp.msg_bytes;
		report_request(c, r, false);
	}
	/* an end we did not see says nothing about who ended it */
	if (c->closer == CS_CLOSER_UNKNOWN && !c->end_unseen)
		c->closer = CS_CLOSER_SERVER;
	set_state(c, CS_ST_CLOSED);
	conn_remove(t, c);
}

static void note_lost(struct tr_conn *c, uint32_t lost)
{
	char msg[160];

	if (lost <= c->lost)
		return;
	c->t->totals.lost += lost - c->lost;
	snprintf(msg, sizeof(msg),
		 "%u events lost (ring buffer or syscall table full, or a socket call through a syscall connstate cannot read); states withheld",
		 lost - c->lost);
	c->lost = lost;
	mark_uncertain(c);
	warn(c, msg);
}

static const char end_lost_msg[] = "its end was not seen (events lost); ended unseen";
static const char sock_gone_msg[] = "its socket is gone but its end was not seen; ended unseen";

/* Its end was not seen: told closed once, uncertain, never again. */
static void end_unseen(struct tracker *t, struct tr_conn *c, uint64_t ts, const char *why)
{
	if (ts > c->now)
		c->now = ts;
	c->end_unseen = true;
	t->totals.ended_unseen++;
	mark_uncertain(c);
	warn(c, why);
	on_close(t, c);
}

static struct tr_conn *conn_unannounced(struct tracker *t, const struct cs_event *e);

bool tracker_end_unseen(struct tracker *t, uint64_t sk, const struct cs_end *end)
{
	struct tr_conn *c = conn_find(t, sk);
	struct cs_event e = { .ts_ns = end->ts_ns, .sk = sk, .gen = end->gen,
			      .tgid = end->tgid, .local = end->local, .remote = end->remote };

	if (!c || (end->gen && c->gen && c->gen != end->gen)) {
		if (!end->unannounced)
			return false;
		/* every event of it was lost; only its end is known */
		e.flags = CS_F_ADDRS | (end->unannounced == CS_EV_ADOPT ? CS_F_ADOPTED : 0);
		if (!(c = conn_unannounced(t, &e)))
			return false;
	}
	end_unseen(t, c, end->ts_ns, end_lost_msg);
	return true;
}

size_t tracker_reconcile(struct tracker *t, bool (*alive)(void *ctx, uint64_t sk, uint64_t gen),
			 void *ctx, uint64_t ts)
{
	struct tr_conn *c, **gone;
	size_t i, n = 0;

	if (!t->nconns || !(gone = calloc(t->nconns, sizeof(*gone))))
		return 0;
	/* collected first: ending one unlinks it from the chain walked */
	for (i = 0; i < t->nbuckets; i++)
		for (c = t->buckets[i]; c; c = c->hnext)
			if (n < t->nconns && !alive(ctx, c->sk, c->gen))
				gone[n++] = c;
	for (i = 0; i < n; i++)
		end_unseen(t, gone[i], ts, sock_gone_msg);
	free(gone);
	return n;
}

/* The connection a first event (its ACCEPT or ADOPT lost) belongs to,
 * created under the addresses the kernel attached; none without them:
 * a line under an address never seen would be wrong, not unsure. */
static struct tr_conn *conn_unannounced(struct tracker *t, const struct cs_event *e)
{
	struct tr_conn *c;

	if (!(e->flags & CS_F_ADDRS)) {
		t->totals.dropped++;
		return NULL;
	}
	c = conn_new(t, e);
	if (!c)
		return NULL;
	c->local = e->local;
	c->remote = e->remote;
	addr_format(&c->remote, c->client_str, sizeof(c->client_str));
	addr_format(&c->local, c->local_str, sizeof(c->local_str));
	c->adopted = e->flags & CS_F_ADOPTED;
	c->now = e->ts_ns;
	mark_uncertain(c);
	warn(c, e->flags & CS_F_ADOPTED ? "first seen after events were lost; states withheld" :
					  "its accept was lost; states withheld");
	return c;
}

void tracker_event(struct tracker *t, const struct cs_event *e, const uint8_t *data)
{
	struct tr_conn *c;

	if (e->type == CS_EV_PROC_FORK || e->type == CS_EV_PROC_EXIT)
		return;
	if (e->flags & CS_F_ACCEPTED && e->type != CS_EV_ACCEPT && e->type != CS_EV_ADOPT) {
		/* the connection's ACCEPT came with this event: it first,
		 * with nothing lost (a connection is claimed with nothing
		 * lost; what its claiming call lost counts from this event) */
		struct cs_event acc = { .ts_ns = e->gen, .sk = e->sk, .tgid = e->tgid,
					.tid = e->tid, .type = CS_EV_ACCEPT,
					.tcp_old = e->acc_old,
					.tcp_new = e->acc_new, .gen = e->gen, .local = e->local,
					.remote = e->remote };

		tracker_event(t, &acc, NULL);
	}
	c = conn_find(t, e->sk);
	/* another generation on the same socket address: the old one's end
	 * was lost and the memory reused */
	if (c && e->gen && c->gen && c->gen != e->gen) {
		end_unseen(t, c, e->ts_ns, end_lost_msg);
		c = NULL;
	}
	if (e->type == CS_EV_ACCEPT || e->type == CS_EV_ADOPT) {
		/* two threads' first calls both claimed it (sock tracepoints) */
		if (c && e->gen && c->gen == e->gen)
			return;
		if (c) /* the same, when the kernel did not say the generation */
			end_unseen(t, c, e->ts_ns, end_lost_msg);
		c = conn_new(t, e);
		if (!c)
			return;
		c->local = e->local;
		c->remote = e->remote;
		addr_format(&c->remote, c->client_str, sizeof(c->client_str));
		addr_format(&c->local, c->local_str, sizeof(c->local_str));
		c->now = e->ts_ns;
		note_lost(c, e->lost);
		if (e->type == CS_EV_ACCEPT)
			set_state(c, CS_ST_NEW);
		else
			c->adopted = true;
		/* the change it had before its accept (or, under the sock
		 * tracepoints, its first call), if any: a FIN, a reset */
		on_tcp_state(c, e);
		return;
	}
	if (!c && !(c = conn_unannounced(t, e)))
		return;
	c->now = e->ts_ns;
	note_lost(c, e->lost);
	/* TLS: the socket's payloads are ciphertext, its ends and errors
	 * still count; the plaintext comes as TLS_READ/TLS_WRITE */
	if (e->flags & CS_F_TLS || e->type == CS_EV_TLS_READ || e->type == CS_EV_TLS_WRITE)
		c->tls = true;
	if (c->tls && e->ret > 0 && (e->type == CS_EV_READ || e->type == CS_EV_WRITE))
		return;
	switch (e->type) {
	case CS_EV_READ:
	case CS_EV_TLS_READ:
		on_read(c, e, data);
		break;
	case CS_EV_WRITE:
	case CS_EV_TLS_WRITE:
		on_write(c, e, data);
		break;
	case CS_EV_SHUTDOWN:
		if (c->closer == CS_CLOSER_UNKNOWN && e->ret != 0 /* SHUT_RD */)
			c->closer = CS_CLOSER_SERVER;
		break;
	case CS_EV_TCP_STATE:
		on_tcp_state(c, e);
		break;
	case CS_EV_CLOSE:
	case CS_EV_DESTROY:
		/* a close found at its state change says the change too */
		on_tcp_state(c, e);
		on_close(t, c);
		break;
	}
}

void tracker_totals(const struct tracker *t, struct tracker_totals *out)
{
	*out = t->totals;
}

void tracker_each_open(const struct tracker *t, void (*fn)(void *ctx, const struct tr_conn *c),
		       void *ctx)
{
	size_t i;
	const struct tr_conn *c;

	for (i = 0; i < t->nbuckets; i++)
		for (c = t->buckets[i]; c; c = c->hnext)
			fn(ctx, c);
}
