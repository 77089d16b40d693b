#!/usr/bin/env python3
"""Idle cost of one vmrepd in a 5-node TLS cluster on 127.0.0.1: CPU% and RSS
of each daemon over a window after the cluster has agreed on a primary.
Prints a Markdown table for BENCHMARKS.md.

  bench/idle_cost.py --vmrepd build/release/controller/vmrepd \\
                     --vmrepctl build/release/controller/vmrepctl [--seconds 60]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from vmrep_lab import Cluster  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def memory_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmrepd", required=True)
    ap.add_argument("--vmrepctl", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    c = Cluster(a.vmrepd, a.vmrepctl)
    try:
        for n in c.names:
            c.start(n)
        (primary, _), _ = c.wait_agreed(20)
        pids = {n: p.pid for n, p in c.procs.items()}
        t0 = time.monotonic()
        cpu0 = {n: cpu_seconds(pid) for n, pid in pids.items()}
        time.sleep(a.seconds)
        wall = time.monotonic() - t0
        print(f"5-node cluster, TLS, tick {c.tick_ms} ms, heartbeat {c.heartbeat_ms} ms, one service; "
              f"primary {primary}; window {wall:.0f} s\n")
        print("| node | role | CPU % of one core | RSS (MiB) | peak RSS (MiB) |")
        print("|---|---|---:|---:|---:|")
        for n, pid in pids.items():
            cpu = (cpu_seconds(pid) - cpu0[n]) / wall * 100
            mem = memory_kib(pid)
            role = "primary" if n == primary else "backup"
            print(f"| {n} | {role} | {cpu:.2f} | {mem['VmRSS'] / 1024:.1f} | {mem['VmHWM'] / 1024:.1f} |")
    finally:
        c.close()


if __name__ == "__main__":
    main()
