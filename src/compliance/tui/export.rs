//! Exporting the Compliance pane's report to a file, in any of the formats `opsdeck check`
//! writes (`compliance::export`).

use crate::compliance::export::{self, Format};
use crate::compliance::report::Report;

/// The letter that picks a format in the pane's export menu.
pub fn menu_key(format: Format) -> char {
    match format {
        Format::Text => 't',
        Format::Json => 'J',
        Format::Csv => 'c',
        Format::Sarif => 's',
        Format::Oscal => 'o',
    }
}

/// The file's text and extension: the same exporters `opsdeck check` uses.
pub fn render(format: Format, report: &Report) -> (String, &'static str) {
    (
        export::render(report, format, std::time::SystemTime::now()),
        format.extension(),
    )
}

/// Write `report` under `dir` as `report-<stamp>.<ext>`; returns the path.
pub fn write(
    dir: &std::path::Path,
    stamp: &str,
    format: Format,
    report: &Report,
) -> Result<std::path::PathBuf, String> {
    use std::io::Write as _;
    let (text, ext) = render(format, report);
    crate::files::ensure_private_dir(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // Two exports in one second do not overwrite each other: each is a new file, 0600.
    let mut n = 1;
    loop {
        let path = if n == 1 {
            dir.join(format!("report-{stamp}.{ext}"))
        } else {
            dir.join(format!("report-{stamp}-{n}.{ext}"))
        };
        match crate::files::create_new_private_file(&path) {
            Ok(mut file) => {
                file.write_all(text.as_bytes())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(format!("cannot write {}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_new_file_each_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let report =
            crate::compliance::tui::judge_library(&crate::compliance::Checker::bundled()).report;
        let a = write(dir.path(), "20261122-101500", Format::Sarif, &report).expect("written");
        let b = write(dir.path(), "20261122-101500", Format::Sarif, &report).expect("written");
        assert_ne!(a, b);
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode();
        assert_eq!(mode(&a) & 0o777, 0o600, "reports are private");
        assert_eq!(mode(dir.path()) & 0o777, 0o700, "and so is their directory");
        let text = std::fs::read_to_string(&a).expect("readable");
        assert!(text.contains("\"version\": \"2.1.0\""), "SARIF: {text}");
        assert!(a.extension().is_some_and(|e| e == "sarif"));
        assert_eq!(Format::parse("SARIF"), Some(Format::Sarif));
    }
}
