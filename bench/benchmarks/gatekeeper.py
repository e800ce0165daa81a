"""Gatekeeper throughput and wake-up latency.

1. events/s: a pre-filled inbox of N deliveries of mixed kinds (trigger labels that create tasks, comments on those
   tasks, issues opened without the trigger, pushes, pings, check runs) is applied by a freshly started gatekeeper.
   The rate comes from polling the inbox cursor (the last delivery applied, docs/STORE.md) every 20 ms: deliveries
   applied between the first poll that saw it move and the one that saw it reach N, over the time between them.
2. 2xx → claimable job: with the worker paused, signed trigger webhooks are posted one at a time; for each, the time
   from the client receiving its 202 to the job row's created_at (same clock, same machine), p50 and p99.
"""
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import time

from bosun_bench import inbox_cursor, inbox_path, insert_deliveries, median, percentile, start, stop
from benchmarks.intake import SECRET, post, signature

NAME = "gatekeeper"
DESCRIPTION = "inbox applied (events/s), and 202 → claimable job latency"
ORDER = 60

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "../../Tests/BosunTests/Fixtures/webhooks/github")


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


def fill_inbox(inbox, count):
    labeled, comment = load("issues.labeled.json"), load("issue_comment.created.json")
    opened = load("issues.opened.json")
    push, ping, check = load("push.json"), load("ping.json"), load("check_run.completed.json")
    db = sqlite3.connect(inbox)
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


def watch_cursor(db_path, count, timeout):
    """Polls the inbox cursor (docs/STORE.md) every 20 ms until it reaches COUNT; returns the rate from the first
    sample that saw it move to the one that saw it reach COUNT: (COUNT - cursor then) / time between them."""
    db = sqlite3.connect(db_path, timeout=30)
    deadline = time.monotonic() + timeout
    first = None
    try:
        while time.monotonic() < deadline:
            cursor, now = inbox_cursor(db), time.monotonic()
            if first is None and cursor > 0:
                first = (now, cursor)
            if cursor >= count:
                if first is None or now - first[0] < 0.1:
                    raise RuntimeError(f"the inbox was applied within one poll ({count} deliveries): too few to time")
                return (count - first[1]) / (now - first[0])
            time.sleep(0.02)
    finally:
        db.close()
    raise TimeoutError("the inbox was not applied in time")


def sizes(ctx):
    return {"deliveries": 2000, "latency": 20} if ctx.quick else {"deliveries": 100_000, "latency": 1000}


def describe(ctx):
    s = sizes(ctx)
    return f"{s['deliveries']:,} mixed deliveries pre-filled; {s['latency']} trigger webhooks one at a time"


def once(ctx, index):
    s = sizes(ctx)
    scratch = ctx.scratch()
    config = write_config(scratch)
    db_path = os.path.join(scratch, "state/bosun.db")

    # Migrate the store and pause the worker (the flag persists), so that no job is claimed.
    process, _ = start(ctx.bin, config, scratch, "setup")
    subprocess.run([os.path.join(ctx.bin, "bosun"), "pause", "-c", config], check=True, capture_output=True)
    stop(ctx.bin, config, process)

    tasks = fill_inbox(inbox_path(scratch), s["deliveries"])
    process, listen = start(ctx.bin, config, scratch, "apply")
    try:
        events_per_s = watch_cursor(db_path, s["deliveries"], 1200)
        db = sqlite3.connect(db_path)
        made = db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
        db.close()
        ctx.check(f"gatekeeper run {index + 1}: one task per trigger delivery", made == tasks,
                  f"{made} tasks for {tasks} triggers")

        latencies = []
        label = load("issues.labeled.json")
        for i in range(s["latency"]):
            body = dict(label)
            number = 5_000_000 + i
            body["issue"] = dict(label["issue"], number=number, title=f"Latency {i}")
            raw = json.dumps(body).encode()
            status = post(listen, "/webhooks/github/demo", raw, signature(raw), f"latency-{i}")
            acknowledged = time.time() * 1000
            created = job_created_at(db_path, number) if status == 202 else None
            if created is None:
                break
            # A job committed before the client read its 202 counts as 0.
            latencies.append(max(0.0, created - acknowledged))
        ctx.check(f"gatekeeper run {index + 1}: every trigger webhook answered 202 and made a claimable job",
                  len(latencies) == s["latency"], f"{len(latencies)} of {s['latency']}"
                  + ("" if len(latencies) == s["latency"] else f"; the last answered {status} (a job within 2 s?)"))
    finally:
        stop(ctx.bin, config, process)
    return {"events_per_s": events_per_s, "job.p50": median(latencies), "job.p99": percentile(latencies, 99)}


def job_created_at(db_path, number):
    db = sqlite3.connect(db_path)
    try:
        for _ in range(2000):
            row = db.execute("""SELECT j.created_at_ms FROM jobs j JOIN tasks t ON t.id = j.task_id
                                WHERE t.project = 'demo' AND t.issue = ? AND t.active = 1
                                  AND j.state = 'queued'""", (str(number),)).fetchone()
            if row:
                return row[0]
            time.sleep(0.001)
        return None
    finally:
        db.close()


def metrics(ctx):
    return [("events_per_s", "pre-filled inbox applied", "events/s", "higher"),
            ("job.p50", "202 → claimable job, p50 of the run", "ms", "lower"),
            ("job.p99", "202 → claimable job, p99 of the run", "ms", "lower")]
