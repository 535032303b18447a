//! The SaaS example (examples/saas_tenants) served on 127.0.0.1 against a real SQLite database:
//! a row inserted grants access once the cached refusal expires, a row deleted revokes it once the
//! cached answer expires, and a locked or broken database refuses new origins at the timeout
//! without stalling the origins that are listed or cached.
#![cfg(all(feature = "tower", feature = "resolve"))]

#[path = "../examples/saas_tenants/tenants.rs"]
#[allow(dead_code)]
mod tenants;

use std::time::{Duration, Instant};

use bytes::Bytes;
use crossgate::LivePolicy;
use crossgate::policy::Resolver;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sqlx::Connection;
use tenants::TenantOrigins;

const TTL: Duration = Duration::from_millis(400);
const TIMEOUT: Duration = Duration::from_millis(300);
const LISTED: &str = "https://app.saas.example";
const SHOP: &str = "https://shop.tenant-a.example";

struct Server {
    base: String,
    db: String,
    resolver: Resolver,
    client: Client<HttpConnector, Full<Bytes>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/saas.db?mode=rwc", dir.path().display());
        let store = TenantOrigins::connect(&db).await.unwrap();
        let resolver = tenants::resolver(store.clone(), TTL, TIMEOUT);
        let live = LivePolicy::new(tenants::base_policy());
        let app = tenants::app(live, resolver.clone(), store);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server {
            base,
            db,
            resolver,
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
            _dir: dir,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, HeaderMap) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(10), self.client.request(request))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        let (parts, body) = response.into_parts();
        http_body_util::BodyExt::collect(body).await.unwrap();
        (parts.status, parts.headers)
    }

    /// The `Access-Control-Allow-Origin` a GET from `origin` gets.
    async fn allowed(&self, origin: &str) -> Option<String> {
        let (status, headers) = self
            .send(Method::GET, "/api/orders", &[("origin", origin)], "")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers.get("vary").unwrap(), "Origin");
        headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// A connection of its own to the database, as another service writing the table would.
    async fn sql(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.db).await.unwrap()
    }
}

async fn execute(db: &mut sqlx::AnyConnection, statement: &str) {
    sqlx::query(statement).execute(db).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_grant_and_revoke_access_within_the_cache_time() {
    let server = Server::start().await;
    let mut db = server.sql().await;
    assert_eq!(server.allowed(LISTED).await.as_deref(), Some(LISTED));
    assert_eq!(server.allowed(SHOP).await, None);
    // Another service inserts the row: the cached refusal holds until it expires.
    execute(
        &mut db,
        "INSERT INTO tenant_origins (origin, tenant) VALUES ('https://shop.tenant-a.example', 'a')",
    )
    .await;
    assert_eq!(server.allowed(SHOP).await, None);
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    assert_eq!(server.allowed(SHOP).await.as_deref(), Some(SHOP));
    // The row is deleted: the cached answer holds until it expires.
    execute(
        &mut db,
        "DELETE FROM tenant_origins WHERE origin = 'https://shop.tenant-a.example'",
    )
    .await;
    assert_eq!(server.allowed(SHOP).await.as_deref(), Some(SHOP));
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    assert_eq!(server.allowed(SHOP).await, None);
    let stats = server.resolver.stats();
    assert_eq!((stats.lookups, stats.allowed, stats.refused), (3, 1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_routes_take_effect_at_once_and_grants_come_from_the_row() {
    let server = Server::start().await;
    let admin = "https://admin.tenant-a.example";
    assert_eq!(server.allowed(admin).await, None);
    let (status, _) = server
        .send(
            Method::POST,
            "/admin/tenants/a/origins",
            &[],
            "admin https://admin.tenant-a.example",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, headers) = server
        .send(
            Method::OPTIONS,
            "/api/orders",
            &[
                ("origin", admin),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "authorization"),
            ],
            "",
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers.get("access-control-allow-origin").unwrap(), admin);
    assert_eq!(
        headers.get("access-control-allow-credentials").unwrap(),
        "true"
    );
    // An origin not as browsers send it is refused at the door, with the reason.
    let (status, _) = server
        .send(
            Method::POST,
            "/admin/tenants/a/origins",
            &[],
            "https://Shop.Tenant-A.example/",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = server
        .send(Method::DELETE, "/admin/origins", &[], admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server.allowed(admin).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_refuses_new_origins_at_the_timeout_and_stalls_nothing_else() {
    let server = Server::start().await;
    let mut db = server.sql().await;
    execute(
        &mut db,
        "INSERT INTO tenant_origins (origin, tenant) VALUES ('https://shop.tenant-a.example', 'a'), \
         ('https://new.tenant-b.example', 'b')",
    )
    .await;
    assert_eq!(server.allowed(SHOP).await.as_deref(), Some(SHOP));
    // Another connection holds the database locked (SQLite's rollback journal: readers wait).
    execute(&mut db, "BEGIN EXCLUSIVE").await;
    let started = Instant::now();
    let new = "https://new.tenant-b.example";
    let pending = tokio::spawn({
        let server_base = server.base.clone();
        async move {
            let client: Client<HttpConnector, Full<Bytes>> =
                Client::builder(TokioExecutor::new()).build(HttpConnector::new());
            let request = Request::get(format!("{server_base}/api/orders"))
                .header("origin", new)
                .body(Full::new(Bytes::new()))
                .unwrap();
            let response = client.request(request).await.unwrap();
            response
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned())
        }
    });
    // The listed origin and the cached one are answered meanwhile, at once.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.allowed(LISTED).await.as_deref(), Some(LISTED));
    assert_eq!(server.allowed(SHOP).await.as_deref(), Some(SHOP));
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    // The new origin is refused once the lookup passes the timeout, never allowed.
    assert_eq!(pending.await.unwrap(), None);
    let waited = started.elapsed();
    assert!(waited >= TIMEOUT && waited < TIMEOUT * 4, "{waited:?}");
    assert!(server.resolver.stats().timeouts >= 1);
    execute(&mut db, "COMMIT").await;
    // Once the database answers again (and the failure's short cache time has passed), so
    // does the origin.
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    assert_eq!(server.allowed(new).await.as_deref(), Some(new));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_database_refuses_and_counts_the_failures() {
    let server = Server::start().await;
    let mut db = server.sql().await;
    execute(
        &mut db,
        "INSERT INTO tenant_origins (origin, tenant) VALUES ('https://shop.tenant-a.example', 'a')",
    )
    .await;
    execute(
        &mut db,
        "ALTER TABLE tenant_origins RENAME TO tenant_origins_moved",
    )
    .await;
    assert_eq!(server.allowed(SHOP).await, None);
    assert_eq!(server.allowed(LISTED).await.as_deref(), Some(LISTED));
    assert_eq!(server.resolver.stats().failures, 1);
    execute(
        &mut db,
        "ALTER TABLE tenant_origins_moved RENAME TO tenant_origins",
    )
    .await;
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    assert_eq!(server.allowed(SHOP).await.as_deref(), Some(SHOP));
}
