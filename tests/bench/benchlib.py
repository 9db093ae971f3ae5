#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Helpers for tests/bench/bench.sh: the parts that are easier in Python.

  benchlib.py snap PID              BPF programs PID holds open: id, name,
                                    run_cnt, run_time_ns (tab-separated)
  benchlib.py attach-time N CMD...  start CMD N times; print ms until its
                                    'connstate: attached' line, one a line
  benchlib.py stop-probe PID S N    BPF cost per program in N windows of S
                                    seconds with PID (connstate) running,
                                    and N with it stopped (no wakeups)
  benchlib.py foreign               tracing programs already loaded
  benchlib.py report DIR            the report, from the run files in DIR
  benchlib.py progsum PID           run_cnt and run_time_ns summed over the
                                    BPF programs PID holds, and PID's own
                                    CPU time (ns)
  benchlib.py cost-report DIR       cost.sh's report, from DIR/cost-*
  benchlib.py paced PORT PATH SECS CONNS [tls]  CONNS keep-alive connections to
                                    127.0.0.1:PORT, each GETting PATH over
                                    and over for SECS seconds, taking 64 KiB
                                    every 3 ms through a 64 KiB receive
                                    buffer (about 20 MB/s, as a remote
                                    client would), over TLS with "tls";
                                    prints "N requests in"
  benchlib.py proflines PERF MAP... perf samples (perf record -a -g) inside
                                    BPF programs, per program and source
                                    line (MAP: jitlines output, named
                                    <anything>.<program>)

The report reads DIR/runs.tsv (workload, round, mode, tag a line) and, per
tag, DIR/<tag>.wrk (wrk --latency output), and for traced runs <tag>.before
and <tag>.after (snap output), <tag>.cs (key=value lines) and <tag>.err.
"""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

# Budgets from the issue "Overhead: make bench".
BUDGET = {
    "ka_ratio": 0.97,
    "close_ratio": 0.95,
    "ns_per_syscall": 300,
    "cpu_ms_per_1k": 10.0,
    "rss_mb_10k": 16.0,
    "attach_ms": 200.0,
}

WORKLOADS = [("keepalive", "keep-alive (wrk, one connection many requests)"),
             ("close", "connection per request (wrk -H 'Connection: close')")]
TRACED = [("text", "connstate"), ("json", "connstate -j"),
          ("floor", "bpftrace floor")]


# --------------------------------------------------------------- snapshots

def prog_ids(pid):
    """IDs of the BPF programs whose fds pid holds (from /proc/PID/fdinfo)."""
    ids = set()
    d = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def cmd_snap(pid):
    """id, name, run_cnt, run_time_ns and the tracepoints it is attached to."""
    ids = prog_ids(pid)
    out = subprocess.run(["bpftool", "prog", "show", "-j"], check=True,
                         capture_output=True, text=True).stdout
    perf = subprocess.run(["bpftool", "perf", "show", "-j"], capture_output=True,
                          text=True).stdout
    tps = {}
    try:
        for a in json.loads(perf or "[]"):
            if a.get("pid") == pid and "tracepoint" in a:
                tps.setdefault(a["prog_id"], []).append(a["tracepoint"])
    except ValueError:
        pass
    for p in json.loads(out):
        if p["id"] in ids:
            print(f'{p["id"]}\t{p.get("name", "?")}\t{p.get("run_cnt", 0) or 0}'
                  f'\t{p.get("run_time_ns", 0) or 0}\t{",".join(sorted(tps.get(p["id"], [])))}')


def cmd_foreign():
    """Tracing programs already loaded (by others): they cost every run."""
    out = subprocess.run(["bpftool", "prog", "show", "-j"], check=True,
                         capture_output=True, text=True).stdout
    kinds = ("tracepoint", "raw_tracepoint", "tracing", "kprobe", "perf_event")
    names = {}
    for p in json.loads(out):
        if p.get("type") in kinds:
            n = p.get("name", "?")
            names[n] = names.get(n, 0) + 1
    if not names:
        print("none")
        return
    tp = sum(v for k, v in names.items() if k.startswith("tp_"))
    print(f"{sum(names.values())} tracing programs loaded by others"
          + (f" ({tp} named tp_*: another connstate is attached)" if tp else "")
          + ": " + " ".join(sorted(names))[:160])


def fd_prog_stats(pid):
    """{prog_id: (run_cnt, run_time_ns)} straight from /proc/PID/fdinfo (fast)."""
    r = {}
    d = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(d):
        try:
            kv = dict(line.split(":", 1) for line in open(os.path.join(d, fd)) if ":" in line)
        except OSError:
            continue
        if "prog_id" in kv and "run_cnt" in kv:
            r[int(kv["prog_id"])] = (int(kv["run_cnt"]), int(kv["run_time_ns"]))
    return r


def cmd_stop_probe(pid, window, n):
    """BPF cost with connstate consuming (ring buffer wakeups fire) against
    connstate stopped (SIGSTOP: a backlog builds, so no wakeups), in
    alternating windows short enough for the ring not to fill."""
    out = subprocess.run(["bpftool", "prog", "show", "-j"], check=True,
                         capture_output=True, text=True).stdout
    names = {p["id"]: p.get("name", "?") for p in json.loads(out)}
    acc = {"running": {}, "stopped": {}}

    def add(which, a, b):
        for i, (c, t) in b.items():
            c0, t0 = a.get(i, (0, 0))
            k = names.get(i, str(i))
            o = acc[which].get(k, (0, 0))
            acc[which][k] = (o[0] + c - c0, o[1] + t - t0)

    for _ in range(n):
        a = fd_prog_stats(pid)
        time.sleep(window)
        add("running", a, fd_prog_stats(pid))
        os.kill(pid, signal.SIGSTOP)
        try:
            a = fd_prog_stats(pid)
            time.sleep(window)
            add("stopped", a, fd_prog_stats(pid))
        finally:
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.2)
    for k in sorted(acc["running"]):
        r, s_ = acc["running"][k], acc["stopped"].get(k, (0, 0))
        print(f"{k}\t{r[0]}\t{r[1]}\t{s_[0]}\t{s_[1]}")


# ------------------------------------------------------------- attach time

def cmd_attach_time(n, cmd):
    for _ in range(n):
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        ms = None
        for line in p.stderr:
            if line.startswith("connstate: attached"):
                ms = (time.monotonic() - t0) * 1000
                break
        p.send_signal(signal.SIGINT)
        try:
            p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
        print(f"{ms:.1f}" if ms is not None else "nan", flush=True)
        time.sleep(0.2)


# ------------------------------------------------------------------ parsing

UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}


def parse_wrk(path):
    r = {"rps": None, "p99_us": None, "requests": None, "errors": 0, "non2xx": 0}
    try:
        text = open(path).read()
    except OSError:
        return r
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\b", text, re.M)
    if m:
        r["p99_us"] = float(m.group(1)) * UNITS[m.group(2)]
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    return r


def parse_snap(path):
    s = {}
    try:
        for line in open(path):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 4:
                s[int(f[0])] = (f[1], int(f[2]), int(f[3]), f[4].split(",") if len(f) > 4 and f[4] else [])
    except OSError:
        pass
    return s


class Prog:
    """One program's runs and time over an interval, and where it is attached."""
    def __init__(self, runs=0, ns=0, tps=()):
        self.runs, self.ns, self.tps = runs, ns, list(tps)

    def __iter__(self):  # (runs, ns) unpacking
        return iter((self.runs, self.ns))


def snap_diff(before, after):
    """{name: Prog} over the interval."""
    a, b = parse_snap(after), parse_snap(before)
    d = {}
    for pid, (name, cnt, ns, tps) in a.items():
        c0, n0 = b.get(pid, (name, 0, 0, []))[1:3]
        o = d.setdefault(name, Prog(tps=tps))
        o.runs += cnt - c0
        o.ns += ns - n0
    return d


def tracepoints(name, prog):
    """The tracepoints a program runs on (from bpftool perf show, else its name)."""
    if prog.tps:
        return prog.tps
    for pre in ("tp_enter_", "tp_exit_"):
        if name.startswith(pre) and name != "tp_exit":
            return [("sys_enter_" if pre == "tp_enter_" else "sys_exit_") + name[len(pre):]]
    return []


def syscalls(name, prog):
    """The syscalls a syscall program runs for, or [] for any other program."""
    tps = tracepoints(name, prog)
    if not tps or not all(t.startswith(("sys_enter_", "sys_exit_")) for t in tps):
        return []
    return [t.split("_", 2)[2] for t in tps]


def is_syscall_prog(name, prog):
    return bool(syscalls(name, prog))


def syscalls_of(d):
    """Traced syscalls: each runs one enter program, or only an exit one
    (accept, accept4: no enter program)."""
    entered = {sc for name, p in d.items() for t in tracepoints(name, p)
               if t.startswith("sys_enter_") for sc in [t[len("sys_enter_"):]]}
    n = 0
    for name, p in d.items():
        tps = tracepoints(name, p)
        if tps and all(t.startswith("sys_enter_") for t in tps):
            n += p.runs
        elif tps and all(t.startswith("sys_exit_") and t[len("sys_exit_"):] not in entered
                         for t in tps):
            n += p.runs
    return n


def parse_kv(path):
    kv = {}
    try:
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                kv[k] = v
    except OSError:
        pass
    return kv


def parse_summary(path):
    """connstate's last stderr line: connections, open, requests, lost, untracked."""
    pats = {"conns": r"(\d+) connections \(", "open": r"\((\d+) open\)",
            "requests": r"(\d+) requests", "lost": r"(\d+) events lost",
            "untracked": r"(\d+) connections not tracked"}
    try:
        lines = [x for x in open(path) if x.startswith("connstate: ") and "events lost" in x]
    except OSError:
        return None
    if not lines:
        return None
    r = {}
    for k, pat in pats.items():
        m = re.search(pat, lines[-1])
        r[k] = int(m.group(1)) if m else 0
    return r


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".3f", none="n/a"):
    return none if x is None else format(x, spec)


# ------------------------------------------------------------------- report

class Run:
    def __init__(self, d, wl, rnd, mode, tag):
        self.wl, self.round, self.mode, self.tag = wl, int(rnd), mode, tag
        p = os.path.join(d, tag)
        self.wrk = parse_wrk(p + ".wrk")
        self.kv = parse_kv(p + ".cs")
        self.summary = parse_summary(p + ".err")
        self.progs = snap_diff(p + ".before", p + ".after")
        self.path = p


def load_runs(d):
    runs = []
    for line in open(os.path.join(d, "runs.tsv")):
        f = line.split()
        if len(f) == 4:
            runs.append(Run(d, *f))
    return runs


def pairs(runs, wl, mode):
    """(baseline, traced) pairs: each traced run with the baseline just before it."""
    out, last = [], None
    for r in runs:
        if r.wl != wl:
            continue
        if r.mode == "base":
            last = r
        elif r.mode == mode and last is not None and last.round == r.round:
            out.append((last, r))
            last = None
    return out


def ratio(a, b):
    return a / b if a is not None and b else None


def cpu_ms_per_1k(r, hz):
    k = r.kv
    if "cpu0" not in k or "cpu1" not in k or not r.wrk["requests"]:
        return None
    ticks = int(k["cpu1"]) - int(k["cpu0"])
    return ticks * 1000.0 / hz / r.wrk["requests"] * 1000.0


def calib_counts(d, wl):
    """nginx's own syscalls per request for wl, from the bpftrace calibration run."""
    w = parse_wrk(os.path.join(d, f"{wl}-calib.wrk"))
    counts = {}
    try:
        for line in open(os.path.join(d, f"{wl}-calib.bt")):
            m = re.match(r"@\[tracepoint:syscalls:sys_enter_(\w+)\]: (\d+)", line)
            if m:
                counts[m.group(1)] = int(m.group(2))
    except OSError:
        return None
    if not w["requests"] or not counts:
        return None
    return {k: v / w["requests"] for k, v in counts.items()}


def report(d):
    hz = os.sysconf("SC_CLK_TCK")
    runs = load_runs(d)
    meta = parse_kv(os.path.join(d, "meta"))
    out = []
    p = out.append
    budget = []  # (figure, value text, target text, met?)

    p("connstate overhead benchmark")
    p("=" * 78)
    for k in ("date", "kernel", "cpus", "nginx", "wrk", "bpftrace", "connstate",
              "foreign_bpf", "foreign_bpf_end", "elapsed"):
        if k in meta:
            p(f"{k + ':':16}{meta[k]}")
    p("")

    for wl, title in WORKLOADS:
        if not any(r.wl == wl for r in runs):
            continue
        p(f"--- {title}")
        base = [r for r in runs if r.wl == wl and r.mode == "base"]
        p(f"untraced: {fmt(med(r.wrk['rps'] for r in base), '.0f')} req/s median of "
          f"{len(base)} runs (min {fmt(min((r.wrk['rps'] or 0) for r in base), '.0f')}, "
          f"max {fmt(max((r.wrk['rps'] or 0) for r in base), '.0f')}), p99 "
          f"{fmt(med(r.wrk['p99_us'] for r in base), '.0f')} us")
        p("")
        p(f"  {'traced by':<16}{'pairs':>5}{'req/s':>9}{'ratio':>8}{'(min..max)':>14}"
          f"{'p99 ratio':>10}{'lost':>6}{'CPU ms/1k req':>14}{'tracer VmHWM':>13}")
        ratios = {}
        for mode, label in TRACED + [("null", "attach only*")]:
            pr = pairs(runs, wl, mode)
            if not pr:
                continue
            rs = [ratio(t.wrk["rps"], b.wrk["rps"]) for b, t in pr]
            ps = [ratio(t.wrk["p99_us"], b.wrk["p99_us"]) for b, t in pr]
            ratios[mode] = med(rs)
            lost = [t.summary["lost"] for b, t in pr if t.summary] if mode != "floor" else []
            cpu = [cpu_ms_per_1k(t, hz) for b, t in pr] if mode != "floor" else []
            hwm = [int(t.kv["hwm_kb"]) for b, t in pr if "hwm_kb" in t.kv]
            rsv = [x for x in rs if x is not None]
            p(f"  {label:<16}{len(pr):>5}{fmt(med(t.wrk['rps'] for b, t in pr), '.0f'):>9}"
              f"{fmt(med(rs)):>8}{(fmt(min(rsv), '.2f') + '..' + fmt(max(rsv), '.2f')) if rsv else 'n/a':>14}"
              f"{fmt(med(ps), '.2f'):>10}"
              f"{(str(sum(lost)) if lost else '-'):>6}"
              f"{fmt(med(cpu), '.2f', '-'):>14}"
              f"{(fmt(max(hwm) / 1024, '.1f') + ' MB') if hwm else '-':>13}")
        p("  (ratio: traced req/s / req/s of the untraced run just before it, median of pairs;")
        p("   * attach only: connstate -p <an idle process>, same probes, no target traffic,")
        p("   one pair: the cost of being attached at all)")

        # connstate's own count against wrk's, as a sanity check
        seen = [(t.summary["requests"], t.wrk["requests"]) for mode in ("text", "json")
                for b, t in pairs(runs, wl, mode) if t.summary and t.wrk["requests"]]
        if seen:
            p(f"  requests connstate reported / wrk completed: "
              f"{sum(a for a, _ in seen)} / {sum(b for _, b in seen)}"
              f" (wrk does not count requests in flight at the end)")
        wr = [(int(t.kv["writes"]), t.wrk["requests"]) for mode in ("text", "json")
              for b, t in pairs(runs, wl, mode) if "writes" in t.kv and t.wrk["requests"]]
        if wr:
            p(f"  connstate's own write-like syscalls (/proc/PID/io syscw): "
              f"{sum(a for a, _ in wr) / sum(b for _, b in wr):.2f} per request")
        errs = sum(r.wrk["errors"] + r.wrk["non2xx"] for r in runs if r.wl == wl)
        if errs:
            p(f"  wrk socket errors or non-2xx responses over all runs: {errs}")

        # BPF time, from run_time_ns/run_cnt of our programs during traced runs
        traced = [t for mode in ("text", "json") for b, t in pairs(runs, wl, mode)]
        tot = {}
        reqs = 0
        per_event, per_sys, per_req = [], [], []
        for t in traced:
            if not t.progs or not t.wrk["requests"]:
                continue
            reqs += t.wrk["requests"]
            cnt = sum(c for c, _ in t.progs.values())
            ns = sum(n for _, n in t.progs.values())
            sys_ns = sum(pg.ns for name, pg in t.progs.items() if is_syscall_prog(name, pg))
            nsys = syscalls_of(t.progs)
            per_event.append(ns / cnt if cnt else None)
            per_sys.append(sys_ns / nsys if nsys else None)
            per_req.append(ns / t.wrk["requests"])
            for name, pg in t.progs.items():
                o = tot.setdefault(name, Prog(tps=pg.tps))
                o.runs += pg.runs
                o.ns += pg.ns
        p("")
        if not tot or not reqs or not sum(c for c, _ in tot.values()):
            p("  BPF time: no data (kernel.bpf_stats_enabled off?)")
        else:
            p(f"  BPF time (connstate, {len(traced)} traced runs, kernel.bpf_stats_enabled=1):")
            p(f"    {fmt(med(per_event), '.0f')} ns per program run ('event', all programs), "
              f"{fmt(med(per_sys), '.0f')} ns per traced syscall (enter+exit), "
              f"{fmt(med(per_req), '.0f')} ns per request")
            calib = calib_counts(d, wl)
            null = {}
            for b, t in pairs(runs, wl, "null"):
                null = {k: (n / c if c else None) for k, (c, n) in t.progs.items()}
            allns = sum(n for _, n in tot.values())
            p("    per program (sum over those runs), busiest first; 'target' = calls made by")
            p("    nginx (counted by bpftrace in a calibration run), the rest returned at the")
            p("    tgid check;")
            p("    'early ns' = ns/call with no target traffic (attach-only run);")
            p("    'real ns' = (total - others x early ns) / target calls, an estimate")
            p(f"    {'program':<20}{'runs/req':>9}{'ns/run':>8}{'ns/req':>8}{'share':>7}"
              f"{'target/req':>11}{'others/req':>11}{'early ns':>9}{'real ns':>9}")
            early_runs = early_ns = real_runs = real_ns = 0.0
            have_split = calib is not None
            for name, pg in sorted(tot.items(), key=lambda kv: -kv[1].ns):
                c, n = pg.runs, pg.ns
                if not c:
                    continue
                scs = syscalls(name, pg)
                # nginx's calls of the syscalls this program runs for
                tgt = sum(calib.get(x, 0.0) for x in scs) if (calib is not None and scs) else None
                c0 = null.get(name)
                real = None
                line = (f"    {name:<20}{c / reqs:>9.2f}{n / c:>8.0f}{n / reqs:>8.0f}"
                        f"{100.0 * n / allns:>6.1f}%")
                if tgt is not None:
                    tgt_runs = min(tgt * reqs, c)
                    others = c - tgt_runs
                    if c0 is not None and tgt_runs > 0:
                        real = max(n - others * c0, 0) / tgt_runs
                        early_runs += others
                        early_ns += others * c0
                        real_runs += tgt_runs
                        real_ns += max(n - others * c0, 0)
                    line += (f"{tgt_runs / reqs:>11.2f}{others / reqs:>11.2f}"
                             f"{fmt(c0, '.0f', '-'):>9}{fmt(real, '.0f', '-'):>9}")
                elif not scs:
                    line += f"{'':>11}{'':>11}{'':>9}{'':>9}  (not a syscall)"
                else:
                    have_split = False
                if len(pg.tps) > 1:
                    line += f"  (on {len(pg.tps)} tracepoints)"
                p(line)
            if have_split and real_runs:
                p(f"    syscall programs: {early_runs / reqs:.2f} runs/req returned early "
                  f"(~{early_ns / early_runs if early_runs else 0:.0f} ns each, "
                  f"{early_ns / reqs:.0f} ns/req), {real_runs / reqs:.2f} runs/req for nginx "
                  f"(~{real_ns / real_runs:.0f} ns each, {real_ns / reqs:.0f} ns/req)")
        fl = [t for b, t in pairs(runs, wl, "floor") if t.progs]
        if fl:
            c = sum(sum(x for x, _ in t.progs.values()) for t in fl)
            n = sum(sum(y for _, y in t.progs.values()) for t in fl)
            rq = sum(t.wrk["requests"] or 0 for t in fl)
            tg = [int(t.kv["target_calls"]) for t in fl if "target_calls" in t.kv]
            p(f"  bpftrace floor: {n / c if c else 0:.0f} ns per program run, "
              f"{n / rq if rq else 0:.0f} ns per request"
              + (f"; it counted {sum(tg) / rq:.2f} nginx enter-probe calls per request"
                 if tg and rq else ""))
        probe = os.path.join(d, f"{wl}-probe.tsv")
        if os.path.exists(probe):
            rows = []
            for line in open(probe):
                f = line.split("\t")
                if len(f) == 5:
                    rows.append((f[0], *map(int, f[1:])))
            rows.sort(key=lambda r: -r[2])
            meta_p = parse_kv(os.path.join(d, f"{wl}-probe.cs"))
            p(f"  ring buffer wakeup probe ({meta_p.get('windows', '?')} windows of "
              f"{meta_p.get('window_ms', '?')} ms each way, one connstate run; "
              f"'stopped' = connstate SIGSTOPped, so the ring holds a backlog and")
            p("  bpf_ringbuf_output sends no wakeup; events lost in that run: "
              f"{meta_p.get('lost', '?')}):")
            p(f"    {'program':<20}{'running: runs':>14}{'ns/run':>8}{'stopped: runs':>15}{'ns/run':>8}")
            for name, rc, rn, sc, sn in rows[:8]:
                if rc or sc:
                    p(f"    {name:<20}{rc:>14}{rn / rc if rc else 0:>8.0f}{sc:>15}"
                      f"{sn / sc if sc else 0:>8.0f}")
            tr = sum(r[2] for r in rows)
            ts = sum(r[4] for r in rows)
            wv = [r for r in rows if r[0] in ("tp_enter_writev", "tp_exit_writev")]
            xr = max((r[1] for r in wv), default=None)
            xs = max((r[3] for r in wv), default=None)
            p(f"    all programs: {tr / 1e6:.1f} ms BPF time running, {ts / 1e6:.1f} ms stopped"
              + (f"; writev calls (nginx's responses) {xr} running, {xs} stopped"
                 if xr is not None else ""))
        p("")

        # budget rows
        tr, jr = ratios.get("text"), ratios.get("json")
        worst = min([x for x in (tr, jr) if x is not None], default=None)
        key, label = (("ka_ratio", "keep-alive req/s ratio (text | json)") if wl == "keepalive"
                      else ("close_ratio", "conn-per-request req/s ratio (text | json)"))
        budget.append((label, f"{fmt(tr)} | {fmt(jr)}", f">= {BUDGET[key]}",
                       None if worst is None else worst >= BUDGET[key]))
        if ratios.get("floor") is not None:
            budget.append((f"  bpftrace floor, {wl}", fmt(ratios['floor']), "(reference)", None))
        lost = [t.summary["lost"] for mode in ("text", "json")
                for b, t in pairs(runs, wl, mode) if t.summary]
        missing = sum(1 for mode in ("text", "json") for b, t in pairs(runs, wl, mode)
                      if not t.summary)
        budget.append((f"events lost, {wl}", f"{sum(lost)}" + (f" ({missing} runs no summary)"
                                                              if missing else ""), "0",
                       (sum(lost) == 0 and not missing) if lost else None))
        budget.append((f"BPF ns per traced syscall, {wl}",
                       f"{fmt(med(per_sys), '.0f')} ({fmt(med(per_event), '.0f')}/run)",
                       f"<= {BUDGET['ns_per_syscall']}",
                       None if med(per_sys) is None else med(per_sys) <= BUDGET["ns_per_syscall"]))
        cpus = {m: med(cpu_ms_per_1k(t, hz) for b, t in pairs(runs, wl, m)) for m in ("text", "json")}
        worst = max([x for x in cpus.values() if x is not None], default=None)
        budget.append((f"connstate CPU ms/1k req, {wl} (text | json)",
                       f"{fmt(cpus['text'], '.2f')} | {fmt(cpus['json'], '.2f')}",
                       f"<= {BUDGET['cpu_ms_per_1k']:g}",
                       None if worst is None else worst <= BUDGET["cpu_ms_per_1k"]))

    # idle connections and attach time
    idle = parse_kv(os.path.join(d, "idle.cs"))
    if idle:
        p(f"--- {idle.get('want', '?')} idle keep-alive connections")
        s = parse_summary(os.path.join(d, "idle.err"))
        p(f"  client opened {idle.get('opened', '?')}, connstate printed {idle.get('new', '?')} "
          f"'new' and {idle.get('idle', '?')} 'idle' states; summary: "
          f"{(str(s['conns']) + ' connections, ' + str(s['open']) + ' open, ' + str(s['lost']) + ' lost') if s else 'missing'}")
        hwm = int(idle["hwm_kb"]) / 1024 if "hwm_kb" in idle else None
        p(f"  connstate RSS: {fmt(int(idle['rss0_kb']) / 1024 if 'rss0_kb' in idle else None, '.1f')} MB "
          f"after attach, {fmt(int(idle['rss_kb']) / 1024 if 'rss_kb' in idle else None, '.1f')} MB "
          f"with them open, peak (VmHWM) {fmt(hwm, '.1f')} MB")
        p("")
        ok = idle.get("new") == idle.get("want")
        budget.append((f"peak RSS with {idle.get('want', '?')} connections",
                       f"{fmt(hwm, '.1f')} MB" + ("" if ok else " (not all seen!)"),
                       f"<= {BUDGET['rss_mb_10k']:g} MB",
                       None if hwm is None else (hwm <= BUDGET["rss_mb_10k"] and ok)))
    try:
        ms = [float(x) for x in open(os.path.join(d, "attach.ms")) if x.strip() != "nan"]
    except OSError:
        ms = []
    if ms:
        p(f"--- time from start to 'connstate: attached' ({len(ms)} starts)")
        p(f"  median {med(ms):.0f} ms, min {min(ms):.0f}, max {max(ms):.0f}: "
          + " ".join(f"{x:.0f}" for x in ms))
        load = [int(r.kv["cpu0"]) * 1000.0 / hz for r in runs
                if r.mode in ("text", "json", "null") and "cpu0" in r.kv]
        if load:
            p(f"  connstate's CPU time from exec to attached (utime+stime, median of "
              f"{len(load)} traced runs): {med(load):.0f} ms")
        p("")
        budget.append(("attach time (median)", f"{med(ms):.0f} ms",
                       f"< {BUDGET['attach_ms']:g} ms", med(ms) < BUDGET["attach_ms"]))

    p("--- budget")
    w = max(len(b[0]) for b in budget) if budget else 10
    for label, val, target, met in budget:
        status = "" if met is None and target.startswith("(") else (
            "n/a" if met is None else ("met" if met else "MISSED"))
        p(f"  {label:<{w}}  {val:>18}  {target:>12}  {status}")
    p("")
    print("\n".join(out))


def cpu_ns(pid):
    """The CPU time pid's own process has used (user and system), in ns."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 10**9 // os.sysconf("SC_CLK_TCK")


def cmd_progsum(pid):
    st = fd_prog_stats(pid)
    print(f"{sum(c for c, _ in st.values())} {sum(n for _, n in st.values())} {cpu_ns(pid)}")


def read_progsum(path):
    """(runs, BPF ns, the tracer process's CPU ns), or None."""
    try:
        c, n, cpu = open(path).read().split()
        return int(c), int(n), int(cpu)
    except (OSError, ValueError):
        return None


def rng(xs):
    xs = [x for x in xs if x is not None]
    return f"{min(xs):.2f}-{max(xs):.2f}" if xs else "n/a"


def cost_report(d):
    """cost.sh's figures: dd tax per mode, req/s ratio and BPF ns/request."""
    meta = parse_kv(os.path.join(d, "cost-meta"))
    out = []
    p = out.append
    p("connstate cost (tests/bench/cost.sh)")
    for k in ("date", "kernel", "connstate", "foreign_bpf", "load_end"):
        if k in meta:
            p(f"{k + ':':13}{meta[k]}")
    rows = []
    try:
        for line in open(os.path.join(d, "cost-dd.tsv")):
            r, m, ms = line.split()
            rows.append((int(r), m, int(ms)))
    except OSError:
        pass
    base = {r: ms for r, m, ms in rows if m == "none"}
    modes = [m for m in dict.fromkeys(m for _, m, _ in rows) if m != "none"]
    p("")
    p(f"host-wide tax: dd bs=1 by a non-target process, {len(base)} rounds; "
      f"untraced {fmt(med(base.values()), '.0f')} ms median "
      f"({min(base.values(), default=0)}-{max(base.values(), default=0)})")
    for m in modes:
        rs = [ms / base[r] for r, mm, ms in rows if mm == m and base.get(r)]
        p(f"  {m:<12} {fmt(med(rs), '.2f')}x  (range {rng(rs)}, {len(rs)} pairs)")
    tls = []
    try:
        tls = [line.split() for line in open(os.path.join(d, "cost-tls.tsv"))]
    except OSError:
        pass
    if tls:
        base = {r: parse_wrk(os.path.join(d, f"cost-tls-{r}-none.wrk"))["rps"]
                for r, m in tls if m == "none"}
        p("")
        p(f"host-wide TLS tax: a TLS server and client that are not targets (nginx, "
          f"wrk https keep-alive), {len(base)} rounds; untraced "
          f"{fmt(med(base.values()), '.0f')} req/s median")
        for m in [m for m in dict.fromkeys(m for _, m in tls) if m != "none"]:
            rs = [ratio(parse_wrk(os.path.join(d, f"cost-tls-{r}-{m}.wrk"))["rps"], base.get(r))
                  for r, mm in tls if mm == m]
            p(f"  {m:<12} req/s ratio {fmt(med(rs))} (range {rng(rs)}, {len(rs)} pairs)")
    runs = []
    try:
        runs = [line.split() for line in open(os.path.join(d, "cost-runs.tsv"))]
    except OSError:
        pass
    for wl, title in WORKLOADS:
        wr = [(int(r), m) for w, r, m in runs if w == wl]
        if not wr:
            continue
        p("")
        p(f"{title}:")
        base = {r: parse_wrk(os.path.join(d, f"cost-{wl}-{r}-none.wrk"))["rps"]
                for r, m in wr if m == "none"}
        p(f"  untraced {fmt(med(base.values()), '.0f')} req/s median")
        for m in [m for m in dict.fromkeys(m for _, m in wr) if m != "none"]:
            rs, per, own = [], [], []
            for r, mm in wr:
                if mm != m:
                    continue
                f = os.path.join(d, f"cost-{wl}-{r}-{m}")
                w = parse_wrk(f + ".wrk")
                rs.append(ratio(w["rps"], base.get(r)))
                a, b = read_progsum(f + ".before"), read_progsum(f + ".after")
                if a and b and w["requests"]:
                    per.append((b[1] - a[1]) / w["requests"])
                    own.append((b[2] - a[2]) / w["requests"])
            # own: the tracer's process (connstate reading and printing the
            # events; bpftrace, whose empty actions send nothing), at the
            # clock tick's grain
            p(f"  {m:<12} req/s ratio {fmt(med(rs))} (range {rng(rs)}); BPF "
              f"{fmt(med(per), '.0f')} ns/request (range "
              f"{fmt(min(per, default=None), '.0f')}-{fmt(max(per, default=None), '.0f')}); "
              f"own process {fmt(med(own), '.0f')} ns/request")
    print("\n".join(out))


def cmd_proflines(perf_data, maps):
    """Each sample whose stack holds a BPF program is charged to the
    source line of the innermost program frame (helpers it called
    included): where the time of each program goes."""
    import bisect
    recs = []  # (address, program, line, source)
    for path in maps:
        prog = path.rsplit(".", 1)[-1]
        for line in open(path):
            a, ln, src = (line.rstrip("\n").split(" ", 2) + [""])[:3]
            recs.append((int(a, 16), prog, int(ln), src.strip()))
    recs.sort()
    addrs = [r[0] for r in recs]
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F", "ip,sym"],
                         capture_output=True, text=True).stdout
    per, lines, total = {}, {}, 0
    for block in out.split("\n\n"):
        frames = [f.split() for f in block.splitlines() if f.strip()]
        if not frames:
            continue
        total += 1
        for f in frames:
            if len(f) < 2 or not f[1].startswith("bpf_prog_"):
                continue
            j = bisect.bisect_right(addrs, int(f[0], 16)) - 1
            if j >= 0 and f[1].endswith("_" + recs[j][1]):
                _, prog, ln, src = recs[j]
                per[prog] = per.get(prog, 0) + 1
                key = (prog, ln, src)
                lines[key] = lines.get(key, 0) + 1
            break
    print(f"{total} samples; in BPF programs: {sum(per.values())}")
    for prog, n in sorted(per.items(), key=lambda kv: -kv[1]):
        print(f"  {prog}: {n} samples ({100 * n / max(total, 1):.2f} % of the machine)")
        rows = sorted(((c, k) for k, c in lines.items() if k[0] == prog), reverse=True)
        for c, (_, ln, src) in rows[:15]:
            print(f"    {100 * c / n:5.1f} %  line {ln:5d}  {src[:80]}")


def cmd_paced(port, path, secs, conns, tls=False):
    import socket
    import ssl
    import threading
    import time

    end = time.monotonic() + secs
    done = [0] * conns
    req = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode()

    def one(i):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.connect(("127.0.0.1", port))
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        buf = b""
        while time.monotonic() < end:
            s.sendall(req)
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536)
            head, buf = buf.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(buf) < length:
                b = s.recv(65536)
                if not b:
                    return
                buf += b
                time.sleep(0.003)
            buf = buf[length:]
            done[i] += 1
        s.close()

    ts = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"{sum(done)} requests in {secs}s")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "snap":
        cmd_snap(int(sys.argv[2]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "attach-time":
        cmd_attach_time(int(sys.argv[2]), sys.argv[3:])
    elif len(sys.argv) == 3 and sys.argv[1] == "progsum":
        cmd_progsum(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "cost-report":
        cost_report(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "report":
        report(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "stop-probe":
        cmd_stop_probe(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 2 and sys.argv[1] == "foreign":
        cmd_foreign()
    elif len(sys.argv) >= 4 and sys.argv[1] == "proflines":
        cmd_proflines(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) in (6, 7) and sys.argv[1] == "paced":
        cmd_paced(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5]),
                  sys.argv[6:] == ["tls"])
    elif len(sys.argv) == 3 and sys.argv[1] == "wrk":
        print(parse_wrk(sys.argv[2]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
