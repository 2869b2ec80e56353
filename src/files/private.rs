//! Files opsdeck writes are its user's alone: `0600` files in `0700` directories.
//!
//! Modes are given at creation *and* set again on the open file (`fchmod`), so the result is
//! exact whatever the umask. A file or directory that already exists and belongs to this user
//! is tightened when opsdeck opens it, so data left world-readable by an older version (or a
//! loose umask) is closed up by the next run. Paths owned by someone else are left alone.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every file opsdeck writes.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory opsdeck creates.
pub const DIR_MODE: u32 = 0o700;

fn ours(meta: &std::fs::Metadata) -> bool {
    meta.uid() == nix::unistd::geteuid().as_raw()
}

/// Creates `dir` and any missing parents (mode 0700), and makes `dir` itself exactly 0700 if
/// this user owns it.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if ours(&meta) && meta.permissions().mode() & 0o7777 != DIR_MODE {
        std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

/// Makes an open file exactly 0600 if this user owns it.
fn tighten_open(file: &File) -> io::Result<()> {
    let meta = file.metadata()?;
    if ours(&meta) && meta.permissions().mode() & 0o7777 != FILE_MODE {
        file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

/// Makes the file at `path` exactly 0600 if it exists and this user owns it (for files another
/// library creates beside ours, such as SQLite's `-wal` and `-shm`). A missing file is fine.
pub fn tighten_file(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && ours(&meta) => {
            if meta.permissions().mode() & 0o7777 != FILE_MODE {
                std::fs::set_permissions(path, Permissions::from_mode(FILE_MODE))?;
            }
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates (or truncates) `path` for writing, mode 0600.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    tighten_open(&file)?;
    Ok(file)
}

/// Creates `path` for writing, mode 0600; fails if it exists (`AlreadyExists`).
pub fn create_new_private_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    tighten_open(&file)?;
    Ok(file)
}

/// Opens `path` for reading and appending, creating it 0600; an existing file of ours is
/// tightened to 0600.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(FILE_MODE)
        .open(path)?;
    tighten_open(&file)?;
    Ok(file)
}

/// Writes a file the person named (`check --output FILE`): a new file is created 0600; an
/// existing one is theirs, so it is replaced in place and keeps the mode they gave it.
pub fn write_output(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut file = match create_new_private_file(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            OpenOptions::new().write(true).truncate(true).open(path)?
        }
        Err(e) => return Err(e),
    };
    file.write_all(bytes)?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
    }

    /// Under umask 0 (the loosest) for the creations only; the umask is process-wide, so it
    /// is set back at once and no other test here changes it.
    #[test]
    fn modes_are_exact_whatever_the_umask_and_loose_ones_are_tightened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        let data = dir.path().join("a/b/data");
        let made = ensure_private_dir(&data)
            .and_then(|()| create_private_file(&data.join("one")))
            .and_then(|_| create_new_private_file(&data.join("two")))
            .and_then(|_| open_private_append(&data.join("three")));
        nix::sys::stat::umask(old);
        made.expect("created");
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700, "created parents too");
        for f in ["one", "two", "three"] {
            assert_eq!(mode(&data.join(f)), 0o600, "{f}");
        }

        // Existing loose ones are tightened when opened.
        std::fs::set_permissions(&data, Permissions::from_mode(0o755)).expect("chmod");
        let loose = data.join("loose.log");
        std::fs::write(&loose, "x").expect("write");
        std::fs::set_permissions(&loose, Permissions::from_mode(0o644)).expect("chmod");
        let wal = data.join("db-wal");
        std::fs::write(&wal, "x").expect("write");
        std::fs::set_permissions(&wal, Permissions::from_mode(0o666)).expect("chmod");
        ensure_private_dir(&data).expect("dir");
        open_private_append(&loose).expect("open");
        tighten_file(&wal).expect("tighten");
        tighten_file(&data.join("absent")).expect("a missing file is fine");
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&loose), 0o600);
        assert_eq!(mode(&wal), 0o600);
        assert_eq!(std::fs::read_to_string(&loose).expect("read"), "x", "kept");
        assert!(
            create_new_private_file(&loose).is_err(),
            "create_new refuses"
        );

        // A named output: new ones private, existing ones keep their mode.
        let out = data.join("report.sarif");
        write_output(&out, b"one").expect("write");
        assert_eq!(mode(&out), 0o600);
        std::fs::set_permissions(&out, Permissions::from_mode(0o640)).expect("chmod");
        write_output(&out, b"two").expect("write");
        assert_eq!(mode(&out), 0o640);
        assert_eq!(std::fs::read_to_string(&out).expect("read"), "two");
    }
}
