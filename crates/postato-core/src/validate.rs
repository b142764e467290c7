//! Validation before any request: an invalid post, or a setting that cannot work, never
//! reaches the network. [`ValidationError`] says which field or setting and what to do.

use chrono::Datelike;
use std::fmt;

use crate::post::{Content, Post, PostStatus};

/// What a [`ValidationError`] is about: a post's field, or one of the caller's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Subject {
    /// A field of a post (`businessKey`, `content[2].text`, …).
    Post,
    /// A client, publisher or store setting (`maxAttempts`, `baseUrl`, …).
    Setting,
}

impl Subject {
    /// `post` or `setting`, as messages say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Post => "post",
            Subject::Setting => "setting",
        }
    }
}

/// What is wrong with a post or a setting: its name and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// A post field or a setting.
    pub subject: Subject,
    /// The offending field or setting, in camelCase as on the wire (`businessKey`,
    /// `content[2].text`, `maxAttempts`); each language shows it in its own terms.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ValidationError {
    /// An error about the post field `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError { subject: Subject::Post, field: field.into(), message: message.into() }
    }

    /// An error about the setting `setting`.
    pub fn setting(setting: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError { subject: Subject::Setting, field: setting.into(), message: message.into() }
    }

    /// The message with the field named as the caller knows it (a flag, a keyword argument):
    /// `invalid setting: --max-attempts: …`.
    pub fn named(&self, name: &str) -> String {
        format!("invalid {}: {name}: {}", self.subject.as_str(), self.message)
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.named(&self.field))
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

/// Checks a business key: not empty, not only whitespace or invisible characters (a blank key is usually a template
/// whose variable was never filled, and every such post would share one idempotency key), and without Unicode
/// noncharacters, which are reserved for a program's own use: postato keys what it records for campaign lines that
/// have no business key with them, out of every post's reach.
pub fn check_business_key(key: &str) -> Result<(), ValidationError> {
    let blank = if key.is_empty() {
        Some("is empty")
    } else if key.trim().is_empty() {
        Some("is only whitespace")
    } else if key.chars().all(|c| c.is_whitespace() || invisible(c)) {
        Some("is only invisible characters (zero-width spaces, joiners, a byte-order mark)")
    } else {
        None
    };
    if let Some(what) = blank {
        return Err(ValidationError::new(
            "businessKey",
            format!("{what}: give a stable identifier for this logical post, such as your draft's id"),
        ));
    }
    match key.chars().find(|c| noncharacter(*c)) {
        Some(c) => Err(ValidationError::new(
            "businessKey",
            format!(
                "contains U+{:04X}, a Unicode noncharacter (reserved for a program's own use): remove it",
                c as u32
            ),
        )),
        None => Ok(()),
    }
}

/// Unicode's noncharacters: U+FDD0 to U+FDEF, and the last two code points of every plane.
fn noncharacter(c: char) -> bool {
    matches!(c, '\u{FDD0}'..='\u{FDEF}') || (c as u32) & 0xFFFE == 0xFFFE
}

/// Characters that print as nothing: Unicode's Default_Ignorable_Code_Point (zero-width
/// spaces and joiners, direction marks and overrides, variation selectors, the byte-order mark,
/// Hangul fillers, tags, …).
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fff8}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

/// Checks a workspace id: it becomes one path segment of the request, so it must not be
/// empty, `.` or `..` (which a URL resolves into another path), nor hold control characters.
pub fn check_workspace_id(id: &str) -> Result<(), ValidationError> {
    if id.trim().is_empty() {
        return Err(ValidationError::setting("workspaceId", "is empty: give the Postato workspace to publish into"));
    }
    if id == "." || id == ".." {
        return Err(ValidationError::setting(
            "workspaceId",
            format!("is {id:?}, which is not a workspace: give the workspace's id, such as ws_1"),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(ValidationError::setting(
            "workspaceId",
            "contains control characters: give the workspace's id, such as ws_1",
        ));
    }
    Ok(())
}

impl Post {
    /// A word about a valid post that is probably not what its caller meant, for the client
    /// to log: a schedule time already past (the API then publishes at once). `now_ms` is the
    /// caller's clock, in ms since the Unix epoch.
    pub fn schedule_notice(&self, now_ms: u64) -> Option<String> {
        let at = self.scheduled_at?;
        let now = chrono::DateTime::from_timestamp_millis(i64::try_from(now_ms).ok()?)?;
        (at < now).then(|| {
            format!(
                "scheduledAt {} of {:?} is in the past: the API publishes it at once",
                crate::post::format_timestamp(&at),
                self.business_key
            )
        })
    }

    /// Checks everything the API would reject, so that no request is made for a bad post.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_business_key(&self.business_key)?;
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
            (PostStatus::Publish, Some(_)) => {
                return Err(ValidationError::new(
                    "scheduledAt",
                    "is given with status \"publish\", which publishes at once: leave status out (or make it \
                     \"scheduled\") to publish at that time, or drop scheduledAt to publish now",
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
