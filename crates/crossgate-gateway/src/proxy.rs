//! The proxy service of one route: checks the request against the limits, rewrites it for the
//! upstream, sends it, and passes the answer back, bodies streaming in both directions.
//!
//! CORS is not handled here: the server wraps this service in `crossgate::tower::Cors`, which
//! answers preflights before they get here and writes the policy's headers on every response
//! that comes back, this service's own 404s, 413s, 431s, 502s, 503s and 504s included. A route
//! that keeps the upstream's CORS headers is not wrapped; its policy is applied here to the
//! gateway's own answers only, with the library's `actual_answer` / `write_actual`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use crossgate::policy::Policy;
use crossgate::policy::{ActualAnswer, Decision};
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tower_service::Service;

use crate::body::{self, Body, BodyFlags, RequestBody, UpstreamBody};
use crate::echo;
use crate::hop::{ClientHop, add_forwarded, remove_hop_by_hop};
use crate::limits::{Limits, Timeouts};
use crate::metrics::RouteMetrics;
use crate::pool::{Lease, Pool, UpstreamError};
use crate::route::{self, ForwardedMode, RouteConfig};
use crate::upstream::{HttpUpstream, Upstream};

const TARGET: &str = "crossgate::gateway";

/// What the server knows about the connection a request came on (formatted once per
/// connection), put in the request's extensions for the proxy.
#[derive(Clone, Debug)]
pub(crate) struct ClientInfo(pub(crate) ClientHop);

/// A refusal decided by the server before routing (the request head, the connection count),
/// answered here so that the CORS layer writes its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reject {
    /// More than `limits.max_headers` header lines.
    TooManyHeaders,
    /// More than `limits.max_header_bytes` of header lines.
    HeadersTooLarge,
    /// `limits.max_connections` were already open when this connection arrived.
    Overloaded,
    /// A `.` or `..` path segment (see [`route::has_dot_segment`]).
    DotSegment,
}

struct HttpTarget {
    upstream: HttpUpstream,
    /// The authority as a `Host` value, built once.
    host: HeaderValue,
    /// The upstream's keep-alive connections, shared by every route to the same authority. It
    /// never reads `HTTP_PROXY` and friends (a gateway configured to reach `127.0.0.1:3000` must
    /// not be rerouted by the environment) and never follows redirects: a 3xx goes back to the
    /// browser, whose redirect rules for CORS (taint, `Origin: null`) only work if it sees them.
    pool: Pool,
}

/// Forwards the requests of one route. Cheap to clone (one reference count).
#[derive(Clone)]
pub(crate) struct Forward {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    prefix: String,
    strip_prefix: bool,
    forwarded: ForwardedMode,
    strip_cookie: bool,
    strip_set_cookie: bool,
    /// For a route that keeps the upstream's CORS headers: the policy for the gateway's own
    /// answers.
    own_answers: Option<Policy>,
    limits: Limits,
    timeouts: Timeouts,
    metrics: Arc<RouteMetrics>,
}

enum Target {
    Echo,
    Http(Box<HttpTarget>),
    /// No route matched: 404 from the gateway, never an upstream.
    NotFound,
}

impl Forward {
    pub(crate) fn new(
        route: &RouteConfig,
        policy: &Policy,
        limits: Limits,
        timeouts: Timeouts,
        pool: Option<Pool>,
        metrics: Arc<RouteMetrics>,
    ) -> Forward {
        let target = match &route.upstream {
            Upstream::Echo => Target::Echo,
            Upstream::Http(upstream) => Target::Http(Box::new(HttpTarget {
                host: HeaderValue::from_str(upstream.authority().as_str())
                    .expect("an authority is a valid header value"),
                upstream: upstream.clone(),
                pool: pool.expect("the snapshot builds a pool for every http upstream"),
            })),
        };
        Forward::with_target(target, route, policy, limits, timeouts, metrics)
    }

    /// The service for requests no route matches.
    pub(crate) fn not_found(
        policy: &Policy,
        limits: Limits,
        timeouts: Timeouts,
        metrics: Arc<RouteMetrics>,
    ) -> Forward {
        let route = RouteConfig::catch_all(Upstream::Echo);
        Forward::with_target(Target::NotFound, &route, policy, limits, timeouts, metrics)
    }

    fn with_target(
        target: Target,
        route: &RouteConfig,
        policy: &Policy,
        limits: Limits,
        timeouts: Timeouts,
        metrics: Arc<RouteMetrics>,
    ) -> Forward {
        Forward {
            inner: Arc::new(Inner {
                target,
                prefix: route.prefix.clone(),
                strip_prefix: route.strip_prefix,
                forwarded: route.forwarded,
                strip_cookie: route.strip_cookie,
                strip_set_cookie: route.strip_set_cookie,
                own_answers: route.keep_upstream_cors.then(|| policy.clone()),
                limits,
                timeouts,
                metrics,
            }),
        }
    }
}

type ForwardFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl Service<Request<Incoming>> for Forward {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ForwardFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> ForwardFuture {
        let inner = Arc::clone(&self.inner);
        let Some(policy) = &inner.own_answers else {
            return Box::pin(async move { Ok(inner.forward(request).await.into_response()) });
        };
        // A route that keeps the upstream's CORS answers: settle what the gateway's own
        // answers get, exactly as the CORS layer would for an actual request.
        let answer = match policy.decide(&request) {
            Decision::Actual(actual) => {
                Some(policy.actual_answer(policy.header_values(), &actual, || {
                    request.headers().get(header::ORIGIN).cloned()
                }))
            }
            Decision::PreflightAllowed(_) | Decision::PreflightDenied(_) => None,
        };
        Box::pin(async move {
            let answered = inner.forward(request).await;
            Ok(answered.with_own_cors(inner.own_answers.as_ref(), answer))
        })
    }
}

/// A response and who wrote it.
enum Answered {
    Upstream(Response<Body>),
    Gateway(Response<Body>),
}

impl Answered {
    fn into_response(self) -> Response<Body> {
        match self {
            Answered::Upstream(r) | Answered::Gateway(r) => r,
        }
    }

    fn with_own_cors(
        self,
        policy: Option<&Policy>,
        answer: Option<ActualAnswer<HeaderValue>>,
    ) -> Response<Body> {
        match (self, policy, answer) {
            (Answered::Gateway(mut r), Some(policy), Some(answer)) => {
                policy.write_actual(policy.header_values(), answer, r.headers_mut());
                r
            }
            (answered, _, _) => answered.into_response(),
        }
    }
}

fn gateway_error(status: StatusCode, error: &str, detail: &str) -> Answered {
    Answered::Gateway(body::error(status, error, detail))
}

/// A gateway answer after which an HTTP/1 connection is closed (the rest of the request was
/// not read, or the connection is one too many).
fn closing(mut answered: Answered) -> Answered {
    if let Answered::Gateway(r) = &mut answered {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    answered
}

impl Inner {
    async fn forward(&self, request: Request<Incoming>) -> Answered {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.timeouts.total;
        let (mut parts, incoming) = request.into_parts();
        let info = parts.extensions.remove::<ClientInfo>();
        match parts.extensions.get::<Reject>() {
            Some(Reject::Overloaded) => {
                let mut answered = closing(gateway_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "the gateway has as many connections open as limits.max_connections allows; retry shortly",
                ));
                if let Answered::Gateway(r) = &mut answered {
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                }
                return answered;
            }
            Some(Reject::TooManyHeaders) => {
                return closing(gateway_error(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "request header fields too large",
                    &format!(
                        "the request has more than {} header lines (limits.max_headers)",
                        self.limits.max_headers
                    ),
                ));
            }
            Some(Reject::HeadersTooLarge) => {
                return closing(gateway_error(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "request header fields too large",
                    &format!(
                        "the request's header lines are larger than {} bytes (limits.max_header_bytes)",
                        self.limits.max_header_bytes
                    ),
                ));
            }
            Some(Reject::DotSegment) => {
                return gateway_error(
                    StatusCode::BAD_REQUEST,
                    "bad request",
                    "the path has a `.` or `..` segment, which browsers never send",
                );
            }
            None => {}
        }
        if let Target::NotFound = self.target {
            return gateway_error(
                StatusCode::NOT_FOUND,
                "no route",
                "no route of the gateway matches this host and path",
            );
        }
        // Origin-form targets only: `OPTIONS *` and CONNECT's authority-form have no path to
        // join onto the upstream's. An absolute-form target keeps its path and query.
        let Some(target) = parts
            .uri
            .path_and_query()
            .filter(|pq| pq.as_str().starts_with('/'))
            .cloned()
        else {
            return gateway_error(
                StatusCode::BAD_REQUEST,
                "unsupported request target",
                "the gateway forwards requests for paths (`/...`) only",
            );
        };
        let announced = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > self.limits.max_body_bytes) {
            return closing(too_large(self.limits.max_body_bytes));
        }
        // HTTP/2 carries the host in the URI (`:authority`), HTTP/1 in `Host`.
        let original_host = parts.headers.get(header::HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        remove_hop_by_hop(&mut parts.headers);
        if self.strip_cookie {
            parts.headers.remove(header::COOKIE);
        }
        if let Some(ClientInfo(client)) = info {
            add_forwarded(&mut parts.headers, self.forwarded, &client, original_host);
        }
        let path = if self.strip_prefix {
            route::strip(&self.prefix, target.as_str())
        } else {
            target.as_str().into()
        };
        let (body, flags) = RequestBody::new(
            incoming,
            self.limits.max_body_bytes,
            self.timeouts.body_idle,
        );
        match &self.target {
            Target::NotFound => unreachable!("answered above"),
            Target::Echo => {
                parts.uri = match Uri::try_from(path.as_ref()) {
                    Ok(uri) => uri,
                    Err(e) => {
                        return gateway_error(
                            StatusCode::BAD_REQUEST,
                            "unsupported request target",
                            &e.to_string(),
                        );
                    }
                };
                let response = echo::respond(Request::from_parts(parts, body)).await;
                match client_fault(flags.as_deref(), self.limits.max_body_bytes) {
                    Some(answer) => answer,
                    None => Answered::Upstream(response),
                }
            }
            Target::Http(http) => {
                let HttpTarget {
                    upstream,
                    host,
                    pool,
                } = &**http;
                parts.uri = match upstream.target_for(&path) {
                    Ok(uri) => uri,
                    Err(e) => {
                        return gateway_error(
                            StatusCode::BAD_REQUEST,
                            "unsupported request target",
                            &e.to_string(),
                        );
                    }
                };
                // The upstream connection is HTTP/1.1 whatever the client spoke (h2 included).
                parts.version = Version::HTTP_11;
                parts.headers.insert(header::HOST, host.clone());
                let method = parts.method.clone();
                let sent = Instant::now();
                let head_deadline =
                    (tokio::time::Instant::now() + self.timeouts.response_headers).min(deadline);
                let exchange = pool.send(Request::from_parts(parts, body));
                match tokio::time::timeout_at(head_deadline, exchange).await {
                    Ok(Ok((response, lease))) => {
                        self.metrics.upstream_latency(sent.elapsed());
                        Answered::Upstream(self.upstream_response(response, lease, deadline))
                    }
                    Ok(Err(e)) => {
                        if let Some(answer) =
                            client_fault(flags.as_deref(), self.limits.max_body_bytes)
                        {
                            return answer;
                        }
                        upstream_failed(&e, &method, &target, upstream, &self.metrics)
                    }
                    Err(_) => {
                        let which = if tokio::time::Instant::now() >= deadline {
                            "timeouts.total"
                        } else {
                            "timeouts.response_headers"
                        };
                        tracing::warn!(
                            target: TARGET, route = self.metrics.name(), %method, %target, %upstream,
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "upstream timed out ({which})"
                        );
                        gateway_error(
                            StatusCode::GATEWAY_TIMEOUT,
                            "upstream timed out",
                            &format!("no response head from the upstream within {which}"),
                        )
                    }
                }
            }
        }
    }

    /// The upstream's response: hop-by-hop headers removed, `Set-Cookie` too if the route says
    /// so, the body streamed as it comes (within the idle and total timeouts). The connection
    /// goes back to the pool when the body has been read to its end.
    fn upstream_response(
        &self,
        response: Response<Incoming>,
        lease: Lease,
        deadline: tokio::time::Instant,
    ) -> Response<Body> {
        let (mut parts, incoming) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        if self.strip_set_cookie {
            parts.headers.remove(header::SET_COOKIE);
        }
        parts.version = Version::HTTP_11;
        let body = if http_body::Body::is_end_stream(&incoming) {
            lease.release();
            body::full(bytes::Bytes::new())
        } else {
            UpstreamBody::new(incoming, lease, self.timeouts.body_idle, deadline).boxed_unsync()
        };
        Response::from_parts(parts, body)
    }
}

fn too_large(max: u64) -> Answered {
    gateway_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload too large",
        &format!("the request body is larger than {max} bytes (limits.max_body_bytes)"),
    )
}

/// The answer when the exchange failed because of the client's body: too large, or stalled.
fn client_fault(flags: Option<&BodyFlags>, max: u64) -> Option<Answered> {
    let flags = flags?;
    if flags.too_large.load(Ordering::Acquire) {
        return Some(closing(too_large(max)));
    }
    if flags.idle.load(Ordering::Acquire) {
        return Some(closing(gateway_error(
            StatusCode::REQUEST_TIMEOUT,
            "request timeout",
            "the client stopped sending its request body (timeouts.body_idle)",
        )));
    }
    None
}

/// 502 (or 504 when connecting timed out) with a JSON reason. The CORS layer around the proxy
/// still writes the headers the origin is entitled to, so a browser shows the real status
/// rather than a CORS error.
fn upstream_failed(
    error: &UpstreamError,
    method: &http::Method,
    target: &http::uri::PathAndQuery,
    upstream: &HttpUpstream,
    metrics: &RouteMetrics,
) -> Answered {
    let detail = chain(error);
    let (status, reason) = if error.is_timeout() {
        (StatusCode::GATEWAY_TIMEOUT, "upstream connect timed out")
    } else if error.is_connect() {
        (StatusCode::BAD_GATEWAY, "upstream unreachable")
    } else {
        (StatusCode::BAD_GATEWAY, "upstream failed")
    };
    tracing::warn!(
        target: TARGET,
        route = metrics.name(), %method, %target, %upstream, %detail,
        "{reason}"
    );
    gateway_error(status, reason, &detail)
}

/// An error and its sources, outermost first: `tcp connect error: Connection refused (os error 111)`.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let part = e.to_string();
        // Some errors repeat their source's text in their own.
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}
