// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

#define TCP_LISTEN_HEX 0x0A

pid_t proc_tgid(pid_t pid)
{
	char path[64], line[256];
	pid_t tgid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f) {
		errno = errno == ENOENT ? ESRCH : errno;
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	if (tgid <= 0)
		errno = ESRCH;
	return tgid > 0 ? tgid : -1;
}

/* State, parent and start time (clock ticks after boot) from
 * /proc/PID/stat; the comm field may hold spaces. */
static int read_stat(pid_t pid, char *state, pid_t *ppid, uint64_t *start)
{
	char path[64], buf[512], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* fields 3 and 4, then 22 */
	if (!p || sscanf(p + 1,
			 " %c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s"
			 " %*s %*s %*s %*s %*s %*s %*s %*s %" SCNu64,
			 state, ppid, start) != 3)
		return -1;
	return 0;
}

bool proc_alive(pid_t pid)
{
	char state;
	pid_t ppid;
	uint64_t start;

	return !read_stat(pid, &state, &ppid, &start) && state != 'Z' && state != 'X';
}

uint64_t proc_start(pid_t pid)
{
	char state;
	pid_t ppid;
	uint64_t start;

	if (read_stat(pid, &state, &ppid, &start) || state == 'Z' || state == 'X')
		return 0;
	return start;
}

static bool contains(const pid_t *a, size_t n, pid_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] == v)
			return true;
	return false;
}

size_t proc_descendants(const pid_t *roots, size_t n, pid_t *out, size_t cap)
{
	size_t added = 0, grew;
	DIR *d;

	/* repeat until no new child appears: a child's children come later */
	do {
		struct dirent *de;

		grew = 0;
		d = opendir("/proc");
		if (!d)
			return added;
		while ((de = readdir(d)) && added < cap) {
			pid_t pid, ppid;
			uint64_t start;
			char state;

			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			pid = atoi(de->d_name);
			if (read_stat(pid, &state, &ppid, &start) || contains(roots, n, pid) ||
			    contains(out, added, pid))
				continue;
			if (contains(roots, n, ppid) || contains(out, added, ppid)) {
				out[added++] = pid;
				grew++;
			}
		}
		closedir(d);
	} while (grew && added < cap);
	return added;
}

/* Inodes of the sockets pid holds. */
static size_t socket_inodes(pid_t pid, uint64_t **out)
{
	char path[64], link[96], target[64];
	size_t n = 0, cap = 0;
	uint64_t *v = NULL;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		ssize_t len;
		uint64_t ino;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%.20s", path, de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%" SCNu64 "]", &ino) != 1)
			continue;
		if (n == cap) {
			uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
		}
		v[n++] = ino;
	}
	closedir(d);
	*out = v;
	return n;
}

static size_t scan_net_tcp(pid_t pid, const char *file, const uint64_t *inodes, size_t ninodes,
			   uint16_t *out, size_t have, size_t cap)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, file);
	f = fopen(path, "re");
	if (!f)
		return have;
	while (fgets(line, sizeof(line), f) && have < cap) {
		unsigned int port, state;
		uint64_t ino;
		size_t i;

		/* sl local rem st tx:rx tr:tm retrnsmt uid timeout inode */
		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %" SCNu64,
			   &port, &state, &ino) != 3 ||
		    state != TCP_LISTEN_HEX)
			continue;
		for (i = 0; i < ninodes; i++)
			if (inodes[i] == ino)
				break;
		if (i == ninodes)
			continue;
		for (i = 0; i < have; i++)
			if (out[i] == port)
				break;
		if (i == have)
			out[have++] = (uint16_t)port;
	}
	fclose(f);
	return have;
}

size_t proc_listen_ports(pid_t pid, uint16_t *out, size_t cap)
{
	uint64_t *inodes = NULL;
	size_t n = socket_inodes(pid, &inodes), have = 0;

	if (n) {
		have = scan_net_tcp(pid, "tcp", inodes, n, out, have, cap);
		have = scan_net_tcp(pid, "tcp6", inodes, n, out, have, cap);
	}
	free(inodes);
	return have;
}
