#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The soak (issue 10): connstate -j on nginx (2 workers, connstate on the
# master) for about SOAK_REQUESTS requests, half over keep-alive (wrk), half
# with a connection per request (wrk -H 'Connection: close'), while
# SOAK_IDLE keep-alive connections (one request each) stay open the whole
# time. Then every connection in nginx's access log must be in connstate's
# output, new first and closed last, with the same requests in the same
# order (check.py), and no event may be lost. Reports connstate's peak RSS
# and CPU. Not part of `make check`: `make soak` runs it (under 10 minutes
# on 2 cores); SOAK_QUICK=1 is a run of about a minute.
#
# Environment: CONNSTATE (./connstate), SOAK_REQUESTS (1000000; 50000
# quick), SOAK_IDLE (10000; 1000 quick), SOAK_CONNS (wrk -c, 100),
# SOAK_THREADS (wrk -t, 2), SOAK_MAX_SECS (traffic time limit, 420),
# SOAK_KEEP=1 keeps the work directory, SOAK_ARGS (extra connstate options).
# Needs root, nginx (nginx-light), wrk, python3.
#
# Prints PASS/FAIL lines, the figures, and "soak: N passed, M failed";
# exits non-zero on a failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
. "$root/tests/lib.sh"
CS_BIN=${CONNSTATE:-$root/connstate}
PY=/usr/bin/python3
if [ "${SOAK_QUICK:-0}" = 1 ]; then
	REQUESTS=${SOAK_REQUESTS:-50000}
	IDLE=${SOAK_IDLE:-1000}
else
	REQUESTS=${SOAK_REQUESTS:-1000000}
	IDLE=${SOAK_IDLE:-10000}
fi
CONNS=${SOAK_CONNS:-100}
THREADS=${SOAK_THREADS:-2}
MAX_SECS=${SOAK_MAX_SECS:-420}
# the checks of this script plus the 9 of check.py
suite_begin soak 14

log() { printf 'soak: %s\n' "$*" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/connstate-soak.XXXXXX") || exit 1
chmod 755 "$work" # nginx's workers run as nobody
nginx_pid='' idle_pid='' wrk_pid=''

cleanup() {
	trap - EXIT INT TERM
	[ -n "$wrk_pid" ] && kill -TERM "$wrk_pid" 2>/dev/null
	[ -n "$idle_pid" ] && kill -TERM "$idle_pid" 2>/dev/null
	if [ -n "$nginx_pid" ]; then
		kill -TERM "$nginx_pid" 2>/dev/null
		wait_until 5 eval '! kill -0 '"$nginx_pid"' 2>/dev/null'
		kill -KILL "$nginx_pid" 2>/dev/null
	fi
	# waits for every child of ours, so nginx must be gone first
	lib_cleanup
	if [ "${SOAK_KEEP:-0}" = 1 ] || ! suite_ok; then
		log "files kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

# finish: fail every check not run yet, print the suite line, exit
finish() {
	suite_end
	exit $?
}

[ "$(id -u)" = 0 ] || { fail soak_runs_as_root "needs root (BPF)"; finish; }
for t in nginx wrk "$PY"; do
	command -v "$t" >/dev/null || { fail soak_tools_present "missing $t (make soak installs it)"; finish; }
done
[ -x "$CS_BIN" ] || { fail soak_connstate_built "no $CS_BIN: run make"; finish; }
# a copy: a rebuild while this runs must not mix two binaries
cp "$CS_BIN" "$work/connstate" && CS_BIN=$work/connstate

ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((IDLE + CONNS + 200)) ] ||
	log "ulimit -n is $(ulimit -n): too low for $IDLE idle connections"

# ------------------------------------------------------------------ nginx
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
two_workers() { [ "$(pgrep -P "$nginx_pid" | wc -l)" -eq 2 ]; }

mkdir -p "$work/html" "$work/tmp"
head -c 600 /dev/zero | tr '\0' x >"$work/html/index.html"
chmod -R a+rX "$work/html"
for _ in 1 2 3; do
	port=$(free_port)
	# $msec is the time of the log write, $connection nginx's serial number
	# of the connection (shared by both workers, increasing per accept)
	cat >"$work/nginx.conf" <<-EOF
		daemon off;
		master_process on;
		worker_processes 2;
		worker_rlimit_nofile $(ulimit -n);
		pid $work/nginx.pid;
		error_log $work/error.log warn;
		events { worker_connections $((IDLE + CONNS * 2 + 100)); }
		http {
		    log_format soak '\$msec \$pid \$connection \$connection_requests \$remote_port \$request_method \$request_uri \$status \$bytes_sent \$request_length';
		    access_log $work/access.log soak;
		    sendfile on;
		    keepalive_timeout 900s;
		    keepalive_requests 100000000;
		    client_body_temp_path $work/tmp;
		    proxy_temp_path $work/tmp;
		    fastcgi_temp_path $work/tmp;
		    uwsgi_temp_path $work/tmp;
		    scgi_temp_path $work/tmp;
		    server {
		        listen 127.0.0.1:$port backlog=4096;
		        root $work/html;
		    }
		}
	EOF
	nginx -p "$work/" -c "$work/nginx.conf" -e "$work/error.log" >"$work/nginx.out" 2>&1 &
	nginx_pid=$!
	wait_until 10 eval 'listening '"$port"' && two_workers || ! kill -0 '"$nginx_pid"
	listening "$port" && two_workers && break
	kill -TERM "$nginx_pid" 2>/dev/null
	wait "$nginx_pid" 2>/dev/null
	nginx_pid=''
done
if [ -z "$nginx_pid" ]; then
	fail soak_nginx_starts_with_2_workers "$(tail -n 3 "$work/error.log" "$work/nginx.out" 2>/dev/null)"
	finish
fi
pass soak_nginx_starts_with_2_workers
url="http://127.0.0.1:$port/index.html"
log "nginx master $nginx_pid, workers $(pgrep -P "$nginx_pid" | paste -sd,), $url"

# -------------------------------------------------------------- connstate
# shellcheck disable=SC2086
if ! cs_start "$work/cs.jsonl" "$work/cs.err" -j -p "$nginx_pid" ${SOAK_ARGS:-}; then
	fail soak_connstate_attaches "$(head -c 300 "$work/cs.err")"
	finish
fi
pass soak_connstate_attaches
cs_pid=$CS_PID
cs_ticks() { # utime + stime of connstate, in clock ticks
	local s f
	read -r s <"/proc/$cs_pid/stat" || return 1
	read -ra f <<<"${s##*) }"
	echo $((f[11] + f[12]))
}
start=$(date +%s.%N)

# -------------------------------------------------------------- idle conns
"$PY" "$root/tests/bench/idle_conns.py" "$IDLE" 127.0.0.1 "$port" /index.html \
	>"$work/idle.out" 2>"$work/idle.err" &
idle_pid=$!
wait_until 300 eval 'grep -q ^ready '"$work"'/idle.out || ! kill -0 '"$idle_pid"' 2>/dev/null'
opened=$(awk '/^ready/ { print $2 }' "$work/idle.out")
if [ "${opened:-0}" -eq "$IDLE" ]; then
	pass soak_idle_connections_open
else
	fail soak_idle_connections_open "${opened:-0} of $IDLE opened: $(head -c 300 "$work/idle.err")"
fi
log "$IDLE idle keep-alive connections open"

# ----------------------------------------------------------------- traffic
logged() { wc -l <"$work/access.log"; }

# load NAME TARGET [wrk args]: wrk runs until TARGET more requests are in
# nginx's log: a first 2 s run measures the rate, the next aims at the rest.
load() {
	local name=$1 target=$2 n0 n secs=2 t0 t1 rate
	shift 2
	n0=$(logged)
	while :; do
		n=$(($(logged) - n0))
		[ "$n" -ge "$target" ] && break
		[ $(($(date +%s) - ${start%.*})) -lt "$MAX_SECS" ] || break
		t0=$(date +%s.%N)
		wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" "$@" "$url" >>"$work/wrk-$name.out" 2>&1 &
		wrk_pid=$!
		wait "$wrk_pid"
		wrk_pid=''
		t1=$(date +%s.%N)
		rate=$(awk -v a="$(($(logged) - n0 - n))" -v t0="$t0" -v t1="$t1" \
			'BEGIN { r = a / (t1 - t0); print (r < 100 ? 100 : int(r)) }')
		secs=$(((target - $(logged) + n0) / rate + 1))
		[ "$secs" -gt 120 ] && secs=120
		log "$name: $(($(logged) - n0)) of $target requests, $rate req/s"
	done
	echo $(($(logged) - n0))
}

ka=$(load keepalive $((REQUESTS / 2)))
cl=$(load close $((REQUESTS - REQUESTS / 2)) -H 'Connection: close')
traffic_secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
if [ "$ka" -ge $((REQUESTS / 2)) ] && [ "$cl" -ge $((REQUESTS - REQUESTS / 2)) ]; then
	pass soak_traffic_reached_target
else
	fail soak_traffic_reached_target "$ka keep-alive + $cl per-connection of $REQUESTS in ${traffic_secs}s"
fi

# ------------------------------------------------------ close and measure
kill -TERM "$idle_pid" 2>/dev/null
wait "$idle_pid" 2>/dev/null
idle_pid=''
# every connection closed (none left established on the port), logged, and
# connstate's output settled
est() { ss -Htn state established "( sport = :$port )" | wc -l; }
wait_until 30 eval '[ "$(est)" -eq 0 ]'
settled() {
	local a b
	a=$(stat -c %s "$work/cs.jsonl")
	sleep 1
	b=$(stat -c %s "$work/cs.jsonl")
	[ "$a" = "$b" ]
}
wait_until 60 settled
hwm_kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$cs_pid/status")
ticks=$(cs_ticks)
hz=$(getconf CLK_TCK)
cs_stop INT
cs_rc=$?
if [ "$cs_rc" -eq 0 ]; then
	pass soak_connstate_exits_0_on_sigint
else
	fail soak_connstate_exits_0_on_sigint "exit $cs_rc: $(tail -n 3 "$work/cs.err")"
fi

# ------------------------------------------------------------------- check
total=$(logged)
check_out=$("$PY" "$here/check.py" --log "$work/access.log" --connstate "$work/cs.jsonl" \
	--connstate-err "$work/cs.err" --local-port "$port" \
	--workers "$(pgrep -P "$nginx_pid" | paste -sd,)" 2>"$work/check.err")
check_rc=$?
while IFS= read -r line; do
	case $line in
	"PASS "*) pass "${line#PASS }" ;;
	"FAIL "*) line=${line#FAIL }; fail "${line%%: *}" "${line#*: }" ;;
	*) printf '%s\n' "$line" ;;
	esac
done <<<"$check_out"
if [ "$check_rc" -ne 0 ] && suite_ok; then
	fail soak_checker_ran "check.py exit $check_rc: $(tail -n 3 "$work/check.err")"
fi

cpu=$(awk -v t="$ticks" -v hz="$hz" 'BEGIN { printf "%.1f", t / hz }')
echo "soak: figures: $total requests logged ($ka keep-alive, $cl connection per request," \
	"$((total - ka - cl)) on $IDLE idle connections) in ${traffic_secs} s;" \
	"wrk -t$THREADS -c$CONNS; $(nproc) CPUs, kernel $(uname -r)"
echo "soak: figures: connstate peak RSS (VmHWM) $((hwm_kb / 1024)) MiB ($hwm_kb kB)," \
	"CPU $cpu s ($(awk -v t="$ticks" -v hz="$hz" -v n="$total" \
		'BEGIN { printf "%.2f", t / hz * 1000 * 1000 / n }') ms per 1,000 requests)"
echo "soak: figures: $(grep -E '^connstate: [0-9]+ connections' "$work/cs.err" | sed 's/^connstate: //')"
finish
