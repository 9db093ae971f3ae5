#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Checks connstate -j output against nginx's access log for losses.sh.

  check_losses.py losses CS_OUT CS_ERR ACCESS_LOG LOCAL_PORT
  check_losses.py stop   CS_OUT CS_ERR ACCESS_LOG LOCAL_PORT

The access log lines are "$connection $connection_requests $remote_port
$status". Prints one line per check: "NAME ok" or "NAME <why>".
"""
import collections
import json
import re
import sys


def main():
    mode, out, err, log, lport = sys.argv[1:6]
    lines, bad_json = [], 0
    for ln in open(out, errors="replace"):
        try:
            lines.append(json.loads(ln))
        except ValueError:
            bad_json += 1
    ours = [e for e in lines if e.get("local", "").endswith(":" + lport)]
    served = collections.Counter()  # client port -> requests nginx served
    conns_per_port = collections.defaultdict(set)
    for ln in open(log):
        f = ln.split()
        if len(f) >= 3:
            served[f[2]] += 1
            conns_per_port[f[2]].add(f[0])
    summary = ""
    for ln in open(err):
        if re.match(r"^connstate: \d+ connections \(", ln):
            summary = ln

    def port(e):
        return e.get("client", "").rsplit(":", 1)[-1]

    def check(name, problems):
        print("%s %s" % (name, "ok" if not problems else "; ".join(problems[:3])))

    if mode == "losses":
        m = re.search(r"(\d+) events lost", summary)
        lost = int(m.group(1)) if m else 0
        check("events_were_lost", [] if lost > 0 else ["no events lost: %r" % summary])
        check("json_lines_are_valid", ["%d lines not JSON" % bad_json] if bad_json else [])
        unseen = [e for e in lines if e.get("client", "").startswith("?")]
        check("no_line_under_an_unseen_address",
              ["%d lines under ?:0, first %s" % (len(unseen), unseen[0])] if unseen else [])
        counted = collections.Counter(port(e) for e in ours if e.get("type") == "request")
        unsure = {port(e) for e in ours if e.get("uncertain")}
        wrong = []
        for p in set(counted) | set(served):
            if counted[p] != served[p] and p not in unsure:
                wrong.append("port %s: %d requests told, nginx served %d, not uncertain" %
                             (p, counted[p], served[p]))
        check("every_miscounted_connection_is_uncertain",
              ["%d of %d connections" % (len(wrong), len(served))] + wrong if wrong else [])
        after = []
        closed = collections.Counter()
        for e in ours:
            if e.get("type") != "state":
                continue
            if e.get("prev") == "closed":
                after.append("state after closed: %s" % e)
            if e.get("state") == "closed":
                closed[port(e)] += 1
        for p, n in closed.items():
            if n > max(1, len(conns_per_port[p])):
                after.append("port %s closed %d times, nginx saw %d connections" %
                             (p, n, len(conns_per_port[p])))
        check("no_state_after_closed", after)
        still = [e for e in lines if e.get("type") == "open"]
        m = re.search(r"\((\d+) open\)", summary)
        probs = ["%d told open at exit, first %s" % (len(still), still[0])] if still else []
        if not m or m.group(1) != "0":
            probs.append("summary: %s" % summary.strip())
        check("nothing_open_at_exit_after_clients_closed", probs)
    else:
        invented = []
        for e in ours:
            if (e.get("type") == "state" and e.get("state") == "closed" and
                    e.get("requests") == 0 and served[port(e)] > 0):
                invented.append("port %s closed with 0 requests, nginx served %d (prev %s)" %
                                (port(e), served[port(e)], e.get("prev")))
        seen = sum(1 for e in ours if e.get("type") == "request")
        if not seen:
            invented.append("connstate told no request at all before the stop")
        check("stop_invents_no_connection_without_requests",
              ["%d problems" % len(invented)] + invented if invented else [])
        adopted = [e for e in ours if e.get("adopted")]
        check("stop_adopts_nothing",
              ["%d adopted lines, first %s" % (len(adopted), adopted[0])] if adopted else [])


if __name__ == "__main__":
    main()
