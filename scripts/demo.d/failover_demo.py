#!/usr/bin/env python3
"""The failover demo narrated step by step (run by scripts/demo, which builds
everything first): a 3-host lab, the bulletin board on h1, posts, the
primary's host switched off, the board back on a survivor with every post up
to the last committed checkpoint.

    failover_demo.py --bin BUILD_DIR --guest-dir DIR [--keep]
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import lab as labmod  # noqa: E402
import replication as rep  # noqa: E402

T0 = time.monotonic()


def say(msg=""):
    print(f"[{time.monotonic() - T0:5.1f}s] {msg}" if msg else "", flush=True)


def quiet(msg):
    pass


def show_status(lab, h):
    r = subprocess.run([lab.vmrepctl, "--socket", lab.socket(h), "status"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        print("        " + line)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--guest-dir", required=True)
    p.add_argument("--keep", action="store_true", help="leave the lab up at the end (scripts/lab down removes it)")
    a = p.parse_args()
    reason = labmod.skip_reason()
    if reason:
        print(f"demo: cannot run here: {reason}")
        return 1
    lab = labmod.Lab(a.bin, a.guest_dir, log=quiet)
    try:
        say("Bringing up 3 hosts h1, h2, h3: each a network namespace (10.77.0.1-3) with its own libvirtd,")
        say("sshd and vmrepd. The bulletin-board VM (128 MiB, QEMU TCG) starts on h1. Suspicion timeout 1 s,")
        say("a live checkpoint every 2 s, committed once 1 backup holds it.")
        t_up = time.monotonic()
        took = rep.start_board(lab, committed=False)
        say(f"lab up in {took:.1f} s; the guest booted and h1 serves {time.monotonic() - t_up - took:.1f} s later")
        say("h1 serves the board. Status as h1 sees it:")
        show_status(lab, "h1")
        posts = rep.post_batch(lab, "h1", "hello", 3)
        say(f"posted {posts} on h1")
        committed = rep.make_durable(lab, "h1")
        r = rep.replication(lab, "h1")
        ck = r.get("last_checkpoint", {})
        say(f"version {committed} holds them and is committed (the backups hold it). Last checkpoint: "
            f"{ck.get('plain_bytes', 0) / 1e6:.0f} MB of memory+disk, {ck.get('new_bytes', 0) / 1e6:.2f} MB new, "
            f"guest paused {ck.get('downtime_ms')} ms")
        late = rep.post_batch(lab, "h1", "late", 1)
        say(f"posted {late} right away: no checkpoint holds it yet")
        say("Switching h1 off: every process of the host (libvirtd, QEMU, sshd, vmrepd) gets SIGKILL ...")
        killed_at = rep.now()
        lab.kill("h1")
        new = lab.wait_until(lambda: rep.serving_hosts(lab, ["h2", "h3"]), 60, "a survivor serving")[0]
        t = rep.failover_times(lab, new, killed_at, "h1")
        fo = (rep.replication(lab, new) or {}).get("last_failover", {})
        say(f"{new} serves the board {t['serving']:.2f} s after the kill:")
        say(f"    {t['detection']:.2f} s  {new} suspects h1 (no heartbeat for the 1 s timeout)")
        say(f"    {t['elected']:.2f} s  the consensus decides {new} is primary")
        if fo.get("prepared_at_suspicion"):
            say(f"          (at suspicion {new}, next in turn, began restoring its newest version paused)")
            say(f"    {t['prepared']:.2f} s  that restore is ready ({fo.get('prepared_restore_ms', 0):.0f} ms), "
                f"the guest paused")
            say(f"    {t['serving']:.2f} s  no survivor holds anything newer than {fo.get('version')}: "
                f"resumed ({fo.get('restore_ms', 0):.0f} ms) and serving")
        else:
            say(f"    {t['restore_start']:.2f} s  the survivors reported their newest versions: {fo.get('version')}")
            say(f"    {t['serving']:.2f} s  restored from it (rebuild {fo.get('rebuild_ms', 0):.0f} ms, "
                f"libvirt restore {fo.get('restore_ms', 0):.0f} ms) and serving")
        got = lab.board(new, "LIST")
        say(f"the board on {new} holds {got}")
        lost = [x for x in posts + late if x not in got]
        say(f"every committed post survived; lost: {lost or 'nothing'} (made after the last committed checkpoint)")
        assert got[:len(posts)] == posts, f"posts lost: {got}"
        say(f"posting on {new}: {lab.board(new, 'POST after-failover')}")
        say(f"Status as {new} sees it:")
        show_status(lab, new)
        say("Done. The paper's prototype took 13-55 s for this; BENCHMARKS.md has the medians.")
        return 0
    finally:
        if a.keep:
            say(f"lab left up (--keep): scripts/lab status, scripts/lab down")
        else:
            lab.down()
            say("lab removed")


if __name__ == "__main__":
    sys.exit(main())
