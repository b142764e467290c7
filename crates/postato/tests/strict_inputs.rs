//! Issue #17's cases through the Rust API, as a table: every setting out of its bounds and every
//! store path that would lose records is refused, naming the setting, before anything is sent.
use postato::{Client, ErrorKind, MemoryStore, Post, PostStatus, Publisher, SqliteStore, Subject};
use std::time::Duration;

fn builder() -> postato::ClientBuilder {
    Client::builder().api_key("k").workspace_id("ws").base_url("http://127.0.0.1:9")
}

#[test]
fn every_setting_out_of_its_bounds_is_refused_by_name() {
    let cases: Vec<(postato::ClientBuilder, &str)> = vec![
        (builder().workspace_id(".."), "workspaceId"),
        (builder().workspace_id("."), "workspaceId"),
        (builder().workspace_id(" "), "workspaceId"),
        (builder().base_url(""), "baseUrl"),
        (builder().max_attempts(0), "maxAttempts"),
        (builder().max_attempts(101), "maxAttempts"),
        (builder().backoff(Duration::from_secs(1_000_000_000), Duration::from_secs(1_000_000_000)), "backoffBase"),
        (builder().backoff(Duration::ZERO, Duration::from_secs(2 * 3600)), "backoffCap"),
        (builder().timeout(Duration::ZERO), "timeout"),
        (builder().timeout(Duration::from_secs(3600)), "timeout"),
        (builder().deadline(Some(Duration::from_secs(2 * 86_400))), "deadline"),
        (builder().connect_timeout(Duration::from_secs(3600)), "connectTimeout"),
    ];
    for (builder, setting) in cases {
        let Err(postato::PublishError::InvalidInput(e)) = builder.build() else { panic!("{setting} was accepted") };
        assert_eq!((e.field.as_str(), e.subject), (setting, Subject::Setting), "{e}");
        assert!(e.to_string().starts_with(&format!("invalid setting: {setting}: ")), "{e}");
        assert!(e.message.contains("give") || e.message.contains("lower"), "says what to do: {e}");
    }
}

#[tokio::test]
async fn a_publisher_with_a_lease_or_retention_out_of_bounds_sends_nothing() {
    let client = builder().build().unwrap();
    let post = Post::new("k", "x", "a", PostStatus::Publish, "post", "hi");
    for (publisher, setting) in [
        (Publisher::new(client.clone(), MemoryStore::new()).lease(Duration::from_secs(2 * 3600)), "lease"),
        (Publisher::new(client.clone(), MemoryStore::new()).key_retention(Duration::ZERO), "keyRetention"),
    ] {
        let error = publisher.publish(&post).await.unwrap_err();
        assert_eq!((error.kind(), error.field()), (ErrorKind::InvalidInput, Some(setting)));
    }
}

#[test]
fn store_paths_that_would_lose_records_or_take_another_programs_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for path in ["", " ", ":memory:"] {
        assert!(SqliteStore::open(path).is_err(), "{path:?} opened");
    }
    // Not a URI: `file::memory:` is an ordinary file name, never a temporary database.
    let uri = dir.path().join("file::memory:");
    SqliteStore::open(&uri).unwrap();
    assert!(uri.exists());
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE users (id INTEGER)").unwrap();
    let error = SqliteStore::open(&foreign).unwrap_err().to_string();
    assert!(error.contains("another program's SQLite database (tables: users)"), "{error}");
    // A postato store may hold other tables beside its own (a replication tool's, a user's).
    let ours = dir.path().join("ours.db");
    drop(SqliteStore::open(&ours).unwrap());
    rusqlite::Connection::open(&ours).unwrap().execute_batch("CREATE TABLE _litestream_seq (id INTEGER)").unwrap();
    SqliteStore::open(&ours).unwrap();
    SqliteStore::open_existing(&ours).unwrap();
    let missing = dir.path().join("typo.db");
    assert!(SqliteStore::open_existing(&missing).unwrap_err().to_string().contains("there is no store at"));
    assert!(!missing.exists());
    // A file SQLite cannot open where it is says so, not "give a SQLite file of postato's".
    let nowhere = dir.path().join("no-such-directory/posts.db");
    let error = SqliteStore::open(&nowhere).unwrap_err().to_string();
    assert!(error.contains("unable to open database file"), "{error}");
    assert!(error.contains("check that the directory exists and that this user may write there"), "{error}");
}

#[test]
fn a_base_url_that_does_not_parse_is_never_echoed_with_its_password() {
    for url in ["https://me:hunter2 @host", "https://me:hunter2/x@host:port", "https://me:hunter2@host:99999"] {
        let error = builder().base_url(url).build().unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{url}: {error}");
    }
}
