// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-target counters, Prometheus text and the interval summary; see stats.h. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "stats.h"

/* Methods get a label of their own; any other is OTHER, so a client cannot
 * grow the label set. */
static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER",
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))
/* Status codes 100-599 are labels; index 0 is "none" (no response head). */
#define N_CODES 600

/* Prometheus buckets of request duration, in seconds. */
static const double buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

/* Interval durations in log buckets of 2^(1/4) from 1 us: percentiles to
 * within 19 %, in constant memory. */
#define N_LOG 128

static const char *const closers[] = { "unknown", "client", "server", "reset" };
#define N_CLOSERS 4

struct interval {
	uint64_t requests;
	uint64_t classes[6]; /* none, 1xx .. 5xx */
	uint64_t closed[N_CLOSERS];
	uint64_t log_hist[N_LOG];
};

struct target {
	uint32_t pid;
	char comm[STATS_COMM_MAX];
	uint64_t closed[N_CLOSERS];
	uint64_t hijacked;
	uint64_t (*requests)[N_CODES]; /* [N_METHODS][N_CODES], on first request */
	uint64_t dur_buckets[N_BUCKETS]; /* not cumulative; summed on output */
	uint64_t dur_count;
	double dur_sum;
	struct interval iv;
};

struct stats {
	struct target t[STATS_MAX_TARGETS];
	int n;
};

struct stats *stats_new(void)
{
	return calloc(1, sizeof(struct stats));
}

void stats_free(struct stats *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		free(s->t[i].requests);
	free(s);
}

int stats_ntargets(const struct stats *s)
{
	return s->n;
}

int stats_target(struct stats *s, uint32_t pid, const char *comm)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->t[i].pid == pid)
			return i;
	if (s->n == STATS_MAX_TARGETS)
		return STATS_MAX_TARGETS - 1;
	s->t[s->n].pid = pid;
	snprintf(s->t[s->n].comm, STATS_COMM_MAX, "%s", comm ? comm : "");
	return s->n++;
}

void stats_rename(struct stats *s, int target, const char *comm)
{
	if (target >= 0 && target < s->n)
		snprintf(s->t[target].comm, STATS_COMM_MAX, "%s", comm);
}

static struct target *slot(struct stats *s, int target)
{
	if (target < 0 || target >= s->n)
		return NULL;
	return &s->t[target];
}

void stats_state(struct stats *s, int target, enum cs_state next, enum cs_closer closer)
{
	struct target *t = slot(s, target);

	if (!t)
		return;
	if (next == CS_ST_HIJACKED)
		t->hijacked++;
	if (next == CS_ST_CLOSED && (unsigned)closer < N_CLOSERS) {
		t->closed[closer]++;
		t->iv.closed[closer]++;
	}
}

static size_t method_index(const char *m)
{
	size_t i;

	for (i = 0; i < N_METHODS - 1; i++)
		if (m && !strcmp(m, methods[i]))
			return i;
	return N_METHODS - 1;
}

/* Upper bound of log bucket b, in ns: 1 us * 2^((b + 1) / 4). */
static double log_upper_ns(int b)
{
	static double upper[N_LOG];
	int i;

	if (!upper[0])
		for (i = 0; i < N_LOG; i++)
			upper[i] = (i ? upper[i - 1] : 1000.0) * 1.189207115002721;
	return upper[b];
}

static int log_bucket(uint64_t ns)
{
	int lo = 0, hi = N_LOG - 1;

	/* the first bucket whose upper bound is above ns */
	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if ((double)ns < log_upper_ns(mid))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void stats_request(struct stats *s, int target, const char *method, int status,
		   uint64_t duration_ns)
{
	struct target *t = slot(s, target);
	double secs = (double)duration_ns / 1e9;
	size_t i;
	int code = status >= 100 && status < N_CODES ? status : 0;

	if (!t)
		return;
	if (!t->requests && !(t->requests = calloc(N_METHODS, sizeof(*t->requests))))
		return;
	t->requests[method_index(method)][code]++;
	for (i = 0; i < N_BUCKETS; i++)
		if (secs <= buckets[i]) {
			t->dur_buckets[i]++;
			break;
		}
	t->dur_count++;
	t->dur_sum += secs;
	t->iv.requests++;
	t->iv.classes[code / 100]++;
	t->iv.log_hist[log_bucket(duration_ns)]++;
}

uint64_t stats_interval_quantile(const struct stats *s, int target, double p)
{
	const struct target *t;
	uint64_t need, seen = 0;
	int b;

	if (target < 0 || target >= s->n)
		return 0;
	t = &s->t[target];
	if (!t->iv.requests)
		return 0;
	need = (uint64_t)(p * (double)t->iv.requests + 0.999999);
	if (need < 1)
		need = 1;
	for (b = 0; b < N_LOG; b++) {
		seen += t->iv.log_hist[b];
		if (seen >= need)
			return (uint64_t)log_upper_ns(b);
	}
	return (uint64_t)log_upper_ns(N_LOG - 1);
}

/* A label value as the exposition format wants it: \, " and newline escaped. */
static void label_value(FILE *f, const char *v)
{
	fputc('"', f);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

/* A process target is named by comm and root pid; a cgroup (pid 0) by
 * its directory's name. */
static void target_labels(FILE *f, const struct target *t)
{
	fputs(t->pid ? "comm=" : "cgroup=", f);
	label_value(f, t->comm);
	if (t->pid)
		fprintf(f, ",pid=\"%u\"", t->pid);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void stats_prometheus(const struct stats *s, const struct stats_open *open,
		      const struct stats_global *g, FILE *f)
{
	static const enum cs_state gauges[] = { CS_ST_NEW, CS_ST_ACTIVE, CS_ST_IDLE };
	int i;
	size_t k, m;
	int c;

	head(f, "connstate_connections", "gauge", "Open connections by current state.");
	for (i = 0; i < s->n; i++)
		for (k = 0; k < 3; k++) {
			fputs("connstate_connections{", f);
			target_labels(f, &s->t[i]);
			fprintf(f, ",state=\"%s\"} %" PRIu64 "\n", cs_state_name(gauges[k]),
				open ? open[i].by_state[gauges[k]] : 0);
		}
	head(f, "connstate_connections_total", "counter",
	     "Connections accepted, or found open at attach.");
	fprintf(f, "connstate_connections_total %" PRIu64 "\n", g->connections);
	head(f, "connstate_connections_closed_total", "counter",
	     "Connections closed, by who closed first.");
	for (i = 0; i < s->n; i++)
		for (k = 0; k < N_CLOSERS; k++) {
			fputs("connstate_connections_closed_total{", f);
			target_labels(f, &s->t[i]);
			fprintf(f, ",closed_by=\"%s\"} %" PRIu64 "\n", closers[k], s->t[i].closed[k]);
		}
	head(f, "connstate_hijacked_total", "counter", "Connections hijacked (101, CONNECT).");
	for (i = 0; i < s->n; i++) {
		fputs("connstate_hijacked_total{", f);
		target_labels(f, &s->t[i]);
		fprintf(f, "} %" PRIu64 "\n", s->t[i].hijacked);
	}
	head(f, "connstate_requests_total", "counter", "Requests, by method and status code.");
	for (i = 0; i < s->n; i++) {
		if (!s->t[i].requests)
			continue;
		for (m = 0; m < N_METHODS; m++)
			for (c = 0; c < N_CODES; c++) {
				if (!s->t[i].requests[m][c])
					continue;
				fputs("connstate_requests_total{", f);
				target_labels(f, &s->t[i]);
				fprintf(f, ",method=\"%s\",code=\"", methods[m]);
				if (c)
					fprintf(f, "%d", c);
				else
					fputs("none", f);
				fprintf(f, "\"} %" PRIu64 "\n", s->t[i].requests[m][c]);
			}
	}
	head(f, "connstate_request_duration_seconds", "histogram",
	     "From a request's complete header block to its response's last byte.");
	for (i = 0; i < s->n; i++) {
		const struct target *t = &s->t[i];
		uint64_t cum = 0;

		for (k = 0; k < N_BUCKETS; k++) {
			cum += t->dur_buckets[k];
			fputs("connstate_request_duration_seconds_bucket{", f);
			target_labels(f, t);
			fprintf(f, ",le=\"%g\"} %" PRIu64 "\n", buckets[k], cum);
		}
		fputs("connstate_request_duration_seconds_bucket{", f);
		target_labels(f, t);
		fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n", t->dur_count);
		fputs("connstate_request_duration_seconds_sum{", f);
		target_labels(f, t);
		fprintf(f, "} %.9f\n", t->dur_sum);
		fputs("connstate_request_duration_seconds_count{", f);
		target_labels(f, t);
		fprintf(f, "} %" PRIu64 "\n", t->dur_count);
	}
	head(f, "connstate_events_lost_total", "counter",
	     "Kernel events lost (ring buffer full); affected connections are uncertain.");
	fprintf(f, "connstate_events_lost_total %" PRIu64 "\n", g->events_lost);
	head(f, "connstate_connections_uncertain_total", "counter",
	     "Connections whose states were withheld after lost data.");
	fprintf(f, "connstate_connections_uncertain_total %" PRIu64 "\n", g->uncertain);
	head(f, "connstate_syscalls_not_followed_total", "counter",
	     "Syscalls of tracked connections whose arguments could not be saved.");
	fprintf(f, "connstate_syscalls_not_followed_total %" PRIu64 "\n", g->stash_full);
	head(f, "connstate_connections_not_tracked_total", "counter",
	     "Connections the kernel's table had no room for.");
	fprintf(f, "connstate_connections_not_tracked_total %" PRIu64 "\n", g->not_tracked);
}

static void ms(FILE *f, uint64_t ns)
{
	fprintf(f, "%.3f", (double)ns / 1e6);
}

void stats_interval(struct stats *s, const struct stats_open *open, double secs, bool json,
		    FILE *f)
{
	int i, k;

	for (i = 0; i < s->n; i++) {
		struct target *t = &s->t[i];
		const struct stats_open *o = &open[i];
		uint64_t p50 = stats_interval_quantile(s, i, 0.50);
		uint64_t p99 = stats_interval_quantile(s, i, 0.99);
		uint64_t closed = 0;

		for (k = 0; k < N_CLOSERS; k++)
			closed += t->iv.closed[k];
		if (json) {
			if (t->pid)
				fprintf(f, "{\"type\":\"summary\",\"pid\":%u,\"comm\":", t->pid);
			else
				fputs("{\"type\":\"summary\",\"cgroup\":", f);
			/* comm is the process's own name: escape as any string */
			fputc('"', f);
			esc_puts(f, t->comm, ESC_JSON);
			fprintf(f,
				"\",\"interval_s\":%.3f,\"open\":{\"new\":%" PRIu64
				",\"active\":%" PRIu64 ",\"idle\":%" PRIu64 "},\"requests\":%" PRIu64
				",\"status\":{\"none\":%" PRIu64 ",\"1xx\":%" PRIu64 ",\"2xx\":%" PRIu64
				",\"3xx\":%" PRIu64 ",\"4xx\":%" PRIu64 ",\"5xx\":%" PRIu64 "}",
				secs, o->by_state[CS_ST_NEW], o->by_state[CS_ST_ACTIVE],
				o->by_state[CS_ST_IDLE], t->iv.requests, t->iv.classes[0],
				t->iv.classes[1], t->iv.classes[2], t->iv.classes[3], t->iv.classes[4],
				t->iv.classes[5]);
			fputs(",\"p50_ms\":", f);
			ms(f, p50);
			fputs(",\"p99_ms\":", f);
			ms(f, p99);
			fprintf(f, ",\"closed\":{");
			for (k = 0; k < N_CLOSERS; k++)
				fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "", closers[k],
					t->iv.closed[k]);
			fputs("}}\n", f);
		} else {
			if (t->pid)
				fprintf(f, "Summary: pid %u (", t->pid);
			else
				fputs("Summary: cgroup ", f);
			esc_puts(f, t->comm, ESC_TEXT);
			fprintf(f,
				"%s, last %.1f s: open %" PRIu64 " new, %" PRIu64 " active, %" PRIu64
				" idle; %" PRIu64 " requests (2xx %" PRIu64 ", 3xx %" PRIu64
				", 4xx %" PRIu64 ", 5xx %" PRIu64 ", other %" PRIu64 "), p50 ",
				t->pid ? ")" : "", secs, o->by_state[CS_ST_NEW],
				o->by_state[CS_ST_ACTIVE], o->by_state[CS_ST_IDLE], t->iv.requests,
				t->iv.classes[2],
				t->iv.classes[3], t->iv.classes[4], t->iv.classes[5],
				t->iv.classes[0] + t->iv.classes[1]);
			ms(f, p50);
			fputs(" ms, p99 ", f);
			ms(f, p99);
			fprintf(f,
				" ms; %" PRIu64 " closed (client %" PRIu64 ", server %" PRIu64
				", reset %" PRIu64 ", unknown %" PRIu64 ")\n",
				closed, t->iv.closed[CS_CLOSER_CLIENT], t->iv.closed[CS_CLOSER_SERVER],
				t->iv.closed[CS_CLOSER_RESET], t->iv.closed[CS_CLOSER_UNKNOWN]);
		}
		memset(&t->iv, 0, sizeof(t->iv));
	}
}
