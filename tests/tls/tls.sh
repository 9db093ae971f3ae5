#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# TLS suite: connstate follows HTTPS through the server's OpenSSL (libssl.so.3,
# dynamically linked) with uprobes, against real servers on the real kernel.
#
# usage: tests/tls/tls.sh [--connstate PATH] [--keep]
#
#   python  tests/tls/https_server.py: /usr/bin/python3's http.server
#           (HTTP/1.1) behind the ssl module; handshake in the handler's
#           thread, inside its first SSL_read_ex. Its log names ADDR:PORT.
#   nginx   listen 127.0.0.1:PORT ssl, 2 workers (connstate gets the master),
#           access log: $remote_port $request_method $request_uri $status
#           $bytes_sent. nginx uses SSL_read/SSL_write and SSL_do_handshake.
# A self-signed certificate is made with openssl at test time. Clients:
# curl --http1.1 -k (keep-alive: several URLs on one connection) and
# python3 sockets for the handshake failures. connstate runs with -j.
#
# Checks:
#   py_keepalive_states          two requests on one connection: new active
#                                idle active idle closed (Go's sequence)
#   py_keepalive_requests        its request records: GET /index.txt -> 200
#                                twice, the access log's two lines
#   py_plain_http_is_new_closed  plain HTTP sent to the TLS port: new closed
#                                (Go: a failed handshake is new closed)
#   py_handshake_then_close_is_new_closed  handshake, no request, close
#   py_json_has_tls_true         every record of a connection after its first
#                                TLS bytes has "tls":true; the output is JSON
#   nginx_states                 three keep-alive requests: new (active idle)x3 closed
#   nginx_requests_match_access_log  method, path, status per connection, in order
#   nginx_3mb_bytes_out_matches_log  bytes_out of the 3 MB response = $bytes_sent
#   nginx_no_losses              exit 0, summary: 0 events lost, 0 uncertain
#   nontarget_tls_runs_no_probe  while connstate follows nginx, a python https
#                                server it does not follow serves curl two
#                                requests (both map the same libssl): the
#                                runs of connstate's TLS programs
#                                (run_cnt, kernel.bpf_stats_enabled) do not
#                                move; nginx's requests then move them (a
#                                uprobe per file trapped in every process)
#   nginx_tls_probes_gone_after_exit  connstate stopped: within 15 s no program
#                                of tls.bpf.c is left (more than 15 uprobes are
#                                detached by a child after connstate exits)
#   reload_new_worker_states     nginx reloaded (SIGHUP): its two new workers,
#                                forked after attach, are probed (-v names
#                                them) and a keep-alive connection to them
#                                is new active idle active idle closed
#   no_tls_probe_left_after_target_exit  the python server killed while
#                                connstate is attached: connstate exits, and
#                                no program of tls.bpf.c is left loaded
#   tls_call_count_back_to_zero_after_exit_in_ssl_read  a second python
#                                server (connstate on it and on a sleep)
#                                with a handler thread waiting inside
#                                SSL_read_ex (a client that connects and
#                                sends nothing): the count of TLS calls in
#                                progress (map tls_inflight) is 1, and 0 once
#                                the server is killed (else every socket
#                                call would look the calls up from then on)
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
PY=/usr/bin/python3
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

suite_begin tls 14
connstate="$(cd "$(dirname "$connstate")" && pwd)/$(basename "$connstate")"
CS_BIN=$connstate
work=$(mktemp -d "${TMPDIR:-/tmp}/connstate-tls.XXXXXX")
chmod 755 "$work" # nginx's workers read the certificate and the files
pgroups=()

stop_group() {
	kill -TERM -- "-$1" 2>/dev/null || return 0
	wait_until 3 eval '! kill -0 -- "-$1" 2>/dev/null'
	kill -KILL -- "-$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

cleanup() {
	local pg
	for pg in "${pgroups[@]}"; do stop_group "$pg"; done
	lib_cleanup
	if [ "$keep" = 1 ] || ! suite_ok; then
		echo "tls: logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# states OUT PORT: the connection's state words, space-separated
states() {
	jq -r --arg c "127.0.0.1:$2" 'select(.type == "state" and .client == $c) | .state' "$1" |
		paste -sd' ' -
}

# requests OUT PORT: "METHOD PATH STATUS" per request record, one a line
requests() {
	jq -r --arg c "127.0.0.1:$2" \
		'select(.type == "request" and .client == $c) | "\(.method) \(.path) \(.status)"' "$1"
}

# expect NAME WANT GOT: one check, exact
expect() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "want '$2', got '$3'"
	fi
}

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# tls_client PORT MODE: MODE plain sends an HTTP request in clear; MODE
# handshake completes a TLS handshake and closes. Prints the client port.
tls_client() {
	"$PY" - "$1" "$2" <<-'EOF'
		import socket, ssl, sys
		port, mode = int(sys.argv[1]), sys.argv[2]
		s = socket.create_connection(("127.0.0.1", port))
		print(s.getsockname()[1], flush=True)
		if mode == "plain":
		    s.sendall(b"GET /index.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		    s.settimeout(5)
		    try:
		        while s.recv(4096):
		            pass
		    except OSError:
		        pass
		    s.close()
		else:
		    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
		    ctx.check_hostname = False
		    ctx.verify_mode = ssl.CERT_NONE
		    t = ctx.wrap_socket(s)
		    t.close()
	EOF
}

# wait_closed OUT PORT...: until each connection has its closed line (5 s)
closed_all() {
	local out=$1 p
	shift
	for p in "$@"; do
		[[ "$(states "$out" "$p")" == *closed ]] || return 1
	done
}

# the ids of the tls.bpf.c programs PID holds (other runs' are not ours)
tls_prog_ids() {
	comm -12 <(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u) \
		<(bpftool prog show 2>/dev/null | sed -n 's/^\([0-9]*\): .*name ssl_.*/\1/p' | sort -u)
}
# none of the program ids in $ours_tls is loaded any more (and there were some)
no_tls_progs() {
	[ -n "$ours_tls" ] &&
		[ -z "$(bpftool prog show 2>/dev/null | sed -n 's/^\([0-9]*\): .*/\1/p' | grep -xF "$ours_tls")" ]
}
ours_tls=""
# the runs of PID's tls.bpf.c programs so far (kernel.bpf_stats_enabled=1)
tls_runs() {
	local id sum=0 n
	for id in $(tls_prog_ids "$1"); do
		n=$(bpftool -j prog show id "$id" 2>/dev/null | jq -r '.run_cnt // 0')
		sum=$((sum + ${n:-0}))
	done
	echo "$sum"
}

if ! openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
	-days 2 -subj /CN=localhost >/dev/null 2>&1; then
	fail tls_certificate "openssl req failed"
fi
chmod 644 "$work/key.pem"
mkdir -p "$work/www"
echo 'connstate tls test' >"$work/www/index.txt"
head -c 3145728 /dev/zero | tr '\0' 'x' >"$work/www/big.bin"
chmod -R a+rX "$work/www"

# py_start DIR: python's https server, its output in DIR (made); sets
# py_pid, and py_port (empty if it did not start listening)
py_start() {
	mkdir -p "$1"
	setsid "$PY" "$here/https_server.py" --cert "$work/cert.pem" --key "$work/key.pem" \
		--directory "$work/www" >"$1/server.out" 2>"$1/access.log" &
	py_pid=$!
	pgroups+=("$py_pid")
	wait_until 10 grep -q '^listening' "$1/server.out"
	py_port=$(awk '/^listening/ { print $2 }' "$1/server.out")
}

# ------------------------------------------------------------ python ssl
d=$work/py
py_start "$d"
if [ -n "$py_port" ] && cs_start "$d/cs.out" "$d/cs.err" -j -p "$py_pid"; then
	ka=$(curl -sk --http1.1 -o /dev/null -o /dev/null -w '%{local_port}\n' \
		"https://127.0.0.1:$py_port/index.txt" "https://127.0.0.1:$py_port/index.txt" | sort -u)
	plain=$(tls_client "$py_port" plain)
	hs=$(tls_client "$py_port" handshake)
	wait_until 5 closed_all "$d/cs.out" "$ka" "$plain" "$hs"
	expect py_keepalive_states "new active idle active idle closed" "$(states "$d/cs.out" "$ka")"
	log=$(awk -v c="127.0.0.1:$ka" '$1 == c { print $6, $7, $9 }' "$d/access.log" | tr -d '"')
	got=$(requests "$d/cs.out" "$ka")
	if [ "$log" = $'GET /index.txt 200\nGET /index.txt 200' ]; then
		expect py_keepalive_requests "$log" "$got"
	else
		fail py_keepalive_requests "the access log does not hold the two requests: '$log'"
	fi
	expect py_plain_http_is_new_closed "new closed" "$(states "$d/cs.out" "$plain")"
	expect py_handshake_then_close_is_new_closed "new closed" "$(states "$d/cs.out" "$hs")"
	# "new" comes before any TLS byte; every later record of ka knows
	bad=$(jq -c --arg c "127.0.0.1:$ka" \
		'select(.client == $c and .state != "new" and .tls != true)' "$d/cs.out" 2>&1)
	if jq -e . "$d/cs.out" >/dev/null 2>&1 && [ -z "$bad" ] &&
		[ "$(jq -c --arg c "127.0.0.1:$ka" 'select(.client == $c and .tls == true)' \
			"$d/cs.out" | wc -l)" -ge 6 ]; then
		pass py_json_has_tls_true
	else
		fail py_json_has_tls_true "invalid JSON, or records without tls:true: ${bad:0:300}"
	fi
	# the target exits while the uprobes are attached
	ours_tls=$(tls_prog_ids "$CS_PID")
	stop_group "$py_pid"
	if wait_until 5 eval '! kill -0 "$CS_PID" 2>/dev/null' && wait "$CS_PID" &&
		grep -q 'every target process has exited' "$d/cs.err" && wait_until 5 no_tls_progs; then
		pass no_tls_probe_left_after_target_exit
	else
		fail no_tls_probe_left_after_target_exit \
			"connstate still running, failed, or its tls.bpf.c programs left (ids '$ours_tls'): $(tail -n 3 "$d/cs.err")"
	fi
else
	fail py_server_and_connstate_start "port '$py_port'; $(tail -n 3 "$d/cs.err" 2>/dev/null)"
fi

# ------------------------------------- a thread that exits inside SSL_read
# tls_inflight's value (its one u64) in the map PID holds
inflight_of() {
	local id
	for id in $(grep -h '^map_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u); do
		bpftool -j map show id "$id" 2>/dev/null | jq -e '.name == "tls_inflight"' >/dev/null ||
			continue
		bpftool -j map lookup id "$id" key 0 0 0 0 2>/dev/null | jq -r '.formatted.value'
		return
	done
}
d=$work/exit
py_start "$d"
ex_pid=$py_pid ex_port=$py_port
sleep 600 &
keep_pid=$!
track_pid "$keep_pid"
if [ -n "$ex_port" ] && cs_start "$d/cs.out" "$d/cs.err" -j -p "$ex_pid" -p "$keep_pid"; then
	# connected, nothing sent: the handler thread waits in SSL_read_ex
	exec 7<>"/dev/tcp/127.0.0.1/$ex_port"
	wait_until 5 eval '[ "$(inflight_of "$CS_PID")" = 1 ]'
	before=$(inflight_of "$CS_PID")
	stop_group "$ex_pid"
	wait_until 5 eval '[ "$(inflight_of "$CS_PID")" = 0 ]'
	after=$(inflight_of "$CS_PID")
	exec 7<&-
	cs_stop
	if [ "$before" = 1 ] && [ "$after" = 0 ]; then
		pass tls_call_count_back_to_zero_after_exit_in_ssl_read
	else
		fail tls_call_count_back_to_zero_after_exit_in_ssl_read \
			"tls_inflight '$before' inside SSL_read_ex, '$after' after the server was killed, not 1 and 0"
	fi
else
	fail tls_call_count_back_to_zero_after_exit_in_ssl_read \
		"port '$ex_port'; $(tail -n 3 "$d/cs.err" 2>/dev/null)"
fi

# ------------------------------------------------------------------ nginx
d=$work/nginx
mkdir -p "$d/tmp"
port=$(free_port)
cat >"$d/nginx.conf" <<EOF
worker_processes 2;
master_process on;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 256; }
http {
    log_format cs '\$remote_port \$request_method \$request_uri \$status \$bytes_sent';
    access_log $d/access.log cs;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    types { text/plain txt; application/octet-stream bin; }
    keepalive_requests 1000;
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        root $work/www;
    }
}
EOF
setsid nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" >"$d/nginx.out" 2>&1 &
ng_pid=$!
pgroups+=("$ng_pid")
ng_up() { [ "$(pgrep -P "$ng_pid" | wc -l)" = 2 ] && curl -sk -o /dev/null "https://127.0.0.1:$port/index.txt"; }
stats_old=$(cat /proc/sys/kernel/bpf_stats_enabled)
if wait_until 10 ng_up && : >"$d/access.log" && cs_start "$d/cs.out" "$d/cs.err" -v -j -p "$ng_pid"; then
	# a TLS server and client connstate does not follow, then nginx
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	runs0=$(tls_runs "$CS_PID")
	py_start "$work/other"
	[ -n "$py_port" ] && curl -sk --http1.1 -o /dev/null -o /dev/null \
		"https://127.0.0.1:$py_port/index.txt" "https://127.0.0.1:$py_port/index.txt"
	runs1=$(tls_runs "$CS_PID")
	stop_group "$py_pid"
	ka=$(curl -sk --http1.1 -o /dev/null -o /dev/null -o /dev/null -w '%{local_port}\n' \
		"https://127.0.0.1:$port/index.txt" "https://127.0.0.1:$port/big.bin" \
		"https://127.0.0.1:$port/missing" | sort -u)
	runs2=$(tls_runs "$CS_PID")
	echo "$stats_old" >/proc/sys/kernel/bpf_stats_enabled
	if [ -n "$py_port" ] && [ "$runs1" = "$runs0" ] && [ "$runs2" -gt "$runs1" ]; then
		pass nontarget_tls_runs_no_probe
	else
		fail nontarget_tls_runs_no_probe \
			"TLS program runs $runs0 before, $runs1 after the other server's requests (want no change), $runs2 after nginx's (want more); port '$py_port'"
	fi
	wait_until 5 closed_all "$d/cs.out" "$ka"
	# workers forked after attach: each is probed as its fork is read
	old_workers=$(pgrep -P "$ng_pid" | sort)
	kill -HUP "$ng_pid"
	new_workers() {
		local w=$(pgrep -P "$ng_pid" | sort)
		[ "$(echo "$w" | wc -l)" = 2 ] && [ -z "$(comm -12 <(echo "$w") <(echo "$old_workers"))" ]
	}
	probed() {
		local w
		for w in $(pgrep -P "$ng_pid"); do
			grep -q "following TLS through .* in pid $w " "$d/cs.err" || return 1
		done
	}
	if wait_until 10 new_workers && wait_until 5 probed; then
		rl=$(curl -sk --http1.1 -o /dev/null -o /dev/null -w '%{local_port}\n' \
			"https://127.0.0.1:$port/index.txt" "https://127.0.0.1:$port/index.txt" | sort -u)
		wait_until 5 closed_all "$d/cs.out" "$rl"
		expect reload_new_worker_states "new active idle active idle closed" \
			"$(states "$d/cs.out" "$rl")"
	else
		fail reload_new_worker_states \
			"workers '$(pgrep -P "$ng_pid" | tr '\n' ' ')' (before: $(echo $old_workers)): not two new ones, or not probed: $(grep 'following TLS' "$d/cs.err" | tail -n 3)"
	fi
	sleep 0.2
	ours_tls=$(tls_prog_ids "$CS_PID")
	cs_stop
	rc=$?
	# 42 uprobes (master and two workers): a child of connstate detaches
	# them after it has exited, about 100 ms each
	if wait_until 15 no_tls_progs; then
		pass nginx_tls_probes_gone_after_exit
	else
		fail nginx_tls_probes_gone_after_exit \
			"tls.bpf.c programs (ids '$ours_tls') still loaded 15 s after connstate exited"
	fi
	expect nginx_states "new active idle active idle active idle closed" \
		"$(states "$d/cs.out" "$ka")"
	log=$(awk -v p="$ka" '$1 == p { print $2, $3, $4 }' "$d/access.log")
	if [ "$(echo "$log" | wc -l)" = 3 ]; then
		expect nginx_requests_match_access_log "$log" "$(requests "$d/cs.out" "$ka")"
	else
		fail nginx_requests_match_access_log "the access log does not hold 3 requests: '$log'"
	fi
	want=$(awk -v p="$ka" '$1 == p && $3 == "/big.bin" { print $5 }' "$d/access.log")
	got=$(jq -r --arg c "127.0.0.1:$ka" \
		'select(.type == "request" and .client == $c and .path == "/big.bin") | .bytes_out' \
		"$d/cs.out")
	expect nginx_3mb_bytes_out_matches_log "${want:-no log line}" "$got"
	if [ "$rc" = 0 ] && grep -q ' 0 events lost, .* 0 connections uncertain' "$d/cs.err"; then
		pass nginx_no_losses
	else
		fail nginx_no_losses "exit $rc: $(tail -n 1 "$d/cs.err")"
	fi
else
	fail nginx_server_and_connstate_start "$(tail -n 3 "$d/error.log" "$d/cs.err" 2>/dev/null)"
fi

suite_end
