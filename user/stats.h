/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Figures per target (a process given with -p, with its children) for the
 * Prometheus page and the periodic summary: counters since start, and the
 * same for the current interval. Pure: fed from the tracker's callbacks,
 * rendered onto a FILE; no I/O of its own.
 */
#ifndef CONNSTATE_STATS_H
#define CONNSTATE_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tracker.h"

/* Targets with figures of their own; later ones share the last slot. */
#define STATS_MAX_TARGETS 64
#define STATS_COMM_MAX 16

struct stats;

/* Open connections of one target by state, counted by the caller. */
struct stats_open {
	uint64_t by_state[CS_ST_CLOSED + 1];
};

struct stats *stats_new(void);
void stats_free(struct stats *s);

/* The slot of the target rooted at pid, named comm; made on first use. */
int stats_target(struct stats *s, uint32_t pid, const char *comm);
/* Renames a slot (a command's process changes its name at exec). */
void stats_rename(struct stats *s, int target, const char *comm);
/* A transition the tracker told (closed carries who closed it). */
void stats_state(struct stats *s, int target, enum cs_state next, enum cs_closer closer);
/* A request that ended (or was cut off); status 0 if none was written. */
void stats_request(struct stats *s, int target, const char *method, int status,
		   uint64_t duration_ns);

/* Whole-run figures that are not per target. */
struct stats_global {
	uint64_t connections;  /* accepted or adopted */
	uint64_t events_lost;  /* ring buffer reservations that failed */
	uint64_t uncertain;    /* connections marked uncertain */
	uint64_t stash_full;   /* syscalls not followed */
	uint64_t not_tracked;  /* connections the kernel map had no room for */
};

/* The Prometheus text exposition format (0.0.4); open[] has one entry per
 * target slot, in slot order. */
void stats_prometheus(const struct stats *s, const struct stats_open *open,
		      const struct stats_global *g, FILE *f);
/* One line per target for the interval just ended (text or a JSON object
 * of type "summary"), then starts the next interval. */
void stats_interval(struct stats *s, const struct stats_open *open, double secs, bool json,
		    FILE *f);
int stats_ntargets(const struct stats *s);
/* p in [0,1] of the interval's durations of target, in ns; 0 if none. */
uint64_t stats_interval_quantile(const struct stats *s, int target, double p);

#endif /* CONNSTATE_STATS_H */
