//! [`Publisher`]: a client plus a result store, the thing most users call. It skips what was
//! published, refuses a business key reused for another payload, records every publish,
//! defers a post whose rate limit holds past what a publish waits (see [`Deferral`]) and
//! dead-letters every other failure worth replaying.

use postato_core::{
    check_business_key_reuse, Post, PublishError, Published, Request, RetryPolicy, Timestamp, Transport,
};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::SemaphorePermit;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::publisher_call::{CallShape, PublisherCall};
use crate::store::{now_ms, Begin, DeadLetter, Deferral, Intent, PublishedRecord, ResultStore, StoreErrorKind};
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

/// What [`Publisher::publish_due`] did with the store's deferred posts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DueReport {
    /// Due posts published now (or found published).
    pub published: u64,
    /// Due posts that failed (dead-lettered, or not recorded: see the log).
    pub failed: u64,
    /// Posts still deferred: not due yet, or deferred again by this call.
    pub deferred: u64,
    /// When the next of them is due.
    pub next_due: Option<Timestamp>,
}

/// A [`Client`] with a [`ResultStore`].
pub struct Publisher<T = ReqwestTransport> {
    client: Client<T>,
    store: Arc<dyn ResultStore>,
    worker: String,
    lease: Duration,
    key_retention: Duration,
    publishes: Arc<AtomicU64>,
}

impl<T> Clone for Publisher<T> {
    fn clone(&self) -> Self {
        Publisher {
            client: self.client.clone(),
            store: Arc::clone(&self.store),
            worker: self.worker.clone(),
            lease: self.lease,
            key_retention: self.key_retention,
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
        Publisher {
            client,
            store,
            worker,
            lease: postato_core::defaults::LEASE,
            key_retention: postato_core::defaults::KEY_RETENTION,
            publishes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How long a claim lasts before another worker may take the key over (it is renewed every
    /// third of it while a publish runs, so a crashed worker's keys are taken over within one
    /// lease); default [`LEASE`](postato_core::defaults::LEASE).
    /// A lease outside [`settings::LEASE`](postato_core::settings::LEASE) (below 100 ms, a claim
    /// that would not outlast a store round trip) makes every publish an `InvalidInput` naming
    /// `lease`, before anything is sent.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long the server keeps idempotency keys; default
    /// [`KEY_RETENTION`](postato_core::defaults::KEY_RETENTION). A key sent
    /// longer ago whose outcome was never recorded (a crash between the send and the record)
    /// is not sent again: it ends as [`PublishError::OutcomeUnknown`] and is dead-lettered.
    pub fn key_retention(mut self, retention: Duration) -> Self {
        self.key_retention = retention;
        self
    }

    /// The lease and the key retention within their [`settings`](postato_core::settings), checked
    /// by every publish (the setters cannot fail).
    fn check_settings(&self) -> Result<(), PublishError> {
        use postato_core::settings;
        settings::LEASE.check(self.lease)?;
        settings::KEY_RETENTION.check(self.key_retention)?;
        Ok(())
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
        self.publish_with(post).send().await
    }

    /// A publish with options of its own: `publisher.publish_with(&post).cancel_on(&token).force()`,
    /// then `.await` (see [`PublisherCall`]).
    pub fn publish_with<'a>(&'a self, post: &'a Post) -> PublisherCall<'a, T> {
        PublisherCall::new(self, post)
    }

    /// A publish as [`PublisherCall::send`] describes it. While another publish holds a live
    /// claim on the key, it waits for that claim to end.
    pub(crate) async fn send(&self, post: &Post, call: &CallShape<'_>) -> Result<PublishReport, PublishError> {
        self.check_settings()?;
        let request = self.client.request_for(post)?;
        let policy = self.client.policy_for(&call.options)?;
        let claimant = self.next_claimant();
        loop {
            let guard = ClaimGuard::new(&self.store, &post.business_key, &claimant);
            match self.claim(post, &request, &claimant, guard).await? {
                Claim::Recorded(report) => return Ok(report),
                Claim::Ours(guard) => {
                    return self.publish_claimed(post, call, (request, policy), &claimant, guard).await
                }
                Claim::HeldByOther { expires_in } => {
                    tokio::select! {
                        biased;
                        _ = call.cancel.cancelled() => return Err(PublishError::Cancelled { attempts: 0 }),
                        _ = tokio::time::sleep(expires_in.min(CLAIM_POLL)) => {}
                    }
                }
            }
        }
    }

    /// Like [`Publisher::send`], but when another worker holds a live claim on the key it
    /// returns `Ok(None)` at once instead of waiting (a batch comes back to it later).
    pub(crate) async fn try_send(
        &self,
        post: &Post,
        call: &CallShape<'_>,
    ) -> Result<Option<PublishReport>, PublishError> {
        self.check_settings()?;
        let request = self.client.request_for(post)?;
        let policy = self.client.policy_for(&call.options)?;
        let claimant = self.next_claimant();
        let guard = ClaimGuard::new(&self.store, &post.business_key, &claimant);
        match self.claim(post, &request, &claimant, guard).await? {
            Claim::Recorded(report) => Ok(Some(report)),
            Claim::Ours(guard) => self.publish_claimed(post, call, (request, policy), &claimant, guard).await.map(Some),
            Claim::HeldByOther { .. } => Ok(None),
        }
    }

    /// Each publish claims under its own name, so two publishes of one key wait for each other.
    fn next_claimant(&self) -> String {
        format!("{}/{}", self.worker, self.publishes.fetch_add(1, Ordering::Relaxed))
    }

    /// Step 1: asks the store for the key. A recorded publish is answered from the store
    /// (after the payload guard). A store that cannot answer (after riding out a short outage)
    /// ends the publish with nothing sent: without its answer, a post published longer ago than
    /// the server keeps idempotency keys would be published again. `guard` comes back with
    /// the claim when it is ours; on every other answer it is disarmed, and on an error the
    /// claim the store may have taken before its answer was lost is released before this
    /// returns, within [`RELEASE_WAIT`] (a cancelled publish too: it is what a process that
    /// exits next must have done), else by the guard in the background (see [`ClaimGuard`]).
    async fn claim(
        &self,
        post: &Post,
        request: &Request,
        claimant: &str,
        guard: ClaimGuard,
    ) -> Result<Claim, PublishError> {
        let key = post.business_key.as_str();
        match self.store.begin(key, claimant, self.lease).await {
            Ok(Begin::Claimed) => Ok(Claim::Ours(guard)),
            Ok(Begin::ClaimedDeferred(deferral)) => {
                let now = self.client.now_ms();
                if deferral.not_before_ms <= now {
                    return Ok(Claim::Ours(guard));
                }
                // Not due: nothing is sent, and the claim goes at once (else by the guard).
                if self.store.release(key, claimant).await.is_ok() {
                    guard.disarm();
                }
                Err(deferred(deferral.not_before_ms, now, 0))
            }
            Ok(Begin::Published(record)) => {
                guard.disarm();
                check_business_key_reuse(key, &record.fingerprint, request.fingerprint())?;
                let published = Published {
                    id: record.post_id,
                    status: record.status,
                    idempotency_key: record.idempotency_key,
                    attempts: 0,
                    replayed: false,
                    request_id: None,
                };
                Ok(Claim::Recorded(PublishReport { published, from_store: true, store_error: None }))
            }
            Ok(Begin::HeldByOther { expires_in }) => {
                guard.disarm();
                Ok(Claim::HeldByOther { expires_in })
            }
            Err(e) => {
                // Awaited, not left to the guard: a process that exits once this returns (a
                // one-shot CLI call) would otherwise leave the key claimed for a whole lease.
                let release = tokio::time::timeout(RELEASE_WAIT, self.store.release(key, claimant)).await;
                if matches!(release, Ok(Ok(()))) {
                    guard.disarm();
                }
                Err(store_unavailable(&e))
            }
        }
    }

    /// Steps 2 and 3 for a claimed key: publish, renewing the claim, then record the outcome.
    /// However the publish ends — an outcome, a cancellation, its future dropped, a panic —
    /// the claim is released (see [`ClaimGuard`]).
    async fn publish_claimed(
        &self,
        post: &Post,
        call: &CallShape<'_>,
        (request, policy): (Request, RetryPolicy),
        claimant: &str,
        guard: ClaimGuard,
    ) -> Result<PublishReport, PublishError> {
        let line = call.line;
        let sending = match self.wait_for_permit(call, &post.business_key, claimant).await {
            Ok(sending) => sending,
            Err(error) => {
                let error = self.record_failure(post, line, error, claimant).await;
                guard.disarm();
                return Err(error);
            }
        };
        let fingerprint = request.fingerprint().to_owned();
        let created = match self.note_intent(&post.business_key, &fingerprint, call.force).await {
            Ok(created) => created,
            Err(error) => {
                drop(sending);
                let error = self.record_failure(post, line, error, claimant).await;
                guard.disarm();
                return Err(error);
            }
        };
        let refusals = AtomicU32::new(0);
        let sent = self.publish_renewing(post, (request, policy), claimant, call.cancel, &refusals).await;
        drop(sending);
        let result = match sent {
            Ok(published) => Ok(self.record_published(&post.business_key, fingerprint, published, claimant).await),
            Err(error) => {
                // Nothing was sent (a cancellation before the first request), or every request
                // was refused with a 429 or never connected (a phone offline): the intent this
                // publish recorded says nothing, and must not turn a long deferral or a day
                // offline into outcome_unknown.
                let refused_only = error.attempts() == refusals.load(Ordering::Relaxed);
                if created && refused_only {
                    let _ = self.store.forget_intent(&post.business_key).await;
                }
                Err(self.record_failure(post, line, error, claimant).await)
            }
        };
        guard.disarm();
        result
    }

    /// Step 1b, for a publish [`sends_within`](crate::PublisherCall::sends_within) a semaphore:
    /// waits for a permit, renewing the claim meanwhile; the permit is held from before the
    /// intent is written (so that an intent never waits long for its send) to the last answer.
    /// A cancellation, or the semaphore closed (a batch that stops), ends the publish
    /// `Cancelled` with nothing written or sent.
    async fn wait_for_permit<'s>(
        &self,
        call: &CallShape<'s>,
        key: &str,
        claimant: &str,
    ) -> Result<Option<SemaphorePermit<'s>>, PublishError> {
        let Some(sends) = call.sends else { return Ok(None) };
        let cancelled = || PublishError::Cancelled { attempts: 0 };
        let acquire = sends.acquire();
        let keep_claim = self.keep_claim(key, claimant);
        tokio::pin!(acquire, keep_claim);
        let mut renewing = true;
        loop {
            tokio::select! {
                biased;
                _ = call.cancel.cancelled() => return Err(cancelled()),
                permit = &mut acquire => return permit.map(Some).map_err(|_closed| cancelled()),
                // Lost to another worker: sending is still retry-safe (the same idempotency
                // key), as when the claim is lost mid-request (see `publish_renewing`).
                () = &mut keep_claim, if renewing => renewing = false,
            }
        }
    }

    /// Step 1c: records the intent before the first send (whether this publish created it), or
    /// finds one from an earlier run. An intent older than the server's key retention means
    /// "sent, outcome never recorded, and the server no longer dedupes it": not sent again,
    /// unless forced. A store that cannot record or read the intent ends the publish with
    /// nothing sent.
    async fn note_intent(&self, key: &str, fingerprint: &str, force: bool) -> Result<bool, PublishError> {
        let now = self.client.now_ms();
        let fresh = Intent { business_key: key.to_owned(), fingerprint: fingerprint.to_owned(), first_sent_at_ms: now };
        match self.store.note_intent(&fresh).await.map_err(|e| store_unavailable(&e))? {
            Some(intent) => {
                let age_ms = now.saturating_sub(intent.first_sent_at_ms);
                let retention_ms = u64::try_from(self.key_retention.as_millis()).unwrap_or(u64::MAX);
                if age_ms > retention_ms && force {
                    // A person checked: this send starts a new retention.
                    self.store.forget_intent(key).await.map_err(|e| store_unavailable(&e))?;
                    self.store.record_intent(&fresh).await.map_err(|e| store_unavailable(&e))?;
                    return Ok(true);
                }
                if age_ms > retention_ms {
                    return Err(PublishError::OutcomeUnknown {
                        first_sent_at_ms: intent.first_sent_at_ms,
                        age_ms,
                        retention_ms,
                    });
                }
                Ok(false)
            }
            None => Ok(true),
        }
    }

    /// Step 2: publishes while [`Publisher::keep_claim`] renews the claim beside it, in the
    /// same task: a slow or failing store never stalls the publish.
    async fn publish_renewing(
        &self,
        post: &Post,
        (request, policy): (Request, RetryPolicy),
        claimant: &str,
        cancel: &CancellationToken,
        refusals: &AtomicU32,
    ) -> Result<Published, PublishError> {
        let key = post.business_key.as_str();
        let publish = self.client.publish_counting_refusals(post, request, policy, Some(cancel), refusals);
        let keep_claim = self.keep_claim(key, claimant);
        tokio::pin!(publish, keep_claim);
        tokio::select! {
            biased;
            result = &mut publish => result,
            () = &mut keep_claim => {
                // The claim went to another worker. Finishing is retry-safe (same idempotency
                // key), and the stores refuse a lost claim's dead letter.
                publish.await
            }
        }
    }

    /// Renews the claim every third of the lease, each renewal bounded by that third, for as
    /// long as it is held; returns when it is lost to another worker.
    async fn keep_claim(&self, key: &str, claimant: &str) {
        let period = self.lease / 3;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match tokio::time::timeout(period, self.store.renew(key, claimant, self.lease)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) if e.kind() == StoreErrorKind::LostClaim => {
                    tracing::warn!(business_key = key, error = %e, "postato: the claim was lost while publishing");
                    return;
                }
                Ok(Err(e)) => tracing::warn!(business_key = key, error = %e, "postato: could not renew the claim"),
                Err(_) => tracing::warn!(
                    business_key = key,
                    "postato: renewing the claim took longer than a third of the lease; trying again"
                ),
            }
        }
    }

    /// Step 3a: records a publish. A store failure here is reported, not raised: the post
    /// exists, and publishing the same business key again is safe (same idempotency key).
    async fn record_published(
        &self,
        key: &str,
        fingerprint: String,
        published: Published,
        claimant: &str,
    ) -> PublishReport {
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
        let store_error = match self.store.record_published(&record, claimant).await {
            Ok(()) => None,
            Err(e) => {
                // The claim must not outlive this publish, or the key would stall for a lease.
                let _ = self.store.release(key, claimant).await;
                tracing::error!(
                    business_key = key,
                    post_id = published.id.as_str(),
                    error = %e,
                    "postato: PUBLISHED but the result could not be recorded; publishing this business key again is safe (same idempotency key)"
                );
                Some(e.to_string())
            }
        };
        PublishReport { published, from_store: false, store_error }
    }

    /// Step 3b: defers a rate-limited post (its error becomes [`PublishError::Deferred`] once
    /// the store keeps it), dead-letters another failure worth replaying, or releases the
    /// claim of one that is not (a cancellation, an invalid input). Returns the publish's error.
    async fn record_failure(
        &self,
        post: &Post,
        line: Option<u64>,
        error: PublishError,
        claimant: &str,
    ) -> PublishError {
        let key = post.business_key.as_str();
        if let PublishError::RateLimited { retry_after, attempts, .. } = &error {
            let now = self.client.now_ms();
            // A client whose waits take no time (tests) defers to the wall clock's now: its own
            // clock runs ahead of every other process's, which would wait hours for the post.
            let not_before_ms = match self.client.fast_forwards_waits() {
                true => now_ms().min(now),
                false => Timestamp::from_millis(now).saturating_add(*retry_after).as_millis(),
            };
            let outcome = deferred(not_before_ms, now, *attempts);
            let deferral = Deferral {
                business_key: key.to_owned(),
                not_before_ms,
                reason: error.kind().as_str().to_owned(),
                message: outcome.to_string(),
                attempts: *attempts,
                deferred_at_ms: now,
                payload: serde_json::to_string(post).ok(),
                line,
            };
            match self.store.record_deferral(&deferral, claimant).await {
                Ok(()) => return outcome,
                // Another worker holds the key, or published it: its outcome is theirs to record.
                Err(e) if matches!(e.kind(), StoreErrorKind::LostClaim | StoreErrorKind::AlreadyPublished) => {
                    tracing::warn!(business_key = key, error = %e, "postato: the deferral is not recorded");
                    return outcome;
                }
                Err(e) => {
                    // Not kept as deferred: dead-lettered below, so the post is never lost.
                    tracing::warn!(business_key = key, error = %e, "postato: could not record the deferral");
                }
            }
        }
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
            let recorded = self.store.record_dead_letter(&letter, claimant).await;
            if recorded.is_ok() {
                self.client.count_dead_letter(&letter.kind);
            }
            recorded
        } else {
            self.store.release(key, claimant).await
        };
        if let Err(e) = outcome {
            let _ = self.store.release(key, claimant).await;
            match e.kind() {
                StoreErrorKind::Failed => tracing::error!(
                    business_key = key,
                    error = %e,
                    "postato: could not record the failure in the result store"
                ),
                _ => tracing::warn!(business_key = key, error = %e, "postato: the failure is not recorded"),
            }
        }
        error
    }

    /// Publishes the store's deferred posts whose time has come (by the client's clock), at
    /// most `concurrency` at once; the others stay deferred and nothing is sent for them. For
    /// a service or an app that publishes one post at a time: call it from a timer, or at
    /// [`DueReport::next_due`]. (`postato batch` does not need it: running the campaign again
    /// publishes the due posts, and `--wait` waits for them.)
    pub async fn publish_due(&self, concurrency: usize, cancel: &CancellationToken) -> Result<DueReport, PublishError> {
        use futures_util::StreamExt;
        const PAGE: usize = 1000;
        let mut report = DueReport::default();
        let mut due = Vec::new();
        let mut after: Option<String> = None;
        let now = self.client.now_ms();
        loop {
            let page = self.store.deferrals(after.as_deref(), PAGE).await.map_err(|e| store_unavailable(&e))?;
            let full = page.len() == PAGE;
            after = page.last().map(|d| d.business_key.clone());
            for deferral in page.iter().filter(|d| d.not_before_ms > now) {
                report.note_deferred(deferral.not_before_ms);
            }
            for deferral in page.into_iter().filter(|d| d.not_before_ms <= now) {
                match deferral.payload.as_deref().map(serde_json::from_str::<Post>) {
                    Some(Ok(post)) => due.push((post, deferral.line)),
                    Some(Err(e)) => {
                        let why = format!("its stored post cannot be read ({e}): publish it again from its source");
                        self.dead_letter_unreadable(deferral, &why, &mut report).await;
                    }
                    None => {
                        let why = "its post was not stored: publish it again from its source";
                        self.dead_letter_unreadable(deferral, why, &mut report).await;
                    }
                }
            }
            if !full {
                break;
            }
        }
        let mut outcomes = futures_util::stream::iter(due)
            .map(|(post, line)| async move {
                let mut call = self.publish_with(&post).cancel_on(cancel);
                if let Some(line) = line {
                    call = call.line(line);
                }
                call.send().await
            })
            .buffer_unordered(concurrency.max(1));
        while let Some(outcome) = outcomes.next().await {
            match outcome {
                Ok(_) => report.published += 1,
                Err(PublishError::Deferred { retry_at, .. }) => report.note_deferred(retry_at.as_millis()),
                Err(PublishError::Cancelled { attempts }) => return Err(PublishError::Cancelled { attempts }),
                Err(_) => report.failed += 1,
            }
        }
        Ok(report)
    }
}

impl<T: Transport> Publisher<T> {
    /// Dead-letters a due deferral whose post cannot be published from the store (`why`), so
    /// that it neither stays due forever nor is lost: the dead letter names it.
    async fn dead_letter_unreadable(&self, deferral: Deferral, why: &str, report: &mut DueReport) {
        let key = deferral.business_key.as_str();
        let claimant = self.next_claimant();
        match self.store.begin(key, &claimant, self.lease).await {
            Ok(Begin::Claimed | Begin::ClaimedDeferred(_)) => {}
            // Published meanwhile, or in another worker's hands: nothing to do here.
            Ok(Begin::Published(_) | Begin::HeldByOther { .. }) => return,
            Err(e) => {
                tracing::warn!(business_key = key, error = %e, "postato: could not claim an unreadable deferral");
                report.note_deferred(deferral.not_before_ms);
                return;
            }
        }
        let letter = DeadLetter {
            business_key: key.to_owned(),
            kind: postato_core::ErrorKind::InvalidInput.as_str().to_owned(),
            status: None,
            message: format!("deferred until it was due, but {why}"),
            body: None,
            attempts: 0,
            failed_at_ms: now_ms(),
            payload: deferral.payload.clone(),
            line: deferral.line,
        };
        match self.store.record_dead_letter(&letter, &claimant).await {
            Ok(()) => report.failed += 1,
            Err(e) => {
                let _ = self.store.release(key, &claimant).await;
                tracing::warn!(business_key = key, error = %e, "postato: could not dead-letter an unreadable deferral");
                report.note_deferred(deferral.not_before_ms);
            }
        }
    }
}

impl DueReport {
    fn note_deferred(&mut self, not_before_ms: u64) {
        self.deferred += 1;
        let at = Timestamp::from_millis(not_before_ms);
        self.next_due = Some(self.next_due.map_or(at, |next| next.min(at)));
    }
}

/// The error of a post deferred until `not_before_ms`, at `now_ms`.
fn deferred(not_before_ms: u64, now_ms: u64, attempts: u32) -> PublishError {
    let retry_at = Timestamp::from_millis(not_before_ms);
    PublishError::Deferred {
        retry_at,
        retry_after: retry_at.saturating_since(Timestamp::from_millis(now_ms)),
        attempts,
    }
}

/// What the store said about a key.
enum Claim {
    /// Published and recorded before: answered from the store.
    Recorded(PublishReport),
    /// This publish holds the key; the guard releases it if the publish is dropped.
    Ours(ClaimGuard),
    /// Another publish holds a live claim that ends within `expires_in`.
    HeldByOther { expires_in: Duration },
}

/// How often a publish waiting for another's claim asks the store again, at most.
const CLAIM_POLL: Duration = Duration::from_millis(200);

/// How long a publish that ends before sending (its store could not answer) waits for its
/// claim's release before leaving it to the background.
const RELEASE_WAIT: Duration = Duration::from_secs(2);

/// Releases a claim when a publish ends without recording its outcome: its future dropped
/// (an asyncio task or a Kotlin coroutine cancelled, a `tokio::time::timeout`, Ctrl-C in a
/// sync Python call) or a panic. The release is spawned on the runtime, since a drop cannot
/// wait; without it the key would stay claimed for a whole lease. Disarmed once the outcome
/// is recorded (recording releases the claim itself).
struct ClaimGuard {
    release: Option<(Arc<dyn ResultStore>, String, String)>,
    /// The runtime of the publish, taken when it starts: the drop may happen elsewhere.
    runtime: Option<tokio::runtime::Handle>,
}

impl ClaimGuard {
    /// Armed from before the claim is asked for, so a drop during the store's answer releases
    /// it too (a release by a worker that holds nothing changes nothing).
    fn new(store: &Arc<dyn ResultStore>, key: &str, claimant: &str) -> Self {
        ClaimGuard {
            release: Some((Arc::clone(store), key.to_owned(), claimant.to_owned())),
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }

    fn disarm(mut self) {
        self.release = None;
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let Some((store, key, claimant)) = self.release.take() else { return };
        match self.runtime.take().or_else(|| tokio::runtime::Handle::try_current().ok()) {
            Some(runtime) => {
                runtime.spawn(async move {
                    if let Err(e) = store.release(&key, &claimant).await {
                        tracing::warn!(business_key = key.as_str(), error = %e, "postato: could not release the claim");
                    }
                });
            }
            None => tracing::warn!(
                business_key = key.as_str(),
                "postato: a publish ended outside a runtime; its claim lapses with its lease"
            ),
        }
    }
}

/// A store that could not answer, as the publish's error: nothing was sent.
pub(crate) fn store_unavailable(e: &crate::store::StoreError) -> PublishError {
    PublishError::Transient { last: postato_core::Failure::StoreUnavailable(e.to_string()), attempts: 0 }
}
