#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The soak's checker: nginx's access log against connstate -j, per connection.

usage: check.py --log ACCESS_LOG --connstate CS.jsonl --connstate-err CS.err
                --local-port PORT --workers PID,PID

The access log's format (tests/soak/soak.sh):
    $msec $pid $connection $connection_requests $remote_port
    $request_method $request_uri $status $bytes_sent $request_length
$connection is nginx's serial number of the connection (one counter for
all workers, taken at accept), so per client port the logged connections
are in accept order when sorted by it. connstate's connections on a client
port are in the order of their "new" lines.

Matching, per client port: connstate's connections are walked in order; a
connection with 0 requests whose close came before the next logged
connection on that port began is one nginx never logged (a client that
connected and closed without sending a request: wrk does that when a run
ends; connstate must say closed_by client) and is counted, not matched; every other connection is matched to the
next logged connection on that port. No connection that made a request may
be left unmatched on either side. With --killed PID --killed-at T
(tests/faults/faults.sh), a connection of that worker that closed after T may
also end with no request whatever closed it, with one request more than the
log, or be missing from the log altogether: the worker died before logging.

Prints PASS/FAIL lines (exactly the 9 checks below, always) and figures.
"""
import argparse
import calendar
import collections
import json
import re
import sys

CHECKS = [
    "soak_output_is_valid_json",
    "soak_no_events_lost",
    "soak_no_connection_uncertain_or_untracked",
    "soak_no_warning_adopted_or_open_lines",
    "soak_every_connection_new_first_closed_last",
    "soak_every_logged_connection_reported",
    "soak_requests_match_access_log",
    "soak_no_unlogged_connection_with_requests",
    "soak_summary_totals_match_access_log",
]
# nginx's $msec is its cached time, truncated to ms; connstate's is the
# kernel's event time
SLACK = 0.005
SHOW = 5  # examples shown per failed check

_epoch = {}


def epoch(t):
    """RFC 3339 UTC with microseconds -> seconds since the epoch."""
    head = t[:19]
    s = _epoch.get(head)
    if s is None:
        s = calendar.timegm((int(t[0:4]), int(t[5:7]), int(t[8:10]), int(t[11:13]),
                             int(t[14:16]), int(t[17:19])))
        _epoch[head] = s
    return s + float("0" + t[19:].rstrip("Z")) if len(t) > 20 else s


class Conn:
    __slots__ = ("new_t", "closed_t", "pid", "reqs", "closed_reqs", "closed_by", "line")

    def __init__(self, t, pid, line):
        self.new_t = t
        self.closed_t = None
        self.pid = pid
        self.reqs = []
        self.closed_reqs = None
        self.closed_by = None
        self.line = line


def read_log(path):
    """client port -> logged connections in accept order, each a dict."""
    conns = {}
    bad = []
    with open(path, errors="replace") as f:
        for n, line in enumerate(f, 1):
            p = line.split()
            if len(p) < 10:
                bad.append(f"access log line {n}: {line.strip()[:120]!r}")
                continue
            try:
                msec, pid, serial, nreq, port = float(p[0]), int(p[1]), int(p[2]), int(p[3]), int(p[4])
                status = int(p[-3])
            except ValueError:
                bad.append(f"access log line {n}: {line.strip()[:120]!r}")
                continue
            method, path = p[5], " ".join(p[6:-3])
            c = conns.get(serial)
            if c is None:
                c = conns[serial] = {"serial": serial, "port": port, "pid": pid, "reqs": {}}
            c["reqs"][nreq] = (method, path, status, msec)
    by_port = collections.defaultdict(list)
    for serial in sorted(conns):
        c = conns[serial]
        c["list"] = [c["reqs"][k] for k in sorted(c["reqs"])]
        c["gaps"] = sorted(c["reqs"]) != list(range(1, len(c["reqs"]) + 1))
        by_port[c["port"]].append(c)
    return by_port, len(conns), bad


def read_connstate(path, local_port):
    """client port -> connstate's connections in order; and the problems."""
    by_port = collections.defaultdict(list)
    open_ = {}
    invalid, grammar, flagged = [], [], []
    lines = 0
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            lines += 1
            try:
                o = json.loads(raw)
                kind = o["type"]
                host, _, port = o["client"].rpartition(":")
                port = int(port)
                t = epoch(o["time"])
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                invalid.append(f"line {n}: {e}: {raw[:120]!r}")
                continue
            if not o.get("local", "").endswith(f":{local_port}"):
                continue
            if o.get("adopted") or o.get("uncertain") or kind in ("warning", "open"):
                flagged.append(f"line {n}: {raw[:200]!r}")
            cur = open_.get(port)
            if kind == "state" and o.get("state") == "new":
                if cur is not None:
                    grammar.append(f"line {n}: port {port}: new while the connection of line "
                                   f"{cur.line} is not closed")
                cur = open_[port] = Conn(t, o.get("pid"), n)
                by_port[port].append(cur)
                continue
            if cur is None:
                if kind != "open":
                    grammar.append(f"line {n}: port {port}: {kind} {o.get('state', '')} "
                                   "outside a new..closed span")
                continue
            if kind == "request":
                cur.reqs.append((o.get("method"), o.get("path"), o.get("status"), o.get("complete")))
            elif kind == "state":
                st = o.get("state")
                if st == "closed":
                    cur.closed_t = t
                    cur.closed_reqs = o.get("requests")
                    cur.closed_by = o.get("closed_by")
                    del open_[port]
                elif st not in ("active", "idle"):
                    grammar.append(f"line {n}: port {port}: state {st}")
    for port, c in open_.items():
        grammar.append(f"port {port}: the connection of line {c.line} has no closed line")
    return by_port, lines, invalid, grammar, flagged


def summary(path):
    """The figures of connstate's exit summary on stderr, or None."""
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"connstate: (\d+) connections \((\d+) open\), (\d+) requests, (\d+) events, "
                         r"(\d+) events lost, (\d+) syscalls not followed \(stash full\), "
                         r"(\d+) connections uncertain, (\d+) connections not tracked \(map full\)"
                         r"(?:, (\d+) connections ended unseen)?", line)
            if m:
                keys = ("conns", "open", "requests", "events", "lost", "unfollowed", "uncertain",
                        "untracked", "unseen")
                return dict(zip(keys, (int(x or 0) for x in m.groups())))
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--connstate", required=True)
    ap.add_argument("--connstate-err", required=True)
    ap.add_argument("--local-port", type=int, required=True)
    ap.add_argument("--workers", required=True)
    ap.add_argument("--killed", type=int, default=0,
                    help="a worker killed with SIGKILL (tests/faults): its connections that "
                    "closed after --killed-at may lack their last request in the log, or be "
                    "missing from it")
    ap.add_argument("--killed-at", type=float, default=0.0, help="when it was killed (epoch)")
    a = ap.parse_args()
    workers = {int(p) for p in a.workers.split(",") if p}

    res = {}

    def check(name, problems, what=""):
        assert name in CHECKS and name not in res
        if problems and not what:
            res[name] = f"FAIL {name}: " + "; ".join(problems)
        elif problems:
            res[name] = f"FAIL {name}: {len(problems)} {what}" + "".join(
                f"\n    {p}" for p in problems[:SHOW])
        else:
            res[name] = f"PASS {name}"

    logged, nlogged, badlog = read_log(a.log)
    cs, nlines, invalid, grammar, flagged = read_connstate(a.connstate, a.local_port)
    sm = summary(a.connstate_err)

    check("soak_output_is_valid_json", invalid, f"of {nlines} lines invalid")
    if sm is None:
        check("soak_no_events_lost", ["no summary line on connstate's stderr"])
        check("soak_no_connection_uncertain_or_untracked", ["no summary line"])
    else:
        check("soak_no_events_lost",
              [f"{sm['lost']} events lost, {sm['unfollowed']} syscalls not followed"]
              if sm["lost"] or sm["unfollowed"] else [])
        check("soak_no_connection_uncertain_or_untracked",
              [f"{sm['uncertain']} uncertain, {sm['untracked']} not tracked, {sm['open']} open, "
               f"{sm['unseen']} ended unseen"]
              if sm["uncertain"] or sm["untracked"] or sm["open"] or sm["unseen"] else [])
    check("soak_no_warning_adopted_or_open_lines", flagged, "lines")
    check("soak_every_connection_new_first_closed_last", grammar, "problems")

    missing, mismatch, extra, empty, unlogged, unlogged_conns = [], [], [], 0, 0, 0
    matched = 0
    for port in sorted(set(logged) | set(cs)):
        L, C = logged.get(port, []), cs.get(port, [])
        j = 0
        for c in C:
            nxt = L[j] if j < len(L) else None
            # a connection the killed worker still had: it may never have been logged
            died = (a.killed and c.pid == a.killed and c.closed_t is not None
                    and c.closed_t >= a.killed_at - SLACK)
            later = c.closed_t is not None and (nxt is None or nxt["list"][0][3] >= c.closed_t - SLACK)
            if later and not c.reqs and (c.closed_by == "client" or died):
                empty += 1
                continue
            # the killed worker logs nothing after the kill: if the next logged
            # connection on this port is not its own, this one was never logged
            if died and c.reqs and (nxt is None or nxt["pid"] != c.pid):
                unlogged += len(c.reqs)
                unlogged_conns += 1
                continue
            if nxt is None:
                extra.append(f"port {port}: line {c.line}: {len(c.reqs)} requests, not in the log")
                continue
            j += 1
            matched += 1
            why = []
            got = [(m, p, s) for m, p, s, _ in c.reqs]
            want = [(m, p, s) for m, p, s, _ in nxt["list"]]
            if died and len(got) == len(want) + 1 and got[:-1] == want:
                unlogged += 1
                got = got[:-1]
                if c.closed_reqs is not None:
                    c.closed_reqs -= 1
            if nxt["gaps"]:
                why.append("the log has a gap in $connection_requests")
            if got != want:
                k = next(i for i in range(max(len(got), len(want)))
                         if i >= len(got) or i >= len(want) or got[i] != want[i])
                why.append(f"{len(got)} requests, log {len(want)}; request {k + 1}: "
                           f"{got[k] if k < len(got) else 'none'}, "
                           f"log {want[k] if k < len(want) else 'none'}")
            if c.closed_reqs != len(want):
                why.append(f"closed line says {c.closed_reqs} requests, log {len(want)}")
            if c.pid != nxt["pid"] or c.pid not in workers:
                why.append(f"pid {c.pid}, log {nxt['pid']}, workers {sorted(workers)}")
            t0, t1 = nxt["list"][0][3], nxt["list"][-1][3]
            if c.closed_t is not None and not (c.new_t - SLACK <= t0 and t1 <= c.closed_t + SLACK):
                why.append(f"log times {t0:.3f}..{t1:.3f} outside new..closed "
                           f"{c.new_t:.6f}..{c.closed_t:.6f}")
            if why:
                mismatch.append(f"port {port}: line {c.line} / $connection {nxt['serial']}: "
                                + "; ".join(why))
        for n in L[j:]:
            missing.append(f"port {port}: $connection {n['serial']} ({len(n['list'])} requests)")
    check("soak_every_logged_connection_reported", missing + badlog,
          f"of {nlogged} logged connections missing")
    check("soak_requests_match_access_log", mismatch, f"of {matched} connections differ")
    check("soak_no_unlogged_connection_with_requests", extra, "connections")
    nreq = sum(len(c["list"]) for L in logged.values() for c in L)
    if sm is None:
        check("soak_summary_totals_match_access_log", ["no summary line"])
    else:
        want = (nlogged + empty + unlogged_conns, nreq + unlogged)
        got = (sm["conns"], sm["requests"])
        check("soak_summary_totals_match_access_log",
              [f"summary {got[0]} connections, {got[1]} requests; log {want[0]} connections "
               f"(+ {empty} without a request), {want[1]} requests"] if got != want else [])

    for name in CHECKS:
        print(res[name])
    ncs = sum(len(C) for C in cs.values())
    print(f"soak: figures: log {nlogged} connections, {nreq} requests; connstate {ncs} "
          f"connections ({empty} closed without a request, not logged by nginx), {nlines} lines"
          + (f"; the killed worker's last {unlogged} requests not logged ({unlogged_conns} "
             "connections not logged at all)" if a.killed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
