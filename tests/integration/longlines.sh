#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Request lines longer than the 4 KiB the kernel copies of a read, against
# nginx, which reads them whole in one recv of up to 128 KiB (Go reads
# 4 KiB at a time, so the oracle never meets this): the kernel must send such
# a read in pieces so the header block has no hole. Per connection, exact
# states and request records, no warning, nothing uncertain.
#
# usage: tests/integration/longlines.sh [--connstate PATH]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/lib.sh"
[ "${1:-}" = --connstate ] && CS_BIN=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/longlines.XXXXXX")
trap 'lib_cleanup; rm -rf "$work"' EXIT

suite_begin longlines 4

d=$work/nginx
if ! nginx_start "$d" 1 '$remote_port $request_method $status $request_length' \
	'large_client_header_buffers 4 128k;'; then
	for c in line_8k line_64k line_64k_pipelined header_60k; do fail "$c" "nginx did not start"; done
	suite_end
	exit
fi
echo hello >"$d/www/index.html"
if ! cs_start "$work/cs.out" "$work/cs.err" -j -p "$NGINX_PID"; then
	for c in line_8k line_64k line_64k_pipelined header_60k; do fail "$c" "no attach"; done
	suite_end
	exit
fi
# one connection per case; its client port names it in connstate's output
python3 - "$NGINX_PORT" >"$work/ports" <<'PY'
import socket, sys
port = int(sys.argv[1])
def get(q):
    return b"GET /?q=" + b"q" * q + b" HTTP/1.1\r\nHost: x\r\n\r\n"
short = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
big_head = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
    b"X-H%d: %s\r\n" % (i, b"v" * 990) for i in range(60)) + b"\r\n"
cases = [("line_8k", [get(8200), short]), ("line_64k", [get(64000), short]),
         ("line_64k_pipelined", [get(64000) + short]), ("header_60k", [big_head, short])]
for name, writes in cases:
    s = socket.create_connection(("127.0.0.1", port))
    want = sum(w.count(b"HTTP/1.1\r\n") for w in writes)
    got = b""
    def until(n):  # n answers read, or the server closed
        global got
        while got.count(b"HTTP/1.1 ") < n:
            b = s.recv(65536)
            if not b:
                break
            got += b
    got = b""
    for i, w in enumerate(writes):
        s.sendall(w)
        if len(writes) > 1:  # each answer before the next request
            until(i + 1)
    until(want)
    print(name, s.getsockname()[1], got.count(b"HTTP/1.1 200"))
    s.close()
PY
wait_until 10 sh -c "[ \$(grep -c '\"state\":\"closed\"' '$work/cs.out') -ge 4 ]"
cs_stop INT
while read -r name cport oks; do
	if python3 - "$work/cs.out" "$cport" >"$work/why" 2>&1 <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
mine = [o for o in objs if o.get("client", "").endswith(":" + sys.argv[2])]
states = [o["state"] for o in mine if o["type"] == "state"]
reqs = [(o["method"], o["status"], o["complete"]) for o in mine if o["type"] == "request"]
bad = [o for o in mine if o["type"] == "warning" or o.get("uncertain")]
assert states == ["new", "active", "idle", "active", "idle", "closed"], states
assert reqs == [("GET", 200, True)] * 2, reqs
assert not bad, bad
PY
		pass "$name"
	else
		fail "$name" "$oks answers of 200 from nginx; $(tail -c 400 "$work/why")"
	fi
done <"$work/ports"
suite_end
