//! Accepting connections: HTTP/1.1 and h2c, the guards that run before anything else, and
//! graceful shutdown.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossgate::Policy;
use crossgate::tower::Cors;
use http::{HeaderValue, Request, Response, StatusCode, Version, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tower_service::Service;

use crate::body::{self, Body};
use crate::proxy::{ClientAddr, Proxy};
use crate::smuggling::{Flagged, Scanned};
use crate::upstream::Upstream;

const TARGET: &str = "crossgate::gateway";

/// The CORS gateway: a reverse proxy behind a [`crossgate::tower::Cors`] layer.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use crossgate_gateway::{Gateway, Upstream};
///
/// let policy = crossgate::Policy::builder()
///     .allow_origins(["http://localhost:*"])
///     .build()
///     .expect("a valid policy");
/// let gateway = Gateway::bind("127.0.0.1:0".parse().unwrap(), Upstream::Echo, policy).await?;
/// println!("listening on http://{}", gateway.local_addr());
/// // Anything that resolves when it is time to stop: Ctrl-C, a signal, a test's channel.
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// # drop(stop);
/// gateway
///     .serve(async {
///         let _ = stopped.await;
///     })
///     .await
/// # }
/// ```
#[derive(Debug)]
pub struct Gateway {
    _private: (),
}

impl Gateway {
    /// How long in-flight requests may take to finish after shutdown is asked for.
    pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
    /// How long a client may take to send a request head (and, on a new connection, to start
    /// one) before the connection is closed: the slow-loris guard.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// How long connecting to the upstream may take before the request gets a 502.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Binds `listen` (port 0 picks a free port: see [`BoundGateway::local_addr`]). Nothing is
    /// accepted until [`BoundGateway::serve`], so the caller can print the real address first.
    pub async fn bind(
        listen: SocketAddr,
        upstream: Upstream,
        policy: Policy,
    ) -> io::Result<BoundGateway> {
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        Ok(BoundGateway {
            listener,
            local_addr,
            upstream,
            policy,
            drain_timeout: Gateway::DEFAULT_DRAIN_TIMEOUT,
            header_read_timeout: Gateway::DEFAULT_HEADER_READ_TIMEOUT,
            connect_timeout: Gateway::DEFAULT_CONNECT_TIMEOUT,
        })
    }
}

/// A gateway with its listening socket bound, ready to [`serve`](BoundGateway::serve).
#[derive(Debug)]
pub struct BoundGateway {
    listener: TcpListener,
    local_addr: SocketAddr,
    upstream: Upstream,
    policy: Policy,
    drain_timeout: Duration,
    header_read_timeout: Duration,
    connect_timeout: Duration,
}

impl BoundGateway {
    /// The address actually bound (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The upstream requests are forwarded to.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// How long in-flight requests may run on after shutdown is asked for; connections still
    /// open then are closed. Default [`Gateway::DEFAULT_DRAIN_TIMEOUT`].
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// How long a client may take to send a request head. Default
    /// [`Gateway::DEFAULT_HEADER_READ_TIMEOUT`].
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long connecting to the upstream may take. Default
    /// [`Gateway::DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
    /// within the drain timeout, closes what is left and returns.
    ///
    /// Errors accepting one connection (e.g. out of file descriptors) are logged and retried
    /// after a pause; they do not stop the gateway.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let app = Cors::new(Proxy::new(self.upstream, self.connect_timeout), self.policy);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        builder.http2().timer(TokioTimer::new());

        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(target: TARGET, error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            let connection = Connection {
                app: app.clone(),
                peer,
                state: Arc::default(),
            };
            let first_request = self.header_read_timeout;
            let watched = graceful.watch(
                builder
                    .serve_connection(connection.io(stream), connection.clone())
                    .into_owned(),
            );
            connections.spawn(connection.run(watched, first_request));
        }
        drop(self.listener);

        let open = graceful.count();
        tracing::debug!(target: TARGET, open, "shutting down: draining connections");
        if tokio::time::timeout(self.drain_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                target: TARGET,
                timeout = ?self.drain_timeout,
                "requests still in flight after the drain timeout are cut off"
            );
        }
        connections.shutdown().await;
        Ok(())
    }
}

/// One client connection's service: the guards that run before the CORS layer, then the CORS
/// layer around the proxy.
#[derive(Clone)]
struct Connection {
    app: Cors<Proxy>,
    peer: SocketAddr,
    state: Arc<ConnectionState>,
}

#[derive(Default)]
struct ConnectionState {
    /// HTTP/1 requests handed over so far: the index of the next request head.
    requests: AtomicU64,
    /// Whether any request arrived (the first-request guard).
    started: AtomicBool,
    flagged: Flagged,
}

impl Connection {
    fn io(&self, stream: TcpStream) -> TokioIo<Scanned<TcpStream>> {
        TokioIo::new(Scanned::new(stream, self.state.flagged.clone()))
    }

    /// Drives the connection. hyper's header read timeout only starts once it knows the
    /// protocol, and HTTP/2 has none, so a client that connects and sends nothing (or only part
    /// of the HTTP/2 preface) would hold the connection for ever: it gets `first_request` to
    /// start a request.
    async fn run<C, E>(self, connection: C, first_request: Duration)
    where
        C: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let mut connection = std::pin::pin!(connection);
        let result = tokio::select! {
            result = &mut connection => result,
            () = tokio::time::sleep(first_request) => {
                if !self.state.started.load(Ordering::Acquire) {
                    tracing::debug!(target: TARGET, peer = %self.peer, "no request within the header read timeout: closed");
                    return;
                }
                connection.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(target: TARGET, peer = %self.peer, error = %e, "connection ended with an error");
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Connection {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn call(&self, mut request: Request<Incoming>) -> BoxFuture {
        self.state.started.store(true, Ordering::Release);
        // hyper hands HTTP/1 requests over in the order of their heads.
        let index = (request.version() <= Version::HTTP_11)
            .then(|| self.state.requests.fetch_add(1, Ordering::AcqRel));
        let headers = request.headers();
        if index.is_some_and(|i| self.state.flagged.covers(i))
            || (headers.contains_key(header::CONTENT_LENGTH)
                && headers.contains_key(header::TRANSFER_ENCODING))
        {
            tracing::warn!(
                target: TARGET, peer = %self.peer, method = %request.method(), path = request.uri().path(),
                "refused a request with both Content-Length and Transfer-Encoding"
            );
            return Box::pin(std::future::ready(Ok(ambiguous_framing())));
        }
        request.extensions_mut().insert(ClientAddr(self.peer));
        let mut app = self.app.clone();
        let peer = self.peer;
        Box::pin(async move {
            let started = Instant::now();
            let method = request.method().clone();
            let uri = request.uri().clone();
            poll_fn(|cx| app.poll_ready(cx)).await?;
            let response = app.call(request).await?;
            tracing::debug!(
                target: TARGET, %peer, %method, path = uri.path(), status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request"
            );
            Ok(response)
        })
    }
}

/// RFC 9112 §6.1: a request with both `Content-Length` and `Transfer-Encoding` is refused and the
/// connection closed, since whoever sent it may mean the two to be read differently.
fn ambiguous_framing() -> Response<Body> {
    let mut response = body::error(
        StatusCode::BAD_REQUEST,
        "bad request",
        "a request with both Content-Length and Transfer-Encoding is refused (RFC 9112 section 6.1)",
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
