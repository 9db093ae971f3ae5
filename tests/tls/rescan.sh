#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# TLS rescan suite (tls_rescan): connstate finds a target's TLS library
# after attach, in a command it starts (-c) and in a library loaded late.
#
# usage: tests/tls/rescan.sh [--connstate PATH] [--go GO] [--keep]
#
# Before the rescan, -c scanned its held child (still connstate's image):
# a bogus "OpenSSL linked into connstate" warning, and the command's libssl
# or Go binary was never probed (its HTTPS connections: new closed).
#
# Checks (connstate -v -j; clients connect once -v names the library):
#   c_python_states        -c python3 https_server.py: one curl --http1.1
#                          keep-alive connection, two requests: new active
#                          idle active idle closed
#   c_python_requests      its request records: GET /index.txt 200 tls:true,
#                          twice, equal to the access log
#   c_python_no_warning    no "warning" line on stderr
#   late_ssl_not_mapped_at_attach  late_ssl_server.py maps no libssl when
#                          connstate attaches, and connstate names none
#   late_ssl_states        after it imports ssl (dlopen of libssl), a
#                          keep-alive connection with two requests: new
#                          active idle active idle closed
#   late_ssl_requests      its request records equal the server's log
#   c_go_states_equal_go   -c the Go oracle server with -tls: keepalive_3's
#                          states equal Go's own ConnState lines
#   c_go_no_warning        no "warning" line on stderr
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
PY=/usr/bin/python3
connstate=./connstate
gocmd=go
keep=0

usage() {
	echo "usage: $0 [--connstate PATH] [--go GO] [--keep]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--connstate) [ $# -ge 2 ] || usage; connstate=$2; shift 2 ;;
	--go) [ $# -ge 2 ] || usage; gocmd=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) usage ;;
	esac
done

suite_begin tls_rescan 8
connstate="$(cd "$(dirname "$connstate")" && pwd)/$(basename "$connstate")"
CS_BIN=$connstate
work=$(mktemp -d "${TMPDIR:-/tmp}/connstate-tlsrescan.XXXXXX")
chmod 755 "$work"
late_pid=""

cleanup() {
	[ -n "$late_pid" ] && kill -KILL "$late_pid" 2>/dev/null
	lib_cleanup
	if [ "$keep" = 1 ] || ! suite_ok; then
		echo "tls_rescan: logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# states OUT CLIENT: the connection's state words (-j), space-separated
states() {
	jq -r --arg c "$2" 'select(.type == "state" and .client == $c) | .state' "$1" |
		paste -sd' ' -
}

# requests OUT CLIENT: "METHOD PATH STATUS tls" per request record
requests() {
	jq -r --arg c "$2" \
		'select(.type == "request" and .client == $c) | "\(.method) \(.path) \(.status) \(.tls)"' "$1"
}

expect() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "want '$2', got '$3'"
	fi
}

no_warning() {
	if grep -q 'warning' "$2"; then
		fail "$1" "$(grep warning "$2" | head -n 2)"
	else
		pass "$1"
	fi
}

following() { grep -q '^connstate: following TLS through .*libssl\.so' "$1"; }
# track_command ERR: -c's command (exec'd, so connstate's child) is killed at cleanup
track_command() {
	local p
	p=$(sed -n 's/^connstate: attached .* (pid \([0-9]*\))$/\1/p' "$1")
	[ -n "$p" ] && track_pid "$p"
}
closed() { [[ "$(states "$1" "$2")" == *closed ]]; }

if ! openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
	-days 2 -subj /CN=localhost >/dev/null 2>&1; then
	fail tls_certificate "openssl req failed"
fi
mkdir -p "$work/www"
echo 'connstate rescan test' >"$work/www/index.txt"

# ------------------------------------------------------- -c python3 + ssl
d=$work/cpy
mkdir -p "$d"
if cs_start "$d/cs.out" "$d/cs.err" -v -j -c "exec $PY $here/https_server.py \
	--cert $work/cert.pem --key $work/key.pem --directory $work/www \
	>$d/server.out 2>$d/access.log" && track_command "$d/cs.err" &&
	wait_until 10 grep -q '^listening' "$d/server.out" && wait_until 5 following "$d/cs.err"; then
	port=$(awk '/^listening/ { print $2 }' "$d/server.out")
	ka=$(curl -sk --http1.1 -o /dev/null -o /dev/null -w '%{local_port}\n' \
		"https://127.0.0.1:$port/index.txt" "https://127.0.0.1:$port/index.txt" | sort -u)
	wait_until 5 closed "$d/cs.out" "127.0.0.1:$ka"
	cs_stop
	expect c_python_states "new active idle active idle closed" \
		"$(states "$d/cs.out" "127.0.0.1:$ka")"
	log=$(awk -v c="127.0.0.1:$ka" '$1 == c { print $6, $7, $9, "true" }' "$d/access.log" |
		tr -d '"')
	if [ "$log" = $'GET /index.txt 200 true\nGET /index.txt 200 true' ]; then
		expect c_python_requests "$log" "$(requests "$d/cs.out" "127.0.0.1:$ka")"
	else
		fail c_python_requests "the access log does not hold the two requests: '$log'"
	fi
	no_warning c_python_no_warning "$d/cs.err"
else
	fail c_python_states "server or connstate did not start, or no libssl followed: $(grep -v libbpf "$d/cs.err" | tail -n 3)"
	fail c_python_requests "not run"
	fail c_python_no_warning "not run"
fi

# ------------------------------------------- libssl loaded after attach
d=$work/late
mkdir -p "$d"
"$PY" "$here/late_ssl_server.py" --cert "$work/cert.pem" --key "$work/key.pem" \
	--trigger "$d/go" >"$d/server.out" 2>"$d/access.log" &
late_pid=$!
if wait_until 5 grep -q '^libssl mapped' "$d/server.out" &&
	cs_start "$d/cs.out" "$d/cs.err" -v -j -p "$late_pid"; then
	if grep -qx 'libssl mapped: False' "$d/server.out" && ! grep -q 'libssl' "$d/cs.err"; then
		pass late_ssl_not_mapped_at_attach
	else
		fail late_ssl_not_mapped_at_attach "$(cat "$d/server.out"; grep libssl "$d/cs.err")"
	fi
	touch "$d/go"
	if wait_until 5 grep -q '^listening' "$d/server.out" && wait_until 5 following "$d/cs.err"; then
		port=$(awk '/^listening/ { print $2 }' "$d/server.out")
		ka=$(curl -sk --http1.1 -o /dev/null -o /dev/null -w '%{local_port}\n' \
			"https://127.0.0.1:$port/a" "https://127.0.0.1:$port/b" | sort -u)
		wait_until 5 closed "$d/cs.out" "127.0.0.1:$ka"
		cs_stop
		expect late_ssl_states "new active idle active idle closed" \
			"$(states "$d/cs.out" "127.0.0.1:$ka")"
		log=$(awk -v c="127.0.0.1:$ka" '$1 == c { print $2, $3, $4, "true" }' "$d/access.log")
		if [ "$log" = $'GET /a 200 true\nGET /b 200 true' ]; then
			expect late_ssl_requests "$log" "$(requests "$d/cs.out" "127.0.0.1:$ka")"
		else
			fail late_ssl_requests "the server's log does not hold the two requests: '$log'"
		fi
	else
		fail late_ssl_states "libssl loaded late was not followed: $(grep -v libbpf "$d/cs.err" | tail -n 3)"
		fail late_ssl_requests "not run"
	fi
else
	fail late_ssl_not_mapped_at_attach "server or connstate did not start: $(tail -n 3 "$d/cs.err")"
	fail late_ssl_states "not run"
	fail late_ssl_requests "not run"
fi
kill -KILL "$late_pid" 2>/dev/null
wait "$late_pid" 2>/dev/null
late_pid=""

# --------------------------------------------------- -c Go's crypto/tls
d=$work/cgo
mkdir -p "$d"
for b in server client; do
	(cd "$root/tests/oracle" && CGO_ENABLED=0 "$gocmd" build -trimpath -buildvcs=false \
		-o "$d/$b" "./$b") || fail go_build "$gocmd build $b failed"
done
if [ -x "$d/server" ] && cs_start "$d/cs.out" "$d/cs.err" -v -c "exec $d/server -tls \
	-addr 127.0.0.1:0 >$d/go.out 2>$d/go.err" && track_command "$d/cs.err" &&
	wait_until 10 grep -q '^listening ' "$d/go.err" &&
	wait_until 10 grep -q "^connstate: following Go's crypto/tls in $d/server" "$d/cs.err"; then
	addr=$(sed -n 's/^listening //p' "$d/go.err")
	a=$("$d/client" -tls -addr "$addr" -scenario keepalive_3 | sed -n 's/^conn //p')
	want="new active idle active idle active idle closed"
	gostates() {
		awk -v p="Client: $2 - new state: " \
			'index($0, p) == 1 { printf "%s%s", s, substr($0, length(p) + 1); s = " " }' "$1"
	}
	wait_until 5 eval '[ "$(gostates "$d/cs.out" "$a")" = "$want" ]'
	cs_stop
	got=$(gostates "$d/cs.out" "$a")
	gosays=$(gostates "$d/go.out" "$a")
	if [ -n "$a" ] && [ "$gosays" = "$want" ] && [ "$got" = "$want" ]; then
		pass c_go_states_equal_go
	else
		fail c_go_states_equal_go "$a: Go '$gosays', connstate '$got'"
	fi
	no_warning c_go_no_warning "$d/cs.err"
else
	fail c_go_states_equal_go "server or connstate did not start, or crypto/tls not followed: $(grep -v libbpf "$d/cs.err" | tail -n 3)"
	fail c_go_no_warning "not run"
fi

suite_end
