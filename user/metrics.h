/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --metrics ADDR:PORT: serves /metrics in the Prometheus text format with
 * libmicrohttpd, driven from connstate's own loop (no thread: the page is
 * rendered from the tracker's state between two batches of events).
 */
#ifndef CONNSTATE_METRICS_H
#define CONNSTATE_METRICS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

struct metrics;

/* Writes the page onto f. */
typedef void (*metrics_render_fn)(void *ctx, FILE *f);

/* Parses "IP:PORT", "[IPv6]:PORT", "localhost:PORT" or ":PORT" (every
 * address); 0 on success. Syntax only: nothing is bound. */
int metrics_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* Binds and listens now, so a busy address fails before anything is
 * attached; NULL with a one-line reason in err. */
struct metrics *metrics_start(const struct sockaddr_storage *ss, socklen_t len,
			      metrics_render_fn render, void *ctx, char *err, size_t errlen);
/* Serves what is pending without blocking. */
void metrics_poll(struct metrics *m);
void metrics_stop(struct metrics *m);

#endif /* CONNSTATE_METRICS_H */
