#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Fleet features, for real as root: --metrics scraped by a real Prometheus
# and checked against nginx's access log, --interval summaries, targets by
# --cgroup (HTTP and HTTPS) and -c, and their bad values.
#
# usage: tests/fleet/fleet.sh [--connstate PATH]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/lib.sh"
[ "${1:-}" = --connstate ] && CS_BIN=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/fleet.XXXXXX")
chmod 755 "$work"
cgdir=""
cleanup() {
	lib_cleanup
	[ -n "$cgdir" ] && rmdir "$cgdir" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

suite_begin fleet 16


# expect_error NAME CODE REGEX ARGS...: one stderr line, that exit code, no stdout
expect_error() {
	local name=$1 code=$2 re=$3 rc
	shift 3
	timeout 20 "$CS_BIN" "$@" >"$work/out" 2>"$work/err" </dev/null
	rc=$?
	if [ "$rc" -eq "$code" ] && [ "$(wc -l <"$work/err")" -eq 1 ] &&
		grep -Eq "$re" "$work/err" && [ ! -s "$work/out" ]; then
		pass "$name"
	else
		fail "$name" "exit $rc (want $code), stderr: $(head -c 300 "$work/err")"
	fi
}

# --- bad values: one line, exit 2; refusals of the system: exit 1 ---
expect_error bad_metrics_address_is_rejected 2 "^connstate: invalid --metrics '127.0.0.1:99999'" \
	-p 1 --metrics 127.0.0.1:99999
expect_error bad_interval_is_rejected 2 "^connstate: invalid --interval '0'" -p 1 --interval 0
expect_error pid_and_cgroup_are_alternatives 2 '^connstate: -p, --cgroup and -c are alternatives' \
	-p 1 --cgroup /
expect_error quiet_needs_metrics_or_interval 2 '^connstate: -q leaves nothing to print' -p 1 -q
expect_error missing_cgroup_is_rejected 2 "^connstate: invalid --cgroup '/nonexistent/cg': " \
	--cgroup /nonexistent/cg
expect_error non_cgroup_directory_is_rejected 2 "^connstate: invalid --cgroup '/tmp': .*not a cgroup v2 directory" \
	--cgroup /tmp
expect_error kernel_thread_pid_names_the_host_pid_way 1 '^connstate: PID 2 is a kernel thread.*NSpid' -p 2
# a busy address fails before anything is attached
busy=$(free_port)
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$busy)); s.listen(); time.sleep(30)" &
track_pid $!
wait_until 10 listening "$busy"
expect_error busy_metrics_address_fails_before_attach 1 \
	"^connstate: failed to serve metrics on 127.0.0.1:$busy: Address already in use" \
	-p $$ --metrics "127.0.0.1:$busy"

# --- nginx with an access log, connstate -q --metrics, Prometheus scraping ---
d=$work/nginx
nginx_start "$d" 1 '$remote_port $request_method $status'
echo hello >"$d/www/index.html"
ngx=$NGINX_PID
port=$NGINX_PORT
mport=$(free_port)
scrape() { curl -s "http://127.0.0.1:$mport/metrics"; }
if ! cs_start "$work/cs.out" "$work/cs.err" -p "$ngx" -q --metrics "127.0.0.1:$mport"; then
	fail metrics_page_passes_promtool "no attach"
	fail prometheus_sum_of_requests_equals_access_log "no attach"
	fail gauges_return_to_zero_and_counters_only_grow "no attach"
else
	# keep-alive: 3 requests on one connection; then 4 single ones; one 404
	curl -s -o /dev/null -o /dev/null -o /dev/null "http://127.0.0.1:$port/" "http://127.0.0.1:$port/" "http://127.0.0.1:$port/"
	for _ in 1 2 3 4; do curl -s -o /dev/null "http://127.0.0.1:$port/"; done
	curl -s -o /dev/null "http://127.0.0.1:$port/missing"
	wait_until 5 sh -c "scrape() { curl -s http://127.0.0.1:$mport/metrics; }; scrape | grep -q 'code=\"404\"} 1'"
	scrape >"$work/scrape1"
	if promtool check metrics <"$work/scrape1" >"$work/promtool" 2>&1 &&
		grep -q '^connstate_requests_total{comm="nginx",pid="'"$ngx"'",method="GET",code="200"} 7$' "$work/scrape1" &&
		grep -q '^connstate_requests_total{comm="nginx",pid="'"$ngx"'",method="GET",code="404"} 1$' "$work/scrape1"; then
		pass metrics_page_passes_promtool
	else
		fail metrics_page_passes_promtool "$(cat "$work/promtool"); $(grep requests_total "$work/scrape1")"
	fi
	# a real Prometheus scrapes connstate; its API's sum equals nginx's log
	pport=$(free_port)
	cat >"$work/prom.yml" <<PROM
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: connstate
    static_configs: [ { targets: ['127.0.0.1:$mport'] } ]
PROM
	prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/tsdb" \
		--web.listen-address="127.0.0.1:$pport" >"$work/prom.log" 2>&1 &
	track_pid $!
	logged=$(wc -l <"$d/access.log")
	query() {
		curl -s "http://127.0.0.1:$pport/api/v1/query?query=sum(connstate_requests_total)" |
			python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")' 2>/dev/null
	}
	got=none
	for _ in $(seq 100); do
		got=$(query)
		[ "$got" = "$logged" ] && break
		sleep 0.2
	done
	if [ "$logged" -eq 8 ] && [ "$got" = "$logged" ]; then
		pass prometheus_sum_of_requests_equals_access_log
	else
		fail prometheus_sum_of_requests_equals_access_log "prometheus says '$got', nginx logged $logged; $(tail -3 "$work/prom.log")"
	fi
	# more traffic; then every gauge is 0 and no counter went down
	for _ in 1 2; do curl -s -o /dev/null "http://127.0.0.1:$port/"; done
	wait_until 5 sh -c "curl -s http://127.0.0.1:$mport/metrics | grep -q 'code=\"200\"} 9\$'"
	scrape >"$work/scrape2"
	python3 - "$work/scrape1" "$work/scrape2" >"$work/cmp" 2>&1 <<'PY'
import sys
def load(p):
    m = {}
    for l in open(p):
        if l.startswith("#") or not l.strip():
            continue
        k, v = l.rsplit(" ", 1)
        m[k] = float(v)
    return m
a, b = load(sys.argv[1]), load(sys.argv[2])
bad = []
for k, v in b.items():
    if k.startswith("connstate_connections{"):
        if v != 0:
            bad.append("gauge %s = %s" % (k, v))
    elif k in a and v < a[k]:
        bad.append("counter %s went down: %s -> %s" % (k, a[k], v))
grew = [k for k in b if k in a and b[k] > a[k]]
if not any(k.startswith("connstate_requests_total") for k in grew):
    bad.append("no request counter grew")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
	if [ $? -eq 0 ] && grep -q '^connstate_connections_total 8$' "$work/scrape2"; then
		pass gauges_return_to_zero_and_counters_only_grow
	else
		fail gauges_return_to_zero_and_counters_only_grow "$(cat "$work/cmp"); $(grep '^connstate_connections' "$work/scrape2")"
	fi
	cs_stop INT
fi

# --- --interval -j: summary objects whose counts add up to the traffic ---
if cs_start "$work/iv.out" "$work/iv.err" -p "$ngx" -j -S --interval 1; then
	for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$port/"; done
	curl -s -o /dev/null "http://127.0.0.1:$port/missing"
	sleep 2.2
	cs_stop INT
	if python3 - "$work/iv.out" <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
s = [o for o in objs if o["type"] == "summary"]
assert len(s) >= 2, s
assert sum(o["requests"] for o in s) == 4, s
assert sum(o["status"]["2xx"] for o in s) == 3 and sum(o["status"]["4xx"] for o in s) == 1, s
assert sum(o["closed"]["client"] + o["closed"]["server"] for o in s) == 4, s
assert all(o["comm"] == "nginx" and o["open"] == {"new": 0, "active": 0, "idle": 0} for o in s[-1:]), s
assert all(o["p99_ms"] >= o["p50_ms"] > 0 for o in s if o["requests"]), s
PY
		pass interval_summaries_add_up_to_the_traffic
	else
		fail interval_summaries_add_up_to_the_traffic "$(cat "$work/iv.out")"
	fi
else
	fail interval_summaries_add_up_to_the_traffic "no attach"
fi

# --- --cgroup: a server in a fresh cgroup is traced, one outside is not ---
cgroot=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
cgdir=$cgroot/connstate-fleet-$$
if [ -z "$cgroot" ] || ! mkdir "$cgdir" 2>/dev/null; then
	skip cgroup_traces_only_its_processes "no writable cgroup v2 hierarchy"
	skip cgroup_follows_https "no writable cgroup v2 hierarchy"
else
	in_port=$(free_port)
	out_port=$(free_port)
	sh -c "echo \$\$ > $cgdir/cgroup.procs; exec python3 -m http.server $in_port --bind 127.0.0.1" >/dev/null 2>&1 &
	track_pid $!
	python3 -m http.server "$out_port" --bind 127.0.0.1 >/dev/null 2>&1 &
	track_pid $!
	wait_until 10 listening "$in_port"
	wait_until 10 listening "$out_port"
	if cs_start "$work/cg.out" "$work/cg.err" --cgroup "${cgdir#"$cgroot"/}" -j; then
		curl -s -o /dev/null "http://127.0.0.1:$in_port/"
		curl -s -o /dev/null "http://127.0.0.1:$out_port/"
		curl -s -o /dev/null "http://127.0.0.1:$in_port/x"
		wait_until 5 sh -c "grep -c '\"closed\"' $work/cg.out | grep -qx 2"
		sleep 0.3
		cs_stop INT
		if python3 - "$work/cg.out" <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
reqs = [(o["method"], o["path"], o["status"]) for o in objs if o["type"] == "request"]
assert reqs == [("GET", "/", 200), ("GET", "/x", 404)], reqs
states = [o["state"] for o in objs if o["type"] == "state"]
assert states == ["new", "active", "closed"] * 2, states
PY
			pass cgroup_traces_only_its_processes
		else
			fail cgroup_traces_only_its_processes "$(cat "$work/cg.out" "$work/cg.err")"
		fi
	else
		fail cgroup_traces_only_its_processes "no attach"
	fi
	lib_cleanup

	# HTTPS in the cgroup: its libssl is found through cgroup.procs
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
		-keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
	echo hi >"$work/hi.txt"
	sh -c "echo \$\$ > $cgdir/cgroup.procs; exec /usr/bin/python3 $root/tests/tls/https_server.py --cert $work/cert.pem --key $work/key.pem --directory $work" >"$work/tls.port" 2>/dev/null &
	track_pid $!
	wait_until 10 grep -q '^listening' "$work/tls.port"
	tport=$(awk '{ print $2 }' "$work/tls.port")
	if cs_start "$work/cgtls.out" "$work/cgtls.err" --cgroup "${cgdir#"$cgroot"/}" -j; then
		curl -sk --http1.1 -o /dev/null -o /dev/null "https://127.0.0.1:$tport/hi.txt" \
			"https://127.0.0.1:$tport/nope"
		wait_until 5 grep -q '"closed"' "$work/cgtls.out"
		sleep 0.3
		cs_stop INT
		if python3 - "$work/cgtls.out" <<'PY'; then
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
reqs = [(o["method"], o["path"], o["status"], o.get("tls")) for o in objs if o["type"] == "request"]
assert reqs == [("GET", "/hi.txt", 200, True), ("GET", "/nope", 404, True)], reqs
states = [o["state"] for o in objs if o["type"] == "state"]
assert states == ["new", "active", "idle", "active", "closed"], states  # 404 closes
PY
			pass cgroup_follows_https
		else
			fail cgroup_follows_https "$(cat "$work/cgtls.out" "$work/cgtls.err")"
		fi
	else
		fail cgroup_follows_https "no attach"
	fi
fi

# --- -c: the command is traced from its first accept; its status is ours ---
cport=$(free_port)
cat >"$work/one.py" <<PY
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", $cport)); s.listen()
c, _ = s.accept()
c.recv(4096)
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
c.close()
sys.exit(3)
PY
"$CS_BIN" -S -c "exec python3 $work/one.py" >"$work/c.out" 2>"$work/c.err" &
cpid=$!
track_pid "$cpid"
wait_until 10 listening "$cport"
curl -s -o /dev/null "http://127.0.0.1:$cport/"
wait_until 10 sh -c "! kill -0 $cpid 2>/dev/null"
wait "$cpid"
rc=$?
got=$(sed -n 's/^Client: .* - new state: //p' "$work/c.out" | tr '\n' ' ')
if [ "$rc" -eq 3 ] && [ "$got" = "new active closed " ] &&
	grep -q '^connstate: every target process has exited' "$work/c.err"; then
	pass command_is_traced_and_its_exit_status_returned
else
	fail command_is_traced_and_its_exit_status_returned "rc=$rc states '$got': $(cat "$work/c.err")"
fi
expect_error command_that_is_empty_is_rejected 2 "^connstate: invalid -c ''" -c ''

suite_end
