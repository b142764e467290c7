//! In-process claims with leases, for the single-process stores (memory, SQLite): two
//! publishes of one business key in one process never run at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub(crate) struct Claims {
    held: Mutex<HashMap<String, (String, Instant)>>,
}

impl Claims {
    /// Claims `key` for `worker`, or says how long another worker's lease has left.
    pub fn claim(&self, key: &str, worker: &str, lease: Duration) -> Result<(), Duration> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some((holder, until)) = held.get(key) {
            if holder != worker && *until > now {
                return Err(*until - now);
            }
        }
        held.insert(key.to_owned(), (worker.to_owned(), now + lease));
        Ok(())
    }

    /// Releases `worker`'s claim on `key`.
    pub fn release(&self, key: &str, worker: &str) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.get(key).is_some_and(|(holder, _)| holder == worker) {
            held.remove(key);
        }
    }
}
