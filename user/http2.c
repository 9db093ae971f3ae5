// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/2 framing of one connection: frame headers in both directions, open
 * streams counted as Go's server counts them, request and response heads
 * decoded with libnghttp2's HPACK inflater. See http2.h for the rules.
 */
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "http2.h"

#define H2_DEFAULT_MAX_FRAME 16384
#define H2_LARGEST_FRAME 16777215
#define H2_DEFAULT_TABLE 4096
#define H2_CTL_KEEP 8 /* payload bytes kept of every frame: GOAWAY needs 8 */

enum phase {
	P_PREFACE, /* client only: the 24-byte preface */
	P_HDR,	   /* a frame header, hdr_len bytes of it so far */
	P_PAYLOAD,
	P_LOST, /* a frame header fell into a hole */
	P_DEAD, /* a protocol error: this direction is not framed any more */
};

struct h2_side {
	enum phase phase;
	uint64_t pos;
	uint8_t hdr[H2_FRAME_HEADER_LEN];
	uint8_t hdr_len;
	struct h2_frame_hdr fh;
	uint32_t done;	      /* payload bytes of the current frame so far */
	bool hole;	      /* some of them were not copied */
	uint8_t ctl[H2_CTL_KEEP]; /* the first payload bytes */
	uint8_t ctl_len;      /* how many of them were copied */
	uint8_t set[6];	      /* a SETTINGS entry in progress */
	uint8_t set_len;
	bool set_skip;	      /* SETTINGS payload hit a hole: ignore the rest */
	/* the header block in progress (HEADERS/PUSH_PROMISE + CONTINUATION) */
	bool in_block;
	uint8_t block_type;
	uint32_t block_sid;
	bool block_end_stream;
	bool block_bad;	      /* a hole or too long: cannot be decoded */
	uint32_t block_frames_bytes; /* frame payload bytes of the block */
	uint32_t promised;    /* PUSH_PROMISE: the promised stream id */
	uint8_t *block;
	size_t block_len;     /* raw frame payloads of the current frame */
	size_t frag_len;      /* fragment bytes of earlier frames */
	uint32_t max_frame;   /* what the receiving peer advertised */
	nghttp2_hd_inflater *inf;
	bool table_capped;    /* the peer allowed more than H2_TABLE_MAX */
	bool hpack_broken;
	bool saw_first_frame;
};

struct h2_stream {
	struct h2_stream_info info;
};

struct h2_conn {
	const struct h2_cb *cb;
	void *ctx;
	struct h2_side side[2];
	struct h2_stream *streams;
	unsigned nstreams, cap;
	uint32_t max_client_id;
	uint32_t max_streams;	/* the server's SETTINGS_MAX_CONCURRENT_STREAMS */
	bool server_goaway;
	bool error_reported;
	bool hpack_reported;
	bool ended;
};

bool h2_is_preface(const uint8_t *data, size_t len)
{
	size_t n = len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN;

	return memcmp(data, H2_PREFACE, n) == 0;
}

struct h2_conn *h2_new(const struct h2_cb *cb, void *ctx)
{
	struct h2_conn *c = calloc(1, sizeof(*c));
	int d;

	if (!c)
		return NULL;
	c->cb = cb;
	c->ctx = ctx;
	c->max_streams = H2_STREAMS_MAX;
	for (d = 0; d < 2; d++) {
		c->side[d].phase = d == H2_CLIENT ? P_PREFACE : P_HDR;
		c->side[d].max_frame = H2_DEFAULT_MAX_FRAME;
		if (nghttp2_hd_inflate_new(&c->side[d].inf) != 0) {
			h2_free(c);
			return NULL;
		}
	}
	return c;
}

void h2_free(struct h2_conn *c)
{
	int d;

	if (!c)
		return;
	for (d = 0; d < 2; d++) {
		if (c->side[d].inf)
			nghttp2_hd_inflate_del(c->side[d].inf);
		free(c->side[d].block);
	}
	free(c->streams);
	free(c);
}

uint64_t h2_offset(const struct h2_conn *c, enum h2_dir dir)
{
	return c->side[dir].pos;
}

unsigned h2_open_streams(const struct h2_conn *c)
{
	return c->nstreams;
}

static void proto_error(struct h2_conn *c, enum h2_dir dir, const char *why)
{
	struct h2_side *s = &c->side[dir];

	s->phase = P_DEAD;
	s->in_block = false;
	/* its HPACK state is unknown from here on; no separate warning */
	s->hpack_broken = true;
	if (c->error_reported)
		return;
	c->error_reported = true;
	if (c->cb->on_error)
		c->cb->on_error(c->ctx, dir, why);
}

static void hpack_broken(struct h2_conn *c, enum h2_dir dir, const char *why)
{
	c->side[dir].hpack_broken = true;
	if (c->hpack_reported || c->error_reported)
		return;
	c->hpack_reported = true;
	if (c->cb->on_hpack_broken)
		c->cb->on_hpack_broken(c->ctx, dir, why);
}

static void lost_sync(struct h2_conn *c, enum h2_dir dir)
{
	struct h2_side *s = &c->side[dir];

	s->phase = P_LOST;
	s->hdr_len = 0;
	if (c->cb->on_lost_sync)
		c->cb->on_lost_sync(c->ctx, dir);
	/* a header block may pass unseen: the dynamic table is unknown */
	s->in_block = false;
	hpack_broken(c, dir, "a frame header was not copied");
}

static struct h2_stream *find_stream(struct h2_conn *c, uint32_t id)
{
	unsigned i;

	for (i = 0; i < c->nstreams; i++)
		if (c->streams[i].info.id == id)
			return &c->streams[i];
	return NULL;
}

static struct h2_stream *open_stream(struct h2_conn *c, uint32_t id)
{
	struct h2_stream *st;

	if (c->nstreams == c->cap) {
		unsigned cap = c->cap ? c->cap * 2 : 4;
		struct h2_stream *n;

		if (cap > H2_STREAMS_MAX)
			cap = H2_STREAMS_MAX;
		if (c->nstreams == cap)
			return NULL;
		n = realloc(c->streams, cap * sizeof(*n));
		if (!n)
			return NULL;
		c->streams = n;
		c->cap = cap;
	}
	st = &c->streams[c->nstreams++];
	memset(st, 0, sizeof(*st));
	st->info.id = id;
	return st;
}

static void close_stream(struct h2_conn *c, struct h2_stream *st, enum h2_close_why why)
{
	struct h2_stream_info info = st->info;
	unsigned i = st - c->streams;

	/* order does not matter to Go's count; keep the array dense */
	c->streams[i] = c->streams[--c->nstreams];
	if (c->cb->on_stream_close)
		c->cb->on_stream_close(c->ctx, &info, why, c->nstreams);
}

static void maybe_close(struct h2_conn *c, struct h2_stream *st)
{
	if (st->info.end_in && st->info.end_out)
		close_stream(c, st, H2_CLOSE_ENDED);
}

static void end_stream(struct h2_conn *c, struct h2_stream *st, enum h2_dir dir)
{
	bool *end = dir == H2_CLIENT ? &st->info.end_in : &st->info.end_out;

	if (*end)
		return;
	*end = true;
	if (c->cb->on_end_stream)
		c->cb->on_end_stream(c->ctx, &st->info, dir);
	maybe_close(c, st);
}

static void copy_value(char *dst, size_t cap, const uint8_t *v, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static bool name_is(const nghttp2_nv *nv, const char *name)
{
	size_t n = strlen(name);

	return nv->namelen == n && memcmp(nv->name, name, n) == 0;
}

/* Decodes the block into info (request pseudo-headers) or status. */
static bool inflate_block(struct h2_conn *c, enum h2_dir dir, const uint8_t *in, size_t len,
			  struct h2_stream_info *info, int *status)
{
	nghttp2_hd_inflater *inf = c->side[dir].inf;

	for (;;) {
		nghttp2_nv nv;
		int fl = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, len, 1);

		if (rv < 0)
			return false;
		in += rv;
		len -= rv;
		if (fl & NGHTTP2_HD_INFLATE_EMIT) {
			if (name_is(&nv, ":method"))
				copy_value(info->method, sizeof(info->method), nv.value, nv.valuelen);
			else if (name_is(&nv, ":path"))
				copy_value(info->path, sizeof(info->path), nv.value, nv.valuelen);
			else if (name_is(&nv, ":authority"))
				copy_value(info->authority, sizeof(info->authority), nv.value,
					   nv.valuelen);
			else if (name_is(&nv, ":status") && nv.valuelen == 3) {
				int v = 0, i;

				for (i = 0; i < 3; i++) {
					if (nv.value[i] < '0' || nv.value[i] > '9')
						break;
					v = v * 10 + (nv.value[i] - '0');
				}
				if (i == 3)
					*status = v;
			}
		}
		if (fl & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(inf);
			return true;
		}
		/* nghttp2 always makes progress or finishes with in_final set;
		 * never spin if it does not */
		if (rv == 0 && !(fl & NGHTTP2_HD_INFLATE_EMIT))
			return false;
	}
}

/* The header block ended (END_HEADERS): decode it and apply it. */
static void block_done(struct h2_conn *c, enum h2_dir dir)
{
	struct h2_side *s = &c->side[dir];
	struct h2_stream_info got = { 0 };
	struct h2_stream *st;
	bool decoded = false;
	int status = 0;

	s->in_block = false;
	if (s->block_bad) {
		hpack_broken(c, dir, s->frag_len > H2_BLOCK_MAX ? "a header block is too long"
								 : "a header block was not copied");
	} else if (!s->hpack_broken) {
		static const uint8_t empty[1];
		const uint8_t *in = s->block && s->frag_len ? s->block : empty;

		if (inflate_block(c, dir, in, s->frag_len, &got, &status)) {
			decoded = true;
		} else if (s->table_capped) {
			hpack_broken(c, dir, "the HPACK table outgrew connstate's cap");
		} else {
			proto_error(c, dir, "HPACK rejected a header block");
			return;
		}
	}
	s->frag_len = 0;

	if (dir == H2_CLIENT) {
		uint32_t id = s->block_sid;

		if ((id & 1) == 0) {
			proto_error(c, dir, "HEADERS on an even stream id");
			return;
		}
		st = find_stream(c, id);
		if (st) {
			/* trailers */
			st->info.bytes_in += s->block_frames_bytes;
			if (s->block_end_stream)
				end_stream(c, st, dir);
			return;
		}
		if (id <= c->max_client_id) {
			proto_error(c, dir, "HEADERS on a closed stream");
			return;
		}
		c->max_client_id = id;
		/* Go ignores new streams after its GOAWAY and refuses those
		 * over its limit: neither becomes an open stream */
		if (c->server_goaway || c->nstreams >= c->max_streams)
			return;
		st = open_stream(c, id);
		if (!st)
			return;
		st->info.bytes_in = s->block_frames_bytes;
		memcpy(st->info.method, got.method, sizeof(got.method));
		memcpy(st->info.path, got.path, sizeof(got.path));
		memcpy(st->info.authority, got.authority, sizeof(got.authority));
		if (c->cb->on_stream_open)
			c->cb->on_stream_open(c->ctx, &st->info, c->nstreams);
		if (decoded && c->cb->on_request)
			c->cb->on_request(c->ctx, &st->info);
		if (s->block_end_stream)
			end_stream(c, st, dir);
		return;
	}

	if (s->block_type == H2_PUSH_PROMISE) {
		/* Go opens the promised stream half closed (remote) */
		if (!s->promised || find_stream(c, s->promised))
			return;
		st = open_stream(c, s->promised);
		if (!st)
			return;
		memcpy(st->info.method, got.method, sizeof(got.method));
		memcpy(st->info.path, got.path, sizeof(got.path));
		memcpy(st->info.authority, got.authority, sizeof(got.authority));
		st->info.end_in = true;
		if (c->cb->on_stream_open)
			c->cb->on_stream_open(c->ctx, &st->info, c->nstreams);
		if (decoded && c->cb->on_request)
			c->cb->on_request(c->ctx, &st->info);
		return;
	}
	st = find_stream(c, s->block_sid);
	if (!st)
		return;
	st->info.bytes_out += s->block_frames_bytes;
	if (decoded && status >= 200 && st->info.status == 0) {
		st->info.status = status;
		if (c->cb->on_response)
			c->cb->on_response(c->ctx, &st->info);
	}
	if (s->block_end_stream)
		end_stream(c, st, dir);
}

static void apply_setting(struct h2_conn *c, enum h2_dir dir, const uint8_t *e)
{
	struct h2_side *peer = &c->side[!dir];
	uint16_t id = (uint16_t)(e[0] << 8 | e[1]);
	uint32_t v = (uint32_t)e[2] << 24 | (uint32_t)e[3] << 16 | (uint32_t)e[4] << 8 | e[5];

	switch (id) {
	case 0x1: /* HEADER_TABLE_SIZE: what dir's decoder allows the other's encoder */
		if (v > H2_TABLE_MAX) {
			v = H2_TABLE_MAX;
			peer->table_capped = true;
		}
		/* only grow: a smaller table takes effect when the encoder
		 * says so, and 4096 is bounded anyway */
		if (v > H2_DEFAULT_TABLE)
			nghttp2_hd_inflate_change_table_size(peer->inf, v);
		break;
	case 0x2:
		if (v > 1)
			proto_error(c, dir, "SETTINGS_ENABLE_PUSH is not 0 or 1");
		break;
	case 0x3:
		if (dir == H2_SERVER)
			c->max_streams = v < H2_STREAMS_MAX ? v : H2_STREAMS_MAX;
		break;
	case 0x4:
		if (v > 0x7fffffff)
			proto_error(c, dir, "SETTINGS_INITIAL_WINDOW_SIZE too large");
		break;
	case 0x5: /* MAX_FRAME_SIZE: frames sent to dir */
		if (v < H2_DEFAULT_MAX_FRAME || v > H2_LARGEST_FRAME)
			proto_error(c, dir, "SETTINGS_MAX_FRAME_SIZE out of range");
		else
			peer->max_frame = v;
		break;
	}
}

/* A frame header is complete: check it as Go's Framer would. */
static void frame_begin(struct h2_conn *c, enum h2_dir dir)
{
	struct h2_side *s = &c->side[dir];
	const struct h2_frame_hdr *f = &s->fh;

	s->done = 0;
	s->hole = false;
	s->set_len = 0;
	s->set_skip = false;
	s->ctl_len = 0;
	s->block_len = 0;
	if (f->length > s->max_frame) {
		proto_error(c, dir, "frame larger than SETTINGS_MAX_FRAME_SIZE");
		return;
	}
	if (dir == H2_CLIENT && !s->saw_first_frame && f->type != H2_SETTINGS) {
		proto_error(c, dir, "the first frame is not SETTINGS");
		return;
	}
	s->saw_first_frame = true;
	if (s->in_block && (f->type != H2_CONTINUATION || f->stream_id != s->block_sid)) {
		proto_error(c, dir, "a header block was interrupted");
		return;
	}

	switch (f->type) {
	case H2_DATA:
		if (!f->stream_id) {
			proto_error(c, dir, "DATA on stream 0");
			return;
		}
		if (dir == H2_CLIENT && f->stream_id > c->max_client_id) {
			proto_error(c, dir, "DATA on an idle stream");
			return;
		}
		break;
	case H2_HEADERS:
	case H2_PUSH_PROMISE:
		if (!f->stream_id) {
			proto_error(c, dir, "HEADERS on stream 0");
			return;
		}
		if (f->type == H2_PUSH_PROMISE && dir == H2_CLIENT) {
			proto_error(c, dir, "PUSH_PROMISE from the client");
			return;
		}
		s->in_block = true;
		s->block_type = f->type;
		s->block_sid = f->stream_id;
		s->block_end_stream = f->type == H2_HEADERS && (f->flags & H2_F_END_STREAM);
		s->block_bad = false;
		s->block_frames_bytes = 0;
		s->frag_len = 0;
		s->promised = 0;
		break;
	case H2_CONTINUATION:
		if (!s->in_block) {
			proto_error(c, dir, "CONTINUATION without HEADERS");
			return;
		}
		break;
	case H2_PRIORITY:
		if (!f->stream_id || f->length != 5) {
			proto_error(c, dir, "malformed PRIORITY");
			return;
		}
		break;
	case H2_RST_STREAM:
		if (!f->stream_id || f->length != 4) {
			proto_error(c, dir, "malformed RST_STREAM");
			return;
		}
		if (dir == H2_CLIENT && f->stream_id > c->max_client_id) {
			proto_error(c, dir, "RST_STREAM on an idle stream");
			return;
		}
		break;
	case H2_SETTINGS:
		if (f->stream_id || f->length % 6 || ((f->flags & H2_F_ACK) && f->length)) {
			proto_error(c, dir, "malformed SETTINGS");
			return;
		}
		break;
	case H2_PING:
		if (f->stream_id || f->length != 8) {
			proto_error(c, dir, "malformed PING");
			return;
		}
		break;
	case H2_GOAWAY:
		if (f->stream_id || f->length < 8) {
			proto_error(c, dir, "malformed GOAWAY");
			return;
		}
		break;
	case H2_WINDOW_UPDATE:
		if (f->length != 4) {
			proto_error(c, dir, "malformed WINDOW_UPDATE");
			return;
		}
		break;
	default: /* unknown types are ignored, as RFC 9113 4.1 asks */
		break;
	}
	s->phase = P_PAYLOAD;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* HEADERS/PUSH_PROMISE/CONTINUATION payload complete: keep its fragment. */
static bool fragment_done(struct h2_conn *c, enum h2_dir dir)
{
	struct h2_side *s = &c->side[dir];
	const struct h2_frame_hdr *f = &s->fh;
	size_t pre = 0, pad = 0, len = f->length;

	s->block_frames_bytes += f->length;
	if (f->type != H2_CONTINUATION) {
		if (f->flags & H2_F_PADDED)
			pre = 1;
		if (f->type == H2_HEADERS && (f->flags & H2_F_PRIORITY))
			pre += 5;
		if (f->type == H2_PUSH_PROMISE)
			pre += 4;
		if (len < pre) {
			proto_error(c, dir, "header frame shorter than its fields");
			return false;
		}
		if (f->flags & H2_F_PADDED) {
			if (s->ctl_len < 1) {
				s->block_bad = true;
				return true;
			}
			pad = s->ctl[0];
			if (pad > len - pre) {
				proto_error(c, dir, "padding longer than the frame");
				return false;
			}
		}
		if (f->type == H2_PUSH_PROMISE && s->ctl_len >= pre)
			s->promised = be32(s->ctl + pre - 4) & 0x7fffffff;
	}
	if (s->hole) {
		s->block_bad = true;
		return true;
	}
	if (s->block_bad)
		return true;
	/* the block buffer holds this frame's raw payload after the earlier
	 * fragments; drop its padding and prefix in place */
	if (len - pre - pad) {
		memmove(s->block + s->frag_len, s->block + s->frag_len + pre, len - pre - pad);
		s->frag_len += len - pre - pad;
	}
	return true;
}

/* The payload of the current frame is complete (some of it maybe a hole). */
static void frame_end(struct h2_conn *c, enum h2_dir dir)
{
	struct h2_side *s = &c->side[dir];
	const struct h2_frame_hdr *f = &s->fh;
	struct h2_stream *st;

	s->phase = P_HDR;
	s->hdr_len = 0;
	switch (f->type) {
	case H2_DATA:
		if ((f->flags & H2_F_PADDED) && s->ctl_len >= 1) {
			if (f->length < 1 || s->ctl[0] > f->length - 1) {
				proto_error(c, dir, "padding longer than the frame");
				return;
			}
		}
		st = find_stream(c, f->stream_id);
		if (!st)
			break;
		if (dir == H2_CLIENT)
			st->info.bytes_in += f->length;
		else
			st->info.bytes_out += f->length;
		if (f->flags & H2_F_END_STREAM)
			end_stream(c, st, dir);
		break;
	case H2_HEADERS:
	case H2_PUSH_PROMISE:
	case H2_CONTINUATION:
		if (!fragment_done(c, dir))
			return;
		if (f->flags & H2_F_END_HEADERS)
			block_done(c, dir);
		break;
	case H2_RST_STREAM: {
		uint32_t code = s->ctl_len >= 4 ? be32(s->ctl) : 0xffffffff;

		if (c->cb->on_reset)
			c->cb->on_reset(c->ctx, f->stream_id, dir, code);
		st = find_stream(c, f->stream_id);
		if (st) {
			st->info.reset = true;
			st->info.reset_by_server = dir == H2_SERVER;
			st->info.reset_code = code;
			close_stream(c, st, H2_CLOSE_RESET);
		}
		break;
	}
	case H2_GOAWAY: {
		bool whole = s->ctl_len >= 8;

		if (dir == H2_SERVER)
			c->server_goaway = true;
		if (c->cb->on_goaway)
			c->cb->on_goaway(c->ctx, dir, whole ? be32(s->ctl) & 0x7fffffff : 0,
					 whole ? be32(s->ctl + 4) : 0xffffffff);
		break;
	}
	default:
		break;
	}
}

/* Payload bytes of the current frame; data is NULL for a hole. */
static size_t payload(struct h2_conn *c, enum h2_dir dir, const uint8_t *data, size_t len)
{
	struct h2_side *s = &c->side[dir];
	const struct h2_frame_hdr *f = &s->fh;
	size_t n = f->length - s->done;

	if (n > len)
		n = len;
	if (!data) {
		s->hole = true;
		/* a hole in SETTINGS: its later entries are unknown */
		s->set_skip = true;
	} else {
		size_t i;

		for (i = 0; i < n && s->done + i < H2_CTL_KEEP; i++)
			if (s->ctl_len == s->done + i)
				s->ctl[s->ctl_len++] = data[i];
		if (f->type == H2_SETTINGS && !s->set_skip) {
			for (i = 0; i < n && s->phase == P_PAYLOAD; i++) {
				s->set[s->set_len++] = data[i];
				if (s->set_len == 6) {
					s->set_len = 0;
					if (!(f->flags & H2_F_ACK))
						apply_setting(c, dir, s->set);
				}
			}
			if (s->phase != P_PAYLOAD)
				return n; /* a setting was a protocol error */
		}
		if ((f->type == H2_HEADERS || f->type == H2_PUSH_PROMISE ||
		     f->type == H2_CONTINUATION) && !s->block_bad) {
			if (s->frag_len + s->block_len + n > H2_BLOCK_MAX) {
				s->block_bad = true;
				s->frag_len = H2_BLOCK_MAX + 1; /* says why */
			} else {
				if (!s->block) {
					s->block = malloc(H2_BLOCK_MAX);
					if (!s->block) {
						s->block_bad = true;
						goto count;
					}
				}
				memcpy(s->block + s->frag_len + s->block_len, data, n);
				s->block_len += n;
			}
		}
	}
count:
	s->done += n;
	if (s->done == f->length)
		frame_end(c, dir);
	return n;
}

static void header_byte(struct h2_conn *c, enum h2_dir dir, uint8_t b)
{
	struct h2_side *s = &c->side[dir];
	const uint8_t *h = s->hdr;

	s->hdr[s->hdr_len++] = b;
	if (s->hdr_len < H2_FRAME_HEADER_LEN)
		return;
	s->fh.length = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
	s->fh.type = h[3];
	s->fh.flags = h[4];
	s->fh.stream_id = be32(h + 5) & 0x7fffffff;
	s->hdr_len = 0;
	frame_begin(c, dir);
	if (s->phase == P_PAYLOAD && s->fh.length == 0)
		frame_end(c, dir);
}

static void preface_done(struct h2_conn *c)
{
	c->side[H2_CLIENT].phase = P_HDR;
	if (c->cb->on_preface)
		c->cb->on_preface(c->ctx);
}

void h2_feed(struct h2_conn *c, enum h2_dir dir, const uint8_t *data, size_t len)
{
	struct h2_side *s = &c->side[dir];
	size_t i = 0;

	while (i < len) {
		switch (s->phase) {
		case P_PREFACE:
			if ((uint8_t)H2_PREFACE[s->pos] != data[i]) {
				s->pos += len - i;
				proto_error(c, dir, "not the HTTP/2 client preface");
				return;
			}
			s->pos++;
			i++;
			if (s->pos == H2_PREFACE_LEN)
				preface_done(c);
			break;
		case P_HDR:
			header_byte(c, dir, data[i]);
			s->pos++;
			i++;
			break;
		case P_PAYLOAD: {
			size_t n = payload(c, dir, data + i, len - i);

			s->pos += n;
			i += n;
			break;
		}
		case P_LOST:
		case P_DEAD:
			s->pos += len - i;
			return;
		}
	}
}

/* Skips n bytes; a frame header inside them loses sync if report is set. */
static void skip(struct h2_conn *c, enum h2_dir dir, uint64_t n, bool report)
{
	struct h2_side *s = &c->side[dir];

	while (n) {
		switch (s->phase) {
		case P_PREFACE: {
			uint64_t k = H2_PREFACE_LEN - s->pos;

			if (k > n)
				k = n;
			s->pos += k;
			n -= k;
			/* the tracker chose HTTP/2 on the bytes it saw */
			if (s->pos == H2_PREFACE_LEN)
				preface_done(c);
			break;
		}
		case P_HDR:
			s->pos += n;
			if (report)
				lost_sync(c, dir);
			else
				s->phase = P_LOST;
			return;
		case P_PAYLOAD: {
			uint64_t k = s->fh.length - s->done;

			if (k > n)
				k = n;
			payload(c, dir, NULL, (size_t)k);
			s->pos += k;
			n -= k;
			break;
		}
		case P_LOST:
		case P_DEAD:
			s->pos += n;
			return;
		}
	}
}

void h2_skip(struct h2_conn *c, enum h2_dir dir, uint64_t n)
{
	skip(c, dir, n, true);
}

void h2_frame_at(struct h2_conn *c, enum h2_dir dir, uint64_t off, const struct h2_frame_hdr *fh)
{
	struct h2_side *s = &c->side[dir];
	bool was_lost = s->phase == P_LOST;

	if (s->phase == P_HDR && s->hdr_len && off == s->pos - s->hdr_len) {
		/* a header cut by the end of the copied bytes: take the
		 * kernel's whole copy of it */
		s->pos = off;
		s->hdr_len = 0;
	}
	if (s->phase == P_DEAD || off < s->pos)
		return;
	if (s->phase == P_PAYLOAD && off - s->pos < s->fh.length - s->done) {
		/* the kernel saw a frame start inside what we took for a
		 * payload: trust it, this frame is gone */
		s->phase = P_LOST;
		was_lost = true;
		hpack_broken(c, dir, "frame headers disagree with the kernel's");
	}
	if (s->phase == P_HDR && s->hdr_len) {
		s->phase = P_LOST;
		was_lost = true;
	}
	skip(c, dir, off - s->pos, false);
	if (s->phase == P_DEAD)
		return;
	if (s->phase == P_LOST) {
		if (!was_lost)
			/* a hole ended inside what should have been a payload */
			hpack_broken(c, dir, "a frame header was not copied");
		s->in_block = false;
	}
	if (s->phase == P_PREFACE)
		return; /* no frame before the preface ends */
	s->pos = off + H2_FRAME_HEADER_LEN;
	s->fh = *fh;
	s->fh.length &= 0xffffff;
	s->fh.stream_id &= 0x7fffffff;
	s->hdr_len = 0;
	s->phase = P_HDR;
	frame_begin(c, dir);
	if (s->phase == P_PAYLOAD && s->fh.length == 0)
		frame_end(c, dir);
}

void h2_upgrade(struct h2_conn *c, const char *method, const char *path, const char *authority)
{
	struct h2_stream *st;

	if (c->nstreams || c->max_client_id || c->ended)
		return;
	c->max_client_id = 1;
	st = open_stream(c, 1);
	if (!st)
		return;
	copy_value(st->info.method, sizeof(st->info.method), (const uint8_t *)method,
		   strlen(method));
	copy_value(st->info.path, sizeof(st->info.path), (const uint8_t *)path, strlen(path));
	copy_value(st->info.authority, sizeof(st->info.authority), (const uint8_t *)authority,
		   strlen(authority));
	/* the request was the HTTP/1 one: complete, half closed (remote) */
	st->info.end_in = true;
	if (c->cb->on_stream_open)
		c->cb->on_stream_open(c->ctx, &st->info, c->nstreams);
	if (c->cb->on_request)
		c->cb->on_request(c->ctx, &st->info);
}

void h2_eof(struct h2_conn *c)
{
	if (c->ended)
		return;
	c->ended = true;
	/* bytes after the end are counted, never framed */
	c->side[H2_CLIENT].phase = P_DEAD;
	c->side[H2_SERVER].phase = P_DEAD;
	/* Go closes the streams from a map: any order; the last one idles */
	while (c->nstreams)
		close_stream(c, &c->streams[0], H2_CLOSE_CONN_END);
}
