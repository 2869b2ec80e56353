//! Waivers: time-boxed, reasoned exceptions to a rule for matching resources, kept in
//! `$XDG_CONFIG_HOME/opsdeck/waivers.toml`:
//!
//! ```toml
//! [[waiver]]
//! rule = "S3-004"                  # the rule id
//! resource = "web-*/AccessLogs*"   # glob over `SOURCE/LOGICAL_ID` or just `LOGICAL_ID`
//! reason = "log bucket of the log bucket"
//! ticket = "OPS-1234"
//! expires = "2026-12-31"           # last day the waiver counts
//! ```
//!
//! A waived finding stays in the report, marked waived with its reason; once `expires` has
//! passed it counts again and is shown as expired.

use super::model::{Finding, WaiverState};
use crate::config::glob_match;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    pub rule: String,
    pub resource: String,
    pub reason: String,
    pub ticket: String,
    pub expires: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverFile {
    #[serde(default)]
    waiver: Vec<Waiver>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct WaiverError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Read a waivers file; a missing file is no waivers.
pub fn load(path: &Path) -> Result<Vec<Waiver>, WaiverError> {
    let text = match crate::files::read_text(path, crate::files::FileKind::Waivers) {
        Ok(text) => text,
        Err(e) if e.is_missing() => return Ok(Vec::new()),
        Err(e) => {
            return Err(WaiverError {
                file: path.display().to_string(),
                line: None,
                message: format!("cannot read this waivers file: {}", e.reason()),
            });
        }
    };
    parse(&text, &path.display().to_string())
}

pub fn parse(text: &str, file: &str) -> Result<Vec<Waiver>, WaiverError> {
    let parsed: WaiverFile = toml::from_str(text).map_err(|e| WaiverError {
        file: file.to_string(),
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
        message: e.message().to_string(),
    })?;
    for (i, w) in parsed.waiver.iter().enumerate() {
        let line = nth_table_line(text, i);
        let error = |message: String| WaiverError {
            file: file.to_string(),
            line,
            message,
        };
        if !is_date(&w.expires) {
            return Err(error(format!(
                "waiver[{i}].expires: {:?} is not a date (YYYY-MM-DD)",
                w.expires
            )));
        }
        for (field, value) in [
            ("rule", &w.rule),
            ("resource", &w.resource),
            ("reason", &w.reason),
            ("ticket", &w.ticket),
        ] {
            if value.trim().is_empty() {
                return Err(error(format!("waiver[{i}].{field}: must not be empty")));
            }
        }
    }
    Ok(parsed.waiver)
}

fn nth_table_line(text: &str, n: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("[[waiver]]"))
        .nth(n)
        .map(|(i, _)| i + 1)
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s.chars()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Today's date (UTC), `YYYY-MM-DD`.
pub fn today() -> String {
    humantime::format_rfc3339(std::time::SystemTime::now()).to_string()[..10].to_string()
}

/// Mark findings that a waiver covers. `today` is `YYYY-MM-DD`; a waiver counts through its
/// `expires` day.
pub fn apply(findings: &mut [Finding], waivers: &[Waiver], today: &str) {
    for finding in findings {
        let qualified = format!("{}/{}", finding.source, finding.resource);
        let matched = waivers.iter().find(|w| {
            w.rule == finding.rule
                && (glob_match(&w.resource, &finding.resource)
                    || glob_match(&w.resource, &qualified))
        });
        finding.waiver = matched.map(|w| {
            let (reason, ticket, expires) = (w.reason.clone(), w.ticket.clone(), w.expires.clone());
            if w.expires.as_str() >= today {
                WaiverState::Active {
                    reason,
                    ticket,
                    expires,
                }
            } else {
                WaiverState::Expired {
                    reason,
                    ticket,
                    expires,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::model::Severity;

    fn finding(rule: &str, resource: &str) -> Finding {
        Finding {
            rule: rule.into(),
            title: "t".into(),
            severity: Severity::High,
            controls: vec!["sc-28".into()],
            source: "stack:web".into(),
            resource: resource.into(),
            resource_type: "AWS::S3::Bucket".into(),
            path: "Properties".into(),
            line: None,
            message: "m".into(),
            remediation: "r".into(),
            waiver: None,
        }
    }

    const FILE: &str = r#"
[[waiver]]
rule = "S3-001"
resource = "stack:web/Logs*"
reason = "the log bucket"
ticket = "OPS-1"
expires = "2026-12-31"

[[waiver]]
rule = "S3-002"
resource = "*"
reason = "old"
ticket = "OPS-2"
expires = "2026-01-31"
"#;

    #[test]
    fn active_waivers_stop_counting_and_expired_ones_count_again() {
        let waivers = parse(FILE, "waivers.toml").expect("valid");
        let mut findings = vec![
            finding("S3-001", "LogsBucket"),
            finding("S3-001", "Data"),
            finding("S3-002", "Data"),
        ];
        apply(&mut findings, &waivers, "2026-11-22");
        assert!(matches!(
            findings[0].waiver,
            Some(WaiverState::Active { .. })
        ));
        assert!(!findings[0].counts());
        assert_eq!(findings[1].waiver, None);
        assert!(matches!(
            findings[2].waiver,
            Some(WaiverState::Expired { .. })
        ));
        assert!(findings[2].counts());
        // the last day still counts
        apply(&mut findings, &waivers, "2026-12-31");
        assert!(!findings[0].counts());
        apply(&mut findings, &waivers, "2027-01-01");
        assert!(findings[0].counts());
    }

    #[test]
    fn bad_waivers_name_file_line_and_field() {
        let err = parse(&FILE.replace("2026-01-31", "soon"), "w.toml").unwrap_err();
        assert_eq!(err.line, Some(9));
        assert!(
            err.to_string().starts_with("w.toml:9: waiver[1].expires"),
            "{err}"
        );
        let err = parse("[[waiver]]\nrule = \"x\"\nowner = \"me\"\n", "w.toml").unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        assert!(err.message.contains("owner"), "{err}");
        assert_eq!(load(Path::new("/nonexistent/waivers.toml")), Ok(vec![]));
    }

    #[test]
    fn a_fifo_or_device_as_waivers_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("waivers.toml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let zero = dir.path().join("zero.toml");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        for (path, says) in [(fifo, "a FIFO (named pipe)"), (zero, "a character device")] {
            let err = crate::files::bounded(move || load(&path)).unwrap_err();
            assert!(
                err.to_string().contains("cannot read this waivers file"),
                "{err}"
            );
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
