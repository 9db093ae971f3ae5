// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "connstate.skel.h"
#include "tls.skel.h"
#include "links.h"
#include "proc.h"
#include "tls.h"
#include "tls_go.h"

/* uprobes per library: 4 data calls x 2, 3 marking calls x 2, SSL_free */
#define LIB_LINKS 15
/* Each uprobe's detach waits for a grace period under a kernel-wide lock
 * (perf_uprobe_destroy: event_mutex), about 100 ms here, one at a time
 * whatever the threads: up to this many are detached before we exit,
 * more by a child left behind (tls_detach_behind) */
#define DETACH_INLINE 15
/* Go: entries, every RET of three functions, two per park point */
#define MAX_GO_LINKS 512
/* Files looked at (libssl, executables), probed or not: each is looked at once */
#define MAX_FILES 512
/* Processes new to us (forked, or -c's command) scanned on a short schedule */
#define MAX_FRESH 1024
/* A new process is scanned after 10 ms, then 20, 40 ... 1280 ms; one that
 * runs another program than its parent (it exec'd) at every tick for its
 * first 300 ms: a program maps its libraries in its first tens of ms
 * (python3's libssl: 21 ms after exec, listening at 44-72 ms, measured);
 * a later dlopen is the sweep's */
#define FRESH_FIRST_MS 10
#define FRESH_LAST_MS 1280
#define FRESH_EXEC_NS 300000000ull
/* Every live target's maps are read again once per sweep, for dlopen */
#define SWEEP_NS 2000000000ull
/* At most this much /proc reading per tick, ticks at least this far apart */
#define TICK_BUDGET_NS 1000000ull
#define TICK_NS 10000000ull

/* A file, as the kernel knows it: one file under two paths is one; a
 * file replaced on disk (a package upgrade) is another. */
struct file_key {
	unsigned long maj, min, ino;
};

/* A file holding OpenSSL's SSL_* functions: a libssl, or an executable
 * with OpenSSL linked in. */
struct lib {
	char path[512];	   /* as the target maps it, for messages */
	char open[600];	   /* through /proc/PID/root: the target's view */
	struct file_key key;
	pid_t pid;
	bool in_exe;	   /* OpenSSL linked into the executable */
	bool go;	   /* a Go program: its crypto/tls */
};

/* A library's uprobes, for one process (pid -1: every process mapping it) */
struct probed {
	pid_t pid;
	uint64_t start; /* pid's start time: a reused pid is another process */
	struct file_key key;
	struct bpf_link *links[LIB_LINKS];
	int n;
};

struct fresh {
	pid_t pid;
	unsigned int delay_ms; /* until the scan after the next */
	uint64_t due;
	uint64_t exec_until; /* scanned every tick until then */
	struct file_key exe; /* the program it ran when last looked at */
};

struct tls {
	struct connstate_bpf *main;
	struct tls_bpf *skel; /* loaded at the first file to probe */
	bool load_failed, verbose, files_full_told, nofile_told;
	/* OpenSSL's uprobes per target process, not per file: see tls.h */
	bool per_process;
	struct file_key self; /* our own executable: -c's command before its exec */
	struct file_key files[MAX_FILES];
	size_t nfiles;
	struct fresh fresh[MAX_FRESH];
	size_t nfresh;
	size_t cursor; /* the sweep's place in the live targets */
	uint64_t sweep_start, last_tick;
	struct probed *probed;
	size_t nprobed, cap_probed;
	struct bpf_link *go_links[MAX_GO_LINKS];
	int ngo_links;
};
/* The calls probed; enter and exit name programs of tls.bpf.c. */
static const struct probe {
	const char *func;
	bool required; /* without it the library is not followed */
} probes[] = {
	{ "SSL_read", true },	    { "SSL_write", true },  { "SSL_read_ex", false },
	{ "SSL_write_ex", false },  { "SSL_do_handshake", false }, { "SSL_accept", false },
	{ "SSL_shutdown", false },  { "SSL_free", false },
};
#define N_PROBES (sizeof(probes) / sizeof(probes[0]))

static void progs_of(struct tls_bpf *s, size_t i, struct bpf_program **enter,
		     struct bpf_program **exit)
{
	struct bpf_program *const en[N_PROBES] = {
		s->progs.ssl_read_enter,    s->progs.ssl_write_enter, s->progs.ssl_read_ex_enter,
		s->progs.ssl_write_ex_enter, s->progs.ssl_other_enter, s->progs.ssl_other_enter,
		s->progs.ssl_other_enter,   s->progs.ssl_free_enter,
	};
	struct bpf_program *const ex[N_PROBES] = {
		s->progs.ssl_read_exit,	   s->progs.ssl_write_exit, s->progs.ssl_read_ex_exit,
		s->progs.ssl_write_ex_exit, s->progs.ssl_other_exit, s->progs.ssl_other_exit,
		s->progs.ssl_other_exit,   NULL,
	};

	*enter = en[i];
	*exit = ex[i];
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static bool same_file(const struct file_key *a, const struct file_key *b)
{
	return a->maj == b->maj && a->min == b->min && a->ino == b->ino;
}

static bool file_known(const struct tls *t, const struct file_key *k)
{
	size_t i;

	for (i = 0; i < t->nfiles; i++)
		if (same_file(&t->files[i], k))
			return true;
	return false;
}

/* Remembers a file looked at, so it is neither probed nor warned about twice. */
static void file_add(struct tls *t, const struct file_key *k)
{
	if (t->nfiles < MAX_FILES) {
		t->files[t->nfiles++] = *k;
		return;
	}
	if (!t->files_full_told)
		fprintf(stderr,
			"connstate: warning: more than %d distinct executables and libraries among the targets: later ones are not looked at for TLS\n",
			MAX_FILES);
	t->files_full_told = true;
}

static bool is_libssl(const char *path)
{
	const char *base = strrchr(path, '/');

	return !strncmp(base ? base + 1 : path, "libssl.so", 9);
}

/* Whether the file holds OpenSSL's version text ("OpenSSL 1." or "OpenSSL
 * 3."): an executable that maps no libssl and has it linked OpenSSL in. */
static bool has_openssl_text(const char *path)
{
	static const char *const marks[] = { "OpenSSL 1.", "OpenSSL 3." };
	struct stat st;
	bool yes = false;
	void *m;
	size_t i;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (fstat(fd, &st) || !st.st_size) {
		close(fd);
		return false;
	}
	m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return false;
	for (i = 0; i < 2 && !yes; i++)
		yes = memmem(m, st.st_size, marks[i], strlen(marks[i])) != NULL;
	munmap(m, st.st_size);
	return yes;
}

/* pid -1: in every process mapping file (the programs keep the targets'
 * calls); else in pid alone, whose threads share its memory: the kernel
 * puts the breakpoint in no other process (a fork of pid takes it out at
 * the child's first hit), so no other process pays a trap per call. */
static struct bpf_link *attach_one(struct bpf_program *prog, pid_t pid, const char *file,
				   const char *func, bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = func, .retprobe = ret);

	return bpf_program__attach_uprobe_opts(prog, pid, file, 0, &uo);
}

struct grave {
	struct bpf_link *links[LIB_LINKS];
	int n;
};

static void *destroy_grave(void *arg)
{
	struct grave *g = arg;
	int i;

	/* one after the other: the kernel takes them so anyway */
	for (i = 0; i < g->n; i++)
		bpf_link__destroy(g->links[i]);
	free(g);
	return NULL;
}

/* p's process is gone: its links are destroyed by a thread of their own
 * (1.5 s of grace periods: not in the event loop), and p is dropped. */
static void bury(struct tls *t, struct probed *p)
{
	struct grave *g = malloc(sizeof(*g));
	pthread_attr_t attr;
	pthread_t th;
	bool started = false;

	if (g && !pthread_attr_init(&attr)) {
		memcpy(g->links, p->links, sizeof(g->links));
		g->n = p->n;
		started = !pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) &&
			  !pthread_create(&th, &attr, destroy_grave, g);
		pthread_attr_destroy(&attr);
	}
	if (!started) {
		links_destroy(p->links, p->n);
		free(g);
	}
	*p = t->probed[--t->nprobed];
}

/* Whether pid (started at start) has key's probes; a record of another
 * process that had pid before is buried. */
static bool probed_in(struct tls *t, pid_t pid, uint64_t start, const struct file_key *k)
{
	size_t i;

	for (i = 0; i < t->nprobed; i++) {
		struct probed *p = &t->probed[i];

		if (p->pid != pid || !same_file(&p->key, k))
			continue;
		if (p->start == start)
			return true;
		bury(t, p);
		return false;
	}
	return false;
}

static struct probed *probed_new(struct tls *t)
{
	struct probed *p;

	if (t->nprobed == t->cap_probed) {
		size_t cap = t->cap_probed ? t->cap_probed * 2 : 16;

		p = realloc(t->probed, cap * sizeof(*p));
		if (!p)
			return NULL;
		t->probed = p;
		t->cap_probed = cap;
	}
	p = &t->probed[t->nprobed];
	memset(p, 0, sizeof(*p));
	return p;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

/* Attaches the probes to one library, in process pid (started at start)
 * or, pid -1, in every process; returns how many, 0 if it lacks a required
 * symbol (then nothing stays attached to it). */
static int attach_lib(struct tls *t, const struct lib *l, pid_t pid, uint64_t start, bool verbose)
{
	struct bpf_program *enter, *exit;
	char missing[256] = "", where[32] = "";
	libbpf_print_fn_t old = NULL;
	struct probed *p = probed_new(t);
	uint64_t t0 = now_ns();
	bool broken = false;
	int err = 0;
	size_t i;

	if (!p)
		return 0;
	p->pid = pid;
	p->start = start;
	p->key = l->key;
	/* a symbol not found is expected (SSL_read_ex before 1.1.1), and said
	 * once below; libbpf's own lines would say it again, less clearly */
	if (!verbose)
		old = libbpf_set_print(quiet_print);
	for (i = 0; i < N_PROBES && p->n + 2 <= LIB_LINKS; i++) {
		struct bpf_link *a, *b = NULL;

		progs_of(t->skel, i, &enter, &exit);
		a = attach_one(enter, pid, l->open, probes[i].func, false);
		if (!a)
			err = err ?: errno;
		if (a && exit && !(b = attach_one(exit, pid, l->open, probes[i].func, true))) {
			err = err ?: errno;
			bpf_link__destroy(a);
			a = NULL;
		}
		if (!a) {
			if (probes[i].required)
				broken = true;
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 "%s%s", missing[0] ? ", " : "", probes[i].func);
			continue;
		}
		p->links[p->n++] = a;
		if (b)
			p->links[p->n++] = b;
	}
	if (!verbose)
		libbpf_set_print(old);
	if (broken) {
		while (p->n)
			bpf_link__destroy(p->links[--p->n]);
		/* a process that exited meanwhile says nothing of the file */
		if (pid > 0 && proc_start(pid) != start)
			return 0;
		/* nor does a full descriptor table (a uprobe holds two): the
		 * next scan tries again */
		if (err == EMFILE || err == ENFILE) {
			if (!t->nofile_told)
				fprintf(stderr,
					"connstate: warning: out of file descriptors (ulimit -n) attaching the uprobes of %s to pid %d: the TLS connections of it and of later processes cannot be followed\n",
					l->path, pid);
			t->nofile_told = true;
			return 0;
		}
		file_add(t, &l->key); /* not tried again, in any process */
		fprintf(stderr,
			"connstate: warning: %s%s (pid %d) lacks %s (stripped, or not OpenSSL): its TLS connections cannot be followed\n",
			l->in_exe ? "OpenSSL linked into " : "", l->path, l->pid, missing);
		return 0;
	}
	t->nprobed++;
	if (pid > 0)
		snprintf(where, sizeof(where), " in pid %d", pid);
	if (verbose)
		fprintf(stderr, "connstate: following TLS through %s%s (%d uprobes in %.1f ms%s%s)\n",
			l->path, where, p->n, (now_ns() - t0) / 1e6, missing[0] ? "; not found: " : "",
			missing);
	return p->n;
}

static struct tls_bpf *load(struct connstate_bpf *main)
{
	struct tls_bpf *s;
	int err;

	s = tls_bpf__open();
	if (!s) {
		fprintf(stderr, "connstate: failed to open the TLS BPF object: %s\n",
			strerror(errno));
		return NULL;
	}
	s->rodata->wakeup_bytes = main->rodata->wakeup_bytes;
	s->rodata->target_cgroup = main->rodata->target_cgroup;
	s->rodata->target_cgroup_level = main->rodata->target_cgroup_level;
	s->rodata->conn_table = main->rodata->conn_table;
	s->rodata->conn_rows = main->rodata->conn_rows;
	/* one ring buffer, one connection table, one set of targets */
	err = bpf_map__reuse_fd(s->maps.events, bpf_map__fd(main->maps.events));
	err = err ?: bpf_map__reuse_fd(s->maps.conns, bpf_map__fd(main->maps.conns));
	err = err ?: bpf_map__reuse_fd(s->maps.conn_keys, bpf_map__fd(main->maps.conn_keys));
	err = err ?: bpf_map__reuse_fd(s->maps.conn_vals, bpf_map__fd(main->maps.conn_vals));
	err = err ?: bpf_map__reuse_fd(s->maps.targets, bpf_map__fd(main->maps.targets));
	err = err ?: bpf_map__reuse_fd(s->maps.stats, bpf_map__fd(main->maps.stats));
	err = err ?: bpf_map__reuse_fd(s->maps.tls_calls, bpf_map__fd(main->maps.tls_calls));
	err = err ?: bpf_map__reuse_fd(s->maps.tls_inflight, bpf_map__fd(main->maps.tls_inflight));
	err = err ?: bpf_map__reuse_fd(s->maps.skips, bpf_map__fd(main->maps.skips));
	err = err ?: tls_bpf__load(s);
	if (err) {
		fprintf(stderr,
			"connstate: failed to load the TLS BPF programs: %s (run with -v for the verifier log); TLS stays opaque\n",
			strerror(-err));
		tls_bpf__destroy(s);
		return NULL;
	}
	return s;
}

/* The TLS programs, loaded once, at the first file there is to probe. */
static bool loaded(struct tls *t)
{
	if (!t->skel && !t->load_failed) {
		t->skel = load(t->main);
		t->load_failed = !t->skel;
		/* before any uprobe: the socket programs look for calls made
		 * inside TLS library calls from now on */
		if (t->skel)
			t->main->bss->tls_probed = 1;
	}
	return t->skel;
}

/* Probes one file (a libssl, or an executable with OpenSSL or Go's
 * crypto/tls) of process l->pid, started at start; returns the uprobes
 * made. A file the process no longer lets us open (it exited) is not
 * remembered: another process may map it. OpenSSL in that process alone
 * (per_process), Go's crypto/tls in every process running the executable. */
static int probe_file(struct tls *t, const struct lib *l, uint64_t start)
{
	int fd = open(l->open, O_RDONLY | O_CLOEXEC), n;

	if (fd < 0)
		return 0;
	close(fd);
	if (!t->per_process || l->go)
		file_add(t, &l->key);
	if (!loaded(t))
		return 0;
	if (!l->go)
		return t->per_process ? attach_lib(t, l, l->pid, start, t->verbose) :
					attach_lib(t, l, -1, 0, t->verbose);
	n = tls_go_attach(t->skel, l->open, l->path, l->pid, t->verbose,
			  t->go_links + t->ngo_links, MAX_GO_LINKS - t->ngo_links);
	t->ngo_links += n;
	return n;
}

/* The executable of pid, as a file; false if pid is gone. */
static bool exe_of(pid_t pid, char *target, size_t len, struct file_key *k)
{
	char exe[64];
	struct stat st;
	ssize_t n;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	n = readlink(exe, target, len - 1);
	if (n <= 0 || stat(exe, &st))
		return false;
	target[n] = '\0';
	k->maj = major(st.st_dev);
	k->min = minor(st.st_dev);
	k->ino = st.st_ino;
	return true;
}

/*
 * Looks at pid's libraries (and, when it maps no libssl, its executable:
 * Go's crypto/tls, or OpenSSL linked in) and probes each file not looked at
 * before. Adds the uprobes made to *made; false if pid is gone.
 */
static bool scan_pid(struct tls *t, pid_t pid, int *made)
{
	char path[64], line[1024], file[512], exe[512], range[64];
	struct lib l = { .pid = pid };
	uint64_t start = proc_start(pid);
	bool mapped = false;
	FILE *f;

	/* connstate's own image: -c's command, held before its exec, which
	 * links no TLS; it is scanned again once it has exec'd */
	if (!start || !exe_of(pid, exe, sizeof(exe), &l.key))
		return false;
	if (same_file(&l.key, &t->self))
		return true;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %*s %*s %lx:%lx %lu %511s", range, &l.key.maj, &l.key.min,
			   &l.key.ino, file) != 5 ||
		    file[0] != '/' || !is_libssl(file))
			continue;
		mapped = true;
		if (file_known(t, &l.key) ||
		    (t->per_process && probed_in(t, pid, start, &l.key)))
			continue;
		snprintf(l.path, sizeof(l.path), "%s", file);
		/* replaced on disk (a package upgrade): its path names the new
		 * file; the mapping itself names the one the process runs */
		if (strstr(line, " (deleted)\n"))
			snprintf(l.open, sizeof(l.open), "/proc/%d/map_files/%s", pid, range);
		else
			snprintf(l.open, sizeof(l.open), "/proc/%d/root%s", pid, file);
		*made += probe_file(t, &l, start);
	}
	fclose(f);
	if (mapped || !exe_of(pid, exe, sizeof(exe), &l.key) || file_known(t, &l.key) ||
	    (t->per_process && probed_in(t, pid, start, &l.key)))
		return true;
	/* the executable, through /proc: the file it runs even if replaced */
	snprintf(l.path, sizeof(l.path), "%s", exe);
	snprintf(l.open, sizeof(l.open), "/proc/%d/exe", pid);
	l.go = tls_go_is_go(l.open);
	l.in_exe = true;
	if (l.go || has_openssl_text(l.open))
		*made += probe_file(t, &l, start);
	else
		file_add(t, &l.key); /* no TLS in it: not read again */
	return true;
}

struct tls *tls_new(struct connstate_bpf *skel, bool verbose, bool preload, bool per_process)
{
	struct tls *t = calloc(1, sizeof(*t));
	char self[512];

	if (!t)
		return NULL;
	t->main = skel;
	t->verbose = verbose;
	t->per_process = per_process;
	if (!exe_of(getpid(), self, sizeof(self), &t->self))
		memset(&t->self, 0xff, sizeof(t->self));
	if (preload)
		loaded(t);
	return t;
}

int tls_scan(struct tls *t, const pid_t *pids, size_t npids)
{
	int made = 0;
	size_t i;

	for (i = 0; t && i < npids; i++)
		scan_pid(t, pids[i], &made);
	return made;
}

void tls_watch(struct tls *t, pid_t pid, pid_t parent)
{
	struct fresh *f;
	char exe[512];

	if (!t || t->nfresh >= MAX_FRESH)
		return; /* the sweep finds it, later */
	f = &t->fresh[t->nfresh++];
	f->pid = pid;
	f->delay_ms = FRESH_FIRST_MS * 2;
	f->due = now_ns() + FRESH_FIRST_MS * 1000000ull;
	f->exec_until = 0;
	/* what it runs until it execs: its parent's program (the child may
	 * have exec'd already when the fork event is read) */
	if (!exe_of(parent, exe, sizeof(exe), &f->exe))
		memset(&f->exe, 0, sizeof(f->exe));
	/* its parent's libraries have no probes in it: a worker forked by
	 * a server serves at once, so now, not at the first tick */
	if (t->per_process) {
		int made = 0;

		scan_pid(t, pid, &made);
	}
}

void tls_forget(struct tls *t, pid_t pid)
{
	size_t i;

	for (i = 0; t && i < t->nprobed;)
		if (t->probed[i].pid == pid)
			bury(t, &t->probed[i]);
		else
			i++;
}

/* Buries the probes of processes gone (an exit event can be lost). */
static void forget_gone(struct tls *t)
{
	size_t i;

	for (i = 0; i < t->nprobed;)
		if (t->probed[i].pid > 0 && proc_start(t->probed[i].pid) != t->probed[i].start)
			bury(t, &t->probed[i]);
		else
			i++;
}

int tls_wait_ms(const struct tls *t, int ms)
{
	const int tick_ms = TICK_NS / 1000000;

	return t && t->nfresh && ms > tick_ms ? tick_ms : ms;
}

int tls_tick(struct tls *t, const pid_t *live, size_t nlive)
{
	uint64_t now = now_ns(), stop = now + TICK_BUDGET_NS;
	int made = 0;
	size_t i;

	if (!t || now - t->last_tick < TICK_NS)
		return 0;
	t->last_tick = now;
	/* the new processes first: a server started by -c is about to listen */
	for (i = 0; i < t->nfresh && now_ns() < stop;) {
		struct fresh *f = &t->fresh[i];
		struct file_key exe;
		char path[512];

		if (!exe_of(f->pid, path, sizeof(path), &exe)) {
			*f = t->fresh[--t->nfresh]; /* gone */
			continue;
		}
		if (!same_file(&exe, &f->exe)) {
			f->exe = exe; /* a new program: it maps its libraries now */
			f->exec_until = now + FRESH_EXEC_NS;
		}
		if (now >= f->exec_until && f->due > now) {
			i++;
			continue;
		}
		if (!scan_pid(t, f->pid, &made) ||
		    (now >= f->exec_until && f->delay_ms > FRESH_LAST_MS)) {
			*f = t->fresh[--t->nfresh];
			continue;
		}
		if (now >= f->due) {
			f->due = now + f->delay_ms * 1000000ull;
			f->delay_ms *= 2;
		}
		i++;
	}
	/* then every target, a budget's worth per tick, once per SWEEP_NS */
	if (t->cursor >= nlive && now - t->sweep_start >= SWEEP_NS) {
		t->cursor = 0;
		t->sweep_start = now;
		forget_gone(t);
	}
	while (t->cursor < nlive && now_ns() < stop)
		scan_pid(t, live[t->cursor++], &made);
	return made;
}

volatile __u32 *tls_stop_word(struct tls *t)
{
	return t && t->skel ? &t->skel->bss->stopping : NULL;
}

void tls_detach(struct tls *t)
{
	if (!t)
		return;
	while (t->nprobed) {
		struct probed *p = &t->probed[--t->nprobed];

		links_destroy(p->links, p->n);
	}
	links_destroy(t->go_links, t->ngo_links);
	t->ngo_links = 0;
}

/* Whether fd is one of links[0..n) */
static bool is_link_fd(struct bpf_link *const *links, size_t n, int fd)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (links[i] && bpf_link__fd(links[i]) == fd)
			return true;
	return false;
}

static bool holds_link_fd(const struct tls *t, int fd)
{
	size_t i;

	for (i = 0; i < t->nprobed; i++)
		if (is_link_fd(t->probed[i].links, t->probed[i].n, fd))
			return true;
	return is_link_fd(t->go_links, t->ngo_links, fd);
}

void tls_detach_behind(struct tls *t)
{
	size_t n = 0, i;
	struct dirent *de;
	pid_t child, parent;
	DIR *d;

	if (!t)
		return;
	for (i = 0; i < t->nprobed; i++)
		n += t->probed[i].n;
	n += t->ngo_links;
	if (n <= DETACH_INLINE) {
		tls_detach(t);
		return;
	}
	fflush(NULL);
	parent = getpid();
	child = fork();
	if (child == 0) {
		/* nothing of ours but the links may outlive the parent: not
		 * the terminal, a pipe's reader waiting for its end, the
		 * metrics port; then the links, through libbpf (a legacy
		 * tracefs uprobe is removed by name) */
		setsid();
		/* not our handlers: a kill ends it (the kernel then detaches) */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		d = opendir("/proc/self/fd");
		while (d && (de = readdir(d))) {
			int fd = atoi(de->d_name);

			if (de->d_name[0] != '.' && fd != dirfd(d) && !holds_link_fd(t, fd))
				close(fd);
		}
		if (d)
			closedir(d);
		/* the last to close a link waits for it: the parent first */
		while (getppid() == parent)
			usleep(10000);
		tls_detach(t);
		_exit(0);
	}
	/* our copies only (or, with no child, every link, here) */
	tls_detach(t);
}

void tls_free(struct tls *t)
{
	if (!t)
		return;
	tls_detach(t);
	tls_bpf__destroy(t->skel);
	free(t->probed);
	free(t);
}
