"""Child restart latency: a supervised process is killed with SIGKILL; how long until its replacement exists, and
until the supervisor reports it up. Bosun (its children ingress, worker and gatekeeper in turn; restart delay set
to 1 ms, so the figure is the mechanism, not the configured backoff) against Debian's supervisord (4.2.5) with one
program, `sleep infinity`, autorestart=true, and startsecs=0 and 1 (the default).

Both are timed the same way, on the client side:
- spawned: from the kill to a new live child of the supervisor in /proc. Passive: nothing talks to the supervisor
  until the replacement exists (talking to supervisord's RPC socket wakes its main loop, see docs/BENCHMARKS.md);
- up: from the kill to the status interface reporting the new pid as `ready` (Bosun's control socket: the child
  has made its readiness handshake) or RUNNING (supervisord's XML-RPC; with startsecs=0 that only means spawned,
  with the default startsecs=1 it means it stayed up 1 s), polled every 0.5 ms once the replacement exists.
Bosun's figure also gives the child's own start (spawn to ready, as its supervisor logs it), to separate the
supervisor's part from the Swift program's start-up."""
import os
import signal
import time

import peers
from bosun_bench import Control, children, comm, median, start, stop

NAME = "restart"
DESCRIPTION = "kill -9 of a supervised child → replacement spawned / reported up: Bosun vs Debian's supervisord"
ORDER = 20
NEEDS_PEERS = True
RUNS = 3
PAUSE_S = 0.5  # between kills, so each one starts from an idle supervisor


def kills(ctx):
    return 6 if ctx.quick else 20


def describe(ctx):
    return (f"{kills(ctx)} kills per supervisor per run, {PAUSE_S} s apart; Bosun restart base_ms 1; supervisord "
            f"`sleep infinity`, autorestart, startsecs 0 and 1")


def wait_new_child(parent, old, name_prefix, timeout=10):
    """Polls /proc every 0.5 ms until PARENT has a live child named NAME_PREFIX… other than OLD; returns its pid."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for pid in children(parent):
            if pid != old and (comm(pid) or "").startswith(name_prefix):
                return pid
        time.sleep(0.0005)
    raise TimeoutError(f"no new {name_prefix} under {parent} within {timeout} s")


def poll_until(predicate, timeout=10):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return
        time.sleep(0.0005)
    raise TimeoutError("not up in time")


def bosun(ctx, count):
    scratch = ctx.scratch()
    config = os.path.join(scratch, "bosun.yaml")
    with open(config, "w") as f:
        f.write("state_dir: ./state\nlisten: 127.0.0.1:0\n"
                "supervisor:\n  restart: { base_ms: 1, max_ms: 1, budget: 100000, window_s: 60 }\n")
    process, _ = start(ctx.bin, config, scratch, "bosun")
    spawned, up = [], []
    try:
        control = Control(os.path.join(scratch, "state/run/control.sock"))
        pids = {name: p["pid"] for name, p in control.processes().items()}
        names = ["ingress", "worker", "gatekeeper"]
        for index in range(count):
            name = names[index % len(names)]
            time.sleep(PAUSE_S)
            killed_at = time.perf_counter()
            os.kill(pids[name], signal.SIGKILL)
            new = wait_new_child(process.pid, pids[name], ("bosun-" + name)[:15])
            spawned.append((time.perf_counter() - killed_at) * 1000)

            def ready():
                child = control.processes()[name]
                return child.get("pid") == new and child["state"] == "ready"
            poll_until(ready)
            up.append((time.perf_counter() - killed_at) * 1000)
            pids[name] = new
        restarts = sum(p["restarts"] for p in control.processes().values())
        control.close()
        ctx.check("bosun: the supervisor counted every kill as a restart", restarts == count,
                  f"{restarts} restarts for {count} kills")
    finally:
        stop(ctx.bin, config, process)
    own_start = []
    with open(os.path.join(scratch, "state/logs/supervisor.log")) as log:
        for line in log:
            if " ready pid=" in line and "startup_ms=" in line:
                own_start.append(int(line.rsplit("startup_ms=", 1)[1]))
    return spawned, up, own_start[3:]  # the first three are the initial start


def supervisord(ctx, count, startsecs):
    scratch = ctx.scratch()
    config = peers.write_supervisord_config(scratch, "/bin/sleep infinity", startsecs)
    process, rpc = peers.start_supervisord(ctx.peers, scratch, config)
    spawned, up = [], []
    try:
        old = wait_new_child(process.pid, None, "sleep")
        for _ in range(count):
            time.sleep(PAUSE_S)  # the killed one is RUNNING (waited for below, and by start_supervisord)
            killed_at = time.perf_counter()
            os.kill(old, signal.SIGKILL)
            new = wait_new_child(process.pid, old, "sleep")
            spawned.append((time.perf_counter() - killed_at) * 1000)

            def running():
                info = rpc.info("child")
                return info["pid"] == new and info["statename"] == "RUNNING"
            poll_until(running)
            up.append((time.perf_counter() - killed_at) * 1000)
            old = new
    finally:
        peers.stop_process(process)
    with open(os.path.join(scratch, "supervisord.log")) as log:
        seen = sum(1 for line in log if "exited: child (terminated by SIGKILL; not expected)" in line)
    ctx.check(f"supervisord startsecs={startsecs}: it saw every kill as an unexpected SIGKILL exit", seen == count,
              f"{seen} for {count} kills")
    return spawned, up


def once(ctx, index):
    count = kills(ctx)
    results = {}
    spawned, up, own_start = bosun(ctx, count)
    results.update({"bosun.spawned": median(spawned), "bosun.up": median(up), "bosun.own_start": median(own_start),
                    "bosun.up.max": max(up)})
    for startsecs in (0, 1):
        spawned, up = supervisord(ctx, count, startsecs)
        key = f"supervisord.startsecs{startsecs}"
        results.update({f"{key}.spawned": median(spawned), f"{key}.up": median(up), f"{key}.up.max": max(up)})
    return results


def metrics(ctx):
    return [
        ("bosun.spawned", "Bosun: kill → replacement spawned (median of the run)", "ms", "lower"),
        ("bosun.up", "Bosun: kill → replacement ready (median of the run)", "ms", "lower"),
        ("bosun.up.max", "Bosun: kill → replacement ready (slowest of the run)", "ms", "lower"),
        ("bosun.own_start", "Bosun: the child's own start, spawn → ready (median of the run)", "ms", "lower"),
        ("supervisord.startsecs0.spawned", "supervisord: kill → replacement spawned (median of the run)", "ms",
         "lower"),
        ("supervisord.startsecs0.up", "supervisord startsecs=0: kill → RUNNING (median of the run)", "ms", "lower"),
        ("supervisord.startsecs0.up.max", "supervisord startsecs=0: kill → RUNNING (slowest of the run)", "ms",
         "lower"),
        ("supervisord.startsecs1.spawned", "supervisord startsecs=1: kill → replacement spawned (median of the run)",
         "ms", "lower"),
        ("supervisord.startsecs1.up", "supervisord startsecs=1 (default): kill → RUNNING (median of the run)", "ms",
         "lower"),
    ]


def ratios(ctx):
    return [
        ("kill → replacement spawned, Bosun ÷ supervisord", "bosun.spawned", "supervisord.startsecs0.spawned",
         "lower"),
        ("kill → up, Bosun ready ÷ supervisord RUNNING (startsecs=0)", "bosun.up", "supervisord.startsecs0.up",
         "lower"),
        ("kill → up, Bosun ready ÷ supervisord RUNNING (startsecs=1, default)", "bosun.up",
         "supervisord.startsecs1.up", "lower"),
    ]
