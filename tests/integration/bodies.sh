#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Long bodies framed by Content-Length go uncopied (struct cs_skip): once
# connstate has read a head, it tells the kernel where the body ends, and
# the reads and writes wholly inside it are sent counted, not copied. Here
# clients that take 4 MiB bodies at about 20 MB/s (as a remote client
# would, over many round trips) against nginx (downloads, the body written
# with writev: sendfile off; and over TLS, its plaintext followed through
# libssl) and a python server (uploads): per connection,
# exact states, request records and byte counts, nothing uncertain, and
# the next head after an uncopied body framed exactly (in a read or
# write of its own, or one that also ends the body); then that at least a
# quarter of the bodies' reads and writes went uncopied (most do; the count
# depends on when connstate's reader ran, so it is a floor with room, not
# an exact figure).
# Over TLS, also that the socket's ciphertext calls are not sent one event
# each: the connection's events are its plaintext's and a few more.
# With BODIES_HOOKS=tracepoints, under the syscall tracepoints (suite
# bodies_tracepoints).
#
# usage: tests/integration/bodies.sh [--connstate PATH]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/lib.sh"
[ "${1:-}" = --connstate ] && CS_BIN=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/bodies.XXXXXX")
trap 'lib_cleanup; rm -rf "$work"' EXIT

BODY=$((4 << 20))
DOWN_CASES="download_twice download_then_pipelined"
UP_CASES="upload_twice"
TLS_CASES="tls_download_twice"
hooks=${BODIES_HOOKS:-auto}
if [ "$hooks" = auto ]; then
	suite_begin bodies 8
else
	suite_begin "bodies_$hooks" 8
fi

# the client: one connection per case, reading (or sending) 64 KiB every
# 3 ms through small socket buffers; prints "NAME CLIENT_PORT HEAD_BYTES..."
cat >"$work/client.py" <<'PY'
import socket, ssl, sys, time
port, body, cases = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
def conn(tls):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    s.connect(("127.0.0.1", port))
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    return s
def responses(s, n):
    """Reads n responses slowly; returns their head lengths."""
    buf, heads = b"", []
    while len(heads) < n:
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, buf = buf.split(b"\r\n\r\n", 1)
        heads.append(len(head) + 4)
        length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length:")][0])
        while len(buf) < length:
            b = s.recv(65536)
            if not b:
                raise SystemExit("server closed mid-body")
            buf += b
            time.sleep(0.003)
        buf = buf[length:]
    return heads
get = lambda p: b"GET " + p + b" HTTP/1.1\r\nHost: x\r\n\r\n"
for name in cases:
    s = conn(name.startswith("tls_"))
    me = s.getsockname()[1]
    if name in ("download_twice", "tls_download_twice"):
        s.sendall(get(b"/big.bin"))
        heads = responses(s, 1)
        s.sendall(get(b"/big.bin"))
        heads += responses(s, 1)
    elif name == "download_then_pipelined":
        s.sendall(get(b"/big.bin") + get(b"/small"))
        heads = responses(s, 2)
    elif name == "upload_twice":
        heads = []
        for _ in range(2):
            s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % body)
            chunk = b"u" * 65536
            for _ in range(body // len(chunk)):
                s.sendall(chunk)
                time.sleep(0.003)
            heads += responses(s, 1)
    s.close()
    print(name, me, *heads, flush=True)
PY

# the python server: reads an upload's body whole (reads of up to 64 KiB),
# then answers
cat >"$work/server.py" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        left = int(self.headers["Content-Length"])
        while left:
            b = self.rfile.read(min(left, 65536))
            if not b:
                return
            left -= len(b)
        self.reply(b"got it\n")
    def log_message(self, *a):
        pass
with ThreadingHTTPServer(("127.0.0.1", 0), H) as srv:
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
PY

# check OUT CPORT NAME HEAD... : exact states, requests and bytes
check() {
	local out=$1 cport=$2 name=$3
	shift 3
	if python3 - "$out" "$cport" "$name" "$BODY" "$@" >"$work/why" 2>&1 <<'PY'; then
import json, sys
out, cport, name, body = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
heads = [int(h) for h in sys.argv[5:]]
objs = [json.loads(l) for l in open(out)]
mine = [o for o in objs if o.get("client", "").endswith(":" + cport)]
states = [o["state"] for o in mine if o["type"] == "state"]
reqs = [(o["method"], o["status"], o["complete"], o["bytes_in"], o["bytes_out"])
        for o in mine if o["type"] == "request"]
bad = [o for o in mine if o["type"] == "warning" or o.get("uncertain")]
get_in = len(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
small_in = len(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
if name in ("download_twice", "tls_download_twice"):
    want = [("GET", 200, True, get_in, heads[0] + body), ("GET", 200, True, get_in, heads[1] + body)]
elif name == "download_then_pipelined":
    want = [("GET", 200, True, get_in, heads[0] + body), ("GET", 200, True, small_in, heads[1] + 6)]
else:
    post_in = len(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % body) + body
    want = [("POST", 200, True, post_in, heads[0] + 7), ("POST", 200, True, post_in, heads[1] + 7)]
assert states == ["new", "active", "idle", "active", "idle", "closed"], states
assert reqs == want, (reqs, want)
assert not bad, bad
PY
		pass "$name"
	else
		fail "$name" "$(tail -c 600 "$work/why")"
	fi
}

# uncopied ERR FLOOR NAME: the exit summary's count of uncopied reads and writes
uncopied() {
	local n
	n=$(sed -n 's/.* \([0-9]*\) body reads and writes not copied.*/\1/p' "$1")
	echo "$3: ${n:-no} reads and writes not copied (floor $2)"
	if [ "${n:-0}" -ge "$2" ]; then
		pass "$3"
	else
		fail "$3" "${n:-no} uncopied reads and writes, want at least $2: $(tail -c 300 "$1")"
	fi
}

# run NAME PORT TARGET FLOOR CASE...: connstate on TARGET, writing
# $work/NAME.out and .err; the client's CASE connections to PORT; then each
# case checked, and the uncopied count against FLOOR (check NAME_mostly_uncopied)
run() {
	local name=$1 port=$2 target=$3 floor=$4 c line cport heads
	shift 4
	if ! cs_start "$work/$name.out" "$work/$name.err" -j --hooks="$hooks" -p "$target"; then
		for c in "$@" "${name}_mostly_uncopied"; do fail "$c" "no attach"; done
		return 1
	fi
	python3 "$work/client.py" "$port" "$BODY" "$@" >"$work/$name.ports" 2>"$work/client.err"
	wait_until 10 sh -c "[ \$(grep -c '\"state\":\"closed\"' '$work/$name.out') -ge $# ]"
	cs_stop INT
	for c in "$@"; do
		line=$(grep "^$c " "$work/$name.ports")
		if [ -z "$line" ]; then
			fail "$c" "the client failed: $(tail -c 300 "$work/client.err")"
			continue
		fi
		read -r _ cport heads <<<"$line"
		# shellcheck disable=SC2086  # heads: one word per response
		check "$work/$name.out" "$cport" "$c" $heads
	done
	uncopied "$work/$name.err" "$floor" "${name}_mostly_uncopied"
}

# downloads: nginx writes each 4 MiB body in writev calls of up to 32 KiB
# as the client's 64 KiB window opens; three bodies, at least 128 writes
# each: a quarter of them uncopied at least
d=$work/nginx
head -c "$BODY" /dev/urandom >"$work/big.bin"
if nginx_start "$d" 1 '$remote_port $status' 'sendfile off;' 'sndbuf=64k'; then
	cp "$work/big.bin" "$d/www/big.bin"
	printf 'small\n' >"$d/www/small"
	chmod 644 "$d/www/big.bin" "$d/www/small"
	run downloads "$NGINX_PORT" "$NGINX_PID" 96 $DOWN_CASES
else
	for c in $DOWN_CASES downloads_mostly_uncopied; do fail "$c" "nginx did not start"; done
fi
nginx_stop

# over TLS: nginx writes the body with SSL_write, 16 KiB a call
# (ssl_buffer_size), and connstate follows the plaintext through libssl's
# uprobes; the same client, through python's ssl. Two bodies: at least 128
# calls uncopied. And the socket's ciphertext calls send one event (the
# first: the connection is TLS), not one each: the events are the
# plaintext's (2 requests, the SSL_writes) and at most 12 more (the
# ACCEPT, that first one, the end).
d=$work/nginx_tls
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
	-days 1 -subj /CN=localhost >/dev/null 2>&1 &&
	chmod 644 "$work/key.pem" "$work/cert.pem" &&
	nginx_start "$d" 1 '$remote_port $status' \
		"sendfile off; ssl_buffer_size 16k; ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;" \
		'ssl sndbuf=64k'; then
	cp "$work/big.bin" "$d/www/big.bin"
	chmod 644 "$d/www/big.bin"
	if run tls_downloads "$NGINX_PORT" "$NGINX_PID" 128 $TLS_CASES &&
		read -r _ _ h1 h2 < <(grep "^tls_download_twice " "$work/tls_downloads.ports"); then
		events=$(sed -n 's/.* requests, \([0-9]*\) events,.*/\1/p' "$work/tls_downloads.err")
		plain=$((2 + (h1 + BODY + 16383) / 16384 + (h2 + BODY + 16383) / 16384))
		if [ "${events:-0}" -gt 0 ] && [ "$events" -le $((plain + 12)) ]; then
			pass tls_ciphertext_not_sent
		else
			fail tls_ciphertext_not_sent "${events:-no} events, want $plain plaintext events and at most 12 more"
		fi
	else
		fail tls_ciphertext_not_sent "no attach, or the client failed"
	fi
else
	for c in $TLS_CASES tls_downloads_mostly_uncopied tls_ciphertext_not_sent; do
		fail "$c" "openssl req or nginx failed"
	done
fi
nginx_stop

# uploads: the python server reads each 4 MiB body 64 KiB at a time; two
# bodies of 64 reads: a quarter of them uncopied at least
python3 "$work/server.py" >"$work/py.port" 2>"$work/py.err" &
py=$!
track_pid "$py"
wait_until 10 test -s "$work/py.port"
port=$(head -1 "$work/py.port")
if [ -n "$port" ]; then
	run uploads "$port" "$py" 32 $UP_CASES
else
	for c in $UP_CASES uploads_mostly_uncopied; do fail "$c" "python server did not start"; done
fi
suite_end
