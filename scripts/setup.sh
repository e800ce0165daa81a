#!/usr/bin/env bash
# Installs what building and testing Bosun needs on Debian 12, if it is missing. Idempotent; quiet when all is there.
set -euo pipefail

packages=(libsqlite3-dev libssl-dev libcurl4-openssl-dev libsystemd-dev pkg-config python3 curl openssl wrk systemd procps chromium)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: the Swift toolchain (6.2 or newer) is not on PATH; install it from swift.org first" >&2
    exit 1
fi
