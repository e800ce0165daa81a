#!/usr/bin/env python3
"""Gatekeeper throughput and wake-up latency.

1. events/s: a pre-filled inbox of N deliveries of mixed kinds (trigger labels that create tasks, comments on those
   tasks, issues opened without the trigger, pushes, pings, check runs) is applied by a freshly started gatekeeper.
   The rate is N / (last processed_at - first processed_at), from the inbox's own timestamps.
2. 2xx → claimable job: with the worker paused, signed trigger webhooks are posted one at a time; for each, the time
   from the client receiving its 202 to the job row's created_at (same clock, same machine), p50 and p99.

Usage: bench/gatekeeper/run.py --bin .build/release [--deliveries 100000] [--latency-events 1000]
"""
import argparse
import hashlib
import hmac
import http.client
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

sys.path.insert(0, os.path.join(HERE, ".."))
from bosun_bench import insert_deliveries, start, stop  # noqa: E402

FIXTURES = os.path.join(HERE, "../../Tests/BosunTests/Fixtures/webhooks/github")
SECRET = b"bench-secret"


def load(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def write_config(scratch):
    with open(os.path.join(scratch, "secret"), "wb") as f:
        f.write(SECRET)
    config = os.path.join(scratch, "bosun.yaml")
    with open(config, "w") as f:
        f.write("""state_dir: ./state
listen: 127.0.0.1:0
durability: normal
agents:
  fake: { argv: [/bin/true], probe: [/bin/true] }
projects:
  - name: demo
    tracker: github
    repo: { url: https://github.com/acme/demo.git }
    webhook: { secret_file: ./secret }
    trigger: { kind: label, label: bug }
    authors: [Codertocat]
""")
    return config


def fill_inbox(db_path, count):
    labeled, comment, opened = load("issues.labeled.json"), load("issue_comment.created.json"), load("issues.opened.json")
    push, ping, check = load("push.json"), load("ping.json"), load("check_run.completed.json")
    db = sqlite3.connect(db_path)
    rows = []
    issues = 0
    for i in range(count):
        kind = i % 10
        if kind < 3:  # a trigger: a new task with its first job, label effects
            issues += 1
            body, event = dict(labeled), "issues"
            body["issue"] = dict(labeled["issue"], number=issues, title=f"Bench issue {issues}")
        elif kind < 6 and issues:  # a comment on an existing task (an answer nobody waits for yet)
            body, event = dict(comment), "issue_comment"
            body["issue"] = dict(comment["issue"], number=random.randint(1, issues))
            body["comment"] = dict(comment["comment"], body=f"comment {i}")
        elif kind < 8:  # an issue opened without the trigger label: ignored
            body, event = dict(opened), "issues"
            body["issue"] = dict(opened["issue"], number=1_000_000 + i, labels=[])
        elif kind == 8:
            body, event = push, "push"
        else:
            body, event = (ping, "ping") if i % 20 == 9 else (check, "check_run")
        raw = json.dumps(body).encode()
        rows.append(("github", "demo", event, f"bench-{i}", hashlib.sha256(raw).hexdigest(),
                     json.dumps({"x-github-event": event}), raw, int(time.time() * 1000)))
    insert_deliveries(db, rows)
    db.commit()
    db.close()
    return issues


def wait_applied(db_path, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        db = sqlite3.connect(db_path)
        left = db.execute("SELECT COUNT(*) FROM deliveries WHERE processed_at_ms IS NULL").fetchone()[0]
        db.close()
        if left == 0:
            return
        time.sleep(0.2)
    sys.exit("the inbox was not applied in time")


def post(listen, delivery, body):
    host, port = listen.rsplit(":", 1)
    signature = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("POST", "/webhooks/github/demo", body=body, headers={
        "Content-Type": "application/json", "X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": "sha256=" + signature})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--latency-events", type=int, default=1000)
    args = parser.parse_args()
    binary_dir = os.path.abspath(args.bin)
    scratch = tempfile.mkdtemp(prefix="bosun-bench-gk-")
    config = write_config(scratch)
    db_path = os.path.join(scratch, "state/bosun.db")

    # Migrate the store and pause the worker (the flag persists), so that no job is claimed.
    process, _ = start(binary_dir, config, scratch, "setup")
    subprocess.run([os.path.join(binary_dir, "bosun"), "pause", "-c", config], check=True, capture_output=True)
    stop(binary_dir, config, process)

    tasks = fill_inbox(db_path, args.deliveries)
    process, listen = start(binary_dir, config, scratch, "apply")
    wait_applied(db_path, 1200)
    db = sqlite3.connect(db_path)
    first, last = db.execute("SELECT MIN(processed_at_ms), MAX(processed_at_ms) FROM deliveries").fetchone()
    made = db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
    jobs = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    db.close()
    elapsed = max(1, last - first) / 1000
    print(f"inbox: {args.deliveries} deliveries applied in {elapsed:.2f} s = {args.deliveries / elapsed:,.0f} events/s "
          f"({made} tasks and {jobs} jobs created; {tasks} trigger deliveries)")

    latencies = []
    label = load("issues.labeled.json")
    for i in range(args.latency_events):
        body = dict(label)
        number = 5_000_000 + i
        body["issue"] = dict(label["issue"], number=number, title=f"Latency {i}")
        raw = json.dumps(body).encode()
        status = post(listen, f"latency-{i}", raw)
        acknowledged = time.time() * 1000
        if status != 202:
            sys.exit(f"webhook {i} answered {status}")
        db = sqlite3.connect(db_path)
        created = None
        for _ in range(2000):
            row = db.execute("""SELECT j.created_at_ms FROM jobs j JOIN tasks t ON t.id = j.task_id
                                WHERE t.project = 'demo' AND t.issue = ? AND t.active = 1
                                  AND j.state = 'queued'""", (str(number),)).fetchone()
            if row:
                created = row[0]
                break
            time.sleep(0.001)
        db.close()
        if created is None:
            sys.exit(f"no job for webhook {i}")
        latencies.append(max(0.0, created - acknowledged))
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"2xx -> claimable job over {len(latencies)} webhooks: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"max {latencies[-1]:.1f} ms")
    print("(negative gaps, a job committed before the client read its 202, count as 0)")
    stop(binary_dir, config, process)


if __name__ == "__main__":
    main()
