//! A device's outbox ([`postato::LocalOutbox`]) as every binding opens, fills and drains it, with
//! the language's numbers checked by the settings' rules: the store's path as a SQLite store's,
//! the drain's deadline as a publish's, its concurrency as a batch's.

use postato::postato_core::settings;
use postato::{CancellationToken, Client, Drained, Enqueued, LocalOutbox, Post, PublishError};

use crate::options::{count, duration, Units};

/// The outbox in the SQLite file at `path` (created if needed, its commits synced to the disk),
/// drained through `client`, `concurrency` posts at once (absent: the default).
pub fn local_outbox(client: Client, path: &str, concurrency: Option<f64>) -> Result<LocalOutbox, PublishError> {
    postato::store::check_sqlite_path(path)?;
    let outbox = LocalOutbox::open(client, path)
        .map_err(|e| PublishError::InvalidInput(postato::ValidationError::setting("path", e.to_string())))?;
    Ok(match concurrency {
        Some(value) => outbox.concurrency(count(&settings::CONCURRENCY, value)?),
        None => outbox,
    })
}

/// Enqueues `post`, sent no earlier than `not_before_ms` (a language's number of ms since the
/// Unix epoch; absent: at once).
pub async fn enqueue(outbox: &LocalOutbox, post: &Post, not_before_ms: Option<f64>) -> Result<Enqueued, PublishError> {
    let not_before = crate::outbox::not_before(not_before_ms)?;
    outbox.enqueue(post, not_before).await
}

/// Drains `outbox` for at most `deadline` (in the language's units, bounded as a publish's
/// deadline is), or until `cancel` fires.
pub async fn drain(
    outbox: &LocalOutbox,
    deadline: f64,
    units: Units,
    cancel: &CancellationToken,
) -> Result<Drained, PublishError> {
    let deadline = duration(&settings::DEADLINE, deadline, units)?;
    outbox.drain_with(deadline, cancel).await
}
