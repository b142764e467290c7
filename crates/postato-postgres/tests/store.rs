//! PostgresStore against a real server: claims and leases, records, dead letters, schema.
use postato::store::Begin;
use postato::{DeadLetter, PublishedRecord, ResultStore};
use postato_postgres::testing::fresh_database;
use postato_postgres::PostgresStore;
use std::time::Duration;

fn record(key: &str) -> PublishedRecord {
    PublishedRecord {
        business_key: key.into(),
        idempotency_key: postato::idempotency_key(key),
        fingerprint: "f".into(),
        post_id: format!("post_{key}"),
        status: "published".into(),
        attempts: 1,
        replayed: false,
        published_at_ms: 1,
    }
}

fn letter(key: &str, kind: &str) -> DeadLetter {
    DeadLetter {
        business_key: key.into(),
        kind: kind.into(),
        status: Some(503),
        message: "down".into(),
        body: None,
        attempts: 5,
        failed_at_ms: 2,
        payload: Some("{}".into()),
        line: Some(7),
    }
}

#[tokio::test]
async fn claims_hold_other_workers_until_released_or_expired() {
    let Some(url) = fresh_database("claims").await else { return };
    let store = PostgresStore::connect(&url, 4).await.unwrap().with_audit(true);
    assert_eq!(store.begin("k", "w1", Duration::from_millis(300)).await.unwrap(), Begin::Claimed);
    let Begin::HeldByOther { expires_in } = store.begin("k", "w2", Duration::from_secs(5)).await.unwrap() else {
        panic!("w1 holds k")
    };
    assert!(expires_in <= Duration::from_millis(300));
    assert_eq!(
        store.begin("k", "w1", Duration::from_millis(300)).await.unwrap(),
        Begin::Claimed,
        "a worker may re-claim its own key"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(store.renew("k", "w1", Duration::from_secs(1)).await.is_err(), "an expired claim is not renewed");
    assert_eq!(
        store.begin("k", "w2", Duration::from_secs(5)).await.unwrap(),
        Begin::Claimed,
        "an expired lease is taken over"
    );
    store.renew("k", "w2", Duration::from_secs(5)).await.unwrap();
    store.release("k", "w2").await.unwrap();
    assert_eq!(store.begin("k", "w3", Duration::from_secs(5)).await.unwrap(), Begin::Claimed);
    assert!(store.overlapping_claims().await.unwrap().is_empty());
}

#[tokio::test]
async fn records_release_claims_and_replace_dead_letters() {
    let Some(url) = fresh_database("records").await else { return };
    let store = PostgresStore::connect(&url, 4).await.unwrap();
    assert_eq!(store.begin("a", "w1", Duration::from_secs(5)).await.unwrap(), Begin::Claimed);
    store.record_dead_letter(&letter("a", "transient"), "w1").await.unwrap();
    assert_eq!(
        store.begin("a", "w2", Duration::from_secs(5)).await.unwrap(),
        Begin::Claimed,
        "a dead letter releases the claim"
    );
    store.record_published(&record("a"), "w2").await.unwrap();
    assert_eq!(store.begin("a", "w3", Duration::from_secs(5)).await.unwrap(), Begin::Published(record("a")));
    assert!(store.dead_letters(None, 10).await.unwrap().is_empty(), "publishing clears the dead letter");
    for (k, kind) in [("b", "permanent"), ("c", "transient"), ("d", "permanent")] {
        store.record_dead_letter(&letter(k, kind), "w").await.unwrap();
    }
    let page = store.dead_letters(None, 2).await.unwrap();
    assert_eq!(page.iter().map(|l| l.business_key.as_str()).collect::<Vec<_>>(), ["b", "c"]);
    assert_eq!(page[0].line, Some(7));
    assert_eq!(store.dead_letters(Some("c"), 10).await.unwrap().len(), 1);
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.published, counts.dead_letters, counts.dead_letters_by_kind["permanent"]), (1, 3, 2));
    assert!(store.remove_dead_letter("b").await.unwrap());
    assert_eq!(store.published("a").await.unwrap().unwrap().post_id, "post_a");
}

#[tokio::test]
async fn many_workers_starting_at_once_create_the_schema_once_and_newer_schemas_are_refused() {
    let Some(url) = fresh_database("schema").await else { return };
    let starts = (0..6).map(|_| {
        let url = url.clone();
        async move { PostgresStore::connect(&url, 2).await }
    });
    for store in futures_join(starts).await {
        store.unwrap();
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let versions: i64 = client.query_one("SELECT count(*) FROM postato_schema", &[]).await.unwrap().get(0);
    assert_eq!(versions, 1);
    client.execute("INSERT INTO postato_schema (version) VALUES (99)", &[]).await.unwrap();
    let error = PostgresStore::connect(&url, 2).await.unwrap_err();
    assert!(error.to_string().contains("newer"), "{error}");
    assert!(PostgresStore::connect("not a url", 2).await.unwrap_err().to_string().contains("invalid PostgreSQL URL"));
    assert!(!format!("{:?}", PostgresStore::lazy("postgres://u:hunter2@h/db", 1).unwrap()).contains("hunter2"));
}

#[tokio::test]
async fn a_version_2_database_upgrades_in_place_and_keeps_its_records() {
    let Some(url) = fresh_database("upgrade").await else { return };
    let store = PostgresStore::connect(&url, 2).await.unwrap();
    assert_eq!(store.begin("kept", "a", std::time::Duration::from_secs(60)).await.unwrap(), Begin::Claimed);
    store.release("kept", "a").await.unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    // What postato wrote before deferrals: schema version 2, no postato_deferred.
    client.batch_execute("DROP TABLE postato_deferred; UPDATE postato_schema SET version = 2").await.unwrap();
    client
        .execute("INSERT INTO postato_published VALUES ('kept', 'ik', 'fp', 'post_1', 'published', 1, false, 1)", &[])
        .await
        .unwrap();
    let upgraded = PostgresStore::connect(&url, 2).await.unwrap();
    assert!(matches!(
        upgraded.begin("kept", "b", std::time::Duration::from_secs(60)).await.unwrap(),
        Begin::Published(_)
    ));
    assert_eq!(upgraded.counts().await.unwrap().deferred, 0, "it holds deferrals now");
    let version: i32 = client.query_one("SELECT max(version) FROM postato_schema", &[]).await.unwrap().get(0);
    assert_eq!(version, postato_postgres::SCHEMA_VERSION);
}

async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_publisher_over_postgres_publishes_once_and_skips_after() {
    let Some(url) = fresh_database("publisher").await else { return };
    let sim = postato_sim::Simulator::start(postato_sim::SimConfig::default()).await.unwrap();
    let client =
        postato::Client::builder().api_key(sim.api_key()).workspace_id("ws").base_url(sim.base_url()).build().unwrap();
    let store = PostgresStore::connect(&url, 4).await.unwrap();
    let publisher = postato::Publisher::new(client, store);
    let post = postato::Post::new("pg-1", "x", "a", postato::PostStatus::Publish, "post", "hi");
    assert!(!publisher.publish(&post).await.unwrap().from_store);
    assert!(publisher.publish(&post).await.unwrap().from_store);
    assert_eq!(sim.platform_publishes_for("pg-1"), 1);
}

#[tokio::test]
async fn the_postgres_store_keeps_the_claim_protocol() {
    let Some(url) = fresh_database("conformance").await else { return };
    let store = PostgresStore::connect(&url, 4).await.unwrap().with_audit(true);
    postato::store::conformance::check_store(std::sync::Arc::new(store.clone()), "postgres").await;
    assert!(store.overlapping_claims().await.unwrap().is_empty());
}

/// A TCP proxy in front of PostgreSQL that can go down like a restarting server: every
/// connection cut, new ones refused, until it comes back.
struct Proxy {
    addr: std::net::SocketAddr,
    up: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, _) = tokio::sync::watch::channel(true);
        let state = up.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut up = state.subscribe();
                if !*up.borrow() {
                    continue; // refused: dropped at once
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = up.wait_for(|up| !*up) => {} // cut
                    }
                });
            }
        });
        Proxy { addr, up }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

#[tokio::test]
async fn a_database_restart_is_ridden_out_and_the_result_recorded() {
    let Some(url) = fresh_database("outage").await else { return };
    // postgres://user@host:port/db → the same through the proxy.
    let (scheme_user, rest) = url.split_once('@').unwrap();
    let (host_port, database) = rest.split_once('/').unwrap();
    let proxy = Proxy::start(host_port.to_owned()).await;
    let store = PostgresStore::connect(&format!("{scheme_user}@{}/{database}", proxy.addr), 2).await.unwrap();
    assert_eq!(store.begin("k", "w", Duration::from_secs(60)).await.unwrap(), Begin::Claimed);
    proxy.set_up(false);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let restart = async {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        proxy.set_up(true);
    };
    let published = record("k");
    let (recorded, ()) = tokio::join!(store.record_published(&published, "w"), restart);
    recorded.expect("recorded once the database was back");
    assert_eq!(store.published("k").await.unwrap(), Some(record("k")));
}
