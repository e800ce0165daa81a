#!/usr/bin/env bash
# The README's demo command: installs what is missing, builds Bosun, and runs `bosun demo --exit-when-done` in
# ./bosun-demo: a task on the local tracker goes analysis → architecture → development → review (one bounce) →
# testing → deploy → done, driven by a scripted demo agent (no model is called), with real git, real processes and
# the real store, and its branch is merged into the demo repository's main. Then Bosun stops.
# Arguments go to `bosun demo` (e.g. --dir DIR, --listen HOST:PORT); run `bosun demo` without --exit-when-done to
# keep Bosun running and look around.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "building (the first build takes a few minutes)..."
swift build >/dev/null
"$(swift build --show-bin-path)/bosun" demo --exit-when-done "$@"
