//! Campaign files: one post per line (the wire format plus `businessKey`), read as a stream so
//! memory does not grow with the file. A line that is not a post is reported with its number.

use postato::{Post, ValidationError};
use std::io::BufRead;

/// One non-blank line of a campaign.
#[derive(Debug, Clone)]
pub struct CampaignLine {
    /// The 1-based line number.
    pub line: u64,
    /// The post, or why the line is not one.
    pub post: Result<Post, UnreadableLine>,
}

/// A line that is not a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableLine {
    /// The line's `businessKey` if it has one, else `line:N` ([`line_key`]).
    pub business_key: String,
    /// What is wrong, as [`what_is_wrong`] says it.
    pub reason: String,
    /// The line's text (cut at 4 KiB), kept with its dead letter.
    pub text: String,
}

/// The key of a line without a business key: `line:N`.
pub fn line_key(line: u64) -> String {
    format!("line:{line}")
}

/// What is wrong with a post, said once: `field: what is wrong and what to do`. The kind
/// (`invalid_input`) and the line number are kept beside the message, not repeated in it.
pub fn what_is_wrong(error: &ValidationError) -> String {
    format!("{}: {}", error.field, error.message)
}

/// Parses one line.
pub fn parse_line(line: u64, text: &str) -> Result<Post, UnreadableLine> {
    Post::from_json(text).map_err(|e| {
        let business_key = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("businessKey").and_then(|k| k.as_str()).map(str::to_owned))
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| line_key(line));
        let mut text = text.to_owned();
        if text.len() > 4096 {
            let mut cut = 4096;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        // A line is one line of JSON: the parser's "at line 1 column N" would be a second,
        // different line number beside the campaign's.
        let reason = what_is_wrong(&e).replace(" at line 1 column ", " at column ");
        UnreadableLine { business_key, reason, text }
    })
}

/// Reads a campaign, line by line.
pub fn read(reader: impl BufRead) -> impl Iterator<Item = std::io::Result<CampaignLine>> {
    reader.lines().enumerate().filter_map(|(i, text)| {
        let line = i as u64 + 1;
        match text {
            Ok(text) if text.trim().is_empty() => None,
            Ok(text) => Some(Ok(CampaignLine { line, post: parse_line(line, &text) })),
            Err(e) => Some(Err(e)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_or_say_why_with_their_number_and_key() {
        let text = "\n{\"businessKey\":\"a\",\"platform\":\"x\",\"accountId\":\"1\",\"status\":\"publish\",\"postType\":\"post\",\"content\":\"hi\"}\n{\"businessKey\":\"b\",\"status\":\"now\"}\nnot json\n";
        let lines: Vec<CampaignLine> = read(text.as_bytes()).map(Result::unwrap).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].line, 2);
        assert_eq!(lines[0].post.as_ref().unwrap().business_key, "a");
        let bad = lines[1].post.as_ref().unwrap_err();
        assert_eq!((bad.business_key.as_str(), lines[1].line), ("b", 3));
        assert!(bad.reason.starts_with("status: unknown status \"now\""), "{}", bad.reason);
        let unreadable = lines[2].post.as_ref().unwrap_err();
        assert_eq!(unreadable.business_key, "line:4");
        assert!(unreadable.reason.starts_with("post: not valid JSON: "), "{}", unreadable.reason);
        assert!(!unreadable.reason.contains("line"), "one line number, kept beside: {}", unreadable.reason);
    }

    proptest::proptest! {
        #[test]
        fn any_line_parses_or_says_why(text in "\\PC{0,200}") {
            if let Err(unreadable) = parse_line(7, &text) {
                proptest::prop_assert!(!unreadable.business_key.is_empty());
                proptest::prop_assert!(!unreadable.reason.is_empty());
                proptest::prop_assert!(!unreadable.reason.starts_with("invalid post"), "{}", unreadable.reason);
                proptest::prop_assert!(unreadable.text.len() <= 4096);
            }
        }

        #[test]
        fn any_bytes_as_a_line_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_line(1, &String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn valid_lines_keep_their_fields(key in "[a-z0-9-]{1,20}", content in "[a-zA-Z0-9 ]{1,40}") {
            let line = serde_json::json!({"businessKey": key, "platform": "x", "accountId": "a", "status": "publish", "postType": "post", "content": content}).to_string();
            let post = parse_line(1, &line).unwrap();
            proptest::prop_assert_eq!(post.business_key, key);
            proptest::prop_assert_eq!(post.content, postato::Content::Text(content));
        }
    }
}
