"""Rolling restarts under signed webhooks (SPEC §5.1, §5.6; the upgrade path of docs/DEPLOY.md): the old ingress
stops accepting before the new one starts and finishes what it has, so every request gets a 2xx — no refusal, no
reset, no 5xx — and every delivery is stored once and applied once."""
import time

from harness import GITHUB_TASK_PROJECT, PidWatch, SignedLoad, labelled_issue_body

NAME = "rolling-restarts"
DESCRIPTION = "bosun rolling-restart again and again under signed webhooks: every request 2xx, every one stored once"
ORDER = 40

RATE = 100  # webhooks per second, all threads together
SERVE_S = 1.0  # load with no restart before each restart, so each one begins with requests in flight


def run(context):
    restarts = 20 if context.long else 3
    bosun = context.bosun(projects=GITHUB_TASK_PROJECT)
    before = {name: bosun.child_pid(name) for name in ("ingress", "worker", "gatekeeper")}
    failures = []
    with PidWatch(bosun, "ingress") as ingress, SignedLoad(bosun.listen, rate=RATE, body=labelled_issue_body) as load:
        for _ in range(restarts):
            time.sleep(SERVE_S)
            result = bosun.cli("rolling-restart", check=False)
            if result.returncode != 0:
                failures.append(result.stderr.strip() or f"exit {result.returncode}")
        time.sleep(SERVE_S)
    after = {name: bosun.child_pid(name) for name in ("ingress", "worker", "gatekeeper")}
    ingress_pids = {pid for pid in ingress.pids if pid}  # None: between two ingresses in the status
    context.check(f"{restarts} rolling restarts completed and replaced every child",
                  not failures and all(after[name] != before[name] for name in before)
                  and len(ingress_pids) == restarts + 1,
                  f"{len(ingress_pids)} ingress pids seen" + (f"; failures: {failures[:3]}" if failures else ""))

    counts = load.summary()
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    non_2xx = {k: v for k, v in counts.items() if not (k.isdigit() and 200 <= int(k) < 300)}
    context.check("every request was answered 2xx: zero refused, zero resets or timeouts, zero non-2xx",
                  not non_2xx and load.outcomes, f"{len(load.outcomes)} requests at {RATE}/s: {detail}")

    accepted = load.accepted()
    left = bosun.wait_processed(timeout=60)
    audit = bosun.inbox_audit(accepted)
    duplicates = bosun.duplicate_tasks()
    context.check("every 2xx'd delivery is in the inbox exactly once",
                  not audit["missing"] and not audit["duplicated"],
                  f"{len(accepted)} answered 2xx; missing {audit['missing'][:5]}, duplicated {audit['duplicated'][:5]}")
    context.check("every 2xx'd delivery was applied once (processed; one task per issue, created once)",
                  left == 0 and not audit["unprocessed"] and not audit["not_created_once"] and not duplicates,
                  f"unprocessed {len(audit['unprocessed'])}, not creating exactly one task "
                  f"{audit['not_created_once'][:5]}, duplicated issues {duplicates[:5]}")
