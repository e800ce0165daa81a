"""Worker: on a local-tracker project with a real git origin and scripted agents,
1. throughput: N tasks whose agent exits at once; claimed-and-completed jobs per second, first claim to last finish
   (each job includes its worktree preparation and the commit/push check after the run);
2. latency: one task at a time (the next requested once the job before has finished); from the job row's created_at
   to the agent's exec (the agent stamps the time first thing: a shell's `date` starts in ~2 ms, a Python agent would
   add ~25 ms), p50 and p99;
3. floor: the CPU of the processes a trivial job cannot do without (the shim with its agent, the uncommitted-work
   check), started outside Bosun, and the jobs/s they alone would allow on this machine's cores.

The helpers (an origin repository, the config, tasks written into the inbox) are shared with the agents and exec
benchmarks."""
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import time

from bosun_bench import inbox_path, insert_deliveries, make_origin, median, percentile, start, stop_and_clean

NAME = "worker"
DESCRIPTION = "trivial agent jobs per second, and enqueue → agent exec latency (local tracker, real git)"
ORDER = 40
RUNS = 3


def sizes(ctx):
    return {"trivial": 30, "latency": 10} if ctx.quick else {"trivial": 1000, "latency": 200}


def describe(ctx):
    s = sizes(ctx)
    return (f"{s['trivial']} jobs of /bin/true 8 at a time; {s['latency']} jobs one at a time; "
            f"worker.ready_worktrees {ctx.options['ready_worktrees']}")


def write_config(ctx, scratch, argv, concurrency, project=None, durability="normal"):
    """bosun.yaml with one agent, `bench` (ARGV), and by default a local-tracker project on a fresh origin."""
    if project is None:
        project = (f"  - name: bench\n    tracker: local\n    repo: {{ url: {make_origin(scratch)}, "
                   "default_branch: main }\n    authors: [bench]\n")
    config = os.path.join(scratch, "bosun.yaml")
    ready = ctx.options["ready_worktrees"]
    with open(config, "w") as f:
        f.write(f"""state_dir: ./state
listen: 127.0.0.1:0
durability: {durability}
worker: {{ max_concurrency: {concurrency}, lease_s: 300, heartbeat_s: 30, ready_worktrees: {ready} }}
agents:
  bench: {{ argv: {json.dumps(argv)}, probe: [/bin/true] }}
projects:
{project}""")
    return config


def request_tasks(scratch, count, prefix):
    """COUNT `task.create` deliveries in the inbox of the Bosun in SCRATCH, as `bosun task create` writes them."""
    db = sqlite3.connect(inbox_path(scratch), timeout=30)
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


def wait_for(predicate, timeout, what, interval=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def throughput(ctx, count):
    scratch = ctx.scratch()
    config = write_config(ctx, scratch, ["/bin/true"], 8)
    db_path = os.path.join(scratch, "state/bosun.db")
    process, _ = start(ctx.bin, config, scratch, "throughput")
    try:
        request_tasks(scratch, count, "trivial")
        wait_for(lambda: query(db_path, "SELECT COUNT(*) FROM runs WHERE state = 'exited'")[0][0] >= count, 1800,
                 f"{count} finished runs")
        first, last = query(db_path, "SELECT MIN(started_at_ms), MAX(finished_at_ms) FROM runs")[0]
        exited_zero = query(db_path, "SELECT COUNT(*) FROM runs WHERE state = 'exited' AND exit_code = 0")[0][0]
        ctx.check("worker: every trivial job ran its agent to exit 0", exited_zero >= count,
                  f"{exited_zero} of {count}")
        return count / max(0.001, (last - first) / 1000)
    finally:
        stop_and_clean(ctx.bin, config, process, scratch)


def latency(ctx, count):
    """The agent appends its exec time to a file outside the worktree (one written inside would be committed and
    pushed after each run), and each task is requested once the previous job has finished, so that no sample
    overlaps the work of the job before it."""
    scratch = ctx.scratch()
    stamps = os.path.join(scratch, "exec-stamps")
    config = write_config(ctx, scratch, ["/bin/sh", "-c", f"date +%s%3N >> {stamps}"], 4)
    db_path = os.path.join(scratch, "state/bosun.db")
    process, _ = start(ctx.bin, config, scratch, "latency")
    samples = []
    try:
        for i in range(count):
            # `bosun task create` wakes the gatekeeper; a row written into the inbox waits for its 2 s poll (before
            # the job exists: outside the figure either way, but 200 of them made a run 7 minutes long).
            subprocess.run([os.path.join(ctx.bin, "bosun"), "task", "create", "-c", config, "--project", "bench",
                            "--title", f"latency {i}"], check=True, capture_output=True)
            wait_for(lambda: query(db_path, "SELECT COUNT(*) FROM jobs WHERE state = 'succeeded'")[0][0] >= i + 1,
                     120, "the job", interval=0.01)
            job_created = query(db_path, "SELECT created_at_ms FROM jobs ORDER BY id DESC LIMIT 1")[0][0]
            with open(stamps) as f:
                executed = [int(line) for line in f.read().split()]
            if len(executed) != i + 1:
                break
            samples.append(executed[-1] - job_created)
        ctx.check("worker latency: each job's agent ran once", len(samples) == count,
                  f"{len(executed)} execs after {len(samples) + 1} jobs")
    finally:
        stop_and_clean(ctx.bin, config, process, scratch)
    return samples


def children_cpu_ms(commands):
    """CPU (user + system) of the processes COMMANDS (argv lists) start, each posix_spawned (nothing of Python runs
    in the child) and run to its end in turn, in ms per command: RUSAGE_CHILDREN before and after."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for argv in commands:
        pid = os.posix_spawn(argv[0], argv, os.environ,
                             file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{argv} failed: {status}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return spent * 1000 / len(commands)


def floor(ctx, count):
    """The processes one trivial job cannot do without, started COUNT times each outside Bosun: bosun-shim running
    /bin/true (with its run files: agent.pid, the log, exit.status fsynced), and the uncommitted-work check
    (`git status --porcelain=v2 --branch`) in a one-commit worktree."""
    scratch = ctx.scratch()
    make_origin(scratch)
    worktree = os.path.join(scratch, "seed")
    shim = os.path.join(ctx.bin, "bosun-shim")
    runs = []
    for i in range(count):
        directory = os.path.join(scratch, f"run-{i}")
        os.mkdir(directory)
        runs.append([shim, "--run-dir", directory, "--log", directory + ".log", "--cwd", worktree, "--", "/bin/true"])
    shim_ms = children_cpu_ms(runs)
    git = shutil.which("git")
    git_ms = children_cpu_ms([[git, "-C", worktree, "status", "--porcelain=v2", "--branch"]] * count)
    return {"floor.shim_ms": shim_ms, "floor.git_ms": git_ms,
            "floor.jobs_per_s": len(os.sched_getaffinity(0)) * 1000 / (shim_ms + git_ms)}


def once(ctx, index):
    s = sizes(ctx)
    samples = latency(ctx, s["latency"])
    return {"jobs_per_s": throughput(ctx, s["trivial"]), "exec.p50": median(samples),
            "exec.p99": percentile(samples, 99), **floor(ctx, s["latency"])}


def metrics(ctx):
    return [("jobs_per_s", "trivial agent jobs completed per second (8 at a time)", "jobs/s", "higher"),
            ("exec.p50", "enqueue → agent exec, p50 of the run (includes creating the worktree)", "ms", "lower"),
            ("exec.p99", "enqueue → agent exec, p99 of the run", "ms", "lower"),
            ("floor.shim_ms", "floor: CPU of bosun-shim running /bin/true, outside Bosun", "ms", "lower"),
            ("floor.git_ms", "floor: CPU of the uncommitted-work check (git status), outside Bosun", "ms", "lower"),
            ("floor.jobs_per_s", "floor: trivial jobs/s those two allow with every core busy", "jobs/s", "higher")]
