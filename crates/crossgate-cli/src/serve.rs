//! `crossgate serve [--config FILE] [--listen ADDR] [--upstream URL]` (CONTRACTS §5).

use std::io::{IsTerminal, Write};

use crossgate::Policy;
use crossgate_gateway::{Gateway, GatewayConfig, LoadError, Upstream};

use crate::cli::ServeArgs;
use crate::report::{self, BOLD};
use crate::{Failure, Outcome};

pub fn run(args: &ServeArgs) -> Result<Outcome, Failure> {
    init_logging();
    let (mut config, warnings, source) = match &args.config {
        None => (
            GatewayConfig::development(),
            Vec::new(),
            "the embedded development default".to_owned(),
        ),
        Some(path) => match GatewayConfig::load(path) {
            Ok((config, warnings)) => (config, warnings, path.display().to_string()),
            Err(LoadError::Invalid { problems, .. }) => {
                let mut err = anstream::stderr();
                for problem in report::sorted(&problems) {
                    report::problem_line(&mut err, problem)?;
                }
                let errors = problems.iter().filter(|p| p.is_error()).count();
                writeln!(
                    err,
                    "refusing to start: {} in {} (check it with `crossgate lint {}`)",
                    report::count(errors, "error"),
                    path.display(),
                    path.display()
                )?;
                return Ok(Outcome::No);
            }
            Err(e) => return Err(Failure(e.to_string())),
        },
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(upstream) = &args.upstream {
        config.upstream = Upstream::parse(upstream)
            .map_err(|e| Failure(format!("--upstream {upstream}: {} ({})", e.message, e.fix)))?;
    }
    let checked = Policy::check(&config.cors);
    let Some(policy) = checked.policy else {
        return Err(Failure(format!("the policy of {source} is invalid")));
    };
    let mut err = anstream::stderr();
    for warning in &warnings {
        report::problem_line(&mut err, warning)?;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listen = config.listen;
        let bound = Gateway::bind(listen, config.upstream, policy)
            .await
            .map_err(|e| Failure(format!("cannot listen on {listen}: {e}")))?;
        print_banner(&bound, &source)?;
        bound.serve(shutdown_signal()).await?;
        eprintln!("crossgate: stopped");
        Ok(Outcome::Yes)
    })
}

fn print_banner(bound: &crossgate_gateway::BoundGateway, source: &str) -> Result<(), Failure> {
    let mut out = anstream::stdout();
    writeln!(out, "listening on http://{}", bound.local_addr())?;
    writeln!(out, "upstream: {}", bound.upstream().describe())?;
    writeln!(out, "policy ({source}):")?;
    // The policy in normal form, as TOML, leaving out what is at its default.
    let config = bound.policy().config();
    let defaults = toml::Table::try_from(crossgate::PolicyConfig::default())?;
    let mut table = toml::Table::try_from(config)?;
    table.retain(|key, value| key == "allow_origins" || defaults.get(key) != Some(value));
    let policy = toml::to_string(&table)?;
    for line in policy.lines().filter(|l| !l.is_empty()) {
        writeln!(out, "  {BOLD}{line}{BOLD:#}")?;
    }
    writeln!(
        out,
        "  (GET, HEAD and POST are always allowed; press Ctrl-C to stop)"
    )?;
    out.flush()?;
    Ok(())
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    eprintln!("crossgate: shutting down, letting in-flight requests finish");
}

/// Logs to stderr; `RUST_LOG` sets the filter (default: info), colour only on a terminal.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal()
        && anstream::ColorChoice::global() != anstream::ColorChoice::Never;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_is_valid_and_what_contracts_promise() {
        let config = GatewayConfig::development();
        assert!(Policy::check(&config.cors).problems.is_empty());
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(config.upstream.is_echo());
        let policy = Policy::new(&config.cors).unwrap();
        for origin in [
            "http://localhost:3000",
            "http://127.0.0.1:5173",
            "http://localhost",
        ] {
            assert!(policy.allows_origin(origin.as_bytes()), "{origin}");
        }
        assert!(!policy.allows_origin(b"https://localhost:3000"));
        assert!(!policy.allows_origin(b"http://example.com"));
        assert!(policy.allows_credentials());
        assert_eq!(policy.config().allow_methods, ["PUT", "PATCH", "DELETE"]);
        assert_eq!(
            policy.config().allow_headers,
            ["content-type", "authorization"]
        );
    }
}
