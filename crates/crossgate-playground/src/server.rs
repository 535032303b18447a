//! The playground's three listeners and what each answers.
//!
//! - the page's origin: the page and its assets, `POST /api/simulate`, `POST /api/runs` and
//!   `GET /api/runs/<id>`; and runs' paths, for same-origin fetches (and, under its other host
//!   name, for the `host` place);
//! - the target's and the redirect origin's: runs' paths only (`/c/<id>/...`).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use crossgate::browser::Browser;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::case::{Case, Place};
use crate::run::{Origins, Run, WireAnswer, wire_value};
use crate::{assets, simulate};

pub use crate::assets::STARTS;

/// The largest `simulate` document `/api/simulate` reads.
const MAX_DOCUMENT: usize = 1 << 20;
/// The largest case `/api/runs` reads: a case expands (placeholders become URLs) and is kept
/// four times over (the answers, three engines' inputs) for each of the last `MAX_RUNS` runs.
const MAX_CASE: usize = 64 << 10;
/// Runs kept; the oldest goes when a new one comes.
const MAX_RUNS: usize = 64;

/// Registered runs, oldest first.
#[derive(Default)]
struct Runs {
    by_id: HashMap<String, Arc<Run>>,
    order: VecDeque<String>,
}

/// What the listeners share.
struct State {
    page_port: u16,
    target_port: u16,
    redirect_port: u16,
    /// The secret key of run ids: an id is a keyed hash of a counter, so ids differ between
    /// playgrounds (a browser's caches from an earlier one never answer for this one) and one
    /// run's id tells nothing of another's.
    ids: std::collections::hash_map::RandomState,
    next: Mutex<u64>,
    runs: Mutex<Runs>,
    /// The `scheme` place's TLS: a certificate for `localhost` and the listener's address.
    tls: tokio_rustls::TlsAcceptor,
    certificate: Vec<u8>,
    /// The token that turns on the page's self-test (`?selftest=TOKEN`), when a harness asked
    /// for one: a link cannot make the page run cases unasked.
    self_test: std::sync::OnceLock<String>,
}

/// A playground bound to its three ports, not serving yet.
pub struct Playground {
    page: TcpListener,
    target: TcpListener,
    redirect: TcpListener,
    state: Arc<State>,
}

impl Playground {
    /// Binds the page's listener to `addr`, and the target's and the redirect origin's to two
    /// free ports of the same address.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Playground> {
        let page = TcpListener::bind(addr).await?;
        let other = SocketAddr::new(addr.ip(), 0);
        let target = TcpListener::bind(other).await?;
        let redirect = TcpListener::bind(other).await?;
        let (tls, certificate) = tls_acceptor(addr.ip())?;
        let state = Arc::new(State {
            page_port: page.local_addr()?.port(),
            target_port: target.local_addr()?.port(),
            redirect_port: redirect.local_addr()?.port(),
            ids: std::collections::hash_map::RandomState::new(),
            next: Mutex::new(0),
            runs: Mutex::default(),
            tls,
            certificate,
            self_test: std::sync::OnceLock::new(),
        });
        Ok(Playground {
            page,
            target,
            redirect,
            state,
        })
    }

    /// Where the page is served.
    pub fn page_addr(&self) -> SocketAddr {
        self.page
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where the scripted target listens.
    pub fn target_addr(&self) -> SocketAddr {
        self.target
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The certificate (DER) the page's port presents over TLS, made when it was bound: for a
    /// client that is to trust it, as a browser does once told to.
    pub fn certificate_der(&self) -> &[u8] {
        &self.state.certificate
    }

    /// Turns on the page's self-test for this playground and returns its token: the page runs
    /// the cases of its `#suite=` fragment unasked only when opened with `?selftest=TOKEN`.
    /// For a harness driving a browser; `crossgate playground` never turns it on.
    pub fn enable_self_test(&self) -> String {
        use std::hash::BuildHasher;
        let key = std::collections::hash_map::RandomState::new();
        self.state
            .self_test
            .get_or_init(|| format!("{:016x}{:016x}", key.hash_one(1u8), key.hash_one(2u8)))
            .clone()
    }

    /// Where the redirect origin listens.
    pub fn redirect_addr(&self) -> SocketAddr {
        self.redirect
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then drops every connection.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let mut listeners = JoinSet::new();
        for (listener, place) in [
            (self.page, Place::Page),
            (self.target, Place::Target),
            (self.redirect, Place::Redirect),
        ] {
            listeners.spawn(accept(listener, place, self.state.clone()));
        }
        shutdown.await;
        listeners.shutdown().await;
    }
}

/// Accepts connections on one listener until aborted (its connections go with it).
async fn accept(listener: TcpListener, place: Place, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, or a connection reset before it was accepted: wait a
                // little rather than spin.
                tracing::warn!("playground: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let state = state.clone();
        connections.spawn(async move {
            // The page's port speaks both schemes: a TLS handshake starts with 0x16, which no
            // HTTP/1 request line does.
            if place == Place::Page {
                let mut first = [0u8; 1];
                let peeked = tokio::time::timeout(IDLE, stream.peek(&mut first)).await;
                if matches!(peeked, Ok(Ok(1))) && first[0] == 0x16 {
                    let acceptor = state.tls.clone();
                    if let Ok(Ok(tls)) = tokio::time::timeout(IDLE, acceptor.accept(stream)).await {
                        serve(tls, Place::Scheme, state).await;
                    }
                    return;
                }
            }
            serve(stream, place, state).await;
        });
    }
}

/// How long a connection may stay silent before its handshake or first byte.
const IDLE: std::time::Duration = std::time::Duration::from_secs(10);

async fn serve<IO>(io: IO, place: Place, state: Arc<State>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(state.handle(place, request).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // Every header line is the script's: no `Date` the simulation was not given.
        .auto_date_header(false)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// A TLS acceptor with a certificate made now, for `localhost` and `ip` (and 127.0.0.1):
/// nothing to install, and nothing a browser trusts until told to.
fn tls_acceptor(ip: std::net::IpAddr) -> std::io::Result<(tokio_rustls::TlsAcceptor, Vec<u8>)> {
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::rustls;
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    let other = |e: &dyn std::fmt::Display| {
        std::io::Error::other(format!("cannot make the TLS certificate: {e}"))
    };
    let made = rcgen::generate_simple_self_signed(names).map_err(|e| other(&e))?;
    let der = made.cert.der().to_vec();
    let cert = CertificateDer::from(der.clone());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| other(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| other(&e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(config)), der))
}

type Answer = Response<Full<Bytes>>;

fn text(status: StatusCode, body: impl Into<String>) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body.into())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn json(value: &impl serde::Serialize) -> Answer {
    json_text(serde_json::to_string(value).expect("a value serialises"))
}

/// A JSON document already written (the `simulate` answer keeps its exact bytes).
fn json_text(body: String) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl State {
    async fn handle(self: &Arc<State>, place: Place, request: Request<Incoming>) -> Answer {
        let path = request.uri().path().to_owned();
        if let Some(rest) = path.strip_prefix("/c/") {
            return self.target(place, rest, request);
        }
        if place != Place::Page {
            return text(
                StatusCode::NOT_FOUND,
                "this origin serves the playground's runs only (/c/<id>/...)\n",
            );
        }
        // The page and its API answer only under this playground's own address (an IP literal
        // or `localhost`, on the page's port): a page elsewhere that rebinds its own name to
        // 127.0.0.1 gets nothing from them.
        if !self.own_host(&request) {
            return text(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "open the playground as http://127.0.0.1:{port}/ or http://localhost:{port}/ (it \
                     answers under its own address only)\n",
                    port = self.page_port
                ),
            );
        }
        if request.method() == Method::POST
            && let Some(refused) = refuse_post(&request)
        {
            return refused;
        }
        match (request.method(), path.as_str()) {
            (&Method::GET, "/") => assets::page(),
            (&Method::GET, asset) if assets::get(asset).is_some() => assets::asset(asset),
            (&Method::POST, "/api/simulate") => self.simulate(request).await,
            (&Method::POST, "/api/runs") => self.register(request).await,
            (&Method::GET, token) if token.starts_with("/api/selftest/") => {
                let given = &token["/api/selftest/".len()..];
                match self.self_test.get() {
                    Some(expected) if expected == given => {
                        text(StatusCode::OK, "the self-test may run\n")
                    }
                    _ => text(StatusCode::NOT_FOUND, "no self-test here\n"),
                }
            }
            (&Method::GET, run) if run.starts_with("/api/runs/") => {
                match self.run(&run["/api/runs/".len()..]) {
                    Some(run) => json(&serde_json::json!({ "id": run.id, "seen": run.seen() })),
                    None => text(
                        StatusCode::NOT_FOUND,
                        "no such run (the playground keeps the last 64)\n",
                    ),
                }
            }
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    /// Whether the request names this playground's page by its address: `Host` is an IP
    /// literal or `localhost`, with the page's port.
    fn own_host(&self, request: &Request<Incoming>) -> bool {
        let Some(host) = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
        else {
            return false;
        };
        let Some((name, port)) = crate::run::split_authority(host) else {
            return false;
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        port == self.page_port
            && (name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok())
    }

    fn run(&self, id: &str) -> Option<Arc<Run>> {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .get(id)
            .cloned()
    }

    /// `POST /api/simulate?browser=B`: exactly `crossgate simulate --json --browser B`.
    async fn simulate(&self, request: Request<Incoming>) -> Answer {
        let browser = request
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|pair| pair.strip_prefix("browser="))
            .unwrap_or("chromium");
        let Some(browser) = Browser::ALL.into_iter().find(|b| b.id() == browser) else {
            return text(
                StatusCode::BAD_REQUEST,
                "browser must be chromium, firefox or webkit\n",
            );
        };
        let body = match read_body(request, MAX_DOCUMENT).await {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        let Ok(body) = std::str::from_utf8(&body) else {
            return text(
                StatusCode::BAD_REQUEST,
                "invalid simulation input: not UTF-8\n",
            );
        };
        match simulate::simulate(body, browser) {
            Ok(simulated) => json_text(simulated.to_json()),
            Err(e) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
        }
    }

    /// `POST /api/runs` with `{"page": ORIGIN, "case": CASE}`: registers a run.
    async fn register(&self, request: Request<Incoming>) -> Answer {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Registration {
            page: String,
            case: Case,
        }
        let body = match read_body(request, MAX_CASE).await {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        let registration: Registration = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return text(StatusCode::BAD_REQUEST, format!("invalid case: {e}\n")),
        };
        let id = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            use std::hash::BuildHasher;
            let n = *next;
            format!(
                "{:016x}{:016x}",
                self.ids.hash_one((n, 0u8)),
                self.ids.hash_one((n, 1u8))
            )
        };
        let Some(origins) = Origins::new(
            &registration.page,
            self.page_port,
            self.target_port,
            self.redirect_port,
            &id,
        ) else {
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "page {:?} is not this playground's origin (http://HOST:{})\n",
                    registration.page, self.page_port
                ),
            );
        };
        let run = match Run::new(id.clone(), &registration.case, origins) {
            Ok(run) => Arc::new(run),
            Err(problems) => return text(StatusCode::BAD_REQUEST, problems.join("\n") + "\n"),
        };
        let answer = serde_json::json!({
            "id": run.id,
            "url": run.url,
            "origins": Place::ALL.iter().map(|p| (p.as_str().to_owned(), run.origins.origin(*p).into())).collect::<serde_json::Map<_, _>>(),
            "simulate": run.simulate.iter().map(|(b, input)| (b.id().to_owned(), input.clone())).collect::<serde_json::Map<_, _>>(),
        });
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if runs.order.len() == MAX_RUNS
            && let Some(old) = runs.order.pop_front()
        {
            runs.by_id.remove(&old);
        }
        runs.order.push_back(id.clone());
        runs.by_id.insert(id, run);
        json(&answer)
    }

    /// A request under `/c/<id>/`: the run's scripted answer, logged.
    fn target(&self, place: Place, rest: &str, request: Request<Incoming>) -> Answer {
        let (id, tail) = rest
            .split_once('/')
            .map_or((rest, "/".to_owned()), |(id, tail)| {
                (id, format!("/{tail}"))
            });
        let Some(run) = self.run(id) else {
            return text(
                StatusCode::NOT_FOUND,
                "no such run (the playground keeps the last 64)\n",
            );
        };
        // The page's listener answers under both of its host names.
        let place = match place {
            Place::Page => {
                let host = request
                    .headers()
                    .get(header::HOST)
                    .map(HeaderValue::as_bytes)
                    .unwrap_or_default();
                let alias = run
                    .origins
                    .origin(Place::Host)
                    .trim_start_matches("http://");
                if host.eq_ignore_ascii_case(alias.as_bytes()) {
                    Place::Host
                } else {
                    Place::Page
                }
            }
            other => other,
        };
        let path = match request.uri().query() {
            Some(q) => format!("{tail}?{q}"),
            None => tail,
        };
        let (mut parts, _body) = request.into_parts();
        parts.uri = match path.parse() {
            Ok(uri) => uri,
            Err(_) => return text(StatusCode::BAD_REQUEST, "a path that does not parse\n"),
        };
        let answer = run.answer(place, Request::from_parts(parts, ()));
        wire(answer)
    }
}

/// A wire answer as hyper sends it: the lines in order, nothing added.
fn wire(answer: WireAnswer) -> Answer {
    let mut response = Response::new(Full::new(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in &answer.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes());
        let value = wire_value(value);
        // A run's answers were checked when it was registered.
        if let (Ok(name), Some(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    response
}

async fn read_body(request: Request<Incoming>, limit: usize) -> Result<Bytes, Answer> {
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {} KiB, or was cut off\n", limit >> 10),
        )),
    }
}

/// The API takes JSON from its own page only: `Content-Type: application/json` (which a
/// cross-site form cannot send without a preflight, and none is answered) and, when the browser
/// names one, an `Origin` that is the page's own.
fn refuse_post(request: &Request<Incoming>) -> Option<Answer> {
    let headers = request.headers();
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Some(text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as Content-Type: application/json\n",
        ));
    }
    let host = headers.get(header::HOST).map(HeaderValue::as_bytes);
    match headers.get(header::ORIGIN).map(HeaderValue::as_bytes) {
        Some(origin) if origin.strip_prefix(b"http://") != host => Some(text(
            StatusCode::FORBIDDEN,
            "only the playground's own page may use its API\n",
        )),
        _ => None,
    }
}
