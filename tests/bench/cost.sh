#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The cost figures of issue 9, in about two minutes (bench.sh runs it at its
# end; `make bench BENCH_QUICK=1` runs only this). A tool, not a test.
#
# 1. Host-wide tax: a process that is NOT a target runs
#    `dd if=/dev/zero of=/dev/null bs=1 count=COST_DD` (pure read/write
#    syscalls), timed, with no connstate and with connstate attached to an
#    idle process (one per hook mode in COST_HOOKS), interleaved
#    (none, mode1, mode2, none, mode1, ...), COST_PAIRS rounds; the ratio of
#    each traced run to the untraced run of its round, median and range.
#    Other tools' tracing programs (listed as foreign_bpf) tax the untraced
#    runs too, and an extra program on a syscall tracepoint that already
#    has one costs less than the first: read the figure with that line.
# 2. Per request, on nginx (one worker, a 600 B file) under wrk, keep-alive
#    and a connection per request: req/s ratio against the untraced run
#    just before (and of the bpftrace floor, tests/bench/floor.bt), and the
#    BPF time per request: run_time_ns summed over the programs connstate
#    holds (kernel.bpf_stats_enabled=1 while this runs), divided by wrk's
#    request count; and the tracer's own process's CPU time (connstate
#    reading and printing the events) per request, at the clock tick's
#    grain. Rounds interleave untraced, each hook mode, floor.
# 3. Host-wide TLS tax: a TLS server (a second nginx) and its client (wrk,
#    https, keep-alive), neither a target, both mapping the libssl the
#    target nginx of 2. maps: wrk's req/s with connstate attached to that
#    nginx (its TLS probes attached) over the untraced run of the same
#    round, COST_TLS_ROUNDS rounds (statistics as they were, as for dd).
#
# Environment: CONNSTATE (./connstate), COST_HOOKS ("": connstate's
# default; else e.g. "tracepoints raw", each run as --hooks=X), COST_PAIRS
# (5), COST_DD (2000000), COST_ROUNDS (3), COST_SECS (4), COST_FLOOR (1),
# COST_TLS_ROUNDS (3),
# BENCH_CONNS (50), BENCH_OUT (.output/bench: cost.txt, raw/cost-*).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
. "$root/tests/lib.sh"
CS=${CONNSTATE:-$root/connstate}
HOOKS=${COST_HOOKS:-}
PAIRS=${COST_PAIRS:-5}
DDN=${COST_DD:-2000000}
ROUNDS=${COST_ROUNDS:-3}
SECS=${COST_SECS:-4}
FLOOR=${COST_FLOOR:-1}
CONNS=${BENCH_CONNS:-50}
OUT=${BENCH_OUT:-$root/.output/bench}
RAW=$OUT/raw
PY=${PYTHON:-python3}

log() { printf 'cost: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (BPF, bpf_stats_enabled)"
for t in nginx wrk dd bpftrace openssl "$PY"; do
	command -v "$t" >/dev/null || die "missing $t: apt-get install nginx-light wrk bpftrace python3"
done
[ -x "$CS" ] || die "no $CS: run make"
mkdir -p "$RAW" || die "cannot write $RAW"
rm -f "$RAW"/cost-*

work=$(mktemp -d /tmp/connstate-cost.XXXXXX) || die "mktemp failed"
chmod 755 "$work"
cp "$CS" "$work/connstate" || die "cannot copy $CS"
CS_BIN=$work/connstate
nginx_pid='' sleep_pid='' cs_pid='' bt_pid='' other_pid=''
stats_old=$(cat /proc/sys/kernel/bpf_stats_enabled)

stop() { # PID [SIGNAL]: a child of ours, 10 s, then SIGKILL
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
	stop "$cs_pid" INT
	stop "$bt_pid" INT
	stop "$sleep_pid"
	stop "$nginx_pid"
	stop "$other_pid"
	echo "$stats_old" >/proc/sys/kernel/bpf_stats_enabled
	rm -rf "$work"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

# modes: "none" and one per hook mode ("default" when COST_HOOKS is empty)
modes=(none)
if [ -z "$HOOKS" ]; then modes+=(default); else for h in $HOOKS; do modes+=("$h"); done; fi
cs_args() { [ "$1" = default ] || printf -- '--hooks=%s\n' "$1"; }

start_cs() { # ERR MODE ARGS...
	local err=$1 mode=$2
	shift 2
	local -a a
	mapfile -t a < <(cs_args "$mode")
	cs_pid=''
	if CS_ATTACH_SECS=30 cs_start /dev/null "$err" "${a[@]}" "$@"; then
		cs_pid=$CS_PID
		return 0
	fi
	log "connstate ($mode) did not attach: $(cat "$err")"
	return 1
}

sleep 100000 &
sleep_pid=$!
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel=$(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at start"
	echo "connstate=$(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD -- bpf user 2>/dev/null || echo ' (bpf/ or user/ modified)'), sha256 $(sha256sum "$CS_BIN" | cut -c1-12)"
	echo "foreign_bpf=$("$PY" "$here/benchlib.py" foreign)"
} >"$RAW/cost-meta"

# ------------------------------------------------------------ host-wide tax
dd_ms() { # time of the dd, in ms
	local t0 t1
	t0=$(date +%s%N)
	dd if=/dev/zero of=/dev/null bs=1 count="$DDN" status=none
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

log "host-wide tax: $PAIRS rounds of dd bs=1 count=$DDN, modes ${modes[*]}"
# the statistics cost every program run: as they were, for the real tax
echo "$stats_old" >/proc/sys/kernel/bpf_stats_enabled
for r in $(seq "$PAIRS"); do
	for m in "${modes[@]}"; do
		if [ "$m" != none ]; then
			start_cs "$RAW/cost-dd-$r-$m.err" "$m" -p "$sleep_pid" || continue
		fi
		echo "$r $m $(dd_ms)" >>"$RAW/cost-dd.tsv"
		if [ "$m" != none ]; then
			stop "$cs_pid" INT
			cs_pid=''
		fi
	done
done

# ------------------------------------------------------------------ nginx
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/html" "$work/tmp"
chmod 755 "$work/html"
head -c 600 /dev/zero | tr '\0' x >"$work/html/index.html"
cat >"$work/nginx.conf" <<NGX
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
NGX
nginx -p "$work/" -c "$work/nginx.conf" -e "$work/error.log" >"$work/nginx.out" 2>&1 &
nginx_pid=$!
for i in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	kill -0 "$nginx_pid" 2>/dev/null || die "nginx failed: $(cat "$work/nginx.out" "$work/error.log")"
	sleep 0.1
done
worker=$(pgrep -P "$nginx_pid" | head -1)
[ -n "$worker" ] || die "no nginx worker"
url="http://127.0.0.1:$port/index.html"

# ------------------------------------------------------- host-wide TLS tax
# the other nginx: TLS, not a target; the same 600 B file
tls_port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/other"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
	-days 1 -subj /CN=localhost >/dev/null 2>&1 || die "openssl req failed"
sed -e "s|listen 127.0.0.1:$port backlog=4096;|listen 127.0.0.1:$tls_port ssl; ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;|" \
	-e "s|pid $work/nginx.pid;|pid $work/other/nginx.pid;|" -e "s|error_log $work/error.log|error_log $work/other/error.log|" \
	"$work/nginx.conf" >"$work/other/nginx.conf"
nginx -p "$work/other/" -c "$work/other/nginx.conf" -e "$work/other/error.log" >"$work/other/nginx.out" 2>&1 &
other_pid=$!
for i in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null && break
	kill -0 "$other_pid" 2>/dev/null || die "the TLS nginx failed: $(cat "$work/other/nginx.out" "$work/other/error.log")"
	sleep 0.1
done
tls_url="https://127.0.0.1:$tls_port/index.html"
log "host-wide TLS tax: ${COST_TLS_ROUNDS:-3} rounds of wrk $tls_url, modes ${modes[*]}"
wrk -t1 -c"$CONNS" -d2s "$tls_url" >/dev/null 2>&1 # warm-up
for r in $(seq "${COST_TLS_ROUNDS:-3}"); do
	for m in "${modes[@]}"; do
		f=$RAW/cost-tls-$r-$m
		if [ "$m" != none ]; then
			start_cs "$f.err" "$m" -p "$nginx_pid" || continue
		fi
		wrk -t1 -c"$CONNS" -d"${SECS}s" "$tls_url" >"$f.wrk" 2>&1
		[ -n "$cs_pid" ] && { stop "$cs_pid" INT; cs_pid=''; }
		echo "$r $m" >>"$RAW/cost-tls.tsv"
	done
done
stop "$other_pid"
other_pid=''

echo 1 >/proc/sys/kernel/bpf_stats_enabled

bt_start() { # the bpftrace floor on the worker, waited for
	local i
	bpftrace "$here/floor.bt" "$worker" >"$1" 2>&1 &
	bt_pid=$!
	for i in $(seq 600); do
		grep -q '^Attaching' "$1" &&
			[ "$(ls -l "/proc/$bt_pid/fd" 2>/dev/null | grep -c 'perf_event\|bpf_link')" -ge 13 ] &&
			return 0
		kill -0 "$bt_pid" 2>/dev/null || break
		sleep 0.1
	done
	stop "$bt_pid" INT
	bt_pid=''
	return 1
}

wmodes=("${modes[@]}")
[ "$FLOOR" = 1 ] && wmodes+=(floor)
for wl in keepalive close; do
	hdr=()
	[ "$wl" = close ] && hdr=(-H 'Connection: close')
	log "$wl: $ROUNDS rounds of ${wmodes[*]} (wrk -c$CONNS ${SECS}s)"
	wrk -t1 -c"$CONNS" -d2s "${hdr[@]}" "$url" >/dev/null 2>&1 # warm-up
	for r in $(seq "$ROUNDS"); do
		for m in "${wmodes[@]}"; do
			f=$RAW/cost-$wl-$r-$m
			tracer=''
			if [ "$m" = floor ]; then
				bt_start "$f.bt" || { log "bpftrace did not attach"; continue; }
				tracer=$bt_pid
			elif [ "$m" != none ]; then
				start_cs "$f.err" "$m" -p "$nginx_pid" || continue
				tracer=$cs_pid
			fi
			[ -n "$tracer" ] && "$PY" "$here/benchlib.py" progsum "$tracer" >"$f.before"
			wrk -t1 -c"$CONNS" -d"${SECS}s" "${hdr[@]}" "$url" >"$f.wrk" 2>&1
			[ -n "$tracer" ] && "$PY" "$here/benchlib.py" progsum "$tracer" >"$f.after"
			[ -n "$cs_pid" ] && { stop "$cs_pid" INT; cs_pid=''; }
			[ -n "$bt_pid" ] && { stop "$bt_pid" INT; bt_pid=''; }
			echo "$wl $r $m" >>"$RAW/cost-runs.tsv"
		done
	done
done
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/cost-meta"
"$PY" "$here/benchlib.py" cost-report "$RAW" | tee "$OUT/cost.txt"
exit 0
