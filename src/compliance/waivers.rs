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
//!
//! A waiver is checked on its own: every field present, `expires` a real calendar date and at
//! most `[compliance] waiver_max_days` (default 365) ahead of today, and a rule id that a
//! loaded rule has. A waiver that fails any check applies to nothing and is reported with
//! `file:line`; the others still apply. A file that cannot be read or is not valid TOML
//! applies no waiver at all (fail closed: the findings count).

use super::model::{Finding, WaiverState};
use crate::config::glob_match;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    pub rule: String,
    pub resource: String,
    pub reason: String,
    pub ticket: String,
    /// A real date, `YYYY-MM-DD`, within the horizon when it was loaded.
    pub expires: String,
    /// 1-based line of its `[[waiver]]` header.
    pub line: Option<usize>,
}

/// A `[[waiver]]` as written, with positions for errors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    rule: Option<Spanned<String>>,
    resource: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
    ticket: Option<Spanned<String>>,
    expires: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverFile {
    #[serde(default)]
    waiver: Vec<Spanned<RawWaiver>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct WaiverError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Read a waivers file; a missing file is no waivers. `today` is `YYYY-MM-DD`; `max_days`
/// is how far ahead an expiry may be. Returns the valid waivers and why the others are not.
pub fn load(path: &Path, today: &str, max_days: u32) -> (Vec<Waiver>, Vec<WaiverError>) {
    let text = match crate::files::read_text(path, crate::files::FileKind::Waivers) {
        Ok(text) => text,
        Err(e) if e.is_missing() => return (Vec::new(), Vec::new()),
        Err(e) => {
            return (
                Vec::new(),
                vec![WaiverError {
                    file: path.display().to_string(),
                    line: None,
                    message: format!(
                        "cannot read this waivers file: {}; no waiver applies",
                        e.reason()
                    ),
                }],
            );
        }
    };
    parse(&text, &path.display().to_string(), today, max_days)
}

/// Parse a waivers file's text; see [`load`].
pub fn parse(
    text: &str,
    file: &str,
    today: &str,
    max_days: u32,
) -> (Vec<Waiver>, Vec<WaiverError>) {
    let line_at = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let parsed: WaiverFile = match toml::from_str(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            return (
                Vec::new(),
                vec![WaiverError {
                    file: file.to_string(),
                    line: e.span().map(|s| line_at(s.start)),
                    message: format!("{}; no waiver applies", e.message().trim_end()),
                }],
            );
        }
    };
    let latest = Date::parse(today).map(|d| d.plus_days(max_days));
    let mut waivers = Vec::new();
    let mut errors = Vec::new();
    for (i, entry) in parsed.waiver.into_iter().enumerate() {
        let span = entry.span();
        let header = line_at(span.start);
        let w = entry.into_inner();
        let error = |at: usize, message: String| WaiverError {
            file: file.to_string(),
            line: Some(line_at(at)),
            message: format!("waiver[{i}].{message}; this waiver applies to nothing"),
        };
        // Every field present and not blank, in the order they are documented.
        let problem = [
            ("rule", &w.rule),
            ("resource", &w.resource),
            ("reason", &w.reason),
            ("ticket", &w.ticket),
            ("expires", &w.expires),
        ]
        .into_iter()
        .find_map(|(name, value)| match value {
            None => Some(error(span.start, format!("{name}: missing"))),
            Some(v) if v.get_ref().trim().is_empty() => {
                Some(error(v.span().start, format!("{name}: must not be empty")))
            }
            Some(_) => None,
        });
        if let Some(e) = problem {
            errors.push(e);
            continue;
        }
        let (Some(rule), Some(resource), Some(reason), Some(ticket), Some(expires)) =
            (w.rule, w.resource, w.reason, w.ticket, w.expires)
        else {
            continue; // every field was found present just above
        };
        let date = expires.get_ref();
        let problem = match (Date::parse(date), latest) {
            (None, _) => Some(format!(
                "expires: {date:?} is not a calendar date (YYYY-MM-DD)"
            )),
            (Some(d), Some(latest)) if d > latest => Some(format!(
                "expires: {date} is more than {max_days} days ahead (latest {latest}); a waiver is time-boxed: renew it when it runs out, or raise [compliance] waiver_max_days"
            )),
            _ => None,
        };
        match problem {
            Some(message) => errors.push(error(expires.span().start, message)),
            None => waivers.push(Waiver {
                rule: rule.into_inner(),
                resource: resource.into_inner(),
                reason: reason.into_inner(),
                ticket: ticket.into_inner(),
                expires: expires.into_inner(),
                line: Some(header),
            }),
        }
    }
    (waivers, errors)
}

/// Keep the waivers whose rule is one of `known`; each other one is reported (it can apply
/// to nothing: a typo, or a rule that is gone or did not load).
pub fn known_rules_only(
    waivers: Vec<Waiver>,
    known: impl Fn(&str) -> bool,
    file: &str,
) -> (Vec<Waiver>, Vec<WaiverError>) {
    let mut kept = Vec::new();
    let mut errors = Vec::new();
    for w in waivers {
        if known(&w.rule) {
            kept.push(w);
        } else {
            errors.push(WaiverError {
                file: file.to_string(),
                line: w.line,
                message: format!(
                    "waiver for rule {:?}: no loaded rule has that id (see `opsdeck check --format json` for the rule ids); it applies to nothing",
                    w.rule
                ),
            });
        }
    }
    (kept, errors)
}

/// A calendar date (proleptic Gregorian), ordered by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    year: i64,
    month: u32,
    day: u32,
}

impl Date {
    /// `YYYY-MM-DD` that names a real day (`2026-02-29` and `2026-13-01` do not).
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if s.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())
                .flatten()
        };
        let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let date = Date {
            year: i64::from(year),
            month,
            day,
        };
        ((1..=12).contains(&month) && day >= 1 && day <= date.days_in_month()).then_some(date)
    }

    fn days_in_month(&self) -> u32 {
        match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ => {
                let leap = self.year % 4 == 0 && (self.year % 100 != 0 || self.year % 400 == 0);
                if leap { 29 } else { 28 }
            }
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    fn days(&self) -> i64 {
        let y = self.year - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days since 1970-01-01 (`civil_from_days`).
    fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        Date {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
        }
    }

    pub fn plus_days(&self, days: u32) -> Date {
        Date::from_days(self.days() + i64::from(days))
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
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

    const TODAY: &str = "2026-11-22";

    fn valid(text: &str) -> Vec<Waiver> {
        let (waivers, errors) = parse(text, "waivers.toml", TODAY, 365);
        assert!(errors.is_empty(), "{errors:?}");
        waivers
    }

    #[test]
    fn active_waivers_stop_counting_and_expired_ones_count_again() {
        let waivers = valid(FILE);
        assert_eq!(waivers[0].line, Some(2));
        let mut findings = vec![
            finding("S3-001", "LogsBucket"),
            finding("S3-001", "Data"),
            finding("S3-002", "Data"),
        ];
        apply(&mut findings, &waivers, TODAY);
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
    fn bad_waivers_name_file_line_and_field_and_the_rest_still_apply() {
        let (waivers, errors) = parse(&FILE.replace("2026-01-31", "soon"), "w.toml", TODAY, 365);
        assert_eq!(waivers.len(), 1, "the valid one still applies");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(14), "the expires line");
        assert!(
            errors[0]
                .to_string()
                .starts_with("w.toml:14: waiver[1].expires: \"soon\" is not a calendar date"),
            "{}",
            errors[0]
        );
        // A missing field: that waiver only.
        let (waivers, errors) = parse(
            &FILE.replace("ticket = \"OPS-2\"\n", ""),
            "w.toml",
            TODAY,
            365,
        );
        assert_eq!(waivers.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "w.toml:9: waiver[1].ticket: missing; this waiver applies to nothing"
        );
        // Not TOML, or an unknown key: the whole file applies nothing.
        let (waivers, errors) = parse(
            "[[waiver]]\nrule = \"x\"\nowner = \"me\"\n",
            "w.toml",
            TODAY,
            365,
        );
        assert!(waivers.is_empty());
        assert_eq!(errors[0].line, Some(3), "{errors:?}");
        assert!(errors[0].message.contains("owner"), "{errors:?}");
        assert_eq!(
            load(Path::new("/nonexistent/waivers.toml"), TODAY, 365),
            (vec![], vec![])
        );
    }

    /// Issue 8: `9999-99-99` and `2026-13-45` were accepted as permanent waivers.
    #[test]
    fn expiry_is_a_real_date_within_the_horizon() {
        let with = |expires: &str, max_days: u32| {
            parse(
                &FILE.replace("2026-12-31", expires),
                "w.toml",
                TODAY,
                max_days,
            )
        };
        for impossible in [
            "9999-99-99",
            "2026-13-45",
            "2026-02-29",
            "2026-04-31",
            "2026-00-10",
            "20261231",
            "2026-1-01",
            "+026-01-01",
        ] {
            let (waivers, errors) = with(impossible, 365);
            assert_eq!(
                waivers.len(),
                1,
                "{impossible}: only the other waiver applies"
            );
            assert_eq!(waivers[0].rule, "S3-002");
            assert_eq!(errors.len(), 1, "{impossible}");
            assert_eq!(errors[0].line, Some(7), "{impossible}: {}", errors[0]);
            assert!(
                errors[0].message.contains("not a calendar date"),
                "{}",
                errors[0]
            );
        }
        assert!(
            with("2028-02-29", 4000).1.is_empty(),
            "a leap day is a date"
        );
        // The horizon: today + 365 is the last day allowed.
        assert!(with("2027-11-22", 365).1.is_empty());
        let (waivers, errors) = with("2027-11-23", 365);
        assert_eq!(waivers.len(), 1);
        assert!(
            errors[0]
                .message
                .contains("more than 365 days ahead (latest 2027-11-22)"),
            "{}",
            errors[0]
        );
        let (_, errors) = with("9999-12-31", 365);
        assert_eq!(errors.len(), 1, "far in the future is refused");
        assert_eq!(
            with("2026-12-03", 10).1.len(),
            1,
            "a shorter horizon from config"
        );
        assert!(with("2026-12-02", 10).1.is_empty());
    }

    #[test]
    fn a_waiver_of_an_unknown_rule_is_reported() {
        let (waivers, errors) = known_rules_only(valid(FILE), |id| id == "S3-001", "w.toml");
        assert_eq!(waivers.len(), 1);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .to_string()
                .starts_with("w.toml:9: waiver for rule \"S3-002\": no loaded rule has that id"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn dates_count_days_across_months_years_and_leap_days() {
        let d = |s: &str| Date::parse(s).expect(s);
        assert_eq!(d("2026-11-22").plus_days(365).to_string(), "2027-11-22");
        assert_eq!(d("2028-02-28").plus_days(1).to_string(), "2028-02-29");
        assert_eq!(d("2100-02-28").plus_days(1).to_string(), "2100-03-01");
        assert_eq!(d("2000-02-28").plus_days(1).to_string(), "2000-02-29");
        assert_eq!(d("1970-01-01").days(), 0);
        assert_eq!(d("2026-12-31").plus_days(1).to_string(), "2027-01-01");
        assert!(d("2026-01-31") < d("2026-02-01"));
    }

    #[test]
    fn a_fifo_or_device_as_waivers_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("waivers.toml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let zero = dir.path().join("zero.toml");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        for (path, says) in [(fifo, "a FIFO (named pipe)"), (zero, "a character device")] {
            let (waivers, errors) = crate::files::bounded(move || load(&path, "2026-12-01", 365));
            assert!(waivers.is_empty());
            let err = errors.first().expect("an error").to_string();
            assert!(err.contains("cannot read this waivers file"), "{err}");
            assert!(err.contains(says), "{err}");
        }
    }
}
