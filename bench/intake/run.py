#!/usr/bin/env python3
"""Intake throughput: wrk posts signed GitHub `issues` webhooks (a unique delivery id per request) at 16 and 64
connections for 10 s each, with durability full and normal. Prints requests/s and p50/p99 latency, then checks the
inbox against the 202s that wrk counted: every 202 must be stored; the only extra rows allowed are requests wrk
abandoned in flight when its time ran out (at most one per connection).

Usage: bench/intake/run.py --bin .build/release [--duration 10] [--payload FILE]
"""
import argparse
import hashlib
import hmac
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PAYLOAD = os.path.join(HERE, "../../Tests/BosunTests/Fixtures/webhooks/github/issues.opened.json")
SECRET = b"bench-secret"


sys.path.insert(0, os.path.join(HERE, ".."))
from bosun_bench import start  # noqa: E402


def write_config(scratch, durability):
    with open(os.path.join(scratch, "secret"), "wb") as f:
        f.write(SECRET)
    config = os.path.join(scratch, "bosun.yaml")
    with open(config, "w") as f:
        f.write(f"state_dir: ./state\nlisten: 127.0.0.1:0\ndurability: {durability}\n"
                "projects:\n  - name: demo\n    tracker: github\n    repo: {{ url: https://github.com/acme/demo.git }}\n"
                "    webhook: {{ secret_file: ./secret }}\n".replace("{{", "{").replace("}}", "}"))
    return config


def inbox_rows(scratch):
    db = sqlite3.connect(os.path.join(scratch, "state/bosun.db"))
    try:
        return db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
    finally:
        db.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--payload", default=DEFAULT_PAYLOAD)
    parser.add_argument("--connections", default="16,64")
    args = parser.parse_args()
    payload = open(args.payload, "rb").read()
    signature = "sha256=" + hmac.new(SECRET, payload, hashlib.sha256).hexdigest()
    print(f"payload {os.path.basename(args.payload)} ({len(payload)} bytes), wrk -t2, {args.duration} s per run")
    print(f"{'durability':<10} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'202s':>8} {'rows':>8}  check")
    failed = False
    for durability in ("full", "normal"):
        scratch = tempfile.mkdtemp(prefix="bosun-intake-")
        process, listen = start(args.bin, write_config(scratch, durability), scratch, "bosun")
        try:
            for connections in [int(c) for c in args.connections.split(",")]:
                before = inbox_rows(scratch)
                env = dict(os.environ, BODY_FILE=args.payload, SIGNATURE=signature)
                output = subprocess.run(
                    ["wrk", "-t2", f"-c{connections}", f"-d{args.duration}s", "-s", os.path.join(HERE, "post.lua"),
                     f"http://{listen}/webhooks/github/demo"],
                    env=env, capture_output=True, text=True, check=True).stdout
                result = dict(re.findall(r"(\w+)=([\d.]+)", output.split("RESULT", 1)[1]))
                time.sleep(0.5)
                rows = inbox_rows(scratch) - before
                accepted = int(result["accepted"])
                abandoned = rows - accepted
                ok = 0 <= abandoned <= connections and int(result["other"]) == 0
                failed |= not ok
                rate = accepted / float(result["duration_s"])
                check = f"ok ({abandoned} in flight at the cutoff)" if ok else "FAILED"
                print(f"{durability:<10} {connections:>5} {rate:>9.0f} {float(result['p50_ms']):>8.2f} "
                      f"{float(result['p99_ms']):>8.2f} {accepted:>8} {rows:>8}  {check}")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
