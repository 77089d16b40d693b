#!/usr/bin/env python3
"""reaper.py CMD...: runs CMD as a child subreaper (prctl PR_SET_CHILD_SUBREAPER)
and reaps every descendant that gets orphaned, then exits when none is left.

scripts/lab starts each host through it, outside the host's namespaces: the
host's daemons (libvirtd -d, virtlogd -d, sshd, QEMU) detach from their parents,
and without a subreaper they would be reparented to PID 1, which on these
machines does not reap, so `scripts/lab kill` and `down` would leave zombies.
"""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36

if len(sys.argv) < 2:
    sys.exit("usage: reaper.py CMD...")
for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
    signal.signal(sig, signal.SIG_IGN)
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    print(f"reaper: prctl: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
pid = os.fork()
if pid == 0:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
    except InterruptedError:
        continue
