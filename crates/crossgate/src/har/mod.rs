//! A browser's network log (HAR 1.2), read as the engines' developer tools export it, and the
//! CORS requests in it, judged again by the agent on what was recorded.
//!
//! What each engine writes differs, and a judgement rests only on what is there:
//!
//! | | Chromium (DevTools) | Firefox (network monitor) | WebKit (Web Inspector) |
//! |---|---|---|---|
//! | `log.creator.name` | `WebInspector` | `Firefox` (also `log.browser`) | `WebKit Web Inspector` |
//! | preflights | own entries, `_resourceType: "preflight"`, `_initiator.type: "preflight"` | own entries (`OPTIONS`) | never shown |
//! | a CORS-blocked request | an entry with `response._error` (`net::ERR_FAILED`); status and headers when they arrived | an entry with the real status and headers; no mark | not exported (only finished loads are) |
//! | redirects | one entry per hop | one entry per hop | one entry, the final URL |
//! | `Cookie`, `Authorization` | removed by the default (sanitised) export | kept | kept |
//!
//! Start from [`Har::from_json`] (or [`Har::read`] for a file, with progress), then
//! [`Har::judge`]: its [`Report`] holds one [`Judged`] request per CORS request, with each
//! engine's [`Judgement`] and [`Verdict`]. [`Har::fetches`] lists the CORS requests without
//! judging them.
//!
//! ```
//! use crossgate::har::Har;
//!
//! let har = Har::from_json(r#"{"log": {"version": "1.2",
//!     "creator": {"name": "WebInspector", "version": "537.36"},
//!     "entries": [{"startedDateTime": "2026-01-01T10:00:00.000Z",
//!         "request": {"method": "GET", "url": "https://api.example/items",
//!             "headers": [{"name": "Origin", "value": "https://app.example"},
//!                         {"name": "Sec-Fetch-Mode", "value": "cors"}]},
//!         "response": {"status": 200, "headers": [], "_error": "net::ERR_FAILED"}}]}}"#)
//!     .unwrap();
//! let report = har.judge(None);
//! let judged = &report.requests[0].judgement;
//! assert_eq!(judged.verdict, crossgate::har::Verdict::Blocked);
//! assert_eq!(judged.code.unwrap().as_str(), "MissingAllowOriginHeader");
//! ```

mod fetches;
mod judge;
mod model;

use std::io::Read;

use crate::browser::Browser;

pub use fetches::{AuthorHeader, RecordedFetch};
pub use judge::{Judged, Judgement, Options, Preflight, Recorded, Report, Verdict};
pub use model::Software;

/// A HAR file that could not be read, with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HarError(
    /// The message, a sentence for a person: what is wrong and where (`log.entries[12]...`).
    pub String,
);

impl std::fmt::Display for HarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarError {}

/// A parsed network log: the entries in file order (`index` is the position in
/// `log.entries`), with the fields a CORS judgement can use.
#[derive(Clone, Debug)]
pub struct Har {
    /// `log.creator`: the tool that wrote the file (`WebInspector`, `Firefox`, ...).
    pub creator: Software,
    /// `log.browser`: Firefox writes it; where it is absent, both fields are `None`.
    pub browser: Software,
    /// The engine whose tools wrote the file, as far as `creator` and `browser` tell.
    pub recorded_by: Option<Browser>,
    /// Every `log.entries[i]`, in file order: `entries[i].index == i`.
    pub entries: Vec<Entry>,
}

/// One `log.entries[i]`.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// The position in `log.entries`, as the HAR paths in judgements name it.
    pub index: usize,
    /// `startedDateTime` as written.
    pub started: Option<String>,
    /// `startedDateTime` in milliseconds since the Unix epoch, when it parses.
    pub started_ms: Option<i64>,
    /// `request.method` as written.
    pub method: Option<String>,
    /// `request.url` as written (the tools record it without its fragment).
    pub url: Option<String>,
    /// `request.headers`; `None` when the field is absent.
    pub request_headers: Option<Vec<(String, String)>>,
    /// `response.status`; 0 is what the tools write when no response arrived.
    pub status: Option<i64>,
    /// `response.headers`, a pair a line as written; `None` when the field is absent.
    /// Firefox's tools show repeated lines combined into one (`a, b`).
    pub response_headers: Option<Vec<(String, String)>>,
    /// `response.redirectURL`; `None` when absent or empty (the tools write `""` for a
    /// response that is no redirect).
    pub redirect_url: Option<String>,
    /// `response._error` (Chromium, WebKit): the network error of a failed load.
    pub error: Option<String>,
    /// `request.cookies` was not empty.
    pub cookies_sent: bool,
    /// `_resourceType` (Chromium): `fetch`, `xhr`, `preflight`, `script`, ...
    pub resource_type: Option<String>,
    /// `_fetchType` (WebKit): `Network Load`, `Memory Cache`, `Disk Cache`, ...
    pub fetch_type: Option<String>,
    /// `_initiator.type` (Chromium): `script`, `parser`, `preflight`, ...
    pub initiator_type: Option<String>,
    /// `_initiator.url` (Chromium): the script or document that made the request. A
    /// redirect's next hop is looked for among the requests of the same initiator.
    pub initiator_url: Option<String>,
    /// `_initiator.requestId` (Chromium): DevTools' id of the request that triggered this
    /// one, as a preflight's names the request it serves.
    pub initiator_request_id: Option<String>,
    /// `_fromCache` (Chromium): `memory` or `disk`.
    pub from_cache: Option<String>,
    /// The page's URL (`pages[].title` is the URL in every engine's export), when it parses.
    pub page_url: Option<String>,
}

fn find<'a>(headers: Option<&'a [(String, String)]>, name: &str) -> Option<&'a str> {
    headers?
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Entry {
    /// The first request header of that name (case-insensitive).
    pub fn request_header(&self, name: &str) -> Option<&str> {
        find(self.request_headers.as_deref(), name)
    }

    /// The first response header of that name (case-insensitive).
    pub fn response_header(&self, name: &str) -> Option<&str> {
        find(self.response_headers.as_deref(), name)
    }

    /// Whether the entry is a CORS preflight: Chromium marks it; elsewhere an `OPTIONS` with
    /// `Access-Control-Request-Method` is one (Fetch §4.8 step 2-3).
    pub fn is_preflight(&self) -> bool {
        self.resource_type.as_deref() == Some("preflight")
            || self.initiator_type.as_deref() == Some("preflight")
            || (self.method.as_deref() == Some("OPTIONS")
                && self
                    .request_header("Access-Control-Request-Method")
                    .is_some())
    }

    /// Whether a response arrived: a status other than 0.
    pub fn answered(&self) -> bool {
        self.status.is_some_and(|s| s > 0)
    }
}

impl Har {
    /// Reads a HAR file, calling `progress` with the bytes read so far. Bodies are skipped as
    /// they are read.
    pub fn read<R: Read>(reader: R, progress: impl FnMut(u64)) -> Result<Har, HarError> {
        let file = model::parse(reader, progress).map_err(HarError)?;
        Har::from_model(file)
    }

    /// Reads a HAR file held in a string.
    pub fn from_json(text: &str) -> Result<Har, HarError> {
        Har::read(text.as_bytes(), |_| {})
    }

    fn from_model(file: model::File) -> Result<Har, HarError> {
        let log = file.log.ok_or_else(|| {
            HarError(
                "no `log` object: a HAR file is `{\"log\": {\"entries\": [...]}}`; export it \
                 from the browser's network panel (\"Save all as HAR\")"
                    .to_owned(),
            )
        })?;
        let raw_entries = log.entries.ok_or_else(|| {
            HarError("`log.entries` is missing: the file has no requests in it".to_owned())
        })?;
        if let Some(v) = log.version.as_deref()
            && !v.starts_with("1.")
        {
            return Err(HarError(format!(
                "`log.version` is {v:?}: only HAR 1.x is understood"
            )));
        }
        let pages: Vec<(String, String)> = log
            .pages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| Some((p.id?, p.title?)))
            .collect();
        let creator = log.creator.unwrap_or_default();
        let browser = log.browser.unwrap_or_default();
        let recorded_by = recorder(&creator, &browser);
        let entries = raw_entries
            .into_iter()
            .enumerate()
            .map(|(index, raw)| entry(index, raw, &pages))
            .collect();
        Ok(Har {
            creator,
            browser,
            recorded_by,
            entries,
        })
    }
}

/// The engine behind the tools that wrote the file. Chromium's DevTools and WebKit's Web
/// Inspector share a history (and once a name); Web Inspector's export says `WebKit`.
fn recorder(creator: &Software, browser: &Software) -> Option<Browser> {
    let names = [creator.name.as_deref(), browser.name.as_deref()];
    let has = |word: &str| {
        names
            .iter()
            .flatten()
            .any(|n| n.to_ascii_lowercase().contains(word))
    };
    if has("firefox") || has("gecko") {
        Some(Browser::Firefox)
    } else if has("webkit") || has("safari") {
        Some(Browser::Webkit)
    } else if has("webinspector") || has("chrom") || has("edge") || has("opera") || has("brave") {
        Some(Browser::Chromium)
    } else {
        None
    }
}

fn headers(raw: Option<Vec<model::RawHeader>>) -> Option<Vec<(String, String)>> {
    raw.map(|list| list.into_iter().map(|h| (h.name, h.value)).collect())
}

fn started_ms(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

fn entry(index: usize, raw: model::RawEntry, pages: &[(String, String)]) -> Entry {
    let (method, url, request_headers, cookies_sent) = match raw.request {
        Some(r) => (
            r.method,
            r.url,
            headers(r.headers),
            r.cookies.is_some_and(|c| !c.is_empty()),
        ),
        None => (None, None, None, false),
    };
    let (status, response_headers, redirect_url, error) = match raw.response {
        Some(r) => (
            r.status,
            headers(r.headers),
            r.redirect_url.filter(|u| !u.is_empty()),
            r.error.filter(|e| !e.is_empty()),
        ),
        None => (None, None, None, None),
    };
    let (initiator_type, initiator_url, initiator_request_id) = match raw.initiator {
        Some(i) => (i.kind, i.url, i.request_id),
        None => (None, None, None),
    };
    let page_url = raw
        .pageref
        .as_deref()
        .and_then(|id| pages.iter().find(|(p, _)| p == id))
        .map(|(_, title)| title.clone())
        .filter(|t| url::Url::parse(t).is_ok());
    Entry {
        index,
        started_ms: raw.started.as_deref().and_then(started_ms),
        started: raw.started,
        method,
        url,
        request_headers,
        status,
        response_headers,
        redirect_url,
        error,
        cookies_sent,
        resource_type: raw.resource_type,
        fetch_type: raw.fetch_type,
        initiator_type,
        initiator_url,
        initiator_request_id,
        from_cache: raw.from_cache,
        page_url,
    }
}
