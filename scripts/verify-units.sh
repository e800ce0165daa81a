#!/usr/bin/env bash
# Checks deploy/ as it is installed: deploy/install.sh writes the units, the sysusers.d and tmpfiles.d entries and
# the built binaries into a temporary root, and systemd's own tools check them there with the paths they will have
# (systemd-analyze verify refuses an ExecStart= whose binary is missing). Any message is a failure, because
# `systemd-analyze verify` exits 0 on unknown keys and unparsable values. Last, a broken copy of the service must
# fail, so that a checker that checks nothing cannot pass.
#
# usage: scripts/verify-units.sh [BIN_DIR]   (default: the debug build, swift build --show-bin-path)
# Needs Debian's systemd package (scripts/setup.sh installs it); no running systemd.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=${1:-$(swift build --show-bin-path)}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

fail() {
    echo "verify-units: $*" >&2
    exit 1
}

# Runs a command; fails if it fails or says anything but lines matching $expected.
expected='^$'
quiet() {
    local output
    if ! output=$("$@" 2>&1) || grep -qvE "$expected" <<<"$output"; then
        fail "$* said:"$'\n'"$output"
    fi
}

deploy/install.sh --destdir "$root" --bin-dir "$bin_dir" >/dev/null

# What the units use from the system: systemd's own units (sysinit.target and the other default dependencies) and
# /bin/kill, laid out as on Debian 12 (/bin, /lib and /sbin are links into /usr).
mkdir -p "$root/usr/lib/systemd" "$root/usr/bin" "$root/usr/sbin"
cp -a /lib/systemd/system/. "$root/usr/lib/systemd/system/"
ln -s usr/bin "$root/bin"
ln -s usr/lib "$root/lib"
ln -s usr/sbin "$root/sbin"
[ -x /usr/bin/kill ] || fail "/usr/bin/kill is missing (Debian's procps; scripts/setup.sh installs it)"
cp /usr/bin/kill "$root/usr/bin/kill"

expected="^Creating (group|user) 'bosun'" quiet systemd-sysusers --root="$root" "$root/etc/sysusers.d/bosun.conf"
grep -q '^bosun:x:[0-9]*:[0-9]*:Bosun service:/var/lib/bosun:/usr/sbin/nologin$' "$root/etc/passwd" ||
    fail "sysusers.d did not create the bosun user: $(cat "$root/etc/passwd")"
uid=$(awk -F: '$1 == "bosun" { print $3 }' "$root/etc/passwd")

quiet systemd-tmpfiles --create --root="$root" "$root/etc/tmpfiles.d/bosun.conf"
[ "$(stat -c '%a %u' "$root/var/lib/bosun/state")" = "700 $uid" ] ||
    fail "tmpfiles.d: /var/lib/bosun/state is $(stat -c '%a %u' "$root/var/lib/bosun/state"), not 700 $uid"
[ "$(stat -c '%a %u' "$root/var/lib/bosun")" = "750 $uid" ] ||
    fail "tmpfiles.d: /var/lib/bosun is $(stat -c '%a %u' "$root/var/lib/bosun"), not 750 $uid"

units=("$root/etc/systemd/system/bosun.service" "$root/etc/systemd/system/bosun.socket")
quiet systemd-analyze verify --man=no --root="$root" "${units[@]}"

# The starter config install.sh wrote is valid and names the state directory the units allow writing to.
grep -q '^state_dir: /var/lib/bosun/state ' "$root/etc/bosun/bosun.yaml" ||
    fail "the starter config does not use /var/lib/bosun/state"
grep -q '^ReadWritePaths=/var/lib/bosun$' "${units[0]}" || fail "bosun.service does not allow writing to /var/lib/bosun"

broken="$root/etc/systemd/system/bosun-broken.service"
sed 's/^Type=notify$/Type=notifyy/' "${units[0]}" >"$broken"
if output=$(systemd-analyze verify --man=no --root="$root" "$broken" 2>&1) && [ -z "$output" ]; then
    fail "a service with Type=notifyy passed; the check checks nothing"
fi

echo "verify-units: bosun.service, bosun.socket, sysusers.d and tmpfiles.d entries ok"
