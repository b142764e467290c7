//! The outbox enqueue for the JVM (and Swift): the statement (`?` placeholders, for JDBC) and
//! its values, made in Rust; `com.postato.Outbox` runs it on the application's
//! `java.sql.Connection`, in its transaction.

use postato_bindings::Placeholders;

use crate::errors::PostatoError;
use crate::types::PostInput;

/// One enqueue: `sql` (`SELECT postato_enqueue(?, ?, ?, ?)`, answering `enqueued` or
/// `already_enqueued`) with its four values in order.
#[derive(uniffi::Record)]
pub struct OutboxStatement {
    pub sql: String,
    pub business_key: String,
    pub fingerprint: String,
    pub payload: String,
    /// Not sent before (ms since the Unix epoch; 0: at once).
    pub not_before_ms: i64,
}

/// The enqueue of `post`, sent no earlier than `not_before_ms`; an invalid post throws, before
/// the database sees anything.
#[uniffi::export(default(not_before_ms = None))]
pub fn outbox_statement(post: PostInput, not_before_ms: Option<u64>) -> Result<OutboxStatement, PostatoError> {
    let post = post.to_post()?;
    let s = postato_bindings::outbox_statement(&post, not_before_ms.map(|ms| ms as f64), Placeholders::Question)?;
    Ok(OutboxStatement {
        sql: s.sql,
        business_key: s.business_key,
        fingerprint: s.fingerprint,
        payload: s.payload,
        not_before_ms: s.not_before_ms,
    })
}

/// Throws postato's error for a driver's error about an enqueue, read by its SQLSTATE (the
/// message, which names the stored fingerprint, may be given as `detail`); returns when it is
/// not one of those.
#[uniffi::export]
pub fn outbox_check_error(
    sqlstate: Option<String>,
    detail: Option<String>,
    business_key: String,
    fingerprint: String,
) -> Result<(), PostatoError> {
    match postato_bindings::outbox_error(sqlstate.as_deref(), detail.as_deref(), &business_key, &fingerprint) {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}
