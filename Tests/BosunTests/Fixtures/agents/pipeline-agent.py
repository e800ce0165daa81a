#!/usr/bin/env python3
"""A scripted stand-in for a coding agent CLI, for the pipeline tests.

It behaves like one: reads the brief file it is given, writes the stage's artifact in its working directory (the
task's worktree), sometimes commits its own work and sometimes leaves it for Bosun to commit, and prints Claude Code
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

def say(kind, **fields):
    fields["type"] = kind
    print(json.dumps(fields), flush=True)

def count(name):
    path = os.path.join(".bosun", name)
    n = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as f:
        f.write(str(n + 1))
    return n

say("system", subtype="init", session_id="fake-" + task)
bounce = re.search(r"\[bounce-(\d+)\]", brief)
if stage == "analysis":
    open(".bosun/analysis.md", "w").write("# Analysis\n\nThe issue asks for a feature.\n")
elif stage == "architecture":
    open(".bosun/architecture.md", "w").write("# Design\n\nAdd feature.txt.\n")
elif stage == "development":
    rounds = count("development-rounds")
    with open("feature-%s.txt" % task, "a") as f:
        f.write("round %d\n" % rounds)
    if "[fail-tests]" in brief:
        open("FAIL", "w").write("the tests fail\n")
    if rounds % 2 == 0:
        subprocess.run(["git", "add", "-A"], check=True)
        subprocess.run(["git", "-c", "user.name=Fake Agent", "-c", "user.email=agent@localhost", "commit", "-q", "-m", "feature for task %s" % task], check=True)
elif stage == "review":
    reviews = count("review-rounds")
    wanted = int(bounce.group(1)) if bounce else 0
    if reviews < wanted:
        open(".bosun/review.md", "w").write("---\nverdict: REQUEST_CHANGES\n---\nPlease handle the empty case.\n")
    else:
        open(".bosun/review.md", "w").write("---\nverdict: APPROVED\n---\nLooks good. No rate limit concerns.\n")
elif stage == "testing":
    open(".bosun/testing.md", "w").write("Tested the feature.\n")
elif stage == "deploy":
    open(".bosun/deploy.md", "w").write("Release notes: feature added.\n")
say("assistant", message={"content": [{"type": "text", "text": "done with " + stage}]})
say("result", subtype="success", is_error=False, result="ok", total_cost_usd=0.0012,
    usage={"input_tokens": 120, "output_tokens": 45})
