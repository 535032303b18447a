//! `crossgate simulate [FILE|-] [--json] [--browser ...]` (CONTRACTS §3).

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Args;
use crossgate::agent::{Scenario, Sequence};

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
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure(format!("invalid simulation input: {e}")))?;
    // `{"origin", "steps": [...]}`: several fetches against one browser and its preflight cache.
    if value.get("steps").is_some() {
        let sequence: Sequence = serde_json::from_value(value)
            .map_err(|e| Failure(format!("invalid simulation input: {e}")))?;
        let reports = sequence
            .run(args.browser.into())
            .map_err(|e| Failure(format!("cannot simulate: {e}")))?;
        if args.json {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "steps": reports }))?;
            writeln!(out)?;
        } else {
            let mut out = anstream::stdout();
            for (i, report) in reports.iter().enumerate() {
                writeln!(out, "step {}:", i + 1)?;
                render::report(&mut out, report, false)?;
            }
        }
        let all = reports.iter().all(|r| r.allowed);
        return Ok(if all { Outcome::Yes } else { Outcome::No });
    }
    let scenario: Scenario = serde_json::from_value(value)
        .map_err(|e| Failure(format!("invalid simulation input: {e}")))?;
    let report = scenario
        .run(args.browser.into())
        .map_err(|e| Failure(format!("cannot simulate: {e}")))?;
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        render::report(&mut anstream::stdout(), &report, false)?;
    }
    Ok(if report.allowed {
        Outcome::Yes
    } else {
        Outcome::No
    })
}
