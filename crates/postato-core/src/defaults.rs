//! Every default, as constants: those of the bounded settings come from [`settings`], where
//! each is written once; the others (the base URL, the retry budget, store timings) are
//! written here. The retry policy, the retry budget, the client, the publisher and every
//! language binding take their defaults from here; a binding that reports its defaults reports
//! these (the shared test vector `tests/vectors/settings.json` pins that all four languages do).

use std::time::Duration;

use crate::settings;

/// The kind of post when its caller gives none: in a campaign line, `postato publish` and
/// every language's publish.
pub const POST_TYPE: &str = "post";

/// The production API.
pub const BASE_URL: &str = "https://api.postato.com.br";

/// Attempts that may end in a retryable failure (429s are not counted).
pub const MAX_ATTEMPTS: u32 = settings::MAX_ATTEMPTS.default_value();
/// The limit on one attempt, from sending to the end of the response.
pub const TIMEOUT: Duration = settings::TIMEOUT.default_value();
/// The limit on opening a connection (TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = settings::CONNECT_TIMEOUT.default_value();
/// The first backoff; each retryable failure doubles it.
pub const BACKOFF_BASE: Duration = settings::BACKOFF_BASE.default_value();
/// The largest backoff, before jitter.
pub const BACKOFF_CAP: Duration = settings::BACKOFF_CAP.default_value();
/// The exclusive upper bound of the jitter added to each backoff.
pub const JITTER_MAX: Duration = Duration::from_millis(500);
/// An optional limit on a whole publish, waits included: none.
pub const DEADLINE: Option<Duration> = settings::DEADLINE.default;
/// How many 429 waits (and gate holds) one publish may make.
pub const MAX_RATE_LIMIT_WAITS: u32 = settings::MAX_RATE_LIMIT_WAITS.default_value();
/// A wait longer than this (a Retry-After, a hold, pacing or an empty budget) ends the publish.
pub const MAX_RETRY_AFTER: Duration = settings::MAX_RETRY_AFTER.default_value();
/// The wait on a 429 whose Retry-After is missing, unreadable or zero.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The largest request body the API accepts (its 413 limit), so the largest campaign line
/// or `--file` post that is read.
pub const MAX_POST_BYTES: usize = 1024 * 1024;
/// Publishes at once in `postato batch`, `publish_many` and `publish_due`.
pub const CONCURRENCY: u32 = settings::CONCURRENCY.default_value();
/// Dead letters one listing returns.
pub const DEAD_LETTER_LIMIT: u32 = settings::DEAD_LETTER_LIMIT.default_value();

/// Response bodies are read up to this size.
pub const MAX_RESPONSE_BYTES: usize = settings::MAX_RESPONSE_BYTES.default_value() as usize;
/// An idle pooled connection is closed after this long.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Retry budget: the tokens the bucket holds, and starts with.
pub const BUDGET_CAPACITY: f64 = 100.0;
/// Retry budget: the tokens one retry takes.
pub const BUDGET_RETRY_COST: f64 = 1.0;
/// Retry budget: the tokens one retry after a timeout takes (a slow server is hurt most).
pub const BUDGET_TIMEOUT_RETRY_COST: f64 = 2.0;
/// Retry budget: the tokens a successful response returns.
pub const BUDGET_SUCCESS_DEPOSIT: f64 = 2.0;
/// Retry budget: the tokens added per second regardless.
pub const BUDGET_REFILL_PER_SECOND: f64 = 2.0;

/// How long the server keeps an idempotency key (and answers a repeat with the first
/// answer). A publish sent longer ago whose outcome was never recorded is not sent again.
pub const KEY_RETENTION: Duration = settings::KEY_RETENTION.default_value();
/// A publisher's claim on a business key lasts this long and is renewed while it publishes.
pub const LEASE: Duration = settings::LEASE.default_value();
/// How long SQLite waits for another connection's lock before failing.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in a PostgreSQL store's pool, when the caller gives no size.
pub const POOL_SIZE: usize = settings::POOL_SIZE.default_value() as usize;
/// How long a PostgreSQL store keeps retrying an operation while the database cannot be
/// reached (a restart, a cut connection), before the operation fails.
pub const STORE_OUTAGE: Duration = Duration::from_secs(30);
/// The longest a PostgreSQL store waits for a pooled connection, to open one, or for one
/// operation's answer (then it counts as an outage, retried as above).
pub const POSTGRES_POOL_WAIT: Duration = Duration::from_secs(10);
