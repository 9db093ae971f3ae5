// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * connstate: attach to a server's processes and print each client
 * connection's HTTP state changes, in the words of Go's ConnState.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "connstate.h"
#include "connstate.skel.h"
#include "loader.h"
#include "output.h"
#include "proc.h"
#include "tracker.h"

#define MAX_TARGETS 4096
/* Events wake us only in bulk (see wakeup_bytes in the BPF side); the
 * rest are read at this interval, which bounds how late a line can be. */
#define POLL_MS 50
#define MAX_PORTS 256

struct app {
	struct cli cli;
	struct output out;
	struct tracker *tracker;
	struct connstate_bpf *skel;
	pid_t live[MAX_TARGETS]; /* target processes not yet seen to exit */
	size_t nlive;
	uint64_t lost_told;
	bool draining; /* detached: consume what the ring buffer still holds */
};

static volatile sig_atomic_t exiting;
/* The BPF side's "stopping", in its mmapped .bss */
static volatile __u32 *stop_word;

static void on_signal(int sig)
{
	(void)sig;
	/* every program stops seeing here, at one instant, long before
	 * detaching them one by one is done */
	if (stop_word)
		*stop_word = 1;
	exiting = 1;
}

static bool verbose;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	if (level != LIBBPF_WARN && !verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void live_add(struct app *a, pid_t pid)
{
	size_t i;

	for (i = 0; i < a->nlive; i++)
		if (a->live[i] == pid)
			return;
	if (a->nlive < MAX_TARGETS)
		a->live[a->nlive++] = pid;
}

static void live_del(struct app *a, pid_t pid)
{
	size_t i;

	for (i = 0; i < a->nlive; i++)
		if (a->live[i] == pid) {
			a->live[i] = a->live[--a->nlive];
			return;
		}
}

static void on_state(void *ctx, const struct tr_conn *c, enum cs_state prev, uint64_t ts)
{
	output_state(&((struct app *)ctx)->out, c, prev, ts);
}

static void on_request(void *ctx, const struct tr_conn *c, const struct tr_request *r,
		       bool complete)
{
	struct app *a = ctx;

	if (!a->cli.no_requests)
		output_request(&a->out, c, r, complete);
}

static void on_warning(void *ctx, const struct tr_conn *c, const char *msg, uint64_t ts)
{
	output_warning(&((struct app *)ctx)->out, c, msg, ts);
}

static const struct tracker_ops tracker_ops = {
	.on_state = on_state,
	.on_request = on_request,
	.on_warning = on_warning,
};

static int handle_event(void *ctx, void *data, size_t size)
{
	struct app *a = ctx;
	const struct cs_event *e = data;

	if (size < sizeof(*e) || sizeof(*e) + e->head_len + e->tail_len > size)
		return 0;
	if (e->type == CS_EV_PROC_FORK)
		live_add(a, e->tgid);
	else if (e->type == CS_EV_PROC_EXIT)
		live_del(a, e->tgid);
	tracker_event(a->tracker, e, (const uint8_t *)data + sizeof(*e));
	/* a busy ring buffer never runs dry: stop consuming to see the
	 * signal, after this event, since libbpf has already stepped past it */
	if (exiting && !a->draining)
		return -EINTR;
	return 0;
}

/* Adds pid's processes to the kernel's targets and its ports to listen_ports. */
static void add_target(struct app *a, pid_t pid)
{
	uint16_t ports[MAX_PORTS];
	size_t n = proc_listen_ports(pid, ports, MAX_PORTS), i;
	__u8 one = 1;
	__u32 key = pid;

	for (i = 0; i < n; i++)
		bpf_map_update_elem(bpf_map__fd(a->skel->maps.listen_ports), &ports[i], &one,
				    BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(a->skel->maps.targets), &key, &one, BPF_ANY);
	live_add(a, pid);
}

static void add_descendants(struct app *a)
{
	static pid_t kids[MAX_TARGETS];
	size_t n = proc_descendants(a->live, a->nlive, kids, MAX_TARGETS - a->nlive), i;

	for (i = 0; i < n; i++)
		add_target(a, kids[i]);
}

static void print_open(void *ctx, const struct tr_conn *c)
{
	struct app *a = ctx;

	output_open_conn(&a->out, c, now_ns(CLOCK_MONOTONIC));
}

/*
 * Ends the connections whose end event the kernel could not send (it left
 * them in "unseen_ends"). The ring is consumed after taking them and
 * before ending them, so every event they sent before their end comes
 * first; an end whose sk has meanwhile a new generation is ignored.
 */
static void drain_unseen_ends(struct app *a, struct ring_buffer *rb)
{
	static struct cs_end ends[4096];
	int fd = bpf_map__fd(a->skel->maps.unseen_ends);
	__u64 key, next, *prev = NULL;
	size_t n = 0, i;

	while (n < sizeof(ends) / sizeof(ends[0]) && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &ends[n]))
			n++;
	}
	if (!n)
		return;
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &ends[i].gen);
	ring_buffer__consume(rb);
	for (i = 0; i < n; i++)
		tracker_end_unseen(a->tracker, ends[i].sk, &ends[i]);
}

/* Whether the kernel still tracks the connection (sk, gen): after stop,
 * its map holds what was open at that instant. */
static bool kernel_has_conn(void *ctx, uint64_t sk, uint64_t gen)
{
	struct app *a = ctx;
	struct cs_conn v;
	__u64 key = sk;

	if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.conns), &key, &v))
		return false;
	return !gen || v.gen == gen;
}

static void check_lost(struct app *a)
{
	uint64_t lost = loader_stat(a->skel, CS_STAT_LOST_EVENTS);

	if (lost > a->lost_told) {
		fprintf(stderr,
			"connstate: warning: %llu events lost (ring buffer full); affected connections are marked uncertain; try --ring-size\n",
			(unsigned long long)(lost - a->lost_told));
		a->lost_told = lost;
	}
}

static void summary(struct app *a)
{
	struct tracker_totals t;

	tracker_totals(a->tracker, &t);
	fprintf(stderr,
		"connstate: %llu connections (%llu open), %llu requests, %llu events, %llu events lost, %llu syscalls not followed (stash full), %llu connections uncertain, %llu connections not tracked (map full), %llu connections ended unseen\n",
		(unsigned long long)t.conns, (unsigned long long)t.open,
		(unsigned long long)t.requests,
		(unsigned long long)loader_stat(a->skel, CS_STAT_EVENTS),
		(unsigned long long)loader_stat(a->skel, CS_STAT_LOST_EVENTS),
		(unsigned long long)loader_stat(a->skel, CS_STAT_STASH_FULL),
		(unsigned long long)t.uncertain,
		(unsigned long long)loader_stat(a->skel, CS_STAT_CONN_MAP_FULL),
		(unsigned long long)t.ended_unseen);
}

static int run(struct app *a)
{
	struct ring_buffer *rb;
	uint64_t last_check = 0;
	int err = 0;

	rb = ring_buffer__new(bpf_map__fd(a->skel->maps.events), handle_event, a, NULL);
	if (!rb) {
		fprintf(stderr, "connstate: failed to create ring buffer: %s\n", strerror(errno));
		return 1;
	}
	while (!exiting) {
		uint64_t now;
		size_t i;

		err = ring_buffer__poll(rb, POLL_MS);
		/* a timeout consumes nothing: read what came without a wakeup */
		if (err >= 0)
			err = ring_buffer__consume(rb);
		/* whole lines out after every batch: as prompt as line
		 * buffering, without a write per line under load */
		fflush(stdout);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0) {
			fprintf(stderr, "connstate: failed to poll ring buffer: %s\n",
				strerror(-err));
			break;
		}
		err = 0;
		now = now_ns(CLOCK_MONOTONIC);
		if (now - last_check < 250000000ull)
			continue;
		last_check = now;
		check_lost(a);
		if (a->lost_told)
			drain_unseen_ends(a, rb);
		/* an exit event can be lost; /proc cannot */
		for (i = 0; i < a->nlive;)
			if (!proc_alive(a->live[i]))
				live_del(a, a->live[i]);
			else
				i++;
		if (!a->nlive) {
			fprintf(stderr, "connstate: every target process has exited\n");
			break;
		}
	}
	/* no new events after this (the signal handler did it already); what
	 * was seen is finished, what was open then is told open */
	*stop_word = 1;
	loader_detach(a->skel);
	a->draining = true;
	ring_buffer__consume(rb);
	check_lost(a);
	drain_unseen_ends(a, rb);
	/* an end lost where "unseen_ends" had no room */
	tracker_reconcile(a->tracker, kernel_has_conn, a, now_ns(CLOCK_MONOTONIC));
	tracker_each_open(a->tracker, print_open, a);
	fflush(stdout);
	summary(a);
	ring_buffer__free(rb);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct app app;
	struct loader_opts lo = {};
	struct sigaction sa = { .sa_handler = on_signal };
	char pids[256] = "";
	int i, nprogs, rc;

	setvbuf(stdout, NULL, _IOFBF, 1 << 16); /* flushed after each batch */
	if (cli_parse(&app.cli, argc, argv))
		return 2;
	verbose = app.cli.verbose;
	libbpf_set_print(print_libbpf);
	for (i = 0; i < app.cli.npids; i++) {
		pid_t tgid = proc_tgid(app.cli.pids[i]);

		if (tgid < 0) {
			fprintf(stderr, "connstate: no such process: %d\n", app.cli.pids[i]);
			return 1;
		}
		if (tgid != app.cli.pids[i])
			fprintf(stderr, "connstate: %d is a thread of process %d: watching %d\n",
				app.cli.pids[i], tgid, tgid);
		app.cli.pids[i] = tgid;
	}
	lo.btf_path = app.cli.btf_path;
	lo.ring_bytes = app.cli.ring_mib << 20;
	lo.wakeup_bytes = lo.ring_bytes / 16;
	lo.max_conns = app.cli.max_conns;
	lo.verbose = app.cli.verbose;
	app.skel = loader_load(&lo);
	if (!app.skel)
		return 1;
	stop_word = &app.skel->bss->stopping;
	app.tracker = tracker_new(&tracker_ops, &app);
	if (!app.tracker) {
		fprintf(stderr, "connstate: failed to allocate the connection table\n");
		connstate_bpf__destroy(app.skel);
		return 1;
	}
	app.out.f = stdout;
	app.out.json = app.cli.json;
	app.out.timestamps = app.cli.timestamps;
	app.out.show_query = app.cli.show_query;
	app.out.wall_offset = (int64_t)(now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	for (i = 0; i < app.cli.npids; i++)
		add_target(&app, app.cli.pids[i]);
	add_descendants(&app);
	nprogs = loader_attach(app.skel);
	rc = 1;
	if (nprogs >= 0) {
		/* children forked while we attached */
		add_descendants(&app);
		for (i = 0; i < app.cli.npids; i++)
			snprintf(pids + strlen(pids), sizeof(pids) - strlen(pids), "%s%d",
				 i ? "," : "", app.cli.pids[i]);
		fprintf(stderr, "connstate: attached %d probes to %zu processes (pid %s)\n", nprogs,
			app.nlive, pids);
		rc = run(&app);
	}
	tracker_free(app.tracker);
	connstate_bpf__destroy(app.skel);
	return rc;
}
