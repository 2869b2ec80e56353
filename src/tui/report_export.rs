//! Exporting the Compliance pane's report to a file, in any of the formats `opsdeck check`
//! writes (`compliance::export`).

use crate::compliance::report::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Text,
    Json,
    Csv,
    Sarif,
    Oscal,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 5] = [
        ExportFormat::Text,
        ExportFormat::Json,
        ExportFormat::Csv,
        ExportFormat::Sarif,
        ExportFormat::Oscal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Text => "text",
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
            ExportFormat::Sarif => "sarif",
            ExportFormat::Oscal => "oscal",
        }
    }

    /// The letter that picks it in the menu.
    pub fn key(self) -> char {
        match self {
            ExportFormat::Text => 't',
            ExportFormat::Json => 'J',
            ExportFormat::Csv => 'c',
            ExportFormat::Sarif => 's',
            ExportFormat::Oscal => 'o',
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ExportFormat::Text => "plain text, for people",
            ExportFormat::Json => "the report as JSON",
            ExportFormat::Csv => "one row per finding",
            ExportFormat::Sarif => "SARIF 2.1.0, for code-scanning tools",
            ExportFormat::Oscal => "OSCAL assessment-results, for assessors",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Text => "txt",
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
            ExportFormat::Sarif => "sarif",
            ExportFormat::Oscal => "oscal.json",
        }
    }

    pub fn parse(name: &str) -> Option<ExportFormat> {
        ExportFormat::ALL.into_iter().find(|f| {
            f.name().eq_ignore_ascii_case(name) || (name == "txt" && *f == ExportFormat::Text)
        })
    }
}

/// The file's text and extension: the same exporters `opsdeck check` uses.
pub fn render(format: ExportFormat, report: &Report) -> (String, &'static str) {
    use crate::compliance::export::{self, Format};
    let as_format = match format {
        ExportFormat::Text => Format::Text,
        ExportFormat::Json => Format::Json,
        ExportFormat::Csv => Format::Csv,
        ExportFormat::Sarif => Format::Sarif,
        ExportFormat::Oscal => Format::Oscal,
    };
    (
        export::render(report, as_format, std::time::SystemTime::now()),
        format.extension(),
    )
}

/// Write `report` under `dir` as `report-<stamp>.<ext>`; returns the path.
pub fn write(
    dir: &std::path::Path,
    stamp: &str,
    format: ExportFormat,
    report: &Report,
) -> Result<std::path::PathBuf, String> {
    let (text, ext) = render(format, report);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut path = dir.join(format!("report-{stamp}.{ext}"));
    // Two exports in one second do not overwrite each other.
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("report-{stamp}-{n}.{ext}"));
    }
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_new_file_each_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let report =
            crate::tui::compliance::judge_library(&crate::compliance::Checker::bundled()).report;
        let a =
            write(dir.path(), "20261122-101500", ExportFormat::Sarif, &report).expect("written");
        let b =
            write(dir.path(), "20261122-101500", ExportFormat::Sarif, &report).expect("written");
        assert_ne!(a, b);
        let text = std::fs::read_to_string(&a).expect("readable");
        assert!(text.contains("\"version\": \"2.1.0\""), "SARIF: {text}");
        assert!(a.extension().is_some_and(|e| e == "sarif"));
        assert_eq!(ExportFormat::parse("SARIF"), Some(ExportFormat::Sarif));
    }
}
