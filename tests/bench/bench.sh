#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# connstate's overhead on a real server, against the budgets of the issue
# "Overhead: make bench". A tool, not a test: it prints figures and marks
# each budget met or missed, and exits 0 if it ran.
#
# On loopback, with Debian's nginx (one worker, our child, a 600 B file)
# loaded by wrk, two workloads: keep-alive, and a new connection per request
# (Connection: close). For each, interleaved rounds of
#     untraced, connstate, untraced, connstate -j, untraced, bpftrace floor
# (the floor: tests/bench/floor.bt, same syscall tracepoints, pid filter and
# a count per (pid, fd), nothing else). Then, per workload: one pair with
# connstate attached to an idle process (the cost of being attached at
# all); one connstate run alternating 30 ms windows of connstate consuming
# and SIGSTOPped (the cost of the ring buffer's wakeups); one run with
# bpftrace counting nginx's own syscalls (which program runs were for nginx
# and which returned at the tgid check). Then the time to 'connstate:
# attached', and connstate's memory with BENCH_IDLE idle keep-alive
# connections open.
#
# BPF time comes from run_time_ns/run_cnt (kernel.bpf_stats_enabled=1 while
# this runs, restored after) of the programs connstate holds, read with
# bpftool before and after each run; connstate's CPU from /proc/PID/stat.
#
# At the end it runs tests/bench/cost.sh (the host-wide tax with dd, and
# BPF time per request); BENCH_QUICK=1 runs only that (about 2 minutes).
#
# Usage: tests/bench/bench.sh            (as root; `make bench` runs it)
# Environment: CONNSTATE (./connstate), BENCH_PAIRS (5 rounds),
# BENCH_SECS (5 s a run), BENCH_CONNS (50), BENCH_THREADS (1),
# BENCH_IDLE (10000 connections), BENCH_ATTACH (7 starts),
# BENCH_OUT (.output/bench: results.txt and raw/)
# Needs: nginx (nginx-light), wrk, bpftool, bpftrace, python3.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ "${BENCH_QUICK:-0}" = 1 ] && exec "$here/cost.sh"
# shellcheck source=../lib.sh
. "$root/tests/lib.sh"
CS=${CONNSTATE:-$root/connstate}
PAIRS=${BENCH_PAIRS:-5}
SECS=${BENCH_SECS:-5}
CONNS=${BENCH_CONNS:-50}
THREADS=${BENCH_THREADS:-1}
IDLE=${BENCH_IDLE:-10000}
ATTACH=${BENCH_ATTACH:-7}
OUT=${BENCH_OUT:-$root/.output/bench}
RAW=$OUT/raw
PY=${PYTHON:-python3}
SYSCALLS="accept accept4 read readv recvfrom recvmsg write writev sendto sendmsg sendfile64 close shutdown"

log() { printf 'bench: %s\n' "$*" >&2; }
lib() { "$PY" "$here/benchlib.py" "$@"; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (BPF, bpf_stats_enabled)"
for t in nginx wrk bpftool bpftrace "$PY"; do
	command -v "$t" >/dev/null || die "missing $t: apt-get install nginx-light wrk bpftool bpftrace python3"
done
[ -x "$CS" ] || die "no $CS: run make"

work=$(mktemp -d /tmp/connstate-bench.XXXXXX) || die "mktemp failed"
chmod 755 "$work" # the nginx worker runs as nobody
# a copy, so that a rebuild while this runs does not mix two binaries
cp "$CS" "$work/connstate" || die "cannot copy $CS"
CSBIN=$work/connstate
nginx_pid='' wrk_pid='' cs_pid='' bt_pid='' idle_pid='' sleep_pid=''
stats_old=$(cat /proc/sys/kernel/bpf_stats_enabled)

# stop PID [SIGNAL]: signal a child of ours, give it 10 s, then SIGKILL.
stop() {
	local pid=$1 sig=${2:-TERM} i
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -s "$sig" "$pid" 2>/dev/null
		for i in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

cleanup() {
	trap - EXIT INT TERM
	stop "$wrk_pid"
	[ -n "$cs_pid" ] && kill -CONT "$cs_pid" 2>/dev/null
	stop "$cs_pid" INT
	stop "$bt_pid" INT
	stop "$idle_pid"
	stop "$sleep_pid"
	stop "$nginx_pid"
	echo "$stats_old" >/proc/sys/kernel/bpf_stats_enabled
	rm -rf "$work"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((IDLE + 100)) ] || log "ulimit -n is $(ulimit -n): too low for $IDLE connections"
mkdir -p "$RAW" && rm -f "$RAW"/* || die "cannot write $RAW"

# ------------------------------------------------------------------ nginx
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/html" "$work/tmp"
chmod 755 "$work/html"
head -c 600 /dev/zero | tr '\0' x >"$work/html/index.html"
cat >"$work/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 20000; }
http {
	access_log off;
	sendfile on;
	keepalive_timeout 300s;
	keepalive_requests 100000000;
	client_body_temp_path $work/tmp;
	proxy_temp_path $work/tmp;
	fastcgi_temp_path $work/tmp;
	uwsgi_temp_path $work/tmp;
	scgi_temp_path $work/tmp;
	server {
		listen 127.0.0.1:$port backlog=4096;
		root $work/html;
		location / { }
	}
}
EOF
nginx -p "$work/" -c "$work/nginx.conf" -e "$work/error.log" >"$work/nginx.out" 2>&1 &
nginx_pid=$!
for i in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	kill -0 "$nginx_pid" 2>/dev/null || die "nginx failed: $(cat "$work/nginx.out" "$work/error.log" 2>/dev/null)"
	sleep 0.1
done
worker=$(pgrep -P "$nginx_pid" | head -1)
[ -n "$worker" ] || die "no nginx worker"
url="http://127.0.0.1:$port/index.html"
log "nginx master $nginx_pid, worker $worker, $url"

sleep 100000 &
sleep_pid=$! # the idle process of the attach-only runs

echo 1 >/proc/sys/kernel/bpf_stats_enabled

{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel=$(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at start"
	echo "nginx=$(nginx -v 2>&1 | sed 's/.*version: //'), 1 worker, $(stat -c %s "$work/html/index.html") B file, sendfile on, access_log off"
	echo "wrk=wrk -t$THREADS -c$CONNS -d${SECS}s --latency, $PAIRS rounds"
	echo "bpftrace=$(bpftrace --version 2>&1)"
	echo "connstate=$("$CSBIN" --version 2>&1 | head -1), $CS built $(date -u -r "$CS" '+%H:%M:%S UTC'), sha256 $(sha256sum "$CSBIN" | cut -c1-12), HEAD $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD -- bpf user 2>/dev/null || echo ' (bpf/ or user/ modified)')"
	echo "foreign_bpf=$(lib foreign)"
} >"$RAW/meta"

# ------------------------------------------------------------------ helpers
cpu_ticks() { # utime + stime of PID, in clock ticks
	local s f
	read -r s <"/proc/$1/stat" || return 1
	read -ra f <<<"${s##*) }"
	echo $((f[11] + f[12]))
}

syscw() { awk '$1 == "syscw:" { print $2 }' "/proc/$1/io"; } # write-like syscalls

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# start_cs OUT ERR ARGS...: lib.sh's cs_start (connstate, waited for its
# 'attached' line, 30 s on a loaded machine), its pid in cs_pid for stop().
start_cs() {
	cs_pid=''
	if CS_BIN=$CSBIN CS_ATTACH_SECS=30 cs_start "$@"; then
		cs_pid=$CS_PID
		return 0
	fi
	log "connstate did not attach: $(cat "$2")"
	return 1
}

bt_start() { # bpftrace floor on the worker; waits until its probes are attached
	local out=$1 err=$2 i n
	bpftrace "$here/floor.bt" "$worker" >"$out" 2>"$err" &
	bt_pid=$!
	for i in $(seq 600); do
		n=$(ls -l "/proc/$bt_pid/fd" 2>/dev/null | grep -c 'perf_event\|bpf_link')
		[ "$n" -ge 13 ] && grep -q '^Attaching' "$out" && return 0
		kill -0 "$bt_pid" 2>/dev/null || break
		sleep 0.1
	done
	log "bpftrace did not attach: $(cat "$err")"
	stop "$bt_pid" INT
	bt_pid=''
	return 1
}

wrk_run() { # OUT [extra wrk args]
	local out=$1
	shift
	wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency "$@" "$url" >"$out" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid"
	wrk_pid=''
}

rps_of() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$1"; }

# run WORKLOAD ROUND MODE: one wrk run, untraced (base) or traced.
last_base=0 seq=0
run() {
	local wl=$1 rnd=$2 mode=$3 tag
	seq=$((seq + 1))
	tag=$(printf '%s-%s-%03d-%s' "$wl" "$rnd" "$seq" "$mode")
	local f="$RAW/$tag" tracer='' c0 c1 w0 w1 hwm r
	local -a hdr=()
	[ "$wl" = close ] && hdr=(-H 'Connection: close')
	case $mode in
	text) start_cs /dev/null "$f.err" -p "$nginx_pid" || return 0 ;;
	json) start_cs /dev/null "$f.err" -p "$nginx_pid" -j || return 0 ;;
	null) start_cs /dev/null "$f.err" -p "$sleep_pid" || return 0 ;;
	floor) bt_start "$f.bt" "$f.err" || return 0 ;;
	esac
	[ -n "$cs_pid" ] && tracer=$cs_pid
	[ -n "$bt_pid" ] && tracer=$bt_pid
	if [ -n "$tracer" ]; then
		lib snap "$tracer" >"$f.before"
		c0=$(cpu_ticks "$tracer")
		w0=$(syscw "$tracer")
	fi
	wrk_run "$f.wrk" "${hdr[@]}"
	if [ -n "$tracer" ]; then
		c1=$(cpu_ticks "$tracer")
		w1=$(syscw "$tracer")
		hwm=$(status_kb "$tracer" VmHWM)
		lib snap "$tracer" >"$f.after"
		printf 'cpu0=%s\ncpu1=%s\nhwm_kb=%s\nwrites=%s\n' "$c0" "$c1" "$hwm" \
			"$((w1 - w0))" >"$f.cs"
	fi
	if [ -n "$cs_pid" ]; then
		stop "$cs_pid" INT
		cs_pid=''
	fi
	if [ -n "$bt_pid" ]; then
		stop "$bt_pid" INT
		bt_pid=''
		awk -F': ' '/^@calls\[/ { s += $2 } END { printf "target_calls=%d\n", s }' "$f.bt" >>"$f.cs"
	fi
	echo "$wl $rnd $mode $tag" >>"$RAW/runs.tsv"
	r=$(rps_of "$f.wrk")
	if [ "$mode" = base ]; then
		last_base=${r:-0}
	else
		log "$wl round $rnd: $mode $r req/s vs $last_base untraced$(
			[ -n "$r" ] && [ "$last_base" -gt 0 ] && awk -v a="$r" -v b="$last_base" 'BEGIN { printf " (%.3f)", a / b }')"
	fi
}

# wakeup_probe WORKLOAD: one connstate run with alternating windows of
# connstate consuming and stopped (see benchlib.py stop-probe).
wakeup_probe() {
	local wl=$1 f="$RAW/$1-probe" lost
	local -a hdr=()
	[ "$wl" = close ] && hdr=(-H 'Connection: close')
	start_cs /dev/null "$f.err" -p "$nginx_pid" || return 0
	wrk -t"$THREADS" -c"$CONNS" -d6s "${hdr[@]}" "$url" >"$f.wrk" 2>&1 &
	wrk_pid=$!
	sleep 0.5
	lib stop-probe "$cs_pid" 0.03 16 >"$f.tsv"
	wait "$wrk_pid"
	wrk_pid=''
	stop "$cs_pid" INT
	cs_pid=''
	lost=$(sed -n 's/.* \([0-9]*\) events lost.*/\1/p' "$f.err")
	printf 'windows=16\nwindow_ms=30\nlost=%s\n' "${lost:-?}" >"$f.cs"
}

# calibrate WORKLOAD: nginx's own syscalls per request, counted by bpftrace
# during an untraced run (perf stat would not do: its syscall counts are
# suppressed whenever a BPF program on the same tracepoint returns 0).
calibrate() {
	local wl=$1 f="$RAW/$1-calib" s i probes=''
	local -a hdr=()
	[ "$wl" = close ] && hdr=(-H 'Connection: close')
	for s in $SYSCALLS; do probes="$probes${probes:+,}tracepoint:syscalls:sys_enter_$s"; done
	bpftrace -e "$probes /pid == $worker/ { @[probe] = count(); }" >"$f.bt" 2>"$f.err" &
	bt_pid=$!
	for i in $(seq 600); do
		[ "$(ls -l "/proc/$bt_pid/fd" 2>/dev/null | grep -c 'perf_event\|bpf_link')" -ge 13 ] && break
		kill -0 "$bt_pid" 2>/dev/null || break
		sleep 0.1
	done
	wrk_run "$f.wrk" "${hdr[@]}"
	stop "$bt_pid" INT
	bt_pid=''
}

# ------------------------------------------------------------------ runs
start=$(date +%s)
log "attach time: $ATTACH starts"
lib attach-time "$ATTACH" "$CSBIN" -p "$nginx_pid" >"$RAW/attach.ms"

for wl in keepalive close; do
	hdr=()
	[ "$wl" = close ] && hdr=(-H 'Connection: close')
	log "$wl: warm-up"
	SECS=2 wrk_run "$RAW/$wl-warmup.wrk" "${hdr[@]}"
	for rnd in $(seq "$PAIRS"); do
		for mode in text json floor; do
			run "$wl" "$rnd" base
			run "$wl" "$rnd" "$mode"
		done
	done
	run "$wl" 0 base
	run "$wl" 0 null
	log "$wl: ring buffer wakeup probe"
	wakeup_probe "$wl"
	log "$wl: syscall count calibration run"
	calibrate "$wl"
done

# ------------------------------------------------------------------ idle conns
log "$IDLE idle keep-alive connections"
if start_cs "$RAW/idle.jsonl" "$RAW/idle.err" -p "$nginx_pid" -j; then
	rss0=$(status_kb "$cs_pid" VmRSS)
	$PY "$here/idle_conns.py" "$IDLE" 127.0.0.1 "$port" /index.html \
		>"$RAW/idle.client" 2>"$RAW/idle.client.err" &
	idle_pid=$!
	for i in $(seq 1200); do
		grep -q '^ready' "$RAW/idle.client" && break
		kill -0 "$idle_pid" 2>/dev/null || break
		sleep 0.1
	done
	# let connstate drain its ring buffer
	for i in $(seq 100); do
		[ "$(grep -c '"state":"idle"' "$RAW/idle.jsonl")" -ge "$IDLE" ] && break
		sleep 0.1
	done
	sleep 1
	{
		echo "want=$IDLE"
		echo "opened=$(awk '/^ready/ { print $2 }' "$RAW/idle.client")"
		echo "new=$(grep -c '"state":"new"' "$RAW/idle.jsonl")"
		echo "idle=$(grep -c '"state":"idle"' "$RAW/idle.jsonl")"
		echo "rss0_kb=$rss0"
		echo "rss_kb=$(status_kb "$cs_pid" VmRSS)"
		echo "hwm_kb=$(status_kb "$cs_pid" VmHWM)"
	} >"$RAW/idle.cs"
	stop "$cs_pid" INT
	cs_pid=''
	stop "$idle_pid"
	idle_pid=''
fi

log "done in $(($(date +%s) - start)) s"
{
	echo "elapsed=$(($(date +%s) - start)) s"
	echo "foreign_bpf_end=$(lib foreign), load $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$RAW/meta"
lib report "$RAW" | tee "$OUT/results.txt"
cleanup # cost.sh starts its own nginx
"$here/cost.sh"
exit 0
