//! The post model, matching the wire format of the Postato API (camelCase JSON).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

use crate::validate::ValidationError;

/// One logical post, identified by the caller's stable business key.
///
/// Deserialises from the wire format plus `businessKey` (a campaign line); unknown fields are
/// rejected so that a misspelt field is an error rather than silently dropped.
/// Built with [`Post::builder`] (or [`Post::new`]); it may gain optional fields in a minor
/// release, so it cannot be written as a struct literal outside this crate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Post {
    /// The caller's stable identifier for this logical post; the idempotency key derives from it.
    pub business_key: String,
    /// The network to publish on, for example `x` or `linkedin`.
    pub platform: String,
    /// The connected account on that network.
    pub account_id: String,
    /// Publish now, schedule, or save as a draft.
    pub status: PostStatus,
    /// The kind of post on that network, for example `post` or `thread`.
    pub post_type: String,
    /// The text, or a thread of items.
    pub content: Content,
    /// When to publish; required when `status` is `scheduled`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso_millis")]
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// What the API is asked to do with the post.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    /// Publish now.
    Publish,
    /// Publish at `scheduledAt`.
    Scheduled,
    /// Save without publishing.
    Draft,
}

impl PostStatus {
    /// The status a post means when its caller gives none: `scheduled` when it has a schedule
    /// time, else `publish`. (An explicit `publish` with a schedule time is refused.)
    pub fn implied(scheduled: bool) -> PostStatus {
        if scheduled {
            PostStatus::Scheduled
        } else {
            PostStatus::Publish
        }
    }

    /// The wire name: `publish`, `scheduled` or `draft`.
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Publish => "publish",
            PostStatus::Scheduled => "scheduled",
            PostStatus::Draft => "draft",
        }
    }
}

impl fmt::Display for PostStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PostStatus {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "publish" => Ok(PostStatus::Publish),
            "scheduled" => Ok(PostStatus::Scheduled),
            "draft" => Ok(PostStatus::Draft),
            other => Err(ValidationError::new(
                "status",
                format!("unknown status {other:?}: use \"publish\", \"scheduled\" or \"draft\""),
            )),
        }
    }
}

/// A post's content: one text, or a thread of items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// A single text.
    Text(String),
    /// A thread: each item is one post of the thread.
    Thread(Vec<ThreadItem>),
}

impl Content {
    /// The bytes of its text and media ids: what sizes its JSON body, escapes aside.
    fn text_bytes(&self) -> usize {
        match self {
            Content::Text(text) => text.len(),
            Content::Thread(items) => items
                .iter()
                .map(|item| {
                    let media = item.media.iter().flatten().map(|m| m.id.len() + 10).sum::<usize>();
                    item.text.len() + media + 24
                })
                .sum(),
        }
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Content::Text(text.to_owned())
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Content::Text(text)
    }
}

/// One item of a thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadItem {
    /// The item's text.
    pub text: String,
    /// Media already uploaded to Postato, by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Vec<Media>>,
}

/// A reference to uploaded media.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// The media id.
    pub id: String,
}

impl Post {
    /// A post with the given fields and no schedule.
    pub fn new(
        business_key: impl Into<String>,
        platform: impl Into<String>,
        account_id: impl Into<String>,
        status: PostStatus,
        post_type: impl Into<String>,
        content: impl Into<Content>,
    ) -> Self {
        Post {
            business_key: business_key.into(),
            platform: platform.into(),
            account_id: account_id.into(),
            status,
            post_type: post_type.into(),
            content: content.into(),
            scheduled_at: None,
        }
    }

    /// The same post, scheduled at `at`.
    pub fn scheduled_at(mut self, at: DateTime<Utc>) -> Self {
        self.scheduled_at = Some(at);
        self
    }

    /// The exact JSON body the API receives, as the reference builds it: the post without its
    /// business key, fields in the reference's order, as serde_json writes them.
    pub fn wire_body(&self) -> Vec<u8> {
        // Sized once for the fields and their JSON around them (escapes aside): a large
        // content is copied once, not again at every doubling of the buffer.
        let fields = self.platform.len() + self.account_id.len() + self.post_type.len() + self.content.text_bytes();
        let mut body = Vec::with_capacity(fields + 160);
        body.extend_from_slice(b"{\"platform\":");
        write_json_string(&mut body, &self.platform);
        body.extend_from_slice(b",\"accountId\":");
        write_json_string(&mut body, &self.account_id);
        body.extend_from_slice(b",\"status\":");
        serde_json::to_writer(&mut body, &self.status).expect("a status always serialises");
        body.extend_from_slice(b",\"postType\":");
        write_json_string(&mut body, &self.post_type);
        body.extend_from_slice(b",\"content\":");
        match &self.content {
            Content::Text(text) => write_json_string(&mut body, text),
            thread => serde_json::to_writer(&mut body, thread).expect("a thread always serialises"),
        }
        if let Some(at) = &self.scheduled_at {
            body.extend_from_slice(b",\"scheduledAt\":");
            write_json_string(&mut body, &format_timestamp(at));
        }
        body.push(b'}');
        body
    }
}

/// `text` as a JSON string, byte for byte as serde_json writes it (a quote, a backslash and
/// each control character below U+0020 escaped, nothing else). The text is scanned 64 bytes at
/// a time, a scan the compiler vectorises: a chunk with nothing to escape is copied whole, so a
/// megabyte of content is one scan and one copy rather than serde_json's byte-by-byte loop, and
/// a newline costs only its own chunk. Only ASCII bytes are escaped, so a chunk that splits a
/// character copies its bytes unchanged.
fn write_json_string(body: &mut Vec<u8>, text: &str) {
    let needs_escape = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    body.push(b'"');
    for chunk in text.as_bytes().chunks(64) {
        if !chunk.iter().fold(false, |found, &b| found | needs_escape(b)) {
            body.extend_from_slice(chunk);
            continue;
        }
        let mut clean = 0;
        for (i, &b) in chunk.iter().enumerate() {
            if needs_escape(b) {
                body.extend_from_slice(&chunk[clean..i]);
                write_escape(body, b);
                clean = i + 1;
            }
        }
        body.extend_from_slice(&chunk[clean..]);
    }
    body.push(b'"');
}

/// serde_json's escape of `byte`, a quote, a backslash or a control character: the short
/// escapes JSON has, else `\u00xx` in lowercase hex.
fn write_escape(body: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short: &[u8] = match byte {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        0x08 => b"\\b",
        0x0c => b"\\f",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        _ => &[b'\\', b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]],
    };
    body.extend_from_slice(short);
}

/// The request body as a server reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OwnedWireBody {
    platform: String,
    account_id: String,
    status: PostStatus,
    post_type: String,
    content: Content,
    #[serde(default, with = "iso_millis")]
    scheduled_at: Option<DateTime<Utc>>,
}

impl Post {
    /// Reads a request body as a server does, validating it exactly as [`Post::validate`]
    /// does. `business_key` stands in for the key the body does not carry.
    pub fn from_wire_body(business_key: &str, body: &[u8]) -> Result<Post, ValidationError> {
        let wire: OwnedWireBody =
            serde_json::from_slice(body).map_err(|e| serde_error("the body is not a valid post", &e))?;
        let post = Post {
            business_key: business_key.to_owned(),
            platform: wire.platform,
            account_id: wire.account_id,
            status: wire.status,
            post_type: wire.post_type,
            content: wire.content,
            scheduled_at: wire.scheduled_at,
        };
        post.validate()?;
        Ok(post)
    }
}

/// A serde error as a validation error naming the field it is about, when it says.
/// The first key that appears twice in one object of `text` (valid JSON), at any depth: a
/// parser keeps one of the two silently, so a post that says `"content"` twice would publish
/// whichever it kept.
fn duplicate_key(text: &str) -> Option<String> {
    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use std::cell::RefCell;

    struct Finder<'a>(&'a RefCell<Option<String>>);

    impl<'de> DeserializeSeed<'de> for Finder<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Finder<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if self.0.borrow().is_none() && !seen.insert(key.clone()) {
                    *self.0.borrow_mut() = Some(key);
                }
                map.next_value_seed(Finder(self.0))?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Finder(self.0))?.is_some() {}
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }

    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let _: Result<(), serde_json::Error> = Finder(&found).deserialize(&mut deserializer);
    found.into_inner()
}

fn serde_error(what: &str, e: &serde_json::Error) -> ValidationError {
    let message = e.to_string();
    let named = message.split('`').nth(1);
    match named {
        Some(field) if message.starts_with("missing field") => {
            ValidationError::new(field, "is missing: every post has one")
        }
        Some(field) if message.starts_with("unknown field") => ValidationError::new(
            field,
            "is not a field of a post: use businessKey, platform, accountId, status, postType, content and scheduledAt",
        ),
        _ if message.contains("surrogate") || message.contains("hex escape") => ValidationError::new(
            "post",
            format!(
                "{what}: a string holds a lone UTF-16 surrogate (\\ud800-\\udfff) or a broken \\u escape, which is \
                 not text: remove it"
            ),
        ),
        _ => ValidationError::new("post", format!("{what}: {message}")),
    }
}

impl Post {
    /// Reads a post from JSON (a campaign line: the wire format plus `businessKey`). Errors
    /// name the field; an unknown status or an unreadable `scheduledAt` gets the core's own
    /// message. A missing (or null) `status` is [`PostStatus::implied`] by `scheduledAt`, and a
    /// missing (or null) `postType` is [`defaults::POST_TYPE`](crate::defaults::POST_TYPE).
    /// Call [`Post::validate`] for the rules.
    pub fn from_json(text: &str) -> Result<Post, ValidationError> {
        let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            let mut error = serde_error("not valid JSON", &e);
            if error.message.contains("surrogate") {
                if let Some(field) = field_before(text, e.column()) {
                    error.field = field;
                }
            }
            error
        })?;
        if let Some(key) = duplicate_key(text) {
            return Err(ValidationError::new(
                "post",
                format!("has the key {key:?} twice (JSON keeps one of them silently): give each field once"),
            ));
        }
        let Some(fields) = value.as_object_mut() else {
            return Err(ValidationError::new(
                "post",
                format!(
                    "is a JSON {}: give an object such as {{\"businessKey\": …, \"platform\": …}}",
                    json_type(&value)
                ),
            ));
        };
        let scheduled = !matches!(fields.get("scheduledAt"), None | Some(serde_json::Value::Null));
        match fields.get("status") {
            None | Some(serde_json::Value::Null) => {
                fields.insert("status".into(), PostStatus::implied(scheduled).as_str().into());
            }
            Some(serde_json::Value::String(status)) => {
                status.parse::<PostStatus>()?;
            }
            Some(other) => return Err(wrong_type("status", "\"publish\", \"scheduled\" or \"draft\"", other)),
        }
        if let Some(at) = fields.get("scheduledAt").and_then(|s| s.as_str()) {
            parse_timestamp(at)?;
        }
        if matches!(fields.get("postType"), None | Some(serde_json::Value::Null)) {
            fields.insert("postType".into(), crate::defaults::POST_TYPE.into());
        }
        check_types(fields)?;
        serde_json::from_value(value).map_err(|e| serde_error("not a valid post", &e))
    }
}

/// The field whose string value holds byte `column` (1-based) of a one-line JSON text: the
/// last `"name":` before it (`text` and `id` are inside `content`).
fn field_before(text: &str, column: usize) -> Option<String> {
    let prefix = text.as_bytes().get(..column.min(text.len()))?;
    let colon = prefix.windows(2).rposition(|w| w == b"\":")?;
    let start = prefix[..colon].iter().rposition(|b| *b == b'"')? + 1;
    let name = String::from_utf8_lossy(&prefix[start..colon]).into_owned();
    Some(if name == "text" || name == "id" { "content".to_owned() } else { name })
}

/// `string`, `number`, … as a message says a JSON value's type.
fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

fn wrong_type(field: &str, wanted: &str, got: &serde_json::Value) -> ValidationError {
    ValidationError::new(field, format!("must be {wanted}, got a JSON {}", json_type(got)))
}

/// Names the field of a value of the wrong type, where serde's own message would not (the
/// content is a string or a thread; a thread item has `text` and maybe `media`).
fn check_types(fields: &serde_json::Map<String, serde_json::Value>) -> Result<(), ValidationError> {
    use serde_json::Value;
    for field in ["businessKey", "platform", "accountId", "postType", "scheduledAt"] {
        match fields.get(field) {
            None | Some(Value::String(_)) => {}
            Some(Value::Null) if field == "scheduledAt" => {}
            Some(other) => return Err(wrong_type(field, "a string", other)),
        }
    }
    let thread_item = "a string, or a thread: a list of {\"text\": …, \"media\": [{\"id\": …}]}";
    match fields.get("content") {
        None | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Value::Object(item) = item else {
                    return Err(wrong_type(&format!("content[{i}]"), "an object with \"text\"", item));
                };
                match item.get("text") {
                    Some(Value::String(_)) => {}
                    None => {
                        return Err(ValidationError::new(
                            format!("content[{i}].text"),
                            "is missing: give the item's text",
                        ))
                    }
                    Some(other) => return Err(wrong_type(&format!("content[{i}].text"), "a string", other)),
                }
                if let Some(unknown) = item.keys().find(|k| *k != "text" && *k != "media") {
                    return Err(ValidationError::new(
                        format!("content[{i}].{unknown}"),
                        "is not a field of a thread item: use \"text\" and \"media\"",
                    ));
                }
                match item.get("media") {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(media)) => {
                        for (j, m) in media.iter().enumerate() {
                            let id = m.as_object().and_then(|m| m.get("id"));
                            if !matches!(id, Some(Value::String(_))) || m.as_object().is_some_and(|m| m.len() != 1) {
                                return Err(ValidationError::new(
                                    format!("content[{i}].media[{j}]"),
                                    "must be {\"id\": \"…\"}: the id of media uploaded to Postato",
                                ));
                            }
                        }
                    }
                    Some(other) => {
                        return Err(wrong_type(&format!("content[{i}].media"), "a list of {\"id\": …}", other))
                    }
                }
            }
            Ok(())
        }
        Some(other) => Err(wrong_type("content", thread_item, other)),
    }
}

/// Formats a time as JavaScript's `toISOString` does: UTC, milliseconds, `Z`.
pub fn format_timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 time with any offset (for example `2026-12-01T09:00:00+01:00`) into UTC.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, ValidationError> {
    DateTime::parse_from_rfc3339(text.trim()).map(|at| at.with_timezone(&Utc)).map_err(|e| {
        ValidationError::new(
            "scheduledAt",
            format!("{text:?} is not an RFC 3339 time ({e}): write it like 2026-12-01T09:00:00Z, with a time zone"),
        )
    })
}

mod iso_millis {
    use super::*;

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&format_timestamp(at)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| parse_timestamp(&t).map_err(serde::de::Error::custom)).transpose()
    }
}
