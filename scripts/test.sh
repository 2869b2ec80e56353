#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine that has Rust:
#   1. installs what the tests need: moto (AWS emulator) in ./.venv, tmux, rustfmt/clippy;
#   2. runs cargo fmt --check, cargo clippy -D warnings, cargo test --all-targets.
# Re-runs reuse .venv and skip installs that are already done.
# Honours CARGO_TARGET_DIR. Exits non-zero on the first failure.
set -euo pipefail

# The moto release the tests are written against (pip index versions moto).
MOTO_VERSION="5.2.5"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"

START=$SECONDS
step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }
on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        printf '\nFAILED (exit %s) after %ss\n' "$rc" "$((SECONDS - START))" >&2
    fi
}
trap on_exit EXIT

# Root runs apt-get directly; anyone else through sudo.
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to install packages"
    SUDO="sudo"
fi
APT_UPDATED=""
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand"
    if [ -z "$APT_UPDATED" ]; then
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
        APT_UPDATED=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

step "Rust toolchain"
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs)"
cargo --version
for component in rustfmt clippy; do
    sub="${component/rustfmt/fmt}"
    if ! cargo "$sub" --version >/dev/null 2>&1; then
        command -v rustup >/dev/null 2>&1 || die "cargo $sub missing and rustup not found"
        echo "adding rustup component $component"
        rustup component add "$component"
    fi
done
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    echo "CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
fi

step "tmux (end-to-end tests drive the console in a tmux pane)"
if ! command -v tmux >/dev/null 2>&1; then
    apt_install tmux
fi
tmux -V

step "moto $MOTO_VERSION in $VENV"
moto_ready() {
    [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" - "$MOTO_VERSION" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
assert version("moto") == sys.argv[1]
import flask, flask_cors, moto.server  # the [server] extra
EOF
}
if moto_ready; then
    echo "already installed"
else
    command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
    if [ ! -x "$VENV/bin/python" ]; then
        if ! python3 -m venv "$VENV"; then
            # Debian ships venv/ensurepip separately.
            rm -rf "$VENV"
            apt_install python3-venv
            python3 -m venv "$VENV"
        fi
    fi
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "moto[server]==$MOTO_VERSION"
    moto_ready || die "moto $MOTO_VERSION did not install into $VENV"
fi
export OPSDECK_MOTO_SERVER="$VENV/bin/moto_server"
echo "OPSDECK_MOTO_SERVER=$OPSDECK_MOTO_SERVER"

# Snapshot mismatches fail instead of writing .snap.new files.
export INSTA_UPDATE=no

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --locked --all-targets -- -D warnings

step "cargo test --all-targets"
cargo test --locked --all-targets

printf '\nOK: all checks passed in %ss\n' "$((SECONDS - START))"
