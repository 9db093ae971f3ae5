/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go's crypto/tls in a target's executable: finds (*Conn).Read, Write and
 * serverHandshake, and internal/poll's park points, by symbol in the ELF
 * .symtab; finds their RET instructions with capstone (Go moves goroutine
 * stacks, so uretprobes are unsafe); attaches the go_* programs of
 * bpf/tls.bpf.c there.
 */
#ifndef CONNSTATE_TLS_GO_H
#define CONNSTATE_TLS_GO_H

#include <stdbool.h>
#include <sys/types.h>

struct tls_bpf;
struct bpf_link;

/* Whether the file at path is a Go program (it has .go.buildinfo). */
bool tls_go_is_go(const char *path);

/*
 * Attaches the Go probes to the executable opened at path (shown as shown,
 * of pid), storing the links in links[0..max). Returns how many; 0, after
 * one warning line naming what was not found, when it cannot be followed
 * (stripped, or too old a Go).
 */
int tls_go_attach(struct tls_bpf *skel, const char *path, const char *shown, pid_t pid,
		  bool verbose, struct bpf_link **links, int max);

#endif /* CONNSTATE_TLS_GO_H */
