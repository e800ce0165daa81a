"""Crash-loop containment (SPEC §5; docs/ARCHITECTURE.md, "Restart decision"): a child that cannot start is restarted
within its budget, then marked `failed` and left alone, while ingress answers 2xx and the worker serves on.

The crash-looping child is the gatekeeper, run through `supervisor.executables.gatekeeper`: a script that exits 1
while a file named `broken` sits next to it, and otherwise execs the real bosun-gatekeeper. Two cases:
1. at run time: a healthy Bosun under signed webhooks; the file appears and the gatekeeper is killed → it crash-loops
   until `failed`; the webhooks it did not apply meanwhile are stored and are applied after `bosun restart gatekeeper`;
2. at start: a Bosun whose gatekeeper never starts → `failed` after the budget, ingress and worker ready and
   serving all along."""
import os
import signal
import time

from harness import GITHUB_TASK_PROJECT, PidWatch, SignedLoad, labelled_issue_body, wait_until

NAME = "crash-loop-containment"
DESCRIPTION = "a crash-looping gatekeeper is marked failed after its budget; ingress and the worker serve on"
ORDER = 30

RATE = 50  # webhooks per second, all threads together
BUDGET = 5  # the default supervisor.restart.budget, written out so that the check can name it
WRAPPER = """#!/bin/sh
# The gatekeeper for the chaos suite: exits 1 at once while ./broken exists, else is the real one.
if [ -e "$(dirname "$0")/broken" ]; then
    echo "chaos: the gatekeeper is broken" >&2
    exit 1
fi
exec {binary} "$@"
"""


def broken_gatekeeper(context, broken):
    """A scratch directory holding the wrapper (and `broken` if BROKEN); returns (scratch, config text)."""
    scratch = context.scratch()
    wrapper = os.path.join(scratch, "gatekeeper")
    with open(wrapper, "w") as f:
        f.write(WRAPPER.format(binary=os.path.join(context.bin, "bosun-gatekeeper")))
    os.chmod(wrapper, 0o755)
    if broken:
        open(os.path.join(scratch, "broken"), "w").close()
    config = (f"supervisor:\n  restart: {{ budget: {BUDGET}, window_s: 60 }}\n"
              f"  executables: {{ gatekeeper: ./gatekeeper }}\n")
    return scratch, config


def wait_failed(bosun, timeout=30):
    """Waits until the gatekeeper is `failed`; returns its status entry (whatever its state at the timeout)."""
    wait_until(lambda: bosun.child("gatekeeper")["state"] == "failed", timeout)
    return bosun.child("gatekeeper")


def all_2xx(load):
    counts = load.summary()
    others = {k: v for k, v in counts.items() if not (k.isdigit() and 200 <= int(k) < 300)}
    return not others and bool(load.outcomes), ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


def run(context):
    scratch, config = broken_gatekeeper(context, broken=False)
    bosun = context.bosun(projects=GITHUB_TASK_PROJECT, extra_config=config, scratch=scratch)
    # The long run breaks it again after each repair: `bosun restart` must give the child a whole new budget.
    rounds = 3 if context.long else 1
    for number in range(1, rounds + 1):
        at_run_time(context, bosun, scratch, f"run time{f' (round {number})' if rounds > 1 else ''}")
    at_start(context)


def at_run_time(context, bosun, scratch, label):
    worker_pid = bosun.child_pid("worker")
    earlier = bosun.child("gatekeeper")["restarts"]  # counted since the supervisor started
    with PidWatch(bosun, "ingress") as ingress, PidWatch(bosun, "worker") as worker, \
            SignedLoad(bosun.listen, rate=RATE, body=labelled_issue_body) as load:
        time.sleep(1.0)
        open(os.path.join(scratch, "broken"), "w").close()
        started = time.monotonic()
        os.kill(bosun.child_pid("gatekeeper"), signal.SIGKILL)
        gatekeeper = wait_failed(bosun)
        failed_after = time.monotonic() - started
        # Serve on a while after the verdict: the failed child stays down, the others keep going.
        time.sleep(3.0)
        still = bosun.child("gatekeeper")
    context.check(f"{label}: the crash-looping gatekeeper is marked failed after its budget of {BUDGET} restarts",
                  gatekeeper["state"] == "failed" and gatekeeper["restarts"] - earlier == BUDGET
                  and gatekeeper.get("failure"),
                  f"state {gatekeeper['state']} after {failed_after:.1f} s, "
                  f"restarts {gatekeeper['restarts'] - earlier}, "
                  f"failure: {gatekeeper.get('failure')!r}")
    context.check(f"{label}: a failed child is left alone (still failed, no process, 3 s later)",
                  still["state"] == "failed" and not still.get("pid") and still["restarts"] == gatekeeper["restarts"],
                  f"state {still['state']}, pid {still.get('pid')}, restarts {still['restarts'] - earlier}")
    ok, detail = all_2xx(load)
    context.check(f"{label}: ingress answered every webhook 2xx throughout, from one process",
                  ok and len(ingress.pids) == 1, f"{detail}; ingress pids {ingress.pids}")
    context.check(f"{label}: the worker stayed up (one pid throughout, ready)",
                  worker.pids == [worker_pid] and bosun.child("worker")["state"] == "ready",
                  f"worker pids {worker.pids}, state {bosun.child('worker')['state']}")

    accepted = load.accepted()
    stored = bosun.inbox_audit(accepted)
    os.remove(os.path.join(scratch, "broken"))
    restarted = bosun.cli("restart", "gatekeeper", check=False)
    left = bosun.wait_processed(timeout=60)
    audit = bosun.inbox_audit(accepted)
    context.check(f"{label}: webhooks taken while the gatekeeper was down were stored, and applied once after "
                  "`bosun restart gatekeeper`",
                  not stored["missing"] and restarted.returncode == 0 and bosun.child("gatekeeper")["state"] == "ready"
                  and left == 0 and not audit["unprocessed"] and not audit["not_created_once"]
                  and not bosun.duplicate_tasks(),
                  f"{len(accepted)} answered 2xx, {len(stored['unprocessed'])} of them waiting while it was failed; "
                  f"restart exit {restarted.returncode}; afterwards unprocessed {len(audit['unprocessed'])}, "
                  f"not creating exactly one task {audit['not_created_once'][:5]}")


def at_start(context):
    scratch, config = broken_gatekeeper(context, broken=True)
    started = time.monotonic()
    bosun = context.bosun(projects=GITHUB_TASK_PROJECT, extra_config=config, scratch=scratch,
                          ready=("ingress", "worker"))
    with SignedLoad(bosun.listen, rate=RATE, body=labelled_issue_body) as load:
        gatekeeper = wait_failed(bosun)
        failed_after = time.monotonic() - started
        time.sleep(1.0)
    context.check(f"at start: a gatekeeper that never starts is marked failed after its budget of {BUDGET} restarts",
                  gatekeeper["state"] == "failed" and gatekeeper["restarts"] == BUDGET,
                  f"state {gatekeeper['state']} after {failed_after:.1f} s, restarts {gatekeeper['restarts']}")
    ok, detail = all_2xx(load)
    stored = bosun.inbox_audit(load.accepted())
    context.check("at start: ingress and the worker are ready and ingress stored every webhook it answered 2xx",
                  ok and not stored["missing"] and bosun.child("ingress")["state"] == "ready"
                  and bosun.child("worker")["state"] == "ready",
                  f"{detail}; missing {len(stored['missing'])}")
