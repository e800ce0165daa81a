#!/usr/bin/env bash
# The README's test command: installs what is missing, checks formatting, builds, verifies the systemd units
# (scripts/verify-units.sh), and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift format lint --strict --recursive Sources Tests Package.swift
swift build --build-tests
scripts/verify-units.sh "$(swift build --show-bin-path)"
swift test --skip-build
