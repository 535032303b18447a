//! `LivePolicy` and origin edits: every edit rule from a table (tests/data/live_edits.json), an
//! edited policy answering exactly as a policy built fresh from the same list (property test),
//! and real axum and actix-web apps whose policy changes under concurrent load.

use std::collections::BTreeSet;

use crossgate::policy::{LivePolicy, OriginChanges, Policy, PolicyConfig};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct EditCase {
    name: String,
    policy: PolicyConfig,
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
    /// `"severity code field"` of every problem, in order.
    expect: Vec<String>,
    /// The edit is refused: the policy in force stays as it was.
    #[serde(default)]
    refused_edit: bool,
    /// The allowed origins in normal form afterwards, in order.
    origins: Option<Vec<String>>,
    varies_by_origin: Option<bool>,
    #[serde(default)]
    allowed: Vec<String>,
    #[serde(default)]
    refused: Vec<String>,
}

fn edit_cases() -> Vec<EditCase> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/live_edits.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("live_edits.json parses")
}

#[test]
fn every_edit_case() {
    let cases = edit_cases();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let policy = Policy::new(&case.policy).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let live = LivePolicy::new(policy.clone());
        let changes = OriginChanges::new()
            .add_all(&case.add)
            .remove_all(&case.remove);
        let result = live.change_origins(&changes);
        let problems = match &result {
            Ok(warnings) => warnings.clone(),
            Err(invalid) => invalid.problems().to_vec(),
        };
        let got: Vec<String> = problems
            .iter()
            .map(|p| format!("{} {} {}", p.severity_name(), p.code.as_str(), p.field))
            .collect();
        if got != case.expect {
            failures.push(format!(
                "{}: problems {got:?}, expected {:?}",
                case.name, case.expect
            ));
        }
        if result.is_err() != case.refused_edit {
            failures.push(format!("{}: refused = {}", case.name, result.is_err()));
        }
        let current = live.current();
        if case.refused_edit && current.config() != policy.config() {
            failures.push(format!("{}: a refused edit changed the policy", case.name));
        }
        // The edit on the policy itself agrees with the live handle, and leaves it unchanged.
        let checked = policy.with_origin_changes(&changes);
        if checked.problems() != problems || checked.policy().is_some() == case.refused_edit {
            failures.push(format!(
                "{}: Policy::with_origin_changes disagrees",
                case.name
            ));
        }
        if let Some(origins) = &case.origins
            && current.config().allow_origins != *origins
        {
            failures.push(format!(
                "{}: origins {:?}, expected {origins:?}",
                case.name,
                current.config().allow_origins
            ));
        }
        if let Some(vary) = case.varies_by_origin
            && current.varies_by_origin() != vary
        {
            failures.push(format!("{}: varies_by_origin is not {vary}", case.name));
        }
        for origin in &case.allowed {
            if !current.allows_origin(origin.as_bytes()) {
                failures.push(format!("{}: {origin} should be allowed", case.name));
            }
        }
        for origin in &case.refused {
            if current.allows_origin(origin.as_bytes()) {
                failures.push(format!("{}: {origin} should be refused", case.name));
            }
        }
        // Whatever was applied, the result equals a policy built from its own normal form.
        let rebuilt = Policy::new(current.config()).expect("the normal form builds");
        if rebuilt.config() != current.config() {
            failures.push(format!("{}: normal form does not round-trip", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

trait SeverityName {
    fn severity_name(&self) -> &'static str;
}

impl SeverityName for crossgate::policy::Problem {
    fn severity_name(&self) -> &'static str {
        if self.is_error() { "error" } else { "warning" }
    }
}

/// Patterns in normal form (so the model can compare text), chosen to overlap: exact origins
/// under `*.` patterns, the same host on several ports, `:*` beside a listed port, and `*`.
const PATTERNS: &[&str] = &[
    "https://a.example",
    "https://b.example:8443",
    "http://localhost:3000",
    "http://localhost:*",
    "https://*.example.com",
    "https://*.example.com:8443",
    "https://*.example.com:*",
    "https://*.a.example.com",
    "https://x.example.com",
    "http://[::1]:8080",
    "http://127.0.0.1:*",
    "*",
];

/// Request origins that the patterns above allow or refuse in every combination.
const PROBES: &[&str] = &[
    "https://a.example",
    "https://a.example:8443",
    "https://b.example:8443",
    "https://b.example",
    "http://localhost:3000",
    "http://localhost:4000",
    "http://localhost",
    "https://x.example.com",
    "https://y.x.example.com",
    "https://x.example.com:8443",
    "https://x.example.com:9000",
    "https://example.com",
    "https://q.a.example.com",
    "https://a.example.com",
    "http://[::1]:8080",
    "http://127.0.0.1:5",
    "http://127.0.0.1",
    "https://evil.example",
    "null",
];

/// One edit: indexes into `PATTERNS` to remove and to add.
fn edits() -> impl Strategy<Value = Vec<(Vec<usize>, Vec<usize>)>> {
    let indexes = || proptest::collection::vec(0..PATTERNS.len(), 0..3);
    proptest::collection::vec((indexes(), indexes()), 1..12)
}

/// The list semantics an edit must have: removals first, then additions appended (a pattern
/// listed already stays where it is); refused whole if `*` ends up beside another pattern.
fn model_edit(list: &[String], remove: &[usize], add: &[usize]) -> Option<Vec<String>> {
    let mut next: Vec<String> = list.to_vec();
    for &r in remove {
        next.retain(|p| p != PATTERNS[r]);
    }
    for &a in add {
        if !next.iter().any(|p| p == PATTERNS[a]) {
            next.push(PATTERNS[a].to_owned());
        }
    }
    let wild_mixed = next.iter().any(|p| p == "*") && next.len() > 1;
    (!wild_mixed).then_some(next)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// After any sequence of edits, the live policy answers every probe exactly as a policy
    /// built fresh from the same list, lists the same patterns in the same order, varies by
    /// origin alike, and refused edits changed nothing.
    #[test]
    fn an_edited_policy_answers_as_a_fresh_one(start in proptest::collection::vec(0..PATTERNS.len() - 1, 0..6), edits in edits()) {
        let mut model: Vec<String> = Vec::new();
        for &i in &start {
            if !model.iter().any(|p| p == PATTERNS[i]) {
                model.push(PATTERNS[i].to_owned());
            }
        }
        let live = LivePolicy::new(Policy::builder().allow_origins(model.clone()).build().unwrap());
        for (remove, add) in &edits {
            let changes = OriginChanges::new()
                .remove_all(remove.iter().map(|&i| PATTERNS[i]))
                .add_all(add.iter().map(|&i| PATTERNS[i]));
            let result = live.change_origins(&changes);
            match model_edit(&model, remove, add) {
                Some(next) => {
                    prop_assert!(result.is_ok(), "{:?} refused: {:?}", changes, result);
                    model = next;
                }
                None => prop_assert!(result.is_err(), "{:?} accepted", changes),
            }
            let current = live.current();
            let fresh = Policy::builder().allow_origins(model.clone()).build().unwrap();
            prop_assert_eq!(&current.config().allow_origins, &model);
            prop_assert_eq!(current.config(), fresh.config());
            prop_assert_eq!(current.varies_by_origin(), fresh.varies_by_origin());
            for probe in PROBES {
                prop_assert_eq!(
                    current.allows_origin(probe.as_bytes()),
                    fresh.allows_origin(probe.as_bytes()),
                    "{} with {:?}", probe, model
                );
            }
        }
    }
}

/// Replacing the whole list validates it with the rest of the policy in force, which is kept.
#[test]
fn set_origins_keeps_the_rest_of_the_policy() {
    let live = LivePolicy::new(
        Policy::builder()
            .allow_origins(["https://a.example"])
            .allow_credentials(true)
            .allow_methods(["PUT"])
            .max_age(600)
            .build()
            .unwrap(),
    );
    let refused = live
        .set_origins(["https://b.example", "http://insecure.example"])
        .unwrap_err();
    let codes: BTreeSet<&str> = refused.problems().iter().map(|p| p.code.as_str()).collect();
    assert_eq!(codes, BTreeSet::from(["insecure-origin-with-credentials"]));
    assert!(live.current().allows_origin(b"https://a.example"));
    live.set_origins(["https://b.example", "https://c.example"])
        .unwrap();
    let current = live.current();
    assert_eq!(
        current.config().allow_origins,
        ["https://b.example", "https://c.example"]
    );
    assert!(!current.allows_origin(b"https://a.example"));
    assert!(current.allows_credentials());
    assert_eq!(current.config().allow_methods, ["PUT"]);
    assert_eq!(current.config().max_age, Some(600));
}

/// A whole configuration replaces the policy, or is refused with every problem and changes
/// nothing.
#[test]
fn update_validates_the_whole_configuration() {
    let live = LivePolicy::new(
        Policy::builder()
            .allow_origins(["https://a.example"])
            .build()
            .unwrap(),
    );
    let bad = PolicyConfig {
        allow_origins: vec!["*".into()],
        allow_credentials: true,
        max_age: Some(-1),
        ..PolicyConfig::default()
    };
    let refused = live.update(&bad).unwrap_err();
    assert!(refused.problems().len() >= 2, "{refused}");
    assert!(live.current().allows_origin(b"https://a.example"));
    assert!(!live.current().allows_origin(b"https://b.example"));
    let good = PolicyConfig {
        allow_origins: vec!["https://b.example".into()],
        ..PolicyConfig::default()
    };
    assert!(live.update(&good).unwrap().is_empty());
    assert!(live.current().allows_origin(b"https://b.example"));
    assert!(!live.current().allows_origin(b"https://a.example"));
}

/// Edits made from many threads at once are all applied: none is lost to another.
#[test]
fn concurrent_edits_are_all_applied() {
    let live = LivePolicy::new(
        Policy::builder()
            .allow_origins(["https://app.example"])
            .build()
            .unwrap(),
    );
    std::thread::scope(|scope| {
        for t in 0..4 {
            let live = live.clone();
            scope.spawn(move || {
                for i in 0..50 {
                    live.add_origins([format!("https://t{t}-{i}.example")])
                        .unwrap();
                }
            });
        }
    });
    let current = live.current();
    assert_eq!(current.config().allow_origins.len(), 1 + 4 * 50);
    for t in 0..4 {
        for i in 0..50 {
            assert!(current.allows_origin(format!("https://t{t}-{i}.example").as_bytes()));
        }
    }
}

/// One origin added to or removed from 100,000 leaves the others allowed, and the copy in force
/// before the edit unchanged.
#[test]
fn editing_a_large_policy() {
    let origins: Vec<String> = (0..100_000)
        .map(|i| format!("https://tenant-{i}.example"))
        .collect();
    let live = LivePolicy::new(Policy::builder().allow_origins(origins).build().unwrap());
    let before = live.current();
    live.add_origins(["https://new.example"]).unwrap();
    live.remove_origins(["https://tenant-500.example"]).unwrap();
    let after = live.current();
    assert!(after.allows_origin(b"https://new.example"));
    assert!(!after.allows_origin(b"https://tenant-500.example"));
    assert!(after.allows_origin(b"https://tenant-99999.example"));
    assert!(before.allows_origin(b"https://tenant-500.example"));
    assert!(!before.allows_origin(b"https://new.example"));
    assert_eq!(after.config().allow_origins.len(), 100_000);
    assert_eq!(
        after.config().allow_origins.last().unwrap(),
        "https://new.example"
    );
}

/// Two policies that differ in every header a response carries, so that a response built
/// half from one and half from the other is seen.
mod under_load {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use crossgate::policy::{LivePolicy, Policy, PolicyConfig};
    use http::{HeaderMap, Method, Request, StatusCode};
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;

    type HttpClient = Client<HttpConnector, Empty<Bytes>>;

    /// A kept-alive HTTP/1.1 client.
    fn client() -> HttpClient {
        Client::builder(TokioExecutor::new()).build(HttpConnector::new())
    }

    /// Sends one request with the given headers; the status and headers, or why it failed.
    async fn send(
        client: &HttpClient,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, HeaderMap), String> {
        let mut request = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Empty::new()).unwrap();
        let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
            .await
            .map_err(|_| "no answer in 10 s".to_owned())?
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        http_body_util::BodyExt::collect(body)
            .await
            .map_err(|e| e.to_string())?;
        Ok((parts.status, parts.headers))
    }

    pub const APP: &str = "https://app.example.com";
    pub const OTHER: &str = "https://tenant.example";

    /// State A: only APP, PUT, `x-one`, 600 s. State B: APP and OTHER, DELETE, `x-two`, 60 s.
    pub fn state(b: bool) -> PolicyConfig {
        let (origins, method, expose, max_age): (&[&str], _, _, _) = if b {
            (&[APP, OTHER], "DELETE", "x-two", 60)
        } else {
            (&[APP], "PUT", "x-one", 600)
        };
        PolicyConfig {
            allow_origins: origins.iter().map(|o| o.to_string()).collect(),
            allow_methods: vec![method.into()],
            expose_headers: vec![expose.into()],
            max_age: Some(max_age),
            ..PolicyConfig::default()
        }
    }

    pub fn live() -> LivePolicy {
        LivePolicy::new(Policy::new(&state(false)).unwrap())
    }

    /// Which state a response came from, or why it is neither.
    fn judge(kind: usize, (status, headers): &(StatusCode, HeaderMap)) -> Result<bool, String> {
        let h = |name: &str| {
            headers
                .get(name)
                .map(|v| v.to_str().unwrap_or("?").to_owned())
        };
        let status = status.as_u16();
        let seen = (
            status,
            h("access-control-allow-origin"),
            h("access-control-allow-methods"),
            h("access-control-max-age"),
            h("access-control-expose-headers"),
        );
        let s = |v: &str| Some(v.to_owned());
        match kind {
            // An actual request from APP: allowed in both, exposing one state's header.
            0 if seen == (200, s(APP), None, None, s("x-one")) => Ok(false),
            0 if seen == (200, s(APP), None, None, s("x-two")) => Ok(true),
            // A preflight from OTHER asking for DELETE: only state B allows it.
            1 if seen == (403, None, None, None, None) => Ok(false),
            1 if seen == (204, s(OTHER), s("DELETE"), s("60"), None) => Ok(true),
            // A preflight from APP asking for PUT: only state A allows it.
            2 if seen == (204, s(APP), s("PUT"), s("600"), None) => Ok(false),
            2 if seen == (403, None, None, None, None) => Ok(true),
            _ => Err(format!(
                "request kind {kind}: {seen:?} belongs to neither policy"
            )),
        }
    }

    /// Sends `clients` x `each` requests over keep-alive connections while another thread
    /// swaps the policy between the two states as fast as it can. Every request must succeed
    /// and every response must come whole from one state; both states must have been seen.
    pub async fn hammer(base: String, live: LivePolicy, clients: usize, each: usize) {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (live, stop) = (live.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut swaps = 0u32;
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    live.update(&state(swaps.is_multiple_of(2)))
                        .expect("both states are valid");
                    swaps += 1;
                    std::thread::sleep(Duration::from_micros(200));
                }
                swaps
            })
        };
        let client = client();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let (client, base) = (client.clone(), base.clone());
            tasks.push(tokio::task::spawn_local(async move {
                let mut seen = [0usize; 2];
                let url = format!("{base}/items");
                for i in 0..each {
                    let kind = (c + i) % 3;
                    let (method, headers): (Method, &[(&str, &str)]) = match kind {
                        0 => (Method::GET, &[("origin", APP)]),
                        1 => (
                            Method::OPTIONS,
                            &[
                                ("origin", OTHER),
                                ("access-control-request-method", "DELETE"),
                            ],
                        ),
                        _ => (
                            Method::OPTIONS,
                            &[("origin", APP), ("access-control-request-method", "PUT")],
                        ),
                    };
                    let response = send(&client, method, &url, headers)
                        .await
                        .map_err(|e| format!("request {i} of client {c} failed: {e}"))?;
                    seen[usize::from(judge(kind, &response)?)] += 1;
                }
                Ok::<_, String>(seen)
            }));
        }
        let mut seen = [0usize; 2];
        let mut errors = Vec::new();
        for task in tasks {
            match task.await.expect("client task") {
                Ok(s) => (0..2).for_each(|i| seen[i] += s[i]),
                Err(e) => errors.push(e),
            }
        }
        stop.store(true, Ordering::Relaxed);
        let swaps = writer.join().unwrap();
        assert!(errors.is_empty(), "{}", errors.join("\n"));
        assert_eq!(seen[0] + seen[1], clients * each);
        assert!(
            seen[0] > 0 && seen[1] > 0 && swaps > 10,
            "both policies must serve during the run: {seen:?}, {swaps} swaps"
        );
    }

    /// A request that is inside the application when the policy changes.
    pub struct InFlight {
        pub entered: tokio::sync::Notify,
        pub release: tokio::sync::Notify,
    }

    impl InFlight {
        pub fn new() -> Arc<InFlight> {
            Arc::new(InFlight {
                entered: tokio::sync::Notify::new(),
                release: tokio::sync::Notify::new(),
            })
        }

        pub async fn handler(&self) -> &'static str {
            self.entered.notify_one();
            self.release.notified().await;
            "slow"
        }
    }

    /// A request that starts on state A finishes on A, though B is in force when its handler
    /// returns; the next request sees B.
    pub async fn in_flight_keeps_its_policy(base: String, live: LivePolicy, slow: Arc<InFlight>) {
        let client = client();
        let pending = {
            let (client, base) = (client.clone(), base.clone());
            tokio::task::spawn_local(async move {
                send(
                    &client,
                    Method::GET,
                    &format!("{base}/slow"),
                    &[("origin", APP)],
                )
                .await
            })
        };
        tokio::time::timeout(Duration::from_secs(10), slow.entered.notified())
            .await
            .expect("the slow request reached its handler");
        live.update(&state(true)).unwrap();
        slow.release.notify_one();
        let (_, headers) = pending.await.unwrap().unwrap();
        let expose = headers.get("access-control-expose-headers");
        assert_eq!(expose.unwrap(), "x-one", "the request started on state A");
        let (_, next) = send(
            &client,
            Method::GET,
            &format!("{base}/items"),
            &[("origin", APP)],
        )
        .await
        .unwrap();
        assert_eq!(next["access-control-expose-headers"], "x-two");
    }
}

mod axum_app {
    use std::sync::Arc;

    use axum::Router;
    use axum::routing::get;
    use crossgate::tower::CorsLayer;

    use super::under_load::{self, InFlight};

    async fn serve(live: crossgate::policy::LivePolicy, slow: Arc<InFlight>) -> String {
        let app = Router::new()
            .route("/items", get(|| async { "[]" }))
            .route("/slow", get(move || async move { slow.handler().await }))
            .layer(CorsLayer::live(live));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn policy_swapped_under_concurrent_load() {
        let live = under_load::live();
        let base = serve(live.clone(), InFlight::new()).await;
        tokio::task::LocalSet::new()
            .run_until(under_load::hammer(base, live, 8, 300))
            .await;
    }

    #[tokio::test]
    async fn requests_in_flight_finish_on_their_policy() {
        let (live, slow) = (under_load::live(), InFlight::new());
        let base = serve(live.clone(), Arc::clone(&slow)).await;
        tokio::task::LocalSet::new()
            .run_until(under_load::in_flight_keeps_its_policy(base, live, slow))
            .await;
    }
}

mod actix_app {
    use std::sync::Arc;

    use actix_web::{App, HttpResponse, web};
    use crossgate::actix::Cors;

    use super::under_load::{self, InFlight};

    fn serve(
        live: crossgate::policy::LivePolicy,
        slow: Arc<InFlight>,
    ) -> (String, actix_web::dev::ServerHandle) {
        let server = actix_web::HttpServer::new(move || {
            let slow = Arc::clone(&slow);
            App::new()
                .wrap(Cors::live(live.clone()))
                .route(
                    "/items",
                    web::get().to(|| async { HttpResponse::Ok().body("[]") }),
                )
                .route(
                    "/slow",
                    web::get().to(move || {
                        let slow = Arc::clone(&slow);
                        async move { HttpResponse::Ok().body(slow.handler().await) }
                    }),
                )
        })
        .workers(2)
        .bind("127.0.0.1:0")
        .unwrap();
        let addr = server.addrs()[0];
        let running = server.run();
        let handle = running.handle();
        actix_web::rt::spawn(running);
        (format!("http://{addr}"), handle)
    }

    #[actix_web::test]
    async fn policy_swapped_under_concurrent_load() {
        let live = under_load::live();
        let (base, handle) = serve(live.clone(), InFlight::new());
        under_load::hammer(base, live, 8, 300).await;
        handle.stop(true).await;
    }

    #[actix_web::test]
    async fn requests_in_flight_finish_on_their_policy() {
        let (live, slow) = (under_load::live(), InFlight::new());
        let (base, handle) = serve(live.clone(), Arc::clone(&slow));
        under_load::in_flight_keeps_its_policy(base, live, slow).await;
        handle.stop(true).await;
    }
}
