// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/1.x framing of one direction of a connection; see http1.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1.h"

static const char chunk_end[] = "\r\n0\r\n\r\n";

void http1_init(struct http1_parser *p, bool response)
{
	memset(p, 0, sizeof(*p));
	p->response = response;
	p->phase = HTTP1_P_HEAD;
}

void http1_free(struct http1_parser *p)
{
	free(p->lines);
	p->lines = NULL;
}

static void next_message(struct http1_parser *p)
{
	bool response = p->response;

	http1_free(p);
	http1_init(p, response);
}

static void message_done(struct http1_parser *p, const struct http1_cb *cb, void *ctx)
{
	uint64_t bytes = p->msg_bytes;

	next_message(p);
	if (cb->on_done)
		cb->on_done(ctx, bytes);
}

static void lose_sync(struct http1_parser *p, const struct http1_cb *cb, void *ctx)
{
	p->phase = HTTP1_P_LOST;
	if (cb->on_lost_sync)
		cb->on_lost_sync(ctx);
}

static bool token_in_list(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, tok, tl))
			return true;
	}
	return false;
}

/* The last transfer coding is the one that frames the body. */
static bool ends_with_chunked(const char *v, size_t n)
{
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return n >= 7 && !strncasecmp(v + n - 7, "chunked", 7) &&
	       (n == 7 || v[n - 8] == ',' || v[n - 8] == ' ' || v[n - 8] == '\t');
}

static bool parse_version(const char *s, size_t n, int *major, int *minor)
{
	if (n != 8 || strncmp(s, "HTTP/", 5) || !isdigit((unsigned char)s[5]) || s[6] != '.' ||
	    !isdigit((unsigned char)s[7]))
		return false;
	*major = s[5] - '0';
	*minor = s[7] - '0';
	return true;
}

static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static bool parse_start_line(const char *s, size_t n, bool response, struct http1_head *h)
{
	const char *sp1 = memchr(s, ' ', n), *sp2;
	size_t i;

	if (!sp1)
		return false;
	sp2 = memchr(sp1 + 1, ' ', n - (sp1 + 1 - s));
	if (response) {
		const char *code = sp1 + 1;
		size_t cl = (sp2 ? sp2 : s + n) - code;

		if (!parse_version(s, sp1 - s, &h->major, &h->minor) || cl != 3)
			return false;
		for (i = 0; i < 3; i++)
			if (!isdigit((unsigned char)code[i]))
				return false;
		h->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
		return true;
	}
	if (!sp2 || sp1 == s)
		return false;
	for (i = 0; i < (size_t)(sp1 - s); i++)
		if (!isupper((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	if (!parse_version(sp2 + 1, n - (sp2 + 1 - s), &h->major, &h->minor))
		return false;
	copy_field(h->method, sizeof(h->method), s, sp1 - s);
	copy_field(h->target, sizeof(h->target), sp1 + 1, sp2 - sp1 - 1);
	h->target_truncated = (size_t)(sp2 - sp1 - 1) >= sizeof(h->target);
	return true;
}

static void parse_field(const char *s, size_t n, struct http1_head *h)
{
	const char *colon = memchr(s, ':', n), *v;
	size_t nl, vl;

	if (!colon)
		return;
	nl = colon - s;
	v = colon + 1;
	vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (nl == 14 && !strncasecmp(s, "Content-Length", 14)) {
		char buf[24];
		char *end;
		long long cl;

		copy_field(buf, sizeof(buf), v, vl);
		cl = strtoll(buf, &end, 10);
		if (end != buf && !*end && cl >= 0)
			h->content_length = cl;
	} else if (nl == 17 && !strncasecmp(s, "Transfer-Encoding", 17)) {
		h->chunked = ends_with_chunked(v, vl);
	} else if (nl == 10 && !strncasecmp(s, "Connection", 10)) {
		h->conn_close |= token_in_list(v, vl, "close");
		h->conn_keep_alive |= token_in_list(v, vl, "keep-alive");
		h->conn_upgrade |= token_in_list(v, vl, "upgrade");
	} else if (nl == 6 && !strncasecmp(s, "Expect", 6)) {
		h->expect_continue = vl == 12 && !strncasecmp(v, "100-continue", 12);
	}
}

static void head_reset(struct http1_head *h, bool response)
{
	memset(h, 0, sizeof(*h));
	h->response = response;
	h->content_length = -1;
}

/* One line of a header block without its line end; cut: bytes of its
 * middle were dropped (only its first and last bytes are here). */
static void parse_line(const char *s, size_t n, bool first, bool cut, struct http1_head *h)
{
	if (n && s[n - 1] == '\r')
		n--;
	if (first) {
		h->valid = parse_start_line(s, n, h->response, h);
		/* the target is whole in the kept start only when nothing was cut */
		h->target_truncated |= cut;
	} else if (cut) {
		h->truncated = true; /* no framing field is this long */
	} else if (n) {
		parse_field(s, n, h);
	}
}

/* A line as a spread block keeps it (lines_end): whole up to
 * HTTP1_LINE_KEEP + HTTP1_LINE_TAIL bytes, else its first and last bytes,
 * cut. A block parsed in place must read the same as the same bytes
 * spread over reads. */
static void parse_kept_line(const char *s, size_t n, bool first, struct http1_head *h)
{
	char kept[HTTP1_LINE_KEEP + HTTP1_LINE_TAIL];

	if (n <= sizeof(kept)) {
		parse_line(s, n, first, false, h);
		return;
	}
	memcpy(kept, s, HTTP1_LINE_KEEP);
	memcpy(kept + HTTP1_LINE_KEEP, s + n - HTTP1_LINE_TAIL, HTTP1_LINE_TAIL);
	parse_line(kept, sizeof(kept), first, true, h);
}

void http1_parse_head(const char *buf, size_t len, bool response, struct http1_head *h)
{
	size_t i = 0;
	bool first = true;

	head_reset(h, response);
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - buf) : len;

		parse_kept_line(buf + i, e - i, first, h);
		first = false;
		i = e + 1;
	}
}

/* The current line of a spread header block ended: rebuild it from its
 * first bytes and the last ones the ring holds, and parse it. */
static void lines_end(struct http1_lines *l)
{
	size_t n = l->len < HTTP1_LINE_KEEP ? l->len : HTTP1_LINE_KEEP;
	size_t extra = l->len - n, t = extra < HTTP1_LINE_TAIL ? extra : HTTP1_LINE_TAIL, i;

	for (i = 0; i < t; i++)
		l->line[n + i] = l->tail[(extra - t + i) % HTTP1_LINE_TAIL];
	parse_line(l->line, n + t, !l->first_done, extra > t, &l->h);
	l->first_done = true;
	l->len = 0;
}

/* Bytes of a header block spread over reads, in order. */
static void lines_feed(struct http1_lines *l, const uint8_t *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (d[i] == '\n') {
			lines_end(l);
			continue;
		}
		if (l->len < HTTP1_LINE_KEEP)
			l->line[l->len] = d[i];
		else
			l->tail[(l->len - HTTP1_LINE_KEEP) % HTTP1_LINE_TAIL] = d[i];
		l->len++;
	}
}

enum http1_body http1_request_body(const struct http1_head *h)
{
	if (h->chunked)
		return HTTP1_BODY_CHUNKED;
	if (h->content_length > 0)
		return HTTP1_BODY_LENGTH;
	return HTTP1_BODY_NONE;
}

enum http1_body http1_response_body(const struct http1_head *h, const char *method)
{
	if (h->status == 101)
		return HTTP1_BODY_TUNNEL;
	if (method && !strcmp(method, "CONNECT") && h->status / 100 == 2)
		return HTTP1_BODY_TUNNEL;
	if (h->status / 100 == 1 || h->status == 204 || h->status == 304)
		return HTTP1_BODY_NONE;
	if (method && !strcmp(method, "HEAD"))
		return HTTP1_BODY_NONE;
	if (h->chunked)
		return HTTP1_BODY_CHUNKED;
	if (h->content_length > 0)
		return HTTP1_BODY_LENGTH;
	if (h->content_length == 0)
		return HTTP1_BODY_NONE;
	return HTTP1_BODY_TO_EOF;
}

static bool wants_close(const struct http1_head *h)
{
	if (h->conn_close)
		return true;
	/* HTTP/1.0 closes unless it asked to stay */
	return (h->major < 1 || (h->major == 1 && h->minor == 0)) && !h->conn_keep_alive;
}

bool http1_keep_alive(const struct http1_head *req, const struct http1_head *resp)
{
	return !wants_close(req) && !wants_close(resp);
}

size_t http1_pending_head(const struct http1_parser *p)
{
	return p->phase == HTTP1_P_HEAD ? p->msg_bytes : 0;
}

static void start_body(struct http1_parser *p, enum http1_body body, const struct http1_head *h,
		       const struct http1_cb *cb, void *ctx)
{
	switch (body) {
	case HTTP1_BODY_NONE:
		message_done(p, cb, ctx);
		break;
	case HTTP1_BODY_LENGTH:
		p->phase = HTTP1_P_BODY_LENGTH;
		p->remaining = h->content_length;
		if (!p->remaining)
			message_done(p, cb, ctx);
		break;
	case HTTP1_BODY_CHUNKED:
		p->phase = HTTP1_P_CHUNK_SIZE;
		p->line_len = 0;
		break;
	case HTTP1_BODY_TO_EOF:
		p->phase = HTTP1_P_BODY_TO_EOF;
		break;
	case HTTP1_BODY_TUNNEL:
		p->phase = HTTP1_P_TUNNEL;
		break;
	}
}

/* Consume header bytes; returns how many were used. A block that ends in
 * the bytes it began in is parsed in place, whatever its length; one spread
 * over several reads is parsed line by line as its bytes come. */
static size_t feed_head(struct http1_parser *p, const uint8_t *d, size_t len,
			const struct http1_cb *cb, void *ctx)
{
	const uint8_t *start, *nl;
	struct http1_head h;
	enum http1_body body;
	size_t i = 0, k, n;

	if (!p->head_started) {
		/* a request may be preceded by empty lines (RFC 9112 2.2) */
		while (!p->response && i < len && (d[i] == '\r' || d[i] == '\n'))
			i++;
		p->msg_bytes += i;
		p->head_started = i < len;
	}
	if (i == len)
		return len;
	/* line by line (memchr finds each end) to the empty line: head_nl
	 * counts the newlines with nothing but '\r' between them */
	start = d + i;
	for (;;) {
		nl = memchr(d + i, '\n', len - i);
		k = nl ? (size_t)(nl - d) : len;
		for (; i < k; i++) {
			if (d[i] != '\r') {
				p->head_nl = 0;
				break;
			}
		}
		i = k;
		if (!nl || ++p->head_nl == 2 || ++i == len)
			break;
	}
	n = (size_t)(d + (i == len ? len : i + 1) - start);
	p->head_len += n;
	p->msg_bytes += n;
	if (i == len) {
		/* unfinished; a block whose start we did not keep stays unparsed */
		if (p->head_len == n && !p->lines) {
			p->lines = malloc(sizeof(*p->lines));
			if (p->lines) {
				memset(p->lines, 0, sizeof(*p->lines));
				head_reset(&p->lines->h, p->response);
			}
		}
		if (p->lines)
			lines_feed(p->lines, start, n);
		return len;
	}
	if (p->head_len == n) {
		http1_parse_head((const char *)start, n, p->response, &h);
	} else if (p->lines) {
		lines_feed(p->lines, start, n);
		h = p->lines->h;
	} else {
		head_reset(&h, p->response); /* out of memory: not valid */
	}
	body = cb->on_head ? cb->on_head(ctx, &h) : HTTP1_BODY_NONE;
	start_body(p, body, &h, cb, ctx);
	return i + 1;
}

/* Collect one line of chunk framing; true once it is complete. */
static bool take_line(struct http1_parser *p, const uint8_t *d, size_t len, size_t *used)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (d[i] == '\n') {
			*used = i + 1;
			return true;
		}
		if (p->line_len < sizeof(p->line) - 1 && d[i] != '\r')
			p->line[p->line_len++] = d[i];
	}
	*used = len;
	return false;
}

static void blind_append(struct http1_parser *p, const uint8_t *d, size_t len)
{
	size_t keep = sizeof(p->blind_tail) - 1, n = len < keep ? len : keep;
	size_t have = p->blind_len + n > keep ? keep - n : p->blind_len;

	memmove(p->blind_tail, p->blind_tail + p->blind_len - have, have);
	memcpy(p->blind_tail + have, d + len - n, n);
	p->blind_len = have + n;
}

/* Takes up to n bytes of a Content-Length body or of a chunk's data,
 * copied or not; returns how many it took. */
static uint64_t take_body(struct http1_parser *p, uint64_t n, const struct http1_cb *cb, void *ctx)
{
	uint64_t used = n < p->remaining ? n : p->remaining;

	p->remaining -= used;
	p->msg_bytes += used;
	if (p->remaining)
		return used;
	if (p->phase == HTTP1_P_BODY_LENGTH) {
		message_done(p, cb, ctx);
	} else {
		p->phase = HTTP1_P_CHUNK_DATA_END;
		p->line_len = 0;
	}
	return used;
}

void http1_feed(struct http1_parser *p, const uint8_t *d, size_t len, const struct http1_cb *cb,
		void *ctx)
{
	while (len) {
		size_t used = len;

		if (p->chunk_blind) {
			blind_append(p, d, len);
			p->msg_bytes += len;
			return;
		}
		switch (p->phase) {
		case HTTP1_P_HEAD:
			used = feed_head(p, d, len, cb, ctx);
			break;
		case HTTP1_P_BODY_LENGTH:
		case HTTP1_P_CHUNK_DATA:
			used = take_body(p, len, cb, ctx);
			break;
		case HTTP1_P_CHUNK_SIZE: {
			bool done = take_line(p, d, len, &used);
			char *end;
			unsigned long long sz;

			p->msg_bytes += used;
			if (!done)
				break;
			p->line[p->line_len] = '\0';
			sz = strtoull(p->line, &end, 16);
			if (end == p->line || (*end && *end != ';' && *end != ' ' && *end != '\t')) {
				lose_sync(p, cb, ctx);
				break;
			}
			p->line_len = 0;
			p->remaining = sz;
			p->phase = sz ? HTTP1_P_CHUNK_DATA : HTTP1_P_CHUNK_TRAILER;
			break;
		}
		case HTTP1_P_CHUNK_DATA_END:
			if (take_line(p, d, len, &used)) {
				p->line_len = 0;
				p->phase = HTTP1_P_CHUNK_SIZE;
			}
			p->msg_bytes += used;
			break;
		case HTTP1_P_CHUNK_TRAILER: {
			bool done = take_line(p, d, len, &used);

			p->msg_bytes += used;
			if (!done)
				break;
			if (p->line_len == 0) {
				message_done(p, cb, ctx);
				break;
			}
			p->line_len = 0;
			break;
		}
		case HTTP1_P_BODY_TO_EOF:
		case HTTP1_P_TUNNEL:
		case HTTP1_P_LOST:
			p->msg_bytes += len;
			break;
		}
		d += used;
		len -= used;
	}
}

void http1_skip(struct http1_parser *p, uint64_t n, const struct http1_cb *cb, void *ctx)
{
	while (n) {
		uint64_t used = n;

		if (p->chunk_blind) {
			p->blind_len = 0;
			p->msg_bytes += n;
			return;
		}
		switch (p->phase) {
		case HTTP1_P_BODY_LENGTH:
		case HTTP1_P_CHUNK_DATA:
			used = take_body(p, n, cb, ctx);
			break;
		case HTTP1_P_CHUNK_SIZE:
		case HTTP1_P_CHUNK_DATA_END:
		case HTTP1_P_CHUNK_TRAILER:
			/* the chunk framing is in the hole: wait for the end marker */
			p->chunk_blind = true;
			p->blind_len = 0;
			p->msg_bytes += n;
			return;
		case HTTP1_P_HEAD:
			lose_sync(p, cb, ctx);
			p->msg_bytes += n;
			return;
		case HTTP1_P_BODY_TO_EOF:
		case HTTP1_P_TUNNEL:
		case HTTP1_P_LOST:
			p->msg_bytes += n;
			break;
		}
		n -= used;
	}
}

void http1_write_end(struct http1_parser *p, const struct http1_cb *cb, void *ctx)
{
	size_t n = sizeof(chunk_end) - 1;

	if (p->chunk_blind && p->blind_len >= n &&
	    !memcmp(p->blind_tail + p->blind_len - n, chunk_end, n))
		message_done(p, cb, ctx);
}

void http1_eof(struct http1_parser *p, const struct http1_cb *cb, void *ctx)
{
	if (p->phase == HTTP1_P_BODY_TO_EOF)
		message_done(p, cb, ctx);
}
