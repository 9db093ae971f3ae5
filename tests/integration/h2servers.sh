#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# HTTP/2 against real non-Go servers (h2c, prior knowledge): nghttpd and
# nginx serve a 1 MB file, written as many 16 KiB DATA frames per syscall,
# so frame headers lie past the bytes the kernel copies and only the
# kernel's frame walk keeps connstate in step. Checks, per client
# connection (connstate -j):
#
#   nghttpd_concurrent_records   nghttp -m 4 of /big.bin: 4 request records
#                                "GET /big.bin 200" with 4 stream ids
#   nghttpd_concurrent_states    its states follow Go's rule for open
#                                streams: new active idle active idle closed
#                                (the 4 streams overlap: one pair)
#   nghttpd_mixed_records        nghttp of /big.bin /small.txt /nope at once:
#                                records GET /big.bin 200, /nope 404,
#                                /small.txt 200
#   nghttpd_sequential           h2load -c 1 -m 1 of /big.bin then /small.txt
#                                (one connection, one stream at a time): two
#                                records in order, states with two pairs
#   nghttpd_no_warning           no warning, nothing uncertain
#   nginx_records_match_log      nginx (listen ... http2; 2 connections of
#                                4 concurrent 1 MB responses and a small one,
#                                one of a 1 MB response then a 404):
#                                per client port, method, path and status
#                                of connstate's records equal the access log's
#   nginx_states                 each connection: new active idle, then
#                                (active idle) pairs, closed
#   nginx_no_warning             no warning, nothing uncertain
#
# usage: h2servers.sh [--connstate PATH] [--keep]
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"

keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--connstate) [ $# -ge 2 ] || exit 2; CS_BIN=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [--connstate PATH] [--keep]" >&2; exit 2 ;;
	esac
done

suite_begin h2servers 8

work=$(mktemp -d "${TMPDIR:-/tmp}/h2servers.XXXXXX")
chmod 755 "$work"
cleanup() {
	[ -n "${CS_PID:-}" ] && cs_stop INT 2>/dev/null
	[ -n "${ngx_pid:-}" ] && kill -QUIT "$ngx_pid" 2>/dev/null
	lib_cleanup
	if [ "$keep" = 1 ] || ! suite_ok; then
		echo "h2servers: logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/www"
head -c 1000000 /dev/urandom >"$work/www/big.bin"
echo small >"$work/www/small.txt"
chmod -R a+rX "$work/www"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
listening() { ss -ltn "sport = :$1" | grep -q LISTEN; }
nlines() { awk 'END { print NR }' "$1" 2>/dev/null || echo 0; }

# conns OUT OFF: client addresses that connstate told closed after line OFF
closed_after() {
	tail -n "+$(($2 + 1))" "$1" | jq -r 'select(.type == "state" and .state == "closed") | .client'
}
# states OUT CLIENT: its state words, one line
states() {
	jq -r --arg c "$2" 'select(.type == "state" and .client == $c) | .state' "$1" | paste -sd' '
}
# records OUT CLIENT: "METHOD PATH STATUS" per request, sorted
records() {
	jq -r --arg c "$2" 'select(.type == "request" and .client == $c) |
		"\(.method) \(.path) \(.status)"' "$1" | sort | paste -sd';'
}
bad_lines() {
	jq -c 'select(.type == "warning" or .uncertain == true)' "$1"
}

# run_client OUT NAME CMD...: runs one client connection, waits for its closed
# line, prints its client address
run_client() {
	local out=$1 name=$2 off
	shift 2
	off=$(nlines "$out")
	if ! timeout 30 "$@" >"$work/$name.client" 2>&1; then
		echo "client failed: $(tail -c 300 "$work/$name.client")" >&2
		return 1
	fi
	_closed() { [ -n "$(closed_after "$out" "$off")" ]; }
	wait_until 5 _closed || return 1
	closed_after "$out" "$off" | head -n 1
}

# ---------------------------------------------------------------- nghttpd
nghttpd_checks() {
	local port out=$work/nghttpd.cs.json c want got u
	port=$(free_port)
	nghttpd --no-tls -d "$work/www" "$port" >"$work/nghttpd.out" 2>&1 &
	local pid=$!
	track_pid "$pid"
	if ! wait_until 5 listening "$port" ||
		! cs_start "$out" "$work/nghttpd.cs.err" -j -p "$pid"; then
		for c in concurrent_records concurrent_states mixed_records sequential no_warning; do
			fail "nghttpd_$c" "nghttpd or connstate did not start: $(tail -c 300 "$work/nghttpd.out")"
		done
		return
	fi
	u=http://127.0.0.1:$port

	c=$(run_client "$out" n1 nghttp -n -m 4 "$u/big.bin")
	want="GET /big.bin 200;GET /big.bin 200;GET /big.bin 200;GET /big.bin 200"
	got=$(records "$out" "$c")
	if [ -n "$c" ] && [ "$got" = "$want" ] &&
		[ "$(jq -r --arg c "$c" 'select(.type == "request" and .client == $c) | .stream' "$out" |
			sort -u | wc -l)" = 4 ]; then
		pass nghttpd_concurrent_records
	else
		fail nghttpd_concurrent_records "client ${c:-?}: got '$got', want '$want' with 4 streams"
	fi
	got=$(states "$out" "$c")
	want="new active idle active idle closed"
	[ -n "$c" ] && [ "$got" = "$want" ] && pass nghttpd_concurrent_states ||
		fail nghttpd_concurrent_states "client ${c:-?}: got '$got', want '$want'"

	c=$(run_client "$out" n2 nghttp -n "$u/big.bin" "$u/small.txt" "$u/nope")
	want="GET /big.bin 200;GET /nope 404;GET /small.txt 200"
	got=$(records "$out" "$c")
	[ -n "$c" ] && [ "$got" = "$want" ] && pass nghttpd_mixed_records ||
		fail nghttpd_mixed_records "client ${c:-?}: got '$got', want '$want'"

	c=$(run_client "$out" n3 h2load -n 2 -c 1 -m 1 "$u/big.bin" "$u/small.txt")
	got="$(jq -r --arg c "$c" 'select(.type == "request" and .client == $c) |
		"\(.method) \(.path) \(.status) \(.version)"' "$out" | paste -sd';') / $(states "$out" "$c")"
	want="GET /big.bin 200 HTTP/2;GET /small.txt 200 HTTP/2 / new active idle active idle active idle closed"
	[ -n "$c" ] && [ "$got" = "$want" ] && pass nghttpd_sequential ||
		fail nghttpd_sequential "client ${c:-?}: got '$got', want '$want'"

	got=$(bad_lines "$out")
	[ -z "$got" ] && pass nghttpd_no_warning || fail nghttpd_no_warning "$(head -c 400 <<<"$got")"
	cs_stop INT
	CS_PID=""
	kill "$pid" 2>/dev/null
}

# ---------------------------------------------------------------- nginx
nginx_checks() {
	local port out=$work/nginx.cs.json d=$work/nginx c msg="" got want n=0 i
	mkdir -p "$d/logs"
	port=$(free_port)
	cat >"$d/nginx.conf" <<-EOF
		worker_processes 1;
		pid $d/nginx.pid;
		error_log $d/error.log;
		events { worker_connections 64; }
		http {
		    access_log off;
		    log_format h2 '\$remote_port \$request_method \$request_uri \$status \$server_protocol';
		    client_body_temp_path $d/tmp; proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp;
		    uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
		    sendfile off;
		    server {
		        listen 127.0.0.1:$port http2;
		        root $work/www;
		        access_log $d/access.log h2;
		    }
		}
	EOF
	nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;' >"$d/nginx.out" 2>&1 &
	ngx_pid=$!
	track_pid "$ngx_pid"
	local worker=""
	_worker() { worker=$(pgrep -P "$ngx_pid" | head -n 1); [ -n "$worker" ] && listening "$port"; }
	if ! wait_until 5 _worker || ! cs_start "$out" "$work/nginx.cs.err" -j -p "$worker"; then
		for c in records_match_log states no_warning; do
			fail "nginx_$c" "nginx or connstate did not start: $(tail -c 300 "$d/error.log" "$d/nginx.out")"
		done
		return
	fi
	local clients=()
	for i in 1 2; do
		c=$(run_client "$out" "g$i" nghttp -n -m 4 "http://127.0.0.1:$port/big.bin" \
			"http://127.0.0.1:$port/small.txt")
		[ -n "$c" ] && clients+=("$c")
	done
	c=$(run_client "$out" g3 h2load -n 2 -c 1 -m 1 "http://127.0.0.1:$port/big.bin" \
		"http://127.0.0.1:$port/nope")
	[ -n "$c" ] && clients+=("$c")
	# nginx writes its access log when a stream ends: it is there by now
	for c in "${clients[@]}"; do
		want=$(awk -v p="${c##*:}" '$1 == p && $5 == "HTTP/2.0" { print $2, $3, $4 }' \
			"$d/access.log" | sort | paste -sd';')
		got=$(records "$out" "$c")
		[ -n "$want" ] && [ "$got" = "$want" ] || msg="$msg $c: connstate '$got', log '$want';"
		n=$((n + $(tr ';' '\n' <<<"$got" | grep -c .)))
	done
	if [ "${#clients[@]}" = 3 ] && [ "$n" = 18 ] && [ -z "$msg" ]; then
		pass nginx_records_match_log
	else
		fail nginx_records_match_log "${#clients[@]} of 3 clients, $n of 18 records;$msg"
	fi
	msg=""
	for c in "${clients[@]}"; do
		got=$(states "$out" "$c")
		[[ "$got" =~ ^new\ active\ idle(\ active\ idle)+\ closed$ ]] || msg="$msg $c: '$got';"
	done
	[ "${#clients[@]}" = 3 ] && [ -z "$msg" ] && pass nginx_states ||
		fail nginx_states "${#clients[@]} of 3 clients;$msg"
	got=$(bad_lines "$out")
	[ -z "$got" ] && pass nginx_no_warning || fail nginx_no_warning "$(head -c 400 <<<"$got")"
	cs_stop INT
	CS_PID=""
}

nghttpd_checks
nginx_checks
suite_end
