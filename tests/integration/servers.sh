#!/bin/bash
# Integration test: connstate against real servers from Debian's packages,
# checked against each server's OWN access log.
#
# usage: tests/integration/servers.sh [--connstate PATH] [--keep] [SERVER...]
#        SERVER: nginx py_http10 py_http11 busybox (default: all)
#
# For each server: start it on 127.0.0.1 on a free port in a temp dir, start
# `connstate -j -p PID`, wait for "connstate: attached" (10 s at most), drive
# a fixed traffic mix with traffic.py (a byte-exact raw-socket client: keep-
# alive, pipelining, Connection: close, HTTP/1.0, HEAD, 404, large bodies),
# stop connstate with SIGINT and compare, per client connection (grouped by
# client port), connstate's requests and states with the server's access log
# and with what the client saw on the wire (compare.py).
#
#   nginx       worker_processes 2, master_process on, daemon off; connstate
#               gets the MASTER pid; access_log logs $connection
#               $connection_requests $request_method $request_uri
#               $remote_port $status $bytes_sent $request_length. Bodies go
#               out with sendfile (/small.txt, /big.bin = 1 MiB) and, under
#               /nosf/ (sendfile off), with writev; /missing is a 404.
#   py_http10   /usr/bin/python3 -m http.server (HTTP/1.0: every response
#               closes); its log on stderr has no port, so the log is split
#               over the connections in order by the responses the client got.
#   py_http11   tests/integration/py_server.py: SimpleHTTPRequestHandler
#               with protocol_version HTTP/1.1, logging ADDR:PORT.
#   busybox     busybox httpd -f -vv: forks one child per connection (after
#               connstate attached), so requests are only seen if forked
#               children are followed; -vv logs "ADDR:PORT: url:PATH" and
#               "ADDR:PORT: response:CODE" (-v logs only the response line;
#               the method is never logged, the path without its ?query, so
#               paths are compared without it). busybox 1.35 also writes the
#               body after a HEAD response; the client tolerates that there.
#
# Checks (NAME is the server, SCEN a traffic scenario of traffic.py's mix):
#   NAME_traffic_ran_as_scripted        the server answered/closed as the mix
#                                       assumes (a setup check, not connstate's)
#   NAME_connstate_exits_0_on_sigint_without_losses
#   NAME_every_connection_reported_once_and_closed   each client connection
#                                       has one "new" and one "closed" line,
#                                       none is "adopted", no others appear
#   NAME_exit_summary_counts_match_access_log   connections/requests in the
#                                       summary connstate prints on SIGINT
#   busybox_has_no_children_at_attach   (so every child is forked after)
#   NAME_connections_attributed_to_...  the "pid" connstate reports (nginx:
#                                       a worker, busybox: the parent)
#   NAME_access_log_has_only_client_connections / ..._total_matches_...
#   NAME_SCEN_requests_match_access_log per connection: same number of
#                                       requests, same order, same method
#                                       (where logged), path, status; all
#                                       complete; "requests" of the closed line
#   NAME_SCEN_state_sequence            per connection: the exact ConnState
#                                       words (e.g. new active idle x3 closed)
#   NAME_SCEN_bytes_match_wire          bytes_in/bytes_out equal the bytes the
#                                       client sent/received (and nginx's
#                                       $request_length/$bytes_sent)
#
# Prints PASS/FAIL lines and, last, "servers: N passed, M failed" (tests/
# lib.sh); exit 1 if any failed or did not run. The planned count is computed
# before anything runs: compare.py --plan counts a server's checks from
# traffic.py's mix. A missing server binary is one check, reported as SKIP
# and counted as failed unless CONNSTATE_ALLOW_SKIP=1. Never installs anything.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
PY=/usr/bin/python3
connstate=./connstate
keep=0
only=()

usage() {
	echo "usage: $0 [--connstate PATH] [--keep] [nginx|py_http10|py_http11|busybox ...]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--connstate) [ $# -ge 2 ] || usage; connstate=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) usage ;;
	-*) echo "unknown option $1" >&2; usage ;;
	nginx|py_http10|py_http11|busybox) only+=("$1"); shift ;;
	*) echo "unknown server $1" >&2; usage ;;
	esac
done

# setup_fail NAME WHY: the suite cannot start; one failed check
setup_fail() {
	suite_begin servers 1
	fail "$1" "$2"
	suite_end
	exit 1
}

if [ ! -x "$connstate" ] || [ -d "$connstate" ]; then
	echo "servers: connstate binary '$connstate' not found or not executable (build it with make, or pass --connstate)" >&2
	setup_fail connstate_binary_present "$connstate not executable"
fi
connstate="$(cd "$(dirname "$connstate")" && pwd)/$(basename "$connstate")"
CS_BIN=$connstate

work=$(mktemp -d "${TMPDIR:-/tmp}/connstate-servers.XXXXXX") ||
	setup_fail servers_workdir "mktemp failed"
# nginx's workers run as an unprivileged user and must read the files
chmod 755 "$work"

pgroups=() # session/process-group leaders we started (setsid): servers
cs_pid=""  # the running connstate
told=0     # "logs kept in" said

stop_connstate() {
	cs_rc=""
	[ -n "$cs_pid" ] || return 0
	kill -INT "$cs_pid" 2>/dev/null
	if ! wait_until 5 eval '! kill -0 "$cs_pid" 2>/dev/null'; then
		echo "servers: connstate (pid $cs_pid) ignored SIGINT for 5 s; killing it" >&2
		kill -KILL "$cs_pid" 2>/dev/null
	fi
	wait "$cs_pid" 2>/dev/null
	cs_rc=$?
	cs_pid=""
}

# stop_group PID: TERM the process group PID leads (a server and its
# workers/children), KILL what is left after 3 s.
stop_group() {
	local pg=$1
	kill -TERM -- "-$pg" 2>/dev/null || return 0
	wait_until 3 eval '! kill -0 -- "-$pg" 2>/dev/null'
	kill -KILL -- "-$pg" 2>/dev/null
	wait "$pg" 2>/dev/null
	return 0
}

cleanup() {
	local pg
	stop_connstate
	for pg in "${pgroups[@]}"; do
		stop_group "$pg"
	done
	lib_cleanup
	if [ "$keep" = 1 ] || ! suite_ok; then
		[ "$told" = 1 ] || echo "servers: logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# fail_with NAME WHY [DETAILS]: a failed check and what explains it
fail_with() {
	fail "$1" "$2"
	if [ $# -ge 3 ] && [ -n "$3" ]; then
		printf '%s\n' "$3" | sed 's/^/    /'
	fi
}

# missing NAME: what NAME's server needs and this machine lacks, if anything
missing() {
	case $1 in
	nginx) command -v nginx >/dev/null 2>&1 || echo nginx ;;
	py_http10|py_http11) [ -x "$PY" ] || echo "$PY" ;;
	busybox)
		if ! command -v busybox >/dev/null 2>&1; then
			echo busybox
		elif ! busybox --list 2>/dev/null | grep -qx httpd; then
			echo "busybox httpd applet"
		fi ;;
	esac
}

# mix_of NAME: the traffic.py mix a server gets
mix_of() {
	case $1 in py_http10) echo py10 ;; py_http11) echo py11 ;; *) echo "$1" ;; esac
}

# plan NAME: the checks a server makes; one (its SKIP or FAIL) if it is missing
plan() {
	local n
	if [ -n "$(missing "$1")" ]; then
		echo 1
		return
	fi
	n=$("$PY" "$here/compare.py" --plan "$(mix_of "$1")" --pids 1) || n=1
	# busybox also checks that it has no children when connstate attaches
	[ "$1" = busybox ] && n=$((n + 1))
	echo "$n"
}

skip_missing() {
	echo "**************************************************************" >&2
	echo "SKIP $1: $2 not installed" >&2
	echo "**************************************************************" >&2
	if [ "${CONNSTATE_ALLOW_SKIP:-0}" = 1 ]; then
		skip "$1" "$2 not installed"
	else
		fail "$1" "skipped, $2 not installed (set CONNSTATE_ALLOW_SKIP=1 to allow)"
	fi
}

wanted() {
	local s
	[ ${#only[@]} -eq 0 ] && return 0
	for s in "${only[@]}"; do [ "$s" = "$1" ] && return 0; done
	return 1
}

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# is_listening PORT: some socket listens on 127.0.0.1:PORT (or *:PORT)
is_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
		/proc/net/tcp 2>/dev/null
}

# make_docroot DIR: small.txt, big.bin (1 MiB), nothing else
make_docroot() {
	mkdir -p "$1"
	printf 'connstate integration test: a small static file\n' >"$1/small.txt"
	head -c 1048576 /dev/zero | tr '\0' 'x' >"$1/big.bin"
	chmod -R a+rX "$1"
}

# start_connstate NAME DIR PID: starts connstate -j -p PID, waits for
# "connstate: attached" on its stderr (10 s at most).
start_connstate() {
	local name=$1 d=$2 pid=$3
	cs_pid=""
	if cs_start "$d/cs.out" "$d/cs.err" -j --show-query -p "$pid"; then
		cs_pid=$CS_PID
		return 0
	fi
	# the server's other checks then never run: suite_end counts them
	fail_with "${name}_connstate_attaches_within_10s" "no 'connstate: attached' on stderr" \
		"$(tail -n 5 "$d/cs.err")"
	return 1
}

# drive NAME DIR PORT MIX LOGFILE: runs the mix, waits until connstate has
# printed a closed line per connection (5 s at most), stops connstate,
# compares. Extra arguments go to compare.py.
drive() {
	local name=$1 d=$2 port=$3 mix=$4 log=$5 out rc line nfail=0
	shift 5
	timeout 60 "$PY" "$here/traffic.py" --port "$port" --mix "$mix" --out "$d/client.json" \
		2>"$d/client.err"
	# connstate reads its ring buffer in the background: let it catch up
	"$PY" "$here/compare.py" --wait-closed 5 --client "$d/client.json" \
		--connstate "$d/cs.out" --local-port "$port" 2>/dev/null
	sleep 0.1
	stop_connstate
	out=$("$PY" "$here/compare.py" --name "$name" --log-format "$log" --log "$d/access.log" \
		--client "$d/client.json" --connstate "$d/cs.out" --connstate-err "$d/cs.err" \
		--connstate-rc "${cs_rc:-255}" --local-port "$port" --mix "$mix" "$@" \
		2>"$d/compare.err")
	rc=$?
	# compare.py's checks are this suite's checks
	while IFS= read -r line; do
		case $line in
		"PASS "*) pass "${line#PASS }" ;;
		"FAIL "*)
			line=${line#FAIL }
			fail "${line%%: *}" "${line#*: }"
			nfail=$((nfail + 1)) ;;
		*) [ -n "$line" ] && printf '%s\n' "$line" ;;
		esac
	done <<<"$out"
	if [ $rc != 0 ] && [ $nfail = 0 ]; then
		fail_with "${name}_compare_ran" "compare.py exit $rc" "$(tail -n 5 "$d/compare.err")"
	fi
}

# children PID: the pids of PID's child processes, comma-separated
children() {
	pgrep -P "$1" | paste -sd, -
}

# ---------------------------------------------------------------- nginx
run_nginx() {
	local name=nginx d="$work/nginx" port pid="" workers="" i
	mkdir -p "$d/tmp" && make_docroot "$d/www"
	for _ in 1 2 3; do
		port=$(free_port)
		cat >"$d/nginx.conf" <<-EOF
			worker_processes 2;
			master_process on;
			daemon off;
			pid $d/nginx.pid;
			error_log $d/error.log info;
			events { worker_connections 256; }
			http {
			    log_format cs '\$connection \$connection_requests \$request_method \$request_uri \$remote_port \$status \$bytes_sent \$request_length';
			    access_log $d/access.log cs;
			    client_body_temp_path $d/tmp/body;
			    proxy_temp_path $d/tmp/proxy;
			    fastcgi_temp_path $d/tmp/fastcgi;
			    uwsgi_temp_path $d/tmp/uwsgi;
			    scgi_temp_path $d/tmp/scgi;
			    types { text/plain txt; application/octet-stream bin; }
			    default_type application/octet-stream;
			    sendfile on;
			    keepalive_timeout 30s;
			    keepalive_requests 1000;
			    server {
			        listen 127.0.0.1:$port;
			        root $d/www;
			        location /nosf/ { sendfile off; alias $d/www/; }
			    }
			}
		EOF
		setsid nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" >"$d/nginx.out" 2>&1 &
		pid=$!
		pgroups+=("$pid")
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			workers=$(children "$pid")
			if is_listening "$port" && [ "$(echo "$workers" | tr ',' '\n' | grep -c .)" = 2 ]; then
				break 2
			fi
			sleep 0.05
		done
		stop_group "$pid"
		pid=""
	done
	if [ -z "$pid" ]; then
		fail_with "${name}_server_starts" "nginx did not start with 2 workers" \
			"$(tail -n 5 "$d/error.log" "$d/nginx.out" 2>/dev/null)"
		return
	fi
	start_connstate "$name" "$d" "$pid" || return
	drive "$name" "$d" "$port" nginx nginx --pids "$workers" --pids-what "nginx worker pids"
	stop_group "$pid"
}

# ----------------------------------------------------- python http.server
# start_python NAME DIR CMD...: starts CMD (stdout to DIR/stdout, the access
# log on stderr to DIR/access.log), sets py_pid and py_port.
start_python() {
	local name=$1 d=$2 i
	shift 2
	py_pid=""
	py_port=""
	: >"$d/stdout"
	: >"$d/access.log"
	setsid "$@" >"$d/stdout" 2>"$d/access.log" &
	py_pid=$!
	pgroups+=("$py_pid")
	for ((i = 0; i < 100; i++)); do
		py_port=$(sed -n -e 's/^Serving HTTP on [^ ]* port \([0-9]*\) .*/\1/p' \
			-e 's/^listening \([0-9]*\)$/\1/p' "$d/stdout" | head -n 1)
		[ -n "$py_port" ] && is_listening "$py_port" && return 0
		kill -0 "$py_pid" 2>/dev/null || break
		sleep 0.05
	done
	fail_with "${name}_server_starts" "no listening port reported" \
		"$(tail -n 5 "$d/stdout" "$d/access.log" 2>/dev/null)"
	stop_group "$py_pid"
	return 1
}

run_py_http10() {
	local name=py_http10 d="$work/py_http10"
	make_docroot "$d/www"
	start_python "$name" "$d" "$PY" -u -m http.server --bind 127.0.0.1 --directory "$d/www" 0 ||
		return
	start_connstate "$name" "$d" "$py_pid" || return
	drive "$name" "$d" "$py_port" py10 python --pids "$py_pid" --pids-what "the server pid"
	stop_group "$py_pid"
}

run_py_http11() {
	local name=py_http11 d="$work/py_http11"
	make_docroot "$d/www"
	start_python "$name" "$d" "$PY" -u "$here/py_server.py" --bind 127.0.0.1 --port 0 \
		--directory "$d/www" || return
	start_connstate "$name" "$d" "$py_pid" || return
	drive "$name" "$d" "$py_port" py11 python_port --pids "$py_pid" --pids-what "the server pid"
	stop_group "$py_pid"
}

# ---------------------------------------------------------- busybox httpd
run_busybox() {
	local name=busybox d="$work/busybox" port pid="" i
	make_docroot "$d/www"
	for _ in 1 2 3; do
		port=$(free_port)
		setsid busybox httpd -f -vv -p "127.0.0.1:$port" -h "$d/www" >"$d/stdout" \
			2>"$d/access.log" &
		pid=$!
		pgroups+=("$pid")
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			is_listening "$port" && break 2
			sleep 0.05
		done
		stop_group "$pid"
		pid=""
	done
	if [ -z "$pid" ]; then
		fail_with "${name}_server_starts" "busybox httpd did not start" \
			"$(tail -n 5 "$d/access.log" 2>/dev/null)"
		return
	fi
	# every connection's child is forked after connstate attached
	if [ -n "$(children "$pid")" ]; then
		fail "${name}_has_no_children_at_attach" "busybox httpd already has children"
	else
		pass "${name}_has_no_children_at_attach"
	fi
	start_connstate "$name" "$d" "$pid" || return
	drive "$name" "$d" "$port" busybox busybox --pids "$pid" \
		--pids-what "the busybox parent pid"
	stop_group "$pid"
}

SECONDS=0
if [ ! -x "$PY" ]; then
	echo "servers: $PY missing: the traffic client needs it" >&2
fi
planned=0
for s in nginx py_http10 py_http11 busybox; do
	wanted "$s" && planned=$((planned + $(plan "$s")))
done
suite_begin servers "$planned"
for s in nginx py_http10 py_http11 busybox; do
	wanted "$s" || continue
	m=$(missing "$s")
	if [ -n "$m" ]; then
		skip_missing "$s" "$m"
	else
		"run_$s"
	fi
done
echo "servers: run took ${SECONDS}s" >&2
if [ "$keep" = 1 ] || ! suite_ok; then
	echo "servers: logs kept in $work" >&2
	told=1
fi
suite_end
