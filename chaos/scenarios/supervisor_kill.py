"""Supervisor `kill -9` → every child gone within 2 s (SPEC §5; the children watch their parent)."""
import os
import signal
import time

NAME = "supervisor-kill"
DESCRIPTION = "kill -9 of the supervisor: every child is gone within 2 s"
ORDER = 50


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def run(context):
    rounds = 10 if context.long else 3
    slowest = 0.0
    survivors = []
    for _ in range(rounds):
        bosun = context.bosun()
        children = {name: bosun.child_pid(name) for name in ("ingress", "worker", "gatekeeper")}
        killed_at = time.monotonic()
        os.kill(bosun.process.pid, signal.SIGKILL)
        bosun.process.wait()
        while any(alive(pid) for pid in children.values()) and time.monotonic() - killed_at < 5:
            time.sleep(0.01)
        gone_after = time.monotonic() - killed_at
        slowest = max(slowest, gone_after)
        survivors += [f"{name} {pid}" for name, pid in children.items() if alive(pid)]
    context.check(f"all children gone within 2 s of the supervisor's SIGKILL ({rounds} rounds)",
                  not survivors and slowest <= 2.0,
                  f"slowest {slowest * 1000:.0f} ms" + (f"; survivors: {', '.join(survivors)}" if survivors else ""))
