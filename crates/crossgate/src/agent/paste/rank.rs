//! From what the scan found to the messages: the lines one failure prints put together (WebKit's
//! reason and its "cannot load" line, Firefox's reason and its "did not succeed"), Chromium's
//! network status given to its message, and the errors each message fits put in order of
//! likelihood, the server's header value judged again by the agent's own CORS check where the
//! message quotes it.

use super::other::{self, GapLine, OtherKind};
use super::{Found, Item, Matched, Message, Other};
use crate::agent::ErrorCode;
use crate::agent::Profile;
use crate::agent::check::cors_check;
use crate::browser::Browser;

/// The errors in the order a developer meets them, most common first (the `Preflight*`
/// variants are ordered by their base).
const LIKELY: [ErrorCode; 21] = [
    ErrorCode::MissingAllowOriginHeader,
    ErrorCode::AllowOriginMismatch,
    ErrorCode::WildcardOriginNotAllowed,
    ErrorCode::InvalidAllowCredentials,
    ErrorCode::MultipleAllowOriginValues,
    ErrorCode::InvalidAllowOriginValue,
    ErrorCode::PreflightInvalidStatus,
    ErrorCode::PreflightDisallowedRedirect,
    ErrorCode::MethodDisallowedByPreflightResponse,
    ErrorCode::HeaderDisallowedByPreflightResponse,
    ErrorCode::InvalidAllowMethodsPreflightResponse,
    ErrorCode::InvalidAllowHeadersPreflightResponse,
    ErrorCode::NetworkError,
    ErrorCode::RedirectContainsCredentials,
    ErrorCode::CorsDisabledScheme,
    ErrorCode::InvalidRedirectLocation,
    ErrorCode::TooManyRedirects,
    ErrorCode::UnsafeRedirect,
    ErrorCode::InvalidResponse,
    ErrorCode::DisallowedByMode,
    ErrorCode::MixedContent,
];

pub(crate) fn assemble(found: Vec<Found>, only: Option<Browser>) -> Vec<Item> {
    let any_message = found
        .iter()
        .any(|f| matches!(f, Found::Message(m) if !m.unknown_reason));
    let mut items: Vec<Item> = Vec::new();
    let mut statuses: Vec<(String, u16)> = Vec::new();
    for f in found {
        match f {
            Found::Message(m) if m.unknown_reason => {
                let reason = &m.text;
                let kind = match other::classify(reason) {
                    OtherKind::Unknown => OtherKind::UnknownCorsReason,
                    k => k,
                };
                items.push(Item::Other(Other {
                    kind,
                    text: m.text.clone(),
                    url: m.captures.url.clone(),
                }));
            }
            Found::Message(m) => {
                if let Some(Item::Message(prev)) = items.last_mut()
                    && fold(prev, &m)
                {
                    continue;
                }
                items.push(Item::Message(message(*m)));
            }
            Found::Gap(GapLine::Status { url, status }) => statuses.push((url, status)),
            Found::Gap(GapLine::ReasonName { name, codes }) => {
                let absorbed = matches!(items.last(), Some(Item::Message(prev))
                    if prev.browser == Browser::Firefox
                        && prev.code.iter().chain(&prev.alternatives).any(|c| codes.contains(c)));
                if !absorbed && only.is_none_or(|b| b == Browser::Firefox) {
                    items.push(Item::Message(message(Matched {
                        browser: Browser::Firefox,
                        also: Vec::new(),
                        codes: codes.to_vec(),
                        captures: Default::default(),
                        complete: true,
                        legacy: false,
                        warning: name == "CORSAllowHeaderFromPreflightDeprecation",
                        unknown_reason: false,
                        end: 0,
                        text: name.to_owned(),
                    })));
                }
            }
            Found::Gap(GapLine::Other { kind, text, url }) => {
                if kind == OtherKind::ScriptError && any_message {
                    continue;
                }
                if let Some(Item::Other(prev)) = items.last_mut()
                    && prev.kind == kind
                    && kind == OtherKind::Unknown
                {
                    prev.text.push('\n');
                    prev.text.push_str(&text);
                    continue;
                }
                items.push(Item::Other(Other { kind, text, url }));
            }
        }
    }
    for (url, status) in statuses {
        let target = items.iter_mut().find_map(|i| match i {
            Item::Message(m)
                if m.status.is_none()
                    && m.browser == Browser::Chromium
                    && (m.url.as_deref() == Some(&url)
                        || m.redirected_from.as_deref() == Some(&url)) =>
            {
                Some(m)
            }
            _ => None,
        });
        if let Some(m) = target {
            m.status = Some(status);
        }
    }
    for item in &mut items {
        if let Item::Message(m) = item {
            rank(m);
        }
    }
    items
}

/// Puts `next` into `prev` where both are lines of one failure.
fn fold(prev: &mut Message, next: &Matched) -> bool {
    if prev.browser != next.browser {
        // Words several engines print: the line after them says whose they were.
        if !prev.also.contains(&next.browser) || !next.also.is_empty() {
            return false;
        }
        let was = std::mem::replace(&mut prev.browser, next.browser);
        prev.also.retain(|b| *b != next.browser);
        if !fold(prev, next) {
            prev.also.push(prev.browser);
            prev.browser = was;
            prev.also.retain(|b| *b != was);
            return false;
        }
        return true;
    }
    let url = next.captures.url.as_deref();
    let absorb = match next.browser {
        // The reason, then "Fetch API cannot load <url> ...", then Safari's "Failed to load
        // resource: <the reason again>".
        Browser::Webkit if next.codes.is_empty() && next.complete && prev.url.is_none() => {
            prev.url = url.map(str::to_owned);
            true
        }
        Browser::Webkit => next.text.starts_with("Failed to load resource:") && prev.url.is_some(),
        // The reason, then "CORS request did not succeed" for the request it failed (the
        // preflight's own, or a redirect's); a redirected preflight's second reason too.
        // A refused scheme is judged at the redirect's target; the request that redirected
        // there is the one that did not succeed.
        Browser::Firefox
            if next.codes.contains(&ErrorCode::NetworkError)
                && prev.code == Some(ErrorCode::CorsDisabledScheme)
                && url.is_some() =>
        {
            prev.redirected_from = url.map(str::to_owned);
            true
        }
        Browser::Firefox if prev.url.as_deref() == url && url.is_some() => {
            if next.codes.contains(&ErrorCode::NetworkError)
                && !prev.code.is_some_and(|c| c == ErrorCode::NetworkError)
            {
                prev.request_failed_after = true;
                true
            } else {
                prev.code == Some(ErrorCode::PreflightDisallowedRedirect)
            }
        }
        _ => false,
    };
    if absorb {
        prev.text.push('\n');
        prev.text.push_str(&next.text);
    }
    absorb
}

fn message(m: Matched) -> Message {
    let c = m.captures;
    let status = c.status.as_deref().and_then(|s| s.parse().ok());
    let mut codes = m.codes.into_iter();
    Message {
        browser: m.browser,
        also: m.also,
        code: codes.next(),
        alternatives: codes.collect(),
        url: c.url,
        redirected_from: c.initial_url,
        origin: c.origin,
        parameter: c.param.or(c.value).or(c.target),
        status,
        initiator: c.kind,
        warning: m.warning,
        complete: m.complete,
        legacy: m.legacy,
        request_failed_after: false,
        text: m.text,
    }
}

/// Orders the errors a message fits, most likely first.
fn rank(m: &mut Message) {
    let mut codes: Vec<ErrorCode> = m.code.into_iter().chain(m.alternatives.drain(..)).collect();
    if codes.is_empty() {
        return;
    }
    // Where the message quotes the Access-Control-Allow-Origin value, the agent judges it.
    let judged = m.parameter.as_deref().and_then(|value| {
        let allow_origin_family = codes.iter().all(|c| is_allow_origin(*c));
        if !allow_origin_family || codes.len() < 2 {
            return None;
        }
        let origin = m.origin.as_deref().unwrap_or("https://origin.invalid");
        let headers = [(
            "access-control-allow-origin".to_owned(),
            value.as_bytes().to_vec(),
        )];
        let include = codes.iter().any(|c| c.implies_credentials());
        cors_check(&Profile::for_browser(m.browser), origin, include, &headers)
            .err()
            .map(|f| f.code)
    });
    let preflight_first = m.request_failed_after;
    codes.sort_by_key(|c| {
        let base = c.base();
        let judged_first = judged.is_some_and(|j| base == j);
        let preflight = c.is_preflight_access();
        (
            !judged_first,
            preflight != preflight_first,
            LIKELY
                .iter()
                .position(|l| *l == base)
                .unwrap_or(LIKELY.len()),
        )
    });
    let mut codes = codes.into_iter();
    m.code = codes.next();
    m.alternatives = codes.collect();
}

/// An allow-origin check's error: one that has a `Preflight` variant.
fn is_allow_origin(code: ErrorCode) -> bool {
    code.on_preflight().is_preflight_access()
}
