#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# HTTP/2 oracle: drive h2client's scenarios at h2server (x/net/http2, h2c)
# and check, per client connection, that Go's ConnState lines equal
# expected_h2.txt and (with --connstate) that connstate prints the same.
# With --tls (suite oracle_h2tls) both speak HTTP/2 over crypto/tls with
# ALPN h2 (net/http's own HTTP/2 server), the h2c upgrade is left out, the
# tls_* scenarios are added, and expected_h2tls.txt is the reference;
# connstate then follows the server's crypto/tls with uprobes.
#
# usage: run_h2.sh [--tls] [--connstate PATH] [--bin DIR] [--no-build] [--expected FILE]
#                  [--repeat N] [--keep] [scenario...]
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"

connstate=""
bindir="$root/.output/oracle-h2"
build=1
keep=0
repeat=1
expected=""
scenarios=()
tlsflag=()
suite=oracle_h2

usage() {
	echo "usage: $0 [--tls] [--connstate PATH] [--bin DIR] [--no-build] [--expected FILE] [--repeat N] [--keep] [scenario...]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--connstate) [ $# -ge 2 ] || usage; connstate=$2; shift 2 ;;
	--bin) [ $# -ge 2 ] || usage; bindir=$2; shift 2 ;;
	--no-build) build=0; shift ;;
	--tls) tlsflag=(-tls); suite=oracle_h2tls; shift ;;
	--expected) [ $# -ge 2 ] || usage; expected=$2; shift 2 ;;
	--repeat) [ $# -ge 2 ] || usage; repeat=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) usage ;;
	-*) echo "unknown option $1" >&2; usage ;;
	*) scenarios+=("$1"); shift ;;
	esac
done
case "$bindir" in /*) ;; *) bindir="$PWD/$bindir" ;; esac
[ -n "$expected" ] || expected="$here/expected_h2${tlsflag:+tls}.txt"
case "$repeat" in '' | *[!0-9]* | 0) echo "$suite: --repeat needs a count >= 1" >&2; exit 2 ;; esac

die() {
	echo "$suite: $*" >&2
	echo "$suite: 0 passed, 1 failed"
	_failed=1 # keeps the logs
	exit 1
}

server_pid=""
work=$(mktemp -d "${TMPDIR:-/tmp}/oracle_h2.XXXXXX") || die "mktemp failed"
cleanup() {
	[ -n "$connstate" ] && [ -n "${CS_PID:-}" ] && cs_stop INT 2>/dev/null
	# TERM and reap the server here, so bash does not report it killed
	if [ -n "${server_pid:-}" ]; then
		kill -TERM "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	lib_cleanup
	if [ "$keep" = 1 ] || [ "$_failed" != 0 ]; then
		echo "$suite: logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$build" = 1 ]; then
	# GOPATH mode: x/net comes from Debian's golang-golang-x-net-dev
	mkdir -p "$bindir" "$work/gopath/src" || die "cannot create $bindir"
	for b in h2server h2client; do
		ln -s "$here/$b" "$work/gopath/src/$b" &&
			(cd "$work/gopath/src/$b" && GO111MODULE=off CGO_ENABLED=0 \
				GOPATH="$work/gopath:/usr/share/gocode" \
				go build -trimpath -o "$bindir/$b" .) || die "go build $b failed"
	done
fi
for b in h2server h2client; do
	[ -x "$bindir/$b" ] || die "$bindir/$b missing (build it or drop --no-build)"
done
[ -r "$expected" ] || die "cannot read $expected"
if [ ${#scenarios[@]} -eq 0 ]; then
	mapfile -t scenarios < <("$bindir/h2client" "${tlsflag[@]}" -list)
fi

suite_begin "$suite" $((${#scenarios[@]} * repeat))

"$bindir/h2server" "${tlsflag[@]}" -addr 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
track_pid "$server_pid"
_listening() { grep -q '^listening ' "$work/server.err" || ! kill -0 "$server_pid" 2>/dev/null; }
wait_until 5 _listening
addr=$(sed -n 's/^listening //p' "$work/server.err")
[ -n "$addr" ] || die "h2server did not start: $(head -c 300 "$work/server.err")"

if [ -n "$connstate" ]; then
	CS_BIN=$connstate
	cs_start "$work/connstate.out" "$work/connstate.err" -p "$server_pid" ||
		die "connstate did not attach: $(head -c 300 "$work/connstate.err")"
fi

nlines() { awk 'END { print NR }' "$1" 2>/dev/null || echo 0; }

# states FILE OFFSET ADDR: ADDR's state words after line OFFSET, one line.
states() {
	awk -v off="$2" -v p="Client: $3 - new state: " \
		'NR > off && index($0, p) == 1 { printf "%s%s", sep, substr($0, length(p) + 1); sep = " " }
		 END { print "" }' "$1" 2>/dev/null
}

# has_all FILE OFFSET WANT ADDR...: every ADDR has at least as many lines as WANT
has_all() {
	local f=$1 off=$2 n a
	n=$(wc -w <<<"$3")
	shift 3
	for a in "$@"; do
		[ "$(states "$f" "$off" "$a" | wc -w)" -ge "$n" ] || return 1
	done
}

for ((r = 0; r < repeat; r++)); do
	for s in "${scenarios[@]}"; do
		want=$(awk -v n="$s" '$1 == n { $1 = ""; sub(/^ +/, ""); print; exit }' "$expected")
		if [ -z "$want" ]; then
			fail "$s" "no expected sequence in ${expected##*/}"
			continue
		fi
		soff=$(nlines "$work/server.out")
		csoff=0
		[ -n "$connstate" ] && csoff=$(nlines "$work/connstate.out")
		if ! "$bindir/h2client" "${tlsflag[@]}" -addr "$addr" -scenario "$s" >"$work/$r.$s.out" 2>"$work/$r.$s.err"; then
			fail "$s" "h2client failed: $(head -c 300 "$work/$r.$s.err")"
			continue
		fi
		addrs=$(sed -n 's/^conn //p' "$work/$r.$s.out")
		if [ -z "$addrs" ]; then
			fail "$s" "h2client printed no conn line"
			continue
		fi
		# the lines come after the client is gone: wait for all of them,
		# then a little more for a spurious extra one
		# shellcheck disable=SC2086
		wait_until 5 has_all "$work/server.out" "$soff" "$want" $addrs
		[ -n "$connstate" ] && wait_until 5 has_all "$work/connstate.out" "$csoff" "$want" $addrs
		sleep 0.2
		msg=""
		for a in $addrs; do
			got=$(states "$work/server.out" "$soff" "$a")
			[ "$got" = "$want" ] || msg="$msg $a: Go printed '$got', expected '$want';"
			if [ -n "$connstate" ]; then
				got=$(states "$work/connstate.out" "$csoff" "$a")
				[ "$got" = "$want" ] || msg="$msg $a: connstate printed '$got', Go '$want';"
			fi
		done
		if [ -n "$msg" ]; then
			fail "$s" "${msg# }"
		else
			pass "$s"
		fi
	done
done

suite_end
