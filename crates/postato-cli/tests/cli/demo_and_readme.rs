//! The simulator, the demo and the completion scripts, run as the README and docs/cli.md show them.
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_prints_its_base_url_first_and_serves_until_stopped() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(BIN)
        .args(["sim", "--port", "0", "--server-error-rate", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next_line().await.unwrap().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let output = postato(
        &[
            "publish",
            "--output",
            "json",
            "--base-url",
            &url,
            "--api-key",
            "sk_test_postato",
            "--workspace",
            "w",
            "--business-key",
            "via-sim",
            "--platform",
            "x",
            "--account",
            "a",
            "--content",
            "c",
        ],
        None,
    )
    .await;
    assert_eq!(code(&output), 0);
    child.kill().await.unwrap();
    let bad = postato(&["sim", "--server-error-rate", "2"], None).await;
    assert_eq!(code(&bad), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_verifies_exactly_once_with_nothing_lost() {
    // The demo keeps its store in a new directory under TMPDIR: this test's own.
    let tmp = tempfile::tempdir().unwrap();
    let output = postato_env(&["demo", "--output", "json"], None, &[("TMPDIR", tmp.path().to_str().unwrap())]).await;
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    let v = json_line(&output);
    assert_eq!((v["ok"].as_bool(), v["duplicates"].as_u64(), v["lost"].as_u64()), (Some(true), Some(0), Some(0)));
    assert!(v["posts"].as_u64().unwrap() >= 300);
    assert!(v["faultsInjected"].as_u64().unwrap() > 20);
    assert_eq!(v["published"], v["publishedExactlyOnce"]);
    let kinds: Vec<&str> = v["deadLetters"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"invalid_input") && kinds.contains(&"permanent"), "{kinds:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("in the past"), "the demo schedules nothing in the past, whatever the day: {stderr}");
    let store = std::path::Path::new(v["store"].as_str().unwrap());
    assert!(store.starts_with(tmp.path()), "{store:?}");
    let listed = postato(&["dlq", "list", "--store", store.to_str().unwrap(), "--output", "json"], None).await;
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), kinds.len(), "{listed:?}");
}

/// A line of the demo's output with what varies from run to run left out: the store's
/// directory, and every number (counts, times, the simulator's port).
fn invariant(line: &str) -> String {
    let line = match line.split_once("--store=") {
        Some((before, after)) => {
            format!("{before}--store STORE{}", after.split_once("/demo.db").map_or(after, |(_, rest)| rest))
        }
        None => line.to_owned(),
    };
    let mut kept = String::new();
    for (i, c) in line.char_indices() {
        match c.is_ascii_digit() {
            true if line[..i].ends_with(|p: char| p.is_ascii_digit()) => {}
            true => kept.push('#'),
            false => kept.push(c),
        }
    }
    kept
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_what_the_readme_shows_and_its_hint_lists_the_dead_letters() {
    let shown = readme_block("README.md", "text", "postato demo: publishing");
    let tmp = tempfile::tempdir().unwrap();
    let output = postato_env(&["demo"], None, &[("TMPDIR", tmp.path().to_str().unwrap())]).await;
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    // Every line the README shows, in its order; a run may add a dead letter of its own (a
    // post whose every attempt met a fault: the faults fall differently in each run), and
    // nothing else.
    let mut expected = shown.lines().map(invariant).peekable();
    for line in printed.lines().map(invariant) {
        if expected.peek() == Some(&line) {
            expected.next();
        } else {
            let a_dead_letter = line.starts_with("  dead-lettered (") || line.starts_with("    ");
            assert!(a_dead_letter, "the demo printed {line:?}, which the README's sample output does not show");
        }
    }
    let missing: Vec<String> = expected.collect();
    assert!(missing.is_empty(), "the README's sample output shows lines the demo did not print: {missing:?}");
    // The hint, run as printed, lists the dead letters the summary counts.
    let hint = printed.lines().find_map(|line| line.trim().strip_prefix("inspect them with `")).unwrap();
    let command: Vec<&str> = hint.trim_end_matches('`').split(' ').collect();
    assert_eq!(command[..3], ["postato", "dlq", "list"], "{hint}");
    let counted: usize =
        printed.lines().find_map(|line| line.trim().strip_prefix("dead letters: ")).unwrap().parse().unwrap();
    let listed = postato(&command[1..], None).await;
    assert_eq!(code(&listed), 0, "{listed:?}");
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), counted, "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_prints_a_script_for_each_shell_and_refuses_others() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = postato(&["completion", shell], None).await;
        assert_eq!(code(&output), 0, "{shell}: {output:?}");
        let script = String::from_utf8(output.stdout).unwrap();
        for word in ["postato", "batch", "publish", "no-color"] {
            assert!(script.contains(word), "{shell}'s script names {word}");
        }
    }
    let unknown = postato(&["completion", "tcsh"], None).await;
    assert_eq!(code(&unknown), 2);
    let error = String::from_utf8_lossy(&unknown.stderr);
    assert!(error.contains("[possible values: bash, elvish, fish, powershell, zsh]"), "{error}");
    // Where bash is, the script loads and registers the completion.
    let Ok(bash) = std::process::Command::new("bash")
        .args(["-c", &format!("source <({BIN} completion bash) && complete -p postato")])
        .output()
    else {
        return;
    };
    assert!(String::from_utf8_lossy(&bash.stdout).contains("-F _postato postato"), "{bash:?}");
}

/// The first ````language` block of `page` (a Markdown file, from the repository's root) that
/// contains `marker`.
fn readme_block(page: &str, language: &str, marker: &str) -> String {
    let readme = std::fs::read_to_string(format!("{}/../../{page}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let fence = format!("```{language}\n");
    let block = readme.split(&fence).skip(1).map(|rest| rest.split("```").next().unwrap()).find(|b| b.contains(marker));
    block.unwrap_or_else(|| panic!("{page} has a ```{language} block with {marker}")).to_owned()
}

/// The ```sh block of `page` that contains `marker`, run as written by `sh -eu` with `postato`
/// on the PATH, in a fresh HOME (its working directory too) and no POSTATO_* variable: its
/// output. The block runs in a process
/// group of its own, killed whole after 60 s or once it ends, so that a background process it
/// left (a simulator whose `kill` never came) can neither hang the test nor outlive it.
fn run_readme_block(page: &str, marker: &str, home: &std::path::Path) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let block = readme_block(page, "sh", marker);
    let bin_dir = std::path::Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = std::process::Command::new("sh");
    command.args(["-eu", "-c", &block]).current_dir(home).env("HOME", home).env("PATH", path);
    for variable in ["POSTATO_API_KEY", "POSTATO_WORKSPACE_ID", "POSTATO_BASE_URL", "POSTATO_LOG"] {
        command.env_remove(variable);
    }
    command.process_group(0).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = command.spawn().unwrap();
    let group = child.id() as i32;
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    let ended = outcome.recv_timeout(std::time::Duration::from_secs(60));
    // SAFETY: a plain signal to the block's own process group.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    let output = match ended {
        Ok(output) => output,
        Err(_) => outcome.recv().unwrap(),
    };
    output.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_s_local_recipe_publishes_once_and_replays() {
    let home = tempfile::tempdir().unwrap();
    let output = run_readme_block("README.md", "postato sim > sim.url", home.path());
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "two publishes: {stdout}");
    assert!(lines[0].starts_with("published: post_") && !lines[0].contains("replay"), "{stdout}");
    assert!(lines[1].ends_with("answered by the server's replay"), "{stdout}");
    assert!(!home.path().join("sim.url").exists(), "the block cleans up after itself");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_completion_lines_install_every_script_on_a_fresh_home() {
    let home = tempfile::tempdir().unwrap();
    let output = run_readme_block("docs/cli.md", "postato completion bash", home.path());
    assert!(output.status.success(), "{output:?}");
    for script in
        [".local/share/bash-completion/completions/postato", ".zfunc/_postato", ".config/fish/completions/postato.fish"]
    {
        let written = std::fs::read_to_string(home.path().join(script)).unwrap_or_default();
        assert!(written.contains("postato"), "{script} was not written");
    }
}
