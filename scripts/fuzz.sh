#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ and runs each for a bounded time (docs/FUZZING.md).
#
#   scripts/fuzz.sh [--seconds N] [--long] [--only TARGET] [--no-build]
#
# Default 60 s per target (five targets: about 5 minutes of fuzzing after the build), --long 600 s, --seconds N
# anything. Each target starts from its committed seed corpus (Fuzz/corpus/NAME, read only) plus what earlier runs
# found (.build-fuzz/corpus/NAME). Any crash, broken invariant, timeout (10 s for one input) or memory blow-up
# (2 GiB) fails the run; libFuzzer's reproducer is kept in fuzz-artifacts/NAME/ and its log beside it. Reproduce one
# with `.build-fuzz/release/FuzzX fuzz-artifacts/NAME/crash-…`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=60
only=""
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --long) seconds=600; shift ;;
        --only) only=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz.sh: unknown argument $1" >&2; exit 64 ;;
    esac
done

# executable:corpus
targets=(
    FuzzWebhookAuth:webhook-auth
    FuzzNormalizer:normalizer
    FuzzIPC:ipc
    FuzzConfig:config
    FuzzTaskBranch:task-branch
)

scratch=$root/.build-fuzz
mkdir -p "$scratch"
swift_build=(swift build --package-path Fuzz --scratch-path "$scratch" -c release --sanitize=fuzzer)
if [ "$build" = 1 ]; then
    echo "fuzz.sh: building the fuzz targets (release, --sanitize=fuzzer) in .build-fuzz"
    # One product at a time: a plain `swift build` here would also link the main package's executables, whose own
    # main clashes with libFuzzer's.
    for entry in "${targets[@]}"; do
        executable=${entry%%:*}
        if [ -n "$only" ] && [ "$only" != "${entry#*:}" ] && [ "$only" != "$executable" ]; then continue; fi
        if ! "${swift_build[@]}" --product "$executable" >"$scratch/fuzz-build.log" 2>&1; then
            grep -E "error" -A3 "$scratch/fuzz-build.log" >&2 || tail -20 "$scratch/fuzz-build.log" >&2
            echo "fuzz.sh: building $executable failed (full output in $scratch/fuzz-build.log)" >&2
            exit 1
        fi
    done
fi
bin=$("${swift_build[@]}" --show-bin-path)

failed=()
summary=()
for entry in "${targets[@]}"; do
    executable=${entry%%:*}
    name=${entry#*:}
    if [ -n "$only" ] && [ "$only" != "$name" ] && [ "$only" != "$executable" ]; then continue; fi
    if [ ! -x "$bin/$executable" ]; then
        echo "fuzz.sh: $bin/$executable is missing (build failed?)" >&2
        exit 1
    fi
    corpus=$scratch/corpus/$name
    artifacts=$root/fuzz-artifacts/$name
    mkdir -p "$corpus" "$artifacts"
    log=$artifacts/fuzz.log
    echo "fuzz.sh: $executable for ${seconds}s (seeds Fuzz/corpus/$name, log $log)"
    status=0
    # SWIFT_BACKTRACE off: libFuzzer prints its own stack and writes the reproducer at once.
    SWIFT_BACKTRACE=enable=no "$bin/$executable" "$corpus" "$root/Fuzz/corpus/$name" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(echo "$done_line" | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+' || true)
    features=$(echo "$done_line" | grep -oE 'ft: [0-9]+' | grep -oE '[0-9]+' || true)
    units=$(echo "$done_line" | grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' | sed 's/corp: //' || true)
    if [ "$status" -ne 0 ]; then
        failed+=("$name")
        echo "fuzz.sh: $executable FAILED (exit $status):" >&2
        grep -E 'invariant broken|Fatal error|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -8 >&2 || true
        summary+=("$(printf '%-14s FAILED  see %s' "$name" "$log")")
    else
        summary+=("$(printf '%-14s %10s runs %8s exec/s  cov %5s  ft %6s  corpus %s' \
            "$name" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${features:-?}" "${units:-?}")")
    fi
done

echo
echo "fuzz.sh: ${seconds}s per target"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: FAILED: ${failed[*]}; reproducers in fuzz-artifacts/" >&2
    exit 1
fi
echo "fuzz.sh: no crash, no broken invariant"
