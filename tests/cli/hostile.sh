#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Hostile client bytes, end to end with the real kernel: a Go server gets
# request lines carrying terminal escapes, UTF-8, a secret query string and
# bytes that are not UTF-8; connstate's text lines must hold no raw control
# byte, its -j lines must parse as JSON with the exact paths, and the query
# must stay hidden unless --show-query.
#
# usage: tests/cli/hostile.sh [--connstate PATH]
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
. "$root/tests/lib.sh"
[ "${1:-}" = --connstate ] && CS_BIN=$2
oracle="$root/.output/oracle"
work=$(mktemp -d "${TMPDIR:-/tmp}/hostile.XXXXXX")
trap 'lib_cleanup; [ -n "${HOSTILE_KEEP:-}" ] || rm -rf "$work"' EXIT

suite_begin hostile 9

# The request lines, byte for byte, one connection each (python: bash
# cannot hold a NUL-free but otherwise arbitrary byte string portably).
send_requests() { # PORT
	python3 - "$1" <<'PY'
import socket, sys
lines = [
    b"GET /\x1b]0;pwned\x07\x1b[2J\x1b[31mred HTTP/1.1",
    "GET /café HTTP/1.1".encode(),
    b"GET /login?token=SECRET&user=me HTTP/1.1",
    b"GET /bad\xff\xc3(\xc2\x9b\x9b[31m\xe2\x80\xae HTTP/1.1",
]
for line in lines:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.settimeout(2)
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        pass
    s.close()
PY
}

requests_seen() { [ "$(grep -c "$2" "$1")" -ge 4 ]; }

# run_connstate OUT ARGS...: attaches, sends the four requests, waits for
# their four request lines, stops; 1 if any step failed
run_connstate() {
	local out=$1 pattern
	shift
	cs_start "$out" "$out.err" -p "$srv_pid" "$@" || return 1
	send_requests "$port" || return 1
	pattern=' - request: '
	[ "${1:-}" = -j ] && pattern='"type":"request"'
	wait_until 5 requests_seen "$out" "$pattern"
	cs_stop INT || return 1
}

if [ ! -x "$oracle/server" ]; then
	(cd "$root/tests/oracle" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
		-o "$oracle/server" ./server) || echo "hostile: cannot build the oracle server" >&2
fi
: >"$work/server.err" # exists before the server opens it: port_known reads it at once
"$oracle/server" -addr 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
srv_pid=$!
track_pid "$srv_pid"
port_known() {
	port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/server.err")
	[ -n "$port" ]
}
wait_until 5 port_known || echo "hostile: oracle server did not start" >&2

# --- text ---
if run_connstate "$work/text"; then
	if python3 - "$work/text" <<'PY'; then
import sys, unicodedata
data = open(sys.argv[1], "rb").read()
assert data, "no output"
bad = [b for b in data if (b < 0x20 and b != 0x0a) or b == 0x7f]
assert not bad, "raw control bytes %r" % bad
text = data.decode("utf-8")  # strict: raises on anything that is not UTF-8
# Cc: C0, DEL, C1; Cf: bidi and invisible format characters; Zl/Zp: separators
hidden = [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
assert not hidden, "control or format characters %r" % hidden
PY
		pass text_output_has_no_raw_control_byte_and_is_utf8
	else
		fail text_output_has_no_raw_control_byte_and_is_utf8 "$(od -c "$work/text" | head -20)"
	fi
	# grep -F: the expected text holds backslashes, taken literally
	if grep -qF 'request: GET /\x1b]0;pwned\x07\x1b[2J\x1b[31mred HTTP/1.1 -> 400' "$work/text"; then
		pass text_shows_terminal_escapes_as_backslash_x
	else
		fail text_shows_terminal_escapes_as_backslash_x "$(grep request "$work/text")"
	fi
	if grep -qF 'request: GET /café HTTP/1.1 -> ' "$work/text"; then
		pass text_keeps_utf8_path
	else
		fail text_keeps_utf8_path "$(grep request "$work/text")"
	fi
	if grep -qF 'request: GET /bad\xff\xc3(\xc2\x9b\x9b[31m\u202e HTTP/1.1 -> ' "$work/text"; then
		pass text_escapes_invalid_utf8_c1_and_bidi
	else
		fail text_escapes_invalid_utf8_c1_and_bidi "$(grep request "$work/text")"
	fi
	if grep -qF 'request: GET /login?… HTTP/1.1 -> ' "$work/text" &&
		! grep -q SECRET "$work/text" "$work/text.err"; then
		pass text_hides_query_string
	else
		fail text_hides_query_string "$(grep -a 'login' "$work/text")"
	fi
else
	for c in text_output_has_no_raw_control_byte_and_is_utf8 \
		text_shows_terminal_escapes_as_backslash_x text_keeps_utf8_path \
		text_escapes_invalid_utf8_c1_and_bidi text_hides_query_string; do
		fail "$c" "connstate run failed: $(head -c 300 "$work/text.err")"
	done
fi

# check_json FILE QUERY: every line parses (RFC 8259, strict), paths exact
check_json() {
	python3 - "$1" "$2" <<'PY'
import json, sys
query = sys.argv[2]
paths = []
for n, raw in enumerate(open(sys.argv[1], "rb"), 1):
    line = raw.decode("utf-8")  # RFC 8259: JSON text is UTF-8
    o = json.loads(line, parse_constant=lambda c: sys.exit("line %d: %s" % (n, c)))
    if o["type"] == "request":
        paths.append(o["path"])
want = [
    "/\x1b]0;pwned\x07\x1b[2J\x1b[31mred",
    "/caf\u00e9",
    "/login" + query,
    "/bad\\xff\\xc3(\u009b\\x9b[31m\u202e",
]
assert paths == want, "paths %r, want %r" % (paths, want)
PY
}

# --- JSON, query hidden ---
if run_connstate "$work/json" -j; then
	if check_json "$work/json" '?…'; then
		pass json_lines_parse_with_exact_paths
	else
		fail json_lines_parse_with_exact_paths "$(cat "$work/json")"
	fi
	if ! grep -q SECRET "$work/json" "$work/json.err"; then
		pass json_hides_query_string
	else
		fail json_hides_query_string "$(grep SECRET "$work/json")"
	fi
else
	fail json_lines_parse_with_exact_paths "connstate run failed: $(head -c 300 "$work/json.err")"
	fail json_hides_query_string "connstate run failed"
fi

# --- JSON, --show-query ---
if run_connstate "$work/jsonq" -j --show-query; then
	if check_json "$work/jsonq" '?token=SECRET&user=me'; then
		pass show_query_prints_the_query
	else
		fail show_query_prints_the_query "$(cat "$work/jsonq")"
	fi
else
	fail show_query_prints_the_query "connstate run failed: $(head -c 300 "$work/jsonq.err")"
fi

# --- nothing else the client sent is echoed: headers stay out ---
if grep -q 'Host\|Connection: close' "$work/text" "$work/json" "$work/jsonq"; then
	fail headers_are_never_printed "$(grep 'Host\|Connection: close' "$work/text" "$work/json")"
else
	pass headers_are_never_printed
fi

suite_end
