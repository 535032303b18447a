//! `crossgate man [--dir DIR]` (CONTRACTS §8): the manual pages, generated from the command
//! line's own definition (clap_mangen) plus the sections a man page reader looks for and clap
//! does not know: exit status, environment, signals, see also.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use roff::{Roff, bold, roman};

use crate::cli::{Cli, ManArgs};
use crate::{Failure, Outcome};

pub fn run(args: &ManArgs) -> Result<Outcome, Failure> {
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    match &args.dir {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&page(&cli, None)?)?;
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure(format!("--dir {}: {e}", dir.display())))?;
            write_page(dir, &cli, None)?;
            for command in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
                write_page(dir, command, Some(cli.get_name()))?;
            }
        }
    }
    Ok(Outcome::Yes)
}

fn write_page(dir: &Path, command: &clap::Command, parent: Option<&str>) -> Result<(), Failure> {
    let page = page(command, parent)?;
    let name = command
        .get_display_name()
        .unwrap_or_else(|| command.get_name());
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    println!("{}", path.display());
    Ok(())
}

/// One page in roff: clap's sections (name, synopsis, description, options, commands, version),
/// then ours. `parent` is None for crossgate(1) itself.
fn page(command: &clap::Command, parent: Option<&str>) -> Result<Vec<u8>, Failure> {
    let man = clap_mangen::Man::new(command.clone())
        .source(format!("crossgate {}", env!("CARGO_PKG_VERSION")))
        .date(MANUAL_DATE)
        .manual("User Commands");
    let mut out = Vec::new();
    man.render(&mut out)?;
    let mut extra = Roff::new();
    let name = command.get_name();
    if parent.is_none() {
        exit_status(&mut extra);
        environment(&mut extra);
    }
    if name == "serve" || parent.is_none() {
        signals(&mut extra);
    }
    see_also(&mut extra, command, parent);
    extra.to_writer(&mut out)?;
    Ok(out)
}

/// The date the pages carry (month and year, as man pages do), moved with each release. Never
/// empty: clap_mangen writes the `.TH` fields unquoted, and an empty date shifts the others.
const MANUAL_DATE: &str = "December 2026";

fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    for (term, meaning) in [
        (
            "0",
            "The answer is yes: the policy is valid, the request is allowed, the gateway \
             served and stopped cleanly.",
        ),
        (
            "1",
            "The answer is no: the policy is invalid, the browser blocks the request, a \
             finding at or above --fail-on.",
        ),
        (
            "2",
            "No answer: bad arguments, an unreadable file, an address in use, a server that \
             could not be reached. One line on standard error says why.",
        ),
    ] {
        tagged(roff, term, meaning);
    }
}

fn environment(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    for (term, meaning) in [
        (
            "NO_COLOR",
            "When set, no colour even on a terminal (as --color never).",
        ),
        (
            "RUST_LOG",
            "The log filter of crossgate serve, e.g. info (the default), debug, or \
             crossgate::gateway=debug.",
        ),
        (
            "NOTIFY_SOCKET",
            "Set by systemd for Type=notify services: crossgate serve sends READY=1 once its \
             listeners are bound, RELOADING=1 and READY=1 around each SIGHUP reload, and \
             STOPPING=1 when it starts draining.",
        ),
        (
            "WATCHDOG_USEC",
            "Set by systemd's WatchdogSec=: crossgate serve sends WATCHDOG=1 from its runtime \
             every half interval.",
        ),
    ] {
        tagged(roff, term, meaning);
    }
}

fn signals(roff: &mut Roff) {
    roff.control("SH", ["SIGNALS"]);
    roff.text([roman("crossgate serve handles:")]);
    for (term, meaning) in [
        (
            "SIGHUP",
            "Reload the configuration file. A configuration with errors is refused, logged, \
             and the one in force keeps serving.",
        ),
        (
            "SIGINT, SIGTERM",
            "Stop accepting connections, let in-flight requests finish, then exit 0.",
        ),
    ] {
        tagged(roff, term, meaning);
    }
}

/// A tagged paragraph: the term in bold, its meaning indented below.
fn tagged(roff: &mut Roff, term: &str, meaning: &str) {
    roff.control("TP", []);
    roff.text([bold(term)]);
    roff.text([roman(meaning)]);
}

fn see_also(roff: &mut Roff, command: &clap::Command, parent: Option<&str>) {
    roff.control("SH", ["SEE ALSO"]);
    let mut pages: Vec<String> = match parent {
        Some(parent) => vec![parent.to_owned()],
        None => command
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_display_name().unwrap_or(c.get_name()).to_owned())
            .collect(),
    };
    if parent.is_none() {
        pages.sort();
    }
    let mut inlines = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        if i > 0 {
            inlines.push(roman(", "));
        }
        inlines.push(bold(page.as_str()));
        inlines.push(roman("(1)"));
    }
    roff.text(inlines);
    roff.control("PP", []);
    roff.text([roman(
        "The WHATWG Fetch standard, whose CORS protocol crossgate implements: \
         https://fetch.spec.whatwg.org/#http-cors-protocol",
    )]);
}
