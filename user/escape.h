/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The safe form of client-controlled bytes (method, target, anything echoed),
 * for a terminal or for a JSON string. Pure: bytes in, characters out.
 *
 * Text: printable ASCII and well-formed UTF-8 of a printable character as
 * is; a backslash as "\\"; C0, DEL, C1 (U+0080-U+009F) and every byte of an
 * ill-formed or truncated sequence as "\xNN" per byte; characters that
 * reorder or hide text on a terminal (bidi controls, line/paragraph
 * separators, zero-width and tag characters) as "\uXXXX" ("\UXXXXXXXX"
 * above U+FFFF).
 *
 * JSON (the inside of a string, RFC 8259): '"' and '\' escaped; controls,
 * DEL, C1 and the hiding characters as "\uXXXX" (a surrogate pair above
 * U+FFFF), so a parser gets the exact character back; other well-formed
 * UTF-8 as is; a byte that is not UTF-8 has no JSON form, so it becomes the
 * visible text "\xNN" (written "\\xNN"), as in text output.
 */
#ifndef CONNSTATE_ESCAPE_H
#define CONNSTATE_ESCAPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum esc_mode {
	ESC_TEXT,
	ESC_JSON,
};

/* Writes the safe form of s[0..n) to f (no quotes in JSON mode). */
void esc_write(FILE *f, const char *s, size_t n, enum esc_mode mode);
/* The same for a NUL-terminated string. */
void esc_puts(FILE *f, const char *s, enum esc_mode mode);
/* Length (1-4) of the well-formed UTF-8 sequence at s[0..n) and its code
 * point in *cp, or 0 if it is ill-formed (overlong, surrogate, above
 * U+10FFFF, a stray continuation byte) or cut short by n. */
size_t esc_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif /* CONNSTATE_ESCAPE_H */
