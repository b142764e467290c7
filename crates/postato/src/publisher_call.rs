//! [`PublisherCall`]: one [`Publisher`] publish with options of its own (a shorter deadline,
//! fewer attempts, a cancellation token, the campaign line it came from, a forced send), the
//! Publisher's counterpart of [`PublishCall`](crate::PublishCall), with the same option
//! methods.

use postato_core::{Post, PublishError, Transport};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::call::CallOptions;
use crate::publisher::{PublishReport, Publisher};

/// What one publish was asked to do beyond the post, as the Publisher's steps read it.
pub(crate) struct CallShape<'a> {
    /// This publish's own options over the client's.
    pub options: CallOptions,
    /// The campaign line the post came from, recorded with a dead letter.
    pub line: Option<u64>,
    /// Ends the publish with `Cancelled` when it fires.
    pub cancel: &'a CancellationToken,
    /// Sends even when an earlier send's outcome is unknown.
    pub force: bool,
    /// Holds one of its permits while the requests are in flight.
    pub sends: Option<&'a Semaphore>,
}

/// A publish with options of its own, from [`Publisher::publish_with`]; `.await` it (or call
/// [`PublisherCall::send`]).
///
/// ```no_run
/// # async fn demo(publisher: postato::Publisher, post: postato::Post) -> Result<(), postato::PublishError> {
/// use std::time::Duration;
/// let stop = postato::CancellationToken::new();
/// let report = publisher.publish_with(&post).deadline(Duration::from_secs(5)).cancel_on(&stop).line(12).await?;
/// # Ok(()) }
/// ```
#[must_use = "a publish call sends nothing until awaited"]
pub struct PublisherCall<'a, T> {
    publisher: &'a Publisher<T>,
    post: &'a Post,
    options: CallOptions,
    line: Option<u64>,
    cancel: Option<&'a CancellationToken>,
    force: bool,
    sends: Option<&'a Semaphore>,
}

impl<'a, T: Transport> PublisherCall<'a, T> {
    pub(crate) fn new(publisher: &'a Publisher<T>, post: &'a Post) -> Self {
        let options = CallOptions::default();
        PublisherCall { publisher, post, options, line: None, cancel: None, force: false, sends: None }
    }

    crate::call::call_option_methods!();

    /// Ends the publish with `Cancelled` when `cancel` fires; nothing more is sent, and the
    /// claim is released.
    pub fn cancel_on(mut self, cancel: &'a CancellationToken) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// The post was read from line `line` of a campaign file: a dead letter records the line.
    pub fn line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// Sends even when an earlier send's outcome is unknown ([`PublishError::OutcomeUnknown`]):
    /// for after a person has checked that the post does not exist. Once the key is claimed,
    /// its old intent is replaced by this send's.
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// Holds one of `sends`' permits from just before its first request (its intent is
    /// written holding it) to the last answer, the waits between included, and none while the
    /// store is asked for the key or the outcome is recorded: a batch that bounds its requests
    /// with one semaphore runs those store steps of some posts while others' requests are out.
    /// The claim is renewed while it waits. Closing the semaphore ends the publishes waiting
    /// for a permit `Cancelled`, with nothing written or sent (a batch that stops). A semaphore
    /// with no permits to give waits until one is added, the call cancelled, or it is closed.
    pub fn sends_within(mut self, sends: &'a Semaphore) -> Self {
        self.sends = Some(sends);
        self
    }

    /// Publishes unless the store has the post: an option outside its bounds is an
    /// `InvalidInput` naming it, before the store or the network is asked anything. While
    /// another publish holds a live claim on the key, it waits for that claim to end.
    pub async fn send(self) -> Result<PublishReport, PublishError> {
        let never = CancellationToken::new();
        let (publisher, post) = (self.publisher, self.post);
        publisher.send(post, &self.shape(&never)).await
    }

    /// Like [`PublisherCall::send`], but when another worker holds a live claim on the key it
    /// returns `Ok(None)` at once instead of waiting (a batch comes back to it later).
    pub async fn try_send(self) -> Result<Option<PublishReport>, PublishError> {
        let never = CancellationToken::new();
        let (publisher, post) = (self.publisher, self.post);
        publisher.try_send(post, &self.shape(&never)).await
    }

    fn shape(self, never: &'a CancellationToken) -> CallShape<'a> {
        let cancel = self.cancel.unwrap_or(never);
        CallShape { options: self.options, line: self.line, cancel, force: self.force, sends: self.sends }
    }
}

impl<'a, T: Transport + 'a> IntoFuture for PublisherCall<'a, T> {
    type Output = Result<PublishReport, PublishError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
