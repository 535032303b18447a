//! The browser side: a model of what a user agent enforces, step by step as the Fetch standard
//! says, with each browser's departures in a [`Profile`].
//!
//! Where to start:
//!
//! - [`Scenario`]: a case described as data (the page's origin, the request, the server's
//!   answers), as `crossgate simulate` reads it. [`Scenario::run`] gives a [`Report`]: one
//!   browser's verdict, and each browser's message for its own. The example below starts there.
//! - [`Agent`]: the engine itself, over a [`Network`] you choose (a [`ScriptedNetwork`], a
//!   [`ReplayNetwork`], or your own). It keeps its preflight cache between fetches, and each
//!   [`Agent::fetch`] gives an [`Outcome`]: every exchange, and the [`CorsError`] that blocked
//!   it, if one did.
//! - To read back what a browser printed: [`paste`] and [`explain`].
//!
//! ```
//! use crossgate::agent::{Agent, Profile, RequestInit, Scenario};
//!
//! // Offline: given the server's answers, what does Chromium do?
//! let scenario: Scenario = serde_json::from_str(r#"{
//!     "origin": "http://127.0.0.1:9001",
//!     "request": {"url": "http://127.0.0.1:9002/items/1", "method": "PUT",
//!                 "headers": [["Content-Type", "application/json"]]},
//!     "responses": {"preflight": {"status": 204, "headers": [
//!         ["Access-Control-Allow-Origin", "http://127.0.0.1:9001"],
//!         ["Access-Control-Allow-Headers", "content-type"]]}}
//! }"#).unwrap();
//! let report = scenario.run(crossgate::browser::Browser::Chromium).unwrap();
//! assert!(!report.allowed);
//! assert_eq!(report.error.unwrap().code, "MethodDisallowedByPreflightResponse");
//! ```

mod cache;
pub mod check;
pub mod classify;
pub mod console;
mod engine;
mod error;
pub mod explain;
pub mod expose;
pub mod paste;
pub mod preflight;
mod profile;
pub mod redirect;
mod report;
mod request;
mod scenario;

pub use cache::{Clock, FakeClock, Lookup, PreflightCache, SystemClock};
pub use engine::{
    Agent, Exchange, ExchangeKind, Incoming, Network, NetworkFailure, Outcome, Outgoing,
    PreflightSent,
};
pub use error::{CorsError, ErrorCode, Stage};
pub use profile::{
    CacheModel, MaxAgeParsing, PreflightOrder, Profile, SchemeSet, UnlistedHeaderOrder,
};
pub use report::{
    ErrorReport, ExchangeReport, Messages, PreflightReport, Report, RequestReport, ResponseReport,
};
pub use request::{
    CredentialsMode, ReferrerPolicy, Request, RequestInit, RequestMode, Taint, Tainting,
};
pub use scenario::{
    OneOrMany, ReplayNetwork, Scenario, ScenarioError, ScenarioRequest, ScenarioResponses,
    ScriptedNetwork, ScriptedResponse, Sequence, SequenceStep, replay_others,
};
