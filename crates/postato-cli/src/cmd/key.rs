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
    for key in &args.business_keys {
        println!("{}", postato::idempotency_key(key));
    }
    crate::exit::SUCCESS
}
