#!/usr/bin/env python3
"""Sends one line to the bulletin board (guest/board.sh) on a serial unix
socket and prints the answer, up to (not including) the END line.

    board.py SOCKET LINE [--timeout S]

QEMU takes one client at a time and the guest may still be booting or have
old answers queued, so it first resynchronizes the way tests/vm's BoardClient
does: "ECHO sync-N" until exactly that token and END come back.
Exit status: 0 answered, 1 no answer in time, 2 bad usage.
"""
import argparse
import os
import random
import socket
import sys
import time


class Board:
    def __init__(self, path, deadline):
        self.buf = b""
        self.deadline = deadline
        self.nonce = f"{os.getpid()}{random.randrange(1 << 30):x}"
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError as e:
                self.s.close()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"connect {path}: {e}")
                time.sleep(0.1)

    def read_line(self, until):
        while b"\n" not in self.buf:
            left = min(until, self.deadline) - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(4096)
            except socket.timeout:
                return None
            if not chunk:
                raise ConnectionError("the guest's serial socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").replace("\r", "")

    def send(self, line):
        self.s.sendall(line.encode() + b"\n")

    def sync(self):
        attempt = 0
        while time.monotonic() < self.deadline:
            # Unique per client: a restored guest may still answer an ECHO
            # that was queued when its checkpoint was taken.
            token = f"sync-{self.nonce}-{attempt}"
            attempt += 1
            self.send("ECHO " + token)
            until = time.monotonic() + 2
            while True:
                line = self.read_line(until)
                if line is None:
                    break
                if line == token and self.read_line(time.monotonic() + 5) == "END":
                    return
        raise TimeoutError("the board did not answer ECHO")

    def command(self, line):
        self.send(line)
        out = []
        while True:
            got = self.read_line(self.deadline)
            if got is None:
                raise TimeoutError(f"no END after {line!r}; got {out}")
            if got == "END":
                return out
            out.append(got)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("socket")
    p.add_argument("line")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds for connect + sync + answer (default 60)")
    a = p.parse_args()
    try:
        b = Board(a.socket, time.monotonic() + a.timeout)
        b.sync()
        for line in b.command(a.line):
            print(line)
    except (OSError, TimeoutError, ConnectionError) as e:
        print(f"board: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
