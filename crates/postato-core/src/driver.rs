//! The pluggable seams ([`Transport`], [`Clock`]) and a runtime-agnostic async driver that
//! runs the machine over them, so a user with their own HTTP stack or runtime needs only
//! this crate.

use std::future::Future;
use std::time::Duration;

use crate::error::{PublishError, TransportFailure};
use crate::event::Event;
use crate::limits::{PacingPlace, Scope, SharedLimits};
use crate::machine::{Action, PublishMachine, Published};
use crate::request::Request;
use crate::response::Response;
use crate::time::Timestamp;

/// Sends one request and returns the full response, or a transport failure.
///
/// The transport must give up after `timeout` (returning a `Timeout` failure): the driver
/// relies on it, so that a hung connection cannot hang a publish.
pub trait Transport: Send + Sync {
    /// Sends `request`, with `timeout` for the whole exchange.
    fn send(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> impl Future<Output = Result<Response, TransportFailure>> + Send;
}

/// The time source and the sleeper.
pub trait Clock: Send + Sync {
    /// The current time; must never go backwards.
    fn now(&self) -> Timestamp;
    /// Completes at `until` (at once if it has passed).
    fn sleep_until(&self, until: Timestamp) -> impl Future<Output = ()> + Send;
}

/// Runs `machine` to its end over `transport` and `clock`, asking `limits` (if any) before
/// each send and passing every event to `on_event`. Dropping the future cancels the publish:
/// nothing more is sent.
pub async fn drive<T: Transport, C: Clock>(
    mut machine: PublishMachine,
    transport: &T,
    clock: &C,
    limits: Option<&SharedLimits>,
    mut on_event: impl FnMut(&Event) + Send,
) -> Result<Published, PublishError> {
    let scope = machine.request().scope().clone();
    let scope = &scope;
    let mut place = PacingPlace::default();
    loop {
        let now = clock.now();
        let action = match limits {
            Some(limits) => machine.poll_with(now, |next| limits.admit_in_turn(scope, now, next, &mut place)),
            None => machine.poll(now),
        };
        // An admitted send is the limits' until settled: the guard reports it abandoned if
        // anything (a panicking hook, a dropped future) ends this publish before its outcome.
        let in_flight = match (&action, limits) {
            (Action::Send(_), Some(limits)) => Some(InFlight { limits, scope, sent_at: now, settled: false }),
            _ => None,
        };
        while let Some(event) = machine.poll_event() {
            on_event(&event);
        }
        match action {
            Action::Send(attempt) => {
                let outcome = transport.send(&attempt.request, attempt.timeout).await;
                let now = clock.now();
                match outcome {
                    Ok(response) => {
                        if let Some(mut in_flight) = in_flight {
                            in_flight.settled = true;
                            in_flight.limits.on_response(scope, now, in_flight.sent_at, &response);
                        }
                        machine.handle_response(now, &response);
                    }
                    Err(failure) => {
                        if let Some(mut in_flight) = in_flight {
                            in_flight.settled = true;
                            in_flight.limits.on_transport_failure(scope, now, in_flight.sent_at);
                        }
                        machine.handle_transport_failure(now, failure);
                    }
                }
            }
            Action::Wait { until } => clock.sleep_until(until).await,
            // Each send above is awaited and fed before the next poll, so this cannot occur;
            // ending the publish is the safe answer if it ever did.
            Action::AwaitingOutcome => machine.cancel(),
            Action::Done(result) => return result,
        }
    }
}

/// A send the shared limits count as in flight; dropped unsettled, it was abandoned.
struct InFlight<'a> {
    limits: &'a SharedLimits,
    scope: &'a Scope,
    sent_at: Timestamp,
    settled: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.limits.on_abandoned(self.scope, self.sent_at);
        }
    }
}
