//! The shapes of the console messages a pasted text may hold, derived from the generators that
//! write them (`error.rs`, `console.rs`): each is produced once with a sentinel in every place a
//! value goes, and the text is cut at the sentinels. What the generators do not write (the older
//! wordings still pasted in questions, Firefox's reason names) is listed here, as a table.

use super::super::console;
use super::super::error::{CHROMIUM_CORS_ENABLED_SCHEMES, CorsError, ErrorCode};
use crate::browser::Browser;

/// What a slot of a template holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The URL of the exchange that failed.
    Url,
    /// The URL the request started at (Chromium's "redirected from").
    InitialUrl,
    /// The request's origin (or the page's, in Chromium's line).
    Origin,
    /// The failed parameter: a header value, a method, a header name.
    Param,
    /// The whole offending header value (WebKit's parse errors).
    Value,
    /// An HTTP status, or Firefox's `(null)`.
    Status,
    /// What fetched: `fetch`, `XMLHttpRequest`, `script`, `CSS stylesheet`, ...
    Kind,
    /// A redirect's target.
    Target,
    /// A list that changes between versions (Chromium's CORS-enabled schemes).
    List,
}

impl Slot {
    /// A slot that holds one word (no whitespace): matched greedily, then given back.
    pub(crate) fn is_word(self) -> bool {
        matches!(
            self,
            Slot::Url | Slot::InitialUrl | Slot::Origin | Slot::Status | Slot::Target
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(String),
    Slot(Slot),
}

/// How a template is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The start of a line that a reason of the same browser completes.
    Frame,
    /// A reason: alone, or after a frame.
    Reason,
    /// Text that may follow a message and adds nothing but a value (Chromium's hints).
    Suffix,
}

#[derive(Clone, Debug)]
pub(crate) struct Template {
    pub browser: Browser,
    pub role: Role,
    pub pieces: Vec<Piece>,
    /// The errors this text is printed for (empty for frames and suffixes).
    pub codes: Vec<ErrorCode>,
    /// A warning, not a failure (Firefox's `Authorization` under `*`).
    pub warning: bool,
    /// A wording of older versions, not written by crossgate's generators.
    pub legacy: bool,
}

impl Template {
    /// The literal text before the first slot: where a match can start.
    pub(crate) fn head(&self) -> &str {
        match self.pieces.first() {
            Some(Piece::Lit(l)) => l,
            _ => "",
        }
    }
}

const URL: char = '\u{E001}';
const INITIAL_URL: char = '\u{E002}';
const ORIGIN: char = '\u{E003}';
const PARAM: char = '\u{E004}';
const VALUE: char = '\u{E005}';
const STATUS: char = '\u{E006}';
const KIND: char = '\u{E007}';
const TARGET: char = '\u{E008}';
const LIST: char = '\u{E009}';
/// Where a frame's reason starts.
const REASON: char = '\u{E00A}';
/// A status no server sends, replaced by [`STATUS`] once the text is written.
const STATUS_SENTINEL: u16 = 61_234;

fn slot_of(c: char) -> Option<Slot> {
    Some(match c {
        URL => Slot::Url,
        INITIAL_URL => Slot::InitialUrl,
        ORIGIN => Slot::Origin,
        PARAM => Slot::Param,
        VALUE => Slot::Value,
        STATUS => Slot::Status,
        KIND => Slot::Kind,
        TARGET => Slot::Target,
        LIST => Slot::List,
        _ => return None,
    })
}

/// Text the way the matcher compares it: typographic quotes as ASCII ones, every run of
/// whitespace within a line as one space.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => {
                push(&mut out, &mut space, '\'')
            }
            '\u{201C}' | '\u{201D}' | '\u{201E}' => push(&mut out, &mut space, '"'),
            ' ' | '\t' | '\u{00A0}' | '\u{2009}' | '\u{202F}' => space = true,
            // Zero-width characters that copying from a page leaves behind.
            '\u{200B}' | '\u{FEFF}' => {}
            '\r' | '\n' => {
                space = false;
                out.push('\n');
            }
            c if c.is_control() => space = true,
            c => push(&mut out, &mut space, c),
        }
    }
    out
}

fn push(out: &mut String, space: &mut bool, c: char) {
    if *space && !out.is_empty() && !out.ends_with('\n') {
        out.push(' ');
    }
    *space = false;
    out.push(c);
}

/// Cuts generated text at its sentinels.
fn pieces(text: &str) -> Vec<Piece> {
    let text = normalize(&text.replace(&STATUS_SENTINEL.to_string(), &STATUS.to_string()));
    let mut out = Vec::new();
    let mut lit = String::new();
    for c in text.chars() {
        if c == REASON {
            break;
        }
        match slot_of(c) {
            Some(slot) => {
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(Piece::Slot(slot));
            }
            None => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    out
}

/// An error with a sentinel in every place a value goes.
fn sample(code: ErrorCode) -> CorsError {
    CorsError {
        code,
        stage: code.stage_or_actual(),
        parameter: Some(PARAM.to_string()),
        url: URL.to_string(),
        origin: ORIGIN.to_string(),
        status: Some(STATUS_SENTINEL),
        value: Some(VALUE.to_string()),
    }
}

/// Adds `text` for `code`, or the code to a template with the same text.
fn add(
    out: &mut Vec<Template>,
    browser: Browser,
    role: Role,
    text: &str,
    codes: &[ErrorCode],
    legacy: bool,
) {
    let pieces = pieces(text);
    if let Some(t) = out
        .iter_mut()
        .find(|t| t.browser == browser && t.role == role && t.pieces == pieces)
    {
        for c in codes {
            if !t.codes.contains(c) {
                t.codes.push(*c);
            }
        }
        return;
    }
    out.push(Template {
        browser,
        role,
        pieces,
        codes: codes.to_vec(),
        warning: false,
        legacy,
    });
}

const FIREFOX_REASON_AT: &str = "(Reason: ";

/// Every template, Chromium's first.
pub(crate) fn all() -> Vec<Template> {
    let mut out = Vec::new();
    chromium(&mut out);
    firefox(&mut out);
    webkit(&mut out);
    out
}

fn chromium(out: &mut Vec<Template>) {
    let b = Browser::Chromium;
    let hint = super::super::error::CHROMIUM_HINT;
    let schemes = CHROMIUM_CORS_ENABLED_SCHEMES.join(", ");
    for &code in ErrorCode::ALL {
        let Some(reason) = sample(code).message(b) else {
            continue;
        };
        // The hint is a suffix that versions word differently; the scheme list changes.
        let reason = reason.strip_suffix(hint).unwrap_or(&reason);
        let reason = reason.replace(&schemes, &LIST.to_string());
        add(out, b, Role::Reason, &reason, &[code], false);
    }
    // The line's frame, with and without a redirect, cut where the reason starts.
    let mut error = sample(ErrorCode::MissingAllowOriginHeader);
    let reason = error.message(b).unwrap_or_default();
    for initial in [URL.to_string(), INITIAL_URL.to_string()] {
        error.url = URL.to_string();
        let line = error
            .chromium_console_line(&initial, &ORIGIN.to_string())
            .unwrap_or_default();
        let frame = line.strip_suffix(&reason).unwrap_or(&line);
        let frame = frame.replacen("Access to fetch at", &format!("Access to {KIND} at"), 1);
        add(out, b, Role::Frame, &format!("{frame}{REASON}"), &[], false);
    }
    // Older wordings, still pasted in questions (browser-messages.md §1.1).
    for frame in [
        format!("Failed to load {URL}: "),
        format!("XMLHttpRequest cannot load {URL}. "),
        format!("Fetch API cannot load {URL}. "),
    ] {
        add(out, b, Role::Frame, &frame, &[], true);
    }
    let legacy_reasons: [(String, &[ErrorCode]); 4] = [
        (
            format!("Request header field {PARAM} is not allowed by Access-Control-Allow-Headers."),
            &[ErrorCode::HeaderDisallowedByPreflightResponse],
        ),
        (
            "Response for preflight is invalid (redirect)".to_owned(),
            &[ErrorCode::PreflightDisallowedRedirect],
        ),
        (
            format!("Response for preflight has invalid HTTP status code {STATUS}"),
            &[ErrorCode::PreflightInvalidStatus],
        ),
        (
            format!(
                "The request was redirected to '{TARGET}', which is disallowed for cross-origin \
                 requests that require preflight."
            ),
            &[ErrorCode::PreflightDisallowedRedirect],
        ),
    ];
    for (text, codes) in legacy_reasons {
        add(out, b, Role::Reason, &text, codes, true);
    }
    // The hints after a reason, in each version's words.
    for suffix in [
        hint.to_owned(),
        " Have the server send the header with a valid value, or, if an opaque response serves \
         your needs, set the request's mode to 'no-cors' to fetch the resource with CORS \
         disabled."
            .to_owned(),
        " If an opaque response serves your needs, set the request's mode to 'no-cors' to fetch \
         the resource with CORS disabled."
            .to_owned(),
        " The credentials mode of requests initiated by the XMLHttpRequest is controlled by the \
         withCredentials attribute."
            .to_owned(),
        format!(" Origin '{ORIGIN}' is therefore not allowed access."),
        format!(" The response had HTTP status code {STATUS}."),
    ] {
        add(out, b, Role::Suffix, &suffix, &[], true);
    }
}

fn firefox(out: &mut Vec<Template>) {
    let b = Browser::Firefox;
    let mut codes: Vec<ErrorCode> = ErrorCode::ALL
        .iter()
        .copied()
        .filter(|c| c.is_cors())
        .collect();
    codes.extend(console::FIREFOX_DID_NOT_SUCCEED);
    for code in codes {
        let line = sample(code).firefox_line();
        let Some(at) = line.find(FIREFOX_REASON_AT) else {
            continue;
        };
        let (frame, reason) = line.split_at(at + FIREFOX_REASON_AT.len());
        add(out, b, Role::Frame, &format!("{frame}{REASON}"), &[], false);
        add(out, b, Role::Reason, reason, &[code], false);
    }
    let warning = console::firefox_authorization_warning(&URL.to_string());
    if let Some(at) = warning.find(FIREFOX_REASON_AT) {
        let (frame, reason) = warning.split_at(at + FIREFOX_REASON_AT.len());
        add(out, b, Role::Frame, &format!("{frame}{REASON}"), &[], false);
        add(
            out,
            b,
            Role::Reason,
            reason,
            &[ErrorCode::HeaderDisallowedByPreflightResponse],
            false,
        );
        if let Some(t) = out.last_mut() {
            t.warning = true;
        }
    }
    // Older wordings (browser-messages.md §1.2).
    let legacy: [(String, &[ErrorCode]); 5] = [
        (
            "CORS header 'Access-Control-Allow-Origin' missing).".to_owned(),
            &[
                ErrorCode::MissingAllowOriginHeader,
                ErrorCode::PreflightMissingAllowOriginHeader,
            ],
        ),
        (
            "CORS request did not succeed).".to_owned(),
            &console::FIREFOX_DID_NOT_SUCCEED,
        ),
        (
            "CORS preflight response did not succeed).".to_owned(),
            &[ErrorCode::PreflightInvalidStatus],
        ),
        (
            "CORS preflight channel did not succeed).".to_owned(),
            &[ErrorCode::PreflightInvalidStatus],
        ),
        (
            format!(
                "missing token '{PARAM}' in CORS header 'Access-Control-Allow-Headers' from \
                 CORS preflight channel)."
            ),
            &[ErrorCode::HeaderDisallowedByPreflightResponse],
        ),
    ];
    for (text, codes) in legacy {
        add(out, b, Role::Reason, &text, codes, true);
    }
}

fn webkit(out: &mut Vec<Template>) {
    let b = Browser::Webkit;
    for &code in ErrorCode::ALL {
        if let Some(reason) = sample(code).message(b) {
            add(out, b, Role::Reason, &reason, &[code], false);
        }
    }
    let lines: [(String, &[ErrorCode]); 5] = [
        (
            super::super::error::WEBKIT_FTP_DISABLED.to_owned(),
            &[
                ErrorCode::CorsDisabledScheme,
                ErrorCode::InvalidRedirectLocation,
            ],
        ),
        (
            console::WEBKIT_TOO_MANY_REDIRECTS.to_owned(),
            &[ErrorCode::TooManyRedirects],
        ),
        (
            console::WEBKIT_NON_HTTP_REDIRECT.to_owned(),
            &[ErrorCode::InvalidRedirectLocation],
        ),
        (
            console::webkit_local_resource(&TARGET.to_string()),
            &[ErrorCode::InvalidRedirectLocation],
        ),
        (
            console::webkit_mode_refused(&URL.to_string()),
            &[ErrorCode::DisallowedByMode],
        ),
    ];
    for (text, codes) in lines {
        add(out, b, Role::Reason, &text, codes, false);
    }
    // The line after the reason: it names the URL, not the reason (no code of its own).
    add(
        out,
        b,
        Role::Reason,
        &console::webkit_cannot_load(&URL.to_string()),
        &[],
        false,
    );
    let redirect = console::webkit_redirect_denied(&TARGET.to_string(), &REASON.to_string());
    add(out, b, Role::Frame, &redirect, &[], false);
    // Safari's network line repeats the reason.
    add(
        out,
        b,
        Role::Frame,
        &format!("Failed to load resource: {REASON}"),
        &[],
        false,
    );
    add(
        out,
        b,
        Role::Reason,
        &format!("XMLHttpRequest cannot load {URL} due to access control checks."),
        &[],
        true,
    );
}

/// Firefox's reason names (its `security.properties` keys, and the MDN pages its console links
/// to) and the errors each is printed for.
pub(crate) const FIREFOX_REASON_NAMES: [(&str, &[ErrorCode]); 16] = [
    ("CORSDidNotSucceed", &console::FIREFOX_DID_NOT_SUCCEED),
    (
        "CORSExternalRedirectNotAllowed",
        &[ErrorCode::PreflightDisallowedRedirect],
    ),
    ("CORSRequestNotHttp", &[ErrorCode::CorsDisabledScheme]),
    (
        "CORSMissingAllowOrigin",
        &[
            ErrorCode::MissingAllowOriginHeader,
            ErrorCode::PreflightMissingAllowOriginHeader,
        ],
    ),
    (
        "CORSMultipleAllowOriginNotAllowed",
        &[
            ErrorCode::MultipleAllowOriginValues,
            ErrorCode::PreflightMultipleAllowOriginValues,
        ],
    ),
    (
        "CORSAllowOriginNotMatchingOrigin",
        &[
            ErrorCode::AllowOriginMismatch,
            ErrorCode::InvalidAllowOriginValue,
            ErrorCode::PreflightAllowOriginMismatch,
            ErrorCode::PreflightInvalidAllowOriginValue,
        ],
    ),
    (
        "CORSNotSupportingCredentials",
        &[
            ErrorCode::WildcardOriginNotAllowed,
            ErrorCode::PreflightWildcardOriginNotAllowed,
        ],
    ),
    (
        "CORSMethodNotFound",
        &[ErrorCode::MethodDisallowedByPreflightResponse],
    ),
    (
        "CORSMissingAllowCredentials",
        &[
            ErrorCode::InvalidAllowCredentials,
            ErrorCode::PreflightInvalidAllowCredentials,
        ],
    ),
    // MDN's page is spelled so.
    (
        "CORSMIssingAllowCredentials",
        &[
            ErrorCode::InvalidAllowCredentials,
            ErrorCode::PreflightInvalidAllowCredentials,
        ],
    ),
    (
        "CORSPreflightDidNotSucceed",
        &[ErrorCode::PreflightInvalidStatus],
    ),
    (
        "CORSInvalidAllowMethod",
        &[ErrorCode::InvalidAllowMethodsPreflightResponse],
    ),
    (
        "CORSInvalidAllowHeader",
        &[ErrorCode::InvalidAllowHeadersPreflightResponse],
    ),
    (
        "CORSMissingAllowHeaderFromPreflight",
        &[ErrorCode::HeaderDisallowedByPreflightResponse],
    ),
    (
        "CORSAllowHeaderFromPreflightDeprecation",
        &[ErrorCode::HeaderDisallowedByPreflightResponse],
    ),
    // Not failures crossgate models: CORS turned off in the browser, or the Origin header
    // refused by an extension.
    ("CORSDisabled", &[]),
];

/// The Firefox reason name at the start of `word` (a name may carry a version digit:
/// `CORSMissingAllowOrigin2`), the longest that fits.
pub(crate) fn firefox_reason_name(word: &str) -> Option<(&'static str, &'static [ErrorCode])> {
    let extra = ["CORSOriginHeaderNotAdded"];
    if let Some(e) = extra.iter().find(|e| word.starts_with(**e)) {
        return Some((e, &[]));
    }
    FIREFOX_REASON_NAMES
        .iter()
        .filter(|(name, _)| {
            word.strip_prefix(name)
                .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
        })
        .max_by_key(|(name, _)| name.len())
        .map(|(name, codes)| (*name, *codes))
}
