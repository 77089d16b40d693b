"""Helpers for tests and benchmarks that run real vmrepd processes on
127.0.0.1: a PKI made with vmrepctl, a cluster file, processes started and
killed by PID, status read through `vmrepctl --json status`. Close the
Cluster in a `finally`: it kills what it started and removes its temp dir.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TICK_MS, HEARTBEAT_MS, SUSPECT_MS, SUSPECT_MAX_MS = 50, 100, 400, 1500


def wait_for(what, pred, timeout_s):
    """pred()'s first truthy value within timeout_s, polled every 0.1 s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def fail_with_logs(c, e):
    """Ends a test on AssertionError `e`: the tail of every node's log, then FAIL."""
    for n in c.names:
        try:
            sys.stderr.write(f"--- {n}.log (tail)\n" + c.log(n)[-3000:] + "\n")
        except OSError:
            pass
    raise SystemExit(f"FAIL: {e}")


def failover_bound_s(n=5):
    # consensus/sim/checker.cpp's bound, in ms, with a 1-tick link delay:
    # detection + a round per dead coordinator + two epochs.
    detection = SUSPECT_MAX_MS + 2 * TICK_MS
    rounds = n * 2 * TICK_MS
    epoch = 2 * HEARTBEAT_MS + 4 * TICK_MS + HEARTBEAT_MS
    return (detection + rounds + 2 * epoch) / 1000.0 + 1.0  # +1 s for process scheduling on a busy CI box


_next_port = random.randrange(12000)  # parallel tests must not pick alike


def free_port():
    """A loopback port that was free a moment ago, below Linux's ephemeral range
    (32768-60999), so no outgoing connection can be using it as its source port."""
    global _next_port
    for _ in range(1000):
        port = 20000 + _next_port % 12000
        _next_port += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free loopback port in 20000-31999")


class Cluster:
    # The election is under test by default, not the VM: test:///default without
    # such a domain leaves the service "failed" on its primary while elections go on.
    DEFAULT_SERVICES = """  board: {libvirt_uri: "test:///default", domain: no-such-domain, mode: availability}
  wiki: {libvirt_uri: "test:///default", domain: no-such-domain-either}
"""

    def __init__(self, vmrepd, vmrepctl, n=5, services=None):
        """services: the YAML under `services:`; @DIR@ stands for the cluster's temp dir."""
        self.vmrepd, self.vmrepctl = vmrepd, vmrepctl
        self.tick_ms, self.heartbeat_ms = TICK_MS, HEARTBEAT_MS
        self.dir = tempfile.mkdtemp(prefix="vmrep-it-")
        self.procs = {}
        self.names = [f"h{i}" for i in range(1, n + 1)]
        self.ports = {n: free_port() for n in self.names}
        pki = os.path.join(self.dir, "pki")
        self.ctl("pki", "init", "--dir", pki, "--cluster", "it")
        self.ctl("pki", "issue", *self.names, "--dir", pki)
        nodes = "\n".join(f"  - {{name: {n}, address: 127.0.0.1, port: {self.ports[n]}}}" for n in self.names)
        self.config = os.path.join(self.dir, "cluster.yaml")
        with open(self.config, "w") as f:
            f.write(f"""cluster: it
nodes:
{nodes}
tls: {{ca: {pki}/ca.crt, cert: "{pki}/{{node}}.crt", key: "{pki}/{{node}}.key"}}
timing: {{tick_ms: {TICK_MS}, heartbeat_interval_ms: {HEARTBEAT_MS}, suspect_timeout_ms: {SUSPECT_MS}, suspect_timeout_max_ms: {SUSPECT_MAX_MS}}}
control: {{socket: "{self.dir}/{{node}}/vmrepd.sock"}}
data_dir: "{self.dir}/{{node}}"
log_level: info
replication: {{cluster_key: "{self.dir}/cluster.key"}}
services:
{(services or self.DEFAULT_SERVICES).replace("@DIR@", self.dir)}""")
        # 0600 from the start: vmrepd refuses a cluster key group or others can read.
        fd = os.open(os.path.join(self.dir, "cluster.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(os.urandom(32))

    def ctl(self, *args, check=True):
        r = subprocess.run([self.vmrepctl, *args], capture_output=True, text=True, timeout=20)
        if check and r.returncode != 0:
            raise AssertionError(f"vmrepctl {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def log(self, name):
        with open(os.path.join(self.dir, f"{name}.log")) as f:
            return f.read()

    def start(self, name):
        logf = open(os.path.join(self.dir, f"{name}.log"), "a")
        self.procs[name] = subprocess.Popen([self.vmrepd, "--config", self.config, "--node", name],
                                            stdout=logf, stderr=subprocess.STDOUT)

    def kill9(self, name):
        p = self.procs.pop(name)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)

    def status(self, name):
        r = self.ctl("--socket", os.path.join(self.dir, name, "vmrepd.sock"), "--json", "status", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def views(self):
        """{node: (cluster primary, cluster role, board primary, board role)} of the live nodes."""
        out = {}
        for n in self.procs:
            s = self.status(n)
            if s is None:
                return None
            ce, svc = s["cluster_election"], s["services"][0]
            out[n] = (ce["primary"], ce["role"], svc["primary"], svc["role"])
        return out

    def service_primaries(self, node):
        """{service: primary} as `node` sees it."""
        s = self.status(node)
        return None if s is None else {svc["name"]: svc["primary"] for svc in s["services"]}

    def agreed(self):
        """The primary every live node names, for the cluster election and for
        service "board" (two independent elections: they need not name the same
        node), as a tuple, or None while either is not agreed."""
        v = self.views()
        if not v:
            return None
        out = []
        for primary_at, role_at in ((0, 1), (2, 3)):
            primaries = {x[primary_at] for x in v.values()}
            if len(primaries) != 1:
                return None
            p = primaries.pop()
            if p not in v or v[p][role_at] != "primary":
                return None
            if any(x[role_at] != "backup" for n, x in v.items() if n != p):
                return None
            out.append(p)
        return tuple(out)

    def wait_agreed(self, timeout, not_in=()):
        """Waits until both elections agree on primaries outside `not_in`;
        returns the cluster election's primary, the board's and the time taken."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            p = self.agreed()
            if p and p[0] not in not_in and p[1] not in not_in:
                return p, time.monotonic() - t0
            time.sleep(0.05)
        raise AssertionError(f"no agreed primary within {timeout:.1f}s; views: {self.views()}")

    def close(self):
        for p in self.procs.values():
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=10)
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


