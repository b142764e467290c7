//! Keys: the idempotency key (compatible with the reference), business keys composed from
//! parts without ambiguity, and the payload fingerprint stores use to notice edited posts.

use sha2::{Digest, Sha256};

/// The idempotency key for a business key: lowercase hex SHA-256 of its UTF-8 bytes, first
/// 32 characters, byte-compatible with the reference implementation.
///
/// ```
/// assert_eq!(postato_core::idempotency_key("draft-123"), "f62695618dbb558b0d9768a8003ec862");
/// ```
pub fn idempotency_key(business_key: &str) -> String {
    let mut hex = format!("{:x}", Sha256::digest(business_key.as_bytes()));
    hex.truncate(32);
    hex
}

/// The idempotency key of a business key a user typed: an empty one is refused, since no
/// post can be published under it. (A blank one such as `" "` still has its key, as the
/// shared test vector pins; `publish` refuses it, see [`check_business_key`](crate::check_business_key).)
pub fn checked_idempotency_key(business_key: &str) -> Result<String, crate::ValidationError> {
    if business_key.is_empty() {
        return Err(crate::ValidationError::new(
            "businessKey",
            "is empty: give the business key whose idempotency key you want",
        ));
    }
    Ok(idempotency_key(business_key))
}

/// Composes a business key from parts such that different part lists never give the same
/// key: each part is written as its length in bytes, `:`, then the part. So `["ab", "c"]`
/// gives `2:ab1:c` and `["a", "bc"]` gives `1:a2:bc`.
///
/// ```
/// use postato_core::compose_business_key;
/// assert_ne!(compose_business_key(&["ab", "c"]), compose_business_key(&["a", "bc"]));
/// ```
pub fn compose_business_key<S: AsRef<str>>(parts: &[S]) -> String {
    let mut key = String::new();
    for part in parts {
        let part = part.as_ref();
        key.push_str(&part.len().to_string());
        key.push(':');
        key.push_str(part);
    }
    key
}

/// A stable fingerprint of a request body: lowercase hex SHA-256 of the bytes. Equal bodies
/// give equal fingerprints; stores compare them to catch a business key reused for edited
/// content.
pub fn payload_fingerprint(body: &[u8]) -> String {
    format!("{:x}", Sha256::digest(body))
}

/// The result-store guard: a business key already recorded with another payload fingerprint
/// is `BusinessKeyReused`, never a silently wrong old result (the reference's warning about
/// edited posts, enforced).
pub fn check_business_key_reuse(
    business_key: &str,
    stored_fingerprint: &str,
    new_fingerprint: &str,
) -> Result<(), crate::PublishError> {
    if stored_fingerprint == new_fingerprint {
        return Ok(());
    }
    Err(crate::PublishError::BusinessKeyReused {
        business_key: business_key.to_owned(),
        stored_fingerprint: stored_fingerprint.to_owned(),
        new_fingerprint: new_fingerprint.to_owned(),
    })
}
