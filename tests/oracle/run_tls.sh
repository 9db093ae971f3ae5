#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Oracle over TLS (suite oracle_tls): the oracle server and client of run.sh
# with -tls (crypto/tls, a self-signed certificate, ALPN http/1.1, no h2),
# every HTTP/1 scenario plus the tls_* handshake scenarios, checked against
# expected_tls.txt and, with --connstate, connstate's lines per client
# address. connstate follows the server's crypto/tls with uprobes.
#
# usage: run_tls.sh [--connstate PATH] [--go GO] [--suite NAME] [--bin DIR] [--no-build] [--keep]
#                   [scenario...]
#   --suite   the name on the result line (default oracle_tls)
#   --go GO   the go command to build with (default: go; e.g.
#             /usr/lib/go-1.23/bin/go); the binaries go to
#             .output/oracle-tls-<go version> unless --bin is given
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
gocmd=go
suite=oracle_tls
bindir=""
build=1
args=()

while [ $# -gt 0 ]; do
	case "$1" in
	--go) [ $# -ge 2 ] || exit 2; gocmd=$2; shift 2 ;;
	--suite) [ $# -ge 2 ] || exit 2; suite=$2; shift 2 ;;
	--bin) [ $# -ge 2 ] || exit 2; bindir=$2; shift 2 ;;
	--no-build) build=0; shift ;;
	*) args+=("$1"); shift ;;
	esac
done

if [ -z "$bindir" ]; then
	ver=$("$gocmd" env GOVERSION 2>/dev/null) || ver=unknown
	bindir="$root/.output/oracle-tls-$ver"
fi
if [ "$build" = 1 ]; then
	mkdir -p "$bindir" || exit 1
	for b in server client; do
		if ! (cd "$here" && CGO_ENABLED=0 "$gocmd" build -trimpath -buildvcs=false \
			-o "$bindir/$b" "./$b"); then
			echo "$suite: $gocmd build $b failed" >&2
			echo "$suite: 0 passed, 1 failed"
			exit 1
		fi
	done
fi
ORACLE_SUITE=$suite ORACLE_FLAGS=-tls exec "$here/run.sh" --no-build --bin "$bindir" \
	--expected "$here/expected_tls.txt" "${args[@]}"
