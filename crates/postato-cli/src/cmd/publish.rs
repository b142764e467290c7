//! `postato publish`: publishes one post, directly or through a Publisher with a store.

use clap::Args;
use postato::{Post, PublishError, Publisher, ValidationError};

use crate::args::{self, open_store, ConnectionArgs, Output, StoreUse};
use crate::{campaign, exit, report};

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
    /// publish, scheduled or draft [default: scheduled with --scheduled-at, else publish]
    #[arg(long)]
    pub status: Option<String>,
    /// The kind of post
    #[arg(long, default_value = postato::postato_core::defaults::POST_TYPE)]
    pub post_type: String,
    /// The text to publish
    #[arg(long, conflicts_with = "content_json")]
    pub content: Option<String>,
    /// The content as JSON: a string, or a thread [{"text": …, "media": [{"id": …}]}, …]
    #[arg(long)]
    pub content_json: Option<String>,
    /// When to publish (RFC 3339, such as 2026-12-01T09:00:00Z); implies --status scheduled
    #[arg(long)]
    pub scheduled_at: Option<String>,
    /// The whole post as JSON (a campaign line), from a file or - for stdin
    #[arg(long, value_name = "PATH", conflicts_with_all = ["business_key", "platform", "account", "status", "post_type", "content", "content_json", "scheduled_at"])]
    pub file: Option<String>,
    /// Go through a Publisher with this store, a SQLite file (created if new) or a PostgreSQL
    /// URL (postgres://…): skip what it published, record the result
    #[arg(long, value_parser = args::store_location)]
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
    /// The post from `--file`, or from the flags; either way read by the core's one parser
    /// (`Post::from_json`) and checked by its one validation.
    fn post(&self) -> Result<Post, PublishError> {
        let post = match &self.file {
            Some(source) => Post::from_json(&read_post(source)?)?,
            None => Post::from_json(&self.post_from_flags()?.to_string())?,
        };
        post.validate()?;
        Ok(post)
    }

    fn post_from_flags(&self) -> Result<serde_json::Value, PublishError> {
        let content = match (&self.content, &self.content_json) {
            (Some(text), _) => serde_json::Value::String(text.clone()),
            (None, Some(json)) => serde_json::from_str(json).map_err(|e| {
                invalid(
                    "content",
                    format!("--content-json is not JSON ({e}): give a string or a thread [{{\"text\": …}}, …]"),
                )
            })?,
            (None, None) => return Err(invalid("content", "is missing: pass --content or --content-json")),
        };
        let mut post = serde_json::json!({
            "businessKey": required(&self.business_key, "businessKey", "--business-key")?,
            "platform": required(&self.platform, "platform", "--platform")?,
            "accountId": required(&self.account, "accountId", "--account")?,
            "postType": self.post_type,
            "content": content,
        });
        if let Some(status) = &self.status {
            post["status"] = status.as_str().into();
        }
        if let Some(at) = &self.scheduled_at {
            post["scheduledAt"] = at.as_str().into();
        }
        Ok(post)
    }
}

/// A `--file` post file (or `-` for stdin), read in bounded memory as a campaign line is.
fn read_post(source: &str) -> Result<String, PublishError> {
    let flag = "--file";
    let cannot_read = |e: std::io::Error| invalid(flag, format!("cannot read {source}: {e}"));
    let bytes = if source == "-" {
        campaign::read_post_file(std::io::stdin().lock())
    } else {
        std::fs::File::open(source).and_then(campaign::read_post_file)
    }
    .map_err(cannot_read)?
    .map_err(|reason| invalid(flag, format!("{source}: {reason}")))?;
    let text = campaign::line_text(&bytes).map_err(|reason| invalid(flag, format!("{source}: {reason}")))?;
    Ok(text.to_owned())
}

pub async fn run(args: &PublishArgs) -> u8 {
    let failed = |error: PublishError| {
        report::failed(args.output, &error);
        exit::for_kind(error.kind())
    };
    // The post and the settings first: an invalid one is refused before the store is opened.
    let (post, client) = match args.post().and_then(|post| Ok((post, args.connection.client()?))) {
        Ok(checked) => checked,
        Err(error) => return failed(error),
    };
    // A stop signal (Ctrl-C, SIGTERM, SIGHUP) drops the publish: nothing more is sent, its claim
    // on the store is released at once, and publishing again later is safe.
    let mut signals = crate::signals::StopSignals::listen();
    let publish = async {
        match &args.store {
            Some(location) => {
                let store = match open_store(location, 1, StoreUse::Publish).await {
                    Ok(store) => store,
                    Err(message) => {
                        report::fatal(args.output, &message);
                        return Err(exit::FAILURE);
                    }
                };
                Ok(Publisher::with_shared_store(client, store).publish(&post).await.map(|report| {
                    if let Some(error) = &report.store_error {
                        let error = crate::terminal::printable(&error.to_string()).into_owned();
                        errln!("warning: published, but the store could not record it: {error}");
                    }
                    (report.published, report.from_store)
                }))
            }
            None => Ok(client.publish(&post).await.map(|published| (published, false))),
        }
    };
    let result = tokio::select! {
        result = publish => match result {
            Ok(result) => result,
            Err(code) => return code,
        },
        signal = signals.next() => {
            report::interrupted(args.output, signal.name());
            return signal.exit_code();
        }
    };
    match result {
        Ok((published, from_store)) => {
            report::published(args.output, &published, from_store);
            exit::SUCCESS
        }
        Err(error) => failed(error),
    }
}
