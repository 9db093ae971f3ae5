/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Following TLS: finds the OpenSSL library (libssl.so.*) each target maps,
 * or the Go executable it runs, loads bpf/tls.bpf.c sharing the main
 * object's maps at the first such file, and attaches its uprobes. A
 * uprobe attached to a file traps in every process mapping it (the BPF
 * side keeps only the targets' calls), and a libssl is mapped by half the
 * host: so OpenSSL's uprobes are attached per target process (per_process),
 * which puts the breakpoints in the targets' memory alone. A target's
 * fork is probed as its event is read (the child runs its first calls
 * unprobed: a TLS connection it serves meanwhile is told as new and closed,
 * with a warning that its TLS cannot be followed).
 * Under --cgroup the targets are not known by pid: per file, as Go's
 * executables always are (few processes run a server's executable).
 * Files are looked for at attach, in processes new to us (forked, or -c's
 * command once it has exec'd) and, for dlopen, in every target once per
 * sweep.
 */
#ifndef CONNSTATE_TLS_H
#define CONNSTATE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

struct connstate_bpf;
struct tls;

/* A tracer of TLS libraries for skel's targets; NULL if out of memory.
 * preload: load the TLS programs now, not at the first library found
 * (loading takes about 60 ms: too long once a server is starting).
 * per_process: the targets are the processes given to tls_scan and
 * tls_watch (not a cgroup), and OpenSSL is probed in them alone. */
struct tls *tls_new(struct connstate_bpf *skel, bool verbose, bool preload, bool per_process);
/*
 * Looks at the libraries of pids now and probes each file not probed yet
 * (per_process: not yet in that process); returns the uprobes made. Prints
 * one warning line per file it cannot follow (a library without the
 * symbols, OpenSSL linked into the executable, a stripped Go program),
 * once. Nothing attached is not an error: TLS stays opaque.
 */
int tls_scan(struct tls *t, const pid_t *pids, size_t npids);
/* pid is new (forked by parent, or a command about to exec): scan it now
 * (per_process), soon, and a few times more in its first seconds, often
 * once it has exec'd. */
void tls_watch(struct tls *t, pid_t pid, pid_t parent);
/* pid exited: its probes are dropped (a sweep finds the ones missed). */
void tls_forget(struct tls *t, pid_t pid);
/*
 * Call from the run loop: scans what tls_watch queued and is due, then
 * some of live[0..nlive) (all of them over about 2 s), within a bounded
 * time per call. Returns the uprobes made.
 */
int tls_tick(struct tls *t, const pid_t *live, size_t nlive);
/* How long the run loop may sleep (at most ms): shorter while new
 * processes are being watched. */
int tls_wait_ms(const struct tls *t, int ms);
/* The BPF side's "stopping" word, set with the main object's; NULL while
 * nothing was loaded (it can be later: ask again). */
volatile __u32 *tls_stop_word(struct tls *t);
/* Destroys the uprobes (safe with NULL; twice is fine). */
void tls_detach(struct tls *t);
/* The same at exit: more uprobes than a few (each detach waits about
 * 100 ms, one at a time in the kernel) are left to a child holding only
 * them, which detaches them after we have exited. */
void tls_detach_behind(struct tls *t);
void tls_free(struct tls *t);

#endif /* CONNSTATE_TLS_H */
