#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# nginx_tls.sh CONNSTATE CLIENT CERT KEY - runs inside a VM (vmtest.sh puts
# it at /oracle/nginx_tls.sh): connstate follows nginx's OpenSSL (libssl.so.3,
# dynamically linked, copied in with nginx) with uprobes. The oracle client
# (-tls) sends three requests on one keep-alive connection; connstate's
# states for it must be Go's for the same traffic, and it must tell three
# requests answered 200. Ends with "nginx_tls: N passed, M failed".
#
# The VM is the test's alone, so nginx listens on a fixed port there
# (NGINX_TLS_PORT, 8443); elsewhere give it a free one.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
# shellcheck disable=SC2034  # lib.sh's cs_start runs CS_BIN
CS_BIN=${1:?usage: nginx_tls.sh CONNSTATE CLIENT CERT KEY}
client=${2:?}
cert=${3:?}
key=${4:?}
port=${NGINX_TLS_PORT:-8443}
suite_begin nginx_tls 4

work=$(mktemp -d)
ngx=''
cleanup() {
	[ -n "$ngx" ] && kill -TERM -- "-$ngx" 2>/dev/null
	lib_cleanup
	rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/nginx.conf" <<EOF
user root root;
worker_processes 1;
daemon off;
pid $work/nginx.pid;
events { worker_connections 64; }
http {
	access_log $work/access.log;
	client_body_temp_path $work/body;
	proxy_temp_path $work/proxy;
	fastcgi_temp_path $work/fastcgi;
	uwsgi_temp_path $work/uwsgi;
	scgi_temp_path $work/scgi;
	server {
		listen 127.0.0.1:$port ssl;
		ssl_certificate $cert;
		ssl_certificate_key $key;
		location / { return 200 "hello\n"; }
	}
}
EOF
# its own session, so that the master and its worker stop together;
# -e: the compiled-in error log's directory does not exist here
setsid nginx -e stderr -p "$work" -c "$work/nginx.conf" >"$work/nginx.out" 2>&1 &
ngx=$!
up() { grep -q ":$(printf %04X "$port") 00000000:0000 0A" /proc/net/tcp; }
if ! wait_until 10 up; then
	fail "nginx starts" "$(head -c 300 "$work/nginx.out")"
	suite_end
	exit 1
fi
pass "nginx starts"

if ! cs_start "$work/cs.out" "$work/cs.err" -v -p "$ngx"; then
	for c in "libssl uprobes attached" "keepalive_3 states" "three requests"; do
		fail "$c" "connstate did not attach: $(head -c 300 "$work/cs.err")"
	done
	suite_end
	exit 1
fi
line=$(grep '^connstate: following TLS through .*/libssl\.so\.[0-9.]* in pid [0-9]* ([1-9][0-9]* uprobes' \
	"$work/cs.err")
if [ -n "$line" ]; then
	pass "libssl uprobes attached: ${line#connstate: }"
else
	fail "libssl uprobes attached" "$(grep -i 'tls\|ssl\|uprobe' "$work/cs.err" | head -c 400)"
fi

"$client" -tls -addr "127.0.0.1:$port" -scenario keepalive_3 >"$work/client.out" 2>&1
a=$(sed -n 's/^conn //p' "$work/client.out")
# connstate tells closed once nginx closes its side: wait for that line
closed() { grep -q "^Client: $a - new state: closed" "$work/cs.out"; }
wait_until 10 closed
cs_stop
got=$(sed -n "s/^Client: $a - new state: //p" "$work/cs.out" | tr '\n' ' ')
want="new active idle active idle active idle closed "
if [ -n "$a" ] && [ "$got" = "$want" ]; then
	pass "keepalive_3 states: ${got% }"
else
	fail "keepalive_3 states" "client '$(head -c 200 "$work/client.out")', want '$want', got '$got'"
fi
n=$(grep -c "^Client: $a - request: GET / HTTP/1.1 -> 200," "$work/cs.out")
if [ -n "$a" ] && [ "$n" = 3 ]; then
	pass "three requests"
else
	fail "three requests" "$n request lines: $(grep -c . "$work/cs.out") lines of output"
fi
suite_end
