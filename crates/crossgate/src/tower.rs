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
//! A preflight is answered by the layer itself (204 or 403), whether or not the application has
//! an `OPTIONS` route; any other request goes to the inner service, and its response, errors
//! included, gets the CORS headers the request's origin is entitled to.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, StatusCode, header};
use tower_layer::Layer;
use tower_service::Service;

use crate::policy::{ActualAnswer, Decision, Policy, PreflightEcho};

/// Applies a [`Policy`] to every request of the wrapped service.
#[derive(Clone, Debug)]
pub struct CorsLayer {
    policy: Policy,
}

impl CorsLayer {
    pub fn new(policy: Policy) -> CorsLayer {
        CorsLayer { policy }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service made by [`CorsLayer`].
#[derive(Clone, Debug)]
pub struct Cors<S> {
    inner: S,
    policy: Policy,
}

impl<S> Cors<S> {
    pub fn new(inner: S, policy: Policy) -> Cors<S> {
        Cors { inner, policy }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
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
        let policy = &self.policy;
        let values = policy.header_values();
        let answer = match policy.decide_logged(&request) {
            Decision::PreflightAllowed(allowed) => {
                let headers = request.headers();
                let echo = PreflightEcho {
                    origin: headers.get(header::ORIGIN).cloned(),
                    method: headers.get(header::ACCESS_CONTROL_REQUEST_METHOD).cloned(),
                    headers: headers
                        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
                        .iter()
                        .cloned(),
                };
                let mut response = preflight_response(StatusCode::NO_CONTENT);
                policy.write_preflight_allowed(values, &allowed, echo, response.headers_mut());
                return ResponseFuture::ready(response);
            }
            Decision::PreflightDenied(_) => {
                let mut response = preflight_response(StatusCode::FORBIDDEN);
                policy.write_preflight_denied(values, response.headers_mut());
                return ResponseFuture::ready(response);
            }
            Decision::Actual(actual) => policy.actual_answer(values, &actual, || {
                request.headers().get(header::ORIGIN).cloned()
            }),
        };
        ResponseFuture {
            state: State::Inner {
                future: self.inner.call(request),
                answer: Some(answer),
                policy: self.policy.clone(),
            },
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
