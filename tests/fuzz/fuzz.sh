#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Runs libFuzzer targets one after the other, one check per target, and ends
# with "fuzz: N passed, M failed" (non-zero exit if M > 0).
#
#   fuzz.sh --seconds S BIN...   smoke run: S seconds in all, split evenly
#   fuzz.sh --runs N BIN...      long run: N executions per target, with
#                                exec counts, speed and coverage printed
#   fuzz.sh --merge BIN...       adds the inputs of the working corpus that
#                                bring new coverage to the repository corpus
#
# BIN is .output/fuzz/fuzz_NAME. It reads the repository's seeds in
# tests/fuzz/corpus/NAME but writes what it finds to .output/fuzz/corpus/NAME,
# so a run never churns the repository; `make fuzz-corpus` merges on purpose.
# tests/fuzz/NAME.dict is its dictionary when present. A target fails if it
# crashes, leaks, times out, runs out of memory, or does not run at all.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/lib.sh

mode=${1:-}
arg=${2:-}
case "$mode" in
--seconds | --runs) shift 2 ;;
--merge) shift ;;
*)
	echo "usage: $0 --seconds S | --runs N | --merge BIN..." >&2
	exit 2
	;;
esac
work=.output/fuzz

# stat NAME LOG: a libFuzzer final statistic (-print_final_stats=1)
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

# figures LOG SECS: one line with the run's numbers
figures() {
	local last
	# the last status line: "#N DONE cov: X ft: Y corp: A/Bb ..."
	last=$(grep -E '^#[0-9]+' "$1" | tail -n 1)
	echo "  execs $(stat number_of_executed_units "$1"), $(stat average_exec_per_sec "$1") exec/s," \
		"$2 s, $(echo "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*')," \
		"new units $(stat new_units_added "$1"), peak rss $(stat peak_rss_mb "$1") MB"
}

per=0
if [ "$mode" = --seconds ]; then
	per=$((arg / ($# > 0 ? $# : 1)))
	[ "$per" -ge 1 ] || per=1
fi

suite_begin fuzz $#
for bin in "$@"; do
	name=$(basename "$bin")
	name=${name#fuzz_}
	seeds=tests/fuzz/corpus/$name
	corpus=$work/corpus/$name
	log=$work/$name.log
	mkdir -p "$corpus" "$seeds"
	if [ ! -x "$bin" ]; then
		fail "fuzz_$name" "$bin was not built"
		continue
	fi
	if [ "$mode" = --merge ]; then
		before=$(ls "$seeds" | wc -l)
		if "$bin" -merge=1 "$seeds" "$corpus" >"$log" 2>&1; then
			echo "  $seeds: $before -> $(ls "$seeds" | wc -l) files," \
				"$(du -sk --apparent-size "$seeds" | cut -f1) KiB"
			pass "fuzz_${name}_merge"
		else
			tail -n 30 "$log"
			fail "fuzz_${name}_merge" "libFuzzer -merge=1 failed (log: $log)"
		fi
		continue
	fi
	opts=(-print_final_stats=1 -timeout=25 -rss_limit_mb=2048 -artifact_prefix="$work/$name-")
	[ -f "tests/fuzz/$name.dict" ] && opts+=(-dict="tests/fuzz/$name.dict")
	if [ "$mode" = --seconds ]; then
		opts+=(-max_total_time="$per")
	else
		opts+=(-runs="$arg")
	fi
	echo "  fuzz_$name ${opts[*]} $corpus $seeds"
	start=$SECONDS
	"$bin" "${opts[@]}" "$corpus" "$seeds" >"$log" 2>&1
	rc=$?
	secs=$((SECONDS - start))
	if [ "$rc" -ne 0 ]; then
		tail -n 30 "$log"
		fail "fuzz_$name" "exit $rc after $secs s; the input is $work/$name-* (log: $log)"
	elif ! grep -qE '^Done [0-9]+ runs' "$log"; then
		tail -n 30 "$log"
		fail "fuzz_$name" "libFuzzer did not finish its runs (log: $log)"
	elif [ "$mode" = --runs ] && [ "$(stat number_of_executed_units "$log")" -lt "$arg" ]; then
		figures "$log" "$secs"
		fail "fuzz_$name" "fewer than $arg executions (log: $log)"
	else
		figures "$log" "$secs"
		pass "fuzz_$name"
	fi
done
suite_end
