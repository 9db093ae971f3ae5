#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# loadtime.sh [-r RUNS] [--kernel K]... [--smp CPUS] [--accel ACCEL]
#             [--connstate PATH] [--out DIR] [--no-host] - how long connstate
# holds the kernel in its own process context: BPF load (the verifier, per
# program), attach and detach, on the host and in qemu guests.
#
# Per kernel (default 5.10 6.1 6.12) one VM starts connstate RUNS times
# (default 3) per hook mode (tracepoints, raw) against a sleeping process,
# with -v and CONNSTATE_VERIFIER_STATS=1, and stops it with SIGINT once it
# has attached.  The same runs on the host, unless --no-host.  A CPU-bound
# calibration (busybox md5sum of 64 MiB of zeros, the same static binary
# on the host and in the guests) gives the emulator's slowdown, to turn
# guest times into hardware ones.  Prints one line per kernel, hook mode
# and program: the median and the range over the runs; raw lines are kept
# in DIR (default .output/loadtime/<date>)/times.tsv.
# Exit status: 0 when every kernel gave its numbers, 1 otherwise.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

usage() { awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2; }

runs=3
kernels=()
smp=1
accel=tcg
connstate=$top/.output/connstate-static
out=''
host=1
while [ $# -gt 0 ]; do
	case $1 in
	-r) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--kernel) [ $# -ge 2 ] || usage; kernels+=("$2"); shift 2 ;;
	--smp) [ $# -ge 2 ] || usage; smp=$2; shift 2 ;;
	--accel) [ $# -ge 2 ] || usage; accel=$2; shift 2 ;;
	--connstate) [ $# -ge 2 ] || usage; connstate=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	--no-host) host=0; shift ;;
	*) usage ;;
	esac
done
for v in "$runs" "$smp"; do
	case $v in ""|*[!0-9]*|0) usage ;; esac
done
[ ${#kernels[@]} -gt 0 ] || kernels=(5.10 6.1 6.12)
[ -x "$connstate" ] || {
	echo "loadtime.sh: $connstate missing (make .output/connstate-static)" >&2
	exit 2
}
[ -x /bin/busybox ] || { echo "loadtime.sh: /bin/busybox missing (busybox-static)" >&2; exit 2; }
[ -n "$out" ] || out=$top/.output/loadtime/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out" || exit 2
work=$(mktemp -d "${TMPDIR:-/tmp}/loadtime.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$connstate" "$work/connstate"

# The measurement, for the guest's /test.sh and for the host alike: prints
# "loadtime HOOKS RUN connstate: ..." lines and "loadtime calib SECS".
cat >"$work/test.sh" <<'EOF'
#!/bin/bash
runs=${1:-3}
cs=${2:-/bin/connstate}
bb=${3:-busybox}
TIMEFORMAT=%R
# the stall detectors this kernel runs with (the command line may change them)
w=/proc/sys/kernel
rcu=/sys/module/rcupdate/parameters/rcu_cpu_stall_timeout
echo "loadtime watchdog $(cat $w/watchdog $w/soft_watchdog $w/watchdog_thresh 2>/dev/null |
	tr '\n' ' ')rcu_cpu_stall_timeout $(cat $rcu 2>/dev/null)"
for i in 1 2; do
	t=$({ time "$bb" dd if=/dev/zero bs=1M count=64 2>/dev/null | "$bb" md5sum >/dev/null; } \
		2>&1)
	echo "loadtime calib $t"
done
sleep 1000 & sl=$!
for hooks in tracepoints raw; do
	for ((r = 1; r <= runs; r++)); do
		log=/tmp/loadtime.$$
		CONNSTATE_VERIFIER_STATS=1 "$cs" -v --hooks=$hooks -p "$sl" >/dev/null 2>"$log" &
		pid=$!
		for ((w = 0; w < 1200; w++)); do
			grep -qs 'probes to\|failed' "$log" && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -INT "$pid" 2>/dev/null
		wait "$pid"
		grep -E '^connstate: (loaded|verified|attach took|detach took|failed)' \
			"$log" | sed "s/^/loadtime $hooks $r /"
		rm -f "$log"
	done
done
kill "$sl"
EOF
chmod +x "$work/test.sh"

tsv=$out/times.tsv
printf 'kernel\thooks\trun\titem\tms\tinsns_processed\n' >"$tsv"
# to_tsv KERNEL <lines: rows of the tsv for that kernel's "loadtime" lines
to_tsv() {
	awk -v k="$1" '
	{ sub(/^.*loadtime /, "loadtime ") }
	$2 == "calib" { print k "\tcalib\t-\tmd5sum-64MiB\t" $3 * 1000 "\t-"; next }
	$1 != "loadtime" { next }
	$5 == "verified" { print k "\t" $2 "\t" $3 "\t" $6 "\t" $8 / 1000 "\t" $10; next }
	$5 == "loaded" { print k "\t" $2 "\t" $3 "\tload (all)\t" $10 "\t-"; next }
	$5 == "attach" { print k "\t" $2 "\t" $3 "\tattach\t" $7 "\t-"; next }
	$5 == "detach" { print k "\t" $2 "\t" $3 "\tdetach\t" $7 "\t-"; next }
	$5 == "failed" { print k "\t" $2 "\t" $3 "\tFAILED\t-\t-"; next }'
}

rc=0
if [ "$host" = 1 ]; then
	echo "loadtime: host $(uname -r), load $(cut -d" " -f1-3 /proc/loadavg)" >&2
	"$work/test.sh" "$runs" "$work/connstate" /bin/busybox >"$out/host.log" 2>&1
	to_tsv "$(uname -r) (host)" <"$out/host.log" >>"$tsv"
fi
for k in "${kernels[@]}"; do
	echo "loadtime: kernel $k, $smp vCPUs, accel $accel," \
		"host load $(cut -d" " -f1-3 /proc/loadavg)" >&2
	# /test.sh takes no arguments in the VM: a wrapper passes ours
	printf '#!/bin/bash\nexec /bin/loadtime-test %s /bin/connstate busybox\n' "$runs" \
		>"$work/vm.sh"
	cp "$work/test.sh" "$work/loadtime-test"
	VMTEST_SMP=$smp VMTEST_OUTPUT=$out/vm-$k "$here/run.sh" --kernel "$k" --accel "$accel" \
		-- "$work/vm.sh" "$work/connstate" "$work/loadtime-test" >"$out/vm-$k.out" 2>&1 ||
		rc=1
	tail -n 1 "$out/vm-$k.out" >&2
	log=$(ls "$out/vm-$k"/*.log 2>/dev/null | head -n 1)
	kver=$(sed -n 's/.*vmtest: kernel //p' "$log" 2>/dev/null | tail -n 1)
	[ -n "$log" ] && to_tsv "${kver:-$k}" <"$log" >>"$tsv"
done

# Per kernel, hooks and item: median and range over the runs.
printf '%-34s %-11s %-18s %10s %21s %10s\n' kernel hooks item median_ms range_ms insns
awk -F'\t' 'NR > 1 {
	key = $1 "\t" $2 "\t" $4
	if (!(key in n)) order[++nk] = key
	v[key, ++n[key]] = $5; ins[key] = $6
} END {
	for (i = 1; i <= nk; i++) {
		key = order[i]; m = n[key]
		for (a = 1; a <= m; a++) s[a] = v[key, a] + 0
		for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++)
			if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
		med = m % 2 ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
		split(key, f, "\t")
		printf "%-34s %-11s %-18s %10.1f %10.1f-%-10.1f %10s\n", f[1], f[2], f[3], med,
			s[1], s[m], ins[key]
	}
}' "$tsv"
grep -q FAILED "$tsv" && rc=1
exit "$rc"
