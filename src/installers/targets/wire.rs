//! How a script and its inputs travel: the constant remote bootstrap (ssh), the command text of
//! an SSM run, the NUL-framed input records both read, and the preflight script and its
//! answer. No input value is ever part of a command line or of shell text: values travel as
//! data (stdin, or one SecureString parameter) and become environment variables by `export`
//! of a quoted expansion, which is never parsed again.

use crate::installers::manifest::InputValue;
use crate::installers::ops::HostFacts;
use base64::Engine as _;
use std::collections::BTreeMap;

/// The bootstrap ssh runs on the host (`bash -c '…'`).
pub const BOOTSTRAP: &str = include_str!("bootstrap.sh");
/// The preflight script.
pub const PREFLIGHT: &str = include_str!("preflight.sh");

/// `text` quoted for a POSIX shell: `'…'`, with `'` as `'\''`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The input records: `<n>\0` then `NAME=value\0` for each. Names are `[A-Z_][A-Z0-9_]*`
/// (checked by the manifest); values never contain NUL (checked when validated).
pub fn env_records(inputs: &[InputValue]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(inputs.len().to_string().as_bytes());
    out.push(0);
    for input in inputs {
        out.extend_from_slice(input.env.as_bytes());
        out.push(b'=');
        out.extend_from_slice(input.expose().as_bytes());
        out.push(0);
    }
    out
}

/// What ssh's stdin carries: the input records, then `<len>\0` and the script.
pub fn ssh_payload(inputs: &[InputValue], script: &str) -> Vec<u8> {
    let mut out = env_records(inputs);
    out.extend_from_slice(script.len().to_string().as_bytes());
    out.push(0);
    out.extend_from_slice(script.as_bytes());
    out
}

/// The line the SSM command prints last: `opsdeck-run-end <nonce> rc=<code>`. Seeing it in
/// CloudWatch Logs means the output is complete.
pub fn end_marker(nonce: &str) -> String {
    format!("opsdeck-run-end {nonce} rc=")
}

/// Base64 in lines of 76, for a here-document (its alphabet cannot break shell quoting).
fn base64_lines(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 + 1);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The command text of an SSM run (`AWS-RunShellScript`): the script as base64, the inputs
/// fetched from the SecureString `parameter` (when there are any) with the instance's aws CLI,
/// then the same records and the same steps as the ssh bootstrap. Nothing in it is secret.
pub fn ssm_command(
    script: &str,
    parameter: Option<&str>,
    region: Option<&str>,
    nonce: &str,
) -> String {
    let fetch = match parameter {
        Some(name) => format!(
            "command -v aws >/dev/null 2>&1 || {{ echo 'opsdeck: the aws CLI is not on this instance; it fetches the sensitive inputs' >&2; finish 3; }}\n\
             aws ssm get-parameter {region}--name {name} --with-decryption --query Parameter.Value --output text | base64 -d >\"$d/env\" || {{ echo 'opsdeck: cannot read the run'\"'\"'s inputs from SSM Parameter Store' >&2; finish 3; }}\n",
            region = region
                .map(|r| format!("--region {} ", shell_quote(r)))
                .unwrap_or_default(),
            name = shell_quote(name),
        ),
        None => "printf '0\\0' >\"$d/env\"\n".to_string(),
    };
    format!(
        "{BASH_GUARD}\
         set -u\n\
         umask 077\n\
         finish() {{ printf '\\n%s%s\\n' {marker} \"$1\"; exit \"$1\"; }}\n\
         d=$(mktemp -d /tmp/opsdeck.XXXXXXXX) || finish 3\n\
         trap 'rm -rf -- \"$d\"' EXIT\n\
         base64 -d >\"$d/install.sh\" <<'OPSDECK_SCRIPT' || finish 3\n\
         {script}OPSDECK_SCRIPT\n\
         {fetch}\
         for v in $(compgen -e); do case $v in HOME | USER | LOGNAME) ;; *) unset \"$v\" 2>/dev/null ;; esac; done\n\
         export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8\n\
         exec 3<\"$d/env\"\n\
         IFS= read -r -d '' n <&3 || finish 3\n\
         case $n in '' | *[!0-9]*) finish 3 ;; esac\n\
         i=0\n\
         while [ \"$i\" -lt \"$n\" ]; do\n\
         \x20   IFS= read -r -d '' kv <&3 || finish 3\n\
         \x20   case ${{kv%%=*}} in '' | [!A-Z_]* | *[!A-Z0-9_]*) finish 3 ;; esac\n\
         \x20   export -- \"$kv\"\n\
         \x20   i=$((i + 1))\n\
         done\n\
         exec 3<&-\n\
         rm -f -- \"$d/env\"\n\
         cd \"$d\" || finish 3\n\
         setsid bash \"$d/install.sh\" </dev/null &\n\
         pid=$!\n\
         trap 'kill -TERM -- \"-$pid\" 2>/dev/null' TERM\n\
         wait \"$pid\"\n\
         rc=$?\n\
         if kill -0 \"$pid\" 2>/dev/null; then wait \"$pid\"; rc=$?; fi\n\
         finish \"$rc\"\n",
        marker = shell_quote(&end_marker(nonce)),
        script = base64_lines(script.as_bytes()),
    )
}

/// The preflight as an SSM command: the script, then the end marker.
pub fn ssm_preflight(nonce: &str) -> String {
    format!(
        "{BASH_GUARD}{PREFLIGHT}printf '%s%s\\n' {} 0\n",
        shell_quote(&end_marker(nonce))
    )
}

/// The first lines of every SSM command. The agent writes the command to `_script.sh` and runs
/// `sh -c <that file>`; `sh` is dash on Debian and Ubuntu, and the bootstrap needs bash: the
/// shebang takes it there, and should the file be read by `sh` itself, it runs itself again
/// with bash.
const BASH_GUARD: &str =
    "#!/bin/bash\nif [ -z \"${BASH_VERSION:-}\" ]; then exec bash \"$0\" \"$@\"; fi\n";

/// Read preflight's `key=value` lines. Unknown keys are ignored; a missing or unreadable
/// number is 0 (and then fails any requirement on it, never passes it).
pub fn parse_facts(output: &str) -> HostFacts {
    let mut map = BTreeMap::new();
    for line in output.lines() {
        if let Some((key, value)) = line.trim().split_once('=') {
            map.entry(key.to_string())
                .or_insert_with(|| value.trim().to_string());
        }
    }
    let text = |key: &str| {
        let mut out = String::new();
        crate::engine::joblog::sanitize_into(
            map.get(key).map(String::as_str).unwrap_or_default(),
            &mut out,
        );
        out
    };
    let number = |key: &str| text(key).parse::<u64>().unwrap_or(0);
    HostFacts {
        os_id: text("os_id"),
        os_like: text("os_like")
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        os_version: text("os_version"),
        ram_mb: number("ram_mb"),
        disk_mb: number("disk_mb"),
        cpu_cores: number("cpu_cores"),
        systemd: text("systemd") == "yes",
        aws_cli: match text("aws_cli").as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        account: None,
        tags: BTreeMap::new(),
        tags_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::installers::manifest::InputText;
    use crate::ops::Secret;

    fn inputs() -> Vec<InputValue> {
        vec![
            InputValue {
                name: "port".into(),
                env: "PORT".into(),
                value: InputText::Plain("80".into()),
            },
            InputValue {
                name: "password".into(),
                env: "PASSWORD".into(),
                value: InputText::Secret(Secret::new("s3cr3t")),
            },
        ]
    }

    #[test]
    fn records_are_nul_framed() {
        assert_eq!(
            env_records(&inputs()),
            b"2\0PORT=80\0PASSWORD=s3cr3t\0".to_vec()
        );
        assert_eq!(
            ssh_payload(&[], "echo hi\n"),
            b"0\x008\x00echo hi\n".to_vec()
        );
    }

    #[test]
    fn no_value_is_in_the_ssm_command_text() {
        let command = ssm_command(
            "echo $PASSWORD\n",
            Some("/opsdeck/run/r-1/env"),
            Some("us-east-1"),
            "n0nce",
        );
        assert!(!command.contains("s3cr3t"));
        assert!(command.contains("'/opsdeck/run/r-1/env'"), "{command}");
        assert!(command.contains("'opsdeck-run-end n0nce rc='"), "{command}");
        // the script travels as base64
        assert!(!command.contains("echo $PASSWORD"), "{command}");
    }

    #[test]
    fn facts_parse_and_missing_numbers_are_zero() {
        let facts = parse_facts(
            "os_id=debian\nos_like=\nos_version=12\nram_mb=2048\ndisk_mb=\ncpu_cores=2\nsystemd=no\naws_cli=yes\n",
        );
        assert_eq!(facts.os_id, "debian");
        assert_eq!(facts.os_version, "12");
        assert_eq!(facts.ram_mb, 2048);
        assert_eq!(facts.disk_mb, 0);
        assert!(!facts.systemd);
        assert_eq!(facts.aws_cli, Some(true));
    }
}
