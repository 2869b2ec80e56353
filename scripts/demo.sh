#!/usr/bin/env bash
# Try opsdeck without an AWS account: starts moto (a local AWS emulator) on 127.0.0.1 with
# three CloudFormation stacks, plus scripts/cfn_gaps.py in front of it for the calls moto
# lacks (drift, termination protection), and opens the console against them. Data (audit log, job history)
# goes to ./.demo/, not to your real ~/.local/share/opsdeck. Extra arguments go to opsdeck,
# e.g. `scripts/demo.sh --read-only`. moto is stopped when the console exits.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib/setup.sh
source "$ROOT/scripts/lib/setup.sh"

command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs)"
ensure_moto
echo "building opsdeck (release; the first build takes a few minutes)"
cargo build --release --quiet --bin opsdeck
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/opsdeck"

DEMO="$ROOT/.demo"
mkdir -p "$DEMO"
PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
GAPS_PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$DEMO/moto.log" 2>&1 &
MOTO_PID=$!
# moto lacks drift detection and termination protection: a small loopback proxy in front of it
# answers those calls (see scripts/cfn_gaps.py); everything else goes to moto unchanged.
"$VENV/bin/python" "$ROOT/scripts/cfn_gaps.py" "$GAPS_PORT" "http://127.0.0.1:$PORT" >"$DEMO/cfn_gaps.log" 2>&1 &
GAPS_PID=$!
trap 'kill "$MOTO_PID" "$GAPS_PID" 2>/dev/null || true; wait "$MOTO_PID" "$GAPS_PID" 2>/dev/null || true' EXIT

# Only the emulator's throwaway credentials; never your real ones.
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
export XDG_CONFIG_HOME="$DEMO/config" XDG_DATA_HOME="$DEMO/data"

"$VENV/bin/python" - "$PORT" <<'PY'
import sys, time, urllib.request
import boto3
url = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(150):
    try:
        urllib.request.urlopen(url + "/moto-api/", timeout=1)
        break
    except Exception:
        time.sleep(0.2)
else:
    sys.exit("moto did not start; see .demo/moto.log")
cfn = boto3.client("cloudformation", endpoint_url=url, region_name="us-east-1")
body = '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}, "Queue": {"Type": "AWS::SQS::Queue"}}}'
for name in ("web-frontend", "orders-api", "reporting-batch"):
    cfn.create_stack(StackName=name, TemplateBody=body, Tags=[{"Key": "Owner", "Value": "demo"}])
print(f"moto on {url} with 3 stacks")
PY

set +e
cat <<TXT
Try: n (deploy a template; s3-bucket needs only Owner and CostCenter), Enter on a stack
(detail; Tab through Resources/Outputs/Parameters/Events/Drift), u (update), f (follow),
D (drift: moto does not apply VersioningConfiguration, so a fresh s3-bucket stack shows a
real drift), p (termination protection), d (delete), ? (every key).
TXT
"$BIN" --endpoint-url "http://127.0.0.1:$GAPS_PORT" "$@"
STATUS=$?
set -e
echo
echo "== opsdeck audit verify (data in .demo/)"
"$BIN" audit verify || true
echo "== opsdeck jobs"
"$BIN" jobs --limit 10 || true
exit "$STATUS"
