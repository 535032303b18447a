//! actix-web middleware: [`Cors`].
//!
//! ```
//! use actix_web::{App, HttpResponse, web};
//! use crossgate::{policy::Policy, actix::Cors};
//!
//! let policy = Policy::builder()
//!     .allow_origins(["https://app.example.com"])
//!     .allow_methods(["PUT", "DELETE"])
//!     .build()?;
//! let app = App::new()
//!     .wrap(Cors::new(policy))
//!     .route("/items", web::get().to(HttpResponse::Ok));
//! # let _ = app;
//! # Ok::<(), crossgate::policy::InvalidConfig>(())
//! ```
//!
//! A preflight is answered by the middleware (204 or 403) whether or not a route matches;
//! every other response, errors included, gets the CORS headers its origin is entitled to. An
//! `Err` from an inner middleware is passed on wrapped (see [`CorsError`]), so that the response
//! actix-web renders from it carries those headers too.
//! actix-web 4 is built on `http` 0.2, so the policy's header values are converted to its types
//! once per policy, by the first request that uses it.
//!
//! For origins that change while serving, wrap with [`Cors::live`] and a [`LivePolicy`]: each
//! request runs on the policy in force when it started.

use std::cell::{Cell, RefCell};
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use std::fmt;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{Error, HttpResponse, ResponseError};

#[cfg(feature = "resolve")]
use crate::policy::Wait;
use crate::policy::{
    ActualAnswer, Answer, CorsRequestHeader, HeaderValues, LivePolicy, LiveReader, Policy,
    PreflightResponse, RequestHead, RequestLines,
};
use crate::policy::{Deferred, Resolver};

/// The CORS middleware for actix-web: `App::new().wrap(Cors::new(policy))`, or
/// `Cors::live(live)` for a policy that changes while serving.
///
/// ```
/// use actix_web::{App, HttpResponse, http::StatusCode, test, web};
/// use crossgate::actix::Cors;
/// use crossgate::policy::Policy;
///
/// # actix_web::rt::System::new().block_on(async {
/// let policy = Policy::builder()
///     .allow_origins(["https://app.example.com"])
///     .allow_credentials(true)
///     .build()
///     .expect("a valid policy");
/// let app = test::init_service(
///     App::new()
///         .wrap(Cors::new(policy))
///         .route("/me", web::get().to(|| async { HttpResponse::Unauthorized().finish() })),
/// )
/// .await;
///
/// // Even the handler's 401 carries the CORS headers, so the page sees the real status.
/// let request = test::TestRequest::get()
///     .uri("/me")
///     .insert_header(("origin", "https://app.example.com"))
///     .to_request();
/// let response = test::call_service(&app, request).await;
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
/// let headers = response.headers();
/// assert_eq!(headers.get("access-control-allow-origin").unwrap(), "https://app.example.com");
/// assert_eq!(headers.get("access-control-allow-credentials").unwrap(), "true");
///
/// // A preflight from an origin the policy does not list: 403, no allow headers.
/// let request = test::TestRequest::default()
///     .method(actix_web::http::Method::OPTIONS)
///     .uri("/me")
///     .insert_header(("origin", "https://evil.example"))
///     .insert_header(("access-control-request-method", "GET"))
///     .to_request();
/// let response = test::call_service(&app, request).await;
/// assert_eq!(response.status(), StatusCode::FORBIDDEN);
/// assert!(response.headers().get("access-control-allow-origin").is_none());
/// # });
/// ```
#[derive(Clone, Debug)]
#[must_use = "the middleware does nothing until it wraps an App with `.wrap(..)`"]
pub struct Cors {
    source: Source,
    #[cfg(feature = "resolve")]
    resolver: Option<Resolver>,
}

/// Where the middleware's policy comes from.
#[derive(Clone, Debug)]
enum Source {
    Fixed(Policy),
    Live(LivePolicy),
}

impl Cors {
    /// Applies `policy` for as long as the app serves.
    pub fn new(policy: Policy) -> Cors {
        Cors {
            source: Source::Fixed(policy),
            #[cfg(feature = "resolve")]
            resolver: None,
        }
    }

    /// Applies the policy in force in `live` when each request starts.
    pub fn live(live: LivePolicy) -> Cors {
        Cors {
            source: Source::Live(live),
            #[cfg(feature = "resolve")]
            resolver: None,
        }
    }

    /// Asks `resolver` about every well-formed origin the policy does not list (feature
    /// `resolve`; see [`Resolver`]). A preflight whose origin is being looked up waits for the
    /// answer (at most the resolver's timeout); an actual request goes to the inner service at
    /// once, and only its CORS headers wait.
    #[cfg(feature = "resolve")]
    pub fn resolver(mut self, resolver: Resolver) -> Cors {
        self.resolver = Some(resolver);
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for Cors
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = CorsMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<CorsMiddleware<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let source = match &self.source {
            Source::Fixed(policy) => WorkerSource::Fixed(policy.clone()),
            Source::Live(live) => WorkerSource::Live(RefCell::new(live.reader())),
        };
        ready(Ok(CorsMiddleware {
            service,
            source,
            #[cfg(feature = "resolve")]
            resolver: self.resolver.clone(),
        }))
    }
}

/// Where a worker's policy comes from: a live policy is read through the worker's own reader,
/// which costs one relaxed load while the policy is unchanged.
enum WorkerSource {
    Fixed(Policy),
    Live(RefCell<LiveReader>),
}

/// The service made by [`Cors`] (one per worker).
pub struct CorsMiddleware<S> {
    service: S,
    source: WorkerSource,
    #[cfg(feature = "resolve")]
    resolver: Option<Resolver>,
}

// actix-web 4 is on `http` 0.2: the same names and writers as `http` 1, from the same list.
crate::http_glue::cors_http_glue!(actix_web::http::header, HeaderMap);

impl RequestHead for ServiceRequest {
    fn is_options(&self) -> bool {
        self.method() == Method::OPTIONS
    }

    fn header_values(&self, name: CorsRequestHeader) -> impl Iterator<Item = &[u8]> {
        self.headers()
            .get_all(request_header_name(name))
            .map(HeaderValue::as_bytes)
    }
}

impl<S, B> Service<ServiceRequest> for CorsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = CorsFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        #[cfg(feature = "resolve")]
        let resolver = self.resolver.as_ref();
        #[cfg(not(feature = "resolve"))]
        let resolver = None;
        match &self.source {
            WorkerSource::Fixed(policy) => respond(&self.service, policy, resolver, request),
            // The request runs on the policy in force now, to its end. (The borrow is held
            // while the inner service is called: that call never comes back to this worker's
            // middleware.)
            WorkerSource::Live(reader) => {
                respond(&self.service, reader.borrow_mut().load(), resolver, request)
            }
        }
    }
}

/// Answers a preflight, or calls `service` and adds the CORS headers to its response.
fn respond<S, B>(
    service: &S,
    base: &Policy,
    resolver: Option<&Resolver>,
    request: ServiceRequest,
) -> CorsFuture<S::Future, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let (policy, answer) = {
        let head = Head::new(&request);
        match base.decide_with(resolver, &head) {
            Ok((policy, decision)) => match policy.answer::<HttpResponse, _>(decision, &head) {
                Answer::Preflight(response) => {
                    return CorsFuture::ready(request.into_response(response));
                }
                Answer::Actual(answer) => (policy.clone(), answer),
            },
            #[cfg(feature = "resolve")]
            Err(wait) => {
                let resolver = resolver.expect("only a resolver defers");
                return defer(service, base, resolver, wait, request);
            }
        }
    };
    CorsFuture {
        state: State::Inner {
            future: service.call(request),
            answer: Some(answer),
            policy,
        },
    }
}

impl PreflightResponse for HttpResponse {
    type Headers = HeaderMap;

    /// Written into the pooled response head's map: with actix's map, cheaper than cloning a
    /// template.
    fn empty(allowed: bool) -> Self {
        HttpResponse::new(if allowed {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        })
    }

    fn headers_mut(&mut self) -> &mut HeaderMap {
        HttpResponse::headers_mut(self)
    }

    fn values(policy: &Policy) -> &HeaderValues<HeaderValue> {
        policy.actix_values()
    }
}

/// Waits for a lookup: a preflight is answered when it ends; an actual request goes to the
/// inner service now, and only its CORS headers wait.
#[cfg(feature = "resolve")]
fn defer<S, B>(
    service: &S,
    base: &Policy,
    resolver: &Resolver,
    wait: Wait,
    request: ServiceRequest,
) -> CorsFuture<S::Future, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let deferred = Deferred::new(wait.lookup, base, resolver);
    if wait.preflight {
        return CorsFuture {
            state: State::Preflight {
                deferred,
                request: Some(request),
            },
        };
    }
    // A lookup starts only for an `Origin` the policy refused, so there is one.
    let origin = request
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .cloned()
        .unwrap_or(HeaderValue::from_static(""));
    CorsFuture {
        state: State::Actual {
            future: service.call(request),
            deferred: Some(deferred),
            origin,
            answer: None,
            result: None,
        },
    }
}

/// A preflight's response, once its origin's lookup ends.
fn poll_preflight(
    deferred: &mut Deferred,
    cx: &mut Context<'_>,
    request: &mut Option<ServiceRequest>,
) -> Poll<ServiceResponse<BoxBody>> {
    let response = {
        let head = Head::new(request.as_ref().expect("polled after completion"));
        let (policy, decision) = std::task::ready!(deferred.poll_decision(cx, &head));
        match policy.answer(decision, &head) {
            Answer::Preflight(response) => response,
            // The request is a preflight (checked before deferring), so the decision is one;
            // should it not be, the request gets no access.
            Answer::Actual(_) => HttpResponse::empty(false),
        }
    };
    let request = request.take().expect("polled after completion");
    Poll::Ready(request.into_response(response))
}

/// The request as a decision reads it, each CORS request header looked up once: the decision
/// and the answer share the lookups (the `Origin` that is checked is the one reflected).
struct Head<'a> {
    request: &'a ServiceRequest,
    origin: Cell<Option<&'a [HeaderValue]>>,
    method: Cell<Option<&'a [HeaderValue]>>,
    headers: Cell<Option<&'a [HeaderValue]>>,
}

impl<'a> Head<'a> {
    fn new(request: &'a ServiceRequest) -> Self {
        Head {
            request,
            origin: Cell::new(None),
            method: Cell::new(None),
            headers: Cell::new(None),
        }
    }

    /// The field lines of `name` (actix keeps them together).
    fn lines(&self, name: CorsRequestHeader) -> &'a [HeaderValue] {
        let cell = match name {
            CorsRequestHeader::Origin => &self.origin,
            CorsRequestHeader::AccessControlRequestMethod => &self.method,
            CorsRequestHeader::AccessControlRequestHeaders => &self.headers,
            CorsRequestHeader::AccessControlRequestPrivateNetwork => {
                return self
                    .request
                    .headers()
                    .get_all(request_header_name(name))
                    .as_slice();
            }
        };
        if let Some(lines) = cell.get() {
            return lines;
        }
        let lines = self
            .request
            .headers()
            .get_all(request_header_name(name))
            .as_slice();
        cell.set(Some(lines));
        lines
    }
}

impl RequestLines for Head<'_> {
    type Value = HeaderValue;

    fn first(&self, name: CorsRequestHeader) -> Option<&HeaderValue> {
        self.lines(name).first()
    }

    fn all(&self, name: CorsRequestHeader) -> impl Iterator<Item = &HeaderValue> {
        self.lines(name).iter()
    }
}

impl RequestHead for Head<'_> {
    fn is_options(&self) -> bool {
        self.request.method() == Method::OPTIONS
    }

    fn header_values(&self, name: CorsRequestHeader) -> impl Iterator<Item = &[u8]> {
        self.lines(name).iter().map(HeaderValue::as_bytes)
    }
}

pin_project_lite::pin_project! {
    /// The future of [`CorsMiddleware`].
    pub struct CorsFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Ready { response: Option<ServiceResponse<BoxBody>> },
        Inner {
            #[pin]
            future: F,
            answer: Option<ActualAnswer<HeaderValue>>,
            policy: Policy,
        },
        // A preflight whose origin is being looked up (feature `resolve`).
        Preflight { deferred: Deferred, request: Option<ServiceRequest> },
        // An actual request running while its origin is looked up (feature `resolve`).
        Actual {
            #[pin]
            future: F,
            deferred: Option<Deferred>,
            origin: HeaderValue,
            answer: Option<(Policy, ActualAnswer<HeaderValue>)>,
            result: Option<Result<ServiceResponse<B>, Error>>,
        },
    }
}

impl<F, B> CorsFuture<F, B> {
    fn ready(response: ServiceResponse<BoxBody>) -> Self {
        CorsFuture {
            state: State::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, B> Future for CorsFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("polled after completion")
                .map_into_right_body())),
            StateProj::Inner {
                future,
                answer,
                policy,
            } => {
                let result = std::task::ready!(future.poll(cx));
                let answer = answer.take().expect("polled after completion");
                Poll::Ready(with_answer(result, policy, answer))
            }
            StateProj::Preflight { deferred, request } => poll_preflight(deferred, cx, request)
                .map(|response| Ok(response.map_into_right_body())),
            StateProj::Actual {
                future,
                deferred,
                origin,
                answer,
                result,
            } => {
                if result.is_none()
                    && let Poll::Ready(done) = future.poll(cx)
                {
                    *result = Some(done);
                }
                if let Some(d) = deferred {
                    let (policy, settled, _refusal) = std::task::ready!(d.poll_actual(
                        cx,
                        origin,
                        origin.as_bytes(),
                        Policy::actix_values
                    ));
                    *answer = Some((policy, settled));
                    *deferred = None;
                }
                let Some(done) = result.take() else {
                    return Poll::Pending;
                };
                let (policy, answer) = answer.take().expect("polled after completion");
                Poll::Ready(with_answer(done, &policy, answer))
            }
        }
    }
}

/// The inner service's response with its CORS headers; an error carries them (see
/// [`CorsError`]).
fn with_answer<B: MessageBody>(
    result: Result<ServiceResponse<B>, Error>,
    policy: &Policy,
    answer: ActualAnswer<HeaderValue>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    match result {
        Ok(response) => {
            let mut response = response.map_into_left_body();
            policy.write_actual(policy.actix_values(), answer, response.headers_mut());
            Ok(response)
        }
        Err(error) => Err(Error::from(CorsError {
            error,
            answer,
            policy: policy.clone(),
        })),
    }
}

/// An error from the wrapped service, carrying the CORS answer of its request: the response
/// actix-web renders from it is the inner error's response plus the CORS headers, so the browser
/// shows the real status instead of a CORS failure. (Code that downcasts errors outside this
/// middleware sees this type; [`CorsError::inner`] gives the original.)
pub struct CorsError {
    error: Error,
    answer: ActualAnswer<HeaderValue>,
    policy: Policy,
}

impl CorsError {
    /// The inner middleware's or handler's own error.
    pub fn inner(&self) -> &Error {
        &self.error
    }
}

impl fmt::Debug for CorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.error, f)
    }
}

impl fmt::Display for CorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl ResponseError for CorsError {
    fn status_code(&self) -> StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = self.error.error_response();
        self.policy.write_actual(
            self.policy.actix_values(),
            self.answer.clone(),
            response.headers_mut(),
        );
        response
    }
}
