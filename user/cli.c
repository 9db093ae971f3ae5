// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "metrics.h"

const char *argp_program_version = "connstate 0.1";
const char *argp_program_bug_address = NULL;

static const char doc[] =
	"Print the HTTP connection states of a running server, as Go's net/http\n"
	"Server.ConnState hook reports them: new, active, idle, hijacked, closed.\n"
	"HTTP/1.x and HTTP/2 (h2c) in cleartext, and HTTPS through OpenSSL or Go's\n"
	"crypto/tls. Works for any server (Go, nginx, Python, ...) with no change\n"
	"to it.\n"
	"\n"
	"USAGE: connstate -p PID [-p PID ...] | --cgroup PATH | -c COMMAND\n"
	"                 [-j] [-T] [-S] [-q] [--show-query] [--metrics ADDR:PORT]\n"
	"                 [--interval SECONDS]\n"
	"\n"
	"EXAMPLES:\n"
	"    connstate -p $(pidof -s nginx)    # the master: workers are followed\n"
	"    connstate -p 1234 -j              # one JSON object per line\n"
	"    connstate -p 1234 -T -S           # timestamps, state lines only\n"
	"    connstate --cgroup system.slice/nginx.service\n"
	"    connstate -c 'python3 -m http.server 8000'\n"
	"    connstate -p 1234 -q --metrics 127.0.0.1:9464   # Prometheus only\n"
	"    connstate -p 1234 -S --interval 10              # a summary every 10 s\n"
	"\n"
	"Client bytes are printed escaped (\\x1b for ESC); query strings are\n"
	"hidden unless --show-query: they often carry tokens.\n"
	"\n"
	"Needs root, or CAP_BPF and CAP_PERFMON, and a kernel with BTF.\n"
	"\n"
	"OPTIONS:";

enum { OPT_BTF = 1000, OPT_RING, OPT_MAX_CONNS, OPT_SHOW_QUERY, OPT_METRICS, OPT_INTERVAL, OPT_CGROUP,
       OPT_HOOKS };

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Process to watch, with its children (repeatable)", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per line", 0 },
	{ "timestamps", 'T', NULL, 0, "Prefix text lines with the time (UTC)", 0 },
	{ "states-only", 'S', NULL, 0, "Print state lines only, no request lines", 0 },
	{ "show-query", OPT_SHOW_QUERY, NULL, 0,
	  "Print request targets' query strings (replaced by ?\xe2\x80\xa6 by default)", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's debug output", 0 },
	{ "btf", OPT_BTF, "FILE", 0, "Kernel BTF to use where /sys/kernel/btf/vmlinux is missing", 0 },
	{ "ring-size", OPT_RING, "MiB", 0, "Ring buffer size, a power of two (default 4)", 0 },
	{ "max-conns", OPT_MAX_CONNS, "N", 0, "Connections tracked at once (default 65536)", 0 },
	{ "cgroup", OPT_CGROUP, "PATH", 0,
	  "Every process in this cgroup v2 directory, now and later (absolute, or below the cgroup mount)", 0 },
	{ "command", 'c', "COMMAND", 0, "Start COMMAND (with /bin/sh -c) and trace it; exit with its status", 0 },
	{ "metrics", OPT_METRICS, "ADDR:PORT", 0,
	  "Serve Prometheus metrics at http://ADDR:PORT/metrics (IP:PORT, [IPv6]:PORT, localhost:PORT, :PORT)", 0 },
	{ "interval", OPT_INTERVAL, "SECONDS", 0, "Print a summary line per target every SECONDS", 0 },
	{ "quiet", 'q', NULL, 0, "No state, request or warning lines (for --metrics or --interval)", 0 },
	{ "hooks", OPT_HOOKS, "KIND", 0,
	  "Hooks: socket (fentry/fexit on the socket layer: no syscall hook), sock-tracepoints (sock:sock_recv_length/sock_send_length for reads and writes, Linux 6.3+), tracepoints (syscalls/*), raw (tp_btf sys_enter/sys_exit), or auto (default: socket where the kernel allows fentry, else sock-tracepoints where the kernel has them, else tracepoints); -v says which",
	  0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show this help", 0 },
	{},
};

int cli_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int add_pid(struct cli *c, const char *arg)
{
	uint32_t v;
	int i;

	if (cli_parse_u32(arg, 1, 4194304, &v)) {
		fprintf(stderr, "connstate: invalid PID '%s': expected a number from 1 to 4194304\n",
			arg);
		return -1;
	}
	for (i = 0; i < c->npids; i++)
		if (c->pids[i] == (pid_t)v)
			return 0;
	if (c->npids == CLI_MAX_PIDS) {
		fprintf(stderr, "connstate: too many PIDs: at most %d\n", CLI_MAX_PIDS);
		return -1;
	}
	c->pids[c->npids++] = (pid_t)v;
	return 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct cli *c = state->input;
	uint32_t v;

	switch (key) {
	case 'p':
		if (add_pid(c, arg))
			return EINVAL;
		break;
	case 'j':
		c->json = true;
		break;
	case 'T':
		c->timestamps = true;
		break;
	case 'S':
		c->no_requests = true;
		break;
	case OPT_SHOW_QUERY:
		c->show_query = true;
		break;
	case 'v':
		c->verbose = true;
		break;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case OPT_BTF:
		c->btf_path = arg;
		break;
	case OPT_RING:
		if (cli_parse_u32(arg, 1, 1024, &v) || (v & (v - 1))) {
			fprintf(stderr,
				"connstate: invalid --ring-size '%s': expected a power of two from 1 to 1024 (MiB)\n",
				arg);
			return EINVAL;
		}
		c->ring_mib = v;
		break;
	case OPT_MAX_CONNS:
		if (cli_parse_u32(arg, 16, 4194304, &v)) {
			fprintf(stderr,
				"connstate: invalid --max-conns '%s': expected a number from 16 to 4194304\n",
				arg);
			return EINVAL;
		}
		c->max_conns = v;
		break;
	case 'q':
		c->quiet = true;
		break;
	case 'c':
		if (!*arg) {
			fprintf(stderr, "connstate: invalid -c '': expected a command to run\n");
			return EINVAL;
		}
		c->command = arg;
		break;
	case OPT_CGROUP:
		if (!*arg) {
			fprintf(stderr, "connstate: invalid --cgroup '': expected a cgroup v2 directory\n");
			return EINVAL;
		}
		c->cgroup = arg;
		break;
	case OPT_METRICS: {
		struct sockaddr_storage ss;
		socklen_t len;

		if (metrics_parse_addr(arg, &ss, &len)) {
			fprintf(stderr,
				"connstate: invalid --metrics '%s': expected IP:PORT, [IPv6]:PORT, localhost:PORT or :PORT with a port from 1 to 65535\n",
				arg);
			return EINVAL;
		}
		c->metrics = arg;
		break;
	}
	case OPT_INTERVAL:
		if (cli_parse_u32(arg, 1, 86400, &v)) {
			fprintf(stderr,
				"connstate: invalid --interval '%s': expected seconds from 1 to 86400\n",
				arg);
			return EINVAL;
		}
		c->interval = v;
		break;
	case OPT_HOOKS:
		if (strcmp(arg, "auto") && strcmp(arg, "tracepoints") && strcmp(arg, "raw") &&
		    strcmp(arg, "socket") && strcmp(arg, "sock-tracepoints")) {
			fprintf(stderr,
				"connstate: invalid --hooks '%s': expected auto, socket, sock-tracepoints, tracepoints or raw\n",
				arg);
			return EINVAL;
		}
		c->hooks = arg;
		break;
	case ARGP_KEY_ARG:
		fprintf(stderr, "connstate: unexpected argument '%s' (use -p PID)\n", arg);
		return EINVAL;
	case ARGP_KEY_END:
		if (!!c->npids + !!c->cgroup + !!c->command > 1) {
			fprintf(stderr,
				"connstate: -p, --cgroup and -c are alternatives: give one of them\n");
			return EINVAL;
		}
		if (!c->npids && !c->cgroup && !c->command) {
			fprintf(stderr,
				"connstate: no process given: use -p PID, --cgroup PATH or -c COMMAND (see --help)\n");
			return EINVAL;
		}
		if (c->quiet && !c->metrics && !c->interval) {
			fprintf(stderr,
				"connstate: -q leaves nothing to print: add --metrics or --interval\n");
			return EINVAL;
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int cli_parse(struct cli *c, int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse_opt, .doc = doc };

	memset(c, 0, sizeof(*c));
	c->ring_mib = 4;
	c->max_conns = 65536;
	/* argp prints its own errors for unknown options and exits 64 */
	return argp_parse(&argp, argc, argv, 0, NULL, c) ? -1 : 0;
}
