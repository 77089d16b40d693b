#!/usr/bin/env python3
"""Failover on the 3-host lab with the real bulletin-board guest.

    failover_test.py CASE --bin BUILD_DIR --guest-dir DIR

CASE:
  primary-dies   kill h1 (the primary's host): a survivor serves with every
                 post up to the last committed version and none invented;
                 prints the time from kill to serving.
  two-of-three   kill h1 and h2 at once: h3, the last host, serves.
  switchover     vmrepctl switchover board --to h2 right after posts: h2
                 serves with every post, h1's VM is stopped, no split-brain hook.
  quorum         mode quorum, h1 | h2,h3: h1 (minority) stops its VM, the
                 majority side serves; after the heal still one VM.
  pull-refused   h2 refuses SSH, so only h3 gets the newest versions; kill
                 h1: h2 (next in turn) cannot fetch the newest from h3, is
                 told so at once and hands the service to h3, which serves
                 every committed post.
  two-services   services board and board2, each its own VM: their first
                 primaries are h1 and h2 (placement spreads them); kill h1:
                 board fails over with its posts while board2 keeps serving
                 on h2 untouched.
  slow-backup    every frame h3 sends waits 100 ms (scripts/lab delay): h1
                 keeps checkpointing and committing at its interval on h2's
                 acks, and h3 still receives a newer version within 20 s.
  slow-backup-300  the same at 300 ms, within 30 s.
  partition      h1 | h2,h3: h1 keeps serving (availability mode), h2 or h3
                 serves on the other side; after the heal exactly one host
                 runs the VM, the other stopped it and ran on_split_brain.

Exit 0 pass, 1 fail, 77 skipped (not root, no namespaces, no guest).
"""
import argparse
import os
import pwd
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as labmod  # noqa: E402
import replication as rep  # noqa: E402

T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def start(lab):
    rep.start_board(lab)
    log("h1 serves and has committed a first version")


def check_posts(lab, h, durable, maybe):
    """On h the board holds every durable post, then possibly some of `maybe`
    in order, and nothing else: in memory and on disk."""
    for what in ("LIST", "DISK"):
        got = lab.board(h, what)
        assert got[:len(durable)] == durable, f"{what} on {h}: {got}, want {durable} first"
        rest = got[len(durable):]
        assert rest == maybe[:len(rest)], f"{what} on {h}: after the durable posts {rest} is not a prefix of {maybe}"
        log(f"{what} on {h}: {len(durable)} durable post(s) there, {len(rest)} of {len(maybe)} later one(s)")


def case_primary_dies(lab):
    start(lab)
    durable = rep.post_batch(lab, "h1", "durable", 3)
    committed = rep.make_durable(lab, "h1")
    late = rep.post_batch(lab, "h1", "late", 2)
    log(f"3 posts are in committed version {committed}; 2 more posted; killing h1")
    killed_at = rep.now()
    log(lab.kill("h1"))
    new = lab.wait_until(lambda: rep.serving_hosts(lab, ["h2", "h3"]), 60, "a survivor serving")[0]
    t = rep.failover_times(lab, new, killed_at, "h1")
    restore = (f"restore started {t['restore_start']:.2f} s" if t["restore_start"] is not None else
               f"restore prepared at suspicion, ready {t['prepared']:.2f} s")
    log(f"{new} serves: kill -> serving {t['serving']:.2f} s (detection {t['detection']:.2f} s, "
        f"elected {t['elected']:.2f} s, {restore})")
    print(f"FAILOVER kill_to_serving_s={t['serving']:.3f}", flush=True)
    check_posts(lab, new, durable, late)
    assert lab.board(new, "POST after-failover")[0].startswith("OK")
    hooks = [l for l in rep.hook_lines(lab.dir) if l.startswith(new + " ")]
    log(f"hooks run on {new}: {hooks}")
    assert f"{new} fence old=h1" in hooks, "the new primary fences the old one before promoting"
    kinds = [l.split()[1] for l in hooks]
    assert kinds.index("fence") < kinds.index("pre_promote") < kinds.index("post_promote"), kinds
    other = "h3" if new == "h2" else "h2"
    rep.wait_committed_after(lab, new, None, 60)
    r = rep.replication(lab, other)
    log(f"{other} follows {r['primary']} as {r['state']}")
    assert r["primary"] == new and r["state"] == "backup", r
    check_sftp_account(lab, new, other)


def check_sftp_account(lab, new, other):
    """Pushes log in as the SFTP-only account, not root: each store belongs to
    it (0700/0600, nothing for others) and root logins are refused."""
    account = pwd.getpwnam("vmrep-sftp")
    for h in (new, other):
        store = os.path.join(lab.dir, "hosts", h, "data", "snapshots")
        entries = 0
        for d, dirs, files in os.walk(store):
            for p in [d] + [os.path.join(d, f) for f in files]:
                try:
                    st = os.lstat(p)
                except FileNotFoundError:
                    continue  # a temp file renamed or a chunk collected meanwhile: the store is live
                assert st.st_uid == account.pw_uid, f"{p}: owned by uid {st.st_uid}, not vmrep-sftp"
                want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
                assert stat.S_IMODE(st.st_mode) == want, f"{p}: mode {stat.S_IMODE(st.st_mode):o}"
                entries += 1
        assert entries > 10, f"{store}: only {entries} entries"
        log(f"{h}: {entries} store entries, all vmrep-sftp's, 0700/0600")
    key = os.path.join(lab.dir, "hosts", other, "ssh", "id_ed25519")
    opts = ["-i", key, "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            "-o", "UserKnownHostsFile=" + os.path.join(lab.dir, "ssh", "known_hosts")]
    target = "10.77.0." + new[1:]

    def ssh(user, *cmd):
        return lab.run("exec", other, "ssh", *opts, f"{user}@{target}", *cmd, check=False, timeout=30)

    # The same key and known_hosts: SFTP as the account works (control) ...
    r = lab.run("exec", other, "sh", "-c", "echo pwd | sftp -b - " + " ".join(opts) + f" vmrep-sftp@{target}",
                check=False, timeout=30)
    assert r.returncode == 0, f"sftp as vmrep-sftp to {new} failed: {r.stdout}{r.stderr}"
    # ... a command as the account gets internal-sftp, not a shell ...
    r = ssh("vmrep-sftp", "id")
    assert "uid=" not in r.stdout, f"vmrep-sftp ran a command on {new}: {r.stdout}"
    # ... and root is refused.
    r = ssh("root", "true")
    assert r.returncode != 0, f"root logged in to {new} over SSH"
    log(f"{other} -> {new}: sftp as vmrep-sftp works, no shell for it, root refused (exit {r.returncode})")


def case_two_of_three(lab):
    start(lab)
    durable = rep.post_batch(lab, "h1", "durable", 2)
    committed = rep.make_durable(lab, "h1")
    lab.wait_until(lambda: (rep.replication(lab, "h3") or {}).get("newest") and
                   rep.version_key(rep.replication(lab, "h3")["newest"]) >= rep.version_key(committed),
                   30, f"h3 holding {committed}")
    killed_at = rep.now()
    log(lab.kill("h1") + "; " + lab.kill("h2"))
    lab.wait_until(lambda: rep.serving_hosts(lab, ["h3"]), 60, "h3 serving alone")
    t = rep.failover_times(lab, "h3", killed_at, "h1")
    log(f"h3 serves alone: kill -> serving {t['serving']:.2f} s")
    check_posts(lab, "h3", durable, [])
    assert rep.vm_running(lab, "h3")


def case_partition(lab):
    start(lab)
    durable = rep.post_batch(lab, "h1", "durable", 2)
    rep.make_durable(lab, "h1")
    log(lab.partition("h1|h2,h3"))
    other = lab.wait_until(lambda: rep.serving_hosts(lab, ["h2", "h3"]), 60, "h2 or h3 serving")[0]
    assert rep.serving_hosts(lab, ["h1"]) == ["h1"], "availability mode: h1 keeps serving its side"
    log(f"split brain as the paper allows: h1 and {other} both serve")
    assert rep.vm_running(lab, "h1") and rep.vm_running(lab, other)
    log(lab.heal())
    winner = lab.wait_until(lambda: rep.settled_primary(lab), 60, "exactly one host serving after the heal")
    loser = "h1" if winner != "h1" else other
    running = [h for h in lab.hosts if rep.vm_running(lab, h)]
    log(f"after the heal {winner} serves; VM running on {running}")
    assert running == [winner], f"the VM must run only on {winner}, runs on {running}"
    hooks = [l for l in rep.hook_lines(lab.dir) if "on_split_brain" in l]
    log(f"on_split_brain hook lines: {hooks}")
    assert any(l.startswith(loser + " ") for l in hooks), f"{loser} did not run on_split_brain: {hooks}"
    for h in lab.hosts:
        r = rep.replication(lab, h)
        assert r["primary"] == winner, f"{h} follows {r['primary']}, not {winner}"


def case_switchover(lab):
    start(lab)
    posts = rep.post_batch(lab, "h1", "before-switchover", 3)
    log("3 posts on h1, no wait for a checkpoint; vmrepctl switchover board --to h2")
    t0 = time.monotonic()
    r = subprocess.run([lab.vmrepctl, "--socket", lab.socket("h1"), "switchover", "board", "--to", "h2"],
                       capture_output=True, text=True, timeout=200)
    took = time.monotonic() - t0
    for line in r.stdout.splitlines():
        log("  vmrepctl: " + line)
    assert r.returncode == 0, f"switchover failed ({r.returncode}): {r.stderr}"
    log(f"switchover done in {took:.2f} s")
    print(f"SWITCHOVER seconds={took:.3f}", flush=True)
    assert rep.serving_hosts(lab) == ["h2"], rep.serving_hosts(lab)
    check_posts(lab, "h2", posts, [])  # a planned move loses nothing
    assert not rep.vm_running(lab, "h1") and rep.vm_running(lab, "h2")
    assert not [l for l in rep.hook_lines(lab.dir) if "on_split_brain" in l], "a planned move is no split brain"
    refused = subprocess.run([lab.vmrepctl, "--socket", lab.socket("h1"), "switchover", "board", "--to", "h3"],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1 and "not serving" in refused.stderr, refused


def case_pull_refused(lab):
    start(lab)
    rep.stop_sshd(lab, ["h2"])
    log("sshd stopped on h2: only h3 receives new versions")
    durable = rep.post_batch(lab, "h1", "durable", 2)
    committed = rep.make_durable(lab, "h1")
    old = (rep.replication(lab, "h2") or {}).get("newest")
    assert old is None or rep.version_key(old) < rep.version_key(committed), (old, committed)
    killed_at = rep.now()
    log(f"h3 holds {committed}, h2 {old}; " + lab.kill("h1"))
    new = lab.wait_until(lambda: rep.serving_hosts(lab, ["h2", "h3"]), 60, "a survivor serving")[0]
    took = rep.now() - killed_at
    events = [e.get("detail", "") for e in lab.events("h2") or [] if e.get("kind") in ("pull_refused", "handing_over")]
    log(f"{new} serves {took:.1f} s after the kill; h2's events: {events}")
    assert new == "h3", f"h3 holds the committed version and must serve, not {new}"
    assert any("cannot send" in e for e in events), "h3 told h2 at once that it cannot send the version"
    assert took < 30, "the refusal is immediate: no waiting out the 60 s pull deadline"
    check_posts(lab, "h3", durable, [])
    lab.wait_until(lambda: (rep.replication(lab, "h2") or {}).get("state") == "backup", 30, "h2 back to backup")


def case_two_services(lab):
    both = ("board", "board2")
    lab.up(3, services_yaml=rep.service_yaml(lab.dir, services=both), timing=rep.SHORT_TIMING, domains=both)
    lab.wait_until(lambda: rep.serving_hosts(lab, service="board") == ["h1"] and
                   rep.serving_hosts(lab, service="board2") == ["h2"], 180, "board on h1 and board2 on h2")
    durable = {"board": ("h1", rep.post_batch(lab, "h1", "one", 2)),
               "board2": ("h2", rep.post_batch(lab, "h2", "two", 2, domain="board2"))}
    for svc, (h, _) in durable.items():
        log(f"{svc}: {rep.make_durable(lab, h, service=svc)} committed on {h}")
    log("two services, two primaries: board on h1, board2 on h2; " + lab.kill("h1"))
    assert lab.board("h2", "POST during-failover", domain="board2")[0].startswith("OK"), "board2 serves throughout"
    new = lab.wait_until(lambda: rep.serving_hosts(lab, ["h2", "h3"], service="board"), 60, "board back")[0]
    log(f"board serves on {new}; board2 still on {rep.serving_hosts(lab, service='board2')}")
    assert rep.serving_hosts(lab, ["h2", "h3"], service="board2") == ["h2"]
    got = lab.board(new, "LIST")
    assert got[:2] == durable["board"][1], f"board on {new}: {got}"
    got2 = lab.board("h2", "LIST", domain="board2")
    assert got2[:3] == durable["board2"][1] + ["during-failover"], f"board2 on h2: {got2}"
    changes = [e["detail"] for e in lab.events("h2") or [] if e.get("service") == "board2" and
               e.get("kind") == "state_changed" and "serving ->" in e.get("detail", "")]
    assert not changes, f"board2 left serving on h2 during board's failover: {changes}"
    for svc, host in (("board", new), ("board2", "h2")):
        running = [h for h in ("h2", "h3") if rep.vm_running(lab, h, svc)]
        assert running == [host], f"{svc} runs on {running}, want only {host}"


def slow_backup(lab, delay_ms, bound_s):
    """Every frame h3 sends waits delay_ms: h1 keeps committing on h2's acks,
    and h3 still receives a newer version within bound_s (a push against
    what h3 holds costs a few round trips, not one per shard directory)."""
    start(lab)
    # Past the first versions, which carry the freshly booted guest's whole
    # memory and disk (tens of MB): from here on a checkpoint ships ~1 MB.
    rep.make_durable(lab, "h1")
    log(lab.delay("h3", delay_ms))
    h3_before = (rep.replication(lab, "h3") or {}).get("newest")
    c0 = rep.replication(lab, "h1")["committed"]
    time.sleep(12)
    r = rep.replication(lab, "h1")
    c1 = r["committed"]
    log(f"in 12 s h1 committed {c0} -> {c1}; h3 as h1 sees it: {r['nodes']['h3']}")
    t0, s0 = rep.version_key(c0)
    t1, s1 = rep.version_key(c1)
    assert t1 == t0 and s1 - s0 >= 4, f"a checkpoint every 2 s must keep committing: {c0} -> {c1}"

    def newer():
        v = (rep.replication(lab, "h3") or {}).get("newest")
        return v if v and (not h3_before or rep.version_key(v) > rep.version_key(h3_before)) else None
    waited = time.monotonic()
    got = lab.wait_until(newer, bound_s, f"the slow backup receiving a newer version within {bound_s} s")
    log(f"h3 went {h3_before} -> {got} ({time.monotonic() - waited:.1f} s after the 12 s window); "
        f"last push to h3: {rep.replication(lab, 'h1')['nodes']['h3']}")
    log(lab.delay("h3", 0))


def case_slow_backup(lab):
    slow_backup(lab, 100, 20)


def case_slow_backup_300(lab):
    slow_backup(lab, 300, 30)


def case_quorum(lab):
    rep.start_board(lab, committed=False, mode="quorum")
    durable = rep.post_batch(lab, "h1", "durable", 2)
    rep.make_durable(lab, "h1")
    log(lab.partition("h1|h2,h3"))
    lab.wait_until(lambda: not rep.vm_running(lab, "h1"), 30, "h1, alone, stopping its VM (no majority in sight)")
    new = lab.wait_until(lambda: rep.serving_hosts(lab, ["h2", "h3"]), 60, "the majority side serving")[0]
    log(f"mode quorum: h1 stopped its VM, {new} serves for the majority: never two primaries")
    r = rep.replication(lab, "h1")
    assert r["state"] != "serving", r
    check_posts(lab, new, durable, [])
    log(lab.heal())
    # Either side's primary may win the heal ((epoch, round) order); one must.
    winner = lab.wait_until(lambda: rep.settled_primary(lab), 60, "one primary that every host follows")
    running = [h for h in lab.hosts if rep.vm_running(lab, h)]
    log(f"after the heal {winner} serves, VM running on {running}")
    assert running == [winner], running
    check_posts(lab, winner, durable, [])


CASES = {"primary-dies": case_primary_dies, "quorum": case_quorum, "switchover": case_switchover, "two-of-three": case_two_of_three, "partition": case_partition,
         "pull-refused": case_pull_refused, "two-services": case_two_services,
         "slow-backup": case_slow_backup, "slow-backup-300": case_slow_backup_300}


def check_invariants(lab):
    """No live daemon found its replication state inconsistent (debug builds
    check replication/invariants after every input; release builds do not,
    and report 0)."""
    for h in sorted(os.listdir(os.path.join(lab.dir, "hosts"))):
        ev = lab.events(h)
        if ev is None:
            continue  # killed by the case
        bad = [e for e in ev if e.get("kind") == "invariant_violated"]
        assert not bad, f"{h}: invariant violated: {[e.get('detail') for e in bad]}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("case", choices=sorted(CASES))
    p.add_argument("--bin", required=True)
    p.add_argument("--guest-dir", required=True)
    a = p.parse_args()
    reason = labmod.skip_reason()
    if reason:
        print(f"SKIP: {reason}")
        return 77
    if not os.path.isfile(os.path.join(a.guest_dir, "vmlinuz")):
        print(f"SKIP: no guest in {a.guest_dir}")
        return 77
    lab = labmod.Lab(a.bin, a.guest_dir, log=log)
    try:
        CASES[a.case](lab)
        check_invariants(lab)
        log(f"PASS {a.case}")
        return 0
    except Exception as e:  # noqa: BLE001 - any failure gets the daemons' logs
        log(f"FAIL {a.case}: {e}")
        lab.print_logs()
        return 1
    finally:
        lab.down()


if __name__ == "__main__":
    sys.exit(main())
