#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# HTTP/2 over TLS (suite tls_h2): nginx with "listen ... ssl http2" (nginx
# 1.22, OpenSSL 3 through libssl.so.3), one worker, its access log
# ($remote_port $request_method $request_uri $status $bytes_sent
# $server_protocol) against connstate -j. connstate reads the plaintext at
# SSL_read/SSL_write; tls.bpf.c walks the HTTP/2 frame headers in it (nginx
# writes 16 KiB per SSL_write, two 8 KiB DATA frames, past the 4 KiB copy).
#
# usage: tests/tls/h2.sh [--connstate PATH] [--keep]
#
# Checks:
#   curl_states                  curl --http2 -k, three URLs on one connection:
#                                new, active idle (the preface), (active idle)x3,
#                                closed: Go's HTTP/2 rules
#   curl_requests_match_access_log  method, path, status per stream, in order
#   big_bytes_out_is_log_less_frame_headers  the 3 MB response: connstate's
#                                bytes_out (the stream's frame payloads) is
#                                nginx's $bytes_sent less 9 bytes per frame:
#                                1 HEADERS + 384 DATA frames (http2_chunk_size 8k)
#   nghttp_4_streams_match_access_log  nghttp -n -m 4: four concurrent streams,
#                                four complete request records equal to the log's
#   nghttp_states                the four HEADERS arrive in one read: one
#                                active idle pair after the preface's
#   json_proto_h2                every record after "new" of both connections
#                                has "tls":true and "proto":"h2"; valid JSON
#   h1_on_h2_port_proto_http11   curl --http1.1 (ALPN http/1.1) to the same
#                                port: its request as logged, "proto":"http/1.1"
#   no_losses_no_warnings        exit 0, summary: 0 events lost, 0 uncertain;
#                                no warning record
#   split_states                 tests/tls/h2_split_server.py (python ssl +
#                                python3-h2), whose SSL writes cut frame headers
#                                after 4 and after 1 byte and put one past the
#                                4 KiB copy; curl --http2 /big then /small:
#                                new (active idle)x3 closed
#   split_requests_match_log     method, path, status, bytes_out (the stream's
#                                frame payloads, as the server counts them),
#                                complete, in order
#   split_no_warnings            no warning, not uncertain
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
connstate=./connstate
keep=0

usage() {
	echo "usage: $0 [--connstate PATH] [--keep]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--connstate) [ $# -ge 2 ] || usage; connstate=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) usage ;;
	esac
done

suite_begin tls_h2 11
# shellcheck disable=SC2034 # read by lib.sh
CS_BIN="$(cd "$(dirname "$connstate")" && pwd)/$(basename "$connstate")"
work=$(mktemp -d "${TMPDIR:-/tmp}/connstate-tlsh2.XXXXXX")
d=$work/nginx

py_pid=""
cleanup() {
	[ -n "$py_pid" ] && kill -TERM "$py_pid" 2>/dev/null && wait "$py_pid" 2>/dev/null
	lib_cleanup
	if [ "$keep" = 1 ] || ! suite_ok; then
		echo "tls_h2: logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# states PORT: the connection's state words, space-separated
states() {
	jq -r --arg c "127.0.0.1:$1" 'select(.type == "state" and .client == $c) | .state' \
		"$d/cs.out" | paste -sd' ' -
}

# requests PORT: "METHOD PATH STATUS" per request record, one a line
requests() {
	jq -r --arg c "127.0.0.1:$1" \
		'select(.type == "request" and .client == $c) | "\(.method) \(.path) \(.status)"' \
		"$d/cs.out"
}

# logged PORT: the same from the access log
logged() {
	awk -v p="$1" '$1 == p { print $2, $3, $4 }' "$d/access.log"
}

expect() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "want '$2', got '$3'"
	fi
}

closed_all() {
	local p
	for p in "$@"; do
		[[ "$(states "$p")" == *closed ]] || return 1
	done
}

mkdir -p "$d/www"
if ! openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
	-days 2 -subj /CN=localhost >/dev/null 2>&1; then
	fail certificate "openssl req failed"
fi
chmod 755 "$work"
chmod 644 "$work/key.pem" "$work/cert.pem"
echo 'connstate tls h2 test' >"$d/www/index.txt"
echo 'four' >"$d/www/four.txt"
head -c 3145728 /dev/zero | tr '\0' 'x' >"$d/www/big.bin"
chmod -R a+rX "$d/www"

port=$(free_port)
nginx_start "$d" 1 '$remote_port $request_method $request_uri $status $bytes_sent $server_protocol' \
	"types { text/plain txt; application/octet-stream bin; }
    server {
        listen 127.0.0.1:$port ssl http2;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        http2_chunk_size 8k;
        root $d/www;
    }"
url=https://127.0.0.1:$port
if wait_until 10 listening "$port" && curl -sk -o /dev/null "$url/index.txt" &&
	: >"$d/access.log" && cs_start "$d/cs.out" "$d/cs.err" -j -p "$NGINX_PID"; then
	h2=$(curl -sk --http2 -o /dev/null -o /dev/null -o /dev/null \
		-w '%{local_port} %{http_version}\n' \
		"$url/index.txt" "$url/big.bin" "$url/missing" | sort -u)
	nghttp -n -m 4 "$url/four.txt" >"$d/nghttp.out" 2>&1 || echo "nghttp failed" >>"$d/nghttp.out"
	h1=$(curl -sk --http1.1 -o /dev/null -w '%{local_port} %{http_version}\n' "$url/index.txt")
	four=$(awk '$3 == "/four.txt" { print $1 }' "$d/access.log" | sort -u)
	h2port=${h2% *}
	h1port=${h1% *}
	wait_until 5 closed_all "$h2port" "$four" "$h1port"
	sleep 0.2
	cs_stop
	rc=$?

	if [ "$h2" = "$h2port 2" ]; then
		expect curl_states "new active idle active idle active idle active idle closed" \
			"$(states "$h2port")"
	else
		fail curl_states "curl did not use one HTTP/2 connection: '$h2'"
	fi
	log=$(logged "$h2port")
	if [ "$(wc -l <<<"$log")" = 3 ]; then
		expect curl_requests_match_access_log "$log" "$(requests "$h2port")"
	else
		fail curl_requests_match_access_log "the access log does not hold 3 requests: '$log'"
	fi

	sent=$(awk -v p="$h2port" '$1 == p && $3 == "/big.bin" { print $5 }' "$d/access.log")
	out=$(jq -r --arg c "127.0.0.1:$h2port" \
		'select(.type == "request" and .client == $c and .path == "/big.bin" and .complete)
		 | .bytes_out' "$d/cs.out")
	if [ -n "$sent" ] && [ -n "$out" ]; then
		expect big_bytes_out_is_log_less_frame_headers "$((sent - 9 * 385))" "$out"
	else
		fail big_bytes_out_is_log_less_frame_headers "log '$sent', complete record '$out'"
	fi

	log=$(logged "$four" | sort)
	got=$(jq -r --arg c "127.0.0.1:$four" \
		'select(.type == "request" and .client == $c and .complete)
		 | "\(.method) \(.path) \(.status)"' "$d/cs.out" | sort)
	if [ "$(wc -w <<<"$four")" = 1 ] && [ "$log" = "$(printf 'GET /four.txt 200\n%.0s' 1 2 3 4)" ]; then
		expect nghttp_4_streams_match_access_log "$log" "$got"
	else
		fail nghttp_4_streams_match_access_log "nghttp's connection '$four' logged '$log'"
	fi
	expect nghttp_states "new active idle active idle closed" "$(states "$four")"

	bad=$(jq -c --arg a "127.0.0.1:$h2port" --arg b "127.0.0.1:$four" \
		'select((.client == $a or .client == $b) and .state != "new"
			and (.tls != true or .proto != "h2"))' "$d/cs.out" 2>&1)
	n=$(jq -c --arg a "127.0.0.1:$h2port" --arg b "127.0.0.1:$four" \
		'select((.client == $a or .client == $b) and .proto == "h2")' "$d/cs.out" | wc -l)
	if jq -e . "$d/cs.out" >/dev/null 2>&1 && [ -z "$bad" ] && [ "$n" -ge 20 ]; then
		pass json_proto_h2
	else
		fail json_proto_h2 "invalid JSON, $n records with proto h2, or others: ${bad:0:300}"
	fi

	got=$(jq -r --arg c "127.0.0.1:$h1port" \
		'select(.type == "request" and .client == $c) | "\(.method) \(.path) \(.status) \(.proto)"' \
		"$d/cs.out")
	if [ "$h1" = "$h1port 1.1" ] && [ "$(logged "$h1port")" = "GET /index.txt 200" ]; then
		expect h1_on_h2_port_proto_http11 "GET /index.txt 200 http/1.1" "$got"
	else
		fail h1_on_h2_port_proto_http11 "curl '$h1', log '$(logged "$h1port")'"
	fi

	warnings=$(jq -c 'select(.type == "warning")' "$d/cs.out")
	if [ "$rc" = 0 ] && grep -q ' 0 events lost, .* 0 connections uncertain' "$d/cs.err" &&
		[ -z "$warnings" ]; then
		pass no_losses_no_warnings
	else
		fail no_losses_no_warnings "exit $rc: $(tail -n 1 "$d/cs.err") ${warnings:0:300}"
	fi
else
	fail nginx_and_connstate_start "$(tail -n 3 "$d/error.log" "$d/cs.err" 2>/dev/null)"
fi
nginx_stop

# ------------------------------------------------- frame headers cut by writes
d=$work/split
mkdir -p "$d"
/usr/bin/python3 "$here/h2_split_server.py" --cert "$work/cert.pem" --key "$work/key.pem" \
	>"$d/server.out" 2>"$d/server.log" &
py_pid=$!
wait_until 10 grep -q '^listening' "$d/server.out"
port=$(awk '/^listening/ { print $2 }' "$d/server.out")
if [ -n "$port" ] && cs_start "$d/cs.out" "$d/cs.err" -j -p "$py_pid"; then
	got=$(curl -sk --http2 -o /dev/null -o /dev/null -w '%{local_port} %{http_version} %{size_download}\n' \
		"https://127.0.0.1:$port/big" "https://127.0.0.1:$port/small")
	cport=$(awk 'NR == 1 { print $1 }' <<<"$got")
	wait_until 5 closed_all "$cport"
	sleep 0.2
	cs_stop
	if [ "$got" = "$cport 2 60000"$'\n'"$cport 2 5" ]; then
		expect split_states "new active idle active idle active idle closed" "$(states "$cport")"
		log=$(awk -v p="$cport" '$1 == p { print $2, $3, $4, $5, "true" }' "$d/server.log")
		expect split_requests_match_log "$log" "$(jq -r --arg c "127.0.0.1:$cport" \
			'select(.type == "request" and .client == $c)
			 | "\(.method) \(.path) \(.status) \(.bytes_out) \(.complete)"' "$d/cs.out")"
		bad=$(jq -c 'select(.type == "warning" or .uncertain)' "$d/cs.out")
		expect split_no_warnings "" "${bad:0:300}"
	else
		fail split_curl "curl got '$got'; $(tail -n 2 "$d/server.log")"
	fi
else
	fail split_server_and_connstate_start "port '$port'; $(tail -n 3 "$d/server.log" "$d/cs.err" 2>/dev/null)"
fi

suite_end
