#!/usr/bin/env python3
"""Lab smoke test: 3 hosts in network namespaces with the bulletin-board guest
on h1. All vmrepd agree on the cluster leader; two posts go to the board and
come back; h2 is killed and the others suspect it; h2 restarts and the
suspicion clears; h1|h2,h3 is partitioned, each side suspects the other, and
after the heal all three agree again. The lab is always taken down.

    lab_smoke_test.py --bin BUILD_DIR [--guest-dir DIR]

Exit 0 pass, 1 fail, 77 skipped (not root, or no namespaces/libvirtd here).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as labmod  # noqa: E402

T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def settled(lab, hosts):
    """The leader all hosts agree on, once none suspects anyone; else None."""
    if any(lab.suspected_by(h) != set() for h in hosts):
        return None
    return lab.leader(hosts)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True, help="build dir with controller/vmrepd and controller/cli/vmrepctl")
    p.add_argument("--guest-dir", help="guest images (scripts/build-guest)")
    a = p.parse_args()

    reason = labmod.skip_reason()
    if reason:
        print(f"SKIP: {reason}")
        return 77
    for f in ("vmlinuz", "initrd.img", "data.qcow2"):
        if not a.guest_dir or not os.path.isfile(os.path.join(a.guest_dir, f)):
            print(f"SKIP: no guest in {a.guest_dir} (scripts/build-guest {a.guest_dir})")
            return 77

    lab = labmod.Lab(a.bin, a.guest_dir, log=log)
    try:
        took = lab.up(3)
        log(f"up 3 took {took:.1f}s")
        hosts = ["h1", "h2", "h3"]

        leader = lab.wait_until(lambda: lab.leader(hosts), 30, "h1..h3 to agree on a cluster leader")
        log(f"leader: {leader}")

        assert lab.board("h1", "PING") == ["PONG"], "board did not answer PING"
        assert lab.board("h1", "POST hello from the lab") == ["OK 1"]
        assert lab.board("h1", "POST second post") == ["OK 2"]
        posts = lab.board("h1", "LIST")
        assert posts == ["hello from the lab", "second post"], f"LIST gave {posts}"
        log(f"board on h1 holds {posts}")

        log(lab.kill("h2"))
        lab.wait_until(lambda: all("h2" in (lab.suspected_by(h) or ()) for h in ("h1", "h3")), 15,
                       "h1 and h3 to suspect h2")
        log("h1 and h3 suspect h2")
        lab.wait_until(lambda: lab.leader(["h1", "h3"]), 30, "h1 and h3 to agree on a leader")

        log(lab.restart("h2"))
        leader = lab.wait_until(lambda: settled(lab, hosts), 30, "h2 back: one leader, no suspicions")
        log(f"h2 back; leader {leader}")

        log(lab.partition("h1|h2,h3"))
        lab.wait_until(lambda: (lab.suspected_by("h1") == {"h2", "h3"} and
                                all(lab.suspected_by(h) == {"h1"} for h in ("h2", "h3"))), 15,
                       "both sides of h1|h2,h3 to suspect the other")
        side = lab.wait_until(lambda: lab.leader(["h2", "h3"]), 30, "h2,h3 to agree on a leader among them")
        log(f"partitioned: h2,h3 follow {side}")

        log(lab.heal())
        leader = lab.wait_until(lambda: settled(lab, hosts), 30, "one leader and no suspicions after the heal")
        log(f"healed: leader {leader}")
        assert lab.board("h1", "COUNT") == ["2"], "the board lost its posts"
        log("PASS")
        return 0
    except AssertionError as e:
        log(f"FAIL: {e}")
        for h in ("h1", "h2", "h3"):
            log(f"{h} status: {lab.status(h)}")
        print(lab.run("status", check=False).stdout)
        return 1
    finally:
        log(f"down took {lab.down():.1f}s")


if __name__ == "__main__":
    sys.exit(main())
