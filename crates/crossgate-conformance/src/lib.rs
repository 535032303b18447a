//! # crossgate-conformance
//!
//! crossgate against real browsers. Headless Chromium, Firefox and WebKit (WebKitGTK's
//! MiniBrowser under a virtual X server) are the oracles, driven
//! through one interface ([`engine`]: find the browser, start it on a page with a new profile,
//! collect its console, stop it):
//!
//! - the **agent matrix** ([`agent_matrix`]): generated scenarios over every rule family of
//!   `cors-fetch-rules.md` run in the browser against scripted local servers, and through
//!   crossgate's agent for that browser; the verdict, every exchange that reached the server,
//!   the headers script can read and the browser's console message must be the same;
//! - the **policy matrix** ([`policy_matrix`]): policies served by the tower layer (in axum), the
//!   actix-web middleware and the gateway, fetched from several page origins; what the browser
//!   lets script do must be what the policy intends;
//! - the **playground** ([`playground`]): the playground page runs its starting points and a
//!   sample of the agent matrix through its own controls, and what it shows must be what the
//!   engine did.
//!
//! `tests/chromium.rs`, `tests/firefox.rs` and `tests/webkit.rs` run both ([`suite`]) whenever
//! the browser is found (see [`engine::Engine::find`]), say loudly when they skip them, and fail
//! instead of skipping when `CROSSGATE_REQUIRE_<ENGINE>=1` (CI sets all three).

pub mod agent_matrix;
pub mod chromium;
pub mod engine;
pub mod firefox;
pub mod har;
pub mod http;
pub mod playground;
pub mod policy_matrix;
pub mod runner;
pub mod scenarios;
pub mod scripted;
pub mod suite;
pub mod webkit;
pub mod wire;
