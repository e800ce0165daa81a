#!/usr/bin/env python3
"""Restart latency and idle footprint of the supervisor.

Starts `bosun run` on a scratch state directory, kills a child with SIGKILL N times (ingress, worker and gatekeeper
in turn), and measures on the client side the time from the kill to the moment the control socket reports a new pid
in state `ready`. Then leaves Bosun idle and reads the CPU time and resident memory of the four processes from /proc.

The restart policy is set to a 1 ms base delay so that the figure is the mechanism's cost (reap, spawn, exec,
handshake, ready), not the configured backoff.

Usage: bench/restart_latency.py --bin .build/release [--kills 100] [--idle 60]
"""
import argparse
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time


class Control:
    """A client of the control socket speaking the IPC protocol of docs/IPC.md."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.next_id = 1
        hello = {"role": "cli", "pid": os.getpid(), "program": "bench", "version": "bench"}
        self.request("hello", hello)

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

    def processes(self):
        return {p["name"]: p for p in self.request("status", {})["processes"]}


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def cpu_seconds(pid):
    """User + system CPU time of a process, threads that have ended included (/proc/PID/stat, in clock ticks)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="directory with bosun and its children (a release build)")
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--idle", type=int, default=60, help="seconds of idle measurement")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="bosun-bench-")
    config = os.path.join(scratch, "bosun.yaml")
    with open(config, "w") as f:
        f.write("state_dir: ./state\nlisten: 127.0.0.1:0\n"
                "supervisor:\n  restart: { base_ms: 1, max_ms: 1, budget: 100000, window_s: 60 }\n")
    log = open(os.path.join(scratch, "bosun.log"), "w")
    supervisor = subprocess.Popen([os.path.join(args.bin, "bosun"), "run", "-c", config], stderr=log, stdout=log)
    try:
        control_path = os.path.join(scratch, "state/run/control.sock")
        deadline = time.time() + 30
        control = None
        while time.time() < deadline:
            try:
                control = Control(control_path)
                if all(p["state"] == "ready" for p in control.processes().values()):
                    break
            except (OSError, RuntimeError):
                pass
            time.sleep(0.05)
        else:
            sys.exit("bosun did not become ready")

        names = ["ingress", "worker", "gatekeeper"]
        samples = {name: [] for name in names}
        for index in range(args.kills):
            name = names[index % len(names)]
            old = control.processes()[name]["pid"]
            killed_at = time.perf_counter()
            os.kill(old, signal.SIGKILL)
            while True:
                process = control.processes()[name]
                if process.get("pid") not in (None, old) and process["state"] == "ready":
                    samples[name].append((time.perf_counter() - killed_at) * 1000)
                    break
                if time.perf_counter() - killed_at > 30:
                    sys.exit(f"{name} did not come back within 30 s")
                time.sleep(0.0005)

        all_samples = [s for values in samples.values() for s in values]
        startup = []
        with open(os.path.join(scratch, "state/logs/supervisor.log")) as supervisor_log:
            for line in supervisor_log:
                if " ready pid=" in line and "startup_ms=" in line:
                    startup.append(int(line.rsplit("startup_ms=", 1)[1]))
        startup = startup[3:]  # the first three are the initial start
        print(f"restart latency, kill -9 to replacement ready, {len(all_samples)} kills (client side, ms):")
        print(f"  all         median {statistics.median(all_samples):7.1f}  p99 {percentile(all_samples, 0.99):7.1f}"
              f"  min {min(all_samples):6.1f}  max {max(all_samples):6.1f}")
        for name in names:
            values = samples[name]
            print(f"  {name:<11} median {statistics.median(values):7.1f}  p99 {percentile(values, 0.99):7.1f}"
                  f"  (n={len(values)})")
        if startup:
            print(f"baseline: the child's own start, spawn to ready as the supervisor logs it: median "
                  f"{statistics.median(startup):.1f} ms, p99 {percentile(startup, 0.99):.1f} ms "
                  f"(so reaping, deciding and noticing add "
                  f"{statistics.median(all_samples) - statistics.median(startup):.1f} ms at the median)")

        control.sock.close()
        time.sleep(3)
        report = Control(control_path)
        pids = {"supervisor": supervisor.pid}
        pids.update({name: p["pid"] for name, p in report.processes().items()})
        report.sock.close()
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        time.sleep(args.idle)
        after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        tick = 100 / os.sysconf("SC_CLK_TCK") / args.idle
        print(f"idle over {args.idle} s (CPU % of one core, resolution {tick:.3f}%; RSS):")
        total_cpu = 0.0
        total_rss = 0
        for name, pid in pids.items():
            cpu = (after[name] - before[name]) / args.idle * 100
            rss = rss_kib(pid)
            total_cpu += cpu
            total_rss += rss
            print(f"  {name:<11} cpu {cpu:6.3f}%  rss {rss / 1024:6.1f} MiB")
        print(f"  {'total':<11} cpu {total_cpu:6.3f}%  rss {total_rss / 1024:6.1f} MiB")
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(timeout=30)
        except subprocess.TimeoutExpired:
            supervisor.kill()


if __name__ == "__main__":
    main()
