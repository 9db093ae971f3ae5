#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# textpoke.sh [-n TOGGLES] [-b BOOTS] [--kernel K] [--smp CPUS] [--accel ACCEL]
#             [--out DIR] - the guest stall without connstate: live kernel
# text patching under qemu.
#
# Attaching connstate enables the sys_enter/sys_exit tracepoints, whose
# static keys the kernel flips by patching the syscall entry and exit code
# (text_poke_bp: an int3 first, then the new instruction) while other CPUs
# run it.  This boots kernel K (default 5.10) BOOTS times (default 3) with
# CPUS vCPUs (default 2) and, with no BPF at all, keeps every vCPU busy with
# syscalls (busybox dd bs=1) while switching the tracefs events
# raw_syscalls/sys_enter and sys_exit on and off TOGGLES times (default
# 300).  Per boot it prints the host load, the result, the count of soft
# lockups, RCU stalls and int3 traps on the console, and the runner's note
# (a guest that never finished, silent or not, counts as stalled); logs go
# to DIR (default .output/textpoke/<date>).  Exit status: 0 when no boot
# stalled.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

usage() { awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2; }

toggles=300
boots=3
kernel=5.10
smp=2
accel=tcg
out=''
while [ $# -gt 0 ]; do
	case $1 in
	-n) [ $# -ge 2 ] || usage; toggles=$2; shift 2 ;;
	-b) [ $# -ge 2 ] || usage; boots=$2; shift 2 ;;
	--kernel) [ $# -ge 2 ] || usage; kernel=$2; shift 2 ;;
	--smp) [ $# -ge 2 ] || usage; smp=$2; shift 2 ;;
	--accel) [ $# -ge 2 ] || usage; accel=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	*) usage ;;
	esac
done
for v in "$toggles" "$boots" "$smp"; do
	case $v in ""|*[!0-9]*|0) usage ;; esac
done
[ -n "$out" ] || out=$top/.output/textpoke/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out" || exit 2
work=$(mktemp -d "${TMPDIR:-/tmp}/textpoke.XXXXXX")
trap 'rm -rf "$work"' EXIT

cat >"$work/test.sh" <<EOF
#!/bin/bash
toggles=$toggles
EOF
cat >>"$work/test.sh" <<'EOF'
t=/sys/kernel/tracing/events/raw_syscalls
[ -d "$t" ] || { echo "textpoke: no $t"; exit 1; }
pids=()
for ((c = 0; c < $(nproc); c++)); do
	dd if=/dev/zero of=/dev/null bs=1 2>/dev/null & pids+=($!)
done
for ((i = 1; i <= toggles; i++)); do
	echo 1 >$t/sys_enter/enable; echo 1 >$t/sys_exit/enable
	echo 0 >$t/sys_exit/enable; echo 0 >$t/sys_enter/enable
done
kill "${pids[@]}"
echo "textpoke: $toggles toggles done"
EOF
chmod +x "$work/test.sh"

# the same stack-friendly console as stall.sh
export VMTEST_SMP=$smp VMTEST_STALL_GRACE=${VMTEST_STALL_GRACE:-20}
export VMTEST_APPEND=${VMTEST_APPEND-loglevel=5 softlockup_all_cpu_backtrace=1}
count() { grep -ac -- "$1" "$2" 2>/dev/null || true; }
stalled=0
echo "textpoke: kernel $kernel, $smp vCPUs, accel $accel, $toggles toggles per boot" >&2
printf '%-4s %-10s %-6s %-5s %-6s %-4s %-4s %s\n' boot load1/5 result secs lockup rcu int3 note
for ((b = 1; b <= boots; b++)); do
	read -r l1 l5 _ </proc/loadavg
	dir=$out/tmp
	rm -rf "$dir"
	start=$(date +%s)
	VMTEST_OUTPUT=$dir "$here/run.sh" --kernel "$kernel" --accel "$accel" -- \
		"$work/test.sh" >"$out/$b.out" 2>&1
	secs=$(($(date +%s) - start))
	log=$out/$b.log
	cat "$dir"/*.log >"$log" 2>/dev/null
	rm -rf "$dir"
	result=FAIL
	grep -q '^vmtest .*: PASS' "$out/$b.out" && grep -aq 'textpoke: .* toggles done' "$log" &&
		result=PASS
	lockup=$(count 'soft lockup' "$log")
	rcu=$(count 'rcu.*detected stall' "$log")
	int3=$(count 'asm_exc_int3' "$log")
	note=$(sed -n 's/.*vmtest: runner: //p' "$log" | tail -n 1)
	[ $((lockup + rcu)) = 0 ] && [ "$result" = PASS ] || stalled=$((stalled + 1))
	printf '%-4s %-10s %-6s %-5s %-6s %-4s %-4s %s\n' "$b" "$l1/$l5" "$result" "$secs" \
		"$lockup" "$rcu" "$int3" "${note:--}"
done
echo "textpoke: $boots boots, $stalled stalled"
[ "$stalled" = 0 ]
