"""What the chaos scenarios share: a scratch Bosun with a signed GitHub project, the supervisor's status, child pids,
a fixed-rate signed webhook load that records every outcome on the client side, and the store read directly.

Scenarios import this module; the runner (run.py) gives each one a Context."""
import collections
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time

from bosun_bench import control_status, make_origin, percentile, processes_mentioning, start  # noqa: F401  (bench/ is on sys.path; see run.py)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Tests", "BosunTests", "Fixtures")
SECRET = b"chaos-secret"


class Check:
    """One check's outcome. A measured check (`Context.measure`) that misses its bound is a warning, not a failure,
    unless the run is strict."""

    def __init__(self, name, ok, detail, warn_only=False):
        self.name, self.ok, self.detail, self.warn_only = name, bool(ok), detail, warn_only


class Context:
    """One scenario's run: its checks, its scratch directories, and the Bosuns it started (stopped by cleanup)."""

    def __init__(self, binary_dir, long, keep, name, strict=False):
        self.bin, self.long, self.keep, self.name, self.strict = binary_dir, long, keep, name, strict
        self.checks = []
        self._scratches = []
        self._bosuns = []

    def check(self, name, ok, detail=""):
        self.checks.append(Check(name, ok, detail))
        return ok

    def measure(self, name, ok, detail=""):
        """A latency bound that the machine's own noise can break (docs/CHAOS.md, "Measured checks"): reported
        like a check, with its figures; missing it fails the run only under --strict, else it is a warning."""
        self.checks.append(Check(name, ok, detail, warn_only=not self.strict))
        return ok

    def scratch(self):
        path = tempfile.mkdtemp(prefix=f"bosun-chaos-{self.name}-")
        self._scratches.append(path)
        return path

    def bosun(self, extra_config="", agents=None, projects=None, durability="full", scratch=None, ready=None):
        """A started Bosun in a fresh scratch directory, or in SCRATCH (see Bosun). With READY (child names), start
        waits only for those children; by default for all three."""
        bosun = Bosun(self.bin, scratch or self.scratch(), extra_config=extra_config, agents=agents,
                      projects=projects, durability=durability)
        self._bosuns.append(bosun)
        if ready is None:
            bosun.start()
        else:
            bosun.launch(ready)
        return bosun

    def cleanup(self):
        for bosun in self._bosuns:
            bosun.kill_tree()
        for path in self._scratches:
            if self.keep:
                print(f"   kept {path}")
            else:
                shutil.rmtree(path, ignore_errors=True)


GITHUB_PROJECT = """  - name: demo
    tracker: github
    repo: { url: https://github.com/acme/demo.git }
    webhook: { secret_file: ./secret }
"""

# The GitHub project `demo` where each `issues.opened` labelled `bosun` by the fixture's sender creates a task that
# then waits (a one-state workflow: no agent job). Its forge effects fail at once (no token), so nothing leaves the
# machine; what is checked is the inbox and the tasks.
GITHUB_TASK_PROJECT = """  - name: demo
    tracker: github
    repo: { url: https://github.com/acme/demo.git }
    webhook: { secret_file: ./secret }
    authors: [Codertocat]
    workflow:
      initial: waiting
      states:
        waiting: { type: hold, on: { issue_closed: done } }
        done: { type: terminal }
"""


def labelled_issue_body(number):
    """An `issues.opened` body for issue NUMBER carrying the trigger label: its delivery creates one task."""
    return github_issue_body(number, labels=("bosun",))


# Whether the delivery `d` has been applied: the gatekeeper records how far it got in the main file (docs/STORE.md).
PROCESSED = "(d.id <= (SELECT applied_through FROM main.inbox_cursor))"


class Bosun:
    """`bosun run` in its own scratch directory. The default config has one GitHub project `demo` whose webhooks are
    signed with SECRET; `agents`/`projects` replace those sections (YAML text), `extra_config` is appended."""

    def __init__(self, binary_dir, scratch, extra_config="", agents=None, projects=None, durability="full"):
        self.bin, self.scratch = binary_dir, scratch
        self.config = os.path.join(scratch, "bosun.yaml")
        self.db_path = os.path.join(scratch, "state", "bosun.db")
        self.inbox_path = os.path.join(scratch, "state", "inbox.db")
        self.control = os.path.join(scratch, "state", "run", "control.sock")
        with open(os.path.join(scratch, "secret"), "wb") as f:
            f.write(SECRET)
        text = f"state_dir: ./state\nlisten: 127.0.0.1:0\ndurability: {durability}\n"
        if agents:
            text += "agents:\n" + agents
        text += "projects:\n" + (projects if projects is not None else GITHUB_PROJECT)
        text += extra_config
        with open(self.config, "w") as f:
            f.write(text)
        self.process = None
        self.listen = None

    def start(self):
        self.process, self.listen = start(self.bin, self.config, self.scratch, "bosun")
        return self

    def launch(self, ready, timeout=30):
        """Runs `bosun run` and waits only until the children named in READY are ready (start() waits for all three
        and gives up otherwise); for a Bosun one of whose children is meant never to start."""
        log = open(os.path.join(self.scratch, "bosun.log"), "w")
        self.process = subprocess.Popen([os.path.join(self.bin, "bosun"), "run", "-c", self.config], stdout=log,
                                        stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status = self.status()
                states = {p["name"]: p["state"] for p in status["processes"]}
                if all(states.get(name) == "ready" for name in ready):
                    self.listen = status["supervisor"]["listen"]
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{', '.join(ready)} not ready within {timeout} s; see {log.name}")

    def status(self):
        return control_status(self.control)

    def child_pid(self, name):
        """The pid of child NAME (ingress, worker, gatekeeper) per the supervisor, or None while it is down."""
        for process in self.status()["processes"]:
            if process["name"] == name:
                return process.get("pid")
        raise KeyError(name)

    def child(self, name):
        return next(p for p in self.status()["processes"] if p["name"] == name)

    def wait_ready(self, name, timeout=30, not_pid=None):
        """Waits until child NAME is ready (and, with not_pid, is a new process); returns its pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                child = self.child(name)
                if child["state"] == "ready" and child.get("pid") and child["pid"] != not_pid:
                    return child["pid"]
            except OSError:
                pass
            time.sleep(0.02)
        raise TimeoutError(f"{name} not ready within {timeout} s")

    def cli(self, *args, check=True):
        return subprocess.run([os.path.join(self.bin, "bosun"), *args, "-c", self.config], capture_output=True,
                              text=True, check=check, timeout=120)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.cli("stop", check=False)
            self.process.wait(timeout=60)

    def kill_tree(self):
        """Stops this Bosun however it is: a graceful stop first, then SIGKILL to anything left under the scratch."""
        try:
            self.stop()
        except Exception:
            pass
        for pid in processes_mentioning(self.scratch):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def db(self):
        """A connection to the main file with the inbox file attached as `inbox`: `deliveries` and `delivery_bodies`
        are found there (the main file has no such tables), `PROCESSED` compares with the main file's cursor, and
        `PRAGMA integrity_check` checks both files."""
        db = sqlite3.connect(self.db_path, timeout=30)
        db.execute("ATTACH DATABASE ? AS inbox", (self.inbox_path,))
        return db

    def query(self, sql, args=()):
        db = self.db()
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()


    def wait_processed(self, timeout=60):
        """Waits until the gatekeeper has applied every delivery in the inbox; returns how many are left (0)."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.query(f"SELECT COUNT(*) FROM deliveries d WHERE NOT {PROCESSED}")[0][0]
            if left == 0 or time.monotonic() >= deadline:
                return left
            time.sleep(0.1)

    def inbox_audit(self, delivery_ids):
        """What the store holds for DELIVERY_IDS (GitHub deliveries of project demo): ids not stored, ids stored more
        than once, ids stored but not marked processed, and ids whose row is referenced by more or fewer than one
        task `created` event (each delivery of github_issue_body(…, ("bosun",)) creates exactly one task)."""
        rows = self.query(f"""SELECT d.delivery_id, {PROCESSED},
                                    (SELECT COUNT(*) FROM task_events e WHERE e.delivery_id = d.id
                                       AND e.event = 'created')
                             FROM deliveries d WHERE d.source = 'github' AND d.project = 'demo'""")
        stored = collections.Counter(row[0] for row in rows)
        unprocessed = {row[0] for row in rows if not row[1]}
        created = {row[0]: row[2] for row in rows}
        wanted = set(delivery_ids)
        return {
            "missing": sorted(wanted - set(stored)),
            "duplicated": sorted(d for d in wanted if stored[d] > 1),
            "unprocessed": sorted(wanted & unprocessed),
            "not_created_once": sorted(d for d in wanted if d in created and created[d] != 1),
        }

    def duplicate_tasks(self):
        """Issues of project demo with more than one task: [(issue, count)]."""
        return self.query("""SELECT issue, COUNT(*) FROM tasks WHERE project = 'demo' GROUP BY issue
                             HAVING COUNT(*) > 1""")


class PidWatch:
    """Samples the pid of one child (per the supervisor's status) every INTERVAL seconds on a thread, so that a
    scenario can tell whether the child was ever replaced, however briefly: `pids` is every distinct pid seen."""

    def __init__(self, bosun, name, interval=0.1):
        self.bosun, self.name, self.interval = bosun, name, interval
        self.pids = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self):
        while not self._stop.is_set():
            try:
                pid = self.bosun.child_pid(self.name)
                self.samples += 1
                if not self.pids or self.pids[-1] != pid:
                    self.pids.append(pid)
            except (OSError, ValueError):
                pass
            self._stop.wait(self.interval)


def git_origin(scratch):
    """A bare git repository with one commit on main, for a project on the local tracker."""
    return make_origin(scratch, who="chaos")


def wait_until(predicate, timeout, interval=0.05):
    """Polls PREDICATE until it is true or TIMEOUT seconds have passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def github_issue_body(number, labels=()):
    """The fixture `issues.opened` body for issue NUMBER (so each delivery can be told apart in the store)."""
    with open(os.path.join(FIXTURES, "webhooks", "github", "issues.opened.json"), "rb") as f:
        body = json.load(f)
    body["issue"]["number"] = number
    body["issue"]["labels"] = [{"name": name} for name in labels]
    return json.dumps(body).encode()


Outcome = collections.namedtuple("Outcome", "delivery status error latency_ms sent_at")


class SignedLoad:
    """Signed GitHub `issues` webhooks to /webhooks/github/demo at a fixed total rate from `threads` threads, a new
    connection per request (so a refused connection is seen as one). Every request's outcome is recorded: the
    delivery id, the HTTP status (or None), the error kind (`refused`, `reset`, `timeout`, …) and the latency."""

    _numbers_lock = threading.Lock()
    _last_number = 0

    def __init__(self, address, rate, threads=4, project="demo", body=github_issue_body, timeout=10):
        self.address, self.rate, self.threads, self.project = address, rate, threads, project
        self.body, self.timeout = body, timeout
        self.outcomes = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        for index in range(self.threads):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._workers.append(thread)

    def stop(self):
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=self.timeout + 5)

    def _next_number(self):
        # Numbered across every load of this process, so that two loads against one Bosun never share a delivery
        # id or an issue.
        with SignedLoad._numbers_lock:
            SignedLoad._last_number += 1
            return SignedLoad._last_number

    def _run(self, index):
        interval = self.threads / self.rate
        next_at = time.monotonic() + index * interval / self.threads
        host, port = self.address.rsplit(":", 1)
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at += interval
            number = self._next_number()
            self.record(self.post(host, int(port), number))

    def post(self, host, port, number):
        delivery = f"chaos-{os.getpid()}-{number}"
        payload = self.body(number)
        signature = "sha256=" + hmac.new(SECRET, payload, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery,
                   "X-Hub-Signature-256": signature, "Connection": "close"}
        sent_at = time.monotonic()
        connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        try:
            connection.request("POST", f"/webhooks/github/{self.project}", body=payload, headers=headers)
            response = connection.getresponse()
            response.read()
            return Outcome(delivery, response.status, None, (time.monotonic() - sent_at) * 1000, sent_at)
        except ConnectionRefusedError:
            return Outcome(delivery, None, "refused", (time.monotonic() - sent_at) * 1000, sent_at)
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            return Outcome(delivery, None, "reset", (time.monotonic() - sent_at) * 1000, sent_at)
        except socket.timeout:
            return Outcome(delivery, None, "timeout", (time.monotonic() - sent_at) * 1000, sent_at)
        except OSError as error:
            return Outcome(delivery, None, type(error).__name__, (time.monotonic() - sent_at) * 1000, sent_at)
        finally:
            connection.close()

    def record(self, outcome):
        with self._lock:
            self.outcomes.append(outcome)

    def accepted(self):
        """Delivery ids answered 2xx."""
        return [o.delivery for o in self.outcomes if o.status is not None and 200 <= o.status < 300]

    def summary(self):
        """Counts by status or error kind, e.g. {'202': 980, 'refused': 0}."""
        counts = collections.Counter(str(o.status) if o.status is not None else o.error for o in self.outcomes)
        return dict(counts)

    def latencies(self):
        return [o.latency_ms for o in self.outcomes if o.status is not None]
