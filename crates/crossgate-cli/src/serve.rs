//! `crossgate serve [--config FILE] [--listen ADDR] [--upstream URL] [--admin ADDR]
//! [--log-format text|json]` (CONTRACTS §5).

use std::io::{IsTerminal, Write};

use crossgate::policy::Problem;
use crossgate_gateway::{
    BoundGateway, ConfigFile, Gateway, GatewayConfig, GatewayHandle, LoadError, StartError,
    Upstream,
};

use crate::cli::{LogFormat, ServeArgs};
use crate::report::{self, BOLD};
use crate::supervisor;
use crate::{Failure, Outcome};

pub fn run(args: &ServeArgs) -> Result<Outcome, Failure> {
    init_logging(args.log_format);
    let upstream = match &args.upstream {
        Some(text) => Some(
            Upstream::parse(text)
                .map_err(|e| Failure(format!("--upstream {text}: {} ({})", e.message, e.fix)))?,
        ),
        None => None,
    };
    let file = args.config.as_ref().map(|path| ConfigFile {
        path: path.clone(),
        listen: args.listen,
        upstream: upstream.clone(),
    });
    let (mut config, warnings, source) = match &file {
        None => {
            let mut config = GatewayConfig::development();
            if let Some(listen) = args.listen {
                config.listen = listen;
            }
            if let Some(upstream) = upstream {
                config.upstream = Some(upstream);
            }
            (
                config,
                Vec::new(),
                "the embedded development default".to_owned(),
            )
        }
        Some(file) => match file.load() {
            Ok((config, warnings)) => (config, warnings, file.path.display().to_string()),
            Err(LoadError::Invalid { problems, .. }) => {
                return refuse(&problems, &file.path.display().to_string());
            }
            Err(e) => return Err(Failure(e.to_string())),
        },
    };
    if let Some(admin) = args.admin {
        config.admin = Some(admin);
    }
    let mut err = anstream::stderr();
    for warning in &warnings {
        report::problem_line(&mut err, warning)?;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let bound = match Gateway::start(config.clone()).await {
            Ok(bound) => bound,
            Err(StartError::Invalid(problems)) => return refuse(&problems, &source),
            Err(e) => return Err(Failure(e.to_string())),
        };
        let shutdown = shutdown_signal();
        let handle = bound.handle();
        let listening = listening_status(&bound);
        let hangups = tokio::spawn(reload_on_hangup(
            hangup_signal(),
            handle.clone(),
            file.clone(),
            listening.clone(),
        ));
        print_banner(&bound, &config, &source)?;
        supervisor::ready(&listening);
        let watchdog = supervisor::spawn_watchdog();
        let watcher = match &file {
            Some(file) if !args.no_watch => Some(handle.watch(file.clone(), args.watch_interval)),
            _ => None,
        };
        bound.serve(shutdown).await?;
        hangups.abort();
        if let Some(watchdog) = watchdog {
            watchdog.abort();
        }
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        eprintln!("crossgate: stopped");
        Ok(Outcome::Yes)
    })
}

/// Prints every problem of a configuration that cannot start, then the verdict (exit 1).
fn refuse(problems: &[Problem], source: &str) -> Result<Outcome, Failure> {
    let mut err = anstream::stderr();
    for problem in report::sorted(problems) {
        report::problem_line(&mut err, problem)?;
    }
    let errors = problems.iter().filter(|p| p.is_error()).count();
    writeln!(
        err,
        "refusing to start: {} in {source} (check it with `crossgate lint {source}`)",
        report::count(errors, "error"),
    )?;
    Ok(Outcome::No)
}

fn print_banner(bound: &BoundGateway, config: &GatewayConfig, source: &str) -> Result<(), Failure> {
    let mut out = anstream::stdout();
    writeln!(out, "{}", listening_status(bound))?;
    if let Some(admin) = bound.admin_addr() {
        writeln!(out, "admin: http://{admin}/metrics, /healthz, /readyz")?;
    }
    let routes = config.routes_in_force();
    match routes.as_slice() {
        [only] if only.prefix == "/" && only.host.is_none() && only.cors.is_none() => {
            writeln!(out, "upstream: {}", only.upstream.describe())?;
        }
        _ => {
            writeln!(out, "routes (longest prefix first wins):")?;
            for r in &routes {
                let policy = if r.keep_upstream_cors {
                    "the upstream's own CORS headers"
                } else if r.cors.is_some() {
                    "its own policy"
                } else {
                    "the top-level policy"
                };
                writeln!(
                    out,
                    "  {}{} -> {} ({policy})",
                    r.host.as_deref().unwrap_or(""),
                    r.prefix,
                    r.upstream.describe()
                )?;
            }
            if config.upstream.is_none() {
                writeln!(out, "  anything else -> 404")?;
            }
        }
    }
    writeln!(out, "policy ({source}):")?;
    // The policy in normal form, as TOML, leaving out what is at its default.
    let policy = bound.policy();
    let defaults = toml::Table::try_from(crossgate::policy::PolicyConfig::default())?;
    let mut table = toml::Table::try_from(policy.config())?;
    table.retain(|key, value| key == "allow_origins" || defaults.get(key) != Some(value));
    // A long list (an origin list file of tenants) is shown by its first items.
    let origins = &policy.config().allow_origins;
    let hidden = origins.len().saturating_sub(BANNER_ORIGINS);
    if hidden > 0 {
        table.insert(
            "allow_origins".to_owned(),
            toml::Value::try_from(&origins[..BANNER_ORIGINS])?,
        );
    }
    let policy = toml::to_string(&table)?;
    for line in policy.lines().filter(|l| !l.is_empty()) {
        writeln!(out, "  {BOLD}{line}{BOLD:#}")?;
    }
    if hidden > 0 {
        let from = config
            .cors_origins_file
            .as_deref()
            .map_or(String::new(), |f| format!(", those of {f} included"));
        writeln!(
            out,
            "  (and {hidden} more: {} origins in all{from})",
            origins.len()
        )?;
    }
    writeln!(
        out,
        "  (GET, HEAD and POST are always allowed; press Ctrl-C to stop, SIGHUP to reload)"
    )?;
    out.flush()?;
    Ok(())
}

/// At most this many allowed origins are listed when the gateway starts.
const BANNER_ORIGINS: usize = 10;

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

/// Installs the SIGHUP handler now (before the banner), so no SIGHUP kills the process.
fn hangup_signal() -> Hangups {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
    }
}

/// The service manager's status line while serving (`systemctl status`).
fn listening_status(bound: &BoundGateway) -> String {
    let scheme = if bound.tls() { "https" } else { "http" };
    format!("listening on {scheme}://{}", bound.local_addr())
}

/// Reloads the configuration file on every SIGHUP (Unix only), telling the service manager
/// when the reload begins and ends.
async fn reload_on_hangup(
    hangups: Hangups,
    handle: GatewayHandle,
    file: Option<ConfigFile>,
    listening: String,
) {
    #[cfg(unix)]
    {
        let Some(mut hangups) = hangups else {
            return;
        };
        while hangups.recv().await.is_some() {
            match &file {
                Some(file) => {
                    tracing::info!(target: "crossgate::gateway", "SIGHUP: reloading {}", file.path.display());
                    supervisor::reloading();
                    let outcome = if handle.reload_file(file) {
                        "reloaded"
                    } else {
                        "reload refused, the configuration in force kept"
                    };
                    supervisor::ready(&format!(
                        "{listening}; {outcome} (generation {})",
                        handle.generation()
                    ));
                }
                None => tracing::warn!(
                    target: "crossgate::gateway",
                    "SIGHUP: nothing to reload (started without --config)"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (hangups, handle, file, listening);
        std::future::pending::<()>().await;
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled, so a signal sent as soon as the banner is out is caught.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut interrupt, mut terminate) = signals;
            let interrupt = async {
                match &mut interrupt {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let terminate = async {
                match &mut terminate {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = interrupt => {}
                () = terminate => {}
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        eprintln!("crossgate: shutting down, letting in-flight requests finish");
        supervisor::stopping();
    }
}

/// Logs to stderr; `RUST_LOG` sets the filter (default: info), colour only on a terminal for
/// text; `json` writes one JSON object per line.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => {
            let ansi = std::io::stderr().is_terminal()
                && anstream::ColorChoice::global() != anstream::ColorChoice::Never;
            builder.with_ansi(ansi).try_init()
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossgate::policy::Policy;

    #[test]
    fn the_embedded_default_is_valid_and_what_contracts_promise() {
        let config = GatewayConfig::development();
        assert!(Policy::check(&config.cors).problems().is_empty());
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(config.routes_in_force()[0].upstream.is_echo());
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
