#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Socket calls made through syscalls other than the plain reads and
# writes, against a Python server, with connstate's auto hooks (the sock
# tracepoints on kernels that have them and refuse fentry) or, with
# SOCKCALLS_HOOKS=tracepoints, the syscall tracepoints (suite
# sockcalls_tracepoints):
# - a response body written with splice(2) from a pipe is counted like
#   sendfile's: exact states and bytes;
# - a request read with recvmmsg(2), whose arguments do not say which
#   message a socket call is, and one read with splice(2) out of the socket
#   into a pipe (no recvmsg at all), are data connstate cannot read: the
#   connection is marked uncertain, its states withheld, the calls counted
#   at exit; never a wrong state;
# - a request read through a dup of the accepted descriptor, the next one
#   through the descriptor itself: both followed (the sock tracepoints check
#   that the syscall's descriptor is the connection's socket);
# - the close: a server that shuts its side down, closes a dup of the
#   socket and then the socket itself, while the client keeps its end open
#   for 3 s: "closed" comes at the last close, not at the shutdown, not at
#   the first close, and not when the client closes; and a server that
#   closes with megabytes the client has not read still queued (no quick
#   destroy of the socket): "closed" at the close.
# - a server that closes with a request unread (the kernel resets the
#   connection in the close): closed by "reset", at the close;
# - a listener the server opens after connstate attached: its connection
#   is followed whole (the kernel's port filter learns its port at the
#   listen or the accept), closed by the client.
# - a client that sends its request and its FIN before the server's first
#   call on the connection (the server only peeks, then waits): followed
#   whole, closed by the client (the sock tracepoints hook no accept: the
#   change comes before the connection is claimed at the first read); its
#   "new" is dated before the server's 0.3 s wait, not at the first read
#   (the sock tracepoints date it at the handshake);
# - a connection the server closes after only peeking at it (no read, no
#   write): new, closed by reset (the request unread), at the close;
# - a port two processes listen on with SO_REUSEPORT, the target and
#   another, 40 connections: each of the target's followed whole, none of
#   the other's reported.
# - a second target that accepts a connection and exits without a call on
#   it (the request unread: the exit's close resets it): new, closed by
#   reset, at the exit (the sock tracepoints claim it at that close, made
#   by a process no longer in the targets).
# - a third target whose reads and writes go through io_uring
#   (bypass_server.c: no read or write syscall carries them): a connection
#   whose request it reads that way, one whose response it sends that way,
#   one both: each marked uncertain, never followed as if it had no
#   request (the sock tracepoints see the calls and cannot read them; the
#   syscall tracepoints see nothing, and find at the close that the
#   socket's sequence numbers moved past what they saw).
# - a fourth target that forks a child, which accepts a connection, drops
#   to nobody (setuid) and then serves it: the connection is the child's
#   (its pid on every line), not the parent's (the sock tracepoints name
#   the acceptor at the first call: the parent only for a socket opened
#   under the parent's credentials, an accept before a fork).
#
# usage: tests/integration/sockcalls.sh [--connstate PATH]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/lib.sh"
[ "${1:-}" = --connstate ] && CS_BIN=$2
hooks=${SOCKCALLS_HOOKS:-auto}
work=$(mktemp -d "${TMPDIR:-/tmp}/sockcalls.XXXXXX")
trap 'lib_cleanup; rm -rf "$work"' EXIT

checks="dup_read_followed splice_body_counted recvmmsg_marked_uncertain splice_read_marked_uncertain unreadable_calls_counted_at_exit closed_at_last_close closed_with_data_queued closed_by_reset_with_request_unread late_listener_followed fin_before_first_read_followed new_dated_at_the_accept closed_after_peek_only reuseport_other_process_ignored closed_by_the_servers_exit uring_read_marked_uncertain uring_write_marked_uncertain uring_both_marked_uncertain setuid_child_is_the_acceptor"
if [ "$hooks" = auto ]; then
	suite_begin sockcalls 18
else
	suite_begin "sockcalls_$hooks" 18
fi

port=$(free_port)
rport=$(free_port)
# The other process on the SO_REUSEPORT port (not a target): it answers
# with X-Who: other, the target's thread with X-Who: target.
cat >"$work/reuse.py" <<'PY'
import socket, sys, threading
body = b"b" * 5000
def serve(who, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    def one(c):
        while c.recv(4096):
            c.sendall(b"HTTP/1.1 200 OK\r\nX-Who: %s\r\nContent-Length: 5000\r\n\r\n" % who + body)
        c.close()
    while True:
        threading.Thread(target=one, args=(ls.accept()[0],), daemon=True).start()
if __name__ == "__main__":
    print("ready", flush=True)
    serve(b"other", int(sys.argv[1]))
PY
/usr/bin/python3 "$work/reuse.py" "$rport" >"$work/other.out" 2>&1 &
track_pid $!
# The second target: one connection, never read, closed by the exit
# (os._exit: no close() of its own, the kernel closes its files).
xport=$(free_port)
cat >"$work/exitsrv.py" <<'PY'
import os, socket, sys, time
ls = socket.socket()
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(1)
print("ready", flush=True)
c, _ = ls.accept()
time.sleep(0.5)
print("exitclose", time.time(), flush=True)
os._exit(0)
PY
/usr/bin/python3 "$work/exitsrv.py" "$xport" >"$work/exit.out" 2>&1 &
xsrv=$!
track_pid "$xsrv"
# The fourth target: the parent of a child that accepts, then setuid()s.
sport4=$(free_port)
cat >"$work/setuidsrv.py" <<'PY'
import os, socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(1)
child = os.fork()
if child:
    print("ready", child, flush=True)
    os.waitpid(child, 0)
    sys.exit(0)
c, _ = ls.accept()
os.setgid(65534)
os.setuid(65534)
c.recv(4096)
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
c.close()
os._exit(0)
PY
/usr/bin/python3 "$work/setuidsrv.py" "$sport4" >"$work/setuid.out" 2>&1 &
ssrv=$!
track_pid "$ssrv"
# The third target: io_uring.
uport=$(free_port)
cc -O2 -o "$work/bypass_server" "$here/bypass_server.c" 2>"$work/uring.cc" ||
	fail_all "bypass_server.c did not build: $(tail -c 300 "$work/uring.cc")"
"$work/bypass_server" "$uport" >"$work/uring.out" 2>&1 &
usrv=$!
track_pid "$usrv"
# One connection at a time. Path /splice: the body of 5000 bytes is spliced
# from a pipe. Path /mmsg: the request is read with recvmmsg; /spliceread:
# with splice into a pipe (the request line is peeked at to choose).
/usr/bin/python3 - "$port" "$rport" "$work" >"$work/server.out" 2>&1 <<'PY' &
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]
class mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]
def recvmmsg(fd):
    buf = ctypes.create_string_buffer(4096)
    iov = iovec(ctypes.cast(buf, ctypes.c_void_p), 4096)
    m = mmsghdr()
    m.hdr.iov = ctypes.pointer(iov)
    m.hdr.iovlen = 1
    n = libc.recvmmsg(fd, ctypes.byref(m), 1, 0, None)
    return buf.raw[:m.len] if n == 1 else b""
def splice_read(fd):
    r, w = os.pipe()
    try:
        return os.read(r, os.splice(fd, w, 4096))
    finally:
        os.close(r)
        os.close(w)
body = b"b" * 5000
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(16)
sys.path.insert(0, sys.argv[3])
import reuse, threading
threading.Thread(target=reuse.serve, args=(b"target", int(sys.argv[2])), daemon=True).start()
print("ready", flush=True)
while True:
    c, _ = ls.accept()
    while True:
        first = c.recv(4096, socket.MSG_PEEK)
        if not first:
            break
        line = first.split(b"\r\n")[0]
        if b"/peekclose" in line:
            # no read, no write: closed with the request unread
            print("peekclose", time.time(), flush=True)
            c.close()
            c = None
            break
        if b"/latefin" in line:
            time.sleep(0.3)  # the client's FIN arrives before the first read
        if b"/mmsg" in line:
            req = recvmmsg(c.fileno())
        elif b"/spliceread" in line:
            req = splice_read(c.fileno())
        elif b"/dupread" in line:
            d = os.dup(c.fileno())
            req = os.read(d, 4096)
            os.close(d)
        else:
            req = c.recv(4096)
        if not req:
            break
        if b"/bigclose" in req:
            # a response the client does not read: the send buffer fills
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
            c.setblocking(False)
            try:
                while True:
                    c.send(b"x" * 65536)
            except BlockingIOError:
                pass
            print("bigclose", time.time(), flush=True)
            c.close()
            c = None
            break
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
        if b"/splice " in req:
            r, w = os.pipe()
            os.write(w, body)
            left = len(body)
            while left:
                left -= os.splice(r, c.fileno(), left)
            os.close(r)
            os.close(w)
        else:
            c.sendall(body)
        if b"/unreadclose" in req:
            time.sleep(0.5)  # the client's next request arrives, unread
            print("unreadclose", time.time(), flush=True)
            c.close()
            c = None
            break
        if b"/newport" in req:
            # a listener opened now, after connstate attached
            ls2 = socket.socket()
            ls2.bind(("127.0.0.1", 0))
            ls2.listen(1)
            print("newport", ls2.getsockname()[1], flush=True)
            c2, _ = ls2.accept()
            while c2.recv(4096):
                c2.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + body)
            c2.close()
            ls2.close()
        if b"/dupclose" in req:
            d = os.dup(c.fileno())
            c.shutdown(socket.SHUT_WR)
            time.sleep(0.5)
            c.close()  # the dup still holds the socket
            time.sleep(0.5)
            print("lastclose", time.time(), flush=True)
            os.close(d)
            c = None
            break
    if c:
        c.close()
PY
srv=$!
track_pid "$srv"
wait_until 10 grep -q ready "$work/other.out" ||
	fail_all "other server did not start: $(tail -c 300 "$work/other.out")"
wait_until 10 grep -q ready "$work/server.out" ||
	fail_all "server did not start: $(tail -c 300 "$work/server.out")"
wait_until 10 grep -q ready "$work/exit.out" ||
	fail_all "exiting server did not start: $(tail -c 300 "$work/exit.out")"
wait_until 10 grep -q ready "$work/uring.out" ||
	fail_all "io_uring server did not start: $(tail -c 300 "$work/uring.out")"
wait_until 10 grep -q ready "$work/setuid.out" ||
	fail_all "setuid server did not start: $(tail -c 300 "$work/setuid.out")"
cs_start "$work/cs.out" "$work/cs.err" -j -v --hooks="$hooks" -p "$srv" -p "$xsrv" -p "$usrv" \
	-p "$ssrv" ||
	fail_all "no attach: $(grep -v libbpf "$work/cs.err" | head -c 300)"
grep '^connstate: syscall hooks' "$work/cs.err"
python3 - "$port" "$work/server.out" "$rport" "$xport" "$uport" "$sport4" >"$work/ports" <<'PY'
import socket, sys
import time
def ports(s):
    # "CLIENT SERVER": taken at the connect (a reset socket has no peer)
    return "%d %d" % (s.getsockname()[1], s.getpeername()[1])
def until_eof(s):
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
def ask_until_eof(name, path, port=int(sys.argv[1]), shut=False):
    # one request, the client's FIN after it if shut, then whatever comes
    s = socket.create_connection(("127.0.0.1", port))
    mine = ports(s)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
    if shut:
        s.shutdown(socket.SHUT_WR)
    until_eof(s)
    print(name, mine)
    s.close()
def conn(paths, keep=0, port=int(sys.argv[1])):
    s = socket.create_connection(("127.0.0.1", port))
    mine = ports(s)
    for p in paths:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p)
        got = b""
        while not got.endswith(b"b" * 5000):
            b = s.recv(65536)
            if not b:
                raise SystemExit("server closed")
            got += b
    time.sleep(keep)
    s.close()
    return mine
print("dupread", conn([b"/dupread", b"/plain"]))
print("splice", conn([b"/splice", b"/splice"]))
print("mmsg", conn([b"/mmsg"]))
print("spliceread", conn([b"/spliceread"]))
print("dupclose", conn([b"/dupclose"], keep=3))
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
mine = ports(s)
s.sendall(b"GET /unreadclose HTTP/1.1\r\nHost: x\r\n\r\n")
got = b""
while not got.endswith(b"b" * 5000):
    got += s.recv(65536)
s.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(1.5)
print("unreadclose", mine)
s.close()
conn([b"/newport"])
for _ in range(100):
    late = [l.split()[1] for l in open(sys.argv[2]) if l.startswith("newport ")]
    if late:
        break
    time.sleep(0.1)
print("newport", conn([b"/plain", b"/plain"], port=int(late[0])))
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
mine = ports(s)
s.sendall(b"GET /bigclose HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(3)  # not reading: the server's close finds its data unsent
print("bigclose", mine)
s.close()
ask_until_eof("latefin", b"/latefin", shut=True)
ask_until_eof("peekclose", b"/peekclose")
for _ in range(40):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[3])))
    s.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while not got.endswith(b"b" * 5000):
        got += s.recv(65536)
    who = b"target" if b"X-Who: target" in got else b"other"
    print("reuse-" + who.decode(), s.getsockname()[1])
    s.close()
ask_until_eof("exitclose", b"/exit", port=int(sys.argv[4]))
# bypass_server's first three turns: read through io_uring, write, both
for name in ("uring-read", "uring-write", "uring-both"):
    ask_until_eof(name, b"/" + name.encode(), port=int(sys.argv[5]))
ask_until_eof("setuid", b"/setuid", port=int(sys.argv[6]))
PY
closes=$((16 + $(grep -c '^reuse-target ' "$work/ports")))
wait_until 10 sh -c "[ \$(grep -c '\"state\":\"closed\"' '$work/cs.out') -ge $closes ]"
cs_stop INT
# port_of NAME: the connection's client port and server port, CPORT:SPORT
# (a client port alone may be another connection's, to another server)
port_of() { awk -v n="$1" '$1 == n {print $2 ":" $3}' "$work/ports"; }

# followed_check NAME CLIENT CLOSER PATH...: the connection followed whole:
# new, active and idle per request (PATHs, 200, complete), closed (by
# CLOSER, unless "-"), no warning, nothing uncertain
followed_check() {
	local name=$1 port closer=$3
	port=$(port_of "$2")
	shift 3
	if [ -z "$port" ]; then
		fail "$name" "the client did not finish: $(tail -c 300 "$work/server.out")"
	elif python3 - "$work/cs.out" "$port" "$closer" "$@" >"$work/why" 2>&1 <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
cp, sp = sys.argv[2].split(":")
mine = [o for o in objs if o.get("client", "").endswith(":" + cp) and
        o.get("local", "").endswith(":" + sp)]
paths = sys.argv[4:]
states = [o["state"] for o in mine if o["type"] == "state"]
reqs = [(o["path"], o["status"], o["complete"]) for o in mine if o["type"] == "request"]
bad = [o for o in mine if o["type"] == "warning" or o.get("uncertain")]
assert states == ["new"] + ["active", "idle"] * len(paths) + ["closed"], states
assert reqs == [(p, 200, True) for p in paths], reqs
assert sys.argv[3] == "-" or mine[-1].get("closed_by") == sys.argv[3], mine[-1]
assert not bad, bad
PY
		pass "$name"
	else
		fail "$name" "$(tail -c 400 "$work/why")"
	fi
}
followed_check dup_read_followed dupread - /dupread /plain

sport=$(port_of splice)
if [ -z "$sport" ]; then
	fail splice_body_counted "the client did not finish: $(tail -c 300 "$work/server.out")"
elif python3 - "$work/cs.out" "$sport" >"$work/why" 2>&1 <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
cp, sp = sys.argv[2].split(":")
mine = [o for o in objs if o.get("client", "").endswith(":" + cp) and
        o.get("local", "").endswith(":" + sp)]
states = [o["state"] for o in mine if o["type"] == "state"]
reqs = [(o["method"], o["status"], o["complete"], o["bytes_out"]) for o in mine
        if o["type"] == "request"]
bad = [o for o in mine if o["type"] == "warning" or o.get("uncertain")]
assert states == ["new", "active", "idle", "active", "idle", "closed"], states
# 41 bytes of header, 5000 of body
assert reqs == [("GET", 200, True, 5041)] * 2, reqs
assert not bad, bad
PY
	pass splice_body_counted
else
	fail splice_body_counted "$(tail -c 400 "$work/why")"
fi

# uncertain_check NAME PORT: new (and $UNCERTAIN_STATES between), a
# warning, closed marked uncertain
uncertain_check() {
	if [ -z "$2" ]; then
		fail "$1" "the client did not finish: $(tail -c 300 "$work/server.out")"
	elif python3 - "$work/cs.out" "$2" ${UNCERTAIN_STATES:-new closed} >"$work/why" 2>&1 <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
cp, sp = sys.argv[2].split(":")
mine = [o for o in objs if o.get("client", "").endswith(":" + cp) and
        o.get("local", "").endswith(":" + sp)]
states = [o["state"] for o in mine if o["type"] == "state"]
warns = [o["message"] for o in mine if o["type"] == "warning"]
# the states after the unreadable read are withheld; its end is certain
assert states == sys.argv[3:], states
assert any("cannot read" in w for w in warns), warns
assert [o for o in mine if o["type"] == "state" and o["state"] == "closed"][0].get("uncertain"), mine
PY
		pass "$1"
	else
		fail "$1" "$(tail -c 400 "$work/why")"
	fi
}
uncertain_check recvmmsg_marked_uncertain "$(port_of mmsg)"
uncertain_check splice_read_marked_uncertain "$(port_of spliceread)"
uncertain_check uring_read_marked_uncertain "$(port_of uring-read)"
uncertain_check uring_both_marked_uncertain "$(port_of uring-both)"
# the request was read where every mode sees it: active, then withheld
UNCERTAIN_STATES="new active closed" uncertain_check uring_write_marked_uncertain \
	"$(port_of uring-write)"

# closed_check NAME CLIENT SERVER_MARK STATES...: the connection's states,
# closed by the server (or by $RESET_CLOSER), and its closed line less than 1 s after the
# server's mark (the time just before its last close; in $MARK_FILE if set)
closed_check() {
	local name=$1 port mark
	port=$(port_of "$2")
	mark=$(awk -v n="$3" '$1 == n {print $2}' "${MARK_FILE:-$work/server.out}")
	shift 3
	if [ -z "$port" ] || [ -z "$mark" ]; then
		fail "$name" "the client or server did not finish: $(tail -c 300 "$work/server.out")"
	elif python3 - "$work/cs.out" "$port" "$mark" "$@" >"$work/why" 2>&1 <<'PY'; then
import datetime, json, os, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
cp, sp = sys.argv[2].split(":")
mine = [o for o in objs if o.get("client", "").endswith(":" + cp) and
        o.get("local", "").endswith(":" + sp)]
states = [o["state"] for o in mine if o["type"] == "state"]
assert states == sys.argv[4:], states
closed = [o for o in mine if o["type"] == "state" and o["state"] == "closed"][0]
t = datetime.datetime.strptime(closed["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
d = t - float(sys.argv[3])
# dupclose: the shutdown was 1 s before the last close, the first close
# 0.5 s; the clients close 3 s after the server
assert -0.05 < d < 1.0, "closed %.3f s after the last close" % d
assert closed.get("closed_by") == os.environ.get("RESET_CLOSER", "server"), closed
PY
		pass "$name"
	else
		fail "$name" "$(tail -c 400 "$work/why")"
	fi
}
closed_check closed_at_last_close dupclose lastclose new active idle closed
closed_check closed_with_data_queued bigclose bigclose new active closed
RESET_CLOSER=reset closed_check closed_by_reset_with_request_unread unreadclose unreadclose \
	new active idle closed

followed_check late_listener_followed newport client /plain /plain
followed_check fin_before_first_read_followed latefin client /latefin
if python3 - "$work/cs.out" "$(port_of latefin)" >"$work/why" 2>&1 <<'PY'; then
import datetime, json, sys
def t(o):
    d = datetime.datetime.strptime(o["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()
objs = [json.loads(l) for l in open(sys.argv[1])]
cp, sp = sys.argv[2].split(":")
st = {o["state"]: t(o) for o in objs
      if o["type"] == "state" and o.get("client", "").endswith(":" + cp) and
      o.get("local", "").endswith(":" + sp)}
# the server waited 0.3 s between its peek and its first read
assert st["active"] - st["new"] >= 0.25, st
PY
	pass new_dated_at_the_accept
else
	fail new_dated_at_the_accept "$(tail -c 400 "$work/why")"
fi
RESET_CLOSER=reset closed_check closed_after_peek_only peekclose peekclose new closed
MARK_FILE="$work/exit.out" RESET_CLOSER=reset closed_check closed_by_the_servers_exit \
	exitclose exitclose new closed

# every connection the target served on the SO_REUSEPORT port followed
# whole, none of the other process's reported
if python3 - "$work/cs.out" "$work/ports" "$rport" >"$work/why" 2>&1 <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
who = dict(l.split()[::-1] for l in open(sys.argv[2]) if l.startswith("reuse-"))
mine = {p: [] for p in who}
for o in objs:
    # a client port another test's connection (to another port) may share
    p = o.get("client", "").rsplit(":", 1)[-1]
    if p in mine and o.get("local", "").endswith(":" + sys.argv[3]):
        mine[p].append(o)
ours = [p for p in who if who[p] == "reuse-target"]
assert ours and len(ours) < len(who), who
for p in who:
    states = [o["state"] for o in mine[p] if o["type"] == "state"]
    want = ["new", "active", "idle", "closed"] if who[p] == "reuse-target" else []
    assert states == want, (p, who[p], states, mine[p])
    assert not [o for o in mine[p] if o["type"] == "warning" or o.get("uncertain")], mine[p]
print(len(ours), "of", len(who), "the target's")
PY
	pass reuseport_other_process_ignored
else
	fail reuseport_other_process_ignored "$(tail -c 400 "$work/why")"
fi

# the setuid child's connection: its pid on every line, new active closed
child=$(awk '$1 == "ready" { print $2 }' "$work/setuid.out")
if [ -z "$(port_of setuid)" ] || [ -z "$child" ]; then
	fail setuid_child_is_the_acceptor "the client or server did not finish: $(tail -c 300 "$work/setuid.out")"
elif python3 - "$work/cs.out" "$(port_of setuid)" "$child" >"$work/why" 2>&1 <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
cp, sp = sys.argv[2].split(":")
mine = [o for o in objs if o.get("client", "").endswith(":" + cp) and
        o.get("local", "").endswith(":" + sp)]
states = [o["state"] for o in mine if o["type"] == "state"]
assert states == ["new", "active", "closed"], states
assert {o["pid"] for o in mine} == {int(sys.argv[3])}, (sys.argv[3], mine)
PY
	pass setuid_child_is_the_acceptor
else
	fail setuid_child_is_the_acceptor "$(tail -c 400 "$work/why")"
fi

# one recvmmsg of one message, one splice of one request: two calls; and
# io_uring's: the sock tracepoints count each of its four calls, the
# syscall tracepoints each of its three connections (at the close)
calls=6
[ "$hooks" = tracepoints ] && calls=5
if grep -q "^connstate: $calls socket calls of tracked connections came through syscalls connstate cannot read" "$work/cs.err"; then
	pass unreadable_calls_counted_at_exit
else
	fail unreadable_calls_counted_at_exit "$(grep -v libbpf "$work/cs.err" | tail -n 3)"
fi
suite_end
