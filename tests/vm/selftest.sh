#!/bin/sh
# selftest.sh - runs inside the VM (as /test.sh) to check the VM runner
# itself: BTF, the tracepoints connstate uses, loopback TCP, bash.
# Usage: tests/vm/run.sh -- tests/vm/selftest.sh [BIN...]
# Any extra binaries passed to run.sh that are named vmtest-probe-* are run
# too (each must exit 0), to prove static binaries work in the VM.
set -u
fail=0
ok() { echo "selftest: ok   $*"; }
bad() { echo "selftest: FAIL $*"; fail=1; }

if [ -f /sys/kernel/btf/vmlinux ]; then
	ok "/sys/kernel/btf/vmlinux ($(wc -c </sys/kernel/btf/vmlinux) bytes)"
else
	bad "/sys/kernel/btf/vmlinux missing"
fi
if grep -q ' /sys/fs/bpf bpf ' /proc/mounts; then ok "bpffs mounted"; else bad "bpffs not mounted"; fi

ev=/sys/kernel/tracing/events
for tp in sock/inet_sock_set_state tcp/tcp_destroy_sock \
	syscalls/sys_enter_accept4 syscalls/sys_enter_read \
	syscalls/sys_exit_read syscalls/sys_enter_write \
	sched/sched_process_fork sched/sched_process_exit; do
	if [ -d "$ev/$tp" ]; then ok "tracepoint $tp"; else bad "tracepoint $tp missing"; fi
done
# Optional hooks: report only.
for tp in sock/sock_recv_length sock/sock_send_length; do
	if [ -d "$ev/$tp" ]; then
		echo "selftest: info tracepoint $tp: yes"
	else
		echo "selftest: info tracepoint $tp: no"
	fi
done

# Loopback TCP with busybox httpd + wget, IPv4 and IPv6.
mkdir -p /tmp/www
echo "hello from $(uname -r)" >/tmp/www/index.html
httpd -f -p 8080 -h /tmp/www &
hpid=$!
sleep 1
got=$(wget -q -O - http://127.0.0.1:8080/index.html 2>&1)
if [ "$got" = "hello from $(uname -r)" ]; then ok "loopback 127.0.0.1 http"; else bad "loopback 127.0.0.1 http: $got"; fi
got=$(wget -q -O - 'http://[::1]:8080/index.html' 2>&1)
if [ "$got" = "hello from $(uname -r)" ]; then ok "loopback ::1 http"; else bad "loopback ::1 http: $got"; fi
kill "$hpid"

# Plain TCP with busybox nc.
nc -l -p 9000 >/tmp/nc.out &
npid=$!
sleep 1
echo ping | nc -w 2 127.0.0.1 9000
wait "$npid"
if [ "$(cat /tmp/nc.out)" = ping ]; then ok "loopback nc"; else bad "loopback nc"; fi

if [ -x /bin/bash ] && v=$(/bin/bash -c 'echo "$BASH_VERSION"'); then
	ok "bash $v"
else
	bad "/bin/bash missing or broken"
fi
if : >/tmp/w && rm /tmp/w; then ok "/tmp writable"; else bad "/tmp not writable"; fi

for p in /bin/vmtest-probe-*; do
	[ -x "$p" ] || continue
	if "$p"; then ok "$p"; else bad "$p exit $?"; fi
done

echo "selftest: $([ $fail = 0 ] && echo PASS || echo FAIL)"
exit $fail
