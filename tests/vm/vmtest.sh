#!/bin/sh
# vmtest.sh [--connstate PATH] [--no-connstate] [run.sh options...] - the
# oracle scenarios (tests/oracle/run.sh with connstate) inside a VM per kernel.
#
# Builds the Go oracle server and client (static, CGO_ENABLED=0), puts them
# with connstate (default ./connstate; a dynamic one gets its libraries)
# and tests/oracle/{run.sh,expected.txt} (HTTP/1) and {run_h2.sh,
# expected_h2.txt} with h2server/h2client (HTTP/2) (both source ../lib.sh,
# which mkinitramfs.sh puts at /lib.sh) into the initramfs and runs
# tests/vm/run.sh.  Other options (--kernel, --timeout, ...) go to run.sh.
# Ends with run.sh's "vmtest: N passed, M failed" (N, M count kernels).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
connstate=$top/connstate
with_connstate=1

while [ $# -gt 0 ]; do
	case $1 in
	--connstate) [ $# -ge 2 ] || { echo "vmtest.sh: --connstate needs a path" >&2; exit 2; }
		connstate=$2; shift 2 ;;
	--no-connstate) with_connstate=0; shift ;;
	*) break ;;
	esac
done
[ -x "$connstate" ] || { echo "vmtest.sh: $connstate missing (make connstate)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-oracle.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A copy, so a rebuild running meanwhile cannot hand us half a binary.
cp "$connstate" "$work/connstate"

for b in server client; do
	(cd "$top/tests/oracle" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
		-o "$work/$b" "./$b")
done
# the HTTP/2 oracle: GOPATH mode, x/net from Debian (as run_h2.sh builds it)
mkdir -p "$work/gopath/src"
for b in h2server h2client; do
	ln -s "$top/tests/oracle/$b" "$work/gopath/src/$b"
	(cd "$work/gopath/src/$b" && GO111MODULE=off CGO_ENABLED=0 \
		GOPATH="$work/gopath:/usr/share/gocode" go build -trimpath -o "$work/$b" .)
done

# In the VM: everything is in /bin, the oracle files in /oracle.
printf '#!/bin/bash\nwith_connstate=%s\n' "$with_connstate" >"$work/test.sh"
cat >>"$work/test.sh" <<'EOF'
# lib.sh's cs_start waits this long for "attached": the socket hooks' two
# fexit programs take 5.10's verifier about 22 s under TCG (10 s is the
# default), the syscall tracepoints 7-11 s
export CS_ATTACH_SECS=60
# Without connstate the same steps run, minus the probes (same sleeps).
cs_opt=()
if [ "$with_connstate" = 1 ]; then
	echo "vmtest: mode with connstate"
	cs_opt=(--connstate /bin/connstate)
else
	echo "vmtest: mode without connstate"
fi
# which kernel paths CO-RE picks here, for the log and the README
sleep 1000 & sl=$!
if [ "$with_connstate" = 1 ]; then
	/bin/connstate -v -p "$sl" 2>&1 >/dev/null | grep '^connstate: kernel' & cs=$!
fi
sleep 3
if [ "$with_connstate" = 1 ]; then
	kill -INT $(pidof connstate) 2>/dev/null
fi
kill "$sl"
[ "$with_connstate" = 1 ] && wait "$cs"
/oracle/run.sh "${cs_opt[@]}" --bin /bin --no-build \
	--expected /oracle/expected.txt 2>&1 | tee /tmp/oracle.out
rc=${PIPESTATUS[0]}
# A run of no scenarios must not pass.
if ! grep -Eq '^oracle: [1-9][0-9]* passed, 0 failed' /tmp/oracle.out; then
	echo "vmtest: oracle ran no scenario or some failed (rc $rc)"
	[ "$rc" != 0 ] || rc=1
fi
# connstate's default hooks (auto) are the socket hooks on these kernels,
# which allow fentry: the HTTP/1 oracle again with the raw sys_enter/sys_exit
# programs (--hooks=raw) and with the syscall tracepoints, and each mode's
# -v line for the log
if [ "$with_connstate" = 1 ]; then
	printf '#!/bin/sh\nexec /bin/connstate --hooks=raw "$@"\n' >/tmp/cs-raw
	chmod +x /tmp/cs-raw
	for h in auto raw socket tracepoints; do
		sleep 1000 & sl=$!
		/bin/connstate -v --hooks=$h -p "$sl" 2>&1 >/dev/null |
			grep '^connstate: syscall hooks' | tee -a /tmp/hooks.out & cs=$!
		sleep 3
		kill -INT $(pidof connstate) 2>/dev/null
		kill "$sl"
		wait "$cs"
	done
	if [ "$(grep -c '^connstate: syscall hooks: socket' /tmp/hooks.out)" != 2 ]; then
		echo "vmtest: auto and --hooks=socket did not both choose the socket hooks"
		rc=1
	fi
	/oracle/run.sh --connstate /tmp/cs-raw --bin /bin --no-build \
		--expected /oracle/expected.txt 2>&1 | sed 's/^oracle:/oracle (raw):/' |
		tee /tmp/oracle_raw.out
	if ! grep -Eq '^oracle \(raw\): [1-9][0-9]* passed, 0 failed' /tmp/oracle_raw.out; then
		echo "vmtest: oracle with --hooks=raw ran no scenario or some failed"
		rc=1
	fi
	printf '#!/bin/sh\nexec /bin/connstate --hooks=tracepoints "$@"\n' >/tmp/cs-tp
	chmod +x /tmp/cs-tp
	/oracle/run.sh --connstate /tmp/cs-tp --bin /bin --no-build \
		--expected /oracle/expected.txt 2>&1 | sed 's/^oracle:/oracle (tracepoints):/' |
		tee /tmp/oracle_tp.out
	if ! grep -Eq '^oracle \(tracepoints\): [1-9][0-9]* passed, 0 failed' /tmp/oracle_tp.out; then
		echo "vmtest: oracle with --hooks=tracepoints ran no scenario or some failed"
		rc=1
	fi
fi
/oracle/run_h2.sh --connstate /bin/connstate --bin /bin --no-build \
	--expected /oracle/expected_h2.txt 2>&1 | tee /tmp/oracle_h2.out
rc2=${PIPESTATUS[0]}
if ! grep -Eq '^oracle_h2: [1-9][0-9]* passed, 0 failed' /tmp/oracle_h2.out; then
	echo "vmtest: oracle_h2 ran no scenario or some failed (rc $rc2)"
	[ "$rc2" != 0 ] || rc2=1
fi
[ "$rc" != 0 ] || rc=$rc2
exit "$rc"
EOF

"$here/run.sh" "$@" \
	--file "$top/tests/oracle/run.sh:/oracle/run.sh" \
	--file "$top/tests/oracle/expected.txt:/oracle/expected.txt" \
	--file "$top/tests/oracle/run_h2.sh:/oracle/run_h2.sh" \
	--file "$top/tests/oracle/expected_h2.txt:/oracle/expected_h2.txt" \
	-- "$work/test.sh" "$work/server" "$work/client" "$work/h2server" "$work/h2client" \
	"$work/connstate"
