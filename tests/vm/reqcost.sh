#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# reqcost.sh [--connstate PATH] [--modes "MODE..."] [run.sh options...] - BPF
# time per request of each hook mode inside a VM per kernel (where the
# socket hooks load, unlike on our 6.18 machines). In the guest: Debian's
# nginx (one worker, a 600 B file, access_log off), loaded by the static
# tests/vm/loadgen with REQCOST_N (20000) keep-alive requests over
# REQCOST_CONNS (50) connections, then REQCOST_NCLOSE (4000) requests with a
# connection each. REQCOST_ROUNDS (3) rounds, each of: no connstate, then
# connstate --hooks=MODE -p NGINX-MASTER >/dev/null for each MODE (default:
# tracepoints raw socket), both loads under each. With
# kernel.bpf_stats_enabled=1 throughout, the BPF time of a load is the sum
# of run_time_ns over the programs connstate holds (read from
# /proc/PID/fdinfo, by prog_id), after minus before, over the requests.
# Prints per kernel and mode "reqcost: MODE LOAD: BPF ns/request median
# (range), runs/request, req/s ratio to the round's no-connstate run median
# (range)" (and, for the modes other than tracepoints, their BPF time per
# request over the tracepoints' in the same round), then each program's runs
# per request and ns per run (medians; names from Debian's bpftool, copied
# in with its libraries). A tool, not a test: TCG emulates the guest, so
# the ns are inflated (compare modes in the same guest), and req/s is a
# ratio.
# Logs (every raw run): .output/reqcost/ (VMTEST_OUTPUT).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
connstate=$top/connstate
modes="tracepoints raw socket"
while [ $# -gt 0 ]; do
	case $1 in
	--connstate) [ $# -ge 2 ] || { echo "reqcost.sh: --connstate needs a path" >&2; exit 2; }
		connstate=$2; shift 2 ;;
	--modes) [ $# -ge 2 ] || { echo "reqcost.sh: --modes needs a list" >&2; exit 2; }
		modes=$2; shift 2 ;;
	*) break ;;
	esac
done
[ -x "$connstate" ] || { echo "reqcost.sh: $connstate missing (make)" >&2; exit 2; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "reqcost.sh: nginx missing (apt-get install nginx-light)" >&2; exit 2; }
for n in "${REQCOST_N:-20000}" "${REQCOST_NCLOSE:-4000}" "${REQCOST_CONNS:-50}" \
	"${REQCOST_ROUNDS:-3}"; do
	case $n in ""|*[!0-9]*|0) echo "reqcost.sh: REQCOST_* must be positive integers" >&2; exit 2 ;; esac
done
for m in $modes; do
	case $m in auto|socket|sock-tracepoints|tracepoints|raw) ;;
	*) echo "reqcost.sh: unknown mode '$m' (auto socket sock-tracepoints tracepoints raw)" >&2; exit 2 ;;
	esac
done

# bpftool (dynamic: mkinitramfs copies its libraries) names the programs;
# without it only the sums are told
bpftool=$(command -v bpftool || true)
work=$(mktemp -d "${TMPDIR:-/tmp}/vmreqcost.XXXXXX")
trap 'rm -rf "$work"' EXIT
# a copy, so a rebuild meanwhile cannot hand us half a binary
cp "$connstate" "$work/connstate"
(cd "$here/loadgen" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$work/loadgen" .)

cat >"$work/test.sh" <<EOF
#!/bin/bash
n_ka=${REQCOST_N:-20000}
n_close=${REQCOST_NCLOSE:-4000}
conns=${REQCOST_CONNS:-50}
rounds=${REQCOST_ROUNDS:-3}
modes="$modes"
EOF
cat >>"$work/test.sh" <<'EOF'
say() { echo "reqcost: $*"; }
# the VM is ours alone: a fixed port
port=8080
w=/tmp/ngx
mkdir -p $w/html $w/tmp
head -c 600 /dev/zero | tr '\0' x >$w/html/index.html
cat >$w/nginx.conf <<NGX
user root root;
daemon off;
worker_processes 1;
pid $w/nginx.pid;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	keepalive_timeout 300s;
	keepalive_requests 100000000;
	client_body_temp_path $w/tmp;
	proxy_temp_path $w/tmp;
	fastcgi_temp_path $w/tmp;
	uwsgi_temp_path $w/tmp;
	scgi_temp_path $w/tmp;
	server {
		listen 127.0.0.1:$port backlog=4096;
		root $w/html;
		location / { }
	}
}
NGX
ulimit -n 65536
echo "1024 65000" >/proc/sys/net/ipv4/ip_local_port_range
# -e: the compiled-in error log's directory does not exist here
nginx -e stderr -p $w/ -c $w/nginx.conf >$w/nginx.out 2>&1 &
master=$!
for i in $(seq 100); do
	grep -q ":$(printf %04X $port) 00000000:0000 0A" /proc/net/tcp && break
	sleep 0.1
done
if ! kill -0 $master 2>/dev/null; then
	say "nginx did not start: $(head -c 300 $w/nginx.out)"
	exit 1
fi

echo 1 >/proc/sys/kernel/bpf_stats_enabled
# fdinfo PID: the fdinfo of PID's descriptors, each starting with "pos:";
# one cat, which goes on past a file that vanished (a descriptor connstate
# closed meanwhile; busybox awk would give up there), and few syscalls (in
# raw mode every syscall of the snapshot runs connstate's programs too)
fdinfo() {
	cat /proc/$1/fdinfo/* 2>/dev/null
}
# progids PID: "ID RUN_TIME_NS RUN_CNT" for each BPF program PID holds
# (each prog_id once, however many fds refer to it)
progids() {
	fdinfo $1 | awk '$1 == "pos:" { id = "" } $1 == "prog_id:" { id = $2 }
		$1 == "run_time_ns:" && id != "" { t[id] = $2 }
		$1 == "run_cnt:" && id != "" { c[id] = $2 }
		END { for (i in t) print i, t[i], c[i] }'
}
# progdelta BEFORE AFTER: "RUN_TIME_NS RUN_CNT" summed over the programs in
# both snapshots, after minus before
progdelta() {
	awk 'NR == FNR { t[$1] = $2; c[$1] = $3; next }
		$1 in t { s += $2 - t[$1]; n += $3 - c[$1] }
		END { printf "%.0f %.0f\n", s, n }' "$1" "$2"
}
# progs PID: "ID NAME RUN_TIME_NS RUN_CNT" for each program PID holds
progs() {
	local ids
	ids=$(fdinfo $1 | awk '$1 == "prog_id:" { print $2 }' | sort -u | tr '\n' ' ')
	bpftool prog show 2>/dev/null | awk -v ids=" $ids" '/^[0-9]+:/ {
		id = $1; sub(":", "", id)
		if (index(ids, " " id " ") == 0) next
		name = "?"; ns = 0; c = 0
		for (i = 2; i < NF; i++) {
			if ($i == "name") name = $(i + 1)
			if ($i == "run_time_ns") ns = $(i + 1)
			if ($i == "run_cnt") c = $(i + 1)
		}
		print id, name, ns, c }'
}
# load WL: one loadgen run; prints "REQUESTS REQ/S"
load() {
	local a=(-addr 127.0.0.1:$port -path /index.html)
	if [ $1 = ka ]; then a+=(-n $n_ka -c $conns); else a+=(-n $n_close -c $conns -close); fi
	/bin/loadgen "${a[@]}" >/tmp/lg.out 2>&1 || { say "loadgen failed: $(cat /tmp/lg.out)"; exit 1; }
	sed -n 's/^loadgen: requests \([0-9]*\) ok, [0-9.]* s, \([0-9]*\) req\/s$/\1 \2/p' /tmp/lg.out
}
# warm up nginx, the page cache and the client
load ka >/dev/null
load close >/dev/null

bad=""
for r in $(seq $rounds); do
	for m in none $modes; do
		case " $bad " in *" $m "*) continue ;; esac
		cs=""
		if [ $m != none ]; then
			/bin/connstate -v --hooks=$m -p $master >/dev/null 2>/tmp/cs.err & cs=$!
			for i in $(seq 1800); do
				grep -q '^connstate: attached' /tmp/cs.err && break
				kill -0 $cs 2>/dev/null || break
				sleep 0.1
			done
			[ $r = 1 ] && grep '^connstate: syscall hooks' /tmp/cs.err | sed "s/^/reqcost: $m: /"
			if ! grep -q '^connstate: attached' /tmp/cs.err; then
				say "$m: connstate did not attach: $(tail -c 300 /tmp/cs.err)"
				kill -INT $cs 2>/dev/null
				wait $cs
				bad="$bad $m"
				continue
			fi
		fi
		for wl in ka close; do
			d="0 0"
			if [ -n "$cs" ]; then
				progs $cs >/tmp/pb
				progids $cs >/tmp/ib
			fi
			l=$(load $wl)
			[ -n "$l" ] || { say "no load result: $(cat /tmp/lg.out)"; exit 1; }
			if [ -n "$cs" ]; then
				progids $cs >/tmp/ia
				d=$(progdelta /tmp/ib /tmp/ia)
				progs $cs >/tmp/pa
				# per program: MODE LOAD ROUND NAME RUNS/REQUEST NS/RUN
				awk -v m=$m -v wl=$wl -v r=$r -v n=${l%% *} \
					'NR == FNR { bn[$1] = $3; bc[$1] = $4; next }
					$4 > bc[$1] { printf "%s %s %s %s %.2f %.0f\n", m, wl, r, $2,
						($4 - bc[$1]) / n, ($3 - bn[$1]) / ($4 - bc[$1]) }' \
					/tmp/pb /tmp/pa >>/tmp/progs
			fi
			# one run: MODE LOAD ROUND REQUESTS REQ/S BPF_NS RUNS
			echo "reqcost-run: $m $wl $r $l $d" | tee -a /tmp/runs
		done
		if [ -n "$cs" ]; then
			kill -INT $cs
			wait $cs
		fi
	done
done
kill $master
wait $master

# med: "median (min-max)" of the numbers on stdin (the lower middle of an
# even count)
med() {
	sort -n | awk -v f="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
		printf f " (" f "-" f ")\n", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
for m in $modes; do
	case " $bad " in *" $m "*) continue ;; esac
	for wl in ka close; do
		name=keepalive
		[ $wl = close ] && name=conn-per-request
		# fields: 2 mode 3 load 4 round 5 requests 6 req/s 7 ns 8 runs
		ns=$(awk -v m=$m -v wl=$wl '$2 == m && $3 == wl { print $7 / $5 }' /tmp/runs | med %.0f)
		runs=$(awk -v m=$m -v wl=$wl '$2 == m && $3 == wl { print $8 / $5 }' /tmp/runs | med %.1f)
		ratio=$(awk -v m=$m -v wl=$wl '$3 == wl && $2 == "none" { n[$4] = $6 }
			$3 == wl && $2 == m { t[$4] = $6 }
			END { for (r in t) if (n[r] > 0) print t[r] / n[r] }' /tmp/runs | med %.2f)
		rps=$(awk -v wl=$wl '$3 == wl && $2 == "none" { print $6 }' /tmp/runs | med %.0f)
		# BPF time per request against the tracepoints' in the same round:
		# TCG inflates both alike
		vs=""
		if [ $m != tracepoints ] && case " $modes " in *" tracepoints "*) true ;; *) false ;; esac; then
			vs=$(awk -v m=$m -v wl=$wl '$3 == wl && $2 == "tracepoints" { b[$4] = $7 / $5 }
				$3 == wl && $2 == m { t[$4] = $7 / $5 }
				END { for (r in t) if (b[r] > 0) print t[r] / b[r] }' /tmp/runs | med %.2f)
			vs=", BPF time / tracepoints' $vs"
		fi
		say "$m $name: BPF ns/request $ns, runs/request $runs$vs, req/s ratio $ratio (untraced req/s $rps)"
		for p in $(awk -v m=$m -v wl=$wl '$1 == m && $2 == wl { print $4 }' /tmp/progs | sort -u); do
			pr=$(awk -v m=$m -v wl=$wl -v p=$p '$1 == m && $2 == wl && $4 == p { print $5 }' \
				/tmp/progs | med %.2f)
			pn=$(awk -v m=$m -v wl=$wl -v p=$p '$1 == m && $2 == wl && $4 == p { print $6 }' \
				/tmp/progs | med %.0f)
			say "$m $name:   $p: runs/request $pr, ns/run $pn"
		done
	done
done
EOF

out=${VMTEST_OUTPUT:-$top/.output/reqcost}
# this run's logs only (the directory is this tool's own)
mkdir -p "$out"
rm -f "$out"/*.log
echo "reqcost: host load $(cut -d' ' -f1-3 /proc/loadavg) at start, $(date -u '+%Y-%m-%d %H:%M UTC')"
rc=0
# shellcheck disable=SC2086  # no bpftool: no argument
VMTEST_OUTPUT=$out "$here/run.sh" --timeout 1800 "$@" -- "$work/test.sh" \
	"$work/connstate" "$work/loadgen" "$nginx" $bpftool || rc=$?
# each guest's summary, from its log
for log in "$out"/*.log; do
	[ -f "$log" ] || continue
	k=$(sed -n 's/.*vmtest: kernel //p' "$log" | tail -n 1)
	grep -a '^reqcost-run: ' "$log" | sed "s/^reqcost-run:/reqcost-run $k:/"
	grep -a '^reqcost: ' "$log" | sed "s/^reqcost:/reqcost $k:/"
done
echo "reqcost: host load $(cut -d' ' -f1-3 /proc/loadavg) at end"
exit $rc
