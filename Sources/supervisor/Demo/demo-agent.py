#!/usr/bin/env python3
"""The demo agent: a scripted stand-in for a coding agent CLI such as Claude Code. No model is called.

`bosun demo` writes this file next to its config (it is compiled into the `bosun` binary) and the pipeline tests
run it from the source tree. It behaves like a real agent: it reads the brief file it is given, writes the stage's
artifact in its working directory (the task's worktree), writes code, sometimes commits its own work and sometimes
leaves it for Bosun to commit, writes a review whose YAML front matter carries the verdict, and prints Claude Code
style stream-json lines ending in a `result` event. What it does is steered by tags in the issue title, which it
reads from the brief, as a real agent reads the issue:

  [bounce-N]    the reviewer requests changes the first N times, then approves
  [fail-tests]  the developer leaves the project's tests failing
"""
import json, os, re, subprocess, sys

brief_path = sys.argv[1]
brief = open(brief_path, encoding="utf-8").read()
stage = os.environ.get("BOSUN_STAGE", "")
task = os.environ.get("BOSUN_TASK_ID", "0")
os.makedirs(".bosun", exist_ok=True)
# The title is the first line inside the brief's fenced, untrusted block.
fenced = re.search(r"^(`{3,})text\n(.*)$", brief, re.MULTILINE)
title = fenced.group(2).strip() if fenced else "the issue"


def say(kind, **fields):
    fields["type"] = kind
    print(json.dumps(fields), flush=True)


def count(name):
    path = os.path.join(".bosun", name)
    n = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as f:
        f.write(str(n + 1))
    return n


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


say("system", subtype="init", session_id="demo-" + task)
bounce = re.search(r"\[bounce-(\d+)\]", brief)
if stage == "analysis":
    write(".bosun/analysis.md", "# Analysis\n\nThe issue asks for: %s.\n\n"
          "## Acceptance criteria\n\n- the feature exists and the project's tests pass\n" % title)
elif stage == "architecture":
    write(".bosun/architecture.md", "# Design\n\nAdd feature-%s.txt and greet-%s.sh; no other file changes.\n"
          % (task, task))
elif stage == "development":
    rounds = count("development-rounds")
    with open("feature-%s.txt" % task, "a", encoding="utf-8") as f:
        f.write("%s (round %d)\n" % (title, rounds))
    write("greet-%s.sh" % task, "#!/bin/sh\n# Written by the demo agent for task %s.\n"
          "echo \"hello, ${1:-world}\"\n" % task)
    if "[fail-tests]" in brief:
        write("FAIL", "the tests fail\n")
    if rounds % 2 == 0:
        subprocess.run(["git", "add", "-A"], check=True)
        subprocess.run(["git", "-c", "user.name=Demo Agent", "-c", "user.email=agent@localhost", "commit", "-q",
                        "-m", "feature for task %s (round %d)" % (task, rounds)], check=True)
elif stage == "review":
    reviews = count("review-rounds")
    wanted = int(bounce.group(1)) if bounce else 0
    if reviews < wanted:
        write(".bosun/review.md", "---\nverdict: REQUEST_CHANGES\n---\nPlease handle the empty case.\n")
    else:
        write(".bosun/review.md", "---\nverdict: APPROVED\n---\nLooks good. No rate limit concerns.\n")
elif stage == "testing":
    write(".bosun/testing.md", "Tested the feature: greet-%s.sh prints a greeting.\n" % task)
elif stage == "deploy":
    write(".bosun/deploy.md", "Release notes: %s.\n" % title)
say("assistant", message={"content": [{"type": "text", "text": "done with " + stage}]})
say("result", subtype="success", is_error=False, result="ok", total_cost_usd=0.0012,
    usage={"input_tokens": 120, "output_tokens": 45})
