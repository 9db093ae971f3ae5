#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Go TLS suite (tls_go): what happens around connstate's crypto/tls probes
# that the oracle (tests/oracle/run_tls.sh) does not show. The target is the
# oracle server with -tls, built with Debian's go (or --go GO).
#
# usage: tests/tls/go.sh [--connstate PATH] [--go GO] [--keep]
#
# Checks:
#   go_verbose_names_version      -v: "following Go's crypto/tls in PATH (goX, N uprobes)"
#   go_keepalive_followed         keepalive_3 over TLS: connstate's states equal Go's
#   go_second_instance_finds_all  a second connstate on the same server, the first
#                                 attached: the same number of uprobes, no warning
#                                 (the first's breakpoints are in every mapping of
#                                 the file; the code must be read from the file)
#   go_exit_leaves_nothing        the server killed while attached: connstate exits
#                                 0 saying every target exited, no go_* program left
#                                 (within 15 s: a child detaches them after the exit)
#   go_stripped_one_warning       a -ldflags='-s -w' build: exactly one warning line,
#                                 naming crypto/tls.(*Conn).Read
#   go_stripped_stays_opaque      its keep-alive connection: "new closed" (the TLS
#                                 bytes are not guessed at), Go says new active idle closed
#   go_stripped_no_crash          connstate then stops cleanly (exit 0)
#   go_plain_server_no_warning    a net/http server that serves no TLS (crypto/tls
#                                 linked, its server handshake not): no warning;
#                                 -v says there is no TLS to follow
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
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

suite_begin tls_go 8
connstate="$(cd "$(dirname "$connstate")" && pwd)/$(basename "$connstate")"
CS_BIN=$connstate
work=$(mktemp -d "${TMPDIR:-/tmp}/connstate-tlsgo.XXXXXX")
srv_pid=""

cleanup() {
	[ -n "$srv_pid" ] && kill -TERM "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	lib_cleanup
	if [ "$keep" = 1 ] || ! suite_ok; then
		echo "tls_go: logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# states FILE ADDR: ADDR's state words, space-separated
states() {
	awk -v p="Client: $2 - new state: " 'index($0, p) == 1 { printf "%s%s", s, substr($0, length(p) + 1); s = " " }' "$1"
}

# start_server BIN: the server with -tls, its lines in BIN.out; sets
# srv_pid and addr
start_server() {
	"$1" -tls -addr 127.0.0.1:0 >"$1.out" 2>"$1.err" &
	srv_pid=$!
	wait_until 5 grep -qs '^listening ' "$1.err"
	addr=$(sed -n 's/^listening //p' "$1.err")
	[ -n "$addr" ]
}

# client SCENARIO: runs it over TLS, prints the client address
client() {
	"$work/client" -tls -addr "$addr" -scenario "$1" | sed -n 's/^conn //p'
}

no_go_progs() { ! bpftool prog show 2>/dev/null | grep -qE 'name (go_read_enter|go_read_ret|go_park)'; }

for b in server client; do
	(cd "$root/tests/oracle" && CGO_ENABLED=0 "$gocmd" build -trimpath -buildvcs=false \
		-o "$work/$b" "./$b") || { fail go_build "$gocmd build $b failed"; suite_end; exit 1; }
done
(cd "$root/tests/oracle" && CGO_ENABLED=0 "$gocmd" build -trimpath -buildvcs=false \
	-ldflags='-s -w' -o "$work/server-stripped" ./server) ||
	{ fail go_build "$gocmd build -ldflags='-s -w' server failed"; suite_end; exit 1; }
mkdir "$work/plain"
cat >"$work/plain/main.go" <<'GO'
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Fprintln(os.Stderr, "listening", ln.Addr())
	http.Serve(ln, http.FileServer(http.Dir(".")))
}
GO
(cd "$work/plain" && CGO_ENABLED=0 GO111MODULE=off "$gocmd" build -o "$work/server-plain" main.go) ||
	{ fail go_build "$gocmd build of a plain net/http server failed"; suite_end; exit 1; }

# ------------------------------------------------------------ with symbols
if start_server "$work/server" && cs_start "$work/cs.out" "$work/cs.err" -v -p "$srv_pid"; then
	if grep -qE "^connstate: following Go's crypto/tls in $work/server \(go1\.[0-9]+[^,]*, [0-9]+ uprobes\)$" "$work/cs.err"; then
		pass go_verbose_names_version
	else
		fail go_verbose_names_version "$(grep -i 'tls\|go' "$work/cs.err" | head -n 3)"
	fi
	a=$(client keepalive_3)
	want="new active idle active idle active idle closed"
	wait_until 5 eval '[ "$(states "$work/cs.out" "$a")" = "$want" ]'
	got=$(states "$work/cs.out" "$a")
	gosays=$(states "$work/server.out" "$a")
	if [ -n "$a" ] && [ "$gosays" = "$want" ] && [ "$got" = "$want" ]; then
		pass go_keepalive_followed
	else
		fail go_keepalive_followed "$a: Go '$gosays', connstate '$got'"
	fi
	# a second instance while the first's uprobes are in place
	"$connstate" -v -p "$srv_pid" >/dev/null 2>"$work/cs2.err" &
	cs2=$!
	track_pid "$cs2"
	wait_until 30 grep -q 'connstate: attached' "$work/cs2.err"
	kill -INT "$cs2" 2>/dev/null
	wait "$cs2" 2>/dev/null
	n1=$(sed -n "s/^connstate: following Go's crypto\/tls in .* (.*, \([0-9]*\) uprobes)$/\1/p" "$work/cs.err")
	n2=$(sed -n "s/^connstate: following Go's crypto\/tls in .* (.*, \([0-9]*\) uprobes)$/\1/p" "$work/cs2.err")
	if [ -n "$n1" ] && [ "$n1" = "$n2" ] && ! grep -q warning "$work/cs2.err"; then
		pass go_second_instance_finds_all
	else
		fail go_second_instance_finds_all "first ${n1:-no} uprobes, second ${n2:-no}: $(grep -v '^libbpf' "$work/cs2.err" | grep -i 'warning\|tls' | head -n 2)"
	fi
	# the target exits while the uprobes are attached
	kill -KILL "$srv_pid"
	wait "$srv_pid" 2>/dev/null
	srv_pid=""
	# detaching ~50 uprobes takes seconds (about 90 ms each here): a child
	# of connstate does it once connstate has exited
	if wait_until 15 eval '! kill -0 "$CS_PID" 2>/dev/null' && wait "$CS_PID" &&
		grep -q 'every target process has exited' "$work/cs.err" && wait_until 15 no_go_progs; then
		pass go_exit_leaves_nothing
	else
		fail go_exit_leaves_nothing \
			"connstate still running, failed, or go_* programs left: $(tail -n 3 "$work/cs.err")"
	fi
else
	fail go_verbose_names_version "server or connstate did not start: $(tail -n 3 "$work/cs.err" "$work/server.err" 2>/dev/null)"
fi

# ------------------------------------------- a Go server that serves no TLS
"$work/server-plain" >/dev/null 2>"$work/plain.err" &
plain_pid=$!
wait_until 5 grep -qs '^listening ' "$work/plain.err"
if cs_start "$work/cs3.out" "$work/cs3.err" -p "$plain_pid"; then
	cs_stop INT
	timeout 10 "$CS_BIN" -v -p "$plain_pid" >/dev/null 2>"$work/cs3v.err" &
	v=$!
	wait_until 10 grep -q '^connstate: attached' "$work/cs3v.err"
	kill -INT "$v"
	wait "$v"
	if ! grep -q warning "$work/cs3.err" &&
		grep -qE "^connstate: $work/server-plain \(pid $plain_pid, go1\.[0-9.]*\) has no TLS server code" "$work/cs3v.err"; then
		pass go_plain_server_no_warning
	else
		fail go_plain_server_no_warning "$(grep -h 'warning\|TLS' "$work/cs3.err" "$work/cs3v.err" | head -n 3)"
	fi
else
	fail go_plain_server_no_warning "connstate did not start: $(tail -n 3 "$work/cs3.err")"
fi
kill "$plain_pid" 2>/dev/null
wait "$plain_pid" 2>/dev/null

# ---------------------------------------------------------------- stripped
if [ -n "$srv_pid" ]; then kill -TERM "$srv_pid"; wait "$srv_pid" 2>/dev/null; srv_pid=""; fi
if start_server "$work/server-stripped" &&
	cs_start "$work/cs2.out" "$work/cs2.err" -p "$srv_pid"; then
	n=$(grep -c '^connstate: warning: .*crypto/tls' "$work/cs2.err")
	if [ "$n" = 1 ] && grep -q "^connstate: warning: $work/server-stripped (pid $srv_pid, go1\.[0-9.]*) lacks crypto/tls\.(\*Conn)\.Read, .*cannot be followed$" "$work/cs2.err"; then
		pass go_stripped_one_warning
	else
		fail go_stripped_one_warning "$n warning lines: $(grep warning "$work/cs2.err" | head -n 3)"
	fi
	a=$(client keepalive_1)
	wait_until 5 eval '[ "$(states "$work/cs2.out" "$a")" = "new closed" ]'
	got=$(states "$work/cs2.out" "$a")
	gosays=$(states "$work/server-stripped.out" "$a")
	if [ -n "$a" ] && [ "$gosays" = "new active idle closed" ] && [ "$got" = "new closed" ]; then
		pass go_stripped_stays_opaque
	else
		fail go_stripped_stays_opaque "$a: Go '$gosays', connstate '$got'"
	fi
	if cs_stop && kill -0 "$srv_pid" 2>/dev/null; then
		pass go_stripped_no_crash
	else
		fail go_stripped_no_crash "connstate exit non-zero or the server died: $(tail -n 2 "$work/cs2.err")"
	fi
else
	fail go_stripped_one_warning "server or connstate did not start: $(tail -n 3 "$work/cs2.err" "$work/server-stripped.err" 2>/dev/null)"
fi

suite_end
