#!/usr/bin/env bash
# checkov's second opinion on policies/: installs the pinned checkov into ./.venv-checkov, then
# runs tests/checkov_second_opinion.rs, which prints the checkov check -> opsdeck rule mapping
# (tests/checkov_map.json) with checkov's failure counts over tests/fixtures/compliance, and fails
# when checkov fails a resource that the mapped rules do not report.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib/setup.sh
source "$ROOT/scripts/lib/setup.sh"
ensure_checkov
export OPSDECK_CHECKOV="$CHECKOV_VENV/bin/checkov"
cargo test --test checkov_second_opinion -- --nocapture
