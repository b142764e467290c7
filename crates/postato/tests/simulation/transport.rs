//! The simulation's transport: hands each request to the simulated server and waits for its
//! answer within the attempt's timeout, as the real transport does over HTTP.

use postato_core::{Request, Response, Transport, TransportFailure, TransportFailureKind};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::server::Server;

#[derive(Clone)]
pub struct SimTransport {
    pub server: Arc<Mutex<Server>>,
}

impl Transport for SimTransport {
    async fn send(&self, request: &Request, timeout: Duration) -> Result<Response, TransportFailure> {
        let (key, fingerprint) = (request.idempotency_key().to_owned(), request.fingerprint().to_owned());
        let answer = Server::arrive(&self.server, key, fingerprint, request.scope().account_id());
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) => Err(TransportFailure::new(TransportFailureKind::Io, "connection reset")),
            Err(_) => Err(TransportFailure::new(TransportFailureKind::Timeout, "attempt timed out")),
        }
    }
}
