"""Zombie and orphan audit (SPEC §5.4): agent runs whose agents double-fork grandchildren that outlive them →
once every run has ended, no zombie under Bosun's process tree and no process left in any run's session; each job
ran exactly once.

The agent (chaos/agents/double-fork-audit.sh) records itself and its two grandchildren (pid, session, start ticks)
in a file per run, so leftovers are found by identity even after pids wrap (pid_max is often 32768)."""
import os
import time

import worker_support as support

NAME = "zombie-audit"
DESCRIPTION = "agents that double-fork grandchildren: zero zombies, zero processes left in any run's session"
ORDER = 60


def read_records(directory):
    """{run id: {"agent": (pid, sid, start), "stay": …, "escaped": …}} from the agent's record files."""
    records = {}
    for name in os.listdir(directory):
        if not name.isdigit():
            continue
        with open(os.path.join(directory, name)) as f:
            records[int(name)] = {kind: tuple(int(x) for x in rest) for kind, *rest in (line.split() for line in f)}
    return records


def bosun_zombies(supervisor_pid):
    """Zombies whose parent is the supervisor or any process below it (children, shims)."""
    table = support.process_table()
    tree = support.descendants(table, supervisor_pid)
    return [(p.pid, p.ppid, p.comm) for p in table.values() if p.state == "Z" and p.ppid in tree]


def run(context):
    count = 1000 if context.long else 60
    concurrency = 16 if context.long else 8
    scratch = context.scratch()
    origin = support.make_origin(scratch)
    records = os.path.join(scratch, "records")
    os.makedirs(records)
    bosun = context.bosun(
        agents=support.agent("audit", [os.path.join(support.AGENTS, "double-fork-audit.sh"), records]),
        projects=support.local_project("audit", origin),
        extra_config=f"worker: {{ max_concurrency: {concurrency}, lease_s: 300, heartbeat_s: 30 }}\n",
        durability="normal")
    supervisor = bosun.process.pid
    support.request_tasks(bosun, "audit", count, "zombie")

    # While the runs go: the most zombies seen at once under Bosun (an exit not yet reaped is one for a moment).
    most_zombies = 0
    deadline = time.monotonic() + (1800 if context.long else 180)
    while time.monotonic() < deadline:
        most_zombies = max(most_zombies, len(bosun_zombies(supervisor)))
        ended, live = bosun.query("""SELECT COUNT(*) FILTER (WHERE finished_at_ms IS NOT NULL),
                                            COUNT(*) FILTER (WHERE finished_at_ms IS NULL) FROM runs""")[0]
        if ended >= count and live == 0:
            break
        time.sleep(0.25)
    finished = support.wait_until(
        lambda: bosun.query("SELECT COUNT(*) FROM tasks WHERE state = 'done'")[0][0] >= count, 60)

    jobs = bosun.query("SELECT id, state, attempt FROM jobs WHERE kind = 'agent'")
    runs = bosun.query("""SELECT id, job_id, state, classification, exit_code, agent_pid, agent_start_time, shim_pid,
                                 shim_start_time, finished_at_ms FROM runs""")
    runs_per_job = {}
    for run_row in runs:
        runs_per_job[run_row[1]] = runs_per_job.get(run_row[1], 0) + 1
    twice = [job for job, n in runs_per_job.items() if n != 1]
    never = [job for job, _, _ in jobs if job not in runs_per_job]
    unfinished = [r[0] for r in runs if r[2] != "exited" or r[3] != "success" or r[4] != 0]
    context.check(f"{count} tasks: {count} agent jobs, each ran exactly once and ended with success",
                  finished and len(jobs) == count and not twice and not never and not unfinished
                  and all(state == "succeeded" and attempt == 1 for _, state, attempt in jobs),
                  f"{len(jobs)} jobs, {len(runs)} runs; jobs run more than once: {twice[:5]}; never: {never[:5]}; "
                  f"runs not exited 0 as success: {unfinished[:5]}")

    # The agent's own record agrees with the runs table: its pid, and a session of its own (sid = its pid).
    recorded = read_records(records)
    mismatched = [r[0] for r in runs if r[0] not in recorded
                  or recorded[r[0]]["agent"] != (r[5], r[5], r[6]) or "stay" not in recorded[r[0]]
                  or "escaped" not in recorded[r[0]]]
    context.check("every run's agent recorded itself and its two grandchildren, in a session of its own",
                  len(recorded) == count and not mismatched,
                  f"{len(recorded)} records; runs whose record disagrees with the runs table: {mismatched[:5]}")

    # Leftovers: a recorded grandchild still alive (same pid and start ticks), or any process in a run's sessions
    # (the agent's, the escaped grandchild's, the shim's) that started before that run ended.
    table = support.process_table()
    boot = support.boot_time_ms()
    survivors = []
    sessions = {}  # sid → the run's end (ms), for the sessions of every run
    for run_id, agent_pid, shim_pid, ended_ms in ((r[0], r[5], r[7], r[9]) for r in runs):
        record = recorded.get(run_id, {})
        for kind in ("stay", "escaped"):
            if kind in record:
                pid, sid, start = record[kind]
                process = table.get(pid)
                if process and process.start == start:
                    survivors.append(f"run {run_id} {kind} grandchild {process}")
                sessions[sid] = ended_ms
        for sid in (agent_pid, shim_pid):
            if sid:
                sessions[sid] = ended_ms
    in_sessions = [f"{p} (session of a run that ended at {sessions[p.sid]})" for p in table.values()
                   if p.sid in sessions and sessions[p.sid] and support.start_ms(p, boot) <= sessions[p.sid]]
    context.check(f"no grandchild alive and no process left in any of the runs' {len(sessions)} sessions",
                  not survivors and not in_sessions,
                  f"{len(survivors)} grandchildren alive, {len(in_sessions)} processes in run sessions"
                  + (f": {(survivors + in_sessions)[:5]}" if survivors or in_sessions else ""))

    # Zombies: none under Bosun's tree once everything ended (given 5 s for an exit in flight to be reaped).
    left = support.wait_until(lambda: not bosun_zombies(supervisor), 5) or bosun_zombies(supervisor)
    context.check("zero zombies under Bosun's process tree after all runs ended", left is True,
                  f"at most {most_zombies} at once while the runs went (exits not yet reaped)"
                  + ("" if left is True else f"; left: {left}"))
