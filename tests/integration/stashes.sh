#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The kernel keeps one "stashes" entry per thread (a syscall's arguments
# between its enter and exit), reused from syscall to syscall and deleted
# when the thread exits. Against a Python server with a thread per
# connection: every connection's exact states and requests (the reused
# entry must not leak one syscall into the next), and no entry left once
# the threads are gone (one left per thread would fill the map, and then
# every syscall of a new thread goes unfollowed).
#
# usage: tests/integration/stashes.sh [--connstate PATH]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/lib.sh"
[ "${1:-}" = --connstate ] && CS_BIN=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/stashes.XXXXXX")
trap 'lib_cleanup; rm -rf "$work"' EXIT
CONNS=200 # connections, one server thread each
REQS=3	  # keep-alive requests per connection

checks="threaded_connections_exact_records keepalive_on_one_thread_exact_records no_stash_left_after_threads_exit"
suite_begin stashes 3

port=$(free_port)
# HTTP/1.1 with Content-Length: connections stay open until the client
# closes. Its access log goes to a file (fd 2): a write between the
# connection's read and its writes, whose exit finds this thread's entry
# already taken.
/usr/bin/python3 "$here/ok_server.py" "$port" >"$work/server.out" 2>&1 &
server=$!
track_pid "$server"
wait_until 10 listening "$port" || fail_all "the python server did not listen"
if ! cs_start "$work/cs.out" "$work/cs.err" -j -p "$server"; then
	fail_all "no attach: $(tail -c 300 "$work/cs.err")"
fi

# CONNS connections one after another (each a new server thread that ends
# with it), then one connection with CONNS requests (one thread throughout)
PYTHONPATH=$here python3 - "$port" "$CONNS" "$REQS" >"$work/ports" <<'PY'
import socket, sys
from ok_server import answered
port, conns, reqs = (int(a) for a in sys.argv[1:])
def run(n):
    s = socket.create_connection(("127.0.0.1", port))
    for i in range(n):
        answered(s, "/r%d" % i)
    p = s.getsockname()[1]
    s.close()
    return p
print("threaded", " ".join(str(run(reqs)) for _ in range(conns)))
print("one", run(conns))
PY
want=$((CONNS + 1))
wait_until 20 sh -c "[ \$(grep -c '\"state\":\"closed\"' '$work/cs.out') -ge $want ]"
# every handler thread gone: the server is down to its main thread
wait_until 10 sh -c "grep -q '^Threads:[[:space:]]*1\$' /proc/$server/status"
threads=$(awk '/^Threads:/ {print $2}' "/proc/$server/status")

# the stashes map of this connstate: its fd's map_id, named "stashes"
stash_entries=none
for f in /proc/"$CS_PID"/fdinfo/*; do
	id=$(awk '/^map_id:/ {print $2}' "$f" 2>/dev/null)
	[ -n "$id" ] || continue
	if [ "$(bpftool map show id "$id" -j 2>/dev/null | jq -r .name)" = stashes ]; then
		stash_entries=$(bpftool map dump id "$id" -j 2>/dev/null | jq length)
		break
	fi
done
cs_stop INT

check_conns() { # NAME PORTS... : each port's exact states and requests
	local name=$1
	shift
	if python3 - "$work/cs.out" "$REQS" "$CONNS" "$name" "$@" >"$work/why" 2>&1 <<'PY'; then
import json, sys
out, reqs, conns, name, ports = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
n = reqs if name == "threaded" else conns
objs = [json.loads(l) for l in open(out)]
# a client port can come back within a run (seen once in 200): k
# connections from one port are k whole lifecycles, one after the other
for p in sorted(set(ports)):
    k = ports.count(p)
    mine = [o for o in objs if o.get("client", "").endswith(":" + p)]
    states = [o["state"] for o in mine if o["type"] == "state"]
    got = [(o["method"], o["path"], o["status"], o["complete"]) for o in mine
           if o["type"] == "request"]
    want = [("GET", "/r%d" % i, 200, True) for i in range(n)] * k
    assert states == (["new"] + ["active", "idle"] * n + ["closed"]) * k, (p, states)
    assert got == want, (p, got[:5])
    ins = [o["bytes_in"] for o in mine if o["type"] == "request"]
    assert ins == [len(b"GET /r%d HTTP/1.1\r\nHost: x\r\n\r\n" % i) for i in range(n)] * k, (p, ins)
    outs = {o["bytes_out"] for o in mine if o["type"] == "request"}
    assert len(outs) == 1, (p, outs)
    bad = [o for o in mine if o["type"] == "warning" or o.get("uncertain")]
    assert not bad, (p, bad[:2])
PY
		return 0
	fi
	return 1
}

read -r _ tports <<<"$(grep '^threaded ' "$work/ports")"
read -r _ oport <<<"$(grep '^one ' "$work/ports")"
nports=$(wc -w <<<"$tports")
if [ "$nports" != "$CONNS" ]; then
	fail threaded_connections_exact_records "the client made $nports of $CONNS connections"
elif check_conns threaded $tports; then
	pass threaded_connections_exact_records
else
	fail threaded_connections_exact_records "$(tail -c 400 "$work/why")"
fi
if [ -z "$oport" ]; then
	fail keepalive_on_one_thread_exact_records "the client made no keep-alive connection"
elif check_conns one "$oport"; then
	pass keepalive_on_one_thread_exact_records
else
	fail keepalive_on_one_thread_exact_records "$(tail -c 400 "$work/why")"
fi
# the main thread only accepts (no enter program): nothing of it is stashed
if [ "$threads" = 1 ] && [ "$stash_entries" = 0 ]; then
	pass no_stash_left_after_threads_exit
else
	fail no_stash_left_after_threads_exit \
		"$stash_entries entries in stashes with $threads server threads left, after $((CONNS + 1)) threads came and went"
fi
suite_end
