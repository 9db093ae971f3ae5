#!/bin/sh
# vmtest.sh [--connstate PATH] [--no-connstate] [run.sh options...] - the
# oracle scenarios (tests/oracle/run.sh with connstate) inside a VM per kernel.
#
# Builds the Go oracle server and client (static, CGO_ENABLED=0), puts them
# with connstate (default ./connstate; a dynamic one gets its libraries)
# and tests/oracle/{run.sh,expected.txt} (HTTP/1) and {run_h2.sh,
# expected_h2.txt} with h2server/h2client (HTTP/2) and {run_tls.sh,
# expected_tls.txt} (the same server and client with -tls) and
# tests/vm/uprobes.sh (how the TLS uprobes attach) and nginx_tls.sh
# (Debian's nginx with its libssl.so.3, a throwaway certificate) and
# tests/vm/bypass.sh (io_uring and splice: bypass_server.c built static) (all
# source ../lib.sh, which mkinitramfs.sh puts at /lib.sh) into the
# initramfs and runs tests/vm/run.sh.  Other options (--kernel, --timeout, ...) go to run.sh.
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

# nginx over TLS (nginx_tls.sh): Debian's nginx, dynamically linked (its
# libssl.so.3 and libcrypto come along), and a throwaway certificate
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "vmtest.sh: nginx missing (apt-get install nginx-light)" >&2; exit 2; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null ||
	{ echo "vmtest.sh: openssl req failed" >&2; exit 2; }

# io_uring's and splice's reads and writes under each hook mode (bypass.sh)
cc -static -O2 -o "$work/bypass_server" "$top/tests/integration/bypass_server.c" ||
	{ echo "vmtest.sh: bypass_server.c did not build (static)" >&2; exit 2; }

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
# oracle_in MODE: the HTTP/1 oracle again with --hooks=MODE (run.sh passes
# ORACLE_CS_ARGS to connstate)
oracle_in() {
	ORACLE_CS_ARGS=--hooks=$1 /oracle/run.sh --connstate /bin/connstate --bin /bin \
		--no-build --expected /oracle/expected.txt 2>&1 |
		sed "s/^oracle:/oracle ($1):/" | tee "/tmp/oracle_$1.out"
	if ! grep -Eq "^oracle \\($1\\): [1-9][0-9]* passed, 0 failed" "/tmp/oracle_$1.out"; then
		echo "vmtest: oracle with --hooks=$1 ran no scenario or some failed"
		rc=1
	fi
}
# connstate's default hooks (auto) are the socket hooks on these kernels,
# which allow fentry: each mode's -v line for the log, then the HTTP/1
# oracle again with the raw sys_enter/sys_exit programs, the syscall
# tracepoints and, where the kernel has them, the sock tracepoints
if [ "$with_connstate" = 1 ]; then
	for h in auto raw socket tracepoints sock-tracepoints; do
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
	oracle_in raw
	oracle_in tracepoints
	# the sock tracepoints exist from 6.3 on (6.12 here): the oracle in
	# that mode too, where auto would take it if fentry were refused
	kv=$(uname -r | awk -F. '{ print $1 * 100 + $2 }')
	if grep -q '^connstate: syscall hooks: sock-tracepoints' /tmp/hooks.out; then
		oracle_in sock-tracepoints
	elif [ "$kv" -ge 603 ]; then
		echo "vmtest: kernel $(uname -r) has the sock tracepoints, but connstate did not take them"
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
# HTTPS: the same server and client with -tls (Go's crypto/tls), connstate
# following it with uprobes on the RETs of crypto/tls.(*Conn).Read/Write;
# first how those uprobes attach on this kernel, then the TLS oracle
tls_start=$SECONDS
# attaching the Go uprobes takes seconds more under TCG on a loaded host,
# after the socket hooks' load (CS_ATTACH_SECS=60 above)
if [ "$with_connstate" = 1 ]; then
	/oracle/uprobes.sh /bin/connstate /bin 2>&1 | tee /tmp/uprobes.out
	if ! grep -Eq '^uprobes: [1-9][0-9]* passed, 0 failed' /tmp/uprobes.out; then
		echo "vmtest: uprobes check failed"
		rc=1
	fi
	echo "vmtest: uprobes took $((SECONDS - tls_start)) s"
	# OpenSSL: nginx with its libssl.so.3 (the initramfs has them)
	/oracle/nginx_tls.sh /bin/connstate /bin/client /oracle/cert.pem /oracle/key.pem 2>&1 |
		tee /tmp/nginx_tls.out
	if ! grep -Eq '^nginx_tls: [1-9][0-9]* passed, 0 failed' /tmp/nginx_tls.out; then
		echo "vmtest: nginx_tls failed"
		rc=1
	fi
	echo "vmtest: uprobes and nginx_tls took $((SECONDS - tls_start)) s"
	/oracle/bypass.sh /bin/connstate /bin/bypass_server 2>&1 | tee /tmp/bypass.out
	if ! grep -Eq '^bypass: [1-9][0-9]* passed, 0 failed' /tmp/bypass.out; then
		echo "vmtest: bypass failed"
		rc=1
	fi
fi
# (no sed on the way to the console: busybox's would hold the lines back)
/oracle/run_tls.sh "${cs_opt[@]}" --bin /bin --no-build 2>&1 | tee /tmp/oracle_tls.out
if ! grep -Eq '^oracle_tls: [1-9][0-9]* passed, 0 failed' /tmp/oracle_tls.out; then
	echo "vmtest: oracle_tls ran no scenario or some failed"
	rc=1
fi
echo "vmtest: TLS checks took $((SECONDS - tls_start)) s"
exit "$rc"
EOF

# 600 s in the guest: a passing run took 120-230 s per kernel on a loaded
# host before the socket-hook and tracepoint runs were added (5.10 loads the
# socket hooks in ~22 s under TCG, each time), and a TLS oracle that fails
# waits 5 s per scenario for lines that never come; it must get to print
# its diffs (a later --timeout wins)
"$here/run.sh" --timeout 600 "$@" \
	--file "$top/tests/oracle/run.sh:/oracle/run.sh" \
	--file "$top/tests/oracle/expected.txt:/oracle/expected.txt" \
	--file "$top/tests/oracle/run_h2.sh:/oracle/run_h2.sh" \
	--file "$top/tests/oracle/expected_h2.txt:/oracle/expected_h2.txt" \
	--file "$top/tests/oracle/run_tls.sh:/oracle/run_tls.sh" \
	--file "$top/tests/oracle/expected_tls.txt:/oracle/expected_tls.txt" \
	--file "$here/uprobes.sh:/oracle/uprobes.sh" \
	--file "$here/nginx_tls.sh:/oracle/nginx_tls.sh" \
	--file "$here/bypass.sh:/oracle/bypass.sh" \
	--file "$work/cert.pem:/oracle/cert.pem" --file "$work/key.pem:/oracle/key.pem" \
	-- "$work/test.sh" "$work/server" "$work/client" "$work/h2server" "$work/h2client" \
	"$work/connstate" "$nginx" "$work/bypass_server"
