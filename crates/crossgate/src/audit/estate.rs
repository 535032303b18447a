//! Many targets for one audit, without I/O: URLs from a list (one a line, `#` comments), the
//! endpoints a page called as a browser's network log recorded them (what their preflights
//! must ask for), duplicates merged.

use url::Url;

use crate::agent::Profile;
use crate::agent::classify::cors_unsafe_header_names;
use crate::fetch::method;
use crate::har::Har;

/// What a target's preflight probes ask for: `Access-Control-Request-Method` and the
/// lowercase, sorted `Access-Control-Request-Headers` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ask {
    /// The `Access-Control-Request-Method` value: the method the application sends. From
    /// [`har_endpoints`], the recorded request's, normalised (Fetch §2.2.1: `get` is sent as
    /// `GET`, `patch` stays `patch`).
    pub method: String,
    /// The `Access-Control-Request-Headers` names, lowercase, sorted, each once; empty when
    /// the preflight asks for no header.
    pub headers: Vec<String>,
}

impl Ask {
    /// The `Access-Control-Request-Headers` value (`None` when no header is asked for).
    pub fn header_list(&self) -> Option<String> {
        (!self.headers.is_empty()).then(|| self.headers.join(","))
    }

    /// Both asks in one: the first method that needs a preflight (a CORS-safelisted one only
    /// when neither needs one), and every header either asks for.
    fn merge(&mut self, other: &Ask) {
        let safelisted = |m: &str| method::is_cors_safelisted(m.as_bytes());
        if safelisted(&self.method) && !safelisted(&other.method) {
            self.method.clone_from(&other.method);
        }
        for h in &other.headers {
            if let Err(at) = self.headers.binary_search(h) {
                self.headers.insert(at, h.clone());
            }
        }
    }
}

/// One URL to audit, where it came from (`argument 2`, `targets.txt:14`, `har entry 31`) and,
/// when a recording showed what the application sends there, what its preflights asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The http(s) URL the probes go to, query included. [`merge_endpoints`] and
    /// [`har_endpoints`] remove the fragment.
    pub url: Url,
    /// Where the URL came from, for messages: `targets.txt:14`, `har entry 31`, ...
    pub source: String,
    /// What the preflight probes ask for; `None` for a URL from the command line or a list,
    /// where the caller picks (`crossgate audit` asks for its `-X` method with `authorization`
    /// and `content-type`).
    pub ask: Option<Ask>,
}

/// A line of a target list that is not a target, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    /// Where the line is: `targets.txt:5`, `har entry 12`.
    pub source: String,
    /// The line without its comment, trimmed (or the recorded URL).
    pub text: String,
    /// Why it is not a target, as [`parse_target`] says it.
    pub error: String,
}

/// An http(s) URL to audit, or why `text` is not one.
///
/// A target is an absolute `http:` or `https:` URL, path and query as they come. Refused, with
/// a sentence that says why: text that is not an absolute URL (a bare host name), any other
/// scheme, and a URL with a user name or password in it: those would go as Basic credentials
/// on every probe and be printed in every report; give them as an `Authorization` header
/// instead (`-H`), which every output masks.
///
/// ```
/// use crossgate::audit::parse_target;
///
/// let url = parse_target("https://api.example.com:8443/v1/items?page=2").unwrap();
/// assert_eq!(url.host_str(), Some("api.example.com"));
/// assert_eq!(url.port(), Some(8443));
///
/// // A host name alone is not a URL: the scheme says which origin is audited.
/// assert!(parse_target("api.example.com/v1").unwrap_err().starts_with("not a URL"));
/// assert!(parse_target("ws://api.example.com/socket").unwrap_err().contains("`ws:`"));
/// let error = parse_target("https://admin:hunter2@api.example.com/").unwrap_err();
/// assert!(error.contains("credentials"), "{error}");
/// ```
pub fn parse_target(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{}:` URLs are not audited: give an http(s) URL",
            url.scheme()
        ));
    }
    if url.host().is_none() {
        return Err("the URL has no host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        // They would go as Basic credentials on every probe and be printed in every report.
        return Err(
            "the URL carries credentials: remove them and pass -H 'Authorization: \
                    ...' (masked in every output) instead"
                .to_owned(),
        );
    }
    Ok(url)
}

/// The targets of a list: one URL a line; blank lines and `#` comments (whole-line or after
/// the URL) are ignored. `name` names the list in each source (`targets.txt`, `stdin`).
pub fn parse_target_list(text: &str, name: &str) -> (Vec<Endpoint>, Vec<BadLine>) {
    let mut targets = Vec::new();
    let mut bad = Vec::new();
    // A byte-order mark (editors on Windows write one) is not part of the first line.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, line) in text.lines().enumerate() {
        let source = format!("{name}:{}", i + 1);
        let content = match line.find(" #").or_else(|| line.find("\t#")) {
            Some(at) => &line[..at],
            None => line,
        }
        .trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        match parse_target(content) {
            Ok(url) => targets.push(Endpoint {
                url,
                source,
                ask: None,
            }),
            Err(error) => bad.push(BadLine {
                source,
                text: content.to_owned(),
                error,
            }),
        }
    }
    (targets, bad)
}

/// Every cross-origin endpoint a page called in `cors` mode, in the order the log recorded
/// them, each with what its preflight asked (or would have asked): the request's method and its
/// CORS-unsafe header names (Fetch §2.2.2), as Chromium computes them.
pub fn har_endpoints(har: &Har) -> (Vec<Endpoint>, Vec<BadLine>) {
    let profile = Profile::chromium();
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for fetch in har.fetches() {
        let source = format!("har entry {}", fetch.entry);
        let Some(text) = fetch.url.as_deref() else {
            continue;
        };
        let url = match parse_target(text) {
            Ok(url) => url,
            Err(error) => {
                bad.push(BadLine {
                    source,
                    text: text.to_owned(),
                    error,
                });
                continue;
            }
        };
        let headers: Vec<(String, Vec<u8>)> = fetch
            .headers
            .iter()
            // A value the export removed is unknown, but the header it removes
            // (`Authorization`) is CORS-unsafe by its name alone.
            .map(|h| (h.name.clone(), h.value.clone().into_bytes()))
            .collect();
        let method = fetch
            .method
            .as_deref()
            .map(|m| String::from_utf8_lossy(&method::normalize(m.as_bytes())).into_owned())
            .unwrap_or_else(|| "GET".to_owned());
        let names = cors_unsafe_header_names(&headers, &profile);
        out.push(Endpoint {
            url,
            source,
            ask: Some(Ask {
                method,
                headers: names,
            }),
        });
    }
    // One target per endpoint, not per query: a page's cache-busters and paging parameters
    // (`?_=1733...`, `?page=2`) would otherwise make hundreds of targets of one route. The
    // first recorded URL, query and all, is the one audited (a route may answer without its
    // CORS headers when a parameter it needs is missing).
    let out = merge_by(out, |url| {
        let mut route = url.clone();
        route.set_query(None);
        route
    });
    (out, bad)
}

/// Duplicates merged, first occurrence kept in place: the same URL (its fragment ignored) is
/// one target, asking for everything any of its occurrences asked.
pub fn merge_endpoints(endpoints: Vec<Endpoint>) -> Vec<Endpoint> {
    merge_by(endpoints, |url| url.clone())
}

/// Merges the endpoints whose URLs (fragments removed) have the same `key`.
fn merge_by(endpoints: Vec<Endpoint>, key: impl Fn(&Url) -> Url) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = Vec::with_capacity(endpoints.len());
    let mut at: std::collections::HashMap<Url, usize> = std::collections::HashMap::new();
    for mut e in endpoints {
        e.url.set_fragment(None);
        let k = key(&e.url);
        match at.get(&k) {
            Some(&i) => {
                let kept = &mut out[i];
                match (&mut kept.ask, e.ask) {
                    (Some(a), Some(b)) => a.merge(&b),
                    (kept_ask @ None, Some(b)) => *kept_ask = Some(b),
                    (_, None) => {}
                }
            }
            None => {
                at.insert(k, out.len());
                out.push(e);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_with_comments_bad_lines_and_duplicates() {
        let text = "\u{feff}# estate\n\nhttps://api.example.com/v1\n  http://127.0.0.1:8080/x # local\n\
                    ftp://files.example.com/\nnot a url\nhttps://api.example.com/v1#frag\n";
        let (targets, bad) = parse_target_list(text, "t.txt");
        assert_eq!(targets.len(), 3);
        assert_eq!(targets[1].url.as_str(), "http://127.0.0.1:8080/x");
        assert_eq!(targets[1].source, "t.txt:4");
        assert_eq!(
            bad.iter().map(|b| b.source.as_str()).collect::<Vec<_>>(),
            ["t.txt:5", "t.txt:6"]
        );
        assert!(bad[0].error.contains("ftp:"), "{}", bad[0].error);
        assert!(
            parse_target("https://user:secret@api.example.com/")
                .unwrap_err()
                .contains("credentials")
        );
        let merged = merge_endpoints(targets);
        assert_eq!(merged.len(), 2, "the fragment does not make another target");
        assert_eq!(merged[0].source, "t.txt:3");
    }

    #[test]
    fn asks_merge_to_the_most_demanding() {
        let url: Url = "https://api.example.com/items".parse().unwrap();
        let e = |m: &str, h: &[&str]| Endpoint {
            url: url.clone(),
            source: "x".to_owned(),
            ask: Some(Ask {
                method: m.to_owned(),
                headers: h.iter().map(|s| s.to_string()).collect(),
            }),
        };
        let merged = merge_endpoints(vec![
            e("GET", &["x-api-key"]),
            e("DELETE", &["authorization"]),
            e("PUT", &["content-type"]),
        ]);
        assert_eq!(merged.len(), 1);
        let ask = merged[0].ask.as_ref().unwrap();
        assert_eq!(ask.method, "DELETE");
        assert_eq!(
            ask.header_list().as_deref(),
            Some("authorization,content-type,x-api-key")
        );
    }
}
