/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Following TLS: finds the OpenSSL library (libssl.so.*) each target maps,
 * loads bpf/tls.bpf.c sharing the main object's maps, and attaches its
 * uprobes to each distinct library file. A uprobe on a file fires in every
 * process mapping it; the BPF side keeps only the targets'.
 */
#ifndef CONNSTATE_TLS_H
#define CONNSTATE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

struct connstate_bpf;
struct tls;

/*
 * Looks at the libraries of pids; where some map a libssl, loads and
 * attaches the TLS probes and adds their number to *nprobes. Prints one
 * warning line per thing it cannot follow (a library without the symbols,
 * OpenSSL linked into the executable, Go's crypto/tls). Returns NULL when
 * nothing was attached: that is not an error, TLS stays opaque.
 */
struct tls *tls_attach(struct connstate_bpf *skel, const pid_t *pids, size_t npids, bool verbose,
		       int *nprobes);
/* The BPF side's "stopping" word, set with the main object's; NULL if none. */
volatile __u32 *tls_stop_word(struct tls *t);
/* Destroys the uprobes (safe with NULL; twice is fine). */
void tls_detach(struct tls *t);
void tls_free(struct tls *t);

#endif /* CONNSTATE_TLS_H */
