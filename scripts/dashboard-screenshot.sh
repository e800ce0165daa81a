#!/usr/bin/env bash
# Refreshes docs/dashboard.png: runs the headless-Chromium dashboard test (a real Bosun with tasks in several
# stages and a live run), which copies its screenshot of the overview there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
BOSUN_DASHBOARD_SCREENSHOT="$PWD/docs/dashboard.png" \
    swift test --skip-build --filter 'DashboardBrowserTests'
ls -l docs/dashboard.png
