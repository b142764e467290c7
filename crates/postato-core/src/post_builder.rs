//! [`PostBuilder`]: a post by named parts, checked once when built, so that the four strings of
//! [`Post::new`] cannot be swapped unnoticed and new optional fields never break callers.

use chrono::{DateTime, Utc};

use crate::post::{Content, Post, PostStatus};
use crate::validate::ValidationError;

/// Builds a [`Post`]: `Post::builder("draft-123").platform("x").account_id("acc_1")
/// .text("hello").build()?`. The status, when not given, is implied by the schedule time
/// ([`PostStatus::implied`]); the post type defaults to `post`.
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until built"]
pub struct PostBuilder {
    business_key: String,
    platform: Option<String>,
    account_id: Option<String>,
    status: Option<PostStatus>,
    post_type: Option<String>,
    content: Option<Content>,
    scheduled_at: Option<DateTime<Utc>>,
}

impl Post {
    /// Starts a post with its business key (see [`PostBuilder`]).
    pub fn builder(business_key: impl Into<String>) -> PostBuilder {
        PostBuilder { business_key: business_key.into(), ..PostBuilder::default() }
    }
}

impl PostBuilder {
    /// The network to publish on, for example `x` or `linkedin` (required).
    pub fn platform(mut self, platform: impl Into<String>) -> Self {
        self.platform = Some(platform.into());
        self
    }

    /// The connected account on that network (required).
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    /// The content: a text or a thread (required; see also [`PostBuilder::text`]).
    pub fn content(mut self, content: impl Into<Content>) -> Self {
        self.content = Some(content.into());
        self
    }

    /// The content as one text.
    pub fn text(self, text: impl Into<String>) -> Self {
        self.content(Content::Text(text.into()))
    }

    /// Publish now, schedule or save as a draft (default: implied by the schedule time).
    pub fn status(mut self, status: PostStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// The kind of post on the network (default `post`).
    pub fn post_type(mut self, post_type: impl Into<String>) -> Self {
        self.post_type = Some(post_type.into());
        self
    }

    /// When to publish.
    pub fn scheduled_at(mut self, at: DateTime<Utc>) -> Self {
        self.scheduled_at = Some(at);
        self
    }

    /// The post, validated as [`Post::validate`] does; a missing required part is named.
    pub fn build(self) -> Result<Post, ValidationError> {
        let required = |value: Option<String>, field: &str| {
            value.ok_or_else(|| {
                ValidationError::new(
                    field,
                    format!("is missing: call .{}(…) before .build()", crate::settings::snake_case(field)),
                )
            })
        };
        let post = Post {
            platform: required(self.platform, "platform")?,
            account_id: required(self.account_id, "accountId")?,
            content: self.content.ok_or_else(|| {
                ValidationError::new("content", "is missing: call .text(…) or .content(…) before .build()")
            })?,
            status: self.status.unwrap_or(PostStatus::implied(self.scheduled_at.is_some())),
            post_type: self.post_type.unwrap_or_else(|| "post".to_owned()),
            scheduled_at: self.scheduled_at,
            business_key: self.business_key,
        };
        post.validate()?;
        Ok(post)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> PostBuilder {
        Post::builder("draft-123").platform("x").account_id("acc_1").text("hello")
    }

    #[test]
    fn builds_what_new_builds() {
        let built = base().build().unwrap();
        assert_eq!(built, Post::new("draft-123", "x", "acc_1", PostStatus::Publish, "post", "hello"));
    }

    #[test]
    fn a_schedule_time_implies_scheduled_and_an_explicit_publish_with_one_is_refused() {
        let at = "2030-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(base().scheduled_at(at).build().unwrap().status, PostStatus::Scheduled);
        let refused = base().scheduled_at(at).status(PostStatus::Publish).build().unwrap_err();
        assert_eq!(refused.field, "scheduledAt");
    }

    #[test]
    fn a_missing_part_is_named_with_its_method() {
        let missing = Post::builder("k").platform("x").text("t").build().unwrap_err();
        assert_eq!(missing.field, "accountId");
        assert!(missing.message.contains(".account_id("), "{}", missing.message);
        assert_eq!(Post::builder("k").account_id("a").text("t").build().unwrap_err().field, "platform");
        assert_eq!(Post::builder("k").platform("x").account_id("a").build().unwrap_err().field, "content");
    }

    #[test]
    fn an_invalid_part_is_refused_at_build() {
        assert_eq!(base().platform("").build().unwrap_err().field, "platform");
    }
}
