//! tower middleware: [`CorsLayer`] and [`Cors`], for axum, tonic, hyper and anything else built on
//! `tower::Service` and `http` 1.
//!
//! ```
//! use axum::{Router, routing::get};
//! use crossgate::{Policy, tower::CorsLayer};
//!
//! let policy = Policy::builder()
//!     .allow_origins(["https://app.example.com"])
//!     .allow_methods(["PUT", "DELETE"])
//!     .allow_headers(["content-type"])
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/items", get(|| async { "[]" }))
//!     .layer(CorsLayer::new(policy));
//! # Ok::<(), crossgate::InvalidConfig>(())
//! ```
//!
//! For origins that change while serving (tenants' own domains, preview deployments), build the
//! layer from a [`LivePolicy`] with [`CorsLayer::live`] and edit it from anywhere: each request
//! runs on the policy in force when it started.
//!
//! A preflight is answered by the layer itself (204 or 403), whether or not the application has
//! an `OPTIONS` route; any other request goes to the inner service, and its response, errors
//! included, gets the CORS headers the request's origin is entitled to.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, StatusCode, header};
use tower_layer::Layer;
use tower_service::Service;

use crate::policy::{
    ActualAnswer, CorsRequestHeader, Decision, LivePolicy, LiveReader, Policy, PreflightEcho,
    RequestHead,
};

/// Applies a [`Policy`], fixed or live, to every request of the wrapped service.
#[derive(Clone, Debug)]
pub struct CorsLayer {
    source: Source,
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
        }
    }

    /// A layer that applies the policy in force in `live` when each request starts.
    pub fn live(live: LivePolicy) -> CorsLayer {
        CorsLayer {
            source: Source::Live(live.reader()),
        }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors {
            inner,
            source: self.source.clone(),
        }
    }
}

/// The service made by [`CorsLayer`].
#[derive(Clone, Debug)]
pub struct Cors<S> {
    inner: S,
    source: Source,
}

impl<S> Cors<S> {
    pub fn new(inner: S, policy: Policy) -> Cors<S> {
        Cors {
            inner,
            source: Source::Fixed(policy),
        }
    }

    /// Wraps `inner` with the policy in force in `live` (read as each request starts).
    pub fn live(inner: S, live: LivePolicy) -> Cors<S> {
        Cors {
            inner,
            source: Source::Live(live.reader()),
        }
    }

    /// The policy in force now.
    pub fn policy(&self) -> Policy {
        match &self.source {
            Source::Fixed(policy) => policy.clone(),
            Source::Live(reader) => reader.current(),
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

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
        match &mut self.source {
            Source::Fixed(policy) => respond(&mut self.inner, policy, request),
            // The request runs on the policy in force now, to its end.
            Source::Live(reader) => respond(&mut self.inner, reader.load(), request),
        }
    }
}

/// Answers a preflight, or calls `inner` and adds the CORS headers to its response.
fn respond<S, ReqBody, ResBody>(
    inner: &mut S,
    policy: &Policy,
    request: Request<ReqBody>,
) -> ResponseFuture<S::Future, ResBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    let values = policy.header_values();
    let answer = {
        let head = Head::new(&request);
        match policy.decide_logged(&head) {
            Decision::PreflightAllowed(allowed) => {
                let mut response = preflight_response(StatusCode::NO_CONTENT);
                let origin = || head.first(CorsRequestHeader::Origin).cloned();
                if let Some(headers) =
                    policy.preflight_from_template(policy.preflight_headers(), &allowed, origin)
                {
                    *response.headers_mut() = headers;
                } else {
                    let headers = request.headers();
                    let echo = PreflightEcho {
                        origin: origin(),
                        method: allowed
                            .echo_method
                            .then(|| head.first(CorsRequestHeader::AccessControlRequestMethod))
                            .flatten()
                            .cloned(),
                        headers: allowed
                            .echo_headers
                            .then(|| headers.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS))
                            .into_iter()
                            .flatten()
                            .cloned(),
                    };
                    policy.write_preflight_allowed(values, &allowed, echo, response.headers_mut());
                }
                return ResponseFuture::ready(response);
            }
            Decision::PreflightDenied(_) => {
                let mut response = preflight_response(StatusCode::FORBIDDEN);
                policy.write_preflight_denied(values, response.headers_mut());
                return ResponseFuture::ready(response);
            }
            Decision::Actual(actual) => policy.actual_answer(values, &actual, || {
                head.first(CorsRequestHeader::Origin).cloned()
            }),
        }
    };
    ResponseFuture {
        state: State::Inner {
            future: inner.call(request),
            answer: Some(answer),
            policy: policy.clone(),
        },
    }
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

    /// The first field line of `name`.
    fn first(&self, name: CorsRequestHeader) -> Option<&'a HeaderValue> {
        self.lines(name).first
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

fn preflight_response<B: Default>(status: StatusCode) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = status;
    response
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

impl<F, B, E> Future for ResponseFuture<F, B>
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
            } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                let answer = answer.take().expect("polled after completion");
                policy.write_actual(policy.header_values(), answer, response.headers_mut());
                Poll::Ready(Ok(response))
            }
        }
    }
}
