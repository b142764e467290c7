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
    pub fn redact(&self, text: &str) -> Option<String> {
        let key = self.0.as_str();
        (!key.is_empty() && text.contains(key)).then(|| text.replace(key, REDACTED))
    }

    /// [`ApiKey::redact`] over bytes that may not be UTF-8 (a response body, kept for error
    /// text, where it is read as lossy UTF-8 anyway).
    pub fn redact_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        self.redact(&String::from_utf8_lossy(bytes)).map(String::into_bytes)
    }
}

/// What a secret is replaced with wherever it would show.
pub const REDACTED: &str = "<redacted>";

/// `url` with any credentials (`user:password@`) replaced by `<redacted>@`, for messages that
/// echo a URL the user gave, whether or not it parses.
///
/// A URL that does not parse has no reliable end to its credentials (`https://me:pa/ss@host`),
/// so everything up to its last `@` goes: a message may lose some of a path, never a password.
///
/// ```
/// use postato_core::without_credentials;
/// assert_eq!(without_credentials("https://me:pa ss@host/x"), "https://<redacted>@host/x");
/// assert_eq!(without_credentials("https://me:pa/ss@host"), "https://<redacted>@host");
/// assert_eq!(without_credentials("https://host/x"), "https://host/x");
/// ```
pub fn without_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    match url[scheme_end..].rfind('@') {
        Some(at) => format!("{}{REDACTED}{}", &url[..scheme_end], &url[scheme_end + at..]),
        None => url.to_owned(),
    }
}
