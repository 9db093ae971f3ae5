/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Destroying many BPF links at once. */
#ifndef CONNSTATE_LINKS_H
#define CONNSTATE_LINKS_H

#include <stddef.h>

struct bpf_link;

/*
 * Destroys links[0..n) (NULL entries skipped) and sets them to NULL. Each
 * detach waits for an RCU grace period in the kernel (about 30 ms for a
 * tracepoint, 100 ms for a uprobe here), one after the other 3 s for all
 * of ours; from several threads the waits overlap.
 */
void links_destroy(struct bpf_link **links, size_t n);

#endif /* CONNSTATE_LINKS_H */
