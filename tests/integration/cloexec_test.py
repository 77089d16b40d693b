#!/usr/bin/env python3
"""Every descriptor a running vmrepd holds is close-on-exec.

Boost.Asio opens and accepts sockets without SOCK_CLOEXEC; a descriptor
without the flag is inherited by every process the daemon starts (hooks,
qemu-img) and by their background children, which then keep the daemon's
ports after it exits ("Address already in use" at restart).

Two real vmrepd over TLS on 127.0.0.1 (service "board" on test:///default),
with peer links up both ways and one control connection held open, so the
daemon holds every kind of socket it makes: listeners, accepted and dialled
peer sockets, the control listener and an accepted control session. Each
descriptor's flags are read from /proc/PID/fdinfo. Processes are started and
stopped here by PID; the temp dir is removed.
"""
import argparse
import os
import socket
import time

from vmrep_lab import Cluster, fail_with_logs, wait_for

SERVICES = """  board:
    libvirt_uri: "test:///default"
    domain: test
    mode: availability
"""
O_CLOEXEC = 0o2000000



def descriptors(pid):
    """{fd: (flags, target)} for every descriptor above 2 of `pid`."""
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        fd = int(name)
        if fd <= 2:
            continue
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
            with open(f"/proc/{pid}/fdinfo/{name}") as f:
                flags = next(int(line.split()[1], 8) for line in f if line.startswith("flags:"))
        except (FileNotFoundError, StopIteration):
            continue  # closed while we looked
        out[fd] = (flags, target)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmrepd", required=True)
    ap.add_argument("--vmrepctl", required=True)
    a = ap.parse_args()
    c = Cluster(a.vmrepd, a.vmrepctl, n=2, services=SERVICES)
    held = None
    try:
        for n in c.names:
            c.start(n)
        wait_for("one primary agreed", lambda: c.agreed(), 30)
        held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        held.connect(os.path.join(c.dir, "h1", "vmrepd.sock"))
        pid = c.procs["h1"].pid
        fds = wait_for("h1's held control session", lambda: (
            lambda d: d if sum(1 for _, t in d.values() if t.startswith("socket:")) >= 5 else None)(descriptors(pid)), 10)
        sockets = sum(1 for _, t in fds.values() if t.startswith("socket:"))
        leaking = {fd: t for fd, (flags, t) in fds.items() if not flags & O_CLOEXEC}
        assert not leaking, f"descriptors without close-on-exec in vmrepd h1: {leaking}"
        print(f"ok: all {len(fds)} descriptors of h1 above 2 are close-on-exec ({sockets} sockets)")
    except AssertionError as e:
        fail_with_logs(c, e)
    finally:
        if held:
            held.close()
        c.close()


if __name__ == "__main__":
    main()
