#!/bin/bash
# The command-line contract, run for real as root: bad input gives one line
# on stderr and a non-zero exit; signals and target exit end a run cleanly
# with nothing of ours left in the kernel; connections that predate attach,
# JSON output and lost events behave as the README says.
#
# usage: tests/cli/cli.sh [--connstate PATH]
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cs="$root/connstate"
[ "${1:-}" = --connstate ] && cs=$2
oracle="$root/.output/oracle"
work=$(mktemp -d "${TMPDIR:-/tmp}/cli.XXXXXX")
passed=0
failed=0
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# expect_error NAME EXIT_CODE STDERR_REGEX CMD...: one stderr line, that code
expect_error() {
	local name=$1 code=$2 re=$3 rc lines
	shift 3
	"$@" >"$work/out" 2>"$work/err" </dev/null
	rc=$?
	lines=$(wc -l <"$work/err")
	if [ "$rc" -ne "$code" ]; then
		fail "$name" "exit $rc, want $code; stderr: $(head -c 300 "$work/err")"
	elif [ "$lines" -ne 1 ]; then
		fail "$name" "$lines stderr lines, want 1: $(head -c 300 "$work/err")"
	elif ! grep -Eq "$re" "$work/err"; then
		fail "$name" "stderr '$(cat "$work/err")' does not match /$re/"
	elif [ -s "$work/out" ]; then
		fail "$name" "printed on stdout: $(head -c 200 "$work/out")"
	else
		pass "$name"
	fi
}

# start_server: the Go oracle server; sets srv_pid and port
start_server() { # [ADDR]
	"$oracle/server" -addr "${1:-127.0.0.1:0}" >"$work/server.out" 2>"$work/server.err" &
	srv_pid=$!
	pids+=("$srv_pid")
	for _ in $(seq 50); do
		port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/server.err")
		[ -n "$port" ] && return 0
		sleep 0.1
	done
	echo "cli: oracle server did not start" >&2
	return 1
}

# start_connstate ARGS...: runs connstate in the background, waits for attach
start_connstate() {
	# 5>&-: connstate must not hold the test's client socket open
	"$cs" "$@" >"$work/cs.out" 2>"$work/cs.err" 5>&- &
	cs_pid=$!
	pids+=("$cs_pid")
	for _ in $(seq 100); do
		grep -q '^connstate: attached' "$work/cs.err" && return 0
		kill -0 "$cs_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "cli: connstate did not attach: $(cat "$work/cs.err")" >&2
	return 1
}

# stop_connstate SIGNAL: returns connstate's exit code
stop_connstate() {
	kill "-$1" "$cs_pid" 2>/dev/null
	wait "$cs_pid"
}

http_get() { # http_get FD: one keep-alive request, reads the response
	printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&"$1"
	# read all of it: unread bytes would make the close a reset
	timeout 0.3 cat <&"$1" >/dev/null
}

# ids of loaded programs named like ours (other connstate runs may add theirs)
prog_ids() { bpftool prog show 2>/dev/null | sed -n 's/^\([0-9]*\): .*name tp_set_state.*/\1/p' | sort; }

[ -x "$cs" ] || { echo "cli: $cs missing; run make" >&2; exit 1; }
[ -x "$oracle/server" ] || { echo "cli: $oracle/server missing; run tests/oracle/run.sh once" >&2; exit 1; }

# --- bad input ---
expect_error no_pid_is_an_error 2 '^connstate: no process given' "$cs"
expect_error non_numeric_pid_is_rejected 2 "^connstate: invalid PID 'abc'" "$cs" -p abc
expect_error zero_pid_is_rejected 2 "^connstate: invalid PID '0'" "$cs" -p 0
expect_error huge_pid_is_rejected 2 "^connstate: invalid PID" "$cs" -p 99999999999
expect_error ring_size_not_power_of_two 2 '^connstate: invalid --ring-size' "$cs" -p 1 --ring-size 3
expect_error max_conns_out_of_range 2 '^connstate: invalid --max-conns' "$cs" -p 1 --max-conns 1
expect_error stray_argument_is_rejected 2 "^connstate: unexpected argument 'x'" "$cs" -p 1 x
free_pid=$(( $(cat /proc/sys/kernel/pid_max) - 7 ))
while [ -e "/proc/$free_pid" ]; do free_pid=$((free_pid - 1)); done
expect_error missing_process_is_named 1 "^connstate: no such process: $free_pid\$" "$cs" -p "$free_pid"
expect_error unprivileged_user_is_told_what_is_missing 1 \
	'^connstate: not permitted: .*missing: CAP_BPF CAP_PERFMON' \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$cs" -p 1
expect_error missing_perfmon_is_named 1 '^connstate: not permitted: .*missing: CAP_PERFMON\)' \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+bpf --ambient-caps=+bpf \
	"$cs" -p 1
expect_error unreadable_btf_file_is_named 1 '^connstate: failed to read BTF file /nonexistent' \
	"$cs" -p 1 --btf /nonexistent
expect_error kernel_without_btf_is_named 1 '^connstate: kernel .* has no BTF .*--btf FILE' \
	unshare -m sh -c "mount -t tmpfs none /sys/kernel/btf && exec '$cs' -p 1"
expect_error missing_tracepoint_is_named 1 \
	'^connstate: kernel .* lacks tracepoint sock/inet_sock_set_state \(Linux 4.16\+ has it\)' \
	unshare -m sh -c "mount -t tmpfs none /sys/kernel/tracing/events/sock && exec '$cs' -p 1"
expect_error help_goes_to_stdout_not_stderr 0 '' sh -c "'$cs' --help >/dev/null; echo x >&2"

# --- the static build needs no library on the host it is copied to ---
if [ -x "$root/.output/connstate-static" ]; then
	if LC_ALL=C ldd "$root/.output/connstate-static" 2>&1 | grep -q 'not a dynamic executable'; then
		pass static_build_is_static
	else
		fail static_build_is_static "$(ldd "$root/.output/connstate-static" 2>&1 | head -3)"
	fi
fi

# --- a run ends cleanly, leaving nothing behind ---
start_server || exit 1
prog_ids >"$work/ids.before"
if start_connstate -p "$srv_pid"; then
	prog_ids >"$work/ids.during"
	ours=$(comm -13 "$work/ids.before" "$work/ids.during")
	stop_connstate INT
	rc=$?
	sleep 0.2
	left=$(prog_ids | grep -xF "${ours:-none}")
	if [ "$rc" -eq 0 ] && [ "$(echo "$ours" | grep -c .)" -eq 1 ] && [ -z "$left" ]; then
		pass sigint_detaches_and_exits_0
	else
		fail sigint_detaches_and_exits_0 "rc=$rc our program ids: '$ours', left after exit: '$left'"
	fi
fi
if start_connstate -p "$srv_pid"; then
	stop_connstate TERM && pass sigterm_exits_0 || fail sigterm_exits_0 "rc=$?"
fi

# --- --btf FILE works where the kernel's own BTF would ---
cp /sys/kernel/btf/vmlinux "$work/vmlinux.btf"
if start_connstate -p "$srv_pid" --btf "$work/vmlinux.btf"; then
	stop_connstate INT && pass btf_file_option_loads || fail btf_file_option_loads "rc=$?"
fi

# --- a connection opened before attach is tracked from its next request ---
exec 5<>"/dev/tcp/127.0.0.1/$port"
http_get 5
if start_connstate -p "$srv_pid" -S; then
	http_get 5
	exec 5>&-
	sleep 0.5
	stop_connstate INT
	got=$(sed -n 's/^Client: .* - new state: //p' "$work/cs.out" | tr '\n' ' ')
	if [ "$got" = "active idle closed " ]; then
		pass existing_connection_tracked_from_next_request
	else
		fail existing_connection_tracked_from_next_request "states '$got'"
	fi
fi

# --- JSON lines: fields and who closed ---
if start_connstate -p "$srv_pid" -j; then
	exec 5<>"/dev/tcp/127.0.0.1/$port"
	http_get 5
	exec 5>&-
	sleep 0.5
	stop_connstate INT
	if python3 - "$work/cs.out" <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
states = [o["state"] for o in objs if o["type"] == "state"]
assert states == ["new", "active", "idle", "closed"], states
reqs = [o for o in objs if o["type"] == "request"]
assert len(reqs) == 1, reqs
r = reqs[0]
assert (r["method"], r["path"], r["version"], r["status"]) == ("GET", "/", "HTTP/1.1", 200), r
assert r["bytes_in"] == 27 and r["bytes_out"] > 0 and r["complete"] is True, r
closed = [o for o in objs if o.get("state") == "closed"][0]
assert closed["closed_by"] == "client" and closed["prev"] == "idle", closed
for o in objs:
    assert o["pid"] > 0 and o["client"].startswith("127.0.0.1:") and o["local"].startswith("127.0.0.1:"), o
PY
		pass json_lines_carry_states_request_and_closer
	else
		fail json_lines_carry_states_request_and_closer "$(cat "$work/cs.out")"
	fi
fi

# --- a header trickled byte by byte costs one event per line, not per byte ---
if start_connstate -p "$srv_pid" -S; then
	"$oracle/client" -addr "127.0.0.1:$port" -scenario trickle >/dev/null 2>"$work/client.err"
	crc=$?
	sleep 0.3
	stop_connstate INT
	n=$(sed -n 's/.* requests, \([0-9]*\) events,.*/\1/p' "$work/cs.err")
	states=$(sed -n 's/^Client: .* - new state: //p' "$work/cs.out" | tail -n 4 | tr '\n' ' ')
	# 27 request bytes read one by one; 3 lines; plus accept, write, EOF, close, TCP states
	if [ "$n" -gt 0 ] && [ "$n" -le 12 ] && [ "$states" = "new active idle closed " ]; then
		pass trickled_header_sends_an_event_per_line
	else
		fail trickled_header_sends_an_event_per_line "$n events, states '$states', client rc $crc $(cat "$work/client.err"); $(cat "$work/cs.err")"
	fi
fi

# --- -T prefixes text lines with the time; state lines keep their shape ---
if start_connstate -p "$srv_pid" -T; then
	"$oracle/client" -addr "127.0.0.1:$port" -scenario keepalive_1 >/dev/null
	sleep 0.3
	stop_connstate INT
	n=$(grep -Ec '^[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{6} Client: 127\.0\.0\.1:[0-9]+ - (new state: (new|active|idle|closed)|request: GET / HTTP/1\.1 -> 200, .* B out)$' "$work/cs.out")
	if [ "$n" -eq 5 ] && [ "$(wc -l <"$work/cs.out")" -eq 5 ]; then
		pass timestamps_prefix_every_text_line
	else
		fail timestamps_prefix_every_text_line "$n of 5 lines match: $(cat "$work/cs.out")"
	fi
fi

# --- lost events are counted, reported, and give no invented states ---
if start_connstate -p "$srv_pid" --ring-size 1 -S; then
	kill -STOP "$cs_pid"
	# each 1 MiB upload is read in 32 KiB pieces: 32 events of 4 KiB each
	for i in $(seq 16); do
		"$oracle/client" -addr "127.0.0.1:$port" -scenario upload_1m >/dev/null 2>&1
	done
	kill -CONT "$cs_pid"
	sleep 0.5
	stop_connstate INT
	lost=$(sed -n 's/.* \([0-9]*\) events lost,.*/\1/p' "$work/cs.err")
	unsure=$(sed -n 's/.* \([0-9]*\) connections uncertain,.*/\1/p' "$work/cs.err")
	# after its warning a connection may only be told closed
	bad=$(awk '/ - warning: .*events lost/ { warned[$2] = 1 }
		/ - new state: / && warned[$2] && $NF != "closed" { print }' "$work/cs.out" | head -3)
	if [ "${lost:-0}" -gt 0 ] && [ "${unsure:-0}" -gt 0 ] && grep -q 'events lost' "$work/cs.out" &&
		[ -z "$bad" ]; then
		pass lost_events_are_counted_and_reported
	else
		fail lost_events_are_counted_and_reported "lost=${lost:-none} uncertain=${unsure:-none} bad=$bad; $(tail -2 "$work/cs.err")"
	fi
else
	fail lost_events_are_counted_and_reported "no attach"
fi

# --- IPv6 clients are printed as Go prints them ---
v4_srv=$srv_pid
if start_server '[::1]:0' && start_connstate -p "$srv_pid" -S; then
	"$oracle/client" -addr "[::1]:$port" -scenario keepalive_1 >/dev/null
	sleep 0.5
	stop_connstate INT
	if [ -s "$work/server.out" ] && grep -q '^Client: \[::1\]:' "$work/server.out" &&
		diff "$work/server.out" "$work/cs.out" >/dev/null; then
		pass ipv6_client_printed_as_go_prints_it
	else
		fail ipv6_client_printed_as_go_prints_it "go: $(cat "$work/server.out") connstate: $(cat "$work/cs.out")"
	fi
	kill "$srv_pid"
else
	fail ipv6_client_printed_as_go_prints_it "no IPv6 server or no attach"
fi
srv_pid=$v4_srv

# --- when every target exits, connstate says so and exits 0 ---
if start_connstate -p "$srv_pid"; then
	kill -TERM "$srv_pid"
	for _ in $(seq 50); do kill -0 "$cs_pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$cs_pid" 2>/dev/null; then
		fail exits_0_when_targets_exit "still running 5 s after the server exited"
	else
		wait "$cs_pid"
		rc=$?
		if [ "$rc" -eq 0 ] && grep -q 'every target process has exited' "$work/cs.err"; then
			pass exits_0_when_targets_exit
		else
			fail exits_0_when_targets_exit "rc=$rc: $(cat "$work/cs.err")"
		fi
	fi
fi

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
