//! Criterion benchmarks of the core: one whole publish through the state machine (poll, send,
//! a 202, done) and the idempotency key derivation.
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use postato_core::*;

fn machine_step(c: &mut Criterion) {
    let post = Post::new("draft-123", "x", "acc_1", PostStatus::Publish, "post", "hello");
    let request = Request::new(&post, "ws_1", &ApiKey::new("sk"), "rust").unwrap();
    let ok = Response::new(202, r#"{"id":"post_1","status":"published"}"#);
    let now = Timestamp::from_millis(1_000);
    c.bench_function("machine: poll, send, 202, done", |b| {
        b.iter(|| {
            let mut machine = PublishMachine::new(request.clone(), RetryPolicy::default(), 7, now);
            let Action::Send(_) = machine.poll(now) else { unreachable!() };
            machine.handle_response(now, black_box(&ok));
            black_box(machine.poll(now))
        })
    });
    // As a client builds each publish's request: from the parts it built once.
    let parts = std::sync::Arc::new(RequestParts::new("ws_1", &ApiKey::new("sk"), "rust").unwrap());
    c.bench_function("machine: build the request (validate, serialise, key)", |b| {
        b.iter(|| Request::with_parts(black_box(&post), std::sync::Arc::clone(&parts)).unwrap())
    });
}

fn key_derivation(c: &mut Criterion) {
    c.bench_function("idempotency_key", |b| {
        b.iter(|| idempotency_key(black_box("user-42|2026-12-01T09:00:00.000Z|9f86d081884c7d65")))
    });
}

criterion_group!(benches, machine_step, key_derivation);
criterion_main!(benches);
