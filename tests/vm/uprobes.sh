#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# uprobes.sh CONNSTATE BINDIR - runs inside a VM (vmtest.sh puts it at
# /oracle/uprobes.sh): do connstate's uprobes on Go's crypto/tls attach on
# this kernel, by which mechanism, and is nothing left when it exits?
#
# libbpf makes each uprobe a perf event (the uprobe PMU of perf_event_open,
# or a tracefs uprobe_events entry where the PMU is missing) and ties the BPF
# program to it with a BPF link (5.15+) or the PERF_EVENT_IOC_SET_BPF ioctl.
# Which one it took is read from the outside: connstate's descriptors with
# and without the Go target, and tracefs. Prints "uprobes: info ..." lines
# for the README and ends with "uprobes: N passed, M failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
# shellcheck disable=SC2034  # lib.sh's cs_start runs CS_BIN
CS_BIN=${1:?usage: uprobes.sh CONNSTATE BINDIR}
bin=$(cd "${2:?usage: uprobes.sh CONNSTATE BINDIR}" && pwd) || exit 2
suite_begin uprobes 6

work=$(mktemp -d)
server_pid=''
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	lib_cleanup
	rm -rf "$work"
}
trap cleanup EXIT

# fds PID: "PERF LINKS", connstate's perf event descriptors and its BPF
# links of type perf_event (a perf event's BPF link: 5.15+)
fds() {
	local f perf=0 links=0
	for f in /proc/"$1"/fd/*; do
		case $(readlink "$f") in
		'anon_inode:[perf_event]') perf=$((perf + 1)) ;;
		anon_inode:bpf_link)
			grep -Eq '^link_type:[[:space:]]*perf(_event)?$' "/proc/$1/fdinfo/${f##*/}" &&
				links=$((links + 1)) ;;
		esac
	done
	echo "$perf $links"
}
# legacy: uprobe_events entries (libbpf names them libbpf_PID_...)
legacy() {
	local f
	for f in /sys/kernel/tracing/uprobe_events /sys/kernel/debug/tracing/uprobe_events; do
		[ -r "$f" ] && { grep -c . "$f"; return; }
	done
	echo 0
}

# The same connstate on a process that is no Go program: its descriptors
# without any uprobe.
sleep 1000 &
sl=$!
track_pid "$sl"
read -r perf0 links0 <<<"0 0"
if cs_start "$work/cs0.out" "$work/cs0.err" -v -p "$sl"; then
	read -r perf0 links0 <<<"$(fds "$CS_PID")"
	cs_stop
fi

"$bin/server" -tls -addr 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
up() { grep -q '^listening ' "$work/server.err" || ! kill -0 "$server_pid" 2>/dev/null; }
wait_until 10 up
n=0
t=$SECONDS
if cs_start "$work/cs.out" "$work/cs.err" -v -p "$server_pid"; then
	echo "uprobes: info attached in $((SECONDS - t)) s"
	read -r perf1 links1 <<<"$(fds "$CS_PID")"
	ev=$(legacy)
	line=$(grep "^connstate: following Go's crypto/tls in $bin/server " "$work/cs.err")
	n=$(sed -n 's/.*, \([0-9]*\) uprobes)$/\1/p' <<<"$line")
	if [ -n "$n" ] && [ "$n" -gt 0 ]; then
		pass "uprobes attached: ${line#connstate: }"
	else
		fail "uprobes attached" "no 'following Go's crypto/tls' line: $(grep -v '^libbpf' "$work/cs.err" | grep -i 'tls\|uprobe' | head -c 400)"
		n=0
	fi
	if grep -qi 'warning.*\(tls\|uprobe\)' "$work/cs.err"; then
		fail "no TLS warning" "$(grep -i 'warning' "$work/cs.err" | head -c 400)"
	else
		pass "no TLS warning"
	fi
	# every uprobe is one perf event more than the same connstate without them
	if [ $((perf1 - perf0)) -eq "$n" ] && [ "$n" -gt 0 ]; then
		pass "one perf event per uprobe ($((perf1 - perf0)))"
	else
		fail "one perf event per uprobe" "$perf0 perf events without Go, $perf1 with, $n uprobes"
	fi
	# the PMU, or one legacy uprobe_events entry each (of some uprobes)
	if [ "$n" -eq 0 ]; then
		pmu="?"
		fail "uprobe PMU or legacy" "no uprobes to look at"
	elif [ -e /sys/bus/event_source/devices/uprobe/type ] && [ "$ev" -eq 0 ]; then
		pmu="perf_event_open uprobe PMU"
		pass "uprobe PMU, no uprobe_events entries"
	elif [ "$ev" -eq "$n" ]; then
		pmu="tracefs uprobe_events (legacy)"
		pass "legacy uprobe_events: $ev entries"
	else
		pmu="?"
		fail "uprobe PMU or legacy" "$ev uprobe_events entries for $n uprobes"
	fi
	# all by BPF link, or all by ioctl
	if [ "$n" -eq 0 ]; then
		how="?"
		fail "BPF link or ioctl" "no uprobes to look at"
	elif [ $((links1 - links0)) -eq "$n" ]; then
		how="BPF link (BPF_LINK_CREATE)"
		pass "attached by BPF link: $n"
	elif [ "$links1" -eq 0 ]; then
		how="PERF_EVENT_IOC_SET_BPF ioctl"
		pass "attached by ioctl: no perf_event BPF link"
	else
		how="?"
		fail "BPF link or ioctl" "$links0 perf_event links without Go, $links1 with, $n uprobes"
	fi
	echo "uprobes: info kernel $(uname -r): $n uprobes, $pmu, $how"
	t=$SECONDS
	cs_stop
	echo "uprobes: info detached in $((SECONDS - t)) s"
else
	for c in "uprobes attached" "no TLS warning" "one perf event per uprobe" \
		"uprobe PMU or legacy" "BPF link or ioctl"; do
		fail "$c" "connstate did not attach: $(head -c 300 "$work/cs.err")"
	done
fi
# connstate gone: no uprobe_events entry of its own stays behind
if [ "$(legacy)" -eq 0 ]; then
	pass "nothing left in uprobe_events"
else
	fail "nothing left in uprobe_events" "$(head -c 300 /sys/kernel/tracing/uprobe_events)"
fi
suite_end
