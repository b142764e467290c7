//! The outbox enqueue as every binding runs it on its language's own database connection: the
//! statement in the driver's placeholders and its four values, made in Rust (the post
//! validated and keyed as a publish does it), so that every language writes the same row.

pub use postato::postato_core::outbox_error;
use postato::postato_core::OutboxEntry;
use postato::{Post, PublishError, Timestamp};
pub use postato_postgres::outbox::{Placeholders, PARAMETERS};

/// The statement and values of one enqueue.
pub struct OutboxStatement {
    /// `SELECT postato_enqueue(…)`, in the driver's placeholders; it answers `enqueued` or
    /// `already_enqueued`.
    pub sql: String,
    pub business_key: String,
    pub fingerprint: String,
    pub payload: String,
    /// Not sent before (ms since the Unix epoch; 0: at once).
    pub not_before_ms: i64,
}

/// The enqueue of `post`, sent no earlier than `not_before_ms` (a language's number of ms since
/// the Unix epoch; absent: at once). An invalid post, or a time that is not one, is refused
/// here, before the application's transaction sees anything.
pub fn outbox_statement(
    post: &Post,
    not_before_ms: Option<f64>,
    placeholders: Placeholders,
) -> Result<OutboxStatement, PublishError> {
    let entry = OutboxEntry::of(post, not_before(not_before_ms)?)?;
    Ok(OutboxStatement {
        sql: postato_postgres::outbox::enqueue_statement(placeholders),
        business_key: entry.business_key,
        fingerprint: entry.fingerprint,
        payload: entry.payload,
        not_before_ms: i64::try_from(entry.not_before_ms).unwrap_or(i64::MAX),
    })
}

/// A language's `notBefore` (ms since the Unix epoch; absent: at once) as a time: a number that
/// is not one is refused.
pub(crate) fn not_before(not_before_ms: Option<f64>) -> Result<Option<Timestamp>, PublishError> {
    match not_before_ms {
        None => Ok(None),
        Some(ms) if (0.0..9.0e15).contains(&ms) => Ok(Some(Timestamp::from_millis(ms as u64))),
        Some(ms) => Err(PublishError::InvalidInput(postato::ValidationError::new(
            "notBefore",
            format!("{ms} is not a time: give a date and time (or ms since the Unix epoch)"),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postato::PostStatus;

    #[test]
    fn the_statement_carries_the_entry_and_refuses_what_a_publish_refuses() {
        let post = Post::new("k", "x", "acc_1", PostStatus::Publish, "post", "hi");
        let statement = outbox_statement(&post, Some(5.0), Placeholders::Format).unwrap();
        assert_eq!(statement.sql, "SELECT postato_enqueue(%s, %s, %s, %s)");
        assert_eq!((statement.business_key.as_str(), statement.not_before_ms), ("k", 5));
        assert_eq!(statement.fingerprint, OutboxEntry::of(&post, None).unwrap().fingerprint);
        for bad in [f64::NAN, -1.0, 1e300] {
            assert!(outbox_statement(&post, Some(bad), Placeholders::Format).is_err(), "{bad}");
        }
        let blank = Post::new("k", "x", "acc_1", PostStatus::Publish, "post", "");
        assert!(outbox_statement(&blank, None, Placeholders::Format).is_err());
    }
}
