//! Many publishes in one call ([`Client::publish_many`]): at most `concurrency` in flight,
//! one result per post in input order, all sharing the client's rate-limit gates and retry
//! budget. A token cancels the whole call (posts not yet started end `Cancelled` without a
//! request); dropping the future cancels it too.

use postato_core::{defaults, settings, Post, PublishError, Published};
use std::collections::HashMap;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{CallOptions, Client};

/// How [`Client::publish_many`] runs: how many posts at once, and what cancels it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ManyOptions {
    concurrency: u32,
    cancel: CancellationToken,
    call: CallOptions,
}

impl Default for ManyOptions {
    fn default() -> Self {
        ManyOptions {
            concurrency: defaults::CONCURRENCY,
            cancel: CancellationToken::new(),
            call: CallOptions::default(),
        }
    }
}

impl ManyOptions {
    /// The default: [`defaults::CONCURRENCY`] posts at once, no token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Posts in flight at once (checked against [`settings::CONCURRENCY`] by the call).
    pub fn concurrency(mut self, concurrency: u32) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// A token that cancels the call: in-flight posts stop, the rest are never sent.
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Options every post's publish takes (see [`Client::publish_with`]); default none.
    pub fn call_options(mut self, call: CallOptions) -> Self {
        self.call = call;
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
        options.check(self.policy())?;
        let results = each_bounded(posts.len(), options, |index| {
            let (client, post, cancel) = (self.clone(), posts[index].clone(), options.cancel.clone());
            let call = options.call.clone();
            Some(async move { client.publish_with(&post).options(call).cancel_on(&cancel).send().await })
        })
        .await;
        Ok(results.into_iter().map(|result| result.unwrap_or(Err(PublishError::Cancelled { attempts: 0 }))).collect())
    }
}

impl ManyOptions {
    /// The token that cancels the call.
    pub(crate) fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// The options every post's publish takes.
    pub(crate) fn per_call(&self) -> &CallOptions {
        &self.call
    }

    /// Checks the concurrency and the per-call options against `policy` (the client's).
    pub(crate) fn check(&self, policy: &postato_core::RetryPolicy) -> Result<(), PublishError> {
        settings::CONCURRENCY.check(u64::from(self.concurrency))?;
        self.call.policy(policy)?;
        Ok(())
    }
}

/// Runs `start(index)` for each index below `count` in order, at most `options`' concurrency at
/// once, each as a task of its own in the caller's span (so a post's publish span is the
/// caller's child, and the runtime's workers share the posts in flight). `start` may return
/// `None` for an index it leaves to the caller. Once `options`' token is cancelled, the posts
/// not started end `Cancelled` without being built; dropping this future aborts every task.
pub(crate) async fn each_bounded<R, F, Fut>(
    count: usize,
    options: &ManyOptions,
    mut start: F,
) -> Vec<Option<Result<R, PublishError>>>
where
    F: FnMut(usize) -> Option<Fut>,
    Fut: std::future::Future<Output = Result<R, PublishError>> + Send + 'static,
    R: Send + 'static,
{
    let mut results: Vec<Option<Result<R, PublishError>>> = Vec::with_capacity(count);
    results.resize_with(count, || None);
    let mut waiting = 0..count;
    let mut running = JoinSet::new();
    let mut index_of = HashMap::new();
    let caller = tracing::Span::current();
    loop {
        while running.len() < options.concurrency as usize {
            let Some(index) = waiting.next() else { break };
            if options.cancel.is_cancelled() {
                results[index] = Some(Err(PublishError::Cancelled { attempts: 0 }));
                continue;
            }
            let Some(work) = start(index) else { continue };
            let task = running.spawn(tracing::Instrument::instrument(work, caller.clone()));
            index_of.insert(task.id(), index);
        }
        let Some(joined) = running.join_next_with_id().await else { break };
        let (id, result) = match joined {
            Ok((id, result)) => (id, result),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => (e.id(), Err(PublishError::Cancelled { attempts: 0 })),
        };
        if let Some(index) = index_of.remove(&id) {
            results[index] = Some(result);
        }
    }
    results
}
