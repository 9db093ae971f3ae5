#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The kernel's connection store at its smallest, --max-conns 16: under the
# sock tracepoints the table of bpf/conns.h (4 rows of 7 ways: 28 entries,
# a socket's in one of its 2 rows), else the hash map "conns" (16 entries).
# Against a Python server with a thread per connection:
#
#   over_capacity_told_or_left_out  60 keep-alive connections held open at
#                once, one request each, then all closed. Each is told whole
#                from its accept (new, active, idle, closed and its request)
#                or adopted later (marked) or not told at all, never half
#                told as new; the hash tells exactly 16 from new, the table
#                from 14 (a socket is left out only when its 2 rows, 14
#                entries, are full) to 28; the exit summary counts
#                connections not tracked (map full).
#   closes_free_entries  then 150 connections one after another (5 times
#                the table, 9 times the hash): every one told whole, so each
#                close gave its entry back.
#   store_empty_at_end  no entry left in the store once all are closed.
#   open_at_exit_told_open  3 connections left open when connstate stops:
#                its summary counts them open, none ended unseen (at exit
#                the user side looks each one up in the store).
#
# usage: tests/integration/conntable.sh [--connstate PATH]
# CONNTABLE_HOOKS: connstate's --hooks (default auto; the suite
# conntable_tracepoints runs the hash under the syscall tracepoints).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/lib.sh"
[ "${1:-}" = --connstate ] && CS_BIN=$2
HOOKS=${CONNTABLE_HOOKS:-auto}
SUITE=conntable
[ "$HOOKS" = auto ] || SUITE=conntable_$HOOKS
work=$(mktemp -d "${TMPDIR:-/tmp}/conntable.XXXXXX")
trap 'lib_cleanup; rm -rf "$work"' EXIT
HELD=60
SERIAL=150

checks="over_capacity_told_or_left_out closes_free_entries store_empty_at_end open_at_exit_told_open"
suite_begin "$SUITE" 4

port=$(free_port)
/usr/bin/python3 "$here/ok_server.py" "$port" >"$work/server.out" 2>&1 &
server=$!
track_pid "$server"
wait_until 10 listening "$port" || fail_all "the python server did not listen"
if ! cs_start "$work/cs.out" "$work/cs.err" -j -v --max-conns 16 --hooks="$HOOKS" -p "$server"; then
	fail_all "no attach: $(tail -c 300 "$work/cs.err")"
fi
if grep -q 'syscall hooks: sock-tracepoints' "$work/cs.err"; then
	store=table lo=14 hi=28
else
	store=hash lo=16 hi=16
fi
echo "$SUITE: the store is the $store (--hooks=$HOOKS)"

# the client: MODE held (HELD connections open at once, each answered,
# then all closed), serial (SERIAL one after another) or open (3 answered
# and left open); prints index:port of each connection, or "ready"
cat >"$work/client.py" <<'PY'
import socket, sys, time
from ok_server import answered
mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def conn():
    return socket.create_connection(("127.0.0.1", port))
def told(s, name):
    answered(s, "/" + name)
    return "%s:%d" % (name[1:], s.getsockname()[1])
if mode == "held":
    socks = [conn() for _ in range(n)]
    print(" ".join(told(s, "h%d" % i) for i, s in enumerate(socks)))
    for s in socks:
        s.close()
elif mode == "serial":
    ports = []
    for i in range(n):
        s = conn()
        ports.append(told(s, "s%d" % i))
        s.close()
    print(" ".join(ports))
else:
    socks = [conn() for _ in range(n)]
    for s in socks:
        told(s, "o0")
    print("ready", flush=True)
    time.sleep(30)
PY
client() { PYTHONPATH=$here python3 "$work/client.py" "$@"; }
client held "$port" "$HELD" >"$work/held" || fail_all "the held connections' client failed"
# every handler thread gone, and connstate caught up with them: each
# client it told of told closed
all_closed() {
	python3 -c 'import json, sys
seen = {}
for o in map(json.loads, open(sys.argv[1])):
    seen.setdefault(o["client"], set()).add(o.get("state"))
sys.exit(0 if seen and all("closed" in v for v in seen.values()) else 1)' "$work/cs.out"
}
wait_until 20 sh -c "grep -q '^Threads:[[:space:]]*1\$' /proc/$server/status"
wait_until 20 all_closed
sleep 1
held_lines=$(wc -l <"$work/cs.out")

client serial "$port" "$SERIAL" >"$work/serial" || fail_all "the serial connections' client failed"
want=$((held_lines + 5 * SERIAL))
wait_until 20 sh -c "[ \$(wc -l <'$work/cs.out') -ge $want ]"
wait_until 20 sh -c "grep -q '^Threads:[[:space:]]*1\$' /proc/$server/status"
sleep 1

# what the store holds now: this connstate's map by name
left=none
for f in /proc/"$CS_PID"/fdinfo/*; do
	id=$(awk '/^map_id:/ {print $2}' "$f" 2>/dev/null)
	[ -n "$id" ] || continue
	name=$(bpftool map show id "$id" -j 2>/dev/null | jq -r .name)
	if [ "$store" = table ] && [ "$name" = conn_keys ]; then
		left=$(bpftool map dump id "$id" -j 2>/dev/null |
			jq '[.[].formatted.value.key[] | select(. != 0)] | length')
		break
	elif [ "$store" = hash ] && [ "$name" = conns ]; then
		left=$(bpftool map dump id "$id" -j 2>/dev/null | jq length)
		break
	fi
done
# OPEN connections left open (one request each) while connstate stops
client open "$port" 3 >"$work/open" &
holder=$!
track_pid "$holder"
wait_until 10 grep -q ready "$work/open"
want=$((want + 9)) # new, active, idle each
wait_until 10 sh -c "[ \$(wc -l <'$work/cs.out') -ge $want ]"
cs_stop INT
kill "$holder" 2>/dev/null

# check PHASE: the connections of one phase, from their lines of cs.out
check() {
	python3 - "$work/cs.out" "$held_lines" "$1" "$lo" "$hi" "$work/cs.err" \
		"$(cat "$work/$1")" >"$work/why.$1" 2>&1 <<'PY'
import json, re, sys
out, held_lines, phase, lo, hi, err, conns = sys.argv[1:8]
held_lines, lo, hi = int(held_lines), int(lo), int(hi)
lines = open(out).read().splitlines()
lines = lines[:held_lines] if phase == "held" else lines[held_lines:]
objs = [json.loads(l) for l in lines]
pre = b"s" if phase == "serial" else b"h"
told = adopted = absent = 0
by_port = {}
for c in conns.split():
    i, p = c.split(":")
    by_port.setdefault(p, []).append(int(i))
for p, idx in sorted(by_port.items()):
    mine = [o for o in objs if o.get("client", "").endswith(":" + p)]
    states = [o["state"] for o in mine if o["type"] == "state"]
    reqs = [(o["method"], o["path"], o["status"]) for o in mine if o["type"] == "request"]
    whole = (["new", "active", "idle", "closed"] * len(idx),
             [("GET", "/%s%d" % (pre.decode(), i), 200) for i in idx])
    if (states, reqs) == whole and not any(o.get("uncertain") or o.get("adopted") for o in mine):
        told += len(idx)
    elif not mine:
        absent += len(idx)
    elif len(idx) == 1 and all(o.get("adopted") for o in mine) and "new" not in states:
        adopted += 1
    else:
        raise SystemExit("port %s (conn %s): %s %s" % (p, idx, states, reqs))
print("%s: %d told whole, %d adopted later, %d not told" % (phase, told, adopted, absent))
if phase == "serial":
    assert told == len(conns.split()), "not every serial connection told whole"
else:
    assert lo <= told <= hi, "told whole %d, want %d to %d" % (told, lo, hi)
    m = re.search(r"(\d+) connections not tracked \(map full\)", open(err).read())
    assert m and int(m.group(1)) > 0, "the summary counts no connection not tracked"
PY
}

if check held; then
	tail -n1 "$work/why.held"
	pass over_capacity_told_or_left_out
else
	fail over_capacity_told_or_left_out "$(tail -c 400 "$work/why.held")"
fi
if check serial; then
	tail -n1 "$work/why.serial"
	pass closes_free_entries
else
	fail closes_free_entries "$(tail -c 400 "$work/why.serial")"
fi
if [ "$left" = 0 ]; then
	pass store_empty_at_end
else
	fail store_empty_at_end "$left entries left in the $store after every connection closed"
fi
summary=$(grep '^connstate: [0-9]* connections (' "$work/cs.err")
if grep -q ' (3 open), .* 0 connections ended unseen' <<<"$summary"; then
	pass open_at_exit_told_open
else
	fail open_at_exit_told_open "summary: ${summary:-none}"
fi
suite_end
