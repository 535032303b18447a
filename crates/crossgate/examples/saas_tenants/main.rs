//! A SaaS API whose tenants' origins live in SQL, resolved by crossgate on demand.
//!
//! ```text
//! cargo run -p crossgate --example saas_tenants --features tower,resolve
//! cargo run -p crossgate --example saas_tenants --features tower,resolve -- postgres://localhost/saas
//! ```
//!
//! Then, from another terminal:
//!
//! ```text
//! curl -si localhost:3000/api/orders -H 'Origin: https://shop.tenant-a.example'   # no CORS headers
//! curl -s localhost:3000/admin/tenants/a/origins -d 'https://shop.tenant-a.example'
//! curl -si localhost:3000/api/orders -H 'Origin: https://shop.tenant-a.example'   # reflected
//! curl -s localhost:3000/admin/tenants/a/origins -d 'admin https://admin.tenant-a.example'
//! curl -si -X OPTIONS localhost:3000/api/orders -H 'Origin: https://admin.tenant-a.example' \
//!      -H 'Access-Control-Request-Method: PUT'                                  # 204, credentials
//! curl -s localhost:3000/admin/resolver                                          # the counters
//! ```

mod tenants;

use std::time::Duration;

use crossgate::policy::LivePolicy;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite://saas.db?mode=rwc".to_owned());
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let store = tenants::TenantOrigins::connect(&url).await?;
    let resolver = tenants::resolver(
        store.clone(),
        Duration::from_secs(60),
        Duration::from_millis(500),
    );
    let live = LivePolicy::new(tenants::base_policy());
    let app = tenants::app(live, resolver, store);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("tenants' origins from {url}; serving on http://{listen}");
    axum::serve(listener, app).await?;
    Ok(())
}
