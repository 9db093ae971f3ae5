#!/bin/sh
# run.sh - run a test script inside qemu VMs booting Debian kernels.
#
# usage: tests/vm/run.sh [--kernel VERSION|PATH]... [--accel tcg[,OPTS]|kvm]
#            [--timeout SECS] [--file SRC:DEST]... -- TESTSCRIPT [BIN...]
#
# --kernel   5.10, 6.1, 6.12 (fetched by fetch-kernel.sh) or a vmlinuz path;
#            repeatable; default: 5.10 6.1 6.12
# --accel    tcg (default; nested KVM does not work on our machines) or kvm;
#            tcg,thread=single for one host thread for all vCPUs
# --timeout  limit for TESTSCRIPT inside the VM (default 300 s)
# --file     extra file for the initramfs (passed to mkinitramfs.sh)
#
# TESTSCRIPT becomes /test.sh, the BINs (static) go to /bin.  A kernel
# passes when the VM prints "vmtest: exit 0".  Logs: .output/vmtest/.
# Env: VMTEST_CACHE (kernel cache), VMTEST_QEMU_OPTS (extra qemu options),
#      VMTEST_BOOT_TIMEOUT (seconds until /init must have started, 120),
#      VMTEST_OUTPUT (log directory), VMTEST_SMP (vCPUs, 1),
#      VMTEST_STALL_GRACE (seconds a stalled guest may go on printing its
#      traces, or finish, before it is stopped; 0),
#      VMTEST_APPEND (more kernel command line, after the runner's own),
#      VMTEST_JOBS (VMs at once; default: host CPUs / VMTEST_SMP).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${VMTEST_OUTPUT:-$top/.output/vmtest}

# The header comment is the help text.
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2; }

kernels=''
accel=tcg
limit=300
# Boot takes ~6 s under TCG; allow for a loaded machine.
boot_limit=${VMTEST_BOOT_TIMEOUT:-120}
# Work files live outside the tree: `make clean` removes .output/ and may
# run while VMs are booting; only finished logs are copied there.
work=$(mktemp -d "${TMPDIR:-/tmp}/vmtest.XXXXXX")
fileargs=$work/files
: >"$fileargs"
# On exit or ^C, also stop the VMs still running (each job notes its qemu).
cleanup() {
	for f in "$work"/qpid.*; do
		if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) [ $# -ge 2 ] || usage; kernels="$kernels $2"; shift 2 ;;
	--accel) [ $# -ge 2 ] || usage; accel=$2; shift 2 ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	--file) [ $# -ge 2 ] || usage; echo "$2" >>"$fileargs"; shift 2 ;;
	--) shift; break ;;
	-h|--help) usage ;;
	*) usage ;;
	esac
done
[ $# -ge 1 ] || usage
script=$1
shift
[ -f "$script" ] || { echo "run.sh: no such script: $script" >&2; exit 2; }
case $accel in tcg|tcg,*|kvm) ;; *) usage ;; esac
if [ "$accel" = kvm ] && [ ! -w /dev/kvm ]; then
	echo "run.sh: --accel kvm needs a writable /dev/kvm" >&2
	exit 2
fi
stall_grace=${VMTEST_STALL_GRACE:-0}
for n in "$limit" "$boot_limit" "$stall_grace"; do
	case $n in ""|*[!0-9]*) usage ;; esac
done
[ -n "$kernels" ] || kernels="5.10 6.1 6.12"
command -v qemu-system-x86_64 >/dev/null || {
	echo "run.sh: qemu-system-x86_64 missing (apt-get install -y qemu-system-x86)" >&2
	exit 2
}

# One initramfs for all kernels.
initrd=$work/initramfs.cpio.gz
set -- --file "$script:/test.sh" "$initrd" "$@"
while IFS= read -r f; do set -- --file "$f" "$@"; done <"$fileargs"
"$here/mkinitramfs.sh" "$@"

# run_kernel VMLINUZ IDX: one VM, watched; prints its PASS/FAIL line, and
# returns 0 if it passed.
run_kernel() {
	vmlinuz=$1
	idx=$2
	name=$(basename "$vmlinuz")
	name=${name#vmlinuz-}
	log=$out/$name.log
	raw=$work/$name.raw
	start=$(date +%s)
	cmdline="console=ttyS0 quiet panic=-1 no_timer_check vmtest.timeout=$limit"
	[ -z "${VMTEST_APPEND:-}" ] || cmdline="$cmdline $VMTEST_APPEND"
	# shellcheck disable=SC2086  # VMTEST_QEMU_OPTS is a list of options
	# One vCPU: with two, multi-threaded TCG goes on executing the int3
	# of a kernel text patch after the patch is done (every tracepoint
	# enable patches the syscall path), and the guest locks up or panics,
	# with or without connstate (textpoke.sh; README, "Supported kernels").
	# VMTEST_SMP=2 for two.
	# no_timer_check: on a loaded host the 5.10 guest once panicked at boot
	# (26-11-26, "IO-APIC + timer doesn't work!"): TCG's timer ticks came too
	# late for the kernel's check of them, as virtual machines' often do
	: >"$raw" # the watch below may look before qemu's shell opens it
	qemu-system-x86_64 -accel "$accel" -m 1G -smp "${VMTEST_SMP:-1}" \
		-nographic -no-reboot -nic none -kernel "$vmlinuz" -initrd "$initrd" \
		-append "$cmdline" \
		${VMTEST_QEMU_OPTS:-} </dev/null >"$raw" 2>&1 &
	qpid=$!
	echo "$qpid" >"$work/qpid.$idx"
	# Watch the console: a VM that never boots (e.g. a KVM emulation
	# failure leaves qemu stopped, not exited) must not cost the whole test
	# limit, and a VM that reported but does not power off is killed too.
	note=''
	booted=0
	stalled_at=0
	done_at=0
	while kill -0 "$qpid" 2>/dev/null; do
		now=$(date +%s)
		if [ $booted = 0 ] && grep -aq 'vmtest: kernel ' "$raw"; then
			booted=1
		fi
		if [ "$done_at" = 0 ] && grep -aq 'vmtest: exit [0-9]' "$raw"; then
			done_at=$now
		fi
		if [ "$stalled_at" = 0 ] &&
			grep -aq 'soft lockup\|detected stalls on CPUs' "$raw"; then
			stalled_at=$now
		fi
		if [ "$stalled_at" != 0 ] && [ $((now - stalled_at)) -ge "$stall_grace" ]; then
			note="guest kernel stalled (see the log)"
		elif [ $booted = 0 ] && [ $((now - start)) -ge "$boot_limit" ]; then
			note="no boot within ${boot_limit}s"
		elif [ $((now - start)) -ge $((boot_limit + limit + 30)) ]; then
			note="VM time limit"
		elif [ "$done_at" != 0 ] && [ $((now - done_at)) -ge 15 ]; then
			note="no power-off after exit"
		fi
		if [ -n "$note" ]; then
			kill "$qpid" 2>/dev/null || true
			break
		fi
		sleep 1
	done
	wait "$qpid" || true
	rm -f "$work/qpid.$idx"
	# A guest that stalled and then finished (within the grace, or between
	# two looks at the console) still fails.
	if [ "$stalled_at" = 0 ] && grep -aq 'soft lockup\|detected stalls on CPUs' "$raw"; then
		stalled_at=$(date +%s)
	fi
	if [ "$stalled_at" != 0 ] && [ -z "$note" ]; then
		note="guest kernel stalled (see the log)"
	fi
	[ -z "$note" ] || echo "vmtest: runner: $note" >>"$raw"
	# Drop the CRs and terminal escapes of the serial console.
	mkdir -p "$out"
	sed 's/\r$//; s/\x1bc//g; s/\x1b\[[0-9;?]*[A-Za-z]//g' "$raw" >"$log"
	rm -f "$raw"
	secs=$(($(date +%s) - start))
	# Not anchored: boot noise may precede the first line on the console.
	kver=$(sed -n 's/.*vmtest: kernel //p' "$log" | tail -n 1)
	[ -n "$kver" ] || kver=$name
	rc=$(sed -n 's/.*vmtest: exit \([0-9]*\)$/\1/p' "$log" | tail -n 1)
	if [ "$rc" = 0 ] && [ "$stalled_at" = 0 ]; then
		echo "vmtest $kver: PASS ($secs s)"
		return 0
	fi
	echo "vmtest $kver: FAIL (${rc:+exit $rc, }${note:+$note, }$secs s, log $log)"
	tail -n 30 "$log" | sed 's/^/    /'
	return 1
}

# The kernels first, one at a time (apt); then the VMs, VMTEST_JOBS at once
# (one vCPU is one host thread: two cores run two VMs as fast as one), their
# lines printed in the order of the kernels.
jobs=${VMTEST_JOBS:-$(($(nproc) / ${VMTEST_SMP:-1}))}
case $jobs in ""|*[!0-9]*|0) jobs=1 ;; esac
passed=0
failed=0
idx=0
queue=''
# finish: waits for the oldest VM still queued and counts it
finish() {
	# shellcheck disable=SC2086  # the queue is a list
	set -- $queue
	j=$1
	shift
	queue="$*"
	if wait "${j%%:*}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	cat "$work/result.${j#*:}"
}
for k in $kernels; do
	if [ -f "$k" ]; then
		vmlinuz=$k
	elif ! vmlinuz=$("$here/fetch-kernel.sh" "$k"); then
		echo "vmtest $k: FAIL (could not fetch kernel)"
		failed=$((failed + 1))
		continue
	fi
	idx=$((idx + 1))
	run_kernel "$vmlinuz" "$idx" >"$work/result.$idx" 2>&1 &
	queue="${queue:+$queue }$!:$idx"
	# shellcheck disable=SC2086  # the queue is a list
	set -- $queue
	[ $# -lt "$jobs" ] || finish
done
while [ -n "$queue" ]; do finish; done

echo "vmtest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
