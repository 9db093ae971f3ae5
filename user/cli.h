/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command-line options: parsed and checked before anything touches the kernel. */
#ifndef CONNSTATE_CLI_H
#define CONNSTATE_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CLI_MAX_PIDS 64

struct cli {
	pid_t pids[CLI_MAX_PIDS];
	int npids;
	bool json;
	bool timestamps;
	bool verbose;
	bool no_requests;     /* -S: state lines only */
	bool show_query;      /* --show-query: targets' query strings, unredacted */
	const char *btf_path; /* --btf: BTF for kernels without /sys/kernel/btf/vmlinux */
	uint32_t ring_mib;    /* --ring-size, a power of two */
	uint32_t max_conns;   /* --max-conns */
	bool quiet;	      /* -q: no lines on stdout (with --metrics or --interval) */
	const char *metrics;  /* --metrics ADDR:PORT, checked by metrics_parse_addr */
	uint32_t interval;    /* --interval SECONDS: a summary line per target; 0: none */
	const char *cgroup;   /* --cgroup PATH: every process in a cgroup v2 directory */
	const char *command;  /* -c COMMAND: started by connstate and traced */
	const char *hooks;    /* --hooks: auto, socket, sock-tracepoints, tracepoints or raw; NULL: auto */
};

/* Parses argv into c; on bad input prints one line to stderr and returns
 * non-zero. Exits 0 itself for --help and --version. */
int cli_parse(struct cli *c, int argc, char **argv);
/* Parses a decimal in [min, max]; 0 on success. */
int cli_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);

#endif /* CONNSTATE_CLI_H */
