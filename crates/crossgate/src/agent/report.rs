//! The JSON shape of `simulate` and `check` (CONTRACTS §3 and §4).

use serde::Serialize;

use super::console;
use super::engine::{Exchange, Outcome};
use super::explain::{Explanation, explain};
use super::request::RequestInit;
use crate::browser::Browser;

/// What a browser does with a request, for people and scripts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub browser: String,
    pub allowed: bool,
    /// The first preflight (`{"sent": false}` when none was needed).
    pub preflight: PreflightReport,
    /// Every preflight, when redirects led to more than one.
    pub preflights: Vec<PreflightReport>,
    pub error: Option<ErrorReport>,
    pub exposed_headers: Vec<String>,
    /// One element per hop of the actual request: the `Origin` sent, or `null`.
    pub origin_sent: Vec<Option<String>>,
    /// Every CORS line the simulated browser prints to its console for this fetch, whole and in
    /// order (Chromium one, Firefox the reason and the requests that failed with it; WebKit's
    /// are not modelled yet).
    pub console: Vec<String>,
    /// What the browser did silently (dropped headers, ...).
    pub notes: Vec<String>,
    pub explanation: Option<Explanation>,
    pub exchanges: Vec<ExchangeReport>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PreflightReport {
    pub sent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<(String, String)>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// Chromium's `CorsError` name without the `k`.
    pub code: String,
    pub stage: super::error::Stage,
    pub parameter: Option<String>,
    pub status: Option<u16>,
    pub messages: Messages,
}

/// Each browser's message for its own verdict on the same exchange (`null`: it prints no CORS
/// message, or it allows the request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Messages {
    pub chromium: Option<String>,
    pub firefox: Option<String>,
    pub webkit: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExchangeReport {
    pub kind: super::engine::ExchangeKind,
    pub request: RequestReport,
    pub response: ResponseReport,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestReport {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub credentials: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResponseReport {
    pub status: u16,
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
                code: e.code.as_str(),
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
