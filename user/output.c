// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "output.h"

void output_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	esc_puts(f, s, ESC_JSON);
	fputc('"', f);
}

/*
 * The request target, escaped; its query (which carries tokens and
 * passwords often enough) becomes "?…" unless --show-query.
 */
static void put_target(const struct output *o, const char *target)
{
	enum esc_mode mode = o->json ? ESC_JSON : ESC_TEXT;
	const char *q = o->show_query ? NULL : strchr(target, '?');

	if (o->json)
		fputc('"', o->f);
	if (q) {
		esc_write(o->f, target, (size_t)(q - target), mode);
		fputs("?\xe2\x80\xa6", o->f);
	} else {
		esc_puts(o->f, target, mode);
	}
	if (o->json)
		fputc('"', o->f);
}

/*
 * Numbers without printf: a connection per request prints five lines, and
 * printf's format parsing was a quarter of connstate's own CPU time under
 * load (README, Cost).
 */
static void put_u64(FILE *f, uint64_t v)
{
	char buf[20], *p = buf + sizeof(buf);

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10));
	fwrite(p, 1, (size_t)(buf + sizeof(buf) - p), f);
}

/* ns as milliseconds with three decimals, rounded half up. */
static void put_ms(FILE *f, uint64_t ns)
{
	uint64_t us = ns / 1000 + (ns % 1000 >= 500);
	char frac[4] = { '.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10),
			 (char)('0' + us % 10) };

	put_u64(f, us / 1000);
	fwrite(frac, 1, sizeof(frac), f);
}

static void wall_time(const struct output *o, uint64_t ts, char *buf, size_t len, bool iso)
{
	int64_t ns = (int64_t)ts + o->wall_offset;
	time_t sec = ns / 1000000000;
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, len, iso ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06" PRId64 "%s", (ns % 1000000000) / 1000, iso ? "Z" : "");
}

/* Common start of a line: the text prefix or the JSON fields every object has. */
static void begin(struct output *o, const struct tr_conn *c, uint64_t ts, const char *type)
{
	const char *client = c->client_str, *local = c->local_str;
	char when[48];

	if (!o->json) {
		if (o->timestamps) {
			wall_time(o, ts, when, sizeof(when), false);
			fputs(when, o->f);
			fputc(' ', o->f);
		}
		fputs("Client: ", o->f);
		fputs(client, o->f);
		fputs(" - ", o->f);
		return;
	}
	wall_time(o, ts, when, sizeof(when), true);
	fprintf(o->f, "{\"time\":\"%s\",\"type\":\"%s\",\"pid\":%u,\"client\":\"%s\",\"local\":\"%s\"",
		when, type, c->tgid, client, local);
	if (c->adopted)
		fputs(",\"adopted\":true", o->f);
	if (c->uncertain)
		fputs(",\"uncertain\":true", o->f);
	if (c->tls) {
		fputs(",\"tls\":true", o->f);
		/* the framing the plaintext chose (the client preface, or an
		 * HTTP/1 request), in ALPN's names; not read from the handshake */
		if (c->h2)
			fputs(",\"proto\":\"h2\"", o->f);
		else if (c->queue || c->requests)
			fputs(",\"proto\":\"http/1.1\"", o->f);
	}
}

void output_state(struct output *o, const struct tr_conn *c, enum cs_state prev, uint64_t ts)
{
	begin(o, c, ts, "state");
	if (!o->json) {
		fputs("new state: ", o->f);
		fputs(cs_state_name(c->state), o->f);
		fputc('\n', o->f);
		return;
	}
	fprintf(o->f, ",\"state\":\"%s\",\"prev\":\"%s\"", cs_state_name(c->state),
		cs_state_name(prev));
	if (c->state == CS_ST_CLOSED)
		fprintf(o->f, ",\"closed_by\":\"%s\",\"requests\":%" PRIu64 ",\"lost\":%u",
			cs_closer_name(c->closer), c->requests, c->lost);
	fputs("}\n", o->f);
}

void output_request(struct output *o, const struct tr_conn *c, const struct tr_request *r,
		    bool complete)
{
	uint64_t ns = r->end_ns - r->start_ns;
	char version[16] = "-";

	if (r->stream)
		strcpy(version, "HTTP/2");
	else if (r->valid)
		snprintf(version, sizeof(version), "HTTP/%d.%d", r->major, r->minor);
	begin(o, c, r->end_ns, "request");
	if (!o->json) {
		fputs("request: ", o->f);
		esc_puts(o->f, r->method, ESC_TEXT);
		fputc(' ', o->f);
		if (r->valid)
			put_target(o, r->target);
		else
			fputc('-', o->f);
		fputc(' ', o->f);
		fputs(version, o->f);
		fputs(" -> ", o->f);
		if (r->status > 0)
			put_u64(o->f, (uint64_t)r->status);
		else
			fputc('-', o->f);
		fputs(complete ? ", " : " (incomplete), ", o->f);
		put_ms(o->f, ns);
		fputs(" ms, ", o->f);
		put_u64(o->f, r->bytes_in);
		fputs(" B in, ", o->f);
		put_u64(o->f, r->bytes_out);
		fputs(" B out\n", o->f);
		return;
	}
	fputs(",\"method\":", o->f);
	output_json_string(o->f, r->method);
	fputs(",\"path\":", o->f);
	put_target(o, r->valid ? r->target : "");
	if (r->stream)
		fprintf(o->f, ",\"stream\":%" PRIu32, r->stream);
	fprintf(o->f, ",\"version\":\"%s\",\"status\":%d,\"complete\":%s,\"duration_ms\":",
		version, r->status, complete ? "true" : "false");
	put_ms(o->f, ns);
	fprintf(o->f, ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 "}\n", r->bytes_in,
		r->bytes_out);
}

void output_warning(struct output *o, const struct tr_conn *c, const char *msg, uint64_t ts)
{
	begin(o, c, ts, "warning");
	if (!o->json) {
		/* the tracker's own words, but escaped all the same: one rule for every string */
		fputs("warning: ", o->f);
		esc_puts(o->f, msg, ESC_TEXT);
		fputc('\n', o->f);
		return;
	}
	fputs(",\"message\":", o->f);
	output_json_string(o->f, msg);
	fputs("}\n", o->f);
}

void output_open_conn(struct output *o, const struct tr_conn *c, uint64_t ts)
{
	begin(o, c, ts, "open");
	if (!o->json) {
		fprintf(o->f, "still open at exit in state %s after %" PRIu64 " requests\n",
			cs_state_name(c->state), c->requests);
		return;
	}
	fprintf(o->f, ",\"state\":\"%s\",\"requests\":%" PRIu64 "}\n", cs_state_name(c->state),
		c->requests);
}
