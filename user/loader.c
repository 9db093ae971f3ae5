// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "connstate.h"
#include "connstate.skel.h"
#include "links.h"
#include "loader.h"

#define CAP_PERFMON_BIT 38
#define CAP_BPF_BIT 39
#define CAP_SYS_ADMIN_BIT 21

/* Where tp_io_exit is attached: one sys_exit per read- or write-like
 * syscall that has a tp_enter_* program. */
static const char *const io_exits[] = {
	"sys_exit_read",   "sys_exit_readv",   "sys_exit_recvfrom",
	"sys_exit_recvmsg", "sys_exit_write",   "sys_exit_writev",
	"sys_exit_sendto", "sys_exit_sendmsg", "sys_exit_sendfile64", "sys_exit_splice",
};
#define N_IO_EXITS (sizeof(io_exits) / sizeof(io_exits[0]))

/* The links of tp_io_exit; the skeleton holds one link per program. */
static struct bpf_link *io_exit_links[N_IO_EXITS];
/* The syscalls go through raw_sys_enter/raw_sys_exit, not tracepoint/syscalls/ */
static bool raw_hooks;
/* The socket calls go through the fentry/fexit programs: no syscall hook */
static bool socket_hooks;
/* Reads and writes go through the sock tracepoints: no read/write syscall hook */
static bool socktp_hooks;

/*
 * -v: how long loading (the verifier), attaching and detaching took, all in
 * connstate's own process context, where a slow kernel step would hold a
 * CPU (README, Supported kernels). CONNSTATE_VERIFIER_STATS=1 adds each
 * program's verification time and processed instructions from the
 * kernel's statistics (log level 4, Linux 5.2+): an environment switch,
 * not part of -v, because at level 4 a failed load would not print the
 * full verifier log that -v promises.
 */
static bool timing;
/*
 * A log that fills up fails the load (ENOSPC): 4 KiB did so on 6.18 for
 * tp_io_exit, although the statistics it returns are 162 bytes.
 */
#define STATS_LOG_SIZE 65536
static char *stats_logs;

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void stats_request(struct bpf_object *obj)
{
	struct bpf_program *prog;
	size_t n = 0;

	if (!getenv("CONNSTATE_VERIFIER_STATS"))
		return;
	bpf_object__for_each_program(prog, obj)
		n++;
	stats_logs = calloc(n, STATS_LOG_SIZE);
	if (!stats_logs)
		return;
	n = 0;
	bpf_object__for_each_program(prog, obj) {
		bpf_program__set_log_buf(prog, stats_logs + n++ * STATS_LOG_SIZE, STATS_LOG_SIZE);
		bpf_program__set_log_level(prog, 4);
	}
}

/* One line per loaded program: "verification time N usec", "processed N insns" */
static void stats_print(struct bpf_object *obj)
{
	struct bpf_program *prog;
	size_t n = 0;

	bpf_object__for_each_program(prog, obj) {
		const char *log = stats_logs + n++ * STATS_LOG_SIZE, *t, *p;

		if (!bpf_program__autoload(prog))
			continue;
		t = strstr(log, "verification time ");
		p = strstr(log, "processed ");
		fprintf(stderr,
			"connstate: verified %s in %ld us, %ld insns processed, %zu insns\n",
			bpf_program__name(prog), t ? strtol(t + 18, NULL, 10) : -1L,
			p ? strtol(p + 10, NULL, 10) : -1L, bpf_program__insn_cnt(prog));
	}
}

static bool is_syscall_tp(const struct bpf_program *prog)
{
	return !strncmp(bpf_program__section_name(prog), "tracepoint/syscalls/", 20);
}

static bool is_socket_hook(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	return !strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6);
}

static const char *const tracefs_dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

/* The kernel that first had each tracepoint we need, for the error text. */
static const struct {
	const char *tp;
	const char *since;
} tp_since[] = {
	{ "sock/inet_sock_set_state", "4.16" },
	{ "tcp/tcp_destroy_sock", "4.15" },
	{ "sched/sched_process_exit", "2.6.32" },
};

static bool cap_has(const struct __user_cap_data_struct d[2], int bit)
{
	return d[bit / 32].effective & (1u << (bit % 32));
}

static int check_privileges(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	bool admin, bpf, perfmon;

	if (syscall(SYS_capget, &h, d)) {
		fprintf(stderr, "connstate: failed to read capabilities: %s\n", strerror(errno));
		return -1;
	}
	admin = cap_has(d, CAP_SYS_ADMIN_BIT);
	bpf = admin || cap_has(d, CAP_BPF_BIT);
	perfmon = admin || cap_has(d, CAP_PERFMON_BIT);
	if (bpf && perfmon)
		return 0;
	fprintf(stderr,
		"connstate: not permitted: run as root, or grant CAP_BPF and CAP_PERFMON (missing:%s%s)\n",
		bpf ? "" : " CAP_BPF", perfmon ? "" : " CAP_PERFMON");
	return -1;
}

/* The tracefs events directory; mounts tracefs where nothing did yet. */
static const char *tracefs_events(void)
{
	static char path[64];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events", tracefs_dirs[i]);
		if (!access(path, F_OK))
			return path;
	}
	if (!mount("tracefs", tracefs_dirs[0], "tracefs", 0, NULL)) {
		snprintf(path, sizeof(path), "%s/events", tracefs_dirs[0]);
		return path;
	}
	return NULL;
}

static const char *since_of(const char *tp)
{
	size_t i;

	for (i = 0; i < sizeof(tp_since) / sizeof(tp_since[0]); i++)
		if (!strcmp(tp_since[i].tp, tp))
			return tp_since[i].since;
	return NULL;
}

/* Every classic tracepoint a program of ours needs must exist. */
static int check_tracepoints(struct bpf_object *obj)
{
	const char *events = tracefs_events();
	struct bpf_program *prog;
	struct utsname u;

	if (!events) {
		fprintf(stderr,
			"connstate: failed to find tracefs: mount it at /sys/kernel/tracing (mount -t tracefs tracefs /sys/kernel/tracing)\n");
		return -1;
	}
	uname(&u);
	for (size_t i = 0; i < N_IO_EXITS && !raw_hooks && !socket_hooks && !socktp_hooks; i++) {
		char path[256];

		snprintf(path, sizeof(path), "%s/syscalls/%s", events, io_exits[i]);
		if (access(path, F_OK)) {
			fprintf(stderr, "connstate: kernel %s lacks tracepoint syscalls/%s\n",
				u.release, io_exits[i]);
			return -1;
		}
	}
	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);
		const char *tp = strchr(sec, '/'), *since;
		char path[256];

		if (strncmp(sec, "tracepoint/", 11) || !tp || !bpf_program__autoload(prog))
			continue;
		tp++;
		snprintf(path, sizeof(path), "%s/%s", events, tp);
		if (!access(path, F_OK))
			continue;
		since = since_of(tp);
		fprintf(stderr, "connstate: kernel %s lacks tracepoint %s%s%s%s\n", u.release, tp,
			since ? " (Linux " : "", since ? since : "", since ? "+ has it)" : "");
		return -1;
	}
	return 0;
}

static bool btf_has_member(const struct btf *btf, const char *type, const char *member)
{
	__s32 id = btf ? btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT) : -1;
	const struct btf_type *t;
	const struct btf_member *m;
	int i;

	if (id < 0)
		return false;
	t = btf__type_by_id(btf, id);
	m = btf_members(t);
	for (i = 0; i < btf_vlen(t); i++, m++)
		if (!strcmp(btf__name_by_offset(btf, m->name_off), member))
			return true;
	return false;
}

static bool btf_has_type(const char *btf_path, const char *name, __u32 kind)
{
	struct btf *btf = btf_path ? btf__parse(btf_path, NULL) : btf__load_vmlinux_btf();
	bool has = btf && btf__find_by_name_kind(btf, name, kind) >= 0;

	btf__free(btf);
	return has;
}

/* The kernel functions the socket hooks attach to (bpf/connstate.bpf.c);
 * tcp_sendpage (sendfile up to 6.4) only where it exists. */
static const char *const socket_funcs[] = {
	"tcp_recvmsg", "tcp_sendmsg", "inet_accept", "inet_release", "inet_shutdown",
};

/*
 * Whether the kernel takes fentry programs on the socket functions: each
 * must be in its BTF, and a two-instruction fentry program must load (our
 * 6.18 machines refuse fentry with EPERM). Loading is all the probe does:
 * attaching a trampoline and taking it down again costs an RCU grace
 * period. On failure, why says what was missing, for -v or the error.
 */
static bool socket_hooks_usable(const struct loader_opts *o, bool *sendpage, __u32 *recv_nargs,
				char *why, size_t n)
{
	struct bpf_insn prog[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct btf *btf;
	int fd, id = -1;
	size_t i;

	if (o->btf_path) {
		snprintf(why, n, "they need the kernel's own BTF, not --btf");
		return false;
	}
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		snprintf(why, n, "no kernel BTF");
		return false;
	}
	for (i = 0; i < sizeof(socket_funcs) / sizeof(socket_funcs[0]); i++) {
		id = btf__find_by_name_kind(btf, socket_funcs[i], BTF_KIND_FUNC);
		if (id < 0) {
			snprintf(why, n, "no function %s in the kernel's BTF", socket_funcs[i]);
			btf__free(btf);
			return false;
		}
	}
	*sendpage = btf__find_by_name_kind(btf, "tcp_sendpage", BTF_KIND_FUNC) >= 0;
	/* tcp_recvmsg: 6 arguments up to 5.18, 5 in 6.12, 4 in 6.18 */
	id = btf__find_by_name_kind(btf, "tcp_recvmsg", BTF_KIND_FUNC);
	*recv_nargs = btf_vlen(btf__type_by_id(btf, btf__type_by_id(btf, id)->type));
	if (*recv_nargs < 4 || *recv_nargs > 6) {
		snprintf(why, n, "tcp_recvmsg has %u arguments, not 4 to 6", *recv_nargs);
		btf__free(btf);
		return false;
	}
	btf__free(btf);
	LIBBPF_OPTS(bpf_prog_load_opts, po, .expected_attach_type = BPF_TRACE_FENTRY,
		    .attach_btf_id = id);
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "cs_probe", "GPL", prog, 2, &po);
	if (fd < 0) {
		snprintf(why, n, "fentry refused (%s; needs BPF trampolines: Linux 5.5+ with CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS)",
			 strerror(-fd));
		return false;
	}
	close(fd);
	return true;
}

/*
 * Whether the sock tracepoints serve here: sock_recv_length and
 * sock_send_length as BTF tracepoints (6.3+; 6.12 and 6.18 have them, 6.1
 * not), whose programs read the socket and the syscall's registers
 * through bpf_rdonly_cast (6.2+, older than the tracepoints; a kernel with
 * the tracepoints backported may lack it).
 */
static bool socktp_usable(const struct loader_opts *o, char *why, size_t n)
{
	struct btf *btf;
	bool tps, cast;

	if (o->btf_path) {
		snprintf(why, n, "they need the kernel's own BTF, not --btf");
		return false;
	}
	btf = btf__load_vmlinux_btf();
	tps = btf && btf__find_by_name_kind(btf, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) >= 0 &&
	      btf__find_by_name_kind(btf, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) >= 0;
	cast = btf && btf__find_by_name_kind(btf, "bpf_rdonly_cast", BTF_KIND_FUNC) >= 0;
	btf__free(btf);
	if (!tps)
		snprintf(why, n, "no tracepoints sock_recv_length/sock_send_length (Linux 6.3+ has them)");
	else if (!cast)
		snprintf(why, n, "no kfunc bpf_rdonly_cast (Linux 6.2+ has it)");
	return tps && cast;
}

/*
 * The raw sys_enter/sys_exit programs only where asked for: they spare
 * every other syscall on the host the perf record a tracepoint/syscalls/
 * program costs, but run for every syscall number, and on 6.18 that cost
 * more than it saved (README, Performance). Only the chosen set is loaded.
 */
static int choose_hooks(struct connstate_bpf *skel, const struct loader_opts *o,
			const char *release)
{
	struct bpf_program *prog;
	bool sendpage = false;
	__u32 recv_nargs = 5;
	char why[192] = "", why_tp[160] = "";

	socket_hooks = false;
	if ((o->hooks == LOADER_HOOKS_SOCKET || o->hooks == LOADER_HOOKS_AUTO) &&
	    !(socket_hooks = socket_hooks_usable(o, &sendpage, &recv_nargs, why, sizeof(why))) &&
	    o->hooks == LOADER_HOOKS_SOCKET) {
		fprintf(stderr, "connstate: kernel %s cannot take the socket hooks: %s: use --hooks=tracepoints\n",
			release, why);
		return -1;
	}
	socktp_hooks = false;
	if ((o->hooks == LOADER_HOOKS_SOCK_TP || (o->hooks == LOADER_HOOKS_AUTO && !socket_hooks)) &&
	    !(socktp_hooks = socktp_usable(o, why_tp, sizeof(why_tp))) &&
	    o->hooks == LOADER_HOOKS_SOCK_TP) {
		fprintf(stderr, "connstate: kernel %s cannot take the sock tracepoints: %s: use --hooks=tracepoints\n",
			release, why_tp);
		return -1;
	}
	/* parsing BTF takes milliseconds: only when raw is asked for */
	if (o->hooks == LOADER_HOOKS_RAW &&
	    !btf_has_type(o->btf_path, "btf_trace_sys_enter", BTF_KIND_TYPEDEF)) {
		fprintf(stderr,
			"connstate: kernel %s lacks the BTF tracepoints sys_enter/sys_exit (Linux 5.5+ with BTF has them): use --hooks=tracepoints\n",
			release);
		return -1;
	}
	raw_hooks = o->hooks == LOADER_HOOKS_RAW;
	bpf_object__for_each_program(prog, skel->obj) {
		if (((raw_hooks || socket_hooks || socktp_hooks) && is_syscall_tp(prog)) ||
		    (!socket_hooks && is_socket_hook(prog)))
			bpf_program__set_autoload(prog, false);
	}
	if (!raw_hooks) {
		bpf_program__set_autoload(skel->progs.raw_sys_enter, false);
		bpf_program__set_autoload(skel->progs.raw_sys_exit, false);
	}
	if (!socktp_hooks) {
		bpf_program__set_autoload(skel->progs.sk_recv_length, false);
		bpf_program__set_autoload(skel->progs.sk_send_length, false);
	}
	/* the state and destroy tracepoints as BTF ones where the set in use
	 * needs the kernel's BTF anyway: no trace record is built for them */
	bpf_program__set_autoload(skel->progs.tp_set_state, !socket_hooks && !socktp_hooks);
	bpf_program__set_autoload(skel->progs.tp_destroy_sock, !socket_hooks && !socktp_hooks);
	bpf_program__set_autoload(skel->progs.bt_set_state, socket_hooks);
	bpf_program__set_autoload(skel->progs.bt_destroy_sock, socket_hooks);
	bpf_program__set_autoload(skel->progs.st_set_state, socktp_hooks);
	bpf_program__set_autoload(skel->progs.st_destroy_sock, socktp_hooks);
	if (!sendpage) {
		bpf_program__set_autoload(skel->progs.fe_tcp_sendpage, false);
		bpf_program__set_autoload(skel->progs.fx_tcp_sendpage, false);
	}
	skel->rodata->raw_hooks = raw_hooks;
	skel->rodata->socket_hooks = socket_hooks;
	skel->rodata->socktp_hooks = socktp_hooks;
	if (socket_hooks) {
		/* the tcp_recvmsg programs for this kernel's signature only */
		bpf_program__set_autoload(skel->progs.fe_tcp_recvmsg, recv_nargs < 6);
		bpf_program__set_autoload(skel->progs.fx_tcp_recvmsg4, recv_nargs == 4);
		bpf_program__set_autoload(skel->progs.fx_tcp_recvmsg, recv_nargs == 5);
		bpf_program__set_autoload(skel->progs.fe_tcp_recvmsg_nb, recv_nargs == 6);
		bpf_program__set_autoload(skel->progs.fx_tcp_recvmsg_nb, recv_nargs == 6);
	}
	if (!o->verbose)
		return 0;
	if (socket_hooks)
		fprintf(stderr,
			"connstate: syscall hooks: socket (fentry/fexit on tcp_recvmsg, tcp_sendmsg%s, inet_accept, inet_release, inet_shutdown)\n",
			sendpage ? ", tcp_sendpage" : "");
	else if (socktp_hooks)
		fprintf(stderr,
			"connstate: syscall hooks: sock-tracepoints (tp_btf/sock_recv_length, tp_btf/sock_send_length; no syscall tracepoint)%s%s\n",
			o->hooks == LOADER_HOOKS_AUTO ? "; auto: no socket hooks: " : "",
			o->hooks == LOADER_HOOKS_AUTO ? why : "");
	else
		fprintf(stderr, "connstate: syscall hooks: %s%s%s%s%s\n",
			raw_hooks ? "raw (tp_btf/sys_enter, tp_btf/sys_exit)" :
				    "tracepoints (tracepoint/syscalls/sys_{enter,exit}_*)",
			o->hooks == LOADER_HOOKS_AUTO ? "; auto: no socket hooks: " : "",
			o->hooks == LOADER_HOOKS_AUTO ? why : "",
			o->hooks == LOADER_HOOKS_AUTO ? "; no sock tracepoints: " : "",
			o->hooks == LOADER_HOOKS_AUTO ? why_tp : "");
	return 0;
}

/* The paths CO-RE picks on this kernel, for -v and for bug reports. */
static void print_paths(const struct loader_opts *o, const char *release, bool task_btf)
{
	struct btf *btf = o->btf_path ? btf__parse(o->btf_path, NULL) : btf__load_vmlinux_btf();

	fprintf(stderr,
		"connstate: kernel %s: descriptor walk via %s; last-close check via %s; process exit via %s\n",
		release, task_btf ? "BTF pointer loads (5.11+)" : "probe reads",
		btf_has_member(btf, "file", "f_ref") ? "file->f_ref (6.13+)" : "file->f_count",
		btf_has_member(btf, "trace_event_raw_sched_process_exit", "group_dead") ?
			"group_dead" : "the group leader's exit");
	btf__free(btf);
}

/*
 * Room for max connections: under the sock tracepoints in the table of
 * bpf/conns.h, its rows' ways a third free at max (a socket whose two rows
 * are full is counted as no room, as a full hash is); else in the hash.
 * The store not in use gets one entry.
 */
static void size_conns(struct connstate_bpf *skel, __u32 max)
{
	__u64 rows = ((__u64)max * 3 / 2 + CS_CONN_WAYS - 1) / CS_CONN_WAYS;

	if (!socktp_hooks) {
		bpf_map__set_max_entries(skel->maps.conns, max);
		return;
	}
	bpf_map__set_max_entries(skel->maps.conns, 1);
	bpf_map__set_max_entries(skel->maps.conn_keys, rows);
	bpf_map__set_max_entries(skel->maps.conn_vals, rows * CS_CONN_WAYS);
	skel->rodata->conn_table = true;
	skel->rodata->conn_rows = rows;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

struct connstate_bpf *loader_load(const struct loader_opts *opts)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = opts->btf_path);
	struct loader_opts fallback = *opts;
	const struct loader_opts *o = opts;
	libbpf_print_fn_t old_print = NULL;
	struct connstate_bpf *skel;
	struct timespec t0;
	struct utsname u;
	bool quiet;
	int err;

	timing = o->verbose;
	if (check_privileges())
		return NULL;
	uname(&u);
	if (o->btf_path && access(o->btf_path, R_OK)) {
		fprintf(stderr, "connstate: failed to read BTF file %s: %s\n", o->btf_path,
			strerror(errno));
		return NULL;
	}
	if (!o->btf_path && access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr,
			"connstate: kernel %s has no BTF (/sys/kernel/btf/vmlinux missing; needs CONFIG_DEBUG_INFO_BTF, Linux 5.5+): pass one with --btf FILE\n",
			u.release);
		return NULL;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		fprintf(stderr, "connstate: kernel %s lacks the BPF ring buffer (Linux 5.8+ has it)\n",
			u.release);
		return NULL;
	}
again:
	skel = connstate_bpf__open_opts(&oo);
	if (!skel) {
		fprintf(stderr, "connstate: failed to open BPF object: %s\n", strerror(errno));
		return NULL;
	}
	if (choose_hooks(skel, o, u.release) || check_tracepoints(skel->obj))
		goto fail;
	bpf_map__set_max_entries(skel->maps.events, o->ring_bytes);
	skel->rodata->wakeup_bytes = o->wakeup_bytes;
	skel->rodata->have_task_btf =
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_task_btf,
					NULL) == 1;
	if (o->verbose)
		print_paths(o, u.release, skel->rodata->have_task_btf);
	size_conns(skel, o->max_conns);
	skel->rodata->target_cgroup = o->cgroup_id;
	skel->rodata->target_cgroup_level = o->cgroup_level;
	stats_request(skel->obj);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* auto: a socket set the verifier refuses falls back below, with a
	 * line of our own instead of libbpf's log (-v still shows it) */
	quiet = (socket_hooks || socktp_hooks) && o->hooks == LOADER_HOOKS_AUTO && !o->verbose;
	if (quiet)
		old_print = libbpf_set_print(quiet_print);
	err = connstate_bpf__load(skel);
	if (quiet)
		libbpf_set_print(old_print);
	if (err && (socket_hooks || socktp_hooks) && o->hooks == LOADER_HOOKS_AUTO) {
		fprintf(stderr,
			"connstate: warning: kernel %s refused the %s (%s): using the syscall tracepoints\n",
			u.release, socket_hooks ? "socket hooks" : "sock tracepoints", strerror(-err));
		free(stats_logs);
		stats_logs = NULL;
		connstate_bpf__destroy(skel);
		fallback.hooks = LOADER_HOOKS_TRACEPOINTS;
		o = &fallback;
		goto again;
	}
	if (timing && !err)
		fprintf(stderr, "connstate: loaded the BPF programs in %.1f ms\n", ms_since(&t0));
	if (stats_logs && !err)
		stats_print(skel->obj);
	free(stats_logs); /* stats_print's, or the one a failed load left */
	stats_logs = NULL;
	if (err) {
		fprintf(stderr,
			"connstate: failed to load BPF programs on kernel %s: %s (run with -v for the verifier log)\n",
			u.release, strerror(-err));
		goto fail;
	}
	return skel;
fail:
	connstate_bpf__destroy(skel);
	return NULL;
}

/*
 * Half attached is worse than not at all: the probes made so far would
 * tax every syscall on the host for nothing until the process is gone.
 */
static int attach_failed(struct connstate_bpf *skel, int made)
{
	loader_detach(skel);
	fprintf(stderr, "connstate: detached the %d probes attached before the failure\n", made);
	return -1;
}

int loader_attach(struct connstate_bpf *skel)
{
	const struct bpf_object_skeleton *s = skel->skeleton;
	struct timespec t0;
	int i, n = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* links go where the skeleton's destroy, or loader_detach, frees them */
	for (i = 0; i < s->prog_cnt; i++) {
		struct bpf_program *prog = *s->progs[i].prog;
		struct bpf_link *link;

		if (prog == skel->progs.tp_io_exit || !bpf_program__autoload(prog))
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			fprintf(stderr, "connstate: failed to attach %s: %s\n",
				bpf_program__section_name(prog), strerror(errno));
			return attach_failed(skel, n);
		}
		*s->progs[i].link = link;
		n++;
	}
	for (i = 0; i < (int)N_IO_EXITS && !raw_hooks && !socket_hooks && !socktp_hooks; i++) {
		io_exit_links[i] =
			bpf_program__attach_tracepoint(skel->progs.tp_io_exit, "syscalls", io_exits[i]);
		if (!io_exit_links[i]) {
			fprintf(stderr, "connstate: failed to attach tracepoint syscalls/%s: %s\n",
				io_exits[i], strerror(errno));
			return attach_failed(skel, n);
		}
		n++;
	}
	if (timing)
		fprintf(stderr, "connstate: attach took %.1f ms (%d probes)\n", ms_since(&t0), n);
	return n;
}

void loader_detach(struct connstate_bpf *skel)
{
	const struct bpf_object_skeleton *s = skel->skeleton;
	struct bpf_link *all[N_IO_EXITS + 64];
	struct timespec t0;
	size_t i, n = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < N_IO_EXITS; i++) {
		all[n++] = io_exit_links[i];
		io_exit_links[i] = NULL;
	}
	for (i = 0; i < (size_t)s->prog_cnt && n < sizeof(all) / sizeof(all[0]); i++) {
		all[n++] = *s->progs[i].link;
		*s->progs[i].link = NULL;
	}
	links_destroy(all, n);
	connstate_bpf__detach(skel); /* whatever did not fit above */
	if (timing)
		fprintf(stderr, "connstate: detach took %.1f ms\n", ms_since(&t0));
}

uint64_t loader_stat(struct connstate_bpf *skel, uint32_t idx)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t sum = 0, *vals;

	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &idx, vals))
		for (i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

void loader_skip(struct connstate_bpf *skel, uint64_t sk, uint64_t gen, const uint64_t until[2])
{
	struct cs_skip v = { .gen = gen, .until = { until[0], until[1] } };

	bpf_map_update_elem(bpf_map__fd(skel->maps.skips), &sk, &v, BPF_ANY);
}
