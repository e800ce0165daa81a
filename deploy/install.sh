#!/usr/bin/env bash
# Installs Bosun for systemd: the five binaries, the units, the sysusers.d and tmpfiles.d entries, and a starter
# config (only if there is none). Run it again to upgrade: it replaces the binaries and units, keeps the config,
# and then `bosun rolling-restart` moves the running processes onto the new binaries. See docs/DEPLOY.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: deploy/install.sh [--bin-dir DIR] [--prefix DIR] [--destdir DIR]

  --bin-dir DIR   install the binaries in DIR instead of building them (swift build -c release)
  --prefix DIR    binaries go to DIR/bin, this page to DIR/share/doc/bosun (default /usr/local)
  --destdir DIR   install into DIR as if it were /, for packaging and tests: nothing on this system changes
                  (no users, directories, daemon-reload or file ownership)
EOF
}

repository=$(cd "$(dirname "$0")/.." && pwd)
prefix=/usr/local
destdir=""
bin_dir=""
while [ $# -gt 0 ]; do
    case "$1" in
    --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --destdir) destdir=${2:?--destdir needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; usage >&2; exit 64 ;;
    esac
done
case "$prefix" in
/*) ;;
*) echo "install.sh: --prefix must be an absolute path, not $prefix" >&2; exit 64 ;;
esac
if [ -n "$destdir" ]; then
    mkdir -p "$destdir"
    destdir=$(cd "$destdir" && pwd)
fi

binaries=(bosun-shim bosun-ingress bosun-worker bosun-gatekeeper bosun)
config_dir=/etc/bosun
config=$config_dir/bosun.yaml
state_dir=/var/lib/bosun/state

if [ -z "$bin_dir" ]; then
    echo "install.sh: building release binaries (a few minutes)"
    (cd "$repository" && swift build -c release)
    bin_dir=$(cd "$repository" && swift build -c release --show-bin-path)
fi
for name in "${binaries[@]}"; do
    if [ ! -x "$bin_dir/$name" ]; then
        echo "install.sh: $bin_dir/$name is missing; build first (swift build -c release)" >&2
        exit 1
    fi
done

# An upgrade must not install binaries that refuse the config in place: check it with the new bosun first.
if [ -f "$destdir$config" ] && [ -z "$destdir" ]; then
    if ! "$bin_dir/bosun" check-config -c "$config"; then
        echo "install.sh: the new version refuses $config; nothing was installed" >&2
        exit 1
    fi
fi

# Each file is written beside its target and renamed over it: a process starting a binary while this runs (the
# worker starts bosun-shim for every run) finds the old file or the new one, never half of one.
place() {
    local source=$1 target=$2 mode=$3
    mkdir -p "$(dirname "$target")"
    install -m "$mode" "$source" "$target.new"
    mv -f "$target.new" "$target"
}

for name in "${binaries[@]}"; do
    place "$bin_dir/$name" "$destdir$prefix/bin/$name" 0755
done

# The units name /usr/local; another prefix is written into them.
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
for unit in bosun.service bosun.socket; do
    sed "s|/usr/local/|$prefix/|g" "$repository/deploy/$unit" >"$rendered/$unit"
    place "$rendered/$unit" "$destdir/etc/systemd/system/$unit" 0644
done
place "$repository/deploy/bosun.sysusers" "$destdir/etc/sysusers.d/bosun.conf" 0644
place "$repository/deploy/bosun.tmpfiles" "$destdir/etc/tmpfiles.d/bosun.conf" 0644
place "$repository/docs/DEPLOY.md" "$destdir$prefix/share/doc/bosun/DEPLOY.md" 0644

if [ -z "$destdir" ]; then
    systemd-sysusers /etc/sysusers.d/bosun.conf
    systemd-tmpfiles --create /etc/tmpfiles.d/bosun.conf
fi

fresh=no
if [ ! -f "$destdir$config" ]; then
    fresh=yes
    mkdir -p "$destdir$config_dir"
    "$bin_dir/bosun" init "$destdir$config_dir" --state-dir "$state_dir" >/dev/null
    if [ -z "$destdir" ]; then
        # The service reads the config and the token as group bosun; only root writes them.
        chown root:bosun "$config" "$config_dir/api-token"
        chmod 0640 "$config" "$config_dir/api-token"
    fi
fi

if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi

if [ -n "$destdir" ]; then
    echo "installed into $destdir"
elif [ "$fresh" = yes ]; then
    cat <<EOF
installed: $prefix/bin/{$(IFS=,; echo "${binaries[*]}")}, bosun.service, bosun.socket, $config
next:
  edit $config (projects, agents, secrets), then: sudo -u bosun bosun check-config -c $config
  systemctl enable --now bosun.socket bosun.service
  sudo -u bosun bosun status -c $config
EOF
else
    cat <<EOF
upgraded: the binaries and units are replaced; $config is kept.
move the running processes onto the new binaries:
  sudo -u bosun bosun rolling-restart -c $config
(the supervisor itself runs the new version after its next restart: systemctl restart bosun.service)
EOF
fi
