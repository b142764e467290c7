//! [`OneFile`]: what every [`SqliteStore`](super::SqliteStore) opened on one file shares. Its
//! claims live in the process's memory, one set per file however many times the file is opened,
//! so two Publishers in one process never publish one key at once. Across processes, an
//! exclusive lock on a file beside the store (`<store>-lock`, holding the holder's pid) lets
//! one process at a time claim keys: a second process is told "the store … is in use by pid N"
//! instead of sending what the first is sending. The lock is taken by the first claim (reading
//! a store never takes it, so `postato status` works beside a running batch), and let go, its
//! file removed, when the last store on the file is dropped; the kernel lets it go when the
//! process ends however it ends (a file left by a killed process is simply locked anew).
//!
//! A process forked from the holder (Python's `multiprocessing`, a pre-forking server) shares
//! the holder's lock but not its claims: it takes the lock anew, so it is refused while the
//! holder publishes.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::claims::Claims;
use super::StoreError;

/// The claims and the cross-process lock of one store file.
#[derive(Debug)]
pub(super) struct OneFile {
    pub(super) claims: Claims,
    /// The lock file beside the store; none for a store in memory, which no other process sees.
    lock_path: Option<PathBuf>,
    /// The pid of the process that holds the lock (0: none): a forked child is not it.
    holder: AtomicU32,
    lock: Mutex<Option<File>>,
    /// Held by the drain of the file's outbox: one drain at a time in the process.
    pub(super) draining: Arc<tokio::sync::Mutex<()>>,
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
        let file = Arc::new(OneFile::with_lock_at(Some(lock_path.into())));
        open.insert(canonical, Arc::downgrade(&file));
        file
    }

    /// A store in memory: its claims, no lock.
    pub(super) fn in_memory() -> Arc<OneFile> {
        Arc::new(OneFile::with_lock_at(None))
    }

    fn with_lock_at(lock_path: Option<PathBuf>) -> OneFile {
        OneFile {
            claims: Claims::default(),
            lock_path,
            holder: AtomicU32::new(0),
            lock: Mutex::new(None),
            draining: Arc::default(),
        }
    }

    /// Takes the store's cross-process lock for this process, if no other process holds it;
    /// held until the last store on the file is dropped. `shown` names the store in errors.
    pub(super) fn lock_for_publishing(&self, shown: &str) -> Result<(), StoreError> {
        let me = std::process::id();
        if self.holder.load(Ordering::Acquire) == me {
            return Ok(());
        }
        let Some(lock_path) = &self.lock_path else { return Ok(()) };
        let mut held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.holder.load(Ordering::Acquire) == me {
            return Ok(());
        }
        // A handle inherited from the process this one was forked from is that process's lock.
        drop(held.take());
        let cannot = |e: std::io::Error| {
            StoreError::new(format!(
                "cannot lock {shown} for publishing ({}: {e}): postato needs to create that file beside the store",
                lock_path.display()
            ))
        };
        // The file locked must still be the one at the path: a holder letting go removes it,
        // and a process that opened it just before then locks a file nobody else will see.
        let mut tries = 0;
        let mut file = loop {
            let file = OpenOptions::new().write(true).create(true).truncate(false).open(lock_path).map_err(cannot)?;
            match file.try_lock() {
                Ok(()) if same_file(&file, lock_path) => break file,
                Ok(()) if tries < 100 => tries += 1,
                Ok(()) => return Err(cannot(std::io::Error::other("the file keeps being removed"))),
                Err(TryLockError::WouldBlock) => {
                    let holder = match std::fs::read_to_string(lock_path).unwrap_or_default().trim().parse::<u32>() {
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
        };
        // The holder's pid, for the message of the next process that finds the lock taken.
        file.set_len(0).and_then(|()| write!(file, "{me}")).map_err(cannot)?;
        *held = Some(file);
        self.holder.store(me, Ordering::Release);
        Ok(())
    }
}

impl Drop for OneFile {
    /// Removes the lock file, then lets the lock go: only the process that took it (a forked
    /// child's copy of the handle is closed, never the file removed under its parent).
    fn drop(&mut self) {
        let held = self.lock.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let (Some(_file), Some(path)) = (&held, &self.lock_path) {
            if *self.holder.get_mut() == std::process::id() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Whether `file` is the file now at `path` (Unix: its device and inode; elsewhere a locked
/// file cannot be removed, and it always is).
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => (open.dev(), open.ino()) == (named.dev(), named.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> bool {
    true
}
