//! Printing results: one JSON line or a line of text per result, and errors in the same form.

use postato::{PublishError, Published};
use serde_json::json;

use crate::args::Output;

/// Prints a successful publish.
pub fn published(output: Output, published: &Published, from_store: bool) {
    match output {
        Output::Json => println!(
            "{}",
            json!({"ok": true, "id": published.id, "status": published.status, "attempts": published.attempts, "replayed": published.replayed})
        ),
        Output::Text if from_store => {
            println!("already published: {} ({}), no request sent", published.id, published.status)
        }
        Output::Text => println!(
            "published: {} ({}) after {} attempt(s){}",
            published.id,
            published.status,
            published.attempts,
            if published.replayed { ", answered by the server's replay" } else { "" }
        ),
    }
}

/// Prints a failed publish (JSON on stdout, text on stderr).
pub fn failed(output: Output, error: &PublishError) {
    match output {
        Output::Json => println!(
            "{}",
            json!({"ok": false, "kind": error.kind().as_str(), "status": error.status(), "message": error.to_string()})
        ),
        Output::Text => eprintln!("error ({}): {error}", error.kind()),
    }
}

/// Prints a failure that is not a publish error (a file, a store).
pub fn fatal(output: Output, message: &str) {
    match output {
        Output::Json => println!("{}", json!({"ok": false, "kind": "error", "status": null, "message": message})),
        Output::Text => eprintln!("error: {message}"),
    }
}
