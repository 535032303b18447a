//! tower middleware: [`CorsLayer`] and [`Cors`], for axum, tonic, hyper and anything else built on
//! `tower::Service` and `http` 1.
//!
//! ```
//! use axum::{Router, routing::get};
//! use crossgate::{policy::Policy, tower::CorsLayer};
//!
//! let policy = Policy::builder()
//!     .allow_origins(["https://app.example.com"])
//!     .allow_methods(["PUT", "DELETE"])
//!     .allow_headers(["content-type"])
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/items", get(|| async { "[]" }))
//!     .layer(CorsLayer::new(policy));
//! # Ok::<(), crossgate::policy::InvalidConfig>(())
//! ```
//!
//! For origins that change while serving (tenants' own domains, preview deployments), build the
//! layer from a [`LivePolicy`] with [`CorsLayer::live`] and edit it from anywhere: each request
//! runs on the policy in force when it started.
//!
//! A preflight is answered by the layer itself (204 or 403), whether or not the application has
//! an `OPTIONS` route; any other request goes to the inner service, and its response, errors
//! included, gets the CORS headers the request's origin is entitled to. The response to a request
//! the policy refused carries a [`Refusal`] in its extensions (why, and the offending bytes), for
//! middleware around the layer that counts or logs refusals without deciding again.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

#[cfg(feature = "resolve")]
use crate::policy::Wait;
use crate::policy::{
    ActualAnswer, Answer, CorsRequestHeader, HeaderValues, LivePolicy, LiveReader, Policy,
    PreflightAllowed, PreflightResponse, Refusal, RequestHead, RequestLines,
};
use crate::policy::{Deferred, Resolver};

/// Applies a [`Policy`], fixed or live, to every request of the wrapped service.
///
/// A preflight never reaches the service: the layer answers it, 204 with the allow headers or
/// 403 without them. Every other response gets `Access-Control-Allow-Origin` (and
/// credentials, exposed headers) when its origin is allowed, and `Vary: Origin` whenever the
/// answer depends on the origin.
///
/// ```
/// use std::convert::Infallible;
///
/// use crossgate::policy::Policy;
/// use crossgate::tower::CorsLayer;
/// use http::{Request, Response, StatusCode};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = Policy::builder()
///     .allow_origins(["https://app.example.com"])
///     .allow_methods(["PUT"])
///     .allow_headers(["content-type"])
///     .build()?;
/// let app = service_fn(|_: Request<String>| async {
///     Ok::<_, Infallible>(Response::new(String::from("[]")))
/// });
/// let service = CorsLayer::new(policy).layer(app);
///
/// // A preflight: answered by the layer.
/// let preflight = Request::options("/items")
///     .header("origin", "https://app.example.com")
///     .header("access-control-request-method", "PUT")
///     .header("access-control-request-headers", "content-type")
///     .body(String::new())?;
/// let response = service.clone().oneshot(preflight).await?;
/// assert_eq!(response.status(), StatusCode::NO_CONTENT);
/// assert_eq!(response.headers()["access-control-allow-methods"], "PUT");
///
/// // The actual request: the app answers, the layer adds the origin.
/// let put = Request::put("/items")
///     .header("origin", "https://app.example.com")
///     .body(String::from("{}"))?;
/// let response = service.clone().oneshot(put).await?;
/// assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com");
/// assert_eq!(response.headers()["vary"], "Origin");
///
/// // Another origin: the app still answers, but without CORS headers the browser keeps the
/// // response from the page.
/// let other = Request::get("/items")
///     .header("origin", "https://evil.example")
///     .body(String::new())?;
/// let response = service.oneshot(other).await?;
/// assert!(response.headers().get("access-control-allow-origin").is_none());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a layer does nothing until it wraps a service with `.layer(..)`"]
pub struct CorsLayer {
    source: Source,
    #[cfg(feature = "resolve")]
    resolver: Option<Resolver>,
}

/// Where the policy comes from. A live policy is read through a reader that each service
/// clones: one relaxed load per request while the policy is unchanged.
#[derive(Clone, Debug)]
enum Source {
    Fixed(Policy),
    Live(LiveReader),
}

impl CorsLayer {
    /// A layer that applies `policy` for as long as it serves.
    pub fn new(policy: Policy) -> CorsLayer {
        CorsLayer {
            source: Source::Fixed(policy),
            #[cfg(feature = "resolve")]
            resolver: None,
        }
    }

    /// A layer that applies the policy in force in `live` when each request starts.
    pub fn live(live: LivePolicy) -> CorsLayer {
        CorsLayer {
            source: Source::Live(live.reader()),
            #[cfg(feature = "resolve")]
            resolver: None,
        }
    }

    /// Asks `resolver` about every well-formed origin the policy does not list (feature
    /// `resolve`; see [`Resolver`]). A preflight whose origin is being looked up waits for the
    /// answer (at most the resolver's timeout); an actual request goes to the inner service at
    /// once, and only its CORS headers wait.
    #[cfg(feature = "resolve")]
    pub fn resolver(mut self, resolver: Resolver) -> CorsLayer {
        self.resolver = Some(resolver);
        self
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors {
            inner,
            source: self.source.clone(),
            #[cfg(feature = "resolve")]
            resolver: self.resolver.clone(),
        }
    }
}

/// The service made by [`CorsLayer`].
#[derive(Clone, Debug)]
#[must_use = "a service does nothing until it is called"]
pub struct Cors<S> {
    inner: S,
    source: Source,
    #[cfg(feature = "resolve")]
    resolver: Option<Resolver>,
}

impl<S> Cors<S> {
    /// Wraps `inner` with `policy`: the same as `CorsLayer::new(policy).layer(inner)`.
    pub fn new(inner: S, policy: Policy) -> Cors<S> {
        CorsLayer::new(policy).layer(inner)
    }

    /// Wraps `inner` with the policy in force in `live` (read as each request starts).
    pub fn live(inner: S, live: LivePolicy) -> Cors<S> {
        CorsLayer::live(live).layer(inner)
    }

    /// The policy in force now.
    pub fn policy(&self) -> Policy {
        match &self.source {
            Source::Fixed(policy) => policy.clone(),
            Source::Live(reader) => reader.current(),
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, unwrapped: the policy is dropped with the layer.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        #[cfg(feature = "resolve")]
        let resolver = self.resolver.as_ref();
        #[cfg(not(feature = "resolve"))]
        let resolver = None;
        match &mut self.source {
            Source::Fixed(policy) => respond(&mut self.inner, policy, resolver, request),
            // The request runs on the policy in force now, to its end.
            Source::Live(reader) => respond(&mut self.inner, reader.load(), resolver, request),
        }
    }
}

/// Answers a preflight, or calls `inner` and adds the CORS headers to its response.
fn respond<S, ReqBody, ResBody>(
    inner: &mut S,
    base: &Policy,
    resolver: Option<&Resolver>,
    request: Request<ReqBody>,
) -> ResponseFuture<S::Future, ResBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    let (policy, answer, refusal) = {
        let head = Head::new(&request);
        match base.decide_with(resolver, &head) {
            Ok((policy, decision)) => {
                let refusal = Refusal::of(&decision);
                match policy.answer(decision, &head) {
                    Answer::Preflight(response) => {
                        return ResponseFuture::ready(refused(response, refusal));
                    }
                    Answer::Actual(answer) => (policy.clone(), answer, refusal.map(Box::new)),
                }
            }
            #[cfg(feature = "resolve")]
            Err(wait) => {
                let resolver = resolver.expect("only a resolver defers");
                return defer(inner, base, resolver, wait, request);
            }
        }
    };
    ResponseFuture {
        state: State::Inner {
            future: inner.call(request),
            answer: Some(answer),
            policy,
            refusal,
        },
    }
}

/// `response` with `refusal`, if any, in its extensions.
fn refused<B>(mut response: Response<B>, refusal: Option<Refusal>) -> Response<B> {
    if let Some(refusal) = refusal {
        response.extensions_mut().insert(refusal);
    }
    response
}

impl<B: Default> PreflightResponse for Response<B> {
    type Headers = http::HeaderMap;

    fn empty(allowed: bool) -> Self {
        let mut response = Response::new(B::default());
        *response.status_mut() = if allowed {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        };
        response
    }

    fn headers_mut(&mut self) -> &mut http::HeaderMap {
        Response::headers_mut(self)
    }

    fn values(policy: &Policy) -> &HeaderValues<HeaderValue> {
        policy.header_values()
    }

    /// A clone of the template, with the origin set in place: a fraction of the work of
    /// writing the headers one by one.
    fn from_template(
        policy: &Policy,
        allowed: &PreflightAllowed,
        origin: impl FnOnce() -> Option<HeaderValue>,
    ) -> Option<Self> {
        let headers =
            policy.preflight_from_template(policy.preflight_headers(), allowed, origin)?;
        let mut response = Self::empty(true);
        *response.headers_mut() = headers;
        Some(response)
    }
}

/// Waits for a lookup: a preflight keeps its head and is answered when the lookup ends; an
/// actual request goes to the inner service now, and only its CORS headers wait.
#[cfg(feature = "resolve")]
fn defer<S, ReqBody, ResBody>(
    inner: &mut S,
    base: &Policy,
    resolver: &Resolver,
    wait: Wait,
    request: Request<ReqBody>,
) -> ResponseFuture<S::Future, ResBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    let deferred = Deferred::new(wait.lookup, base, resolver);
    if wait.preflight {
        let (parts, _) = request.into_parts();
        return ResponseFuture {
            state: State::Preflight {
                deferred,
                head: Request::from_parts(parts, ()),
            },
        };
    }
    // A lookup starts only for an `Origin` the policy refused, so there is one.
    let origin = request
        .headers()
        .get(http::header::ORIGIN)
        .cloned()
        .unwrap_or(HeaderValue::from_static(""));
    ResponseFuture {
        state: State::Actual {
            future: inner.call(request),
            deferred: Some(deferred),
            origin,
            answer: None,
            response: None,
        },
    }
}

/// A preflight's response, once its origin's lookup ends.
fn poll_preflight<B: Default>(
    deferred: &mut Deferred,
    cx: &mut Context<'_>,
    head: &Request<()>,
) -> Poll<Response<B>> {
    let head = Head::new(head);
    let (policy, decision) = std::task::ready!(deferred.poll_decision(cx, &head));
    let refusal = Refusal::of(&decision);
    Poll::Ready(match policy.answer(decision, &head) {
        Answer::Preflight(response) => refused(response, refusal),
        // The head is a preflight's (checked before deferring), so the decision is one; should
        // it not be, the request gets no access.
        Answer::Actual(_) => Response::empty(false),
    })
}

/// The request as a decision reads it, each CORS request header looked up once: the decision
/// and the answer share the lookups (the `Origin` that is checked is the one reflected).
struct Head<'a, B> {
    request: &'a Request<B>,
    origin: Cell<Option<Lines<'a>>>,
    method: Cell<Option<Lines<'a>>>,
    headers: Cell<Option<Lines<'a>>>,
}

/// The first field line of a header, and whether there are more.
#[derive(Clone, Copy)]
struct Lines<'a> {
    first: Option<&'a HeaderValue>,
    more: bool,
}

impl<'a, B> Head<'a, B> {
    fn new(request: &'a Request<B>) -> Self {
        Head {
            request,
            origin: Cell::new(None),
            method: Cell::new(None),
            headers: Cell::new(None),
        }
    }

    fn lines(&self, name: CorsRequestHeader) -> Lines<'a> {
        let cell = match name {
            CorsRequestHeader::Origin => &self.origin,
            CorsRequestHeader::AccessControlRequestMethod => &self.method,
            CorsRequestHeader::AccessControlRequestHeaders => &self.headers,
            CorsRequestHeader::AccessControlRequestPrivateNetwork => return self.look_up(name),
        };
        if let Some(lines) = cell.get() {
            return lines;
        }
        let lines = self.look_up(name);
        cell.set(Some(lines));
        lines
    }

    fn look_up(&self, name: CorsRequestHeader) -> Lines<'a> {
        let mut values = self.request.headers().get_all(name.http_name()).into_iter();
        Lines {
            first: values.next(),
            more: values.next().is_some(),
        }
    }
}

impl<B> RequestLines for Head<'_, B> {
    type Value = HeaderValue;

    fn first(&self, name: CorsRequestHeader) -> Option<&HeaderValue> {
        self.lines(name).first
    }

    fn all(&self, name: CorsRequestHeader) -> impl Iterator<Item = &HeaderValue> {
        self.request.headers().get_all(name.http_name()).into_iter()
    }
}

impl<B> RequestHead for Head<'_, B> {
    fn is_options(&self) -> bool {
        self.request.method() == http::Method::OPTIONS
    }

    fn header_values(&self, name: CorsRequestHeader) -> impl Iterator<Item = &[u8]> {
        let lines = self.lines(name);
        if lines.more {
            // Several lines (rare): all of them, from the map.
            LinesIter::Many(self.request.headers().get_all(name.http_name()).into_iter())
        } else {
            LinesIter::One(lines.first)
        }
    }
}

/// The field lines of one header: the one looked up, or all of them.
enum LinesIter<'a> {
    One(Option<&'a HeaderValue>),
    Many(http::header::ValueIter<'a, HeaderValue>),
}

impl<'a> Iterator for LinesIter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            LinesIter::One(line) => line.take().map(HeaderValue::as_bytes),
            LinesIter::Many(lines) => lines.next().map(HeaderValue::as_bytes),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Cors`]: either an answered preflight or the inner service's response.
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Ready { response: Option<Response<B>> },
        Inner {
            #[pin]
            future: F,
            answer: Option<ActualAnswer<HeaderValue>>,
            policy: Policy,
            // Boxed: refusals are rare, and every request's future carries the field.
            refusal: Option<Box<Refusal>>,
        },
        // A preflight whose origin is being looked up (feature `resolve`).
        Preflight { deferred: Deferred, head: Request<()> },
        // An actual request running while its origin is looked up (feature `resolve`).
        Actual {
            #[pin]
            future: F,
            deferred: Option<Deferred>,
            origin: HeaderValue,
            answer: Option<(Policy, ActualAnswer<HeaderValue>, Option<Refusal>)>,
            response: Option<Response<B>>,
        },
    }
}

impl<F, B> ResponseFuture<F, B> {
    fn ready(response: Response<B>) -> Self {
        ResponseFuture {
            state: State::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, B: Default, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Ready { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            StateProj::Inner {
                future,
                answer,
                policy,
                refusal,
            } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                let answer = answer.take().expect("polled after completion");
                policy.write_actual(policy.header_values(), answer, response.headers_mut());
                Poll::Ready(Ok(refused(response, refusal.take().map(|r| *r))))
            }
            StateProj::Preflight { deferred, head } => poll_preflight(deferred, cx, head).map(Ok),
            StateProj::Actual {
                future,
                deferred,
                origin,
                answer,
                response,
            } => {
                if response.is_none()
                    && let Poll::Ready(result) = future.poll(cx)
                {
                    *response = Some(result?);
                }
                if let Some(d) = deferred {
                    *answer = Some(std::task::ready!(d.poll_actual(
                        cx,
                        origin,
                        origin.as_bytes(),
                        Policy::header_values
                    )));
                    *deferred = None;
                }
                let Some(mut response) = response.take() else {
                    return Poll::Pending;
                };
                let (policy, answer, refusal) = answer.take().expect("polled after completion");
                policy.write_actual(policy.header_values(), answer, response.headers_mut());
                Poll::Ready(Ok(refused(response, refusal)))
            }
        }
    }
}
