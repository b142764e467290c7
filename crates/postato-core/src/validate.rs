//! Validation before any request: an invalid post never reaches the network.

use chrono::Datelike;
use std::fmt;

use crate::post::{Content, Post, PostStatus};

/// What is wrong with a post: the field (wire name) and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// The offending field, as named on the wire (`businessKey`, `content[2].text`, …).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ValidationError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid post: {}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

fn require_text(field: &str, value: &str, what: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, format!("is empty: give {what}")));
    }
    if value.contains('\0') {
        return Err(ValidationError::new(field, "contains a NUL character: remove it"));
    }
    Ok(())
}

impl Post {
    /// Checks everything the API would reject, so that no request is made for a bad post.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.business_key.is_empty() {
            return Err(ValidationError::new(
                "businessKey",
                "is empty: give a stable identifier for this logical post, such as your draft's id",
            ));
        }
        require_text("platform", &self.platform, "the network to publish on, such as \"x\"")?;
        require_text("accountId", &self.account_id, "the connected account's id")?;
        require_text("postType", &self.post_type, "the kind of post, such as \"post\"")?;
        match &self.content {
            Content::Text(text) => require_text("content", text, "the text to publish")?,
            Content::Thread(items) => {
                if items.is_empty() {
                    return Err(ValidationError::new(
                        "content",
                        "is an empty thread: give at least one item with text",
                    ));
                }
                for (i, item) in items.iter().enumerate() {
                    require_text(&format!("content[{i}].text"), &item.text, "the item's text")?;
                    for (j, media) in item.media.iter().flatten().enumerate() {
                        require_text(&format!("content[{i}].media[{j}].id"), &media.id, "the uploaded media's id")?;
                    }
                }
            }
        }
        match (self.status, &self.scheduled_at) {
            (PostStatus::Scheduled, None) => {
                return Err(ValidationError::new(
                    "scheduledAt",
                    "is missing: a post with status \"scheduled\" needs the time to publish it",
                ))
            }
            (_, Some(at)) if !(0..=9999).contains(&at.year()) => {
                return Err(ValidationError::new(
                    "scheduledAt",
                    "is outside the years 0000-9999 that the wire format can carry",
                ))
            }
            _ => {}
        }
        Ok(())
    }
}
