//! `publish_many` as every binding calls it: posts arrive as one JSON each; a post that does
//! not parse is its own failure (never the call's), the rest go to [`Client::publish_many`].

use postato::postato_core::settings;
use postato::{Client, ManyOptions, Post, PublishError, Published};

use crate::options::{count, GivenCallOptions, Units};

/// The options of a `publish_many` call as a language's user gave them (`None`: the default),
/// with the per-call options every post's publish takes.
pub fn many_options(
    concurrency: Option<f64>,
    call: GivenCallOptions,
    units: Units,
) -> Result<ManyOptions, PublishError> {
    let options = ManyOptions::new().call_options(call.resolve(units)?);
    Ok(match concurrency {
        Some(value) => options.concurrency(count(&settings::CONCURRENCY, value)?),
        None => options,
    })
}

/// Publishes every post of `posts_json`; one result per post, in input order.
pub async fn publish_many(
    client: &Client,
    posts_json: &[String],
    options: &ManyOptions,
) -> Result<Vec<Result<Published, PublishError>>, PublishError> {
    let mut posts: Vec<Post> = Vec::with_capacity(posts_json.len());
    let mut unparsed: Vec<Option<PublishError>> = Vec::with_capacity(posts_json.len());
    for json in posts_json {
        match crate::parse_post(json) {
            Ok(post) => {
                posts.push(post);
                unparsed.push(None);
            }
            Err(error) => unparsed.push(Some(error)),
        }
    }
    let mut published = client.publish_many(&posts, options).await?.into_iter();
    Ok(unparsed
        .into_iter()
        .map(|error| match error {
            Some(error) => Err(error),
            None => published.next().unwrap_or(Err(PublishError::Cancelled { attempts: 0 })),
        })
        .collect())
}
