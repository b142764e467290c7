//! The simulated Postato API of the deterministic simulation: idempotency per key (replays,
//! 409 while a slow commit runs, 422 on reuse), an optional bare token-bucket limiter for the
//! workspace, an account whose quota is spent for a while, and seeded faults. It keeps the ground truth: every request in arrival order and every genuine
//! publish per key.

use postato_core::{format_http_date, Response, Timestamp};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::dice::Dice;

/// How often each fault happens, per request.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub server_error: f64,
    pub rate_limited: f64,
    pub reset: f64,
    pub hang: f64,
    pub drop_after_commit: f64,
    pub slow_commit: f64,
    /// Share of answers carrying `RateLimit-*` headers (some absurd).
    pub ratelimit_headers: f64,
    pub max_latency_ms: u64,
    /// How long a hang or a slow commit may last.
    pub max_stall_ms: u64,
    /// Every request answers 503 until this long after the start.
    pub outage: Duration,
    /// The Retry-After of random 429s (drawn from 0 to 10^7 s when `None`).
    pub rate_limited_retry_after: Option<u64>,
}

/// A token bucket for the whole workspace: 429 with `Retry-After: 1` and no `RateLimit-*`
/// headers; with `names_scope`, `RateLimit-Scope: workspace` on its 429s.
#[derive(Clone, Copy, Debug)]
pub struct Limiter {
    pub rate_per_second: f64,
    pub burst: f64,
    pub names_scope: bool,
}

/// What reached the server.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub seq: u64,
    pub at: Instant,
    pub key: String,
    /// The account it was published through.
    pub account: String,
    pub status: Option<u16>,
    /// Its answer limited the account: a 429, `RateLimit-*` headers, or a `Retry-After` on any
    /// status (a 503's asks the account's posts to wait, and one past `max_retry_after` ends
    /// the publish `rate_limited`).
    pub limiting: bool,
    /// It was refused for the workspace rather than for its account: by the workspace's limiter,
    /// or by a random 429 (the server shedding load).
    pub workspace_refused: bool,
}

/// An account answered `429` until `until` after the start, with a Retry-After to then; the
/// body names the account's scope when `names_scope`.
#[derive(Clone, Debug)]
pub struct Spent {
    pub account: String,
    pub until: Duration,
    pub names_scope: bool,
}

enum KeyState {
    InProgress,
    Done { fingerprint: String, id: String },
}

pub struct Server {
    dice: Dice,
    faults: Faults,
    limiter: Option<(Limiter, f64, Instant)>,
    spent: Option<Spent>,
    keys: BTreeMap<String, KeyState>,
    pub publishes: BTreeMap<String, u32>,
    pub arrivals: Vec<Arrival>,
    next_id: u64,
    started: Instant,
    seq: Arc<AtomicU64>,
}

/// The answer a request gets: when, and what.
pub type Reply = Result<Response, ()>;

impl Server {
    pub fn new(seed: u64, faults: Faults, limiter: Option<Limiter>, spent: Option<Spent>, seq: Arc<AtomicU64>) -> Self {
        let now = Instant::now();
        Server {
            dice: Dice::new(seed ^ 0x5e7e_5e7e),
            faults,
            limiter: limiter.map(|l| (l, l.burst, now)),
            spent,
            keys: BTreeMap::new(),
            publishes: BTreeMap::new(),
            arrivals: Vec::new(),
            next_id: 0,
            started: now,
            seq,
        }
    }

    pub fn published_id(&self, key: &str) -> Option<&str> {
        match self.keys.get(key) {
            Some(KeyState::Done { id, .. }) => Some(id),
            _ => None,
        }
    }

    pub fn rate_limited_requests(&self) -> usize {
        self.requests_answered(429)
    }

    pub fn requests_answered(&self, status: u16) -> usize {
        self.arrivals.iter().filter(|a| a.status == Some(status)).count()
    }

    /// A request arrives: it is recorded now, and answered on the returned channel (or the
    /// channel closes: a reset). Processing goes on even if the client stops listening.
    pub fn arrive(
        server: &Arc<Mutex<Server>>,
        key: String,
        fingerprint: String,
        account: &str,
    ) -> oneshot::Receiver<Response> {
        let (tx, rx) = oneshot::channel();
        let mut s = server.lock().unwrap();
        let seq = s.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let index = s.arrivals.len();
        s.arrivals.push(Arrival {
            seq,
            at: Instant::now(),
            key: key.clone(),
            account: account.to_owned(),
            status: None,
            limiting: false,
            workspace_refused: false,
        });
        let elapsed = Instant::now().duration_since(s.started);
        let spent = s.spent.as_ref().filter(|spent| spent.account == account && elapsed < spent.until);
        let spent = spent.map(|spent| (spent.until - elapsed, spent.names_scope));
        let (max_latency, max_stall) = (s.faults.max_latency_ms, s.faults.max_stall_ms);
        let latency = Duration::from_millis(s.dice.below(max_latency + 1));
        let stall = Duration::from_millis(1 + s.dice.below(max_stall.max(1)));
        let limited = s.take_limiter_token();
        let f = s.faults.clone();
        let fault = if Instant::now().duration_since(s.started) < f.outage {
            Fault::Outage
        } else if let Some((left, names_scope)) = spent {
            Fault::Spent { left, names_scope }
        } else if !limited {
            Fault::Bare429
        } else {
            let roll = s.dice.unit();
            let mut edge = 0.0;
            let mut hit = |p: f64| {
                edge += p;
                roll < edge
            };
            if hit(f.server_error) {
                Fault::ServerError
            } else if hit(f.rate_limited) {
                Fault::RateLimited
            } else if hit(f.reset) {
                Fault::Reset
            } else if hit(f.hang) {
                Fault::Hang
            } else if hit(f.drop_after_commit) {
                Fault::DropAfterCommit
            } else if hit(f.slow_commit) {
                Fault::SlowCommit
            } else {
                Fault::None
            }
        };
        s.arrivals[index].workspace_refused = matches!(fault, Fault::Bare429 | Fault::RateLimited);
        drop(s);
        let server = Arc::clone(server);
        tokio::spawn(async move {
            tokio::time::sleep(latency).await;
            let reply = Server::process(&server, &key, fingerprint, fault, stall).await;
            let mut s = server.lock().unwrap();
            let response = reply.map(|r| s.decorate(r));
            if let Ok(response) = &response {
                s.arrivals[index].status = Some(response.status);
                s.arrivals[index].limiting = response.status == 429
                    || response.headers.iter().any(|(name, _)| {
                        let name = name.to_ascii_lowercase();
                        name.starts_with("ratelimit-") || name == "retry-after"
                    });
            }
            drop(s);
            if let Ok(response) = response {
                let _ = tx.send(response);
            }
            // An `Err` drops `tx`: the client sees the connection close.
        });
        rx
    }

    fn take_limiter_token(&mut self) -> bool {
        let Some((limiter, tokens, updated)) = &mut self.limiter else { return true };
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*updated).as_secs_f64() * limiter.rate_per_second).min(limiter.burst);
        *updated = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    async fn process(
        server: &Arc<Mutex<Server>>,
        key: &str,
        fingerprint: String,
        fault: Fault,
        stall: Duration,
    ) -> Reply {
        let retry_after = |s: &mut Server| s.retry_after_header();
        match fault {
            Fault::Bare429 => {
                let response = Response::new(429, "").with_header("Retry-After", "1");
                let names_scope = server.lock().unwrap().limiter.is_some_and(|(limiter, ..)| limiter.names_scope);
                return Ok(match names_scope {
                    true => response.with_header("RateLimit-Scope", "workspace"),
                    false => response,
                });
            }
            Fault::Outage => return Ok(Response::new(503, "down")),
            Fault::Spent { left, names_scope } => {
                let body = if names_scope { r#"{"error":{"code":"rate_limited","scope":"account"}}"# } else { "" };
                let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                return Ok(Response::new(429, body).with_header("Retry-After", &seconds.to_string()));
            }
            Fault::ServerError => {
                let mut s = server.lock().unwrap();
                let status = [500, 502, 503, 504][s.dice.below(4) as usize];
                let mut response = Response::new(status, "oops");
                if status == 503 && s.dice.chance(0.5) {
                    let (name, value) = retry_after(&mut s);
                    response = response.with_header(&name, &value);
                }
                return Ok(response);
            }
            Fault::RateLimited => {
                let mut s = server.lock().unwrap();
                let mut response = Response::new(429, "slow down");
                if let Some(seconds) = s.faults.rate_limited_retry_after {
                    response = response.with_header("Retry-After", &seconds.to_string());
                } else if s.dice.chance(0.85) {
                    let (name, value) = retry_after(&mut s);
                    response = response.with_header(&name, &value);
                }
                return Ok(response);
            }
            Fault::Reset => return Err(()),
            Fault::Hang => {
                tokio::time::sleep(stall).await;
                return Err(());
            }
            Fault::None | Fault::DropAfterCommit | Fault::SlowCommit => {}
        }
        let answer = {
            let mut s = server.lock().unwrap();
            match s.keys.get(key) {
                Some(KeyState::InProgress) => {
                    return Ok(Response::new(409, r#"{"error":{"code":"request_in_progress"}}"#))
                }
                Some(KeyState::Done { fingerprint: stored, id }) => {
                    if *stored != fingerprint {
                        return Ok(Response::new(422, r#"{"error":{"code":"idempotency_key_reused"}}"#));
                    }
                    return Ok(published(id).with_header("Idempotent-Replayed", "true"));
                }
                None => {}
            }
            s.next_id += 1;
            let id = format!("post_{}", s.next_id);
            *s.publishes.entry(key.to_owned()).or_default() += 1;
            if fault == Fault::SlowCommit {
                s.keys.insert(key.to_owned(), KeyState::InProgress);
            } else {
                s.keys.insert(key.to_owned(), KeyState::Done { fingerprint: fingerprint.clone(), id: id.clone() });
            }
            id
        };
        if fault == Fault::SlowCommit {
            tokio::time::sleep(stall).await;
            server.lock().unwrap().keys.insert(key.to_owned(), KeyState::Done { fingerprint, id: answer.clone() });
        }
        if fault == Fault::DropAfterCommit {
            return Err(());
        }
        Ok(published(&answer))
    }

    /// A Retry-After from 0 to 10^7 s, as seconds or as an HTTP-date, with a `Date`.
    fn retry_after_header(&mut self) -> (String, String) {
        let seconds = [0, 1, 1, 2, 3, 5, 30, 59, 61, 3_000, 10_000_000][self.dice.below(11) as usize];
        if self.dice.chance(0.3) {
            let at = self.server_time().saturating_add(Duration::from_secs(seconds));
            ("Retry-After".into(), format_http_date(at))
        } else {
            ("Retry-After".into(), seconds.to_string())
        }
    }

    fn server_time(&self) -> Timestamp {
        const EPOCH_2026_12_01: u64 = 1_796_083_200_000;
        Timestamp::from_millis(EPOCH_2026_12_01).saturating_add(Instant::now().duration_since(self.started))
    }

    /// Adds a `Date` and, sometimes, `RateLimit-*` headers (sensible or absurd).
    fn decorate(&mut self, mut response: Response) -> Response {
        response = response.with_header("Date", &format_http_date(self.server_time()));
        if self.dice.chance(self.faults.ratelimit_headers) {
            let headers: &[(&str, &str)] = match self.dice.below(5) {
                0 => &[("RateLimit-Policy", "50;w=1;burst=10"), ("RateLimit-Remaining", "5")],
                1 => &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "2")],
                2 => &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "3000")],
                3 => &[("RateLimit-Policy", "1;w=100000000"), ("RateLimit-Remaining", "0")],
                _ => &[("RateLimit-Policy", "NaN;w=0"), ("RateLimit-Reset", "1e300")],
            };
            for (name, value) in headers {
                response = response.with_header(name, value);
            }
        }
        response
    }
}

fn published(id: &str) -> Response {
    Response::new(202, format!(r#"{{"id":"{id}","status":"published"}}"#))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    Outage,
    Bare429,
    Spent { left: Duration, names_scope: bool },
    ServerError,
    RateLimited,
    Reset,
    Hang,
    DropAfterCommit,
    SlowCommit,
}
