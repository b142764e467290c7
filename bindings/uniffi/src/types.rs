//! Records crossing the boundary: client options, the post, the published post, store
//! counts, dead letters; and their conversion to the core's types.

use postato::{Content as CoreContent, Media as CoreMedia, Post, PostStatus, ThreadItem as CoreItem};

use crate::errors::PostatoError;

/// Client settings (times in ms). The API key is a separate constructor argument, so that no
/// generated `toString` can print it.
#[derive(uniffi::Record)]
pub struct ClientOptions {
    /// Default: the production API.
    #[uniffi(default = None)]
    pub base_url: Option<String>,
    #[uniffi(default = 5)]
    pub max_attempts: u32,
    #[uniffi(default = 30000)]
    pub timeout_ms: u64,
    #[uniffi(default = 10000)]
    pub connect_timeout_ms: u64,
    #[uniffi(default = 500)]
    pub backoff_base_ms: u64,
    #[uniffi(default = 30000)]
    pub backoff_cap_ms: u64,
    #[uniffi(default = None)]
    pub deadline_ms: Option<u64>,
    #[uniffi(default = 20)]
    pub max_rate_limit_waits: u32,
    #[uniffi(default = 60000)]
    pub max_retry_after_ms: u64,
    /// For tests: waits advance a virtual clock instead of sleeping.
    #[uniffi(default = false)]
    pub fast_forward_waits: bool,
}

/// Uploaded media, by id.
#[derive(uniffi::Record)]
pub struct Media {
    pub id: String,
}

/// One item of a thread.
#[derive(uniffi::Record)]
pub struct ThreadItem {
    pub text: String,
    #[uniffi(default = None)]
    pub media: Option<Vec<Media>>,
}

/// A post's content.
#[derive(uniffi::Enum)]
pub enum Content {
    Text { text: String },
    Thread { items: Vec<ThreadItem> },
}

/// The post to publish.
#[derive(uniffi::Record)]
pub struct PostInput {
    /// Your stable id for this logical post; the idempotency key derives from it.
    pub business_key: String,
    pub platform: String,
    pub account_id: String,
    pub content: Content,
    /// `publish`, `scheduled` or `draft`.
    #[uniffi(default = "publish")]
    pub status: String,
    #[uniffi(default = "post")]
    pub post_type: String,
    /// RFC 3339, such as `2026-12-01T09:00:00Z`; required for `scheduled`.
    #[uniffi(default = None)]
    pub scheduled_at: Option<String>,
}

impl PostInput {
    pub fn to_post(&self) -> Result<Post, PostatoError> {
        let content = match &self.content {
            Content::Text { text } => CoreContent::Text(text.clone()),
            Content::Thread { items } => CoreContent::Thread(
                items
                    .iter()
                    .map(|i| CoreItem {
                        text: i.text.clone(),
                        media: i.media.as_ref().map(|m| m.iter().map(|m| CoreMedia { id: m.id.clone() }).collect()),
                    })
                    .collect(),
            ),
        };
        let mut post = Post::new(
            &self.business_key,
            &self.platform,
            &self.account_id,
            self.status.parse::<PostStatus>()?,
            &self.post_type,
            content,
        );
        post.scheduled_at = self.scheduled_at.as_deref().map(postato::postato_core::parse_timestamp).transpose()?;
        Ok(post)
    }
}

/// A published post.
#[derive(uniffi::Record)]
pub struct PublishedPost {
    pub id: String,
    pub status: String,
    pub idempotency_key: String,
    pub attempts: u32,
    pub replayed: bool,
    /// True when a Publisher answered from its store (no request was made).
    pub from_store: bool,
}

impl PublishedPost {
    pub fn new(p: postato::Published, from_store: bool) -> Self {
        PublishedPost {
            id: p.id,
            status: p.status,
            idempotency_key: p.idempotency_key,
            attempts: p.attempts,
            replayed: p.replayed,
            from_store,
        }
    }
}

/// Counts in a store.
#[derive(uniffi::Record)]
pub struct StoreCounts {
    pub published: u64,
    pub dead_letters: u64,
}

/// A post that could not be published.
#[derive(uniffi::Record)]
pub struct DeadLetter {
    pub business_key: String,
    pub kind: String,
    pub status: Option<u16>,
    pub message: String,
    pub attempts: u32,
    pub failed_at_ms: u64,
}
