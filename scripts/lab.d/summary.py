#!/usr/bin/env python3
"""Reads `vmrepctl --json status` on stdin and prints one line for scripts/lab
status: the cluster election and each service as ROLE (primary P, eEPOCH,
suspects S)."""
import json
import sys


def one(name, e):
    sus = ",".join(e.get("suspects") or []) or "-"
    return f"{name}: {e.get('role')} (primary {e.get('primary')}, e{e.get('epoch')}, suspects {sus})"


s = json.load(sys.stdin)
print("; ".join([one("cluster", s["cluster_election"])] + [one(x["name"], x) for x in s.get("services", [])]))
