//! The outbox and `postato worker`, as a service runs them: posts enqueued by an application's
//! transactions (committed or rolled back) and by `postato enqueue` are published once each;
//! the worker serves its metrics and health, logs JSON, and drains on SIGTERM (exit 0). Then
//! the proof: a fake application enqueues in its own transactions while workers are SIGKILLed
//! at random; afterwards every committed business row has exactly one published post, every
//! rolled-back one none.
use postato::{idempotency_key, Post, PostStatus};
use postato_postgres::outbox::enqueue;
use postato_postgres::testing::fresh_database;
use postato_postgres::PostgresStore;
use postato_sim::{FaultRates, SimConfig, Simulator, SimulatorHandle};
use std::time::{Duration, Instant};

mod common;
use common::*;

fn post(key: &str) -> Post {
    Post::new(key, "x", format!("acc_{}", key.len() % 3), PostStatus::Publish, "post", format!("hello from {key}"))
}

fn worker(url: &str, sim: &SimulatorHandle, extra: &[&str]) -> tokio::process::Child {
    let mut args: Vec<String> = ["worker", "--store", url, "--concurrency", "8", "--lease-ms", "2000"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
    args.extend(connection(sim).into_iter().filter(|flag| flag != "--fast-forward-waits"));
    tokio::process::Command::new(BIN)
        .args(&args)
        .env_remove("POSTATO_LOG")
        .env("POSTATO_AUDIT_CLAIMS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// The application's connection, with a table of its own beside the outbox.
async fn application(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute("CREATE TABLE IF NOT EXISTS app_posts (id TEXT PRIMARY KEY)").await.unwrap();
    client
}

/// One business row and its post, in one transaction, committed or rolled back.
async fn app_transaction(app: &mut tokio_postgres::Client, key: &str, commit: bool) {
    let tx = app.transaction().await.unwrap();
    tx.execute("INSERT INTO app_posts (id) VALUES ($1)", &[&key]).await.unwrap();
    enqueue(&tx, &post(key), None).await.unwrap();
    if commit {
        tx.commit().await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
}

/// Waits until `count` rows are done; past `limit`, fails naming the rows still pending.
async fn wait_published(store: &PostgresStore, url: &str, count: u64, limit: Duration) {
    let started = Instant::now();
    while store.outbox_counts().await.unwrap().published + store.outbox_counts().await.unwrap().dead_lettered < count {
        if started.elapsed() > limit {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let left: Vec<(String, i32, i64)> = client
                .query(
                    "SELECT business_key, deliveries, not_before_ms FROM postato_outbox WHERE state = 'pending'",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            panic!(
                "not drained: {:?}; pending (key, deliveries, not before): {left:?}",
                store.outbox_counts().await.unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Where the worker serves its metrics, from the line it writes on stderr.
async fn metrics_address(stderr: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>) -> String {
    loop {
        let line = stderr.next_line().await.unwrap().expect("the worker says where its metrics are");
        if let Some(rest) = line.strip_prefix("metrics: http://") {
            return rest.split('/').next().unwrap().to_owned();
        }
    }
}

async fn http_get(addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_publishes_what_was_committed_once_serves_its_health_and_drains_on_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let Some(url) = fresh_database("outbox_worker").await else { return };
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let store = PostgresStore::connect(&url, 2).await.unwrap();
    let mut app = application(&url).await;
    let committed: Vec<String> = (0..20).map(|i| format!("tx-{i}")).collect();
    let rolled_back: Vec<String> = (0..10).map(|i| format!("rolled-back-{i}")).collect();
    for key in &committed {
        app_transaction(&mut app, key, true).await;
    }
    for key in &rolled_back {
        app_transaction(&mut app, key, false).await;
    }
    // A campaign file into the same outbox; one of its lines repeats a committed key with
    // another post (refused), one is not a post.
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("campaign.jsonl");
    let campaign_keys: Vec<String> = (0..30).map(|i| format!("file-{i}")).collect();
    let mut lines: Vec<String> = campaign_keys.iter().map(|k| post_line(k, "c")).collect();
    lines.push(post_line("tx-0", "other content"));
    lines.push("not a post".to_owned());
    std::fs::write(&campaign, lines.join("\n") + "\n").unwrap();
    let output = postato(&["enqueue", campaign.to_str().unwrap(), "--store", &url, "--output", "json"], None).await;
    assert_eq!(code(&output), 2, "two lines refused: {}", String::from_utf8_lossy(&output.stderr));
    let summary = json_line(&output);
    assert_eq!((summary["enqueued"].as_u64(), summary["refused"].as_u64()), (Some(30), Some(2)), "{summary}");
    let again = postato(&["enqueue", campaign.to_str().unwrap(), "--store", &url, "--output", "json"], None).await;
    assert_eq!(json_line(&again)["alreadyEnqueued"], 30, "enqueueing the same file again is a no-op");

    // A poll of a minute: only the commit's notification can wake the worker in time.
    let mut child = worker(&url, &sim, &["--metrics", "127.0.0.1:0", "--log-format", "json", "--poll-ms", "60000"]);
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = metrics_address(&mut stderr).await;
    let logs = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Ok(Some(line)) = stderr.next_line().await {
            lines.push(line);
        }
        lines
    });
    wait_published(&store, &url, 50, Duration::from_secs(60)).await;
    assert_eq!(http_get(&addr, "/healthz").await.0, 200);
    let (status, metrics) = http_get(&addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains(r#"postato_publishes_total{outcome="published"} 50"#), "{metrics}");

    // An idle worker is woken by the next commit (LISTEN/NOTIFY), not by its minute's poll.
    let started = Instant::now();
    app_transaction(&mut app, "woken", true).await;
    wait_published(&store, &url, 51, Duration::from_secs(30)).await;
    println!("outbox: an idle worker published a committed post {} ms after the commit", started.elapsed().as_millis());

    // SIGTERM with a publish in flight: it finishes, nothing new starts, the worker exits 0 and
    // holds no row.
    sim.script_business_key("in-flight", vec![postato_sim::ScriptAction::SlowCommit { ms: 1_500 }]);
    sim.script_business_key("after-stop", vec![postato_sim::ScriptAction::Ok]);
    app_transaction(&mut app, "in-flight", true).await;
    while store.outbox_counts().await.unwrap().claimed == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = nix_pid(&child);
    unsafe { libc::kill(pid, libc::SIGTERM) };
    tokio::time::sleep(Duration::from_millis(100)).await;
    app_transaction(&mut app, "after-stop", true).await;
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait()).await.expect("drained in time").unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(sim.platform_publishes_for("in-flight"), 1, "the publish in flight finished");
    assert_eq!(sim.platform_publishes_for("after-stop"), 0, "nothing new started after the stop");
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.claimed, counts.published), (1, 0, 52), "{counts:?}");
    let logs = logs.await.unwrap();
    let json: Vec<serde_json::Value> = logs.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(json.iter().any(|l| l["fields"]["outcome"] == "published"), "JSON log lines: {logs:?}");
    assert!(json.iter().any(|l| l["fields"]["message"] == "postato worker: stopped"), "{logs:?}");
    assert!(logs.iter().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "only JSON lines: {logs:?}");

    for key in committed.iter().chain(&campaign_keys).chain(std::iter::once(&"woken".to_owned())) {
        assert_eq!(sim.platform_publishes_for(key), 1, "{key} published once");
    }
    for key in &rolled_back {
        assert_eq!(sim.platform_publishes(&idempotency_key(key)), 0, "{key} rolled back: never published");
    }
    let status = postato(&["status", "--store", &url, "--output", "json"], None).await;
    let counts = json_line(&status);
    assert_eq!((counts["published"].as_u64(), counts["outbox"]["pending"].as_u64()), (Some(52), Some(1)), "{counts}");
}

/// A TCP hop between the worker and PostgreSQL that can be cut (every connection through it
/// closed, new ones closed at once) and mended: the database, unreachable and back.
struct Hop {
    addr: std::net::SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Hop {
    async fn to(target: String) -> Hop {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let open = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (is_cut, connections) = (cut.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                // The flag is read under the lock `cut` drains the connections with: a
                // connection accepted while it runs is either dropped here or aborted there.
                let mut open = connections.lock().unwrap();
                if is_cut.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                open.push(task.abort_handle());
            }
        });
        Hop { addr, cut, open }
    }

    fn cut(&self) {
        let mut open = self.open.lock().unwrap();
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for connection in open.drain(..) {
            connection.abort();
        }
    }

    fn mend(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_cut_off_from_its_database_is_unhealthy_then_listens_again_once_it_is_back() {
    use tokio::io::AsyncBufReadExt;
    let Some(url) = fresh_database("outbox_cut").await else { return };
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let store = PostgresStore::connect(&url, 2).await.unwrap();
    let mut app = application(&url).await;
    // postgres://user@HOST:PORT/db: the worker reaches the same database through the hop.
    let (scheme_user, rest) = url.split_once('@').unwrap();
    let (server, database) = rest.split_once('/').unwrap();
    let hop = Hop::to(server.to_owned()).await;
    let through_hop = format!("{scheme_user}@{}/{database}", hop.addr);
    // A poll of a minute: a post published within seconds was woken by a notification.
    let mut child = worker(&through_hop, &sim, &["--metrics", "127.0.0.1:0", "--poll-ms", "60000"]);
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = metrics_address(&mut stderr).await;
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    app_transaction(&mut app, "before-the-cut", true).await;
    wait_published(&store, &url, 1, Duration::from_secs(20)).await;
    assert_eq!(http_get(&addr, "/healthz").await.0, 200);

    hop.cut();
    let health = |expected: u16| {
        let addr = addr.clone();
        async move {
            let started = Instant::now();
            while http_get(&addr, "/healthz").await.0 != expected {
                assert!(started.elapsed() < Duration::from_secs(30), "/healthz never answered {expected}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    health(503).await;
    // Committed while the worker cannot see the database: published once it can.
    app_transaction(&mut app, "during-the-cut", true).await;
    hop.mend();
    health(200).await;
    // A store call under way when the database came back may still be waiting out its own
    // limit (10 s); the worker claims again after it, well within its minute's poll.
    wait_published(&store, &url, 2, Duration::from_secs(45)).await;
    // Listening again (its LISTEN connection open anew), well before its minute's poll.
    let started = Instant::now();
    loop {
        let listening: i64 = app
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN postato_outbox'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if listening == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(45), "the worker never listened again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app_transaction(&mut app, "after-the-cut", true).await;
    wait_published(&store, &url, 3, Duration::from_secs(20)).await;
    for key in ["before-the-cut", "during-the-cut", "after-the-cut"] {
        assert_eq!(sim.platform_publishes_for(key), 1, "{key} published once");
    }
    unsafe { libc::kill(nix_pid(&child), libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait()).await.expect("stopped").unwrap();
    assert_eq!(status.code(), Some(0));
}

fn nix_pid(child: &tokio::process::Child) -> i32 {
    child.id().expect("running") as i32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_crash_test_every_committed_row_is_published_once_despite_sigkills() {
    const ROWS: usize = 600;
    const KILLS: usize = 8;
    let Some(url) = fresh_database("outbox_crash").await else { return };
    let faults = FaultRates {
        server_error: 0.05,
        drop_after_commit: 0.05,
        latency: 0.3,
        latency_ms: 20,
        ..FaultRates::default()
    };
    let sim = Simulator::start(SimConfig { faults, seed: 11, ..SimConfig::default() }).await.unwrap();
    let store = PostgresStore::connect(&url, 2).await.unwrap();
    let started = Instant::now();
    // The application: a transaction per business row, one in five rolled back, while the
    // workers run; it is "killed" too (its transaction in flight dropped) every 100 rows.
    let app_url = url.clone();
    let application_task = tokio::spawn(async move {
        let mut app = application(&app_url).await;
        let (mut committed, mut rolled_back) = (Vec::new(), Vec::new());
        for i in 0..ROWS {
            let key = format!("row-{i:04}");
            if i % 100 == 99 {
                // A crash mid-transaction: the connection goes, the transaction with it.
                let tx = app.transaction().await.unwrap();
                tx.execute("INSERT INTO app_posts (id) VALUES ($1)", &[&key]).await.unwrap();
                enqueue(&tx, &post(&key), None).await.unwrap();
                drop(tx);
                drop(app);
                app = application(&app_url).await;
                rolled_back.push(key);
                continue;
            }
            let commit = i % 5 != 0;
            app_transaction(&mut app, &key, commit).await;
            if commit {
                committed.push(key)
            } else {
                rolled_back.push(key)
            }
            if i % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        }
        (committed, rolled_back)
    });
    // Two workers, one of them SIGKILLed and restarted KILLS times at random moments.
    // As many attempts as the workers test gives its runs: a post the faults fail five times in a
    // row would wait 30 s (then 60 s) for its next delivery, past the drain's limit.
    let attempts = ["--max-attempts", "12"];
    let mut steady = worker(&url, &sim, &attempts);
    let mut kills = 0;
    let mut seed: u64 = 0x9e37_79b9;
    while kills < KILLS {
        let mut victim = worker(&url, &sim, &attempts);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(150 + seed % 500)).await;
        victim.start_kill().unwrap();
        victim.wait().await.unwrap();
        kills += 1;
    }
    let (committed, rolled_back) = application_task.await.unwrap();
    wait_published(&store, &url, committed.len() as u64, Duration::from_secs(180)).await;
    steady.start_kill().unwrap();
    let _ = steady.wait().await;

    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let retaken: i64 =
        admin.query_one("SELECT count(*) FROM postato_outbox WHERE deliveries > 1", &[]).await.unwrap().get(0);
    let publishes = sim.publishes();
    let mut once = 0;
    let (mut lost, mut twice, mut leaked) = (Vec::new(), Vec::new(), Vec::new());
    for key in &committed {
        match publishes.get(&idempotency_key(key)).copied().unwrap_or(0) {
            1 => once += 1,
            0 => lost.push(key.clone()),
            _ => twice.push(key.clone()),
        }
    }
    for key in &rolled_back {
        if publishes.get(&idempotency_key(key)).copied().unwrap_or(0) > 0 {
            leaked.push(key.clone());
        }
    }
    println!(
        "outbox: {} committed, {once} published once, {} lost, {} twice, {KILLS} kills ({} rolled back, {} of them published; {retaken} rows taken again after a kill; {:.1} s)",
        committed.len(),
        lost.len(),
        twice.len(),
        rolled_back.len(),
        leaked.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(retaken > 0, "a kill landed while a worker held a row");
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(twice.is_empty(), "published twice: {twice:?}");
    assert!(leaked.is_empty(), "rolled back yet published: {leaked:?}");
    assert!(sim.stats().duplicate_keys.is_empty());
    assert_eq!(once, committed.len());
    // Two workers never held a key's claim at once (the simulator would hide a second send).
    let overlaps = store.overlapping_claims().await.unwrap();
    assert!(overlaps.is_empty(), "two live claims on one key: {overlaps:?}");
}
