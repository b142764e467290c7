//! The HTTP/1.1 server: accepts connections on loopback, routes requests, and closes a
//! connection without an answer when a fault says so.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::reply::{to_response, Reply};
use crate::state::State;
use crate::{admin, api};

pub(crate) async fn serve(listener: TcpListener, state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("simulator: accept failed: {e}");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let close = Arc::new(Notify::new());
            let service = {
                let close = Arc::clone(&close);
                service_fn(move |request| {
                    let (state, close) = (Arc::clone(&state), Arc::clone(&close));
                    async move { Ok::<_, Infallible>(route(state, request, close).await) }
                })
            };
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = close.notified() => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

async fn read_body(body: Incoming) -> Result<Bytes, Reply> {
    match Limited::new(body, api::MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(Reply::error(413, "payload_too_large", "the body is over 1 MiB", None))
        }
        Err(e) => Err(Reply::error(400, "invalid_request", &format!("could not read the body: {e}"), None)),
    }
}

/// Every answer of the API carries `X-Request-Id` (`req_` and a number unique in this
/// process), a replayed answer a new one: what an error report quotes.
static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

async fn route(state: Arc<State>, request: Request<Incoming>, close: Arc<Notify>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = parts.method.as_str();
    let reply = match (method, segments.as_slice()) {
        ("POST", ["v1", "workspaces", workspace, "posts"]) => {
            let workspace = (*workspace).to_owned();
            api::publish(Arc::clone(&state), workspace, parts.headers, read_body(body).await).await
        }
        ("GET", ["v1", "workspaces", workspace, "posts", id]) => api::get_post(&state, workspace, id, &parts.headers),
        (_, ["_sim", rest @ ..]) if state.lock().config.admin => match read_body(body).await {
            Ok(bytes) => admin::handle(&state, method, &rest.join("/"), &bytes),
            Err(reply) => reply,
        },
        (_, ["v1", "workspaces", _, "posts", ..]) => {
            Reply::error(405, "method_not_allowed", &format!("{method} is not allowed on {path}"), None)
        }
        _ => Reply::json(
            404,
            &json!({"error": {"code": "not_found", "message": format!("no route {method} {path}"), "field": null}}),
        ),
    };
    let mut reply = reply;
    if let Some(status) = reply.status() {
        if path.starts_with("/v1/") {
            state.lock().count_answer(status);
            let id = format!("req_{:012}", REQUEST_IDS.fetch_add(1, Ordering::Relaxed));
            reply = reply.with_headers(&[("X-Request-Id".to_owned(), id)]);
        }
    }
    match reply {
        Reply::Answer(answer) => to_response(answer),
        Reply::Close => {
            close.notify_one();
            std::future::pending().await
        }
    }
}
