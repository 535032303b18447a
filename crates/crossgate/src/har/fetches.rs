//! The CORS requests in a network log: which entries are a page's cross-origin `fetch()` or
//! XHR, the redirect hops and preflights that belong to each, and what script asked for
//! (origin, method, URL, the headers it set), as far as the recording shows.

use std::collections::HashMap;

use url::Url;

use super::{Entry, Har};
use crate::fetch::header::is_forbidden_request_header_name;
use crate::fetch::list::parse_token_list;
use crate::origin::Origin;

/// A request header that script set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorHeader {
    pub name: String,
    pub value: String,
    /// Known only from the preflight's `Access-Control-Request-Headers`: the export dropped
    /// the header itself (Chromium's sanitised export removes `Authorization`), so its value
    /// is unknown.
    pub value_unknown: bool,
}

/// One cross-origin request in `cors` mode, with the entries it rests on.
#[derive(Clone, Debug, Default)]
pub struct RecordedFetch {
    /// The entry of the request (its first hop).
    pub entry: usize,
    /// The later hops of a redirect chain, in order.
    pub hops: Vec<usize>,
    /// The preflight entries found for it, in time order.
    pub preflights: Vec<usize>,
    /// The request itself is in the log. Not so for a request whose preflight failed in an
    /// engine that shows the request only once it is sent (Firefox): its preflight is all
    /// there is, and `entry` is the preflight's.
    pub sent: bool,
    /// The request's origin, serialised (`null` for an opaque one).
    pub origin: Option<String>,
    pub method: Option<String>,
    pub url: Option<String>,
    /// What script set, browser-added headers removed.
    pub headers: Vec<AuthorHeader>,
    /// A `Cookie` header or cookies were sent: the credentials mode was `include`.
    pub cookies_sent: bool,
    /// What the log lacks for a judgement, as HAR paths.
    pub missing: Vec<String>,
}

/// Headers a browser adds by itself to a `fetch()` that are neither forbidden nor, in the
/// browser's own accounting, reasons to preflight: they are not script's.
const BROWSER_ADDED: [&str; 6] = [
    "user-agent",
    "priority",
    "pragma",
    "cache-control",
    "upgrade-insecure-requests",
    "x-client-data",
];

/// Whether an entry is a page's request in `cors` mode. `Sec-Fetch-Mode` says so where the
/// engine sends it; otherwise a `fetch`/`xhr` resource is one, and so is a request carrying
/// `Origin` with any method but `POST` (browsers send `Origin` on a GET or HEAD only in `cors`
/// mode, and `no-cors` allows no other method). A `POST` with `Origin` may be a form's: it is
/// one only if the response speaks CORS.
fn cors_mode(e: &Entry) -> bool {
    if let Some(mode) = e.request_header("Sec-Fetch-Mode") {
        return mode.eq_ignore_ascii_case("cors");
    }
    if let Some(t) = e.resource_type.as_deref() {
        return t.eq_ignore_ascii_case("fetch") || t.eq_ignore_ascii_case("xhr");
    }
    if e.request_header("Origin").is_none() {
        return false;
    }
    e.method.as_deref() != Some("POST")
        || e.response_headers.iter().flatten().any(|(n, _)| {
            n.len() > 15 && n.as_bytes()[..15].eq_ignore_ascii_case(b"access-control-")
        })
}

/// The request's origin: its `Origin` header, else the page's, else the `Referer`'s (a
/// cross-origin `Referer` is the origin alone under the default referrer policy).
fn origin_of(e: &Entry) -> Option<String> {
    if let Some(o) = e.request_header("Origin") {
        return Some(o.to_owned());
    }
    let from_url = |u: &str| {
        let o = Origin::from_url_str(u).ok()?;
        (!o.is_opaque()).then(|| o.serialize())
    };
    e.page_url
        .as_deref()
        .and_then(from_url)
        .or_else(|| e.request_header("Referer").and_then(from_url))
}

/// The URL as the network saw it: tools record URLs without their fragment.
pub(super) fn parsed(url: Option<&str>) -> Option<Url> {
    let mut u = url.and_then(|u| Url::parse(u).ok())?;
    u.set_fragment(None);
    Some(u)
}

fn is_redirect(status: Option<i64>) -> bool {
    matches!(status, Some(301 | 302 | 303 | 307 | 308))
}

/// The entries by URL (without fragment), parsed once: requests and preflights apart.
struct Index {
    requests: HashMap<String, Vec<usize>>,
    preflights: HashMap<String, Vec<usize>>,
}

impl Index {
    fn new(entries: &[Entry]) -> Index {
        let mut index = Index {
            requests: HashMap::new(),
            preflights: HashMap::new(),
        };
        for e in entries {
            if let Some(u) = parsed(e.url.as_deref()) {
                let map = if e.is_preflight() {
                    &mut index.preflights
                } else {
                    &mut index.requests
                };
                map.entry(u.to_string()).or_default().push(e.index);
            }
        }
        index
    }
}

/// The next hop of a redirect: the first later unclaimed request to the `Location`, by the
/// same initiator where the tools record one.
fn next_hop(entries: &[Entry], index: &Index, from: usize, claimed: &[bool]) -> Option<usize> {
    let e = &entries[from];
    if !is_redirect(e.status) {
        return None;
    }
    let location = e
        .redirect_url
        .as_deref()
        .or_else(|| e.response_header("Location"))?;
    let mut target = parsed(e.url.as_deref())?.join(location).ok()?;
    target.set_fragment(None);
    index
        .requests
        .get(target.as_str())?
        .iter()
        .copied()
        .find(|i| {
            *i > from
                && !claimed[*i]
                && (e.initiator_url.is_none() || entries[*i].initiator_url == e.initiator_url)
        })
}

/// The preflight for a hop: an unclaimed one to the same URL, for the same method (and, for
/// the first hop, the same origin), closest in time (Chromium lists the preflight after the
/// request it serves, since the request was issued first).
fn preflight_for(
    entries: &[Entry],
    index: &Index,
    hop: &Entry,
    origin: Option<&str>,
    claimed: &[bool],
) -> Option<usize> {
    let method = hop.method.as_deref()?;
    let url = parsed(hop.url.as_deref())?;
    let distance = |p: &Entry| match (p.started_ms, hop.started_ms) {
        (Some(a), Some(b)) => (a - b).unsigned_abs(),
        _ => (p.index as i64 - hop.index as i64).unsigned_abs(),
    };
    index
        .preflights
        .get(url.as_str())?
        .iter()
        .map(|i| &entries[*i])
        .filter(|p| {
            !claimed[p.index]
                && p.request_header("Access-Control-Request-Method") == Some(method)
                && match origin {
                    Some(o) => p.request_header("Origin") == Some(o),
                    // After a redirect the request's `Origin` may be `null` while its preflight
                    // names the first origin (Firefox), or the hop has only provisional
                    // headers (Chromium): the URL and method match it.
                    None => true,
                }
        })
        .min_by_key(|p| distance(p))
        .map(|p| p.index)
}

/// The names in a preflight's `Access-Control-Request-Headers`, lowercase.
fn requested_headers(preflight: &Entry) -> Vec<String> {
    let lines = preflight
        .request_headers
        .iter()
        .flatten()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Access-Control-Request-Headers"))
        .map(|(_, v)| v.as_bytes());
    match parse_token_list(lines) {
        Ok(Some(names)) => names
            .iter()
            .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
            .collect(),
        _ => Vec::new(),
    }
}

/// Script's headers: the recorded ones less those the browser adds; where a preflight was
/// recorded, its `Access-Control-Request-Headers` is the engine's own list of the unsafe ones,
/// so a browser-added header it does not name goes and a name the export dropped comes back.
fn author_headers(first: &Entry, preflight: Option<&Entry>) -> Vec<AuthorHeader> {
    let requested = preflight.map(requested_headers);
    let listed = |name: &str| {
        requested
            .as_ref()
            .is_some_and(|r| r.iter().any(|n| n.eq_ignore_ascii_case(name)))
    };
    let mut out: Vec<AuthorHeader> = first
        .request_headers
        .iter()
        .flatten()
        .filter(|(name, _)| {
            !name.starts_with(':')
                && !is_forbidden_request_header_name(name.as_bytes())
                && (!BROWSER_ADDED.iter().any(|b| name.eq_ignore_ascii_case(b)) || listed(name))
        })
        .map(|(name, value)| AuthorHeader {
            name: name.clone(),
            value: value.clone(),
            value_unknown: false,
        })
        .collect();
    for name in requested.iter().flatten() {
        if !out.iter().any(|h| h.name.eq_ignore_ascii_case(name))
            && !is_forbidden_request_header_name(name.as_bytes())
        {
            out.push(AuthorHeader {
                name: name.clone(),
                value: String::new(),
                value_unknown: true,
            });
        }
    }
    out
}

impl Har {
    /// The page's cross-origin requests in `cors` mode (a same-origin request that a redirect
    /// takes to another origin included), each with its redirect hops and preflights.
    /// `crossgate audit --har` takes its endpoints from here.
    pub fn fetches(&self) -> Vec<RecordedFetch> {
        let entries = &self.entries;
        let index = Index::new(entries);
        let mut claimed = vec![false; entries.len()];
        let mut out = Vec::new();
        for i in 0..entries.len() {
            let first = &entries[i];
            if claimed[i] || first.is_preflight() || !cors_mode(first) {
                continue;
            }
            let Some(url) = parsed(first.url.as_deref()) else {
                continue;
            };
            if !matches!(url.scheme(), "http" | "https") {
                continue;
            }
            let origin = origin_of(first);
            claimed[i] = true;
            let mut chain = vec![i];
            while let Some(next) = next_hop(entries, &index, *chain.last().unwrap_or(&i), &claimed)
            {
                claimed[next] = true;
                chain.push(next);
            }
            let cross_origin = match origin.as_deref() {
                None => true,
                Some(o) => chain.iter().any(|h| {
                    parsed(entries[*h].url.as_deref())
                        .is_some_and(|u| Origin::of_url(&u).serialize() != o)
                }),
            };
            if !cross_origin {
                continue;
            }
            let mut preflights = Vec::new();
            for h in &chain {
                // A hop after the first takes the origin its own `Origin` header names (a
                // redirect may have made it `null`); the first may have only the provisional
                // headers of a request that never went out (Chromium, after a failed preflight).
                let hop_origin = if *h == i {
                    entries[i].request_header("Origin").or(origin.as_deref())
                } else {
                    None
                };
                if let Some(p) = preflight_for(entries, &index, &entries[*h], hop_origin, &claimed)
                {
                    claimed[p] = true;
                    preflights.push(p);
                }
            }
            let mut missing = Vec::new();
            if origin.is_none() {
                missing.push(format!("log.entries[{i}].request.headers.Origin"));
            }
            if first.request_headers.is_none() {
                missing.push(format!("log.entries[{i}].request.headers"));
            }
            let headers = author_headers(first, preflights.first().map(|p| &entries[*p]));
            out.push(RecordedFetch {
                entry: i,
                sent: true,
                hops: chain[1..].to_vec(),
                preflights,
                origin,
                method: first.method.clone(),
                url: first.url.clone(),
                headers,
                cookies_sent: first.cookies_sent || first.request_header("Cookie").is_some(),
                missing,
            });
        }
        // A preflight no request claims: the request was never sent (its preflight failed,
        // or it was cancelled). What it asked for stands for the request.
        for p in entries
            .iter()
            .filter(|p| !claimed[p.index] && p.is_preflight())
        {
            let origin = p.request_header("Origin").map(str::to_owned);
            let mut missing = Vec::new();
            if origin.is_none() {
                missing.push(format!("log.entries[{}].request.headers.Origin", p.index));
            }
            let method = p
                .request_header("Access-Control-Request-Method")
                .map(str::to_owned);
            if method.is_none() {
                missing.push(format!(
                    "log.entries[{}].request.headers.Access-Control-Request-Method",
                    p.index
                ));
            }
            out.push(RecordedFetch {
                entry: p.index,
                sent: false,
                hops: Vec::new(),
                preflights: vec![p.index],
                origin,
                method,
                url: p.url.clone(),
                headers: author_headers(&Entry::default(), Some(p)),
                cookies_sent: false,
                missing,
            });
        }
        out.sort_by_key(|f| f.entry);
        out
    }
}
