//! The text between CORS messages: the console's noise (source locations, stack lines, buttons),
//! the lines that carry a fact about a message (Chromium's `net::ERR_FAILED 401`, Firefox's
//! reason names and their documentation links), and what is not a CORS message at all (mixed
//! content, CSP, network errors, Private Network Access), named where it can be.

use serde::Serialize;

use super::template::firefox_reason_name;
use crate::agent::ErrorCode;

/// What a text that is not a CORS message crossgate knows is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OtherKind {
    /// A secure page asked for an `http:` URL: blocked before CORS.
    MixedContent,
    /// The page's Content-Security-Policy (`connect-src`) refused the URL: blocked before CORS.
    ContentSecurityPolicy,
    /// The connection failed (DNS, refused, TLS, reset), or an error names only that.
    NetworkError,
    /// An extension (an ad blocker) cancelled the request.
    BlockedByClient,
    /// Private or Local Network Access: a public page reaching a private address.
    PrivateNetworkAccess,
    /// The response's Cross-Origin-Resource-Policy refused a no-cors load.
    CrossOriginResourcePolicy,
    /// CORS turned off in the browser, or the `Origin` header refused by an extension.
    CorsDisabled,
    /// A CORS message whose reason crossgate does not know.
    UnknownCorsReason,
    /// A CORS message in the words of another engine than the one named (`--browser`).
    AnotherEngine,
    /// What script sees of any failed fetch (`TypeError: Failed to fetch`): no reason in it.
    ScriptError,
    /// Text crossgate cannot place.
    Unknown,
}

impl OtherKind {
    /// The name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            OtherKind::MixedContent => "mixed-content",
            OtherKind::ContentSecurityPolicy => "content-security-policy",
            OtherKind::NetworkError => "network-error",
            OtherKind::BlockedByClient => "blocked-by-client",
            OtherKind::PrivateNetworkAccess => "private-network-access",
            OtherKind::CrossOriginResourcePolicy => "cross-origin-resource-policy",
            OtherKind::CorsDisabled => "cors-disabled",
            OtherKind::UnknownCorsReason => "unknown-cors-reason",
            OtherKind::AnotherEngine => "another-engine",
            OtherKind::ScriptError => "script-error",
            OtherKind::Unknown => "unknown",
        }
    }

    /// What it is, in a sentence.
    pub fn summary(self) -> &'static str {
        match self {
            OtherKind::MixedContent => {
                "Mixed content: a secure (https) page asked for an insecure (http) URL, and the \
                 browser blocked it before CORS was involved."
            }
            OtherKind::ContentSecurityPolicy => {
                "Content Security Policy: the page's own policy (its `connect-src` directive) \
                 forbids this URL, before any request is sent; the API's CORS headers cannot help."
            }
            OtherKind::NetworkError => {
                "A network error: no usable response arrived (name not resolved, connection \
                 refused or reset, a TLS certificate the browser refuses). CORS was never checked."
            }
            OtherKind::BlockedByClient => {
                "Blocked by the client: an extension (usually an ad or tracker blocker) cancelled \
                 the request; the server is not involved."
            }
            OtherKind::PrivateNetworkAccess => {
                "Private (or Local) Network Access: a page on a public address asked for a \
                 private or loopback one. The browser wants a secure page and, in the older \
                 scheme, a preflight answered with `Access-Control-Allow-Private-Network: true`; \
                 in the newer one, the user's permission. crossgate does not model it yet."
            }
            OtherKind::CrossOriginResourcePolicy => {
                "Cross-Origin-Resource-Policy: the response says it may only be loaded by its own \
                 site or origin, and this no-cors load comes from elsewhere."
            }
            OtherKind::CorsDisabled => {
                "CORS is disabled in this browser (a preference, or an extension refused the \
                 Origin header): every cross-origin request fails."
            }
            OtherKind::UnknownCorsReason => {
                "A CORS message whose reason crossgate does not know (a newer or older browser \
                 version?)."
            }
            OtherKind::ScriptError => {
                "This is all script ever sees of a failed fetch, whatever the cause: the reason \
                 is on a console line of its own."
            }
            OtherKind::AnotherEngine => {
                "A CORS message in another engine's words than the one named with `--browser`."
            }
            OtherKind::Unknown => "Not a browser console message crossgate knows.",
        }
    }

    /// What to do about it.
    pub fn fix(self) -> &'static str {
        match self {
            OtherKind::MixedContent => "Serve the API over https.",
            OtherKind::ContentSecurityPolicy => {
                "Add the API's origin to `connect-src` in the page's Content-Security-Policy."
            }
            OtherKind::NetworkError => {
                "Check that the server is up and reachable from the browser, at that scheme, host \
                 and port; open the URL in a tab."
            }
            OtherKind::BlockedByClient => {
                "Try again without extensions, or allow the site in them."
            }
            OtherKind::PrivateNetworkAccess => {
                "Serve the page over https; for the older scheme answer the preflight's \
                 `Access-Control-Request-Private-Network: true` with \
                 `Access-Control-Allow-Private-Network: true` (crossgate's policy: \
                 `allow_private_network = true`); for the newer one, the user grants the \
                 permission."
            }
            OtherKind::CrossOriginResourcePolicy => {
                "Change or drop the `Cross-Origin-Resource-Policy` header on the server, or fetch \
                 with CORS (mode `cors`) and CORS headers."
            }
            OtherKind::CorsDisabled => "Check the browser's preferences and extensions.",
            OtherKind::AnotherEngine => "Run without `--browser`, or name the engine it is from.",
            OtherKind::UnknownCorsReason | OtherKind::Unknown => {
                "Run `crossgate check URL --origin ORIGIN` to see what the server answers, or \
                 paste the whole line the console printed."
            }
            OtherKind::ScriptError => {
                "Paste the console line that names the reason (\"Access to fetch at ...\", \
                 \"Cross-Origin Request Blocked ...\", or the line before \"Fetch API cannot \
                 load ...\")."
            }
        }
    }
}

/// One line of the text between messages, once its noise is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GapLine {
    /// Chromium's network line for a failed request: its URL and the status it got.
    Status { url: String, status: u16 },
    /// A Firefox reason name (or its documentation link).
    ReasonName {
        name: &'static str,
        codes: &'static [ErrorCode],
    },
    Other {
        kind: OtherKind,
        text: String,
        url: Option<String>,
    },
}

/// Reads one line of the gap; `None` for noise.
pub(crate) fn gap_line(line: &str) -> Option<GapLine> {
    let line = strip_decorations(line);
    if line.is_empty() || is_noise(line) {
        return None;
    }
    if let Some(found) = net_error(line).or_else(|| status_line(line)) {
        return Some(found);
    }
    if let Some(name) = reason_name(line) {
        return Some(name);
    }
    let kind = classify(line);
    // Mixed content names the page, then the insecure URL it asked for: that one.
    let url = match kind {
        OtherKind::MixedContent => line
            .find("http://")
            .and_then(|at| first_url(&line[at..]))
            .or_else(|| first_url(line)),
        _ => first_url(line),
    };
    Some(GapLine::Other {
        kind,
        text: line.to_owned(),
        url,
    })
}

/// Chromium's line for a response script could not use: `POST https://api.test/x 500
/// (Internal Server Error)`.
fn status_line(line: &str) -> Option<GapLine> {
    let mut words = line.split_whitespace();
    let method = words.next()?;
    let url = words.next()?;
    let status = words.next()?;
    let reason = words.next()?;
    let is_method = method.len() <= 10 && method.bytes().all(|b| b.is_ascii_uppercase());
    let is_url = url.starts_with("http://") || url.starts_with("https://");
    let status: u16 = status.parse().ok().filter(|s| (100..600).contains(s))?;
    (is_method && is_url && reason.starts_with('(')).then(|| GapLine::Status {
        url: url.to_owned(),
        status,
    })
}

/// The console's own labels around a line: Safari's `[Error]`, a source location
/// (`(index):1`, `app.js:12:5`, `VM123:4`), DevTools' buttons.
pub(crate) fn strip_decorations(line: &str) -> &str {
    let mut line = line.trim();
    loop {
        let before = line;
        for label in [
            "[Error]",
            "[Warning]",
            "[Log]",
            "[Info]",
            "[Debug]",
            "[blocked]",
        ] {
            if let Some(rest) = line.strip_prefix(label) {
                line = rest.trim_start();
            }
        }
        if let Some((first, rest)) = line.split_once(' ')
            && is_location(first)
        {
            line = rest.trim_start();
        } else if is_location(line) {
            line = "";
        }
        for tail in [
            "[Learn More]",
            "Learn More",
            "Understand this error",
            "Understand this warning",
        ] {
            if let Some(rest) = line.strip_suffix(tail) {
                line = rest.trim_end();
            }
        }
        if let Some((rest, last)) = line.rsplit_once(' ')
            && is_location(last)
        {
            line = rest.trim_end();
        }
        if line == before {
            return line;
        }
    }
}

/// `(index):1`, `app.js:12`, `main.js:12:5`, `VM123:4`, `index.html:1`, and a resource's own
/// location, `api.example.com/items:1`.
fn is_location(word: &str) -> bool {
    let Some((file, rest)) = word.split_once(':') else {
        return false;
    };
    if rest.is_empty()
        || !rest
            .split(':')
            .all(|n| n.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    if rest.split(':').any(str::is_empty) {
        return false;
    }
    file == "(index)"
        || file.starts_with("VM")
        || (file.contains('/') && !file.contains("://"))
        || [
            ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".html", ".htm", ".vue", ".svelte",
        ]
        .iter()
        .any(|ext| file.ends_with(ext))
}

fn is_noise(line: &str) -> bool {
    const WHOLE: [&str; 8] = [
        "Understand this error",
        "Understand this warning",
        "Show more",
        "Show less",
        "Learn More",
        "[Learn More]",
        "Promise.then (async)",
        "Console was cleared",
    ];
    if WHOLE.contains(&line) {
        return true;
    }
    // Safari's source location after a network line: `(items, line 0)`.
    if line.starts_with('(') && line.ends_with(')') && line.contains(", line ") {
        return true;
    }
    // Stack lines: `at fetchItems (app.js:3:9)`, `fetchItems @ app.js:3`, a timestamp.
    line.starts_with("at ")
        || line.contains(" @ ")
        || line.starts_with("(anonymous)")
        || (line.len() <= 16
            && line
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b':' || b == b'.'))
}

/// Chromium's network line: `GET https://api.test/items net::ERR_FAILED 401 (Unauthorized)`.
fn net_error(line: &str) -> Option<GapLine> {
    let at = line.find("net::ERR_")?;
    let name_and_rest = &line[at + "net::".len()..];
    let name = name_and_rest
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .next()
        .unwrap_or("");
    let url = first_url(&line[..at]);
    if name == "ERR_FAILED" {
        let status = name_and_rest[name.len()..]
            .split_whitespace()
            .next()
            .and_then(|s| s.parse::<u16>().ok());
        if let (Some(url), Some(status)) = (url.clone(), status) {
            return Some(GapLine::Status { url, status });
        }
        return Some(GapLine::Other {
            kind: OtherKind::ScriptError,
            text: line.to_owned(),
            url,
        });
    }
    let kind = if name == "ERR_BLOCKED_BY_CLIENT" {
        OtherKind::BlockedByClient
    } else if name.starts_with("ERR_BLOCKED_BY_RESPONSE") {
        OtherKind::CrossOriginResourcePolicy
    } else {
        OtherKind::NetworkError
    };
    Some(GapLine::Other {
        kind,
        text: line.to_owned(),
        url,
    })
}

/// A Firefox reason name alone, or in the link its console prints
/// (`https://developer.mozilla.org/docs/Web/HTTP/CORS/Errors/CORSMissingAllowOrigin`).
fn reason_name(line: &str) -> Option<GapLine> {
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || matches!(c, '/' | '[' | ']' | '(' | ')' | '?' | '#'))
        .filter(|w| !w.is_empty())
        .collect();
    let found = words
        .iter()
        .find_map(|w| firefox_reason_name(w.trim_end_matches(['.', ','])))?;
    // A line that says more than the name (and its link) is something else.
    const LINK_WORDS: [&str; 12] = [
        "https:",
        "http:",
        "developer.mozilla.org",
        "docs",
        "Web",
        "HTTP",
        "CORS",
        "Errors",
        "Guides",
        "Learn",
        "More",
        "Reason:",
    ];
    // A locale in the link: `en-US`.
    let locale = |w: &str| w.len() == 5 && w.as_bytes()[2] == b'-';
    let rest = words
        .iter()
        .filter(|w| !(w.starts_with("CORS") || LINK_WORDS.contains(w) || locale(w)));
    if rest.count() > 0 {
        return None;
    }
    let (name, codes) = found;
    if codes.is_empty() {
        return Some(GapLine::Other {
            kind: OtherKind::CorsDisabled,
            text: line.to_owned(),
            url: None,
        });
    }
    Some(GapLine::ReasonName { name, codes })
}

/// What a line that is not a CORS message is, from the words each browser uses.
pub(crate) fn classify(text: &str) -> OtherKind {
    let lower = text.to_ascii_lowercase();
    let has = |s: &str| lower.contains(s);
    if has("mixed content") || has("mixed active content") || has("insecure content") {
        OtherKind::MixedContent
    } else if has("content security policy") || has("content-security-policy") {
        OtherKind::ContentSecurityPolicy
    } else if has("address space")
        || has("private-network")
        || has("private network")
        || has("local network")
    {
        OtherKind::PrivateNetworkAccess
    } else if has("cross-origin-resource-policy") {
        OtherKind::CrossOriginResourcePolicy
    } else if has("failed to fetch")
        || has("axioserror")
        || lower == "network error"
        || has("networkerror when attempting to fetch")
        || lower.trim_end_matches('.') == "typeerror: load failed"
        || lower.ends_with("load failed")
    {
        OtherKind::ScriptError
    } else if has("could not connect to the server")
        || has("could not be found")
        || has("network connection was lost")
        || has("certificate")
        || has("connection refused")
        || has("err_connection")
        || has("err_name_not_resolved")
    {
        OtherKind::NetworkError
    } else if has("blocked by cors policy") || has("access control check") {
        OtherKind::UnknownCorsReason
    } else {
        OtherKind::Unknown
    }
}

/// The first http(s) URL in a text, without the quotes around it.
pub(crate) fn first_url(text: &str) -> Option<String> {
    let at = text.find("https://").or_else(|| text.find("http://"))?;
    let url: String = text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '\'' | '"' | '\u{201D}' | ')'))
        .collect();
    Some(url.trim_end_matches(['.', ',']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_the_json_names() {
        for kind in [
            OtherKind::MixedContent,
            OtherKind::ContentSecurityPolicy,
            OtherKind::NetworkError,
            OtherKind::BlockedByClient,
            OtherKind::PrivateNetworkAccess,
            OtherKind::CrossOriginResourcePolicy,
            OtherKind::CorsDisabled,
            OtherKind::UnknownCorsReason,
            OtherKind::AnotherEngine,
            OtherKind::ScriptError,
            OtherKind::Unknown,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn decorations_go() {
        assert_eq!(strip_decorations("(index):1 Access to"), "Access to");
        assert_eq!(strip_decorations("[Error] Origin x"), "Origin x");
        assert_eq!(strip_decorations("app.js:12:5  GET x"), "GET x");
        assert_eq!(strip_decorations("text. [Learn More]"), "text.");
        assert_eq!(strip_decorations("VM12:3"), "");
    }

    #[test]
    fn chromium_status_lines_carry_the_status() {
        assert_eq!(
            gap_line("app.js:3 POST https://api.test/x 500 (Internal Server Error)"),
            Some(GapLine::Status {
                url: "https://api.test/x".to_owned(),
                status: 500
            })
        );
        assert_eq!(
            gap_line("api.test/x:1 Failed to load resource: net::ERR_FAILED"),
            Some(GapLine::Other {
                kind: OtherKind::ScriptError,
                text: "Failed to load resource: net::ERR_FAILED".to_owned(),
                url: None
            })
        );
    }

    #[test]
    fn chromium_network_lines_carry_the_status() {
        assert_eq!(
            gap_line("GET https://api.test/items net::ERR_FAILED 401 (Unauthorized)"),
            Some(GapLine::Status {
                url: "https://api.test/items".to_owned(),
                status: 401
            })
        );
        assert!(matches!(
            gap_line("GET https://api.test/ net::ERR_BLOCKED_BY_CLIENT"),
            Some(GapLine::Other {
                kind: OtherKind::BlockedByClient,
                ..
            })
        ));
    }

    #[test]
    fn firefox_names_and_links() {
        assert!(matches!(
            gap_line(
                "https://developer.mozilla.org/docs/Web/HTTP/CORS/Errors/CORSMissingAllowOrigin"
            ),
            Some(GapLine::ReasonName {
                name: "CORSMissingAllowOrigin",
                ..
            })
        ));
        assert!(matches!(
            gap_line("CORSDidNotSucceed2"),
            Some(GapLine::ReasonName {
                name: "CORSDidNotSucceed",
                ..
            })
        ));
        assert!(
            gap_line("the CORSMissingAllowOrigin page says nothing useful").is_some_and(
                |g| matches!(
                    g,
                    GapLine::Other {
                        kind: OtherKind::Unknown,
                        ..
                    }
                )
            )
        );
    }

    #[test]
    fn other_problems_are_named() {
        assert_eq!(
            classify(
                "Mixed Content: The page at 'https://a.test/' was loaded over HTTPS, but \
                 requested an insecure resource 'http://b.test/'."
            ),
            OtherKind::MixedContent
        );
        assert_eq!(
            classify(
                "Refused to connect to 'https://b.test/' because it violates the following \
                 Content Security Policy directive: \"connect-src 'self'\"."
            ),
            OtherKind::ContentSecurityPolicy
        );
        assert_eq!(
            classify("Uncaught (in promise) TypeError: Failed to fetch"),
            OtherKind::ScriptError
        );
        assert_eq!(classify("hello world"), OtherKind::Unknown);
    }
}
