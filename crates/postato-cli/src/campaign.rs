//! Campaign files: one post per line (the wire format plus `businessKey`), read as a stream so
//! memory does not grow with the file. No line is trusted: one longer than the largest post
//! the API accepts, one that is not UTF-8 or starts with a byte-order mark, and one that is
//! not a post are each reported with their number (to be dead-lettered), and reading goes on.

use postato::postato_core::bounds::{self, MAX_POST_BYTES};
use postato::{Post, ValidationError};
use std::io::{self, BufRead, Read};
use std::sync::Arc;

/// In a source that may never end (stdin, a device such as `/dev/zero`), a line running on
/// without an end for this long stops reading with an error instead of skipping for ever. In
/// a regular file, which ends, an over-long line is skipped however long it is.
const MAX_SKIPPED_BYTES: u64 = 1 << 30;

/// Where a campaign comes from, which decides how long an unending line may be skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A regular file: it ends, so any over-long line is skipped to its end.
    File,
    /// Stdin, a pipe or a device: it may never end.
    Stream,
}

/// One non-blank line of a campaign.
#[derive(Debug, Clone)]
pub struct CampaignLine {
    /// The 1-based line number.
    pub line: u64,
    /// The campaign it comes from ([`campaign_name`]), which keys its unreadable lines.
    pub campaign: Arc<str>,
    /// The post, or why the line is not one.
    pub post: Result<Post, UnreadableLine>,
    /// Send even when an earlier send's outcome is unknown (`dlq retry --force`, for the
    /// `outcome_unknown` letters a person checked).
    pub force: bool,
}

/// A line that is not a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableLine {
    /// The line's `businessKey` if it has one, else its campaign and line ([`line_key`]).
    pub business_key: String,
    /// What is wrong, as [`what_is_wrong`] says it.
    pub reason: String,
    /// The line's text (cut at 4 KiB), kept with its dead letter.
    pub text: String,
}

/// Marks the keys of campaign lines that have no business key to be dead-lettered under:
/// U+FDD0, a Unicode noncharacter, which no business key may hold (the core refuses it), so
/// no post's key reaches these.
const LINE_KEY_MARK: char = '\u{FDD0}';

/// The key under which a line without a usable business key is dead-lettered: its campaign
/// and line number, out of every business key's reach, so that a post keyed `line:1` and two
/// campaigns sharing a store never overwrite each other's dead letters. Shown as `line:N`
/// ([`line_of_key`]).
pub fn line_key(campaign: &str, line: u64) -> String {
    format!("{LINE_KEY_MARK}{campaign}{LINE_KEY_MARK}line:{line}")
}

/// The campaign and line of a key made by [`line_key`]; none for a business key.
pub fn line_of_key(key: &str) -> Option<(&str, u64)> {
    let (campaign, line) = key.strip_prefix(LINE_KEY_MARK)?.rsplit_once(LINE_KEY_MARK)?;
    Some((campaign, line.strip_prefix("line:")?.parse().ok()?))
}

/// A dead letter's key as people and scripts read it: `line:N` for a line without a business
/// key (its campaign said beside it, [`line_of_key`]), else the business key.
pub fn shown_key(key: &str) -> std::borrow::Cow<'_, str> {
    match line_of_key(key) {
        Some((_, line)) => format!("line:{line}").into(),
        None => key.into(),
    }
}

/// The name that keys a campaign file's unreadable lines: its full path, so that the same
/// file reached by another relative path or from another directory is the same campaign. A
/// campaign read from stdin, a pipe or a device is named with the time it was read (`stdin
/// read at 2026-12-06T13:50:00Z`): nothing says two such runs are the same campaign, so
/// neither replaces the other's dead letters.
pub fn campaign_name(path: &str) -> Arc<str> {
    let regular = path != "-" && std::fs::metadata(path).is_ok_and(|m| m.is_file());
    if !regular {
        let source = if path == "-" { "stdin" } else { path };
        let now = postato::Timestamp::from_system_time(std::time::SystemTime::now()).to_rfc3339();
        return Arc::from(format!("{source} read at {now}"));
    }
    let full = std::fs::canonicalize(path).map(|p| p.to_string_lossy().into_owned());
    Arc::from(full.unwrap_or_else(|_| path.to_owned()))
}

/// What is wrong with a post, said once: `field: what is wrong and what to do`. The kind
/// (`invalid_input`) and the line number are kept beside the message, not repeated in it.
pub fn what_is_wrong(error: &ValidationError) -> String {
    format!("{}: {}", error.field, error.message)
}

/// The first line of each business key wins: a later line with the same key (whatever its
/// content) is turned into a dead letter naming the first, before anything is sent, so which
/// content is published never depends on timing.
///
/// Keys are remembered as 64-bit hashes with their first line and a hash of its post (16
/// bytes a key, about 18 MiB at a million posts), in shards that are allocated full-size and
/// never grow, so memory rises by a shard at a time instead of doubling a table (which holds
/// the old and the new array at once). Two different keys sharing a hash (odds about 1 in 30
/// million for a million-post campaign) would dead-letter the second as a duplicate: recorded
/// and explained, never lost silently.
#[derive(Default)]
pub struct FirstLineWins {
    /// A key's hash → its first line and a hash of that line's post; each shard holds at most
    /// `SHARD_KEYS`.
    shards: Vec<std::collections::HashMap<u64, (u32, u32)>>,
}

/// Keys per shard: 7/8 of 65,536 buckets, the most a table of that size holds without growing.
const SHARD_KEYS: usize = 57_344;

fn hash_of(value: &impl std::hash::Hash) -> u64 {
    use std::hash::Hasher;
    let mut hasher = std::hash::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

impl FirstLineWins {
    /// `item`, or a dead letter if an earlier line had its business key with other content. Only
    /// posts count (a line that is not one is dead-lettered on its own); a repeat of the same
    /// post goes on, to be answered from the store as already published (if two different
    /// posts shared a content hash, the Publisher's payload guard still refuses the second).
    pub fn check(&mut self, item: CampaignLine) -> CampaignLine {
        let Ok(post) = &item.post else { return item };
        if postato::check_business_key(&post.business_key).is_err() {
            return item;
        }
        let line = u32::try_from(item.line).unwrap_or(u32::MAX);
        let content = hash_of(&post.wire_body()) as u32;
        let key = hash_of(&post.business_key);
        let (first, first_content) = match self.shards.iter().find_map(|shard| shard.get(&key)) {
            Some(first) => *first,
            None => {
                if !matches!(self.shards.last(), Some(shard) if shard.len() < SHARD_KEYS) {
                    self.shards.push(std::collections::HashMap::with_capacity(SHARD_KEYS));
                }
                if let Some(shard) = self.shards.last_mut() {
                    shard.insert(key, (line, content));
                }
                return item;
            }
        };
        if first == line || first_content == content {
            return item;
        }
        let reason = format!(
            "businessKey: {:?} is also the key of line {first}, which comes first and is the one published: give this \
             post a key of its own, or remove the line",
            post.business_key
        );
        let text = excerpt(&serde_json::to_string(post).unwrap_or_default());
        let business_key = line_key(&item.campaign, item.line);
        CampaignLine { post: Err(UnreadableLine { business_key, reason, text }), ..item }
    }
}

/// The first 4 KiB of a line, kept with its dead letter.
fn excerpt(text: &str) -> String {
    let mut cut = text.len().min(4096);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

/// Parses line `line` of `campaign`.
pub fn parse_line(campaign: &str, line: u64, text: &str) -> Result<Post, UnreadableLine> {
    Post::from_json(text).map_err(|e| {
        let business_key = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("businessKey").and_then(|k| k.as_str()).map(str::to_owned))
            // A key no post may have (blank, or in the namespace of line keys) keys nothing.
            .filter(|k| postato::check_business_key(k).is_ok())
            .unwrap_or_else(|| line_key(campaign, line));
        // A line is one line of JSON: the parser's "at line 1 column N" would be a second,
        // different line number beside the campaign's.
        let reason = what_is_wrong(&e).replace(" at line 1 column ", " at column ");
        UnreadableLine { business_key, reason, text: excerpt(text) }
    })
}

/// A line's bytes as text: refused when not UTF-8 or when it starts with a byte-order mark
/// (an editor's "UTF-8 with BOM", which JSON does not allow).
pub fn line_text(bytes: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "post: is not UTF-8 text (byte {} at column {} is not): save the campaign as UTF-8",
            bytes.get(e.valid_up_to()).map_or("?".to_owned(), |b| format!("0x{b:02x}")),
            e.valid_up_to() + 1
        )
    })?;
    if text.starts_with('\u{feff}') {
        return Err("post: starts with a byte-order mark (U+FEFF, \"UTF-8 with BOM\"): save the campaign as UTF-8 \
                    without a BOM"
            .to_owned());
    }
    Ok(text)
}

/// Reads at most the largest post the API accepts from `source` (a `--file` post file): a longer
/// one is refused without reading further.
pub fn read_post_file(source: impl Read) -> io::Result<Result<Vec<u8>, String>> {
    let mut bytes = Vec::new();
    source.take(MAX_POST_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > MAX_POST_BYTES {
        return Ok(Err(too_long()));
    }
    Ok(Ok(bytes))
}

fn too_long() -> String {
    format!(
        "post: is longer than {}, the largest post the API accepts: shorten the content, or check that each post \
         is on a line of its own",
        bounds::human_bytes(MAX_POST_BYTES as u64)
    )
}

/// Reads `campaign` ([`campaign_name`]), line by line, holding at most one line (of at most
/// the largest post the API accepts) in memory.
pub fn read(
    reader: impl BufRead,
    source: Source,
    campaign: Arc<str>,
) -> impl Iterator<Item = io::Result<CampaignLine>> {
    CampaignReader { reader, source, campaign, line: 0, bytes: Vec::new(), done: false, unfinished: false }
}

struct CampaignReader<R> {
    reader: R,
    source: Source,
    campaign: Arc<str>,
    line: u64,
    bytes: Vec<u8>,
    done: bool,
    /// The last line was reported too long before its end was read: skip to it first.
    unfinished: bool,
}

impl<R: BufRead> CampaignReader<R> {
    /// Discards the rest of an over-long line (from a stream, up to [`MAX_SKIPPED_BYTES`]).
    fn skip_rest_of_line(&mut self) -> io::Result<()> {
        let mut skipped = 0u64;
        loop {
            let buffer = self.reader.fill_buf()?;
            if buffer.is_empty() {
                return Ok(());
            }
            if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                self.reader.consume(end + 1);
                return Ok(());
            }
            let n = buffer.len();
            self.reader.consume(n);
            skipped += n as u64;
            if self.source == Source::Stream && skipped > MAX_SKIPPED_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "line {} runs on for more than {} without ending: this is not a campaign (JSON Lines) file",
                        self.line,
                        bounds::human_bytes(MAX_SKIPPED_BYTES)
                    ),
                ));
            }
        }
    }

    fn unreadable(&self, reason: String, text: String) -> CampaignLine {
        let post = Err(UnreadableLine { business_key: line_key(&self.campaign, self.line), reason, text });
        CampaignLine { line: self.line, campaign: Arc::clone(&self.campaign), post, force: false }
    }
}

impl<R: BufRead> Iterator for CampaignReader<R> {
    type Item = io::Result<CampaignLine>;

    fn next(&mut self) -> Option<Self::Item> {
        if std::mem::take(&mut self.unfinished) {
            if let Err(e) = self.skip_rest_of_line() {
                self.done = true;
                return Some(Err(e));
            }
        }
        while !self.done {
            self.bytes.clear();
            let read = (&mut self.reader).take(MAX_POST_BYTES as u64 + 2).read_until(b'\n', &mut self.bytes);
            match read {
                Ok(0) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(_) => {
                    self.line += 1;
                    let ended = self.bytes.last() == Some(&b'\n');
                    if ended {
                        self.bytes.pop();
                    }
                    if self.bytes.last() == Some(&b'\r') {
                        self.bytes.pop();
                    }
                    if self.bytes.len() > MAX_POST_BYTES {
                        // Reported now, its rest skipped on the next call: even a line that
                        // never ends (`/dev/zero`) is dead-lettered before reading stops.
                        self.unfinished = !ended;
                        let text = excerpt(&String::from_utf8_lossy(&self.bytes[..4096]));
                        return Some(Ok(self.unreadable(too_long(), text)));
                    }
                    match line_text(&self.bytes) {
                        Err(reason) => {
                            let text = excerpt(&String::from_utf8_lossy(&self.bytes));
                            return Some(Ok(self.unreadable(reason, text)));
                        }
                        Ok(text) if text.trim().is_empty() => {}
                        Ok(text) => {
                            let post = parse_line(&self.campaign, self.line, text);
                            return Some(Ok(CampaignLine {
                                line: self.line,
                                campaign: Arc::clone(&self.campaign),
                                post,
                                force: false,
                            }));
                        }
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_or_say_why_with_their_number_and_key() {
        let text = "\n{\"businessKey\":\"a\",\"platform\":\"x\",\"accountId\":\"1\",\"status\":\"publish\",\"postType\":\"post\",\"content\":\"hi\"}\n{\"businessKey\":\"b\",\"status\":\"now\"}\nnot json\n";
        let lines: Vec<CampaignLine> =
            read(text.as_bytes(), Source::File, Arc::from("c.jsonl")).map(Result::unwrap).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].line, 2);
        assert_eq!(lines[0].post.as_ref().unwrap().business_key, "a");
        let bad = lines[1].post.as_ref().unwrap_err();
        assert_eq!((bad.business_key.as_str(), lines[1].line), ("b", 3));
        assert!(bad.reason.starts_with("status: unknown status \"now\""), "{}", bad.reason);
        let unreadable = lines[2].post.as_ref().unwrap_err();
        assert_eq!(line_of_key(&unreadable.business_key), Some(("c.jsonl", 4)));
        assert!(unreadable.reason.starts_with("post: not valid JSON: "), "{}", unreadable.reason);
        assert!(!unreadable.reason.contains("line"), "one line number, kept beside: {}", unreadable.reason);
    }

    fn line_of(len: usize) -> Vec<u8> {
        let mut line = br#"{"businessKey":"k","platform":"x","accountId":"a","postType":"p","content":""#.to_vec();
        line.resize(len - 2, b'x');
        line.extend(br#""}"#);
        line
    }

    fn reasons(bytes: &[u8], source: Source) -> Vec<Result<String, String>> {
        read(bytes, source, Arc::from("c.jsonl"))
            .map(|item| match item {
                Ok(line) => Ok(match line.post {
                    Ok(post) => format!("{}: post {}", line.line, post.business_key),
                    Err(e) => format!("{}: {}", line.line, e.reason.split(':').nth(1).unwrap_or("").trim()),
                }),
                Err(e) => Err(e.to_string()),
            })
            .collect()
    }

    #[test]
    fn lines_up_to_the_largest_post_are_read_and_longer_ones_reported_with_the_rest_going_on() {
        let ok = |n: usize| Ok(format!("{n}: post k"));
        let too_long = |n: usize| Ok(format!("{n}: is longer than 1 MiB, the largest post the API accepts"));
        for (ending, name) in [(&b"\n"[..], "LF"), (&b"\r\n"[..], "CRLF")] {
            let mut bytes = line_of(MAX_POST_BYTES);
            bytes.extend(ending);
            bytes.extend(line_of(MAX_POST_BYTES + 1));
            bytes.extend(ending);
            bytes.extend(line_of(3 * MAX_POST_BYTES));
            bytes.extend(ending);
            bytes.extend(line_of(100));
            assert_eq!(
                reasons(&bytes, Source::File),
                vec![ok(1), too_long(2), too_long(3), ok(4)],
                "{name}: exactly 1 MiB is read, one byte more is not, and the line after each is"
            );
        }
        // An over-long last line without an end.
        let mut bytes = line_of(100);
        bytes.extend(b"\n");
        bytes.extend(vec![b'x'; 2 * MAX_POST_BYTES]);
        assert_eq!(reasons(&bytes, Source::File), vec![ok(1), too_long(2)]);
    }

    #[test]
    fn an_endless_stream_stops_after_its_over_long_line_is_reported() {
        let endless = std::io::BufReader::new(std::io::repeat(b'0'));
        let mut lines = read(endless, Source::Stream, Arc::from("stdin"));
        assert_eq!(lines.next().unwrap().unwrap().line, 1, "the line is reported before the skip");
        let error = lines.next().unwrap().unwrap_err();
        assert!(error.to_string().contains("runs on for more than 1 GiB"), "{error}");
        assert!(lines.next().is_none());
    }

    #[test]
    fn non_utf8_and_bom_lines_are_reported_and_reading_goes_on() {
        let mut bytes = b"\xef\xbb\xbf".to_vec();
        bytes.extend(line_of(100));
        bytes.extend(b"\n\xff\xfe\n");
        bytes.extend(line_of(100));
        let got = reasons(&bytes, Source::File);
        assert!(got[0].as_ref().unwrap().starts_with("1: starts with a byte-order mark"), "{got:?}");
        assert!(got[1].as_ref().unwrap().starts_with("2: is not UTF-8 text (byte 0xff at column 1"), "{got:?}");
        assert_eq!(got[2], Ok("3: post k".to_owned()));
    }

    #[test]
    fn the_first_line_of_a_key_wins_and_a_repeat_of_the_same_post_goes_on() {
        let line = |key: &str, content: &str| CampaignLine {
            line: 0,
            campaign: Arc::from("c.jsonl"),
            post: Post::from_json(&format!(
                r#"{{"businessKey":"{key}","platform":"x","accountId":"a","postType":"p","content":"{content}"}}"#
            ))
            .map_err(|_| unreachable!()),
            force: false,
        };
        let mut first_line_wins = FirstLineWins::default();
        let numbered = |n: u64, mut l: CampaignLine| {
            l.line = n;
            l
        };
        assert!(first_line_wins.check(numbered(1, line("a", "one"))).post.is_ok());
        assert!(first_line_wins.check(numbered(2, line("a", "one"))).post.is_ok(), "the same post again");
        let other = first_line_wins.check(numbered(3, line("a", "two")));
        let letter = other.post.unwrap_err();
        assert_eq!(line_of_key(&letter.business_key), Some(("c.jsonl", 3)));
        assert!(letter.reason.contains("line 1, which comes first"), "{}", letter.reason);
        assert!(first_line_wins.check(numbered(4, line("b", "two"))).post.is_ok());
        // A blank key is the validation's to refuse, not a duplicate.
        assert!(first_line_wins.check(numbered(5, line(" ", "x"))).post.is_ok());
        assert!(first_line_wins.check(numbered(6, line(" ", "y"))).post.is_ok());
    }

    #[test]
    fn keys_in_every_shard_are_remembered() {
        let line = |n: u64, key: &str, content: &str| CampaignLine {
            line: n,
            campaign: Arc::from("c.jsonl"),
            post: Post::from_json(&format!(
                r#"{{"businessKey":"{key}","platform":"x","accountId":"a","postType":"p","content":"{content}"}}"#
            ))
            .map_err(|_| unreachable!()),
            force: false,
        };
        let mut first_line_wins = FirstLineWins::default();
        let keys = SHARD_KEYS as u64 * 2 + 10;
        for n in 1..=keys {
            assert!(first_line_wins.check(line(n, &format!("k{n}"), "one")).post.is_ok());
        }
        assert_eq!(first_line_wins.shards.len(), 3, "full shards are never grown");
        for n in [1, SHARD_KEYS as u64 + 5, keys] {
            let letter = first_line_wins.check(line(keys + n, &format!("k{n}"), "two")).post.unwrap_err();
            assert!(letter.reason.contains(&format!("line {n}, which comes first")), "{}", letter.reason);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_line_parses_or_says_why(text in "\\PC{0,200}") {
            if let Err(unreadable) = parse_line("c.jsonl", 7, &text) {
                proptest::prop_assert!(!unreadable.business_key.is_empty());
                proptest::prop_assert!(!unreadable.reason.is_empty());
                proptest::prop_assert!(!unreadable.reason.starts_with("invalid post"), "{}", unreadable.reason);
                proptest::prop_assert!(unreadable.text.len() <= 4096);
            }
        }

        #[test]
        fn any_bytes_as_a_line_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_line("c.jsonl", 1, &String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn valid_lines_keep_their_fields(key in "[a-z0-9-]{1,20}", content in "[a-zA-Z0-9 ]{1,40}") {
            let line = serde_json::json!({"businessKey": key, "platform": "x", "accountId": "a", "status": "publish", "postType": "post", "content": content}).to_string();
            let post = parse_line("c.jsonl", 1, &line).unwrap();
            proptest::prop_assert_eq!(post.business_key, key);
            proptest::prop_assert_eq!(post.content, postato::Content::Text(content));
        }
    }
}
