#!/usr/bin/env bash
# The quick-start demo: builds Bosun, writes a starter config into .demo/, starts the supervisor, shows it
# supervising (status, health, a killed child coming back), and stops it.
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
# A project that takes GitHub webhooks, signed with a fresh secret.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .demo/webhook-secret
python3 - "$config" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read().replace("projects: []\n", """projects:
  - name: demo
    tracker: github
    repo: { url: https://github.com/acme/demo.git }
    webhook: { secret_file: ./webhook-secret }
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

step "bosun status"
"$bosun" status -c "$config"

listen=$("$bosun" status -c "$config" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["supervisor"]["listen"])')
step "GET http://$listen/healthz (served by bosun-ingress on the socket the supervisor owns)"
curl -s "http://$listen/healthz"; echo

payload=Tests/BosunTests/Fixtures/webhooks/github/issues.opened.json
signature=$(openssl dgst -sha256 -hmac "$(cat .demo/webhook-secret)" -r < "$payload" | cut -d' ' -f1)
post() {
    curl -s -w "  -> HTTP %{http_code}\n" -X POST "http://$listen/webhooks/github/demo" \
        -H "Content-Type: application/json" -H "X-GitHub-Event: issues" -H "X-GitHub-Delivery: $1" \
        -H "X-Hub-Signature-256: sha256=$2" --data-binary @"$payload"
}
step "a signed GitHub 'issues' webhook: verified, stored, then answered; the same delivery again is a duplicate"
post demo-delivery-1 "$signature"
post demo-delivery-1 "$signature"
step "a signature made with another secret is refused and nothing is stored"
post demo-delivery-2 "$(openssl dgst -sha256 -hmac not-the-secret -r < "$payload" | cut -d' ' -f1)"
step "GET /readyz: the store is writable, one delivery waits in the inbox for the gatekeeper"
curl -s "http://$listen/readyz"; echo

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
echo "The supervisor's log is in .demo/bosun.log; per-process logs are in .demo/state/logs/."
