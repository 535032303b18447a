//! Keep-alive HTTP/1.1 connections to one upstream, on `hyper::client::conn::http1`.
//!
//! Why not hyper-util's legacy pooled client, which the gateway used before: for nearly every
//! response (any whose body is still arriving when its head does) it spawns a task that waits
//! for the connection to be idle again before putting it back in its pool, and every checkout
//! goes through its generic connect-or-wait machinery. Here an idle connection is one
//! `SendRequest` on a LIFO stack behind an uncontended lock: an exchange pops one (or connects),
//! and the response body puts it back itself when it ends ([`Lease`]). No task, channel or
//! allocation per request beyond hyper's own.
//!
//! What the legacy client did that still holds: no proxy from the environment, no redirect
//! followed, `TCP_NODELAY`, the connect timeout shared among the addresses a name resolves to,
//! a request that a stale keep-alive connection refused before a byte of it was written is sent
//! again on a new connection, and idle connections are closed. What it did that this does not:
//! race IPv6 against IPv4 (addresses are tried in the resolver's order), and close an idle
//! connection exactly at its timeout (here between half of [`IDLE_TIMEOUT`] and all of it).

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use http::uri::Authority;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::body::RequestBody;

/// How long an unused connection stays open, at most (at least half of it: the sweeper runs every
/// half timeout).
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// At most this many idle connections are kept per upstream; more are closed when returned.
const MAX_IDLE: usize = 1024;

/// The idle connections to one upstream authority. Cheap to clone (one reference count).
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    /// `host:port` as the resolver takes it (the port defaulted to 80).
    address: String,
    connect_timeout: Duration,
    /// Most recently returned last: reuse favours warm connections, and the cold ones sink to
    /// the bottom where the sweeper finds them.
    idle: Mutex<VecDeque<Idle>>,
    /// Advanced by the sweeper every half idle timeout; an idle connection remembers the tick
    /// it was returned in, so returning one reads an atomic rather than the clock.
    tick: AtomicU64,
    sweeper: AtomicBool,
}

struct Idle {
    sender: SendRequest<RequestBody>,
    tick: u64,
}

/// Why an exchange with the upstream failed.
#[derive(Debug)]
pub(crate) enum UpstreamError {
    /// Resolving the upstream's name took the whole connect timeout.
    ResolveTimedOut(Duration),
    /// Resolving or connecting failed.
    Connect(io::Error),
    /// The connection was made but the exchange failed (reset, closed early, bad response).
    Exchange(hyper::Error),
}

impl UpstreamError {
    pub(crate) fn is_connect(&self) -> bool {
        matches!(
            self,
            UpstreamError::ResolveTimedOut(_) | UpstreamError::Connect(_)
        )
    }

    /// Connecting timed out: ours, or the operating system's own (`ETIMEDOUT`).
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            UpstreamError::ResolveTimedOut(_) => true,
            UpstreamError::Connect(e) => e.kind() == io::ErrorKind::TimedOut,
            UpstreamError::Exchange(_) => false,
        }
    }
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::ResolveTimedOut(after) => {
                write!(f, "resolving the upstream's name timed out after {after:?}")
            }
            UpstreamError::Connect(e) => write!(f, "tcp connect error: {e}"),
            UpstreamError::Exchange(e) => write!(f, "exchange failed: {e}"),
        }
    }
}

impl std::error::Error for UpstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpstreamError::ResolveTimedOut(_) | UpstreamError::Connect(_) => None,
            UpstreamError::Exchange(e) => std::error::Error::source(e),
        }
    }
}

/// A connection lent to one exchange: the response body returns it when it has been read to
/// its end. Dropped earlier (the client went away, the body failed), it closes the connection,
/// which is the only way to abandon an HTTP/1 exchange.
pub(crate) struct Lease {
    sender: SendRequest<RequestBody>,
    pool: Weak<Inner>,
}

impl Lease {
    /// The exchange is over: the connection goes back to its pool (unless it closed, or the
    /// pool is gone because a reload replaced the upstream).
    pub(crate) fn release(self) {
        if self.sender.is_closed() {
            return;
        }
        if let Some(pool) = self.pool.upgrade() {
            pool.checkin(self.sender);
        }
    }
}

impl Pool {
    pub(crate) fn new(authority: &Authority, connect_timeout: Duration) -> Pool {
        let port = authority.port_u16().unwrap_or(80);
        Pool {
            inner: Arc::new(Inner {
                address: format!("{}:{port}", authority.host()),
                connect_timeout,
                idle: Mutex::new(VecDeque::new()),
                tick: AtomicU64::new(0),
                sweeper: AtomicBool::new(false),
            }),
        }
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        self.inner.connect_timeout
    }

    /// Sends `request` (origin-form target, `Host` set) on an idle connection, or a new one, and
    /// returns the response head with the connection it came on.
    pub(crate) async fn send(
        &self,
        mut request: Request<RequestBody>,
    ) -> Result<(Response<Incoming>, Lease), UpstreamError> {
        let mut fresh = false;
        loop {
            let reused = if fresh { None } else { self.inner.checkout() };
            let mut sender = match reused {
                Some(sender) => sender,
                None => {
                    fresh = true;
                    // A pool without connections has nothing to sweep: the sweeper starts with
                    // the first one, off the path of requests on pooled connections.
                    self.start_sweeper();
                    // Boxed: connecting is rare, and its state would otherwise enlarge (and be
                    // moved with) every exchange's future.
                    Box::pin(self.inner.connect()).await?
                }
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let lease = Lease {
                        sender,
                        pool: Arc::downgrade(&self.inner),
                    };
                    return Ok((response, lease));
                }
                Err(mut failed) => match failed.take_message() {
                    // The idle connection had closed before any of the request was written
                    // (the upstream's keep-alive timeout raced us): once more, on a new one.
                    Some(unsent) if !fresh => {
                        request = unsent;
                        fresh = true;
                    }
                    _ => return Err(UpstreamError::Exchange(failed.into_error())),
                },
            }
        }
    }

    /// Starts, once per pool, the task that closes connections idle for longer than
    /// [`IDLE_TIMEOUT`]. It holds the pool weakly and ends with it.
    fn start_sweeper(&self) {
        if self.inner.sweeper.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(IDLE_TIMEOUT / 2);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(pool) = pool.upgrade() else { return };
                pool.sweep();
            }
        });
    }

    /// How many idle connections the pool holds (for tests).
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.inner.idle.lock().expect("pool lock").len()
    }
}

impl Inner {
    /// The most recently returned connection that can take a request now. A closed one passed
    /// over is dropped; an open one that is not ready yet (its task has not yet taken in the end
    /// of the last exchange, or is still sending a request body) goes to the cold end, where the
    /// sweeper closes it if it never becomes ready.
    fn checkout(&self) -> Option<SendRequest<RequestBody>> {
        let mut closed = Vec::new();
        let found = {
            let mut idle = self.idle.lock().expect("pool lock");
            let mut busy = 0;
            loop {
                match idle.pop_back() {
                    Some(entry) if entry.sender.is_ready() => break Some(entry.sender),
                    Some(entry) if entry.sender.is_closed() => closed.push(entry),
                    Some(entry) => {
                        idle.push_front(entry);
                        busy += 1;
                        if busy == idle.len() {
                            break None;
                        }
                    }
                    None => break None,
                }
            }
        };
        drop(closed);
        found
    }

    fn checkin(&self, sender: SendRequest<RequestBody>) {
        let tick = self.tick.load(Ordering::Relaxed);
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < MAX_IDLE {
            idle.push_back(Idle { sender, tick });
        }
    }

    /// Advances the tick and closes the connections returned two ticks ago or earlier (idle for
    /// at least half the timeout, at most the whole), and those the upstream closed.
    fn sweep(&self) {
        let now = self.tick.fetch_add(1, Ordering::Relaxed) + 1;
        let expired: VecDeque<Idle> = {
            let mut idle = self.idle.lock().expect("pool lock");
            let (keep, expired): (VecDeque<Idle>, VecDeque<Idle>) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|e| now - e.tick < 2 && !e.sender.is_closed());
            *idle = keep;
            expired
        };
        if !expired.is_empty() {
            tracing::debug!(
                target: "crossgate::gateway",
                upstream = %self.address,
                closed = expired.len(),
                "closed idle upstream connections"
            );
        }
    }

    /// A new connection: resolve (within the connect timeout), connect to each address in turn
    /// (each with its share of the timeout, as the legacy connector did, so that one blackholed
    /// address does not use it all), handshake, and hand the connection's I/O to a task of its
    /// own.
    async fn connect(&self) -> Result<SendRequest<RequestBody>, UpstreamError> {
        let addresses: Vec<std::net::SocketAddr> =
            tokio::time::timeout(self.connect_timeout, tokio::net::lookup_host(&self.address))
                .await
                .map_err(|_| UpstreamError::ResolveTimedOut(self.connect_timeout))?
                .map_err(UpstreamError::Connect)?
                .collect();
        let stream = connect_tcp(&addresses, self.connect_timeout, &self.address)
            .await
            .map_err(UpstreamError::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(UpstreamError::Exchange)?;
        let address = self.address.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(target: "crossgate::gateway", upstream = %address, error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// The first of `addresses` that accepts within its share of `timeout`. A timeout is reported
/// as `ErrorKind::TimedOut` (a 504, like the operating system's own).
async fn connect_tcp(
    addresses: &[std::net::SocketAddr],
    timeout: Duration,
    address: &str,
) -> io::Result<TcpStream> {
    let each = timeout / u32::try_from(addresses.len().max(1)).unwrap_or(u32::MAX);
    let mut last = None;
    for addr in addresses {
        match tokio::time::timeout(each, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = Some(e),
            Err(_) => {
                last = Some(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {addr} timed out after {each:?}"),
                ));
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{address} resolved to no address"),
        )
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A keep-alive upstream on loopback that answers every request `200 ok`, counting the
    /// connections it accepted. With `close_after_first`, it closes each connection after its
    /// first answer (as an upstream whose keep-alive timeout ran out).
    async fn upstream(close_after_first: bool) -> (Authority, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority: Authority = listener.local_addr().unwrap().to_string().parse().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 1024];
                    loop {
                        let Ok(n) = stream.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            buffer.drain(..end + 4);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if stream.write_all(answer).await.is_err() || close_after_first {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (authority, accepted)
    }

    fn get(authority: &Authority) -> Request<RequestBody> {
        Request::builder()
            .uri("/items")
            .header(http::header::HOST, authority.as_str())
            .body(RequestBody::Empty)
            .unwrap()
    }

    /// One exchange, its body read to the end; the lease is returned when `release`.
    async fn exchange(pool: &Pool, authority: &Authority, release: bool) {
        let (response, lease) = pool.send(get(authority)).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");
        if release {
            lease.release();
        }
    }

    async fn eventually(mut condition: impl FnMut() -> bool) {
        for _ in 0..200 {
            if condition() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition not met within 2 s");
    }

    #[tokio::test]
    async fn a_connection_is_reused_once_its_response_body_was_read() {
        let (authority, accepted) = upstream(false).await;
        let pool = Pool::new(&authority, Duration::from_secs(1));
        for _ in 0..5 {
            exchange(&pool, &authority, true).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle(), 1);
    }

    /// A connection returned before its task has taken in the end of the exchange (on a runtime
    /// with several workers that can happen) is not ready yet: it must wait its turn, not be
    /// closed. A connection whose task was never polled is in that state for as long as needed.
    #[tokio::test]
    async fn a_connection_not_ready_yet_is_kept_for_later() {
        let (authority, accepted) = upstream(false).await;
        let pool = Pool::new(&authority, Duration::from_secs(1));
        let stream = TcpStream::connect(authority.as_str()).await.unwrap();
        let (sender, connection) = http1::Builder::new()
            .handshake::<_, RequestBody>(TokioIo::new(stream))
            .await
            .unwrap();
        pool.inner.checkin(sender);
        assert!(pool.inner.checkout().is_none(), "not ready: not lent");
        assert_eq!(pool.idle(), 1, "not ready: kept");
        tokio::spawn(connection);
        eventually(|| {
            let lent = pool.inner.checkout();
            let ready = lent.is_some();
            if let Some(sender) = lent {
                pool.inner.checkin(sender);
            }
            ready
        })
        .await;
        exchange(&pool, &authority, true).await;
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "the kept connection served"
        );
    }

    #[tokio::test]
    async fn a_lease_dropped_before_the_end_closes_its_connection() {
        let (authority, accepted) = upstream(false).await;
        let pool = Pool::new(&authority, Duration::from_secs(1));
        exchange(&pool, &authority, false).await;
        exchange(&pool, &authority, true).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(pool.idle(), 1);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_is_not_used_again() {
        let (authority, accepted) = upstream(true).await;
        let pool = Pool::new(&authority, Duration::from_secs(1));
        exchange(&pool, &authority, true).await;
        // The upstream closed it after answering: whether the pool still holds it or not, the
        // next exchange gets a working connection.
        eventually(|| {
            pool.inner
                .idle
                .lock()
                .unwrap()
                .iter()
                .all(|e| e.sender.is_closed())
        })
        .await;
        exchange(&pool, &authority, true).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_sweeper_closes_connections_idle_for_two_ticks() {
        let (authority, _) = upstream(false).await;
        let pool = Pool::new(&authority, Duration::from_secs(1));
        exchange(&pool, &authority, true).await;
        pool.inner.sweep();
        assert_eq!(pool.idle(), 1, "returned in the current tick: kept");
        pool.inner.sweep();
        assert_eq!(pool.idle(), 0, "idle for two ticks: closed");
    }

    #[tokio::test]
    async fn connecting_to_a_closed_port_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority: Authority = listener.local_addr().unwrap().to_string().parse().unwrap();
        drop(listener);
        let pool = Pool::new(&authority, Duration::from_secs(1));
        let Err(error) = pool.send(get(&authority)).await else {
            panic!("a closed port answered");
        };
        assert!(error.is_connect() && !error.is_timeout(), "{error}");
        assert!(
            error.to_string().starts_with("tcp connect error"),
            "{error}"
        );
    }
}
