//! `PublisherCall::sends_within`: a semaphore bounds the requests in flight, not the publishes
//! whose store steps (claim, intent, record) run beside them.

use postato::postato_core::{Request, Response, Transport, TransportFailure};
use postato::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Answers every request after 50 ms, counting the requests in flight and their peak (real
/// time: the peak is counted while the requests overlap).
#[derive(Clone, Default)]
struct CountingTransport {
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    sent: Arc<AtomicUsize>,
}

impl Transport for CountingTransport {
    async fn send(&self, _request: &Request, _timeout: Duration) -> Result<Response, TransportFailure> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let n = self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(202, format!(r#"{{"id":"post_{n}","status":"published"}}"#)))
    }
}

/// A Publisher over a [`CountingTransport`] and a memory store, with both.
fn publisher() -> (CountingTransport, Publisher<CountingTransport>, Arc<MemoryStore>) {
    let transport = CountingTransport::default();
    let client =
        Client::builder().api_key("sk_test_x").workspace_id("ws").build_with_transport(transport.clone()).unwrap();
    let store = Arc::new(MemoryStore::new());
    (transport, Publisher::with_shared_store(client, store.clone()), store)
}

fn post(n: usize) -> Post {
    Post::new(format!("sends-within-{n}"), "x", format!("acc_{n}"), PostStatus::Publish, "post", format!("post {n}"))
}

/// Publishes 12 posts at once through one Publisher (each to an account of its own, so that no
/// account limit holds them), each within `sends` when given; the peak of requests in flight.
async fn peak_of_twelve(sends: Option<&Semaphore>) -> usize {
    let (transport, publisher, _) = publisher();
    let posts: Vec<Post> = (0..12).map(post).collect();
    let publishes = posts.iter().map(|post| {
        let call = publisher.publish_with(post);
        let call = match sends {
            Some(sends) => call.sends_within(sends),
            None => call,
        };
        call.send()
    });
    for report in futures_util::future::join_all(publishes).await {
        assert!(!report.unwrap().from_store);
    }
    assert_eq!(transport.sent.load(Ordering::SeqCst), 12, "every post was sent once");
    transport.peak.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semaphore_bounds_the_requests_in_flight_and_every_post_is_published() {
    let sends = Semaphore::new(3);
    let peak = peak_of_twelve(Some(&sends)).await;
    assert!((1..=3).contains(&peak), "{peak} requests were in flight at once");
    assert_eq!(sends.available_permits(), 3, "every permit came back");
    let unbounded = peak_of_twelve(None).await;
    assert!(unbounded > 3, "without it, more publishes send at once ({unbounded})");
}

/// Checks a publish of one post waiting for a permit of a semaphore that has none, until `end`
/// runs on it (after a second): it ends `Cancelled`, nothing sent, no intent, its key free.
async fn waiting_for_a_permit_until(end: impl FnOnce(&Semaphore, &CancellationToken)) {
    let (transport, publisher, store) = publisher();
    let (sends, cancel) = (Semaphore::new(0), CancellationToken::new());
    let post = post(0);
    let waiting = publisher.publish_with(&post).sends_within(&sends).cancel_on(&cancel).send();
    let (outcome, ()) = tokio::join!(waiting, async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        end(&sends, &cancel);
    });
    assert_eq!(outcome.unwrap_err().kind(), ErrorKind::Cancelled);
    assert_eq!(transport.sent.load(Ordering::SeqCst), 0, "nothing was sent");
    assert_eq!(store.intent(&post.business_key).await.unwrap(), None, "no intent is left");
    let begun = store.begin(&post.business_key, "another", Duration::from_secs(60)).await.unwrap();
    assert_eq!(begun, postato::store::Begin::Claimed, "its key is free for the next publish");
}

#[tokio::test(start_paused = true)]
async fn a_publish_waiting_for_a_permit_is_cancelled_with_nothing_sent_and_its_key_released() {
    waiting_for_a_permit_until(|_, cancel| cancel.cancel()).await;
}

#[tokio::test(start_paused = true)]
async fn closing_the_semaphore_ends_the_publishes_waiting_for_a_permit_with_nothing_sent() {
    waiting_for_a_permit_until(|sends, _| sends.close()).await;
}

#[tokio::test(start_paused = true)]
async fn a_claim_is_renewed_while_its_publish_waits_for_a_permit_longer_than_the_lease() {
    let (transport, publisher, store) = publisher();
    let lease = Duration::from_secs(3);
    let publisher = publisher.lease(lease);
    let sends = Semaphore::new(0);
    let post = post(0);
    let waiting = publisher.publish_with(&post).sends_within(&sends).send();
    let (outcome, ()) = tokio::join!(waiting, async {
        tokio::time::sleep(lease * 4).await;
        let begun = store.begin(&post.business_key, "another", lease).await.unwrap();
        assert!(matches!(begun, postato::store::Begin::HeldByOther { .. }), "still held after four leases: {begun:?}");
        sends.add_permits(1);
    });
    assert!(!outcome.unwrap().from_store);
    assert_eq!(transport.sent.load(Ordering::SeqCst), 1);
}
