//! `batch`: a campaign run and its rerun, the SQLite store it holds, and its metrics.
use postato_sim::{ScriptAction, SimConfig, Simulator};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::common::*;
use crate::{respond, RunningBatch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_publishes_dead_letters_resumes_and_dlq_retry_requeues() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("campaign.jsonl");
    let store = dir.path().join("batch.db");
    let mut lines: Vec<String> = (0..20).map(|i| post_line(&format!("b-{i}"), &format!("post {i}"))).collect();
    lines.insert(5, "{not json".into());
    lines.insert(
        9,
        r#"{"businessKey":"b-empty","platform":"x","accountId":"a","status":"publish","postType":"post","content":""}"#
            .into(),
    );
    std::fs::write(&campaign, lines.join("\n") + "\n").unwrap();
    sim.script_business_key("b-3", (0..3).map(|_| respond(503, &[])).collect());
    let connection = connection(&sim);
    let batch = |extra: Vec<&str>| {
        let mut args = vec![
            "batch",
            campaign.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--output",
            "json",
            "--max-attempts",
            "3",
        ];
        args.extend(extra);
        args.extend(strings(&connection));
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let output = postato(&strings(&batch(vec![])), None).await;
    let summary = json_line(&output);
    assert_eq!(code(&output), 3, "invalid lines need a fix");
    assert_eq!(
        (summary["total"].as_u64(), summary["published"].as_u64(), summary["deadLettered"].as_u64()),
        (Some(22), Some(19), Some(3))
    );
    assert_eq!(summary["deadLetteredByKind"], serde_json::json!({"invalid_input": 2, "transient": 1}));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("progress") || summary["elapsedMs"].as_u64().unwrap() < 2_000
    );

    let list = postato(&["dlq", "list", "--store", store.to_str().unwrap(), "--output", "json"], None).await;
    let letters: Vec<Value> =
        String::from_utf8(list.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(letters.len(), 3);
    let by_key: BTreeMap<&str, &Value> = letters.iter().map(|l| (l["businessKey"].as_str().unwrap(), l)).collect();
    assert_eq!(by_key["line:6"]["line"], 6);
    assert_eq!(by_key["b-empty"]["line"], 10);
    assert_eq!((by_key["b-3"]["kind"].as_str(), by_key["b-3"]["status"].as_u64()), (Some("transient"), Some(503)));

    let rerun = json_line(&postato(&strings(&batch(vec![])), None).await);
    assert_eq!(
        (rerun["alreadyPublished"].as_u64(), rerun["published"].as_u64()),
        (Some(19), Some(1)),
        "the rerun retried what was left"
    );

    let status = json_line(&postato(&["status", "--store", store.to_str().unwrap(), "--output", "json"], None).await);
    assert_eq!((status["published"].as_u64(), status["deadLettered"].as_u64()), (Some(20), Some(2)));
    assert_eq!(sim.stats().duplicate_keys.len(), 0);
    assert_eq!(sim.stats().published_keys, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_bounds_the_requests_in_flight_while_other_lines_use_the_store() {
    // Slow answers: every line's request overlaps others', so a runner that let each line in
    // flight send would show twice the concurrency here.
    let faults = postato_sim::FaultRates { latency: 1.0, latency_ms: 20, ..Default::default() };
    let sim = Simulator::start(SimConfig { faults, ..SimConfig::default() }).await.unwrap();
    let batch = RunningBatch::start(&sim, "bounded", 60, 4);
    let (output, _, _, _) = batch.output().await;
    assert_eq!(json_line(&output)["published"].as_u64(), Some(60), "{output:?}");
    let peak = sim.stats().peak_in_flight;
    assert!((2..=4).contains(&peak), "{peak} requests at once with --concurrency 4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_store_is_deleted_under_it_ends_with_an_error_not_ok() {
    let faults = postato_sim::FaultRates { latency: 1.0, latency_ms: 30, ..Default::default() };
    let sim = Simulator::start(SimConfig { faults, ..SimConfig::default() }).await.unwrap();
    let batch = RunningBatch::start(&sim, "vanish", 200, 4);
    batch.until_published(20).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", batch.store_path.display()));
    }
    let (output, _, _, _) = batch.output().await;
    let summary = json_line(&output);
    assert_eq!((code(&output), summary["ok"].as_bool()), (1, Some(false)), "{summary}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("was deleted while postato used it"), "{output:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_batch_on_a_sqlite_store_in_use_is_refused_naming_the_process_that_uses_it() {
    let faults = postato_sim::FaultRates { latency: 1.0, latency_ms: 30, ..Default::default() };
    let sim = Simulator::start(SimConfig { faults, ..SimConfig::default() }).await.unwrap();
    let batch = RunningBatch::start(&sim, "shared", 200, 4);
    batch.until_published(5).await;
    let second = postato(&strings(&batch.args), None).await;
    let said = format!("{}{}", String::from_utf8_lossy(&second.stdout), String::from_utf8_lossy(&second.stderr));
    assert_eq!(code(&second), 1, "{said}");
    let pid = batch.child.id().unwrap();
    assert!(said.contains(&format!("is in use by pid {pid}")), "{said}");
    // Reading the store beside the run is not publishing through it; requeueing is.
    let store = batch.store_path.to_str().unwrap();
    for read in [&["status", "--store", store][..], &["dlq", "list", "--store", store]] {
        let output = postato(read, None).await;
        assert_eq!(code(&output), 0, "{read:?}: {output:?}");
    }
    let mut retry = vec!["dlq".to_owned(), "retry".into(), "--store".into(), store.into()];
    retry.extend(connection(&sim));
    let refused = postato(&strings(&retry), None).await;
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(code(&refused), 1, "{refused:?}");
    assert!(said.contains(&format!("is in use by pid {pid}")), "{said}");
    let (output, _, args, _dir) = batch.output().await;
    assert_eq!(code(&output), 0, "{output:?}");
    assert_eq!((sim.stats().published_keys, sim.stats().requests), (200, 200), "nothing was sent twice");
    // Once the first run has ended, the store is free.
    let rerun = json_line(&postato(&strings(&args), None).await);
    assert_eq!(rerun["alreadyPublished"].as_u64(), Some(200), "{rerun}");
}

/// `GET /metrics` over a plain HTTP/1.0 connection: the body (`None` once the run has ended).
async fn scrape(addr: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: postato\r\n\r\n").await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_serves_its_metrics_as_prometheus_text_while_it_runs() {
    use tokio::io::AsyncBufReadExt;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<String> = ["ok", "retried", "refused", "slow"].iter().map(|k| format!("metrics-{k}")).collect();
    sim.script_business_key(&keys[1], vec![respond(503, &[]), ScriptAction::Ok]);
    sim.script_business_key(&keys[2], vec![respond(400, &[])]);
    // The last post's first request hangs 4 s (then its retry publishes): the run is still
    // going when the test scrapes what came before.
    sim.script_business_key(&keys[3], vec![ScriptAction::Hang { ms: 4000 }, ScriptAction::Ok]);
    let campaign = dir.path().join("metrics.jsonl");
    write_campaign(&campaign, &keys);
    let store = dir.path().join("metrics.db");
    let args = batch_args(&campaign, store.to_str().unwrap(), 1, &["-q", "--metrics", "127.0.0.1:0"], &sim);
    let mut child = tokio::process::Command::new(BIN)
        .args(&args)
        .env_remove("POSTATO_API_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = stderr.next_line().await.unwrap().expect("postato prints where its metrics are");
        if let Some(url) = line.strip_prefix("metrics: http://") {
            break url.trim_end_matches("/metrics").to_owned();
        }
    };
    // Scraped until the dead letter shows (the slow post is still hanging then).
    let mut text = String::new();
    for _ in 0..300 {
        text = scrape(&addr).await.expect("the run serves its metrics until it ends");
        if text.contains(r#"postato_dead_letters_total{kind="permanent"} 1"#) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for line in [
        r#"postato_publishes_total{outcome="published"} "#,
        r#"postato_publishes_total{outcome="permanent"} 1"#,
        r#"postato_dead_letters_total{kind="permanent"} 1"#,
        r#"postato_retries_total{reason="retryable_status"} 1"#,
        "# TYPE postato_attempts counter",
        "# TYPE postato_waits counter",
        "# TYPE postato_wait_duration_seconds histogram",
        "# TYPE postato_retry_budget_tokens gauge",
    ] {
        assert!(text.contains(line), "{line} is not in {text}");
    }
    let attempts: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("postato_attempts_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no attempts in {text}"));
    assert!(attempts >= 4, "{text}");
    // The Grafana dashboard reads only series this endpoint serves.
    let served: std::collections::HashSet<&str> =
        text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(['{', ' ']).next()).collect();
    let dashboard: Value = serde_json::from_str(include_str!("../../../../docs/grafana/postato.json")).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 8, "{dashboard}");
    for panel in panels {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{panel}");
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|word| word.starts_with("postato_"))
                .collect();
            assert!(!names.is_empty(), "{expr} reads no postato metric");
            for name in names {
                assert!(served.contains(name), "the dashboard reads {name}, which --metrics does not serve: {text}");
            }
        }
    }
    let output = child.wait_with_output().await.unwrap();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((summary["published"].as_u64(), summary["deadLettered"].as_u64()), (Some(3), Some(1)), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_from_a_fifo_publishes_each_line_as_it_comes_not_when_a_chunk_fills() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("campaign.fifo");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path, and a mode.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "a FIFO");
    let store = dir.path().join("fifo.db");
    let args = batch_args(&fifo, store.to_str().unwrap(), 64, &[], &sim);
    let batch = tokio::spawn(async move { postato(&strings(&args), None).await });
    // A producer that sends one line, then the next only once the first is published: a
    // reader that waited for a chunk of lines would hold the first until the end.
    let wait = std::time::Duration::from_secs(30);
    let mut options = tokio::fs::OpenOptions::new();
    let opening = options.write(true).open(&fifo);
    let mut producer = tokio::time::timeout(wait, opening).await.expect("postato opens the FIFO").unwrap();
    use tokio::io::AsyncWriteExt;
    producer.write_all(format!("{}\n", post_line("fifo-1", "first")).as_bytes()).await.unwrap();
    let published = tokio::time::timeout(wait, async {
        while sim.stats().platform_publishes < 1 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    producer.write_all(format!("{}\n", post_line("fifo-2", "second")).as_bytes()).await.unwrap();
    drop(producer);
    let output = tokio::time::timeout(wait, batch).await.expect("the batch ends with its FIFO").unwrap();
    assert!(published.is_ok(), "the first line waited for more lines before it was published");
    assert_eq!(code(&output), 0, "{output:?}");
    assert_eq!(sim.stats().platform_publishes, 2);
}
