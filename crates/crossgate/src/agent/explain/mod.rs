//! What the server must change, in plain words: the cause where the pattern is known, the
//! likely causes in order, and the fix in general and in each stack (`browser-messages.md` §2).
//!
//! The same diagnosis serves a simulated or probed fetch ([`explain`], where every exchange is
//! known) and a console message a developer pasted ([`explain_message`], where only what the
//! message says is).

mod remedy;

use serde::Serialize;

pub use remedy::{ByStack, Stack};

use self::remedy::Remedy;
use super::check::get;
use super::engine::{ExchangeKind, Outcome};
use super::error::{ErrorCode, Stage};
use super::paste::{Message, OtherKind};
use super::request::{CredentialsMode, RequestInit};
use crate::browser::Browser;
use crate::fetch::method;

/// A diagnosis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// What happened, in a sentence or two, with the header values and status known. For a
    /// pasted message whose words fit several failures, it starts "Most likely:".
    pub summary: String,
    /// The most likely cause, where one is known (the first of `likely_causes`).
    pub likely_cause: Option<String>,
    /// The causes that produce this failure, most likely first.
    pub likely_causes: Vec<String>,
    /// What to change, in general.
    pub fix: Vec<String>,
    /// What to change in each stack, where it differs.
    pub fix_by_stack: ByStack,
}

/// What is known of a blocked request.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The error; `None` where the message names none (WebKit's "Fetch API cannot load ...
    /// due to access control checks." alone).
    pub code: Option<ErrorCode>,
    /// The failed parameter: a header value, a method, a header name.
    pub parameter: Option<String>,
    /// The request's origin, where known.
    pub origin: Option<String>,
    /// The failing response's status, where known.
    pub status: Option<u16>,
    /// Whether the request included credentials (`None`: not known).
    pub credentials: Option<bool>,
    /// The failing response's `Access-Control-Allow-Methods`, where known (the lines combined
    /// with `", "`).
    pub allow_methods: Option<String>,
    /// The failing response's `Access-Control-Allow-Headers`, where known.
    pub allow_headers: Option<String>,
    /// The failing response's `Location`, where known (the summary of a redirected preflight
    /// names it).
    pub location: Option<String>,
    /// The browser that failed it, where known.
    pub browser: Option<Browser>,
}

fn header_of(outcome: &Outcome, stage: Stage, name: &str) -> Option<String> {
    let kind = match stage {
        Stage::Preflight => ExchangeKind::Preflight,
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

/// Explains a blocked outcome; `None` when it was allowed.
pub fn explain(init: &RequestInit, outcome: &Outcome) -> Option<Explanation> {
    let e = outcome.error.as_ref()?;
    let facts = Facts {
        code: Some(e.code),
        parameter: e.parameter.clone(),
        origin: Some(e.origin.clone()),
        status: e.status,
        credentials: Some(init.credentials == CredentialsMode::Include),
        allow_methods: header_of(outcome, e.stage, "access-control-allow-methods"),
        allow_headers: header_of(outcome, e.stage, "access-control-allow-headers"),
        location: header_of(outcome, e.stage, "location"),
        browser: None,
    };
    Some(diagnose(&facts))
}

/// Explains a pasted console message: its most likely error, and the others its words fit.
///
/// Read the paste with [`paste::parse`](crate::agent::paste::parse) first; each
/// [`Item::Message`](crate::agent::paste::Item::Message) it finds can be explained.
///
/// ```
/// use crossgate::agent::explain::explain_message;
/// use crossgate::agent::paste::{Item, parse};
/// use crossgate::agent::{ErrorCode, Stage};
/// use crossgate::browser::Browser;
///
/// // Chromium's console, copied whole: the CORS line, then the network line with the status.
/// let pasted = "Access to fetch at 'https://api.example.com/items' from origin \
///     'https://app.example.com' has been blocked by CORS policy: Response to preflight \
///     request doesn't pass access control check: No 'Access-Control-Allow-Origin' header is \
///     present on the requested resource.\n\
///     PUT https://api.example.com/items net::ERR_FAILED 401 (Unauthorized)";
/// let items = parse(pasted, None);
/// let Item::Message(m) = &items[0] else { panic!("not read as a CORS message") };
/// assert_eq!(m.browser, Browser::Chromium);
/// assert_eq!(m.code, Some(ErrorCode::PreflightMissingAllowOriginHeader));
/// assert_eq!(m.stage(), Some(Stage::Preflight));
/// assert_eq!(m.status, Some(401));
///
/// let x = explain_message(m);
/// assert_eq!(x.summary, "The preflight (OPTIONS) was answered 401 without CORS headers.");
/// assert!(x.likely_cause.unwrap().starts_with("Authentication or authorization middleware"));
/// assert!(!x.fix.is_empty());
/// ```
pub fn explain_message(m: &Message) -> Explanation {
    if m.code.is_none() && !m.complete {
        return cut_before_reason(m);
    }
    let facts = Facts {
        code: m.code,
        parameter: m.parameter.clone(),
        origin: m.origin.clone(),
        status: m.status,
        credentials: m.implies_credentials().then_some(true),
        browser: Some(m.browser),
        ..Facts::default()
    };
    let mut x = diagnose(&facts);
    // What the same words could also mean, after the main reading's own causes.
    let main = x.summary.clone();
    let mut seen = vec![m.code.map(ErrorCode::base)];
    let mut preflight_noted = m.code.is_some_and(ErrorCode::is_preflight_access);
    let mut actual_noted = false;
    for alt in &m.alternatives {
        if alt.is_preflight_access() && !preflight_noted {
            preflight_noted = true;
            x.likely_causes.push(
                if alt.base() == ErrorCode::MissingAllowOriginHeader {
                    "If the request was preflighted (a method other than GET, HEAD or POST, a \
                     custom header, a JSON Content-Type), it was the preflight's answer that \
                     lacked the header: then an authentication layer or a missing OPTIONS route \
                     answering it is the usual cause."
                } else {
                    "If the request was preflighted (a method other than GET, HEAD or POST, a \
                     custom header, a JSON Content-Type), it was the preflight's answer that \
                     failed this check."
                }
                .to_owned(),
            );
        }
        if m.code.is_some_and(ErrorCode::is_preflight_access)
            && !alt.is_preflight_access()
            && !actual_noted
        {
            actual_noted = true;
            let other = diagnose(&Facts {
                code: Some(*alt),
                ..facts.clone()
            });
            x.likely_causes.push(format!(
                "If the request was not preflighted (GET, HEAD or POST with safelisted headers), \
                 it was the request's own answer: {}",
                other.summary
            ));
        }
        if seen.contains(&Some(alt.base())) {
            continue;
        }
        seen.push(Some(alt.base()));
        let other = diagnose(&Facts {
            code: Some(alt.base()),
            ..facts.clone()
        });
        let or = format!("Or: {}", other.summary);
        if other.summary != main && !x.likely_causes.contains(&or) {
            x.likely_causes.push(or);
        }
    }
    // Not a verdict where the words fit several failures or stages, or were cut.
    if seen.len() > 1 || (m.code.is_some() && !m.stage_certain()) {
        x.summary = format!(
            "Most likely: {} ({} prints the same words for other failures too: see the causes; \
             `--check` tells which.)",
            x.summary, m.browser
        );
    } else if !m.complete {
        x.summary = format!(
            "Most likely (the message is cut short, read from its first words): {}",
            x.summary
        );
    }
    if m.warning {
        x.summary = format!(
            "A warning, not a failure (yet): this time Firefox let the request through. {}",
            x.summary
        );
    }
    x.likely_cause = x.likely_causes.first().cloned();
    x
}

/// A message cut before its reason: what can still be said.
fn cut_before_reason(m: &Message) -> Explanation {
    let fix = vec![format!(
        "Paste the whole line, or run `crossgate check {} --origin {} --browser {}`.",
        m.url.as_deref().unwrap_or("URL"),
        m.origin.as_deref().unwrap_or("ORIGIN"),
        m.browser.id()
    )];
    Explanation {
        summary: format!(
            "A {} CORS message cut before its reason: the browser blocked the request, but the \
             words that say why are missing.",
            m.browser
        ),
        likely_cause: None,
        likely_causes: Vec::new(),
        fix,
        fix_by_stack: ByStack::default(),
    }
}

/// What to say about `facts`.
pub fn diagnose(facts: &Facts) -> Explanation {
    let mut d = Diagnosis::default();
    match facts.code {
        Some(code) => d.of(code, facts),
        None => {
            d.summary = "The browser's access control checks failed, but this line does not say \
                 which: WebKit prints the reason on the line before \"Fetch API cannot load\"."
                .to_owned();
            d.cause("Paste the line before it, or run the request with `crossgate check`.");
            d.fix("Run `crossgate check URL --origin ORIGIN --browser webkit` to see the reason.");
        }
    }
    let mut fix = d.fix;
    fix.extend(d.remedies.iter().map(Remedy::general));
    fix.extend(d.after);
    if fix.is_empty() {
        fix.push("Change the script; the server is not involved.".to_owned());
    }
    Explanation {
        summary: d.summary,
        likely_cause: d.causes.first().cloned(),
        likely_causes: d.causes,
        fix,
        fix_by_stack: remedy::by_stack(&d.remedies),
    }
}

#[derive(Default)]
struct Diagnosis {
    summary: String,
    causes: Vec<String>,
    /// Fixes that come before the remedies' own words.
    fix: Vec<String>,
    /// Fixes that come after them (the other way out).
    after: Vec<String>,
    remedies: Vec<Remedy>,
}

/// "now `X`", or that the response has none.
fn now(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("now `{v}`"),
        None => "the response has none".to_owned(),
    }
}

impl Diagnosis {
    fn cause(&mut self, text: impl Into<String>) {
        self.causes.push(text.into());
    }

    fn fix(&mut self, text: impl Into<String>) {
        self.fix.push(text.into());
    }

    fn fix_after(&mut self, text: impl Into<String>) {
        self.after.push(text.into());
    }

    fn of(&mut self, code: ErrorCode, f: &Facts) {
        let origin = f.origin.clone().unwrap_or_default();
        let p = f.parameter.as_deref().unwrap_or("");
        let preflight = code.stage() == Some(Stage::Preflight);
        match code.base() {
            ErrorCode::MissingAllowOriginHeader => self.missing_allow_origin(f, &origin, preflight),
            ErrorCode::WildcardOriginNotAllowed => {
                self.summary =
                    "`Access-Control-Allow-Origin: *` on a request that includes credentials."
                        .to_owned();
                self.cause(
                    "The server (or its CORS middleware's default) sends `*`, and the script \
                     sends cookies (`credentials: 'include'`, `withCredentials = true`): browsers \
                     refuse `*` then.",
                );
                self.remedies
                    .push(Remedy::ExactOriginWithCredentials(origin.clone()));
                self.fix_after(
                    "Or, if the request needs no cookies, drop `credentials: 'include'` in the \
                     script.",
                );
            }
            ErrorCode::AllowOriginMismatch => self.mismatch(p, &origin),
            ErrorCode::InvalidAllowOriginValue if p.is_empty() => {
                self.summary = "Access-Control-Allow-Origin is not a valid origin (a host \
                     without its scheme, a path, a list, a stray character)."
                    .to_owned();
                self.cause("A hand-written value: an origin is `https://host[:port]`, exactly.");
                self.remedies.push(Remedy::AllowOrigin(origin.clone()));
            }
            ErrorCode::InvalidAllowOriginValue => self.mismatch(p, &origin),
            ErrorCode::MultipleAllowOriginValues => {
                self.summary = if p.is_empty() {
                    "Access-Control-Allow-Origin came more than once.".to_owned()
                } else {
                    format!("Access-Control-Allow-Origin holds more than one value: `{p}`.")
                };
                self.cause(
                    "Two layers each add the header (a proxy or gateway and the application), \
                     so the browser sees two.",
                );
                self.cause("The whole allowlist is sent in one header, separated by commas.");
                self.remedies.push(Remedy::OneAllowOrigin(origin.clone()));
            }
            ErrorCode::InvalidAllowCredentials => {
                self.summary = if p.is_empty() {
                    "The request includes credentials, but the response has no \
                     `Access-Control-Allow-Credentials: true`."
                        .to_owned()
                } else {
                    format!(
                        "Access-Control-Allow-Credentials is `{p}`, but the request includes \
                         credentials: only `true` will do."
                    )
                };
                self.cause("Credentials are not enabled in the server's CORS settings.");
                if !p.is_empty() {
                    self.cause(
                        "A value other than exactly `true` (`True`, `1`, `yes`): the comparison \
                         is exact.",
                    );
                }
                self.remedies.push(Remedy::AllowCredentials);
            }
            ErrorCode::PreflightInvalidStatus => self.preflight_status(f),
            ErrorCode::PreflightDisallowedRedirect => {
                let location = f.location.as_deref().unwrap_or(p);
                self.summary = if location.is_empty() {
                    "The preflight was answered with a redirect; browsers never follow a \
                     redirect on a preflight."
                        .to_owned()
                } else {
                    format!(
                        "The preflight was redirected to `{location}`; browsers never follow a \
                         redirect on a preflight."
                    )
                };
                self.cause("A trailing-slash redirect (`/items` to `/items/`, or back).");
                self.cause("An http to https redirect: call the https URL.");
                self.cause("An authentication layer redirecting to a login page.");
                self.remedies.push(Remedy::NoPreflightRedirect);
            }
            ErrorCode::InvalidAllowMethodsPreflightResponse
            | ErrorCode::InvalidAllowHeadersPreflightResponse => {
                let header = if code == ErrorCode::InvalidAllowMethodsPreflightResponse {
                    "Access-Control-Allow-Methods"
                } else {
                    "Access-Control-Allow-Headers"
                };
                self.summary = if p.is_empty() {
                    format!("{header} does not parse as a list of names, so all of it is refused.")
                } else {
                    format!(
                        "{header} has an item that is not a name: `{p}`, so all of it is refused."
                    )
                };
                self.cause(
                    "Another separator than a comma (`;`, spaces alone), quotes, or a stray \
                     character in a hand-written header.",
                );
                self.remedies.push(Remedy::TokenList(header));
            }
            ErrorCode::MethodDisallowedByPreflightResponse => self.method(f, p),
            ErrorCode::HeaderDisallowedByPreflightResponse => self.header(f, p),
            _ => self.below_cors(code, p),
        }
    }

    fn missing_allow_origin(&mut self, f: &Facts, origin: &str, preflight: bool) {
        match f.status {
            Some(status @ (401 | 403)) if preflight => {
                self.summary =
                    format!("The preflight (OPTIONS) was answered {status} without CORS headers.");
                self.cause(
                    "Authentication or authorization middleware answers the preflight. \
                     Preflights never carry cookies or an Authorization header, so an auth check \
                     that does not let OPTIONS through refuses them.",
                );
                self.cause(
                    "The CORS layer sits inside the auth layer, so it never sees the preflight.",
                );
                self.remedies.push(Remedy::PreflightBeforeAuth);
            }
            Some(status) if status >= 400 => {
                self.summary = format!(
                    "The server answered {status} without CORS headers, so the browser reports a \
                     CORS error instead of the {status}."
                );
                if preflight {
                    self.cause(format!(
                        "No OPTIONS handler for this path (or a gateway in front) answers the \
                         preflight with {status}."
                    ));
                } else {
                    if matches!(status, 401 | 403) {
                        self.cause(
                            "The request was not authenticated (a cookie not sent cross-site: \
                             `credentials: 'include'`, `SameSite=None; Secure`), and the auth \
                             layer's answer has no CORS headers.",
                        );
                    }
                    self.cause(format!(
                        "An error handler or error page (the {status}) that adds no CORS headers."
                    ));
                    self.cause(
                        "nginx `add_header` without `always`: nginx adds it to 2xx and 3xx \
                         responses only.",
                    );
                }
                self.fix(format!(
                    "Fix the {status} first: it is the real error; then send the CORS headers on \
                     error responses too."
                ));
                self.remedies.push(Remedy::CorsOnErrors);
                self.remedies.push(Remedy::AllowOrigin(origin.to_owned()));
            }
            _ => {
                self.summary = if preflight {
                    "The preflight's response (OPTIONS) has no Access-Control-Allow-Origin header."
                        .to_owned()
                } else {
                    "The response has no Access-Control-Allow-Origin header.".to_owned()
                };
                if preflight && f.status.is_none() {
                    self.cause(
                        "Something other than the CORS layer answered the preflight: \
                         authentication middleware (401 or 403: a preflight carries no cookies \
                         or Authorization header), a router without an OPTIONS route (404 or \
                         405), a gateway. The status tells which: Firefox and WebKit print it, \
                         Chromium's network line does (`net::ERR_FAILED 401`).",
                    );
                }
                if origin.is_empty() {
                    self.cause(
                        "The page's origin is not in the server's allowlist: most CORS \
                         middleware sends nothing for an origin it refuses.",
                    );
                } else {
                    self.cause(format!(
                        "The origin `{origin}` is not in the server's allowlist: most CORS \
                         middleware sends nothing for an origin it refuses."
                    ));
                }
                self.cause(
                    "CORS is not set up on this route (a layer on some routes only, e.g. axum's \
                     `route_layer`), or the request reached another server (a wrong host or \
                     port).",
                );
                self.cause(
                    "A proxy or CDN drops the header, or serves a response cached for another \
                     origin (the server sends no `Vary: Origin`).",
                );
                if !preflight && f.status.is_none() && f.browser == Some(Browser::Chromium) {
                    self.cause(
                        "An error response without CORS headers: Chromium does not print the \
                         status here, its network line does (`net::ERR_FAILED 500`); a 4xx or \
                         5xx there is the real error.",
                    );
                }
                if preflight && f.status.is_some() {
                    self.cause(
                        "The preflight was answered by something other than the CORS layer (an \
                         OPTIONS route, a framework default, a gateway).",
                    );
                }
                if preflight && f.status.is_none() {
                    self.remedies.push(Remedy::PreflightBeforeAuth);
                }
                self.remedies.push(Remedy::AllowOrigin(origin.to_owned()));
                match f.credentials {
                    Some(true) => self.remedies.push(Remedy::AllowCredentials),
                    Some(false) => {}
                    None => self.fix_after(
                        "If the script sends cookies (`credentials: 'include'`), also send \
                         `Access-Control-Allow-Credentials: true`.",
                    ),
                }
            }
        }
    }

    fn mismatch(&mut self, p: &str, origin: &str) {
        self.summary = match (p.is_empty(), origin.is_empty()) {
            (false, false) => format!(
                "Access-Control-Allow-Origin is `{p}`, but the request's origin is `{origin}`."
            ),
            (false, true) => {
                format!("Access-Control-Allow-Origin is `{p}`, which is not the request's origin.")
            }
            _ => "Access-Control-Allow-Origin names another origin than the request's.".to_owned(),
        };
        let trimmed = p.trim_end_matches('/');
        if origin == "null" {
            self.cause(
                "The page has no origin of its own: opened from a file (`file://`), or in a \
                 sandboxed iframe. Serve it over http(s).",
            );
            self.cause(
                "A redirect to another origin made the request's origin `null` (the redirect \
                 taints it): call the final URL directly.",
            );
        } else if p.ends_with('/') && (origin.is_empty() || trimmed == origin) {
            self.cause("The value has a trailing slash: an origin never has one.");
        } else if !origin.is_empty() && p.eq_ignore_ascii_case(origin) {
            self.cause("The value differs in letter case: the comparison is exact.");
        } else if p.contains("://") && p.splitn(4, '/').nth(3).is_some_and(|s| !s.is_empty()) {
            self.cause("The value has a path: an origin is scheme, host and port only.");
        } else if !p.is_empty() && !p.contains("://") && p != "null" {
            self.cause("The value has no scheme: an origin is `https://host[:port]`.");
        } else if !origin.is_empty() && !p.is_empty() {
            let scheme = |s: &str| s.split("://").next().unwrap_or("").to_owned();
            let host = |s: &str| s.split("://").nth(1).unwrap_or("").to_owned();
            if scheme(p) != scheme(origin) && host(p) == host(origin) {
                self.cause("The scheme differs (http and https are different origins).");
            } else if host(p).split(':').next() == host(origin).split(':').next() {
                self.cause("The port differs: a port is part of the origin.");
            }
        }
        self.cause(
            "The server sends a fixed origin (the first of its list, or production's) instead of \
             the request's.",
        );
        self.cause(
            "A cache (CDN, proxy) served a response made for another origin: the server must send \
             `Vary: Origin`.",
        );
        self.remedies.push(Remedy::AllowOrigin(origin.to_owned()));
    }

    fn preflight_status(&mut self, f: &Facts) {
        let status = f.status;
        self.summary = match status {
            Some(s) => format!("The preflight (OPTIONS) was answered {s}, not a 2xx status."),
            None => "The preflight (OPTIONS) was not answered with a 2xx status.".to_owned(),
        };
        match status {
            Some(404 | 405) => {
                self.cause(
                    "No OPTIONS handler for this path: the router answers the preflight itself.",
                );
                self.remedies.push(Remedy::AnswerPreflight);
            }
            Some(401 | 403) => {
                self.cause(
                    "Authentication or authorization middleware answers the preflight: a \
                     preflight carries no cookies or Authorization header.",
                );
                self.remedies.push(Remedy::PreflightBeforeAuth);
            }
            Some(s) if (300..400).contains(&s) => {
                self.cause("The preflight got a redirect (trailing slash, http to https).");
                self.remedies.push(Remedy::NoPreflightRedirect);
            }
            Some(s) if s >= 500 => {
                self.cause(
                    "The server failed on OPTIONS: an OPTIONS route that errors, or an \
                     upstream error behind a gateway.",
                );
                self.remedies.push(Remedy::AnswerPreflight);
            }
            _ => {
                self.cause("No OPTIONS handler for this path: the router answers 404 or 405.");
                self.cause("Authentication middleware answers the preflight with 401 or 403.");
                self.cause("Something in front of the CORS layer answers OPTIONS with an error.");
                self.remedies.push(Remedy::AnswerPreflight);
                self.remedies.push(Remedy::PreflightBeforeAuth);
            }
        }
    }

    fn method(&mut self, f: &Facts, p: &str) {
        self.summary = if p.is_empty() {
            "The preflight's Access-Control-Allow-Methods does not list the request's method."
                .to_owned()
        } else {
            format!("The preflight does not allow the method `{p}`.")
        };
        let star = f
            .allow_methods
            .as_deref()
            .is_some_and(|a| a.split(',').any(|m| m.trim() == "*"));
        if let Some(upper) = method::is_lowercase_variant_of_common_method(p.as_bytes()) {
            self.cause(format!(
                "The script sends `{p}` in lower case: browsers upper-case only DELETE, GET, \
                 HEAD, OPTIONS, POST and PUT, and compare other methods case-sensitively."
            ));
            self.fix(format!(
                "Write `{upper}` in the script (or allow `{p}` too)."
            ));
            return;
        }
        if f.credentials == Some(true) && star {
            self.cause("`*` is read literally on a request with credentials.");
        } else {
            self.cause(match &f.allow_methods {
                Some(_) => format!(
                    "The server does not list `{p}` ({}).",
                    now(f.allow_methods.as_deref())
                ),
                None => format!(
                    "The server's CORS settings do not list `{p}` (GET, HEAD and POST need no \
                     listing; every other method does)."
                ),
            });
        }
        self.remedies.push(Remedy::AllowMethod(if p.is_empty() {
            "PUT".to_owned()
        } else {
            p.to_owned()
        }));
    }

    fn header(&mut self, f: &Facts, p: &str) {
        let name = if p.is_empty() {
            "x-custom-header".to_owned()
        } else {
            p.to_ascii_lowercase()
        };
        self.summary = if p.is_empty() {
            "The preflight does not allow one of the request's headers.".to_owned()
        } else {
            format!("The preflight does not allow the request header `{name}`.")
        };
        let allowed = f.allow_headers.as_deref();
        let star = allowed.is_some_and(|a| a.split(',').any(|h| h.trim() == "*"));
        if name == "authorization" && (star || allowed.is_none()) {
            self.cause(
                "`Access-Control-Allow-Headers: *` never covers Authorization: it must be listed \
                 by name.",
            );
        } else if star && f.credentials == Some(true) {
            self.cause("`*` is read literally on a request with credentials.");
        }
        if name == "content-type" {
            self.cause(
                "A Content-Type other than form data or text/plain (application/json, say) is \
                 not safelisted, so it must be allowed.",
            );
        }
        self.cause(match allowed {
            Some(_) => format!("The server does not list `{name}` ({}).", now(allowed)),
            None => format!("The server's CORS settings do not list `{name}`."),
        });
        self.remedies.push(Remedy::AllowHeader(name));
    }

    /// Failures outside the server's CORS answers.
    fn below_cors(&mut self, code: ErrorCode, p: &str) {
        match code {
            ErrorCode::RedirectContainsCredentials => {
                self.summary = if p.is_empty() {
                    "A redirect points to a URL with a user name or password.".to_owned()
                } else {
                    format!("A redirect points to a URL with a user name or password (`{p}`).")
                };
                self.fix("Redirect to a URL without userinfo; send credentials in headers.");
            }
            ErrorCode::CorsDisabledScheme => {
                self.summary = if p.is_empty() {
                    "CORS requests only go to http(s) URLs.".to_owned()
                } else {
                    format!("CORS requests only go to http(s) URLs, not `{p}:`.")
                };
                self.cause("The page was opened from a file (`file://`): its requests have no usable origin.");
                self.cause("A redirect led to another scheme.");
                self.fix(
                    "Serve the page and the resource over http(s) (a local dev server will do).",
                );
            }
            ErrorCode::MixedContent => {
                self.summary = OtherKind::MixedContent.summary().to_owned();
                self.fix(OtherKind::MixedContent.fix());
            }
            ErrorCode::DisallowedByMode => {
                self.summary = "The request's mode is `same-origin`, but the URL is on another \
                     origin."
                    .to_owned();
                self.fix("Use `mode: 'cors'` (the default) in the script.");
            }
            ErrorCode::ForbiddenMethod
            | ErrorCode::InvalidMethod
            | ErrorCode::NoCorsMethodNotSafelisted
            | ErrorCode::CredentialsInRequestUrl
            | ErrorCode::InvalidHeader => {
                self.summary = format!(
                    "`fetch()` itself refuses this request ({code}): nothing is sent and no CORS \
                     message is printed."
                );
                self.fix("Change the script; the server is not involved.");
            }
            ErrorCode::UnsafeRedirect => {
                let target = if p.is_empty() {
                    String::new()
                } else {
                    format!(" (to `{p}`)")
                };
                self.summary = format!(
                    "The browser refuses to follow this redirect{target} before CORS is checked \
                     (Chromium and WebKit print no CORS message for it; Firefox says the \
                     request did not succeed)."
                );
                self.fix("Redirect to a plain http(s) URL without a user name or password.");
            }
            ErrorCode::TooManyRedirects | ErrorCode::InvalidRedirectLocation => {
                self.summary = "The redirect chain is broken (too long, or a Location that is \
                     not a usable URL)."
                    .to_owned();
                self.fix("Fix the server's redirects.");
            }
            _ => {
                self.summary =
                    "No usable response: the request did not succeed below CORS.".to_owned();
                self.cause(
                    "The server could not be reached: down, a wrong host or port, DNS, a \
                     refused connection.",
                );
                self.cause(
                    "A TLS certificate the browser refuses (self-signed, expired, another \
                     name).",
                );
                self.cause("An extension (an ad or tracker blocker) cancelled the request.");
                self.cause(
                    "A redirect the browser refused (too many, to another scheme, with \
                     credentials in the URL).",
                );
                self.fix(
                    "Check that the server is up and reachable from the browser, at that \
                     scheme, host and port; open the URL in a tab.",
                );
            }
        }
    }
}
