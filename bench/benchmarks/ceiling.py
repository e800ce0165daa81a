"""Ceiling: what this machine allows the intake benchmark at best, whatever the server. Two C programs
(bench/ceiling/, built with cc at the start of each run):

- server.c, an epoll loop on one thread that reads each request whole and answers 202, verifying, parsing and
  storing nothing, under exactly the intake benchmark's wrk (2 threads, 64 connections, post.lua, the 13.5 KB
  signed GitHub `issues` body): requests/s, p50/p99, and the CPU per request of wrk itself and of the server;
- work.c, the work each verified delivery needs, without HTTP: HMAC-SHA256 and SHA-256 of the body (OpenSSL), then
  the row inserted into a WAL SQLite database with synchronous=FULL, 64 rows per commit: CPU per delivery.

Their sum is a floor on the CPU one stored delivery costs on this machine under this benchmark (it leaves out JSON
validation, the HTTP parsing beyond the head, and applying the delivery), and the machine's cores divided by it
bound the deliveries per second any implementation could store here with wrk running beside it.

Beside them, Bosun's HTTP layer alone: `GET /healthz` (answered without touching the store) under wrk at the same
64 connections: requests/s, p99, and ingress's CPU per request — what Hummingbird, NIO and Bosun's request
handling cost before any webhook work."""
import os
import re
import shutil
import subprocess

import peers
from benchmarks.intake import PAYLOAD, BosunServer, signature, wrk
from bosun_bench import comm, cpu_seconds

NAME = "ceiling"
DESCRIPTION = "what any server could do here: an empty C server under the intake load, and the storage work in C"
ORDER = 12
CONNECTIONS = 64
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = os.path.join(HERE, "../ceiling")


def sizes(ctx):
    return {"duration_s": 2 if ctx.quick else 10, "deliveries": 2000 if ctx.quick else 20000}


def describe(ctx):
    s = sizes(ctx)
    return (f"wrk -t2 -c{CONNECTIONS} -d{s['duration_s']}s -s bench/benchmarks/post.lua against bench/ceiling/server.c; "
            f"bench/ceiling/work.c storing {s['deliveries']:,} deliveries")


def compiler():
    for name in ("cc", "gcc", "clang"):
        if shutil.which(name):
            return name
    raise RuntimeError("no C compiler (cc, gcc or clang) on PATH")


def build(scratch):
    server, work = os.path.join(scratch, "server"), os.path.join(scratch, "work")
    subprocess.run([compiler(), "-O2", "-o", server, os.path.join(SOURCES, "server.c")], check=True)
    subprocess.run([compiler(), "-O2", "-o", work, os.path.join(SOURCES, "work.c"), "-lcrypto", "-lsqlite3"],
                   check=True)
    return server, work


def once(ctx, index):
    s = sizes(ctx)
    scratch = ctx.scratch()
    server_program, work_program = build(scratch)
    body = open(PAYLOAD, "rb").read()
    results = {}

    port = peers.free_port()
    server = subprocess.Popen([server_program, str(port)])
    try:
        peers.wait_listening(server, port, "the ceiling server", "its output above")
        before = cpu_seconds(server.pid)
        result = wrk(f"http://127.0.0.1:{port}/webhooks/github/demo", CONNECTIONS, s["duration_s"], PAYLOAD,
                     signature(body))
        server_cpu = cpu_seconds(server.pid) - before
    finally:
        server.kill()
        server.wait()
    answered = result["accepted"]
    errors = sum(result[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout"))
    ctx.check(f"ceiling run {index + 1}: every request answered 202, no errors",
              answered > 0 and result["other"] == 0 and errors == 0,
              f"{answered:.0f} answered 202, {result['other']:.0f} other, {errors:.0f} errors")
    results["http.rps"] = answered / result["duration_s"]
    results["http.p50"] = result["p50_ms"]
    results["http.p99"] = result["p99_ms"]
    results["http.wrk_us"] = result["cpu_s"] / max(1, answered) * 1e6
    results["http.server_us"] = server_cpu / max(1, answered) * 1e6

    for mode in ("hash", "store"):
        database = os.path.join(scratch, f"inbox-{mode}.sqlite")
        output = subprocess.run([work_program, PAYLOAD, database, str(s["deliveries"]), mode], capture_output=True,
                                text=True, check=True).stdout
        fields = dict(item.split("=") for item in output.split()[1:])
        results[f"work.{mode}_us"] = float(fields["cpu_us"])
    stored = subprocess.run(["sqlite3", os.path.join(scratch, "inbox-store.sqlite"),
                             "SELECT COUNT(*) FROM deliveries"], capture_output=True, text=True).stdout.strip()
    ctx.check(f"ceiling run {index + 1}: the storage half stored every delivery", stored == str(s["deliveries"]),
              f"{stored} rows of {s['deliveries']}")

    results.update(healthz(ctx, s["duration_s"]))

    floor = results["http.wrk_us"] + results["http.server_us"] + results["work.hash_us"] + results["work.store_us"]
    results["floor_us"] = floor
    results["floor_rps"] = len(os.sched_getaffinity(0)) * 1e6 / floor
    return results


def healthz(ctx, duration_s):
    """wrk GET /healthz against a fresh Bosun; its ingress's CPU per request from /proc."""
    server = BosunServer(ctx, "full")
    try:
        ingress = next(pid for pid in server.pids() if comm(pid) == "bosun-ingress")
        before = cpu_seconds(ingress)
        output = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration_s}s", "--timeout", "10s", "--latency",
                                 f"http://{server.address}/healthz"], capture_output=True, text=True,
                                check=True).stdout
        spent = cpu_seconds(ingress) - before
    finally:
        server.stop()
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    ctx.check("ceiling: every GET /healthz answered 200, no socket errors", requests > 0 and not failed and not errors,
              f"{failed.group(1) if failed else 0} other answers; socket errors: {errors.group(1) if errors else 0}")
    return {"healthz.rps": requests / duration_s, "healthz.p99": milliseconds(re.search(r"99%\s+(\S+)", output)[1]),
            "healthz.ingress_us": spent / max(1, requests) * 1e6}


def milliseconds(text):
    """wrk's latency text (`812.00us`, `3.41ms`, `1.02s`) in ms."""
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def metrics(ctx):
    return [("http.rps", f"empty C server, {CONNECTIONS} conns: requests/s", "req/s", "higher"),
            ("http.p50", f"empty C server, {CONNECTIONS} conns: p50 latency", "ms", "lower"),
            ("http.p99", f"empty C server, {CONNECTIONS} conns: p99 latency", "ms", "lower"),
            ("http.wrk_us", "wrk's own CPU per request", "µs", "lower"),
            ("http.server_us", "empty C server's CPU per request (loopback TCP, reading, answering)", "µs", "lower"),
            ("work.hash_us", "HMAC-SHA256 + SHA-256 of the body, in C (OpenSSL)", "µs", "lower"),
            ("work.store_us", "the row stored in C (SQLite WAL, synchronous=FULL, 64 per commit)", "µs", "lower"),
            ("floor_us", "floor: CPU per stored delivery, wrk included (sum of the four above)", "µs", "lower"),
            ("floor_rps", "deliveries/s the floor allows with every core busy", "req/s", "higher"),
            ("healthz.rps", f"Bosun GET /healthz, {CONNECTIONS} conns: requests/s (its HTTP layer alone)", "req/s",
             "higher"),
            ("healthz.p99", f"Bosun GET /healthz, {CONNECTIONS} conns: p99 latency", "ms", "lower"),
            ("healthz.ingress_us", "Bosun GET /healthz: ingress CPU per request", "µs", "lower")]
