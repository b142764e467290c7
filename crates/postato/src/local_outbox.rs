//! [`LocalOutbox`]: the outbox of an app on a device, in its [`SqliteStore`] file. The app
//! enqueues a post the moment it has one (offline or not: the write is local, and survives the
//! app being killed, and a power loss on a store [`opened`](LocalOutbox::open) synced), and
//! a drain, run whenever the platform lets it (Android WorkManager, iOS background tasks),
//! publishes what is due within a deadline through the [`Publisher`] over the same file. A post
//! is published once even when the app is killed mid-drain: its row stays pending, and the next
//! drain publishes it under the same idempotency key (the server replays the first publish) or
//! finds it recorded.

use postato_core::{settings, Enqueued, Post, PublishError, Timestamp, Transport};
use std::collections::HashSet;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::many::{each_bounded, ManyOptions};
use crate::outbox_row::{PutBack, RowStep};
use crate::publisher::{store_unavailable, PublishReport, Publisher};
use crate::store::{now_ms, OutboxCounts, OutboxRow, SqliteStore, StoreError};
use crate::transport::ReqwestTransport;
use crate::Client;

/// A device's outbox: posts enqueued into a [`SqliteStore`] file and drained from it.
#[derive(Clone, Debug)]
pub struct LocalOutbox<T = ReqwestTransport> {
    publisher: Publisher<T>,
    store: SqliteStore,
    concurrency: u32,
}

/// What one [`LocalOutbox::drain`] did.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Drained {
    /// Rows published (or found published: `from_store`), with their business keys.
    pub published: Vec<(String, PublishReport)>,
    /// Rows put back for later: their account's rate limit holds (`PutBack::Deferred`), or a
    /// failure that may pass (`PutBack::Failed`), or their key held by another publish.
    pub deferred: Vec<PutBackRow>,
    /// Rows dead-lettered, with why (the store's dead letters keep them for a replay).
    pub dead_lettered: Vec<(String, PublishError)>,
    /// Set when no post can be published until a setting or the API key is fixed: the drain
    /// stopped there, and the rows wait (none is dead-lettered for it).
    pub blocked: Option<PublishError>,
    /// Whether the deadline (or the cancel) ended the drain with rows still due; those were
    /// put back as they were.
    pub stopped_early: bool,
    /// The outbox afterwards: what is still pending, and when the next row is due.
    pub counts: OutboxCounts,
}

/// A row put back by a drain.
#[derive(Clone, Debug)]
pub struct PutBackRow {
    /// The post's business key.
    pub business_key: String,
    /// When it is due again.
    pub not_before: Timestamp,
    /// Why it waits.
    pub why: PutBack,
}

/// How long a drain past its deadline waits for the publishes it cancelled to be marked.
const WIND_DOWN: Duration = Duration::from_secs(2);

impl<T: Transport + 'static> LocalOutbox<T> {
    /// The outbox in the SQLite file at `path` (created if needed), its commits synced to the
    /// disk ([`SqliteStore::synced`]: an enqueued post survives a power loss), drained through
    /// `client`.
    pub fn open(client: Client<T>, path: impl AsRef<std::path::Path>) -> Result<Self, StoreError> {
        Ok(LocalOutbox::new(client, SqliteStore::open(path)?.synced()?))
    }

    /// The outbox in `store`'s file, drained through `client` (a [`Publisher`] over the same
    /// store records each publish, so a post published by a drain, by a `Publisher` or by
    /// `postato batch` on this file is never sent again).
    pub fn new(client: Client<T>, store: SqliteStore) -> Self {
        LocalOutbox {
            publisher: Publisher::new(client, store.clone()),
            store,
            concurrency: settings::CONCURRENCY.default_value(),
        }
    }

    /// Posts a drain publishes at once (default and bounds: [`settings::CONCURRENCY`]).
    pub fn concurrency(mut self, concurrency: u32) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// The publisher a drain publishes through.
    pub fn publisher(&self) -> &Publisher<T> {
        &self.publisher
    }

    /// Writes `post` into the outbox, to be published by a drain no earlier than `not_before`
    /// (its own `scheduledAt` is kept for the server): once this returns, the post survives the
    /// app being killed (and a power loss, on an outbox [`opened`](LocalOutbox::open) synced).
    /// The same post again is a no-op (`AlreadyEnqueued`), so an app may enqueue again whatever it
    /// is unsure of; a dead-lettered post enqueued again is pending again (`Enqueued`); another
    /// post under an enqueued business key is `BusinessKeyReused`; an invalid post is refused
    /// before anything is written.
    pub async fn enqueue(&self, post: &Post, not_before: Option<Timestamp>) -> Result<Enqueued, PublishError> {
        self.store.enqueue(post, not_before).await
    }

    /// How many rows the outbox holds, by state.
    pub async fn counts(&self) -> Result<OutboxCounts, PublishError> {
        self.store.outbox_counts(now_ms()).await.map_err(|e| store_unavailable(&e))
    }

    /// Publishes the due rows until none is left or `deadline` has passed, at most the
    /// outbox's concurrency at once; see [`LocalOutbox::drain_with`].
    pub async fn drain(&self, deadline: Duration) -> Result<Drained, PublishError> {
        self.drain_with(deadline, &CancellationToken::new()).await
    }

    /// Publishes the due rows until none is left, `deadline` has passed or `cancel` fires (an
    /// iOS task's expiration handler): each row is marked published or dead-lettered, or put
    /// back for later (deferred by a rate limit, a failure that may pass, a key held). At the
    /// deadline (or the cancel) the publishes in flight are cancelled and their rows stay due;
    /// the drain waits at most 2 s more for them to be marked, then returns. Each row is taken at most once per drain; rows
    /// enqueued meanwhile are taken too. One drain of a file runs at a time in a process: a
    /// second waits for the first (within its own deadline). Due times are read by the wall
    /// clock (a phone's monotonic clock stops while it sleeps). The outer error is for invalid
    /// settings and a store that cannot answer (nothing is lost then: the rows stay pending).
    pub async fn drain_with(&self, deadline: Duration, cancel: &CancellationToken) -> Result<Drained, PublishError> {
        let stop = cancel.child_token();
        let options = ManyOptions::new().concurrency(self.concurrency).cancel(stop.clone());
        options.check(self.publisher.client().policy())?;
        let now = tokio::time::Instant::now();
        // A deadline past any the runtime can count is no deadline.
        let until = now.checked_add(deadline).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        let mut drained = Drained::default();
        let draining = self.store.draining();
        let ended = tokio::select! {
            lock = draining.lock() => {
                let _draining = lock;
                let work = self.drain_rows(&options, &stop, &mut drained);
                tokio::pin!(work);
                tokio::select! {
                    ended = &mut work => ended,
                    () = async {
                        tokio::select! {
                            () = tokio::time::sleep_until(until) => {}
                            () = stop.cancelled() => {}
                        }
                    } => {
                        stop.cancel();
                        // The publishes in flight end at once (cancelled); marking them may
                        // wait for the store, but the drain stops waiting after WIND_DOWN.
                        tokio::time::timeout(WIND_DOWN, work).await.unwrap_or(Ok(()))
                    }
                }
            }
            // Another drain of the file held it past the deadline.
            () = tokio::time::sleep_until(until) => {
                stop.cancel();
                Ok(())
            }
            () = stop.cancelled() => Ok(()),
        };
        ended?;
        drained.counts = self.counts().await?;
        drained.stopped_early = stop.is_cancelled() && drained.blocked.is_none() && drained.counts.due > 0;
        Ok(drained)
    }

    async fn drain_rows(
        &self,
        options: &ManyOptions,
        stop: &CancellationToken,
        drained: &mut Drained,
    ) -> Result<(), PublishError> {
        let mut seen = HashSet::new();
        let batch = self.concurrency as usize * 4;
        while !stop.is_cancelled() {
            // Rows put back due at once (none but a cancel's) may come first: ask for enough
            // that `batch` rows not yet taken are among them.
            let due = self.store.outbox_due(now_ms(), seen.len() + batch).await.map_err(|e| store_unavailable(&e))?;
            let rows: Vec<OutboxRow> =
                due.into_iter().filter(|row| !seen.contains(&row.business_key)).take(batch).collect();
            if rows.is_empty() {
                break;
            }
            seen.extend(rows.iter().map(|row| row.business_key.clone()));
            let steps = each_bounded(rows.len(), options, |index| {
                let (publisher, row, cancel) = (self.publisher.clone(), rows[index].clone(), stop.clone());
                Some(async move { Ok(publisher.publish_row(&row.payload, row.deliveries, &cancel).await) })
            })
            .await;
            for (row, step) in rows.into_iter().zip(steps) {
                // A row not started (cancelled first) stays as it is.
                let Some(Ok(step)) = step else { continue };
                self.settle(row, step, drained, stop).await?;
            }
        }
        Ok(())
    }

    /// Marks `row` by `step`, and notes it in `drained`.
    async fn settle(
        &self,
        row: OutboxRow,
        step: RowStep,
        drained: &mut Drained,
        stop: &CancellationToken,
    ) -> Result<(), PublishError> {
        let key = row.business_key;
        let marked = match step {
            RowStep::Published(report) => {
                let marked = self.store.outbox_done(&key, true).await;
                drained.published.push((key, report));
                marked
            }
            RowStep::DeadLetter(error) => {
                self.publisher.dead_letter_row(&key, &error, Some(row.payload)).await;
                let marked = self.store.outbox_done(&key, false).await;
                drained.dead_lettered.push((key, error));
                marked
            }
            RowStep::PutBack { wait, failed, why } => {
                let not_before_ms = now_ms().saturating_add(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
                let marked = self.store.outbox_put_back(&key, not_before_ms, failed).await;
                match why {
                    PutBack::Cancelled => {}
                    PutBack::Blocked(error) => {
                        drained.blocked.get_or_insert(error);
                        stop.cancel();
                    }
                    why => drained.deferred.push(PutBackRow {
                        business_key: key,
                        not_before: Timestamp::from_millis(not_before_ms),
                        why,
                    }),
                }
                marked
            }
        };
        marked.map_err(|e| store_unavailable(&e))
    }
}
