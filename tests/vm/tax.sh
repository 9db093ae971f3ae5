#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# tax.sh [--connstate PATH] [--modes "MODE..."] [run.sh options...] - the
# host-wide tax of each hook mode inside a VM per kernel, where no other
# tool's BPF programs run: a process that is not a target times `dd
# if=/dev/zero of=/dev/null bs=1 count=TAX_DD` (200000) with no connstate
# and with connstate --hooks=MODE attached to an idle process for each MODE
# (default: raw tracepoints socket), interleaved, TAX_ROUNDS (5) rounds.
# Prints "tax: MODE ms ..." lines and each mode's median ratio to none; a
# tool, not a test (TCG emulates the guest: the ratios, not the times, are
# the figure). A mode connstate cannot load there is reported and skipped.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
connstate=$top/connstate
modes="raw tracepoints socket"
while [ $# -gt 0 ]; do
	case $1 in
	--connstate) connstate=$2; shift 2 ;;
	--modes) modes=$2; shift 2 ;;
	*) break ;;
	esac
done
work=$(mktemp -d "${TMPDIR:-/tmp}/vmtax.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$connstate" "$work/connstate"
cat >"$work/test.sh" <<EOF
#!/bin/bash
n=${TAX_DD:-200000}
rounds=${TAX_ROUNDS:-5}
modes="$modes"
EOF
cat >>"$work/test.sh" <<'EOF'
ms() {
	local a b
	a=${EPOCHREALTIME/./}
	dd if=/dev/zero of=/dev/null bs=1 count=$n 2>/dev/null
	b=${EPOCHREALTIME/./}
	echo $(((b - a) / 1000))
}
sleep 10000 & sl=$!
declare -A t
# a mode this kernel cannot load is told once and left out
ok=""
for m in $modes; do
	/bin/connstate -v --hooks=$m -p $sl >/dev/null 2>/tmp/cs.err & cs=$!
	for i in $(seq 600); do
		grep -q attached /tmp/cs.err && break
		kill -0 $cs 2>/dev/null || break
		sleep 0.1
	done
	grep -e '^connstate: syscall hooks' -e 'cannot' /tmp/cs.err | sed "s/^/tax: $m: /"
	if grep -q attached /tmp/cs.err; then
		ok="$ok $m"
		kill -INT $cs
	fi
	wait $cs
done
for r in $(seq $rounds); do
	for m in none $ok; do
		if [ $m != none ]; then
			/bin/connstate --hooks=$m -p $sl >/dev/null 2>/tmp/cs.err & cs=$!
			for i in $(seq 600); do grep -q attached /tmp/cs.err && break; sleep 0.1; done
		fi
		t[$m]="${t[$m]} $(ms)"
		if [ $m != none ]; then kill -INT $cs; wait $cs; fi
	done
done
# the median ratio of each mode to the untraced run of its round
for m in none $ok; do echo "tax: $m ms${t[$m]}"; done
read -ra b <<<"${t[none]}"
for m in $ok; do
	read -ra x <<<"${t[$m]}"
	for i in "${!b[@]}"; do echo "$((x[i] * 1000 / b[i]))"; done | sort -n |
		awk -v m=$m '{ v[NR] = $1 } END { printf "tax: %s ratio median %.2f (%.2f-%.2f)\n", m, v[int((NR + 1) / 2)] / 1000, v[1] / 1000, v[NR] / 1000 }'
done
kill $sl
EOF
"$here/run.sh" "$@" -- "$work/test.sh" "$work/connstate"
