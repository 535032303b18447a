//! [`Decision`](super::Decision) -> response headers.
//!
//! Every constant value is built once, when the policy is built ([`HeaderValues`]); the only
//! request-derived values (the reflected `Origin`, an echoed method or header list) are clones of
//! the request's own header values, which are reference-counted. Writing never formats a string.
//!
//! The writers are generic over [`ResponseHeaders`], so the tower layer (`http` 1), actix-web and
//! the gateway share these rules.

use bytes::Bytes;

use super::Policy;
#[cfg(any(feature = "tower", feature = "actix"))]
use super::decide::Decision;
use super::decide::{Actual, AllowOrigin, CorsRequestHeader, PreflightAllowed};
use super::validate::Wild;
use crate::fetch::list::{RawElements, trim_ows};

/// The response headers a CORS layer writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CorsResponseHeader {
    /// `Access-Control-Allow-Origin`: `*` or the request's origin (Fetch §3.2.3).
    AllowOrigin,
    /// `Access-Control-Allow-Credentials: true` (Fetch §3.2.3).
    AllowCredentials,
    /// `Access-Control-Allow-Methods`, on allowed preflights.
    AllowMethods,
    /// `Access-Control-Allow-Headers`, on allowed preflights.
    AllowHeaders,
    /// `Access-Control-Expose-Headers`, on allowed actual responses.
    ExposeHeaders,
    /// `Access-Control-Max-Age`, in seconds, on allowed preflights.
    MaxAge,
    /// `Access-Control-Allow-Private-Network: true` (Private Network Access, Chromium).
    AllowPrivateNetwork,
    /// `Vary`: what the answer depends on, for caches.
    Vary,
}

impl CorsResponseHeader {
    /// The headers crossgate owns on a response: whatever else wrote them is replaced.
    pub const OWNED: [CorsResponseHeader; 7] = [
        CorsResponseHeader::AllowOrigin,
        CorsResponseHeader::AllowCredentials,
        CorsResponseHeader::AllowMethods,
        CorsResponseHeader::AllowHeaders,
        CorsResponseHeader::ExposeHeaders,
        CorsResponseHeader::MaxAge,
        CorsResponseHeader::AllowPrivateNetwork,
    ];

    /// The header's name in lower case.
    pub const fn as_str(self) -> &'static str {
        match self {
            CorsResponseHeader::AllowOrigin => "access-control-allow-origin",
            CorsResponseHeader::AllowCredentials => "access-control-allow-credentials",
            CorsResponseHeader::AllowMethods => "access-control-allow-methods",
            CorsResponseHeader::AllowHeaders => "access-control-allow-headers",
            CorsResponseHeader::ExposeHeaders => "access-control-expose-headers",
            CorsResponseHeader::MaxAge => "access-control-max-age",
            CorsResponseHeader::AllowPrivateNetwork => "access-control-allow-private-network",
            CorsResponseHeader::Vary => "vary",
        }
    }
}

/// A response header map a CORS layer can write into: implemented for `http::HeaderMap` (and,
/// with the `actix` feature, actix-web's map). Implement it to use the writers
/// ([`Policy::write_actual`], [`Policy::write_preflight_allowed`],
/// [`Policy::write_preflight_denied`]) with another framework's responses.
pub trait ResponseHeaders {
    /// The map's header value type; [`Policy::header_values_as`] converts the policy's values
    /// to it once.
    type Value: Clone;

    /// Sets `name` to `value`, replacing every existing line.
    fn insert(&mut self, name: CorsResponseHeader, value: Self::Value);
    /// Adds a field line, keeping existing ones.
    fn append(&mut self, name: CorsResponseHeader, value: Self::Value);
    /// Removes every line of `name`.
    fn remove(&mut self, name: CorsResponseHeader);
    /// The field lines of `name`, in order.
    fn lines(&self, name: CorsResponseHeader) -> impl Iterator<Item = &[u8]>;
    /// Whether any `Access-Control-*` header is present (a quick scan before removing).
    fn has_access_control(&self) -> bool;
    /// Replaces the value of `name`, which has at most one line, in place (without growing the
    /// map when it is full).
    fn replace(&mut self, name: CorsResponseHeader, value: Self::Value) {
        self.insert(name, value);
    }
    /// Adds `value` as a field line of `name` unless a line already satisfies `present`.
    fn append_unless(
        &mut self,
        name: CorsResponseHeader,
        value: Self::Value,
        present: impl Fn(&[u8]) -> bool,
    ) {
        if !self.lines(name).any(present) {
            self.append(name, value);
        }
    }
}

impl CorsResponseHeader {
    /// The `http` 1 header name (a constant: no parsing per request).
    pub fn http_name(self) -> http::HeaderName {
        response_header_name(self)
    }
}

// The `http` 1 names, and its map as the writers' target; actix-web's `http` 0.2 gets the same
// from the same macro (`crate::actix`).
crate::http_glue::cors_http_glue!(http::header, http::HeaderMap, {
    fn replace(&mut self, name: CorsResponseHeader, value: http::HeaderValue) {
        // `insert` makes room for one more entry first, even to replace one.
        match self.get_mut(name.http_name()) {
            Some(line) => *line = value,
            None => {
                http::HeaderMap::insert(self, name.http_name(), value);
            }
        }
    }

    /// One hash and probe for both the look-up and the addition.
    fn append_unless(
        &mut self,
        name: CorsResponseHeader,
        value: http::HeaderValue,
        present: impl Fn(&[u8]) -> bool,
    ) {
        match self.entry(name.http_name()) {
            http::header::Entry::Occupied(mut lines) => {
                if !lines.iter().any(|line| present(line.as_bytes())) {
                    lines.append(value);
                }
            }
            http::header::Entry::Vacant(slot) => {
                slot.insert(value);
            }
        }
    }
});

impl CorsRequestHeader {
    /// The `http` 1 header name (a constant: no parsing per request).
    pub fn http_name(self) -> http::HeaderName {
        request_header_name(self)
    }
}

/// The constant header values of a policy, built once.
#[derive(Clone, Debug)]
pub struct HeaderValues<V> {
    pub(crate) wildcard: V,
    pub(crate) true_: V,
    /// `Origin`, for actual responses of origin-dependent policies.
    pub(crate) vary_actual: V,
    /// What preflight responses vary on.
    pub(crate) vary_preflight: V,
    pub(crate) allow_methods: Option<V>,
    pub(crate) allow_headers: Option<V>,
    pub(crate) expose_headers: Option<V>,
    pub(crate) max_age: Option<V>,
}

impl<V> HeaderValues<V> {
    /// The same values converted to another header-value type (once per policy, not per
    /// request).
    pub fn map<W>(&self, f: impl Fn(&V) -> W) -> HeaderValues<W> {
        HeaderValues {
            wildcard: f(&self.wildcard),
            true_: f(&self.true_),
            vary_actual: f(&self.vary_actual),
            vary_preflight: f(&self.vary_preflight),
            allow_methods: self.allow_methods.as_ref().map(&f),
            allow_headers: self.allow_headers.as_ref().map(&f),
            expose_headers: self.expose_headers.as_ref().map(&f),
            max_age: self.max_age.as_ref().map(&f),
        }
    }
}

fn join(items: &[Vec<u8>]) -> Option<Bytes> {
    (!items.is_empty()).then(|| Bytes::from(items.join(&b", "[..])))
}

impl HeaderValues<Bytes> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn specs(
        methods: &Wild<Vec<Vec<u8>>>,
        headers: &Wild<Vec<Vec<u8>>>,
        headers_authorization: bool,
        expose: &Wild<Vec<Vec<u8>>>,
        max_age: Option<u32>,
        credentials: bool,
        vary_origin: bool,
        private_network: bool,
    ) -> HeaderValues<Bytes> {
        let wildcard = Bytes::from_static(b"*");
        // Fetch §4.8 step 7.3-7.6: with credentials a `*` is a literal name, so any-method and
        // any-header policies echo the request instead (see `PreflightAllowed`).
        let allow_methods = match methods {
            Wild::Any => (!credentials).then(|| wildcard.clone()),
            Wild::List(items) => join(items),
        };
        let allow_headers = match headers {
            Wild::Any if credentials => None,
            Wild::Any if headers_authorization => Some(Bytes::from_static(b"*, authorization")),
            Wild::Any => Some(wildcard.clone()),
            Wild::List(items) => join(items),
        };
        let expose_headers = match expose {
            Wild::Any => Some(wildcard.clone()),
            Wild::List(items) => join(items),
        };
        // Static, so that cloning one is no reference count.
        let vary_preflight: &'static str = match (vary_origin, private_network) {
            (true, false) => {
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
            }
            (false, false) => "Access-Control-Request-Method, Access-Control-Request-Headers",
            (true, true) => {
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, \
                 Access-Control-Request-Private-Network"
            }
            (false, true) => {
                "Access-Control-Request-Method, Access-Control-Request-Headers, \
                 Access-Control-Request-Private-Network"
            }
        };
        HeaderValues {
            wildcard,
            true_: Bytes::from_static(b"true"),
            vary_actual: Bytes::from_static(b"Origin"),
            vary_preflight: Bytes::from_static(vary_preflight.as_bytes()),
            allow_methods,
            allow_headers,
            expose_headers,
            max_age: max_age.map(|s| Bytes::from(s.to_string())),
        }
    }
}

/// The headers of an allowed preflight that depend only on the policy, written once by
/// [`Policy::write_preflight_allowed`] (with a stand-in `Access-Control-Allow-Origin` when the
/// origin is reflected). Cloning it and setting the origin in place gives the same headers, in
/// the same order, for a fraction of the work of writing them one by one.
#[cfg(feature = "tower")]
#[derive(Clone, Debug)]
pub(crate) struct PreflightTemplate<H> {
    headers: H,
    allow_origin: AllowOrigin,
}

/// What an actual response gets, settled before the inner service runs (so the request can move
/// into it): the `Access-Control-Allow-Origin` value, if any.
#[derive(Clone, Debug)]
#[must_use = "an ActualAnswer adds nothing until it is written with Policy::write_actual"]
pub struct ActualAnswer<V> {
    allow_origin: Option<V>,
}

/// The request values a preflight answer may echo, as the framework's header values.
pub struct PreflightEcho<V, I> {
    /// The request's `Origin`, written when the origin is reflected (not `*`).
    pub origin: Option<V>,
    /// The request's `Access-Control-Request-Method`, written when
    /// [`PreflightAllowed::echo_method`] says so.
    pub method: Option<V>,
    /// The `Access-Control-Request-Headers` lines, written when
    /// [`PreflightAllowed::echo_headers`] says so.
    pub headers: I,
}

impl Policy {
    /// Settles the answer for an actual request. `request_origin` is called only when the origin
    /// is reflected.
    pub fn actual_answer<V: Clone>(
        &self,
        values: &HeaderValues<V>,
        actual: &Actual<'_>,
        request_origin: impl FnOnce() -> Option<V>,
    ) -> ActualAnswer<V> {
        let allow_origin = match actual {
            Actual::Allowed(AllowOrigin::Any) => Some(values.wildcard.clone()),
            Actual::Allowed(AllowOrigin::Reflect) => request_origin(),
            Actual::NoOrigin | Actual::Denied(_) => None,
        };
        ActualAnswer { allow_origin }
    }

    /// Writes the CORS headers of an actual response into the inner service's response. Errors
    /// (401, 500, ...) get them too, so the browser shows the real status, not a CORS error.
    pub fn write_actual<H: ResponseHeaders>(
        &self,
        values: &HeaderValues<H::Value>,
        answer: ActualAnswer<H::Value>,
        headers: &mut H,
    ) {
        remove_foreign(headers);
        if let Some(origin) = answer.allow_origin {
            headers.append(CorsResponseHeader::AllowOrigin, origin);
            if self.inner.credentials {
                headers.append(CorsResponseHeader::AllowCredentials, values.true_.clone());
            }
            if let Some(expose) = &values.expose_headers {
                headers.append(CorsResponseHeader::ExposeHeaders, expose.clone());
            }
        }
        // Caches must not serve one origin's answer to another: `Vary: Origin` on every response
        // whose CORS headers depend on it, allowed, refused or without `Origin`.
        if self.inner.vary_origin {
            merge_vary(headers, b"origin", &values.vary_actual);
        }
    }

    /// Writes the headers of an allowed preflight (status 204) into a fresh header map.
    pub fn write_preflight_allowed<H, I>(
        &self,
        values: &HeaderValues<H::Value>,
        allowed: &PreflightAllowed,
        echo: PreflightEcho<H::Value, I>,
        headers: &mut H,
    ) where
        H: ResponseHeaders,
        I: Iterator<Item = H::Value>,
    {
        remove_foreign(headers);
        let origin = match allowed.allow_origin {
            AllowOrigin::Any => Some(values.wildcard.clone()),
            AllowOrigin::Reflect => echo.origin,
        };
        if let Some(origin) = origin {
            headers.append(CorsResponseHeader::AllowOrigin, origin);
        }
        if self.inner.credentials {
            headers.append(CorsResponseHeader::AllowCredentials, values.true_.clone());
        }
        // Every allowed method and header, not just the requested ones, so the browser's
        // preflight cache also covers the next request.
        let methods = if allowed.echo_method {
            echo.method
        } else {
            values.allow_methods.clone()
        };
        if let Some(m) = methods {
            headers.append(CorsResponseHeader::AllowMethods, m);
        }
        if allowed.echo_headers {
            // Each validated request line becomes an allow line; browsers join them with ", ".
            for line in echo.headers {
                headers.append(CorsResponseHeader::AllowHeaders, line);
            }
        } else if let Some(h) = &values.allow_headers {
            headers.append(CorsResponseHeader::AllowHeaders, h.clone());
        }
        if let Some(age) = &values.max_age {
            headers.append(CorsResponseHeader::MaxAge, age.clone());
        }
        if allowed.private_network {
            headers.append(
                CorsResponseHeader::AllowPrivateNetwork,
                values.true_.clone(),
            );
        }
        headers.insert(CorsResponseHeader::Vary, values.vary_preflight.clone());
    }

    /// Builds the [`PreflightTemplate`] of this policy for a header-map type.
    #[cfg(feature = "tower")]
    pub(crate) fn preflight_template<H>(
        &self,
        values: &HeaderValues<H::Value>,
    ) -> PreflightTemplate<H>
    where
        H: ResponseHeaders + Default,
    {
        let allow_origin = if self.inner.origins.is_any() {
            AllowOrigin::Any
        } else {
            AllowOrigin::Reflect
        };
        let allowed = PreflightAllowed {
            allow_origin,
            echo_method: false,
            echo_headers: false,
            private_network: false,
        };
        let mut headers = H::default();
        let echo = PreflightEcho {
            origin: Some(values.wildcard.clone()),
            method: None,
            headers: std::iter::empty(),
        };
        self.write_preflight_allowed(values, &allowed, echo, &mut headers);
        PreflightTemplate {
            headers,
            allow_origin,
        }
    }

    /// The headers of an allowed preflight, from the template: `Some` when the answer echoes
    /// nothing but the origin (every policy but `*` methods or headers with credentials, and
    /// Private Network Access requests); `None` otherwise, and the caller writes them with
    /// [`Policy::write_preflight_allowed`]. Exactly what that would write into a fresh map.
    #[cfg(feature = "tower")]
    pub(crate) fn preflight_from_template<H>(
        &self,
        template: &PreflightTemplate<H>,
        allowed: &PreflightAllowed,
        request_origin: impl FnOnce() -> Option<H::Value>,
    ) -> Option<H>
    where
        H: ResponseHeaders + Clone,
    {
        if allowed.echo_method
            || allowed.echo_headers
            || allowed.private_network
            || allowed.allow_origin != template.allow_origin
        {
            return None;
        }
        match allowed.allow_origin {
            AllowOrigin::Any => Some(template.headers.clone()),
            AllowOrigin::Reflect => {
                let origin = request_origin()?;
                let mut headers = template.headers.clone();
                // Replaces the stand-in where it stands.
                headers.replace(CorsResponseHeader::AllowOrigin, origin);
                Some(headers)
            }
        }
    }

    /// Writes the headers of a refused preflight (status 403): no `Access-Control-Allow-*` at
    /// all, only what the answer varies on.
    pub fn write_preflight_denied<H: ResponseHeaders>(
        &self,
        values: &HeaderValues<H::Value>,
        headers: &mut H,
    ) {
        remove_foreign(headers);
        headers.insert(CorsResponseHeader::Vary, values.vary_preflight.clone());
    }
}

/// A framework's response to a preflight the middleware answers itself, for [`Policy::answer`].
#[cfg(any(feature = "tower", feature = "actix"))]
pub(crate) trait PreflightResponse: Sized {
    /// Its header map.
    type Headers: ResponseHeaders;

    /// An empty response: 204 when the preflight is allowed, 403 when it is not. (Fetch §4.8
    /// judges a preflight by its status being ok and by its headers; the 403 is for people
    /// reading logs.)
    fn empty(allowed: bool) -> Self;

    /// Its header map, to be written into.
    fn headers_mut(&mut self) -> &mut Self::Headers;

    /// The policy's constant header values, as this framework's values.
    fn values(policy: &Policy) -> &HeaderValues<<Self::Headers as ResponseHeaders>::Value>;

    /// The whole allowed answer cloned from the policy's template, where the framework keeps
    /// one and the answer echoes nothing but the origin; `None` to have it written.
    fn from_template(
        _policy: &Policy,
        _allowed: &PreflightAllowed,
        _origin: impl FnOnce() -> Option<<Self::Headers as ResponseHeaders>::Value>,
    ) -> Option<Self> {
        None
    }
}

/// A request's CORS header lines as the framework's own values (looked up once, so that the
/// `Origin` the decision checked is the one reflected).
#[cfg(any(feature = "tower", feature = "actix"))]
pub(crate) trait RequestLines {
    /// The framework's header value.
    type Value: Clone;

    /// The first field line of `name`.
    fn first(&self, name: CorsRequestHeader) -> Option<&Self::Value>;

    /// Every field line of `name`, in order.
    fn all(&self, name: CorsRequestHeader) -> impl Iterator<Item = &Self::Value>;
}

/// What a decision comes to in a middleware: a preflight's whole response, or the headers the
/// inner service's response gets.
#[cfg(any(feature = "tower", feature = "actix"))]
pub(crate) enum Answer<R, V> {
    /// The middleware answers: the inner service never sees the request.
    Preflight(R),
    /// The inner service answers; its response gets these headers.
    Actual(ActualAnswer<V>),
}

#[cfg(any(feature = "tower", feature = "actix"))]
impl Policy {
    /// The one dispatch of a decision shared by the tower layer and the actix-web middleware:
    /// an allowed preflight's 204 with every header (from the template when the framework keeps
    /// one), a refused preflight's 403, or the answer an actual response gets.
    pub(crate) fn answer<R, L>(&self, decision: Decision<'_>, head: &L) -> Answer<R, L::Value>
    where
        R: PreflightResponse,
        R::Headers: ResponseHeaders<Value = L::Value>,
        L: RequestLines,
    {
        let values = R::values(self);
        let origin = || head.first(CorsRequestHeader::Origin).cloned();
        match decision {
            Decision::PreflightAllowed(allowed) => {
                if let Some(response) = R::from_template(self, &allowed, origin) {
                    return Answer::Preflight(response);
                }
                let mut response = R::empty(true);
                let echo = PreflightEcho {
                    origin: origin(),
                    method: allowed
                        .echo_method
                        .then(|| head.first(CorsRequestHeader::AccessControlRequestMethod))
                        .flatten()
                        .cloned(),
                    headers: allowed
                        .echo_headers
                        .then(|| head.all(CorsRequestHeader::AccessControlRequestHeaders))
                        .into_iter()
                        .flatten()
                        .cloned(),
                };
                self.write_preflight_allowed(values, &allowed, echo, response.headers_mut());
                Answer::Preflight(response)
            }
            Decision::PreflightDenied(_) => {
                let mut response = R::empty(false);
                self.write_preflight_denied(values, response.headers_mut());
                Answer::Preflight(response)
            }
            Decision::Actual(actual) => Answer::Actual(self.actual_answer(values, &actual, origin)),
        }
    }
}

/// Removes every header the policy owns, so that the writers can append them (cheaper than
/// inserting with some maps, and the same once none is left).
fn remove_foreign<H: ResponseHeaders>(headers: &mut H) {
    if headers.has_access_control() {
        for name in CorsResponseHeader::OWNED {
            headers.remove(name);
        }
    }
}

/// Adds `token` to `Vary` unless it (or `*`) is already there. Existing lines are kept as they
/// are; a missing token is added as its own field line, which HTTP joins with the others.
fn merge_vary<H: ResponseHeaders>(headers: &mut H, token: &[u8], value: &H::Value) {
    headers.append_unless(CorsResponseHeader::Vary, value.clone(), |line| {
        RawElements::new(line).any(|e| {
            let e = trim_ows(e).value;
            e == b"*" || e.eq_ignore_ascii_case(token)
        })
    });
}

// The template is the tower layer's.
#[cfg(all(test, feature = "tower"))]
mod tests {
    use super::*;

    fn lines(map: &http::HeaderMap) -> Vec<(String, Vec<u8>)> {
        map.iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    /// The template gives exactly what the writer writes into a fresh map, in the same order.
    #[test]
    fn the_preflight_template_writes_what_the_writer_writes() {
        let policies = [
            Policy::builder()
                .allow_origins(["https://a.example", "https://*.example.com"])
                .allow_credentials(true)
                .allow_methods(["PUT", "DELETE"])
                .allow_headers(["content-type", "authorization"])
                .max_age(600)
                .build(),
            Policy::builder().allow_origins(["*"]).build(),
            Policy::builder()
                .allow_origins(["*"])
                .allow_methods(["*"])
                .allow_headers(["*", "authorization"])
                .max_age(0)
                .build(),
            Policy::builder()
                .allow_origins(["http://localhost:*"])
                .allow_private_network(true)
                .build(),
        ];
        let origin = http::HeaderValue::from_static("https://a.example");
        for policy in policies {
            let policy = policy.unwrap();
            let allowed = PreflightAllowed {
                allow_origin: if policy.varies_by_origin() {
                    AllowOrigin::Reflect
                } else {
                    AllowOrigin::Any
                },
                echo_method: false,
                echo_headers: false,
                private_network: false,
            };
            let mut written = http::HeaderMap::new();
            let echo = PreflightEcho {
                origin: Some(origin.clone()),
                method: None,
                headers: std::iter::empty(),
            };
            policy.write_preflight_allowed(policy.header_values(), &allowed, echo, &mut written);
            let template = policy.preflight_headers();
            let from_template = policy
                .preflight_from_template(template, &allowed, || Some(origin.clone()))
                .expect("nothing to echo");
            assert_eq!(lines(&from_template), lines(&written), "{policy:?}");
            // Echoing answers are left to the writer.
            for echoing in [
                PreflightAllowed {
                    echo_method: true,
                    ..allowed
                },
                PreflightAllowed {
                    echo_headers: true,
                    ..allowed
                },
                PreflightAllowed {
                    private_network: true,
                    ..allowed
                },
            ] {
                assert!(
                    policy
                        .preflight_from_template(template, &echoing, || Some(origin.clone()))
                        .is_none()
                );
            }
        }
    }
}
