#!/bin/bash
# selftest.sh - runs inside the VM (as /test.sh) to check the VM runner
# itself: BTF, the tracepoints connstate uses, loopback TCP, bash. Counts
# with /lib.sh (tests/lib.sh, which mkinitramfs.sh puts in every VM).
# Usage: tests/vm/run.sh -- tests/vm/selftest.sh [BIN...]
# Any extra binaries passed to run.sh that are named vmtest-probe-* are run
# too (each must exit 0), to prove static binaries work in the VM.
set -u
# shellcheck source=../lib.sh
. /lib.sh || { echo "selftest: /lib.sh missing"; echo "selftest: 0 passed, 1 failed"; exit 1; }

tps="sock/inet_sock_set_state tcp/tcp_destroy_sock syscalls/sys_enter_accept4
	syscalls/sys_enter_read syscalls/sys_exit_read syscalls/sys_enter_write
	sched/sched_process_fork sched/sched_process_exit"
probes=()
for p in /bin/vmtest-probe-*; do [ -x "$p" ] && probes+=("$p"); done
# btf, bpffs, the tracepoints, http over 127.0.0.1 and ::1, nc, bash, /tmp
suite_begin selftest $((2 + $(echo $tps | wc -w) + 5 + ${#probes[@]}))

if [ -f /sys/kernel/btf/vmlinux ]; then
	pass "/sys/kernel/btf/vmlinux ($(wc -c </sys/kernel/btf/vmlinux) bytes)"
else
	fail btf "/sys/kernel/btf/vmlinux missing"
fi
if grep -q ' /sys/fs/bpf bpf ' /proc/mounts; then pass bpffs_mounted; else fail bpffs_mounted "not mounted"; fi

ev=/sys/kernel/tracing/events
for tp in $tps; do
	if [ -d "$ev/$tp" ]; then pass "tracepoint $tp"; else fail "tracepoint $tp" missing; fi
done
# Optional hooks: report only.
for tp in sock/sock_recv_length sock/sock_send_length; do
	if [ -d "$ev/$tp" ]; then
		echo "selftest: info tracepoint $tp: yes"
	else
		echo "selftest: info tracepoint $tp: no"
	fi
done

# listening PORT_HEX: some socket listens on that port (IPv4 or IPv6)
listening() { grep -q ":$1 [0-9A-F]*:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null; }

# Loopback TCP with busybox httpd + wget, IPv4 and IPv6.
mkdir -p /tmp/www
echo "hello from $(uname -r)" >/tmp/www/index.html
httpd -f -p 8080 -h /tmp/www &
hpid=$!
wait_until 5 listening 1F90
got=$(wget -q -O - http://127.0.0.1:8080/index.html 2>&1)
if [ "$got" = "hello from $(uname -r)" ]; then pass "loopback 127.0.0.1 http"; else fail "loopback 127.0.0.1 http" "$got"; fi
got=$(wget -q -O - 'http://[::1]:8080/index.html' 2>&1)
if [ "$got" = "hello from $(uname -r)" ]; then pass "loopback ::1 http"; else fail "loopback ::1 http" "$got"; fi
kill "$hpid"

# Plain TCP with busybox nc.
nc -l -p 9000 >/tmp/nc.out &
npid=$!
wait_until 5 listening 2328
echo ping | nc -w 2 127.0.0.1 9000
wait "$npid"
if [ "$(cat /tmp/nc.out)" = ping ]; then pass "loopback nc"; else fail "loopback nc" "got '$(cat /tmp/nc.out)'"; fi

if [ -x /bin/bash ] && v=$(/bin/bash -c 'echo "$BASH_VERSION"') && [ -n "$v" ]; then
	pass "bash $v"
else
	fail bash "/bin/bash missing or broken"
fi
if : >/tmp/w && rm /tmp/w; then pass "/tmp writable"; else fail "/tmp writable" "not writable"; fi

for p in "${probes[@]}"; do
	if "$p"; then pass "$p"; else fail "$p" "exit $?"; fi
done

suite_end
