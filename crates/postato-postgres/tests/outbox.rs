//! The outbox: an enqueue in the application's transaction exists only if it commits; the same
//! post again is a no-op, another post under its key aborts the transaction; workers claim
//! disjoint due rows; a listener is woken by the commit, never before it.
use postato::{ErrorKind, Post, PostStatus, Timestamp};
use postato_postgres::outbox::{self, enqueue, Enqueued, Placeholders};
use postato_postgres::testing::fresh_database;
use postato_postgres::PostgresStore;
use std::time::Duration;

fn post(key: &str, content: &str) -> Post {
    Post::new(key, "x", "acc_1", PostStatus::Publish, "post", content)
}

/// The store (which creates the outbox) and an application's own connection to its database.
async fn setup(name: &str) -> Option<(PostgresStore, tokio_postgres::Client)> {
    let url = fresh_database(name).await?;
    let store = PostgresStore::connect(&url, 4).await.unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute("CREATE TABLE app_posts (id TEXT PRIMARY KEY, body TEXT NOT NULL)").await.unwrap();
    Some((store, client))
}

#[tokio::test]
async fn an_enqueue_exists_only_if_the_applications_transaction_commits() {
    let Some((store, mut app)) = setup("outbox_tx").await else { return };
    let tx = app.transaction().await.unwrap();
    tx.execute("INSERT INTO app_posts VALUES ('a', 'hello')", &[]).await.unwrap();
    assert_eq!(enqueue(&tx, &post("rolled-back", "hello"), None).await.unwrap(), Enqueued::Enqueued);
    tx.rollback().await.unwrap();
    assert_eq!(store.outbox_counts().await.unwrap().pending, 0, "a rolled-back enqueue never exists");

    let tx = app.transaction().await.unwrap();
    tx.execute("INSERT INTO app_posts VALUES ('b', 'hello')", &[]).await.unwrap();
    enqueue(&tx, &post("committed", "hello"), None).await.unwrap();
    assert_eq!(store.outbox_counts().await.unwrap().pending, 0, "not visible before the commit");
    tx.commit().await.unwrap();
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.due), (1, 1));

    // The same post again: nothing changes. Another post under its key: refused, and the
    // transaction cannot go on (the application's own row is not written either).
    assert_eq!(enqueue(&app, &post("committed", "hello"), None).await.unwrap(), Enqueued::AlreadyEnqueued);
    let tx = app.transaction().await.unwrap();
    tx.execute("INSERT INTO app_posts VALUES ('c', 'edited')", &[]).await.unwrap();
    let error = enqueue(&tx, &post("committed", "edited"), None).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BusinessKeyReused, "{error}");
    assert!(tx.execute("INSERT INTO app_posts VALUES ('d', 'x')", &[]).await.is_err(), "the transaction is aborted");
    drop(tx);
    let rows: i64 = app.query_one("SELECT count(*) FROM app_posts", &[]).await.unwrap().get(0);
    assert_eq!(rows, 1, "only the committed transaction's row");

    // An invalid post is refused before anything is written.
    let error = enqueue(&app, &post("blank", " "), None).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
}

#[tokio::test]
async fn every_driver_gets_the_same_statement_in_its_own_placeholders() {
    assert_eq!(outbox::enqueue_statement(Placeholders::Numbered), "SELECT postato_enqueue($1, $2, $3, $4)");
    assert_eq!(outbox::enqueue_statement(Placeholders::Format), "SELECT postato_enqueue(%s, %s, %s, %s)");
    assert_eq!(outbox::enqueue_statement(Placeholders::Question), "SELECT postato_enqueue(?, ?, ?, ?)");
    assert_eq!(
        outbox::enqueue_statement(Placeholders::Named),
        "SELECT postato_enqueue(:business_key, :fingerprint, :payload, :not_before_ms)"
    );
}

#[tokio::test]
async fn workers_claim_disjoint_due_rows_and_a_lapsed_lease_frees_a_row() {
    let Some((store, app)) = setup("outbox_claims").await else { return };
    for i in 0..10 {
        enqueue(&app, &post(&format!("row-{i}"), "hello"), None).await.unwrap();
    }
    let later = Timestamp::from_millis(u64::MAX / 2);
    enqueue(&app, &post("later", "hello"), Some(later)).await.unwrap();
    let (a, b) = tokio::join!(
        store.outbox_claim("a", Duration::from_secs(60), 6),
        store.outbox_claim("b", Duration::from_secs(60), 6)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 10, "every due row, the later one not: {a:?} {b:?}");
    assert!(a.iter().all(|row| b.iter().all(|other| other.business_key != row.business_key)), "disjoint");
    assert!(store.outbox_claim("c", Duration::from_secs(60), 10).await.unwrap().is_empty(), "all held");

    store.outbox_done(&a[0], "a", true).await.unwrap();
    store.outbox_done(&a[1], "someone-else", true).await.unwrap();
    store.outbox_release(&a[2], "a", Duration::ZERO, false).await.unwrap();
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.published, counts.pending, counts.claimed), (1, 10, 8), "{counts:?}");
    let again = store.outbox_claim("c", Duration::from_millis(50), 10).await.unwrap();
    assert_eq!(again.len(), 1);
    // Put back without a failure (its key held, say), the first take is not a delivery.
    assert_eq!((again[0].business_key.as_str(), again[0].deliveries), (a[2].business_key.as_str(), 1));
    tokio::time::sleep(Duration::from_millis(80)).await;
    let lapsed = store.outbox_claim("d", Duration::from_secs(60), 10).await.unwrap();
    assert_eq!(lapsed.len(), 1, "c's lease lapsed: d takes the row");
    // c's late marks change nothing: the row is d's delivery now.
    assert!(!store.outbox_renew(&again[0], "c", Duration::from_secs(60)).await.unwrap());
    store.outbox_done(&again[0], "c", true).await.unwrap();
    assert_eq!(store.outbox_counts().await.unwrap().published, 1);
    assert!(store.outbox_renew(&lapsed[0], "d", Duration::from_secs(60)).await.unwrap());
    assert_eq!(store.outbox_release_all("b").await.unwrap(), b.len() as u64);
}

#[tokio::test]
async fn a_listener_is_woken_by_the_commit_not_before() {
    let Some((store, mut app)) = setup("outbox_listen").await else { return };
    let listener = store.outbox_listen().await.unwrap();
    let tx = app.transaction().await.unwrap();
    enqueue(&tx, &post("notified", "hello"), None).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), listener.notified()).await;
    assert!(early.is_err(), "no wake before the commit");
    tx.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), listener.notified()).await.expect("woken by the commit");
    assert!(listener.is_listening());
}

#[tokio::test]
async fn a_listener_whose_connection_ends_wakes_its_next_wait_at_once() {
    let Some((store, app)) = setup("outbox_listen_end").await else { return };
    let listener = store.outbox_listen().await.unwrap();
    let ended: i64 = app
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND query = 'LISTEN postato_outbox'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(ended, 1, "the listener's backend was ended");
    let started = std::time::Instant::now();
    while listener.is_listening() {
        assert!(started.elapsed() < Duration::from_secs(10), "the listener never saw its connection end");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Nobody waited when the connection ended: its wake-up was kept for this wait (a worker
    // that read `is_listening` just before the end must not sleep a whole poll).
    tokio::time::timeout(Duration::from_secs(1), listener.notified()).await.expect("woken by the connection's end");
}
