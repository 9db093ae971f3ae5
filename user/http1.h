/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/1.x message framing for one direction of one connection. Pure: bytes
 * in, callbacks out, no I/O. The stream may have holes (bytes the kernel
 * counted but did not copy): bodies survive them, a header block does not.
 */
#ifndef CONNSTATE_HTTP1_H
#define CONNSTATE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_METHOD_MAX 16
#define HTTP1_TARGET_MAX 256
/*
 * A header block spread over reads is parsed line by line as it arrives;
 * of each line only its first HTTP1_LINE_KEEP and last HTTP1_LINE_TAIL
 * bytes are kept. That is enough for the method, the start of the target
 * and the version of a start line of any length (the version is at its
 * end), and for every field framing needs; a longer field line is skipped.
 */
#define HTTP1_LINE_KEEP 512
#define HTTP1_LINE_TAIL 16

/* What a header block said, as far as framing and states need it. */
struct http1_head {
	bool valid;	/* the start line parsed */
	bool response;
	char method[HTTP1_METHOD_MAX];
	char target[HTTP1_TARGET_MAX];
	int status;
	int major, minor;
	int64_t content_length; /* -1 if absent */
	bool chunked;
	bool conn_close;
	bool conn_keep_alive;
	bool conn_upgrade;
	bool expect_continue;
	bool target_truncated; /* the target was longer than target[] holds */
	bool truncated; /* a field line longer than HTTP1_LINE_KEEP was skipped */
};

/* The lines of a header block spread over reads, parsed as they end. */
struct http1_lines {
	struct http1_head h;
	bool first_done;	/* the start line was parsed */
	size_t len;		/* bytes of the current line so far */
	char line[HTTP1_LINE_KEEP + HTTP1_LINE_TAIL];
	char tail[HTTP1_LINE_TAIL]; /* its last bytes past HTTP1_LINE_KEEP, a ring */
};

enum http1_body {
	HTTP1_BODY_NONE,
	HTTP1_BODY_LENGTH,
	HTTP1_BODY_CHUNKED,
	HTTP1_BODY_TO_EOF, /* a response that ends when the connection does */
	HTTP1_BODY_TUNNEL, /* after 101 or CONNECT: no more HTTP */
};

struct http1_cb {
	/* A header block is complete; return how its body is framed. */
	enum http1_body (*on_head)(void *ctx, const struct http1_head *h);
	/* The message (head and body) is complete; bytes counts both. */
	void (*on_done)(void *ctx, uint64_t bytes);
	/* The stream cannot be framed any more (a hole in a header block,
	 * a malformed chunk size). */
	void (*on_lost_sync)(void *ctx);
};

enum http1_phase {
	HTTP1_P_HEAD,
	HTTP1_P_BODY_LENGTH,
	HTTP1_P_CHUNK_SIZE,
	HTTP1_P_CHUNK_DATA,
	HTTP1_P_CHUNK_DATA_END, /* the CRLF after chunk data */
	HTTP1_P_CHUNK_TRAILER,
	HTTP1_P_BODY_TO_EOF,
	HTTP1_P_TUNNEL,
	HTTP1_P_LOST, /* out of sync: ignore until reset */
};

struct http1_parser {
	bool response;
	enum http1_phase phase;
	uint64_t msg_bytes;	/* bytes of the current message so far */
	uint64_t remaining;	/* body or chunk bytes still to come */
	size_t head_len;	/* bytes of the header block so far */
	uint8_t head_nl;	/* line ends seen in a row, CR ignored */
	bool head_started;	/* a non-CRLF byte of the block was seen */
	char line[32];		/* a chunk-size or trailer line */
	uint8_t line_len;
	bool trailer_line_empty;
	/* chunked body whose framing fell into a hole: look for the
	 * terminating CRLF 0 CRLF CRLF at the end of the copied bytes */
	bool chunk_blind;
	char blind_tail[8];
	uint8_t blind_len;
	struct http1_lines *lines; /* a header block spread over reads; else NULL */
};

void http1_init(struct http1_parser *p, bool response);
/* Frees what a message in progress holds; the parser can be reused. */
void http1_free(struct http1_parser *p);
/* Copied bytes of the stream, in order. */
void http1_feed(struct http1_parser *p, const uint8_t *data, size_t len,
		const struct http1_cb *cb, void *ctx);
/* n bytes of the stream that were counted but not copied. */
void http1_skip(struct http1_parser *p, uint64_t n, const struct http1_cb *cb, void *ctx);
/* The end of one write: a blind chunked body may end here. */
void http1_write_end(struct http1_parser *p, const struct http1_cb *cb, void *ctx);
/* The connection ended: completes a body framed by the end of stream. */
void http1_eof(struct http1_parser *p, const struct http1_cb *cb, void *ctx);
/* Bytes of an unfinished header block (0 at a message boundary). */
size_t http1_pending_head(const struct http1_parser *p);

/* Parse a complete header block; exposed for tests. */
void http1_parse_head(const char *buf, size_t len, bool response, struct http1_head *h);
/* How a response to request method `method` with head h is framed. */
enum http1_body http1_response_body(const struct http1_head *h, const char *method);
/* How a request with head h is framed. */
enum http1_body http1_request_body(const struct http1_head *h);
/* Whether the connection stays open after this exchange. */
bool http1_keep_alive(const struct http1_head *req, const struct http1_head *resp);

#endif /* CONNSTATE_HTTP1_H */
