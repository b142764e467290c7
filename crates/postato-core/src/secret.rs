//! [`ApiKey`]: the bearer secret, which never shows in Debug or Display output.

use std::fmt;

/// A Postato API key. Its `Debug` and `Display` print `ApiKey(<redacted>)`, never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for building the `Authorization` header. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl ApiKey {
    /// `text` with every occurrence of the key replaced by `<redacted>`, or `None` when the
    /// key is not in it. For what servers send back: a server that echoes the request (its
    /// `Authorization` header in an error message, say) never puts the key in an error, a log
    /// line or a store.
    ///
    /// A key shorter than `SHORT_KEY` (8) bytes (a test's `"k"`) is redacted only where it stands
    /// as a whole token: found inside ordinary words it would mangle the text
    /// (`wor<redacted>spaces`) while hiding nothing a real key's length protects.
    pub fn redact(&self, text: &str) -> Option<String> {
        let key = self.0.as_str();
        if key.is_empty() || !text.contains(key) {
            return None;
        }
        if key.len() >= SHORT_KEY {
            return Some(text.replace(key, REDACTED));
        }
        let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
        let (mut redacted, mut copied) = (String::with_capacity(text.len()), 0);
        for (at, _) in text.match_indices(key) {
            let before = text[..at].chars().next_back();
            let after = text[at + key.len()..].chars().next();
            if before.is_some_and(word) || after.is_some_and(word) {
                continue;
            }
            redacted.push_str(&text[copied..at]);
            redacted.push_str(REDACTED);
            copied = at + key.len();
        }
        (copied > 0).then(|| redacted + &text[copied..])
    }

    /// [`ApiKey::redact`] over bytes that may not be UTF-8 (a response body, kept for error
    /// text, where it is read as lossy UTF-8 anyway).
    pub fn redact_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        self.redact(&String::from_utf8_lossy(bytes)).map(String::into_bytes)
    }
}

/// Keys at least this long are redacted wherever they appear; shorter ones only as whole tokens.
pub const SHORT_KEY: usize = 8;

/// What a secret is replaced with wherever it would show.
pub const REDACTED: &str = "<redacted>";

/// `url` with any credentials (`user:password@`) replaced by `<redacted>@`, for messages that
/// echo a URL the user gave, whether or not it parses.
///
/// A URL that does not parse has no reliable end to its credentials (`https://me:pa/ss@host`),
/// so everything up to its last `@` goes: a message may lose some of a path, never a password.
/// Without a `://` (`me:pw@proxy:3128`, `http//me:pw@proxy`), everything before the last `@`
/// goes.
///
/// ```
/// use postato_core::without_credentials;
/// assert_eq!(without_credentials("https://me:pa ss@host/x"), "https://<redacted>@host/x");
/// assert_eq!(without_credentials("https://me:pa/ss@host"), "https://<redacted>@host");
/// assert_eq!(without_credentials("https://host/x"), "https://host/x");
/// assert_eq!(without_credentials("me:pw@proxy:3128"), "<redacted>@proxy:3128");
/// assert_eq!(without_credentials("http//me:pw@proxy"), "<redacted>@proxy");
/// ```
pub fn without_credentials(url: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    match url[scheme_end..].rfind('@') {
        Some(at) => format!("{}{REDACTED}{}", &url[..scheme_end], &url[scheme_end + at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_redacted_wherever_it_appears_and_a_short_one_only_as_a_whole_token() {
        let long = ApiKey::new("sk_live_secret");
        assert_eq!(long.redact("Bearer sk_live_secret, xsk_live_secrety").unwrap(), "Bearer <redacted>, x<redacted>y");
        assert_eq!(long.redact("nothing here"), None);
        let short = ApiKey::new("k");
        assert_eq!(short.redact("/v1/workspaces/w/posts"), None, "never inside a word");
        assert_eq!(
            short.redact("k: Bearer k, \"k\" k").unwrap(),
            "<redacted>: Bearer <redacted>, \"<redacted>\" <redacted>"
        );
    }
}
