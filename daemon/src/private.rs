//! Files only their owner may read, for `peerd start` and `peerd server`
//! alike: directories created mode 0700, and the databases (with SQLite's
//! `-wal` and `-shm` files), keys and logs mode 0600.
//!
//! SQLite gives a new `-wal` or `-shm` file the mode of its database, so a
//! database created 0600 here ([`private_file`]) keeps its companions
//! private; files left looser by an older version are narrowed to 0600
//! ([`sqlite_files`]) and the caller logs that it did. What to do with an
//! existing directory that others can read is the caller's decision (the
//! peer's data dir is refused, see `peer::identity`).

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of private directories.
pub const DIR_MODE: u32 = 0o700;
/// Mode of private files.
pub const FILE_MODE: u32 = 0o600;

/// The permission bits of `mode` that let others than the owner in.
pub fn others_bits(mode: u32) -> u32 {
    mode & 0o077
}

/// Creates `dir` and its missing parents, each mode 0700. Returns whether
/// `dir` existed already (its mode is then left as it is).
pub fn create_dir(dir: &Path) -> io::Result<bool> {
    if dir.is_dir() {
        return Ok(true);
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    Ok(false)
}

/// The mode of an existing `dir` if others than its owner may enter or
/// read it; `None` when it is private (or missing).
pub fn loose_dir(dir: &Path) -> Option<u32> {
    let mode = std::fs::metadata(dir).ok()?.permissions().mode() & 0o777;
    (others_bits(mode) != 0).then_some(mode)
}

/// Narrows an existing file at `path` to 0600; its old mode when it had
/// to (nothing happens to a missing file or one already private).
pub fn narrow_file(path: &Path) -> io::Result<Option<u32>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mode = meta.permissions().mode() & 0o777;
    if !meta.is_file() || others_bits(mode) == 0 {
        return Ok(None);
    }
    std::fs::set_permissions(path, Permissions::from_mode(FILE_MODE))?;
    Ok(Some(mode))
}

/// Makes sure `path` is a private file: created empty with mode 0600 when
/// missing, narrowed to 0600 when looser. Returns the old mode when it
/// was narrowed.
pub fn private_file(path: &Path) -> io::Result<Option<u32>> {
    let narrowed = narrow_file(path)?;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)?;
    Ok(narrowed)
}

/// A database and the companions SQLite keeps beside it in WAL mode.
pub fn sqlite_paths(db: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

/// Before SQLite opens `db`: the database is created 0600 when missing,
/// and it and its `-wal`/`-shm` files are narrowed to 0600 when looser.
/// Returns the files narrowed, with their old modes, for the log.
pub fn sqlite_files(db: &Path) -> io::Result<Vec<(PathBuf, u32)>> {
    let [main, wal, shm] = sqlite_paths(db);
    let mut narrowed = Vec::new();
    if let Some(mode) = private_file(&main)? {
        narrowed.push((main, mode));
    }
    for companion in [wal, shm] {
        if let Some(mode) = narrow_file(&companion)? {
            narrowed.push((companion, mode));
        }
    }
    Ok(narrowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn directories_are_created_private_and_existing_ones_left_alone() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let deep = tmp.path().join("a").join("b");
        assert!(!create_dir(&deep).expect("create"));
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&deep), 0o700);
        assert_eq!(loose_dir(&deep), None);
        std::fs::set_permissions(&deep, Permissions::from_mode(0o755)).expect("chmod");
        assert!(create_dir(&deep).expect("exists"));
        assert_eq!(mode(&deep), 0o755, "an existing directory is not changed");
        assert_eq!(loose_dir(&deep), Some(0o755));
    }

    #[test]
    fn database_files_are_created_or_narrowed_to_0600() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let db = tmp.path().join("x.sqlite3");
        assert!(sqlite_files(&db).expect("create").is_empty());
        assert_eq!(mode(&db), 0o600);
        let [_, wal, shm] = sqlite_paths(&db);
        std::fs::write(&wal, b"").expect("wal");
        std::fs::set_permissions(&wal, Permissions::from_mode(0o644)).expect("chmod");
        std::fs::set_permissions(&db, Permissions::from_mode(0o640)).expect("chmod");
        let narrowed = sqlite_files(&db).expect("narrow");
        assert_eq!(narrowed, vec![(db.clone(), 0o640), (wal.clone(), 0o644)]);
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
        assert!(!shm.exists(), "a missing companion is not created");
    }
}
