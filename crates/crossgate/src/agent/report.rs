//! The JSON shape of `simulate` and `check` (CONTRACTS §3 and §4).

use serde::Serialize;

use super::console;
use super::engine::{Exchange, Outcome};
use super::explain::{Explanation, explain};
use super::request::RequestInit;
use crate::browser::Browser;

/// What a browser does with a request, for people and scripts: the JSON that `crossgate
/// simulate --json` and `crossgate check --json` print. [`Scenario::run`](super::Scenario::run)
/// makes one; its example reads one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The browser whose verdict this is, lowercase: `chromium`, `firefox` or `webkit`.
    pub browser: String,
    /// Whether `fetch()` resolves: the CORS checks passed, or the fetch needed none (a
    /// same-origin request, or a `no-cors` one, whose response script gets as opaque).
    pub allowed: bool,
    /// The first preflight (`{"sent": false}` when none was sent: none was needed, or the
    /// preflight cache answered).
    pub preflight: PreflightReport,
    /// Every preflight, when redirects led to more than one.
    pub preflights: Vec<PreflightReport>,
    /// Why the browser blocked the request; `None` when `allowed` is true.
    pub error: Option<ErrorReport>,
    /// The names of the final response's headers that script can read (present in the
    /// response, and safelisted or listed in `Access-Control-Expose-Headers`), lowercase,
    /// deduplicated and sorted. Empty when blocked, and for an opaque response.
    pub exposed_headers: Vec<String>,
    /// One element per hop of the actual request: the `Origin` sent, or `null`.
    pub origin_sent: Vec<Option<String>>,
    /// Every CORS line the simulated browser prints to its console for this fetch, whole and in
    /// order: Chromium one (`Access to fetch at '...' from origin '...' has been blocked by
    /// CORS policy: ...`); Firefox its warnings, the reason and a line for each request that
    /// failed with it; WebKit the reason, then `Fetch API cannot load ... due to access control
    /// checks.`. Empty when the fetch went through without a warning, or failed without a CORS
    /// message (a TypeError in `fetch()`, say).
    pub console: Vec<String>,
    /// What the browser did silently (dropped headers, ...).
    pub notes: Vec<String>,
    /// What the server must change, in plain words; `None` when the request was allowed.
    pub explanation: Option<Explanation>,
    /// Every request the browser sent (preflights included) and the response it got, in the
    /// order sent. Empty when `fetch()` refused the request before sending anything.
    pub exchanges: Vec<ExchangeReport>,
}

/// A preflight: the `OPTIONS` request sent before the actual one (Fetch §4.8). When none was
/// sent only `sent` is there, in JSON too (`{"sent": false}`); otherwise every field is.
///
/// <https://fetch.spec.whatwg.org/#cors-preflight-fetch>
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PreflightReport {
    /// Whether the browser sent this preflight.
    pub sent: bool,
    /// Always `OPTIONS` when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The URL the preflight went to: the request's URL at that hop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What the preflight asks: `Access-Control-Request-Method`, then
    /// `Access-Control-Request-Headers` when the request has CORS-unsafe headers (lowercase
    /// names, sorted, joined by `,`). The preflight's other headers (`Accept`, `Origin`) are in
    /// [`Report::exchanges`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<(String, String)>>,
}

/// Why a browser blocked the request, with the message each browser prints for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// Chromium's `CorsError` name without the `k`.
    ///
    /// The name of an [`ErrorCode`](super::ErrorCode) (`MissingAllowOriginHeader`,
    /// `PreflightInvalidStatus`, ...); [`ErrorCode::from_name`](super::ErrorCode::from_name)
    /// reads it back.
    pub code: String,
    /// Where the fetch failed: in `fetch()` itself, at the preflight, at the actual request or
    /// at a redirect (`"request"`, `"preflight"`, `"actual"`, `"redirect"` in JSON).
    pub stage: super::error::Stage,
    /// What failed, as Chromium's message quotes it: the offending header value, method or
    /// header name. `None` where the error has none (a missing header, a bad status).
    pub parameter: Option<String>,
    /// The status of the response that failed the check; `None` where the failure came before
    /// any response (`fetch()` refused the request, or the browser would not send it).
    pub status: Option<u16>,
    /// Each browser's message for this exchange.
    pub messages: Messages,
}

/// Each browser's message for its own verdict on the same exchange (`null`: it prints no CORS
/// message, or it allows the request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Messages {
    /// Chromium's reason: the text after `has been blocked by CORS policy: `, with the
    /// `Response to preflight request doesn't pass access control check: ` prefix where
    /// Chromium adds it.
    pub chromium: Option<String>,
    /// Firefox's first whole console line about the failure (`Cross-Origin Request Blocked:
    /// ...`), warnings left out.
    pub firefox: Option<String>,
    /// WebKit's reason line, which it prints before `Fetch API cannot load ... due to access
    /// control checks.`.
    pub webkit: Option<String>,
}

/// One exchange as it happened: the request the browser sent and the response it got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExchangeReport {
    /// `"preflight"` or `"actual"` (each hop of a redirected request is an `actual` exchange).
    pub kind: super::engine::ExchangeKind,
    /// The request, as the browser built it.
    pub request: RequestReport,
    /// The response, as received.
    pub response: ResponseReport,
}

/// A request as the browser sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestReport {
    /// The method on the wire (`OPTIONS` for a preflight).
    pub method: String,
    /// The URL of this hop, serialized.
    pub url: String,
    /// The headers the browser set, in order: on a preflight `Accept`,
    /// `Access-Control-Request-Method`, `Access-Control-Request-Headers` and `Origin`; on an
    /// actual request the headers script set (less those `fetch()` dropped), then `Origin` where
    /// one is sent. Not the transport's own (`Host`, ...). Values are read as UTF-8, invalid
    /// bytes replaced by U+FFFD.
    pub headers: Vec<(String, String)>,
    /// Whether cookies and HTTP authentication went with it (never for a preflight).
    pub credentials: bool,
}

/// A response as received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResponseReport {
    /// The HTTP status code.
    pub status: u16,
    /// Every header line, in order, repeated names kept apart. Values are read as UTF-8,
    /// invalid bytes replaced by U+FFFD.
    pub headers: Vec<(String, String)>,
}

fn text(pairs: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

impl From<&Exchange> for ExchangeReport {
    fn from(e: &Exchange) -> Self {
        ExchangeReport {
            kind: e.request.kind,
            request: RequestReport {
                method: e.request.method.clone(),
                url: e.request.url.to_string(),
                headers: text(&e.request.headers),
                credentials: e.request.credentials,
            },
            response: ResponseReport {
                status: e.response.status,
                headers: text(&e.response.headers),
            },
        }
    }
}

impl Report {
    /// Builds the report of `browser`'s outcome; `others` are the other browsers' outcomes on the
    /// same responses (`None` where the responses did not suffice), for their messages.
    pub fn new(
        browser: Browser,
        init: &RequestInit,
        outcome: &Outcome,
        others: &[(Browser, Option<Outcome>)],
    ) -> Report {
        let preflights: Vec<PreflightReport> = outcome
            .preflights
            .iter()
            .map(|p| {
                let mut headers = vec![(
                    "Access-Control-Request-Method".to_owned(),
                    p.ask.method.clone(),
                )];
                if let Some(h) = &p.ask.headers {
                    headers.push(("Access-Control-Request-Headers".to_owned(), h.clone()));
                }
                PreflightReport {
                    sent: true,
                    method: Some("OPTIONS".to_owned()),
                    url: Some(p.url.clone()),
                    headers: Some(headers),
                }
            })
            .collect();
        let error = outcome.error.as_ref().map(|e| {
            let message_of = |b: Browser| -> Option<String> {
                if b == browser {
                    return console::message(b, init, outcome);
                }
                match others.iter().find(|(o, _)| *o == b) {
                    // The other browser's own verdict on the same responses.
                    Some((_, Some(other))) => console::message(b, init, other),
                    // It needed a response the input lacks: this error in its words.
                    _ => e.message(b),
                }
            };
            ErrorReport {
                code: e.code.as_str().to_owned(),
                stage: e.stage,
                parameter: e.parameter.clone(),
                status: e.status,
                messages: Messages {
                    chromium: message_of(Browser::Chromium),
                    firefox: message_of(Browser::Firefox),
                    webkit: message_of(Browser::Webkit),
                },
            }
        });
        let console = console::lines(browser, init, outcome);
        Report {
            browser: browser.name().to_ascii_lowercase(),
            allowed: outcome.allowed,
            preflight: preflights.first().cloned().unwrap_or(PreflightReport {
                sent: false,
                method: None,
                url: None,
                headers: None,
            }),
            preflights,
            error,
            exposed_headers: outcome.exposed_headers.clone(),
            origin_sent: outcome.origin_sent.clone(),
            console,
            notes: outcome.notes.clone(),
            explanation: explain(init, outcome),
            exchanges: outcome.exchanges.iter().map(ExchangeReport::from).collect(),
        }
    }
}
