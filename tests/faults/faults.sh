#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Fault tests (issue 11): connstate and its targets dying or multiplying.
#
#   sigkill      connstate -j on nginx under load (wrk), killed with SIGKILL:
#                every BPF program, map and link it held (ids read from its
#                /proc/PID/fdinfo while it ran; other instances on the host
#                are not looked at) is gone from the kernel within 5 s.
#   worker_kill  nginx (2 workers, connstate on the master) under a steady
#                connection-per-request load; one worker is killed with
#                SIGKILL and the master forks a replacement. connstate's
#                connections with the replacement's pid are exactly the ones
#                nginx logged with that $pid (and some), and every
#                connection's requests match the access log (tests/soak/
#                check.py, which lets the killed worker's connections end
#                without a request or with one request it did not log).
#   fork500      busybox httpd forks a child per connection: 500 connections
#                one after another, each reported new, active, one request
#                with busybox's path and status, closed; afterwards
#                connstate's BPF target table holds only the parent and its
#                connection table is empty (exited children are dropped).
#   two          two connstate instances on one nginx at once: both match
#                the access log, and both tell the same story per connection
#                (states, requests, bytes, close reason).
#
# usage: tests/faults/faults.sh [--connstate PATH] [--keep]
# Prints PASS/FAIL lines and "faults: N passed, M failed"; needs root,
# nginx, busybox, wrk, bpftool, python3. Takes about 20 s.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
. "$root/tests/lib.sh"
PY=/usr/bin/python3
keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--connstate) CS_BIN=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [--connstate PATH] [--keep]" >&2; exit 2 ;;
	esac
done
suite_begin faults 10

work=$(mktemp -d "${TMPDIR:-/tmp}/connstate-faults.XXXXXX") || exit 1
chmod 755 "$work" # nginx's workers run as nobody
servers=() # nginx masters and busybox, ours
wrk_pid=''

cleanup() {
	local p
	trap - EXIT INT TERM
	[ -n "$wrk_pid" ] && kill -TERM "$wrk_pid" 2>/dev/null
	for p in "${servers[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${servers[@]}"; do
		wait_until 3 eval '! kill -0 '"$p"' 2>/dev/null'
		kill -KILL "$p" 2>/dev/null
	done
	lib_cleanup
	if [ "$keep" = 1 ] || ! suite_ok; then
		echo "faults: files kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fx() { "$PY" "$here/faults.py" "$@"; }
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
nchildren() { pgrep -P "$1" | wc -l; }
est() { ss -Htn state established "( sport = :$1 )" | wc -l; }
# balanced FILE: as many closed lines as new lines (connstate caught up)
balanced() { [ "$(grep -c '"state":"new"' "$1")" -eq "$(grep -c '"state":"closed"' "$1")" ]; }

# quiet DIR PORT CSOUT...: wait until no connection to PORT is open, and
# each connstate output has closed every connection it opened
quiet() {
	local d=$1 port=$2 f
	shift 2
	wait_until 10 eval '[ "$(est '"$port"')" -eq 0 ]'
	for f in "$@"; do
		wait_until 10 balanced "$f"
	done
	sleep 0.2
}

# start_nginx DIR: nginx with 2 workers on a free port, access log in the
# soak's format ($pid added for the worker); sets ng_pid ng_port
start_nginx() {
	local d=$1
	ng_pid=''
	mkdir -p "$d/html" "$d/tmp"
	head -c 600 /dev/zero | tr '\0' x >"$d/html/index.html"
	chmod -R a+rX "$d"
	for _ in 1 2 3; do
		ng_port=$(free_port)
		cat >"$d/nginx.conf" <<-EOF
			daemon off;
			master_process on;
			worker_processes 2;
			pid $d/nginx.pid;
			error_log $d/error.log warn;
			events { worker_connections 1024; }
			http {
			    log_format soak '\$msec \$pid \$connection \$connection_requests \$remote_port \$request_method \$request_uri \$status \$bytes_sent \$request_length';
			    access_log $d/access.log soak;
			    sendfile on;
			    keepalive_timeout 60s;
			    keepalive_requests 100000;
			    client_body_temp_path $d/tmp;
			    proxy_temp_path $d/tmp;
			    fastcgi_temp_path $d/tmp;
			    uwsgi_temp_path $d/tmp;
			    scgi_temp_path $d/tmp;
			    server {
			        listen 127.0.0.1:$ng_port backlog=1024;
			        root $d/html;
			    }
			}
		EOF
		nginx -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" >"$d/nginx.out" 2>&1 &
		ng_pid=$!
		servers+=("$ng_pid")
		wait_until 10 eval 'listening '"$ng_port"' && [ "$(nchildren '"$ng_pid"')" -eq 2 ] ||
			! kill -0 '"$ng_pid"' 2>/dev/null'
		listening "$ng_port" && [ "$(nchildren "$ng_pid")" -eq 2 ] && return 0
		kill -TERM "$ng_pid" 2>/dev/null
		wait "$ng_pid" 2>/dev/null
	done
	echo "faults: nginx did not start: $(tail -n 3 "$d/error.log" "$d/nginx.out")" >&2
	return 1
}

stop_server() {
	kill -TERM "$1" 2>/dev/null
	wait_until 3 eval '! kill -0 '"$1"' 2>/dev/null'
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# check_log DIR CSOUT CSERR [check.py args]: connstate's output against
# nginx's access log, all of check.py's checks; prints its FAIL lines
check_log() {
	local d=$1 out=$2 err=$3 res
	shift 3
	res=$("$PY" "$root/tests/soak/check.py" --log "$d/access.log" --connstate "$out" \
		--connstate-err "$err" --local-port "$ng_port" "$@" 2>&1)
	printf '%s\n' "$res" | grep -v '^PASS ' | sed 's/^/    /'
	! printf '%s\n' "$res" | grep -q '^FAIL ' && printf '%s\n' "$res" | grep -q '^PASS '
}

for t in nginx busybox wrk bpftool ss "$PY"; do
	command -v "$t" >/dev/null || echo "faults: missing $t: make deps installs it" >&2
done

# ----------------------------------------------------------------- sigkill
run_sigkill() {
	local d=$work/sigkill n left
	if ! start_nginx "$d" || ! cs_start "$d/cs.out" "$d/cs.err" -j -p "$ng_pid"; then
		fail faults_sigkill_connstate_held_bpf_objects "setup: nginx or connstate did not start"
		return
	fi
	wrk -t1 -c20 -d3s "http://127.0.0.1:$ng_port/index.html" >"$d/wrk.out" 2>&1 &
	wrk_pid=$!
	wait_until 5 eval '[ "$(wc -l <'"$d"'/cs.out)" -gt 1000 ]'
	fx bpf-ids "$CS_PID" >"$d/ids"
	n=$(wc -l <"$d/cs.out")
	kill -KILL "$CS_PID"
	wait "$CS_PID" 2>/dev/null
	echo "faults: sigkill: connstate held $(grep -c '^prog' "$d/ids") programs," \
		"$(grep -c '^map' "$d/ids") maps, $(grep -c '^link' "$d/ids") links; killed after $n lines"
	if [ "$(grep -c '^prog' "$d/ids")" -gt 0 ] && [ "$(grep -c '^map' "$d/ids")" -gt 0 ] &&
		[ "$n" -gt 1000 ]; then
		pass faults_sigkill_connstate_held_bpf_objects
	else
		fail faults_sigkill_connstate_held_bpf_objects "ids: $(paste -sd' ' "$d/ids"), $n lines"
	fi
	wait_until 5 eval '[ -z "$(fx alive '"$d"'/ids)" ]'
	left=$(fx alive "$d/ids")
	if [ -z "$(printf '%s\n' "$left" | grep '^prog')" ]; then
		pass faults_sigkill_under_load_leaves_no_bpf_programs
	else
		fail faults_sigkill_under_load_leaves_no_bpf_programs \
			"still loaded: $(printf '%s\n' "$left" | grep '^prog' | paste -sd' ')"
	fi
	if [ -z "$(printf '%s\n' "$left" | grep -v '^prog')" ]; then
		pass faults_sigkill_under_load_leaves_no_bpf_maps_or_links
	else
		fail faults_sigkill_under_load_leaves_no_bpf_maps_or_links \
			"still there: $(printf '%s\n' "$left" | grep -v '^prog' | paste -sd' ')"
	fi
	wait "$wrk_pid" 2>/dev/null
	wrk_pid=''
	stop_server "$ng_pid"
}

# ------------------------------------------------------------- worker_kill
run_worker_kill() {
	local d=$work/worker_kill w1 w2 w3='' got want killed_at
	if ! start_nginx "$d" || ! cs_start "$d/cs.out" "$d/cs.err" -j -p "$ng_pid"; then
		fail faults_worker_killed_and_replaced "setup: nginx or connstate did not start"
		return
	fi
	read -r w1 w2 <<<"$(pgrep -P "$ng_pid" | paste -sd' ')"
	wrk -t1 -c4 -d3s -H 'Connection: close' "http://127.0.0.1:$ng_port/index.html" \
		>"$d/wrk.out" 2>&1 &
	wrk_pid=$!
	sleep 1
	killed_at=$(date +%s.%N)
	kill -KILL "$w1"
	wait_until 5 eval '[ -n "$(pgrep -P '"$ng_pid"' | grep -vx -e '"$w1"' -e '"$w2"')" ]'
	w3=$(pgrep -P "$ng_pid" | grep -vx -e "$w1" -e "$w2" | head -n 1)
	wait "$wrk_pid" 2>/dev/null
	wrk_pid=''
	quiet "$d" "$ng_port" "$d/cs.out"
	cs_stop INT
	if [ -n "$w3" ] && ! kill -0 "$w1" 2>/dev/null; then
		pass faults_worker_killed_and_replaced
	else
		fail faults_worker_killed_and_replaced "killed $w1, workers now $(pgrep -P "$ng_pid" | paste -sd,)"
	fi
	# connections of the replacement that made a request: connstate's
	# closed lines with its pid, nginx's distinct $connection with that $pid
	got=$(grep '"state":"closed"' "$d/cs.out" | grep "\"pid\":${w3:-0}," |
		grep -vc '"requests":0,')
	want=$(awk -v p="${w3:-0}" '$2 == p { print $3 }' "$d/access.log" | sort -u | wc -l)
	echo "faults: worker_kill: killed $w1, replacement ${w3:-none}: $got connections in" \
		"connstate, $want in the log; $(wc -l <"$d/access.log") requests in all"
	if [ "$want" -gt 0 ] && [ "$got" -eq "$want" ]; then
		pass faults_replacement_worker_followed
	else
		fail faults_replacement_worker_followed "replacement ${w3:-none}: connstate $got connections, log $want"
	fi
	if check_log "$d" "$d/cs.out" "$d/cs.err" --workers "$w1,$w2,${w3:-0}" --killed "$w1" --killed-at "$killed_at"; then
		pass faults_worker_kill_connections_match_access_log
	else
		fail faults_worker_kill_connections_match_access_log "see above"
	fi
	stop_server "$ng_pid"
}

# ----------------------------------------------------------------- fork500
run_fork500() {
	local d=$work/fork500 port bb='' targets conns
	mkdir -p "$d/www"
	echo "fork500" >"$d/www/f.txt"
	for _ in 1 2 3; do
		port=$(free_port)
		# appending, so that truncating the log between runs leaves no hole
		busybox httpd -f -vv -p "127.0.0.1:$port" -h "$d/www" >"$d/stdout" 2>>"$d/access.log" &
		bb=$!
		servers+=("$bb")
		wait_until 5 eval 'listening '"$port"' || ! kill -0 '"$bb"' 2>/dev/null'
		# the probe above was a connection: let its child go, forget its log
		wait_until 5 eval '[ "$(nchildren '"$bb"')" -eq 0 ]'
		: >"$d/access.log"
		listening "$port" && break
		stop_server "$bb"
		bb=''
	done
	if [ -z "$bb" ] || ! cs_start "$d/cs.out" "$d/cs.err" -j -p "$bb"; then
		fail faults_fork_500_children_all_reported "setup: busybox httpd or connstate did not start"
		return
	fi
	: >"$d/access.log"
	fx serial 500 "$port" /f.txt >"$d/client.txt" 2>"$d/client.err"
	wait_until 10 eval '[ "$(grep -c "\"state\":\"closed\"" '"$d"'/cs.out)" -ge 500 ]'
	wait_until 5 eval '[ "$(nchildren '"$bb"')" -eq 0 ]'
	# the exits reach the BPF side at once; give the maps a moment anyway
	wait_until 5 eval '[ "$(fx map-entries '"$CS_PID"' targets)" = 1 ]'
	targets=$(fx map-entries "$CS_PID" targets)
	conns=$(fx map-entries "$CS_PID" conns)
	cs_stop INT
	if fx busybox "$d/client.txt" "$d/access.log" "$d/cs.out" "$port" >"$d/check.txt" &&
		[ "$(wc -l <"$d/client.txt")" -eq 500 ] &&
		grep -q '^connstate: 500 connections (0 open), 500 requests, [0-9]* events, 0 events lost' \
			"$d/cs.err"; then
		pass faults_fork_500_children_all_reported
	else
		fail faults_fork_500_children_all_reported "$(wc -l <"$d/client.txt") connections made;\
 $(grep '^connstate: [0-9]* conn' "$d/cs.err" | cut -d, -f1-4);\
 $(cat "$d/client.err" "$d/check.txt" | head -n 3 | cut -c1-200 | tr '\n' ' ')"
	fi
	echo "faults: fork500: after 500 children: targets map $targets entries, conns map $conns"
	if [ "$targets" = 1 ] && [ "$conns" = 0 ]; then
		pass faults_fork_children_leave_target_table
	else
		fail faults_fork_children_leave_target_table "targets map has $targets entries (want 1: the parent), conns map $conns (want 0)"
	fi
	stop_server "$bb"
}

# --------------------------------------------------------------------- two
run_two() {
	local d=$work/two a b url
	if ! start_nginx "$d" || ! cs_start "$d/a.out" "$d/a.err" -j -p "$ng_pid"; then
		fail faults_two_instances_each_match_access_log "setup: nginx or connstate did not start"
		return
	fi
	a=$CS_PID
	if ! cs_start "$d/b.out" "$d/b.err" -j -p "$ng_pid"; then
		fail faults_two_instances_each_match_access_log "setup: the second connstate did not start"
		return
	fi
	b=$CS_PID
	url="http://127.0.0.1:$ng_port/index.html"
	wrk -t1 -c8 -d1s "$url" >"$d/wrk.out" 2>&1
	wrk -t1 -c8 -d1s -H 'Connection: close' "$url" >>"$d/wrk.out" 2>&1
	quiet "$d" "$ng_port" "$d/a.out" "$d/b.out"
	CS_PID=$a cs_stop INT
	CS_PID=$b cs_stop INT
	echo "faults: two: $(wc -l <"$d/access.log") requests; a: $(grep '^connstate: [0-9]* conn' "$d/a.err" | cut -c1-60)"
	if check_log "$d" "$d/a.out" "$d/a.err" --workers "$(pgrep -P "$ng_pid" | paste -sd,)" &&
		check_log "$d" "$d/b.out" "$d/b.err" --workers "$(pgrep -P "$ng_pid" | paste -sd,)"; then
		pass faults_two_instances_each_match_access_log
	else
		fail faults_two_instances_each_match_access_log "see above"
	fi
	if fx same "$d/a.out" "$d/b.out" "$ng_port" >"$d/same.txt"; then
		pass faults_two_instances_report_the_same
	else
		fail faults_two_instances_report_the_same "$(head -n 4 "$d/same.txt" | tr '\n' ' ')"
	fi
	stop_server "$ng_pid"
}

if [ "$(id -u)" -ne 0 ]; then
	echo "faults: not root: every check fails (BPF needs root)" >&2
else
	SECONDS=0
	run_sigkill
	run_worker_kill
	run_fork500
	run_two
	echo "faults: took ${SECONDS}s" >&2
fi
suite_end
