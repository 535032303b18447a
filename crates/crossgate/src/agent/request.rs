//! A cross-origin request as a user agent holds it, built the way `fetch()` builds it.

use serde::{Deserialize, Serialize};
use url::Url;

use super::error::{CorsError, ErrorCode, Stage};
use super::profile::Profile;
use crate::fetch::{header, is_http_whitespace, is_token, method};
use crate::origin::Origin;

/// Fetch §2.2.5 "credentials mode": whether cookies, HTTP authentication and client
/// certificates go with the request (`fetch(url, {credentials})`; in JSON `"omit"`,
/// `"same-origin"` or `"include"`). A preflight never carries them, whatever the mode.
///
/// <https://fetch.spec.whatwg.org/#concept-request-credentials-mode>
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialsMode {
    /// `omit`: never sent, and a `Set-Cookie` in the response is ignored.
    Omit,
    /// `same-origin`, the default: sent only while the response tainting is `basic`, so to the
    /// page's own origin; a cross-origin request, or one redirected across origins, goes
    /// without. The CORS check is the same as for `omit` (WebKit departs on redirects: see
    /// [`Profile::same_origin_credentials_checked_on_redirects`]).
    #[default]
    SameOrigin,
    /// `include`: always sent, across origins too. The server must then answer with its exact
    /// origin in `Access-Control-Allow-Origin` (never `*`) and
    /// `Access-Control-Allow-Credentials: true`, and a `*` in the other `Access-Control-*`
    /// headers is a literal name, not a wildcard.
    Include,
}

/// Fetch §2.2.5 "mode", as script can set it (`fetch(url, {mode})`; in JSON `"cors"`,
/// `"no-cors"` or `"same-origin"`). It only matters for a URL of another origin, or after a
/// redirect to one: a same-origin request needs no CORS in any mode.
///
/// <https://fetch.spec.whatwg.org/#concept-request-mode>
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestMode {
    /// `cors`, `fetch()`'s default: the CORS protocol, with a preflight where the method or
    /// headers need one and a CORS check of every response (tainting `cors`). Only `http:` and
    /// `https:` URLs of another origin can be fetched (`CorsDisabledScheme` otherwise).
    #[default]
    Cors,
    /// `no-cors`: no preflight and no CORS check; the response comes back opaque (tainting
    /// `opaque`), so script sees neither status, headers nor body. Only `GET`, `HEAD` and `POST`
    /// are allowed (`NoCorsMethodNotSafelisted`, a TypeError, otherwise), and headers that are
    /// not no-CORS-safelisted are dropped silently.
    NoCors,
    /// `same-origin`: a request to another origin fails before it is sent
    /// (`DisallowedByMode`), as does a redirect to one.
    SameOrigin,
}

/// Referrer Policy, which decides the `Origin` header of non-CORS requests (Fetch §3.2).
///
/// It matters only for a request whose mode is not `cors` and whose method is neither `GET`
/// nor `HEAD`, a `no-cors` `POST` say: each variant says when that request's `Origin` is
/// `null` instead of the page's origin. A `cors`-mode request always sends its serialized
/// origin, whatever the policy. Chromium 156
/// ignores the policy here (see [`Profile::origin_header_follows_referrer_policy`]). In JSON
/// the names are as in HTML (`"no-referrer"`, `"strict-origin-when-cross-origin"`, ...).
///
/// <https://fetch.spec.whatwg.org/#append-a-request-origin-header>
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferrerPolicy {
    /// `no-referrer`: always `Origin: null`.
    NoReferrer,
    /// `no-referrer-when-downgrade`: `null` from an `https:` page to a URL that is not
    /// `https:`.
    NoReferrerWhenDowngrade,
    /// `same-origin`: `null` to a URL of another origin than the page's.
    SameOrigin,
    /// `origin`: the page's origin, always.
    Origin,
    /// `strict-origin`: `null` on a downgrade from `https:`, as `no-referrer-when-downgrade`.
    StrictOrigin,
    /// `origin-when-cross-origin`: the page's origin, always.
    OriginWhenCrossOrigin,
    /// `strict-origin-when-cross-origin`, the default: `null` on a downgrade from `https:`.
    #[default]
    StrictOriginWhenCrossOrigin,
    /// `unsafe-url`: the page's origin, always.
    UnsafeUrl,
}

/// Fetch §2.2.5 "response tainting": what script may read of the response, set by main
/// fetch (Fetch §4.1 step 12) for each hop. In JSON `"basic"`, `"cors"` or `"opaque"`.
///
/// <https://fetch.spec.whatwg.org/#concept-request-response-tainting>
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tainting {
    /// Same origin (or a `data:` URL): no CORS; script reads every header but `Set-Cookie` and
    /// `Set-Cookie2`.
    /// Every request starts here.
    Basic,
    /// A `cors`-mode request to another origin: the response must pass the CORS check, and
    /// script reads only the safelisted headers and those in `Access-Control-Expose-Headers`.
    /// It stays `cors` for the rest of the redirect chain.
    Cors,
    /// A `no-cors` request to another origin: the response is opaque (no status, headers or
    /// body for script), and no CORS check is made.
    Opaque,
}

/// What script passes to `fetch(url, init)`, from a page of `origin`.
///
/// Nothing is checked here: [`Request::new`] applies `fetch()`'s own rules, and an
/// [`Agent`](super::Agent) runs the whole fetch from a `RequestInit`.
///
/// ```
/// use crossgate::agent::{
///     CredentialsMode, ErrorCode, Profile, Request, RequestInit, RequestMode, Stage,
/// };
/// use crossgate::origin::Origin;
/// use url::Url;
///
/// // On https://app.example: fetch("https://api.example/items/1", {method: "delete",
/// //     credentials: "include", headers: {"X-Token": " abc ", "Cookie": "a=1"}})
/// let page = Origin::from_url_str("https://app.example").unwrap();
/// let url = Url::parse("https://api.example/items/1").unwrap();
/// let init = RequestInit {
///     method: "delete".to_owned(),
///     headers: vec![
///         ("X-Token".to_owned(), b" abc ".to_vec()),
///         ("Cookie".to_owned(), b"a=1".to_vec()),
///     ],
///     credentials: CredentialsMode::Include,
///     ..RequestInit::get(page, url)
/// };
/// assert_eq!(init.mode, RequestMode::Cors);
///
/// let mut notes = Vec::new();
/// let request = Request::new(&init, &Profile::spec(), &mut notes).unwrap();
/// assert_eq!(request.method, "DELETE");
/// // The value is trimmed; `Cookie` is a forbidden request header, dropped without an error.
/// assert_eq!(request.headers, [("X-Token".to_owned(), b"abc".to_vec())]);
/// assert!(notes[0].contains("`Cookie` is a forbidden request header"));
/// assert!(request.includes_credentials());
///
/// // Some requests `fetch()` refuses outright: a TypeError, before anything is sent.
/// let connect = RequestInit { method: "CONNECT".to_owned(), ..init };
/// let error = Request::new(&connect, &Profile::spec(), &mut notes).unwrap_err();
/// assert_eq!((error.code, error.stage), (ErrorCode::ForbiddenMethod, Stage::Request));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a RequestInit does nothing until a Request is made from it"]
pub struct RequestInit {
    /// The page's origin (the request's origin).
    pub origin: Origin,
    /// The URL passed to `fetch()`, the first of the request's URL list. A user name or
    /// password in it makes [`Request::new`] fail (`CredentialsInRequestUrl`).
    pub url: Url,
    /// As script wrote it; [`Request::new`] normalises it by the standard's rules (`patch`
    /// stays `patch`).
    pub method: String,
    /// Headers in the order script set them.
    pub headers: Vec<(String, Vec<u8>)>,
    /// `init.credentials`; `same-origin` unless script says otherwise.
    pub credentials: CredentialsMode,
    /// `init.mode`; `cors` unless script says otherwise.
    pub mode: RequestMode,
    /// `init.referrerPolicy`, which only decides the `Origin` header of a request not in `cors`
    /// mode.
    pub referrer_policy: ReferrerPolicy,
    /// Fetch's use-CORS-preflight flag (an upload listener, a stream body): a preflight even for
    /// a safelisted method and headers.
    pub use_cors_preflight: bool,
}

impl RequestInit {
    /// A `fetch(url)` GET in `cors` mode with default credentials (`same-origin`), no headers,
    /// the default referrer policy and no forced preflight. Change fields from there for other
    /// requests (`RequestInit { method: "PUT".into(), ..RequestInit::get(origin, url) }`).
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
///
/// The agent makes one from a [`RequestInit`] with [`Request::new`] and updates it hop by hop:
/// a redirect appends to `url_list` and may change the method and headers, and main fetch sets
/// `tainting`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The page's origin. It stays the same across redirects; what the request sends as its
    /// origin may become `null` (see [`Request::serialized_origin`]).
    pub origin: Origin,
    /// Fetch's URL list: the first URL and every redirect target.
    pub url_list: Vec<Url>,
    /// The normalised method: `DELETE`, `GET`, `HEAD`, `OPTIONS`, `POST` and `PUT` uppercased
    /// whatever case script used, any other method byte for byte (`patch` stays `patch`).
    pub method: String,
    /// The author request headers (names as written).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The credentials mode, as script set it.
    pub credentials: CredentialsMode,
    /// The mode, as script set it.
    pub mode: RequestMode,
    /// The referrer policy, for the `Origin` header of a request not in `cors` mode.
    pub referrer_policy: ReferrerPolicy,
    /// Fetch's use-CORS-preflight flag: a cross-origin `cors` request is preflighted even with
    /// a safelisted method and headers.
    pub use_cors_preflight: bool,
    /// The response tainting: `basic` from [`Request::new`], then set by main fetch for each
    /// hop.
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
    ///
    /// The errors, all at [`Stage::Request`]: `CredentialsInRequestUrl` (a user name or password
    /// in the URL), `InvalidMethod` (not a token), `ForbiddenMethod` (`CONNECT`, `TRACE`,
    /// `TRACK`), `NoCorsMethodNotSafelisted` (a `no-cors` request with a method other than
    /// `GET`, `HEAD` or `POST`) and `InvalidHeader` (a name that is not a token, or a value with
    /// NUL, CR or LF; `parameter` names the header). Header values lose their leading and
    /// trailing HTTP whitespace. Dropped with a note: forbidden request headers (`Cookie`,
    /// `Origin`, `Sec-*`, a method override naming a forbidden method, ...), `User-Agent` where
    /// [`Profile::drops_user_agent`] says so, and, in `no-cors` mode, every header that is not
    /// no-CORS-safelisted. The result has tainting `basic` and a URL list of `init.url` alone.
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

    /// Fetch's "current URL": the last of `url_list`, where this hop goes.
    pub fn current_url(&self) -> &Url {
        self.url_list.last().expect("a request has a URL")
    }

    /// Fetch §2.2.5 "redirect-taint": how far the redirects so far led away from the page's
    /// origin. [`Taint::SameOrigin`] for a request that was not redirected.
    ///
    /// <https://fetch.spec.whatwg.org/#concept-request-tainted-origin>
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

    /// Fetch §2.2.5 "serializing a request origin": `null` once tainted by a redirect (or for
    /// an opaque page origin), else the page's origin, such as `https://app.example`. This is
    /// what a CORS request sends in `Origin` and what `Access-Control-Allow-Origin` must match.
    pub fn serialized_origin(&self) -> String {
        if self.redirect_taint() == Taint::SameOrigin {
            self.origin.serialize()
        } else {
            "null".to_owned()
        }
    }

    /// Fetch §4.6: whether this hop carries cookies and HTTP authentication. `include`: always;
    /// `omit`: never; `same-origin`: only while the tainting is `basic` (a same-origin hop).
    pub fn includes_credentials(&self) -> bool {
        match self.credentials {
            CredentialsMode::Include => true,
            CredentialsMode::SameOrigin => self.tainting == Tainting::Basic,
            CredentialsMode::Omit => false,
        }
    }

    /// Fetch §3.2 "append a request `Origin` header": the value this hop sends, if any, as
    /// `profile`'s browser sends it.
    ///
    /// A CORS hop (tainting `cors`) sends [`Request::serialized_origin`]. Otherwise a `GET` or
    /// `HEAD` sends none (`None`), a `cors`-mode request sends its serialized origin, and any
    /// other (a `no-cors` `POST`, say) sends it or `null` as the referrer policy decides, where
    /// the profile follows it.
    ///
    /// ```
    /// use crossgate::agent::{Profile, ReferrerPolicy, Request, RequestInit, RequestMode};
    /// use crossgate::origin::Origin;
    /// use url::Url;
    ///
    /// // A form-like `no-cors` POST under `Referrer-Policy: no-referrer`.
    /// let init = RequestInit {
    ///     method: "POST".to_owned(),
    ///     mode: RequestMode::NoCors,
    ///     referrer_policy: ReferrerPolicy::NoReferrer,
    ///     ..RequestInit::get(
    ///         Origin::from_url_str("https://app.example").unwrap(),
    ///         Url::parse("https://api.example/log").unwrap(),
    ///     )
    /// };
    /// let request = Request::new(&init, &Profile::spec(), &mut Vec::new()).unwrap();
    /// assert_eq!(request.origin_header(&Profile::spec()).as_deref(), Some("null"));
    /// // Chromium 156 sends the page's origin whatever the referrer policy.
    /// assert_eq!(
    ///     request.origin_header(&Profile::chromium()).as_deref(),
    ///     Some("https://app.example")
    /// );
    /// ```
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

/// Fetch §2.2.5 "redirect-taint" values, from [`Request::redirect_taint`]. Anything but
/// `SameOrigin` makes the request's origin serialize as `null`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taint {
    /// Each redirect stayed on the origin it came from, or came from the page's own origin;
    /// the request still sends the page's origin.
    SameOrigin,
    /// A redirect from an origin other than the page's led to another origin, but none from a
    /// site other than the page's led to another site.
    SameSite,
    /// A redirect from a site other than the page's led to another site.
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
