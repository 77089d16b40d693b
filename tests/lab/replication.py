"""Replication-level helpers on top of lab.Lab, shared by the lab tests, the
failover benchmark (bench/failover_bench.py) and scripts/demo: the board
service's YAML, its state per host, posts that must survive, and the
failover's timings read from the new primary's own event log.
"""
import datetime
import os
import subprocess
import time

SERVICE = "board"


def service_yaml(lab_dir, checkpoint_ms=2000, min_acks=1, mode="availability", services=(SERVICE,)):
    """The board service (or one per name in `services`, each on the domain
    of that name), with hooks that append one line per run to LAB/hooks.log
    (so tests can see which host ran which hook)."""
    log = os.path.join(lab_dir, "hooks.log")
    line = 'echo "$(hostname) {0} service=$VMREP_SERVICE local=${{VMREP_LOCAL_VERSION:-}} primary=${{VMREP_PRIMARY:-}}" >> ' + log
    return "services:\n" + "".join(f"""  {name}:
    domain: {name}
    checkpoint_interval_ms: {checkpoint_ms}
    min_acks: {min_acks}
    mode: {mode}
    hooks:
      fence: 'echo "$(hostname) fence old=$VMREP_OLD_PRIMARY" >> {log}'
      pre_promote: '{line.format("pre_promote")}'
      post_promote: '{line.format("post_promote")}'
      on_split_brain: '{line.format("on_split_brain")}'
""" for name in services)


SHORT_TIMING = (50, 100, 1000, 3000)  # tick, heartbeat, suspicion, suspicion max (ms)


def start_board(lab, n=3, timing=SHORT_TIMING, committed=True, **service):
    """Brings up n hosts with the board service (service_yaml(**service)),
    waits until h1 serves a board that answers and, unless committed=False,
    has committed a first version. Returns the seconds `up` took."""
    took = lab.up(n, services_yaml=service_yaml(lab.dir, **service), timing=timing)
    lab.wait_until(lambda: serving_hosts(lab) == ["h1"], 180, "h1 serving the board")
    lab.board("h1", "PING", timeout=180)
    if committed:
        wait_committed_after(lab, "h1", None, 120)
    return took


def hook_lines(lab_dir):
    try:
        with open(os.path.join(lab_dir, "hooks.log")) as f:
            return [l.strip() for l in f if l.strip()]
    except FileNotFoundError:
        return []


def stop_sshd(lab, hosts):
    """The host stays up but refuses SSH: pushes to it fail, it pushes out.
    The sessions already open go too (their sshd processes are the
    listener's children): pushers keep their SSH session between pushes, and
    a stopped listener alone would leave those working."""
    for h in hosts:
        lab.exec(h, "sh", "-c", "p=$(cat /run/sshd.pid); pkill -P $p; kill $p")


def start_sshd(lab, h):
    r = os.path.join(lab.dir, "hosts", h)
    lab.exec(h, "/usr/sbin/sshd", "-f", os.path.join(r, "ssh", "sshd_config"), "-E", os.path.join(r, "sshd.log"))


def replication(lab, h, service=SERVICE):
    """The service's `replication` status object on h, or None."""
    s = lab.status(h)
    if not s:
        return None
    for svc in s.get("services", []):
        if svc.get("name") == service:
            return dict(svc.get("replication") or {}, primary=svc.get("primary"))
    return None


def serving_hosts(lab, hosts=None, service=SERVICE):
    out = []
    for h in hosts or lab.hosts:
        r = replication(lab, h, service)
        if r and r.get("state") == "serving":
            out.append(h)
    return out


def vm_running(lab, h, domain=SERVICE):
    """Whether h's libvirtd runs the domain, paused or not (asked through its socket)."""
    sock = os.path.join(lab.dir, "hosts", h, "run", "libvirt", "libvirt-sock")
    if not os.path.exists(sock):
        return False
    r = subprocess.run(["virsh", "-c", f"qemu:///system?socket={sock}", "domstate", domain],
                       capture_output=True, text=True, timeout=20)
    return r.returncode == 0 and r.stdout.strip() in ("running", "paused")


def version_key(v):
    term, seq = v.split(".")
    return int(term), int(seq)


def wait_committed_after(lab, h, after, timeout, service=SERVICE):
    """Waits until h's committed version is newer than `after` (a version
    string or None) and returns it."""
    def newer():
        r = replication(lab, h, service)
        c = r and r.get("committed")
        return c if c and (after is None or version_key(c) > version_key(after)) else None
    return lab.wait_until(newer, timeout, f"{h} committing a version newer than {after}")


def post_batch(lab, h, prefix, n, domain=SERVICE):
    posts = []
    for i in range(n):
        text = f"{prefix}-{i}"
        answer = lab.board(h, f"POST {text}", domain=domain)
        assert answer and answer[0].startswith("OK"), f"POST {text} on {h}: {answer}"
        posts.append(text)
    return posts


def make_durable(lab, h, timeout=90, service=SERVICE):
    """After posting on primary h: waits until a version whose checkpoint
    began after the posts is committed, and returns it. The checkpoint
    running now may have begun before the posts, so the one after it is the
    first surely taken after them: two more checkpoints than now, by count
    (a version number says nothing while the first one is still running)."""
    done0 = (replication(lab, h, service) or {}).get("checkpoints", 0)
    def taken():
        r = replication(lab, h, service) or {}
        return r.get("newest") if r.get("checkpoints", 0) >= done0 + 2 else None
    target = lab.wait_until(taken, timeout, f"{h} taking two more checkpoints")
    def committed():
        c = (replication(lab, h, service) or {}).get("committed")
        return c if c and version_key(c) >= version_key(target) else None
    return lab.wait_until(committed, timeout, f"{h} committing {target} or newer")


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def failover_times(lab, h, killed_at, old_primary):
    """From h's event log: seconds from the kill to suspecting the old
    primary (detection), to being decided primary (election), to restoring
    the VM (restore start; None when the restore was prepared at suspicion,
    paused, and only resumed), to the prepared restore being ready, to
    serving. None for steps not found."""
    events = lab.events(h) or []
    def first(pred):
        for e in events:
            t = parse_time(e["time"])
            if t >= killed_at - 0.5 and e.get("service") == SERVICE and pred(e):
                return t - killed_at
        return None
    return {
        "detection": first(lambda e: e["kind"] == "suspected" and e["detail"].startswith(old_primary)),
        "elected": first(lambda e: e["kind"] == "role_changed" and e["detail"].endswith("-> primary")),
        "restore_start": first(lambda e: e["kind"] == "state_changed" and ": restoring " in e["detail"]),
        "prepared": first(lambda e: e["kind"] == "warm_restore"),
        "serving": first(lambda e: e["kind"] == "state_changed" and "-> serving" in e["detail"]),
    }


def now():
    return time.time()


def settled_primary(lab, hosts=None, polls=5):
    """The one host serving, when it is the primary every host follows, every
    other host is a backup again, and this holds over `polls` polls (0.3 s
    apart); else None. After a heal the two sides take a moment to converge:
    a single look can catch a moment. A loser is "stopping" until its VM is
    powered off (later still when a checkpoint was in flight), so a loser
    still stopping is not settled: a check of where the VM runs made then
    would race the power-off."""
    hosts = hosts or lab.hosts
    seen = None
    for _ in range(polls):
        reps = {h: replication(lab, h) or {} for h in hosts}
        serving = [h for h in hosts if reps[h].get("state") == "serving"]
        primaries = {r.get("primary") for r in reps.values()}
        others_backup = all(r.get("state") == "backup" for h, r in reps.items() if h not in serving)
        if len(serving) != 1 or primaries != {serving[0]} or not others_backup or (seen and seen != serving[0]):
            return None
        seen = serving[0]
        time.sleep(0.3)
    return seen
