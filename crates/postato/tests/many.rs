//! `Client::publish_many`: one result per post in input order, at most `concurrency` in
//! flight, cancellation that sends nothing more, and options checked before anything is sent.
use postato::{CancellationToken, ErrorKind, Event, ManyOptions, Post, PostStatus, PublishError};
use postato_sim::ScriptAction;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::*;

#[tokio::test]
async fn every_post_gets_its_own_result_in_input_order() {
    let sim = sim().await;
    let client = client(&sim);
    let keys: Vec<String> = (0..12).map(|i| key(&format!("many-{i}"))).collect();
    sim.script_business_key(&keys[3], vec![respond(400)]);
    sim.script_business_key(&keys[7], vec![respond(422)]);
    let mut posts: Vec<Post> = keys.iter().map(|k| post(k)).collect();
    posts[5] = Post::new("", "x", "acc_1", PostStatus::Publish, "post", "no business key");
    let results = client.publish_many(&posts, &ManyOptions::new().concurrency(4)).await.unwrap();
    assert_eq!(results.len(), posts.len());
    for (i, result) in results.iter().enumerate() {
        match i {
            3 | 7 => assert_eq!(result.as_ref().unwrap_err().kind(), ErrorKind::Permanent, "post {i}: {result:?}"),
            5 => assert_eq!(result.as_ref().unwrap_err().kind(), ErrorKind::InvalidInput, "post {i}: {result:?}"),
            _ => {
                let published = result.as_ref().unwrap();
                assert_eq!(published.idempotency_key, postato::idempotency_key(&keys[i]), "post {i} out of order");
                assert_eq!(sim.platform_publishes_for(&keys[i]), 1);
            }
        }
    }
}

#[tokio::test]
async fn no_more_than_concurrency_posts_are_in_flight() {
    let sim = sim().await;
    let (in_flight, most) = (Arc::new(AtomicI64::new(0)), Arc::new(AtomicI64::new(0)));
    let (now, max) = (in_flight.clone(), most.clone());
    let client = builder(&sim)
        .on_event(move |_, event| match event {
            Event::AttemptStarted { .. } => {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
            }
            Event::Finished { .. } => {
                now.fetch_sub(1, Ordering::SeqCst);
            }
            _ => {}
        })
        .build()
        .unwrap();
    let keys: Vec<String> = (0..20).map(|i| key(&format!("bounded-{i}"))).collect();
    for k in &keys {
        sim.script_business_key(k, vec![ScriptAction::Latency { ms: 50 }]);
    }
    let posts: Vec<Post> = keys.iter().map(|k| post(k)).collect();
    let results = client.publish_many(&posts, &ManyOptions::new().concurrency(4)).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // All 20 would be in flight at once without the bound; at least 4 are with it.
    assert_eq!(most.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_cancelled_call_stops_the_posts_in_flight_and_sends_no_more() {
    let sim = sim().await;
    let client = client(&sim);
    let keys: Vec<String> = (0..10).map(|i| key(&format!("cancel-{i}"))).collect();
    for k in &keys {
        sim.script_business_key(k, vec![ScriptAction::Latency { ms: 400 }]);
    }
    let posts: Vec<Post> = keys.iter().map(|k| post(k)).collect();
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        cancel.cancel();
    });
    let options = ManyOptions::new().concurrency(2).cancel(token);
    let results = tokio::time::timeout(Duration::from_secs(5), client.publish_many(&posts, &options))
        .await
        .expect("the cancelled call returns at once")
        .unwrap();
    assert_eq!(results.len(), 10);
    let never_sent = results.iter().filter(|r| matches!(r, Err(PublishError::Cancelled { attempts: 0 }))).count();
    // Two ran at 0–400 ms and two more from 400 ms; the cancel at 600 ms leaves six unsent.
    assert!(never_sent >= 6, "{results:?}");
    assert!(results.iter().all(|r| r.is_ok() || matches!(r, Err(PublishError::Cancelled { .. }))), "{results:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sim.stats().requests <= 4, "{:?}", sim.stats());
}

#[tokio::test]
async fn a_concurrency_out_of_bounds_is_refused_before_anything_is_sent() {
    let sim = sim().await;
    let client = client(&sim);
    for concurrency in [0, 1025] {
        let error = client.publish_many(&[post(&key("never"))], &ManyOptions::new().concurrency(concurrency)).await;
        let error = error.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("concurrency"), "{error}");
    }
    assert_eq!(sim.stats().requests, 0);
}

#[tokio::test]
async fn dropping_the_call_stops_the_posts_in_flight_and_sends_no_more() {
    let sim = sim().await;
    let client = client(&sim);
    let keys: Vec<String> = (0..10).map(|i| key(&format!("drop-{i}"))).collect();
    for k in &keys {
        sim.script_business_key(k, vec![ScriptAction::Latency { ms: 300 }]);
    }
    let posts: Vec<Post> = keys.iter().map(|k| post(k)).collect();
    let options = ManyOptions::new().concurrency(2);
    // The call is dropped 100 ms in, while its first two posts are at the server.
    let dropped = tokio::time::timeout(Duration::from_millis(100), client.publish_many(&posts, &options)).await;
    assert!(dropped.is_err(), "the call ended before it was dropped");
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Without the drop, all 10 would have been sent by now (5 rounds of 300 ms take 1.5 s: at
    // least the next two rounds would have started).
    assert!(sim.stats().requests <= 2, "{:?}", sim.stats());
    assert!(keys.iter().all(|k| sim.platform_publishes_for(k) == 0));
}
