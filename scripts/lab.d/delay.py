#!/usr/bin/env python3
"""delay.py HOST_IF BRIDGE_IF MS: relay Ethernet frames between two links,
holding those that arrive on HOST_IF for MS milliseconds.

scripts/lab delay uses it where the kernel has no netem: it takes a host's
root-side veth end (vlab-hI) off the bridge, puts a second veth pair on the
bridge (vd-hI-a on the bridge, vd-hI-b free) and runs
    delay.py vlab-hI vd-hI-b MS
Every frame the host sends (arriving on HOST_IF) goes out on BRIDGE_IF after
MS ms, in order; every frame toward the host (arriving on BRIDGE_IF) goes out
on HOST_IF at once. AF_PACKET raw sockets (ETH_P_ALL) with PACKET_VNET_HDR, so
that GSO frames and frames whose checksum the sender left to the hardware
(veths do both) pass unchanged. Frames the sockets see going out (our own
sends, PACKET_OUTGOING) are ignored. The queue is bounded (--max-frames,
--max-bytes); beyond that frames are dropped and counted. Userspace: some
CPU per packet, fine for the lab.

Exits 0 on SIGTERM/SIGINT (queued frames are dropped) and when a link
disappears; logs to stderr, one line on start and one with the counts on exit.
"""
import argparse
import collections
import errno
import os
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_OUTGOING = 4
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33
VNET_HDR_LEN = 10  # struct virtio_net_hdr, prefixed to every frame both ways
RECV_BUF = 65536 + VNET_HDR_LEN
SOCK_BUF = 4 << 20
BATCH = 256  # frames read from one socket per wakeup


class Stop(Exception):
    pass


def log(msg):
    print(f"delay.py[{os.getpid()}]: {msg}", file=sys.stderr, flush=True)


def open_link(name):
    # Protocol 0 at creation: the socket sees nothing until bound to the link.
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    for force, plain in ((SO_RCVBUFFORCE, socket.SO_RCVBUF), (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
        try:
            s.setsockopt(socket.SOL_SOCKET, force, SOCK_BUF)
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, plain, SOCK_BUF)
    s.bind((name, ETH_P_ALL))
    s.setblocking(False)
    return s


def if_index(name):
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


class Relay:
    def __init__(self, host_if, bridge_if, delay_s, max_frames, max_bytes):
        self.host_if, self.bridge_if = host_if, bridge_if
        self.delay = delay_s
        self.max_frames, self.max_bytes = max_frames, max_bytes
        self.idx = {n: if_index(n) for n in (host_if, bridge_if)}
        for n, i in self.idx.items():
            if i is None:
                raise SystemExit(f"delay.py: no link {n}")
        self.hs = open_link(host_if)
        self.bs = open_link(bridge_if)
        self.queue = collections.deque()  # (due, frame); due never decreases: one delay
        self.qbytes = 0
        self.n = collections.Counter()
        self.last_drop_log = 0.0

    def counts(self):
        keys = ("delayed", "passed", "dropped_full", "dropped_send", "truncated", "recv_errors")
        return " ".join(f"{k}={self.n[k]}" for k in keys) + f" queued={len(self.queue)}"

    def note_drop(self, what):
        self.n[what] += 1
        now = time.monotonic()
        if now - self.last_drop_log >= 5:
            self.last_drop_log = now
            log(f"dropping frames ({what}): {self.counts()}")

    def send(self, s, frame):
        for attempt in (0, 1):
            try:
                s.send(frame)
                return True
            except BlockingIOError:
                if attempt == 0:
                    select.select([], [s], [], 0.05)
            except OSError as e:
                # ENETDOWN/ENXIO while a link is down, EMSGSIZE, ENOBUFS: drop it.
                if e.errno not in (errno.ENETDOWN, errno.ENXIO, errno.EMSGSIZE, errno.ENOBUFS, errno.EINVAL):
                    raise
                break
        self.note_drop("dropped_send")
        return False

    def read(self, s):
        """Up to BATCH frames received on s: [frame bytes]."""
        out = []
        for _ in range(BATCH):
            try:
                data, _, flags, addr = s.recvmsg(RECV_BUF)
            except BlockingIOError:
                break
            except OSError as e:
                # ENETDOWN: the link went down (the socket comes back with it);
                # EINVAL: a frame the vnet header cannot describe.
                if e.errno not in (errno.ENETDOWN, errno.ENXIO, errno.EINVAL, errno.ENOBUFS):
                    raise
                self.n["recv_errors"] += 1
                break
            if addr[2] == PACKET_OUTGOING:
                continue
            if flags & socket.MSG_TRUNC:
                self.note_drop("truncated")
                continue
            out.append(data)
        return out

    def links_there(self):
        return all(if_index(n) == i for n, i in self.idx.items())

    def run(self):
        log(f"relaying {self.host_if} -> {self.bridge_if} delayed {self.delay * 1000:g} ms, "
            f"{self.bridge_if} -> {self.host_if} at once")
        next_check = time.monotonic() + 1
        while True:
            now = time.monotonic()
            while self.queue and self.queue[0][0] <= now:
                _, frame = self.queue.popleft()
                self.qbytes -= len(frame)
                if self.send(self.bs, frame):
                    self.n["delayed"] += 1
            if now >= next_check:
                next_check = now + 1
                if not self.links_there():
                    log(f"{self.host_if} or {self.bridge_if} is gone; leaving")
                    return
            timeout = next_check - now
            if self.queue:
                timeout = min(timeout, max(0.0, self.queue[0][0] - now))
            ready, _, _ = select.select([self.hs, self.bs], [], [], timeout)
            if self.hs in ready:
                due = time.monotonic() + self.delay
                for frame in self.read(self.hs):
                    if len(self.queue) >= self.max_frames or self.qbytes + len(frame) > self.max_bytes:
                        self.note_drop("dropped_full")
                        continue
                    self.queue.append((due, frame))
                    self.qbytes += len(frame)
            if self.bs in ready:
                for frame in self.read(self.bs):
                    if self.send(self.hs, frame):
                        self.n["passed"] += 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("host_if", help="the link whose incoming frames are delayed (the host's veth end)")
    p.add_argument("bridge_if", help="the link toward the bridge")
    p.add_argument("ms", type=float, help="delay in milliseconds (> 0)")
    p.add_argument("--max-frames", type=int, default=20000, help="queue bound in frames (default 20000)")
    p.add_argument("--max-bytes", type=int, default=64 << 20, help="queue bound in bytes (default 64 MiB)")
    a = p.parse_args()
    if not 0 < a.ms <= 600000:
        p.error("MS must be in (0, 600000]")
    if a.host_if == a.bridge_if:
        p.error("HOST_IF and BRIDGE_IF must differ")

    def on_signal(*_):
        raise Stop()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    relay = None
    try:
        relay = Relay(a.host_if, a.bridge_if, a.ms / 1000.0, a.max_frames, a.max_bytes)
        relay.run()
    except Stop:
        pass
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if relay is not None:
            log(f"exiting: {relay.counts()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
