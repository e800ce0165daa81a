#!/usr/bin/env python3
"""The chaos suite: each scenario tries to break one of SPEC §5's promises against real Bosun processes and checks
the outcome from the client side (what got a 2xx, what ran, what the store and /proc hold), never from Bosun's logs.

Usage: chaos/run.py --bin .build/release [--long] [--strict] [--only NAME,NAME] [--list] [--keep]

The short run (the default, what CI runs) keeps each scenario to tens of seconds; --long runs the sizes the promises
are stated at (1,000 agent runs, 1,000 writer kills, 20 rolling restarts). Exit status 1 if any check failed.
A measured check (a latency bound that the machine's own load can break) that misses its bound prints WARN and fails
the run only with --strict.
"""
import argparse
import importlib
import os
import pkgutil
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "bench"))

import harness  # noqa: E402
import scenarios  # noqa: E402


def load_scenarios():
    found = []
    for info in sorted(pkgutil.iter_modules(scenarios.__path__), key=lambda i: i.name):
        module = importlib.import_module("scenarios." + info.name)
        found.append(module)
    return sorted(found, key=lambda m: getattr(m, "ORDER", 100))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="directory holding bosun, bosun-ingress, … (a release build)")
    parser.add_argument("--long", action="store_true", help="the full sizes instead of CI's short run")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep each scenario's scratch directory")
    parser.add_argument("--strict", action="store_true", help="a measured check that misses its bound fails the run")
    args = parser.parse_args()

    modules = load_scenarios()
    if args.list:
        for module in modules:
            print(f"{module.NAME:<24} {module.DESCRIPTION}")
        return
    wanted = {name for name in args.only.split(",") if name}
    unknown = wanted - {m.NAME for m in modules}
    if unknown:
        sys.exit(f"unknown scenario(s): {', '.join(sorted(unknown))} (see --list)")
    selected = [m for m in modules if not wanted or m.NAME in wanted]

    binary_dir = os.path.abspath(args.bin)
    for program in ("bosun", "bosun-ingress", "bosun-worker", "bosun-gatekeeper", "bosun-shim"):
        if not os.access(os.path.join(binary_dir, program), os.X_OK):
            sys.exit(f"{binary_dir}/{program} is missing; build first (swift build -c release)")

    results = []
    for module in selected:
        context = harness.Context(binary_dir, long=args.long, keep=args.keep, name=module.NAME, strict=args.strict)
        started = time.monotonic()
        print(f"== {module.NAME}: {module.DESCRIPTION}", flush=True)
        try:
            module.run(context)
        except Exception:  # a scenario that raises has failed; the others still run
            context.check("completed without an exception", False, traceback.format_exc(limit=6).strip())
        finally:
            context.cleanup()
        elapsed = time.monotonic() - started
        for check in context.checks:
            mark = "ok  " if check.ok else "WARN" if check.warn_only else "FAIL"
            print(f"   {mark} {check.name}: {check.detail}", flush=True)
        print(f"   ({elapsed:.1f} s)", flush=True)
        results.append((module.NAME, context.checks, elapsed))

    failed = [(name, c) for name, checks, _ in results for c in checks if not c.ok and not c.warn_only]
    warned = [(name, c) for name, checks, _ in results for c in checks if not c.ok and c.warn_only]
    empty = [name for name, checks, _ in results if not checks]
    print(f"\n{len(results)} scenario(s), {sum(len(c) for _, c, _ in results)} checks, {len(failed)} failed"
          + (f", {len(warned)} measured bound(s) missed (WARN; --strict fails on them)" if warned else "")
          + (f", {len(empty)} without checks" if empty else ""))
    for name, check in warned:
        print(f"WARN   {name}: {check.name}")
    for name, check in failed:
        print(f"FAILED {name}: {check.name}")
    for name in empty:
        print(f"FAILED {name}: made no checks")
    sys.exit(1 if failed or empty else 0)


if __name__ == "__main__":
    main()
