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
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "connstate.h"
#include "connstate.skel.h"
#include "loader.h"
#include "metrics.h"
#include "output.h"
#include "proc.h"
#include "stats.h"
#include "targets.h"
#include "tracker.h"
#include "tls.h"
#include "wakeup.h"

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
	struct tls *tls; /* the TLS library's probes; NULL if none */
	pid_t live[MAX_TARGETS]; /* target processes not yet seen to exit */
	int live_slot[MAX_TARGETS]; /* the stats slot of each: the -p root it came from */
	size_t nlive;
	struct stats *stats;
	struct metrics *metrics;
	struct cgroup_target cg; /* --cgroup */
	pid_t child;		 /* -c: the command's process */
	uint64_t interval_start;
	uint64_t lost_told;
	bool draining; /* detached: consume what the ring buffer still holds */
};

static volatile sig_atomic_t exiting;
/* The BPF side's "stopping", in its mmapped .bss */
static volatile __u32 *stop_word;
static volatile __u32 *tls_stop; /* the same in tls.bpf.c's .bss */

static void on_signal(int sig)
{
	(void)sig;
	/* every program stops seeing here, at one instant, long before
	 * detaching them one by one is done */
	if (stop_word)
		*stop_word = 1;
	if (tls_stop)
		*tls_stop = 1;
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

static void live_add(struct app *a, pid_t pid, int slot)
{
	size_t i;

	for (i = 0; i < a->nlive; i++)
		if (a->live[i] == pid)
			return;
	if (a->nlive < MAX_TARGETS) {
		a->live_slot[a->nlive] = slot;
		a->live[a->nlive++] = pid;
	}
}

static void live_del(struct app *a, pid_t pid)
{
	size_t i;

	for (i = 0; i < a->nlive; i++)
		if (a->live[i] == pid) {
			a->live_slot[i] = a->live_slot[a->nlive - 1];
			a->live[i] = a->live[--a->nlive];
			return;
		}
}

/* The stats slot a process's connections count under; 0 when unknown
 * (one exited before its last connection was told). */
static int slot_of(const struct app *a, pid_t pid)
{
	size_t i;

	/* one target (the usual case): no search per event */
	if (stats_ntargets(a->stats) <= 1)
		return 0;

	for (i = 0; i < a->nlive; i++)
		if (a->live[i] == pid)
			return a->live_slot[i];
	return 0;
}

/* /proc/PID/comm, or "" */
static void read_comm(pid_t pid, char *comm, size_t len)
{
	char path[64];
	FILE *f;

	comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, len, f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

/* A new slot for a root target, named after its process. */
static int new_slot(struct app *a, pid_t pid)
{
	char comm[STATS_COMM_MAX];

	read_comm(pid, comm, sizeof(comm));
	return stats_target(a->stats, pid, comm);
}

/* -c: the command was held as a copy of connstate; name it as it runs. */
static void name_command(struct app *a)
{
	char comm[STATS_COMM_MAX];

	if (!a->child)
		return;
	read_comm(a->child, comm, sizeof(comm));
	if (comm[0])
		stats_rename(a->stats, slot_of(a, a->child), comm);
}

static void on_state(void *ctx, const struct tr_conn *c, enum cs_state prev, uint64_t ts)
{
	struct app *a = ctx;

	stats_state(a->stats, slot_of(a, c->tgid), c->state, c->closer);
	if (!a->cli.quiet)
		output_state(&a->out, c, prev, ts);
}

static void on_request(void *ctx, const struct tr_conn *c, const struct tr_request *r,
		       bool complete)
{
	struct app *a = ctx;

	stats_request(a->stats, slot_of(a, c->tgid), r->method, r->status,
		      r->end_ns - r->start_ns);
	if (!a->cli.no_requests && !a->cli.quiet)
		output_request(&a->out, c, r, complete);
}

static void on_warning(void *ctx, const struct tr_conn *c, const char *msg, uint64_t ts)
{
	struct app *a = ctx;

	if (!a->cli.quiet)
		output_warning(&a->out, c, msg, ts);
}

static void on_skip(void *ctx, const struct tr_conn *c)
{
	struct app *a = ctx;

	loader_skip(a->skel, c->sk, c->gen, c->skip_until);
}

static const struct tracker_ops tracker_ops = {
	.on_state = on_state,
	.on_request = on_request,
	.on_warning = on_warning,
	.on_skip = on_skip,
};

/* Each uprobe holds a descriptor, 15 per libssl per target process (a
 * server with 100 workers: 1500); the usual soft limit is 1024. */
static void raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) || r.rlim_cur >= r.rlim_max)
		return;
	r.rlim_cur = r.rlim_max;
	setrlimit(RLIMIT_NOFILE, &r);
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct app *a = ctx;
	const struct cs_event *e = data;

	if (size < sizeof(*e) ||
	    sizeof(*e) + e->head_len + e->tail_len + e->nframes * sizeof(struct cs_frame) > size)
		return 0;
	if (e->type == CS_EV_PROC_FORK) {
		live_add(a, e->tgid, slot_of(a, e->fd)); /* fd: the parent */
		tls_watch(a->tls, e->tgid, e->fd); /* it may exec a program with its own TLS */
	}
	else if (e->type == CS_EV_PROC_EXIT) {
		live_del(a, e->tgid);
		tls_forget(a->tls, e->tgid);
	}
	tracker_event(a->tracker, e, (const uint8_t *)data + sizeof(*e));
	/* a busy ring buffer never runs dry: stop consuming to see the
	 * signal, after this event, since libbpf has already stepped past it */
	if (exiting && !a->draining)
		return -EINTR;
	return 0;
}

/* A port the targets listen on: its sockets are adopted, and pass the
 * kernel's first filter (port_seen). */
static void add_listen_port(struct app *a, uint16_t port)
{
	__u32 idx = port;
	__u8 one = 1;

	bpf_map_update_elem(bpf_map__fd(a->skel->maps.port_seen), &idx, &one, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(a->skel->maps.listen_ports), &port, &one, BPF_ANY);
}

/* Adds pid's processes to the kernel's targets and its ports to listen_ports. */
static void add_target(struct app *a, pid_t pid, int slot)
{
	uint16_t ports[MAX_PORTS];
	size_t n = proc_listen_ports(pid, ports, MAX_PORTS), i;
	__u8 one = 1;
	__u32 key = pid;

	for (i = 0; i < n; i++)
		add_listen_port(a, ports[i]);
	bpf_map_update_elem(bpf_map__fd(a->skel->maps.targets), &key, &one, BPF_ANY);
	live_add(a, pid, slot);
}

/* Children of the targets; each counts under its root's slot. */
static void add_descendants(struct app *a)
{
	static pid_t kids[MAX_TARGETS];
	size_t nroots = a->nlive, r, n, i;

	for (r = 0; r < nroots && a->nlive < MAX_TARGETS; r++) {
		n = proc_descendants(&a->live[r], 1, kids, MAX_TARGETS - a->nlive);
		for (i = 0; i < n; i++)
			add_target(a, kids[i], a->live_slot[r]);
	}
}

/* Counts open connections by state per stats slot. */
struct open_count {
	struct app *a;
	struct stats_open open[STATS_MAX_TARGETS];
};

static void count_open(void *ctx, const struct tr_conn *c)
{
	struct open_count *oc = ctx;

	if (c->state <= CS_ST_CLOSED)
		oc->open[slot_of(oc->a, c->tgid)].by_state[c->state]++;
}

static void render_metrics(void *ctx, FILE *f)
{
	static struct open_count oc;
	struct app *a = ctx;
	struct tracker_totals t;
	struct stats_global g = {};

	memset(&oc, 0, sizeof(oc));
	oc.a = a;
	name_command(a);
	tracker_each_open(a->tracker, count_open, &oc);
	tracker_totals(a->tracker, &t);
	g.connections = t.conns;
	g.uncertain = t.uncertain;
	g.events_lost = loader_stat(a->skel, CS_STAT_LOST_EVENTS);
	g.stash_full = loader_stat(a->skel, CS_STAT_STASH_FULL);
	g.not_tracked = loader_stat(a->skel, CS_STAT_CONN_MAP_FULL);
	stats_prometheus(a->stats, oc.open, &g, f);
}

static void print_interval(struct app *a, uint64_t now)
{
	static struct open_count oc;

	memset(&oc, 0, sizeof(oc));
	oc.a = a;
	name_command(a);
	tracker_each_open(a->tracker, count_open, &oc);
	stats_interval(a->stats, oc.open, (double)(now - a->interval_start) / 1e9, a->cli.json,
		       stdout);
	a->interval_start = now;
}

/* --cgroup: one slot named after the cgroup; the ports its processes
 * listen on now, for connections that predate attach. */
static void add_cgroup(struct app *a)
{
	static pid_t procs[MAX_TARGETS];
	uint16_t ports[MAX_PORTS];
	const char *name = strrchr(a->cg.path, '/');
	size_t n = cgroup_pids(&a->cg, procs, MAX_TARGETS), i, k, np;

	stats_target(a->stats, 0, name ? name + 1 : a->cg.path);
	for (i = 0; i < n; i++) {
		np = proc_listen_ports(procs[i], ports, MAX_PORTS);
		for (k = 0; k < np; k++)
			add_listen_port(a, ports[k]);
	}
}

/* Whether what we trace is still there: a process, or the cgroup. */
static bool targets_remain(struct app *a)
{
	size_t i;

	if (a->cli.cgroup)
		return cgroup_exists(&a->cg);
	/* an exit event can be lost; /proc cannot */
	for (i = 0; i < a->nlive;)
		if (!proc_alive(a->live[i]))
			live_del(a, a->live[i]);
		else
			i++;
	return a->nlive;
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
	__u64 key, next, *prev;
	size_t n, i;

	/* in batches until the map is empty: a batch that fills ends[] is
	 * not the last */
	do {
		n = 0;
		prev = NULL;
		while (n < sizeof(ends) / sizeof(ends[0]) &&
		       !bpf_map_get_next_key(fd, prev, &next)) {
			key = next;
			prev = &key;
			if (!bpf_map_lookup_elem(fd, &key, &ends[n]))
				n++;
		}
		for (i = 0; i < n; i++)
			bpf_map_delete_elem(fd, &ends[i].gen);
		if (n)
			ring_buffer__consume(rb);
		for (i = 0; i < n; i++)
			tracker_end_unseen(a->tracker, ends[i].sk, &ends[i]);
	} while (n == sizeof(ends) / sizeof(ends[0]));
}

/* Whether the kernel still tracks the connection (sk, gen): after stop,
 * its map holds what was open at that instant. */
static bool kernel_has_conn(void *ctx, uint64_t sk, uint64_t gen)
{
	struct app *a = ctx;
	struct cs_conn_row row;
	struct cs_conn v;
	__u64 key = sk;
	__u32 r, i;
	int second;

	if (!a->skel->rodata->conn_table) {
		if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.conns), &key, &v))
			return false;
		return !gen || v.gen == gen;
	}
	/* the table of bpf/conns.h: the socket's first row, then its second */
	for (second = 0; second < 2; second++) {
		r = cs_conn_row_of(key, a->skel->rodata->conn_rows, second);
		if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.conn_keys), &r, &row))
			return false;
		for (i = 0; i < CS_CONN_WAYS; i++) {
			if (row.key[i] != key)
				continue;
			r = r * CS_CONN_WAYS + i;
			if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.conn_vals), &r, &v))
				return false;
			return !gen || v.gen == gen;
		}
	}
	return false;
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
		"connstate: %llu connections (%llu open), %llu requests, %llu events, %llu events lost, %llu syscalls not followed (stash full), %llu connections uncertain, %llu connections not tracked (map full), %llu connections ended unseen, %llu body reads and writes not copied\n",
		(unsigned long long)t.conns, (unsigned long long)t.open,
		(unsigned long long)t.requests,
		(unsigned long long)loader_stat(a->skel, CS_STAT_EVENTS),
		(unsigned long long)loader_stat(a->skel, CS_STAT_LOST_EVENTS),
		(unsigned long long)loader_stat(a->skel, CS_STAT_STASH_FULL),
		(unsigned long long)t.uncertain,
		(unsigned long long)loader_stat(a->skel, CS_STAT_CONN_MAP_FULL),
		(unsigned long long)t.ended_unseen,
		(unsigned long long)loader_stat(a->skel, CS_STAT_UNCOPIED));
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

		err = ring_buffer__poll(rb, tls_wait_ms(a->tls, POLL_MS));
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
		metrics_poll(a->metrics);
		/* libraries of new processes, and of dlopen */
		tls_tick(a->tls, a->live, a->nlive);
		tls_stop = tls_stop_word(a->tls);
		now = now_ns(CLOCK_MONOTONIC);
		if (a->cli.interval && now - a->interval_start >= a->cli.interval * 1000000000ull) {
			print_interval(a, now);
			fflush(stdout);
		}
		if (now - last_check < 250000000ull)
			continue;
		last_check = now;
		check_lost(a);
		if (a->lost_told)
			drain_unseen_ends(a, rb);
		if (!targets_remain(a)) {
			fprintf(stderr, a->cli.cgroup ? "connstate: the cgroup was removed\n" :
							 "connstate: every target process has exited\n");
			break;
		}
	}
	/* no new events after this (the signal handler did it already); what
	 * was seen is finished, what was open then is told open */
	*stop_word = 1;
	if (tls_stop)
		*tls_stop = 1;
	loader_detach(a->skel);
	a->draining = true;
	ring_buffer__consume(rb);
	check_lost(a);
	drain_unseen_ends(a, rb);
	/* an end lost where "unseen_ends" had no room */
	tracker_reconcile(a->tracker, kernel_has_conn, a, now_ns(CLOCK_MONOTONIC));
	if (!a->cli.quiet)
		tracker_each_open(a->tracker, print_open, a);
	fflush(stdout);
	summary(a);
	if (tls_stop && loader_stat(a->skel, CS_STAT_TLS_UNTIED))
		fprintf(stderr,
			"connstate: %llu TLS reads/writes of the targets were on no connection we track (not followed)\n",
			(unsigned long long)loader_stat(a->skel, CS_STAT_TLS_UNTIED));
	if (loader_stat(a->skel, CS_STAT_IO_UNREAD))
		fprintf(stderr,
			"connstate: %llu socket calls of tracked connections came through syscalls connstate cannot read (recvmmsg, sendmmsg, splice out of a socket, io_uring, ia32): those connections are marked uncertain\n",
			(unsigned long long)loader_stat(a->skel, CS_STAT_IO_UNREAD));
	ring_buffer__free(rb);
	/* last: the TLS programs send nothing once stopping is set, and
	 * their uprobes take seconds to detach where there are many */
	tls_detach_behind(a->tls);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct app app;
	struct loader_opts lo = {};
	struct sigaction sa = { .sa_handler = on_signal };
	char pids[256] = "";
	int i, nprogs, ncpu, rc = 1, release_fd = -1, status;

	setvbuf(stdout, NULL, _IOFBF, 1 << 16); /* flushed after each batch */
	if (cli_parse(&app.cli, argc, argv))
		return 2;
	verbose = app.cli.verbose;
	libbpf_set_print(print_libbpf);
	/* before loading, which can take seconds: a SIGINT sent meanwhile
	 * stops us at the run loop's start instead of being lost (a shell
	 * starts background jobs with SIGINT ignored) or killing us mid-attach */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	raise_nofile();
	for (i = 0; i < app.cli.npids; i++) {
		pid_t tgid = proc_tgid(app.cli.pids[i]);
		char err[512];

		if (tgid < 0) {
			fprintf(stderr, "connstate: no such process: %d\n", app.cli.pids[i]);
			return 1;
		}
		if (pid_check_host(tgid, err, sizeof(err))) {
			fprintf(stderr, "connstate: %s\n", err);
			return 1;
		}
		if (tgid != app.cli.pids[i])
			fprintf(stderr, "connstate: %d is a thread of process %d: watching %d\n",
				app.cli.pids[i], tgid, tgid);
		app.cli.pids[i] = tgid;
	}
	if (app.cli.cgroup) {
		char err[512];

		if (cgroup_resolve(app.cli.cgroup, &app.cg, err, sizeof(err))) {
			fprintf(stderr, "connstate: invalid --cgroup '%s': %s\n", app.cli.cgroup, err);
			return 2;
		}
	}
	app.stats = stats_new();
	if (!app.stats) {
		fprintf(stderr, "connstate: failed to allocate the statistics\n");
		return 1;
	}
	/* bound before anything is attached: a busy port is a clean failure */
	if (app.cli.metrics) {
		struct sockaddr_storage ss;
		socklen_t len;
		char err[256];

		metrics_parse_addr(app.cli.metrics, &ss, &len);
		app.metrics = metrics_start(&ss, len, render_metrics, &app, err, sizeof(err));
		if (!app.metrics) {
			fprintf(stderr, "connstate: failed to serve metrics on %s: %s\n",
				app.cli.metrics, err);
			return 1;
		}
	}
	lo.btf_path = app.cli.btf_path;
	lo.ring_bytes = app.cli.ring_mib << 20;
	/* counted per CPU in the BPF side (bpf/wake.h) */
	ncpu = libbpf_num_possible_cpus();
	lo.wakeup_bytes = wake_share(lo.ring_bytes, sysconf(_SC_NPROCESSORS_ONLN), ncpu);
	lo.max_conns = app.cli.max_conns;
	lo.verbose = app.cli.verbose;
	lo.hooks = !app.cli.hooks || !strcmp(app.cli.hooks, "auto") ? LOADER_HOOKS_AUTO :
		   !strcmp(app.cli.hooks, "raw")			 ? LOADER_HOOKS_RAW :
		   !strcmp(app.cli.hooks, "socket")		 ? LOADER_HOOKS_SOCKET :
		   !strcmp(app.cli.hooks, "sock-tracepoints")	 ? LOADER_HOOKS_SOCK_TP :
									   LOADER_HOOKS_TRACEPOINTS;
	lo.cgroup_id = app.cg.id;
	lo.cgroup_level = app.cg.level;
	app.skel = loader_load(&lo);
	if (!app.skel) {
		metrics_stop(app.metrics);
		return 1;
	}
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

	if (app.cli.command) {
		/* held before exec until every probe is attached */
		app.child = spawn_held(app.cli.command, &release_fd);
		if (app.child < 0) {
			fprintf(stderr, "connstate: failed to start the command: %s\n",
				strerror(errno));
			goto out;
		}
		app.cli.pids[app.cli.npids++] = app.child;
	}
	for (i = 0; i < app.cli.npids; i++)
		add_target(&app, app.cli.pids[i], new_slot(&app, app.cli.pids[i]));
	if (app.cli.cgroup)
		add_cgroup(&app);
	add_descendants(&app);
	nprogs = loader_attach(app.skel);
	if (nprogs >= 0) {
		/* children forked while we attached */
		add_descendants(&app);
		/* -c: its server is about to start; no time to load then */
		app.tls = tls_new(app.skel, verbose, app.child > 0, !app.cli.cgroup);
		if (app.cli.cgroup) {
			/* the libraries its processes map now; a process that
			 * joins later shares them, or is not followed over TLS */
			static pid_t procs[MAX_TARGETS];
			size_t n = cgroup_pids(&app.cg, procs, MAX_TARGETS);

			nprogs += tls_scan(app.tls, procs, n);
		} else {
			/* -c's command is still our image: scanned once it runs */
			nprogs += tls_scan(app.tls, app.live, app.nlive);
		}
		tls_stop = tls_stop_word(app.tls);
		for (i = 0; i < app.cli.npids; i++)
			snprintf(pids + strlen(pids), sizeof(pids) - strlen(pids), "%s%d",
				 i ? "," : "", app.cli.pids[i]);
		if (app.cli.cgroup)
			fprintf(stderr, "connstate: attached %d probes to cgroup %s\n", nprogs,
				app.cg.path);
		else
			fprintf(stderr, "connstate: attached %d probes to %zu processes (pid %s)\n",
				nprogs, app.nlive, pids);
		app.interval_start = now_ns(CLOCK_MONOTONIC);
		if (app.child) {
			spawn_release(release_fd);
			tls_watch(app.tls, app.child, getpid());
		}
		release_fd = -1;
		rc = run(&app);
		if (app.cli.interval)
			print_interval(&app, now_ns(CLOCK_MONOTONIC));
		fflush(stdout);
	}
out:
	if (release_fd >= 0) {
		/* the command never ran: it exits at EOF on its pipe */
		close(release_fd);
		waitpid(app.child, NULL, 0);
	}
	/* -c: exit as the command did, if it has ended */
	if (app.child && rc == 0 && waitpid(app.child, &status, WNOHANG) == app.child)
		rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	tracker_free(app.tracker);
	tls_free(app.tls);
	connstate_bpf__destroy(app.skel);
	metrics_stop(app.metrics);
	stats_free(app.stats);
	return rc;
}
