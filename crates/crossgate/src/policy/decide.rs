//! Request -> [`Decision`]: is it a preflight, and what does the policy allow?
//!
//! Reads only the request's method and its CORS request headers, through [`RequestHead`], so
//! every framework (and every `http` version) shares this one implementation. Never allocates;
//! the work on hostile input is bounded by [`limits`] and by the policy, never by the input's
//! length.

use std::fmt;

use super::{NameRule, Policy};
use crate::fetch::list::{ListLimits, ScanError, scan_tokens};
use crate::fetch::{header, is_token, method};

/// Bounds on what a preflight may ask for.
pub mod limits {
    /// Optional whitespace around each name of `Access-Control-Request-Headers`. Browsers send
    /// none; proxies that re-join split lines add one space.
    pub const MAX_OWS: usize = 2;
    /// Empty elements and empty lines in `Access-Control-Request-Headers` (browsers send none;
    /// proxies such as AWS API Gateway split and re-join lines).
    pub const MAX_EMPTY: usize = 16;
    /// Names in `Access-Control-Request-Headers` when the policy allows any header. With a list,
    /// the list's length is the bound: a request asking for more names than the policy has must
    /// repeat one or ask for one that is not allowed.
    pub const MAX_WILDCARD_NAMES: usize = 256;
    /// Longest method in `Access-Control-Request-Method` when the policy allows any method.
    pub const MAX_METHOD_LEN: usize = 128;
}

/// The request headers a decision reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CorsRequestHeader {
    /// `Origin`: who is asking (Fetch §3.1). Every CORS request carries it.
    Origin,
    /// `Access-Control-Request-Method`: the method the preflight asks about (Fetch §3.2.2).
    AccessControlRequestMethod,
    /// `Access-Control-Request-Headers`: the sorted, lower-case names of the request's unsafe
    /// headers, as one comma-separated list (Fetch §3.2.2).
    AccessControlRequestHeaders,
    /// `Access-Control-Request-Private-Network: true`: a public page asking a private address
    /// (Private Network Access, a Chromium draft outside the Fetch standard).
    AccessControlRequestPrivateNetwork,
}

impl CorsRequestHeader {
    /// The header's name in lower case, as HTTP/2 and the `http` crates spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            CorsRequestHeader::Origin => "origin",
            CorsRequestHeader::AccessControlRequestMethod => "access-control-request-method",
            CorsRequestHeader::AccessControlRequestHeaders => "access-control-request-headers",
            CorsRequestHeader::AccessControlRequestPrivateNetwork => {
                "access-control-request-private-network"
            }
        }
    }
}

/// What a decision needs from a request: whether it is an `OPTIONS` request, and the field lines
/// of the CORS request headers, in order.
///
/// Implemented for `http::Request<B>` and `http::request::Parts` (and, with the `actix` feature,
/// actix-web's `ServiceRequest`); implement it to decide with another framework's requests.
///
/// ```
/// use crossgate::policy::{CorsRequestHeader, Decision, Policy, RequestHead};
///
/// /// A request as some other framework keeps it.
/// struct Head {
///     method: &'static str,
///     headers: Vec<(&'static str, &'static str)>,
/// }
///
/// impl RequestHead for Head {
///     fn is_options(&self) -> bool {
///         self.method == "OPTIONS"
///     }
///     fn header_values(&self, name: CorsRequestHeader) -> impl Iterator<Item = &[u8]> {
///         self.headers
///             .iter()
///             .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_str()))
///             .map(|(_, v)| v.as_bytes())
///     }
/// }
///
/// let policy = Policy::builder()
///     .allow_origins(["https://app.example.com"])
///     .allow_methods(["PUT"])
///     .build()?;
/// let preflight = Head {
///     method: "OPTIONS",
///     headers: vec![
///         ("Origin", "https://app.example.com"),
///         ("Access-Control-Request-Method", "PUT"),
///     ],
/// };
/// assert!(matches!(policy.decide(&preflight), Decision::PreflightAllowed(_)));
/// # Ok::<(), crossgate::policy::InvalidConfig>(())
/// ```
pub trait RequestHead {
    /// Whether the method is `OPTIONS` (compared case-sensitively: Fetch §3.2.2 only treats an
    /// `OPTIONS` request as a preflight).
    fn is_options(&self) -> bool;
    /// Every field line of `name`, in the order received, as raw bytes: the decision refuses
    /// repeated `Origin` or `Access-Control-Request-Method` lines, so it needs them all.
    fn header_values(&self, name: CorsRequestHeader) -> impl Iterator<Item = &[u8]>;
}

impl<B> RequestHead for http::Request<B> {
    fn is_options(&self) -> bool {
        self.method() == http::Method::OPTIONS
    }

    fn header_values(&self, name: CorsRequestHeader) -> impl Iterator<Item = &[u8]> {
        self.headers()
            .get_all(name.http_name())
            .iter()
            .map(http::HeaderValue::as_bytes)
    }
}

impl RequestHead for http::request::Parts {
    fn is_options(&self) -> bool {
        self.method == http::Method::OPTIONS
    }

    fn header_values(&self, name: CorsRequestHeader) -> impl Iterator<Item = &[u8]> {
        self.headers
            .get_all(name.http_name())
            .iter()
            .map(http::HeaderValue::as_bytes)
    }
}

/// How `Access-Control-Allow-Origin` is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllowOrigin {
    /// `*`: the policy allows any origin (never with credentials).
    Any,
    /// The request's own `Origin`, which the policy allows.
    Reflect,
}

/// The policy's answer to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a Decision grants nothing until its headers are written"]
pub enum Decision<'r> {
    /// Not a preflight: the inner service answers, and the response gets these CORS headers.
    Actual(Actual<'r>),
    /// A preflight the policy allows: answered with 204 and the allow headers.
    PreflightAllowed(PreflightAllowed),
    /// A preflight the policy refuses: answered with 403 and no `Access-Control-Allow-*`.
    PreflightDenied(Denied<'r>),
}

/// An actual (non-preflight) request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actual<'r> {
    /// No `Origin` header: not a CORS request (a same-origin GET, a server-to-server call).
    NoOrigin,
    /// A CORS request from an allowed origin: the response gets `Access-Control-Allow-Origin`
    /// written as this says, with credentials and exposed headers if the policy has them.
    Allowed(AllowOrigin),
    /// A CORS request the policy refuses: the response gets no `Access-Control-Allow-*`, so
    /// the browser keeps it from the page (the request itself still reaches the service, as it
    /// would without any CORS layer: the CORS check, Fetch §4.10, is the browser's).
    Denied(Denied<'r>),
}

/// An allowed preflight: what to write besides `Access-Control-Allow-Origin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreflightAllowed {
    /// How `Access-Control-Allow-Origin` is written.
    pub allow_origin: AllowOrigin,
    /// Echo `Access-Control-Request-Method` in `Access-Control-Allow-Methods` (any method, with
    /// credentials, where `*` would be taken literally).
    pub echo_method: bool,
    /// Echo `Access-Control-Request-Headers` in `Access-Control-Allow-Headers` (any header, with
    /// credentials).
    pub echo_headers: bool,
    /// Answer `Access-Control-Allow-Private-Network: true`.
    pub private_network: bool,
}

/// Why a request gets no CORS access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// The `Origin` is well formed but matches none of the policy's origins.
    OriginNotAllowed,
    /// Several `Origin` field lines, or an empty one: no browser sends that.
    OriginMalformed,
    /// The preflight asks for a method the policy does not allow.
    MethodNotAllowed,
    /// Several `Access-Control-Request-Method` lines, or a value that is not a method.
    MethodMalformed,
    /// The preflight asks for a header name the policy does not allow.
    HeaderNotAllowed,
    /// `Access-Control-Request-Headers` that no browser would send: not a list of names, too
    /// much whitespace or too many empty elements, or more names than allowed.
    HeadersMalformed,
}

impl DenyReason {
    /// A stable name for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            DenyReason::OriginNotAllowed => "origin-not-allowed",
            DenyReason::OriginMalformed => "origin-malformed",
            DenyReason::MethodNotAllowed => "method-not-allowed",
            DenyReason::MethodMalformed => "method-malformed",
            DenyReason::HeaderNotAllowed => "header-not-allowed",
            DenyReason::HeadersMalformed => "headers-malformed",
        }
    }
}

/// A refusal and the request bytes it is about (for logs; shown truncated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denied<'r> {
    /// Why.
    pub reason: DenyReason,
    /// The request's bytes the refusal is about: the `Origin`, the method, or the first name
    /// not allowed (borrowed from the request: never copied on the request path).
    pub value: &'r [u8],
}

impl fmt::Display for Denied<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.reason {
            DenyReason::OriginNotAllowed => "origin not allowed",
            DenyReason::OriginMalformed => "malformed Origin header",
            DenyReason::MethodNotAllowed => "method not allowed",
            DenyReason::MethodMalformed => "malformed Access-Control-Request-Method",
            DenyReason::HeaderNotAllowed => "request header not allowed",
            DenyReason::HeadersMalformed => "malformed Access-Control-Request-Headers",
        };
        f.write_str(what)?;
        if !self.value.is_empty() {
            const SHOWN: usize = 80;
            let shown = &self.value[..self.value.len().min(SHOWN)];
            f.write_str(": ")?;
            for chunk in shown.utf8_chunks() {
                for c in chunk.valid().chars() {
                    write!(f, "{}", c.escape_debug())?;
                }
                for b in chunk.invalid() {
                    write!(f, "\\x{b:02x}")?;
                }
            }
            if self.value.len() > SHOWN {
                write!(f, "... ({} bytes)", self.value.len())?;
            }
        }
        Ok(())
    }
}

/// A refusal, owned: the tower layer leaves one in the extensions of every response to a
/// request its policy refused (a preflight answered 403, or an actual request whose response got
/// no `Access-Control-Allow-*`), so that what runs around the layer counts and logs refusals
/// without deciding again. Allowed requests carry none, and cost nothing for it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// Whether the refused request was a CORS preflight.
    pub preflight: bool,
    /// Why it was refused.
    pub reason: DenyReason,
    /// The reason and the request bytes it is about, as [`Denied`] displays them (truncated).
    pub detail: String,
}

impl Refusal {
    /// The refusal a decision is, if it is one.
    pub fn of(decision: &Decision<'_>) -> Option<Refusal> {
        let (preflight, denied) = match decision {
            Decision::PreflightDenied(d) => (true, d),
            Decision::Actual(Actual::Denied(d)) => (false, d),
            Decision::PreflightAllowed(_) | Decision::Actual(_) => return None,
        };
        Some(Refusal {
            preflight,
            reason: denied.reason,
            detail: denied.to_string(),
        })
    }
}

/// Fetch §3.2.2: a CORS-preflight request is an `OPTIONS` request with `Origin` and
/// `Access-Control-Request-Method`; any other `OPTIONS` request belongs to the application.
/// [`Policy::decide`] tells preflights with it; a server that counts preflights around the tower
/// layer can too.
#[inline]
pub fn is_preflight<R: RequestHead>(request: &R) -> bool {
    request.is_options()
        && request
            .header_values(CorsRequestHeader::Origin)
            .next()
            .is_some()
        && request
            .header_values(CorsRequestHeader::AccessControlRequestMethod)
            .next()
            .is_some()
}

/// Where a decision learns whether the request's origin is allowed.
#[derive(Clone, Copy)]
enum OriginRule {
    /// The policy's own origin patterns.
    Listed,
    /// A resolver granted the origin this policy (it was checked to be a well-formed origin
    /// before the resolver was asked).
    #[cfg_attr(
        not(all(feature = "resolve", any(feature = "tower", feature = "actix"))),
        allow(dead_code)
    )]
    Granted,
}

fn deny(reason: DenyReason, value: &[u8]) -> Denied<'_> {
    Denied { reason, value }
}

/// The single value of a header that must appear at most once: `Ok(None)` when absent,
/// `Err(first)` when repeated.
fn single<'r>(mut values: impl Iterator<Item = &'r [u8]>) -> Result<Option<&'r [u8]>, &'r [u8]> {
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => Ok(Some(v)),
        (Some(v), Some(_)) => Err(v),
    }
}

impl Policy {
    /// Decides a request. Pure: logs nothing (see [`Policy::decide_logged`]).
    pub fn decide<'r, R: RequestHead>(&self, request: &'r R) -> Decision<'r> {
        self.decide_by(request, OriginRule::Listed)
    }

    /// Decides a request whose origin an [`OriginResolver`](crate::policy::OriginResolver)
    /// granted this policy: as [`Policy::decide`], with the origin allowed (reflected) whatever
    /// the listed origins say. Everything after the origin (method, headers) is checked as usual.
    #[cfg(feature = "resolve")]
    #[cfg_attr(not(any(feature = "tower", feature = "actix")), allow(dead_code))]
    pub(crate) fn decide_granted<'r, R: RequestHead>(&self, request: &'r R) -> Decision<'r> {
        self.decide_by(request, OriginRule::Granted)
    }

    /// The decision for an actual request from `origin`, granted by a resolver or not.
    #[cfg(feature = "resolve")]
    #[cfg_attr(not(any(feature = "tower", feature = "actix")), allow(dead_code))]
    pub(crate) fn decide_actual_from<'r>(&self, origin: &'r [u8], granted: bool) -> Actual<'r> {
        let rule = if granted {
            OriginRule::Granted
        } else {
            OriginRule::Listed
        };
        self.decide_actual(Ok(Some(origin)), rule)
    }

    /// The decision for a preflight from `origin`, which a resolver granted this policy: the
    /// method and headers are checked as usual (the origin is not read again).
    #[cfg(feature = "resolve")]
    #[cfg_attr(not(any(feature = "tower", feature = "actix")), allow(dead_code))]
    pub(crate) fn decide_preflight_granted<'r, R: RequestHead>(
        &self,
        request: &'r R,
        origin: &'r [u8],
    ) -> Decision<'r> {
        let method = single(request.header_values(CorsRequestHeader::AccessControlRequestMethod));
        match self.decide_preflight(request, Ok(Some(origin)), method, OriginRule::Granted) {
            Ok(allowed) => Decision::PreflightAllowed(allowed),
            Err(denied) => Decision::PreflightDenied(denied),
        }
    }

    #[inline(always)]
    fn decide_by<'r, R: RequestHead>(&self, request: &'r R, rule: OriginRule) -> Decision<'r> {
        let origin = single(request.header_values(CorsRequestHeader::Origin));
        if is_preflight(request) {
            let method =
                single(request.header_values(CorsRequestHeader::AccessControlRequestMethod));
            return match self.decide_preflight(request, origin, method, rule) {
                Ok(allowed) => Decision::PreflightAllowed(allowed),
                Err(denied) => Decision::PreflightDenied(denied),
            };
        }
        Decision::Actual(self.decide_actual(origin, rule))
    }

    /// [`Policy::decide`], plus a `tracing` debug event for every refusal, with its reason.
    pub fn decide_logged<'r, R: RequestHead>(&self, request: &'r R) -> Decision<'r> {
        let decision = self.decide(request);
        log_refusal(&decision);
        decision
    }
}

/// The `tracing` debug event of [`Policy::decide_logged`], for a decision that is a refusal.
#[inline]
pub(crate) fn log_refusal(decision: &Decision<'_>) {
    match decision {
        Decision::PreflightDenied(d) => {
            tracing::debug!(target: "crossgate::policy", kind = "preflight", reason = d.reason.as_str(), "CORS preflight refused: {d}");
        }
        Decision::Actual(Actual::Denied(d)) => {
            tracing::debug!(target: "crossgate::policy", kind = "actual", reason = d.reason.as_str(), "CORS access refused: {d}");
        }
        _ => {}
    }
}

impl Policy {
    #[inline(always)]
    fn check_origin<'r>(
        &self,
        origin: &'r [u8],
        rule: OriginRule,
    ) -> Result<AllowOrigin, Denied<'r>> {
        if origin.is_empty() {
            Err(deny(DenyReason::OriginMalformed, origin))
        } else if self.inner.origins.is_any() {
            Ok(AllowOrigin::Any)
        } else if matches!(rule, OriginRule::Granted) || self.inner.origins.matches(origin) {
            Ok(AllowOrigin::Reflect)
        } else {
            Err(deny(DenyReason::OriginNotAllowed, origin))
        }
    }

    fn decide_actual<'r>(
        &self,
        origin: Result<Option<&'r [u8]>, &'r [u8]>,
        rule: OriginRule,
    ) -> Actual<'r> {
        match origin {
            // `*` does not depend on the request, so every response may carry it.
            _ if self.inner.origins.is_any() => Actual::Allowed(AllowOrigin::Any),
            Ok(None) => Actual::NoOrigin,
            Err(first) => Actual::Denied(deny(DenyReason::OriginMalformed, first)),
            Ok(Some(o)) => match self.check_origin(o, rule) {
                Ok(allow) => Actual::Allowed(allow),
                Err(d) => Actual::Denied(d),
            },
        }
    }

    fn decide_preflight<'r, R: RequestHead>(
        &self,
        request: &'r R,
        origin: Result<Option<&'r [u8]>, &'r [u8]>,
        method: Result<Option<&'r [u8]>, &'r [u8]>,
        rule: OriginRule,
    ) -> Result<PreflightAllowed, Denied<'r>> {
        // Fetch §4.8 step 7: the browser first runs the CORS check (the origin), then checks the
        // method and the headers. The server refuses in the same order.
        let allow_origin = match origin {
            Ok(Some(o)) => self.check_origin(o, rule)?,
            Ok(None) | Err(_) => {
                return Err(deny(
                    DenyReason::OriginMalformed,
                    origin.err().unwrap_or_default(),
                ));
            }
        };
        let echo_method = self.check_method(method)?;
        let echo_headers = self.check_request_headers(request)?;
        let private_network = self.inner.private_network
            && matches!(
                single(
                    request.header_values(CorsRequestHeader::AccessControlRequestPrivateNetwork)
                ),
                Ok(Some(b"true"))
            );
        Ok(PreflightAllowed {
            allow_origin,
            echo_method,
            echo_headers,
            private_network,
        })
    }

    /// Fetch §4.8 step 7.5: the requested method must be safelisted or allowed. Returns whether
    /// to echo it.
    fn check_method<'r>(
        &self,
        method: Result<Option<&'r [u8]>, &'r [u8]>,
    ) -> Result<bool, Denied<'r>> {
        let value = match method {
            Ok(Some(v)) => v,
            Ok(None) => b"",
            Err(first) => return Err(deny(DenyReason::MethodMalformed, first)),
        };
        if method::is_cors_safelisted(value) {
            return Ok(false);
        }
        match &self.inner.methods {
            NameRule::Any => {
                if value.len() > limits::MAX_METHOD_LEN || !is_token(value) {
                    return Err(deny(DenyReason::MethodMalformed, value));
                }
                Ok(self.inner.credentials)
            }
            NameRule::List { names, longest } => {
                if value.len() <= *longest && names.contains(value) {
                    Ok(false)
                } else if is_token(&value[..value.len().min(limits::MAX_METHOD_LEN)]) {
                    Err(deny(DenyReason::MethodNotAllowed, value))
                } else {
                    Err(deny(DenyReason::MethodMalformed, value))
                }
            }
        }
    }

    /// Fetch §4.8 step 7.6: every requested header name must be allowed (`*` never covers
    /// `authorization`). Returns whether to echo the request's list.
    fn check_request_headers<'r, R: RequestHead>(
        &self,
        request: &'r R,
    ) -> Result<bool, Denied<'r>> {
        let c = &self.inner;
        let (max_items, max_item_len) = match &c.headers {
            NameRule::Any => (limits::MAX_WILDCARD_NAMES, super::MAX_HEADER_NAME_LEN),
            NameRule::List { longest, .. } => (c.headers.len(), *longest),
        };
        let limits = ListLimits {
            max_ows: limits::MAX_OWS,
            max_empty: limits::MAX_EMPTY,
            max_items,
            max_item_len,
        };
        let lines = request.header_values(CorsRequestHeader::AccessControlRequestHeaders);
        let mut any_name = false;
        let scanned = scan_tokens(lines, limits, |name| {
            any_name = true;
            let allowed = match &c.headers {
                NameRule::Any => {
                    c.headers_authorization
                        || !header::is_cors_non_wildcard_request_header_name(name)
                }
                NameRule::List { names, .. } => names.contains_lowercase_of(name),
            };
            if allowed { Ok(()) } else { Err(name) }
        });
        match scanned {
            Ok(()) => Ok(any_name && matches!(c.headers, NameRule::Any) && c.credentials),
            Err(ScanError::Refused(name)) => Err(deny(DenyReason::HeaderNotAllowed, name)),
            // With a list, an over-long name or one name too many cannot be allowed.
            Err(ScanError::ItemTooLong(name)) if matches!(c.headers, NameRule::List { .. }) => {
                Err(deny(DenyReason::HeaderNotAllowed, name))
            }
            Err(_) => Err(deny(DenyReason::HeadersMalformed, b"")),
        }
    }
}
