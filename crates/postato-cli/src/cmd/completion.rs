//! `postato completion`: prints the completion script of a shell (clap_complete's), for the
//! shell to load; docs/cli.md says where each shell looks for it.

use clap::Args;
use clap_complete::Shell;

use crate::exit;

/// Print the completion script for a shell on stdout (`postato completion --help` says where
/// each shell looks for it).
#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the script for `command` (the whole `postato` command line).
pub fn run(args: &CompletionArgs, mut command: clap::Command) -> u8 {
    // Generated whole before it is written: clap_complete panics on a failed write, and a
    // reader that stops early (`| head`) is no reason to.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "postato", &mut script);
    crate::terminal::print_out(format_args!("{}", String::from_utf8_lossy(&script)));
    exit::SUCCESS
}
