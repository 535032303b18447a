//! `crossgate`: CORS by the Fetch standard, from the command line.
//!
//! Exit codes (CONTRACTS): 0 the answer is yes (valid, served and stopped cleanly), 1 the answer
//! is no (an invalid policy), 2 the command could not answer (bad arguments, unreadable file,
//! address in use), with a one-line reason on stderr.

mod audit;
mod browsers;
mod check;
mod cli;
mod completions;
mod explain;
mod har;
mod healthcheck;
mod lint;
mod manual;
mod origin;
mod playground;
mod render;
mod report;
mod serve;
mod simulate;
#[cfg(unix)]
mod supervisor;
/// Outside Unix there is no `NOTIFY_SOCKET` to tell.
#[cfg(not(unix))]
mod supervisor {
    pub fn ready(_status: &str) {}
    pub fn reloading() {}
    pub fn stopping() {}
    pub fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
        None
    }
}

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

use cli::{Cli, Command};

/// How a command ended, mapped onto the exit codes every command shares.
pub enum Outcome {
    Yes,
    No,
}

/// A failure to answer: printed as one line on stderr, exit code 2. A closed stdout (the
/// reader went away, as with `| head`) ends the command quietly instead.
pub struct Failure(pub String);

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Failure(String::new())
        } else {
            Failure(e.to_string())
        }
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        match e.io_error_kind() {
            Some(kind) => Failure::from(std::io::Error::from(kind)),
            None => Failure(e.to_string()),
        }
    }
}

impl From<toml::ser::Error> for Failure {
    fn from(e: toml::ser::Error) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.color.write_global();
    let result = match cli.command {
        Command::Lint(args) => lint::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Origin(args) => origin::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Har(args) => har::run(&args),
        Command::Playground(args) => playground::run(&args),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => manual::run(&args),
        Command::Healthcheck(args) => healthcheck::run(&args),
    };
    match result {
        Ok(Outcome::Yes) => ExitCode::SUCCESS,
        Ok(Outcome::No) => ExitCode::from(1),
        Err(Failure(reason)) => {
            if !reason.is_empty() {
                let _ = report::error_line(&reason);
            }
            ExitCode::from(2)
        }
    }
}
