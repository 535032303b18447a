//! A cross-origin request as a user agent holds it, built the way `fetch()` builds it.

use serde::{Deserialize, Serialize};
use url::Url;

use super::error::{CorsError, ErrorCode, Stage};
use super::profile::Profile;
use crate::fetch::{header, is_http_whitespace, is_token, method};
use crate::origin::Origin;

/// Fetch §2.2.5 "credentials mode".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialsMode {
    Omit,
    #[default]
    SameOrigin,
    Include,
}

/// Fetch §2.2.5 "mode", as script can set it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestMode {
    #[default]
    Cors,
    NoCors,
    SameOrigin,
}

/// Referrer Policy, which decides the `Origin` header of non-CORS requests (Fetch §3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferrerPolicy {
    NoReferrer,
    NoReferrerWhenDowngrade,
    SameOrigin,
    Origin,
    StrictOrigin,
    OriginWhenCrossOrigin,
    #[default]
    StrictOriginWhenCrossOrigin,
    UnsafeUrl,
}

/// Fetch §2.2.5 "response tainting".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tainting {
    Basic,
    Cors,
    Opaque,
}

/// What script passes to `fetch(url, init)`, from a page of `origin`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a RequestInit does nothing until a Request is made from it"]
pub struct RequestInit {
    /// The page's origin (the request's origin).
    pub origin: Origin,
    pub url: Url,
    /// As script wrote it; normalised by the standard's rules (`patch` stays `patch`).
    pub method: String,
    /// Headers in the order script set them.
    pub headers: Vec<(String, Vec<u8>)>,
    pub credentials: CredentialsMode,
    pub mode: RequestMode,
    pub referrer_policy: ReferrerPolicy,
    /// Fetch's use-CORS-preflight flag (an upload listener, a stream body): a preflight even for
    /// a safelisted method and headers.
    pub use_cors_preflight: bool,
}

impl RequestInit {
    /// A `fetch(url)` GET in `cors` mode with default credentials.
    pub fn get(origin: Origin, url: Url) -> RequestInit {
        RequestInit {
            origin,
            url,
            method: "GET".to_owned(),
            headers: Vec::new(),
            credentials: CredentialsMode::SameOrigin,
            mode: RequestMode::Cors,
            referrer_policy: ReferrerPolicy::default(),
            use_cors_preflight: false,
        }
    }
}

/// A request after `fetch()`'s own steps: the method normalised, forbidden headers dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub origin: Origin,
    /// Fetch's URL list: the first URL and every redirect target.
    pub url_list: Vec<Url>,
    pub method: String,
    /// The author request headers (names as written).
    pub headers: Vec<(String, Vec<u8>)>,
    pub credentials: CredentialsMode,
    pub mode: RequestMode,
    pub referrer_policy: ReferrerPolicy,
    pub use_cors_preflight: bool,
    pub tainting: Tainting,
}

fn type_error(code: ErrorCode, init: &RequestInit, parameter: Option<String>) -> CorsError {
    CorsError {
        code,
        stage: Stage::Request,
        parameter,
        url: init.url.to_string(),
        origin: init.origin.serialize(),
        status: None,
        value: None,
    }
}

/// Fetch §2.2.2 "normalize" for header values: strip leading and trailing HTTP whitespace.
pub(crate) fn normalize_value(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| !is_http_whitespace(b))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| !is_http_whitespace(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

impl Request {
    /// `new Request(url, init)` and `fetch()`'s checks (Fetch §5.4): a TypeError becomes a
    /// request-stage error. Headers script may not set are dropped silently, as browsers do;
    /// `notes` says which.
    pub fn new(
        init: &RequestInit,
        profile: &Profile,
        notes: &mut Vec<String>,
    ) -> Result<Request, CorsError> {
        if init.url.username() != "" || init.url.password().is_some() {
            return Err(type_error(ErrorCode::CredentialsInRequestUrl, init, None));
        }
        let raw_method = init.method.as_bytes();
        if !is_token(raw_method) {
            return Err(type_error(
                ErrorCode::InvalidMethod,
                init,
                Some(init.method.clone()),
            ));
        }
        if method::is_forbidden(raw_method) {
            return Err(type_error(
                ErrorCode::ForbiddenMethod,
                init,
                Some(init.method.clone()),
            ));
        }
        let normalized = String::from_utf8_lossy(&method::normalize(raw_method)).into_owned();
        if init.mode == RequestMode::NoCors && !method::is_cors_safelisted(normalized.as_bytes()) {
            return Err(type_error(
                ErrorCode::NoCorsMethodNotSafelisted,
                init,
                Some(normalized),
            ));
        }
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for (name, value) in &init.headers {
            let value = normalize_value(value);
            if !is_token(name.as_bytes()) || value.iter().any(|&b| matches!(b, 0 | b'\n' | b'\r')) {
                return Err(type_error(
                    ErrorCode::InvalidHeader,
                    init,
                    Some(name.clone()),
                ));
            }
            if header::is_forbidden_request_header(name.as_bytes(), value) {
                notes.push(format!(
                    "`{name}` is a forbidden request header: the browser drops it silently"
                ));
                continue;
            }
            if profile.drops_user_agent && name.eq_ignore_ascii_case("user-agent") {
                notes.push(format!(
                    "{} drops a `User-Agent` set by script silently",
                    profile.browser.map_or("this browser", |b| b.name())
                ));
                continue;
            }
            headers.push((name.clone(), value.to_vec()));
        }
        if init.mode == RequestMode::NoCors {
            headers = no_cors_headers(headers, notes);
        }
        Ok(Request {
            origin: init.origin.clone(),
            url_list: vec![init.url.clone()],
            method: normalized,
            headers,
            credentials: init.credentials,
            mode: init.mode,
            referrer_policy: init.referrer_policy,
            use_cors_preflight: init.use_cors_preflight,
            tainting: Tainting::Basic,
        })
    }

    pub fn current_url(&self) -> &Url {
        self.url_list.last().expect("a request has a URL")
    }

    /// Fetch §2.2.5 "redirect-taint".
    pub fn redirect_taint(&self) -> Taint {
        let mut last: Option<&Url> = None;
        let mut taint = Taint::SameOrigin;
        for url in &self.url_list {
            let Some(prev) = last else {
                last = Some(url);
                continue;
            };
            let (o_url, o_prev) = (Origin::of_url(url), Origin::of_url(prev));
            if !o_url.same_site(&o_prev) && !self.origin.same_site(&o_prev) {
                return Taint::CrossSite;
            }
            if !o_url.same_origin(&o_prev) && !self.origin.same_origin(&o_prev) {
                taint = Taint::SameSite;
            }
            last = Some(url);
        }
        taint
    }

    /// Fetch §2.2.5 "serializing a request origin": `null` once tainted by a redirect.
    pub fn serialized_origin(&self) -> String {
        if self.redirect_taint() == Taint::SameOrigin {
            self.origin.serialize()
        } else {
            "null".to_owned()
        }
    }

    /// Fetch §4.6: whether this hop carries cookies and HTTP authentication.
    pub fn includes_credentials(&self) -> bool {
        match self.credentials {
            CredentialsMode::Include => true,
            CredentialsMode::SameOrigin => self.tainting == Tainting::Basic,
            CredentialsMode::Omit => false,
        }
    }

    /// Fetch §3.2 "append a request `Origin` header": the value this hop sends, if any, as
    /// `profile`'s browser sends it.
    pub fn origin_header(&self, profile: &Profile) -> Option<String> {
        let serialized = self.serialized_origin();
        if self.tainting == Tainting::Cors {
            return Some(serialized);
        }
        if matches!(self.method.as_str(), "GET" | "HEAD") {
            return None;
        }
        if self.mode == RequestMode::Cors {
            return Some(serialized);
        }
        if !profile.origin_header_follows_referrer_policy {
            return Some(serialized);
        }
        let current = Origin::of_url(self.current_url());
        let downgrade =
            self.origin.scheme() == Some("https") && self.current_url().scheme() != "https";
        let hidden = match self.referrer_policy {
            ReferrerPolicy::NoReferrer => true,
            ReferrerPolicy::NoReferrerWhenDowngrade
            | ReferrerPolicy::StrictOrigin
            | ReferrerPolicy::StrictOriginWhenCrossOrigin => downgrade,
            ReferrerPolicy::SameOrigin => !self.origin.same_origin(&current),
            _ => false,
        };
        Some(if hidden {
            "null".to_owned()
        } else {
            serialized
        })
    }
}

/// Fetch §2.2.5 "redirect-taint" values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taint {
    SameOrigin,
    SameSite,
    CrossSite,
}

/// Fetch §5.2 (guard `request-no-cors`): only no-CORS-safelisted headers survive, judged on the
/// value combined with earlier ones of the same name.
fn no_cors_headers(
    headers: Vec<(String, Vec<u8>)>,
    notes: &mut Vec<String>,
) -> Vec<(String, Vec<u8>)> {
    let mut kept: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, value) in headers {
        let mut combined: Vec<u8> = Vec::new();
        for (n, v) in &kept {
            if n.eq_ignore_ascii_case(&name) {
                if !combined.is_empty() {
                    combined.extend_from_slice(b", ");
                }
                combined.extend_from_slice(v);
            }
        }
        if !combined.is_empty() {
            combined.extend_from_slice(b", ");
        }
        combined.extend_from_slice(&value);
        let ok = header::is_no_cors_safelisted_request_header_name(name.as_bytes())
            && header::is_cors_safelisted_request_header(name.as_bytes(), &combined);
        if ok {
            kept.push((name, value));
        } else {
            notes.push(format!(
                "`{name}` cannot be set on a no-cors request: the browser drops it silently"
            ));
        }
    }
    kept
}
