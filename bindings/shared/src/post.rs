//! A post as the Python and Node wrappers serialise it (the wire format's JSON), parsed by the
//! core, which names the field of any error.

use postato::{Post, PublishError};

/// Parses a post from its JSON.
pub fn parse_post(post_json: &str) -> Result<Post, PublishError> {
    Ok(Post::from_json(post_json)?)
}
