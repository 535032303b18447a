//! Printing problems and summaries, coloured only on terminals.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use crossgate::policy::{Problem, Severity};

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const DIM: Style = Style::new().dimmed();
pub const GOOD: Style = AnsiColor::Green.on_default().bold();
pub const BOLD: Style = Style::new().bold();

/// One line per problem: `error[code]: field = value: why (fix: what to write)`.
pub fn problem_line(out: &mut impl Write, problem: &Problem) -> io::Result<()> {
    let (style, level) = match problem.severity {
        Severity::Error => (ERROR, "error"),
        Severity::Warning => (WARNING, "warning"),
    };
    write!(
        out,
        "{style}{level}{style:#}{DIM}[{}]{DIM:#}: ",
        problem.code.as_str()
    )?;
    if !problem.field.is_empty() {
        write!(out, "{BOLD}{}{BOLD:#}", problem.field)?;
        if !problem.value.is_empty() {
            write!(out, " = {}", shown_value(&problem.value))?;
        }
        write!(out, ": ")?;
    }
    write!(out, "{}", problem.message)?;
    if !problem.fix.is_empty() {
        write!(out, " {DIM}(fix: {}){DIM:#}", problem.fix)?;
    }
    writeln!(out)
}

/// Errors first, then warnings, each in the order found.
pub fn sorted(problems: &[Problem]) -> Vec<&Problem> {
    let mut sorted: Vec<&Problem> = problems.iter().collect();
    sorted.sort_by_key(|p| std::cmp::Reverse(p.severity));
    sorted
}

/// Writes a one-line failure reason to stderr (`crossgate: ...`).
pub fn error_line(reason: &str) -> io::Result<()> {
    let mut err = anstream::stderr();
    writeln!(err, "{ERROR}crossgate:{ERROR:#} {reason}")
}

/// Writes a one-line warning to stderr (`crossgate: warning: ...`): the command goes on.
pub fn warning_line(text: &str) -> io::Result<()> {
    let mut err = anstream::stderr();
    writeln!(err, "{WARNING}crossgate: warning:{WARNING:#} {text}")
}

/// Counts in words: "1 error", "3 warnings".
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// A value as it would be written in the file: strings quoted; numbers, booleans and lists as
/// they are.
fn shown_value(value: &str) -> String {
    let literal = value.parse::<f64>().is_ok()
        || value == "true"
        || value == "false"
        || value.starts_with('[')
        || value.starts_with('{');
    if literal {
        value.to_owned()
    } else {
        format!("{value:?}")
    }
}
