//! The SaaS example (examples/saas_tenants) served on 127.0.0.1 against real databases, an SQLite
//! file and a private PostgreSQL cluster started here: a row inserted grants access once the
//! cached refusal expires, a row deleted revokes it once the cached answer expires, and a locked
//! or broken database refuses new origins at the timeout without stalling the origins that are
//! listed or cached.
//!
//! PostgreSQL comes from `scripts/install-postgres`; without it the PostgreSQL test says so and
//! passes, unless `CROSSGATE_REQUIRE_POSTGRES=1` (CI sets it), which makes it fail.
#![cfg(all(feature = "tower", feature = "resolve"))]

#[path = "../examples/saas_tenants/tenants.rs"]
#[allow(dead_code)]
mod tenants;

use std::time::{Duration, Instant};

use bytes::Bytes;
use crossgate::policy::LivePolicy;
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
}

/// Where the tenants' table lives.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Sqlite,
    Postgres,
}

/// A database for one scenario.
struct Database {
    kind: Kind,
    url: String,
}

impl Database {
    fn sqlite(dir: &tempfile::TempDir) -> Database {
        Database {
            kind: Kind::Sqlite,
            url: format!("sqlite://{}/saas.db?mode=rwc", dir.path().display()),
        }
    }

    /// The statement that holds the table locked against readers until `COMMIT`.
    fn lock(&self) -> &'static [&'static str] {
        match self.kind {
            // SQLite's default rollback journal: readers wait for an exclusive transaction.
            Kind::Sqlite => &["BEGIN EXCLUSIVE"],
            Kind::Postgres => &[
                "BEGIN",
                "LOCK TABLE tenant_origins IN ACCESS EXCLUSIVE MODE",
            ],
        }
    }
}

impl Server {
    async fn start(database: &Database) -> Server {
        let db = database.url.clone();
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

async fn rows_grant_and_revoke_access_within_the_cache_time(database: &Database) {
    let server = Server::start(database).await;
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

async fn the_admin_routes_take_effect_at_once_and_grants_come_from_the_row(database: &Database) {
    let server = Server::start(database).await;
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

async fn a_locked_database_refuses_new_origins_at_the_timeout_and_stalls_nothing_else(
    database: &Database,
) {
    let server = Server::start(database).await;
    let mut db = server.sql().await;
    execute(
        &mut db,
        "INSERT INTO tenant_origins (origin, tenant) VALUES ('https://shop.tenant-a.example', 'a'), \
         ('https://new.tenant-b.example', 'b')",
    )
    .await;
    assert_eq!(server.allowed(SHOP).await.as_deref(), Some(SHOP));
    // Another connection holds the database locked (SQLite's rollback journal: readers wait).
    for statement in database.lock() {
        execute(&mut db, statement).await;
    }
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

async fn a_broken_database_refuses_and_counts_the_failures(database: &Database) {
    let server = Server::start(database).await;
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

/// Each scenario on a fresh SQLite file.
macro_rules! on_sqlite {
    ($($name:ident => $scenario:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let dir = tempfile::tempdir().unwrap();
            $scenario(&Database::sqlite(&dir)).await;
        }
    )*};
}

on_sqlite! {
    sqlite_rows_grant_and_revoke_access_within_the_cache_time =>
        rows_grant_and_revoke_access_within_the_cache_time,
    sqlite_the_admin_routes_take_effect_at_once =>
        the_admin_routes_take_effect_at_once_and_grants_come_from_the_row,
    sqlite_a_locked_database_refuses_at_the_timeout_and_stalls_nothing_else =>
        a_locked_database_refuses_new_origins_at_the_timeout_and_stalls_nothing_else,
    sqlite_a_broken_database_refuses_and_counts_the_failures =>
        a_broken_database_refuses_and_counts_the_failures,
}

/// Every scenario on PostgreSQL, each in a database of its own, in one private cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_scenario() {
    let Some(cluster) = postgres::Cluster::start().await else {
        return;
    };
    let scenarios: [(&str, Scenario); 4] = [
        ("grant_and_revoke", |d| {
            Box::pin(rows_grant_and_revoke_access_within_the_cache_time(d))
        }),
        ("admin_routes", |d| {
            Box::pin(the_admin_routes_take_effect_at_once_and_grants_come_from_the_row(d))
        }),
        ("locked", |d| {
            Box::pin(
                a_locked_database_refuses_new_origins_at_the_timeout_and_stalls_nothing_else(d),
            )
        }),
        ("broken", |d| {
            Box::pin(a_broken_database_refuses_and_counts_the_failures(d))
        }),
    ];
    for (name, scenario) in scenarios {
        let database = cluster.database(name).await;
        scenario(&database).await;
    }
}

type BoxedScenario<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// One scenario, run on a given database.
type Scenario = for<'a> fn(&'a Database) -> BoxedScenario<'a>;

mod postgres {
    //! A private PostgreSQL cluster: `initdb` into a temporary directory, `postgres` on
    //! 127.0.0.1 and a free port, stopped when dropped. As root, the server runs as the
    //! `postgres` user (PostgreSQL refuses to run as root).

    use std::os::unix::fs::chown;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use sqlx::Connection;

    use super::{Database, Kind};

    pub struct Cluster {
        server: Child,
        port: u16,
        _dir: tempfile::TempDir,
    }

    /// The directory of `initdb` and `postgres`, as scripts/install-postgres finds it.
    fn binaries() -> Option<PathBuf> {
        if let Ok(dir) = std::env::var("CROSSGATE_PG_BIN") {
            return Some(PathBuf::from(dir));
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file() && bin.join("postgres").is_file())
            .collect();
        found.sort();
        found.pop()
    }

    /// `program args...`, as the `postgres` user when this process is root.
    fn command(bin: &Path, program: &str, as_postgres: bool) -> Command {
        let path = bin.join(program);
        if as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn is_root() -> bool {
        // The owner of a file this process creates is its effective user.
        let probe = tempfile::NamedTempFile::new().expect("a temporary file");
        std::os::unix::fs::MetadataExt::uid(&probe.as_file().metadata().unwrap()) == 0
    }

    impl Cluster {
        /// A running cluster, or `None` (said on stderr) when PostgreSQL is not installed and
        /// not required.
        pub async fn start() -> Option<Cluster> {
            let required = std::env::var("CROSSGATE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
            let Some(bin) = binaries() else {
                assert!(
                    !required,
                    "CROSSGATE_REQUIRE_POSTGRES=1 but no PostgreSQL: run scripts/install-postgres"
                );
                eprintln!("SKIPPED: no PostgreSQL (scripts/install-postgres installs it)");
                return None;
            };
            let as_postgres = is_root();
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("data");
            if as_postgres {
                let user = Command::new("id")
                    .args(["-u", "postgres"])
                    .output()
                    .unwrap();
                let group = Command::new("id")
                    .args(["-g", "postgres"])
                    .output()
                    .unwrap();
                let id = |o: &std::process::Output| {
                    String::from_utf8_lossy(&o.stdout)
                        .trim()
                        .parse::<u32>()
                        .unwrap()
                };
                chown(dir.path(), Some(id(&user)), Some(id(&group))).unwrap();
            }
            let status = command(&bin, "initdb", as_postgres)
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", "crossgate", "-E", "UTF8", "--no-sync"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("initdb runs");
            assert!(status.success(), "initdb failed");
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let server = command(&bin, "postgres", as_postgres)
                .arg("-D")
                .arg(&data)
                .arg("-k")
                .arg(dir.path())
                .args(["-p", &port.to_string()])
                .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("postgres starts");
            let cluster = Cluster {
                server,
                port,
                _dir: dir,
            };
            let url = cluster.url("postgres");
            let started = Instant::now();
            sqlx::any::install_default_drivers();
            loop {
                match sqlx::AnyConnection::connect(&url).await {
                    Ok(c) => {
                        c.close().await.ok();
                        break;
                    }
                    Err(e) if started.elapsed() > Duration::from_secs(20) => {
                        panic!("PostgreSQL did not accept connections in 20 s: {e}")
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
            Some(cluster)
        }

        fn url(&self, database: &str) -> String {
            format!("postgres://crossgate@127.0.0.1:{}/{database}", self.port)
        }

        /// A new, empty database.
        pub async fn database(&self, name: &str) -> Database {
            let mut admin = sqlx::AnyConnection::connect(&self.url("postgres"))
                .await
                .unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
            Database {
                kind: Kind::Postgres,
                url: self.url(name),
            }
        }
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            // runuser passes the signal on to postgres, which then shuts down at once.
            let _ = Command::new("kill")
                .args(["-INT", &self.server.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.server.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.server.kill();
        }
    }
}
