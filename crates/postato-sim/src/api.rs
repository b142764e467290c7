//! The public API: `POST /v1/workspaces/{id}/posts` (auth, rate limit, idempotency, faults,
//! validation, publish) and `GET /v1/workspaces/{id}/posts/{postId}`.

use bytes::Bytes;
use hyper::HeaderMap;
use postato_core::{payload_fingerprint, Post};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::reply::Reply;
use crate::script::ScriptAction;
use crate::state::{DrawnFault, Entry, Inner, State, StoredAnswer};

/// The largest body the API reads.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// The bearer key, if the request is authorized.
fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    bearer.is_some_and(|key| inner.config.api_keys.iter().any(|k| k == key))
}

fn unauthorized() -> Reply {
    Reply::error(401, "unauthorized", "missing or unknown API key: send Authorization: Bearer <key>", None)
}

/// How the request is processed once it passed the idempotency lookup.
enum Processing {
    Normal,
    Delayed(Duration),
    Hang(Duration),
    DropAfterCommit,
    Slow(Duration),
}

/// Counts a publish request in flight, from its arrival until its answer (or its connection's
/// end), for [`Stats::peak_in_flight`](crate::Stats::peak_in_flight).
struct InFlight(Arc<State>);

impl InFlight {
    fn enter(state: &Arc<State>) -> InFlight {
        let mut s = state.lock();
        s.in_flight += 1;
        s.stats.peak_in_flight = s.stats.peak_in_flight.max(s.in_flight);
        InFlight(Arc::clone(state))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // A reset while it was answered started the count again at 0.
        let mut s = self.0.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
    }
}

pub(crate) async fn publish(
    state: Arc<State>,
    workspace: String,
    headers: HeaderMap,
    body: Result<Bytes, Reply>,
) -> Reply {
    let _in_flight = InFlight::enter(&state);
    let now = Instant::now();
    let idempotency_key = headers.get("idempotency-key").map(|v| v.to_str().map(str::to_owned));
    let (rate_headers, latency, fault) = {
        let mut s = state.lock();
        s.stats.requests += 1;
        if let Some(Ok(key)) = &idempotency_key {
            s.first_seen.entry(key.clone()).or_insert(now);
        }
        if !authorized(&s, &headers) {
            return unauthorized();
        }
        if s.in_outage(now) {
            s.stats.faults_injected += 1;
            return Reply::error(503, "unavailable", "the service is down (simulated outage)", None);
        }
        // The account's limits first: a request its account refuses takes nothing from the
        // workspace's, and one the workspace refuses gives the account back what it took.
        let account = body.as_ref().ok().and_then(|body| account_of(body));
        let account_verdict = account.as_deref().and_then(|account| s.account_limit(account, now));
        let account_verdict = match account_verdict {
            Some(verdict) if !verdict.allowed => {
                let retry_after = [("Retry-After".to_owned(), verdict.retry_after_secs.to_string())];
                return Reply::rate_limited_in_scope(
                    "account",
                    "this account's limit is spent: wait Retry-After seconds",
                )
                .with_headers(&verdict.headers)
                .with_headers(&retry_after);
            }
            verdict => verdict,
        };
        let rate_headers = match (s.rate_limit(&workspace, now), account_verdict) {
            (Some(verdict), _) if !verdict.allowed => {
                if let Some(account) = &account {
                    s.refund_account(account, now);
                }
                let retry_after = [("Retry-After".to_owned(), verdict.retry_after_secs.to_string())];
                return Reply::rate_limited_in_scope("workspace", "too many requests: wait Retry-After seconds")
                    .with_headers(&verdict.headers)
                    .with_headers(&retry_after);
            }
            // The headers of the tighter limit (fewer requests left): a client paces by those.
            (Some(workspace), Some(account)) if account.remaining < workspace.remaining => account.headers,
            (Some(workspace), _) => workspace.headers,
            (None, Some(account)) => account.headers,
            (None, None) => Vec::new(),
        };
        (rate_headers, s.draw_latency(), s.draw_fault())
    };
    let key = match idempotency_key {
        Some(Ok(key)) if !key.is_empty() && key.len() <= 255 => Some(key),
        Some(_) => {
            return Reply::error(
                400,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
                Some("Idempotency-Key"),
            )
            .with_headers(&rate_headers)
        }
        None if state.lock().config.require_idempotency_key => {
            return Reply::error(
                400,
                "missing_idempotency_key",
                "send an Idempotency-Key header derived from the post's business key",
                Some("Idempotency-Key"),
            )
            .with_headers(&rate_headers)
        }
        None => None,
    };
    let body = match body {
        Ok(body) => body,
        Err(reply) => return reply.with_headers(&rate_headers),
    };
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    let reply = match key {
        // Every answer to a keyed request carries its key, so a client can tell its answer
        // from a stray one on the same connection.
        Some(key) => process_keyed(&state, workspace, key.clone(), body, fault).await.echoing_key(&key),
        None => process_unkeyed(&state, &workspace, &body, fault),
    };
    reply.with_headers(&rate_headers)
}

/// The post's `platform/accountId`, for the per-account limits (a body that does not say is
/// limited by the workspace alone, and refused later if invalid).
fn account_of(body: &[u8]) -> Option<String> {
    let post: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(format!("{}/{}", post.get("platform")?.as_str()?, post.get("accountId")?.as_str()?))
}

/// Faults that strike before processing, for every request (replays included).
fn early_fault(inner: &mut Inner, fault: DrawnFault) -> Option<Reply> {
    match fault {
        DrawnFault::ServerError(status) => {
            inner.stats.faults_injected += 1;
            Some(Reply::error(status, "server_error", "simulated server error", None))
        }
        DrawnFault::RateLimited => {
            inner.stats.faults_injected += 1;
            let retry_after = inner.config.faults.rate_limited_retry_after().to_string();
            Some(
                Reply::error(429, "rate_limited", "simulated rate limit", None)
                    .with_headers(&[("Retry-After".into(), retry_after)]),
            )
        }
        DrawnFault::Reset => {
            inner.stats.faults_injected += 1;
            inner.stats.resets += 1;
            Some(Reply::Close)
        }
        _ => None,
    }
}

fn process_unkeyed(state: &State, workspace: &str, body: &[u8], fault: DrawnFault) -> Reply {
    let mut s = state.lock();
    if let Some(reply) = early_fault(&mut s, fault) {
        return reply;
    }
    let key = format!("unkeyed-{}", s.next_id + 1);
    match validated(&key, body) {
        Ok((post, value)) => {
            let (id, status) = s.commit(workspace, &key, &post, value);
            Reply::json(202, &json!({"id": id, "status": status}))
        }
        Err(reply) => reply,
    }
}

fn validated(key: &str, body: &[u8]) -> Result<(Post, serde_json::Value), Reply> {
    match Post::from_wire_body(key, body) {
        Ok(post) => Ok((post, serde_json::from_slice(body).unwrap_or_default())),
        Err(e) => Err(Reply::error(400, "invalid_request", &e.message, Some(&e.field))),
    }
}

fn storable(status: u16) -> bool {
    (200..300).contains(&status) || ((400..500).contains(&status) && !matches!(status, 408 | 409 | 429))
}

async fn process_keyed(state: &Arc<State>, workspace: String, key: String, body: Bytes, fault: DrawnFault) -> Reply {
    let fingerprint = payload_fingerprint(&body);
    let entry_key = (workspace.clone(), key.clone());
    let processing = {
        let mut s = state.lock();
        if let Some(reply) = early_fault(&mut s, fault) {
            return reply;
        }
        match s.live_entry(&entry_key, Instant::now()) {
            Some(Entry::Completed { fingerprint: stored, answer, .. }) => {
                if *stored == fingerprint {
                    let mut answer = answer.clone();
                    answer.headers.push(("Idempotent-Replayed".into(), "true".into()));
                    s.stats.replays += 1;
                    return Reply::Answer(answer);
                }
                s.stats.key_reused_conflicts += 1;
                return Reply::error(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was already used with a different request body",
                    Some("Idempotency-Key"),
                );
            }
            Some(Entry::InProgress) => {
                s.stats.in_progress_conflicts += 1;
                return Reply::error(
                    409,
                    "request_in_progress",
                    "a request with this Idempotency-Key is still being processed",
                    Some("Idempotency-Key"),
                );
            }
            None => {}
        }
        let scripted = s.scripts.get_mut(&key).and_then(|q| q.pop_front());
        if scripted.is_some() {
            s.stats.faults_injected += 1;
        }
        let processing = match scripted {
            Some(ScriptAction::Respond { status, headers, body: json_body, body_text }) => {
                let bytes = match (json_body, body_text) {
                    (Some(value), _) => Bytes::from(serde_json::to_vec(&value).unwrap_or_default()),
                    (None, Some(text)) => Bytes::from(text),
                    (None, None) => Bytes::new(),
                };
                let mut answer_headers: Vec<(String, String)> = headers.into_iter().collect();
                if !answer_headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
                    answer_headers.push(("content-type".into(), "application/json".into()));
                }
                let answer = StoredAnswer { status, headers: answer_headers, body: bytes };
                if storable(status) {
                    s.complete(entry_key, fingerprint, answer.clone(), Instant::now());
                }
                return Reply::Answer(answer);
            }
            Some(ScriptAction::Reset) => {
                s.stats.resets += 1;
                return Reply::Close;
            }
            Some(ScriptAction::Hang { ms }) => Processing::Hang(Duration::from_millis(ms)),
            Some(ScriptAction::Latency { ms }) => Processing::Delayed(Duration::from_millis(ms)),
            Some(ScriptAction::DropAfterCommit) => Processing::DropAfterCommit,
            Some(ScriptAction::SlowCommit { ms }) => Processing::Slow(Duration::from_millis(ms)),
            Some(ScriptAction::Ok) => Processing::Normal,
            None => match fault {
                DrawnFault::DropAfterCommit => {
                    s.stats.faults_injected += 1;
                    Processing::DropAfterCommit
                }
                DrawnFault::SlowCommit => {
                    s.stats.faults_injected += 1;
                    Processing::Slow(s.config.faults.slow_commit_duration())
                }
                _ => Processing::Normal,
            },
        };
        if let Processing::Slow(_) = processing {
            s.stats.slow_commits += 1;
        }
        if matches!(processing, Processing::Slow(_) | Processing::Delayed(_)) {
            // Whatever takes time holds the key, so a concurrent request gets 409.
            s.entries.insert(entry_key.clone(), Entry::InProgress);
        }
        processing
    };
    match processing {
        Processing::Hang(delay) => {
            tokio::time::sleep(delay).await;
            return Reply::Close;
        }
        Processing::Delayed(delay) => tokio::time::sleep(delay).await,
        _ => {}
    }
    let (post, value) = match validated(&key, &body) {
        Ok(valid) => valid,
        Err(reply) => {
            if let Reply::Answer(answer) = &reply {
                state.lock().complete(entry_key, fingerprint, answer.clone(), Instant::now());
            }
            return reply;
        }
    };
    let commit = {
        let state = Arc::clone(state);
        move || {
            let mut s = state.lock();
            let (id, status) = s.commit(&workspace, &key, &post, value);
            let Reply::Answer(answer) = Reply::json(202, &json!({"id": id, "status": status})) else { unreachable!() };
            s.complete(entry_key, fingerprint, answer.clone(), Instant::now());
            answer
        }
    };
    match processing {
        Processing::Normal | Processing::Delayed(_) | Processing::Hang(_) => Reply::Answer(commit()),
        Processing::DropAfterCommit => {
            commit();
            state.lock().stats.drops_after_commit += 1;
            Reply::Close
        }
        Processing::Slow(delay) => {
            // The commit runs to its end even if the client hangs up meanwhile.
            let task = tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                commit()
            });
            match task.await {
                Ok(answer) => Reply::Answer(answer),
                Err(_) => Reply::Close,
            }
        }
    }
}

pub(crate) fn get_post(state: &State, workspace: &str, id: &str, headers: &HeaderMap) -> Reply {
    let mut s = state.lock();
    s.stats.requests += 1;
    if !authorized(&s, headers) {
        return unauthorized();
    }
    match s.posts.get(id) {
        Some(post) if post.workspace == workspace => Reply::json(
            200,
            &json!({"id": id, "status": post.status, "idempotencyKey": post.idempotency_key, "post": post.body}),
        ),
        _ => Reply::error(404, "not_found", &format!("no post {id} in this workspace"), None),
    }
}
