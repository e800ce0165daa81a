#!/bin/sh
# The rate-limit scenario's agent (chaos/scenarios/rate_limit.py): Claude Code's stream-json, as the fixtures record
# it. While the file $1 exists the "service" is rate limited: the run prints the fixture's rejected rate-limit event
# and error result and exits 1 (a transient outcome). Once the scenario removes $1, the run succeeds.
fixtures="$(dirname "$0")/../../Tests/BosunTests/Fixtures/agents"
sleep 0.2
if [ -e "$1" ]; then
    cat "$fixtures/claude-rate-limit.jsonl"
    exit 1
fi
cat "$fixtures/claude-success.jsonl"
exit 0
