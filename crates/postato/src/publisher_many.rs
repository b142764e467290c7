//! A store-backed batch ([`Publisher::publish_many`]): the posts of one call through the
//! [`Publisher`], at most `concurrency` at once, with the guarantees of `postato batch`. Each
//! post is claimed, recorded, deferred or dead-lettered as [`Publisher::publish`] does it, so
//! running the same call again resumes it (what was published comes from the store, nothing is
//! sent twice); within one call the first post of a business key is the one published.

use postato_core::{Post, PublishError};
use std::collections::HashMap;

use crate::many::{each_bounded, ManyOptions};
use crate::publisher::{PublishReport, Publisher};

/// What one call does with a post, given the posts before it (first-post-wins).
#[derive(Debug)]
enum Part {
    /// The first post of its business key (or one that cannot be compared): published.
    First,
    /// The same post as an earlier one: it shares that post's outcome, without a request.
    SameAs(usize),
    /// Another post under the key of an earlier one, which is the one published: refused.
    Reused(PublishError),
}

impl Publisher {
    /// Publishes every post through the store, at most `options`' concurrency at once, each as
    /// [`Publisher::publish`] would (claimed, then recorded, deferred or dead-lettered). The
    /// outer error is only for invalid options; each post's own outcome is its entry in the
    /// returned list, in input order.
    ///
    /// - **Resumable**: a post already published (by an earlier call, another process, or a
    ///   `postato batch`) comes from the store with `from_store`, and nothing is sent for it;
    ///   a deferred post not yet due is `Deferred` again without a request.
    /// - **Shared**: a post whose key another worker holds is left for a second pass, which
    ///   waits for that claim to end (its publish recorded, or its lease lapsed), so the other
    ///   posts never wait behind it.
    /// - **First post wins**: a business key given again with the same post shares the first
    ///   one's outcome (one request, `from_store` on the repeat); given with another post, the
    ///   repeat is `BusinessKeyReused` (its `stored_fingerprint` is the first post's) and
    ///   nothing is sent or recorded for it. An invalid post is never the first of its key.
    ///   (Unlike `postato batch`, which dead-letters such lines under their line number, the
    ///   call returns these errors to its caller and records nothing for them.)
    /// - **Cancellation** (`options`' token, or dropping the future): nothing more is sent;
    ///   posts not started end `Cancelled`, and every claim is released.
    pub async fn publish_many(
        &self,
        posts: &[Post],
        options: &ManyOptions,
    ) -> Result<Vec<Result<PublishReport, PublishError>>, PublishError> {
        options.check(self.client().policy())?;
        let parts = self.first_post_wins(posts);
        // First pass: a key another worker holds is left, not waited for, so that one held key
        // (a crashed process's claim lasts its lease) never holds a slot while others wait.
        let first_pass = each_bounded(posts.len(), options, |index| {
            let Part::First = parts[index] else { return None };
            let (publisher, post, cancel) = (self.clone(), posts[index].clone(), options.cancel_token().clone());
            let call = options.per_call().clone();
            Some(async move { publisher.publish_with(&post).options(call).cancel_on(&cancel).try_send().await })
        })
        .await;
        let held: Vec<usize> = (0..posts.len()).filter(|&i| matches!(first_pass[i], Some(Ok(None)))).collect();
        let mut results: Vec<Option<Result<PublishReport, PublishError>>> =
            first_pass.into_iter().map(|result| result.and_then(Result::transpose)).collect();
        // Second pass: the held keys, waiting for each claim to end (published, or lapsed).
        let second_pass = each_bounded(held.len(), options, |n| {
            let (publisher, post, cancel) = (self.clone(), posts[held[n]].clone(), options.cancel_token().clone());
            let call = options.per_call().clone();
            Some(async move { publisher.publish_with(&post).options(call).cancel_on(&cancel).send().await })
        })
        .await;
        for (index, result) in held.into_iter().zip(second_pass) {
            results[index] = result;
        }
        for (index, part) in parts.into_iter().enumerate() {
            results[index] = match part {
                Part::First => continue,
                Part::SameAs(first) => results[first]
                    .clone()
                    .map(|outcome| outcome.map(|report| PublishReport { from_store: true, ..report })),
                Part::Reused(error) => Some(Err(error)),
            };
        }
        Ok(results.into_iter().map(|result| result.unwrap_or(Err(PublishError::Cancelled { attempts: 0 }))).collect())
    }

    /// Each post's [`Part`]: a key seen before with the same post shares its outcome, with
    /// another payload (by the fingerprint the store compares) it is refused. A post that is
    /// not valid fails on its own and never decides for a later one. Only a repeated key costs
    /// a comparison.
    fn first_post_wins(&self, posts: &[Post]) -> Vec<Part> {
        let mut first_of: HashMap<&str, usize> = HashMap::new();
        let fingerprint = |post: &Post| self.client().request_for(post).ok().map(|r| r.fingerprint().to_owned());
        let mut parts = Vec::with_capacity(posts.len());
        for (index, post) in posts.iter().enumerate() {
            let key = post.business_key.as_str();
            let Some(&first) = first_of.get(key) else {
                first_of.insert(key, index);
                parts.push(Part::First);
                continue;
            };
            if posts[first] == *post {
                parts.push(Part::SameAs(first));
                continue;
            }
            parts.push(match (fingerprint(&posts[first]), fingerprint(post)) {
                (Some(earlier), Some(this)) if earlier == this => Part::SameAs(first),
                (Some(earlier), Some(this)) => Part::Reused(PublishError::BusinessKeyReused {
                    business_key: post.business_key.clone(),
                    stored_fingerprint: earlier,
                    new_fingerprint: this,
                }),
                (None, Some(_)) => {
                    // The earlier post is invalid, so never published: this one is the first.
                    first_of.insert(key, index);
                    Part::First
                }
                (_, None) => Part::First,
            });
        }
        parts
    }
}
