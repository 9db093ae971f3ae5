#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Helpers for tests/faults/faults.sh.

  faults.py bpf-ids PID            the BPF programs, maps and links PID holds
                                   open, "prog ID", "map ID", "link ID" lines
                                   (from /proc/PID/fdinfo)
  faults.py alive IDS_FILE         the ids of IDS_FILE still in the kernel
                                   (bpftool -j prog/map/link show), same form
  faults.py map-entries PID NAME   the number of entries in PID's map NAME
  faults.py serial N PORT PATH     N connections one after another, one GET
                                   each, read to the end; prints "PORT STATUS"
                                   per connection
  faults.py busybox CLIENT LOG CS LOCALPORT
                                   per connection of CLIENT (serial's output):
                                   connstate (CS, -j) reported new, active,
                                   one request with the path and status of
                                   busybox's -vv LOG, closed; prints problems
  faults.py same A B LOCALPORT     two connstate -j outputs tell the same story
                                   per connection: states, requests (method,
                                   path, status, bytes), close reason
"""
import collections
import json
import os
import re
import socket
import subprocess
import sys


def cmd_bpf_ids(pid):
    out = set()
    d = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("prog_id", "map_id", "link_id"):
                        out.add(f"{k[:-3]} {int(v)}")
        except OSError:
            pass
    # maps only programs hold (none today) count too
    progs = {int(x.split()[1]) for x in out if x.startswith("prog ")}
    for p in json.loads(bpftool("prog")):
        if p["id"] in progs:
            out.update(f"map {m}" for m in p.get("map_ids", []))
    print("\n".join(sorted(out)))


def bpftool(kind):
    return subprocess.run(["bpftool", "-j", kind, "show"], check=True, capture_output=True,
                          text=True).stdout or "[]"


def cmd_alive(path):
    want = set(open(path).read().split("\n")) - {""}
    alive = set()
    for kind in ("prog", "map", "link"):
        alive.update(f"{kind} {o['id']}" for o in json.loads(bpftool(kind)))
    print("\n".join(sorted(want & alive)))


def map_dump(pid, name):
    """The entries of pid's map called name, or None if it holds none."""
    ids = set()
    d = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(d):
        with open(os.path.join(d, fd)) as f:
            for line in f:
                if line.startswith("map_id:"):
                    ids.add(int(line.split()[1]))
    for m in json.loads(bpftool("map")):
        if m["id"] in ids and m.get("name") == name:
            out = subprocess.run(["bpftool", "-j", "map", "dump", "id", str(m["id"])],
                                 check=True, capture_output=True, text=True).stdout
            return json.loads(out or "[]")
    return None


def cmd_map_entries(pid, name):
    entries = map_dump(pid, name)
    if entries is None:
        print(f"faults.py: no map {name} held by {pid}", file=sys.stderr)
        return 1
    n = len(entries)
    if name == "conns":
        # under the sock tracepoints the entries are in the table of
        # bpf/conns.h: its rows' socket addresses that are not 0
        rows = map_dump(pid, "conn_keys") or []
        n += sum(k != 0 for r in rows for k in r["formatted"]["value"]["key"])
    print(n)
    return 0


def cmd_serial(n, port, path):
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    for _ in range(int(n)):
        s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
        lport = s.getsockname()[1]
        s.sendall(req)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        m = re.match(rb"HTTP/1\.[01] (\d{3}) ", buf)
        print(lport, int(m.group(1)) if m else 0, flush=True)


def connstate_conns(path, local_port):
    """client port -> list of connections, each a list of the JSON objects."""
    by_port = collections.defaultdict(list)
    cur = {}
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            if not o.get("local", "").endswith(f":{local_port}"):
                continue
            port = int(o["client"].rpartition(":")[2])
            if o["type"] == "state" and o["state"] == "new" or port not in cur:
                cur[port] = []
                by_port[port].append(cur[port])
            cur[port].append(o)
    return by_port


def story(conn):
    """What a connection did, without times: one tuple per line."""
    out = []
    for o in conn:
        if o["type"] == "state":
            out.append(("state", o["state"], o.get("closed_by"), o.get("requests"),
                        o.get("adopted"), o.get("uncertain")))
        elif o["type"] == "request":
            out.append(("request", o["method"], o["path"], o["status"], o["complete"],
                        o["bytes_in"], o["bytes_out"]))
        else:
            out.append((o["type"], o.get("message")))
    return out


def cmd_busybox(client, log, cs, local_port):
    # busybox httpd -vv: "127.0.0.1:PORT: url:/f.txt", "127.0.0.1:PORT: response:200"
    logged = collections.defaultdict(lambda: collections.defaultdict(list))
    for line in open(log, errors="replace"):
        m = re.match(r"^\S+:(\d+): (url|response):(\S+)$", line.rstrip("\n"))
        if m:
            logged[int(m.group(1))][m.group(2)].append(m.group(3))
    by_port = connstate_conns(cs, local_port)
    problems, seen = [], collections.Counter()
    conns = [tuple(map(int, x.split())) for x in open(client).read().split("\n") if x]
    for port, status in conns:
        k = seen[port]
        seen[port] += 1
        got = by_port.get(port, [])
        if k >= len(got):
            problems.append(f"port {port}: not reported")
            continue
        st = story(got[k])
        states = [x[1] for x in st if x[0] == "state"]
        reqs = [(x[2], x[3], x[4]) for x in st if x[0] == "request"]
        urls, codes = logged[port]["url"], logged[port]["response"]
        want = [(urls[k] if k < len(urls) else None, int(codes[k]) if k < len(codes) else None,
                 True)]
        if states != ["new", "active", "closed"] or reqs != want or status != want[0][1] or \
                len(st) != 4 or st[-1][3] != 1:
            problems.append(f"port {port}: {st}, log/client {want} {status}")
    for port, cl in by_port.items():
        if len(cl) > seen[port]:
            problems.append(f"port {port}: {len(cl) - seen[port]} connections the client "
                            "did not make")
    print(f"{len(conns)} connections, {len(problems)} problems")
    for p in problems[:10]:
        print("   ", p)
    return 1 if problems else 0


def cmd_same(a, b, local_port):
    A, B = connstate_conns(a, local_port), connstate_conns(b, local_port)
    problems, n = [], 0
    for port in sorted(set(A) | set(B)):
        sa = [story(c) for c in A.get(port, [])]
        sb = [story(c) for c in B.get(port, [])]
        n += max(len(sa), len(sb))
        if sa != sb:
            problems.append(f"port {port}: {sa[:2]} vs {sb[:2]}")
    print(f"{n} connections, {len(problems)} differ")
    for p in problems[:10]:
        print("   ", p)
    return 1 if problems or not n else 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    f = {"bpf-ids": cmd_bpf_ids, "alive": cmd_alive, "map-entries": cmd_map_entries,
         "serial": cmd_serial, "busybox": cmd_busybox, "same": cmd_same}[cmd.replace("_", "-")]
    return f(*args) or 0


if __name__ == "__main__":
    sys.exit(main())
