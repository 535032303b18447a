//! # crossgate
//!
//! CORS by the [WHATWG Fetch standard](https://fetch.spec.whatwg.org/#http-cors-protocol), both
//! halves of it: what a server answers, and what a browser does with the answer.
//!
//! ## Where to start
//!
//! | You want to | Start from |
//! |---|---|
//! | add CORS to an axum, tonic or hyper app | [`tower::CorsLayer`] (feature `tower`) |
//! | add CORS to an actix-web app | [`actix::Cors`] (feature `actix`) |
//! | write a policy in code, or read one from a file | [`policy::Policy::builder`], [`policy::PolicyConfig`] |
//! | change the allowed origins while serving | [`policy::LivePolicy`] |
//! | ask your database about origins the policy does not list | [`policy::Resolver`] (feature `resolve`) |
//! | decide requests in another framework | [`policy::Policy::decide`] with [`policy::RequestHead`] |
//! | know what a browser will do with a server's answers | [`agent::Scenario`], [`agent::Agent`] |
//! | read a pasted console message back to its cause | [`agent::explain`] |
//! | judge a browser's saved network log | [`har`] |
//! | probe a server for exploitable misconfigurations | [`audit`] |
//!
//! [`fetch`] and [`origin`] hold the standard's vocabulary (safelisted headers, header lists,
//! origins and sites), shared by both halves, so that the server side and the browser side
//! never disagree about a rule: the test suite runs each against the other, and both against
//! headless Chromium, Firefox and WebKit.
//!
//! ## The server side
//!
//! A [`Policy`](policy::Policy) is validated when it is built: every problem is reported at once,
//! each with its fix, and nothing panics. It matches an `Origin` at a cost independent of how
//! many origins are allowed and decides each request without allocating.
//!
//! ```
//! use crossgate::policy::{Decision, Policy};
//!
//! let policy = Policy::builder()
//!     .allow_origins(["https://app.example.com", "https://*.example.com"])
//!     .allow_credentials(true)
//!     .allow_methods(["PUT", "DELETE"])
//!     .allow_headers(["content-type"])
//!     .max_age(600)
//!     .build()?;
//!
//! let preflight = http::Request::options("/items")
//!     .header("origin", "https://admin.example.com")
//!     .header("access-control-request-method", "DELETE")
//!     .body(())?;
//! assert!(matches!(policy.decide(&preflight), Decision::PreflightAllowed(_)));
//!
//! // The apex is not a subdomain of itself, and a look-alike is not a subdomain at all.
//! assert!(!policy.allows_origin(b"https://example.com"));
//! assert!(!policy.allows_origin(b"https://example.com.evil.example"));
//!
//! // Refused, with the reason and the fix: `*` cannot be sent with credentials.
//! let refused = Policy::builder().allow_origins(["*"]).allow_credentials(true).build();
//! let problems = refused.unwrap_err();
//! assert_eq!(problems.errors().count(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The browser side
//!
//! The [`agent`] runs a fetch step by step as the standard says, with each engine's departures
//! in a [`Profile`](agent::Profile), and reports the verdict, what script may read, and the exact
//! console message Chromium, Firefox and WebKit print.
//!
//! ```
//! use crossgate::agent::Scenario;
//! use crossgate::browser::Browser;
//!
//! let scenario: Scenario = serde_json::from_str(r#"{
//!     "origin": "https://app.example.com",
//!     "request": {"url": "https://api.example.com/me", "credentials": "include"},
//!     "responses": {"actual": {"status": 200, "headers": [
//!         ["Access-Control-Allow-Origin", "*"]]}}
//! }"#)?;
//! let report = scenario.run(Browser::Firefox)?;
//! assert!(!report.allowed); // `*` does not cover a request with credentials
//! assert_eq!(report.error.unwrap().code, "WildcardOriginNotAllowed");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! None is on by default: the policy and the browser model need neither a runtime nor a
//! framework.
//!
//! - `tower`: [`tower::CorsLayer`] and [`tower::Cors`], for anything built on `tower::Service`
//!   and `http` 1.
//! - `actix`: [`actix::Cors`], for actix-web 4.
//! - `resolve`: [`policy::Resolver`], origins asked of the application's store, cached, with
//!   one lookup per origin at a time and timeouts; used by the two middlewares (tokio).

#![warn(missing_docs)]
#![deny(unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod agent;
pub mod audit;
pub mod browser;
mod codes;
pub mod fetch;
pub mod har;
mod http_glue;
pub mod origin;
pub mod policy;

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;
