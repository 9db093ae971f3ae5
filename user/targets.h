/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Ways to name what to trace besides -p PID: a cgroup v2 directory (a
 * systemd service, a container) and a command connstate starts itself.
 * Also the checks that a PID really names a host process.
 */
#ifndef CONNSTATE_TARGETS_H
#define CONNSTATE_TARGETS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A cgroup v2 directory: its id (what bpf_get_current_cgroup_id returns)
 * and its depth below the hierarchy's root (for the ancestor helper). */
struct cgroup_target {
	uint64_t id;
	uint32_t level;
	char path[4096];
};

/* Resolves path (absolute, or relative to the cgroup v2 mount); 0 or -1
 * with a one-line reason in err. */
int cgroup_resolve(const char *path, struct cgroup_target *cg, char *err, size_t errlen);
/* PIDs in the cgroup now (cgroup.procs); returns how many, at most cap. */
size_t cgroup_pids(const struct cgroup_target *cg, pid_t *out, size_t cap);
/* Whether the cgroup's directory still exists. */
int cgroup_exists(const struct cgroup_target *cg);

/* Forks cmd (run by /bin/sh -c) stopped before exec until spawn_release;
 * returns its pid or -1 with errno. */
pid_t spawn_held(const char *cmd, int *release_fd);
/* Lets the held child exec (fd closed). */
void spawn_release(int release_fd);

/* 0 if pid names a process connstate can trace as given; else -1 with a
 * one-line reason in err (connstate in a container's PID namespace, a
 * kernel thread, which is what a container's small PIDs are on the host). */
int pid_check_host(pid_t pid, char *err, size_t errlen);

#endif /* CONNSTATE_TARGETS_H */
