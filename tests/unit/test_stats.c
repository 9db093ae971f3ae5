// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of user/stats.c: Prometheus text and the interval summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

static char *render(struct stats *s, const struct stats_open *open, bool prom, bool json)
{
	struct stats_global g = { .connections = 7, .events_lost = 3, .uncertain = 2 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (prom)
		stats_prometheus(s, open, &g, f);
	else
		stats_interval(s, open, 10.0, json, f);
	fclose(f);
	return buf;
}

static void assert_has(const char *page, const char *line)
{
	if (!strstr(page, line))
		fail_msg("missing line: %s\nin:\n%s", line, page);
}

static void counters_and_gauges_have_exact_lines(void **st)
{
	struct stats *s = stats_new();
	struct stats_open open[1] = { { .by_state = { [CS_ST_NEW] = 1, [CS_ST_IDLE] = 4 } } };
	char *page;
	int t = stats_target(s, 1234, "nginx");

	assert_int_equal(t, 0);
	assert_int_equal(stats_target(s, 1234, "other"), 0); /* same pid, same slot */
	stats_request(s, t, "GET", 200, 300000);   /* 0.3 ms */
	stats_request(s, t, "GET", 200, 2000000);  /* 2 ms */
	stats_request(s, t, "BREW", 418, 50000);   /* 0.05 ms, not a standard method */
	stats_request(s, t, "-", 0, 1000);	   /* no response head */
	stats_state(s, t, CS_ST_CLOSED, CS_CLOSER_CLIENT);
	stats_state(s, t, CS_ST_CLOSED, CS_CLOSER_RESET);
	stats_state(s, t, CS_ST_HIJACKED, CS_CLOSER_UNKNOWN);
	page = render(s, open, true, false);
	assert_has(page, "# TYPE connstate_connections gauge\n");
	assert_has(page, "connstate_connections{comm=\"nginx\",pid=\"1234\",state=\"new\"} 1\n");
	assert_has(page, "connstate_connections{comm=\"nginx\",pid=\"1234\",state=\"active\"} 0\n");
	assert_has(page, "connstate_connections{comm=\"nginx\",pid=\"1234\",state=\"idle\"} 4\n");
	assert_has(page, "connstate_connections_total 7\n");
	assert_has(page,
		   "connstate_connections_closed_total{comm=\"nginx\",pid=\"1234\",closed_by=\"client\"} 1\n");
	assert_has(page,
		   "connstate_connections_closed_total{comm=\"nginx\",pid=\"1234\",closed_by=\"reset\"} 1\n");
	assert_has(page,
		   "connstate_connections_closed_total{comm=\"nginx\",pid=\"1234\",closed_by=\"server\"} 0\n");
	assert_has(page, "connstate_hijacked_total{comm=\"nginx\",pid=\"1234\"} 1\n");
	assert_has(page,
		   "connstate_requests_total{comm=\"nginx\",pid=\"1234\",method=\"GET\",code=\"200\"} 2\n");
	assert_has(page,
		   "connstate_requests_total{comm=\"nginx\",pid=\"1234\",method=\"OTHER\",code=\"418\"} 1\n");
	assert_has(page,
		   "connstate_requests_total{comm=\"nginx\",pid=\"1234\",method=\"OTHER\",code=\"none\"} 1\n");
	assert_null(strstr(page, "BREW"));
	/* buckets are cumulative: 0.0001 holds 2 (1 us, 50 us), 0.0005 holds 3, 0.0025 all 4 */
	assert_has(page,
		   "connstate_request_duration_seconds_bucket{comm=\"nginx\",pid=\"1234\",le=\"0.0001\"} 2\n");
	assert_has(page,
		   "connstate_request_duration_seconds_bucket{comm=\"nginx\",pid=\"1234\",le=\"0.0005\"} 3\n");
	assert_has(page,
		   "connstate_request_duration_seconds_bucket{comm=\"nginx\",pid=\"1234\",le=\"0.001\"} 3\n");
	assert_has(page,
		   "connstate_request_duration_seconds_bucket{comm=\"nginx\",pid=\"1234\",le=\"0.0025\"} 4\n");
	assert_has(page,
		   "connstate_request_duration_seconds_bucket{comm=\"nginx\",pid=\"1234\",le=\"+Inf\"} 4\n");
	assert_has(page, "connstate_request_duration_seconds_count{comm=\"nginx\",pid=\"1234\"} 4\n");
	assert_has(page, "connstate_request_duration_seconds_sum{comm=\"nginx\",pid=\"1234\"} 0.002351000\n");
	assert_has(page, "connstate_events_lost_total 3\n");
	assert_has(page, "connstate_connections_uncertain_total 2\n");
	free(page);
	stats_free(s);
}

static void label_values_are_escaped(void **st)
{
	struct stats *s = stats_new();
	struct stats_open open[1] = { 0 };
	char *page;

	stats_target(s, 9, "a\"b\\c\nd");
	page = render(s, open, true, false);
	assert_has(page, "connstate_hijacked_total{comm=\"a\\\"b\\\\c\\nd\",pid=\"9\"} 0\n");
	free(page);
	stats_free(s);
}

static void targets_beyond_the_limit_share_the_last_slot(void **st)
{
	struct stats *s = stats_new();
	int i;

	for (i = 0; i < STATS_MAX_TARGETS; i++)
		assert_int_equal(stats_target(s, 100 + i, "x"), i);
	assert_int_equal(stats_target(s, 99999, "y"), STATS_MAX_TARGETS - 1);
	assert_int_equal(stats_ntargets(s), STATS_MAX_TARGETS);
	stats_free(s);
}

static void interval_quantiles_are_within_a_bucket(void **st)
{
	struct stats *s = stats_new();
	int t = stats_target(s, 1, "srv"), i;
	uint64_t p50, p99;

	/* 98 requests of 1 ms, 2 of 100 ms: p50 ~1 ms, p99 ~100 ms */
	for (i = 0; i < 98; i++)
		stats_request(s, t, "GET", 200, 1000000);
	stats_request(s, t, "GET", 200, 100000000);
	stats_request(s, t, "GET", 500, 100000000);
	p50 = stats_interval_quantile(s, t, 0.50);
	p99 = stats_interval_quantile(s, t, 0.99);
	assert_true(p50 >= 1000000 && p50 <= 1190000);
	assert_true(p99 >= 100000000 && p99 <= 119000000);
	stats_free(s);
}

static void interval_line_counts_classes_and_resets(void **st)
{
	struct stats *s = stats_new();
	struct stats_open open[1] = { { .by_state = { [CS_ST_ACTIVE] = 2, [CS_ST_IDLE] = 3 } } };
	int t = stats_target(s, 77, "httpd");
	char *line;

	stats_request(s, t, "GET", 200, 1000000);
	stats_request(s, t, "GET", 404, 1000000);
	stats_request(s, t, "POST", 503, 1000000);
	stats_state(s, t, CS_ST_CLOSED, CS_CLOSER_SERVER);
	line = render(s, open, false, false);
	assert_string_equal(line,
			    "Summary: pid 77 (httpd), last 10.0 s: open 0 new, 2 active, 3 idle; "
			    "3 requests (2xx 1, 3xx 0, 4xx 1, 5xx 1, other 0), p50 1.024 ms, "
			    "p99 1.024 ms; 1 closed (client 0, server 1, reset 0, unknown 0)\n");
	free(line);
	/* the next interval starts empty; counters since start stay */
	line = render(s, open, false, true);
	assert_string_equal(line,
			    "{\"type\":\"summary\",\"pid\":77,\"comm\":\"httpd\",\"interval_s\":10.000,"
			    "\"open\":{\"new\":0,\"active\":2,\"idle\":3},\"requests\":0,"
			    "\"status\":{\"none\":0,\"1xx\":0,\"2xx\":0,\"3xx\":0,\"4xx\":0,\"5xx\":0},"
			    "\"p50_ms\":0.000,\"p99_ms\":0.000,"
			    "\"closed\":{\"unknown\":0,\"client\":0,\"server\":0,\"reset\":0}}\n");
	free(line);
	line = render(s, open, true, false);
	assert_has(line,
		   "connstate_requests_total{comm=\"httpd\",pid=\"77\",method=\"POST\",code=\"503\"} 1\n");
	free(line);
	stats_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counters_and_gauges_have_exact_lines),
		cmocka_unit_test(label_values_are_escaped),
		cmocka_unit_test(targets_beyond_the_limit_share_the_last_slot),
		cmocka_unit_test(interval_quantiles_are_within_a_bucket),
		cmocka_unit_test(interval_line_counts_classes_and_resets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
