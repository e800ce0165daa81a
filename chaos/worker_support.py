"""What the worker- and store-side chaos scenarios share (zombie_audit, sqlite_kill, rate_limit): a local-tracker
project with a real git origin, tasks requested through the inbox, a snapshot of /proc, and the SQLite write lock as
/proc/locks shows it. The general harness (scratch Bosun, signed load) is chaos/harness.py."""
import json
import os
import time

from bosun_bench import insert_deliveries, make_origin  # noqa: F401  (bench/ is on sys.path, see run.py)
from harness import wait_until  # noqa: F401  (the scenarios call support.wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
AGENTS = os.path.join(HERE, "agents")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# One active stage whose agent must merely succeed, then done: each task is exactly one agent job.
ONE_STAGE_WORKFLOW = "{ initial: work, states: { work: { type: active, role: developer, on: { passed: done } }, " \
                     "done: { type: terminal } } }"


def local_project(name, origin, workflow=ONE_STAGE_WORKFLOW, authors=("chaos",)):
    """A `projects:` entry (YAML) for a local-tracker project on the git repository ORIGIN."""
    return (f"  - name: {name}\n    tracker: local\n    repo: {{ url: {origin}, default_branch: main }}\n"
            f"    authors: [{', '.join(authors)}]\n    workflow: {workflow}\n")


def agent(name, argv):
    """An `agents:` entry (YAML); the probe is /bin/true so that preflight never runs the agent itself."""
    return f"  {name}: {{ argv: {json.dumps(argv)}, probe: [/bin/true] }}\n"


def request_tasks(bosun, project, count, prefix):
    """Puts COUNT `task.create` deliveries in the inbox, as the REST API stores them; the gatekeeper makes one task and
    one agent job of each. Returns their delivery ids."""
    now = int(time.time() * 1000)
    rows = []
    for index in range(count):
        delivery = f"{prefix}-{index}-{now}"
        body = json.dumps({"title": f"{prefix} {index}", "body": "chaos", "author": "chaos"}).encode()
        rows.append(("api", project, "task.create", delivery, delivery, "{}", body, now))
    db = bosun.db()
    try:
        insert_deliveries(db, rows)
        db.commit()
    finally:
        db.close()
    return [row[3] for row in rows]


class Process:
    """One line of /proc/PID/stat: pid, ppid, process group, session, state, start ticks (field 22), comm."""
    __slots__ = ("pid", "ppid", "pgid", "sid", "state", "start", "comm")

    def __init__(self, pid, ppid, pgid, sid, state, start, comm):
        self.pid, self.ppid, self.pgid, self.sid = pid, ppid, pgid, sid
        self.state, self.start, self.comm = state, start, comm

    def __repr__(self):
        return f"{self.pid}({self.comm}, ppid {self.ppid}, sid {self.sid}, {self.state})"


def process_table():
    """Every process on the machine now, by pid."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry)] = Process(int(entry), int(fields[1]), int(fields[2]), int(fields[3]), fields[0],
                                    int(fields[19]), comm)
    return table


def descendants(table, root):
    """ROOT and every process below it in TABLE."""
    children = {}
    for process in table.values():
        children.setdefault(process.ppid, []).append(process.pid)
    found, pending = set(), [root]
    while pending:
        pid = pending.pop()
        if pid in found:
            continue
        found.add(pid)
        pending += children.get(pid, [])
    return found


def boot_time_ms():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return int(line.split()[1]) * 1000
    raise RuntimeError("no btime in /proc/stat")


def start_ms(process, boot_ms):
    """When PROCESS started, in ms since 1970 (to the clock tick, 10 ms)."""
    return boot_ms + process.start * 1000 // CLOCK_TICKS


# SQLite's WAL index (the -shm file) locks one byte per lock from offset 120: the first is the write lock, which a
# connection holds from its write transaction's first write (BEGIN IMMEDIATE) until COMMIT or ROLLBACK has finished.
WAL_WRITE_LOCK_OFFSET = 120


def holds_wal_write_lock(pid, shm_path):
    """True if process PID holds the write lock of the SQLite database whose WAL index is SHM_PATH, i.e. it is inside
    a write transaction. Read from /proc/locks (SQLite's unix VFS locks the -shm file with fcntl)."""
    try:
        stat = os.stat(shm_path)
    except FileNotFoundError:
        return False
    inode = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    with open("/proc/locks") as f:
        for line in f:
            fields = line.split()
            if "->" in fields:  # a waiter, listed under the lock it waits for
                continue
            # 1: POSIX  ADVISORY  WRITE 1234 08:01:5678 120 120
            if len(fields) >= 8 and fields[1] == "POSIX" and fields[3] == "WRITE" and fields[4] == str(pid) \
                    and fields[5] == inode and int(fields[6]) <= WAL_WRITE_LOCK_OFFSET \
                    and (fields[7] == "EOF" or int(fields[7]) >= WAL_WRITE_LOCK_OFFSET):
                return True
    return False
