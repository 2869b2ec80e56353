//! The Python peers the export tests check opsdeck's files with: jsonschema for SARIF and
//! compliance-trestle for OSCAL, from `.venv` as `scripts/test.sh` installs them (or the
//! interpreter `OPSDECK_PYTHON` names).

use std::path::{Path, PathBuf};
use std::process::Command;

/// SARIF 2.1.0's JSON schema, relative to the crate.
pub const SARIF_SCHEMA: &str = "tests/schemas/sarif-schema-2.1.0.json";

/// `python -c VALIDATE_SARIF <schema> <document>`: checks the schema itself, then the document
/// against it (formats too); prints the first ten errors and exits 1 when there are any.
pub const VALIDATE_SARIF: &str = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
errors = sorted(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(doc), key=str)
for e in errors[:10]:
    print("/".join(map(str, e.absolute_path)), e.message, file=sys.stderr)
sys.exit(1 if errors else 0)
"#;

/// The interpreter with the peers installed.
pub fn python() -> PathBuf {
    let path = std::env::var_os("OPSDECK_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    assert!(
        path.is_file(),
        "python with jsonschema and compliance-trestle not found at {} (OPSDECK_PYTHON or .venv): run scripts/test.sh",
        path.display()
    );
    path
}

/// Run a python snippet with arguments; its output, or a panic with it unless it exits 0.
pub fn run_python(script: &str, args: &[&Path]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        out.status.success(),
        "python validation failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}
