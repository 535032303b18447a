//! `crossgate completions bash|zsh|fish|powershell` (CONTRACTS §8): a completion script
//! generated from the command line's own definition, so it cannot fall behind it.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, Shell};
use crate::{Failure, Outcome};

pub fn run(args: &CompletionsArgs) -> Result<Outcome, Failure> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "crossgate", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(Outcome::Yes)
}
