//! Real servers and clients for the gateway's integration tests: an upstream that records what
//! it receives, a gateway on 127.0.0.1:0, a hyper client and a raw TCP client.

#![allow(dead_code)] // each test file uses its own share of these helpers

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use crossgate::policy::Policy;
use crossgate_gateway::{BoundGateway, Gateway, GatewayConfig, GatewayHandle, Upstream};
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body::{Body, Frame};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type TestBody = UnsyncBoxBody<Bytes, BoxError>;

/// Every test runs within this bound, so a hang fails instead of stalling the suite.
pub const BOUND: Duration = Duration::from_secs(30);

pub async fn bounded<T>(what: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, what)
        .await
        .expect("the test did not finish in time")
}

pub const ALLOWED: &str = "https://app.example.com";
pub const DISALLOWED: &str = "https://evil.example.net";

/// The policy the tests run under.
pub fn policy() -> Policy {
    Policy::builder()
        .allow_origins([ALLOWED])
        .allow_credentials(true)
        .allow_methods(["GET", "POST", "PUT", "DELETE"])
        .allow_headers(["content-type", "x-token"])
        .expose_headers(["x-request-id"])
        .max_age(600)
        .build()
        .expect("a valid policy")
}

pub fn full(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn empty() -> TestBody {
    full(Bytes::new())
}

/// A body fed through a channel: the test decides when each chunk is sent. No size hint, so
/// HTTP/1 sends it chunked.
pub struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

pub fn channel_body() -> (mpsc::Sender<Bytes>, TestBody) {
    let (tx, rx) = mpsc::channel(4);
    (tx, ChannelBody(rx).boxed_unsync())
}

/// A deterministic pattern, so a corrupted or reordered byte changes the hash.
pub fn pattern(offset: usize, len: usize) -> Bytes {
    (offset..offset + len)
        .map(|i| (i % 251) as u8 ^ (i >> 16) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// FNV-1a, streaming.
#[derive(Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf29ce484222325)
    }
}

impl Fnv {
    pub fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x100000001b3);
        }
    }
}

/// What the upstream received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
}

type Handler = Arc<
    dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<TestBody>> + Send>>
        + Send
        + Sync,
>;

/// A real HTTP/1.1 upstream on 127.0.0.1:0 that records every request head it receives.
pub struct TestUpstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl TestUpstream {
    pub async fn start<F, Fut>(handler: F) -> TestUpstream
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<TestBody>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |r| Box::pin(handler(r)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = Arc::clone(&handler);
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        recorded.lock().unwrap().push(Seen {
                            method: request.method().clone(),
                            uri: request.uri().clone(),
                            headers: request.headers().clone(),
                        });
                        let response = handler(request);
                        async move { Ok::<_, Infallible>(response.await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestUpstream { addr, seen, task }
    }

    /// An upstream answering every request with 200 and `ok`.
    pub async fn ok() -> TestUpstream {
        TestUpstream::start(|_| async { Response::new(full("ok")) }).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn upstream(&self) -> Upstream {
        Upstream::parse(&self.url()).unwrap()
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for TestUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A gateway serving in the background until `stop` is sent or it is dropped.
pub struct RunningGateway {
    pub addr: SocketAddr,
    pub admin: Option<SocketAddr>,
    pub handle: GatewayHandle,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<std::io::Result<()>>>,
}

/// A configuration on 127.0.0.1:0 with the tests' policy as the top-level `[cors]` and
/// `upstream` as the top-level upstream.
pub fn config(upstream: Upstream) -> GatewayConfig {
    GatewayConfig::single(
        "127.0.0.1:0".parse().unwrap(),
        upstream,
        policy().config().clone(),
    )
}

impl RunningGateway {
    /// Starts a gateway on a whole configuration.
    pub async fn start_config(config: GatewayConfig) -> RunningGateway {
        let bound = Gateway::start(config).await.unwrap();
        RunningGateway::serve(bound)
    }

    fn serve(bound: BoundGateway) -> RunningGateway {
        let addr = bound.local_addr();
        assert_ne!(addr.port(), 0, "port 0 resolves to the real port");
        let admin = bound.admin_addr();
        let handle = bound.handle();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.serve(async {
            let _ = stopped.await;
        }));
        RunningGateway {
            addr,
            admin,
            handle,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn start(upstream: Upstream) -> RunningGateway {
        RunningGateway::start_with(upstream, |g| g).await
    }

    pub async fn start_with(
        upstream: Upstream,
        configure: impl FnOnce(BoundGateway) -> BoundGateway,
    ) -> RunningGateway {
        let bound = Gateway::bind("127.0.0.1:0".parse().unwrap(), upstream, policy())
            .await
            .unwrap();
        RunningGateway::serve(configure(bound))
    }

    /// The value of one metric line (`name{labels}`) in the exposition, 0 if absent.
    pub fn metric(&self, series: &str) -> f64 {
        metric(&self.handle.metrics(), series)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Asks the gateway to shut down and waits for `serve` to return.
    pub async fn stop(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().unwrap().await.unwrap()
    }

    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

pub fn client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// Sends `request` with the hyper client; returns the status, headers and whole body.
pub async fn send(request: Request<TestBody>) -> (u16, HeaderMap, Bytes) {
    let response = client().request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

/// The values of `name`, one per field line.
pub fn all(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The comma-separated elements of every `name` line, lowercased.
pub fn elements(headers: &HeaderMap, name: &str) -> Vec<String> {
    all(headers, name)
        .iter()
        .flat_map(|line| line.split(','))
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .collect()
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the server closed the connection after it.
    pub closed: bool,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

/// Writes `request` as is, then reads until the server closes the connection (or `wait`
/// passes with no more bytes, in which case `closed` is false).
pub async fn raw(addr: SocketAddr, request: &[u8], wait: Duration) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let closed = loop {
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    parse_raw(&bytes, closed)
}

pub fn parse_raw(bytes: &[u8], closed: bool) -> RawResponse {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(bytes)));
    let head = std::str::from_utf8(&bytes[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    RawResponse {
        status,
        headers,
        body: bytes[end + 4..].to_vec(),
        closed,
    }
}

/// The value of `series` (`name{labels}` exactly as exposed) in a Prometheus exposition.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0)
}

/// Polls `condition` every 10 ms until it holds (the test's bound applies).
pub async fn eventually(mut condition: impl FnMut() -> bool) {
    while !condition() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A GET with `Origin: origin` (if any); returns status, headers and body.
pub async fn get(url: String, origin: Option<&str>) -> (u16, HeaderMap, Bytes) {
    let mut request = Request::get(url);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    send(request.body(empty()).unwrap()).await
}

/// A raw upstream: runs `handle` on each accepted connection.
pub async fn raw_upstream<F, Fut>(handle: F) -> (SocketAddr, JoinHandle<()>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = Arc::new(handle);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handle = Arc::clone(&handle);
            tokio::spawn(async move { handle(stream).await });
        }
    });
    (addr, task)
}

/// Reads from `stream` until a blank line (the end of a request head).
pub async fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    head
}

/// A port nothing listens on, held for as long as the value lives: bound but never listening,
/// so a connection is refused, and no other test's port 0 can be given the same port (releasing
/// it instead let a concurrent test's upstream take it over).
pub struct ClosedPort {
    _socket: tokio::net::TcpSocket,
    pub addr: SocketAddr,
}

pub async fn closed_port() -> ClosedPort {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    ClosedPort {
        _socket: socket,
        addr,
    }
}
