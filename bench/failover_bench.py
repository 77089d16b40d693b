#!/usr/bin/env python3
"""Failover benchmark on the lab (issue 6): kill the primary's host, time
until a survivor serves, split into detection, election, and decision to
serving (query, hooks, restore or resume of a restore prepared at
suspicion); repeated RUNS times on one 3-host lab (the killed host is restarted
and catches up between runs). Prints a Markdown table for BENCHMARKS.md.

    bench/failover_bench.py --bin BUILD_DIR --guest-dir DIR [--runs 5]
        [--timing 50,100,1000,3000] [--checkpoint-ms 2000]

Root only (network namespaces). Uses scripts/lab; always takes the lab down.
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lab"))
import lab as labmod  # noqa: E402
import replication as rep  # noqa: E402


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def one_run(lab, primary):
    rep.post_batch(lab, primary, f"run-{time.time():.0f}", 1)
    rep.make_durable(lab, primary)
    before = rep.replication(lab, primary)
    killed_at = rep.now()
    lab.kill(primary)
    others = [h for h in lab.hosts if h != primary]
    new = lab.wait_until(lambda: rep.serving_hosts(lab, others), 60, "a survivor serving")[0]
    t = rep.failover_times(lab, new, killed_at, primary)
    fo = (rep.replication(lab, new) or {}).get("last_failover", {})
    prepared = bool(fo.get("prepared_at_suspicion"))
    row = {
        "new": new,
        "detection": t["detection"],
        "election": t["elected"] - t["detection"],
        "decided_to_serving": t["serving"] - t["elected"],
        # Wherever it ran: after the decision, or at suspicion (overlapping the election).
        "restore_work": (fo.get("prepared_restore_ms", 0) if prepared else
                         fo.get("rebuild_ms", 0) + fo.get("flatten_ms", 0) + fo.get("restore_ms", 0)) / 1000,
        "prepared": prepared,
        "total": t["serving"],
        "version": fo.get("version"),
        "ckpt_bytes": before.get("last_checkpoint", {}).get("plain_bytes"),
        "ckpt_new": before.get("last_checkpoint", {}).get("new_bytes"),
    }
    log(f"{primary} killed -> {new} serving in {row['total']:.2f} s ({row})")
    lab.restart(primary)
    lab.wait_until(lambda: (rep.replication(lab, primary) or {}).get("state") == "backup", 60,
                   f"{primary} back as a backup")
    return new, row


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--guest-dir", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--timing", default="50,100,1000,3000")
    p.add_argument("--checkpoint-ms", type=int, default=2000)
    a = p.parse_args()
    reason = labmod.skip_reason()
    if reason:
        print(f"SKIP: {reason}")
        return 77
    lab = labmod.Lab(a.bin, a.guest_dir, log=log)
    rows = []
    try:
        rep.start_board(lab, timing=[int(x) for x in a.timing.split(",")], committed=False,
                        checkpoint_ms=a.checkpoint_ms)
        primary = "h1"
        for _ in range(a.runs):
            primary, row = one_run(lab, primary)
            rows.append(row)
    finally:
        lab.down()
    cols = ["detection", "election", "decided_to_serving", "restore_work", "total"]
    print(f"Failover on the 3-host lab, tiny TCG guest (128 MiB), timing {a.timing} "
          f"(tick, heartbeat, suspect, suspect max ms), checkpoint every {a.checkpoint_ms} ms, {len(rows)} runs. "
          f"restore_work = rebuild + flatten + libvirt restore; 'prepared' runs did it paused at suspicion, "
          f"overlapping the election, and only resumed after the decision.\n")
    print("| run | new primary | prepared | " + " | ".join(f"{c} (s)" for c in cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    for i, r in enumerate(rows, 1):
        print(f"| {i} | {r['new']} | {'yes' if r['prepared'] else 'no'} | " +
              " | ".join(f"{r[c]:.2f}" for c in cols) + " |")
    print("| **median** | | | " + " | ".join(f"**{statistics.median(r[c] for r in rows):.2f}**" for c in cols) + " |")
    sizes = [r["ckpt_bytes"] for r in rows if r["ckpt_bytes"]]
    news = [r["ckpt_new"] for r in rows if r["ckpt_new"]]
    if sizes and news:
        print(f"\nCheckpoint before each kill: median {statistics.median(sizes) / 1e6:.1f} MB of files, "
              f"{statistics.median(news) / 1e6:.2f} MB of it new chunks "
              f"({100 * statistics.median(news) / statistics.median(sizes):.1f}%).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
