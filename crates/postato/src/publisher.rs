//! [`Publisher`]: a client plus a result store, the thing most users call. It skips what was
//! published, refuses a business key reused for another payload, records every publish and
//! dead-letters every failure worth replaying.

use postato_core::{check_business_key_reuse, Post, PublishError, Published, Transport};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::store::{now_ms, Begin, DeadLetter, PublishedRecord, ResultStore};
use crate::transport::ReqwestTransport;

/// How a publish through the [`Publisher`] went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishReport {
    /// The published post (from the store when `from_store`, with 0 attempts).
    pub published: Published,
    /// Whether it was already recorded, so no request was made.
    pub from_store: bool,
    /// A store failure after a successful publish: the post exists, but the record is
    /// missing. Publishing the same business key again is safe (same idempotency key).
    pub store_error: Option<String>,
}

/// A [`Client`] with a [`ResultStore`].
pub struct Publisher<T = ReqwestTransport> {
    client: Client<T>,
    store: Arc<dyn ResultStore>,
    worker: String,
    lease: Duration,
    publishes: Arc<AtomicU64>,
}

impl<T> Clone for Publisher<T> {
    fn clone(&self) -> Self {
        Publisher {
            client: self.client.clone(),
            store: Arc::clone(&self.store),
            worker: self.worker.clone(),
            lease: self.lease,
            publishes: Arc::clone(&self.publishes),
        }
    }
}

impl<T> std::fmt::Debug for Publisher<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").field("client", &self.client).field("worker", &self.worker).finish_non_exhaustive()
    }
}

impl<T: Transport> Publisher<T> {
    /// A publisher over `client` and `store`.
    pub fn new(client: Client<T>, store: impl ResultStore) -> Self {
        Self::with_shared_store(client, Arc::new(store))
    }

    /// A publisher over a store shared with others.
    pub fn with_shared_store(client: Client<T>, store: Arc<dyn ResultStore>) -> Self {
        let worker = format!(
            "{}-{:x}",
            std::process::id(),
            std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8)
        );
        Publisher { client, store, worker, lease: Duration::from_secs(60), publishes: Arc::new(AtomicU64::new(0)) }
    }

    /// How long a claim lasts before another worker may take the key over (it is renewed every
    /// third of it while a publish runs, so a crashed worker's keys are taken over within one
    /// lease); default 60 s.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// This publisher's worker id; each publish claims as `{worker}/{n}`.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// The client.
    pub fn client(&self) -> &Client<T> {
        &self.client
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ResultStore> {
        &self.store
    }

    /// Publishes `post` unless the store has it (see the module docs).
    pub async fn publish(&self, post: &Post) -> Result<PublishReport, PublishError> {
        self.publish_with_cancel(post, &CancellationToken::new()).await
    }

    /// Like [`Publisher::publish`], ending with `Cancelled` when `cancel` fires.
    pub async fn publish_with_cancel(
        &self,
        post: &Post,
        cancel: &CancellationToken,
    ) -> Result<PublishReport, PublishError> {
        self.publish_line(post, None, cancel).await
    }

    /// Like [`Publisher::publish_with_cancel`] for a post read from line `line` of a
    /// campaign file: a dead letter records the line.
    pub async fn publish_line(
        &self,
        post: &Post,
        line: Option<u64>,
        cancel: &CancellationToken,
    ) -> Result<PublishReport, PublishError> {
        let report = self.publish_inner(post, line, cancel, true).await?;
        Ok(report.expect("a publisher that waits for claims always reports"))
    }

    /// Like [`Publisher::publish_line`], but when another worker holds a live claim on the key
    /// it returns `Ok(None)` at once instead of waiting (a batch comes back to it later).
    pub async fn try_publish_line(
        &self,
        post: &Post,
        line: Option<u64>,
        cancel: &CancellationToken,
    ) -> Result<Option<PublishReport>, PublishError> {
        self.publish_inner(post, line, cancel, false).await
    }

    async fn publish_inner(
        &self,
        post: &Post,
        line: Option<u64>,
        cancel: &CancellationToken,
        wait_for_claims: bool,
    ) -> Result<Option<PublishReport>, PublishError> {
        let request = self.client.request_for(post)?;
        let key = post.business_key.as_str();
        // Each publish claims under its own name, so two publishes of one key wait for each other.
        let claimant = format!("{}/{}", self.worker, self.publishes.fetch_add(1, Ordering::Relaxed));
        loop {
            match self.store.begin(key, &claimant, self.lease).await {
                Ok(Begin::Published(record)) => {
                    check_business_key_reuse(key, &record.fingerprint, request.fingerprint())?;
                    let published = Published {
                        id: record.post_id,
                        status: record.status,
                        idempotency_key: record.idempotency_key,
                        attempts: 0,
                        replayed: false,
                    };
                    return Ok(Some(PublishReport { published, from_store: true, store_error: None }));
                }
                Ok(Begin::Claimed) => break,
                Ok(Begin::HeldByOther { .. }) if !wait_for_claims => return Ok(None),
                Ok(Begin::HeldByOther { expires_in }) => {
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return Err(PublishError::Cancelled { attempts: 0 }),
                        _ = tokio::time::sleep(expires_in.min(Duration::from_millis(200))) => {}
                    }
                }
                Err(e) => {
                    // Publishing without the store's answer is still safe: the server dedupes
                    // by idempotency key. Only the payload guard is skipped.
                    tracing::error!(business_key = key, error = %e, "postato: result store lookup failed; publishing anyway (retry-safe)");
                    break;
                }
            }
        }
        let fingerprint = request.fingerprint().to_owned();
        let result = {
            let publish = self.client.publish_request(key, request, cancel);
            tokio::pin!(publish);
            // Renew the claim while the publish runs, so a long publish keeps its key.
            let mut renew = tokio::time::interval(self.lease / 3);
            renew.tick().await;
            loop {
                tokio::select! {
                    biased;
                    result = &mut publish => break result,
                    _ = renew.tick() => {
                        if let Err(e) = self.store.renew(key, &claimant, self.lease).await {
                            tracing::warn!(business_key = key, error = %e, "postato: could not renew the claim");
                        }
                    }
                }
            }
        };
        match result {
            Ok(published) => {
                let record = PublishedRecord {
                    business_key: key.to_owned(),
                    idempotency_key: published.idempotency_key.clone(),
                    fingerprint,
                    post_id: published.id.clone(),
                    status: published.status.clone(),
                    attempts: published.attempts,
                    replayed: published.replayed,
                    published_at_ms: now_ms(),
                };
                let recorded = self.store.record_published(&record, &claimant).await;
                if recorded.is_err() {
                    // The claim must not outlive this publish, or the key would stall for a lease.
                    let _ = self.store.release(key, &claimant).await;
                }
                let store_error = recorded.err().map(|e| {
                    tracing::error!(
                        business_key = key,
                        post_id = published.id.as_str(),
                        error = %e,
                        "postato: PUBLISHED but the result could not be recorded; publishing this business key again is safe (same idempotency key)"
                    );
                    e.to_string()
                });
                Ok(Some(PublishReport { published, from_store: false, store_error }))
            }
            Err(error) => {
                let outcome = if error.kind().is_dead_lettered() {
                    let letter = DeadLetter {
                        business_key: key.to_owned(),
                        kind: error.kind().as_str().to_owned(),
                        status: error.status(),
                        message: error.to_string(),
                        body: error.body().map(str::to_owned),
                        attempts: error.attempts(),
                        failed_at_ms: now_ms(),
                        payload: serde_json::to_string(post).ok(),
                        line,
                    };
                    self.store.record_dead_letter(&letter, &claimant).await
                } else {
                    self.store.release(key, &claimant).await
                };
                if let Err(e) = outcome {
                    let _ = self.store.release(key, &claimant).await;
                    tracing::error!(business_key = key, error = %e, "postato: could not record the failure in the result store");
                }
                Err(error)
            }
        }
    }
}
