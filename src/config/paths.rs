//! Where opsdeck keeps its files. Nothing here touches the file system:
//! callers create the directories they need.

use std::path::{Path, PathBuf};

use directories::ProjectDirs;

use super::ConfigError;

/// Every file and directory opsdeck reads or writes, resolved once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `$XDG_CONFIG_HOME/opsdeck`, usually `~/.config/opsdeck`.
    pub config_dir: PathBuf,
    /// `$XDG_DATA_HOME/opsdeck`, usually `~/.local/share/opsdeck`.
    pub data_dir: PathBuf,
    /// `config_dir/config.toml`.
    pub config_file: PathBuf,
    /// `config_dir/themes`: user themes.
    pub themes_dir: PathBuf,
    /// `config_dir/installers`: the user's own installers, one folder each.
    pub installers_dir: PathBuf,
    /// `data_dir/audit.jsonl`.
    pub audit_log: PathBuf,
    /// `data_dir/jobs.sqlite3`.
    pub jobs_db: PathBuf,
    /// `data_dir/job-logs`.
    pub job_logs_dir: PathBuf,
    /// `data_dir/opsdeck.log`: tracing output goes here, never to the terminal.
    pub trace_log: PathBuf,
}

impl Paths {
    /// The per-user directories, honouring `XDG_CONFIG_HOME` and `XDG_DATA_HOME` on Linux.
    /// Fails only when no home directory can be determined.
    pub fn discover() -> Result<Paths, ConfigError> {
        let dirs = ProjectDirs::from("", "", "opsdeck").ok_or(ConfigError::NoHomeDir)?;
        Ok(Paths::from_dirs(
            dirs.config_dir().to_path_buf(),
            dirs.data_dir().to_path_buf(),
        ))
    }

    /// `root/config` and `root/data`, with the same layout below them. For tests.
    pub fn under(root: &Path) -> Paths {
        Paths::from_dirs(root.join("config"), root.join("data"))
    }

    /// opsdeck's files under these two directories (`config_dir` holds `config.toml`,
    /// `data_dir` the audit log, job store and job logs).
    pub fn in_dirs(config_dir: PathBuf, data_dir: PathBuf) -> Paths {
        Paths::from_dirs(config_dir, data_dir)
    }

    fn from_dirs(config_dir: PathBuf, data_dir: PathBuf) -> Paths {
        Paths {
            config_file: config_dir.join("config.toml"),
            themes_dir: config_dir.join("themes"),
            installers_dir: config_dir.join("installers"),
            audit_log: data_dir.join("audit.jsonl"),
            jobs_db: data_dir.join("jobs.sqlite3"),
            job_logs_dir: data_dir.join("job-logs"),
            trace_log: data_dir.join("opsdeck.log"),
            config_dir,
            data_dir,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_lays_out_config_and_data() {
        let p = Paths::under(Path::new("/r"));
        assert_eq!(p.config_dir, Path::new("/r/config"));
        assert_eq!(p.data_dir, Path::new("/r/data"));
        assert_eq!(p.config_file, Path::new("/r/config/config.toml"));
        assert_eq!(p.themes_dir, Path::new("/r/config/themes"));
        assert_eq!(p.audit_log, Path::new("/r/data/audit.jsonl"));
        assert_eq!(p.jobs_db, Path::new("/r/data/jobs.sqlite3"));
        assert_eq!(p.job_logs_dir, Path::new("/r/data/job-logs"));
        assert_eq!(p.trace_log, Path::new("/r/data/opsdeck.log"));
    }

    #[test]
    fn discover_names_the_opsdeck_directories() {
        // Only meaningful where a home directory exists; the environment is not
        // modified here because tests run in parallel.
        if let Ok(p) = Paths::discover() {
            assert!(p.config_dir.ends_with("opsdeck"), "{p:?}");
            assert!(p.data_dir.ends_with("opsdeck"), "{p:?}");
            assert_eq!(p.config_file, p.config_dir.join("config.toml"));
            assert_eq!(p.audit_log, p.data_dir.join("audit.jsonl"));
        }
    }
}
