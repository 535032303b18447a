//! The CORS requests in a network log: which entries are a page's cross-origin `fetch()` or
//! XHR, the redirect hops and preflights that belong to each, and what script asked for
//! (origin, method, URL, the headers it set), as far as the recording shows.

use std::collections::{HashMap, HashSet};

use url::Url;

use super::{Entry, Har};
use crate::fetch::header::{is_cors_safelisted_request_header, is_forbidden_request_header_name};
use crate::fetch::list::parse_token_list;
use crate::origin::Origin;

/// A request header that script set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorHeader {
    /// The name as the log shows it; lowercase for one known only from the preflight.
    pub name: String,
    /// The value as recorded; empty when `value_unknown`.
    pub value: String,
    /// Known only from the preflight's `Access-Control-Request-Headers`: the export dropped
    /// the header itself (Chromium's sanitised export removes `Authorization`), so its value
    /// is unknown.
    pub value_unknown: bool,
}

/// `Name: value`, or `Name: (removed by the export)`.
impl std::fmt::Display for AuthorHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.value_unknown {
            write!(f, "{}: (removed by the export)", self.name)
        } else {
            write!(f, "{}: {}", self.name, self.value)
        }
    }
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
    /// The request's method as recorded; for a request never sent, its preflight's
    /// `Access-Control-Request-Method`. `None` when the log does not have it.
    pub method: Option<String>,
    /// The request's URL as recorded (its first hop); for a request never sent, its
    /// preflight's.
    pub url: Option<String>,
    /// What script set, browser-added headers removed.
    pub headers: Vec<AuthorHeader>,
    /// A `Cookie` header or cookies went to another origin than the request's: the credentials
    /// mode was `include`.
    pub cookies_sent: bool,
    /// When the request started, in milliseconds since the Unix epoch: its `startedDateTime`,
    /// or for an entry without one the last time before it in the file (the replay's order).
    pub at_ms: i64,
    /// What the log lacks for a judgement, as HAR paths.
    pub missing: Vec<String>,
}

/// Headers a browser adds by itself to a `fetch()` that are neither forbidden nor, in the
/// browser's own accounting, reasons to preflight: they are not script's (unless a recorded
/// preflight names them). The conditional ones come with a cache revalidation.
const BROWSER_ADDED: [&str; 11] = [
    "user-agent",
    "priority",
    "pragma",
    "cache-control",
    "upgrade-insecure-requests",
    "x-client-data",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
    "if-range",
];

/// Headers the tools' default export removes (Chromium's sanitised HAR): a preflight may name
/// them though the request shows none.
const SANITISED: [&str; 1] = ["authorization"];

/// How far back from a preflight the request it serves is looked for, among requests to the
/// same URL: enough for any page, bounded for a hostile log.
const PREFLIGHT_REACH: usize = 64;

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

fn origin_of_url(u: &str) -> Option<String> {
    let o = Origin::from_url_str(u).ok()?;
    (!o.is_opaque()).then(|| o.serialize())
}

/// The request's origin: its `Origin` header; else its own URL's where `Sec-Fetch-Site` says
/// it is same-origin; else the `Referer`'s (the document that made it: a cross-origin
/// `Referer` is the origin alone under the default referrer policy); else the page's (the
/// top-level document, which an iframe's request does not come from).
fn origin_of(e: &Entry) -> Option<String> {
    if let Some(o) = e.request_header("Origin").filter(|o| !o.is_empty()) {
        return Some(o.to_owned());
    }
    if e.request_header("Sec-Fetch-Site")
        .is_some_and(|s| s.eq_ignore_ascii_case("same-origin"))
    {
        return e.url.as_deref().and_then(origin_of_url);
    }
    e.request_header("Referer")
        .and_then(origin_of_url)
        .or_else(|| e.page_url.as_deref().and_then(origin_of_url))
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

/// Each entry's time for ordering: its `startedDateTime`, else the last one before it in the
/// file (so an entry without one keeps its place).
fn times(entries: &[Entry]) -> Vec<i64> {
    let mut last = i64::MIN;
    entries
        .iter()
        .map(|e| {
            if let Some(t) = e.started_ms {
                last = t;
            }
            last
        })
        .collect()
}

/// The entries by URL (without fragment), parsed once, in time order: requests and
/// preflights apart.
struct Index {
    requests: HashMap<String, Vec<usize>>,
    preflights: HashMap<String, Vec<usize>>,
}

impl Index {
    fn new(entries: &[Entry], times: &[i64]) -> Index {
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
        for list in index
            .requests
            .values_mut()
            .chain(index.preflights.values_mut())
        {
            list.sort_by_key(|i| (times[*i], *i));
        }
        index
    }
}

/// A redirect chain as it is followed: the request's origin, and whether a redirect tainted
/// it (Fetch §4.4 HTTP-redirect fetch step 13: `Origin: null` from then on).
struct Chain<'a> {
    origin: Option<&'a str>,
    tainted: bool,
}

/// The next hop of a redirect: the earliest unclaimed request to the `Location` that started
/// no earlier than the redirect, by the same initiator where the tools record one, and with
/// the `Origin` the redirect leaves the request (where the hop carries one).
fn next_hop(
    entries: &[Entry],
    index: &Index,
    times: &[i64],
    from: usize,
    chain: &mut Chain<'_>,
    claimed: &[bool],
) -> Option<usize> {
    let e = &entries[from];
    if !is_redirect(e.status) {
        return None;
    }
    let location = e
        .redirect_url
        .as_deref()
        .or_else(|| e.response_header("Location"))?;
    let current = parsed(e.url.as_deref())?;
    let mut target = current.join(location).ok()?;
    target.set_fragment(None);
    let here = Origin::of_url(&current).serialize();
    let there = Origin::of_url(&target).serialize();
    let tainted =
        chain.tainted || (here != there && chain.origin.is_some_and(|o| o != here.as_str()));
    let expected = if tainted { Some("null") } else { chain.origin };
    let next = index
        .requests
        .get(target.as_str())?
        .iter()
        .copied()
        .find(|i| {
            let n = &entries[*i];
            *i != from
                && !claimed[*i]
                && times[*i] >= times[from]
                && (e.initiator_url.is_none() || n.initiator_url == e.initiator_url)
                && match (n.request_header("Origin"), expected) {
                    (Some(sent), Some(want)) => sent == want,
                    _ => true,
                }
        })?;
    chain.tainted = tainted;
    Some(next)
}

/// The names in a preflight's `Access-Control-Request-Headers`, lowercase, each once.
fn requested_headers(preflight: &Entry) -> Vec<String> {
    let lines = preflight
        .request_headers
        .iter()
        .flatten()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Access-Control-Request-Headers"))
        .map(|(_, v)| v.as_bytes());
    let mut seen = HashSet::new();
    match parse_token_list(lines) {
        Ok(Some(names)) => names
            .iter()
            .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
            .filter(|n| seen.insert(n.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether a preflight asking for `requested` can be a request's: every header it asks for is
/// one the request carries (or one the export removes). A request recorded without headers
/// fits any.
fn asks_for(requested: &[String], request: &Entry) -> bool {
    let Some(headers) = request.request_headers.as_deref().filter(|h| !h.is_empty()) else {
        return true;
    };
    let names: HashSet<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    requested
        .iter()
        .all(|n| names.contains(n) || SANITISED.contains(&n.as_str()))
}

/// Script's headers. Where a preflight was recorded, its `Access-Control-Request-Headers` is
/// the engine's own list of the unsafe ones: a header neither safelisted nor named there was
/// not script's, and a name the export dropped comes back. Without one, the recorded headers
/// less those a browser adds.
fn author_headers(first: &Entry, preflight: Option<&Entry>) -> Vec<AuthorHeader> {
    let requested: Option<HashSet<String>> =
        preflight.map(|p| requested_headers(p).into_iter().collect());
    let keep = |name: &str, value: &str| {
        if name.starts_with(':') || is_forbidden_request_header_name(name.as_bytes()) {
            return false;
        }
        match &requested {
            Some(r) => {
                r.contains(&name.to_ascii_lowercase())
                    || is_cors_safelisted_request_header(name.as_bytes(), value.as_bytes())
            }
            None => !BROWSER_ADDED.iter().any(|b| name.eq_ignore_ascii_case(b)),
        }
    };
    let mut out: Vec<AuthorHeader> = first
        .request_headers
        .iter()
        .flatten()
        .filter(|(name, value)| keep(name, value))
        .map(|(name, value)| AuthorHeader {
            name: name.clone(),
            value: value.clone(),
            value_unknown: false,
        })
        .collect();
    let present: HashSet<String> = out.iter().map(|h| h.name.to_ascii_lowercase()).collect();
    if let Some(p) = preflight {
        for name in requested_headers(p) {
            if !present.contains(&name) && !is_forbidden_request_header_name(name.as_bytes()) {
                out.push(AuthorHeader {
                    name,
                    value: String::new(),
                    value_unknown: true,
                });
            }
        }
    }
    out
}

/// A hop of some request, for preflight linking.
struct Hop {
    fetch: usize,
    entry: usize,
    /// The request's first hop: its headers are script's, on every hop (a later hop may show
    /// only provisional ones).
    first: usize,
    /// The request's origin for the first hop (its preflight names the same); none after a
    /// redirect (Firefox's preflight names the first origin while the request says `null`).
    origin: Option<String>,
}

/// Gives each preflight to the request it serves: among the unclaimed hops to its URL, for
/// its method and origin, carrying the headers it asks for, the one that started last before
/// it (a request is issued before its preflight); failing that, the first within 50 ms after.
fn link_preflights(
    entries: &[Entry],
    index: &Index,
    times: &[i64],
    hops: &[Hop],
) -> Vec<(usize, usize)> {
    let mut by_url: HashMap<String, Vec<usize>> = HashMap::new();
    for (k, h) in hops.iter().enumerate() {
        if let Some(u) = parsed(entries[h.entry].url.as_deref()) {
            by_url.entry(u.to_string()).or_default().push(k);
        }
    }
    for list in by_url.values_mut() {
        list.sort_by_key(|k| (times[hops[*k].entry], hops[*k].entry));
    }
    let mut taken = vec![false; hops.len()];
    let mut links = Vec::new();
    let mut preflights: Vec<(&String, &Vec<usize>)> = index.preflights.iter().collect();
    preflights.sort();
    for (url, list) in preflights {
        let Some(candidates) = by_url.get(url) else {
            continue;
        };
        for p in list {
            let pre = &entries[*p];
            let method = pre.request_header("Access-Control-Request-Method");
            let requested = requested_headers(pre);
            let fits = |k: &usize| {
                let h = &hops[*k];
                let hop = &entries[h.entry];
                !taken[*k]
                    && method.is_some()
                    && hop.method.as_deref() == method
                    && h.origin
                        .as_deref()
                        .is_none_or(|o| pre.request_header("Origin") == Some(o))
                    && asks_for(&requested, &entries[h.first])
            };
            let at = times[*p];
            let split = candidates.partition_point(|k| times[hops[*k].entry] <= at);
            let before = candidates[..split]
                .iter()
                .rev()
                .take(PREFLIGHT_REACH)
                .find(|k| fits(k));
            let after = || {
                candidates[split..]
                    .iter()
                    .take(PREFLIGHT_REACH)
                    .take_while(|k| times[hops[**k].entry].saturating_sub(at) <= 50)
                    .find(|k| fits(k))
            };
            if let Some(k) = before.or_else(after).copied() {
                taken[k] = true;
                links.push((hops[k].fetch, *p));
            }
        }
    }
    links
}

impl Har {
    /// The page's cross-origin requests in `cors` mode (a same-origin request that a redirect
    /// takes to another origin included), each with its redirect hops and preflights, in file
    /// order. `crossgate audit --har` takes its endpoints from here.
    pub fn fetches(&self) -> Vec<RecordedFetch> {
        let entries = &self.entries;
        let times = times(entries);
        let index = Index::new(entries, &times);
        let mut claimed = vec![false; entries.len()];
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by_key(|i| (times[*i], *i));
        let mut out: Vec<RecordedFetch> = Vec::new();
        let mut hops: Vec<Hop> = Vec::new();
        for i in order {
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
            let mut state = Chain {
                origin: origin.as_deref(),
                tainted: false,
            };
            while let Some(next) = next_hop(
                entries,
                &index,
                &times,
                *chain.last().unwrap_or(&i),
                &mut state,
                &claimed,
            ) {
                claimed[next] = true;
                chain.push(next);
            }
            let other_origin = |h: &usize| {
                parsed(entries[*h].url.as_deref())
                    .is_none_or(|u| Some(Origin::of_url(&u).serialize()) != origin)
            };
            if !chain.iter().any(other_origin) {
                continue;
            }
            let mut missing = Vec::new();
            if origin.is_none() {
                missing.push(format!("log.entries[{i}].request.headers.Origin"));
            }
            if first.request_headers.is_none() {
                missing.push(format!("log.entries[{i}].request.headers"));
            }
            // Cookies sent to the request's own origin say nothing of its credentials mode.
            let cookies_sent = chain.iter().filter(|h| other_origin(h)).any(|h| {
                entries[*h].cookies_sent || entries[*h].request_header("Cookie").is_some()
            });
            for (k, h) in chain.iter().enumerate() {
                hops.push(Hop {
                    fetch: out.len(),
                    entry: *h,
                    first: i,
                    origin: (k == 0).then(|| origin.clone()).flatten(),
                });
            }
            out.push(RecordedFetch {
                entry: i,
                sent: true,
                hops: chain[1..].to_vec(),
                preflights: Vec::new(),
                origin,
                method: first.method.clone(),
                url: first.url.clone(),
                headers: Vec::new(),
                cookies_sent,
                at_ms: times[i],
                missing,
            });
        }
        for (fetch, p) in link_preflights(entries, &index, &times, &hops) {
            claimed[p] = true;
            out[fetch].preflights.push(p);
        }
        for f in &mut out {
            f.preflights.sort_by_key(|p| (times[*p], *p));
            f.headers = author_headers(
                &entries[f.entry],
                f.preflights.first().map(|p| &entries[*p]),
            );
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
                at_ms: times[p.index],
                missing,
            });
        }
        out.sort_by_key(|f| f.entry);
        out
    }
}
