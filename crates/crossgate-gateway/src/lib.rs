//! # crossgate-gateway
//!
//! The CORS gateway behind `crossgate serve`: a reverse proxy that answers preflights itself,
//! forwards every other request to an upstream (bodies streaming both ways), and writes the
//! policy's headers into every response, the upstream's errors and the gateway's own 502s
//! included. CORS itself is `crossgate::tower::Cors`; this crate is the HTTP around it.
//!
//! - [`GatewayConfig`]: the configuration file (`listen`, `upstream`, `[cors]`), read so that
//!   every problem is reported at once.
//! - [`Gateway::bind`] then [`BoundGateway::serve`]: HTTP/1.1 and h2c on one port, graceful
//!   shutdown.
//! - [`Upstream`]: an `http://` origin server, or the built-in echo upstream that answers with a
//!   JSON description of the request it received.
//!
//! What the proxy does to a request, in order: a request with both `Content-Length` and
//! `Transfer-Encoding` is refused (400, connection closed); a preflight is answered by the CORS
//! layer and goes no further; otherwise hop-by-hop headers are removed (and those `Connection`
//! names), `Host` becomes the upstream's, `X-Forwarded-For` / `-Proto` / `-Host` are set, and
//! the path is joined onto the upstream's base path. Redirects are passed back, never followed.

#![warn(missing_docs)]
#![deny(unreachable_pub)]

mod admin;
mod body;
mod config;
mod echo;
mod handle;
mod hop;
mod limits;
mod metrics;
pub mod origins_file;
mod pool;
mod process;
mod proxy;
mod reload;
mod route;
mod runtime;
mod server;
mod smuggling;
mod tls;
mod upstream;

use std::fmt;

pub use config::{GatewayConfig, LoadError, TlsFiles, parse_listen};
pub use echo::MAX_ECHO_BODY;
pub use handle::GatewayHandle;
pub use hop::HOP_BY_HOP;
pub use limits::{Limits, Timeouts, parse_duration};
pub use reload::ConfigFile;
pub use route::{ForwardedMode, RouteConfig};
pub use server::{BoundGateway, Gateway, StartError};
pub use upstream::{HttpUpstream, Upstream};

/// Why a configuration value (a listen address, an upstream URL) was refused, and what to write
/// instead. The configuration reader turns it into a `crossgate::policy::Problem`; the CLI can
/// print it for `--listen` and `--upstream`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    /// Why it is refused.
    pub message: String,
    /// What to write instead.
    pub fix: String,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (fix: {})", self.message, self.fix)
    }
}

impl std::error::Error for ValueError {}
