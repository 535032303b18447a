//! A case: the fetch the page runs and what the scripted server answers, as the page composes
//! it (and as the URL fragment carries it). Ports are not part of a case, so a shared case runs
//! on any playground: header values name the playground's origins through placeholders, which a
//! run expands.

use serde::{Deserialize, Serialize};

/// One of the playground's origins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Place {
    /// The page's own origin: a same-origin request.
    Page,
    /// The page's server over `https` on the same port: only the scheme differs. Its
    /// certificate is made when the playground starts, so a browser trusts it only once told
    /// to (open the origin and accept it).
    Scheme,
    /// The page's server under its other host name (`localhost` for `127.0.0.1`, and the
    /// reverse): same scheme and port, another host, so another origin.
    Host,
    /// The scripted target, on another port: the usual cross-origin API.
    #[default]
    Target,
    /// A third origin (another port again), where redirects lead.
    Redirect,
}

impl Place {
    /// Every place, in the order the page lists them.
    pub const ALL: [Place; 5] = [
        Place::Page,
        Place::Scheme,
        Place::Host,
        Place::Target,
        Place::Redirect,
    ];

    /// The name a case uses (and the placeholder `{name}` in header values).
    pub const fn as_str(self) -> &'static str {
        match self {
            Place::Page => "page",
            Place::Scheme => "scheme",
            Place::Host => "host",
            Place::Target => "target",
            Place::Redirect => "redirect",
        }
    }
}

/// What the page sends as the body: `fetch()` then sets a `Content-Type` of its own unless
/// script set one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyKind {
    /// No body.
    #[default]
    None,
    /// A string: `text/plain;charset=UTF-8`.
    Text,
    /// `URLSearchParams`: `application/x-www-form-urlencoded;charset=UTF-8`.
    Urlencoded,
    /// `FormData`: `multipart/form-data; boundary=...` (the boundary is the browser's own).
    Multipart,
}

impl BodyKind {
    /// The `Content-Type` that `fetch()` adds for this body (Fetch §5.2 "extract a body"), as
    /// the simulation assumes it; for `multipart` the boundary differs per browser, but any
    /// boundary keeps the value safelisted.
    pub const fn content_type(self) -> Option<&'static str> {
        match self {
            BodyKind::None => None,
            BodyKind::Text => Some("text/plain;charset=UTF-8"),
            BodyKind::Urlencoded => Some("application/x-www-form-urlencoded;charset=UTF-8"),
            BodyKind::Multipart => Some("multipart/form-data; boundary=----crossgate-playground"),
        }
    }
}

/// The fetch a case runs: `fetch(url, {method, headers, body, credentials, mode})`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    /// The origin it goes to.
    #[serde(default)]
    pub to: Place,
    /// The path (and query) on that origin, starting with `/`.
    #[serde(default = "root")]
    pub path: String,
    /// The method as script writes it.
    #[serde(default = "get")]
    pub method: String,
    /// The headers script sets, in order; a name may repeat.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body script passes.
    #[serde(default)]
    pub body: BodyKind,
    /// `omit`, `same-origin` or `include`.
    #[serde(default = "same_origin")]
    pub credentials: String,
    /// `cors`, `no-cors` or `same-origin`.
    #[serde(default = "cors")]
    pub mode: String,
}

fn root() -> String {
    "/".to_owned()
}
fn get() -> String {
    "GET".to_owned()
}
fn same_origin() -> String {
    "same-origin".to_owned()
}
fn cors() -> String {
    "cors".to_owned()
}

/// A scripted answer: status and header lines (no body; the playground adds its own).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// The status, 200 to 599.
    pub status: u16,
    /// Header lines in order; a name may repeat. Values may hold the placeholders `{origin}`
    /// (the page's origin) and `{page}`, `{scheme}`, `{host}`, `{target}`, `{redirect}` (that origin's
    /// base URL for this run, for `Location`).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// How the target answers.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ServerScript {
    /// Fixed answers: the n-th preflight gets `preflight[n]`, the n-th actual request (each
    /// redirect hop is one) gets `actual[n]`; past the end, the last answer again.
    Scripted {
        /// Answers to preflights.
        #[serde(default)]
        preflight: Vec<Answer>,
        /// Answers to the actual request, hop by hop.
        #[serde(default)]
        actual: Vec<Answer>,
    },
    /// A policy (the `Policy` schema, CONTRACTS §1) that crossgate's tower layer enforces in
    /// front of a handler answering `200`. String values may say `{origin}`.
    Policy {
        /// The policy document, as JSON.
        policy: serde_json::Value,
    },
}

/// A whole case.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The fetch.
    pub request: CaseRequest,
    /// The server's side.
    pub server: ServerScript,
}

/// The limits on a case: enough for anything a person composes, little for a hostile page.
pub const MAX_LINES: usize = 64;
/// The longest header value or path, in bytes.
pub const MAX_VALUE: usize = 8 * 1024;
/// Hops and preflight answers a script may hold: more than the 20 redirects Fetch follows
/// (§4.4 "HTTP-redirect fetch", step 5), so a script can show the 21st failing.
pub const MAX_ANSWERS: usize = 32;

/// The header names a scripted answer may not carry: the playground frames its responses.
pub const FRAMING: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

impl Case {
    /// Every problem with the case that the simulation would not report itself, each a line
    /// saying what to change.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let request = &self.request;
        if !request.path.starts_with('/') {
            problems.push(format!(
                "request.path {:?} must start with `/`",
                request.path
            ));
        }
        if request.path.len() > MAX_VALUE || request.path.contains(['#', ' ', '\r', '\n']) {
            problems.push(
                "request.path must be at most 8 KiB, without spaces, line breaks or `#`".into(),
            );
        }
        if request.headers.len() > MAX_LINES {
            problems.push(format!("request.headers: at most {MAX_LINES} lines"));
        }
        let method = request.method.to_ascii_uppercase();
        if request.body != BodyKind::None && (method == "GET" || method == "HEAD") {
            problems.push(format!(
                "request.body: a {method} request cannot have a body (fetch() throws); choose \
                 `none` or another method"
            ));
        }
        if let ServerScript::Scripted { preflight, actual } = &self.server {
            for (list, answers) in [("preflight", preflight), ("actual", actual)] {
                if answers.len() > MAX_ANSWERS {
                    problems.push(format!("server.{list}: at most {MAX_ANSWERS} answers"));
                }
                for (i, answer) in answers.iter().enumerate() {
                    answer_problems(&format!("server.{list}[{i}]"), answer, &mut problems);
                }
            }
        }
        problems
    }
}

fn answer_problems(at: &str, answer: &Answer, problems: &mut Vec<String>) {
    if !(200..=599).contains(&answer.status) {
        problems.push(format!(
            "{at}.status {} must be between 200 and 599",
            answer.status
        ));
    }
    if answer.headers.len() > MAX_LINES {
        problems.push(format!("{at}.headers: at most {MAX_LINES} lines"));
    }
    for (name, value) in &answer.headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            problems.push(format!("{at}: {name:?} is not a header name (a token)"));
        } else if FRAMING.contains(&name.to_ascii_lowercase().as_str()) {
            problems.push(format!(
                "{at}: {name} is the playground's to send (it frames every response); remove it"
            ));
        }
        if value.len() > MAX_VALUE || !is_scriptable_value(value) {
            problems.push(format!(
                "{at}: the value of {name} must be at most 8 KiB of printable ASCII (no control \
                 characters, nothing above U+007E)"
            ));
        }
    }
}

/// Whether a scripted response header value can be sent as written: printable ASCII (and tab)
/// only. The wire would carry another character as one Latin-1 byte, while the simulation reads
/// a response's values as UTF-8, so the two would differ.
pub fn is_scriptable_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}
