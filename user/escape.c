// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>

#include "escape.h"

size_t esc_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char b = s[0];
	uint32_t c, min;
	size_t len, i;

	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xc2 && b <= 0xdf) {
		len = 2;
		c = b & 0x1f;
		min = 0x80;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		c = b & 0x0f;
		min = 0x800;
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		c = b & 0x07;
		min = 0x10000;
	} else {
		/* a continuation byte, C0/C1 (always overlong), or F5-FF */
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * Characters a terminal draws as nothing, or that reorder the text around
 * them: a client could make a line read differently from what it holds.
 */
static int hides_text(uint32_t c)
{
	return c == 0x00ad ||			/* soft hyphen */
	       c == 0x061c ||			/* ARABIC LETTER MARK (bidi) */
	       c == 0x180e ||			/* Mongolian vowel separator */
	       (c >= 0x200b && c <= 0x200f) ||	/* zero-width space..RLM */
	       (c >= 0x2028 && c <= 0x202e) ||	/* line/para separators, bidi embeddings */
	       (c >= 0x2060 && c <= 0x206f) ||	/* word joiner.., bidi isolates, deprecated */
	       c == 0xfeff ||			/* zero-width no-break space */
	       (c >= 0xfff9 && c <= 0xfffb) ||	/* interlinear annotation */
	       (c >= 0xe0000 && c <= 0xe007f);	/* tags: invisible ASCII look-alikes */
}

static void put_bytes_hex(FILE *f, const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "\\x%02x", s[i]);
}

static void put_text(FILE *f, const unsigned char *s, size_t len, uint32_t c)
{
	if (len == 1 && c >= 0x20 && c < 0x7f) {
		if (c == '\\')
			fputs("\\\\", f);
		else
			fputc((int)c, f);
	} else if (len == 1 || c < 0xa0) {
		/* C0, DEL, C1: per byte, as ill-formed bytes are */
		put_bytes_hex(f, s, len);
	} else if (hides_text(c)) {
		fprintf(f, c > 0xffff ? "\\U%08x" : "\\u%04x", (unsigned int)c);
	} else {
		fwrite(s, 1, len, f);
	}
}

static void put_json(FILE *f, const unsigned char *s, size_t len, uint32_t c)
{
	if (c == '"' || c == '\\')
		fprintf(f, "\\%c", (int)c);
	else if (c > 0xffff && hides_text(c))
		/* RFC 8259 writes a character outside the BMP as a surrogate pair */
		fprintf(f, "\\u%04x\\u%04x", 0xd800 + ((c - 0x10000) >> 10),
			0xdc00 + ((c - 0x10000) & 0x3ff));
	else if (c < 0x20 || (c >= 0x7f && c < 0xa0) || hides_text(c))
		fprintf(f, "\\u%04x", (unsigned int)c);
	else
		fwrite(s, 1, len, f);
}

void esc_write(FILE *f, const char *str, size_t n, enum esc_mode mode)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, len;
	uint32_t c;

	while (i < n) {
		len = esc_utf8_decode(s + i, n - i, &c);
		if (!len) {
			/* one byte at a time: the next may start a good sequence */
			fprintf(f, mode == ESC_JSON ? "\\\\x%02x" : "\\x%02x", s[i]);
			i++;
			continue;
		}
		if (mode == ESC_JSON)
			put_json(f, s + i, len, c);
		else
			put_text(f, s + i, len, c);
		i += len;
	}
}

void esc_puts(FILE *f, const char *s, enum esc_mode mode)
{
	esc_write(f, s, strlen(s), mode);
}
