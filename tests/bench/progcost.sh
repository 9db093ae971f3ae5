#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Where connstate's BPF time per request goes: the load of cost.sh (nginx,
# one worker, a 600 B file, wrk -t1 -cBENCH_CONNS, keep-alive and a
# connection per request) with each given connstate binary in turn,
# interleaved, PROGCOST_ROUNDS rounds; per run, every program's runs per
# request, ns per run and ns per request (run_time_ns with
# kernel.bpf_stats_enabled=1), then the median total per binary. A tool for
# comparing two builds, not a test: it asserts nothing.
#
# Every syscall tracepoint program runs for every process on the host, so
# other work (wrk's own reads and writes included) shows in the totals; the
# enter programs of nginx's recvfrom/writev/sendfile64 run for it alone.
#
# PROGCOST_WORKLOADS may add "big": keep-alive requests for a file of
# PROGCOST_BIG bytes (256 KiB) that nginx writes with writev (sendfile off
# for it), in 32 KiB pieces: what a large body's writes cost. And "paced":
# the same file taken by PROGCOST_PACED_CONNS (4) keep-alive connections at
# about 20 MB/s each (benchlib.py paced: 64 KiB every 3 ms through a 64 KiB
# receive buffer), as remote clients take a long body over many round
# trips, so nginx writes it as their windows open. "paced_tls": the same
# over TLS (nginx's SSL_write; connstate follows the plaintext); and
# "keepalive_tls": keep-alive requests for the 600 B file over TLS (wrk's
# own SSL calls run the TLS probes too, which ignore them).
#
# PROGCOST_EMPTY=1 adds a run of programs that do nothing (bpftrace, empty
# actions) on the sock tracepoints' hooks (sock_recv_length,
# sock_send_length, inet_sock_set_state, tcp_destroy_sock): the floor of
# running any program there, statistics included.
#
# PROGCOST_PIN=1 runs nginx on CPU 1 and wrk and connstate on CPU 0
# (taskset): with nothing moving between CPUs the rounds vary less.
#
# PROGCOST_PROFILE=1 adds, in the first round, a run under `perf record
# -a -g` after the measured one, and prints where each program's time goes
# by source line (tests/bench/jitlines.c maps the JIT image to the lines;
# perf's own sampling slows that run: its samples are shares, not times).
#
# usage: tests/bench/progcost.sh [CONNSTATE...]   (default ./connstate)
# Environment: PROGCOST_ROUNDS (3), PROGCOST_SECS (4), BENCH_CONNS (50),
# PROGCOST_WORKLOADS ("keepalive close"), PROGCOST_EMPTY (0),
# PROGCOST_PROFILE (0), PROGCOST_PIN (0), PROGCOST_BIG (262144),
# PROGCOST_PACED_CONNS (4).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ROUNDS=${PROGCOST_ROUNDS:-3}
SECS=${PROGCOST_SECS:-4}
CONNS=${BENCH_CONNS:-50}
WORKLOADS=${PROGCOST_WORKLOADS:-keepalive close}
BIG=${PROGCOST_BIG:-262144}
PACED_CONNS=${PROGCOST_PACED_CONNS:-4}
pin_server=() pin_client=()
if [ "${PROGCOST_PIN:-0}" = 1 ]; then
	pin_server=(taskset -c 1) pin_client=(taskset -c 0)
fi
[ $# -gt 0 ] || set -- "$root/connstate"

die() { printf 'progcost: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (BPF, bpf_stats_enabled)"
for t in nginx wrk python3 openssl; do command -v "$t" >/dev/null || die "missing $t"; done
for b in "$@"; do [ -x "$b" ] || die "no $b"; done

work=$(mktemp -d /tmp/connstate-progcost.XXXXXX) || die "mktemp failed"
chmod 755 "$work"
if [ "${PROGCOST_PROFILE:-0}" = 1 ]; then
	command -v perf >/dev/null || die "missing perf (PROGCOST_PROFILE=1)"
	cc -O2 -o "$work/jitlines" "$here/jitlines.c" -lbpf || die "jitlines did not build"
fi
if [ "${PROGCOST_EMPTY:-0}" = 1 ]; then
	command -v bpftrace >/dev/null || die "missing bpftrace (PROGCOST_EMPTY=1)"
	# a stand-in for a connstate binary: -p PID, "attached" on stderr
	cat >"$work/empty" <<'SH'
#!/bin/bash
(sleep 4; echo 'connstate: attached (empty programs)' >&2) &
exec bpftrace -e 'tracepoint:sock:sock_recv_length {} tracepoint:sock:sock_send_length {}
tracepoint:sock:inet_sock_set_state {} tracepoint:tcp:tcp_destroy_sock {}'
SH
	chmod +x "$work/empty"
	set -- "$@" "$work/empty"
fi
stats_old=$(cat /proc/sys/kernel/bpf_stats_enabled)
nginx_pid='' cs_pid=''
# SIGINT, 10 s, then SIGKILL: under heavy load a connstate was once seen
# still in epoll_wait minutes after its SIGINT (reported, not understood)
stop_cs() {
	local i
	kill -INT "$cs_pid" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$cs_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$cs_pid" 2>/dev/null
	wait "$cs_pid" 2>/dev/null
	cs_pid=''
}
cleanup() {
	[ -n "$cs_pid" ] && stop_cs
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid"
	echo "$stats_old" >/proc/sys/kernel/bpf_stats_enabled
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tls_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/html" "$work/tmp"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
	-days 1 -subj /CN=localhost >/dev/null 2>&1 || die "openssl req failed"
chmod 755 "$work/html"
head -c 600 /dev/zero | tr '\0' x >"$work/html/index.html"
mkdir -p "$work/html/big"
chmod 755 "$work/html/big"
head -c "$BIG" /dev/zero | tr '\0' x >"$work/html/big/file"
# the configuration of cost.sh
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
		# the "big" workload: the body through writev, not sendfile
		location /big/ { sendfile off; }
	}
	server {
		# "paced_tls": the same file over TLS (SSL_write)
		listen 127.0.0.1:$tls_port ssl;
		ssl_certificate $work/cert.pem;
		ssl_certificate_key $work/key.pem;
		root $work/html;
	}
}
NGX
"${pin_server[@]}" nginx -p "$work/" -c "$work/nginx.conf" -e "$work/error.log" >"$work/nginx.out" 2>&1 &
nginx_pid=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	kill -0 "$nginx_pid" 2>/dev/null || die "nginx failed: $(cat "$work/nginx.out")"
	sleep 0.1
done
echo 1 >/proc/sys/kernel/bpf_stats_enabled

# load SECS: the workload's client for SECS seconds (wrk, or the paced one)
load() {
	if [ "$wl" = paced ]; then
		"${pin_client[@]}" python3 "$here/benchlib.py" paced "$port" /big/file "$1" "$PACED_CONNS"
	elif [ "$wl" = paced_tls ]; then
		"${pin_client[@]}" python3 "$here/benchlib.py" paced "$tls_port" /big/file "$1" \
			"$PACED_CONNS" tls
	else
		"${pin_client[@]}" wrk -t1 -c"$CONNS" -d"$1s" "${hdr[@]}" "$url"
	fi
}

for wl in $WORKLOADS; do
	hdr=()
	[ "$wl" = close ] && hdr=(-H 'Connection: close')
	url=http://127.0.0.1:$port/index.html
	[ "$wl" = big ] && url=http://127.0.0.1:$port/big/file
	[ "$wl" = keepalive_tls ] && url=https://127.0.0.1:$tls_port/index.html
	load 2 >/dev/null 2>&1 # warm-up
	for r in $(seq "$ROUNDS"); do
		n=0
		for bin in "$@"; do
			n=$((n + 1))
			"${pin_client[@]}" "$bin" -p "$nginx_pid" >/dev/null 2>"$work/err" &
			cs_pid=$!
			for _ in $(seq 300); do
				grep -q 'connstate: attached' "$work/err" && break
				sleep 0.1
			done
			if ! grep -q 'connstate: attached' "$work/err"; then
				printf 'progcost: %s did not attach in 30 s: run skipped\n' "$bin" >&2
				stop_cs
				continue
			fi
			python3 "$here/benchlib.py" snap "$cs_pid" >"$work/before"
			load "$SECS" >"$work/wrk" 2>&1
			python3 "$here/benchlib.py" snap "$cs_pid" >"$work/after"
			if [ "${PROGCOST_PROFILE:-0}" = 1 ] && [ "$r" = 1 ]; then
				rm -f "$work"/lines.*
				while IFS=$'\t' read -r id name _; do
					"$work/jitlines" "$id" >"$work/lines.$name" 2>/dev/null
				done <"$work/after"
				perf record -q -a -g -o "$work/perf.data" -- sleep "$SECS" &
				load "$SECS" >/dev/null 2>&1
				wait $!
				echo "profile, $wl [$n:$bin]:" >>"$work/profiles"
				python3 "$here/benchlib.py" proflines "$work/perf.data" "$work"/lines.* \
					>>"$work/profiles" 2>&1
			fi
			stop_cs
			python3 - "$work" "$wl" "$r" "$n:$bin" <<'PY' | tee -a "$work/report"
import sys
d, wl, rnd, name = sys.argv[1:]
def snap(p):
    r = {}
    for l in open(p):
        f = l.rstrip("\n").split("\t")
        r[f[1]] = (int(f[2]), int(f[3]))
    return r
req = 0
for l in open(d + "/wrk"):
    if "requests in" in l:
        req = int(l.split()[0])
b, a = snap(d + "/before"), snap(d + "/after")
rows = []
for k, (runs, ns) in a.items():
    runs -= b.get(k, (0, 0))[0]
    ns -= b.get(k, (0, 0))[1]
    if runs:
        rows.append((ns, k, runs))
tot = sum(r[0] for r in rows)
print(f"{wl} round {rnd} [{name}]: {req} requests, {tot / max(req, 1):.0f} ns per request")
for ns, k, runs in sorted(rows, reverse=True):
    print(f"    {k:22s} runs/req {runs / req:6.2f}  ns/run {ns / runs:6.0f}  ns/req {ns / req:6.0f}")
PY
		done
	done
done
[ -f "$work/profiles" ] && cat "$work/profiles"
echo "medians over the rounds (range): ns per request, then per program ns per run"
python3 - "$work/report" <<'PY'
import re, statistics, sys
tot, prog, cur = {}, {}, None
for l in open(sys.argv[1]):
    m = re.match(r"(\w+) round \d+ \[(.*)\]: \d+ requests, (\d+) ns", l)
    if m:
        cur = (m[1], m[2])
        tot.setdefault(cur, []).append(int(m[3]))
        continue
    m = re.match(r"\s+(\S+)\s+runs/req\s+([\d.]+)\s+ns/run\s+(\d+)\s+ns/req\s+(\d+)", l)
    if m and cur:
        prog.setdefault(cur, {}).setdefault(m[1], []).append((float(m[2]), int(m[3]), int(m[4])))
def rng(v):
    return f"{statistics.median(v):.0f} ({min(v)}-{max(v)})"
for k, v in tot.items():
    print(f"  {k[0]:9s} {k[1]}: {rng(v)} ns per request, {len(v)} runs")
    for name, rows in sorted(prog.get(k, {}).items(), key=lambda kv: -statistics.median(r[2] for r in kv[1])):
        if statistics.median(r[2] for r in rows) >= 20:
            print(f"      {name:22s} runs/req {statistics.median(r[0] for r in rows):5.2f}"
                  f"  ns/run {rng([r[1] for r in rows])}")
PY
