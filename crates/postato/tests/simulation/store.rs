//! The result store as the simulation's processes see it: one durable `MemoryStore` (shared,
//! as a PostgreSQL database is), reached by each process through a `SimStore` that can fail
//! (nothing written), lose its answer (written, but an error returned), stall, or die with
//! its process (a crashed process's calls never return, and its pending claim releases never
//! land, as after SIGKILL).

use postato::store::Begin;
use postato::{DeadLetter, Deferral, Intent, MemoryStore, PublishedRecord, ResultStore, StoreCounts, StoreError};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::dice::Dice;

/// How often a store call misbehaves.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreFaults {
    /// A call fails, writing nothing.
    pub fail: f64,
    /// A write lands but its answer is lost: an error is returned.
    pub lost_answer: f64,
    /// A call stalls before it runs.
    pub stall: f64,
    pub max_stall_ms: u64,
}

/// One process's view of the shared store.
pub struct SimStore {
    pub inner: Arc<MemoryStore>,
    faults: StoreFaults,
    dice: Mutex<Dice>,
    pub crashed: Arc<AtomicBool>,
    /// Business keys whose outcome write or claim release failed or lost its answer (their
    /// outcome may be unrecorded, their claim left to its lease).
    pub troubled: Arc<Mutex<BTreeSet<String>>>,
    /// Business keys a release of which stalled past the time a publish waits for it before
    /// leaving it to the background.
    pub slow_releases: Arc<Mutex<BTreeSet<String>>>,
}

/// How long a publish waits for a release before leaving it to the background (the
/// Publisher's `RELEASE_WAIT`).
const RELEASE_WAIT: Duration = Duration::from_secs(2);

impl SimStore {
    pub fn new(
        inner: Arc<MemoryStore>,
        faults: StoreFaults,
        seed: u64,
        troubled: Arc<Mutex<BTreeSet<String>>>,
        slow_releases: Arc<Mutex<BTreeSet<String>>>,
    ) -> Self {
        SimStore {
            inner,
            faults,
            dice: Mutex::new(Dice::new(seed)),
            crashed: Arc::new(AtomicBool::new(false)),
            troubled,
            slow_releases,
        }
    }

    /// Runs one call: a dead process never returns; otherwise it may stall, fail or lose its
    /// answer, as the dice say.
    /// `tracked` names the key of an outcome write or a release: its failure is the store's;
    /// `release` says it is a release (a long stall leaves it to the background).
    async fn call<T, F: Future<Output = Result<T, StoreError>>>(
        &self,
        tracked: Option<&str>,
        write: bool,
        release: bool,
        op: F,
    ) -> Result<T, StoreError> {
        if self.crashed.load(Ordering::SeqCst) {
            return std::future::pending().await;
        }
        let (stall, fail, lost) = {
            let mut dice = self.dice.lock().unwrap();
            let stall = dice.chance(self.faults.stall).then(|| dice.below(self.faults.max_stall_ms.max(1)));
            (stall, dice.chance(self.faults.fail), write && dice.chance(self.faults.lost_answer))
        };
        if let (Some(ms), Some(key), true) = (stall, tracked, release) {
            if Duration::from_millis(ms) > RELEASE_WAIT {
                self.slow_releases.lock().unwrap().insert(key.to_owned());
            }
        }
        if let Some(ms) = stall {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if self.crashed.load(Ordering::SeqCst) {
                return std::future::pending().await;
            }
        }
        if fail || lost {
            if let Some(key) = tracked {
                self.troubled.lock().unwrap().insert(key.to_owned());
            }
        }
        if fail {
            return Err(StoreError::unavailable("simulated store failure"));
        }
        let result = op.await;
        if lost {
            return Err(StoreError::unavailable("simulated lost answer"));
        }
        result
    }
}

#[async_trait::async_trait]
impl ResultStore for SimStore {
    async fn begin(&self, key: &str, worker: &str, lease: Duration) -> Result<Begin, StoreError> {
        self.call(None, true, false, self.inner.begin(key, worker, lease)).await
    }
    async fn renew(&self, key: &str, worker: &str, lease: Duration) -> Result<(), StoreError> {
        self.call(None, false, false, self.inner.renew(key, worker, lease)).await
    }
    async fn intent(&self, key: &str) -> Result<Option<Intent>, StoreError> {
        self.call(None, false, false, self.inner.intent(key)).await
    }
    async fn record_intent(&self, intent: &Intent) -> Result<(), StoreError> {
        self.call(None, true, false, self.inner.record_intent(intent)).await
    }
    async fn forget_intent(&self, key: &str) -> Result<bool, StoreError> {
        // A failure leaves an intent that may later call the key's outcome unknown: troubled.
        self.call(Some(key), true, false, self.inner.forget_intent(key)).await
    }
    async fn record_published(&self, record: &PublishedRecord, worker: &str) -> Result<(), StoreError> {
        self.call(Some(&record.business_key), true, false, self.inner.record_published(record, worker)).await
    }
    async fn record_dead_letter(&self, letter: &DeadLetter, worker: &str) -> Result<(), StoreError> {
        self.call(Some(&letter.business_key), true, false, self.inner.record_dead_letter(letter, worker)).await
    }
    async fn record_deferral(&self, deferral: &Deferral, worker: &str) -> Result<(), StoreError> {
        self.call(Some(&deferral.business_key), true, false, self.inner.record_deferral(deferral, worker)).await
    }
    async fn deferrals(&self, after: Option<&str>, limit: usize) -> Result<Vec<Deferral>, StoreError> {
        self.call(None, false, false, self.inner.deferrals(after, limit)).await
    }
    async fn release(&self, key: &str, worker: &str) -> Result<(), StoreError> {
        self.call(Some(key), true, true, self.inner.release(key, worker)).await
    }
    async fn published(&self, key: &str) -> Result<Option<PublishedRecord>, StoreError> {
        self.call(None, false, false, self.inner.published(key)).await
    }
    async fn dead_letters(&self, after: Option<&str>, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.call(None, false, false, self.inner.dead_letters(after, limit)).await
    }
    async fn remove_dead_letter(&self, key: &str) -> Result<bool, StoreError> {
        self.call(None, true, false, self.inner.remove_dead_letter(key)).await
    }
    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.call(None, false, false, self.inner.counts()).await
    }
}
