"""Python side of scripts/lab for lab tests: hosts h1..hN in network
namespaces, each with its own libvirtd, sshd and vmrepd.

    lab = Lab(bin_dir="build/release", guest_dir="build/release/guest")
    try:
        lab.up(3)
        lab.wait_until(lambda: lab.leader(), 20, "a leader")
        ...
    finally:
        lab.down()

Every command goes through scripts/lab (same steps as by hand); status and
events are read with vmrepctl on the host's control socket, which is the same
path from inside and outside the host. Waits are bounded: wait_until raises
AssertionError with what it waited for and the last value seen.
"""
import json
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "lab")


def skip_reason():
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, mounts, libvirtd)"
    for tool in ("ip", "unshare", "nsenter", "libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "ssh-keygen"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode != 0:
            return f"{tool} not installed"
    if not os.path.exists("/usr/sbin/sshd"):
        return "sshd not installed (openssh-server)"
    probe = subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"network/mount namespaces unavailable: {probe.stderr.strip()}"
    return None


class Lab:
    def __init__(self, bin_dir, guest_dir=None, lab_dir=None, script=SCRIPT, log=print):
        self.script, self.log = script, log
        self.dir = lab_dir or os.environ.get("VMREP_LAB_DIR", "/tmp/vmrep-lab")
        self.env = dict(os.environ, VMREP_LAB_DIR=self.dir, VMREP_BIN=bin_dir)
        if guest_dir:
            self.env["VMREP_GUEST_DIR"] = guest_dir
        self.vmrepctl = self._find_vmrepctl(bin_dir)
        self.hosts = []

    @staticmethod
    def _find_vmrepctl(d):
        for p in (os.path.join(d, "controller", "cli", "vmrepctl"), os.path.join(d, "controller", "vmrepctl"),
                  os.path.join(d, "vmrepctl")):
            if os.access(p, os.X_OK):
                return p
        raise FileNotFoundError(f"no vmrepctl under {d}")

    def run(self, *args, check=True, timeout=180):
        t0 = time.monotonic()
        r = subprocess.run([self.script, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        took = time.monotonic() - t0
        if check and r.returncode != 0:
            raise AssertionError(f"scripts/lab {' '.join(args)} failed ({r.returncode}) after {took:.1f}s:\n"
                                 f"{r.stdout}{r.stderr}")
        return r

    def up(self, n, services_yaml=None, timing=None, guest=True, domains=("board",)):
        """Brings up n hosts (removing any leftover lab first); returns seconds taken."""
        self.run("down", check=False, timeout=120)
        args = ["up", str(n), "--guest" if guest else "--no-guest", "--domains", ",".join(domains)]
        if timing:
            args += ["--timing", ",".join(str(x) for x in timing)]
        if services_yaml:
            path = os.path.join(os.path.dirname(self.dir.rstrip("/")) or "/tmp", "vmrep-lab-services.yaml")
            with open(path, "w") as f:
                f.write(services_yaml)
            args += ["--services", path]
        t0 = time.monotonic()
        self.run(*args, timeout=180)
        self.hosts = [f"h{i}" for i in range(1, n + 1)]
        return time.monotonic() - t0

    def print_logs(self, lines=25):
        """The last lines of every host's vmrepd log, for a failed run."""
        for h in self.hosts:
            path = os.path.join(self.dir, "hosts", h, "vmrepd.log")
            if os.path.exists(path):
                with open(path) as f:
                    tail = f.readlines()[-lines:]
                print(f"---- {h} vmrepd.log (last lines)\n{''.join(tail)}", flush=True)

    def down(self):
        t0 = time.monotonic()
        r = self.run("down", check=False, timeout=120)
        if r.returncode != 0:
            self.log(f"lab down failed: {r.stdout}{r.stderr}")
        return time.monotonic() - t0

    def kill(self, h):
        return self.run("kill", h).stdout.strip()

    def restart(self, h):
        return self.run("restart", h).stdout.strip()

    def delay(self, h, ms):
        """Every frame h sends waits ms milliseconds (0 removes the delay)."""
        return self.run("delay", h, str(ms)).stdout.strip()

    def partition(self, sides):
        """sides: "h1|h2,h3" or [["h1"], ["h2", "h3"]]."""
        spec = sides if isinstance(sides, str) else "|".join(",".join(s) for s in sides)
        return self.run("partition", spec).stdout.strip()

    def heal(self):
        return self.run("heal").stdout.strip()

    def exec(self, h, *cmd):
        return self.run("exec", h, *cmd)

    def socket(self, h):
        return os.path.join(self.dir, "hosts", h, "run", "vmrepd.sock")

    def _ctl(self, h, *args):
        try:
            r = subprocess.run([self.vmrepctl, "--socket", self.socket(h), "--json", *args],
                               capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired:
            return None
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None

    def status(self, h):
        """`vmrepctl --json status` of h as a dict, or None when it does not answer."""
        return self._ctl(h, "status")

    def events(self, h):
        return self._ctl(h, "events")

    def board(self, h, line, timeout=60, domain="board"):
        r = self.run("board", "--domain", domain, h, line, timeout=timeout + 10)
        return r.stdout.splitlines()

    def suspected_by(self, h):
        """Names of the peers h's cluster failure detector suspects, or None."""
        s = self.status(h)
        return None if s is None else {p["name"] for p in s["peers"] if p["suspected"]}

    def leader(self, hosts=None):
        """The cluster election's primary when every host in `hosts` (default
        all) names the same one and it is among them and calls itself primary;
        else None."""
        hosts = hosts or self.hosts
        views = {h: self.status(h) for h in hosts}
        if any(v is None for v in views.values()):
            return None
        primaries = {v["cluster_election"]["primary"] for v in views.values()}
        if len(primaries) != 1:
            return None
        p = primaries.pop()
        if p not in views or views[p]["cluster_election"]["role"] != "primary":
            return None
        return p

    @staticmethod
    def wait_until(pred, timeout, what):
        """Polls pred() until it returns something truthy; returns it and logs the time."""
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < timeout:
            last = pred()
            if last:
                return last
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
