//! The claim protocol of the single-process stores (memory, SQLite), written once: claims
//! with leases held in this process, so that two publishes of one business key in one process
//! never run at once; the lookup re-checked after claiming, so that a key recorded between
//! the first lookup and the claim is answered from the store instead of sent again; and the
//! owner checks that keep a worker whose claim lapsed from writing over another's result.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
// tokio's clock: the real one in production, the paused one under test (the simulation).
use tokio::time::Instant;

use super::{Begin, Deferral, PublishedRecord, StoreError};

/// What a single-process store's records say about a key, read by [`Claims::begin`].
pub(crate) enum Recorded {
    Published(PublishedRecord),
    Deferred(Deferral),
    Nothing,
}

#[derive(Debug, Default)]
pub(crate) struct Claims {
    held: Mutex<HashMap<String, (String, Instant)>>,
}

impl Claims {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims `key` for `worker`, or says how long another worker's lease has left.
    pub fn claim(&self, key: &str, worker: &str, lease: Duration) -> Result<(), Duration> {
        let mut held = self.held();
        let now = Instant::now();
        if let Some((holder, until)) = held.get(key) {
            if holder != worker && *until > now {
                return Err(*until - now);
            }
        }
        held.insert(key.to_owned(), (worker.to_owned(), now + lease));
        Ok(())
    }

    /// Extends `worker`'s claim on `key` by `lease` from now; an error when the claim lapsed
    /// and another worker took the key (or it was released).
    pub fn renew(&self, key: &str, worker: &str, lease: Duration) -> Result<(), StoreError> {
        match self.held().get_mut(key) {
            Some((holder, until)) if holder == worker => {
                *until = Instant::now() + lease;
                Ok(())
            }
            _ => Err(StoreError::lost_claim(key)),
        }
    }

    /// Whether `worker` may write `key`'s outcome: it holds the claim, or nobody else does
    /// (its claim was released, or lapsed and nobody took the key).
    pub fn may_record(&self, key: &str, worker: &str) -> bool {
        !matches!(self.held().get(key), Some((holder, _)) if holder != worker)
    }

    /// Releases `worker`'s claim on `key`.
    pub fn release(&self, key: &str, worker: &str) {
        let mut held = self.held();
        if held.get(key).is_some_and(|(holder, _)| holder == worker) {
            held.remove(key);
        }
    }

    /// Begins `key` for `worker`: published (by `lookup`), held by another, or claimed (and
    /// maybe deferred). The claim is taken before the one lookup, so every record written
    /// before the claim is seen; a key another worker holds is looked up too, so a published
    /// one is answered at once rather than waited for.
    pub async fn begin<F, Fut>(&self, key: &str, worker: &str, lease: Duration, lookup: F) -> Result<Begin, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Recorded, StoreError>>,
    {
        if let Err(expires_in) = self.claim(key, worker, lease) {
            return match lookup().await? {
                Recorded::Published(record) => Ok(Begin::Published(record)),
                Recorded::Deferred(_) | Recorded::Nothing => Ok(Begin::HeldByOther { expires_in }),
            };
        }
        match lookup().await {
            Ok(Recorded::Nothing) => Ok(Begin::Claimed),
            Ok(Recorded::Deferred(deferral)) => Ok(Begin::ClaimedDeferred(deferral)),
            Ok(Recorded::Published(record)) => {
                self.release(key, worker);
                Ok(Begin::Published(record))
            }
            Err(e) => {
                self.release(key, worker);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn record(key: &str) -> PublishedRecord {
        PublishedRecord {
            business_key: key.into(),
            idempotency_key: "k".into(),
            fingerprint: "f".into(),
            post_id: "post_1".into(),
            status: "published".into(),
            attempts: 1,
            replayed: false,
            published_at_ms: 0,
        }
    }

    #[tokio::test]
    async fn the_lookup_runs_once_the_claim_is_taken_and_a_published_key_lets_the_claim_go() {
        let claims = Claims::default();
        let held_while_looking = Cell::new(None);
        let lookup = || {
            held_while_looking.set(Some(claims.claim("k", "other", Duration::from_secs(60)).is_err()));
            async { Ok(Recorded::Published(record("k"))) }
        };
        let begun = claims.begin("k", "a", Duration::from_secs(60), lookup).await.unwrap();
        assert_eq!(begun, Begin::Published(record("k")));
        assert_eq!(held_while_looking.get(), Some(true), "the key was claimed while it was looked up");
        assert_eq!(claims.claim("k", "b", Duration::from_secs(60)), Ok(()), "the claim was released");
    }

    #[tokio::test]
    async fn a_key_held_by_another_is_answered_from_its_record_or_waited_for() {
        let claims = Claims::default();
        claims.claim("k", "holder", Duration::from_secs(60)).unwrap();
        let published = || async { Ok(Recorded::Published(record("k"))) };
        assert_eq!(
            claims.begin("k", "a", Duration::from_secs(60), published).await.unwrap(),
            Begin::Published(record("k"))
        );
        let nothing = || async { Ok(Recorded::Nothing) };
        let held = claims.begin("k", "a", Duration::from_secs(60), nothing).await.unwrap();
        assert!(matches!(held, Begin::HeldByOther { expires_in } if expires_in > Duration::from_secs(59)), "{held:?}");
        assert!(!claims.may_record("k", "a"), "the holder keeps its claim");
    }

    #[test]
    fn a_lapsed_claim_taken_by_another_cannot_be_renewed_or_recorded() {
        let claims = Claims::default();
        claims.claim("k", "a", Duration::ZERO).unwrap();
        claims.claim("k", "b", Duration::from_secs(60)).unwrap();
        assert!(claims.renew("k", "a", Duration::from_secs(60)).is_err());
        assert!(!claims.may_record("k", "a"));
        assert!(claims.may_record("k", "b"));
        assert!(claims.may_record("unclaimed", "a"));
    }
}
