"""A rate-limited agent (SPEC §5.5) → after `threshold` transient outcomes in a row the breaker opens and claims stop
within 1 s — also for a worker that crashes (kill -9) in the pause and is restarted —, exactly one probe runs after
the pause, it succeeds and the breaker closes, and the remaining jobs run; signed webhooks sent all along get only
2xx (intake never depends on the breaker).

The agent (chaos/agents/rate-limited.sh) prints Claude Code's recorded rate-limit rejection while a flag file exists;
the scenario removes the file as soon as it sees the breaker open (the service has recovered), so the probe succeeds.
Times come from the store: each run's `started_at_ms`, and the breaker row, which the supervisor writes at each
transition (its `updated_at_ms` is the transition's moment); the breaker row is polled every 20 ms."""
import os
import signal
import threading
import time

import worker_support as support
from harness import GITHUB_PROJECT, SignedLoad, percentile

NAME = "rate-limit"
DESCRIPTION = "rate-limited agent: claims stop within 1 s of the breaker opening, one probe, ingress unaffected"
ORDER = 80

THRESHOLD = 3
PAUSE_S = 5
CRASH_AFTER_S = 1.5  # the worker is killed this long after the opening is seen
TASKS = 12
CONCURRENCY = 2


def breaker_row(bosun):
    rows = bosun.query("SELECT state, opened_at_ms, retry_at_ms, updated_at_ms FROM breaker WHERE id = 1")
    return rows[0] if rows else ("closed", None, None, None)


def claimable_jobs(bosun):
    return bosun.query("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND available_at_ms <= ?",
                       (int(time.time() * 1000),))[0][0]


def crash_worker(bosun, outcome):
    """kill -9 of the worker; records when the supervisor's replacement was ready (ms since 1970)."""
    old = bosun.child_pid("worker")
    os.kill(old, signal.SIGKILL)
    outcome["new_pid"] = bosun.wait_ready("worker", timeout=30, not_pid=old)
    outcome["ready_ms"] = int(time.time() * 1000)


def run(context):
    scratch = context.scratch()
    origin = support.make_origin(scratch)
    limited = os.path.join(scratch, "rate-limited")
    open(limited, "w").close()
    bosun = context.bosun(
        agents=support.agent("claude", [os.path.join(support.AGENTS, "rate-limited.sh"), limited]),
        projects=GITHUB_PROJECT + support.local_project("limited", origin),
        extra_config=f"""worker: {{ max_concurrency: {CONCURRENCY} }}
breaker: {{ threshold: {THRESHOLD}, pause_s: {PAUSE_S}, max_pause_s: {PAUSE_S * 2} }}
retry: {{ max_attempts: 1, transient_max_attempts: 5, backoff_base_s: 1, backoff_max_s: 2 }}
""")

    seen = []  # (state, opened_at_ms, retry_at_ms, updated_at_ms): each breaker row as first seen
    claimable_while_open = 0
    crash = {}
    with SignedLoad(bosun.listen, rate=40, threads=2) as load:
        time.sleep(1)
        support.request_tasks(bosun, "limited", TASKS, "limited")
        deadline = time.monotonic() + 60  # a normal run needs about 10 s
        while time.monotonic() < deadline:
            row = breaker_row(bosun)
            if not seen or row != seen[-1]:
                seen.append(row)
                if row[0] == "open" and os.path.exists(limited):
                    os.unlink(limited)  # the service recovers: the probe will succeed
                    threading.Timer(CRASH_AFTER_S, crash_worker, (bosun, crash)).start()
            if row[0] == "open":
                claimable_while_open = max(claimable_while_open, claimable_jobs(bosun))
            done = bosun.query("SELECT COUNT(*) FROM tasks WHERE state = 'done'")[0][0]
            if done == TASKS and row[0] == "closed":
                break
            time.sleep(0.02)
        time.sleep(1)
    states = [row[0] for row in seen]
    context.check("the breaker went closed → open → half-open → closed, once",
                  states in (["closed", "open", "half_open", "closed"], ["open", "half_open", "closed"]),
                  f"breaker rows seen: {states}")
    opened = next((row for row in seen if row[0] == "open"), None)
    half_open = next((row for row in seen if row[0] == "half_open"), None)
    closed = seen[-1] if seen and seen[-1][0] == "closed" and opened else None
    if not (opened and half_open and closed):
        return
    opened_ms, retry_ms, half_open_ms, closed_ms = opened[1], opened[2], half_open[3], closed[3]

    runs = bosun.query("SELECT id, job_id, classification, started_at_ms, finished_at_ms FROM runs ORDER BY id")
    ended_before = [r for r in runs if r[4] and r[4] <= opened_ms]
    context.check(f"it opened once {THRESHOLD} transient outcomes had come in, not before",
                  len(ended_before) >= THRESHOLD and all(r[2] == "transient" for r in ended_before),
                  f"runs ended before the opening: {[(r[0], r[2]) for r in ended_before]}")

    context.check("the worker killed in the pause was back before the pause ended",
                  crash.get("ready_ms", half_open_ms) < half_open_ms,
                  f"new worker {crash.get('new_pid')} ready at +{crash.get('ready_ms', 0) - opened_ms} ms, "
                  f"the pause ended at +{half_open_ms - opened_ms} ms")

    late = [r for r in runs if opened_ms + 1000 < r[3] < half_open_ms]
    grace = [r for r in runs if opened_ms < r[3] <= opened_ms + 1000]
    context.check("no run started from 1 s after the opening until the pause was over, with jobs waiting, though "
                  "a new worker started in it",
                  not late and claimable_while_open > 0,
                  f"runs started in the pause ({(half_open_ms - opened_ms) / 1000:.1f} s): {len(late)} "
                  f"{[(r[0], r[3] - opened_ms) for r in late][:5]}; within the first second: {len(grace)}; "
                  f"up to {claimable_while_open} jobs claimable meanwhile")

    probes = [r for r in runs if half_open_ms <= r[3] <= closed_ms]
    context.check("exactly one probe ran after the pause, it succeeded, and the breaker closed after it",
                  len(probes) == 1 and probes[0][3] >= retry_ms and probes[0][2] == "success",
                  f"runs started while half-open: {[(r[0], r[2], r[3] - opened_ms) for r in probes]} "
                  f"(ms after the opening; the pause ended at +{retry_ms - opened_ms})")

    jobs = bosun.query("SELECT state, COUNT(*) FROM jobs GROUP BY state")
    done = bosun.query("SELECT COUNT(*) FROM tasks WHERE state = 'done'")[0][0]
    after = [r for r in runs if r[3] > closed_ms]
    context.check(f"after it closed the remaining jobs ran: all {TASKS} tasks done",
                  done == TASKS and all(r[2] == "success" for r in after) and dict(jobs) == {"succeeded": TASKS},
                  f"{done} done; jobs {dict(jobs)}; {len(after)} runs after the close, "
                  f"{sum(r[2] == 'transient' for r in runs)} transient runs in all")

    latencies = load.latencies()
    summary = load.summary()
    context.check("signed webhooks sent throughout got only 2xx",
                  load.outcomes and all(o.status is not None and 200 <= o.status < 300 for o in load.outcomes),
                  f"{summary}; p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms")
