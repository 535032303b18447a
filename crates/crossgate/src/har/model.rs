//! A HAR 1.2 file as the engines' developer tools write it, read into what a CORS judgement
//! needs and nothing more: bodies (`content.text`, `postData.text`) are skipped while parsing,
//! so a 50 MB log costs memory in proportion to its headers, not its bodies.
//!
//! Every field is optional at this level: what the format requires but a file lacks is named
//! where a judgement needs it (`missing`), never assumed. A field of the wrong type is an error
//! naming its path (`log.entries[12].request.url`).

use std::io::Read;

use serde::Deserialize;

/// The file: `{"log": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct File {
    pub log: Option<Log>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Log {
    pub version: Option<String>,
    pub creator: Option<Software>,
    pub browser: Option<Software>,
    #[serde(default)]
    pub pages: Option<Vec<Page>>,
    pub entries: Option<Vec<RawEntry>>,
}

/// `log.creator` or `log.browser`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Software {
    /// `name` as written; [`Har::recorded_by`](super::Har::recorded_by) is read from it.
    pub name: Option<String>,
    /// `version` as written (`537.36` in Chromium's exports); the judgement does not use it.
    pub version: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    pub id: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawEntry {
    pub pageref: Option<String>,
    #[serde(rename = "startedDateTime")]
    pub started: Option<String>,
    pub request: Option<RawRequest>,
    pub response: Option<RawResponse>,
    /// Chromium: `fetch`, `xhr`, `preflight`, `script`, `document`, ...
    #[serde(rename = "_resourceType")]
    pub resource_type: Option<String>,
    /// WebKit's name for the same thing.
    #[serde(rename = "_fetchType")]
    pub fetch_type: Option<String>,
    #[serde(rename = "_initiator")]
    pub initiator: Option<RawInitiator>,
    /// Chromium: `memory` or `disk` when served from its cache.
    #[serde(rename = "_fromCache")]
    pub from_cache: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawInitiator {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub url: Option<String>,
    #[serde(rename = "requestId")]
    pub request_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawRequest {
    pub method: Option<String>,
    pub url: Option<String>,
    pub headers: Option<Vec<RawHeader>>,
    /// Only counted: cookies sent mean credentials were included.
    pub cookies: Option<Vec<serde::de::IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawResponse {
    pub status: Option<i64>,
    pub headers: Option<Vec<RawHeader>>,
    #[serde(rename = "redirectURL")]
    pub redirect_url: Option<String>,
    /// Chromium: the network error of a failed request (`net::ERR_FAILED` for CORS).
    #[serde(rename = "_error")]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawHeader {
    pub name: String,
    pub value: String,
}

/// Counts the bytes read, for progress.
struct Counting<R, F> {
    inner: R,
    read: u64,
    reported: u64,
    progress: F,
}

/// Progress is reported at most once per this many bytes.
const PROGRESS_STEP: u64 = 256 * 1024;

impl<R: Read, F: FnMut(u64)> Read for Counting<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.reported >= PROGRESS_STEP || n == 0 {
            self.reported = self.read;
            (self.progress)(self.read);
        }
        Ok(n)
    }
}

/// Parses a HAR file from `reader`, calling `progress` with the bytes read so far. An error
/// names the path of the field that does not parse and its line and column.
pub(crate) fn parse<R: Read>(reader: R, progress: impl FnMut(u64)) -> Result<File, String> {
    let counting = Counting {
        inner: std::io::BufReader::with_capacity(64 * 1024, reader),
        read: 0,
        reported: 0,
        progress,
    };
    let mut de = serde_json::Deserializer::from_reader(counting);
    let file: File = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            format!("not JSON: {inner}")
        } else {
            format!("`{path}`: {inner}")
        }
    })?;
    de.end().map_err(|e| format!("not JSON: {e}"))?;
    Ok(file)
}
