//! `crossgate har FILE.har [--json] [--browser B]` (CONTRACTS §8): every CORS request of a
//! browser's network log, judged again on what was recorded, as the engine that recorded it
//! and as the other two.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anstyle::{AnsiColor, Style};
use clap::Args;
use crossgate::agent::explain::ByStack;
use crossgate::agent::{CredentialsMode, ErrorCode};
use crossgate::browser::Browser;
use crossgate::har::{Har, Judged, Options, Preflight, Recorded, Report, Verdict};
use serde::Serialize;

use crate::browsers::BrowserArg;
use crate::{Failure, Outcome};

#[derive(Debug, Args)]
pub struct HarArgs {
    /// The network log, as the browser's developer tools export it ("Save all as HAR");
    /// `-` reads standard input.
    #[arg(value_name = "FILE.har")]
    pub file: PathBuf,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Judge as this engine (default: the one that recorded the file, from `log.creator`).
    #[arg(long, value_enum)]
    pub browser: Option<BrowserArg>,
    /// The `credentials` the page's fetch() calls pass, for requests that sent no cookies:
    /// the log does not show it, and where the verdict depends on it, it is undetermined
    /// without this.
    #[arg(long, value_enum, value_name = "MODE")]
    pub credentials: Option<CredentialsArg>,
}

/// `fetch()`'s `credentials` option.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum CredentialsArg {
    Omit,
    SameOrigin,
    Include,
}

impl From<CredentialsArg> for CredentialsMode {
    fn from(c: CredentialsArg) -> CredentialsMode {
        match c {
            CredentialsArg::Omit => CredentialsMode::Omit,
            CredentialsArg::SameOrigin => CredentialsMode::SameOrigin,
            CredentialsArg::Include => CredentialsMode::Include,
        }
    }
}

#[derive(Debug, Serialize)]
struct Document {
    file: String,
    /// The engine whose tools wrote the file, as `log.creator` and `log.browser` name it.
    recorded_by: Option<&'static str>,
    creator: Option<String>,
    /// The engine the verdicts are for.
    judged_as: &'static str,
    summary: Summary,
    requests: Vec<Request>,
}

#[derive(Debug, Serialize)]
struct Summary {
    entries: usize,
    cross_origin: usize,
    allowed: usize,
    blocked: usize,
    undetermined: usize,
    /// Blocked requests grouped by error, most frequent first.
    by_cause: Vec<Cause>,
    /// Requests another engine judges differently on the same answers.
    differ_in_other_engines: usize,
    /// Requests that went out without a preflight of their own: answered from the cache.
    cached_preflight: usize,
}

#[derive(Debug, Serialize)]
struct Cause {
    code: &'static str,
    count: usize,
    entries: Vec<usize>,
    summary: String,
}

#[derive(Debug, Serialize)]
struct Request {
    entry: usize,
    url: Option<String>,
    method: Option<String>,
    origin: Option<String>,
    /// The engine whose tools wrote the log, as it names itself (null where it does not).
    recorded_by: Option<&'static str>,
    /// The engine `verdict` is for: the recorder, or `--browser`.
    judged_as: &'static str,
    verdict: &'static str,
    code: Option<&'static str>,
    /// The error under the other credentials mode, where the log does not tell it.
    alternatives: Vec<&'static str>,
    stage: Option<&'static str>,
    missing: Vec<String>,
    fix: Vec<String>,
    /// Each engine's verdict on the same recorded answers (the judged one's is `verdict`).
    other_engines: BTreeMap<&'static str, &'static str>,
    /// Every entry the verdict rests on: the request, its redirect hops, its preflights.
    entries: Vec<usize>,
    /// The headers script set, as far as the log shows.
    headers: Vec<String>,
    cookies_sent: bool,
    /// `sent`, `cached` (from the preflight in `preflight_entries`), `unrecorded` (needed,
    /// not in the log, yet the request went out), `not-needed`.
    preflight: &'static str,
    preflight_entries: Vec<usize>,
    /// What the log shows: `completed`, `failed` (with `recorded_error`), `not-answered`.
    recorded: &'static str,
    recorded_error: Option<String>,
    /// The console message the engine prints.
    message: Option<String>,
    summary: Option<String>,
    likely_causes: Vec<String>,
    fix_by_stack: Option<ByStack>,
    other_engine_details: BTreeMap<&'static str, EngineDetail>,
    notes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct EngineDetail {
    verdict: &'static str,
    code: Option<&'static str>,
    message: Option<String>,
    missing: Vec<String>,
}

fn request(j: &Judged, recorded_by: Option<Browser>) -> Request {
    let own = &j.judgement;
    let recorded_error = match &j.recorded {
        Recorded::Failed(e) => Some(e.clone()),
        _ => None,
    };
    let mut entries: Vec<usize> = std::iter::once(j.fetch.entry)
        .chain(j.fetch.hops.iter().copied())
        .chain(j.fetch.preflights.iter().copied())
        .collect();
    entries.sort_unstable();
    Request {
        entry: j.fetch.entry,
        url: j.fetch.url.clone(),
        method: j.fetch.method.clone(),
        origin: j.fetch.origin.clone(),
        recorded_by: recorded_by.map(Browser::id),
        judged_as: own.browser.id(),
        verdict: own.verdict.as_str(),
        code: own.code.map(ErrorCode::as_str),
        alternatives: own.alternatives.iter().map(|c| c.as_str()).collect(),
        stage: own.stage.map(|s| s.as_str()),
        missing: own.missing.clone(),
        fix: own
            .explanation
            .as_ref()
            .map(|e| e.fix.clone())
            .unwrap_or_default(),
        other_engines: std::iter::once(own)
            .chain(&j.other_engines)
            .map(|o| (o.browser.id(), o.verdict.as_str()))
            .collect(),
        entries,
        headers: j.fetch.headers.iter().map(ToString::to_string).collect(),
        cookies_sent: j.fetch.cookies_sent,
        preflight: own.preflight.as_str(),
        preflight_entries: own.preflight.entries(),
        recorded: j.recorded.as_str(),
        recorded_error,
        message: own.message.clone(),
        summary: own.explanation.as_ref().map(|e| e.summary.clone()),
        likely_causes: own
            .explanation
            .as_ref()
            .map(|e| e.likely_causes.clone())
            .unwrap_or_default(),
        fix_by_stack: own.explanation.as_ref().map(|e| e.fix_by_stack.clone()),
        other_engine_details: j
            .other_engines
            .iter()
            .map(|o| {
                (
                    o.browser.id(),
                    EngineDetail {
                        verdict: o.verdict.as_str(),
                        code: o.code.map(ErrorCode::as_str),
                        message: o.message.clone(),
                        missing: o.missing.clone(),
                    },
                )
            })
            .collect(),
        notes: j.notes.clone(),
    }
}

fn summary(report: &Report) -> Summary {
    let count = |v: Verdict| {
        report
            .requests
            .iter()
            .filter(|r| r.judgement.verdict == v)
            .count()
    };
    let mut by_cause: Vec<Cause> = Vec::new();
    for r in &report.requests {
        let (Verdict::Blocked, Some(code)) = (r.judgement.verdict, r.judgement.code) else {
            continue;
        };
        let code = code.as_str();
        match by_cause.iter_mut().find(|c| c.code == code) {
            Some(c) => {
                c.count += 1;
                c.entries.push(r.fetch.entry);
            }
            None => by_cause.push(Cause {
                code,
                count: 1,
                entries: vec![r.fetch.entry],
                summary: r
                    .judgement
                    .explanation
                    .as_ref()
                    .map(|e| e.summary.clone())
                    .unwrap_or_default(),
            }),
        }
    }
    by_cause.sort_by_key(|c| std::cmp::Reverse(c.count));
    Summary {
        entries: report.entries,
        cross_origin: report.requests.len(),
        allowed: count(Verdict::Allowed),
        blocked: count(Verdict::Blocked),
        undetermined: count(Verdict::Undetermined),
        by_cause,
        differ_in_other_engines: report.requests.iter().filter(|r| differs(r)).count(),
        cached_preflight: report
            .requests
            .iter()
            .filter(|r| matches!(r.judgement.preflight, Preflight::Cached(_)))
            .count(),
    }
}

/// Another engine reaches a definite verdict other than the recorder's.
fn differs(r: &Judged) -> bool {
    r.other_engines.iter().any(|o| {
        o.verdict != Verdict::Undetermined
            && r.judgement.verdict != Verdict::Undetermined
            && (o.verdict != r.judgement.verdict || o.code != r.judgement.code)
    })
}

/// Reads a HAR file (`-`: standard input), with a progress bar on a terminal for files large
/// enough to wait for.
pub fn read(path: &std::path::Path) -> Result<Har, Failure> {
    let name = path.display().to_string();
    let unreadable =
        |e: crossgate::har::HarError| Failure(format!("{name}: cannot be read as HAR: {e}"));
    if name == "-" {
        return Har::read(std::io::stdin().lock(), |_| {}).map_err(unreadable);
    }
    let file = std::fs::File::open(path).map_err(|e| Failure(format!("{name}: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if std::io::stderr().is_terminal() && size > 4 * 1024 * 1024 {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "reading {msg} {wide_bar} {bytes}/{total_bytes} ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(name.clone());
        Some(bar)
    } else {
        None
    };
    let har = Har::read(file, |n| {
        if let Some(bar) = &bar {
            bar.set_position(n);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    har.map_err(unreadable)
}

pub fn run(args: &HarArgs) -> Result<Outcome, Failure> {
    let har = read(&args.file)?;
    let report = har.judge_with(Options {
        browser: args.browser.map(Browser::from),
        credentials: args.credentials.map(CredentialsMode::from),
    });
    let document = Document {
        file: args.file.display().to_string(),
        recorded_by: har.recorded_by.map(Browser::id),
        creator: har
            .creator
            .name
            .as_ref()
            .map(|n| match &har.creator.version {
                Some(v) => format!("{n} {v}"),
                None => n.clone(),
            }),
        judged_as: report.browser.id(),
        summary: summary(&report),
        requests: report
            .requests
            .iter()
            .map(|r| request(r, har.recorded_by))
            .collect(),
    };
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &document)?;
        writeln!(out)?;
    } else {
        render(&mut anstream::stdout(), &report, &document)?;
    }
    Ok(if document.summary.blocked == 0 {
        Outcome::Yes
    } else {
        Outcome::No
    })
}

const BAD: Style = AnsiColor::Red.on_default().bold();
const GOOD: Style = AnsiColor::Green.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const HEAD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn line(r: &Request) -> String {
    format!(
        "entry {}: {} {} from {}",
        r.entry,
        r.method.as_deref().unwrap_or("?"),
        r.url.as_deref().unwrap_or("?"),
        r.origin.as_deref().unwrap_or("?")
    )
}

fn render(out: &mut impl Write, report: &Report, d: &Document) -> std::io::Result<()> {
    let s = &d.summary;
    let engine = report.browser.name();
    let recorded = match (d.recorded_by, &d.creator) {
        (Some(_), Some(c)) => format!("recorded by {engine} ({c})"),
        (None, Some(c)) => format!("written by {c}, judged as {engine}"),
        _ => format!("recorder not named, judged as {engine}"),
    };
    let recorded = if report.browser_from_file || d.recorded_by.is_none() {
        recorded
    } else {
        format!("{recorded}, judged as {engine} (--browser)")
    };
    writeln!(
        out,
        "{HEAD}{}{HEAD:#}: {} entries, {recorded}",
        d.file, s.entries
    )?;
    writeln!(
        out,
        "{} cross-origin requests: {GOOD}{} allowed{GOOD:#}, {BAD}{} blocked{BAD:#}, {} undetermined",
        s.cross_origin, s.allowed, s.blocked, s.undetermined
    )?;
    for c in &s.by_cause {
        let entries: Vec<String> = c.entries.iter().map(usize::to_string).collect();
        writeln!(
            out,
            "  {BAD}{}{BAD:#} x{}: {} {DIM}(entries {}){DIM:#}",
            c.code,
            c.count,
            c.summary,
            entries.join(", ")
        )?;
    }
    let blocked: Vec<&Request> = d
        .requests
        .iter()
        .filter(|r| r.verdict == "blocked")
        .collect();
    if !blocked.is_empty() {
        writeln!(out, "\n{HEAD}Blocked in {engine}{HEAD:#}")?;
        for r in blocked {
            writeln!(out, "{BAD}{}{BAD:#} {}", r.code.unwrap_or("?"), line(r))?;
            if let Some(m) = &r.message {
                writeln!(out, "   {DIM}{engine}: {m}{DIM:#}")?;
            }
            if let Some(why) = r.likely_causes.first() {
                writeln!(out, "   {HEAD}likely cause:{HEAD:#} {why}")?;
            }
            for fix in &r.fix {
                writeln!(out, "   {HEAD}fix:{HEAD:#} {fix}")?;
            }
            rests_on(out, r)?;
        }
    }
    let differ: Vec<(&Request, &Judged)> = d
        .requests
        .iter()
        .zip(&report.requests)
        .filter(|(_, j)| differs(j))
        .collect();
    if !differ.is_empty() {
        writeln!(out, "\n{HEAD}Judged differently by another engine{HEAD:#}")?;
        for (r, j) in differ {
            writeln!(out, "{WARN}{}{WARN:#} in {engine}: {}", r.verdict, line(r))?;
            for o in &j.other_engines {
                if o.verdict == Verdict::Undetermined {
                    continue;
                }
                let code = o
                    .code
                    .map(|c| format!(" ({})", c.as_str()))
                    .unwrap_or_default();
                writeln!(out, "   {}: {}{code}", o.browser.name(), o.verdict.as_str())?;
                if let Some(m) = &o.message {
                    writeln!(out, "   {DIM}{m}{DIM:#}")?;
                }
            }
        }
    }
    let cached: Vec<&Request> = d
        .requests
        .iter()
        .filter(|r| matches!(r.preflight, "cached" | "unrecorded"))
        .collect();
    if !cached.is_empty() {
        writeln!(
            out,
            "\n{HEAD}Went out without a preflight of its own{HEAD:#}"
        )?;
        for r in cached {
            let how = match r.preflight_entries.first() {
                Some(p) => format!("answered from the cache the preflight of entry {p} filled"),
                None if report.browser == Browser::Webkit => {
                    "its preflight is not in the log (WebKit's tools do not record them)".to_owned()
                }
                None => "answered from a cache filled before the recording began: a fresh \
                         browser sends a preflight here, whose answer the log lacks"
                    .to_owned(),
            };
            writeln!(out, "{} {DIM}({how}){DIM:#}", line(r))?;
            for (engine, o) in &r.other_engine_details {
                if o.verdict == "undetermined" {
                    for m in &o.missing {
                        writeln!(out, "   {engine}: needs {m}")?;
                    }
                }
            }
        }
    }
    let undetermined: Vec<&Request> = d
        .requests
        .iter()
        .filter(|r| r.verdict == "undetermined")
        .collect();
    if !undetermined.is_empty() {
        writeln!(
            out,
            "\n{HEAD}Undetermined: the log lacks what a verdict needs{HEAD:#}"
        )?;
        for r in undetermined {
            writeln!(out, "{}", line(r))?;
            for m in &r.missing {
                writeln!(out, "   missing: {m}")?;
            }
            if let Some(e) = &r.recorded_error {
                writeln!(out, "   {DIM}the log marks it failed: {e}{DIM:#}")?;
            }
        }
    }
    for r in &d.requests {
        for note in &r.notes {
            writeln!(out, "{DIM}note (entry {}): {note}{DIM:#}", r.entry)?;
        }
    }
    let open = d
        .requests
        .iter()
        .filter(|r| r.missing.iter().any(|m| m.contains("credentials mode")))
        .count();
    if open > 0 {
        writeln!(
            out,
            "\n{open} of these depend on the credentials mode, which the log does not show: run \
             again with --credentials omit|same-origin|include (what the page's fetch() passes)"
        )?;
    }
    Ok(())
}

fn rests_on(out: &mut impl Write, r: &Request) -> std::io::Result<()> {
    let entries: Vec<String> = r.entries.iter().map(usize::to_string).collect();
    writeln!(
        out,
        "   {DIM}rests on entries {}{DIM:#}",
        entries.join(", ")
    )
}
