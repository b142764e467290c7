//! Building answers: JSON bodies, the API's error envelope, and closing a connection unanswered.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde_json::json;

use crate::state::StoredAnswer;

/// What the server does with a request.
pub(crate) enum Reply {
    /// Write this answer.
    Answer(StoredAnswer),
    /// Close the connection without answering.
    Close,
}

impl Reply {
    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply::Answer(StoredAnswer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(serde_json::to_vec(value).expect("JSON values serialise")),
        })
    }

    /// The API's error envelope: `{"error": {"code", "message", "field"}}`.
    pub fn error(status: u16, code: &str, message: &str, field: Option<&str>) -> Reply {
        Reply::json(status, &json!({"error": {"code": code, "message": message, "field": field}}))
    }

    /// A 429 that names the scope of the limit that refused it (`error.scope`).
    pub fn rate_limited_in_scope(scope: &str, message: &str) -> Reply {
        Reply::json(429, &json!({"error": {"code": "rate_limited", "message": message, "field": null, "scope": scope}}))
    }

    pub fn with_headers(mut self, extra: &[(String, String)]) -> Reply {
        if let Reply::Answer(answer) = &mut self {
            answer.headers.extend(extra.iter().cloned());
        }
        self
    }

    /// The answer with the request's `Idempotency-Key` echoed, unless it carries one already (a
    /// scripted answer that forges one).
    pub fn echoing_key(mut self, key: &str) -> Reply {
        if let Reply::Answer(answer) = &mut self {
            if !answer.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("idempotency-key")) {
                answer.headers.push(("Idempotency-Key".into(), key.to_owned()));
            }
        }
        self
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Reply::Answer(a) => Some(a.status),
            Reply::Close => None,
        }
    }
}

pub(crate) fn to_response(answer: StoredAnswer) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Full::new(answer.body)).unwrap_or_else(|e| {
        let mut fallback = Response::new(Full::new(Bytes::from(format!("simulator: invalid scripted answer: {e}"))));
        *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}
