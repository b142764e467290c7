//! [`MemoryStore`]: results in memory, for tests and short-lived processes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use super::claims::{Claims, Recorded};
use super::{Begin, DeadLetter, Deferral, Intent, PublishedRecord, ResultStore, StoreCounts, StoreError};

/// Keeps results in memory: a restarted process forgets them (the server's dedupe still
/// prevents double posts within its retention).
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
    claims: Claims,
}

#[derive(Debug, Default)]
struct Data {
    published: HashMap<String, PublishedRecord>,
    dead: BTreeMap<String, DeadLetter>,
    intents: HashMap<String, Intent>,
    deferred: BTreeMap<String, Deferral>,
}

impl Data {
    fn recorded(&self, key: &str) -> Recorded {
        match (self.published.get(key), self.deferred.get(key)) {
            (Some(record), _) => Recorded::Published(record.clone()),
            (None, Some(deferral)) => Recorded::Deferred(deferral.clone()),
            (None, None) => Recorded::Nothing,
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn data(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes an outcome other than a publish (a dead letter, a deferral) with `write`, then
    /// releases the claim; refused when another worker holds the claim or the key is published.
    fn record_unpublished(&self, key: &str, worker: &str, write: impl FnOnce(&mut Data)) -> Result<(), StoreError> {
        if !self.claims.may_record(key, worker) {
            return Err(StoreError::lost_claim(key));
        }
        let mut data = self.data();
        let published = data.published.contains_key(key);
        if !published {
            write(&mut data);
        }
        drop(data);
        self.claims.release(key, worker);
        match published {
            true => Err(StoreError::already_published(key)),
            false => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl ResultStore for MemoryStore {
    async fn begin(&self, business_key: &str, worker: &str, lease: Duration) -> Result<Begin, StoreError> {
        let lookup = || std::future::ready(Ok(self.data().recorded(business_key)));
        self.claims.begin(business_key, worker, lease, lookup).await
    }

    async fn renew(&self, business_key: &str, worker: &str, lease: Duration) -> Result<(), StoreError> {
        self.claims.renew(business_key, worker, lease)
    }

    async fn record_published(&self, record: &PublishedRecord, worker: &str) -> Result<(), StoreError> {
        let mut data = self.data();
        data.dead.remove(&record.business_key);
        data.deferred.remove(&record.business_key);
        data.intents.remove(&record.business_key);
        data.published.entry(record.business_key.clone()).or_insert_with(|| record.clone());
        drop(data);
        self.claims.release(&record.business_key, worker);
        Ok(())
    }

    async fn record_dead_letter(&self, letter: &DeadLetter, worker: &str) -> Result<(), StoreError> {
        let key = letter.business_key.as_str();
        self.record_unpublished(key, worker, |data| {
            data.deferred.remove(key);
            data.dead.insert(key.to_owned(), letter.clone());
        })
    }

    async fn record_deferral(&self, deferral: &Deferral, worker: &str) -> Result<(), StoreError> {
        let key = deferral.business_key.as_str();
        self.record_unpublished(key, worker, |data| {
            data.dead.remove(key);
            data.deferred.insert(key.to_owned(), deferral.clone());
        })
    }

    async fn deferrals(&self, after: Option<&str>, limit: usize) -> Result<Vec<Deferral>, StoreError> {
        Ok(page(&self.data().deferred, after, limit))
    }

    async fn intent(&self, business_key: &str) -> Result<Option<Intent>, StoreError> {
        Ok(self.data().intents.get(business_key).cloned())
    }

    async fn record_intent(&self, intent: &Intent) -> Result<(), StoreError> {
        self.data().intents.entry(intent.business_key.clone()).or_insert_with(|| intent.clone());
        Ok(())
    }

    async fn forget_intent(&self, business_key: &str) -> Result<bool, StoreError> {
        Ok(self.data().intents.remove(business_key).is_some())
    }

    async fn release(&self, business_key: &str, worker: &str) -> Result<(), StoreError> {
        self.claims.release(business_key, worker);
        Ok(())
    }

    async fn published(&self, business_key: &str) -> Result<Option<PublishedRecord>, StoreError> {
        Ok(self.data().published.get(business_key).cloned())
    }

    async fn dead_letters(&self, after: Option<&str>, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(page(&self.data().dead, after, limit))
    }

    async fn remove_dead_letter(&self, business_key: &str) -> Result<bool, StoreError> {
        Ok(self.data().dead.remove(business_key).is_some())
    }

    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        let data = self.data();
        let mut counts = StoreCounts {
            published: data.published.len() as u64,
            dead_letters: data.dead.len() as u64,
            ..Default::default()
        };
        for letter in data.dead.values() {
            *counts.dead_letters_by_kind.entry(letter.kind.clone()).or_default() += 1;
        }
        counts.deferred = data.deferred.len() as u64;
        counts.next_due_ms = data.deferred.values().map(|d| d.not_before_ms).min();
        counts.deferred_until_ms = data.deferred.values().map(|d| d.not_before_ms).max();
        Ok(counts)
    }
}

/// The values of `map` after the key `after` (exclusive), at most `limit`, in key order.
fn page<V: Clone>(map: &BTreeMap<String, V>, after: Option<&str>, limit: usize) -> Vec<V> {
    let range = match after {
        Some(after) => map.range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
        None => map.range::<str, _>(..),
    };
    range.take(limit).map(|(_, v)| v.clone()).collect()
}
