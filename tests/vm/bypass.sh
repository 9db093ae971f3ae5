#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# bypass.sh CONNSTATE BYPASS_SERVER - runs inside a VM (vmtest.sh puts it at
# /oracle/bypass.sh): a server whose socket reads and writes bypass the read
# and write syscalls (tests/integration/bypass_server.c, static), four
# connections (its turns: the request read through io_uring, the response
# sent through it, both, the request spliced out of the socket), under each
# hook mode the kernel has:
# - socket (fentry on tcp_recvmsg/tcp_sendmsg, which io_uring's calls go
#   through too): the three io_uring ones followed whole (new active
#   closed, nothing uncertain); the spliced one (tcp_splice_read: no
#   tcp_recvmsg) marked at its close, its closed line uncertain;
# - tracepoints, raw (syscalls: io_uring's calls make none they hook) and
#   sock-tracepoints (6.3+: seen, unreadable): each of the four marked, its
#   closed line uncertain, and active only for the one whose request a
#   read() took. Never a connection told as if it had no request.
# Ends with "bypass: N passed, M failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
# shellcheck disable=SC2034  # lib.sh's cs_start runs CS_BIN
CS_BIN=${1:?usage: bypass.sh CONNSTATE BYPASS_SERVER}
server=${2:?}
port=${BYPASS_PORT:-8090}
modes=${BYPASS_MODES:-socket tracepoints raw}
kv=$(uname -r | awk -F. '{ print $1 * 100 + $2 }')
[ -z "${BYPASS_MODES:-}" ] && [ "$kv" -ge 603 ] && modes="$modes sock-tracepoints"
suite_begin bypass "$(echo $modes | wc -w)"

work=$(mktemp -d)
trap 'lib_cleanup; rm -rf "$work"' EXIT
"$server" "$port" >"$work/server.out" 2>&1 &
srv=$!
track_pid "$srv"
wait_until 10 grep -q ready "$work/server.out" ||
	fail_all "bypass_server did not start: $(head -c 300 "$work/server.out")"

# one request, in one write (the server reads it with one call: bash's
# printf writes line by line, cat a file at once), its response read to
# the end (the server closes)
ask() {
	printf 'GET /%s HTTP/1.1\r\nHost: x\r\n\r\n' "$1" >"$work/req"
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	cat "$work/req" >&3
	cat <&3 >/dev/null
	exec 3<&-
}
for m in $modes; do
	if ! cs_start "$work/$m.out" "$work/$m.err" -j --hooks="$m" -p "$srv"; then
		fail "$m" "no attach: $(grep -v libbpf "$work/$m.err" | head -c 300)"
		continue
	fi
	ask read && ask write && ask both && ask splice
	wait_until 10 sh -c "[ \$(grep -c '\"state\":\"closed\"' '$work/$m.out') -ge 4 ]"
	cs_stop INT
	closed=$(grep -c '"state":"closed"' "$work/$m.out")
	active=$(grep -c '"state":"active"' "$work/$m.out")
	unsure=$(grep '"state":"closed"' "$work/$m.out" | grep -c '"uncertain":true')
	if [ "$m" = socket ]; then
		want="4 3 1"
	else
		want="4 1 4"
	fi
	if [ "$closed $active $unsure" = "$want" ]; then
		pass "$m"
	else
		fail "$m" "closed, active, uncertain closed: $closed $active $unsure, not $want: $(head -c 600 "$work/$m.out")"
	fi
done
suite_end
