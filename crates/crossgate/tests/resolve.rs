//! Origins resolved on demand: a real axum app and a real actix-web app whose unlisted origins are
//! asked of a store (in memory here, with its calls counted, answers, delays and failures set per
//! test; `tests/saas.rs` runs the same through SQLite). Caching, negative caching, single flight,
//! timeouts, failures, grants and the rules a resolved origin must pass.
#![cfg(all(feature = "tower", feature = "actix", feature = "resolve"))]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use crossgate::policy::{BoxError, OriginResolver, Resolution, Resolver, ResolverBuilder};
use crossgate::policy::{LivePolicy, Policy};
use crossgate::tower::CorsLayer;
use http::{HeaderMap, Request, StatusCode};
use tower::ServiceExt;

/// A store in memory: answers per origin, an optional delay per origin, a switch that makes
/// every lookup fail, and a count of lookups per origin.
#[derive(Clone, Default)]
struct Store {
    state: Arc<StoreState>,
}

#[derive(Default)]
struct StoreState {
    answers: Mutex<HashMap<String, Resolution>>,
    delays: Mutex<HashMap<String, Duration>>,
    failing: AtomicBool,
    calls: Mutex<HashMap<String, usize>>,
    total: AtomicUsize,
}

impl Store {
    fn with(answers: &[(&str, Resolution)]) -> Store {
        let store = Store::default();
        for (origin, answer) in answers {
            store.set(origin, answer.clone());
        }
        store
    }

    fn set(&self, origin: &str, answer: Resolution) {
        self.state
            .answers
            .lock()
            .unwrap()
            .insert(origin.into(), answer);
    }

    fn delay(&self, origin: &str, delay: Duration) {
        self.state
            .delays
            .lock()
            .unwrap()
            .insert(origin.into(), delay);
    }

    fn calls(&self, origin: &str) -> usize {
        self.state
            .calls
            .lock()
            .unwrap()
            .get(origin)
            .copied()
            .unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.state.total.load(Ordering::SeqCst)
    }
}

impl OriginResolver for Store {
    async fn resolve(&self, origin: &str) -> Result<Resolution, BoxError> {
        self.state.total.fetch_add(1, Ordering::SeqCst);
        *self
            .state
            .calls
            .lock()
            .unwrap()
            .entry(origin.into())
            .or_default() += 1;
        // The row is read first, the answer comes back after the delay (a slow network).
        let answer = self.state.answers.lock().unwrap().get(origin).cloned();
        let delay = self.state.delays.lock().unwrap().get(origin).copied();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if self.state.failing.load(Ordering::SeqCst) {
            return Err("connection to the database refused".into());
        }
        Ok(answer.unwrap_or(Resolution::Refused))
    }
}

const LISTED: &str = "https://app.example.com";
const TENANT: &str = "https://shop.tenant-a.example";
const ADMIN: &str = "https://admin.tenant-a.example";

fn base() -> Policy {
    Policy::builder()
        .allow_origins([LISTED])
        .allow_headers(["content-type"])
        .build()
        .unwrap()
}

fn builder(store: &Store) -> ResolverBuilder {
    Resolver::builder(store.clone()).grant(
        "admin",
        Policy::builder()
            .allow_credentials(true)
            .allow_methods(["PUT", "DELETE"])
            .allow_headers(["content-type", "authorization"]),
    )
}

/// Counts the handler's calls, to see actual requests reach it.
#[derive(Clone, Default)]
struct Handled(Arc<AtomicUsize>);

fn app(layer: CorsLayer, handled: &Handled) -> Router {
    let handled = handled.clone();
    Router::new()
        .route(
            "/items",
            get(move || {
                handled.0.fetch_add(1, Ordering::SeqCst);
                async { "[]" }
            }),
        )
        .layer(layer)
}

/// The app with the base policy and `resolver`.
fn serve(resolver: &Resolver) -> Router {
    app(
        CorsLayer::new(base()).resolver(resolver.clone()),
        &Handled::default(),
    )
}

async fn get_from(app: &Router, origin: &str) -> (StatusCode, HeaderMap) {
    let request = Request::get("/items")
        .header("origin", origin)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    (response.status(), response.headers().clone())
}

async fn preflight(app: &Router, origin: &str, method: &str) -> (StatusCode, HeaderMap) {
    let request = Request::options("/items")
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "content-type")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    (response.status(), response.headers().clone())
}

fn allow_origin(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap())
}

fn varies_by_origin(headers: &HeaderMap) -> bool {
    headers
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().to_ascii_lowercase().contains("origin"))
}

#[tokio::test]
async fn listed_origins_never_ask_the_store() {
    let store = Store::with(&[(TENANT, Resolution::Allowed)]);
    let resolver = builder(&store).build().unwrap();
    let app = serve(&resolver);
    let (_, headers) = get_from(&app, LISTED).await;
    assert_eq!(allow_origin(&headers), Some(LISTED));
    let (status, _) = preflight(&app, LISTED, "GET").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(store.total(), 0);
    assert_eq!(resolver.stats().lookups, 0);
}

#[tokio::test]
async fn an_allowed_origin_is_asked_once_then_served_from_the_cache() {
    let store = Store::with(&[(TENANT, Resolution::Allowed)]);
    let resolver = builder(&store).build().unwrap();
    let app = serve(&resolver);
    for _ in 0..5 {
        let (status, headers) = get_from(&app, TENANT).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(allow_origin(&headers), Some(TENANT));
        assert!(varies_by_origin(&headers));
        assert!(headers.get("access-control-allow-credentials").is_none());
    }
    // The default grant is the base policy: PUT is not among its methods.
    let (status, headers) = preflight(&app, TENANT, "PUT").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(allow_origin(&headers).is_none());
    let (status, headers) = preflight(&app, TENANT, "GET").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(allow_origin(&headers), Some(TENANT));
    assert_eq!(store.calls(TENANT), 1);
    let stats = resolver.stats();
    assert_eq!((stats.lookups, stats.allowed, stats.entries), (1, 1, 1));
}

#[tokio::test]
async fn a_refused_origin_is_cached_too() {
    let store = Store::default();
    let resolver = builder(&store).build().unwrap();
    let app = serve(&resolver);
    for _ in 0..3 {
        let (status, headers) = get_from(&app, "https://evil.example").await;
        assert_eq!(status, StatusCode::OK, "the handler still answers");
        assert!(allow_origin(&headers).is_none());
        assert!(varies_by_origin(&headers));
        let (status, headers) = preflight(&app, "https://evil.example", "GET").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(allow_origin(&headers).is_none());
        assert!(varies_by_origin(&headers));
    }
    assert_eq!(store.calls("https://evil.example"), 1);
    assert_eq!(resolver.stats().refused, 1);
}

#[tokio::test]
async fn malformed_origins_are_refused_before_asking() {
    // A store that would allow anything it is asked about.
    let store = Store::default();
    // Well-formed labels (at most 63 bytes), 376 bytes in all: only the length refuses it.
    let long = format!("https://{}.example", vec!["a".repeat(60); 6].join("."));
    assert!(long.len() > crossgate::policy::MAX_ORIGIN_LEN);
    assert!(crossgate::origin::Origin::parse_header(long.as_bytes()).is_ok());
    let malformed = [
        "null",
        "HTTPS://SHOP.TENANT-A.EXAMPLE",
        "https://shop.tenant-a.example/",
        "https://shop.tenant-a.example:443",
        "http://shop.tenant-a.example:80",
        "https://shop.tenant-a.example:0443",
        "https://*.tenant-a.example",
        "https://shop.tenant-a.example, https://evil.example",
        "https://user@shop.tenant-a.example",
        "https://shop.tenant-a.example?x",
        "http://[::1",
        "shop.tenant-a.example",
        "file://",
        long.as_str(),
    ];
    for origin in malformed {
        store.set(origin, Resolution::Allowed);
    }
    let resolver = builder(&store).build().unwrap();
    let app = serve(&resolver);
    for origin in malformed {
        let (_, headers) = get_from(&app, origin).await;
        assert!(allow_origin(&headers).is_none(), "{origin} allowed");
        let (status, _) = preflight(&app, origin, "GET").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{origin}");
    }
    assert_eq!(
        store.total(),
        0,
        "the store was asked about a malformed origin"
    );
    let stats = resolver.stats();
    assert_eq!(stats.malformed, 2 * malformed.len() as u64);
    assert_eq!(stats.entries, 0, "malformed origins take no cache space");
    // Well-formed unusual origins are asked about: IPv6, a port, punycode, localhost.
    for origin in [
        "http://[::1]:8080",
        "https://shop.tenant-a.example:8443",
        "https://xn--bcher-kva.example",
        "http://localhost:3000",
    ] {
        store.set(origin, Resolution::Allowed);
        let (_, headers) = get_from(&app, origin).await;
        assert_eq!(allow_origin(&headers), Some(origin));
        assert_eq!(store.calls(origin), 1, "{origin}");
    }
}

#[tokio::test]
async fn grants_give_their_own_settings() {
    let store = Store::with(&[
        (TENANT, Resolution::Allowed),
        (ADMIN, Resolution::Granted("admin".into())),
    ]);
    let resolver = builder(&store).build().unwrap();
    let app = serve(&resolver);
    let (status, headers) = preflight(&app, ADMIN, "PUT").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(allow_origin(&headers), Some(ADMIN));
    assert_eq!(
        headers.get("access-control-allow-credentials").unwrap(),
        "true"
    );
    assert!(
        headers
            .get("access-control-allow-methods")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("PUT")
    );
    let (_, headers) = get_from(&app, ADMIN).await;
    assert_eq!(allow_origin(&headers), Some(ADMIN));
    assert_eq!(
        headers.get("access-control-allow-credentials").unwrap(),
        "true"
    );
    // The tenant with the base policy's settings gets neither.
    let (status, _) = preflight(&app, TENANT, "PUT").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, headers) = get_from(&app, TENANT).await;
    assert!(headers.get("access-control-allow-credentials").is_none());
}

#[tokio::test]
async fn answers_a_grant_cannot_give_are_refused_and_counted() {
    let insecure = "http://shop.tenant-b.example";
    let store = Store::with(&[
        (TENANT, Resolution::Granted("no-such-grant".into())),
        (insecure, Resolution::Granted("admin".into())),
        ("http://localhost:5173", Resolution::Granted("admin".into())),
        ("http://shop.tenant-c.example", Resolution::Allowed),
    ]);
    let resolver = builder(&store).build().unwrap();
    let app = serve(&resolver);
    for refused in [TENANT, insecure] {
        let (_, headers) = get_from(&app, refused).await;
        assert!(allow_origin(&headers).is_none(), "{refused} allowed");
    }
    assert_eq!(resolver.stats().invalid, 2);
    // Loopback is potentially trustworthy, so credentials are fine; an insecure origin is fine
    // without credentials (the base policy has none).
    for allowed in ["http://localhost:5173", "http://shop.tenant-c.example"] {
        let (_, headers) = get_from(&app, allowed).await;
        assert_eq!(allow_origin(&headers), Some(allowed));
    }
}

#[tokio::test]
async fn a_live_base_is_read_per_request_and_its_credentials_rule_applies_to_cached_answers() {
    let insecure = "http://shop.tenant-c.example";
    let store = Store::with(&[
        (insecure, Resolution::Allowed),
        (TENANT, Resolution::Allowed),
    ]);
    let resolver = builder(&store).build().unwrap();
    let live = LivePolicy::new(base());
    let app = app(
        CorsLayer::live(live.clone()).resolver(resolver.clone()),
        &Handled::default(),
    );
    let (_, headers) = get_from(&app, insecure).await;
    assert_eq!(allow_origin(&headers), Some(insecure));
    // The base now sends credentials: the cached answer no longer passes the rule.
    let mut config = live.current().config().clone();
    config.allow_credentials = true;
    live.update(&config).unwrap();
    let (_, headers) = get_from(&app, insecure).await;
    assert!(allow_origin(&headers).is_none());
    let (_, headers) = get_from(&app, TENANT).await;
    assert_eq!(allow_origin(&headers), Some(TENANT));
    assert_eq!(
        headers.get("access-control-allow-credentials").unwrap(),
        "true"
    );
    // An origin added to the base is listed: the store is no longer consulted for it.
    live.add_origins(["https://new.example"]).unwrap();
    let (_, headers) = get_from(&app, "https://new.example").await;
    assert_eq!(allow_origin(&headers), Some("https://new.example"));
    assert_eq!(store.calls("https://new.example"), 0);
}

#[tokio::test]
async fn answers_expire_after_their_cache_time() {
    let store = Store::default();
    let resolver = builder(&store)
        .allowed_ttl(Duration::from_millis(300))
        .refused_ttl(Duration::from_millis(300))
        .build()
        .unwrap();
    let app = serve(&resolver);
    let (_, headers) = get_from(&app, TENANT).await;
    assert!(allow_origin(&headers).is_none());
    // The row is inserted: refused until the refusal expires, then allowed.
    store.set(TENANT, Resolution::Allowed);
    let (_, headers) = get_from(&app, TENANT).await;
    assert!(allow_origin(&headers).is_none(), "the refusal is cached");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, headers) = get_from(&app, TENANT).await;
    assert_eq!(allow_origin(&headers), Some(TENANT));
    // The row is deleted: allowed until the answer expires, then refused.
    store.set(TENANT, Resolution::Refused);
    let (_, headers) = get_from(&app, TENANT).await;
    assert_eq!(allow_origin(&headers), Some(TENANT), "the answer is cached");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, headers) = get_from(&app, TENANT).await;
    assert!(allow_origin(&headers).is_none());
    assert_eq!(store.calls(TENANT), 3);
    // `forget` drops one answer at once.
    store.set(TENANT, Resolution::Allowed);
    resolver.forget(TENANT);
    let (_, headers) = get_from(&app, TENANT).await;
    assert_eq!(allow_origin(&headers), Some(TENANT));
}

#[tokio::test]
async fn a_failing_store_refuses_and_is_counted() {
    let store = Store::with(&[(TENANT, Resolution::Allowed)]);
    store.state.failing.store(true, Ordering::SeqCst);
    let resolver = builder(&store)
        .failure_ttl(Duration::from_millis(300))
        .build()
        .unwrap();
    let app = serve(&resolver);
    for _ in 0..3 {
        let (status, headers) = get_from(&app, TENANT).await;
        assert_eq!(status, StatusCode::OK);
        assert!(allow_origin(&headers).is_none());
    }
    assert_eq!(resolver.stats().failures, 1);
    assert_eq!(
        store.calls(TENANT),
        1,
        "a failure is remembered for failure_ttl"
    );
    store.state.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, headers) = get_from(&app, TENANT).await;
    assert_eq!(allow_origin(&headers), Some(TENANT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_store_refuses_at_the_timeout_and_never_stalls_other_origins() {
    let slow = "https://slow.tenant.example";
    let store = Store::with(&[(slow, Resolution::Allowed), (TENANT, Resolution::Allowed)]);
    store.delay(slow, Duration::from_secs(30));
    let resolver = builder(&store)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let app = serve(&resolver);
    let started = Instant::now();
    let slow_request = tokio::spawn({
        let app = app.clone();
        async move { preflight(&app, slow, "GET").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Meanwhile another origin is answered at once.
    let (_, headers) = get_from(&app, TENANT).await;
    assert_eq!(allow_origin(&headers), Some(TENANT));
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    let (status, headers) = slow_request.await.unwrap();
    let waited = started.elapsed();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(allow_origin(&headers).is_none());
    assert!(
        waited >= Duration::from_millis(290) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(resolver.stats().timeouts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_lookup_for_a_thousand_concurrent_requests() {
    let store = Store::with(&[(TENANT, Resolution::Allowed)]);
    store.delay(TENANT, Duration::from_millis(200));
    let resolver = builder(&store).build().unwrap();
    let app = serve(&resolver);
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let app = app.clone();
        requests.spawn(async move {
            if i % 2 == 0 {
                get_from(&app, TENANT).await
            } else {
                preflight(&app, TENANT, "GET").await
            }
        });
    }
    let mut allowed = 0;
    while let Some(answer) = requests.join_next().await {
        let (_, headers) = answer.unwrap();
        if allow_origin(&headers) == Some(TENANT) {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 1000);
    assert_eq!(store.calls(TENANT), 1, "the store saw more than one query");
    assert_eq!(resolver.stats().lookups, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_lookups_at_once_refuse_without_asking() {
    let store = Store::default();
    let origins: Vec<String> = (0..5)
        .map(|i| format!("https://t{i}.tenant.example"))
        .collect();
    for origin in &origins {
        store.set(origin, Resolution::Allowed);
        store.delay(origin, Duration::from_millis(300));
    }
    let resolver = builder(&store).max_lookups(2).build().unwrap();
    let app = serve(&resolver);
    let mut requests = tokio::task::JoinSet::new();
    for origin in origins.clone() {
        let app = app.clone();
        requests.spawn(async move { get_from(&app, &origin).await });
    }
    let mut allowed = 0;
    while let Some(answer) = requests.join_next().await {
        allowed += usize::from(allow_origin(&answer.unwrap().1).is_some());
    }
    assert_eq!(allowed, 2);
    assert_eq!(store.total(), 2);
    assert_eq!(resolver.stats().overloaded, 3);
    // An overloaded refusal is not remembered: the next request asks.
    for origin in &origins {
        let (_, headers) = get_from(&app, origin).await;
        assert_eq!(allow_origin(&headers), Some(origin.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actual_requests_reach_the_handler_while_their_origin_is_looked_up() {
    let store = Store::with(&[(TENANT, Resolution::Allowed)]);
    store.delay(TENANT, Duration::from_millis(300));
    let resolver = builder(&store).build().unwrap();
    let handled = Handled::default();
    let app = app(CorsLayer::new(base()).resolver(resolver), &handled);
    let request = tokio::spawn({
        let app = app.clone();
        async move { get_from(&app, TENANT).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        handled.0.load(Ordering::SeqCst),
        1,
        "the handler waited for the lookup"
    );
    assert!(
        !request.is_finished(),
        "the response went out before the lookup ended"
    );
    let (status, headers) = request.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(allow_origin(&headers), Some(TENANT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_waiting_on_a_lookup_share_its_timeout_once() {
    let store = Store::with(&[(TENANT, Resolution::Allowed)]);
    store.delay(TENANT, Duration::from_secs(30));
    let resolver = builder(&store)
        .timeout(Duration::from_millis(300))
        .failure_ttl(Duration::from_secs(5))
        .build()
        .unwrap();
    let app = serve(&resolver);
    let started = Instant::now();
    let leader = tokio::spawn({
        let app = app.clone();
        async move { get_from(&app, TENANT).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The waiter is refused when the lookup it waits for times out.
    let (_, headers) = get_from(&app, TENANT).await;
    let waited = started.elapsed();
    assert!(allow_origin(&headers).is_none());
    assert!(
        waited >= Duration::from_millis(290) && waited < Duration::from_millis(390),
        "{waited:?}"
    );
    assert!(allow_origin(&leader.await.unwrap().1).is_none());
    assert_eq!(resolver.stats().timeouts, 1, "one lookup timed out");
    // The lookup had its whole timeout: the failure is remembered, the store not asked again.
    let (_, headers) = get_from(&app, TENANT).await;
    assert!(allow_origin(&headers).is_none());
    assert_eq!(store.calls(TENANT), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_taken_over_late_keeps_the_waiters_deadline_and_is_not_remembered() {
    let store = Store::with(&[(TENANT, Resolution::Allowed)]);
    store.delay(TENANT, Duration::from_secs(30));
    let resolver = builder(&store)
        .timeout(Duration::from_millis(300))
        .failure_ttl(Duration::from_secs(5))
        .build()
        .unwrap();
    let app = serve(&resolver);
    let leader = tokio::spawn({
        let app = app.clone();
        async move { get_from(&app, TENANT).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let waiter = tokio::spawn({
        let app = app.clone();
        async move { get_from(&app, TENANT).await }
    });
    // The leader's client goes away; the waiter takes the lookup over with 200 ms left.
    tokio::time::sleep(Duration::from_millis(100)).await;
    leader.abort();
    let (_, headers) = waiter.await.unwrap();
    let waited = started.elapsed();
    assert!(allow_origin(&headers).is_none());
    assert!(
        waited >= Duration::from_millis(290) && waited < Duration::from_millis(600),
        "the waiter kept its own deadline: {waited:?}"
    );
    assert_eq!(store.calls(TENANT), 2);
    // Its timeout came early, so it says nothing about the store: the next request asks.
    store.delay(TENANT, Duration::ZERO);
    let (_, headers) = get_from(&app, TENANT).await;
    assert_eq!(allow_origin(&headers), Some(TENANT));
    assert_eq!(store.calls(TENANT), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_lookup_is_taken_over_and_frees_its_slot() {
    let store = Store::with(&[
        (TENANT, Resolution::Allowed),
        ("https://other.tenant.example", Resolution::Allowed),
    ]);
    store.delay(TENANT, Duration::from_millis(200));
    let resolver = builder(&store)
        .timeout(Duration::from_secs(2))
        .max_lookups(1)
        .build()
        .unwrap();
    let app = serve(&resolver);
    // The first request's client goes away mid-lookup.
    let leader = tokio::spawn({
        let app = app.clone();
        async move { preflight(&app, TENANT, "GET").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiter = tokio::spawn({
        let app = app.clone();
        async move { get_from(&app, TENANT).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    leader.abort();
    let (_, headers) = waiter.await.unwrap();
    assert_eq!(allow_origin(&headers), Some(TENANT));
    assert_eq!(store.calls(TENANT), 2, "the waiter asked again");
    // The abandoned lookup's slot came back: with one slot, another origin is asked.
    let (_, headers) = get_from(&app, "https://other.tenant.example").await;
    assert_eq!(allow_origin(&headers), Some("https://other.tenant.example"));
    assert_eq!(resolver.stats().overloaded, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetting_an_origin_mid_lookup_discards_that_answer() {
    let store = Store::with(&[(TENANT, Resolution::Allowed)]);
    store.delay(TENANT, Duration::from_millis(200));
    let resolver = builder(&store).build().unwrap();
    let app = serve(&resolver);
    let request = tokio::spawn({
        let app = app.clone();
        async move { get_from(&app, TENANT).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The row changes while the lookup that read it is running.
    store.set(TENANT, Resolution::Refused);
    resolver.forget(TENANT);
    assert_eq!(allow_origin(&request.await.unwrap().1), Some(TENANT));
    let (_, headers) = get_from(&app, TENANT).await;
    assert!(
        allow_origin(&headers).is_none(),
        "the stale answer was kept"
    );
    assert_eq!(store.calls(TENANT), 2);
}

#[test]
fn a_resolver_with_problems_refuses_to_build_and_lists_every_one() {
    let store = Store::default();
    let invalid = Resolver::builder(store)
        .grant(
            "admin",
            Policy::builder().allow_origins(["https://x.example"]),
        )
        .grant("admin", Policy::builder())
        .grant(" ", Policy::builder())
        .grant(
            "wide",
            Policy::builder()
                .allow_credentials(true)
                .allow_methods(["*"])
                .expose_headers(["*"]),
        )
        .timeout(Duration::ZERO)
        .max_entries(15)
        .max_lookups(0)
        .build()
        .unwrap_err();
    let fields: Vec<(&str, &str)> = invalid
        .errors()
        .map(|p| (p.field.as_str(), p.code.as_str()))
        .collect();
    for expected in [
        ("grants.admin.allow_origins", "invalid-value"),
        ("grants.admin", "duplicate"),
        ("grants[2]", "empty-name"),
        (
            "grants.wide.expose_headers",
            "expose-wildcard-with-credentials",
        ),
        ("timeout", "invalid-value"),
        ("max_entries", "invalid-value"),
        ("max_lookups", "invalid-value"),
    ] {
        assert!(
            fields.contains(&expected),
            "{expected:?} missing from {fields:?}"
        );
    }
}

mod actix_app {
    use super::*;
    use actix_web::{App, HttpResponse, test, web};

    macro_rules! service {
        ($resolver:expr) => {
            test::init_service(
                App::new()
                    .wrap(crossgate::actix::Cors::new(base()).resolver($resolver))
                    .route(
                        "/items",
                        web::get().to(|| async { HttpResponse::Ok().body("[]") }),
                    ),
            )
            .await
        };
    }

    fn allowed<B>(response: &actix_web::dev::ServiceResponse<B>) -> Option<String> {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[actix_web::test]
    async fn origins_are_resolved_cached_and_granted() {
        let store = Store::with(&[
            (TENANT, Resolution::Allowed),
            (ADMIN, Resolution::Granted("admin".into())),
        ]);
        store.delay(TENANT, Duration::from_millis(100));
        let resolver = builder(&store).build().unwrap();
        let app = service!(resolver.clone());
        for _ in 0..3 {
            let request = test::TestRequest::get()
                .uri("/items")
                .insert_header(("origin", TENANT))
                .to_request();
            let response = test::call_service(&app, request).await;
            assert_eq!(response.status(), 200);
            assert_eq!(allowed(&response).as_deref(), Some(TENANT));
            assert!(response.headers().get("vary").is_some());
        }
        assert_eq!(store.calls(TENANT), 1);
        let request = test::TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/items")
            .insert_header(("origin", ADMIN))
            .insert_header(("access-control-request-method", "DELETE"))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 204);
        assert_eq!(allowed(&response).as_deref(), Some(ADMIN));
        assert_eq!(
            response
                .headers()
                .get("access-control-allow-credentials")
                .unwrap(),
            "true"
        );
        for refused in ["https://evil.example", "null", "https://*.tenant-a.example"] {
            let request = test::TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/items")
                .insert_header(("origin", refused))
                .insert_header(("access-control-request-method", "GET"))
                .to_request();
            let response = test::call_service(&app, request).await;
            assert_eq!(response.status(), 403, "{refused}");
            assert!(allowed(&response).is_none());
        }
        assert_eq!(
            store.total(),
            3,
            "null and the wildcard were not asked about"
        );
    }

    #[actix_web::test]
    async fn a_slow_store_refuses_at_the_timeout() {
        let store = Store::with(&[(TENANT, Resolution::Allowed)]);
        store.delay(TENANT, Duration::from_secs(30));
        let resolver = builder(&store)
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let app = service!(resolver.clone());
        let started = Instant::now();
        let request = test::TestRequest::get()
            .uri("/items")
            .insert_header(("origin", TENANT))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 200);
        assert!(allowed(&response).is_none());
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(190) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
        assert_eq!(resolver.stats().timeouts, 1);
    }
}
