//! `crossgate healthcheck [URL|HOST:PORT] [--timeout DURATION]`: the readiness probe of a
//! container image that has no HTTP client of its own (deploy/Dockerfile's HEALTHCHECK). One
//! GET, one line on stdout, and the exit code a health checker reads: 0 ready, 1 not.

use std::io::Write;

use crate::cli::HealthcheckArgs;
use crate::{Failure, Outcome};

pub fn run(args: &HealthcheckArgs) -> Result<Outcome, Failure> {
    let url = readiness_url(&args.url)?;
    // The TLS stack is never used (the admin listener speaks plain HTTP).
    let client = crate::check::blocking_client(
        args.timeout,
        concat!("crossgate/", env!("CARGO_PKG_VERSION"), " (healthcheck)"),
    )?;
    let mut out = std::io::stdout().lock();
    match client.get(url.clone()).send() {
        Ok(response) if response.status().is_success() => {
            writeln!(out, "ready: {} from {url}", response.status())?;
            Ok(Outcome::Yes)
        }
        Ok(response) => {
            writeln!(out, "not ready: {} from {url}", response.status())?;
            Ok(Outcome::No)
        }
        Err(e) => {
            writeln!(
                out,
                "not ready: no answer from {url} ({}): is the gateway running, with [admin] \
                 listen at this address?",
                cause(&e)
            )?;
            Ok(Outcome::No)
        }
    }
}

/// `http://...` as given; `HOST:PORT` (an address or a name) becomes `http://HOST:PORT/readyz`.
fn readiness_url(text: &str) -> Result<url::Url, Failure> {
    let text = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}/readyz")
    };
    let url = url::Url::parse(&text).map_err(|e| {
        Failure(format!(
            "{text}: {e} (give the admin listener's HOST:PORT, e.g. 127.0.0.1:9090, or its \
             http:// /readyz URL)"
        ))
    })?;
    if url.scheme() != "http" {
        return Err(Failure(format!(
            "{text}: the admin listener speaks plain HTTP; use an http:// URL"
        )));
    }
    Ok(url)
}

/// The innermost error: reqwest's own message says only "error sending request".
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}
