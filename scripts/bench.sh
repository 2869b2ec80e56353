#!/usr/bin/env bash
# Benchmarks. They measure and report against budgets; they never fail on a figure.
# Add further benches here as they are written.
set -euo pipefail
cd "$(dirname "$0")/.."

# Start-up: first frame in a pty (budget ≤ 30 ms) and bytes written while idle (budget 0).
cargo bench --bench startup "$@"
