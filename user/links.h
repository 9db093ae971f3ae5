/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Destroying many BPF links at once. */
#ifndef CONNSTATE_LINKS_H
#define CONNSTATE_LINKS_H

#include <stddef.h>

struct bpf_link;

/*
 * Destroys links[0..n) (NULL entries skipped) and sets them to NULL. Each
 * detach waits for an RCU grace period in the kernel (about 30 ms for a
 * tracepoint, 100 ms for a uprobe here); from several threads a
 * tracepoint's waits overlap, a uprobe's do not (perf_uprobe_destroy holds
 * event_mutex across its wait: 70 took 7.5 s from 8 threads).
 */
void links_destroy(struct bpf_link **links, size_t n);

#endif /* CONNSTATE_LINKS_H */
