"""Footprint: the resident memory of Bosun's whole process tree (the supervisor and its children ingress, worker and
gatekeeper; shims and agents listed apart, none here) idle and under intake load, with its CPU at idle; and the same
for Debian's webhook (with the commands it runs) as the peer.

Idle: after a settling pause, CPU over a quiet window and RSS at its end. Under load: wrk at 16 connections posting
signed webhooks as in the intake benchmark, the tree's RSS sampled every 0.2 s; the peak is reported, then the RSS
2 s after the load (what it keeps)."""
import threading
import time

from bosun_bench import children, comm, rss_kib
from benchmarks.intake import PAYLOAD, open_server, signature, wrk

NAME = "footprint"
DESCRIPTION = "RSS of the whole process tree idle and under intake load: Bosun vs Debian's webhook"
ORDER = 15
NEEDS_PEERS = True
CONNECTIONS = 16
OWN_CHILDREN = ("bosun-ingress", "bosun-worker", "bosun-gatekeepe")  # comm is cut at 15 characters


def sizes(ctx):
    return {"idle_s": 3, "load_s": 3} if ctx.quick else {"idle_s": 30, "load_s": 10}


def describe(ctx):
    s = sizes(ctx)
    return (f"{s['idle_s']} s idle window; wrk -t2 -c{CONNECTIONS} -d{s['load_s']}s as in intake; Bosun with "
            f"durability full")


def tree_rss(server):
    """(RSS of the server's own processes, RSS of the rest of its tree: shims, agents, a peer's commands), MiB.
    A child that still has its parent's name has not exec'd yet: its pages are its parent's (vfork, or
    copy-on-write after fork), so it is not counted again."""
    root = server.process.pid
    own, rest = rss_kib(root), 0

    def walk(pid, name):
        nonlocal own, rest
        for child in children(pid):
            child_name = comm(child)
            if child_name is None or child_name == name:
                continue
            if pid == root and child_name in OWN_CHILDREN:
                own += rss_kib(child)
            else:
                rest += rss_kib(child)
            walk(child, child_name)
    walk(root, comm(root))
    return own / 1024, rest / 1024


def measure(ctx, name):
    s = sizes(ctx)
    server = open_server(ctx, name)
    try:
        time.sleep(2)
        before = server.cpu()
        time.sleep(s["idle_s"])
        idle_cpu = (server.cpu() - before) / s["idle_s"] * 100
        idle_rss, idle_rest = tree_rss(server)
        processes = 1 + len(children(server.process.pid))

        peak = [0.0, 0.0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                own, rest = tree_rss(server)
                peak[0], peak[1] = max(peak[0], own), max(peak[1], own + rest)
                time.sleep(0.2)
        sampler = threading.Thread(target=sample)
        sampler.start()
        body = open(PAYLOAD, "rb").read()
        try:
            result = wrk(f"http://{server.address}{server.path}", CONNECTIONS, s["load_s"], PAYLOAD, signature(body))
        finally:
            stop.set()
            sampler.join()
        ctx.check(f"{name}: the load was taken", result["accepted"] > 0 and result["other"] == 0,
                  f"{int(result['accepted'])} accepted, {int(result['other'])} other")
        time.sleep(2)
        after_rss, _ = tree_rss(server)
        return {f"{name}.idle.rss": idle_rss, f"{name}.idle.rest": idle_rest, f"{name}.idle.cpu": idle_cpu,
                f"{name}.processes": processes, f"{name}.load.rss": peak[0], f"{name}.load.tree": peak[1],
                f"{name}.after.rss": after_rss}
    finally:
        server.stop()


def once(ctx, index):
    results = {}
    for name in (("bosun-full", "webhook") if index % 2 == 0 else ("webhook", "bosun-full")):
        results.update(measure(ctx, name))
    return results


def metrics(ctx):
    found = []
    for name, label in (("bosun-full", "Bosun"), ("webhook", "webhook")):
        found += [(f"{name}.processes", f"{label}: processes in the tree at idle", "", None),
                  (f"{name}.idle.rss", f"{label}: RSS idle (own processes)", "MiB", "lower"),
                  (f"{name}.idle.cpu", f"{label}: CPU idle", "% of a core", "lower"),
                  (f"{name}.load.rss", f"{label}: RSS under load, peak (own processes)", "MiB", "lower"),
                  (f"{name}.load.tree", f"{label}: RSS under load, peak (whole tree, children included)", "MiB",
                   "lower"),
                  (f"{name}.after.rss", f"{label}: RSS 2 s after the load (own processes)", "MiB", "lower")]
    return found


def ratios(ctx):
    return [("RSS idle, Bosun ÷ webhook", "bosun-full.idle.rss", "webhook.idle.rss", "lower"),
            ("RSS under load (peak), Bosun ÷ webhook", "bosun-full.load.rss", "webhook.load.rss", "lower"),
            ("RSS under load (peak, whole tree), Bosun ÷ webhook", "bosun-full.load.tree", "webhook.load.tree",
             "lower")]
