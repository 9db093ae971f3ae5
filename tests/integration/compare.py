#!/usr/bin/python3
"""Compare connstate's -j output with a server's own access log.

    compare.py --wait-closed SECONDS --client CLIENT.json --connstate OUT --local-port PORT
    compare.py --plan MIX [--pids PID]   prints how many checks a run of MIX makes
    compare.py --name PREFIX --log-format nginx|python|python_port|busybox
               --log FILE --client CLIENT.json --connstate OUT --connstate-err ERR
               --connstate-rc RC --local-port PORT --mix MIX [--pids PID,...]

Prints one "PASS name" or "FAIL name: why" line per check (details of a
failure follow, indented) and, last, "PREFIX: N passed, M failed" (tests/lib.py;
the number of checks is planned from traffic.py's MIX). See servers.sh for
what each check verifies. Exit status 1 if a check failed or did not run.

With --wait-closed it only waits (polling) until connstate's output ends
every client connection with a "closed" line, and exits 1 on timeout.
"""
import argparse
import collections
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import Suite  # noqa: E402  (tests/lib.py)
import traffic  # noqa: E402

suite = None


def check(name, ok, why="", details=()):
    suite.check(name, ok, why, details)


def planned(mix, with_pids):
    """The checks main() makes for a run of MIX: six per server (five
    without --pids), three per scenario of the mix."""
    scenarios = set(c["scenario"] for c in traffic.MIXES[mix]())
    return 5 + (1 if with_pids else 0) + 3 * len(scenarios)


# --- server logs: {port: [entry]} or, without ports, [entry] in log order.
# An entry is {"method": str|None, "path": str|None, "status": int|None,
# "bytes_sent": int|None, "request_length": int|None}.

def entry(method=None, path=None, status=None, bytes_sent=None, request_length=None):
    return {"method": method, "path": path, "status": status,
            "bytes_sent": bytes_sent, "request_length": request_length}


def parse_nginx(lines):
    # log_format: $connection $connection_requests $request_method
    #             $request_uri $remote_port $status $bytes_sent $request_length
    by_port, conns = collections.OrderedDict(), collections.defaultdict(set)
    bad = []
    for ln in lines:
        f = ln.split(" ")
        if len(f) != 8 or not f[4].isdigit():
            bad.append(ln)
            continue
        port = int(f[4])
        e = entry(f[2], f[3], int(f[5]), int(f[6]), int(f[7]))
        e["connection"], e["connection_requests"] = int(f[0]), int(f[1])
        by_port.setdefault(port, []).append(e)
        conns[port].add(int(f[0]))
    return by_port, bad


PY_RE = re.compile(r'^(\S+?)(?::(\d+))? - - \[[^\]]*\] "(\S+) (\S+) (HTTP/\d\.\d)" (\d{3}) ')
PY_OTHER = re.compile(r'^\S+ - - \[[^\]]*\] code \d+, message ')


def parse_python(lines, with_port):
    by_port, ordered, bad = collections.OrderedDict(), [], []
    for ln in lines:
        m = PY_RE.match(ln)
        if not m:
            if not PY_OTHER.match(ln) and not ln.startswith("Serving HTTP on"):
                bad.append(ln)
            continue
        e = entry(m.group(3), m.group(4), int(m.group(6)))
        if with_port:
            if m.group(2) is None:
                bad.append(ln)
                continue
            by_port.setdefault(int(m.group(2)), []).append(e)
        else:
            ordered.append(e)
    return (by_port if with_port else ordered), bad


BB_URL = re.compile(r"^(\S+):(\d+): url:(.*)$")
BB_RESP = re.compile(r"^(\S+):(\d+): response:(\d+)$")


def parse_busybox(lines):
    # -vv: "ADDR:PORT: url:/path" then "ADDR:PORT: response:CODE"
    by_port, bad = collections.OrderedDict(), []
    for ln in lines:
        m = BB_URL.match(ln)
        if m:
            e = entry(path=m.group(3))
            e["no_query"] = True  # busybox logs the path without "?query"
            by_port.setdefault(int(m.group(2)), []).append(e)
            continue
        m = BB_RESP.match(ln)
        if m:
            es = by_port.setdefault(int(m.group(2)), [])
            if not es or es[-1]["status"] is not None:
                es.append(entry())  # a response with no url line (a 400, say)
            es[-1]["status"] = int(m.group(3))
            continue
        bad.append(ln)
    return by_port, bad


def load_jsonl(path, what, errors):
    out = []
    try:
        with open(path) as f:
            for i, ln in enumerate(f, 1):
                ln = ln.strip()
                if not ln:
                    continue
                try:
                    out.append(json.loads(ln))
                except ValueError:
                    errors.append("%s line %d is not JSON: %r" % (what, i, ln[:200]))
    except OSError as e:
        errors.append("cannot read %s: %s" % (what, e))
    return out


def fmt_req(e):
    return "%s %s -> %s" % (e.get("method") or "?", e.get("path"), e.get("status"))


def wait_closed(a):
    """Until every client port's last state line in connstate's output is
    "closed"; reads only complete lines (connstate is still writing)."""
    ports = set(c["port"] for c in load_jsonl(a.client, "client record", []))
    deadline = time.monotonic() + a.wait_closed
    while True:
        last = {}
        try:
            with open(a.connstate) as f:
                data = f.read()
        except OSError:
            data = ""
        for ln in data.split("\n")[:-1]:
            try:
                e = json.loads(ln)
            except ValueError:
                continue
            if e.get("type") == "state" and \
                    e.get("local", "").endswith(":%d" % a.local_port):
                last[int(e["client"].rsplit(":", 1)[1])] = e["state"]
        if all(last.get(p) == "closed" for p in ports):
            return 0
        if time.monotonic() > deadline:
            return 1
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wait-closed", type=float)
    ap.add_argument("--plan", choices=sorted(traffic.MIXES))
    ap.add_argument("--mix", choices=sorted(traffic.MIXES))
    ap.add_argument("--name")
    ap.add_argument("--log-format", choices=["nginx", "python", "python_port", "busybox"])
    ap.add_argument("--log")
    ap.add_argument("--client")
    ap.add_argument("--connstate")
    ap.add_argument("--connstate-err")
    ap.add_argument("--connstate-rc", type=int)
    ap.add_argument("--local-port", type=int)
    ap.add_argument("--pids", default="", help="pids connections may be reported under")
    ap.add_argument("--pids-what", default="the server's pid")
    a = ap.parse_args()
    if a.plan:
        print(planned(a.plan, bool(a.pids)))
        return 0
    if not (a.client and a.connstate and a.local_port):
        ap.error("--client, --connstate, --local-port needed")
    if a.wait_closed is not None:
        return wait_closed(a)
    if not (a.name and a.log_format and a.log and a.connstate_err and
            a.connstate_rc is not None and a.mix):
        ap.error("--name, --log-format, --log, --connstate-err, --connstate-rc, --mix needed")
    P = a.name
    global suite
    suite = Suite(P, planned(a.mix, bool(a.pids)))

    errors = []
    clients = load_jsonl(a.client, "client record", errors)
    events = load_jsonl(a.connstate, "connstate output", errors)
    try:
        with open(a.log, errors="replace") as f:
            log_lines = [ln.rstrip("\n") for ln in f if ln.strip()]
    except OSError as e:
        log_lines = []
        errors.append("cannot read the access log: %s" % e)
    try:
        with open(a.connstate_err, errors="replace") as f:
            cs_err = f.read().splitlines()
    except OSError:
        cs_err = []

    # --- the traffic itself went as the mix expects (a test-setup check:
    # if it fails, the server did not behave as assumed, connstate is not
    # being judged yet)
    bad = []
    for c in clients:
        if c["error"]:
            bad.append("%s (port %d): %s" % (c["scenario"], c["port"], c["error"]))
        elif len(c["answered"]) != c["server_requests"]:
            bad.append("%s (port %d): %d responses, expected %d" % (
                c["scenario"], c["port"], len(c["answered"]), c["server_requests"]))
        elif c["closed_by"] != c["expect_closed_by"]:
            bad.append("%s (port %d): closed by %s, expected %s" % (
                c["scenario"], c["port"], c["closed_by"], c["expect_closed_by"]))
    check(P + "_traffic_ran_as_scripted", not errors and clients and not bad,
          "; ".join(errors + bad[:1]) or "no connections recorded", bad)

    # --- connstate attached, exited 0 on SIGINT, lost nothing, warned nothing
    summary = [ln for ln in cs_err if re.match(r"^connstate: \d+ connections \(", ln)]
    lost = [ln for ln in cs_err if "events lost (ring buffer full)" in ln]
    warnings = [e for e in events if e.get("type") == "warning"]
    problems = []
    if a.connstate_rc != 0:
        problems.append("exit status %d after SIGINT" % a.connstate_rc)
    if not summary:
        problems.append("no summary line on stderr")
    else:
        for what in ("events lost", "syscalls not followed", "connections uncertain",
                     "connections not tracked"):
            m = re.search(r"(\d+) " + what, summary[-1])
            if m and int(m.group(1)):
                problems.append("summary reports %s %s" % (m.group(1), what))
    if lost:
        problems.append(lost[0])
    if warnings:
        problems.append("%d warning lines, first: %s" % (len(warnings),
                                                         warnings[0].get("message")))
    unc = [e for e in events if e.get("uncertain")]
    if unc:
        problems.append("%d lines marked uncertain" % len(unc))
    check(P + "_connstate_exits_0_on_sigint_without_losses", not problems,
          "; ".join(problems), ["stderr: " + ln for ln in cs_err[-5:]])

    # --- connstate's view, per client port (only this server's connections)
    mine = [e for e in events
            if e.get("local", "").endswith(":%d" % a.local_port) and "client" in e]
    cs = collections.OrderedDict()
    for e in mine:
        port = int(e["client"].rsplit(":", 1)[1])
        d = cs.setdefault(port, {"states": [], "requests": [], "open": [], "pids": set(),
                                 "closed_requests": None})
        d["pids"].add(e.get("pid"))
        if e["type"] == "state":
            d["states"].append(e["state"])
            if e["state"] == "closed":
                d["closed_requests"] = e.get("requests")
        elif e["type"] == "request":
            d["requests"].append(e)
        elif e["type"] == "open":
            d["open"].append(e)

    cports = [c["port"] for c in clients]
    missing = [p for p in cports if p not in cs]
    extra = [p for p in cs if p not in cports]
    still_open = [p for p in cs if cs[p]["open"]]
    # every connection was accepted after connstate attached: one "new",
    # one "closed", never "adopted"
    adopted = [p for p in cs if any(e.get("adopted") for e in mine
                                    if e["client"].endswith(":%d" % p))]
    twice = [p for p in cs if cs[p]["states"].count("new") != 1 or
             cs[p]["states"].count("closed") != 1]
    why = []
    if missing:
        why.append("%d of %d client connections not reported (ports %s)" % (
            len(missing), len(cports), " ".join(map(str, missing))))
    if extra:
        why.append("connections nobody made reported (ports %s)" %
                   " ".join(map(str, extra)))
    if still_open:
        why.append("still open at exit: ports %s" % " ".join(map(str, still_open)))
    if adopted:
        why.append("reported as adopted (pre-existing) though accepted after attach: "
                   "ports %s" % " ".join(map(str, adopted)))
    if twice:
        why.append("not exactly one new and one closed: ports %s" %
                   " ".join(map(str, twice)))
    check(P + "_every_connection_reported_once_and_closed", not why, "; ".join(why),
          ["port %d: %s" % (p, " ".join(cs[p]["states"])) for p in twice])

    if a.pids:
        allowed = set(int(x) for x in a.pids.split(",") if x)
        wrong = sorted(set(p for d in cs.values() for p in d["pids"]) - allowed)
        seen = sorted(set(p for d in cs.values() for p in d["pids"]))
        check(P + "_connections_attributed_to_" + a.pids_what.replace(" ", "_"),
              cs and not wrong,
              "pids %s are not %s (%s)" % (wrong, a.pids_what, a.pids) if wrong
              else "no connections", ["pids seen: %s" % seen])

    # --- the server's access log
    if a.log_format == "nginx":
        log, bad = parse_nginx(log_lines)
    elif a.log_format == "python":
        log, bad = parse_python(log_lines, False)
    elif a.log_format == "python_port":
        log, bad = parse_python(log_lines, True)
    else:
        log, bad = parse_busybox(log_lines)
    ordered_log = log
    if isinstance(log, list):
        # no ports in the log: the client saw each connection's responses,
        # and connections ran one after another, so split the log in order
        total = sum(len(c["answered"]) for c in clients)
        ordered, log, i = log, {}, 0
        for c in clients:
            n = len(c["answered"])
            log[c["port"]] = ordered[i:i + n]
            i += n
        check(P + "_access_log_total_matches_connstate_total",
              len(ordered) == sum(len(d["requests"]) for d in cs.values()) and
              len(ordered) == total and not bad,
              "access log has %d requests, connstate %d, client got %d responses; "
              "unparsed log lines %d" % (
                  len(ordered), sum(len(d["requests"]) for d in cs.values()), total,
                  len(bad)), bad[:3])
    else:
        strangers = [p for p in log if p not in cports]
        check(P + "_access_log_has_only_client_connections", not strangers and not bad,
              "log entries for unknown ports %s; unparsed lines %d" % (strangers, len(bad)),
              bad[:3])

    # --- the summary connstate prints at exit counts the same
    m = summary and re.match(r"^connstate: (\d+) connections \((\d+) open\), (\d+) requests",
                             summary[-1])
    nlog = sum(len(v) for v in log.values())
    if isinstance(ordered_log, list):
        nlog = len(ordered_log)
    ok = m and int(m.group(1)) == len(clients) and int(m.group(2)) == 0 and \
        int(m.group(3)) == nlog
    check(P + "_exit_summary_counts_match_access_log", ok,
          "summary %r; client made %d connections, access log has %d requests" % (
              summary[-1] if summary else None, len(clients), nlog))

    # --- per scenario: requests (count, order, method, path, status,
    # completeness), state sequence, bytes on the wire
    scen = collections.OrderedDict()
    for c in clients:
        scen.setdefault(c["scenario"], []).append(c)
    for s, conns in scen.items():
        req_bad, st_bad, by_bad = [], [], []
        for c in conns:
            p = c["port"]
            d = cs.get(p, {"states": [], "requests": [], "closed_requests": None})
            got = d["requests"]
            want = log.get(p, [])
            # what the log has, compared field by field where the log has it
            g = [(e.get("method"), e.get("path"), e.get("status"), e.get("complete"))
                 for e in got]
            for i, e in enumerate(want):
                if e.get("no_query") and i < len(g) and isinstance(g[i][1], str):
                    g[i] = (g[i][0], g[i][1].split("?", 1)[0]) + g[i][2:]
            w = [(e["method"] if e["method"] is not None else gg[0],
                  e["path"] if e["path"] is not None else gg[1],
                  e["status"] if e["status"] is not None else gg[2], True)
                 for e, gg in zip(want, g + [(None,) * 4] * len(want))]
            if len(got) != len(want) or g != w:
                req_bad.append("port %d: access log %d requests [%s], connstate %d [%s]" % (
                    p, len(want), "; ".join(fmt_req(e) for e in want), len(got),
                    "; ".join(fmt_req(e) + ("" if e.get("complete") else " (incomplete)")
                              for e in got)))
            elif d["closed_requests"] is not None and d["closed_requests"] != len(want):
                req_bad.append("port %d: closed line says %d requests, access log %d" % (
                    p, d["closed_requests"], len(want)))
            if d["states"] != c["states"]:
                st_bad.append("port %d: expected [%s], connstate [%s]" % (
                    p, " ".join(c["states"]), " ".join(d["states"])))
            # bytes: the client knows each response's size exactly; nginx
            # also logs $bytes_sent and $request_length
            for i, e in enumerate(got):
                if i < len(c["answered"]) and e.get("bytes_out") != c["answered"][i]["bytes"]:
                    by_bad.append("port %d request %d (%s): bytes_out %s, client received %d"
                                  % (p, i + 1, e.get("path"), e.get("bytes_out"),
                                     c["answered"][i]["bytes"]))
                if i < len(c["answered"]) and e.get("bytes_in") != c["sent"][i][2]:
                    by_bad.append("port %d request %d (%s): bytes_in %s, client sent %d"
                                  % (p, i + 1, e.get("path"), e.get("bytes_in"),
                                     c["sent"][i][2]))
                if i < len(want) and want[i]["bytes_sent"] is not None and \
                        e.get("bytes_out") != want[i]["bytes_sent"]:
                    by_bad.append("port %d request %d (%s): bytes_out %s, $bytes_sent %d"
                                  % (p, i + 1, e.get("path"), e.get("bytes_out"),
                                     want[i]["bytes_sent"]))
                if i < len(want) and want[i]["request_length"] is not None and \
                        e.get("bytes_in") != want[i]["request_length"]:
                    by_bad.append("port %d request %d (%s): bytes_in %s, $request_length %d"
                                  % (p, i + 1, e.get("path"), e.get("bytes_in"),
                                     want[i]["request_length"]))
        n = len(conns)
        check("%s_%s_requests_match_access_log" % (P, s), not req_bad,
              "%d of %d connections differ" % (len(req_bad), n), req_bad)
        check("%s_%s_state_sequence" % (P, s), not st_bad,
              "%d of %d connections differ" % (len(st_bad), n), st_bad)
        check("%s_%s_bytes_match_wire" % (P, s), not by_bad,
              "%d mismatches" % len(by_bad), by_bad)
    return suite.end()


if __name__ == "__main__":
    sys.exit(main())
