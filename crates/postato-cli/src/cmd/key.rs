//! `postato key`: prints each business key's idempotency key.

use clap::Args;

/// Print the idempotency key of each business key, one per line.
#[derive(Args, Debug)]
pub struct KeyArgs {
    /// Business keys
    #[arg(required = true)]
    pub business_keys: Vec<String>,
}

pub fn run(args: &KeyArgs) -> u8 {
    // Every key is checked before any is printed, so that a script never reads half a list.
    if let Some(error) = args.business_keys.iter().find_map(|key| postato::checked_idempotency_key(key).err()) {
        errln!("error (invalid_input): {}", crate::report::without_kind("invalid_input", &error.to_string()));
        return crate::exit::INVALID_INPUT;
    }
    for key in &args.business_keys {
        outln!("{}", postato::idempotency_key(key));
    }
    crate::exit::SUCCESS
}
