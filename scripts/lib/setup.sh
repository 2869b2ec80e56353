# Shared set-up for scripts/test.sh and scripts/demo.sh: apt installs, moto and cfn-lint in ./.venv.
# Source it after setting ROOT (the repo root) and defining die().

# The moto release the tests are written against (pip index versions moto).
MOTO_VERSION="5.2.5"
# The cfn-lint release templates/ is kept clean against (pip index versions cfn-lint).
CFN_LINT_VERSION="1.58.0"
# The checkov release the rule pack is compared with (tests/checkov_second_opinion.rs).
CHECKOV_VERSION="3.3.30"
# compliance-trestle validates the OSCAL export (tests/compliance_exports.rs); 5.2.0's models
# are OSCAL 1.2.x (it accepts oscal-version 1.2.0-1.2.1). jsonschema validates the SARIF export
# against tests/schemas/sarif-schema-2.1.0.json (4.26.0 is also what cfn-lint pulls in).
TRESTLE_VERSION="5.2.0"
JSONSCHEMA_VERSION="4.26.0"
VENV="$ROOT/.venv"
# checkov pins an older boto3/botocore than moto's; moto builds its responses from botocore's
# service models, so checkov gets a venv of its own instead of downgrading moto's.
CHECKOV_VENV="$ROOT/.venv-checkov"

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

# ./.venv, created on first use; moto and cfn-lint are installed into it.
ensure_venv() {
    command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
    if [ ! -x "$VENV/bin/python" ]; then
        if ! python3 -m venv "$VENV"; then
            # Debian ships venv/ensurepip separately.
            rm -rf "$VENV"
            apt_install python3-venv
            python3 -m venv "$VENV"
        fi
    fi
}

ensure_moto() {
    moto_ready() {
        [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" - "$MOTO_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
assert version("moto") == sys.argv[1]
import flask, flask_cors, moto.server  # the [server] extra
PY
    }
    if moto_ready; then
        echo "moto $MOTO_VERSION already installed in $VENV"
        return
    fi
    ensure_venv
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "moto[server]==$MOTO_VERSION"
    moto_ready || die "moto $MOTO_VERSION did not install into $VENV"
}

# cfn-lint lints templates/ (tests/templates_lint.rs); a newer release may add rules, so it is pinned.
ensure_cfn_lint() {
    cfn_lint_ready() {
        [ -x "$VENV/bin/cfn-lint" ] && "$VENV/bin/python" - "$CFN_LINT_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
assert version("cfn-lint") == sys.argv[1]
PY
    }
    if cfn_lint_ready; then
        echo "cfn-lint $CFN_LINT_VERSION already installed in $VENV"
        return
    fi
    ensure_venv
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "cfn-lint==$CFN_LINT_VERSION"
    cfn_lint_ready || die "cfn-lint $CFN_LINT_VERSION did not install into $VENV"
}

# checkov (a second opinion on policies/, run offline with --skip-download); about 3.5 min to
# install on a cold pip cache.
ensure_checkov() {
    checkov_ready() {
        [ -x "$CHECKOV_VENV/bin/checkov" ] && "$CHECKOV_VENV/bin/python" - "$CHECKOV_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
assert version("checkov") == sys.argv[1]
PY
    }
    if checkov_ready; then
        echo "checkov $CHECKOV_VERSION already installed in $CHECKOV_VENV"
        return
    fi
    ensure_venv # python3 and python3-venv
    if [ ! -x "$CHECKOV_VENV/bin/python" ]; then
        rm -rf "$CHECKOV_VENV"
        python3 -m venv "$CHECKOV_VENV"
    fi
    "$CHECKOV_VENV/bin/python" -m pip install --disable-pip-version-check -q "checkov==$CHECKOV_VERSION"
    checkov_ready || die "checkov $CHECKOV_VERSION did not install into $CHECKOV_VENV"
}

# compliance-trestle and jsonschema validate the OSCAL and SARIF exports in the test suite.
ensure_trestle() {
    trestle_ready() {
        [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$TRESTLE_VERSION" "$JSONSCHEMA_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
assert version("compliance-trestle") == sys.argv[1]
assert version("jsonschema") == sys.argv[2]
from trestle.oscal.assessment_results import AssessmentResults
import jsonschema
PY
    }
    if trestle_ready; then
        echo "compliance-trestle $TRESTLE_VERSION and jsonschema $JSONSCHEMA_VERSION already installed in $VENV"
        return
    fi
    ensure_venv
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
        "compliance-trestle==$TRESTLE_VERSION" "jsonschema==$JSONSCHEMA_VERSION"
    trestle_ready || die "compliance-trestle $TRESTLE_VERSION / jsonschema $JSONSCHEMA_VERSION did not install into $VENV"
}
