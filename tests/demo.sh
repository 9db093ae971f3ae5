#!/bin/bash
# The quick-start demo: a small Go HTTP server (whose own ConnState hook
# prints Go's view), connstate attached to its PID, a few scripted clients
# (keep-alive, pipelined, Connection: close), and both outputs side by side.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
# shellcheck source=lib.sh
. tests/lib.sh
bin=.output/oracle
work=$(mktemp -d "${TMPDIR:-/tmp}/connstate-demo.XXXXXX")
trap 'lib_cleanup; rm -rf "$work"' EXIT

for b in server client; do
	(cd tests/oracle && CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$root/$bin/$b" "./$b") ||
		exit 1
done
"$bin/server" -addr 127.0.0.1:0 >"$work/go.out" 2>"$work/go.err" &
srv=$!
track_pid "$srv"
wait_until 5 grep -q '^listening ' "$work/go.err" || { cat "$work/go.err" >&2; exit 1; }
port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/go.err")
echo "demo: Go server pid $srv on 127.0.0.1:$port"
echo "demo: sudo ./connstate -p $srv"
cs_start "$work/cs.out" "$work/cs.err" -p "$srv" || exit 1
cat "$work/cs.err"
for s in keepalive_3 pipelined_2 conn_close; do
	echo "demo: client scenario $s"
	"$bin/client" -addr "127.0.0.1:$port" -scenario "$s" >/dev/null || exit 1
done

same() { diff <(grep ' - new state: ' "$work/cs.out") "$work/go.out" >/dev/null; }
# connstate reads its ring buffer in the background: let it catch up
wait_until 5 same
cs_stop INT
echo
echo "---- connstate printed (from the kernel, no change to the server):"
cat "$work/cs.out"
echo
echo "---- the Go server's own ConnState hook printed:"
cat "$work/go.out"
echo
if same; then
	echo "demo: the state lines are identical"
else
	echo "demo: the state lines DIFFER" >&2
	exit 1
fi
