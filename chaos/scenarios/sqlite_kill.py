"""SQLite writers `kill -9`ed mid-transaction (SPEC §5.1, §5.2) → `PRAGMA integrity_check` is ok, every delivery
answered 2xx is stored exactly once, and every stored delivery is applied exactly once.

The writers are ingress (its inbox writer commits each group of deliveries to the inbox file) and the gatekeeper (it
applies each delivery: a task, its events and outbox rows and the inbox cursor in one transaction in the main file);
they are killed in turn while signed webhooks
arrive at a fixed rate, with `durability: full`. Each kill aims at an open write transaction: the victim is stopped
(SIGSTOP) at a random moment, /proc/locks says whether it holds its file's WAL write lock, and it is SIGKILLed
if it does — else resumed and tried again a random fraction of a millisecond later (at most AIM_TRIES times, then
killed anyway). Stopping freezes the process exactly where it is, so the lock seen is the lock held at the kill."""
import os
import random
import signal
import time

import worker_support as support
from harness import PROCESSED, SignedLoad, percentile

NAME = "sqlite-kill"
DESCRIPTION = "ingress and gatekeeper kill -9ed mid-transaction: integrity ok, no acknowledged delivery lost"
ORDER = 70

AIM_TRIES = 200

# Every new issue starts a task that waits in `parked`: applying a delivery writes a task, its event and its label
# effect (sent to a closed port, so it fails and is retried: more writes, no network).
PROJECT = """  - name: demo
    tracker: github
    repo: { url: https://github.com/acme/demo.git, api_url: "http://127.0.0.1:9" }
    webhook: { secret_file: ./secret }
    trigger: { kind: all }
    authors: [Codertocat]
    workflow: { initial: parked, states: { parked: { type: hold } } }
"""

# Restart at once and never give up: the budget is not what this scenario tests.
SUPERVISOR = "supervisor: { restart: { base_ms: 10, max_ms: 100, budget: 1000000, window_s: 1 } }\n"


def all_threads_stopped(pid):
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                    return False
        return True
    except OSError:
        return True  # gone


def kill_in_transaction(pid, shm):
    """SIGKILLs PID, preferably while it holds the WAL write lock; returns (held the lock, tries)."""
    for tries in range(1, AIM_TRIES + 1):
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            return False, tries
        deadline = time.monotonic() + 2
        while not all_threads_stopped(pid) and time.monotonic() < deadline:
            pass
        held = support.holds_wal_write_lock(pid, shm)
        if held or tries == AIM_TRIES:
            os.kill(pid, signal.SIGKILL)
            return held, tries
        os.kill(pid, signal.SIGCONT)
        time.sleep(random.uniform(0, 0.001))
    raise AssertionError("unreachable")


def run(context):
    kills = 1000 if context.long else 50
    bosun = context.bosun(projects=PROJECT, extra_config=SUPERVISOR, durability="full")
    # Ingress writes the inbox file, the gatekeeper the main file: each kill is aimed at the victim's own lock.
    shm = {"ingress": bosun.inbox_path + "-shm", "gatekeeper": bosun.db_path + "-shm"}
    mid_transaction = {"ingress": 0, "gatekeeper": 0}
    killed = {"ingress": 0, "gatekeeper": 0}
    tries_total = 0
    with SignedLoad(bosun.listen, rate=150, threads=6) as load:
        time.sleep(1)
        for index in range(kills):
            victim = ("ingress", "gatekeeper")[index % 2]
            pid = bosun.wait_ready(victim, timeout=60)
            time.sleep(random.uniform(0.05, 0.25))  # let the load reach the new process
            held, tries = kill_in_transaction(pid, shm[victim])
            killed[victim] += 1
            mid_transaction[victim] += held
            tries_total += tries
        for victim in killed:
            bosun.wait_ready(victim, timeout=60)
        time.sleep(1)
    accepted = set(load.accepted())
    context.check(f"{kills} kills, alternating ingress and gatekeeper, most inside a write transaction",
                  sum(mid_transaction.values()) >= kills // 2,
                  f"held the WAL write lock when killed: ingress {mid_transaction['ingress']}/{killed['ingress']}, "
                  f"gatekeeper {mid_transaction['gatekeeper']}/{killed['gatekeeper']} "
                  f"({tries_total / kills:.1f} stops per kill on average)")

    # Everything stored gets applied by the last gatekeeper (it polls the inbox every 2 s).
    drained = support.wait_until(
        lambda: bosun.query(f"SELECT COUNT(*) FROM deliveries d WHERE NOT {PROCESSED}")[0][0] == 0, 120)
    live = bosun.query("PRAGMA integrity_check")
    bosun.stop()
    stopped = bosun.query("PRAGMA integrity_check")
    context.check("PRAGMA integrity_check is ok after the kills, while Bosun runs and after its clean stop",
                  live == [("ok",)] and stopped == [("ok",)],
                  f"running: {'; '.join(r[0] for r in live[:3])}; stopped: {'; '.join(r[0] for r in stopped[:3])}")

    stored = {}
    for delivery, count in bosun.query("""SELECT delivery_id, COUNT(*) FROM deliveries
                                          WHERE source = 'github' AND project = 'demo' GROUP BY delivery_id"""):
        stored[delivery] = count
    lost = sorted(accepted - stored.keys())
    doubled = sorted(d for d, n in stored.items() if n != 1)
    context.check("every delivery answered 2xx is stored, exactly once", not lost and not doubled,
                  f"{len(accepted)} answered 2xx of {len(load.outcomes)} sent {load.summary()}, {len(stored)} stored; "
                  f"lost {lost[:5]}, stored twice {doubled[:5]}; 2xx p99 {percentile(load.latencies(), 99):.0f} ms")

    # Applied exactly once: each stored delivery (issue N) made one task and one `created` event that names it.
    applied = bosun.query(f"""
        WITH events AS (SELECT delivery_id, COUNT(*) AS n FROM task_events WHERE event = 'created'
                        GROUP BY delivery_id),
             issues AS (SELECT issue, COUNT(*) AS n FROM tasks WHERE project = 'demo' GROUP BY issue)
        SELECT d.delivery_id, {PROCESSED}, COALESCE(e.n, 0), COALESCE(i.n, 0)
        FROM deliveries d JOIN delivery_bodies b ON b.id = d.id
             LEFT JOIN events e ON e.delivery_id = d.id
             LEFT JOIN issues i ON i.issue = CAST(json_extract(CAST(b.body AS TEXT), '$.issue.number') AS TEXT)
        WHERE d.source = 'github' AND d.project = 'demo'""")
    wrong = [(d, processed, events, tasks) for d, processed, events, tasks in applied
             if not processed or events != 1 or tasks != 1]
    context.check("every stored delivery was applied exactly once (one task, one `created` event naming it)",
                  drained and not wrong and len(applied) == len(stored),
                  f"{len(applied)} applied; not exactly once (delivery, processed, events, tasks): {wrong[:5]}")
