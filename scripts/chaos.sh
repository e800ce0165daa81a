#!/usr/bin/env bash
# The chaos suite (docs/CHAOS.md): the short run, or the long one with --long, against the binaries in BIN_DIR, or
# against a fresh debug build when no directory is given. Extra arguments go to chaos/run.py (--long, --only NAME,
# --keep, --list).
#
#   scripts/chaos.sh                                   # swift build, then the short suite
#   scripts/chaos.sh "$(swift build --show-bin-path)"  # what CI runs
#   scripts/chaos.sh /opt/bosun/bin --long
set -euo pipefail
cd "$(dirname "$0")/.."

command -v git >/dev/null || { echo "chaos: git is needed (a scenario runs agents in git worktrees)" >&2; exit 1; }
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    bin_dir="$1"
    shift
else
    scripts/setup.sh
    swift build
    bin_dir="$(swift build --show-bin-path)"
fi

exec python3 chaos/run.py --bin "$bin_dir" "$@"
