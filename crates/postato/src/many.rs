//! Many publishes in one call ([`Client::publish_many`]): at most `concurrency` in flight,
//! one result per post in input order, all sharing the client's rate-limit gate and retry
//! budget. A token cancels the whole call (posts not yet started end `Cancelled` without a
//! request); dropping the future cancels it too.

use futures_util::stream::{FuturesUnordered, StreamExt};
use postato_core::{bounds, defaults, Post, PublishError, Published};
use tokio_util::sync::CancellationToken;

use crate::Client;

/// How [`Client::publish_many`] runs: how many posts at once, and what cancels it.
#[derive(Clone, Debug)]
pub struct ManyOptions {
    concurrency: u32,
    cancel: CancellationToken,
}

impl Default for ManyOptions {
    fn default() -> Self {
        ManyOptions { concurrency: defaults::CONCURRENCY, cancel: CancellationToken::new() }
    }
}

impl ManyOptions {
    /// The default: [`defaults::CONCURRENCY`] posts at once, no token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Posts in flight at once (checked against [`bounds::CONCURRENCY`] by the call).
    pub fn concurrency(mut self, concurrency: u32) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// A token that cancels the call: in-flight posts stop, the rest are never sent.
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }
}

impl Client {
    /// Publishes every post, at most `options`' concurrency at once, each as
    /// [`Client::publish`] would. The outer error is only for invalid options; each post's own
    /// outcome (a failure included) is its entry in the returned list, in input order.
    pub async fn publish_many(
        &self,
        posts: &[Post],
        options: &ManyOptions,
    ) -> Result<Vec<Result<Published, PublishError>>, PublishError> {
        bounds::check_count("concurrency", u64::from(options.concurrency), &bounds::CONCURRENCY)?;
        let mut results: Vec<Option<Result<Published, PublishError>>> = Vec::with_capacity(posts.len());
        results.resize_with(posts.len(), || None);
        let mut waiting = posts.iter().enumerate();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < options.concurrency as usize {
                let Some((index, post)) = waiting.next() else { break };
                running.push(async move { (index, self.publish_with_cancel(post, &options.cancel).await) });
            }
            match running.next().await {
                Some((index, result)) => results[index] = Some(result),
                None => break,
            }
        }
        Ok(results.into_iter().flatten().collect())
    }
}
