#!/bin/bash
# The quick-start demo: a small Go HTTP server (whose own ConnState hook
# prints Go's view), connstate attached to its PID, a few scripted clients
# (keep-alive, pipelined, Connection: close), and both outputs side by side.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
bin=.output/oracle
work=$(mktemp -d "${TMPDIR:-/tmp}/connstate-demo.XXXXXX")
trap 'kill $cs $srv 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

for b in server client; do
	(cd tests/oracle && CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$root/$bin/$b" "./$b") ||
		exit 1
done
"$bin/server" -addr 127.0.0.1:0 >"$work/go.out" 2>"$work/go.err" &
srv=$!
sleep 0.5
port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/go.err")
echo "demo: Go server pid $srv on 127.0.0.1:$port"
echo "demo: sudo ./connstate -p $srv"
./connstate -p "$srv" >"$work/cs.out" 2>"$work/cs.err" &
cs=$!
for _ in $(seq 100); do
	grep -q '^connstate: attached' "$work/cs.err" && break
	sleep 0.1
done
cat "$work/cs.err"
for s in keepalive_3 pipelined_2 conn_close; do
	echo "demo: client scenario $s"
	"$bin/client" -addr "127.0.0.1:$port" -scenario "$s" >/dev/null || exit 1
done
sleep 1
kill -INT $cs
wait $cs
echo
echo "---- connstate printed (from the kernel, no change to the server):"
cat "$work/cs.out"
echo
echo "---- the Go server's own ConnState hook printed:"
cat "$work/go.out"
echo
if diff <(grep ' - new state: ' "$work/cs.out") "$work/go.out" >/dev/null; then
	echo "demo: the state lines are identical"
else
	echo "demo: the state lines DIFFER" >&2
	exit 1
fi
