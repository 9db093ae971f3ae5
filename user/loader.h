/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Loading and attaching the BPF side: probes what the kernel has first, so
 * that a missing feature is named in an error, never met as a failed attach.
 */
#ifndef CONNSTATE_LOADER_H
#define CONNSTATE_LOADER_H

#include <stdbool.h>
#include <stdint.h>

/* Which programs follow the syscalls (see bpf/connstate.bpf.c). */
enum loader_hooks {
	LOADER_HOOKS_AUTO, /* socket where the kernel allows fentry, else sock
			    * tracepoints where it has them, else tracepoints */
	LOADER_HOOKS_TRACEPOINTS, /* one tracepoint/syscalls/ program per syscall */
	LOADER_HOOKS_RAW, /* tp_btf/sys_enter and sys_exit, for every syscall */
	LOADER_HOOKS_SOCKET, /* fentry/fexit on the socket layer: no syscall hook */
	LOADER_HOOKS_SOCK_TP, /* sock:sock_{recv,send}_length for reads and writes */
};

struct loader_opts {
	const char *btf_path; /* NULL: the running kernel's */
	uint32_t ring_bytes;
	uint32_t max_conns;
	uint64_t wakeup_bytes; /* wake the reader only when this much waits */
	bool verbose; /* also say which kernel paths CO-RE picked */
	uint64_t cgroup_id; /* --cgroup: its processes are the targets; 0: none */
	uint32_t cgroup_level; /* its depth below the cgroup v2 root */
	enum loader_hooks hooks;
};

struct connstate_bpf;

/* Checks privileges, BTF and tracepoints, then opens and loads. Prints a
 * one-line error and returns NULL on failure. */
struct connstate_bpf *loader_load(const struct loader_opts *o);
/* Attaches every program; returns how many, or -1 after printing why. */
int loader_attach(struct connstate_bpf *skel);
/* Detaches every program; events already in the ring buffer stay there. */
void loader_detach(struct connstate_bpf *skel);
/* Sums the per-CPU counter idx of the "stats" map. */
uint64_t loader_stat(struct connstate_bpf *skel, uint32_t idx);
/* Tells the kernel where connection (sk, gen)'s bodies end (struct
 * cs_skip); a failure only means their bytes go on being copied. */
void loader_skip(struct connstate_bpf *skel, uint64_t sk, uint64_t gen, const uint64_t until[2]);

#endif /* CONNSTATE_LOADER_H */
