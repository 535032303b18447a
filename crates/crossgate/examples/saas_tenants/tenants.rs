//! The tenants' origins, in SQL through `sqlx`: an embedded SQLite file by default, PostgreSQL
//! when given a `postgres://` URL. Shared by the example's `main.rs` and `tests/saas.rs`.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use crossgate::policy::{BoxError, OriginResolver, Resolution, Resolver};
use crossgate::policy::{LivePolicy, Policy};
use crossgate::tower::CorsLayer;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// One row per origin a tenant's front end runs on; `grant` names the resolver grant it gets
/// (`NULL`: the base policy's settings).
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS tenant_origins (
    origin TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    grant_name TEXT
)";

/// The tenants' origins, asked by crossgate for every origin its policy does not list.
#[derive(Clone)]
pub struct TenantOrigins {
    pool: AnyPool,
}

impl TenantOrigins {
    /// Connects to `url` (`sqlite://saas.db?mode=rwc`, `postgres://user@host/db`) and creates
    /// the table if it is missing.
    pub async fn connect(url: &str) -> Result<TenantOrigins, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            // A lookup waits at most the resolver's timeout; a pool that cannot hand out a
            // connection fails sooner than that rather than queueing.
            .acquire_timeout(Duration::from_millis(250))
            .connect(url)
            .await?;
        sqlx::query(SCHEMA).execute(&pool).await?;
        Ok(TenantOrigins { pool })
    }

    /// Adds `origin` for `tenant`. The origin is stored in the form browsers send, so that the
    /// lookup can compare bytes: anything the resolver would never ask about is refused here,
    /// where the tenant can be told.
    pub async fn add(
        &self,
        tenant: &str,
        origin: &str,
        grant: Option<&str>,
    ) -> Result<(), BoxError> {
        if !Resolver::asks_about(origin) {
            return Err(format!(
                "`{origin}` is not an origin as browsers send it (scheme://host[:port], \
                 lowercase, no path, trailing slash or wildcard)"
            )
            .into());
        }
        sqlx::query("INSERT INTO tenant_origins (origin, tenant, grant_name) VALUES ($1, $2, $3)")
            .bind(origin)
            .bind(tenant)
            .bind(grant)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes `origin`; whether it was there.
    pub async fn remove(&self, origin: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM tenant_origins WHERE origin = $1")
            .bind(origin)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

impl OriginResolver for TenantOrigins {
    async fn resolve(&self, origin: &str) -> Result<Resolution, BoxError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT grant_name FROM tenant_origins WHERE origin = $1")
                .bind(origin)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            None => Resolution::Refused,
            Some((None,)) => Resolution::Allowed,
            Some((Some(grant),)) => Resolution::Granted(grant),
        })
    }
}

/// The policy every origin gets: the company's own front end is listed; tenants' origins come
/// from the table.
pub fn base_policy() -> Policy {
    Policy::builder()
        .allow_origins(["https://app.saas.example"])
        .allow_methods(["GET", "POST"])
        .allow_headers(["content-type"])
        .max_age(600)
        .build()
        .expect("a valid policy")
}

/// The resolver: tenants' admin consoles get the `admin` grant (credentials, writes).
pub fn resolver(store: TenantOrigins, ttl: Duration, timeout: Duration) -> Resolver {
    Resolver::builder(store)
        .grant(
            "admin",
            Policy::builder()
                .allow_credentials(true)
                .allow_methods(["GET", "POST", "PUT", "DELETE"])
                .allow_headers(["content-type", "authorization"])
                .max_age(600),
        )
        .allowed_ttl(ttl)
        .refused_ttl(ttl)
        .failure_ttl(ttl.min(Duration::from_secs(1)))
        .timeout(timeout)
        .build()
        .expect("a valid resolver")
}

/// The API (behind crossgate) and, beside it, the operator's routes to manage tenants' origins
/// (in a real deployment: authenticated, on an internal listener).
pub fn app(live: LivePolicy, resolver: Resolver, store: TenantOrigins) -> Router {
    let api = Router::new()
        .route(
            "/api/orders",
            get(|| async { "[]" }).put(|| async { "saved" }),
        )
        .layer(CorsLayer::live(live).resolver(resolver.clone()));
    let admin = Router::new()
        .route("/admin/tenants/{tenant}/origins", post(add_origin))
        .route("/admin/origins", delete(remove_origin))
        .route("/admin/resolver", get(stats))
        .with_state((store, resolver));
    api.merge(admin)
}

type AdminState = State<(TenantOrigins, Resolver)>;

/// `POST /admin/tenants/{tenant}/origins` with the origin as the body, or a grant's name, a
/// space and the origin (`admin https://admin.tenant-a.example`).
async fn add_origin(
    State((store, resolver)): AdminState,
    Path(tenant): Path<String>,
    body: String,
) -> (StatusCode, String) {
    let (grant, origin) = match body.trim().split_once(' ') {
        Some((grant, origin)) => (Some(grant), origin),
        None => (None, body.trim()),
    };
    if let Some(grant) = grant
        && !resolver.grants().any(|g| g == grant)
    {
        let known: Vec<&str> = resolver.grants().collect();
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("no grant `{grant}`; the resolver's grants: {known:?}\n"),
        );
    }
    match store.add(&tenant, origin, grant).await {
        Ok(()) => {
            // The refusal cached before the row existed would hold for the refused time.
            resolver.forget(origin);
            (
                StatusCode::CREATED,
                format!("{origin} added for {tenant}\n"),
            )
        }
        Err(error) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{error}\n")),
    }
}

/// `DELETE /admin/origins` with the origin as the body.
async fn remove_origin(State((store, resolver)): AdminState, body: String) -> (StatusCode, String) {
    let origin = body.trim();
    match store.remove(origin).await {
        Ok(true) => {
            resolver.forget(origin);
            (StatusCode::OK, format!("{origin} removed\n"))
        }
        Ok(false) => (StatusCode::NOT_FOUND, format!("{origin} was not listed\n")),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")),
    }
}

/// `GET /admin/resolver`: the resolver's counters.
async fn stats(State((_, resolver)): AdminState) -> String {
    format!("{:#?}\n", resolver.stats())
}
