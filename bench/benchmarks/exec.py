"""Webhook → agent exec, end to end: a signed GitHub `issues` webhook that adds the trigger label to a new issue; from
the client sending the POST to the first agent of the task it creates stamping the time (`date +%s%3N` in a shell,
the agent's first act). On the way: ingress verifies and stores the delivery, the gatekeeper creates the task and
its job, the worker claims it, prepares the task's worktree from the project's git origin (a local bare
repository; the GitHub API URL points at a closed port, so the outbound label and comment calls fail and are
retried in the background, off this path) and starts the shim, which execs the agent. One webhook at a time.

For context, not like for like: Debian's webhook running the same stamping command on the same signed POST (no
store, no task, no worktree), so the ratio is the price of what Bosun does between the two."""
import json
import os
import sqlite3
import time

import peers
from bosun_bench import median, percentile, start, stop_and_clean
from benchmarks.intake import post, signature
from benchmarks.worker import write_config
from bosun_bench import make_origin

NAME = "exec"
DESCRIPTION = "signed webhook → the task's first agent exec, end to end (Debian's webhook running the stamp: context)"
ORDER = 30
NEEDS_PEERS = True

HERE = os.path.dirname(os.path.abspath(__file__))
LABELED = os.path.join(HERE, "../../Tests/BosunTests/Fixtures/webhooks/github/issues.labeled.json")
SECRET = b"bench-secret"


def sizes(ctx):
    return {"webhooks": 5 if ctx.quick else 50}


def describe(ctx):
    return f"{sizes(ctx)['webhooks']} webhooks per server per run, one at a time"


def labeled_body(number):
    """The fixture `issues.labeled` (label `bug`, sender Codertocat) for issue NUMBER."""
    with open(LABELED) as f:
        body = json.load(f)
    body["issue"]["number"] = number
    body["issue"]["title"] = f"Bench issue {number}"
    return json.dumps(body).encode()


def read_stamps(path):
    try:
        with open(path) as f:
            return [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.002)
    raise TimeoutError(f"timed out waiting for {what}")


def bosun(ctx, count, index):
    scratch = ctx.scratch()
    with open(os.path.join(scratch, "secret"), "wb") as f:
        f.write(SECRET)
    stamps = os.path.join(scratch, "stamps")
    project = (f"  - name: demo\n    tracker: github\n"
               f"    repo: {{ url: {make_origin(scratch)}, default_branch: main, api_url: 'http://127.0.0.1:9' }}\n"
               "    webhook: { secret_file: ./secret }\n    trigger: { kind: label, label: bug }\n"
               "    authors: [Codertocat]\n")
    agent = ["/bin/sh", "-c", f'echo "$BOSUN_TASK_ID $(date +%s%3N)" >> {stamps}']
    config = write_config(ctx, scratch, agent, 4, project=project, durability="full")
    process, address = start(ctx.bin, config, scratch, "exec")
    db = sqlite3.connect(os.path.join(scratch, "state/bosun.db"), timeout=30)
    samples = []
    try:
        for i in range(count):
            number = 1000 * (index + 1) + i
            body = labeled_body(number)
            sent_ms = time.time() * 1000
            status = post(address, "/webhooks/github/demo", body, signature(body, SECRET), f"exec-{number}")
            if status != 202:
                break

            def task_id():
                row = db.execute("SELECT id FROM tasks WHERE project = 'demo' AND issue = ?", (str(number),)).fetchone()
                return row and str(row[0])
            task = wait(task_id, 30, f"the task of issue {number}")
            stamp = wait(lambda: next((int(s[1]) for s in read_stamps(stamps) if s[0] == task), None), 60,
                         f"the agent of task {task}")
            samples.append(stamp - sent_ms)
    finally:
        db.close()
        stop_and_clean(ctx.bin, config, process, scratch)
    ctx.check(f"bosun run {index + 1}: every webhook answered 202 and its task's agent ran", len(samples) == count,
              f"{len(samples)} of {count}" + ("" if len(samples) == count else f"; the last answered {status}"))
    return samples


def webhook(ctx, count, index):
    scratch = ctx.scratch()
    stamps = os.path.join(scratch, "stamps")
    hooks = peers.write_webhook_hooks(scratch, SECRET, f"date +%s%3N >> {stamps}")
    port = peers.free_port()
    server = peers.start_webhook(ctx.peers, scratch, hooks, port)
    samples = []
    try:
        for i in range(count):
            body = labeled_body(i)
            sent_ms = time.time() * 1000
            status = post(f"127.0.0.1:{port}", "/hooks/github", body, signature(body, SECRET), f"exec-{i}")
            if status != 202:
                break
            stamp = wait(lambda: len(read_stamps(stamps)) > i and int(read_stamps(stamps)[i][0]), 30, "the command")
            samples.append(stamp - sent_ms)
    finally:
        peers.stop_process(server)
    ctx.check(f"webhook run {index + 1}: every webhook answered 202 and its command ran", len(samples) == count,
              f"{len(samples)} of {count}" + ("" if len(samples) == count else f"; the last answered {status}"))
    return samples


def once(ctx, index):
    count = sizes(ctx)["webhooks"]
    mine = bosun(ctx, count, index)
    theirs = webhook(ctx, count, index)
    return {"bosun.p50": median(mine), "bosun.p99": percentile(mine, 99), "webhook.p50": median(theirs),
            "webhook.p99": percentile(theirs, 99)}


def metrics(ctx):
    return [("bosun.p50", "Bosun: POST → agent exec, p50 of the run", "ms", "lower"),
            ("bosun.p99", "Bosun: POST → agent exec, p99 of the run", "ms", "lower"),
            ("webhook.p50", "webhook (context): POST → command exec, p50 of the run", "ms", "lower"),
            ("webhook.p99", "webhook (context): POST → command exec, p99 of the run", "ms", "lower")]


def ratios(ctx):
    return [("POST → exec p50, Bosun ÷ webhook (context: Bosun stores, makes a task and a worktree)", "bosun.p50",
             "webhook.p50", "lower")]
