/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What /proc says about the target processes: who they are, their children
 * and the TCP ports they listen on. */
#ifndef CONNSTATE_PROC_H
#define CONNSTATE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The thread-group id of pid, or -1 with errno set (ESRCH: no such process). */
pid_t proc_tgid(pid_t pid);
/* Whether process pid exists (and is not a zombie). */
bool proc_alive(pid_t pid);
/* When pid started (clock ticks after boot): with pid, names one process
 * (a pid is reused); 0 if it is gone. */
uint64_t proc_start(pid_t pid);
/* Appends the descendants of roots[0..n) to out (which must not alias
 * roots); returns how many were added, at most cap. */
size_t proc_descendants(const pid_t *roots, size_t n, pid_t *out, size_t cap);
/* Local ports of the TCP sockets in LISTEN state that pid holds. */
size_t proc_listen_ports(pid_t pid, uint16_t *out, size_t cap);

#endif /* CONNSTATE_PROC_H */
