// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of user/output.c: exact lines for hostile requests, query redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "output.h"

struct fixture {
	char *buf;
	size_t len;
	struct output o;
	struct tr_conn c;
	struct tr_request r;
};

static int setup(void **st)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx->o.f = open_memstream(&fx->buf, &fx->len);
	if (!fx->o.f)
		return -1;
	fx->c.tgid = 42;
	fx->c.state = CS_ST_ACTIVE;
	strcpy(fx->c.client_str, "127.0.0.1:39778");
	strcpy(fx->c.local_str, "127.0.0.1:8080");
	strcpy(fx->r.method, "GET");
	fx->r.valid = true;
	fx->r.major = 1;
	fx->r.minor = 1;
	fx->r.status = 200;
	fx->r.start_ns = 1000000000;
	fx->r.end_ns = 1001500000;
	fx->r.bytes_in = 75;
	fx->r.bytes_out = 512;
	*st = fx;
	return 0;
}

static int teardown(void **st)
{
	struct fixture *fx = *st;

	fclose(fx->o.f);
	free(fx->buf);
	free(fx);
	return 0;
}

/* everything written so far */
static const char *out(struct fixture *fx)
{
	fflush(fx->o.f);
	return fx->buf;
}

static void request_with(struct fixture *fx, const char *target)
{
	strncpy(fx->r.target, target, sizeof(fx->r.target) - 1);
	output_request(&fx->o, &fx->c, &fx->r, true);
}

#define TEXT_PREFIX "Client: 127.0.0.1:39778 - request: "
#define TEXT_SUFFIX " HTTP/1.1 -> 200, 1.500 ms, 75 B in, 512 B out\n"
#define JSON_PREFIX                                                                      \
	"{\"time\":\"1970-01-01T00:00:01.001500Z\",\"type\":\"request\",\"pid\":42,"      \
	"\"client\":\"127.0.0.1:39778\",\"local\":\"127.0.0.1:8080\",\"method\":\"GET\"," \
	"\"path\":"
#define JSON_SUFFIX                                                                      \
	",\"version\":\"HTTP/1.1\",\"status\":200,\"complete\":true,\"duration_ms\":1.500," \
	"\"bytes_in\":75,\"bytes_out\":512}\n"

static void text_request_escapes_terminal_controls(void **st)
{
	struct fixture *fx = *st;

	request_with(fx, "/\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x7f\xc2\x9b\x9b");
	assert_string_equal(out(fx), TEXT_PREFIX
			    "GET /\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred\\x7f\\xc2\\x9b\\x9b"
			    TEXT_SUFFIX);
}

static void text_request_keeps_utf8(void **st)
{
	struct fixture *fx = *st;

	request_with(fx, "/caf\xc3\xa9/\xf0\x9f\x98\x80");
	assert_string_equal(out(fx), TEXT_PREFIX "GET /caf\xc3\xa9/\xf0\x9f\x98\x80" TEXT_SUFFIX);
}

static void text_request_escapes_method(void **st)
{
	struct fixture *fx = *st;

	strcpy(fx->r.method, "G\x1b[2J");
	request_with(fx, "/");
	assert_string_equal(out(fx), TEXT_PREFIX "G\\x1b[2J /" TEXT_SUFFIX);
}

static void query_is_redacted_by_default(void **st)
{
	struct fixture *fx = *st;

	request_with(fx, "/login?token=SECRET&user=me");
	assert_string_equal(out(fx), TEXT_PREFIX "GET /login?\xe2\x80\xa6" TEXT_SUFFIX);
	fx->o.json = true;
	request_with(fx, "/login?token=SECRET&user=me");
	assert_null(strstr(out(fx), "SECRET"));
	assert_string_equal(strchr(out(fx), '{'),
			    JSON_PREFIX "\"/login?\xe2\x80\xa6\"" JSON_SUFFIX);
}

static void empty_query_and_hostile_query_are_redacted(void **st)
{
	struct fixture *fx = *st;

	request_with(fx, "/?");
	request_with(fx, "/a\x1b?\x1b]0;x\x07");
	assert_string_equal(out(fx), TEXT_PREFIX "GET /?\xe2\x80\xa6" TEXT_SUFFIX
			    TEXT_PREFIX "GET /a\\x1b?\xe2\x80\xa6" TEXT_SUFFIX);
}

static void show_query_prints_it_escaped(void **st)
{
	struct fixture *fx = *st;

	fx->o.show_query = true;
	request_with(fx, "/login?token=SECRET&user=me\x1b");
	assert_string_equal(out(fx),
			    TEXT_PREFIX "GET /login?token=SECRET&user=me\\x1b" TEXT_SUFFIX);
	fx->o.json = true;
	request_with(fx, "/login?token=SECRET&q=\"\\");
	assert_string_equal(strchr(out(fx), '{'),
			    JSON_PREFIX "\"/login?token=SECRET&q=\\\"\\\\\"" JSON_SUFFIX);
}

static void json_request_escapes_controls_and_keeps_utf8(void **st)
{
	struct fixture *fx = *st;

	fx->o.json = true;
	request_with(fx, "/caf\xc3\xa9\x1b[31m\xc2\x9b\x9b\"");
	assert_string_equal(out(fx), JSON_PREFIX "\"/caf\xc3\xa9\\u001b[31m\\u009b\\\\x9b\\\"\""
			    JSON_SUFFIX);
}

/* the tracker keeps HTTP1_TARGET_MAX - 1 bytes: a cut é must not leak half of itself */
static void target_cut_inside_a_character_is_escaped(void **st)
{
	struct fixture *fx = *st;
	char t[HTTP1_TARGET_MAX], want[HTTP1_TARGET_MAX + 128];

	memset(t, 'a', sizeof(t));
	t[0] = '/';
	t[HTTP1_TARGET_MAX - 2] = (char)0xc3;
	t[HTTP1_TARGET_MAX - 1] = '\0';
	request_with(fx, t);
	t[HTTP1_TARGET_MAX - 2] = '\0';
	snprintf(want, sizeof(want), TEXT_PREFIX "GET %s\\xc3" TEXT_SUFFIX, t);
	assert_string_equal(out(fx), want);
}

static void unparsed_request_prints_dashes(void **st)
{
	struct fixture *fx = *st;

	fx->r.valid = false;
	fx->r.method[0] = '\0';
	fx->r.status = 400;
	request_with(fx, "/ignored?SECRET");
	assert_string_equal(out(fx), "Client: 127.0.0.1:39778 - request:  - - -> 400, 1.500 ms, "
				     "75 B in, 512 B out\n");
}

/* durations in ms with three decimals, rounded half up, the same in text
 * and JSON; an incomplete request and large counts */
static void durations_and_counts(void **st)
{
	static const struct {
		uint64_t ns;
		const char *ms;
	} cases[] = {
		{ 0, "0.000" },		  { 499, "0.000" },	    { 500, "0.001" },
		{ 1234499, "1.234" },	  { 1234500, "1.235" },	    { 999999500, "1000.000" },
		{ 3600000000000ULL, "3600000.000" },
	};
	struct fixture *fx = *st;
	char want[512];
	size_t i;

	strcpy(fx->r.target, "/");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx->r.end_ns = fx->r.start_ns + cases[i].ns;
		fx->r.bytes_in = 18446744073709551615ULL;
		fx->r.bytes_out = 0;
		fx->o.json = false;
		output_request(&fx->o, &fx->c, &fx->r, i % 2);
		fx->o.json = true;
		output_request(&fx->o, &fx->c, &fx->r, i % 2);
		snprintf(want, sizeof(want),
			 TEXT_PREFIX "GET / HTTP/1.1 -> 200%s, %s ms, 18446744073709551615 B in, "
				     "0 B out\n",
			 i % 2 ? "" : " (incomplete)", cases[i].ms);
		assert_non_null(strstr(out(fx), want));
		snprintf(want, sizeof(want),
			 "\"complete\":%s,\"duration_ms\":%s,\"bytes_in\":18446744073709551615,"
			 "\"bytes_out\":0}\n",
			 i % 2 ? "true" : "false", cases[i].ms);
		assert_non_null(strstr(out(fx), want));
	}
}

static void warning_text_is_escaped(void **st)
{
	struct fixture *fx = *st;

	output_warning(&fx->o, &fx->c, "x\x1b[2J\\", 0);
	fx->o.json = true;
	output_warning(&fx->o, &fx->c, "x\x1b[2J\\", 0);
	assert_string_equal(out(fx),
			    "Client: 127.0.0.1:39778 - warning: x\\x1b[2J\\\\\n"
			    "{\"time\":\"1970-01-01T00:00:00.000000Z\",\"type\":\"warning\","
			    "\"pid\":42,\"client\":\"127.0.0.1:39778\",\"local\":\"127.0.0.1:8080\","
			    "\"message\":\"x\\u001b[2J\\\\\"}\n");
}

static void state_line_is_unchanged(void **st)
{
	struct fixture *fx = *st;

	output_state(&fx->o, &fx->c, CS_ST_NEW, 0);
	assert_string_equal(out(fx), "Client: 127.0.0.1:39778 - new state: active\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(text_request_escapes_terminal_controls, setup,
						teardown),
		cmocka_unit_test_setup_teardown(text_request_keeps_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(text_request_escapes_method, setup, teardown),
		cmocka_unit_test_setup_teardown(query_is_redacted_by_default, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_query_and_hostile_query_are_redacted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(show_query_prints_it_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(json_request_escapes_controls_and_keeps_utf8, setup,
						teardown),
		cmocka_unit_test_setup_teardown(target_cut_inside_a_character_is_escaped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(unparsed_request_prints_dashes, setup, teardown),
		cmocka_unit_test_setup_teardown(durations_and_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(warning_text_is_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(state_line_is_unchanged, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
