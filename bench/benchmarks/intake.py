"""Intake: signed GitHub `issues` webhooks posted by wrk (2 threads, a unique delivery id per request, the same
13.5 KB body) at 16 and 64 connections, to Bosun (durability full, the default, and normal) and to Debian's
`webhook` verifying the same HMAC-SHA256 signature and running `sh -c 'printf . >> ran'` per hook.

Per server and connection count: requests/s answered 202, wrk's p50 and p99 latency, and the server's CPU time per
1,000 accepted requests (Bosun: supervisor, ingress, worker and gatekeeper, until the gatekeeper has applied every
delivery; webhook: itself and the commands it ran), and how many 202s were never done: for Bosun a check (every
202 is a stored row, the only extras being requests wrk abandoned at its cutoff, at most one per connection, or timed
out), for webhook a figure. webhook answers before it runs the command, starts one per request at once, and under
this load runs out of descriptors (its log with -verbose: `fork/exec /bin/sh: too many open files`, `pipe2: too many
open files`, with 20,000 allowed): it answered 202 and never ran the command. Before the load, for both: a wrongly
signed request is refused and changes nothing, a signed one is taken."""
import hashlib
import hmac
import http.client
import os
import re
import sqlite3
import subprocess
import time

import peers
from bosun_bench import cpu_seconds, descendants, inbox_path, start, stop, unapplied_deliveries

NAME = "intake"
DESCRIPTION = "signed webhooks with wrk: Bosun vs Debian's webhook (requests/s, p50/p99, CPU per request)"
ORDER = 10
NEEDS_PEERS = True

HERE = os.path.dirname(os.path.abspath(__file__))
PAYLOAD = os.path.join(HERE, "../../Tests/BosunTests/Fixtures/webhooks/github/issues.opened.json")
SECRET = b"bench-secret"
PEER_COMMAND = "printf . >> ran"
SERVERS = ("bosun-full", "bosun-normal", "webhook")


def sizes(ctx):
    return {"duration_s": 2 if ctx.quick else 10, "connections": (16, 64)}


def describe(ctx):
    s = sizes(ctx)
    return (f"wrk -t2 -c{{{','.join(map(str, s['connections']))}}} -d{s['duration_s']}s -s bench/benchmarks/post.lua "
            f"per server, in turn (order reversed every other run)")


def signature(body, secret=SECRET):
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def post(address, path, body, signature_header, delivery):
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery}
    if signature_header is not None:
        headers["X-Hub-Signature-256"] = signature_header
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wrk(url, connections, duration_s, payload_path, signature_header):
    """post.lua's RESULT fields, and `cpu_s`: wrk's own CPU time (user + system, from wait4)."""
    env = dict(os.environ, BODY_FILE=payload_path, SIGNATURE=signature_header)
    # --timeout 10s: wrk's default (2 s) drops slower answers from its latencies and counts them as errors.
    process = subprocess.Popen(["wrk", "-t2", f"-c{connections}", f"-d{duration_s}s", "--timeout", "10s", "-s",
                                os.path.join(HERE, "post.lua"), url], env=env, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or "RESULT" not in output:
        raise RuntimeError(f"wrk failed ({process.returncode}): {output}")
    result = {key: float(value) for key, value in re.findall(r"(\w+)=([\d.]+)", output.split("RESULT", 1)[1])}
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    return result


def wait_stable(server, quiet_s=0.5, timeout=60):
    """Waits until the server's done() count has not moved for QUIET_S: requests wrk abandoned at its cutoff may still
    be finishing, and must count in this measurement, not the next one."""
    deadline = time.monotonic() + timeout
    last = server.done()
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = server.done()
        if now == last:
            return
        last = now


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


class BosunServer:
    """A scratch Bosun with one GitHub project, `demo`, whose webhooks are signed with SECRET."""

    def __init__(self, ctx, durability):
        self.ctx = ctx
        self.scratch = ctx.scratch()
        with open(os.path.join(self.scratch, "secret"), "wb") as f:
            f.write(SECRET)
        self.config = os.path.join(self.scratch, "bosun.yaml")
        with open(self.config, "w") as f:
            f.write(f"state_dir: ./state\nlisten: 127.0.0.1:0\ndurability: {durability}\nprojects:\n"
                    "  - name: demo\n    tracker: github\n    repo: { url: https://github.com/acme/demo.git }\n"
                    "    webhook: { secret_file: ./secret }\n")
        self.process, self.address = start(ctx.bin, self.config, self.scratch, "bosun")
        self.path = "/webhooks/github/demo"

    def pids(self):
        return [self.process.pid, *descendants(self.process.pid)]

    def cpu(self):
        return sum(cpu_seconds(pid) for pid in self.pids())

    def done(self):
        """What the server has done so far: deliveries stored."""
        db = sqlite3.connect(inbox_path(self.scratch), timeout=30)
        try:
            return db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
        finally:
            db.close()

    def settle(self, expected):
        """Waits until the gatekeeper has applied every stored delivery (the rest of Bosun's work for them)."""
        return wait_until(lambda: unapplied_deliveries(self.scratch) == 0, 120)

    def stop(self):
        stop(self.ctx.bin, self.config, self.process)


class WebhookServer:
    """Debian's webhook with one hook verifying GitHub's signature with SECRET and running PEER_COMMAND."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.scratch = ctx.scratch()
        hooks = peers.write_webhook_hooks(self.scratch, SECRET, PEER_COMMAND)
        port = peers.free_port()
        self.process = peers.start_webhook(ctx.peers, self.scratch, hooks, port)
        self.address = f"127.0.0.1:{port}"
        self.path = "/hooks/github"

    def pids(self):
        return [self.process.pid, *descendants(self.process.pid)]

    def cpu(self):
        return cpu_seconds(self.process.pid, reaped_children=True)

    def done(self):
        """What the server has done so far: commands that ran (one byte each)."""
        try:
            return os.path.getsize(os.path.join(self.scratch, "ran"))
        except FileNotFoundError:
            return 0

    def settle(self, expected):
        """Waits until the commands of every accepted request have run, or until none is running and the count has
        stopped moving (webhook drops the commands it cannot start); True if all ran."""
        wait_until(lambda: self.done() >= expected or not descendants(self.process.pid), 60)
        wait_stable(self)
        wait_until(lambda: not descendants(self.process.pid), 30)
        return self.done() >= expected

    def stop(self):
        peers.stop_process(self.process)


def open_server(ctx, name):
    return WebhookServer(ctx) if name == "webhook" else BosunServer(ctx, name.split("-", 1)[1])


def preflight(ctx, name, server, body):
    """A wrongly signed request must be refused and change nothing; a signed one must be taken and done once."""
    before = server.done()
    wrong = post(server.address, server.path, body, signature(body, b"not-the-secret"), f"preflight-wrong-{name}")
    missing = post(server.address, server.path, body, None, f"preflight-unsigned-{name}")
    time.sleep(0.3)
    refused = server.done() == before
    ctx.check(f"{name}: wrong and missing signatures refused, nothing done", 400 <= wrong and 400 <= missing
              and refused, f"answers {wrong} and {missing}; done {server.done() - before}")
    good = post(server.address, server.path, body, signature(body), f"preflight-good-{name}-{time.time_ns()}")
    server.settle(before + 1)
    ctx.check(f"{name}: a signed request is taken and done once", good == 202 and server.done() == before + 1,
              f"answer {good}; done {server.done() - before}")


def once(ctx, index):
    s = sizes(ctx)
    body = open(PAYLOAD, "rb").read()
    order = SERVERS if index % 2 == 0 else tuple(reversed(SERVERS))
    results = {}
    for name in order:
        server = open_server(ctx, name)
        try:
            if index == 0:
                preflight(ctx, name, server, body)
            for connections in s["connections"]:
                before_done, before_cpu = server.done(), server.cpu()
                result = wrk(f"http://{server.address}{server.path}", connections, s["duration_s"], PAYLOAD,
                             signature(body))
                accepted = int(result["accepted"])
                wait_stable(server)
                settled = server.settle(before_done + accepted)
                cpu = server.cpu() - before_cpu
                extra = server.done() - before_done - accepted
                timeouts = int(result["errors_timeout"])
                errors = sum(int(result[k]) for k in ("errors_connect", "errors_read", "errors_write"))
                key = f"{name}.c{connections}"
                results[f"{key}.lost"] = max(0, -extra)
                if name == "webhook":
                    ctx.check(f"{name} c{connections} run {index + 1}: every request answered 202, no errors",
                              result["other"] == 0 and errors == 0,
                              f"{int(result['other'])} other answers, {errors} socket errors")
                else:
                    ctx.check(f"{name} c{connections} run {index + 1}: every 202 done, only cutoff extras, no errors",
                              settled and 0 <= extra <= connections + timeouts and result["other"] == 0
                              and errors == 0,
                              f"{accepted} accepted, {extra} extra (in flight at wrk's cutoff or timed out), "
                              f"{int(result['other'])} other answers, {timeouts} timeouts, {errors} socket errors")
                results[f"{key}.rps"] = accepted / result["duration_s"]
                results[f"{key}.p50"] = result["p50_ms"]
                results[f"{key}.p99"] = result["p99_ms"]
                results[f"{key}.cpu"] = cpu * 1000 / max(1, accepted) * 1000
        finally:
            server.stop()
    return results


LABELS = {"bosun-full": "Bosun, durability full", "bosun-normal": "Bosun, durability normal",
          "webhook": "webhook 2.8"}


def metrics(ctx):
    found = []
    for connections in sizes(ctx)["connections"]:
        for name in SERVERS:
            key = f"{name}.c{connections}"
            label = f"{LABELS[name]}, {connections} conns"
            found += [(f"{key}.rps", f"{label}: requests/s", "req/s", "higher"),
                      (f"{key}.p50", f"{label}: p50 latency", "ms", "lower"),
                      (f"{key}.p99", f"{label}: p99 latency", "ms", "lower"),
                      (f"{key}.cpu", f"{label}: CPU per 1,000 requests", "ms", "lower"),
                      (f"{key}.lost", f"{label}: 202s never done (no row / command not run)", "requests", "lower")]
    return found


def ratios(ctx):
    found = []
    for connections in sizes(ctx)["connections"]:
        for name in ("bosun-full", "bosun-normal"):
            mine, peer = f"{name}.c{connections}", f"webhook.c{connections}"
            label = f"{LABELS[name]} ÷ webhook, {connections} conns"
            found += [(f"{label}: requests/s", f"{mine}.rps", f"{peer}.rps", "higher"),
                      (f"{label}: p99 latency", f"{mine}.p99", f"{peer}.p99", "lower"),
                      (f"{label}: CPU per request", f"{mine}.cpu", f"{peer}.cpu", "lower")]
    return found
