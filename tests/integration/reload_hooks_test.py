#!/usr/bin/env python3
"""A hook changed by SIGHUP reaches the running service, not only the
daemon's copy of the configuration (it once did not: every service agent kept
running the old hooks after "reloaded configuration: ... hooks").

Two real vmrepd on 127.0.0.1; service "board" on libvirt's test:///default,
whose domain "test" runs in every daemon's own in-process driver, so a
promotion finds its VM running and serves it after the pre_promote hook:

  1. h1 serves (its pre_promote hook, the old one, ran there);
  2. the config's pre_promote hook changes; SIGHUP to h2 only;
  3. kill -9 h1: h2 promotes and must run the new hook, never the old one.

Every process is started and stopped here by PID; the temp dir is removed.
"""
import argparse
import os
import signal
import time

from vmrep_lab import Cluster, fail_with_logs, wait_for

SERVICES = """  board:
    libvirt_uri: "test:///default"
    domain: test
    mode: availability
    hooks: {pre_promote: "touch @DIR@/old-hook-ran-on-$VMREP_NODE"}
"""



def state(c, node):
    s = c.status(node)
    if s is None:
        return None
    return s["services"][0].get("replication", {}).get("state")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmrepd", required=True)
    ap.add_argument("--vmrepctl", required=True)
    a = ap.parse_args()
    c = Cluster(a.vmrepd, a.vmrepctl, n=2, services=SERVICES)
    try:
        for n in c.names:
            c.start(n)
        wait_for("h1 serving and h2 a backup",
                 lambda: state(c, "h1") == "serving" and state(c, "h2") == "backup", 30)
        assert os.path.exists(os.path.join(c.dir, "old-hook-ran-on-h1")), "h1's pre_promote hook did not run"

        with open(c.config) as f:
            text = f.read()
        with open(c.config, "w") as f:
            f.write(text.replace("old-hook-ran-on", "new-hook-ran-on"))
        c.procs["h2"].send_signal(signal.SIGHUP)
        wait_for("h2 reloading", lambda: "reloaded configuration" in c.log("h2"), 10)

        c.kill9("h1")
        wait_for("h2 serving", lambda: state(c, "h2") == "serving", 30)
        old = os.path.exists(os.path.join(c.dir, "old-hook-ran-on-h2"))
        new = os.path.exists(os.path.join(c.dir, "new-hook-ran-on-h2"))
        assert not old, "h2 ran the pre_promote hook it had before SIGHUP"
        assert new, "h2 promoted without running the reloaded pre_promote hook"
        print("ok: the reloaded pre_promote hook ran at h2's promotion, the old one did not")
    except AssertionError as e:
        fail_with_logs(c, e)
    finally:
        c.close()


if __name__ == "__main__":
    main()
