#!/usr/bin/env python3
"""Worker figures, on a local-tracker project with real git worktrees and scripted agents.

1. concurrency: N tasks whose agent sleeps; once N runs are live, the worker's RSS and its CPU over 10 s (from
   /proc), and the shims' private memory.
2. throughput: N tasks whose agent exits at once; claimed-and-completed jobs per second, first claim to last finish
   (each job includes its worktree preparation and the commit/push check after the run).
3. latency: one task at a time; from the job row's created_at to the agent's exec (the agent stamps the time first
   thing), p50 and p99.

Usage: bench/worker/run.py --bin .build/release [--concurrent 1000] [--trivial 1000] [--latency 200]
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

sys.path.insert(0, os.path.join(HERE, ".."))
from bosun_bench import insert_deliveries, start, stop  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
READY_WORKTREES = 2  # worker.ready_worktrees; --ready-worktrees


def make_origin(scratch):
    origin = os.path.join(scratch, "origin.git")
    seed = os.path.join(scratch, "seed")
    git = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@localhost"]
    subprocess.run(["git", "init", "-q", "--bare", origin], check=True)
    os.makedirs(seed)
    subprocess.run(git + ["-C", seed, "init", "-q", "-b", "main"], check=True)
    with open(os.path.join(seed, "README.md"), "w") as f:
        f.write("bench\n")
    subprocess.run(git + ["-C", seed, "add", "-A"], check=True)
    subprocess.run(git + ["-C", seed, "commit", "-q", "-m", "initial"], check=True)
    subprocess.run(git + ["-C", seed, "push", "-q", origin, "main"], check=True)
    return origin


def write_config(scratch, origin, argv, concurrency):
    config = os.path.join(scratch, "bosun.yaml")
    with open(config, "w") as f:
        f.write(f"""state_dir: ./state
listen: 127.0.0.1:0
durability: normal
worker: {{ max_concurrency: {concurrency}, lease_s: 300, heartbeat_s: 30, ready_worktrees: {READY_WORKTREES} }}
agents:
  bench: {{ argv: {json.dumps(argv)}, probe: [/bin/true] }}
projects:
  - name: bench
    tracker: local
    repo: {{ url: {origin}, default_branch: main }}
    authors: [bench]
""")
    return config


def request_tasks(db_path, count, prefix):
    db = sqlite3.connect(db_path)
    now = int(time.time() * 1000)
    rows = []
    for i in range(count):
        body = json.dumps({"title": f"{prefix} {i}", "body": "bench", "author": "bench"}).encode()
        rows.append(("api", "bench", "task.create", f"{prefix}-{i}-{now}", f"{prefix}-{i}-{now}", "{}", body, now))
    insert_deliveries(db, rows)
    db.commit()
    db.close()


def query(db_path, sql, args=()):
    db = sqlite3.connect(db_path, timeout=30)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def worker_pid(scratch):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = f.read()
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"bosun-worker") and scratch.encode() in env:
                return int(entry)
    return None


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def private_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            total = 0
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
            return total
    except OSError:
        return 0


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    sys.exit(f"timed out waiting for {what}")


def concurrency(binary_dir, count):
    scratch = tempfile.mkdtemp(prefix="bosun-bench-worker-")
    origin = make_origin(scratch)
    config = write_config(scratch, origin, ["/bin/sleep", "600"], count)
    db_path = os.path.join(scratch, "state/bosun.db")
    process, _ = start(binary_dir, config, scratch, "concurrency")
    request_tasks(db_path, count, "sleep")
    began = time.time()
    wait_for(lambda: query(db_path, "SELECT COUNT(*) FROM runs WHERE state = 'running'")[0][0] >= count, 1800,
             f"{count} live runs")
    ramp = time.time() - began
    pid = worker_pid(scratch)
    time.sleep(5)
    before = cpu_ticks(pid)
    time.sleep(10)
    used = (cpu_ticks(pid) - before) / CLOCK_TICKS / 10 * 100
    shims = [int(r[0]) for r in query(db_path, "SELECT shim_pid FROM runs WHERE state = 'running'")]
    shim_private = statistics.median([private_kib(p) for p in shims[:50]])
    print(f"concurrency: {count} live agent runs (reached in {ramp:.0f} s); worker RSS {rss_kib(pid) / 1024:.1f} MiB, "
          f"worker CPU {used:.2f}% of a core over 10 s idle; median shim private memory {shim_private:.0f} KiB")
    stop(binary_dir, config, process)
    subprocess.run(["pkill", "-KILL", "-f", scratch], capture_output=True)


def throughput(binary_dir, count):
    scratch = tempfile.mkdtemp(prefix="bosun-bench-worker-")
    origin = make_origin(scratch)
    config = write_config(scratch, origin, ["/bin/true"], 8)
    db_path = os.path.join(scratch, "state/bosun.db")
    process, _ = start(binary_dir, config, scratch, "throughput")
    request_tasks(db_path, count, "trivial")
    wait_for(lambda: query(db_path, "SELECT COUNT(*) FROM runs WHERE state = 'exited'")[0][0] >= count, 1800,
             f"{count} finished runs")
    first, last = query(db_path, "SELECT MIN(started_at_ms), MAX(finished_at_ms) FROM runs")[0]
    elapsed = (last - first) / 1000
    print(f"throughput: {count} trivial agent jobs claimed, run and completed in {elapsed:.1f} s = "
          f"{count / elapsed:.1f} jobs/s (8 at a time; each with worktree preparation and the commit check)")
    stop(binary_dir, config, process)


def latency(binary_dir, count):
    scratch = tempfile.mkdtemp(prefix="bosun-bench-worker-")
    origin = make_origin(scratch)
    # The agent stamps the time first thing: a shell's `date` starts in ~2 ms (a Python agent would add ~25 ms).
    config = write_config(scratch, origin, ["/bin/sh", "-c", "date +%s%3N > .bosun-exec"], 4)
    db_path = os.path.join(scratch, "state/bosun.db")
    process, _ = start(binary_dir, config, scratch, "latency")
    samples = []
    for i in range(count):
        request_tasks(db_path, 1, f"latency{i}")
        wait_for(lambda: query(db_path, "SELECT COUNT(*) FROM runs WHERE state = 'exited'")[0][0] >= i + 1, 120,
                 "the run")
        job_created, branch = query(db_path, """SELECT j.created_at_ms, t.branch FROM jobs j JOIN tasks t
                                                 ON t.id = j.task_id ORDER BY j.id DESC LIMIT 1""")[0]
        directory = branch.split("/")[-1]
        with open(os.path.join(scratch, "state/worktrees/bench", directory, ".bosun-exec")) as f:
            samples.append(int(f.read()) - job_created)
    samples.sort()
    print(f"enqueue -> agent exec over {count} jobs, one at a time: p50 {statistics.median(samples):.0f} ms, "
          f"p99 {samples[int(len(samples) * 0.99) - 1]:.0f} ms (includes creating the task's worktree)")
    stop(binary_dir, config, process)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--trivial", type=int, default=1000)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--ready-worktrees", type=int, default=2, help="worker.ready_worktrees (0 disables the pool)")
    args = parser.parse_args()
    global READY_WORKTREES
    READY_WORKTREES = args.ready_worktrees
    binary_dir = os.path.abspath(args.bin)
    if args.latency:
        latency(binary_dir, args.latency)
    if args.trivial:
        throughput(binary_dir, args.trivial)
    if args.concurrent:
        concurrency(binary_dir, args.concurrent)


if __name__ == "__main__":
    main()
