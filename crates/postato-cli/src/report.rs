//! Printing results: one JSON line or a line of text per result, and errors in the same form.
//! In text, each error says its kind once and each dead letter its line number once. In JSON,
//! every error object says how many requests were sent (`attempts`), and a `rate_limited` one
//! how long the server asked to wait (`retryAfterMs`); one about an answer of the server adds
//! that answer's request id (`requestId`), which the text form names too.

use postato::{DeadLetter, PublishError, Published, Subject};
use serde_json::json;

use crate::args::{self, Output};
use crate::campaign;
use crate::terminal::printable;

/// Prints a successful publish.
pub fn published(output: Output, published: &Published, from_store: bool) {
    match output {
        Output::Json => outln!(
            "{}",
            json!({"ok": true, "id": published.id, "status": published.status, "attempts": published.attempts, "replayed": published.replayed, "requestId": published.request_id})
        ),
        Output::Text if from_store => {
            outln!(
                "already published: {} ({}), no request sent",
                printable(&published.id),
                printable(&published.status)
            )
        }
        Output::Text => outln!(
            "published: {} ({}) after {} attempt(s){}",
            printable(&published.id),
            printable(&published.status),
            published.attempts,
            if published.replayed { ", answered by the server's replay" } else { "" }
        ),
    }
}

/// An error's message, a setting named by its flag (`invalid setting: --max-attempts: …`).
pub fn message(error: &PublishError) -> String {
    match error {
        PublishError::InvalidInput(e) if e.subject == Subject::Setting => match args::flag_for(&e.field) {
            Some(flag) => e.named(flag),
            None => e.to_string(),
        },
        other => other.to_string(),
    }
}

/// A failed publish as its JSON error object.
pub fn error_object(error: &PublishError) -> serde_json::Value {
    let mut object = json!({
        "ok": false,
        "kind": error.kind().as_str(),
        "status": error.status(),
        "message": message(error),
        "attempts": error.attempts(),
    });
    if let Some(wait) = error.retry_after() {
        object["retryAfterMs"] = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).into();
    }
    if let Some(id) = error.request_id() {
        object["requestId"] = id.into();
    }
    object
}

/// Prints a failed publish (JSON on stdout, text on stderr).
pub fn failed(output: Output, error: &PublishError) {
    let message = message(error);
    match output {
        Output::Json => outln!("{}", error_object(error)),
        Output::Text => {
            let kind = error.kind();
            let request = error.request_id().map(|id| format!(" (request id {})", printable(id))).unwrap_or_default();
            errln!("error ({kind}): {}{request}", printable(without_kind(kind.as_str(), &message)))
        }
    }
}

/// Prints a publish stopped by `signal` before it ended: what was sent is unknown (`attempts`
/// null), and publishing again with the same business key is safe.
pub fn interrupted(output: Output, signal: &str) {
    let message = format!(
        "stopped by {signal} before the publish ended; the post may or may not exist, and publishing again with the same business key is safe"
    );
    failed_without_answer(output, "cancelled", &message, None);
}

/// Prints an invalid input found before any publish (a flag out of its bounds), as an
/// `invalid_input` error.
pub fn fatal_invalid(output: Output, message: &str) {
    failed_without_answer(output, "invalid_input", message, Some(0));
}

/// Prints a failure that is not a publish error and came before any request (a file, a store).
pub fn fatal(output: Output, message: &str) {
    failed_without_answer(output, "error", message, Some(0));
}

/// Prints a run (`batch`, `dlq retry`) that failed part way: its requests were not counted, so
/// `attempts` is null.
pub fn run_failed(output: Output, message: &str) {
    failed_without_answer(output, "error", message, None);
}

/// A failure no answer of the server is behind (`status` null), of `kind` (`error` when it is
/// no publish error's kind), after `attempts` requests (null when they were not counted).
fn failed_without_answer(output: Output, kind: &str, message: &str, attempts: Option<u32>) {
    match output {
        Output::Json => {
            outln!("{}", json!({"ok": false, "kind": kind, "status": null, "message": message, "attempts": attempts}))
        }
        Output::Text if kind == "error" => errln!("error: {}", printable(message)),
        Output::Text => errln!("error ({kind}): {}", printable(message)),
    }
}

/// `message` without the words that restate `kind` beside it: `permanent failure: the server
/// answered 403…` is shown as `permanent: the server answered 403…`, and `invalid post: status:
/// …` (or `not a post: invalid post: …`, as earlier versions recorded it) as `invalid_input:
/// status: …`.
pub fn without_kind<'a>(kind: &str, message: &'a str) -> &'a str {
    let spoken = kind.replace('_', " ");
    // "transient failure after 3 attempt(s)", "deadline exceeded after …", "cancelled after …"
    // lose their kind words too, leaving "after 3 attempt(s)".
    let mut prefixes =
        vec![format!("{spoken} failure: "), format!("{spoken}: "), format!("{spoken} failure "), format!("{spoken} ")];
    if kind == postato::ErrorKind::InvalidInput.as_str() {
        prefixes.extend(["not a post: ".to_owned(), "invalid post: ".to_owned()]);
    }
    let mut rest = message;
    while let Some(shorter) = prefixes.iter().find_map(|prefix| rest.strip_prefix(prefix.as_str())) {
        rest = shorter;
    }
    rest
}

/// A dead letter as one JSON object, its key as [`campaign::shown_key`] says it and, for a line
/// without a business key, its `campaign` beside it.
pub fn dead_letter_json(letter: &DeadLetter) -> serde_json::Value {
    let mut json = serde_json::to_value(letter).unwrap_or_default();
    if let (Some((campaign, _)), Some(object)) = (campaign::line_of_key(&letter.business_key), json.as_object_mut()) {
        object.insert("businessKey".into(), campaign::shown_key(&letter.business_key).into());
        object.insert("campaign".into(), campaign.into());
    }
    json
}

/// A dead letter on one line of text: `business-key: kind: line N: message`, each said once. A
/// line without a business key is named by its campaign and line: `kind: line N of FILE:
/// message` (by its line alone when an earlier postato recorded it as `line:N`).
pub fn dead_letter(letter: &DeadLetter) -> String {
    let recorded_as_line = letter.line.is_some_and(|line| letter.business_key == format!("line:{line}"));
    let (key, line) = match campaign::line_of_key(&letter.business_key) {
        Some((campaign, line)) => (String::new(), format!("line {line} of {}: ", printable(campaign))),
        None if recorded_as_line => (String::new(), format!("line {}: ", letter.line.unwrap_or_default())),
        None => (
            format!("{}: ", printable(&letter.business_key)),
            letter.line.map(|line| format!("line {line}: ")).unwrap_or_default(),
        ),
    };
    let message = printable(without_kind(&letter.kind, &letter.message));
    format!("{key}{}: {line}{message}", printable(&letter.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(business_key: &str, kind: &str, message: &str, line: Option<u64>) -> DeadLetter {
        DeadLetter {
            business_key: business_key.into(),
            kind: kind.into(),
            status: None,
            message: message.into(),
            body: None,
            attempts: 0,
            failed_at_ms: 0,
            payload: None,
            line,
        }
    }

    #[test]
    fn a_dead_letter_says_its_kind_and_line_once() {
        let bad_status = letter("b", "invalid_input", "status: unknown status \"now\"", Some(151));
        assert_eq!(dead_letter(&bad_status), "b: invalid_input: line 151: status: unknown status \"now\"");
        let keyless =
            letter(&campaign::line_key("/c.jsonl", 151), "invalid_input", "post: not valid JSON: EOF", Some(151));
        assert_eq!(dead_letter(&keyless), "invalid_input: line 151 of /c.jsonl: post: not valid JSON: EOF");
        let recorded_earlier =
            letter("line:7", "invalid_input", "not a post: invalid post: status: unknown status", Some(7));
        assert_eq!(dead_letter(&recorded_earlier), "invalid_input: line 7: status: unknown status");
        let permanent = letter("p", "permanent", "permanent failure: the server answered 403", None);
        assert_eq!(dead_letter(&permanent), "p: permanent: the server answered 403");
        let limited = letter("r", "rate_limited", "rate limited: the server asked to wait 3s", Some(2));
        assert_eq!(dead_letter(&limited), "r: rate_limited: line 2: the server asked to wait 3s");
        let transient = letter("t", "transient", "transient failure after 3 attempt(s): 503", None);
        assert_eq!(dead_letter(&transient), "t: transient: after 3 attempt(s): 503");
        let late = letter("d", "deadline_exceeded", "deadline exceeded after 2 attempt(s) (last: 503)", None);
        assert_eq!(dead_letter(&late), "d: deadline_exceeded: after 2 attempt(s) (last: 503)");
    }
}
