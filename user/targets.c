// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Targets beyond a PID, and PID sanity; see targets.h. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include "targets.h"

#define CGROUP2_MAGIC 0x63677270
#define PF_KTHREAD 0x00200000

/* The mount point of the cgroup v2 hierarchy (/sys/fs/cgroup, or
 * /sys/fs/cgroup/unified on hybrid systems). */
static int cgroup2_mount(char *out, size_t len)
{
	char line[4096], mnt[PATH_MAX], fstype[64];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = -1;

	if (!f)
		return -1;
	while (found && fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		/* fields: id parent major:minor root mountpoint ... - fstype */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		snprintf(out, len, "%s", mnt);
		found = 0;
	}
	fclose(f);
	return found;
}

int cgroup_resolve(const char *path, struct cgroup_target *cg, char *err, size_t errlen)
{
	char mnt[PATH_MAX], joined[PATH_MAX + 256], real[PATH_MAX];
	struct statfs sfs;
	struct stat st;
	const char *p;
	size_t ml;

	memset(cg, 0, sizeof(*cg));
	if (cgroup2_mount(mnt, sizeof(mnt))) {
		snprintf(err, errlen, "no cgroup v2 hierarchy is mounted (see /proc/self/mountinfo)");
		return -1;
	}
	if (path[0] == '/')
		snprintf(joined, sizeof(joined), "%s", path);
	else
		snprintf(joined, sizeof(joined), "%s/%s", mnt, path);
	if (!realpath(joined, real) || stat(real, &st)) {
		snprintf(err, errlen, "%s: %s", joined, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || statfs(real, &sfs) || sfs.f_type != CGROUP2_MAGIC) {
		snprintf(err, errlen, "%s is not a cgroup v2 directory (the hierarchy is at %s)",
			 real, mnt);
		return -1;
	}
	ml = strlen(mnt);
	if (strncmp(real, mnt, ml) || (real[ml] && real[ml] != '/')) {
		snprintf(err, errlen, "%s is outside the cgroup v2 hierarchy at %s", real, mnt);
		return -1;
	}
	/* the root is level 0; each directory below it one more */
	for (p = real + ml; *p; p++)
		if (*p == '/' && p[1])
			cg->level++;
	cg->id = st.st_ino;
	snprintf(cg->path, sizeof(cg->path), "%s", real);
	return 0;
}

size_t cgroup_pids(const struct cgroup_target *cg, pid_t *out, size_t cap)
{
	char path[4200];
	size_t n = 0;
	FILE *f;
	int pid;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg->path);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (n < cap && fscanf(f, "%d", &pid) == 1)
		out[n++] = pid;
	fclose(f);
	return n;
}

int cgroup_exists(const struct cgroup_target *cg)
{
	struct stat st;

	return !stat(cg->path, &st) && (uint64_t)st.st_ino == cg->id;
}

pid_t spawn_held(const char *cmd, int *release_fd)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (!pid) {
		close(p[1]);
		/* wait until the probes are attached; EOF without a byte: give up */
		if (read(p[0], &c, 1) != 1)
			_exit(127);
		close(p[0]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		fprintf(stderr, "connstate: failed to run /bin/sh -c: %s\n", strerror(errno));
		_exit(127);
	}
	close(p[0]);
	*release_fd = p[1];
	return pid;
}

void spawn_release(int release_fd)
{
	if (write(release_fd, "g", 1) != 1)
		perror("connstate: failed to start the command");
	close(release_fd);
}

/* The number of PID namespaces pid is visible in, from /proc's view. */
static int nspid_depth(const char *status_path)
{
	char line[512];
	FILE *f = fopen(status_path, "re");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *tok, *save;

		if (strncmp(line, "NSpid:", 6))
			continue;
		for (tok = strtok_r(line + 6, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save))
			n++;
		break;
	}
	fclose(f);
	return n;
}

static unsigned long stat_flags(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long flags = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after comm: state ppid pgrp session tty_nr tpgid flags */
	if (p)
		sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags);
	return flags;
}

int pid_check_host(pid_t pid, char *err, size_t errlen)
{
	/* our /proc shows only our namespace: the kernel's PIDs are elsewhere */
	if (nspid_depth("/proc/self/status") > 1) {
		snprintf(err, errlen,
			 "connstate runs in a container's PID namespace, where PID %d is not the kernel's: run it on the host with the host PID (on the host: grep NSpid /proc/*/status, or docker inspect -f '{{.State.Pid}}' NAME)",
			 pid);
		return -1;
	}
	if (stat_flags(pid) & PF_KTHREAD) {
		snprintf(err, errlen,
			 "PID %d is a kernel thread, not a server; if %d is a PID inside a container, use its host PID (grep NSpid /proc/*/status, or docker inspect -f '{{.State.Pid}}' NAME)",
			 pid, pid);
		return -1;
	}
	return 0;
}
