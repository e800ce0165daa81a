"""Ingress `kill -9` storm under signed webhooks (SPEC §5.1, §5.2): every 2xx'd delivery is in the inbox once and
applied once (one task per issue), and no connection is refused, because the listening socket is the supervisor's.

A request in flight when ingress dies may get a reset or a timeout: it may or may not be stored, and is counted and
reported. It is then redelivered with the same delivery id, as GitHub does, and must end up stored exactly once."""
import os
import random
import signal
import time

from harness import GITHUB_TASK_PROJECT, SignedLoad, labelled_issue_body

NAME = "ingress-kill-storm"
DESCRIPTION = "kill -9 of ingress again and again under signed webhooks: every 2xx stored and applied once"
ORDER = 10

RATE = 80  # webhooks per second, all threads together
# Restart quickly and never give up: what is tested is that the socket outlives ingress, not the backoff (with the
# defaults, 30 kills in a row would reach 30 s delays and the `failed` state, and the storm would only time out).
CONFIG = "supervisor: { restart: { base_ms: 100, max_ms: 500, budget: 1000 } }\n"


def run(context):
    kills = 30 if context.long else 5
    bosun = context.bosun(projects=GITHUB_TASK_PROJECT, extra_config=CONFIG)
    random.seed(7)
    killed = []
    with SignedLoad(bosun.listen, rate=RATE, body=labelled_issue_body) as load:
        time.sleep(1.0)
        for _ in range(kills):
            pid = bosun.wait_ready("ingress", timeout=30, not_pid=killed[-1] if killed else None)
            # Let the new ingress serve for a while, so that each kill lands with requests in flight.
            time.sleep(random.uniform(0.3, 1.2))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        bosun.wait_ready("ingress", timeout=30, not_pid=killed[-1])
        time.sleep(1.0)
    counts = load.summary()
    accepted = load.accepted()
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    context.check(f"ingress was killed {kills} times and came back each time", len(set(killed)) == kills,
                  f"pids {killed[:3]}… ({len(set(killed))} distinct)")
    context.check("zero refused connections", counts.get("refused", 0) == 0,
                  f"{len(load.outcomes)} requests at {RATE}/s: {detail}")
    others = {k: v for k, v in counts.items() if k not in ("202", "refused", "reset", "timeout")}
    context.check("every answer was a 202 (or no answer: a reset or timeout of a request in flight at a kill)",
                  not others, f"other outcomes: {others}" if others else detail)

    left = bosun.wait_processed(timeout=60)
    audit = bosun.inbox_audit(accepted)
    context.check("every 2xx'd delivery is in the inbox exactly once",
                  not audit["missing"] and not audit["duplicated"],
                  f"{len(accepted)} answered 2xx; missing {audit['missing'][:5]}, duplicated {audit['duplicated'][:5]}")
    context.check("every 2xx'd delivery was applied once: processed, and exactly one task created from it",
                  left == 0 and not audit["unprocessed"] and not audit["not_created_once"],
                  f"unprocessed {len(audit['unprocessed'])} (inbox left {left}), "
                  f"not creating exactly one task {audit['not_created_once'][:5]}")

    # Redeliver what got no answer, under the same ids: each ends up stored once, whether or not the first try was.
    unanswered = [o for o in load.outcomes if o.status is None]
    host, port = bosun.listen.rsplit(":", 1)
    statuses = []
    for outcome in unanswered:
        number = int(outcome.delivery.rsplit("-", 1)[1])
        statuses.append(load.post(host, int(port), number).status)
    bosun.wait_processed(timeout=60)
    everything = [o.delivery for o in load.outcomes]
    audit = bosun.inbox_audit(everything)
    duplicates = bosun.duplicate_tasks()
    total_tasks = bosun.query("SELECT COUNT(*) FROM tasks WHERE project = 'demo'")[0][0]
    context.check("after redelivering the unanswered ones: every delivery stored once, one task per issue",
                  all(s in (200, 202) for s in statuses) and not audit["missing"] and not audit["duplicated"]
                  and not audit["not_created_once"] and not duplicates and total_tasks == len(everything),
                  f"{len(unanswered)} redelivered (answers {sorted(set(statuses))}: 200 = it had been stored); "
                  f"{total_tasks} tasks for {len(everything)} issues, duplicated issues {duplicates[:5]}")
