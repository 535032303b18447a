//! The command line, as clap sees it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "crossgate",
    version,
    about = "CORS by the Fetch standard: a strict CORS gateway, a policy linter and a browser simulator",
    long_about = "CORS by the Fetch standard.\n\n\
        `crossgate serve` runs a CORS gateway in front of a service that cannot change; \
        `crossgate lint` checks a policy or gateway configuration and says how to fix it; \
        `crossgate simulate` and `crossgate check` say what a browser does with a request, \
        offline or live, and why; `crossgate audit` probes servers for misconfigurations an \
        attacker could use; `crossgate explain` reads a pasted console message back to its \
        cause and fix; `crossgate har` judges a browser's network log; `crossgate origin` \
        shows the origin model.\n\n\
        Exit codes: 0 yes (valid, served), 1 no (invalid policy), 2 could not answer \
        (bad arguments, unreadable file, address in use).",
    propagate_version = true
)]
pub struct Cli {
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour when writing to a terminal (and NO_COLOR is unset).
    Auto,
    /// Colour always, even into a pipe or a file.
    Always,
    /// Never colour.
    Never,
}

impl Color {
    pub fn write_global(self) {
        let choice = match self {
            Color::Auto => anstream::ColorChoice::Auto,
            Color::Always => anstream::ColorChoice::Always,
            Color::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the CORS gateway: answer preflights, proxy everything else to the upstream, and
    /// write the policy's headers into every response.
    ///
    /// With no arguments it runs on an embedded default: it listens on 127.0.0.1:8080, answers
    /// from a built-in echo upstream, and allows http://localhost:* and http://127.0.0.1:* with
    /// credentials (methods GET, HEAD, POST, PUT, PATCH, DELETE; headers content-type,
    /// authorization). Stop it with Ctrl-C: in-flight requests finish first.
    Serve(ServeArgs),
    /// Check a CORS policy file, a gateway configuration (every policy in it, and the origin
    /// list files it names) or an origin list file, and say what to fix. TOML, JSON or YAML by
    /// extension; `.txt` and `.list` are origin lists. Exit 0 valid, 1 invalid, 2 unreadable.
    Lint(LintArgs),
    /// Offline: what would a browser do with this request, given these server responses?
    /// Input is JSON (origin, request, responses; see the README). Exit 0 allowed, 1 blocked,
    /// 2 bad input or a response the simulation needs is missing.
    Simulate(crate::simulate::SimulateArgs),
    /// Live: do what a browser would do against a real server (the preflight when needed, the
    /// request, each redirect), show every exchange, and say how to fix the server.
    /// Exit 0 allowed, 1 blocked, 2 could not ask (connection refused, DNS, TLS).
    Check(crate::check::CheckArgs),
    /// Show the origin of a URL, or compare the origins of two (scheme, host, port, site).
    /// Exit 0 same origin (or one URL), 1 cross-origin, 2 a URL that does not parse.
    Origin(crate::origin::OriginArgs),
    /// Probe live servers for CORS misconfigurations an attacker could use (reflection, null,
    /// prefix/suffix bugs, subdomains, http origins, missing Vary, ...), on the simple request
    /// and on a preflight: one URL, or many (--targets, --har) politely in one report. Exit 1
    /// when a finding (with --baseline, a new one) is at or above --fail-on, 2 when no target
    /// could be reached.
    Audit(crate::audit::AuditArgs),
    /// From a console message you pasted (Chromium, Firefox or WebKit; several at once, noise
    /// and all) to the cause and the fix: the error, the stage, the URL, origin and parameter,
    /// the likely causes in order, and the fix in general and for axum/tower, actix-web, the
    /// gateway, nginx and Express. `--check` then probes the URL live. Exit 0 every message
    /// understood, 1 some text is not a CORS message crossgate knows, 2 no input.
    Explain(crate::explain::ExplainArgs),
    /// Judge every CORS request of a browser's network log (a HAR file, as "Save all as HAR"
    /// exports it from Chromium, Firefox or WebKit): which were blocked, why, and the fix;
    /// which went out only thanks to a cached preflight; which another engine would judge
    /// differently. Exit 0 nothing blocked, 1 something blocked, 2 not readable as HAR.
    Har(crate::har::HarArgs),
    /// Open the CORS playground: a page where you compose a fetch and the server's answers, run
    /// the fetch in your own browser against a scripted server on another origin (a third for
    /// redirects), and see beside it what crossgate predicts for Chromium, Firefox and WebKit,
    /// with the exchanges the server saw. Listens on loopback unless told otherwise; stop it
    /// with Ctrl-C. Exit 2 when it cannot listen.
    Playground(crate::playground::PlaygroundArgs),
    /// Print a completion script for your shell on stdout. Bash:
    /// `crossgate completions bash > ~/.local/share/bash-completion/completions/crossgate`;
    /// zsh: into a directory of your $fpath as `_crossgate`; fish:
    /// `~/.config/fish/completions/crossgate.fish`; PowerShell: dot-source it from $PROFILE.
    Completions(CompletionsArgs),
    /// Print the manual page crossgate(1) (roff) on stdout, or with --dir write it and one page
    /// per command (crossgate-serve(1), ...) into a directory: `crossgate man | man -l -`.
    Man(ManArgs),
    /// Ask a running gateway's admin listener whether it is ready (`/readyz`), for container
    /// health checks and scripts where no HTTP client is installed. Exit 0 ready (a 2xx
    /// answer), 1 not ready (503 while starting or draining, another status, or no answer: a
    /// health checker wants only yes or no, and Docker reserves 2), 2 a URL it cannot ask.
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The readiness URL (plain HTTP), or the admin listener's HOST:PORT alone (its /readyz
    /// is asked).
    #[arg(
        value_name = "URL|ADDR",
        default_value = "http://127.0.0.1:9090/readyz"
    )]
    pub url: String,
    /// How long to wait for the answer, e.g. `2s` or `500ms`.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_interval)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells a completion script is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write crossgate.1 and one page per command (crossgate-serve.1, ...) into DIR (for
    /// example /usr/local/share/man/man1) instead of printing crossgate.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Gateway configuration file (TOML, JSON or YAML): listen, upstream, [cors], [[routes]],
    /// [limits], [timeouts], [tls], [admin]. Without it, the embedded development default is
    /// used. The file is reloaded on SIGHUP and when it changes.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port); overrides the file.
    #[arg(long, short, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Upstream base URL (http://host:port[/base]), or `echo` for the built-in echo upstream;
    /// overrides the file's top-level upstream.
    #[arg(long, short, value_name = "URL")]
    pub upstream: Option<String>,
    /// Address of the admin listener (/metrics, /healthz, /readyz); overrides [admin] listen.
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
    /// Log lines as human-readable text or as one JSON object per line (stderr).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// How often the configuration file (and its TLS files) are checked for changes, e.g.
    /// `1s` or `500ms`.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub watch_interval: std::time::Duration,
    /// Do not reload when the configuration file changes (SIGHUP still reloads).
    #[arg(long)]
    pub no_watch: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    crossgate_gateway::parse_duration(&serde_json::Value::String(s.to_owned()))
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// The policy, the gateway configuration (the origin list files it names are checked too)
    /// or an origin list file (`.txt` or `.list`: one origin or pattern a line, `#` comments).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Read FILE as an origin list whatever its extension.
    #[arg(long)]
    pub origins: bool,
    /// Print one JSON document: {"valid", "errors", "warnings", ...}.
    #[arg(long)]
    pub json: bool,
}
