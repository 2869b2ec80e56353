#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine that has Rust:
#   1. installs what the tests need: moto (AWS emulator), cfn-lint, compliance-trestle and
#      jsonschema in ./.venv, checkov in ./.venv-checkov, tmux, openssh-server, rustfmt/clippy
#      (and debootstrap with OPSDECK_TEST_DEBOOTSTRAP=1);
#   2. runs cargo fmt --check, cargo clippy -D warnings, cargo test --all-targets.
# Re-runs reuse .venv and skip installs that are already done.
# Honours CARGO_TARGET_DIR. Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

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
# shellcheck source=scripts/lib/setup.sh
source "$ROOT/scripts/lib/setup.sh"

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

step "OpenSSH server (tests/installers.rs runs the ssh target against a real sshd on 127.0.0.1)"
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
    apt_install openssh-server openssh-client
fi
export OPSDECK_SSHD=/usr/sbin/sshd
echo "OPSDECK_SSHD=$OPSDECK_SSHD"

step "moto in .venv"
ensure_moto
export OPSDECK_MOTO_SERVER="$VENV/bin/moto_server"
echo "OPSDECK_MOTO_SERVER=$OPSDECK_MOTO_SERVER"

step "cfn-lint in .venv (tests/templates_lint.rs lints templates/)"
ensure_cfn_lint
export OPSDECK_CFN_LINT="$VENV/bin/cfn-lint"
echo "OPSDECK_CFN_LINT=$OPSDECK_CFN_LINT"

step "checkov in .venv-checkov (tests/checkov_second_opinion.rs compares it with policies/)"
ensure_checkov
export OPSDECK_CHECKOV="$CHECKOV_VENV/bin/checkov"
echo "OPSDECK_CHECKOV=$OPSDECK_CHECKOV"
step "compliance-trestle and jsonschema in .venv (tests/compliance_exports.rs validates OSCAL and SARIF)"
ensure_trestle
export OPSDECK_PYTHON="$VENV/bin/python"
echo "OPSDECK_PYTHON=$OPSDECK_PYTHON"

# Snapshot mismatches fail instead of writing .snap.new files.
export INSTA_UPDATE=no

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --locked --all-targets -- -D warnings

step "cargo test --all-targets"
cargo test --locked --all-targets

step "cargo test --doc (compile-fail proofs that an approval cannot be forged)"
cargo test --locked --doc

# The bundled nginx installer in a disposable Debian root (root only; the Debian mirror once,
# then a cached root): asked for with OPSDECK_TEST_DEBOOTSTRAP=1.
if [ "${OPSDECK_TEST_DEBOOTSTRAP:-}" = 1 ]; then
    step "nginx installer in a debootstrap root (OPSDECK_TEST_DEBOOTSTRAP=1)"
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    cargo test --locked --test installers_debootstrap -- --ignored
fi

printf '\nOK: all checks passed in %ss\n' "$((SECONDS - START))"
