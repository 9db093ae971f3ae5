#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# stall.sh [-n N] [--kernel K] [--smp CPUS] [--accel ACCEL] [--connstate PATH]
#          [--out DIR] - does connstate stall a guest kernel?
#
# Boots kernel K (default 6.1) 2*N times (default N=10) under qemu with CPUS
# vCPUs (default 2), interleaved: the oracle scenarios with connstate
# attached, then the same VM and traffic without connstate
# (vmtest.sh --no-connstate), and so on.  Per run it prints the host's load
# average at the start, the result, the time, the oracle's count line and
# how often the guest console shows a soft lockup, an RCU stall, a starved
# RCU kthread, a hung task, BPF frames (bpf_prog_*, ringbuf, htab,
# probe_read) in its traces, and how many stack traces it printed; then
# one summary line per mode.
# ACCEL goes to run.sh --accel (tcg, tcg,thread=single, kvm).
# A stalled guest may go on for VMTEST_STALL_GRACE seconds (default 20 here)
# so its stack traces reach the log; its command line gets VMTEST_APPEND
# (default: loglevel=5, so the traces, printed at the default level, are not
# hidden by "quiet", and softlockup_all_cpu_backtrace=1, so a lockup shows
# every CPU's stack, not only the stuck one's).  Every console log is kept in DIR
# (default .output/stall/<date>), as NN-with.log / NN-without.log.
# Exit status: 0 when no run stalled, 1 otherwise, 2 on bad usage.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

usage() { awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2; }

n=10
kernel=6.1
smp=2
accel=tcg
connstate=$top/.output/connstate-static
out=''
while [ $# -gt 0 ]; do
	case $1 in
	-n) [ $# -ge 2 ] || usage; n=$2; shift 2 ;;
	--kernel) [ $# -ge 2 ] || usage; kernel=$2; shift 2 ;;
	--smp) [ $# -ge 2 ] || usage; smp=$2; shift 2 ;;
	--accel) [ $# -ge 2 ] || usage; accel=$2; shift 2 ;;
	--connstate) [ $# -ge 2 ] || usage; connstate=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	*) usage ;;
	esac
done
for v in "$n" "$smp"; do
	case $v in ""|*[!0-9]*|0) usage ;; esac
done
[ -x "$connstate" ] || {
	echo "stall.sh: $connstate missing (make .output/connstate-static)" >&2
	exit 2
}
[ -n "$out" ] || out=$top/.output/stall/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out" || exit 2
export VMTEST_SMP=$smp VMTEST_STALL_GRACE=${VMTEST_STALL_GRACE:-20}
export VMTEST_APPEND=${VMTEST_APPEND-loglevel=5 softlockup_all_cpu_backtrace=1}

# count PATTERN LOG: matching console lines
count() { grep -ac -- "$1" "$2" 2>/dev/null || true; }

tsv=$out/runs.tsv
printf 'run\tmode\tload1\tload5\tresult\tsecs\toracle\tsoftlockup\trcustall\tstarved\thung\tbpf' \
	>"$tsv"
printf '\ttraces\n' >>"$tsv"
printf '%-3s %-8s %-10s %-6s %-5s %-19s %-6s %-4s %-7s %-4s %-4s %s\n' run mode load1/5 result \
	secs oracle lockup rcu starved hung bpf traces
echo "stall: kernel $kernel, $smp vCPUs, accel $accel, logs in $out" >&2
for ((i = 1; i <= n; i++)); do
	for mode in with without; do
		run=$(printf '%02d' "$i")
		opt=()
		[ "$mode" = without ] && opt=(--no-connstate)
		read -r l1 l5 _ </proc/loadavg
		dir=$out/tmp
		rm -rf "$dir"
		start=$(date +%s)
		VMTEST_OUTPUT=$dir "$here/vmtest.sh" --connstate "$connstate" "${opt[@]}" \
			--kernel "$kernel" --accel "$accel" >"$out/$run-$mode.out" 2>&1
		secs=$(($(date +%s) - start))
		log=$out/$run-$mode.log
		cat "$dir"/*.log >"$log" 2>/dev/null
		rm -rf "$dir"
		if grep -q '^vmtest .*: PASS' "$out/$run-$mode.out"; then
			result=PASS
		else
			result=FAIL
		fi
		oracle=$(sed -n 's/.*oracle: \([0-9]* passed, [0-9]* failed\).*/\1/p' "$log" |
			tail -n 1)
		oracle=${oracle:-none}
		lockup=$(count 'soft lockup' "$log")
		rcu=$(count 'rcu.*detected stall\|rcu.*self-detected stall' "$log")
		starved=$(count 'kthread starved' "$log")
		hung=$(count 'blocked for more than' "$log")
		bpf=$(count 'bpf_prog_\|bpf_ringbuf\|htab_map\|bpf_probe_read\|bpf_trace_run' "$log")
		traces=$(count 'Call Trace' "$log")
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$mode" \
			"$l1" "$l5" "$result" "$secs" "$oracle" "$lockup" "$rcu" "$starved" \
			"$hung" "$bpf" "$traces" >>"$tsv"
		printf '%-3s %-8s %-10s %-6s %-5s %-19s %-6s %-4s %-7s %-4s %-4s %s\n' \
			"$run" "$mode" "$l1/$l5" "$result" "$secs" "$oracle" "$lockup" "$rcu" \
			"$starved" "$hung" "$bpf" "$traces"
	done
done

# One line per mode: runs, passes, runs with any stall marker, load range.
stalled=0
for mode in with without; do
	line=$(awk -F'\t' -v m="$mode" 'NR > 1 && $2 == m {
		runs++; if ($5 == "PASS") pass++
		if ($8 + $9 + $10 + $11 > 0) st++
		if (lo == "" || $3 < lo) lo = $3; if ($3 > hi) hi = $3
	} END {
		printf "%d runs, %d passed, %d stalled, load1 %s-%s", runs, pass, st, lo, hi
		exit (st > 0)
	}' "$tsv") || stalled=1
	echo "stall: $mode connstate: $line"
done
[ "$stalled" = 0 ]
