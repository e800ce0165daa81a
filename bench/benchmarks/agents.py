"""The overhead of many concurrent agents: N tasks on a local-tracker project whose agent is `sleep 600`; once N runs
are live, the worker's RSS (and before any task, for the difference), the worker's CPU over a quiet window, the
RSS of Bosun's own four processes, and the shims' memory (each agent run has one bosun-shim; its private memory is
what one more run costs, its RSS counts shared pages again)."""
import os
import time

from bosun_bench import Control, children, comm, cpu_seconds, descendants, median, private_kib, rss_kib, start, stop_and_clean
from benchmarks.worker import query, request_tasks, wait_for, write_config

NAME = "agents"
DESCRIPTION = "N concurrent sleeping agents: worker RSS and CPU, Bosun's RSS, shim memory"
ORDER = 50
RUNS = 3
CHILDREN = ("bosun-ingress", "bosun-worker", "bosun-gatekeepe")  # comm is cut at 15 characters


def sizes(ctx):
    return {"agents": 50, "window_s": 3} if ctx.quick else {"agents": 1000, "window_s": 10}


def describe(ctx):
    s = sizes(ctx)
    return f"{s['agents']} agents (`sleep 600`), worker CPU over {s['window_s']} s once all are live"


def once(ctx, index):
    s = sizes(ctx)
    count = s["agents"]
    scratch = ctx.scratch()
    config = write_config(ctx, scratch, ["/bin/sleep", "600"], count)
    db_path = os.path.join(scratch, "state/bosun.db")
    process, _ = start(ctx.bin, config, scratch, "agents")
    try:
        control = Control(os.path.join(scratch, "state/run/control.sock"))
        worker = control.processes()["worker"]["pid"]
        control.close()
        time.sleep(2)
        worker_idle = rss_kib(worker)
        request_tasks(scratch, count, "sleep")
        began = time.time()
        wait_for(lambda: query(db_path, "SELECT COUNT(*) FROM runs WHERE state = 'running'")[0][0] >= count, 1800,
                 f"{count} live runs")
        ramp = time.time() - began
        time.sleep(3)
        before = cpu_seconds(worker)
        time.sleep(s["window_s"])
        cpu = (cpu_seconds(worker) - before) / s["window_s"] * 100
        tree = [process.pid, *descendants(process.pid)]
        core = [process.pid, *(pid for pid in children(process.pid) if comm(pid) in CHILDREN)]
        shims = [pid for pid in tree if comm(pid) == "bosun-shim"]
        shims_in_store = [int(r[0]) for r in query(db_path, "SELECT shim_pid FROM runs WHERE state = 'running'")]
        agents_alive = sum(1 for pid in tree if comm(pid) == "sleep")
        ctx.check(f"agents run {index + 1}: {count} shims and agents alive, as the store says",
                  len(shims) == count and agents_alive == count and sorted(shims) == sorted(shims_in_store),
                  f"{len(shims)} shims under the supervisor, {len(shims_in_store)} running in the store, "
                  f"{agents_alive} agents")
        return {"ramp_s": ramp, "worker.rss": rss_kib(worker) / 1024, "worker.rss.idle": worker_idle / 1024,
                "worker.cpu": cpu, "core.rss": sum(rss_kib(pid) for pid in core) / 1024,
                "shim.private": median([private_kib(pid) for pid in shims]),
                "shim.rss": median([rss_kib(pid) for pid in shims]),
                "shims.private": sum(private_kib(pid) for pid in shims) / 1024}
    finally:
        stop_and_clean(ctx.bin, config, process, scratch)


def metrics(ctx):
    n = sizes(ctx)["agents"]
    return [("ramp_s", f"time until {n} runs are live", "s", "lower"),
            ("worker.rss.idle", "worker RSS before any task", "MiB", "lower"),
            ("worker.rss", f"worker RSS with {n} live runs", "MiB", "lower"),
            ("worker.cpu", f"worker CPU with {n} live runs", "% of a core", "lower"),
            ("core.rss", f"Bosun's 4 processes, RSS with {n} live runs", "MiB", "lower"),
            ("shim.private", "one shim, private memory (median)", "KiB", "lower"),
            ("shim.rss", "one shim, RSS (median; shared pages counted again)", "KiB", "lower"),
            ("shims.private", f"all {n} shims, private memory", "MiB", "lower")]
