//! Where installers come from: the ones bundled in the binary (`installers/<id>/` at build
//! time, embedded file by file) and the user's own (`~/.config/opsdeck/installers/<id>/`,
//! read through the guarded reader). Each loaded installer carries the SHA-256 of its
//! manifest and scripts: taken when a run is requested, and taken again just before the run
//! starts, so what was confirmed is what runs.

use super::manifest::{Manifest, ManifestError, relative_inside};
use crate::files::{FileKind, read_text};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// One bundled installer: its id and its files (name, text), embedded at build time.
#[derive(Debug)]
pub struct BundledInstaller {
    pub id: &'static str,
    pub files: &'static [(&'static str, &'static str)],
}

/// Embed each installer's files: `"nginx": ["manifest.yml", "install.sh"]`. A test checks that
/// the list names every file of every folder under `installers/`, and nothing else.
macro_rules! bundled {
    ($($id:literal: [$($file:literal),* $(,)?]),* $(,)?) => {
        &[$(BundledInstaller {
            id: $id,
            files: &[$((
                $file,
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/installers/", $id, "/", $file)),
            )),*],
        }),*]
    };
}

/// The installers built into opsdeck.
pub static BUNDLED: &[BundledInstaller] = bundled! {
    "chrony": ["manifest.yml", "install.sh", "uninstall.sh"],
    "docker": ["manifest.yml", "install.sh", "uninstall.sh"],
    "fail2ban": ["manifest.yml", "install.sh", "uninstall.sh"],
    "mariadb": ["manifest.yml", "install.sh", "uninstall.sh"],
    "nginx": ["manifest.yml", "install.sh", "uninstall.sh"],
    "node-exporter": ["manifest.yml", "install.sh", "uninstall.sh"],
    "postgresql": ["manifest.yml", "install.sh", "uninstall.sh"],
    "redis": ["manifest.yml", "install.sh", "uninstall.sh"],
};

/// The helpers the bundled installers share (`say`, `need_root`, `apt_install`, `write_file`, …).
pub const COMMON: &str = include_str!("common.sh");

/// The line a script puts where the common helpers go.
pub const COMMON_LINE: &str = "# --- opsdeck common ---";

/// The script with [`COMMON`] in place of its first `# --- opsdeck common ---` line (a script
/// without that line stays as it is). Done when an installer is loaded, so the text that is
/// hashed, confirmed and sent to a target is the whole script, and stands alone there.
pub fn with_common(script: &str) -> String {
    let mut out = String::with_capacity(script.len() + COMMON.len());
    let mut placed = false;
    for line in script.split_inclusive('\n') {
        if !placed && line.trim_end() == COMMON_LINE {
            out.push_str(COMMON);
            placed = true;
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Where an installer was loaded from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "folder")]
pub enum Origin {
    /// Built into this opsdeck.
    Bundled,
    /// A folder of the user's.
    User(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Bundled => f.write_str("bundled"),
            Origin::User(folder) => write!(f, "{}", folder.display()),
        }
    }
}

/// A loaded, checked installer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installer {
    pub manifest: Manifest,
    pub origin: Origin,
    /// The install script's text, as hashed.
    pub install: String,
    pub uninstall: Option<String>,
    /// `sha256:<hex>` of the manifest and scripts.
    pub hash: String,
}

/// An installer that could not be loaded: which file, and why (located when it can be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    Manifest(ManifestError),
    /// A file could not be read, or a script leaves its folder.
    File {
        path: PathBuf,
        message: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Manifest(e) => write!(f, "{e}"),
            LoadError::File { path, message } => write!(f, "{}: {message}", path.display()),
        }
    }
}

impl std::error::Error for LoadError {}

/// The hash of an installer's files, framed so that moving bytes from one file to the next
/// changes it: `name NUL length NUL bytes` for each file, in a fixed order.
pub fn hash_files(files: &[(&str, &str)]) -> String {
    let mut sha = Sha256::new();
    for (name, text) in files {
        sha.update(name.as_bytes());
        sha.update([0]);
        sha.update(text.len().to_string().as_bytes());
        sha.update([0]);
        sha.update(text.as_bytes());
    }
    format!("sha256:{}", hex::encode(sha.finalize()))
}

impl Installer {
    /// A short form of the hash for the screen: `sha256:0123456789ab`.
    pub fn short_hash(hash: &str) -> &str {
        hash.get(..19).unwrap_or(hash)
    }

    fn assemble(
        manifest: Manifest,
        origin: Origin,
        manifest_text: &str,
        install: String,
        uninstall: Option<String>,
    ) -> Installer {
        let mut files = vec![
            ("manifest.yml", manifest_text),
            (manifest.install_script.as_str(), install.as_str()),
        ];
        if let (Some(name), Some(text)) = (&manifest.uninstall_script, &uninstall) {
            files.push((name.as_str(), text.as_str()));
        }
        let hash = hash_files(&files);
        Installer {
            manifest,
            origin,
            install,
            uninstall,
            hash,
        }
    }

    /// A bundled installer, by id.
    pub fn bundled(id: &str) -> Option<Result<Installer, LoadError>> {
        BUNDLED.iter().find(|b| b.id == id).map(load_bundled)
    }

    /// Load again from where it came from (the user's folder is read anew): what runs is
    /// exactly what is found now, and its hash says whether that is what was confirmed.
    pub fn reload(id: &str, origin: &Origin) -> Result<Installer, LoadError> {
        match origin {
            Origin::Bundled => Installer::bundled(id).unwrap_or_else(|| {
                Err(LoadError::File {
                    path: PathBuf::from(format!("<bundled>/{id}")),
                    message: "no bundled installer has this id".into(),
                })
            }),
            Origin::User(folder) => load_user(folder),
        }
    }
}

fn load_bundled(b: &BundledInstaller) -> Result<Installer, LoadError> {
    let file = |name: &str| b.files.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
    let base = PathBuf::from(format!("installers/{}", b.id));
    let manifest_path = base.join("manifest.yml");
    let text = file("manifest.yml").ok_or_else(|| LoadError::File {
        path: manifest_path.clone(),
        message: "not embedded".into(),
    })?;
    let manifest =
        Manifest::parse(text, &manifest_path, Some(b.id)).map_err(LoadError::Manifest)?;
    let script = |name: &str| {
        file(name).map(with_common).ok_or_else(|| LoadError::File {
            path: base.join(name),
            message: "the manifest names this script, but it is not in the installer's folder"
                .into(),
        })
    };
    let install = script(&manifest.install_script)?;
    let uninstall = match &manifest.uninstall_script {
        Some(name) => Some(script(name)?),
        None => None,
    };
    Ok(Installer::assemble(
        manifest,
        Origin::Bundled,
        text,
        install,
        uninstall,
    ))
}

/// A user installer from its folder: `manifest.yml`, and the scripts it names, which must be
/// regular files inside the folder once every symlink is followed.
pub fn load_user(folder: &Path) -> Result<Installer, LoadError> {
    let file_error = |path: &Path, message: String| LoadError::File {
        path: path.to_path_buf(),
        message,
    };
    let name = folder
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let manifest_path = folder.join("manifest.yml");
    let text = read_text(&manifest_path, FileKind::InstallerManifest)
        .map_err(|e| file_error(&manifest_path, e.reason()))?;
    let manifest =
        Manifest::parse(&text, &manifest_path, Some(&name)).map_err(LoadError::Manifest)?;
    let root = folder
        .canonicalize()
        .map_err(|e| file_error(folder, format!("cannot resolve the folder: {e}")))?;
    let script = |relative: &str| -> Result<String, LoadError> {
        let path = folder.join(relative);
        relative_inside(relative).map_err(|why| file_error(&path, why))?;
        let real = path.canonicalize().map_err(|e| {
            file_error(
                &path,
                if e.kind() == std::io::ErrorKind::NotFound {
                    "the manifest names this script, but there is no such file".into()
                } else {
                    format!("cannot resolve it: {e}")
                },
            )
        })?;
        if !real.starts_with(&root) {
            return Err(file_error(
                &path,
                format!(
                    "leads out of the installer's folder (to {}); a script must be a file in the installer's own folder",
                    real.display()
                ),
            ));
        }
        read_text(&real, FileKind::InstallerScript)
            .map(|text| with_common(&text))
            .map_err(|e| file_error(&path, e.reason()))
    };
    let install = script(&manifest.install_script)?;
    let uninstall = match &manifest.uninstall_script {
        Some(name) => Some(script(name)?),
        None => None,
    };
    Ok(Installer::assemble(
        manifest,
        Origin::User(folder.to_path_buf()),
        &text,
        install,
        uninstall,
    ))
}

/// Every installer opsdeck knows, bundled first, then the user's (sorted by id), and the
/// user folders that could not be loaded.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub installers: Vec<Installer>,
    pub problems: Vec<LoadError>,
}

impl Catalog {
    /// Load the bundled installers and every folder in `user_dir` (a missing directory means
    /// none). A user installer may not take a bundled installer's id.
    pub fn load(user_dir: &Path) -> Catalog {
        let mut catalog = Catalog::default();
        for bundled in BUNDLED {
            match load_bundled(bundled) {
                Ok(installer) => catalog.installers.push(installer),
                Err(e) => catalog.problems.push(e),
            }
        }
        let mut folders: Vec<PathBuf> = match std::fs::read_dir(user_dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| !n.starts_with('.'))
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                catalog.problems.push(LoadError::File {
                    path: user_dir.to_path_buf(),
                    message: format!("cannot list the installers directory: {e}"),
                });
                Vec::new()
            }
        };
        folders.sort();
        for folder in folders {
            if !folder.is_dir() {
                catalog.problems.push(LoadError::File {
                    path: folder,
                    message: "is not a folder; each installer is a folder with a manifest.yml"
                        .into(),
                });
                continue;
            }
            match load_user(&folder) {
                Ok(installer) => {
                    let id = &installer.manifest.id;
                    if catalog.get(id).is_some() {
                        catalog.problems.push(LoadError::File {
                            path: folder.join("manifest.yml"),
                            message: format!(
                                "id {id:?} is already taken by a bundled installer; give yours another id (and folder name)"
                            ),
                        });
                    } else {
                        catalog.installers.push(installer);
                    }
                }
                Err(e) => catalog.problems.push(e),
            }
        }
        catalog
    }

    pub fn get(&self, id: &str) -> Option<&Installer> {
        self.installers.iter().find(|i| i.manifest.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_bundled_installer_loads_and_embeds_exactly_its_folder() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("installers");
        let mut on_disk = BTreeSet::new();
        for entry in std::fs::read_dir(&root).expect("installers/ exists") {
            let entry = entry.expect("entry");
            if entry.path().is_dir() {
                on_disk.insert(entry.file_name().to_string_lossy().into_owned());
            }
        }
        let embedded: BTreeSet<String> = BUNDLED.iter().map(|b| b.id.to_string()).collect();
        assert_eq!(
            on_disk, embedded,
            "every folder under installers/ is bundled"
        );
        for b in BUNDLED {
            let files: BTreeSet<String> = std::fs::read_dir(root.join(b.id))
                .expect("folder")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            let listed: BTreeSet<String> = b.files.iter().map(|(n, _)| n.to_string()).collect();
            assert_eq!(files, listed, "{}: embedded files", b.id);
            let installer = load_bundled(b).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(installer.manifest.id, b.id);
            assert!(installer.hash.starts_with("sha256:") && installer.hash.len() == 71);
            assert!(
                installer.manifest.idempotent,
                "{}: bundled ones are idempotent",
                b.id
            );
            assert!(
                installer
                    .manifest
                    .os
                    .families
                    .contains(&"debian".to_string())
                    && installer
                        .manifest
                        .os
                        .families
                        .contains(&"ubuntu".to_string()),
                "{}",
                b.id
            );
        }
    }

    #[test]
    fn every_bundled_script_gets_the_common_helpers_once_and_is_run_whole() {
        for b in BUNDLED {
            for (name, text) in b.files.iter().filter(|(n, _)| n.ends_with(".sh")) {
                assert!(text.starts_with("#!/usr/bin/env bash\n"), "{}/{name}", b.id);
                assert!(text.contains("\nset -euo pipefail\n"), "{}/{name}", b.id);
                let marks = text.lines().filter(|l| *l == COMMON_LINE).count();
                assert_eq!(marks, 1, "{}/{name}: the common line", b.id);
            }
            let installer = Installer::bundled(b.id).expect("bundled").expect("loads");
            let scripts = std::iter::once(&installer.install).chain(installer.uninstall.as_ref());
            for script in scripts {
                assert!(
                    script.contains(COMMON),
                    "{}: the helpers are in place",
                    b.id
                );
                assert!(
                    !script.lines().any(|l| l == COMMON_LINE),
                    "{}: no bare common line is left",
                    b.id
                );
                // And it is still bash: `bash -n` parses it without running it.
                let mut check = std::process::Command::new("bash")
                    .arg("-n")
                    .stdin(std::process::Stdio::piped())
                    .spawn()
                    .expect("bash runs");
                use std::io::Write as _;
                check
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(script.as_bytes())
                    .expect("script written");
                assert!(
                    check.wait().expect("bash ends").success(),
                    "{}: bash -n",
                    b.id
                );
            }
        }
    }

    #[test]
    fn the_common_line_is_replaced_once_and_other_scripts_stay_as_they_are() {
        let script = "#!/bin/bash\n# --- opsdeck common ---\nsay hi\n# --- opsdeck common ---\n";
        let whole = with_common(script);
        assert_eq!(
            whole,
            format!("#!/bin/bash\n{COMMON}say hi\n# --- opsdeck common ---\n")
        );
        assert_eq!(with_common("echo hi\n"), "echo hi\n");
        assert_eq!(with_common("echo hi"), "echo hi");
    }

    #[test]
    fn the_hash_covers_every_file_and_their_boundaries() {
        let a = hash_files(&[("manifest.yml", "id: x"), ("install.sh", "echo")]);
        assert_eq!(
            a,
            hash_files(&[("manifest.yml", "id: x"), ("install.sh", "echo")])
        );
        assert_ne!(
            a,
            hash_files(&[("manifest.yml", "id: x"), ("install.sh", "echo ")])
        );
        assert_ne!(
            a,
            hash_files(&[("manifest.yml", "id: xe"), ("install.sh", "cho")])
        );
    }

    fn user_installer(dir: &Path, id: &str, manifest: &str, script: Option<&str>) -> PathBuf {
        let folder = dir.join(id);
        std::fs::create_dir_all(&folder).expect("mkdir");
        std::fs::write(folder.join("manifest.yml"), manifest).expect("write manifest");
        if let Some(script) = script {
            std::fs::write(folder.join("install.sh"), script).expect("write script");
        }
        folder
    }

    const MINIMAL: &str =
        "id: hello\nname: Hello\nversion: 1.0.0\ninstall_script: install.sh\ntimeout_seconds: 60\n";

    #[test]
    fn a_user_installer_loads_and_a_changed_script_changes_its_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = user_installer(dir.path(), "hello", MINIMAL, Some("echo hi\n"));
        let catalog = Catalog::load(dir.path());
        assert!(catalog.problems.is_empty(), "{:?}", catalog.problems);
        let hello = catalog.get("hello").expect("loaded");
        assert_eq!(hello.origin, Origin::User(folder.clone()));
        std::fs::write(folder.join("install.sh"), "echo changed\n").expect("rewrite");
        let again = Installer::reload("hello", &hello.origin).expect("reloads");
        assert_ne!(again.hash, hello.hash);
        assert_eq!(again.install, "echo changed\n");
    }

    #[test]
    fn scripts_that_leave_the_folder_are_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let outside = root.path().join("outside.sh");
        let dir = root.path().join("installers");
        let dir = &dir;
        std::fs::write(&outside, "echo outside\n").expect("write");
        for (id, script) in [("dotdot", "../outside.sh"), ("absolute", "/etc/passwd")] {
            let text = MINIMAL.replace("hello", id).replace(
                "install_script: install.sh",
                &format!("install_script: {script}"),
            );
            user_installer(dir.as_path(), id, &text, None);
        }
        let link = user_installer(
            dir.as_path(),
            "link",
            &MINIMAL.replace("hello", "link"),
            None,
        );
        std::os::unix::fs::symlink(&outside, link.join("install.sh")).expect("symlink");
        let catalog = Catalog::load(dir.as_path());
        assert!(
            catalog
                .installers
                .iter()
                .all(|i| i.origin == Origin::Bundled)
        );
        let problems: Vec<String> = catalog.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems.iter().any(|p| p.contains(
                "absolute/manifest.yml:4: install_script: \"/etc/passwd\" is an absolute path"
            )),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("dotdot/manifest.yml:4: install_script: \"../outside.sh\" leaves the installer's folder")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("link/install.sh: leads out of the installer's folder")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_user_installer_cannot_take_a_bundled_id_and_a_fifo_manifest_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        user_installer(
            dir.path(),
            "nginx",
            &MINIMAL.replace("hello", "nginx"),
            Some("echo\n"),
        );
        let fifo = dir.path().join("piped");
        std::fs::create_dir_all(&fifo).expect("mkdir");
        nix::unistd::mkfifo(&fifo.join("manifest.yml"), nix::sys::stat::Mode::S_IRWXU)
            .expect("mkfifo");
        let catalog = crate::files::bounded({
            let dir = dir.path().to_path_buf();
            move || Catalog::load(&dir)
        });
        let problems: Vec<String> = catalog.problems.iter().map(|p| p.to_string()).collect();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("already taken by a bundled installer")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("piped/manifest.yml") && p.contains("FIFO")),
            "{problems:?}"
        );
        assert_eq!(
            catalog.get("nginx").map(|i| &i.origin),
            Some(&Origin::Bundled)
        );
    }
}
