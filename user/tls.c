// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "connstate.skel.h"
#include "tls.skel.h"
#include "links.h"
#include "tls.h"
#include "tls_go.h"

#define MAX_LIBS 16
/* uprobes per library: 4 data calls x 2, 3 marking calls x 2, SSL_free */
#define MAX_LINKS (MAX_LIBS * 15)
/* Go: entries, every RET of three functions, two per park point */
#define MAX_GO_LINKS 512

/* A file holding OpenSSL's SSL_* functions: a libssl, or an executable
 * with OpenSSL linked in. Told apart from others by device and inode. */
struct lib {
	char path[512];	   /* as the target maps it, for messages */
	char open[600];	   /* through /proc/PID/root: the target's view */
	unsigned long dev_major, dev_minor, ino;
	pid_t pid;
	bool in_exe;	   /* OpenSSL linked into the executable */
	bool go;	   /* a Go program: its crypto/tls */
};

struct tls {
	struct tls_bpf *skel;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
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

static bool lib_known(const struct lib *libs, size_t n, unsigned long maj, unsigned long min,
		      unsigned long ino)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (libs[i].dev_major == maj && libs[i].dev_minor == min && libs[i].ino == ino)
			return true;
	return false;
}

static bool is_libssl(const char *path)
{
	const char *base = strrchr(path, '/');

	return !strncmp(base ? base + 1 : path, "libssl.so", 9);
}

/* Adds the libssl files pid maps; returns how many it maps (known or not). */
static size_t scan_maps(pid_t pid, struct lib *libs, size_t *n)
{
	char path[64], line[1024], file[512];
	unsigned long maj, min, ino;
	size_t found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %lx:%lx %lu %511s", &maj, &min, &ino, file) != 4 ||
		    file[0] != '/' || !is_libssl(file))
			continue;
		found++;
		if (lib_known(libs, *n, maj, min, ino) || *n >= MAX_LIBS)
			continue;
		snprintf(libs[*n].path, sizeof(libs[*n].path), "%s", file);
		snprintf(libs[*n].open, sizeof(libs[*n].open), "/proc/%d/root%s", pid, file);
		libs[*n].dev_major = maj;
		libs[*n].dev_minor = min;
		libs[*n].ino = ino;
		libs[*n].pid = pid;
		libs[*n].in_exe = false;
		libs[*n].go = false;
		(*n)++;
	}
	fclose(f);
	return found;
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

/* A target that maps no libssl: its executable, if OpenSSL is linked in. */
static void scan_exe(pid_t pid, struct lib *libs, size_t *n)
{
	char exe[64], target[512];
	struct stat st;
	ssize_t len;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	len = readlink(exe, target, sizeof(target) - 1);
	if (len <= 0 || stat(exe, &st))
		return;
	target[len] = '\0';
	if (lib_known(libs, *n, major(st.st_dev), minor(st.st_dev), st.st_ino) ||
	    *n >= MAX_LIBS || !has_openssl_text(exe))
		return;
	snprintf(libs[*n].path, sizeof(libs[*n].path), "%s", target);
	snprintf(libs[*n].open, sizeof(libs[*n].open), "%s", exe);
	libs[*n].dev_major = major(st.st_dev);
	libs[*n].dev_minor = minor(st.st_dev);
	libs[*n].ino = st.st_ino;
	libs[*n].pid = pid;
	libs[*n].in_exe = true;
	libs[*n].go = false;
	(*n)++;
}

/* A target that maps no libssl: a Go program, whose crypto/tls is in its
 * executable. Returns whether it is one. */
static bool scan_go(pid_t pid, struct lib *libs, size_t *n)
{
	char exe[64], target[512];
	struct stat st;
	ssize_t len;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	len = readlink(exe, target, sizeof(target) - 1);
	if (len <= 0 || stat(exe, &st) || !tls_go_is_go(exe))
		return false;
	target[len] = '\0';
	if (lib_known(libs, *n, major(st.st_dev), minor(st.st_dev), st.st_ino) || *n >= MAX_LIBS)
		return true;
	snprintf(libs[*n].path, sizeof(libs[*n].path), "%s", target);
	snprintf(libs[*n].open, sizeof(libs[*n].open), "%s", exe);
	libs[*n].dev_major = major(st.st_dev);
	libs[*n].dev_minor = minor(st.st_dev);
	libs[*n].ino = st.st_ino;
	libs[*n].pid = pid;
	libs[*n].in_exe = true;
	libs[*n].go = true;
	(*n)++;
	return true;
}

static struct bpf_link *attach_one(struct bpf_program *prog, const char *file, const char *func,
				   bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = func, .retprobe = ret);

	/* every process: one mapping a target forks later is filtered by tgid */
	return bpf_program__attach_uprobe_opts(prog, -1, file, 0, &uo);
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

/* Attaches the probes to one library; returns how many, 0 if it lacks a
 * required symbol (then nothing stays attached to it). */
static int attach_lib(struct tls *t, const struct lib *l, bool verbose)
{
	struct bpf_program *enter, *exit;
	char missing[256] = "";
	int first = t->nlinks, made = 0;
	libbpf_print_fn_t old = NULL;
	bool broken = false;
	size_t i;

	/* a symbol not found is expected (SSL_read_ex before 1.1.1), and said
	 * once below; libbpf's own lines would say it again, less clearly */
	if (!verbose)
		old = libbpf_set_print(quiet_print);
	for (i = 0; i < N_PROBES && t->nlinks + 2 <= MAX_LINKS; i++) {
		struct bpf_link *a, *b = NULL;

		progs_of(t->skel, i, &enter, &exit);
		a = attach_one(enter, l->open, probes[i].func, false);
		if (a && exit && !(b = attach_one(exit, l->open, probes[i].func, true))) {
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
		t->links[t->nlinks++] = a;
		made++;
		if (b) {
			t->links[t->nlinks++] = b;
			made++;
		}
	}
	if (!verbose)
		libbpf_set_print(old);
	if (broken) {
		while (t->nlinks > first)
			bpf_link__destroy(t->links[--t->nlinks]);
		fprintf(stderr,
			"connstate: warning: %s%s (pid %d) lacks %s (stripped, or not OpenSSL): its TLS connections cannot be followed\n",
			l->in_exe ? "OpenSSL linked into " : "", l->path, l->pid, missing);
		return 0;
	}
	if (verbose)
		fprintf(stderr, "connstate: following TLS through %s (%d uprobes%s%s)\n", l->path,
			made, missing[0] ? "; not found: " : "", missing);
	return made;
}

static struct tls *load(struct connstate_bpf *main)
{
	struct tls *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return NULL;
	t->skel = tls_bpf__open();
	if (!t->skel) {
		fprintf(stderr, "connstate: failed to open the TLS BPF object: %s\n",
			strerror(errno));
		free(t);
		return NULL;
	}
	t->skel->rodata->wakeup_bytes = main->rodata->wakeup_bytes;
	t->skel->rodata->target_cgroup = main->rodata->target_cgroup;
	t->skel->rodata->target_cgroup_level = main->rodata->target_cgroup_level;
	/* one ring buffer, one connection table, one set of targets */
	err = bpf_map__reuse_fd(t->skel->maps.events, bpf_map__fd(main->maps.events));
	err = err ?: bpf_map__reuse_fd(t->skel->maps.conns, bpf_map__fd(main->maps.conns));
	err = err ?: bpf_map__reuse_fd(t->skel->maps.targets, bpf_map__fd(main->maps.targets));
	err = err ?: bpf_map__reuse_fd(t->skel->maps.stats, bpf_map__fd(main->maps.stats));
	err = err ?: bpf_map__reuse_fd(t->skel->maps.tls_calls, bpf_map__fd(main->maps.tls_calls));
	err = err ?: tls_bpf__load(t->skel);
	if (err) {
		fprintf(stderr,
			"connstate: failed to load the TLS BPF programs: %s (run with -v for the verifier log); TLS stays opaque\n",
			strerror(-err));
		tls_bpf__destroy(t->skel);
		free(t);
		return NULL;
	}
	return t;
}

struct tls *tls_attach(struct connstate_bpf *skel, const pid_t *pids, size_t npids, bool verbose,
		       int *nprobes)
{
	static struct lib libs[MAX_LIBS];
	size_t nlibs = 0, i;
	struct tls *t;
	int made = 0, n;

	for (i = 0; i < npids; i++)
		if (!scan_maps(pids[i], libs, &nlibs) && !scan_go(pids[i], libs, &nlibs))
			scan_exe(pids[i], libs, &nlibs);
	if (!nlibs)
		return NULL;
	t = load(skel);
	if (!t)
		return NULL;
	for (i = 0; i < nlibs; i++) {
		if (!libs[i].go) {
			made += attach_lib(t, &libs[i], verbose);
			continue;
		}
		n = tls_go_attach(t->skel, libs[i].open, libs[i].path, libs[i].pid, verbose,
				  t->go_links + t->ngo_links, MAX_GO_LINKS - t->ngo_links);
		t->ngo_links += n;
		made += n;
	}
	if (!made) {
		tls_free(t);
		return NULL;
	}
	*nprobes += made;
	return t;
}

volatile __u32 *tls_stop_word(struct tls *t)
{
	return t ? &t->skel->bss->stopping : NULL;
}

void tls_detach(struct tls *t)
{
	if (!t)
		return;
	links_destroy(t->links, t->nlinks);
	t->nlinks = 0;
	links_destroy(t->go_links, t->ngo_links);
	t->ngo_links = 0;
}

void tls_free(struct tls *t)
{
	if (!t)
		return;
	tls_detach(t);
	tls_bpf__destroy(t->skel);
	free(t);
}
