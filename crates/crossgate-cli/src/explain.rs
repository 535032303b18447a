//! `crossgate explain [--json] [--browser B] [--check] [MESSAGE | -]` (CONTRACTS §8): from the
//! console message a developer pasted to the cause and the fix, and with `--check`, whether the
//! server still does it.

use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use clap::Args;
use crossgate::agent::explain::{ByStack, Explanation, Stack, explain_message};
use crossgate::agent::paste::{self, Item, Message, Other};
use crossgate::agent::{CredentialsMode, ErrorCode, RequestInit, RequestMode, Stage};
use crossgate::browser::Browser;
use crossgate::origin::Origin;
use serde::Serialize;

use crate::browsers::BrowserArg;
use crate::{Failure, Outcome, check};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The console message(s), as pasted (several words are joined); `-` or nothing reads
    /// standard input.
    #[arg(value_name = "MESSAGE")]
    pub message: Vec<String>,
    /// Print JSON: one object for one message, an array for several.
    #[arg(long)]
    pub json: bool,
    /// Read only this engine's words (detected otherwise).
    #[arg(long, value_enum)]
    pub browser: Option<BrowserArg>,
    /// Then probe the URL live, as `check` does, from the message's origin, and say whether the
    /// problem is still there.
    #[arg(long)]
    pub check: bool,
    /// The page's origin for `--check`, where the message does not name it (Firefox's do not).
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Option<String>,
    /// Seconds to wait for each response of `--check`.
    #[arg(long, default_value_t = 15)]
    pub timeout: u64,
}

/// One message, or one text that is not a CORS message crossgate knows.
#[derive(Debug, Serialize)]
struct Entry {
    /// A CORS message crossgate knows.
    understood: bool,
    /// What the text is, where it is not a CORS message crossgate knows.
    kind: Option<paste::OtherKind>,
    browser: Option<String>,
    /// Other engines that print the same words.
    also_browsers: Vec<String>,
    code: Option<&'static str>,
    /// The other errors the same words are printed for, most likely first.
    alternatives: Vec<&'static str>,
    stage: Option<Stage>,
    /// The stage is the same for every error the words fit.
    stage_certain: bool,
    url: Option<String>,
    redirected_from: Option<String>,
    origin: Option<String>,
    parameter: Option<String>,
    status: Option<u16>,
    initiator: Option<String>,
    /// Every word of the message was there.
    complete: bool,
    warning: bool,
    legacy: bool,
    summary: String,
    likely_causes: Vec<String>,
    fix: Vec<String>,
    fix_by_stack: ByStack,
    /// The text it was read from (passwords and tokens masked).
    text: String,
    check: Option<Probe>,
}

/// What `--check` found.
#[derive(Debug, Serialize)]
struct Probe {
    /// `fixed` (the browser would allow it now), `still-there`, `different` (it fails, for
    /// another reason), `not-run` (the message lacks what a probe needs, or the server could
    /// not be asked).
    verdict: &'static str,
    /// The request sent: method, URL, origin, headers, credentials.
    request: String,
    code: Option<String>,
    summary: Option<String>,
    note: Option<String>,
}

pub fn run(args: &ExplainArgs) -> Result<Outcome, Failure> {
    let text = input(args)?;
    if text.trim().is_empty() {
        return Err(Failure(
            "no input: paste a console message as an argument, or on standard input \
             (`crossgate explain -` then Ctrl-D)"
                .to_owned(),
        ));
    }
    if text.len() > paste::MAX_INPUT {
        eprintln!(
            "note: only the first {} KiB of the input are read",
            paste::MAX_INPUT / 1024
        );
    }
    let only = args.browser.map(Browser::from);
    let items = paste::parse(&text, only);
    let mut entries: Vec<Entry> = items.iter().map(|i| entry(i, only)).collect();
    if entries.is_empty() {
        entries.push(other_entry(&Other {
            kind: paste::OtherKind::Unknown,
            text: "(only console noise: source locations, stack lines)".to_owned(),
            url: None,
        }));
    }
    if args.check {
        for (entry, item) in entries.iter_mut().zip(&items) {
            if let Item::Message(m) = item {
                entry.check = Some(probe(m, args, only));
            }
        }
    }
    let understood = entries.iter().all(|e| e.understood);
    if args.json {
        let mut out = std::io::stdout().lock();
        if entries.len() == 1 {
            serde_json::to_writer_pretty(&mut out, &entries[0])?;
        } else {
            serde_json::to_writer_pretty(&mut out, &entries)?;
        }
        writeln!(out)?;
    } else {
        let mut out = anstream::stdout();
        for (i, e) in entries.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            render(&mut out, i + 1, entries.len(), e)?;
        }
    }
    Ok(if understood {
        Outcome::Yes
    } else {
        Outcome::No
    })
}

fn input(args: &ExplainArgs) -> Result<String, Failure> {
    let stdin = args.message.is_empty() || args.message == ["-"];
    if !stdin {
        return Ok(args.message.join(" "));
    }
    if args.message.is_empty() && std::io::stdin().is_terminal() {
        return Err(Failure(
            "no input: paste a console message as an argument (in quotes), or pipe it in"
                .to_owned(),
        ));
    }
    // Bytes, not text: a paste in another encoding, or cut inside a character by the limit,
    // is still read (invalid bytes become U+FFFD).
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(paste::MAX_INPUT as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure(format!("cannot read standard input: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn entry(item: &Item, only: Option<Browser>) -> Entry {
    match item {
        Item::Message(m) => message_entry(m, only),
        Item::Other(o) => other_entry(o),
    }
}

fn message_entry(m: &Message, only: Option<Browser>) -> Entry {
    let x: Explanation = explain_message(m);
    let mut also: Vec<String> = m.also.iter().map(|b| b.id().to_owned()).collect();
    if only.is_some() {
        also.clear();
    }
    Entry {
        understood: true,
        kind: None,
        browser: Some(m.browser.id().to_owned()),
        also_browsers: also,
        code: m.code.map(ErrorCode::as_str),
        alternatives: m.alternatives.iter().map(|c| c.as_str()).collect(),
        stage: m.stage(),
        stage_certain: m.stage_certain(),
        url: m.url.as_deref().map(mask_url),
        redirected_from: m.redirected_from.as_deref().map(mask_url),
        origin: m.origin.clone(),
        parameter: m.parameter.as_deref().map(mask_text),
        status: m.status,
        initiator: m.initiator.clone(),
        complete: m.complete,
        warning: m.warning,
        legacy: m.legacy,
        summary: mask_text(&x.summary),
        likely_causes: x.likely_causes.iter().map(|c| mask_text(c)).collect(),
        fix: x.fix.iter().map(|f| mask_text(f)).collect(),
        fix_by_stack: ByStack(
            x.fix_by_stack
                .0
                .into_iter()
                .map(|(stack, text)| (stack, mask_text(&text)))
                .collect(),
        ),
        text: mask_text(&m.text),
        check: None,
    }
}

fn other_entry(o: &Other) -> Entry {
    Entry {
        understood: false,
        kind: Some(o.kind),
        browser: None,
        also_browsers: Vec::new(),
        code: None,
        alternatives: Vec::new(),
        stage: None,
        stage_certain: false,
        url: o.url.as_deref().map(mask_url),
        redirected_from: None,
        origin: None,
        parameter: None,
        status: None,
        initiator: None,
        complete: true,
        warning: false,
        legacy: false,
        summary: o.kind.summary().to_owned(),
        likely_causes: Vec::new(),
        fix: vec![o.kind.fix().to_owned()],
        fix_by_stack: ByStack::default(),
        text: mask_text(&o.text),
        check: None,
    }
}

/// A request a probe sends to reproduce `m`.
struct Variant {
    init: RequestInit,
    label: String,
}

/// The requests that reproduce `m`: the URL script fetched (before any redirect), the method
/// or header the message names, credentials where the words imply them; a forced preflight
/// where the preflight failed, and both a plain request and a preflighted one where the words
/// do not say which failed.
fn variants(m: &Message, origin: &Origin, origin_text: &str) -> Result<Vec<Variant>, String> {
    let url = m
        .redirected_from
        .as_deref()
        .or(m.url.as_deref())
        .unwrap_or("");
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` does not parse: {e}"))?;
    let parameter = m.parameter.clone().unwrap_or_default();
    let mut method = "GET".to_owned();
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    match m.code {
        Some(ErrorCode::MethodDisallowedByPreflightResponse) if !parameter.is_empty() => {
            method = parameter
        }
        Some(ErrorCode::HeaderDisallowedByPreflightResponse) if !parameter.is_empty() => {
            headers.push((parameter, b"1".to_vec()))
        }
        _ => {}
    }
    let include = m.implies_credentials();
    let stages: Vec<Stage> = m
        .code
        .iter()
        .chain(&m.alternatives)
        .map(|c| c.stage_or_actual())
        .collect();
    let preflighted = method != "GET" || !headers.is_empty();
    let mut forced = Vec::new();
    if !preflighted && stages.contains(&Stage::Preflight) {
        forced.push(true);
    }
    if preflighted || stages.iter().any(|s| *s != Stage::Preflight) {
        forced.push(false);
    }
    Ok(forced
        .into_iter()
        .map(|force| {
            let mut label = format!("{method} {} from {origin_text}", mask_url(url));
            for (n, _) in &headers {
                label.push_str(&format!(", {n}: 1"));
            }
            if force {
                label.push_str(", preflighted");
            }
            if include {
                label.push_str(", with credentials");
            }
            Variant {
                init: RequestInit {
                    origin: origin.clone(),
                    url: parsed.clone(),
                    method: method.clone(),
                    headers: headers.clone(),
                    credentials: if include {
                        CredentialsMode::Include
                    } else {
                        CredentialsMode::SameOrigin
                    },
                    mode: RequestMode::Cors,
                    referrer_policy: Default::default(),
                    use_cors_preflight: force,
                },
                label,
            }
        })
        .collect())
}

/// Reproduces `m` live and says whether it still fails the same way.
fn probe(m: &Message, args: &ExplainArgs, only: Option<Browser>) -> Probe {
    let not_run = |request: String, note: String| Probe {
        verdict: "not-run",
        request,
        code: None,
        summary: None,
        note: Some(note),
    };
    if m.url.is_none() {
        return not_run(
            String::new(),
            "the message names no URL: run `crossgate check URL --origin ORIGIN`".to_owned(),
        );
    }
    let Some(origin_text) = args.origin.clone().or_else(|| m.origin.clone()) else {
        return not_run(
            String::new(),
            format!(
                "the message names no origin ({} does not): add `--origin ORIGIN`",
                m.browser
            ),
        );
    };
    let origin = if origin_text == "null" {
        Origin::Opaque
    } else {
        match Origin::from_url_str(&origin_text) {
            Ok(o) => o,
            Err(e) => return not_run(String::new(), format!("origin `{origin_text}`: {e}")),
        }
    };
    let variants = match variants(m, &origin, &origin_text) {
        Ok(v) => v,
        Err(e) => return not_run(String::new(), e),
    };
    let browser = only.unwrap_or(m.browser);
    let fits = |code: ErrorCode| m.code == Some(code) || m.alternatives.contains(&code);
    let mut result: Option<Probe> = None;
    for v in &variants {
        let report = match check::probe(&v.init, browser, None, Duration::from_secs(args.timeout)) {
            Ok(r) => r,
            Err(Failure(e)) => return not_run(v.label.clone(), e),
        };
        let probe = match &report.error {
            None => Probe {
                verdict: "fixed",
                request: v.label.clone(),
                code: None,
                summary: Some(format!(
                    "{browser} allows this request now. It is rebuilt from the message: if the \
                     page sends other headers or a body, run `crossgate check` with them."
                )),
                note: None,
            },
            Some(err) => {
                let same = ErrorCode::from_name(&err.code).is_some_and(fits);
                Probe {
                    verdict: if same { "still-there" } else { "different" },
                    request: v.label.clone(),
                    code: Some(err.code.clone()),
                    summary: report.explanation.as_ref().map(|x| x.summary.clone()),
                    note: None,
                }
            }
        };
        // The worst of the variants: the failure still there, then another, then none.
        let rank = |p: &Probe| match p.verdict {
            "still-there" => 0,
            "different" => 1,
            _ => 2,
        };
        if result.as_ref().is_none_or(|r| rank(&probe) < rank(r)) {
            result = Some(probe);
        }
    }
    result.unwrap_or_else(|| not_run(String::new(), "nothing to send".to_owned()))
}

/// A URL with its password and secret-looking query values masked.
fn mask_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let mut changed = false;
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
        changed = true;
    }
    const SECRET: [&str; 12] = [
        "token",
        "access_token",
        "id_token",
        "api_key",
        "apikey",
        "key",
        "secret",
        "password",
        "sig",
        "signature",
        "auth",
        "code",
    ];
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let secret = SECRET.contains(&k.to_ascii_lowercase().as_str());
            changed |= secret;
            (
                k.into_owned(),
                if secret {
                    "***".to_owned()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if !changed {
        return url.to_owned();
    }
    if !pairs.is_empty() {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// The text with its URLs masked and JSON Web Tokens cut.
fn mask_text(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let trimmed = word.trim_matches(|c| matches!(c, '\'' | '"' | '(' | ')' | ',' | '.'));
            if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
                word.replacen(trimmed, &mask_url(trimmed), 1)
            } else if trimmed.starts_with("eyJ") && trimmed.len() > 40 {
                word.replacen(trimmed, "eyJ***", 1)
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const BAD: Style = AnsiColor::Red.on_default().bold();
const GOOD: Style = AnsiColor::Green.on_default().bold();
const HEAD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn render(out: &mut impl Write, n: usize, of: usize, e: &Entry) -> std::io::Result<()> {
    let number = if of > 1 {
        format!("{n}. ")
    } else {
        String::new()
    };
    let Some(code) = &e.code else {
        if e.understood {
            let what = if e.complete {
                "a CORS message without its reason"
            } else {
                "a CORS message cut before its reason"
            };
            let browser = e.browser.as_deref().unwrap_or("");
            writeln!(out, "{number}{HEAD}{browser}{HEAD:#}: {what}")?;
        } else {
            let kind = e.kind.map_or("", paste::OtherKind::as_str);
            writeln!(
                out,
                "{number}{BAD}not a CORS message crossgate knows{BAD:#} ({kind})"
            )?;
        }
        writeln!(out, "   {DIM}{}{DIM:#}", first_line(&e.text))?;
        writeln!(out, "   {HEAD}what:{HEAD:#} {}", e.summary)?;
        for fix in &e.fix {
            writeln!(out, "   {HEAD}fix:{HEAD:#} {fix}")?;
        }
        return Ok(());
    };
    let browser = match e.browser.as_deref() {
        Some("chromium") => "Chromium",
        Some("firefox") => "Firefox",
        Some("webkit") => "WebKit",
        _ => "?",
    };
    let stage = e.stage.map_or("", Stage::as_str);
    let certainty = if e.stage_certain { "" } else { ", most likely" };
    let warning = if e.warning { " (a warning)" } else { "" };
    writeln!(
        out,
        "{number}{HEAD}{browser}{HEAD:#}{warning}: {BAD}{code}{BAD:#} {DIM}at the {stage} stage{certainty}{DIM:#}"
    )?;
    if !e.also_browsers.is_empty() {
        writeln!(
            out,
            "   {DIM}(the same words in: {}){DIM:#}",
            e.also_browsers.join(", ")
        )?;
    }
    if !e.alternatives.is_empty() {
        writeln!(
            out,
            "   could also be: {} ({browser} prints the same words for them)",
            e.alternatives.join(", ")
        )?;
    }
    if !e.complete {
        writeln!(
            out,
            "   {HEAD}note:{HEAD:#} the message is cut short or altered; read from the words \
             that are there"
        )?;
    }
    for (label, value) in [
        ("url", &e.url),
        ("redirected from", &e.redirected_from),
        ("origin", &e.origin),
        ("parameter", &e.parameter),
    ] {
        if let Some(v) = value {
            writeln!(out, "   {label}: {v}")?;
        }
    }
    if let Some(status) = e.status {
        writeln!(out, "   status: {status}")?;
    }
    writeln!(out, "   {HEAD}why:{HEAD:#} {}", e.summary)?;
    match e.likely_causes.len() {
        0 => {}
        1 => writeln!(out, "   {HEAD}likely cause:{HEAD:#} {}", e.likely_causes[0])?,
        _ => {
            writeln!(out, "   {HEAD}likely causes:{HEAD:#}")?;
            for (i, c) in e.likely_causes.iter().enumerate() {
                writeln!(out, "     {}. {c}", i + 1)?;
            }
        }
    }
    for fix in &e.fix {
        writeln!(out, "   {HEAD}fix:{HEAD:#} {fix}")?;
    }
    for stack in Stack::ALL {
        if let Some(text) = e.fix_by_stack.get(stack) {
            writeln!(out, "     {DIM}{}:{DIM:#} {text}", stack.label())?;
        }
    }
    if let Some(p) = &e.check {
        let (style, verdict) = match p.verdict {
            "fixed" => (GOOD, "fixed"),
            "still-there" => (BAD, "still there"),
            "different" => (BAD, "now a different failure"),
            _ => (DIM, "not run"),
        };
        let request = if p.request.is_empty() {
            String::new()
        } else {
            format!(" ({})", p.request)
        };
        writeln!(
            out,
            "   {HEAD}live check:{HEAD:#} {style}{verdict}{style:#}{request}"
        )?;
        if let Some(code) = &p.code {
            writeln!(out, "     now: {code}")?;
        }
        for line in [&p.summary, &p.note].into_iter().flatten() {
            writeln!(out, "     {line}")?;
        }
    }
    Ok(())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
