#!/usr/bin/env python3
"""The userspace delay relay of `scripts/lab delay` (scripts/lab.d/delay.py),
without the lab: its own two namespaces on its own bridge, wired like two lab
hosts, and the relay put between one of them and the bridge the way cmd_delay
does it. Real traffic checks it:

  - without the relay a UDP round trip a -> b is under 20 ms;
  - with delay.py at 200 ms it is 180..400 ms (only what a sends is held);
  - 4 MiB over TCP each way arrive intact (sha256) through the relay;
  - replacing it with 50 ms gives 40..150 ms; the relay exits 0 on SIGTERM;
  - with the relay removed and the veth back on the bridge: under 20 ms again.

Names cannot clash with the lab (vmlab-*, vmlab0, vlab-*): namespaces
dlytest-a and dlytest-b, bridge dlytestbr0, veths dlyt-*. Everything it
creates is removed in a finally, also on failure.

    delay_relay_test.py

Exit 0 pass, 1 fail, 77 skipped (not root, or `ip netns` unusable).
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DELAY_PY = os.path.join(HERE, "..", "..", "scripts", "lab.d", "delay.py")
DELAY_PY = os.path.normpath(DELAY_PY)

NS_A, NS_B = "dlytest-a", "dlytest-b"
BRIDGE = "dlytestbr0"
VA, VB = "dlyt-a", "dlyt-b"          # root-side ends of the hosts' veths (like vlab-hI)
DA, DB = "dlyt-da", "dlyt-db"        # the relay's pair (like vd-hI-a on the bridge, vd-hI-b)
ADDR_A, ADDR_B = "10.79.0.1", "10.79.0.2"
UDP_PORT, TCP_PORT = 7007, 7008
TCP_BYTES = 4 << 20
BUDGET_S = 55

T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:5.1f}s] {msg}", flush=True)


class Skip(Exception):
    pass


def run(*cmd, check=True, quiet=False):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    if not quiet and r.returncode != 0:
        log(f"(ignored) {' '.join(cmd)}: {r.stderr.strip()}")
    return r


def link_exists(name):
    return run("ip", "link", "show", name, check=False, quiet=True).returncode == 0


def ns_exists(name):
    r = run("ip", "netns", "list", check=False, quiet=True)
    return any(line.split()[0] == name for line in r.stdout.splitlines() if line.strip())


def check_time():
    if time.monotonic() - T0 > BUDGET_S:
        raise AssertionError(f"test took more than {BUDGET_S}s")


# ------------------------------------------------------------ helpers run inside a namespace

def helper_udp_echo(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)


def helper_udp_ping(addr, port, count, warm_timeout):
    """One warm-up round trip (ARP), then COUNT timed ones: JSON list of ms."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, port))
    seq = 0

    def once(timeout):
        nonlocal seq
        seq += 1
        msg = f"ping {seq}".encode()
        t = time.monotonic()
        s.send(msg)
        s.settimeout(timeout)
        while True:
            try:
                got = s.recv(2048)
            except socket.timeout:
                return None
            if got == msg:
                return (time.monotonic() - t) * 1000
            timeout = max(0.01, timeout - (time.monotonic() - t))
            s.settimeout(timeout)

    for _ in range(4):
        if once(warm_timeout) is not None:
            break
    else:
        print(json.dumps({"error": "no answer"}))
        return
    rtts = []
    for _ in range(count):
        r = once(2.0)
        if r is not None:
            rtts.append(r)
        time.sleep(0.02)
    print(json.dumps({"rtts": rtts}))


def helper_tcp_sink(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    c.sendall(b"done")
    c.close()
    print(json.dumps({"bytes": n, "sha256": h.hexdigest()}), flush=True)


def helper_tcp_send(addr, port, nbytes):
    data = os.urandom(nbytes)
    c = socket.create_connection((addr, port), timeout=20)
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    c.settimeout(20)
    ack = c.recv(16)
    print(json.dumps({"bytes": nbytes, "sha256": hashlib.sha256(data).hexdigest(), "ack": ack.decode()}))


# ------------------------------------------------------------ the test

class Topology:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []   # background helpers and relays (Popen), killed by PID in cleanup

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGTERM)
                    p.wait(timeout=3)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    try:
                        os.kill(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    p.wait(timeout=5)
        for ns in (NS_A, NS_B):
            if ns_exists(ns):
                run("ip", "netns", "del", ns, check=False)
        for dev in (VA, VB, DA, DB, BRIDGE):
            if link_exists(dev):
                run("ip", "link", "del", dev, check=False, quiet=True)
        left = [d for d in (VA, VB, DA, DB, BRIDGE) if link_exists(d)] + [n for n in (NS_A, NS_B) if ns_exists(n)]
        if left:
            log(f"cleanup: still there: {left}")

    def build(self):
        # Hosts like make_network's: a namespace per host, eth0 of a veth whose
        # other end is on the bridge.
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        run("ip", "link", "set", BRIDGE, "up")
        for ns, veth, addr in ((NS_A, VA, ADDR_A), (NS_B, VB, ADDR_B)):
            run("ip", "netns", "add", ns)
            run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            run("ip", "link", "set", veth, "master", BRIDGE, "up")
            run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", ns, "link", "set", "eth0", "up")

    def spawn(self, ns, *args, stdout=subprocess.PIPE):
        p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__), *args],
                             stdout=stdout, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.procs.append(p)
        return p

    def helper(self, ns, *args, timeout=30):
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__), *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"helper {args}: exit {r.returncode}: {r.stderr.strip()}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    # What cmd_delay does for HOST MS > 0 (HOST's veth VA, relay pair DA/DB).
    def relay_on(self, ms):
        if not link_exists(DA):
            run("ip", "link", "add", DA, "type", "veth", "peer", "name", DB)
        run("ip", "link", "set", VA, "nomaster")
        run("ip", "link", "set", DA, "master", BRIDGE, "up")
        run("ip", "link", "set", DB, "up")
        run("ip", "link", "set", VA, "up")
        logf = os.path.join(self.tmp, "delay.log")
        with open(logf, "a") as lf:
            p = subprocess.Popen([sys.executable, DELAY_PY, VA, DB, str(ms)], stdin=subprocess.DEVNULL,
                                 stdout=lf, stderr=lf, start_new_session=True)
        self.procs.append(p)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise AssertionError(f"delay.py exited {p.returncode} at start: {self.relay_log()}")
            if f"delay.py[{p.pid}]: relaying" in self.relay_log():
                return p
            time.sleep(0.05)
        raise AssertionError(f"delay.py did not start: {self.relay_log()}")

    def relay_stop(self, p):
        os.kill(p.pid, signal.SIGTERM)
        rc = p.wait(timeout=5)
        assert rc == 0, f"delay.py exited {rc} on SIGTERM: {self.relay_log()}"
        assert f"delay.py[{p.pid}]: exiting" in self.relay_log(), "delay.py logged no exit line"

    # What cmd_delay does for MS 0.
    def relay_off(self, p):
        self.relay_stop(p)
        run("ip", "link", "del", DA)
        run("ip", "link", "set", VA, "master", BRIDGE, "up")

    def relay_log(self):
        try:
            with open(os.path.join(self.tmp, "delay.log")) as f:
                return f.read()
        except FileNotFoundError:
            return ""


def wait_ready(p, what):
    line = p.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError(f"{what} did not start: {line!r} {p.stderr.read() if p.poll() is not None else ''}")


def rtt(topo, label, lo, hi, warm_timeout=2.0):
    r = topo.helper(NS_A, "--udp-ping", ADDR_B, str(UDP_PORT), "7", str(warm_timeout))
    assert "rtts" in r and len(r["rtts"]) >= 5, f"{label}: UDP round trips lost: {r}"
    med = statistics.median(r["rtts"])
    log(f"{label}: RTT median {med:.1f} ms (min {min(r['rtts']):.1f}, max {max(r['rtts']):.1f})")
    assert lo <= med <= hi, f"{label}: RTT median {med:.1f} ms not in [{lo}, {hi}]"
    check_time()
    return med


def tcp_transfer(topo, src_ns, dst_ns, dst_addr, label):
    sink = topo.spawn(dst_ns, "--tcp-sink", str(TCP_PORT))
    wait_ready(sink, "tcp sink")
    t = time.monotonic()
    sent = topo.helper(src_ns, "--tcp-send", dst_addr, str(TCP_PORT), str(TCP_BYTES), timeout=40)
    out, err = sink.communicate(timeout=10)
    got = json.loads(out.strip().splitlines()[-1])
    took = time.monotonic() - t
    log(f"{label}: {got['bytes']} bytes in {took:.1f}s, sha256 {got['sha256'][:16]}..")
    assert sent["ack"] == "done", f"{label}: no end-of-transfer answer"
    assert got["bytes"] == TCP_BYTES and got["sha256"] == sent["sha256"], f"{label}: data differs: sent {sent} got {got}"
    check_time()


def skip_reason():
    if os.geteuid() != 0:
        return "not root"
    for tool in ("ip",):
        if not shutil.which(tool):
            return f"no {tool}"
    if not os.path.isfile(DELAY_PY):
        return f"no {DELAY_PY}"
    r = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return f"ip netns unusable: {r.stderr.strip()}"
    return None


def main():
    reason = skip_reason()
    if reason:
        print(f"SKIP: {reason}")
        return 77
    tmp = tempfile.mkdtemp(prefix="dlytest-")
    topo = Topology(tmp)
    topo.cleanup()  # leftovers of an interrupted run (only our own names)
    try:
        try:
            topo.build()
        except RuntimeError as e:
            if "netns" in str(e) or "Operation not permitted" in str(e):
                print(f"SKIP: cannot create namespaces/links here: {e}")
                return 77
            raise
        echo = topo.spawn(NS_B, "--udp-echo", str(UDP_PORT))
        wait_ready(echo, "udp echo")

        rtt(topo, "no relay", 0, 20)

        relay = topo.relay_on(200)
        rtt(topo, "relay 200 ms", 180, 400, warm_timeout=3.0)
        tcp_transfer(topo, NS_A, NS_B, ADDR_B, "tcp a->b through 200 ms relay")
        tcp_transfer(topo, NS_B, NS_A, ADDR_A, "tcp b->a through 200 ms relay")

        # delay HOST 50 on a delayed host: the relay restarts with the new value.
        topo.relay_stop(relay)
        relay = topo.relay_on(50)
        rtt(topo, "relay 50 ms", 40, 150, warm_timeout=3.0)

        topo.relay_off(relay)
        rtt(topo, "relay removed", 0, 20)

        rl = topo.relay_log()
        log("relay log:\n  " + "\n  ".join(rl.strip().splitlines()))
        assert "Traceback" not in rl, "delay.py raised"
        log(f"PASS in {time.monotonic() - T0:.1f}s")
        return 0
    except (AssertionError, RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
        log(f"FAIL: {type(e).__name__}: {e}")
        rl = topo.relay_log()
        if rl:
            log("relay log:\n  " + "\n  ".join(rl.strip().splitlines()))
        return 1
    finally:
        topo.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("--"):
        mode, rest = sys.argv[1], sys.argv[2:]
        if mode == "--udp-echo":
            helper_udp_echo(int(rest[0]))
        elif mode == "--udp-ping":
            helper_udp_ping(rest[0], int(rest[1]), int(rest[2]), float(rest[3]))
        elif mode == "--tcp-sink":
            helper_tcp_sink(int(rest[0]))
        elif mode == "--tcp-send":
            helper_tcp_send(rest[0], int(rest[1]), int(rest[2]))
        else:
            sys.exit(f"unknown helper {mode}")
        sys.exit(0)
    sys.exit(main())
