#!/bin/sh
# vmtest.sh [--connstate PATH] [run.sh options...] - the oracle scenarios
# (tests/oracle/run.sh with connstate) inside a VM per kernel.
#
# Builds the Go oracle server and client (static, CGO_ENABLED=0), puts them
# with connstate (default ./connstate; a dynamic one gets its libraries)
# and tests/oracle/{run.sh,expected.txt} (run.sh sources its ../lib.sh,
# which mkinitramfs.sh puts at /lib.sh) into the initramfs and runs
# tests/vm/run.sh.  Other options (--kernel, --timeout, ...) go to run.sh.
# Ends with run.sh's "vmtest: N passed, M failed" (N, M count kernels).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
connstate=$top/connstate

case ${1:-} in
--connstate) [ $# -ge 2 ] || { echo "vmtest.sh: --connstate needs a path" >&2; exit 2; }
	connstate=$2; shift 2 ;;
esac
[ -x "$connstate" ] || { echo "vmtest.sh: $connstate missing (make connstate)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-oracle.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A copy, so a rebuild running meanwhile cannot hand us half a binary.
cp "$connstate" "$work/connstate"

for b in server client; do
	(cd "$top/tests/oracle" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
		-o "$work/$b" "./$b")
done

# In the VM: everything is in /bin, the oracle files in /oracle.
cat >"$work/test.sh" <<'EOF'
#!/bin/bash
# which kernel paths CO-RE picks here, for the log and the README
sleep 1000 & sl=$!
/bin/connstate -v -p "$sl" 2>&1 >/dev/null | grep '^connstate: kernel' & cs=$!
sleep 3
kill -INT $(pidof connstate) 2>/dev/null
kill "$sl"
wait "$cs"
/oracle/run.sh --connstate /bin/connstate --bin /bin --no-build \
	--expected /oracle/expected.txt 2>&1 | tee /tmp/oracle.out
rc=${PIPESTATUS[0]}
# A run of no scenarios must not pass.
if ! grep -Eq '^oracle: [1-9][0-9]* passed, 0 failed' /tmp/oracle.out; then
	echo "vmtest: oracle ran no scenario or some failed (rc $rc)"
	[ "$rc" != 0 ] || rc=1
fi
exit "$rc"
EOF

"$here/run.sh" "$@" \
	--file "$top/tests/oracle/run.sh:/oracle/run.sh" \
	--file "$top/tests/oracle/expected.txt:/oracle/expected.txt" \
	-- "$work/test.sh" "$work/server" "$work/client" "$work/connstate"
