//! [`OneFile`]: what every [`SqliteStore`](super::SqliteStore) opened on one file shares. Its
//! claims live in the process's memory, one set per file however many times the file is opened,
//! so two Publishers in one process never publish one key at once. Across processes, an
//! exclusive lock on a file beside the store (`<store>-lock`, holding the holder's pid) lets
//! one process at a time claim keys: a second process is told "the store … is in use by pid N"
//! instead of sending what the first is sending. The lock is taken by the first claim (reading
//! a store never takes it, so `postato status` works beside a running batch) and let go when
//! the last store on the file is dropped or the process ends, however it ends.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::claims::Claims;
use super::StoreError;

/// The claims and the cross-process lock of one store file.
#[derive(Debug, Default)]
pub(super) struct OneFile {
    pub(super) claims: Claims,
    /// The lock file beside the store; none for a store in memory, which no other process sees.
    lock_path: Option<PathBuf>,
    locked: AtomicBool,
    lock: Mutex<Option<File>>,
}

/// Every file open in this process, by canonical path.
fn open_files() -> std::sync::MutexGuard<'static, HashMap<PathBuf, Weak<OneFile>>> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<OneFile>>>> = OnceLock::new();
    OPEN.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner())
}

impl OneFile {
    /// What the stores on `path` (an existing file) share: the same for every store open on
    /// it in this process, whichever way its path is spelt.
    pub(super) fn of(path: &Path) -> Arc<OneFile> {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let mut open = open_files();
        open.retain(|_, file| file.strong_count() > 0);
        if let Some(file) = open.get(&canonical).and_then(Weak::upgrade) {
            return file;
        }
        let mut lock_path = canonical.clone().into_os_string();
        lock_path.push("-lock");
        let file = Arc::new(OneFile { lock_path: Some(lock_path.into()), ..OneFile::default() });
        open.insert(canonical, Arc::downgrade(&file));
        file
    }

    /// A store in memory: its claims, no lock.
    pub(super) fn in_memory() -> Arc<OneFile> {
        Arc::new(OneFile::default())
    }

    /// Takes the store's cross-process lock for this process, if no other process holds it;
    /// held until the last store on the file is dropped. `shown` names the store in errors.
    pub(super) fn lock_for_publishing(&self, shown: &str) -> Result<(), StoreError> {
        if self.locked.load(Ordering::Acquire) {
            return Ok(());
        }
        let Some(lock_path) = &self.lock_path else { return Ok(()) };
        let mut held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if held.is_some() {
            return Ok(());
        }
        let cannot = |e: std::io::Error| {
            StoreError::new(format!(
                "cannot lock {shown} for publishing ({}: {e}): postato needs to create that file beside the store",
                lock_path.display()
            ))
        };
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(lock_path).map_err(cannot)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(lock_path).unwrap_or_default();
                let holder = match holder.trim().parse::<u32>() {
                    Ok(pid) => format!("pid {pid}"),
                    Err(_) => "another process".to_owned(),
                };
                return Err(StoreError::new(format!(
                    "the store {shown} is in use by {holder}, which is publishing through it: wait for it to \
                     finish, or give this run a store of its own (to share one campaign among processes, use a \
                     PostgreSQL store)"
                )));
            }
            Err(TryLockError::Error(e)) => return Err(cannot(e)),
        }
        // The holder's pid, for the message of the next process that finds the lock taken.
        file.set_len(0).and_then(|()| write!(file, "{}", std::process::id())).map_err(cannot)?;
        *held = Some(file);
        self.locked.store(true, Ordering::Release);
        Ok(())
    }
}
