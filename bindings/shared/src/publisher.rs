//! A Publisher with a language's options (absent: the defaults of `postato_core::defaults`).

use postato::postato_core::settings;
use postato::{
    CallOptions, CancellationToken, Client, DueReport, Post, PublishError, PublishReport, Publisher, ResultStore,
};
use std::sync::Arc;

use crate::options::Units;

/// The Publisher over `client` and `store`; `key_retention` (in the language's units) is how
/// long the server keeps idempotency keys.
pub fn publisher(
    client: Client,
    store: Arc<dyn ResultStore>,
    key_retention: Option<f64>,
    units: Units,
) -> Result<Publisher, PublishError> {
    let publisher = Publisher::with_shared_store(client, store);
    Ok(match key_retention {
        Some(value) => publisher.key_retention(crate::options::duration(&settings::KEY_RETENTION, value, units)?),
        None => publisher,
    })
}

/// Publishes `post` through `publisher` with this publish's own `options` (forced: even when
/// an earlier send's outcome is unknown), ending with `Cancelled` when `cancel` fires.
pub async fn publish(
    publisher: &Publisher,
    post: &Post,
    (options, cancel): (CallOptions, &CancellationToken),
    force: bool,
) -> Result<PublishReport, PublishError> {
    let call = publisher.publish_with(post).options(options).cancel_on(cancel);
    if force {
        call.force().await
    } else {
        call.await
    }
}

/// Publishes the store's due deferred posts, at most `concurrency` (a language's number; absent:
/// the default) at once.
pub async fn publish_due(publisher: &Publisher, concurrency: Option<f64>) -> Result<DueReport, PublishError> {
    let concurrency = match concurrency {
        Some(value) => crate::options::count(&settings::CONCURRENCY, value)?,
        None => settings::CONCURRENCY.default_value(),
    };
    publisher.publish_due(concurrency as usize, &postato::CancellationToken::new()).await
}
