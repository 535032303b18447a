//! `crossgate healthcheck [URL|ADDR] [--timeout DURATION]`: the readiness probe of a container
//! image that has no HTTP client of its own (deploy/Dockerfile's HEALTHCHECK). One GET, one
//! line on stdout, an exit code a health checker reads.

use std::io::Write;
use std::net::SocketAddr;

use crate::cli::HealthcheckArgs;
use crate::{Failure, Outcome};

pub fn run(args: &HealthcheckArgs) -> Result<Outcome, Failure> {
    let url = match args.url.parse::<SocketAddr>() {
        Ok(addr) => format!("http://{addr}/readyz"),
        Err(_) => args.url.clone(),
    };
    let parsed = url::Url::parse(&url).map_err(|e| {
        Failure(format!(
            "{url}: {e} (give the admin listener's address, e.g. 127.0.0.1:9090, or its /readyz URL)"
        ))
    })?;
    // The TLS stack is never used (the admin listener speaks plain HTTP), but reqwest's
    // client is built with one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(args.timeout)
        .user_agent(concat!(
            "crossgate/",
            env!("CARGO_PKG_VERSION"),
            " (healthcheck)"
        ))
        .build()
        .map_err(|e| Failure(format!("cannot build the HTTP client: {e}")))?;
    let response = client.get(parsed).send().map_err(|e| {
        Failure(format!(
            "{url}: no answer ({}): is the gateway running with [admin] listen at this address?",
            cause(&e)
        ))
    })?;
    let status = response.status();
    let mut out = std::io::stdout().lock();
    if status.is_success() {
        writeln!(out, "ready: {status} from {url}")?;
        Ok(Outcome::Yes)
    } else {
        writeln!(out, "not ready: {status} from {url}")?;
        Ok(Outcome::No)
    }
}

/// The innermost error: reqwest's own message says only "error sending request".
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}
