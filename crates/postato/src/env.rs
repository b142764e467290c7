//! Settings from the environment: the variables the CLI and every language client read, with
//! one precedence everywhere (an argument, then the environment, then the default).

use postato_core::{PublishError, ValidationError};

/// The API key.
pub const API_KEY: &str = "POSTATO_API_KEY";
/// The workspace to publish into.
pub const WORKSPACE_ID: &str = "POSTATO_WORKSPACE_ID";
/// The API's base URL.
pub const BASE_URL: &str = "POSTATO_BASE_URL";
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
    }
}
