//! Accepting connections: TLS, HTTP/1.1 and HTTP/2, the guards that run before anything else,
//! routing, reloads and graceful shutdown.

use std::convert::Infallible;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crossgate::policy::{Policy, Problem};
use crossgate::policy::{Refusal, is_preflight};
use http::{HeaderValue, Method, Request, Response, StatusCode, Version, header};
use http_body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower_service::Service;

use crate::admin;
use crate::body::{self, Body, BoxError};
use crate::config::GatewayConfig;
use crate::handle::{GatewayHandle, Shared};
use crate::hop::ClientHop;
use crate::metrics::{Metrics, RouteMetrics};
use crate::proxy::{ClientInfo, Reject};
use crate::route;
use crate::runtime::{RouteService, Snapshot};
use crate::smuggling::{Flagged, Scanned};
use crate::upstream::Upstream;

const TARGET: &str = "crossgate::gateway";

/// Connections over `limits.max_connections` that are still answered (503, then closed);
/// past this many more, new connections are closed at once.
const OVERFLOW: i64 = 64;

/// The CORS gateway: a reverse proxy behind [`crossgate::tower::Cors`], one policy per route.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use crossgate_gateway::{Gateway, Upstream};
///
/// let policy = crossgate::policy::Policy::builder()
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

/// Why [`Gateway::start`] could not start.
#[derive(Debug)]
pub enum StartError {
    /// The configuration does not compile (a policy, the TLS files): every problem, errors and
    /// warnings alike.
    Invalid(Vec<Problem>),
    /// An address could not be bound.
    Bind {
        /// The address: `listen`, or the admin listener's.
        addr: SocketAddr,
        /// Why binding failed (in use, not an address of this machine, permission).
        source: io::Error,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Invalid(problems) => {
                write!(f, "invalid configuration")?;
                for p in problems {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
            StartError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
        }
    }
}

impl std::error::Error for StartError {}

impl Gateway {
    /// How long in-flight requests may take to finish after shutdown is asked for.
    pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

    /// A gateway with one upstream for every path under one policy, and default limits. Binds
    /// `listen` (port 0 picks a free port: see [`BoundGateway::local_addr`]); nothing is
    /// accepted until [`BoundGateway::serve`], so the caller can print the real address first.
    pub async fn bind(
        listen: SocketAddr,
        upstream: Upstream,
        policy: Policy,
    ) -> io::Result<BoundGateway> {
        let config = GatewayConfig::single(listen, upstream, policy.config().clone());
        Gateway::start(config).await.map_err(|e| match e {
            StartError::Bind { source, .. } => source,
            invalid => io::Error::new(io::ErrorKind::InvalidInput, invalid.to_string()),
        })
    }

    /// Compiles `config` (every policy, the TLS files) and binds its `listen` address and, if
    /// it has one, its admin address.
    pub async fn start(config: GatewayConfig) -> Result<BoundGateway, StartError> {
        let metrics = Metrics::default();
        let (snapshot, _warnings) =
            Snapshot::build(config, &metrics, None).map_err(StartError::Invalid)?;
        let listen = snapshot.config.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })?;
        let admin = match snapshot.config.admin {
            Some(addr) => {
                let l = TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?;
                Some(l)
            }
            None => None,
        };
        let admin_addr = admin.as_ref().and_then(|l| l.local_addr().ok());
        let shared = Arc::new(Shared::new(snapshot, metrics));
        Ok(BoundGateway {
            listener,
            local_addr,
            admin,
            admin_addr,
            shared,
        })
    }
}

/// A gateway with its listening sockets bound, ready to [`serve`](BoundGateway::serve).
#[must_use = "a bound gateway serves nothing until `serve` is called"]
pub struct BoundGateway {
    listener: TcpListener,
    local_addr: SocketAddr,
    admin: Option<TcpListener>,
    admin_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
}

impl fmt::Debug for BoundGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundGateway")
            .field("local_addr", &self.local_addr)
            .field("admin_addr", &self.admin_addr)
            .finish()
    }
}

impl BoundGateway {
    /// The address actually bound (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The admin listener's address (`/metrics`, `/healthz`, `/readyz`), if configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Whether clients connect with TLS.
    pub fn tls(&self) -> bool {
        self.shared.current.load().tls.is_some()
    }

    /// The top-level policy in force.
    pub fn policy(&self) -> Policy {
        self.shared.current.load().policy.clone()
    }

    /// Reloads and metrics, usable while [`serve`](BoundGateway::serve) runs.
    pub fn handle(&self) -> GatewayHandle {
        GatewayHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Changes the configuration before serving (the limits and timeouts of a test, say).
    ///
    /// # Panics
    ///
    /// If the changed configuration does not compile.
    pub fn configure(self, change: impl FnOnce(&mut GatewayConfig)) -> Self {
        let mut config = self.shared.current.load().config.clone();
        change(&mut config);
        let previous = self.shared.current.load_full();
        let (snapshot, _) = Snapshot::build(config, &self.shared.metrics, Some(&previous))
            .unwrap_or_else(|p| panic!("the changed configuration does not compile: {p:#?}"));
        self.shared.current.store(Arc::new(snapshot));
        self
    }

    /// How long in-flight requests may run on after shutdown is asked for; connections still
    /// open then are closed. Default [`Gateway::DEFAULT_DRAIN_TIMEOUT`].
    pub fn drain_timeout(self, timeout: Duration) -> Self {
        self.configure(|c| c.timeouts.shutdown = timeout)
    }

    /// How long a client may take to send a request head.
    pub fn header_read_timeout(self, timeout: Duration) -> Self {
        self.configure(|c| c.timeouts.client_header = timeout)
    }

    /// How long connecting to the upstream may take.
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.configure(|c| c.timeouts.connect = timeout)
    }

    /// Serves until `shutdown` resolves, then stops accepting (and `/readyz` answers 503), lets
    /// in-flight requests finish within the drain timeout (`timeouts.shutdown` of the
    /// configuration in force), closes what is left and returns.
    ///
    /// Errors accepting one connection (e.g. out of file descriptors) are logged and retried
    /// after a pause; they do not stop the gateway.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let BoundGateway {
            listener,
            admin,
            shared,
            ..
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        // Ready before the admin listener answers anything: a service manager told READY=1 as
        // this starts never sees /readyz answer 503 (connections wait in the listen backlog).
        shared.metrics.ready.store(true, Ordering::Release);
        let admin_task = admin.map(|l| tokio::spawn(admin::serve(l, Arc::clone(&shared))));

        let mut connections = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(target: TARGET, error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            let snapshot = shared.current.load_full();
            let open = shared
                .metrics
                .connections_open
                .fetch_add(1, Ordering::AcqRel)
                + 1;
            let guard = OpenConnection(Arc::clone(&shared));
            let max = snapshot.limits.max_connections as i64;
            let overloaded = open > max;
            if overloaded {
                shared.metrics.connection_refused();
                if open > max + OVERFLOW {
                    tracing::warn!(target: TARGET, %peer, "too many connections: closed unanswered");
                    drop((stream, guard));
                    continue;
                }
                tracing::warn!(target: TARGET, %peer, "too many connections: answering 503");
            }
            let _ = stream.set_nodelay(true);
            let tls = snapshot.tls.is_some();
            let connection = Connection {
                shared: Arc::clone(&shared),
                peer,
                client: ClientHop::new(peer.ip(), if tls { "https" } else { "http" }),
                overloaded,
                state: Arc::default(),
            };
            connections.spawn(connection.run(stream, snapshot, stop_rx.clone(), guard));
        }
        drop(listener);
        shared.metrics.ready.store(false, Ordering::Release);
        let _ = stop_tx.send(true);

        let drain = shared.current.load().timeouts.shutdown;
        tracing::info!(
            target: TARGET,
            open = connections.len(),
            "shutting down: no longer accepting, draining in-flight requests"
        );
        let drained = tokio::time::timeout(drain, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                target: TARGET,
                timeout = ?drain,
                "requests still in flight after the drain timeout are cut off"
            );
        }
        connections.shutdown().await;
        if let Some(task) = admin_task {
            task.abort();
        }
        Ok(())
    }
}

/// Counts an open client connection until dropped.
struct OpenConnection(Arc<Shared>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0
            .metrics
            .connections_open
            .fetch_sub(1, Ordering::AcqRel);
    }
}

/// One client connection's service: the guards that run before anything else, routing, then
/// the route's service (the CORS layer around the proxy).
#[derive(Clone)]
struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    /// The client as the upstream is told of it (`X-Forwarded-For`, `Forwarded`).
    client: ClientHop,
    overloaded: bool,
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
    /// Drives the connection: the TLS handshake if any, then HTTP until the client is done, the
    /// connection fails, or shutdown (then in-flight requests finish and the connection closes).
    async fn run(
        self,
        stream: tokio::net::TcpStream,
        snapshot: Arc<Snapshot>,
        mut stop: watch::Receiver<bool>,
        _open: OpenConnection,
    ) {
        let header_timeout = snapshot.timeouts.client_header;
        match &snapshot.tls {
            None => self.serve_http(stream, &snapshot, stop).await,
            Some(acceptor) => {
                let handshake = tokio::time::timeout(header_timeout, acceptor.accept(stream));
                let tls = tokio::select! {
                    tls = handshake => tls,
                    _ = stop.wait_for(|s| *s) => return,
                };
                match tls {
                    Ok(Ok(tls)) => self.serve_http(tls, &snapshot, stop).await,
                    Ok(Err(e)) => {
                        tracing::debug!(target: TARGET, peer = %self.peer, error = %e, "TLS handshake failed");
                    }
                    Err(_) => {
                        tracing::debug!(target: TARGET, peer = %self.peer, "TLS handshake timed out");
                    }
                }
            }
        }
    }

    /// hyper's header read timeout only starts once it knows the protocol, and HTTP/2 has none,
    /// so a client that connects and sends nothing (or only part of the HTTP/2 preface) would
    /// hold the connection for ever: it gets `timeouts.client_header` to start a request.
    async fn serve_http<S>(self, io: S, snapshot: &Snapshot, mut stop: watch::Receiver<bool>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let first_request = snapshot.timeouts.client_header;
        let state = Arc::clone(&self.state);
        let peer = self.peer;
        let io = TokioIo::new(Scanned::new(io, state.flagged.clone()));
        let mut connection = std::pin::pin!(snapshot.builder.serve_connection(io, self));
        let mut first = std::pin::pin!(tokio::time::sleep(first_request));
        let mut waiting_first = true;
        let mut stopping = false;
        let result = loop {
            tokio::select! {
                result = connection.as_mut() => break result,
                () = &mut first, if waiting_first => {
                    waiting_first = false;
                    if !state.started.load(Ordering::Acquire) {
                        tracing::debug!(target: TARGET, %peer, "no request within the header read timeout: closed");
                        return;
                    }
                }
                _ = stop.wait_for(|s| *s), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!(target: TARGET, %peer, error = %e, "connection ended with an error");
        }
    }
}

/// Counts and logs what the CORS layer decided, read from its answer: the response to a refused
/// request carries the layer's `Refusal`; an allowed preflight's (`layer_preflight`: a preflight
/// the layer answered) carries none. The policy is never asked twice.
fn observe(
    peer: SocketAddr,
    layer_preflight: bool,
    metrics: &RouteMetrics,
    method: &Method,
    path: &str,
    response: &Response<Body>,
) {
    let Some(refusal) = response.extensions().get::<Refusal>() else {
        if layer_preflight {
            metrics.preflight_allowed();
        }
        return;
    };
    if refusal.preflight {
        metrics.preflight_denied(refusal.reason);
    } else {
        metrics.actual_denied(refusal.reason);
    }
    tracing::info!(
        target: "crossgate::gateway::cors",
        route = metrics.name(),
        peer = %peer,
        %method,
        path,
        kind = if refusal.preflight { "preflight" } else { "actual" },
        reason = refusal.reason.as_str(),
        "CORS request refused: {}",
        refusal.detail
    );
}

type ConnectionFuture = Pin<Box<dyn Future<Output = Result<Response<Tracked>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Connection {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = ConnectionFuture;

    fn call(&self, mut request: Request<Incoming>) -> ConnectionFuture {
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
            let response = ambiguous_framing().map(|b| Tracked {
                inner: b,
                guard: None,
            });
            return Box::pin(std::future::ready(Ok(response)));
        }

        let snapshot = self.shared.current.load();
        let limits = &snapshot.limits;
        let reject = if self.overloaded {
            Some(Reject::Overloaded)
        } else if headers.len() > limits.max_headers {
            Some(Reject::TooManyHeaders)
        } else if headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>()
            > limits.max_header_bytes
        {
            Some(Reject::HeadersTooLarge)
        } else if route::has_dot_segment(request.uri().path()) {
            Some(Reject::DotSegment)
        } else {
            None
        };
        let host = headers
            .get(header::HOST)
            .map(HeaderValue::as_bytes)
            .or_else(|| request.uri().authority().map(|a| a.as_str().as_bytes()));
        let route = snapshot.route(host, request.uri().path());
        let service = route.service.clone();
        let metrics = Arc::clone(&route.metrics);
        drop(snapshot);

        // A route that keeps the upstream's CORS answers has no layer: its preflights go upstream.
        let layer_preflight = matches!(service, RouteService::Cors(_)) && is_preflight(&request);
        // The layer answers a preflight itself: only what reaches the proxy needs the client.
        if !layer_preflight {
            request
                .extensions_mut()
                .insert(ClientInfo(self.client.clone()));
        }
        if let Some(reject) = reject {
            request.extensions_mut().insert(reject);
        }
        let guard = InFlight::new(&self.shared);
        let peer = self.peer;
        Box::pin(async move {
            let started = Instant::now();
            let method = request.method().clone();
            let uri = request.uri().clone();
            let response = match service {
                RouteService::Cors(mut cors) => {
                    poll_fn(|cx| cors.poll_ready(cx)).await?;
                    cors.call(request).await?
                }
                RouteService::Keep(mut forward) => forward.call(request).await?,
            };
            observe(
                peer,
                layer_preflight,
                &metrics,
                &method,
                uri.path(),
                &response,
            );
            record(&metrics, response.status());
            tracing::debug!(
                target: TARGET, %peer, route = metrics.name(), %method, path = uri.path(), status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request"
            );
            Ok(response.map(|inner| Tracked {
                inner,
                guard: Some(guard),
            }))
        })
    }
}

fn record(metrics: &RouteMetrics, status: StatusCode) {
    metrics.response(status.as_u16());
}

/// Counts a request in flight until its response body is finished (or dropped, when the client
/// goes away).
struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(shared: &Arc<Shared>) -> InFlight {
        shared
            .metrics
            .requests_in_flight
            .fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(shared))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .metrics
            .requests_in_flight
            .fetch_sub(1, Ordering::AcqRel);
    }
}

/// The body of every response the gateway sends: the route's body, counted in the
/// `crossgate_requests_in_flight` metric until it ends, fails or is dropped (the client went
/// away).
pub(crate) struct Tracked {
    inner: Body,
    guard: Option<InFlight>,
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
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
