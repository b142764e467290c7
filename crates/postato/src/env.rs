//! Settings from the environment: the variables the CLI and every language client read, with
//! one precedence everywhere (an argument, then the environment, then the default).

use postato_core::{PublishError, ValidationError};

/// The API key.
pub const API_KEY: &str = "POSTATO_API_KEY";
/// The workspace to publish into.
pub const WORKSPACE_ID: &str = "POSTATO_WORKSPACE_ID";
/// The API's base URL.
pub const BASE_URL: &str = "POSTATO_BASE_URL";
/// A file of CA certificates (PEM) to trust: [`ClientBuilder::ca_bundle`](crate::ClientBuilder::ca_bundle).
pub const CA_BUNDLE: &str = "POSTATO_CA_BUNDLE";
/// What to log (`error`, `warn`, `info`, `debug`, `trace`, or a `tracing` filter).
pub const LOG: &str = "POSTATO_LOG";

/// The value of environment variable `name`: `None` when unset; an error naming the variable
/// when it is set but empty or not UTF-8 (empty never means "the default": a variable
/// emptied by mistake must not send posts to the production API).
pub fn setting(name: &str) -> Result<Option<String>, PublishError> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Err(invalid(name, "is set but empty: give a value or unset it")),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(invalid(name, "is not valid UTF-8")),
    }
}

/// A setting as given, else its environment variable ([`setting`]): the precedence every
/// language client and the CLI share. The variable is not read when the setting is given.
pub fn given_or(given: Option<String>, name: &str) -> Result<Option<String>, PublishError> {
    match given {
        Some(value) => Ok(Some(value)),
        None => setting(name),
    }
}

/// The level a [`LOG`] value gives postato's own lines, read as the CLI's `tracing` filter
/// reads it: its `postato=LEVEL` directive, else its last bare level, else `warn`
/// (`hyper=warn,postato=debug` → `debug`; `info` → `info`; `off` → `off`). For the bindings,
/// which log through their language's loggers.
pub fn log_level(filter: &str) -> String {
    let directives: Vec<&str> = filter.split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
    let own = directives.iter().find_map(|d| match d.split_once('=') {
        Some((target, level)) if target.trim() == "postato" => Some(level.trim()),
        _ => None,
    });
    let bare = directives.iter().rev().find(|d| !d.contains('='));
    own.or(bare.copied()).unwrap_or("warn").to_ascii_lowercase()
}

fn invalid(name: &str, message: &str) -> PublishError {
    PublishError::InvalidInput(ValidationError::setting(name, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_is_none_and_empty_is_an_error_naming_the_variable() {
        // Variables of this test's own, so that no other test's environment is touched.
        std::env::remove_var("POSTATO_TEST_ENV_UNSET");
        assert_eq!(setting("POSTATO_TEST_ENV_UNSET").unwrap(), None);
        std::env::set_var("POSTATO_TEST_ENV_EMPTY", " ");
        let error = setting("POSTATO_TEST_ENV_EMPTY").unwrap_err();
        assert!(error.to_string().contains("POSTATO_TEST_ENV_EMPTY"), "{error}");
        std::env::set_var("POSTATO_TEST_ENV_SET", "ws_1");
        assert_eq!(setting("POSTATO_TEST_ENV_SET").unwrap().as_deref(), Some("ws_1"));
        assert_eq!(given_or(Some("arg".into()), "POSTATO_TEST_ENV_EMPTY").unwrap().as_deref(), Some("arg"));
        assert!(given_or(None, "POSTATO_TEST_ENV_EMPTY").is_err());
    }

    #[test]
    fn the_log_level_is_read_as_the_cli_reads_its_filter() {
        assert_eq!(log_level("hyper=warn,postato=debug"), "debug");
        assert_eq!(log_level("INFO"), "info");
        assert_eq!(log_level("hyper=warn"), "warn");
        assert_eq!(log_level("off"), "off");
    }
}
