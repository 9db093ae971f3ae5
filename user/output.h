/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Lines for people (Go's "Client: A - new state: S" contract) and JSON
 * lines for programs. Pure formatting onto a FILE. Every client-controlled
 * string goes through escape.h here, and only here.
 */
#ifndef CONNSTATE_OUTPUT_H
#define CONNSTATE_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tracker.h"

struct output {
	FILE *f;
	bool json;
	bool timestamps;     /* -T: prefix text lines with the wall-clock time */
	bool show_query;     /* --show-query: print targets' query strings */
	int64_t wall_offset; /* CLOCK_REALTIME - CLOCK_MONOTONIC, in ns */
};

void output_state(struct output *o, const struct tr_conn *c, enum cs_state prev, uint64_t ts);
void output_request(struct output *o, const struct tr_conn *c, const struct tr_request *r,
		    bool complete);
void output_warning(struct output *o, const struct tr_conn *c, const char *msg, uint64_t ts);
/* A connection still open when connstate stops. */
void output_open_conn(struct output *o, const struct tr_conn *c, uint64_t ts);
/* Writes s as a JSON string, quotes included, escaped as escape.h says. */
void output_json_string(FILE *f, const char *s);

#endif /* CONNSTATE_OUTPUT_H */
