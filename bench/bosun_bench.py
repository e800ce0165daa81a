"""What the benchmarks share: starting and stopping a Bosun, its control socket, writing deliveries straight into
its inbox, and reading processes from /proc (children, resident memory, CPU time). Each benchmark module and the
chaos harness import from here (bench/ is on sys.path)."""
import json
import os
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Control:
    """A client of the control socket speaking the IPC protocol of docs/IPC.md, on one connection (cheap enough to
    poll every millisecond)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.next_id = 1
        self.request("hello", {"role": "cli", "pid": os.getpid(), "program": "bench", "version": "bench"})

    def request(self, type_, payload):
        envelope = {"v": 1, "id": self.next_id, "kind": "request", "type": type_, "payload": payload}
        self.next_id += 1
        body = json.dumps(envelope).encode()
        self.sock.sendall(struct.pack(">I", len(body)) + body)
        (length,) = struct.unpack(">I", self._read(4))
        reply = json.loads(self._read(length))
        if reply["kind"] != "reply":
            raise RuntimeError(f"{type_}: {reply}")
        return reply["payload"]

    def _read(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise RuntimeError("control socket closed")
            data += chunk
        return data

    def status(self):
        return self.request("status", {})

    def processes(self):
        return {p["name"]: p for p in self.status()["processes"]}

    def close(self):
        self.sock.close()


def control_status(path):
    """The supervisor's status reply, over a fresh connection to the control socket."""
    control = Control(path)
    try:
        return control.status()
    finally:
        control.close()


def start(binary_dir, config, scratch, name):
    """Runs `bosun run -c config` (output in scratch/NAME.log) until all three children are ready; returns the
    process and the address ingress listens on."""
    log = open(os.path.join(scratch, name + ".log"), "w")
    process = subprocess.Popen([os.path.join(binary_dir, "bosun"), "run", "-c", config], stdout=log, stderr=log)
    control = os.path.join(scratch, "state/run/control.sock")
    for _ in range(600):
        try:
            status = control_status(control)
            if all(p["state"] == "ready" for p in status["processes"]):
                return process, status["supervisor"]["listen"]
        except (OSError, RuntimeError):
            pass
        time.sleep(0.05)
    process.kill()
    sys.exit("bosun did not become ready; see " + log.name)


def stop(binary_dir, config, process):
    subprocess.run([os.path.join(binary_dir, "bosun"), "stop", "-c", config], capture_output=True)
    process.wait(timeout=60)


def stop_and_clean(binary_dir, config, process, scratch):
    """Stops Bosun, then SIGKILLs what it leaves by design (agent runs outlive it to be adopted by the next one):
    every process whose command line or working directory is under SCRATCH."""
    try:
        stop(binary_dir, config, process)
    except subprocess.TimeoutExpired:
        process.kill()
    for pid in processes_mentioning(scratch):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def inbox_path(scratch):
    """The inbox file of a Bosun whose state_dir is SCRATCH/state (docs/STORE.md): the deliveries, apart from the
    main file `bosun.db`, which records how far the gatekeeper applied them (`inbox_cursor`)."""
    return os.path.join(scratch, "state", "inbox.db")


def inbox_cursor(main_db):
    """The last delivery id the gatekeeper applied (every one up to it is applied), from a connection to bosun.db."""
    return main_db.execute("SELECT applied_through FROM inbox_cursor WHERE id = 1").fetchone()[0]


def unapplied_deliveries(scratch):
    """How many stored deliveries the gatekeeper has not applied yet."""
    main = sqlite3.connect(os.path.join(scratch, "state", "bosun.db"), timeout=30)
    inbox = sqlite3.connect(inbox_path(scratch), timeout=30)
    try:
        cursor = inbox_cursor(main)
        return inbox.execute("SELECT COUNT(*) FROM deliveries WHERE id > ?", (cursor,)).fetchone()[0]
    finally:
        main.close()
        inbox.close()


def insert_deliveries(db, rows):
    """Writes deliveries as ingress stores them (a row in `deliveries`, its headers and body in `delivery_bodies`);
    DB is a connection to the inbox file (`inbox_path`).
    rows: (source, project, event, delivery_id, body_sha256, headers_json, body_bytes, received_at_ms)."""
    for source, project, event, delivery_id, sha, headers, body, received in rows:
        cursor = db.execute("""INSERT INTO deliveries (source, project, event, delivery_id, body_sha256,
                               received_at_ms) VALUES (?, ?, ?, ?, ?, ?)""",
                            (source, project, event, delivery_id, sha, received))
        db.execute("INSERT INTO delivery_bodies (id, headers, body) VALUES (?, ?, ?)",
                   (cursor.lastrowid, headers, body))


# Processes, from /proc.

def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (field 3, the state, is index 0)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def children(pid):
    """Live (not zombie) children of PID, from every thread (a multi-threaded parent's children hang off the thread
    that forked them, so /proc/PID/task/*/children, not the main thread's list alone)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(child) for child in f.read().split())
        except OSError:
            pass
    live = []
    for child in found:
        try:
            if _stat_fields(child)[0] != "Z":
                live.append(child)
        except OSError:
            pass
    return live


def descendants(pid):
    """PID's live descendants, depth first."""
    found = []
    for child in children(pid):
        found.append(child)
        found.extend(descendants(child))
    return found


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def private_kib(pid):
    """Private (unshared) resident memory: what one more such process costs."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return sum(int(line.split()[1]) for line in f if line.startswith(("Private_Clean:", "Private_Dirty:")))
    except OSError:
        return 0


def cpu_seconds(pid, reaped_children=False):
    """User + system CPU time of PID (its ended threads included); with reaped_children, also that of the children
    it has waited for (cutime + cstime)."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def processes_mentioning(text):
    """Pids whose command line or working directory contains TEXT (how leftovers of one scratch are found)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if text in cmdline or cwd.startswith(text):
            found.append(int(entry))
    return found


# Statistics.

def percentile(values, p):
    """The nearest-rank P-th percentile (P in 0…100) of VALUES; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def median(values):
    return statistics.median(values) if values else float("nan")


def make_origin(scratch, who="bench"):
    """A bare git repository (scratch/origin.git) with one commit on main, for a project on the local tracker."""
    origin = os.path.join(scratch, "origin.git")
    seed = os.path.join(scratch, "seed")
    git = ["git", "-c", f"user.name={who}", "-c", f"user.email={who}@localhost"]
    subprocess.run(["git", "init", "-q", "--bare", origin], check=True)
    os.makedirs(seed)
    subprocess.run(git + ["-C", seed, "init", "-q", "-b", "main"], check=True)
    with open(os.path.join(seed, "README.md"), "w") as f:
        f.write(f"{who}\n")
    subprocess.run(git + ["-C", seed, "add", "-A"], check=True)
    subprocess.run(git + ["-C", seed, "commit", "-q", "-m", "initial"], check=True)
    subprocess.run(git + ["-C", seed, "push", "-q", origin, "main"], check=True)
    return origin
