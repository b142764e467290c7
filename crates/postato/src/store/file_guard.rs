//! [`FileGuard`]: notices that a store's file was deleted, or replaced by another file, while
//! the store uses it. SQLite would go on writing into the unlinked file: a run would report
//! records that no later run can see, and a rerun would send every post again.

use std::path::{Path, PathBuf};

/// The file a store opened, as it was then.
pub(super) struct FileGuard {
    path: PathBuf,
    identity: Option<Identity>,
}

/// What tells one file from another at the same path: its device and inode (Unix). Elsewhere an
/// open file cannot be deleted or replaced, and there is nothing to check.
type Identity = (u64, u64);

impl FileGuard {
    /// Remembers the file at `path` now.
    pub(super) fn of(path: &Path) -> Self {
        FileGuard { path: path.to_owned(), identity: identity(path) }
    }

    /// Whether the file at the path is still the one opened; if not, why the store cannot go on.
    pub(super) fn check(&self) -> Result<(), String> {
        let Some(opened) = self.identity else { return Ok(()) };
        let shown = self.path.display();
        match identity(&self.path) {
            Some(now) if now == opened => Ok(()),
            Some(_) => Err(format!(
                "the store file {shown} was replaced by another file while postato used it: nothing more is \
                 recorded; check what replaced it, then run again (the server replays what was published)"
            )),
            None => Err(format!(
                "the store file {shown} was deleted while postato used it: nothing more is recorded; check what \
                 deleted it, then run again (the server replays what was published)"
            )),
        }
    }
}

#[cfg(unix)]
fn identity(path: &Path) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &Path) -> Option<Identity> {
    None
}
