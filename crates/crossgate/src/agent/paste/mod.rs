//! Console messages as a developer pastes them, read back into the errors they report.
//!
//! The text may hold several messages from any of the three engines, whole or cut short, with
//! the console's noise around them (source locations, stack lines, Chromium's
//! `net::ERR_FAILED 401` line, Firefox's reason names and links, Safari's `[Error]`). Each
//! message is matched against the shapes the agent's own generators write
//! ([`CorsError::message`](crate::agent::CorsError::message) and
//! [`console`](crate::agent::console)), so a message `simulate` prints always reads back to its
//! error. Where the words fit several errors (WebKit says "is not allowed by
//! Access-Control-Allow-Origin" for a missing, a different and an invalid value alike), every
//! one of them is kept, the most likely first.
//!
//! ```
//! use crossgate::agent::paste::{Item, parse};
//! use crossgate::agent::ErrorCode;
//!
//! let items = parse(
//!     "Access to fetch at 'https://api.example.com/items' from origin \
//!      'https://app.example.com' has been blocked by CORS policy: Method PUT is not \
//!      allowed by Access-Control-Allow-Methods in preflight response.",
//!     None,
//! );
//! let Item::Message(m) = &items[0] else { panic!() };
//! assert_eq!(m.code, Some(ErrorCode::MethodDisallowedByPreflightResponse));
//! assert_eq!(m.parameter.as_deref(), Some("PUT"));
//! assert_eq!(m.origin.as_deref(), Some("https://app.example.com"));
//! ```

mod matcher;
mod other;
mod rank;
mod template;

use std::sync::OnceLock;

use serde::Serialize;

pub use other::OtherKind;

use self::matcher::{Captures, Progress, cut};
use self::other::GapLine;
use self::template::{Role, Template};
use super::error::{ErrorCode, Stage};
use crate::browser::Browser;

/// The most text read: a console's worth, not a log file.
pub const MAX_INPUT: usize = 1 << 20;

/// A partial match must have seen this much of a template's own wording to count.
const MIN_PARTIAL: usize = 24;

/// What a pasted text holds, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A CORS message crossgate knows the words of (whole or cut short), read back.
    Message(Message),
    /// Anything else that is not console noise: a failure before CORS, a CORS reason crossgate
    /// does not know, or text it cannot place.
    Other(Other),
}

/// A CORS console message, read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The engine whose words these are.
    #[serde(serialize_with = "browser_name")]
    pub browser: Browser,
    /// Other engines that print the same words for it.
    #[serde(serialize_with = "browser_names")]
    pub also: Vec<Browser>,
    /// The error, the most likely first where the words fit several; `None` where they name
    /// none (WebKit's "Fetch API cannot load ... due to access control checks." alone).
    pub code: Option<ErrorCode>,
    /// The other errors the same words are printed for, most likely first.
    pub alternatives: Vec<ErrorCode>,
    /// The URL of the exchange that failed.
    pub url: Option<String>,
    /// Where a redirected request started (Chromium's "redirected from").
    pub redirected_from: Option<String>,
    /// The origin the message names (the page's, in Chromium's line).
    pub origin: Option<String>,
    /// The failed parameter: a header value, a method, a header name, a redirect's target.
    pub parameter: Option<String>,
    /// The response's status, where the message (or Chromium's network line) gives it.
    pub status: Option<u16>,
    /// What fetched: `fetch`, `XMLHttpRequest`, ...
    pub initiator: Option<String>,
    /// A warning (the request went through this time), not a failure.
    pub warning: bool,
    /// Every word of the message was there; `false`: cut short or altered, and `code` and
    /// `alternatives` are every error its first words fit.
    pub complete: bool,
    /// Words of an older browser version.
    pub legacy: bool,
    /// Firefox also said the request "did not succeed" at this URL: the failure guarded another
    /// request (a preflight's), or came with a redirect.
    pub request_failed_after: bool,
    /// The text the message was read from.
    pub text: String,
}

/// Text that is not a CORS message crossgate knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Other {
    /// What it is, where crossgate can tell; [`OtherKind::summary`] and [`OtherKind::fix`] say
    /// it in words.
    pub kind: OtherKind,
    /// The line, without the console's decorations (source location, `[Error]`); consecutive
    /// lines crossgate cannot place are joined with `\n`.
    pub text: String,
    /// The URL the text names (the first one; for mixed content, the insecure one the page
    /// asked for); `None` where there is none.
    pub url: Option<String>,
}

fn browser_name<S: serde::Serializer>(b: &Browser, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(b.id())
}

fn browser_names<S: serde::Serializer>(b: &[Browser], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(b.iter().map(|b| b.id()))
}

impl Message {
    /// The stage of the most likely error.
    pub fn stage(&self) -> Option<Stage> {
        self.code.map(ErrorCode::stage_or_actual)
    }

    /// Whether the stage is the same for every error the words fit.
    pub fn stage_certain(&self) -> bool {
        match self.code {
            Some(code) => self
                .alternatives
                .iter()
                .all(|a| a.stage_or_actual() == code.stage_or_actual()),
            None => false,
        }
    }

    /// Whether the words say the request included credentials (only `*` and
    /// `Access-Control-Allow-Credentials` errors happen with credentials alone).
    pub fn implies_credentials(&self) -> bool {
        self.code.is_some_and(ErrorCode::implies_credentials)
    }
}

fn templates() -> &'static [Template] {
    static ALL: OnceLock<Vec<Template>> = OnceLock::new();
    ALL.get_or_init(template::all)
}

/// Reads every message in `text`; `only` restricts the reading to one engine's words.
pub fn parse(text: &str, only: Option<Browser>) -> Vec<Item> {
    let mut end = text.len().min(MAX_INPUT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = template::normalize(&text[..end]);
    let mut found: Vec<Found> = Vec::new();
    let mut gap_start = 0;
    let mut pos = 0;
    while pos < text.len() {
        let word_start = text[..pos]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphabetic());
        if word_start && let Some(m) = message_at(&text, pos, only) {
            gap(&text[gap_start..pos], true, &mut found);
            pos = m.end;
            found.push(Found::Message(Box::new(m)));
            gap_start = pos;
            continue;
        }
        pos += text[pos..].chars().next().map_or(1, char::len_utf8);
    }
    gap(&text[gap_start..], false, &mut found);
    let mut items = rank::assemble(found, only);
    if only.is_some() {
        // Words crossgate knows, but of another engine than the one named.
        for item in &mut items {
            if let Item::Other(o) = item
                && matches!(o.kind, OtherKind::Unknown | OtherKind::UnknownCorsReason)
                && parse(&o.text, None)
                    .iter()
                    .any(|i| matches!(i, Item::Message(_)))
            {
                o.kind = OtherKind::AnotherEngine;
            }
        }
    }
    items
}

/// Reads back the console lines an engine printed for one blocked fetch, as `explain` reads a
/// paste: every line must be understood, and they must make one failure (warnings aside) whose
/// words fit `code`. `Err` says how they do not.
pub fn read_back(
    lines: &str,
    browser: Option<Browser>,
    code: ErrorCode,
) -> Result<Message, String> {
    let mut found = Vec::new();
    for item in parse(lines, browser) {
        match item {
            Item::Message(m) if m.warning => {}
            Item::Message(m) => found.push(m),
            Item::Other(o) => {
                return Err(format!("not understood ({}): {}", o.kind.as_str(), o.text));
            }
        }
    }
    match found.as_slice() {
        [m] if m.code == Some(code) || m.alternatives.contains(&code) => Ok(found.remove(0)),
        [m] => Err(format!(
            "read as {:?} (or {:?}), not {code}",
            m.code, m.alternatives
        )),
        _ => Err(format!("{} messages read, not one", found.len())),
    }
}

/// A message as matched, before the messages around it are taken into account.
#[derive(Clone, Debug)]
pub(crate) struct Matched {
    pub browser: Browser,
    /// Other engines whose templates read the same text as well.
    pub also: Vec<Browser>,
    pub codes: Vec<ErrorCode>,
    pub captures: Captures,
    pub complete: bool,
    pub legacy: bool,
    pub warning: bool,
    /// A frame with a reason crossgate does not know.
    pub unknown_reason: bool,
    pub end: usize,
    pub text: String,
}

/// What the scan found, in order.
#[derive(Clone, Debug)]
pub(crate) enum Found {
    Message(Box<Matched>),
    Gap(GapLine),
}

/// The text between messages, line by line; `before_message`: a message starts where it ends,
/// so the end of a Chromium frame cut at its start ("... has been blocked by CORS policy:")
/// belongs to that message.
fn gap(text: &str, before_message: bool, found: &mut Vec<Found>) {
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        if last && before_message && line.trim_end().ends_with(CHROMIUM_FRAME_END) {
            continue;
        }
        if let Some(g) = other::gap_line(line) {
            found.push(Found::Gap(g));
        }
    }
}

const CHROMIUM_FRAME_END: &str = "has been blocked by CORS policy:";

/// A candidate at one position: the templates tied for the best match.
struct Candidate {
    progress: Progress,
    score: (bool, usize),
    templates: Vec<&'static Template>,
    /// Every reading tied here came after a frame of an older version's words.
    legacy_frame: bool,
}

/// Keeps the best reading: a whole match over a partial one; among whole ones the one that
/// explains the most text (ties are equally true readings: their errors are merged); among
/// partial ones the one that saw the most of its template's wording.
/// `frame`: the frame the reading's reason followed, if any.
fn consider(
    best: &mut Option<Candidate>,
    t: &'static Template,
    frame: Option<&'static Template>,
    progress: Progress,
    lit: usize,
) {
    let score = if progress.complete {
        (true, progress.end)
    } else {
        (false, lit)
    };
    let legacy_frame = frame.is_some_and(|f| f.legacy);
    match best {
        Some(b) if b.score > score => {}
        Some(b) if b.score == score && b.progress.end == progress.end => {
            b.templates.push(t);
            b.legacy_frame &= legacy_frame;
        }
        _ => {
            *best = Some(Candidate {
                progress,
                score,
                templates: vec![t],
                legacy_frame,
            })
        }
    }
}

/// A frame matched without a reason crossgate knows after it.
struct BareFrame {
    frame: &'static Template,
    progress: Progress,
    /// The text ends within the frame or right after it.
    cut: bool,
}

/// The best reading of a message that starts at `pos`, if one does.
fn message_at(text: &str, pos: usize, only: Option<Browser>) -> Option<Matched> {
    let first = text[pos..].chars().next()?;
    let usable =
        |t: &&'static Template| only.is_none_or(|b| b == t.browser) && t.head().starts_with(first);
    let mut best: Option<Candidate> = None;
    let mut bare: Option<BareFrame> = None;
    let mut keep_bare = |b: BareFrame| {
        if bare
            .as_ref()
            .is_none_or(|old| b.progress.literal > old.progress.literal)
        {
            bare = Some(b);
        }
    };
    for frame in templates()
        .iter()
        .filter(usable)
        .filter(|t| t.role == Role::Frame)
    {
        let f = matcher::run(&frame.pieces, text, pos);
        if !f.complete {
            if f.literal >= MIN_PARTIAL && cut(text, f.end) {
                keep_bare(BareFrame {
                    frame,
                    progress: f,
                    cut: true,
                });
            }
            continue;
        }
        let at = skip_spaces(text, f.end);
        if cut(text, at) {
            keep_bare(BareFrame {
                frame,
                progress: f,
                cut: true,
            });
            continue;
        }
        let mut reason: Option<Candidate> = None;
        for r in templates()
            .iter()
            .filter(|t| t.role == Role::Reason && t.browser == frame.browser)
        {
            let p = matcher::run(&r.pieces, text, at);
            // After a whole frame, any cut reason is one of those its words begin.
            if p.complete || (p.literal > 0 && cut(text, p.end)) {
                let lit = p.literal;
                consider(&mut reason, r, None, p, lit);
            }
        }
        match reason {
            Some(r) => {
                let mut progress = r.progress;
                let mut captures = f.captures.clone();
                captures.merge(progress.captures);
                progress.captures = captures;
                let lit = f.literal + progress.literal;
                for t in r.templates {
                    consider(&mut best, t, Some(frame), progress.clone(), lit);
                }
            }
            None => keep_bare(BareFrame {
                frame,
                progress: f,
                cut: false,
            }),
        }
    }
    for t in templates()
        .iter()
        .filter(usable)
        .filter(|t| t.role == Role::Reason)
    {
        let p = matcher::run(&t.pieces, text, pos);
        if p.complete || (p.literal >= MIN_PARTIAL && cut(text, p.end)) {
            let lit = p.literal;
            consider(&mut best, t, None, p, lit);
        }
    }
    match best {
        Some(best) => Some(reading(text, pos, best)),
        None => bare.and_then(|b| bare_frame(text, pos, b)),
    }
}

/// A frame without a known reason: cut before it, or a reason crossgate does not know.
fn bare_frame(text: &str, pos: usize, b: BareFrame) -> Option<Matched> {
    let end = if b.cut {
        line_end(text, b.progress.end)
    } else {
        let end = unknown_reason_end(text, skip_spaces(text, b.progress.end));
        // Chromium's "Failed to load resource: net::ERR_FAILED" is a network line.
        if text[pos..end].contains("net::ERR_") {
            return None;
        }
        end
    };
    Some(Matched {
        browser: b.frame.browser,
        also: Vec::new(),
        codes: Vec::new(),
        captures: b.progress.captures,
        complete: !b.cut,
        legacy: b.frame.legacy,
        warning: false,
        unknown_reason: !b.cut,
        end,
        text: text[pos..end].trim_end().to_owned(),
    })
}

/// Where a reason crossgate does not know ends: the end of its line, or where the next
/// message's frame starts on it.
fn unknown_reason_end(text: &str, from: usize) -> usize {
    let line = line_end(text, from);
    let mut end = line;
    for t in templates().iter().filter(|t| t.role == Role::Frame) {
        let head = t.head();
        if head.len() >= 8
            && let Some(n) = text[from..line].find(head)
            && n > 0
        {
            end = end.min(from + n);
        }
    }
    end
}

/// The message a best candidate reads.
fn reading(text: &str, pos: usize, best: Candidate) -> Matched {
    // The current wording leads an older one that reads the same.
    let mut templates = best.templates;
    templates.sort_by_key(|t| t.legacy);
    let lead = templates[0];
    let mut also: Vec<Browser> = Vec::new();
    let mut codes = Vec::new();
    for t in &templates {
        if t.browser != lead.browser && !also.contains(&t.browser) {
            also.push(t.browser);
        }
        for c in &t.codes {
            if !codes.contains(c) {
                codes.push(*c);
            }
        }
    }
    let mut progress = best.progress;
    let complete = progress.complete;
    if complete {
        // The hints and older endings that may follow.
        while let Some(s) = suffix_at(text, progress.end, lead.browser) {
            progress.end = s.end;
            progress.captures.merge(s.captures);
        }
    } else {
        // Cut: the rest of its line is blank.
        progress.end = line_end(text, progress.end);
    }
    Matched {
        browser: lead.browser,
        also,
        codes,
        captures: progress.captures,
        complete,
        legacy: best.legacy_frame || templates.iter().all(|t| t.legacy),
        warning: templates.iter().any(|t| t.warning),
        unknown_reason: false,
        end: progress.end,
        text: text[pos..progress.end].trim_end().to_owned(),
    }
}

fn suffix_at(text: &str, pos: usize, browser: Browser) -> Option<Progress> {
    let at = skip_spaces(text, pos);
    if at == text.len() || text[at..].starts_with('\n') {
        return None;
    }
    templates()
        .iter()
        .filter(|t| t.role == Role::Suffix && t.browser == browser)
        .map(|t| matcher::run(&t.pieces, text, at))
        .find(|p| p.complete)
}

fn skip_spaces(text: &str, pos: usize) -> usize {
    pos + text[pos..].len() - text[pos..].trim_start_matches(' ').len()
}

fn line_end(text: &str, pos: usize) -> usize {
    text[pos..].find('\n').map_or(text.len(), |n| pos + n)
}
