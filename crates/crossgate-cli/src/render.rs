//! Human output of a `simulate` or `check` report: the verdict, every exchange, each browser's
//! message and what to change. Colour only on terminals (anstream).

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use crossgate::agent::Report;

const BAD: Style = AnsiColor::Red.on_default().bold();
const GOOD: Style = AnsiColor::Green.on_default().bold();
const HEAD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

/// Writes the report; `exchanges` shows every request and response in full.
pub fn report(out: &mut impl Write, report: &Report, exchanges: bool) -> io::Result<()> {
    let browser = capitalised(&report.browser);
    if report.allowed {
        writeln!(out, "{GOOD}allowed{GOOD:#} by {browser}")?;
    } else {
        writeln!(out, "{BAD}blocked{BAD:#} by {browser}")?;
    }
    if exchanges {
        for e in &report.exchanges {
            writeln!(out)?;
            writeln!(
                out,
                "{HEAD}> {} {}{HEAD:#} {DIM}({:?}){DIM:#}",
                e.request.method, e.request.url, e.kind
            )?;
            for (n, v) in &e.request.headers {
                writeln!(out, "  {n}: {v}")?;
            }
            writeln!(out, "{HEAD}< {}{HEAD:#}", e.response.status)?;
            for (n, v) in &e.response.headers {
                writeln!(out, "  {n}: {v}")?;
            }
        }
        writeln!(out)?;
    } else {
        match &report.preflight.headers {
            Some(headers) if report.preflight.sent => {
                writeln!(
                    out,
                    "  preflight: OPTIONS {}",
                    report.preflight.url.as_deref().unwrap_or("")
                )?;
                for (n, v) in headers {
                    writeln!(out, "    {n}: {v}")?;
                }
            }
            _ => writeln!(out, "  preflight: not needed")?,
        }
    }
    for (hop, origin) in report.origin_sent.iter().enumerate() {
        let origin = origin.as_deref().unwrap_or("(none)");
        if report.origin_sent.len() > 1 {
            writeln!(out, "  Origin sent (hop {}): {origin}", hop + 1)?;
        } else {
            writeln!(out, "  Origin sent: {origin}")?;
        }
    }
    for note in &report.notes {
        writeln!(out, "  note: {note}")?;
    }
    if let Some(error) = &report.error {
        let parameter = error
            .parameter
            .as_deref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        writeln!(
            out,
            "  error: {BAD}{}{BAD:#}{parameter} at the {} stage",
            error.code,
            serde_json::to_value(error.stage)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        )?;
        // The simulated browser's whole console lines where they are modelled; each other
        // browser's message for its own verdict.
        for (name, message) in [
            ("Chromium", &error.messages.chromium),
            ("Firefox", &error.messages.firefox),
            ("WebKit", &error.messages.webkit),
        ] {
            let own = name.eq_ignore_ascii_case(&report.browser) && !report.console.is_empty();
            if own {
                for (i, line) in report.console.iter().enumerate() {
                    let label = if i == 0 {
                        format!("{name}: ")
                    } else {
                        " ".repeat(name.len() + 2)
                    };
                    writeln!(out, "  {label}{line}")?;
                }
            } else {
                writeln!(
                    out,
                    "  {name}: {}",
                    message.as_deref().unwrap_or("(no CORS message)")
                )?;
            }
        }
    } else {
        let readable = if report.exposed_headers.is_empty() {
            "(none)".to_owned()
        } else {
            report.exposed_headers.join(", ")
        };
        writeln!(out, "  script can read: {readable}")?;
    }
    if let Some(x) = &report.explanation {
        writeln!(out, "  {HEAD}why:{HEAD:#} {}", x.summary)?;
        if let Some(cause) = &x.likely_cause {
            writeln!(out, "  {HEAD}likely cause:{HEAD:#} {cause}")?;
        }
        for fix in &x.fix {
            writeln!(out, "  {HEAD}fix:{HEAD:#} {fix}")?;
        }
    }
    Ok(())
}

fn capitalised(s: &str) -> String {
    match s {
        "chromium" => "Chromium".to_owned(),
        "firefox" => "Firefox".to_owned(),
        "webkit" => "WebKit".to_owned(),
        other => other.to_owned(),
    }
}
