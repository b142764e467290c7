//! `publish_many` as every binding calls it, with the one input-order merge: each binding hands
//! over one entry per post, in order (a post it converted, the error its conversion ended
//! with, or `None` for a post whose error the language keeps itself), and gets one entry back
//! in the same place. Only the converted posts go to [`Client::publish_many`].

use postato::postato_core::settings;
use postato::{Client, ManyOptions, Post, PublishError, PublishReport, Published, Publisher};

use crate::options::{count, Column, GivenCallOptions, Units};

/// The options of a `publish_many` call as a language's user gave them (`None`: the default),
/// with the per-call options every post's publish takes.
pub fn many_options(
    concurrency: Option<f64>,
    call: GivenCallOptions,
    (units, column): (Units, Column),
) -> Result<ManyOptions, PublishError> {
    let options = ManyOptions::new().call_options(call.resolve(units, column)?);
    Ok(match concurrency {
        Some(value) => options.concurrency(count(&settings::CONCURRENCY, value)?),
        None => options,
    })
}

/// A post as JSON (see [`crate::parse_post`]), or `None` as it came.
pub fn parse_many(posts_json: Vec<Option<String>>) -> Vec<Option<Result<Post, PublishError>>> {
    posts_json.into_iter().map(|json| json.map(|json| crate::parse_post(&json))).collect()
}

/// Publishes every converted post; one entry per entry of `posts`, in its place: `None` for
/// `None`, the conversion's error for a post that did not convert, else the publish's result.
pub async fn publish_many(
    client: &Client,
    posts: Vec<Option<Result<Post, PublishError>>>,
    options: &ManyOptions,
) -> Result<Vec<Option<Result<Published, PublishError>>>, PublishError> {
    in_place(posts, |converted| async move { client.publish_many(&converted, options).await }).await
}

/// [`publish_many`] through the Publisher's store ([`Publisher::publish_many`]).
pub async fn publisher_many(
    publisher: &Publisher,
    posts: Vec<Option<Result<Post, PublishError>>>,
    options: &ManyOptions,
) -> Result<Vec<Option<Result<PublishReport, PublishError>>>, PublishError> {
    in_place(posts, |converted| async move { publisher.publish_many(&converted, options).await }).await
}

/// Runs `many` on the converted posts and puts each of its results back in its post's place.
async fn in_place<R, F, Fut>(
    posts: Vec<Option<Result<Post, PublishError>>>,
    many: F,
) -> Result<Vec<Option<Result<R, PublishError>>>, PublishError>
where
    F: FnOnce(Vec<Post>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Result<R, PublishError>>, PublishError>>,
{
    let mut converted = Vec::with_capacity(posts.len());
    let mut places = Vec::with_capacity(posts.len());
    for post in posts {
        places.push(match post {
            Some(Ok(post)) => {
                converted.push(post);
                Some(Ok(()))
            }
            Some(Err(error)) => Some(Err(error)),
            None => None,
        });
    }
    let mut results = many(converted).await?.into_iter();
    Ok(places
        .into_iter()
        .map(|place| {
            place.map(|converted| {
                converted.and_then(|()| results.next().unwrap_or(Err(PublishError::Cancelled { attempts: 0 })))
            })
        })
        .collect())
}
