#!/bin/bash
# Runs every test suite and sums their counts into one closing line:
#   unit (cmocka, pure parts), fuzz (libFuzzer smoke run), oracle (Go ConnState vs connstate;
#   oracle_tracepoints: the same with --hooks=tracepoints), sockcalls and sockcalls_tracepoints (splice, recvmmsg),
#   bodies and bodies_tracepoints (long bodies sent uncopied), servers
#   (nginx, python, busybox vs their access logs), tls (HTTPS through OpenSSL), oracle_tls and
#   oracle_tls_go1.23 (Go's ConnState over crypto/tls, Go 1.19 and 1.23), tls_go, tls_rescan, cli (the command-line
#   contract), and the VM matrix when VMTEST=1.
# Suites that need root and BPF fail, loudly, where the machine cannot run
# them: a skipped BPF test must not look like a pass.
#
# usage: tests/run.sh [SUITE...]   SUITE: a name below (unit, oracle, cli, ...)
#        (default: all but vmtest, which runs when VMTEST=1 or is named)
set -u

only=" $* "
seen=" "

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
total_pass=0
total_fail=0
total_skip=0
log=$(mktemp -d "${TMPDIR:-/tmp}/connstate-tests.XXXXXX")

# add_counts NAME FILE RC: reads the suite's "NAME: N passed, M failed" line.
# No line, or a non-zero exit with no failure counted, is one failure: a
# suite that crashed or ran nothing must not look clean.
add_counts() {
	local line p f s
	line=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed" "$2" | tail -n 1)
	if [ -z "$line" ]; then
		echo "== $1: no result line (exit $3): counted as 1 failure"
		total_fail=$((total_fail + 1))
		return
	fi
	p=$(echo "$line" | sed -E 's/.*\b([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.*\b([0-9]+) failed.*/\1/')
	s=$(echo "$line" | sed -nE 's/.*\b([0-9]+) skipped.*/\1/p')
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "== $1: exit $3 with no failure counted: counted as 1 failure"
		f=1
	fi
	echo "== $1: $p passed, $f failed${s:+, $s SKIPPED}"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + ${s:-0}))
}

suite() { # suite NAME CMD...
	local name=$1 rc
	shift
	seen="$seen$name "
	if [ "$only" != "  " ]; then
		[[ "$only" == *" $name "* ]] || return 0
	fi
	echo "== $name: $*"
	"$@" 2>&1 | tee "$log/$name.log"
	rc=${PIPESTATUS[0]}
	add_counts "$name" "$log/$name.log" "$rc"
}

unit() {
	local t p=0 f=0 n
	for t in .output/unit/test_*; do
		"$t" >"$log/$(basename "$t").log" 2>&1
		cat "$log/$(basename "$t").log"
		n=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/$(basename "$t").log")
		p=$((p + ${n:-0}))
		n=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/$(basename "$t").log")
		f=$((f + ${n:-0}))
		# a crash prints neither line
		grep -q '^\[==========\] .* test(s) run' "$log/$(basename "$t").log" || f=$((f + 1))
	done
	echo "unit: $p passed, $f failed"
}

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: NOT ROOT: the BPF suites cannot run and are counted as failed" >&2
fi

suite unit unit
suite fuzz make --no-print-directory fuzz
suite oracle tests/oracle/run.sh --connstate ./connstate
# auto is not the syscall tracepoints where the kernel has the sock
# tracepoints: they stay the fallback everywhere else, so they are run too
suite oracle_tracepoints env ORACLE_SUITE=oracle_tracepoints ORACLE_CS_ARGS=--hooks=tracepoints \
	tests/oracle/run.sh --connstate ./connstate
suite oracle_h2 tests/oracle/run_h2.sh --connstate ./connstate
suite oracle_h2tls tests/oracle/run_h2.sh --tls --connstate ./connstate
suite servers tests/integration/servers.sh --connstate ./connstate
suite longlines tests/integration/longlines.sh --connstate ./connstate
suite stashes tests/integration/stashes.sh --connstate ./connstate
suite conntable tests/integration/conntable.sh --connstate ./connstate
suite conntable_tracepoints env CONNTABLE_HOOKS=tracepoints tests/integration/conntable.sh \
	--connstate ./connstate
suite bodies tests/integration/bodies.sh --connstate ./connstate
suite bodies_tracepoints env BODIES_HOOKS=tracepoints tests/integration/bodies.sh --connstate ./connstate
suite sockcalls tests/integration/sockcalls.sh --connstate ./connstate
suite sockcalls_tracepoints env SOCKCALLS_HOOKS=tracepoints \
	tests/integration/sockcalls.sh --connstate ./connstate
suite h2servers tests/integration/h2servers.sh --connstate ./connstate
suite cli tests/cli/cli.sh --connstate ./connstate
suite faults tests/faults/faults.sh --connstate ./connstate
suite hostile tests/cli/hostile.sh --connstate ./connstate
suite load tests/load/losses.sh --connstate ./connstate
suite fleet tests/fleet/fleet.sh --connstate ./connstate
suite install tests/install/install.sh --connstate ./connstate
suite tls tests/tls/tls.sh --connstate ./connstate
suite tls_h2 tests/tls/h2.sh --connstate ./connstate
suite oracle_tls tests/oracle/run_tls.sh --connstate ./connstate
suite oracle_tls_go1.23 tests/oracle/run_tls.sh --suite oracle_tls_go1.23 --go /usr/lib/go-1.23/bin/go \
	--connstate ./connstate
suite tls_go tests/tls/go.sh --connstate ./connstate
suite tls_rescan tests/tls/rescan.sh --connstate ./connstate
# The guests run the static binary, which a plain `make` does not rebuild:
# a stale one would pass the VMs without testing the change.
vm_suite() {
	if ! make --no-print-directory .output/connstate-static >"$log/static.log" 2>&1; then
		tail -n 5 "$log/static.log"
		echo "vmtest: 0 passed, 1 failed (.output/connstate-static did not build)"
		return 1
	fi
	tests/vm/vmtest.sh --connstate .output/connstate-static
}
if [ "${VMTEST:-0}" = 1 ] || [[ "$only" == *" vmtest "* ]]; then
	suite vmtest vm_suite
fi

# a suite asked for by a name that does not exist ran nothing: a failure
for s in $only; do
	if [[ "$seen" != *" $s "* ]]; then
		echo "== $s: no such suite: counted as 1 failure"
		total_fail=$((total_fail + 1))
	fi
done

rm -rf "$log"
echo
if [ "$total_skip" -gt 0 ]; then
	echo "all: $total_skip checks SKIPPED (see the SKIP lines above)"
	echo "all: $total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "all: $total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
