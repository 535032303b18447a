//! `crossgate simulate [FILE|-] [--json] [--browser ...]` (CONTRACTS §3).

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Args;
use crossgate_playground::simulate::{Simulated, simulate};

use crate::browsers::BrowserArg;
use crate::{Failure, Outcome, render};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The simulation (JSON: origin, request, responses); `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Whose behaviour to simulate.
    #[arg(long, value_enum, default_value_t = BrowserArg::Chromium)]
    pub browser: BrowserArg,
}

pub fn run(args: &SimulateArgs) -> Result<Outcome, Failure> {
    let text = match &args.file {
        Some(path) if path.as_os_str() != "-" => std::fs::read_to_string(path)
            .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?,
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Failure(format!("cannot read standard input: {e}")))?;
            text
        }
    };
    let simulated = simulate(&text, args.browser.into()).map_err(|e| Failure(e.0))?;
    if args.json {
        std::io::stdout()
            .lock()
            .write_all(simulated.to_json().as_bytes())?;
    } else {
        let mut out = anstream::stdout();
        match &simulated {
            Simulated::One(report) => render::report(&mut out, report, false)?,
            Simulated::Steps(reports) => {
                for (i, report) in reports.iter().enumerate() {
                    writeln!(out, "step {}:", i + 1)?;
                    render::report(&mut out, report, false)?;
                }
            }
        }
    }
    Ok(if simulated.allowed() {
        Outcome::Yes
    } else {
        Outcome::No
    })
}
