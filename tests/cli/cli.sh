#!/bin/bash
# The command-line contract, run for real as root: bad input gives one line
# on stderr and a non-zero exit; signals and target exit end a run cleanly
# with nothing of ours left in the kernel; connections that predate attach,
# JSON output (who closed), and lost events behave as the README says.
# Every check passes or fails: one whose setup failed (no attach, no server)
# is a failure of that check, never dropped.
#
# usage: tests/cli/cli.sh [--connstate PATH]
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
. "$root/tests/lib.sh"
[ "${1:-}" = --connstate ] && CS_BIN=$2
cs=$CS_BIN
oracle="$root/.output/oracle"
work=$(mktemp -d "${TMPDIR:-/tmp}/cli.XXXXXX")

netns=""
cleanup() {
	lib_cleanup
	[ -n "$netns" ] && ip netns del "$netns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

suite_begin cli 34

# expect_error NAME EXIT_CODE STDERR_REGEX CMD...: one stderr line, that code
expect_error() {
	local name=$1 code=$2 re=$3 rc lines
	shift 3
	# a connstate that attaches instead runs until stopped: 60 s at most
	timeout 60 "$@" >"$work/out" 2>"$work/err" </dev/null
	rc=$?
	lines=$(wc -l <"$work/err")
	if [ "$rc" -eq 124 ]; then
		fail "$name" "no error in 60 s (it ran); stderr: $(head -c 300 "$work/err")"
	elif [ "$rc" -ne "$code" ]; then
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

# start_server [ADDR]: the Go oracle server; sets srv_pid and port
start_server() {
	port=""
	# emptied first: the last server's "listening" line must not count
	: >"$work/server.out"
	: >"$work/server.err"
	"$oracle/server" -addr "${1:-127.0.0.1:0}" >"$work/server.out" 2>"$work/server.err" &
	srv_pid=$!
	track_pid "$srv_pid"
	wait_until 5 grep -q '^listening .*:[0-9]*$' "$work/server.err" || {
		echo "cli: oracle server did not start: $(head -c 300 "$work/server.err")" >&2
		return 1
	}
	port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/server.err")
}

# start_connstate ARGS...: connstate in the background, attached (lib.sh)
start_connstate() {
	cs_start "$work/cs.out" "$work/cs.err" "$@" && cs_pid=$CS_PID
}

# stop_connstate SIGNAL: returns connstate's exit code
stop_connstate() { cs_stop "$1"; }

# has_closed [COUNT]: connstate printed COUNT (1) closed lines, text or JSON
has_closed() {
	[ "$(grep -Ec -- '- new state: closed$|"state":"closed"' "$work/cs.out")" -ge "${1:-1}" ]
}

http_get() { # http_get FD: one keep-alive request, reads the response; 0 if a 200 came
	printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&"$1"
	# read all of it: unread bytes would make the close a reset
	timeout 0.3 cat <&"$1" >"$work/resp"
	grep -q '^HTTP/1.1 200 ' "$work/resp"
}

# ids of loaded programs named like ours (other connstate runs may add theirs)
prog_ids() { bpftool prog show 2>/dev/null | sed -n 's/^\([0-9]*\): .*name \(tp\|bt\|st\)_set_state.*/\1/p' | sort; }

# the ids of the programs a process holds (its bpf-prog and bpf-link fds)
pid_prog_ids() { grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u; }

# none_left IDS: none of these program ids is loaded any more
none_left() { [ -z "$(prog_ids | grep -xF "${1:-none}")" ]; }

[ -x "$cs" ] || echo "cli: $cs missing; run make (every check will fail)" >&2
[ -x "$oracle/server" ] ||
	echo "cli: $oracle/server missing; run tests/oracle/run.sh once (checks will fail)" >&2

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
# the tracefs tracepoint, as the syscall tracepoints take it (the sock
# tracepoints and the socket hooks take it as a BTF one, tracefs or not)
expect_error missing_tracepoint_is_named 1 \
	'^connstate: kernel .* lacks tracepoint sock/inet_sock_set_state \(Linux 4.16\+ has it\)' \
	unshare -m sh -c "mount -t tmpfs none /sys/kernel/tracing/events/sock && exec '$cs' -p 1 --hooks=tracepoints"
expect_error unknown_hooks_value_is_rejected 2 \
	"^connstate: invalid --hooks 'kprobe': expected auto, socket, sock-tracepoints, tracepoints or raw\$" \
	"$cs" -p 1 --hooks=kprobe
# Our machines refuse fentry (EPERM): the socket hooks, asked for, are a
# one-line error; auto takes the sock tracepoints (6.18 has them) and says
# why not the socket hooks.
expect_error socket_hooks_refused_are_an_error 1 \
	'^connstate: kernel .* cannot take the socket hooks: fentry refused \(Operation not permitted; .*\): use --hooks=tracepoints$' \
	"$cs" -p 1 --hooks=socket
# tp_btf programs attach through the running kernel's BTF, not a file's
expect_error sock_tracepoints_need_kernel_btf 1 \
	"^connstate: kernel .* cannot take the sock tracepoints: they need the kernel's own BTF, not --btf: use --hooks=tracepoints\$" \
	"$cs" -p 1 --hooks=sock-tracepoints --btf /sys/kernel/btf/vmlinux
sleep 1000 &
idle_pid=$!
track_pid "$idle_pid"
if ! cs_start "$work/auto.out" "$work/auto.err" -v --hooks=auto -p "$idle_pid"; then
	fail auto_hooks_take_sock_tracepoints "did not attach: $(head -c 300 "$work/auto.err")"
else
	cs_stop
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail auto_hooks_take_sock_tracepoints "exit $rc"
	elif ! grep -q '^connstate: syscall hooks: sock-tracepoints (.*); auto: no socket hooks: fentry refused (Operation not permitted' "$work/auto.err"; then
		fail auto_hooks_take_sock_tracepoints "no such hooks line: $(grep 'hooks' "$work/auto.err")"
	else
		pass auto_hooks_take_sock_tracepoints
	fi
fi
kill "$idle_pid" 2>/dev/null

# --- --help: usage on stdout, nothing on stderr, exit 0 ---
"$cs" --help >"$work/out" 2>"$work/err" </dev/null
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^Usage: connstate ' "$work/out" && grep -q -- '--pid' "$work/out" &&
	[ ! -s "$work/err" ]; then
	pass help_prints_usage_on_stdout_only
else
	fail help_prints_usage_on_stdout_only "exit $rc; stdout: $(head -c 100 "$work/out"); stderr: $(head -c 200 "$work/err")"
fi

# --- the static build needs no library on the host it is copied to ---
if [ ! -x "$root/.output/connstate-static" ]; then
	fail static_build_is_static "no .output/connstate-static (make .output/connstate-static)"
elif LC_ALL=C ldd "$root/.output/connstate-static" 2>&1 | grep -q 'not a dynamic executable'; then
	pass static_build_is_static
else
	fail static_build_is_static "$(ldd "$root/.output/connstate-static" 2>&1 | head -3)"
fi

# --- a run ends cleanly, leaving nothing behind ---
# No server: every check below fails on its own (no attach to pid "").
start_server || srv_pid=""
if start_connstate -p "$srv_pid"; then
	# ours: held by our connstate (other engineers' runs load theirs meanwhile)
	ours=$(comm -12 <(prog_ids) <(pid_prog_ids "$cs_pid"))
	stop_connstate INT
	rc=$?
	# the kernel frees a program once its last reference goes: poll
	wait_until 5 none_left "$ours"
	left=$(prog_ids | grep -xF "${ours:-none}")
	if [ "$rc" -eq 0 ] && [ "$(echo "$ours" | grep -c .)" -eq 1 ] && [ -z "$left" ]; then
		pass sigint_detaches_and_exits_0
	else
		fail sigint_detaches_and_exits_0 "rc=$rc our program ids: '$ours', left after exit: '$left'"
	fi
else
	fail sigint_detaches_and_exits_0 "no attach"
fi
if start_connstate -p "$srv_pid"; then
	stop_connstate TERM && pass sigterm_exits_0 || fail sigterm_exits_0 "rc=$?"
else
	fail sigterm_exits_0 "no attach"
fi
# SIGINT while it is still loading (a background job of a script starts with
# SIGINT ignored): it must stop once attached, not run on
if [ -n "$srv_pid" ]; then
	"$CS_BIN" -p "$srv_pid" >"$work/early.out" 2>"$work/early.err" &
	early=$!
	# once it is connstate (exec'd) and has parsed its options, while
	# it loads its BPF objects (100 ms and more)
	wait_until 5 sh -c "[ \"\$(readlink /proc/$early/exe)\" = \"$(readlink -f "$CS_BIN")\" ]"
	sleep 0.05
	kill -INT "$early"
	if wait_until 30 sh -c "! kill -0 $early 2>/dev/null"; then
		wait "$early"
		rc=$?
		[ "$rc" -eq 0 ] && pass sigint_while_loading_stops_it ||
			fail sigint_while_loading_stops_it "rc=$rc: $(cat "$work/early.err")"
	else
		kill -KILL "$early"
		wait "$early"
		fail sigint_while_loading_stops_it "still running 30 s after SIGINT: $(cat "$work/early.err")"
	fi
else
	fail sigint_while_loading_stops_it "no server"
fi

# --- --btf FILE works where the kernel's own BTF would ---
cp /sys/kernel/btf/vmlinux "$work/vmlinux.btf"
if start_connstate -p "$srv_pid" --btf "$work/vmlinux.btf"; then
	stop_connstate INT && pass btf_file_option_loads || fail btf_file_option_loads "rc=$?"
else
	fail btf_file_option_loads "no attach"
fi

# --- a connection opened before attach is tracked from its next request ---
if exec 5<>"/dev/tcp/127.0.0.1/$port" && http_get 5 &&
	start_connstate -p "$srv_pid" -S; then
	http_get 5
	exec 5>&-
	wait_until 5 has_closed
	stop_connstate INT
	got=$(sed -n 's/^Client: .* - new state: //p' "$work/cs.out" | tr '\n' ' ')
	if [ "$got" = "active idle closed " ]; then
		pass existing_connection_tracked_from_next_request
	else
		fail existing_connection_tracked_from_next_request "states '$got'"
	fi
else
	fail existing_connection_tracked_from_next_request "no server connection or no attach"
fi
exec 5>&-

# check_json FILE STATES CLOSED_BY PREV: the JSON lines of one connection
# have these state words, and its closed line these closed_by and prev
check_json() {
	python3 - "$@" <<'PY'
import json, sys
path, want_states, closed_by, prev = sys.argv[1:5]
objs = [json.loads(l) for l in open(path)]
states = [o["state"] for o in objs if o["type"] == "state"]
assert states == want_states.split(), states
closed = [o for o in objs if o.get("state") == "closed"]
assert len(closed) == 1, closed
assert closed[0]["closed_by"] == closed_by and closed[0]["prev"] == prev, closed[0]
for o in objs:
    assert o["pid"] > 0 and o["client"].startswith("127.0.0.1:") and \
        o["local"].startswith("127.0.0.1:"), o
PY
}

# --- JSON lines: fields and who closed ---
if start_connstate -p "$srv_pid" -j && exec 5<>"/dev/tcp/127.0.0.1/$port"; then
	http_get 5
	exec 5>&-
	wait_until 5 has_closed
	stop_connstate INT
	if check_json "$work/cs.out" "new active idle closed" client idle &&
		python3 - "$work/cs.out" <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
reqs = [o for o in objs if o["type"] == "request"]
assert len(reqs) == 1, reqs
r = reqs[0]
assert (r["method"], r["path"], r["version"], r["status"]) == ("GET", "/", "HTTP/1.1", 200), r
assert r["bytes_in"] == 27 and r["bytes_out"] > 0 and r["complete"] is True, r
PY
		pass json_lines_carry_states_request_and_closer
	else
		fail json_lines_carry_states_request_and_closer "$(cat "$work/cs.out")"
	fi
else
	fail json_lines_carry_states_request_and_closer "no attach or no connection"
fi
exec 5>&-

# --- closed_by server: the request says Connection: close, Go closes first ---
if start_connstate -p "$srv_pid" -j && exec 5<>"/dev/tcp/127.0.0.1/$port"; then
	printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&5
	timeout 5 cat <&5 >/dev/null # to the server's FIN
	exec 5>&-
	wait_until 5 has_closed
	stop_connstate INT
	if check_json "$work/cs.out" "new active closed" server active; then
		pass json_closed_by_server_when_server_closes_first
	else
		fail json_closed_by_server_when_server_closes_first "$(cat "$work/cs.out")"
	fi
else
	fail json_closed_by_server_when_server_closes_first "no attach or no connection"
fi
exec 5>&-

# --- closed_by reset: an idle keep-alive connection ended by the client's RST ---
if start_connstate -p "$srv_pid" -j; then
	if python3 - "$port" 2>"$work/client.err" <<'PY'; then
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, _, body = buf.partition(b"\r\n\r\n")
n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
while len(body) < n:
    body += s.recv(4096)
time.sleep(0.2)  # the server is idle now, blocked in read
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()  # RST, not FIN
PY
		wait_until 5 has_closed
		stop_connstate INT
		if check_json "$work/cs.out" "new active idle closed" reset idle; then
			pass json_closed_by_reset_when_client_resets
		else
			fail json_closed_by_reset_when_client_resets "$(cat "$work/cs.out")"
		fi
	else
		stop_connstate INT
		fail json_closed_by_reset_when_client_resets "client failed: $(tail -n 2 "$work/client.err")"
	fi
else
	fail json_closed_by_reset_when_client_resets "no attach"
fi

# --- a header trickled byte by byte costs one event per line, not per byte ---
if start_connstate -p "$srv_pid" -S; then
	"$oracle/client" -addr "127.0.0.1:$port" -scenario trickle >/dev/null 2>"$work/client.err"
	crc=$?
	wait_until 5 has_closed
	stop_connstate INT
	n=$(sed -n 's/.* requests, \([0-9]*\) events,.*/\1/p' "$work/cs.err")
	states=$(sed -n 's/^Client: .* - new state: //p' "$work/cs.out" | tail -n 4 | tr '\n' ' ')
	# 27 request bytes read one by one; 3 lines; plus accept, write, EOF, close, TCP states
	if [ "${n:-0}" -gt 0 ] && [ "$n" -le 12 ] && [ "$states" = "new active idle closed " ]; then
		pass trickled_header_sends_an_event_per_line
	else
		fail trickled_header_sends_an_event_per_line "${n:-no} events, states '$states', client rc $crc $(cat "$work/client.err"); $(cat "$work/cs.err")"
	fi
else
	fail trickled_header_sends_an_event_per_line "no attach"
fi

# --- -T prefixes text lines with the time; state lines keep their shape ---
if start_connstate -p "$srv_pid" -T; then
	"$oracle/client" -addr "127.0.0.1:$port" -scenario keepalive_1 >/dev/null
	wait_until 5 has_closed
	stop_connstate INT
	n=$(grep -Ec '^[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{6} Client: 127\.0\.0\.1:[0-9]+ - (new state: (new|active|idle|closed)|request: GET / HTTP/1\.1 -> 200, .* B out)$' "$work/cs.out")
	if [ "$n" -eq 5 ] && [ "$(wc -l <"$work/cs.out")" -eq 5 ]; then
		pass timestamps_prefix_every_text_line
	else
		fail timestamps_prefix_every_text_line "$n of 5 lines match: $(cat "$work/cs.out")"
	fi
else
	fail timestamps_prefix_every_text_line "no attach"
fi

# --- lost events are counted, reported, and give no invented states ---
if start_connstate -p "$srv_pid" --ring-size 1 -S; then
	kill -STOP "$cs_pid"
	# each 1 MiB upload is read in 32 KiB pieces: 32 events of 4 KiB each
	for i in $(seq 16); do
		"$oracle/client" -addr "127.0.0.1:$port" -scenario upload_1m >/dev/null 2>&1
	done
	kill -CONT "$cs_pid"
	wait_until 5 grep -q 'events lost' "$work/cs.out"
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

# same_as_go: connstate printed what the Go server printed, closed line and all
same_as_go() { has_closed && diff -q "$work/server.out" "$work/cs.out" >/dev/null; }

# --- IPv6 clients are printed as Go prints them ---
v4_srv=$srv_pid
v4_port=$port
if start_server '[::1]:0' && start_connstate -p "$srv_pid" -S; then
	"$oracle/client" -addr "[::1]:$port" -scenario keepalive_1 >/dev/null 2>"$work/client.err"
	crc=$?
	wait_until 5 same_as_go
	stop_connstate INT
	if [ -s "$work/server.out" ] && grep -q '^Client: \[::1\]:' "$work/server.out" &&
		diff "$work/server.out" "$work/cs.out" >/dev/null; then
		pass ipv6_client_printed_as_go_prints_it
	else
		fail ipv6_client_printed_as_go_prints_it "go: $(cat "$work/server.out") connstate: $(cat "$work/cs.out"); client (port '$port') rc $crc: $(head -c 300 "$work/client.err"); server: $(head -c 200 "$work/server.err")"
	fi
	kill "$srv_pid"
else
	fail ipv6_client_printed_as_go_prints_it "no IPv6 server or no attach"
fi
srv_pid=$v4_srv
port=$v4_port

# --- local and client addresses apart (on loopback they are the same) ---
# addr_check NAME CLIENT_RE LOCAL_RE [NETNS]: the server listens on
# $work/addr.listen, curl connects from $work/addr.from; the JSON must
# name each side with its own address (a swap would pass on 127.0.0.1)
addr_check() {
	local name=$1 cre=$2 lre=$3 ns=() pid p
	[ -n "${4:-}" ] && ns=(ip netns exec "$4")
	: >"$work/addr.err"
	"${ns[@]}" "$oracle/server" -addr "$(cat "$work/addr.listen")" >/dev/null 2>"$work/addr.err" &
	pid=$!
	track_pid "$pid"
	if ! wait_until 5 grep -q '^listening .*:[0-9]*$' "$work/addr.err"; then
		fail "$name" "no server: $(head -c 200 "$work/addr.err")"
		return
	fi
	p=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/addr.err")
	if start_connstate -j -p "$pid"; then
		"${ns[@]}" curl -s -o /dev/null --interface "$(cat "$work/addr.from")" \
			"http://$(sed 's/:0$//' "$work/addr.listen"):$p/" 2>/dev/null
		wait_until 5 grep -q '"state":"closed"' "$work/cs.out"
		stop_connstate INT
		if grep -q "\"state\":\"new\"" "$work/cs.out" &&
			! grep '"state":"new"' "$work/cs.out" | grep -vq "\"client\":\"$cre:[0-9]*\",\"local\":\"$lre:$p\""; then
			pass "$name"
		else
			fail "$name" "want client $cre, local $lre:$p: $(head -c 300 "$work/cs.out")"
		fi
	else
		fail "$name" "no attach"
	fi
	kill "$pid" 2>/dev/null
}
echo 127.0.0.2:0 >"$work/addr.listen"
echo 127.0.0.3 >"$work/addr.from"
addr_check ipv4_local_and_client_addresses_apart '127\.0\.0\.3' '127\.0\.0\.2'
# IPv6 needs two addresses: a namespace of the test's own
netns=csaddr$$
if ip netns add "$netns" && ip -n "$netns" link set lo up &&
	ip -n "$netns" addr add fd00::2/128 dev lo nodad && ip -n "$netns" addr add fd00::3/128 dev lo nodad; then
	echo '[fd00::2]:0' >"$work/addr.listen"
	echo fd00::3 >"$work/addr.from"
	addr_check ipv6_local_and_client_addresses_apart '\[fd00::3\]' '\[fd00::2\]' "$netns"
else
	fail ipv6_local_and_client_addresses_apart "no network namespace"
fi

# --- when every target exits, connstate says so and exits 0 ---
cs_gone() { ! kill -0 "$cs_pid" 2>/dev/null; }
if start_connstate -p "$srv_pid"; then
	kill -TERM "$srv_pid"
	# the oracle server has crypto/tls: its 25 uprobes come down one at a
	# time in the kernel, 0.1-0.3 s each on a loaded 2-core machine
	if ! wait_until 20 cs_gone; then
		fail exits_0_when_targets_exit "still running 20 s after the server exited"
	else
		wait "$cs_pid"
		rc=$?
		if [ "$rc" -eq 0 ] && grep -q 'every target process has exited' "$work/cs.err"; then
			pass exits_0_when_targets_exit
		else
			fail exits_0_when_targets_exit "rc=$rc: $(cat "$work/cs.err")"
		fi
	fi
else
	fail exits_0_when_targets_exit "no attach"
fi

suite_end
