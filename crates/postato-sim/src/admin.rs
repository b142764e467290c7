//! The admin API under `/_sim/`: stats, reset, faults, rate limit, scripts, outages and the
//! platform's publish counts and stored posts.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{FaultRates, RateLimitConfig};
use crate::reply::Reply;
use crate::script::ScriptAction;
use crate::state::State;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OutageRequest {
    duration_ms: u64,
    #[serde(default)]
    start_in_ms: u64,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Reply> {
    serde_json::from_slice(body)
        .map_err(|e| Reply::error(400, "invalid_request", &format!("invalid admin request: {e}"), None))
}

fn no_content() -> Reply {
    Reply::json(200, &json!({"ok": true}))
}

pub(crate) fn handle(state: &Arc<State>, method: &str, path: &str, body: &Bytes) -> Reply {
    let mut s = state.lock();
    match (method, path) {
        ("GET", "stats") => Reply::json(200, &serde_json::to_value(s.snapshot()).unwrap_or_default()),
        ("POST", "reset") => {
            s.reset();
            no_content()
        }
        ("GET", "faults") => Reply::json(200, &serde_json::to_value(&s.config.faults).unwrap_or_default()),
        ("PUT", "faults") => match parse::<FaultRates>(body) {
            Ok(rates) => match rates.validate() {
                Ok(()) => {
                    s.config.faults = rates;
                    no_content()
                }
                Err(message) => Reply::error(400, "invalid_request", &message, None),
            },
            Err(reply) => reply,
        },
        ("PUT", "rate-limit") => match parse::<Option<RateLimitConfig>>(body) {
            Ok(Some(limit)) if !(limit.rate_per_second > 0.0 && limit.rate_per_second.is_finite()) => {
                Reply::error(400, "invalid_request", "ratePerSecond must be a positive number", None)
            }
            Ok(limit) => {
                s.config.rate_limit = limit;
                s.buckets.clear();
                no_content()
            }
            Err(reply) => reply,
        },
        ("POST", "outage") => match parse::<OutageRequest>(body) {
            Ok(outage) => {
                let start = Instant::now() + Duration::from_millis(outage.start_in_ms);
                s.outage = Some((start, start + Duration::from_millis(outage.duration_ms)));
                no_content()
            }
            Err(reply) => reply,
        },
        ("GET", "publishes") => Reply::json(200, &serde_json::to_value(&s.platform).unwrap_or_default()),
        ("PUT", p) if p.starts_with("scripts/") => match parse::<Vec<ScriptAction>>(body) {
            Ok(actions) => {
                s.scripts.insert(p["scripts/".len()..].to_owned(), VecDeque::from(actions));
                no_content()
            }
            Err(reply) => reply,
        },
        ("GET", p) if p.starts_with("publishes/") => {
            let key = &p["publishes/".len()..];
            Reply::json(200, &json!({"idempotencyKey": key, "count": s.platform.get(key).copied().unwrap_or(0)}))
        }
        ("GET", p) if p.starts_with("posts/") => {
            // The post as the platform stored it: the request body exactly as it arrived, for
            // tests that check a post reached the wire as given.
            let key = &p["posts/".len()..];
            match s.posts.iter().filter(|(_, post)| post.idempotency_key == key).max_by_key(|(id, _)| id.as_str()) {
                Some((id, post)) => Reply::json(
                    200,
                    &json!({"id": id, "idempotencyKey": key, "workspace": post.workspace, "status": post.status, "body": post.body}),
                ),
                None => Reply::error(404, "not_found", &format!("no post with idempotency key {key}"), None),
            }
        }
        _ => Reply::error(404, "not_found", &format!("no admin route {method} /_sim/{path}"), None),
    }
}
