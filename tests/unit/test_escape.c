// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of user/escape.c: the safe form of client bytes, text and JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "escape.h"

/* esc_write's output for s[0..n), as a malloc'd string the caller frees */
static char *esc(const char *s, size_t n, enum esc_mode mode)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	esc_write(f, s, n, mode);
	fclose(f);
	return buf;
}

#define check(in, mode, want)                                    \
	do {                                                     \
		char *got = esc(in, sizeof(in) - 1, mode);       \
		assert_string_equal(got, want);                  \
		free(got);                                       \
	} while (0)

static void text_keeps_printable_ascii(void **st)
{
	check("/index.html?a=1&b=\"x\"", ESC_TEXT, "/index.html?a=1&b=\"x\"");
}

static void text_escapes_backslash(void **st)
{
	check("/a\\x1b", ESC_TEXT, "/a\\\\x1b");
}

static void text_escapes_c0_and_del(void **st)
{
	check("a\x1b" "b\x07" "c\x7f" "d\t\r\n\x01", ESC_TEXT,
	      "a\\x1bb\\x07c\\x7fd\\x09\\x0d\\x0a\\x01");
	check("\0", ESC_TEXT, "\\x00");
}

static void text_escapes_the_issue_request_target(void **st)
{
	check("/\x1b]0;pwned\x07\x1b[2J\x1b[31mred", ESC_TEXT,
	      "/\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred");
}

static void text_escapes_c1_per_byte(void **st)
{
	/* U+009B CSI, well-formed UTF-8, still a control: both bytes escaped */
	check("a\xc2\x9b" "b\xc2\x80\xc2\x9f", ESC_TEXT, "a\\xc2\\x9bb\\xc2\\x80\\xc2\\x9f");
	/* a raw 0x9b is not UTF-8 at all */
	check("\x9b[31m", ESC_TEXT, "\\x9b[31m");
}

static void text_keeps_printable_utf8(void **st)
{
	check("/caf\xc3\xa9", ESC_TEXT, "/caf\xc3\xa9");			/* é */
	check("\xc2\xa0\xe2\x82\xac", ESC_TEXT, "\xc2\xa0\xe2\x82\xac");	/* NBSP, € */
	check("/\xf0\x9f\x98\x80!", ESC_TEXT, "/\xf0\x9f\x98\x80!");	/* U+1F600 */
	check("\xf4\x8f\xbf\xbf", ESC_TEXT, "\xf4\x8f\xbf\xbf");		/* U+10FFFF */
}

static void text_escapes_ill_formed_utf8(void **st)
{
	check("\xc0\xaf", ESC_TEXT, "\\xc0\\xaf");		 /* overlong '/' */
	check("\xe0\x80\xaf", ESC_TEXT, "\\xe0\\x80\\xaf");	 /* overlong, 3 bytes */
	check("\xf0\x80\x80\xaf", ESC_TEXT, "\\xf0\\x80\\x80\\xaf"); /* overlong, 4 bytes */
	check("\xed\xa0\x80", ESC_TEXT, "\\xed\\xa0\\x80");	 /* surrogate U+D800 */
	check("\xf4\x90\x80\x80", ESC_TEXT, "\\xf4\\x90\\x80\\x80"); /* U+110000 */
	check("\xf8\x88\x80\x80\x80", ESC_TEXT, "\\xf8\\x88\\x80\\x80\\x80");
	check("\x80x\xbf", ESC_TEXT, "\\x80x\\xbf");		 /* stray continuations */
	check("\xfe\xff", ESC_TEXT, "\\xfe\\xff");
}

static void text_escapes_truncated_sequences(void **st)
{
	check("/caf\xc3", ESC_TEXT, "/caf\\xc3");
	check("/\xe2\x82", ESC_TEXT, "/\\xe2\\x82");
	check("/\xf0\x9f\x98", ESC_TEXT, "/\\xf0\\x9f\\x98");
	/* cut short in the middle: the byte after it is read afresh */
	check("\xe2\x82" "A\xc3\xa9", ESC_TEXT, "\\xe2\\x82A\xc3\xa9");
	check("\xc3\xc3\xa9", ESC_TEXT, "\\xc3\xc3\xa9");
}

static void text_escapes_characters_that_hide_or_reorder(void **st)
{
	check("/a\xe2\x80\xae" "gnp.exe", ESC_TEXT, "/a\\u202egnp.exe"); /* RLO */
	check("\xe2\x80\xaa\xe2\x80\xac", ESC_TEXT, "\\u202a\\u202c");
	check("\xe2\x81\xa6\xe2\x81\xa9", ESC_TEXT, "\\u2066\\u2069"); /* isolates */
	check("\xe2\x80\x8e\xe2\x80\x8f", ESC_TEXT, "\\u200e\\u200f"); /* LRM, RLM */
	check("\xe2\x80\xa8\xe2\x80\xa9", ESC_TEXT, "\\u2028\\u2029"); /* LS, PS */
	check("\xe2\x80\x8b\xef\xbb\xbf", ESC_TEXT, "\\u200b\\ufeff"); /* ZWSP, BOM */
	check("a\xc2\xad" "b", ESC_TEXT, "a\\u00adb");		/* soft hyphen */
	check("\xf3\xa0\x81\x81", ESC_TEXT, "\\U000e0041");	/* TAG LATIN CAPITAL A */
	/* neighbours are ordinary punctuation */
	check("\xe2\x80\xa6\xe2\x80\xaf", ESC_TEXT, "\xe2\x80\xa6\xe2\x80\xaf");
}

static void json_escapes_quote_backslash_and_controls(void **st)
{
	check("a\"b\\c/", ESC_JSON, "a\\\"b\\\\c/");
	check("\x1b[2J\x07\x7f\t\n", ESC_JSON, "\\u001b[2J\\u0007\\u007f\\u0009\\u000a");
	check("\0", ESC_JSON, "\\u0000");
}

static void json_keeps_utf8_as_text(void **st)
{
	check("/caf\xc3\xa9", ESC_JSON, "/caf\xc3\xa9");
	check("\xf0\x9f\x98\x80", ESC_JSON, "\xf0\x9f\x98\x80");
}

static void json_escapes_c1_and_hiding_characters_losslessly(void **st)
{
	check("\xc2\x9b" "1", ESC_JSON, "\\u009b1");
	check("\xe2\x80\xae", ESC_JSON, "\\u202e");
	check("\xe2\x80\xa8", ESC_JSON, "\\u2028");
	check("\xf3\xa0\x81\x81", ESC_JSON, "\\udb40\\udc41");	/* U+E0041 as a pair */
}

static void json_writes_invalid_bytes_as_visible_text(void **st)
{
	check("\x9b", ESC_JSON, "\\\\x9b");
	check("\xc0\xaf", ESC_JSON, "\\\\xc0\\\\xaf");
	check("\xed\xa0\x80", ESC_JSON, "\\\\xed\\\\xa0\\\\x80");
	check("/caf\xc3", ESC_JSON, "/caf\\\\xc3");
}

/*
 * Independent checks for the property test, written from Unicode's table of
 * well-formed byte sequences (Table 3-7) rather than from escape.c's code.
 * Returns the sequence's length or 0, and its code point.
 */
static size_t wf_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const struct { unsigned char lo1, hi1, lo2, hi2; size_t len; } t[] = {
		{ 0x00, 0x7f, 0, 0, 1 },	{ 0xc2, 0xdf, 0x80, 0xbf, 2 },
		{ 0xe0, 0xe0, 0xa0, 0xbf, 3 },	{ 0xe1, 0xec, 0x80, 0xbf, 3 },
		{ 0xed, 0xed, 0x80, 0x9f, 3 },	{ 0xee, 0xef, 0x80, 0xbf, 3 },
		{ 0xf0, 0xf0, 0x90, 0xbf, 4 },	{ 0xf1, 0xf3, 0x80, 0xbf, 4 },
		{ 0xf4, 0xf4, 0x80, 0x8f, 4 },
	};
	size_t i, k;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (s[0] < t[i].lo1 || s[0] > t[i].hi1)
			continue;
		if (n < t[i].len)
			return 0;
		if (t[i].len > 1 && (s[1] < t[i].lo2 || s[1] > t[i].hi2))
			return 0;
		for (k = 2; k < t[i].len; k++)
			if (s[k] < 0x80 || s[k] > 0xbf)
				return 0;
		*cp = t[i].len == 1 ? s[0] : (uint32_t)(s[0] & (0x7f >> t[i].len));
		for (k = 1; k < t[i].len; k++)
			*cp = (*cp << 6) | (s[k] & 0x3f);
		return t[i].len;
	}
	return 0;
}

static int is_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, l;
	uint32_t cp;

	while (i < n) {
		if (!(l = wf_len(s + i, n - i, &cp)))
			return 0;
		i += l;
	}
	return 1;
}

/* text form: valid UTF-8; no C0, DEL, C1, bidi, separators, invisibles */
static void assert_text_safe(const char *out, const unsigned char *in, size_t n)
{
	const unsigned char *s = (const unsigned char *)out;
	size_t len = strlen(out), i = 0, l;
	uint32_t cp;

	while (i < len) {
		l = wf_len(s + i, len - i, &cp);
		if (!l || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0xad ||
		    (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
		    (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff ||
		    (cp >= 0xe0000 && cp <= 0xe007f)) {
			size_t k;

			fprintf(stderr, "unsafe text output at byte %zu for input:", i);
			for (k = 0; k < n; k++)
				fprintf(stderr, " %02x", in[k]);
			fprintf(stderr, "\n");
			fail();
		}
		i += l;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parses out as the inside of a JSON string (RFC 8259 section 7) and decodes
 * it into dec (UTF-8); returns the decoded length, or -1 if it is not JSON.
 */
static long json_decode(const char *out, unsigned char *dec)
{
	const unsigned char *s = (const unsigned char *)out;
	size_t len = strlen(out), i = 0, l, d = 0;
	uint32_t cp;
	int k, h;

	while (i < len) {
		if (s[i] == '"' || s[i] < 0x20)
			return -1;
		if (s[i] != '\\') {
			if (!(l = wf_len(s + i, len - i, &cp)))
				return -1;
			memcpy(dec + d, s + i, l);
			d += l;
			i += l;
			continue;
		}
		if (i + 1 >= len)
			return -1;
		switch (s[i + 1]) {
		case '"': case '\\': case '/':
			dec[d++] = s[i + 1];
			break;
		case 'b': dec[d++] = '\b'; break;
		case 'f': dec[d++] = '\f'; break;
		case 'n': dec[d++] = '\n'; break;
		case 'r': dec[d++] = '\r'; break;
		case 't': dec[d++] = '\t'; break;
		case 'u':
			if (i + 6 > len)
				return -1;
			for (cp = 0, k = 2; k < 6; k++) {
				if ((h = hexval((char)s[i + k])) < 0)
					return -1;
				cp = cp << 4 | (uint32_t)h;
			}
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -1;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t lo = 0;

				/* a high surrogate must be followed by \u and a low one */
				if (i + 12 > len || s[i + 6] != '\\' || s[i + 7] != 'u')
					return -1;
				for (k = 8; k < 12; k++) {
					if ((h = hexval((char)s[i + k])) < 0)
						return -1;
					lo = lo << 4 | (uint32_t)h;
				}
				if (lo < 0xdc00 || lo > 0xdfff)
					return -1;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				dec[d++] = (unsigned char)(0xf0 | cp >> 18);
				dec[d++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
				dec[d++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
				dec[d++] = (unsigned char)(0x80 | (cp & 0x3f));
				i += 10;
			} else if (cp < 0x80) {
				dec[d++] = (unsigned char)cp;
			} else if (cp < 0x800) {
				dec[d++] = (unsigned char)(0xc0 | cp >> 6);
				dec[d++] = (unsigned char)(0x80 | (cp & 0x3f));
			} else {
				dec[d++] = (unsigned char)(0xe0 | cp >> 12);
				dec[d++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
				dec[d++] = (unsigned char)(0x80 | (cp & 0x3f));
			}
			i += 4;
			break;
		default:
			return -1;
		}
		i += 2;
	}
	return (long)d;
}

/* bytes that make interesting strings: controls, boundaries, lead bytes */
static unsigned char random_byte(void)
{
	static const unsigned char pick[] = {
		0x00, 0x07, 0x1b, 0x1f, 0x20, '\\', '"', 0x7e, 0x7f, 0x80, 0x8f, 0x90,
		0x9b, 0x9f, 0xa0, 0xa6, 0xae, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xdf, 0xe0,
		0xe2, 0xed, 0xef, 0xf0, 0xf3, 0xf4, 0xf5, 0xff, 0x80, 0x81, 0x89, 0xa9,
	};

	if (rand() % 3)
		return pick[rand() % sizeof(pick)];
	return (unsigned char)(rand() % 256);
}

static void random_bytes_always_give_safe_text_and_valid_json(void **st)
{
	unsigned char in[48], dec[48 * 6];
	int iter, valid = 0;

	srand(20261125);
	for (iter = 0; iter < 100000; iter++) {
		size_t n = (size_t)(rand() % (int)sizeof(in)), i;
		char *text, *json;
		long d;

		for (i = 0; i < n; i++)
			in[i] = random_byte();
		text = esc((const char *)in, n, ESC_TEXT);
		assert_text_safe(text, in, n);
		json = esc((const char *)in, n, ESC_JSON);
		d = json_decode(json, dec);
		if (d < 0)
			fprintf(stderr, "not a JSON string: \"%s\"\n", json);
		assert_true(d >= 0);
		/* well-formed input comes back exactly from the JSON form */
		if (is_utf8(in, n)) {
			valid++;
			assert_int_equal(d, n);
			assert_memory_equal(dec, in, n);
		}
		free(text);
		free(json);
	}
	/* the generator must also have produced the case the round trip checks */
	assert_true(valid > 1000);
}

static void decode_rejects_what_utf8_forbids(void **st)
{
	uint32_t cp = 0;

	assert_int_equal(esc_utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(esc_utf8_decode((const unsigned char *)"\xc3\xa9", 1, &cp), 0);
	assert_int_equal(esc_utf8_decode((const unsigned char *)"\xc1\xbf", 2, &cp), 0);
	assert_int_equal(esc_utf8_decode((const unsigned char *)"\xed\xbf\xbf", 3, &cp), 0);
	assert_int_equal(esc_utf8_decode((const unsigned char *)"\xee\x80\x80", 3, &cp), 3);
	assert_int_equal(cp, 0xe000);
	assert_int_equal(esc_utf8_decode((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &cp), 4);
	assert_int_equal(cp, 0x10ffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_keeps_printable_ascii),
		cmocka_unit_test(text_escapes_backslash),
		cmocka_unit_test(text_escapes_c0_and_del),
		cmocka_unit_test(text_escapes_the_issue_request_target),
		cmocka_unit_test(text_escapes_c1_per_byte),
		cmocka_unit_test(text_keeps_printable_utf8),
		cmocka_unit_test(text_escapes_ill_formed_utf8),
		cmocka_unit_test(text_escapes_truncated_sequences),
		cmocka_unit_test(text_escapes_characters_that_hide_or_reorder),
		cmocka_unit_test(json_escapes_quote_backslash_and_controls),
		cmocka_unit_test(json_keeps_utf8_as_text),
		cmocka_unit_test(json_escapes_c1_and_hiding_characters_losslessly),
		cmocka_unit_test(json_writes_invalid_bytes_as_visible_text),
		cmocka_unit_test(random_bytes_always_give_safe_text_and_valid_json),
		cmocka_unit_test(decode_rejects_what_utf8_forbids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
