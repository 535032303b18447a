//! What a browser prints to its console for a fetch: every CORS line, whole, in order.
//!
//! Firefox also warns, on a fetch that goes through, where `Access-Control-Allow-Headers: *`
//! covered `Authorization` (it says it will stop doing so).
//!
//! Chromium prints one line per blocked fetch. Firefox prints the reason where a check fails,
//! then "CORS request did not succeed" (without a status) for each request that fails because
//! of it: the request a refused preflight guarded, the preflight itself where it was redirected,
//! and a CORS request whose redirect the network refused (measured against Firefox 153.8.0esr
//! by the agent matrix of `crossgate-conformance`).
//!
//! WebKit prints the reason (a redirect's prefixed with `Cross-origin redirection to TARGET
//! denied by Cross-Origin Resource Sharing policy: `), then `Fetch API cannot load URL due to
//! access control checks.` for the URL whose response failed (measured against WebKitGTK 2.50.6,
//! whose WebCore is Safari's).

use super::check::cors_check;
use super::engine::{Incoming, Outcome};
use super::error::{CorsError, ErrorCode, Stage, WEBKIT_FTP_DISABLED};
use super::profile::Profile;
use super::redirect::redirect_location;
use super::request::{CredentialsMode, RequestInit};
use crate::browser::Browser;
use crate::origin::Origin;

/// The lines `browser` prints for `outcome`: its CORS warnings, then the failure's lines (none
/// when the fetch was allowed, or failed without a CORS message).
pub fn lines(browser: Browser, init: &RequestInit, outcome: &Outcome) -> Vec<String> {
    let mut out = warnings(browser, outcome);
    out.extend(failure_lines(browser, init, outcome));
    out
}

/// Firefox's warning (`CORSAllowHeaderFromPreflightDeprecation` in `security.properties`) for
/// each preflight whose `Access-Control-Allow-Headers: *` let `Authorization` through. It is
/// printed as the preflight is judged, so before any failure of the fetch.
fn warnings(browser: Browser, outcome: &Outcome) -> Vec<String> {
    if browser != Browser::Firefox {
        return Vec::new();
    }
    outcome
        .preflights
        .iter()
        .filter(|p| p.authorization_by_wildcard)
        .map(|p| firefox_authorization_warning(&p.url))
        .collect()
}

/// Firefox's warning where `Access-Control-Allow-Headers: *` let `Authorization` through.
pub(crate) fn firefox_authorization_warning(url: &str) -> String {
    format!(
        "Cross-Origin Request Warning: The Same Origin Policy will disallow reading the remote \
         resource at {url} soon. (Reason: When the `Access-Control-Allow-Headers` is `*`, the \
         `Authorization` header is not covered. To include the `Authorization` header, it must be \
         explicitly listed in CORS header `Access-Control-Allow-Headers`)."
    )
}

/// WebKit's line after the reason, naming the URL whose response failed.
pub(crate) fn webkit_cannot_load(url: &str) -> String {
    format!("Fetch API cannot load {url} due to access control checks.")
}

/// WebKit's only line for `mode: "same-origin"` to another origin.
pub(crate) fn webkit_mode_refused(url: &str) -> String {
    format!("Fetch API cannot load {url}.")
}

/// WebKit's reason for more than 20 redirects.
pub(crate) const WEBKIT_TOO_MANY_REDIRECTS: &str = "Load cannot follow more than 20 redirections";

/// WebKit's reason for a request outside CORS redirected to a scheme other than HTTP(S), `ftp:`
/// and `file:` aside.
pub(crate) const WEBKIT_NON_HTTP_REDIRECT: &str =
    "Redirection to URL with a scheme that is not HTTP(S).";

/// WebKit's reason for a redirect to `file:` (the web process may not display it).
pub(crate) fn webkit_local_resource(target: &str) -> String {
    format!("Not allowed to load local resource: {target}")
}

/// WebKit's reason for a redirect refused, or whose response failed the CORS check.
pub(crate) fn webkit_redirect_denied(target: &str, reason: &str) -> String {
    format!(
        "Cross-origin redirection to {target} denied by Cross-Origin Resource Sharing policy: \
         {reason}"
    )
}

/// The failures below CORS for which Firefox prints "CORS request did not succeed" on a CORS
/// request (a redirect with credentials in its target among them, which it refuses as a
/// redirect).
pub(crate) const FIREFOX_DID_NOT_SUCCEED: [ErrorCode; 5] = [
    ErrorCode::TooManyRedirects,
    ErrorCode::UnsafeRedirect,
    ErrorCode::InvalidRedirectLocation,
    ErrorCode::NetworkError,
    ErrorCode::RedirectContainsCredentials,
];

/// The lines for the fetch's failure, if it failed, whole as the console shows them.
pub fn failure_lines(browser: Browser, init: &RequestInit, outcome: &Outcome) -> Vec<String> {
    let Some(error) = &outcome.error else {
        return Vec::new();
    };
    match browser {
        Browser::Chromium => error
            .chromium_console_line(&outcome.initial_url, &init.origin.serialize())
            .into_iter()
            .collect(),
        Browser::Firefox => firefox(init, outcome, error),
        Browser::Webkit => webkit(outcome, error),
    }
}

fn webkit(outcome: &Outcome, error: &CorsError) -> Vec<String> {
    // The last exchange: the one whose response failed, or that redirected.
    let last = outcome.exchanges.last();
    let failed_url = last.map_or(error.url.clone(), |x| x.request.url.to_string());
    let cannot_load = || webkit_cannot_load(&failed_url);
    // Where the last response redirected to, if it did.
    let target = last.and_then(|x| {
        let location = redirect_location(x.response.status, &x.response.headers)?;
        x.request.url.join(&String::from_utf8_lossy(location)).ok()
    });
    match error.code {
        // `mode: "same-origin"` to another origin: refused before any request.
        ErrorCode::DisallowedByMode => vec![webkit_mode_refused(&error.url)],
        ErrorCode::TooManyRedirects => vec![WEBKIT_TOO_MANY_REDIRECTS.to_owned(), cannot_load()],
        // A request outside CORS redirected out of HTTP(S): the network process refuses `ftp:`
        // and the web process may not display `file:` (each naming the URL that redirected);
        // the web process refuses every other scheme (naming the target).
        ErrorCode::InvalidRedirectLocation => match target {
            Some(t) if t.scheme() == "ftp" => vec![WEBKIT_FTP_DISABLED.to_owned(), cannot_load()],
            Some(t) if t.scheme() == "file" => {
                vec![webkit_local_resource(t.as_str()), cannot_load()]
            }
            Some(t) => vec![
                WEBKIT_NON_HTTP_REDIRECT.to_owned(),
                webkit_cannot_load(t.as_str()),
            ],
            None => Vec::new(),
        },
        _ => {
            let Some(reason) = error.message(Browser::Webkit) else {
                return Vec::new();
            };
            // A redirect refused, or whose response failed the CORS check, names its target.
            let first = match target {
                Some(mut target)
                    if error.stage != Stage::Preflight
                        && !(error.code == ErrorCode::CorsDisabledScheme
                            && target.scheme() == "ftp") =>
                {
                    // Named without its user name and password (the reason quotes them).
                    let _ = target.set_username("");
                    let _ = target.set_password(None);
                    webkit_redirect_denied(target.as_str(), &reason)
                }
                _ => reason,
            };
            vec![first, cannot_load()]
        }
    }
}

/// The message `browser` gives for its verdict in `outcome`, as reports carry it: Chromium's
/// and WebKit's reason, Firefox's first whole line about the failure, warnings left out
/// (`None`: no CORS message).
pub fn message(browser: Browser, init: &RequestInit, outcome: &Outcome) -> Option<String> {
    match browser {
        Browser::Firefox => failure_lines(browser, init, outcome).into_iter().next(),
        _ => outcome.error.as_ref().and_then(|e| e.message(browser)),
    }
}

/// Firefox's line for a request that failed below CORS (`CORSDidNotSucceed2`, no status).
pub(crate) fn did_not_succeed(url: &str) -> String {
    CorsError {
        code: ErrorCode::NetworkError,
        stage: Stage::Actual,
        parameter: None,
        url: url.to_owned(),
        origin: String::new(),
        status: None,
        value: None,
    }
    .firefox_line()
}

fn firefox(init: &RequestInit, outcome: &Outcome, error: &CorsError) -> Vec<String> {
    // The last exchange: the one whose response failed.
    let last = outcome.exchanges.last();
    match error.stage {
        Stage::Preflight => {
            let mut out = vec![error.firefox_line()];
            if let Some(preflight) = last {
                let response = &preflight.response;
                if let Some(location) = redirect_location(response.status, &response.headers) {
                    out.push(preflight_redirect_line(
                        init,
                        error,
                        &preflight.request.url,
                        location,
                        response,
                    ));
                }
            }
            // The request the preflight guarded fails with it.
            out.push(did_not_succeed(&error.url));
            out
        }
        _ if error.code == ErrorCode::RedirectContainsCredentials => {
            // Refused as a redirect, below CORS: no reason of its own.
            vec![did_not_succeed(&error.url)]
        }
        _ if error.code.is_cors() => {
            let mut out = vec![error.firefox_line()];
            if error.stage == Stage::Redirect && error.code == ErrorCode::CorsDisabledScheme {
                // The target's scheme is judged at the target; the request that redirected
                // there fails too.
                let redirected_from = last.map_or(error.url.clone(), |x| x.request.url.to_string());
                out.push(did_not_succeed(&redirected_from));
            } else if last.is_some_and(|x| {
                redirect_location(x.response.status, &x.response.headers).is_some()
            }) {
                // A redirect is judged as Firefox follows it; refusing it fails the request.
                out.push(did_not_succeed(&error.url));
            }
            out
        }
        // A redirect the network refused (too many, to `data:`), or no answer at all: reported
        // for a CORS request only.
        _ if outcome.cross_origin && FIREFOX_DID_NOT_SUCCEED.contains(&error.code) => {
            vec![did_not_succeed(&error.url)]
        }
        _ => Vec::new(),
    }
}

/// The second line of a redirected preflight. Where the redirect response failed the
/// allow-origin check, the preflight itself did not succeed. Where it passed and Firefox
/// refused to follow the redirect, its listener judges the same response again for the origin
/// the redirect would leave (`null` across origins), then its status.
fn preflight_redirect_line(
    init: &RequestInit,
    error: &CorsError,
    preflight_url: &url::Url,
    location: &[u8],
    response: &Incoming,
) -> String {
    if error.code != ErrorCode::PreflightDisallowedRedirect {
        return did_not_succeed(&error.url);
    }
    let target = preflight_url.join(&String::from_utf8_lossy(location)).ok();
    let same_origin = target
        .as_ref()
        .is_some_and(|t| Origin::of_url(t).same_origin(&Origin::of_url(preflight_url)));
    let origin = if same_origin {
        error.origin.clone()
    } else {
        "null".to_owned()
    };
    let include = init.credentials == CredentialsMode::Include;
    let (code, parameter) =
        match cors_check(&Profile::firefox(), &origin, include, &response.headers) {
            Err(f) => (f.code.on_preflight(), f.parameter),
            Ok(()) => (ErrorCode::PreflightInvalidStatus, None),
        };
    CorsError {
        code,
        parameter,
        status: Some(response.status),
        ..error.clone()
    }
    .firefox_line()
}
