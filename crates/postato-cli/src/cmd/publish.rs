//! `postato publish`: publishes one post, directly or through a Publisher with a store.

use clap::Args;
use postato::{Content, Post, PostStatus, PublishError, Publisher, ValidationError};
use std::io::Read;

use crate::args::{open_store, ConnectionArgs, Output};
use crate::{exit, report};

/// Publish one post.
#[derive(Args, Debug)]
pub struct PublishArgs {
    /// Your stable identifier for this post
    #[arg(long)]
    pub business_key: Option<String>,
    /// The network, such as x or linkedin
    #[arg(long)]
    pub platform: Option<String>,
    /// The connected account's id
    #[arg(long)]
    pub account: Option<String>,
    /// publish, scheduled or draft
    #[arg(long, default_value = "publish")]
    pub status: String,
    /// The kind of post
    #[arg(long, default_value = "post")]
    pub post_type: String,
    /// The text to publish
    #[arg(long, conflicts_with = "content_json")]
    pub content: Option<String>,
    /// The content as JSON: a string, or a thread [{"text": …, "media": [{"id": …}]}, …]
    #[arg(long)]
    pub content_json: Option<String>,
    /// When to publish (RFC 3339), for status scheduled
    #[arg(long)]
    pub scheduled_at: Option<String>,
    /// The whole post as JSON (a campaign line), from a file or - for stdin
    #[arg(long, conflicts_with_all = ["business_key", "platform", "account", "content", "content_json", "scheduled_at"])]
    pub json: Option<String>,
    /// Go through a Publisher with this SQLite store: skip what it published, record the result
    #[arg(long)]
    pub store: Option<String>,
    /// text or json (one JSON line)
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

fn invalid(field: &str, message: impl Into<String>) -> PublishError {
    PublishError::InvalidInput(ValidationError::new(field, message))
}

fn required(value: &Option<String>, field: &str, flag: &str) -> Result<String, PublishError> {
    value.clone().ok_or_else(|| invalid(field, format!("is missing: pass {flag}")))
}

impl PublishArgs {
    fn post(&self) -> Result<Post, PublishError> {
        if let Some(source) = &self.json {
            let mut text = String::new();
            let read = if source == "-" {
                std::io::stdin().read_to_string(&mut text).map(drop)
            } else {
                std::fs::read_to_string(source).map(|t| text = t)
            };
            read.map_err(|e| invalid("json", format!("cannot read {source}: {e}")))?;
            return serde_json::from_str(&text).map_err(|e| invalid("json", format!("is not a post: {e}")));
        }
        let content = match (&self.content, &self.content_json) {
            (Some(text), _) => Content::Text(text.clone()),
            (None, Some(json)) => serde_json::from_str(json)
                .map_err(|e| invalid("content", format!("--content-json is not a string or a thread: {e}")))?,
            (None, None) => return Err(invalid("content", "is missing: pass --content or --content-json")),
        };
        let mut post = Post::new(
            required(&self.business_key, "businessKey", "--business-key")?,
            required(&self.platform, "platform", "--platform")?,
            required(&self.account, "accountId", "--account")?,
            self.status.parse::<PostStatus>()?,
            self.post_type.clone(),
            content,
        );
        if let Some(at) = &self.scheduled_at {
            post.scheduled_at = Some(postato::postato_core::parse_timestamp(at)?);
        }
        post.validate()?;
        Ok(post)
    }
}

pub async fn run(args: &PublishArgs) -> u8 {
    let result = async {
        let post = args.post()?;
        let client = args.connection.client()?;
        match &args.store {
            Some(location) => {
                let store = open_store(location, 2).await.map_err(|e| invalid("store", e))?;
                let report = Publisher::with_shared_store(client, store).publish(&post).await?;
                if let Some(error) = &report.store_error {
                    eprintln!("warning: published, but the store could not record it: {error}");
                }
                Ok((report.published, report.from_store))
            }
            None => Ok((client.publish(&post).await?, false)),
        }
    }
    .await;
    match result {
        Ok((published, from_store)) => {
            report::published(args.output, &published, from_store);
            exit::SUCCESS
        }
        Err(error) => {
            report::failed(args.output, &error);
            exit::for_kind(error.kind())
        }
    }
}
