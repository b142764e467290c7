//! Exit codes, so scripts can tell success, permanent failures and transient failures apart.

use postato::ErrorKind;

/// Everything was published (or already was).
pub const SUCCESS: u8 = 0;
/// Unexpected failure: a store that could not be opened (in every command), a campaign that
/// could not be read to its end, results the store could not record.
pub const FAILURE: u8 = 1;
/// Invalid input or usage (a flag, an empty `--store`, a post): nothing was sent.
pub const INVALID_INPUT: u8 = 2;
/// A permanent failure: fix the post before publishing again.
pub const PERMANENT: u8 = 3;
/// A transient failure: publishing again later with the same business key is safe.
pub const TRANSIENT: u8 = 4;
/// Deferred: nothing failed, but some posts wait for their rate limit to lift (until the
/// summary's `deferredUntil`); running the same command again after then publishes them, and
/// `postato batch --wait` waits for them.
pub const DEFERRED: u8 = 5;
/// The outcome is unknown: the post was sent and may exist (an answer that could not be read,
/// or a send whose outcome was never recorded, past the server's key retention). Look for it;
/// the error says whether publishing again with the same business key is safe.
pub const UNKNOWN_OUTCOME: u8 = 6;
/// Interrupted (Ctrl-C): what was in flight is retry-safe; run again to finish. SIGTERM and
/// SIGHUP stop a run the same way, with 143 and 129 ([`crate::signals::StopSignal`]).
pub const INTERRUPTED: u8 = 130;
/// Stdout's reader went away (`postato dlq list | head -1`): the command stopped quietly, as
/// SIGPIPE stops other Unix tools (128 + 13).
pub const READER_GONE: u8 = 141;

/// The exit code for an error kind.
pub fn for_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput => INVALID_INPUT,
        ErrorKind::Permanent | ErrorKind::IdempotencyConflict | ErrorKind::BusinessKeyReused => PERMANENT,
        ErrorKind::InvalidResponse | ErrorKind::OutcomeUnknown => UNKNOWN_OUTCOME,
        ErrorKind::RateLimited | ErrorKind::Transient | ErrorKind::Deadline => TRANSIENT,
        ErrorKind::Cancelled => INTERRUPTED,
        ErrorKind::Deferred => DEFERRED,
        _ => FAILURE,
    }
}
