#!/usr/bin/env bash
# Benchmarks. They measure and report against budgets; they never fail on a figure.
# Add further benches here as they are written.
#
# The compliance bench compares opsdeck with checkov and cfn-guard on the same template; both
# are installed on first use: cfn-guard with `cargo install --root .tools` (it compiles for
# several minutes, once), checkov into ./.venv-checkov as the test suite does.
# OPSDECK_BENCH_NO_INSTALL=1 skips both installs (the bench then notes what is absent).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# The releases the figures in docs/architecture.md were taken with.
CFN_GUARD_VERSION="3.2.1"
TOOLS="$ROOT/.tools"

ensure_cfn_guard() {
    if [ -x "$TOOLS/bin/cfn-guard" ] && "$TOOLS/bin/cfn-guard" --version 2>/dev/null | grep -q "$CFN_GUARD_VERSION"; then
        return
    fi
    echo "installing cfn-guard $CFN_GUARD_VERSION into $TOOLS (compiles once, several minutes)"
    # Its own target dir: the bench's CARGO_TARGET_DIR is for opsdeck.
    env -u CARGO_TARGET_DIR cargo install --quiet --locked --root "$TOOLS" --version "$CFN_GUARD_VERSION" cfn-guard \
        || echo "note: cfn-guard did not install; the bench will skip it"
}

# checkov: the same pinned install the test suite uses (./.venv-checkov).
# shellcheck source=scripts/lib/setup.sh
source "$ROOT/scripts/lib/setup.sh"

if [ "${OPSDECK_BENCH_NO_INSTALL:-}" != "1" ]; then
    ensure_cfn_guard
    ensure_checkov
fi

# Kubernetes: the pods view frame (budget ≤ 1 ms at 10k rows), log ingest (≥ 1M lines/s), keys and
# frames while a log streams 100k lines/s (pty), memory with 10k pods + 1M log lines (≤ 100 MB).
cargo bench --bench kube "$@"

# Start-up: first frame in a pty (budget ≤ 30 ms) and bytes written while idle (budget 0).
cargo bench --bench startup "$@"

# Compliance: the full pack over a 1,000-resource template (budget ≤ 100 ms), beside checkov
# and cfn-guard on the same file.
cargo bench --bench compliance "$@"

# Cost: a 1,000-resource template estimated (budget ≤ 20 ms), and how much of it is parsing.
cargo bench --bench cost "$@"

# Prices refresh: a 100 MB offer file from a loopback server (budget ≤ 50 MB resident), MB/s.
cargo bench --bench prices_refresh "$@"
