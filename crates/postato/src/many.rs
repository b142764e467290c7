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
        settings::CONCURRENCY.check(u64::from(options.concurrency))?;
        options.call.policy(self.policy())?;
        let mut results: Vec<Option<Result<Published, PublishError>>> = Vec::with_capacity(posts.len());
        results.resize_with(posts.len(), || None);
        let mut waiting = posts.iter().enumerate();
        // Each post is a task of its own, so the runtime's workers share the posts in flight;
        // dropping the set (dropping this future) aborts them all.
        let mut running = JoinSet::new();
        let mut index_of = HashMap::new();
        // Each post's task runs in the caller's span, so its publish span is the caller's child
        // (a trace of the whole call), not a root of its own.
        let caller = tracing::Span::current();
        loop {
            while running.len() < options.concurrency as usize {
                let Some((index, post)) = waiting.next() else { break };
                if options.cancel.is_cancelled() {
                    // Cancelled: the posts not started are not even built.
                    results[index] = Some(Err(PublishError::Cancelled { attempts: 0 }));
                    continue;
                }
                let (client, post, cancel) = (self.clone(), post.clone(), options.cancel.clone());
                let call = options.call.clone();
                let publish = async move { client.publish_with(&post).options(call).cancel_on(&cancel).send().await };
                let task = running.spawn(tracing::Instrument::instrument(publish, caller.clone()));
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
        Ok(results.into_iter().flatten().collect())
    }
}
