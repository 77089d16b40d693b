#!/usr/bin/env python3
"""A node certificate renewed in place (`vmrepctl pki renew`) is served after
SIGHUP, without restarting the daemon or dropping the cluster.

Two real vmrepd over TLS on 127.0.0.1:
  1. h1's certificate is renewed to 3 days before start: its status and log
     warn (fewer than 30 days left);
  2. `vmrepctl pki renew h1 --days 400`, SIGHUP to h1: same PID, status shows
     the new notAfter, a fresh TLS connection to h1's peer port is served the
     new certificate, and both nodes still agree on one primary;
  3. h2 restarts and joins h1 again over the renewed certificate.
Every process is started and stopped here by PID; the temp dir is removed.
"""
import argparse
import datetime
import os
import signal
import socket
import ssl
import time

from vmrep_lab import Cluster, fail_with_logs, wait_for



def days_left(c, node):
    s = c.status(node)
    return None if s is None or not s.get("certificate") else s["certificate"]["days_left"]


def served_not_after(c, pki):
    """The notAfter of the certificate h1's peer port serves now (as h2 would see it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(os.path.join(pki, "ca.crt"))
    ctx.load_cert_chain(os.path.join(pki, "h2.crt"), os.path.join(pki, "h2.key"))
    with socket.create_connection(("127.0.0.1", c.ports["h1"]), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:
            return tls.getpeercert()["notAfter"]


def expected_days(days):
    return {days - 1, days}  # whole days left, rounded down, a few seconds after issuing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmrepd", required=True)
    ap.add_argument("--vmrepctl", required=True)
    a = ap.parse_args()
    c = Cluster(a.vmrepd, a.vmrepctl, n=2)
    pki = os.path.join(c.dir, "pki")
    try:
        c.ctl("pki", "renew", "h1", "--dir", pki, "--days", "3")
        for n in c.names:
            c.start(n)
        c.wait_agreed(30)
        assert days_left(c, "h1") in expected_days(3), f"h1 status days_left {days_left(c, 'h1')}, expected 2-3"
        wait_for("h1's expiry warning", lambda: "expires" in c.log("h1") and "pki renew" in c.log("h1"), 10)
        old_served = served_not_after(c, pki)
        pid = c.procs["h1"].pid

        out = c.ctl("pki", "renew", "h1", "--dir", pki, "--days", "400").stdout
        assert "renewed" in out and "SIGHUP" in out, out
        c.procs["h1"].send_signal(signal.SIGHUP)
        wait_for("h1 reloading its certificate", lambda: "TLS certificate" in c.log("h1") and "reloaded:" in c.log("h1"), 10)
        assert c.procs["h1"].pid == pid and c.procs["h1"].poll() is None, "h1 restarted or died"
        assert days_left(c, "h1") in expected_days(400), f"h1 status days_left {days_left(c, 'h1')} after renew"
        new_served = served_not_after(c, pki)
        assert new_served != old_served, f"h1 still serves the old certificate ({old_served})"
        year = datetime.datetime.utcnow().year
        assert str(year + 1) in new_served or str(year + 2) in new_served, new_served
        c.wait_agreed(10)

        c.kill9("h2")
        c.start("h2")
        c.wait_agreed(30)
        print(f"ok: h1 serves the renewed certificate ({old_served} -> {new_served}) without a restart; h2 rejoined")
    except AssertionError as e:
        fail_with_logs(c, e)
    finally:
        c.close()


if __name__ == "__main__":
    main()
