# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The one helper library of the shell test suites; source it, do not run it.
#
#   suite_begin NAME PLANNED    a suite named NAME that runs PLANNED checks
#   pass CHECK                  one check passed
#   fail CHECK WHY              one check failed (its setup failing counts too)
#   skip CHECK WHY              the machine truly cannot run it: printed loudly
#   suite_ok                    true while no check has failed (to keep logs)
#   suite_end                   prints "NAME: P passed, F failed[, S skipped]"
#                               and returns non-zero unless all planned ran
#                               and none failed; a check that never ran (its
#                               block was skipped by an error) is a failure
#   wait_until SECS CMD...      polls CMD every 0.1 s until it succeeds or
#                               SECS pass; returns CMD's last status
#   cs_start OUT ERR ARGS...    runs connstate (CS_BIN) in the background with
#                               ARGS, stdout to OUT, stderr to ERR, and waits
#                               (CS_ATTACH_SECS, 10 s) for "connstate: attached";
#                               sets CS_PID; returns 1 (and kills it) if it
#                               did not attach
#   cs_stop [SIGNAL]            signals connstate (INT by default), waits,
#                               returns its exit code
#   lib_cleanup                 kills what cs_start and track_pid started
#                               (and stops nginx_start's nginx)
#   free_port                   prints a free TCP port on 127.0.0.1
#   listening PORT              true once something listens on PORT
#   nginx_start DIR WORKERS FORMAT [HTTP_DIRECTIVES]
#                               nginx on a free port of 127.0.0.1 serving
#                               DIR/www, logging FORMAT to DIR/access.log;
#                               sets NGINX_PID (the master) and NGINX_PORT;
#                               returns 1 if it did not come up
#   track_pid PID               kill PID at lib_cleanup
#
# CS_BIN defaults to ./connstate at the top of the tree.
_lib_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CS_BIN=${CS_BIN:-$_lib_root/connstate}
_suite=""
_planned=0
_passed=0
_failed=0
_skipped=0
_tracked=()

suite_begin() {
	_suite=$1
	_planned=$2
	_passed=0
	_failed=0
	_skipped=0
}

pass() {
	echo "PASS $1"
	_passed=$((_passed + 1))
}

fail() {
	echo "FAIL $1: ${2:-}"
	_failed=$((_failed + 1))
}

skip() {
	echo "SKIP $1: ${2:-} (SKIPPED: this machine cannot run it)" >&2
	echo "SKIP $1: ${2:-}"
	_skipped=$((_skipped + 1))
}

suite_ok() { [ "$_failed" -eq 0 ]; }

# fail_all WHY: a setup that failed fails every check named in $checks,
# then ends the suite and exits
fail_all() {
	local c
	for c in $checks; do fail "$c" "$1"; done
	suite_end
	exit
}

suite_end() {
	local ran=$((_passed + _failed + _skipped))

	if [ "$ran" -ne "$_planned" ]; then
		echo "FAIL ${_suite}_ran_every_check: ran $ran of $_planned planned checks"
		if [ "$ran" -lt "$_planned" ]; then
			_failed=$((_failed + _planned - ran))
		else
			_failed=$((_failed + 1))
		fi
	fi
	if [ "$_skipped" -gt 0 ]; then
		echo "$_suite: $_passed passed, $_failed failed, $_skipped skipped"
	else
		echo "$_suite: $_passed passed, $_failed failed"
	fi
	[ "$_failed" -eq 0 ]
}

wait_until() {
	local secs=$1 i n
	shift
	n=$((secs * 10))
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

track_pid() { _tracked+=("$1"); }

_cs_attached() { grep -q '^connstate: attached' "$1" || ! kill -0 "$2" 2>/dev/null; }

cs_start() {
	local out=$1 err=$2
	shift 2
	# empty them first: a previous run's "attached" must not count
	: >"$out"
	: >"$err"
	# 5>&- 6>&-: connstate must not hold a test's client sockets open
	"$CS_BIN" "$@" >"$out" 2>"$err" 5>&- 6>&- </dev/null &
	CS_PID=$!
	_tracked+=("$CS_PID")
	wait_until "${CS_ATTACH_SECS:-10}" _cs_attached "$err" "$CS_PID"
	if ! grep -q '^connstate: attached' "$err"; then
		echo "lib: connstate did not attach: $(head -c 400 "$err")" >&2
		# never leave it running: it would write into the next run's files
		kill -KILL "$CS_PID" 2>/dev/null
		wait "$CS_PID" 2>/dev/null
		return 1
	fi
}

cs_stop() {
	kill "-${1:-INT}" "$CS_PID" 2>/dev/null
	wait "$CS_PID"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

listening() { ss -ltn "sport = :$1" | grep -q LISTEN; }

NGINX_PID=""
nginx_start() { # DIR WORKERS LOG_FORMAT [HTTP_EXTRA [LISTEN_EXTRA]]
	local d=$1 workers=$2 format=$3 extra=${4:-} listen_extra=${5:-}
	mkdir -p "$d/www" "$d/tmp"
	# nginx's workers run as nobody: they must reach DIR/www
	chmod 755 "$(dirname "$d")" "$d"
	NGINX_PORT=$(free_port)
	cat >"$d/nginx.conf" <<NGX
worker_processes $workers;
master_process on;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
    log_format cs '$format';
    access_log $d/access.log cs;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    $extra
    server { listen 127.0.0.1:$NGINX_PORT $listen_extra; root $d/www; }
}
NGX
	# its own session: stopped as a group, workers and all
	setsid nginx -p "$d" -c "$d/nginx.conf" >"$d/nginx.out" 2>&1 &
	NGINX_PID=$!
	wait_until 10 listening "$NGINX_PORT"
}

nginx_stop() {
	[ -n "$NGINX_PID" ] && kill -TERM -- "-$NGINX_PID" 2>/dev/null
	NGINX_PID=""
}

lib_cleanup() {
	local p
	nginx_stop
	for p in "${_tracked[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	_tracked=()
}
