//! What the server must change, in plain words, naming the likely cause where the pattern is
//! known (`browser-messages.md` §2).

use serde::Serialize;

use super::check::get;
use super::engine::{ExchangeKind, Outcome};
use super::error::{CorsError, ErrorCode};
use super::request::{CredentialsMode, RequestInit};
use crate::fetch::method;

/// A diagnosis: the likely cause (when the pattern is known) and what to change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub summary: String,
    pub likely_cause: Option<String>,
    pub fix: Vec<String>,
}

fn header_of(outcome: &Outcome, error: &CorsError, name: &str) -> Option<String> {
    let kind = match error.stage {
        super::error::Stage::Preflight => ExchangeKind::Preflight,
        _ => ExchangeKind::Actual,
    };
    outcome
        .exchanges
        .iter()
        .rev()
        .find(|e| e.request.kind == kind)
        .and_then(|e| get(&e.response.headers, name))
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// "now `X`", or that the response has none.
fn now(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("now `{v}`"),
        None => "the response has none".to_owned(),
    }
}

/// Explains a blocked outcome; `None` when it was allowed.
pub fn explain(init: &RequestInit, outcome: &Outcome) -> Option<Explanation> {
    let e = outcome.error.as_ref()?;
    let origin = &e.origin;
    let status = e.status.unwrap_or(0);
    let p = e.parameter.as_deref().unwrap_or("");
    let include = init.credentials == CredentialsMode::Include;
    let echo_origin = format!("Access-Control-Allow-Origin: {origin}");
    let mut cause = None;
    let mut fix: Vec<String> = Vec::new();
    let summary;
    match e.code {
        ErrorCode::PreflightMissingAllowOriginHeader if matches!(status, 401 | 403) => {
            summary =
                format!("The preflight (OPTIONS) was answered {status} without CORS headers.");
            cause = Some(
                "Authentication or authorization middleware answers the preflight. Preflights never \
                 carry cookies or an Authorization header, so they always fail an auth check."
                    .to_owned(),
            );
            fix.push("Put the CORS layer before (outside) authentication, so it answers OPTIONS preflights itself with 204.".to_owned());
        }
        ErrorCode::PreflightMissingAllowOriginHeader | ErrorCode::MissingAllowOriginHeader
            if status >= 400 =>
        {
            summary = format!(
                "The server answered {status} without CORS headers, so the browser reports a CORS \
                 error instead of the {status}."
            );
            cause = Some(if e.code == ErrorCode::PreflightMissingAllowOriginHeader {
                format!(
                    "No OPTIONS handler for this path (or a gateway in front) answers the preflight with {status}."
                )
            } else {
                "An error page or error handler that adds no CORS headers.".to_owned()
            });
            fix.push(format!("Fix the {status} first, and send the CORS headers on error responses too (nginx: `add_header ... always`; frameworks: CORS middleware outermost)."));
            fix.push(format!("Send `{echo_origin}` and `Vary: Origin`."));
        }
        ErrorCode::PreflightMissingAllowOriginHeader | ErrorCode::MissingAllowOriginHeader => {
            summary = "The response has no Access-Control-Allow-Origin header.".to_owned();
            fix.push(format!(
                "Send `{echo_origin}` (the exact origin, from an allowlist) and `Vary: Origin`."
            ));
            if include {
                fix.push(
                    "With credentials, also send `Access-Control-Allow-Credentials: true`."
                        .to_owned(),
                );
            }
        }
        ErrorCode::WildcardOriginNotAllowed | ErrorCode::PreflightWildcardOriginNotAllowed => {
            summary = "`Access-Control-Allow-Origin: *` with a request that includes credentials."
                .to_owned();
            cause = Some(
                "`*` is only for requests without cookies; browsers refuse it with credentials."
                    .to_owned(),
            );
            fix.push(format!("Echo the allowed origin instead: `{echo_origin}`, with `Access-Control-Allow-Credentials: true` and `Vary: Origin`."));
            fix.push(
                "Or, if the request needs no cookies, drop `credentials: 'include'` in the script."
                    .to_owned(),
            );
        }
        ErrorCode::AllowOriginMismatch
        | ErrorCode::PreflightAllowOriginMismatch
        | ErrorCode::InvalidAllowOriginValue
        | ErrorCode::PreflightInvalidAllowOriginValue => {
            summary = format!(
                "Access-Control-Allow-Origin is `{p}`, but the request's origin is `{origin}`."
            );
            if origin == "null" {
                cause = Some("A redirect to another origin made the request's origin `null` (the redirect taints it).".to_owned());
                fix.push("Call the final URL directly instead of through the redirect.".to_owned());
            } else if p.trim_end_matches('/') == origin {
                cause = Some("The value has a trailing slash: an origin never has one.".to_owned());
            } else if p.eq_ignore_ascii_case(origin) {
                cause =
                    Some("The value differs in letter case: the comparison is exact.".to_owned());
            }
            fix.push(format!("Send exactly `{echo_origin}` (scheme, host and port, no path or trailing slash), and `Vary: Origin`."));
        }
        ErrorCode::MultipleAllowOriginValues | ErrorCode::PreflightMultipleAllowOriginValues => {
            summary = "Access-Control-Allow-Origin holds more than one value.".to_owned();
            cause = Some("A list of origins in one header, or two layers (a proxy and the application) each adding the header.".to_owned());
            fix.push(format!("Check the request's Origin against the allowlist and send that one origin: `{echo_origin}`, with `Vary: Origin`; make sure only one layer writes CORS headers."));
        }
        ErrorCode::InvalidAllowCredentials | ErrorCode::PreflightInvalidAllowCredentials => {
            summary = format!(
                "Access-Control-Allow-Credentials is `{p}`, but the request includes credentials."
            );
            fix.push("Send `Access-Control-Allow-Credentials: true` (exactly, in lower case), with an exact origin.".to_owned());
        }
        ErrorCode::PreflightInvalidStatus => {
            summary = format!("The preflight (OPTIONS) was answered {status}, not a 2xx status.");
            cause = Some(match status {
                404 | 405 => {
                    "No OPTIONS handler for this path: the router answers the preflight itself."
                        .to_owned()
                }
                401 | 403 => {
                    "Authentication or authorization middleware answers the preflight.".to_owned()
                }
                s if (300..400).contains(&s) => "The preflight got a redirect status.".to_owned(),
                _ => {
                    "Something in front of the CORS layer answers OPTIONS with an error.".to_owned()
                }
            });
            fix.push("Answer preflights with 204 and the allow headers, before routing and authentication.".to_owned());
        }
        ErrorCode::PreflightDisallowedRedirect => {
            let location = header_of(outcome, e, "location").unwrap_or_default();
            summary = format!(
                "The preflight was redirected to `{location}`; browsers never follow a redirect on a preflight."
            );
            cause = Some("Usually a trailing-slash redirect, or http -> https.".to_owned());
            fix.push(format!(
                "Call the final URL directly (`{location}`), or stop redirecting OPTIONS requests."
            ));
        }
        ErrorCode::InvalidAllowMethodsPreflightResponse
        | ErrorCode::InvalidAllowHeadersPreflightResponse => {
            let header = if e.code == ErrorCode::InvalidAllowMethodsPreflightResponse {
                "Access-Control-Allow-Methods"
            } else {
                "Access-Control-Allow-Headers"
            };
            summary = format!(
                "{header} has an item that is not a token: `{p}`, so the whole list is refused."
            );
            fix.push(format!("Send {header} as names separated by commas, e.g. `PUT, DELETE` or `content-type, authorization`."));
        }
        ErrorCode::MethodDisallowedByPreflightResponse => {
            let allowed = header_of(outcome, e, "access-control-allow-methods");
            summary = format!("The preflight does not allow the method `{p}`.");
            if let Some(upper) = method::is_lowercase_variant_of_common_method(p.as_bytes()) {
                cause = Some(format!(
                    "The script sends `{p}` in lower case: browsers upper-case only DELETE, GET, HEAD, OPTIONS, POST and PUT, and compare other methods case-sensitively."
                ));
                fix.push(format!(
                    "Write `{upper}` in the script (or allow `{p}` too)."
                ));
            } else if include
                && allowed
                    .as_deref()
                    .is_some_and(|a| a.split(',').any(|m| m.trim() == "*"))
            {
                cause = Some("`*` is read literally on a request with credentials.".to_owned());
                fix.push(format!(
                    "List the method: `Access-Control-Allow-Methods: {p}`."
                ));
            } else {
                fix.push(format!(
                    "Add `{p}` to Access-Control-Allow-Methods ({}).",
                    now(allowed.as_deref())
                ));
            }
        }
        ErrorCode::HeaderDisallowedByPreflightResponse => {
            let allowed_value = header_of(outcome, e, "access-control-allow-headers");
            let allowed = allowed_value.clone().unwrap_or_default();
            let name = p.to_ascii_lowercase();
            summary = format!("The preflight does not allow the request header `{name}`.");
            let star = allowed.split(',').any(|h| h.trim() == "*");
            if name == "authorization" && star {
                cause = Some(
                    "`Access-Control-Allow-Headers: *` never covers Authorization.".to_owned(),
                );
            } else if star && include {
                cause = Some("`*` is read literally on a request with credentials.".to_owned());
            } else if name == "content-type" {
                cause = Some("A Content-Type other than form data or text/plain (application/json, say) is not safelisted, so it must be allowed.".to_owned());
            }
            fix.push(format!(
                "Add `{name}` to Access-Control-Allow-Headers ({}).",
                now(allowed_value.as_deref())
            ));
        }
        ErrorCode::RedirectContainsCredentials => {
            summary = format!("A redirect points to a URL with a user name or password (`{p}`).");
            fix.push("Redirect to a URL without userinfo; send credentials in headers.".to_owned());
        }
        ErrorCode::CorsDisabledScheme => {
            summary = format!("CORS requests only go to http(s) URLs, not `{p}:`.");
            fix.push("Serve the resource over http(s).".to_owned());
        }
        ErrorCode::MixedContent => {
            summary = "A secure (https) page cannot fetch an insecure http URL: mixed content, blocked before CORS.".to_owned();
            fix.push("Serve the API over https.".to_owned());
        }
        ErrorCode::DisallowedByMode => {
            summary =
                "The request's mode is `same-origin`, but the URL is on another origin.".to_owned();
            fix.push("Use `mode: 'cors'` (the default) in the script.".to_owned());
        }
        ErrorCode::ForbiddenMethod
        | ErrorCode::InvalidMethod
        | ErrorCode::NoCorsMethodNotSafelisted
        | ErrorCode::CredentialsInRequestUrl
        | ErrorCode::InvalidHeader => {
            summary = format!(
                "`fetch()` itself refuses this request ({}): nothing is sent and no CORS message is printed.",
                e.code
            );
            fix.push("Change the script; the server is not involved.".to_owned());
        }
        ErrorCode::UnsafeRedirect => {
            summary = format!(
                "The browser refuses to follow this redirect ({}) before CORS is even checked, \
                 and prints no CORS message.",
                p
            );
            fix.push("Redirect to a plain http(s) URL without a user name or password.".to_owned());
        }
        ErrorCode::TooManyRedirects | ErrorCode::InvalidRedirectLocation => {
            summary =
                "The redirect chain is broken (too long, or a Location that is not a usable URL)."
                    .to_owned();
            fix.push("Fix the server's redirects.".to_owned());
        }
        ErrorCode::InvalidResponse | ErrorCode::NetworkError => {
            summary = "The server could not be reached or sent no usable response.".to_owned();
            fix.push("Check that the server is up and reachable from the browser.".to_owned());
        }
    }
    Some(Explanation {
        summary,
        likely_cause: cause,
        fix,
    })
}
