//! # crossgate-conformance
//!
//! crossgate against a real browser. Headless Chromium is the oracle:
//!
//! - the **agent matrix** ([`agent_matrix`]): generated scenarios over every rule family of
//!   `cors-fetch-rules.md` run in Chromium against scripted local servers, and through
//!   crossgate's agent; the verdict, every exchange that reached the server, the headers script
//!   can read and Chromium's console message must be the same;
//! - the **policy matrix** ([`policy_matrix`]): policies served by the tower layer (in axum), the
//!   actix-web middleware and the gateway, fetched from several page origins; what Chromium lets
//!   script do must be what the policy intends.
//!
//! `tests/chromium.rs` runs both whenever Chromium is found (see [`chromium::Chromium::find`]),
//! says loudly when it skips them, and fails instead of skipping when
//! `CROSSGATE_REQUIRE_CHROMIUM=1` (CI sets it).

pub mod agent_matrix;
pub mod chromium;
pub mod http;
pub mod policy_matrix;
pub mod runner;
pub mod scenarios;
pub mod scripted;
