//! The template library: the templates in `templates/`, built into the binary so a bastion
//! needs nothing beside it, plus any file path the operator names.

use super::template::{Template, TemplateError};
use std::path::{Path, PathBuf};

/// One bundled template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibraryTemplate {
    /// The name used in `:deploy NAME` and `opsdeck deploy NAME`: the file stem.
    pub name: &'static str,
    pub body: &'static str,
}

macro_rules! bundled {
    ($($name:literal),* $(,)?) => {
        &[$(LibraryTemplate {
            name: $name,
            body: include_str!(concat!("../../templates/", $name, ".yaml")),
        }),*]
    };
}

/// Every bundled template, in the order the picker lists them.
pub const LIBRARY: &[LibraryTemplate] = bundled!(
    "s3-bucket",
    "vpc-3az",
    "ec2-instance",
    "rds-postgres",
    "alb",
    "eks-cluster",
    "eks-nodegroup",
    "kms-key",
);

/// The largest template CloudFormation accepts inline (`TemplateBody`); larger ones must be
/// uploaded to S3 first.
pub const MAX_TEMPLATE_BODY: usize = 51_200;

/// A template chosen for a deploy: where it came from, its text, and its parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ChosenTemplate {
    /// `library:s3-bucket` or the file path.
    pub origin: String,
    pub body: String,
    pub template: Template,
}

pub fn find(name: &str) -> Option<&'static LibraryTemplate> {
    let stem = name.strip_suffix(".yaml").unwrap_or(name);
    LIBRARY.iter().find(|t| t.name == stem)
}

/// Resolve what the operator typed: a library name first, then a file path.
pub fn choose(spec: &str) -> Result<ChosenTemplate, TemplateError> {
    let spec = spec.trim();
    let (origin, path, body) =
        match find(spec) {
            Some(entry) => (
                format!("library:{}", entry.name),
                PathBuf::from(format!("templates/{}.yaml", entry.name)),
                entry.body.to_string(),
            ),
            None => {
                let path = Path::new(spec);
                // Through the one guard for user files: a regular file (a FIFO or a device would
                // block or never end, and this runs on the console's loop), at most 1 MiB, UTF-8.
                let body = crate::files::read_text(path, crate::files::FileKind::Template)
                    .map_err(|e| TemplateError {
                        path: path.to_path_buf(),
                        line: None,
                        column: None,
                        field: None,
                        message: if e.is_missing()
                            && !(spec.contains('/')
                                || spec.ends_with(".yaml")
                                || spec.ends_with(".json"))
                        {
                            format!(
                                "no library template named {spec:?} and no such file; library: {}",
                                LIBRARY
                                    .iter()
                                    .map(|t| t.name)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        } else {
                            format!("cannot read this template: {}", e.reason())
                        },
                        not_a_template: false,
                    })?;
                (path.display().to_string(), path.to_path_buf(), body)
            }
        };
    if body.len() > MAX_TEMPLATE_BODY {
        return Err(TemplateError {
            path,
            line: None,
            column: None,
            field: None,
            message: format!(
                "template is {} bytes; CloudFormation takes at most {MAX_TEMPLATE_BODY} inline (upload it to S3 instead)",
                body.len()
            ),
            not_a_template: false,
        });
    }
    let template = Template::parse(&body, &path)?;
    Ok(ChosenTemplate {
        origin,
        body,
        template,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_template_parses_and_is_the_file_in_templates() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("templates/")
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".yaml"))
                    .map(str::to_string)
            })
            .collect();
        on_disk.sort();
        let mut bundled: Vec<String> = LIBRARY.iter().map(|t| t.name.to_string()).collect();
        bundled.sort();
        assert_eq!(bundled, on_disk, "every file in templates/ is bundled");
        for entry in LIBRARY {
            let chosen = choose(entry.name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(chosen.origin, format!("library:{}", entry.name));
            assert!(!chosen.template.resources.is_empty(), "{}", entry.name);
        }
    }

    #[test]
    fn devices_directories_and_huge_files_are_refused_without_reading() {
        let err = choose("/dev/zero").unwrap_err().to_string();
        assert!(
            err.contains("a character device, not a regular file"),
            "{err}"
        );
        let err = choose(env!("CARGO_MANIFEST_DIR")).unwrap_err().to_string();
        assert!(err.contains("a directory, not a regular file"), "{err}");
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo.yaml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let spec = fifo.display().to_string();
        let err = crate::files::bounded(move || choose(&spec))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a FIFO (named pipe), not a regular file"),
            "{err}"
        );
        // CloudFormation's inline limit, after the read.
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, "#".repeat(MAX_TEMPLATE_BODY + 1)).expect("write");
        let err = choose(&big.display().to_string()).unwrap_err().to_string();
        assert!(err.contains("at most 51200"), "{err}");
        // The guard's own limit, before it.
        std::fs::write(&big, "#".repeat(2 * 1024 * 1024)).expect("write");
        let err = choose(&big.display().to_string()).unwrap_err().to_string();
        assert!(
            err.contains("larger than 1 MiB, the limit for a template"),
            "{err}"
        );
    }

    #[test]
    fn unknown_names_list_the_library() {
        let err = choose("s3-buckit").unwrap_err().to_string();
        assert!(err.contains("no library template named"), "{err}");
        assert!(err.contains("s3-bucket"), "{err}");
    }
}
