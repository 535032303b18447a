//! A SaaS whose customers bring their own domains: the allowed origins change while serving.
//!
//! ```sh
//! cargo run -p crossgate --features tower --example multi_tenant
//! curl -X PUT --data 'https://shop.customer.example' http://127.0.0.1:9091/tenant-origins
//! curl -si http://127.0.0.1:8080/items -H 'Origin: https://shop.customer.example'
//! ```
//!
//! The API browsers call runs under a [`LivePolicy`]; the admin API (on loopback only, never
//! behind CORS) allows or revokes a tenant's origin, effective from the next request. An origin
//! that would weaken the policy (plain `http` with credentials, `*.` on a public suffix, `null`)
//! is refused with the reason and the fix, and the policy in force keeps serving.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use crossgate::policy::OriginList;
use crossgate::policy::{InvalidConfig, LivePolicy, Policy, Problem};
use crossgate::tower::CorsLayer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let live = LivePolicy::new(
        Policy::builder()
            .allow_origins(["https://app.example.com"])
            .allow_credentials(true)
            .allow_methods(["PUT", "DELETE"])
            .allow_headers(["content-type", "authorization"])
            .max_age(600)
            .build()?,
    );
    // At start-up, the tenants' origins from wherever they are kept (here a list file, one
    // origin a line; a database query works the same way).
    if let Ok(text) = std::fs::read_to_string("tenant-origins.txt") {
        let list = OriginList::parse(&text);
        let mut origins = vec!["https://app.example.com".to_owned()];
        origins.extend(list.patterns().map(str::to_owned));
        live.set_origins(origins)?;
    }

    let api = Router::new()
        .route("/items", get(|| async { "[]" }))
        .layer(CorsLayer::live(live.clone()));
    let admin = Router::new()
        .route("/tenant-origins", put(allow).delete(revoke))
        .with_state(live);

    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:9091").await?;
    println!("API on http://127.0.0.1:8080, admin on http://127.0.0.1:9091");
    tokio::try_join!(
        axum::serve(api_listener, api).into_future(),
        axum::serve(admin_listener, admin).into_future(),
    )?;
    Ok(())
}

/// `PUT /tenant-origins` with an origin as the body: allowed from the next request on.
async fn allow(State(live): State<LivePolicy>, origin: String) -> (StatusCode, String) {
    answer(live.add_origins([origin.trim()]))
}

/// `DELETE /tenant-origins` with an origin as the body: refused from the next request on.
async fn revoke(State(live): State<LivePolicy>, origin: String) -> (StatusCode, String) {
    answer(live.remove_origins([origin.trim()]))
}

/// 200 with any warnings, or 422 with every problem and its fix.
fn answer(result: Result<Vec<Problem>, InvalidConfig>) -> (StatusCode, String) {
    match result {
        Ok(warnings) => (
            StatusCode::OK,
            warnings.iter().map(|w| format!("{w}\n")).collect(),
        ),
        Err(refused) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{refused}\n")),
    }
}
