#!/usr/bin/env python3
"""The paper's six failure experiments (Sec. IV, Figs. 4-9) on a 5-host lab
with the bulletin-board guest. Run by scripts/scenarios (which builds first).

    scenarios.py --bin BUILD --guest-dir DIR [--paper-timing] [--out DIR] [CASE ...]

CASE: serial, majority, partition, election-failure, latest-lost, old-backup
(default: all six). Each case brings up its own lab, injects the faults,
asserts what the paper says should happen (and what vmrep promises beyond
it), collects every host's events into OUT/CASE.json, draws OUT/CASE.svg with
`vmrep-timeline`, and prints one row of the results table.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import lab as labmod  # noqa: E402
import replication as rep  # noqa: E402

T0 = time.monotonic()
HOSTS = ["h1", "h2", "h3", "h4", "h5"]
SHORT = rep.SHORT_TIMING
PAPER = (100, 1000, 10000, 30000)   # the paper's 10 s heartbeat timeout
PAPER_SECONDS = {"serial": "13 and 40", "majority": "41", "partition": "55", "election-failure": "42",
                 "latest-lost": "35", "old-backup": "~124"}


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Case:
    def __init__(self, lab, name, timing, min_acks=1):
        self.lab, self.name, self.timing = lab, name, timing
        self.timeline_bin = "vmrep-timeline"  # main() points it into the build
        self.faults = []
        self.events = {h: [] for h in HOSTS}
        self.suspect_s = timing[2] / 1000
        t = time.time()
        self.t0 = t + rep.start_board(lab, 5, timing, checkpoint_ms=2000, min_acks=min_acks)  # the figure starts at boot
        log(f"{name}: 5 hosts up, h1 serves")

    def fault(self, label, action):
        self.snapshot_events()
        t = time.time()
        out = action()
        self.faults.append({"time": iso(t), "label": label})
        log(f"{label}: {out}")
        return t

    def snapshot_events(self):
        """Every reachable host's events so far: a killed host answers no more,
        so its history is what was read before the kill."""
        for h in HOSTS:
            r = subprocess.run([self.lab.vmrepctl, "--socket", self.lab.socket(h), "--json", "events", "--limit",
                                "1000"], capture_output=True, text=True, timeout=20)
            if r.returncode == 0:
                self.events[h] = json.loads(r.stdout)

    def kill(self, *hosts):
        self.snapshot_events()
        t = time.time()
        for h in hosts:
            self.lab.kill(h)
            self.faults.append({"time": iso(t), "label": f"kill {h}"})
        log(f"killed {', '.join(hosts)}")
        return t

    def wait_serving(self, among, after, what):
        limit = 60 + 6 * self.suspect_s
        h = self.lab.wait_until(lambda: rep.serving_hosts(self.lab, among), limit, what)[0]
        took = rep.failover_times(self.lab, h, after, "")["serving"]
        return h, took

    def served_version(self, h):
        fo = (rep.replication(self.lab, h) or {}).get("last_failover", {})
        return fo.get("version"), fo.get("fetched_from")

    def collect(self, out_dir):
        self.snapshot_events()
        doc = {"scenario": self.name, "service": rep.SERVICE, "t0": iso(self.t0), "nodes": self.events,
               "faults": self.faults}
        path = os.path.join(out_dir, f"{self.name}.json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
        svg = os.path.join(out_dir, f"{self.name}.svg")
        r = subprocess.run([self.timeline_bin, path, "--svg", svg, "--text"], capture_output=True, text=True)
        print(r.stdout + r.stderr, flush=True)
        if r.returncode != 0:
            raise AssertionError(f"vmrep-timeline could not draw {path}: {r.stderr.strip()}")
        return svg


def case_serial(c):
    posts = rep.post_batch(c.lab, "h1", "s", 2)
    rep.make_durable(c.lab, "h1")
    t = c.kill("h1")
    a, took1 = c.wait_serving(HOSTS[1:], t, "a first survivor serving")
    rep.make_durable(c.lab, a)
    t = c.kill(a)
    rest = [h for h in HOSTS[1:] if h != a]
    b, took2 = c.wait_serving(rest, t, "a second survivor serving")
    assert c.lab.board(b, "LIST")[:2] == posts
    return {"recovery": f"{took1:.1f} and {took2:.1f}", "served": f"{b}: {c.served_version(b)[0]}", "lost": 0}


def case_majority(c):
    posts = rep.post_batch(c.lab, "h1", "m", 2)
    rep.make_durable(c.lab, "h1")
    t = c.kill("h1", "h2", "h3")
    h, took = c.wait_serving(["h4", "h5"], t, "h4 or h5 serving with 2 of 5 left")
    got = c.lab.board(h, "LIST")
    assert got[:2] == posts, got
    return {"recovery": f"{took:.1f}", "served": f"{h}: {c.served_version(h)[0]}", "lost": 0}


def case_partition(c):
    posts = rep.post_batch(c.lab, "h1", "p", 2)
    rep.make_durable(c.lab, "h1")
    t = c.fault("partition h1,h2|h3,h4,h5", lambda: c.lab.partition("h1,h2|h3,h4,h5"))
    h, took = c.wait_serving(["h3", "h4", "h5"], t, "the majority side serving")
    assert rep.serving_hosts(c.lab, ["h1", "h2"]) == ["h1"], "availability: h1 keeps its side"
    time.sleep(3)
    t_heal = c.fault("heal", c.lab.heal)
    winner = c.lab.wait_until(lambda: rep.settled_primary(c.lab), 60 + 6 * c.suspect_s, "one primary after heal")
    running = [x for x in HOSTS if rep.vm_running(c.lab, x)]
    assert running == [winner], running
    converge = time.time() - t_heal
    assert c.lab.board(winner, "LIST")[:2] == posts
    return {"recovery": f"{took:.1f} (converged {converge:.1f} after heal)", "served": f"{winner} after heal",
            "lost": "side branch of the loser"}


def case_election_failure(c):
    posts = rep.post_batch(c.lab, "h1", "e", 2)
    rep.make_durable(c.lab, "h1")
    t = c.kill("h1")
    # The host decided next is killed while it restores (deciding/restoring).
    cand = c.lab.wait_until(lambda: [h for h in HOSTS[1:] if (rep.replication(c.lab, h) or {}).get("state")
                                      in ("restoring", "serving")], 60 + 6 * c.suspect_s, "a new primary deciding")[0]
    c.kill(cand)
    rest = [h for h in HOSTS[1:] if h != cand]
    h, _ = c.wait_serving(rest, t, "a third host serving")
    took = rep.failover_times(c.lab, h, t, "h1")["serving"]
    assert c.lab.board(h, "LIST")[:2] == posts
    return {"recovery": f"{took:.1f}", "served": f"{h}: {c.served_version(h)[0]}", "lost": 0}


def case_latest_lost(c, min_acks):
    # First h3 and h5 refuse SSH: versions commit with the acks of h2 and h4.
    rep.stop_sshd(c.lab, ["h3", "h5"])
    early = rep.post_batch(c.lab, "h1", "c", 2)
    committed = rep.make_durable(c.lab, "h1") if min_acks <= 2 else None
    # Then h4 too: the latest versions reach h2 only, and (min_acks 2) none of
    # them commits. h2 is "the only backup holding the latest snapshot".
    rep.stop_sshd(c.lab, ["h4"])
    log(f"{committed} committed on h2 and h4; sshd now stopped on h3, h4, h5: only h2 receives new versions")
    late = rep.post_batch(c.lab, "h1", "l", 2)
    time.sleep(3 * 2 + 2)  # a few checkpoints reach h2
    committed = (rep.replication(c.lab, "h1") or {}).get("committed")
    held = {h: (rep.replication(c.lab, h) or {}).get("newest") for h in HOSTS[1:]}
    t = c.kill("h1", "h2")
    h, took = c.wait_serving(["h3", "h4", "h5"], t, "a survivor serving")
    got = c.lab.board(h, "LIST")
    lost = [p for p in early + late if p not in got]
    served = c.served_version(h)[0]
    log(f"committed before the kill: {committed}; held: {held}; {h} served {served}; posts lost {lost}")
    if min_acks >= 2:
        # h3 (next in turn) holds an older version and cannot receive (its
        # sshd is down): the service must still come back at the committed one.
        assert served and rep.version_key(served) >= rep.version_key(committed), "no committed version lost"
        assert all(p in got for p in early), "posts in the committed version survive"
    return {"recovery": f"{took:.1f}", "served": f"{h}: {served} (committed {committed})", "lost": len(lost)}


def case_old_backup(c):
    rep.stop_sshd(c.lab, ["h2"])
    log("sshd stopped on h2: it keeps an old version while h3..h5 get new ones")
    posts = rep.post_batch(c.lab, "h1", "o", 2)
    newest = rep.make_durable(c.lab, "h1")
    old = (rep.replication(c.lab, "h2") or {}).get("newest")
    # h2 can be reached again (a new primary may pull through it), but h1 dies
    # before its next push: h2 still holds only the old version.
    rep.start_sshd(c.lab, "h2")
    t = c.kill("h1")
    log(f"h2 holds {old}, the others {newest}")
    h, took = c.wait_serving(HOSTS[1:], t, "a survivor serving")
    served, fetched = c.served_version(h)
    log(f"{h} serves {served}" + (f", fetched from {fetched} before booting" if fetched else ""))
    assert served and rep.version_key(served) >= rep.version_key(newest), f"served {served} < newest {newest}"
    assert c.lab.board(h, "LIST")[:2] == posts
    return {"recovery": f"{took:.1f}", "served": f"{h}: {served}" + (f" (fetched from {fetched})" if fetched else ""),
            "lost": 0}


CASES = ["serial", "majority", "partition", "election-failure", "latest-lost", "old-backup"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cases", nargs="*", choices=CASES + [[]], default=[])
    p.add_argument("--bin", required=True)
    p.add_argument("--guest-dir", required=True)
    p.add_argument("--paper-timing", action="store_true", help="the paper's 10 s heartbeat timeout")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "scenarios"))
    p.add_argument("--min-acks", type=int, default=2, help="for latest-lost (default 2: no committed loss)")
    a = p.parse_args()
    reason = labmod.skip_reason()
    if reason:
        print(f"SKIP: {reason}")
        return 77
    os.makedirs(a.out, exist_ok=True)
    timing = PAPER if a.paper_timing else SHORT
    rows, failed = [], []
    for name in a.cases or CASES:
        lab = labmod.Lab(a.bin, a.guest_dir, log=lambda m: None)
        try:
            c = Case(lab, name, timing, min_acks=a.min_acks if name == "latest-lost" else 1)
            c.timeline_bin = os.path.join(a.bin, "figures", "vmrep-timeline")
            fn = {"serial": case_serial, "majority": case_majority, "partition": case_partition,
                  "election-failure": case_election_failure, "old-backup": case_old_backup,
                  "latest-lost": lambda c: case_latest_lost(c, a.min_acks)}[name]
            row = fn(c)
            c.collect(a.out)
            rows.append((name, row))
            log(f"PASS {name}: {row}")
        except Exception as e:  # noqa: BLE001 - report and go on with the next case
            failed.append(name)
            log(f"FAIL {name}: {e}")
            lab.print_logs(40)
        finally:
            lab.down()
    print(f"\n| case | paper (s) | ours (s), timing {','.join(map(str, timing))} | version served | posts lost |")
    print("|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {PAPER_SECONDS[name]} | {r['recovery']} | {r['served']} | {r['lost']} |")
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
