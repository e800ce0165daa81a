#!/usr/bin/env bash
# The quick-start demo: builds Bosun, writes a starter config into .demo/, and runs the main job end to end on the
# local tracker: a task goes analysis → architecture → development → review → testing → deploy → done, driven by a
# scripted stand-in for a coding agent (no model is called), with real git, real processes and the real store; the
# finished branch is merged into the demo repository's main. Then a signed webhook, a crash and a rolling restart.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "building (the first build takes a few minutes)..."
swift build >/dev/null
bin="$(swift build --show-bin-path)"
bosun="$bin/bosun"

rm -rf .demo
"$bosun" init .demo
config=.demo/bosun.yaml

# The repository the tasks work on: a bare "origin" with a test script on main.
git init -q --bare .demo/origin.git
git init -q -b main .demo/seed
printf '#!/bin/sh\ntest ! -e FAIL\n' > .demo/seed/check.sh
chmod +x .demo/seed/check.sh
echo "# demo" > .demo/seed/README.md
git -C .demo/seed -c user.name=Demo -c user.email=demo@localhost add -A
git -C .demo/seed -c user.name=Demo -c user.email=demo@localhost commit -q -m "initial"
git -C .demo/seed push -q "$PWD/.demo/origin.git" main

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .demo/webhook-secret
python3 - "$config" "$PWD" <<'PY'
import sys
path, root = sys.argv[1], sys.argv[2]
text = open(path).read().replace("projects: []\n", f"""agents:
  # A scripted stand-in for Claude Code / Codex: writes each stage's artifact, commits, prints stream-json.
  scripted:
    argv: [python3, {root}/Tests/BosunTests/Fixtures/agents/pipeline-agent.py, "{{prompt_file}}"]
    probe: [python3, --version]
projects:
  - name: demo
    tracker: local
    repo: {{ url: {root}/.demo/origin.git, default_branch: main }}
    test_command: [sh, check.sh]
    authors: [you]
  - name: hooks
    tracker: github
    repo: {{ url: https://github.com/acme/demo.git }}
    webhook: {{ secret_file: ./webhook-secret }}
""", 1)
open(path, "w").write(text)
PY
"$bosun" check-config -c "$config"

"$bosun" run -c "$config" 2>.demo/bosun.log &
supervisor=$!
trap 'kill "$supervisor" 2>/dev/null || true; wait "$supervisor" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    "$bosun" status -c "$config" --json 2>/dev/null | grep -q '"state":"running"' && break
    sleep 0.1
done

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "bosun status: the supervisor and its three processes"
"$bosun" status -c "$config"

step "bosun task create: a task on the local tracker (one with a review that asks for changes once)"
"$bosun" task create -c "$config" --project demo --title "Add a greeting [bounce-1]" --body "Print hello."
task=$("$bosun" tasks -c "$config" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["id"])')

state() { "$bosun" task -c "$config" --json "$task" | python3 -c 'import json,sys; t=json.load(sys.stdin)["task"]; print(t["state"], t.get("waiting_on") or "")'; }
for _ in $(seq 1 300); do
    read -r current waiting <<<"$(state)"
    if [ "$waiting" = "approval" ]; then
        step "the analysis waits for a human: bosun task comment $task :approved:"
        "$bosun" task comment -c "$config" "$task" ":approved:" --author you
        sleep 0.5
    fi
    case "$current" in done|blocked) break ;; esac
    sleep 0.2
done

step "bosun task $task: every transition, job and run"
"$bosun" task -c "$config" "$task"

step "the demo repository's main now has the task's work, merged by Bosun"
sleep 2
git -C .demo/origin.git log --oneline --graph main | head -12

listen=$("$bosun" status -c "$config" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["supervisor"]["listen"])')
payload=Tests/BosunTests/Fixtures/webhooks/github/issues.opened.json
signature=$(openssl dgst -sha256 -hmac "$(cat .demo/webhook-secret)" -r < "$payload" | cut -d' ' -f1)
step "a signed GitHub webhook is verified and stored before the 202; the same delivery again is a duplicate"
for _ in 1 2; do
    curl -s -w "  -> HTTP %{http_code}\n" -X POST "http://$listen/webhooks/github/hooks" \
        -H "Content-Type: application/json" -H "X-GitHub-Event: issues" -H "X-GitHub-Delivery: demo-1" \
        -H "X-Hub-Signature-256: sha256=$signature" --data-binary @"$payload"
done

worker=$("$bosun" status -c "$config" --json | python3 -c 'import json,sys; print([p["pid"] for p in json.load(sys.stdin)["processes"] if p["name"] == "worker"][0])')
step "kill -9 the worker (pid $worker): the supervisor restarts it"
kill -9 "$worker"
sleep 1
"$bosun" status -c "$config"

step "bosun rolling-restart: every process replaced, one at a time"
"$bosun" rolling-restart -c "$config"

step "bosun stop"
"$bosun" stop -c "$config"
trap - EXIT
wait "$supervisor" || true
echo
echo "The supervisor's log is in .demo/bosun.log; per-process logs in .demo/state/logs/, agent runs in .demo/state/logs/runs/."
