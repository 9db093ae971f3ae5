#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Installing like a system tool: `make install`/`uninstall` with PREFIX and
# DESTDIR, the man page, bash completion, and plain `make` on a machine
# without the build tools. Needs no root and no BPF.
#
# usage: tests/install/install.sh [--connstate PATH]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/lib.sh"
[ "${1:-}" = --connstate ] && CS_BIN=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/install.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$root" || exit 1

suite_begin install 9

# --- a missing build tool is one line naming `make deps` ---
make --no-print-directory CLANG=no-such-clang OUTPUT="$work/out" connstate \
	>"$work/mk.out" 2>"$work/mk.err"
rc=$?
if [ "$rc" -ne 0 ] && [ "$(wc -l <"$work/mk.err")" -eq 1 ] &&
	grep -q "missing no-such-clang: run 'make deps'" "$work/mk.err" && [ ! -e "$work/out/connstate.bpf.o" ]; then
	pass missing_build_tool_is_one_line_naming_make_deps
else
	fail missing_build_tool_is_one_line_naming_make_deps "rc=$rc: $(cat "$work/mk.err")"
fi

# --- install with DESTDIR and PREFIX ---
dest=$work/dest
make --no-print-directory install DESTDIR="$dest" PREFIX=/opt/cs >"$work/inst.out" 2>&1
rc=$?
files=(/opt/cs/sbin/connstate /opt/cs/share/man/man8/connstate.8
	/opt/cs/share/bash-completion/completions/connstate)
missing=""
for f in "${files[@]}"; do [ -f "$dest$f" ] || missing="$missing $f"; done
if [ "$rc" -eq 0 ] && [ -z "$missing" ] && [ -x "$dest/opt/cs/sbin/connstate" ] &&
	"$dest/opt/cs/sbin/connstate" --version | grep -q '^connstate '; then
	pass install_puts_binary_man_page_and_completion_under_destdir_prefix
else
	fail install_puts_binary_man_page_and_completion_under_destdir_prefix "rc=$rc missing:$missing $(tail -3 "$work/inst.out")"
fi
if [ "$(find "$dest" -type f | wc -l)" -eq 3 ]; then
	pass install_writes_nothing_else
else
	fail install_writes_nothing_else "$(find "$dest" -type f)"
fi

# --- the man page renders with every section a man page should have ---
man=$dest/opt/cs/share/man/man8/connstate.8
MANWIDTH=100 man -l "$man" >"$work/man.txt" 2>"$work/man.err"
absent=""
for s in NAME SYNOPSIS DESCRIPTION OPTIONS OUTPUT "EXIT STATUS" EXAMPLES "SEE ALSO"; do
	grep -q "^$s\$" "$work/man.txt" || absent="$absent [$s]"
done
if [ -s "$work/man.txt" ] && [ -z "$absent" ] && [ ! -s "$work/man.err" ]; then
	pass man_page_renders_with_all_sections
else
	fail man_page_renders_with_all_sections "missing:$absent; $(head -c 300 "$work/man.err")"
fi

# every long option of --help, in the man page and in the completion
"$CS_BIN" --help >"$work/help.txt"
mapfile -t longs < <(grep -oE -- '--[a-z][a-z-]+' "$work/help.txt" | sort -u)
comp=$dest/opt/cs/share/bash-completion/completions/connstate
undoc=""
uncomp=""
for o in "${longs[@]}"; do
	grep -q -- "${o//-/\\\\-}" "$man" || undoc="$undoc $o"
	grep -qw -- "$o" "$comp" || uncomp="$uncomp $o"
done
if [ "${#longs[@]}" -ge 8 ] && [ -z "$undoc" ]; then
	pass man_page_documents_every_option
else
	fail man_page_documents_every_option "${#longs[@]} options; not in the man page:$undoc"
fi

# --- bash completion registers and completes ---
got=$(bash -c ". '$comp' && complete -p connstate" 2>&1)
if [ "$got" = "complete -F _connstate connstate" ]; then
	pass completion_registers_for_connstate
else
	fail completion_registers_for_connstate "$got"
fi
got=$(bash -c ". '$comp'; COMP_WORDS=(connstate --ring); COMP_CWORD=1; _connstate; echo \"\${COMPREPLY[*]}\"" 2>&1)
got2=$(bash -c ". '$comp'; COMP_WORDS=(connstate -p \$\$); COMP_CWORD=2; _connstate; echo \"\${COMPREPLY[*]}\"" 2>&1)
if [ -z "$uncomp" ] && [ "$got" = "--ring-size" ] && [ -n "$got2" ]; then
	pass completion_offers_every_option_and_pids
else
	fail completion_offers_every_option_and_pids "not offered:$uncomp; '--ring' -> '$got'; -p PID -> '$got2'"
fi

# --- uninstall removes what install wrote ---
make --no-print-directory uninstall DESTDIR="$dest" PREFIX=/opt/cs >/dev/null 2>&1
left=$(find "$dest" -type f)
if [ -z "$left" ]; then
	pass uninstall_removes_every_installed_file
else
	fail uninstall_removes_every_installed_file "$left"
fi

# --- default PREFIX is /usr/local ---
make --no-print-directory install DESTDIR="$work/d2" >/dev/null 2>&1
if [ -x "$work/d2/usr/local/sbin/connstate" ] && [ -f "$work/d2/usr/local/share/man/man8/connstate.8" ]; then
	pass default_prefix_is_usr_local
else
	fail default_prefix_is_usr_local "$(find "$work/d2" -type f)"
fi

suite_end
