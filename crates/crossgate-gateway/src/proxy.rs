//! The proxy service: rewrites a request for the upstream, sends it, and passes the answer back,
//! bodies streaming in both directions.
//!
//! CORS is not handled here: the server wraps this service in `crossgate::tower::Cors`, which
//! answers preflights before they get here and writes the policy's headers on every response
//! that comes back, this service's own 400s and 502s included.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tower_service::Service;

use crate::body::{self, Body, BoxError};
use crate::echo;
use crate::hop::{add_forwarded, remove_hop_by_hop};
use crate::upstream::{HttpUpstream, Upstream};

/// The peer address of the connection a request came on, put in the request's extensions by
/// the server so the proxy can write `X-Forwarded-For`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddr(pub SocketAddr);

/// Forwards every request to its upstream. Cheap to clone (one reference count).
#[derive(Clone)]
pub(crate) struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
}

enum Target {
    Echo,
    Http(Box<HttpTarget>),
}

struct HttpTarget {
    upstream: HttpUpstream,
    /// The authority as a `Host` value, built once.
    host: HeaderValue,
    client: Client<HttpConnector, Incoming>,
}

impl Proxy {
    /// A proxy to `upstream`. Connecting to it gives up after `connect_timeout`.
    ///
    /// The client never reads `HTTP_PROXY` and friends (a gateway configured to reach
    /// `127.0.0.1:3000` must not be rerouted by the environment) and never follows redirects:
    /// a 3xx goes back to the browser, whose redirect rules for CORS (taint, `Origin: null`)
    /// only work if it sees them.
    pub(crate) fn new(upstream: Upstream, connect_timeout: Duration) -> Proxy {
        let target = match upstream {
            Upstream::Echo => Target::Echo,
            Upstream::Http(upstream) => {
                let mut connector = HttpConnector::new();
                connector.set_connect_timeout(Some(connect_timeout));
                connector.set_nodelay(true);
                let client = Client::builder(TokioExecutor::new())
                    .pool_timer(TokioTimer::new())
                    .pool_idle_timeout(Duration::from_secs(30))
                    .build(connector);
                let host = HeaderValue::from_str(upstream.authority().as_str())
                    .expect("an authority is a valid header value");
                Target::Http(Box::new(HttpTarget {
                    upstream,
                    host,
                    client,
                }))
            }
        };
        Proxy {
            inner: Arc::new(Inner { target }),
        }
    }
}

impl Service<Request<Incoming>> for Proxy {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { Ok(inner.forward(request).await) })
    }
}

impl Inner {
    async fn forward(&self, request: Request<Incoming>) -> Response<Body> {
        let (mut parts, body) = request.into_parts();
        // Origin-form targets only: `OPTIONS *` and CONNECT's authority-form have no path to
        // join onto the upstream's. An absolute-form target keeps its path and query.
        let Some(target) = parts
            .uri
            .path_and_query()
            .filter(|pq| pq.as_str().starts_with('/'))
            .cloned()
        else {
            return body::error(
                StatusCode::BAD_REQUEST,
                "unsupported request target",
                "the gateway forwards requests for paths (`/...`) only",
            );
        };
        // HTTP/2 carries the host in the URI (`:authority`), HTTP/1 in `Host`.
        let original_host = parts.headers.get(header::HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        remove_hop_by_hop(&mut parts.headers);
        if let Some(ClientAddr(addr)) = parts.extensions.get::<ClientAddr>().copied() {
            add_forwarded(&mut parts.headers, addr.ip(), original_host);
        }
        match &self.target {
            Target::Echo => {
                parts.uri = Uri::from(target);
                echo::respond(Request::from_parts(parts, body)).await
            }
            Target::Http(http) => {
                let HttpTarget {
                    upstream,
                    host,
                    client,
                } = &**http;
                parts.uri = match upstream.uri_for(target.as_str()) {
                    Ok(uri) => uri,
                    Err(e) => {
                        return body::error(
                            StatusCode::BAD_REQUEST,
                            "unsupported request target",
                            &e.to_string(),
                        );
                    }
                };
                // The upstream connection is HTTP/1.1 whatever the client spoke (h2c included).
                parts.version = Version::HTTP_11;
                parts.headers.insert(header::HOST, host.clone());
                let method = parts.method.clone();
                match client.request(Request::from_parts(parts, body)).await {
                    Ok(response) => from_upstream(response),
                    Err(e) => upstream_failed(&e, &method, &target, upstream),
                }
            }
        }
    }
}

/// The upstream's response, its hop-by-hop headers removed, its body streamed as it comes.
fn from_upstream(response: Response<Incoming>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    parts.version = Version::HTTP_11;
    Response::from_parts(parts, body.map_err(BoxError::from).boxed_unsync())
}

/// 502 with a JSON reason. The CORS layer around the proxy still writes the headers the origin
/// is entitled to, so a browser shows the 502 rather than a CORS error.
fn upstream_failed(
    error: &hyper_util::client::legacy::Error,
    method: &http::Method,
    target: &PathAndQuery,
    upstream: &HttpUpstream,
) -> Response<Body> {
    let detail = chain(error);
    let reason = if error.is_connect() {
        "upstream unreachable"
    } else {
        "upstream failed"
    };
    tracing::warn!(
        target: "crossgate::gateway",
        %method, %target, %upstream, %detail,
        "{reason}"
    );
    body::error(StatusCode::BAD_GATEWAY, reason, &detail)
}

/// An error and its sources, outermost first: `client error (Connect): tcp connect error: ...`.
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
