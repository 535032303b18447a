//! The policy matrix: policies served by the tower layer in an axum app, by the actix-web
//! middleware and by the gateway (`crossgate serve`'s library, in front of a plain upstream);
//! a browser fetches from several page origins, and what script gets (allowed or not, the headers
//! it can read) must be what the policy intends.
//!
//! What a policy intends is computed here, independently of crossgate, from the policy's fields
//! and the README's rules: an origin matches a pattern (exact, `*`, `*.` subdomains, `:*` any
//! port); with credentials the policy must allow them; a request the browser preflights needs its
//! method (normalised as Fetch does; GET, HEAD and POST always; `*` for any) and every unsafe
//! header (listed, or `*`, which never covers `authorization`); script reads the safelisted
//! response headers and the exposed ones (all of them under `*` without credentials), never
//! `Set-Cookie`. The response's header names come from replaying the request over a raw
//! connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crossgate::policy::{Policy, PolicyConfig};

use crate::engine::Installed;
use crate::http::{self, Handler, RawRequest, RawResponse};
use crate::runner::{Batch, FetchJob, FetchStep, Pages, StepResult};

/// A policy as the matrix writes it.
#[derive(Clone, Debug)]
pub struct PolicySpec {
    pub name: &'static str,
    pub origins: Vec<String>,
    pub credentials: bool,
    pub methods: Vec<String>,
    pub headers: Vec<String>,
    pub expose: Vec<String>,
    pub max_age: Option<i64>,
}

impl PolicySpec {
    pub fn config(&self) -> PolicyConfig {
        PolicyConfig {
            allow_origins: self.origins.clone(),
            allow_credentials: self.credentials,
            allow_methods: self.methods.clone(),
            allow_headers: self.headers.clone(),
            expose_headers: self.expose.clone(),
            max_age: self.max_age,
            ..PolicyConfig::default()
        }
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The page origins, on the pages' port.
pub fn page_origins(port: u16) -> Vec<String> {
    [
        "127.0.0.1",
        "localhost",
        "app.localhost",
        "evil.localhost",
        "a.b.app.localhost",
    ]
    .iter()
    .map(|h| format!("http://{h}:{port}"))
    .collect()
}

/// The ten policies, for pages on `port`.
pub fn policies(port: u16) -> Vec<PolicySpec> {
    let o = |host: &str| format!("http://{host}:{port}");
    let default_methods = strings(&["GET", "HEAD", "POST"]);
    vec![
        PolicySpec {
            name: "one exact origin, defaults",
            origins: vec![o("127.0.0.1")],
            credentials: false,
            methods: default_methods.clone(),
            headers: vec![],
            expose: vec![],
            max_age: None,
        },
        PolicySpec {
            name: "one origin with credentials, PUT and DELETE, two headers, one exposed",
            origins: vec![o("app.localhost")],
            credentials: true,
            methods: strings(&["PUT", "DELETE"]),
            headers: strings(&["content-type", "authorization"]),
            expose: strings(&["x-request-id"]),
            max_age: Some(600),
        },
        PolicySpec {
            name: "any origin, any method, any header, everything exposed",
            origins: strings(&["*"]),
            credentials: false,
            methods: strings(&["*"]),
            headers: strings(&["*"]),
            expose: strings(&["*"]),
            max_age: Some(60),
        },
        PolicySpec {
            name: "any origin, * and authorization headers, PUT",
            origins: strings(&["*"]),
            credentials: false,
            methods: strings(&["PUT"]),
            headers: strings(&["*", "authorization"]),
            expose: strings(&["x-internal"]),
            max_age: None,
        },
        PolicySpec {
            name: "subdomains of app.localhost",
            origins: vec![format!("http://*.app.localhost:{port}")],
            credentials: false,
            methods: strings(&["PATCH"]),
            headers: strings(&["x-custom"]),
            expose: strings(&["x-request-id", "x-internal"]),
            max_age: None,
        },
        PolicySpec {
            name: "localhost on any port, with credentials",
            origins: strings(&["http://localhost:*"]),
            credentials: true,
            methods: strings(&["PATCH", "PUT"]),
            headers: strings(&["x-custom", "content-type"]),
            expose: strings(&["x-request-id"]),
            max_age: Some(0),
        },
        PolicySpec {
            name: "a list of origins",
            origins: vec![o("127.0.0.1"), o("app.localhost"), o("evil.localhost")],
            credentials: false,
            methods: strings(&["GET", "POST", "PUT"]),
            headers: strings(&["content-type"]),
            expose: strings(&["x-internal", "content-type"]),
            max_age: None,
        },
        PolicySpec {
            name: "credentials with * methods and headers (echoed)",
            origins: vec![o("127.0.0.1"), o("localhost")],
            credentials: true,
            methods: strings(&["*"]),
            headers: strings(&["*"]),
            expose: strings(&["x-request-id", "x-internal"]),
            max_age: Some(600),
        },
        PolicySpec {
            name: "no origin allowed",
            origins: vec![],
            credentials: false,
            methods: default_methods,
            headers: strings(&["x-custom"]),
            expose: strings(&["x-request-id"]),
            max_age: None,
        },
        PolicySpec {
            name: "lower-case patch, mixed-case header names",
            origins: vec![
                o("evil.localhost"),
                format!("http://*.app.localhost:{port}"),
            ],
            credentials: false,
            methods: strings(&["patch", "DELETE"]),
            headers: strings(&["X-Custom", "Content-Type"]),
            expose: strings(&["X-Request-Id"]),
            max_age: None,
        },
    ]
}

/// A request a page makes.
#[derive(Clone, Debug)]
pub struct PolicyRequest {
    pub label: &'static str,
    /// Index into [`page_origins`].
    pub page: usize,
    pub method: &'static str,
    pub headers: Vec<(&'static str, &'static str)>,
    pub credentials: &'static str,
}

/// The 25 requests each policy gets, from the five page origins.
pub fn requests() -> Vec<PolicyRequest> {
    let r = |label, page, method, headers: &[(&'static str, &'static str)], credentials| {
        PolicyRequest {
            label,
            page,
            method,
            headers: headers.to_vec(),
            credentials,
        }
    };
    vec![
        r("GET", 0, "GET", &[], "same-origin"),
        r("GET", 1, "GET", &[], "same-origin"),
        r("GET", 2, "GET", &[], "same-origin"),
        r("GET", 3, "GET", &[], "same-origin"),
        r("GET", 4, "GET", &[], "same-origin"),
        r("GET with credentials", 0, "GET", &[], "include"),
        r("GET with credentials", 1, "GET", &[], "include"),
        r("GET with credentials", 2, "GET", &[], "include"),
        r(
            "POST text/plain",
            0,
            "POST",
            &[("Content-Type", "text/plain")],
            "omit",
        ),
        r(
            "POST application/json",
            2,
            "POST",
            &[("Content-Type", "application/json")],
            "omit",
        ),
        r("PUT", 0, "PUT", &[], "omit"),
        r("PUT", 2, "PUT", &[], "omit"),
        r("put (normalised to PUT)", 4, "put", &[], "omit"),
        r("DELETE", 3, "DELETE", &[], "omit"),
        r("PATCH", 4, "PATCH", &[], "omit"),
        r("patch (stays lower case)", 3, "patch", &[], "omit"),
        r("HEAD", 1, "HEAD", &[], "omit"),
        r("GET with X-Custom", 4, "GET", &[("X-Custom", "1")], "omit"),
        r("GET with X-Custom", 1, "GET", &[("X-Custom", "1")], "omit"),
        r(
            "GET with Authorization",
            0,
            "GET",
            &[("Authorization", "Bearer t")],
            "omit",
        ),
        r(
            "GET with Authorization and credentials",
            2,
            "GET",
            &[("Authorization", "Bearer t")],
            "include",
        ),
        r(
            "PUT application/json with credentials",
            2,
            "PUT",
            &[("Content-Type", "application/json")],
            "include",
        ),
        r(
            "PATCH with X-Custom and credentials",
            1,
            "PATCH",
            &[("X-Custom", "1")],
            "include",
        ),
        r(
            "DELETE with X-Other",
            0,
            "DELETE",
            &[("X-Other", "1")],
            "omit",
        ),
        r(
            "GET with Accept-Language (safelisted)",
            3,
            "GET",
            &[("Accept-Language", "en")],
            "omit",
        ),
    ]
}

/// Fetch's method normalisation.
fn normalize(method: &str) -> String {
    const NORMALIZED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
    NORMALIZED
        .iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .map_or_else(|| method.to_owned(), |m| (*m).to_owned())
}

/// Whether `origin` (`scheme://host:port`) matches a pattern of the policy.
fn matches(pattern: &str, origin: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let split = |s: &str| -> Option<(String, String, String)> {
        let (scheme, rest) = s.split_once("://")?;
        let (host, port) = rest.rsplit_once(':')?;
        Some((scheme.to_owned(), host.to_owned(), port.to_owned()))
    };
    let (Some((ps, ph, pp)), Some((os, oh, op))) = (split(pattern), split(origin)) else {
        return pattern == origin;
    };
    let host_ok = match ph.strip_prefix("*.") {
        Some(base) => oh.ends_with(&format!(".{base}")),
        None => ph == oh,
    };
    ps == os && host_ok && (pp == "*" || pp == op)
}

/// Whether a request header is CORS-safelisted, for the few values the matrix sends.
fn safelisted(name: &str, value: &str) -> bool {
    match name.to_ascii_lowercase().as_str() {
        "accept" | "accept-language" | "content-language" => true,
        "content-type" => matches!(
            value.to_ascii_lowercase().as_str(),
            "text/plain" | "multipart/form-data" | "application/x-www-form-urlencoded"
        ),
        _ => false,
    }
}

/// What the policy intends for a request from `origin`: `None` when script must not get the
/// response, else the names of `response_headers` script may read.
pub fn intends(
    policy: &PolicySpec,
    origin: &str,
    request: &PolicyRequest,
    response_headers: &[String],
) -> Option<Vec<String>> {
    if !policy.origins.iter().any(|p| matches(p, origin)) {
        return None;
    }
    let include = request.credentials == "include";
    if include && !policy.credentials {
        return None;
    }
    let method = normalize(request.method);
    let safelisted_method = matches!(method.as_str(), "GET" | "HEAD" | "POST");
    let unsafe_headers: Vec<String> = request
        .headers
        .iter()
        .filter(|(n, v)| !safelisted(n, v))
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    if !safelisted_method || !unsafe_headers.is_empty() {
        let method_ok =
            safelisted_method || policy.methods.iter().any(|m| *m == method || m == "*");
        let star = policy.headers.iter().any(|h| h == "*");
        let headers_ok = unsafe_headers.iter().all(|h| {
            policy.headers.iter().any(|a| a.eq_ignore_ascii_case(h))
                || (star && h != "authorization")
        });
        if !method_ok || !headers_ok {
            return None;
        }
    }
    const SAFELISTED: [&str; 7] = [
        "cache-control",
        "content-language",
        "content-length",
        "content-type",
        "expires",
        "last-modified",
        "pragma",
    ];
    let all = !include && policy.expose.iter().any(|e| e == "*");
    let mut readable: Vec<String> = response_headers
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .filter(|n| n != "set-cookie" && n != "set-cookie2")
        .filter(|n| {
            all || SAFELISTED.contains(&n.as_str())
                || policy.expose.iter().any(|e| e.eq_ignore_ascii_case(n))
        })
        .collect();
    readable.sort();
    readable.dedup();
    Some(readable)
}

/// The three servers of one policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Tower,
    Actix,
    Gateway,
}

impl Server {
    pub const ALL: [Server; 3] = [Server::Tower, Server::Actix, Server::Gateway];

    pub fn name(self) -> &'static str {
        match self {
            Server::Tower => "tower (axum)",
            Server::Actix => "actix-web",
            Server::Gateway => "gateway",
        }
    }
}

/// The application's response, the same behind every server.
const APP_HEADERS: [(&str, &str); 5] = [
    ("content-type", "text/plain"),
    ("x-request-id", "42"),
    ("x-internal", "secret"),
    ("cache-control", "no-store"),
    ("set-cookie", "s=1; Path=/"),
];

async fn axum_app() -> impl axum::response::IntoResponse {
    let mut headers = axum::http::HeaderMap::new();
    for (n, v) in APP_HEADERS {
        headers.append(n, axum::http::HeaderValue::from_static(v));
    }
    (headers, "ok")
}

async fn actix_app() -> actix_web::HttpResponse {
    let mut response = actix_web::HttpResponse::Ok();
    for (n, v) in APP_HEADERS {
        response.append_header((n, v));
    }
    response.body("ok")
}

/// The servers, running until dropped.
struct Servers {
    /// Per policy: (tower, actix, gateway) addresses.
    addrs: Vec<[SocketAddr; 3]>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop_gateways: tokio::sync::watch::Sender<bool>,
    stop_actix: Option<std::sync::mpsc::Sender<()>>,
    actix_thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        let _ = self.stop_gateways.send(true);
        for t in &self.tasks {
            t.abort();
        }
        drop(self.stop_actix.take());
        if let Some(t) = self.actix_thread.take() {
            let _ = t.join();
        }
    }
}

async fn start(policies: &[Policy]) -> Result<Servers, String> {
    let mut tasks = Vec::new();
    // The upstream of the gateways: the application without CORS.
    let upstream_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot bind: {e}"))?;
    let upstream_addr = upstream_listener
        .local_addr()
        .map_err(|e| format!("no address: {e}"))?;
    tasks.push(tokio::spawn(async move {
        let _ = axum::serve(upstream_listener, axum::Router::new().fallback(axum_app)).await;
    }));
    let upstream = crossgate_gateway::Upstream::parse(&format!("http://{upstream_addr}"))
        .map_err(|e| format!("upstream: {e}"))?;

    // actix-web runs on its own system, in its own thread.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<Result<Vec<SocketAddr>, String>>();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let actix_policies = policies.to_vec();
    let actix_thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let mut handles = Vec::new();
            let mut addrs = Vec::new();
            for policy in actix_policies {
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new()
                        .wrap(crossgate::actix::Cors::new(policy.clone()))
                        .default_service(actix_web::web::to(actix_app))
                })
                .workers(1)
                .disable_signals()
                .bind(("127.0.0.1", 0));
                let server = match server {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = addr_tx.send(Err(format!("actix cannot bind: {e}")));
                        return;
                    }
                };
                addrs.push(server.addrs()[0]);
                let running = server.run();
                handles.push(running.handle());
                actix_web::rt::spawn(running);
            }
            let _ = addr_tx.send(Ok(addrs));
            // Wait for the stop signal (the sender dropped) without blocking the system.
            let _ = actix_web::rt::task::spawn_blocking(move || {
                let _ = stop_rx.recv();
            })
            .await;
            for h in handles {
                h.stop(false).await;
            }
        });
    });
    let actix_addrs = tokio::task::spawn_blocking(move || {
        addr_rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "actix-web did not start".to_owned())?
    })
    .await
    .map_err(|e| format!("actix start: {e}"))??;

    let (stop_gateways, stopped) = tokio::sync::watch::channel(false);
    let mut addrs = Vec::new();
    for (k, policy) in policies.iter().enumerate() {
        let tower_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot bind: {e}"))?;
        let tower_addr = tower_listener
            .local_addr()
            .map_err(|e| format!("no address: {e}"))?;
        let app = axum::Router::new()
            .fallback(axum_app)
            .layer(crossgate::tower::CorsLayer::new(policy.clone()));
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(tower_listener, app).await;
        }));
        let gateway = crossgate_gateway::Gateway::bind(
            "127.0.0.1:0".parse().expect("an address"),
            upstream.clone(),
            policy.clone(),
        )
        .await
        .map_err(|e| format!("the gateway cannot start: {e}"))?;
        let gateway_addr = gateway.local_addr();
        let mut stop = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let _ = gateway
                .serve(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        }));
        addrs.push([tower_addr, actix_addrs[k], gateway_addr]);
    }
    Ok(Servers {
        addrs,
        tasks,
        stop_gateways,
        stop_actix: Some(stop_tx),
        actix_thread: Some(actix_thread),
    })
}

/// One request on which the browser does not do what the policy intends.
#[derive(Clone, Debug)]
pub struct Mismatch {
    pub policy: String,
    pub server: &'static str,
    pub origin: String,
    pub request: String,
    pub intended: Option<Vec<String>>,
    /// What script saw in the browser.
    pub browser: StepResult,
}

/// The outcome of the matrix.
#[derive(Debug)]
pub struct Summary {
    /// The engine and its version (`Firefox 153.8.0esr`).
    pub browser: String,
    pub policies: usize,
    pub requests: usize,
    pub fetches: usize,
    pub agree: usize,
    pub allowed: usize,
    pub mismatches: Vec<Mismatch>,
    pub elapsed: Duration,
}

impl Summary {
    pub fn line(&self) -> String {
        format!(
            "policy matrix: {}/{} agree with the policies in {} ({} policies x {} requests x \
             tower, actix-web, gateway; {} allowed; {:.1} s in the browser)",
            self.agree,
            self.fetches,
            self.browser,
            self.policies,
            self.requests,
            self.allowed,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Runs the policy matrix in `browser`.
pub async fn run(browser: &Installed) -> Result<Summary, String> {
    let (page_listener, port) = http::bind()
        .await
        .map_err(|e| format!("cannot bind: {e}"))?;
    let origins = page_origins(port);
    let specs = policies(port);
    let compiled: Vec<Policy> = specs
        .iter()
        .map(|s| {
            Policy::new(&s.config()).map_err(|e| format!("policy `{}` does not build: {e}", s.name))
        })
        .collect::<Result<_, _>>()?;
    let servers = start(&compiled).await?;
    let requests = requests();

    // One job per (policy, server, request), in the batch of the request's page origin.
    let mut batches: Vec<Batch> = origins
        .iter()
        .map(|o| Batch {
            page_origin: o.clone(),
            jobs: Vec::new(),
        })
        .collect();
    let mut index = Vec::new(); // (batch, job) -> (policy, server, request)
    for (k, _) in specs.iter().enumerate() {
        for (s, server) in Server::ALL.iter().enumerate() {
            for (n, request) in requests.iter().enumerate() {
                let addr = servers.addrs[k][s];
                let id = format!("p{k}-{s}-{n}");
                let url = format!("http://{addr}/p{k}/{}/r{n}", server_path(*server));
                batches[request.page].jobs.push(FetchJob {
                    id,
                    steps: vec![FetchStep {
                        url,
                        method: request.method.to_owned(),
                        headers: request
                            .headers
                            .iter()
                            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                            .collect(),
                        credentials: request.credentials.to_owned(),
                        mode: "cors".to_owned(),
                        referrer_policy: String::new(),
                        wait_ms: 0,
                    }],
                });
                index.push((request.page, batches[request.page].jobs.len() - 1, k, s, n));
            }
        }
    }
    let pages = Pages::new(batches, None);
    let handler: Handler = {
        let pages = Arc::clone(&pages);
        Arc::new(move |r: &RawRequest| {
            pages
                .handle(r)
                .unwrap_or_else(|| RawResponse::with_body(404, "text/plain", Vec::new()))
        })
    };
    let page_server = http::serve(page_listener, handler);
    let run = pages.run(browser, Duration::from_secs(240)).await;
    page_server.abort();
    let run = run?;

    let mut summary = Summary {
        browser: browser.label(),
        policies: specs.len(),
        requests: requests.len(),
        fetches: index.len(),
        agree: 0,
        allowed: 0,
        mismatches: Vec::new(),
        elapsed: run.elapsed,
    };
    for (b, j, k, s, n) in index {
        let policy = &specs[k];
        let request = &requests[n];
        let origin = &origins[request.page];
        let result = run.results[b]
            .get(j)
            .and_then(|r| r.first())
            .cloned()
            .unwrap_or_default();
        // The response's header names, from the same request over a raw connection.
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        headers.push(("Origin".to_owned(), origin.clone()));
        let target = format!("/p{k}/{}/r{n}", server_path(Server::ALL[s]));
        let replay = http::request(
            servers.addrs[k][s],
            &normalize(request.method),
            &target,
            &headers,
            Duration::from_secs(10),
        )
        .await
        .map_err(|e| format!("replaying {target}: {e}"))?;
        let names: Vec<String> = replay.headers.iter().map(|(n, _)| n.clone()).collect();
        let intended = intends(policy, origin, request, &names);
        let mut readable = result.headers.clone();
        readable.sort();
        readable.dedup();
        let agree = match &intended {
            None => !result.ok,
            Some(want) => result.ok && *want == readable,
        };
        if result.ok {
            summary.allowed += 1;
        }
        if agree {
            summary.agree += 1;
        } else {
            summary.mismatches.push(Mismatch {
                policy: policy.name.to_owned(),
                server: Server::ALL[s].name(),
                origin: origin.clone(),
                request: format!(
                    "{} {} {:?} credentials {}",
                    request.label, request.method, request.headers, request.credentials
                ),
                intended,
                browser: result,
            });
        }
    }
    drop(servers);
    Ok(summary)
}

fn server_path(server: Server) -> &'static str {
    match server {
        Server::Tower => "tower",
        Server::Actix => "actix",
        Server::Gateway => "gateway",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_the_readme_says() {
        assert!(matches("*", "http://x:1"));
        assert!(matches("http://a.localhost:1", "http://a.localhost:1"));
        assert!(!matches("http://a.localhost:1", "http://a.localhost:2"));
        assert!(matches(
            "http://*.app.localhost:1",
            "http://a.b.app.localhost:1"
        ));
        assert!(!matches(
            "http://*.app.localhost:1",
            "http://app.localhost:1"
        ));
        assert!(matches("http://localhost:*", "http://localhost:9"));
        assert!(!matches("http://localhost:*", "http://app.localhost:9"));
    }

    #[test]
    fn every_policy_builds_and_the_matrix_is_big_enough() {
        let specs = policies(4000);
        assert!(specs.len() >= 10);
        for s in &specs {
            Policy::new(&s.config()).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        }
        assert!(requests().len() >= 25);
        let pages: std::collections::BTreeSet<usize> = requests().iter().map(|r| r.page).collect();
        assert_eq!(pages.len(), page_origins(4000).len());
    }

    #[test]
    fn intent() {
        let specs = policies(4000);
        let origins = page_origins(4000);
        let names = strings(&[
            "content-type",
            "x-request-id",
            "x-internal",
            "set-cookie",
            "date",
        ]);
        let req = |method, headers: &[(&'static str, &'static str)], credentials| PolicyRequest {
            label: "t",
            page: 0,
            method,
            headers: headers.to_vec(),
            credentials,
        };
        // One exact origin: only it, only safelisted methods, the safelisted headers.
        assert_eq!(
            intends(&specs[0], &origins[0], &req("GET", &[], "omit"), &names),
            Some(strings(&["content-type"]))
        );
        assert_eq!(
            intends(&specs[0], &origins[1], &req("GET", &[], "omit"), &names),
            None
        );
        assert_eq!(
            intends(&specs[0], &origins[0], &req("PUT", &[], "omit"), &names),
            None
        );
        assert_eq!(
            intends(&specs[0], &origins[0], &req("GET", &[], "include"), &names),
            None
        );
        // Everything under *, but never Authorization, and every header exposed.
        assert_eq!(
            intends(
                &specs[2],
                &origins[3],
                &req("patch", &[("X-A", "1")], "omit"),
                &names
            ),
            Some(strings(&[
                "content-type",
                "date",
                "x-internal",
                "x-request-id"
            ]))
        );
        assert_eq!(
            intends(
                &specs[2],
                &origins[3],
                &req("GET", &[("Authorization", "x")], "omit"),
                &names
            ),
            None
        );
        assert!(
            intends(
                &specs[3],
                &origins[3],
                &req("GET", &[("Authorization", "x")], "omit"),
                &names
            )
            .is_some()
        );
        // Lower-case patch is allowed where the policy says `patch`, PATCH is not.
        assert!(intends(&specs[9], &origins[3], &req("patch", &[], "omit"), &names).is_some());
        assert_eq!(
            intends(&specs[9], &origins[3], &req("PATCH", &[], "omit"), &names),
            None
        );
        assert!(intends(&specs[9], &origins[3], &req("delete", &[], "omit"), &names).is_some());
    }
}
