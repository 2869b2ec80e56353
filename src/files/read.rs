//! The one way opsdeck reads a file a person handed it.
//!
//! A path can name anything: a FIFO (reading blocks until someone writes, forever), a device
//! (`/dev/zero` never ends), a directory, or a regular file far larger than any sane config.
//! [`read_text`] refuses all of these before they cost anything:
//!
//! 1. `stat` the path (following symlinks) and refuse anything but a regular file without
//!    opening it, so opening a device cannot have side effects;
//! 2. open it with `O_NONBLOCK` (a FIFO swapped in meanwhile cannot block the open) and
//!    `O_NOCTTY`, then `fstat` the open file and refuse it again unless it is regular: what is
//!    checked is what is read;
//! 3. read at most the kind's limit plus one byte, so a file that grows while it is read, or
//!    a `/proc` file that lies about its size, still costs at most the limit;
//! 4. require UTF-8.
//!
//! Errors name the file, what opsdeck wanted it for, what is wrong, and the limit.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What a file is for: decides its size limit and how errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `config.toml` or `--config FILE`.
    Config,
    /// A theme in the themes directory.
    Theme,
    /// `waivers.toml`.
    Waivers,
    /// A user `*.rego` policy.
    Policy,
    /// A CloudFormation template named on the command line, in `:deploy`, or found by `check`.
    Template,
    /// An audit log given to `opsdeck audit verify`: streamed line by line (each line capped),
    /// so it has no size limit, but it must still be a regular file.
    AuditLog,
    /// A user installer's `manifest.yml`.
    InstallerManifest,
    /// A user installer's script (`install.sh`, `uninstall.sh`).
    InstallerScript,
    /// `[targets] ssh_config`, read for the target picker's host list.
    SshConfig,
    /// A kubeconfig file (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`).
    Kubeconfig,
    /// The cost usage file (`--usage`, `usage.yml`).
    Usage,
    /// A price catalogue written by `opsdeck prices refresh`.
    Prices,
    /// The spend cache and call counter in the data dir.
    SpendCache,
}

/// 1 MiB: CloudFormation's own limit for a template uploaded to S3; far above any config.
pub const MIB: u64 = 1024 * 1024;

impl FileKind {
    /// The most bytes opsdeck reads of this kind; `None` for a file that is streamed.
    pub fn limit(self) -> Option<u64> {
        match self {
            FileKind::Config => Some(MIB),
            FileKind::Theme => Some(64 * 1024),
            FileKind::Waivers => Some(MIB),
            FileKind::Policy => Some(MIB),
            FileKind::Template => Some(MIB),
            FileKind::AuditLog => None,
            FileKind::InstallerManifest => Some(256 * 1024),
            FileKind::InstallerScript => Some(MIB),
            FileKind::SshConfig => Some(MIB),
            FileKind::Kubeconfig => Some(16 * MIB),
            FileKind::Usage => Some(MIB),
            FileKind::Prices => Some(64 * MIB),
            FileKind::SpendCache => Some(8 * MIB),
        }
    }

    /// How errors name the file, e.g. "config file".
    pub fn noun(self) -> &'static str {
        match self {
            FileKind::Config => "config file",
            FileKind::Theme => "theme file",
            FileKind::Waivers => "waivers file",
            FileKind::Policy => "policy file",
            FileKind::Template => "template",
            FileKind::AuditLog => "audit log",
            FileKind::InstallerManifest => "installer manifest",
            FileKind::InstallerScript => "installer script",
            FileKind::SshConfig => "ssh config file",
            FileKind::Kubeconfig => "kubeconfig file",
            FileKind::Usage => "usage file",
            FileKind::Prices => "price catalogue",
            FileKind::SpendCache => "spend cache",
        }
    }
}

/// What is wrong with a file.
#[derive(Debug)]
pub enum Problem {
    /// There is no such file. Callers with an optional file treat this as "none".
    Missing,
    /// Something else the operating system refused (permission denied, ...).
    Io(std::io::Error),
    /// A FIFO, device, socket or directory: `what` names it ("a FIFO (named pipe)").
    NotRegular(&'static str),
    /// Larger than the kind's limit.
    TooLarge { limit: u64 },
    /// Not UTF-8 text; `line` is the 1-based line of the first invalid byte.
    NotUtf8 { line: usize },
}

/// A user file opsdeck would not or could not read. Displays as one sentence: the file,
/// its kind, what is wrong and what to do.
#[derive(Debug)]
pub struct FileError {
    pub path: PathBuf,
    pub kind: FileKind,
    pub problem: Problem,
}

impl FileError {
    pub fn is_missing(&self) -> bool {
        matches!(self.problem, Problem::Missing)
    }

    /// The problem alone, without the path: for errors that name the file themselves.
    pub fn reason(&self) -> String {
        let noun = self.kind.noun();
        match &self.problem {
            Problem::Missing => "no such file".to_string(),
            Problem::Io(e) => io_reason(e),
            Problem::NotRegular(what) => format!(
                "it is {what}, not a regular file; opsdeck reads a {noun} only from a regular file"
            ),
            Problem::TooLarge { limit } => format!(
                "it is larger than {}, the limit for a {noun}; use a smaller file",
                human_size(*limit)
            ),
            Problem::NotUtf8 { line } => {
                format!("it is not UTF-8 text (line {line}); save it as UTF-8")
            }
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: cannot read this {}: {}",
            self.path.display(),
            self.kind.noun(),
            self.reason()
        )
    }
}

impl std::error::Error for FileError {}

/// `Permission denied`, without the ` (os error 13)` tail.
fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

/// `1 MiB`, `64 KiB`, `512 bytes`.
pub fn human_size(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

fn kind_of(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    }
}

/// Opens `path` for reading if, and only if, it is a regular file (after following symlinks).
/// Never blocks on a FIFO and never opens a device.
pub fn open_regular(path: &Path, kind: FileKind) -> Result<File, FileError> {
    let fail = |problem| FileError {
        path: path.to_path_buf(),
        kind,
        problem,
    };
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            fail(Problem::Missing)
        } else {
            fail(Problem::Io(e))
        }
    };
    // Refuse before opening: opening some devices has effects of its own.
    let meta = std::fs::metadata(path).map_err(io)?;
    if let Some(what) = kind_of(meta.file_type()) {
        return Err(fail(Problem::NotRegular(what)));
    }
    let flags = nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_NOCTTY;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits())
        .open(path)
        .map_err(io)?;
    // The path may have been swapped between the stat and the open: check what was opened.
    let meta = file.metadata().map_err(io)?;
    if let Some(what) = kind_of(meta.file_type()) {
        return Err(fail(Problem::NotRegular(what)));
    }
    Ok(file)
}

/// Reads the whole of a user file as text, within its kind's limit. See the module docs.
pub fn read_text(path: &Path, kind: FileKind) -> Result<String, FileError> {
    let fail = |problem| FileError {
        path: path.to_path_buf(),
        kind,
        problem,
    };
    let file = open_regular(path, kind)?;
    let limit = kind.limit().unwrap_or(u64::MAX);
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > limit {
        return Err(fail(Problem::TooLarge { limit }));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| fail(Problem::Io(e)))?;
    if bytes.len() as u64 > limit {
        return Err(fail(Problem::TooLarge { limit }));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        fail(Problem::NotUtf8 { line })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::bounded;

    fn fifo(dir: &Path) -> PathBuf {
        let path = dir.join("fifo.toml");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        path
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = fifo(dir.path());
        let err = bounded(move || read_text(&path, FileKind::Config)).unwrap_err();
        assert!(matches!(err.problem, Problem::NotRegular(_)), "{err}");
        let text = err.to_string();
        assert!(text.contains("fifo.toml"), "{text}");
        assert!(text.contains("config file"), "{text}");
        assert!(
            text.contains("a FIFO (named pipe), not a regular file"),
            "{text}"
        );
    }

    #[test]
    fn a_symlink_to_dev_zero_is_refused_without_reading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("zero.toml");
        std::os::unix::fs::symlink("/dev/zero", &path).expect("symlink");
        let err = bounded(move || read_text(&path, FileKind::Theme)).unwrap_err();
        assert!(
            err.to_string()
                .contains("a character device, not a regular file"),
            "{err}"
        );
        assert!(err.to_string().contains("theme file"), "{err}");
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = read_text(dir.path(), FileKind::Waivers).unwrap_err();
        assert!(err.to_string().contains("a directory"), "{err}");
        assert!(err.to_string().contains("waivers file"), "{err}");
    }

    #[test]
    fn an_oversized_file_is_refused_naming_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.rego");
        std::fs::write(&path, "#".repeat(MIB as usize + 1)).expect("write");
        let err = read_text(&path, FileKind::Policy).unwrap_err();
        assert!(
            matches!(err.problem, Problem::TooLarge { limit: MIB }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("larger than 1 MiB, the limit for a policy file"),
            "{err}"
        );
        // Exactly at the limit is fine.
        std::fs::write(&path, "#".repeat(MIB as usize)).expect("write");
        assert_eq!(
            read_text(&path, FileKind::Policy).expect("read").len(),
            MIB as usize
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, b"a: 1\nb: \xff\n").expect("write");
        let err = read_text(&path, FileKind::Template).unwrap_err();
        assert!(matches!(err.problem, Problem::NotUtf8 { line: 2 }), "{err}");
        assert!(err.to_string().contains("not UTF-8 text (line 2)"), "{err}");
    }

    #[test]
    fn a_missing_file_is_told_apart() {
        let err = read_text(Path::new("/nonexistent/opsdeck.toml"), FileKind::Config).unwrap_err();
        assert!(err.is_missing());
        assert!(err.to_string().contains("no such file"), "{err}");
    }

    #[test]
    fn open_regular_never_blocks_and_has_no_size_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = fifo(dir.path());
        let err = bounded(move || open_regular(&path, FileKind::AuditLog)).unwrap_err();
        assert!(err.to_string().contains("audit log"), "{err}");
        let log = dir.path().join("audit.jsonl");
        std::fs::write(&log, "x".repeat(2 * MIB as usize)).expect("write");
        assert!(open_regular(&log, FileKind::AuditLog).is_ok());
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(MIB), "1 MiB");
        assert_eq!(human_size(64 * 1024), "64 KiB");
        assert_eq!(human_size(51_200), "50 KiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }
}
