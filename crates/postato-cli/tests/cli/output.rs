//! What every command prints and exits with: `--quiet`, colour, a closed stdout, a store that cannot be
//! opened, the exit-code table, and nothing a server echoes.
use postato_sim::{ScriptAction, SimConfig, Simulator};
use serde_json::Value;

use crate::common::*;
use crate::respond;

/// `postato sim` (with `flags` first) until SIGTERM: what it printed on stderr, and its exit code.
async fn sim_stderr(flags: &[&str]) -> (String, i32) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(BIN)
        .args(flags.iter().chain(&["sim"]))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = stdout.next_line().await.unwrap().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "the URL still comes first: {url}");
    let id = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &id]).status().unwrap().success());
    let output = child.wait_with_output().await.unwrap();
    (String::from_utf8_lossy(&output.stderr).into_owned(), code(&output))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_leaves_out_progress_and_notices_but_not_warnings_errors_or_results() {
    // Progress: a plain line every 2 s off a terminal, so a batch made to take 3 s shows one.
    let faults = postato_sim::FaultRates { latency: 1.0, latency_ms: 500, ..Default::default() };
    let sim = Simulator::start(SimConfig { faults, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut summaries = Vec::new();
    for (run, quiet) in [("loud", &[][..]), ("quiet", &["--quiet"][..])] {
        let campaign = dir.path().join(format!("{run}.jsonl"));
        write_campaign(&campaign, &(0..6).map(|i| format!("{run}-{i}")).collect::<Vec<_>>());
        let store = dir.path().join(format!("{run}.db"));
        let args: Vec<String> = quiet
            .iter()
            .map(|flag| flag.to_string())
            .chain(
                batch_args(&campaign, store.to_str().unwrap(), 1, &[], &sim)
                    .into_iter()
                    .filter(|a| a != "--no-progress"),
            )
            .collect();
        let output = postato(&strings(&args), None).await;
        assert_eq!(code(&output), 0, "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(stderr.contains("progress:"), quiet.is_empty(), "{run}: {stderr:?}");
        let summary = json_line(&output);
        summaries.push((summary["published"].clone(), summary["ok"].clone()));
    }
    assert_eq!(summaries[0], summaries[1], "the same results on stdout");
    assert_eq!(summaries[0], (Value::from(6), Value::from(true)));

    // Notices: the simulator's banner; its URL on stdout is unchanged.
    let (banner, status) = sim_stderr(&[]).await;
    assert!(banner.contains("listening"), "{banner:?}");
    assert_eq!(sim_stderr(&["-q"]).await, (String::new(), status));

    // Warnings and errors still print.
    let connection = connection(&sim);
    let post =
        ["publish", "--quiet", "--business-key", "q-past", "--platform", "x", "--account", "a", "--content", "c"];
    let past =
        postato(&[&post[..], &["--scheduled-at", "2020-01-01T00:00:00Z"], &strings(&connection)].concat(), None).await;
    assert_eq!(code(&past), 0, "{past:?}");
    assert!(String::from_utf8_lossy(&past.stderr).contains("is in the past"), "{past:?}");
    sim.script_business_key("q-perm", vec![respond(400, &[])]);
    let post = ["publish", "-q", "--business-key", "q-perm", "--platform", "x", "--account", "a", "--content", "c"];
    let failed = postato(&[&post[..], &strings(&connection)].concat(), None).await;
    assert_eq!(code(&failed), 3);
    let errors = String::from_utf8_lossy(&failed.stderr).into_owned();
    assert!(errors.lines().any(|line| line.starts_with("error (permanent): ")), "{errors}");
    let both = postato(&["--quiet", "--verbose", "status"], None).await;
    assert_eq!(code(&both), 2, "--quiet and --verbose contradict each other");
}

/// Where a command writes what a test looks at.
#[derive(Clone, Copy, Debug)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn of(self, output: &std::process::Output) -> &[u8] {
        match self {
            Stream::Stdout => &output.stdout,
            Stream::Stderr => &output.stderr,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_and_a_non_empty_no_color_turn_off_every_colour() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let connection = connection(&sim);
    let past = ["publish", "--business-key", "past", "--platform", "x", "--account", "a", "--content", "c"];
    let past: Vec<&str> = [&past[..], &["--scheduled-at", "2020-01-01T00:00:00Z"], &strings(&connection)].concat();
    // Clap's help (stdout) and usage errors (stderr), and a warning logged by postato (stderr).
    let cases = [
        ("help", &["--help"][..], Stream::Stdout),
        ("usage error", &["publish", "--bogus"][..], Stream::Stderr),
        ("warning", &past[..], Stream::Stderr),
    ];
    let coloured = |bytes: &[u8]| String::from_utf8_lossy(bytes).contains("\x1b[");
    for (what, args, stream) in cases {
        let stream = |output| stream.of(output);
        let forced = postato_env(args, None, &[("CLICOLOR_FORCE", "1")]).await;
        assert!(coloured(stream(&forced)), "{what}: coloured when forced: {forced:?}");
        let empty = postato_env(args, None, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]).await;
        assert!(coloured(stream(&empty)), "{what}: an empty NO_COLOR is no request (no-color.org)");
        let flag: Vec<&str> = ["--no-color"].into_iter().chain(args.iter().copied()).collect();
        let plain = postato_env(&flag, None, &[("CLICOLOR_FORCE", "1")]).await;
        assert!(!coloured(stream(&plain)) && !stream(&plain).is_empty(), "{what}: --no-color: {plain:?}");
        let plain = postato_env(args, None, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).await;
        assert!(!coloured(stream(&plain)) && !stream(&plain).is_empty(), "{what}: NO_COLOR=1: {plain:?}");
        assert_eq!(code(&plain), code(&forced), "{what}: the same exit code");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_every_command_quietly_with_141() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (campaign, store) = (dir.path().join("c.jsonl"), dir.path().join("s.db"));
    std::fs::write(&campaign, format!("{}\n{{not json\n", post_line("pipe-1", "hello"))).unwrap();
    let store = store.to_str().unwrap();
    let connection = connection(&sim);
    let post = ["--business-key", "pipe-2", "--platform", "x", "--account", "a", "--content", "c"];
    let connected = |args: &[&str]| -> Vec<String> {
        args.iter().map(|a| a.to_string()).chain(connection.iter().cloned()).collect()
    };
    let owned = |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.to_string()).collect() };
    // The batch first: it leaves a dead letter for `dlq list` to print.
    let commands = [
        connected(&["batch", campaign.to_str().unwrap(), "--store", store, "--no-progress"]),
        connected(&[&["publish"][..], &post].concat()),
        connected(&[&["publish", "--output", "json"][..], &post].concat()),
        owned(&["key", "a", "b"]),
        owned(&["dlq", "list", "--store", store]),
        owned(&["dlq", "list", "--store", store, "--output", "json"]),
        owned(&["status", "--store", store]),
        owned(&["status", "--store", store, "--output", "json"]),
        owned(&["completion", "bash"]),
        owned(&["sim"]),
        owned(&["demo"]),
        owned(&["--help"]),
    ];
    for args in &commands {
        let output = postato_into_closed_pipe(&strings(args)).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(matches!(code(&output), 0 | 141), "{args:?} exited {}: {stderr}", code(&output));
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    }
    assert_eq!(sim.platform_publishes_for("pipe-1"), 1, "the batch ran to its end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_opened_exits_1_in_every_command_and_a_blank_one_2() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("c.jsonl");
    write_campaign(&campaign, &["k".to_owned()]);
    let unwritable = "/nonexistent/dir/x.db";
    // A port where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = format!("postgres://postato@127.0.0.1:{port}/postato");
    let connection = connection(&sim);
    let post = ["--business-key", "k", "--platform", "x", "--account", "a", "--content", "c"];
    let commands = |store: &str| -> Vec<Vec<String>> {
        let with = |args: &[&str], connected: bool| -> Vec<String> {
            let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            all.extend(["--store".to_owned(), store.to_owned(), "--output".to_owned(), "json".to_owned()]);
            if connected {
                all.extend(connection.iter().cloned());
            }
            all
        };
        vec![
            with(&["status"], false),
            with(&["dlq", "list"], false),
            with(&["dlq", "retry"], true),
            with(&[&["publish"][..], &post].concat(), true),
            with(&["batch", campaign.to_str().unwrap(), "--no-progress"], true),
        ]
    };
    for store in [unwritable, &unreachable] {
        for args in commands(store) {
            let output = postato(&strings(&args), None).await;
            assert_eq!(code(&output), 1, "{args:?}: {output:?}");
            let v = json_line(&output);
            assert_eq!((v["kind"].as_str(), v["attempts"].as_u64()), (Some("error"), Some(0)), "{args:?}: {v}");
            assert!(v["message"].as_str().unwrap().starts_with("--store: "), "{v}");
        }
    }
    for args in commands(" ") {
        let output = postato(&strings(&args), None).await;
        assert_eq!(code(&output), 2, "{args:?}: {output:?}");
        let message = json_line(&output)["message"].as_str().unwrap().to_owned();
        assert!(message.starts_with("invalid setting: --store: is empty"), "{message}");
    }
    assert_eq!(sim.stats().requests, 0, "nothing was sent");
}

/// The exit codes as `(code, meaning)`, from `text` between "Exit codes:" and "(run again to
/// finish)", items split by `separator`, backticks and line breaks ignored.
fn exit_codes(text: &str, separator: &str) -> Vec<(String, String)> {
    let start = text.find("Exit codes:").expect("an exit-code table") + "Exit codes:".len();
    let last = "a batch's results are in its store)";
    let end = text[start..].find(last).expect("its end") + start + last.len();
    let table = text[start..end].replace('`', "").split_whitespace().collect::<Vec<_>>().join(" ");
    table
        .split(separator)
        .map(|item| {
            let (code, meaning) = item.trim().split_once(' ').unwrap();
            (code.to_owned(), meaning.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_says_the_documented_exit_codes_and_the_stores_each_command_takes() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md")).unwrap();
    let help = String::from_utf8(postato(&["--help"], None).await.stdout).unwrap();
    let codes = exit_codes(&help, "; ");
    assert_eq!(codes, exit_codes(&readme, " · "));
    let listed: Vec<&str> = codes.iter().map(|(code, _)| code.as_str()).collect();
    assert_eq!(listed, ["0", "1", "2", "3", "4", "5", "6", "130", "143", "129", "141"]);
    assert_eq!(codes[1].1, "unexpected failure (such as a store that cannot be opened)");
    for command in [&["status"][..], &["dlq", "list"], &["dlq", "retry"], &["batch"], &["publish"]] {
        let help = postato(&[command, &["--help"][..]].concat(), None).await;
        let help = String::from_utf8_lossy(&help.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            help.contains("a SQLite file") && help.contains("a PostgreSQL URL (postgres://…)"),
            "{command:?}: {help}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_server_echoes_reaches_no_output_or_store_with_the_key_or_raw_escapes() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let key = sim.api_key().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("posts.db");
    let store = store.to_str().unwrap();
    let echo = ScriptAction::Respond {
        status: 400,
        headers: [("X-Echo-Authorization".to_owned(), format!("Bearer {key}"))].into(),
        body: None,
        body_text: Some(format!("Authorization: Bearer {key}\n\u{1b}[2J\u{1b}[31mFAKE LINE")),
    };
    let connection = connection(&sim);
    let post = |business_key: &'static str, output: &'static str| {
        ["publish", "--business-key", business_key, "--platform", "x", "--account", "a", "--content", "c"]
            .into_iter()
            .chain(["--store", store, "--output", output])
            .chain(strings(&connection))
            .collect::<Vec<_>>()
    };
    let mut shown = Vec::new();
    for (business_key, output) in [("echo-json", "json"), ("echo-text", "text")] {
        sim.script_business_key(business_key, vec![echo.clone()]);
        let printed = postato(&post(business_key, output), None).await;
        assert_eq!(code(&printed), 3, "{printed:?}");
        shown.push((format!("publish --output {output}"), printed));
    }
    for output in ["json", "text"] {
        shown.push((
            format!("dlq list --output {output}"),
            postato(&["dlq", "list", "--store", store, "--output", output], None).await,
        ));
    }
    // A post id that would clear the screen and forge a line.
    let forged = r#"{"id":"p1\u001b[2J\u001b[31mPWNED\nFAKE LINE","status":"published"}"#;
    let answer =
        ScriptAction::Respond { status: 201, headers: Default::default(), body: None, body_text: Some(forged.into()) };
    sim.script_business_key("escapes", vec![answer]);
    let printed = postato(&post("escapes", "text"), None).await;
    assert_eq!(String::from_utf8_lossy(&printed.stdout).lines().count(), 1, "{printed:?}");
    shown.push(("publish of an id with escapes".into(), printed));
    for (what, printed) in &shown {
        for (stream, bytes) in [("stdout", &printed.stdout), ("stderr", &printed.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains(&key), "{what}: the key on {stdout}: {text}", stdout = stream);
            let text_output = what.contains("text") || what.contains("escapes");
            assert!(!(text_output && text.contains('\u{1b}')), "{what}: a raw escape on {stream}: {text:?}");
        }
    }
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "the key is in the store's files");
    }
}
