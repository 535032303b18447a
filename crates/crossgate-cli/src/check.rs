//! `crossgate check URL --origin ORIGIN [-X METHOD] [-H 'Name: value']... [--credentials ...]`
//! (CONTRACTS §4): does what a browser would do against a real server, hop by hop.

use std::io::Write;
use std::time::Duration;

use clap::Args;
use crossgate::agent::{
    Agent, CredentialsMode, ExchangeKind, Incoming, Network, NetworkFailure, Outgoing, Profile,
    Report, RequestInit, RequestMode, replay_others,
};
use crossgate::browser::Browser;
use crossgate::origin::Origin;

use crate::browsers::BrowserArg;
use crate::{Failure, Outcome, render};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The URL script fetches.
    #[arg(value_name = "URL")]
    pub url: String,
    /// The origin of the page that fetches it, e.g. https://app.example.com.
    #[arg(long, value_name = "ORIGIN")]
    pub origin: String,
    /// The method script uses (kept as written: `patch` stays `patch`, as in browsers).
    #[arg(
        short = 'X',
        long = "request",
        value_name = "METHOD",
        default_value = "GET"
    )]
    pub method: String,
    /// A header script sets ('Name: value'); repeat for more. A `Cookie` header stands for the
    /// browser's cookies: sent only where credentials are (never on a preflight).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// The request's credentials mode.
    #[arg(long, value_enum, default_value_t = Credentials::SameOrigin)]
    pub credentials: Credentials,
    /// The request's mode.
    #[arg(long, value_enum, default_value_t = Mode::Cors)]
    pub mode: Mode,
    /// Print one JSON document (the simulate shape plus `exchanges`).
    #[arg(long)]
    pub json: bool,
    /// Whose behaviour to reproduce.
    #[arg(long, value_enum, default_value_t = BrowserArg::Chromium)]
    pub browser: BrowserArg,
    /// Seconds to wait for each response.
    #[arg(long, default_value_t = 15)]
    pub timeout: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Credentials {
    Omit,
    SameOrigin,
    Include,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Cors,
    NoCors,
    SameOrigin,
}

/// Parses `-H 'Name: value'`.
pub fn parse_header(raw: &str) -> Result<(String, Vec<u8>), Failure> {
    let Some((name, value)) = raw.split_once(':') else {
        return Err(Failure(format!("-H `{raw}`: write it as 'Name: value'")));
    };
    let name = name.trim();
    if !crossgate::fetch::is_token(name.as_bytes()) {
        return Err(Failure(format!(
            "-H `{raw}`: `{name}` is not a header name"
        )));
    }
    if value.bytes().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
        return Err(Failure(format!(
            "-H `{name}`: the value contains NUL, CR or LF"
        )));
    }
    Ok((name.to_owned(), value.trim().as_bytes().to_vec()))
}

/// The real network: one HTTP exchange per call, redirects never followed by the client.
pub struct LiveNetwork {
    client: reqwest::blocking::Client,
    origin: Origin,
    mode: RequestMode,
    cookie: Option<Vec<u8>>,
}

/// A blocking HTTP client that asks exactly what it is told: no redirect followed, no proxy,
/// `timeout` over each exchange; rustls with the ring provider and the system's trust store.
pub fn blocking_client(
    timeout: Duration,
    user_agent: &'static str,
) -> Result<reqwest::blocking::Client, Failure> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .user_agent(user_agent)
        .build()
        .map_err(|e| Failure(format!("cannot build the HTTP client: {e}")))
}

impl LiveNetwork {
    pub fn new(
        origin: Origin,
        mode: RequestMode,
        cookie: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<LiveNetwork, Failure> {
        let client = blocking_client(
            timeout,
            concat!("crossgate/", env!("CARGO_PKG_VERSION"), " (CORS check)"),
        )?;
        Ok(LiveNetwork {
            client,
            origin,
            mode,
            cookie,
        })
    }

    /// Fetch Metadata, as a browser sends it.
    fn fetch_site(&self, url: &url::Url) -> &'static str {
        let target = Origin::of_url(url);
        if self.origin.same_origin(&target) {
            "same-origin"
        } else if self.origin.same_site(&target) {
            "same-site"
        } else {
            "cross-site"
        }
    }
}

impl Network for LiveNetwork {
    fn send(&mut self, request: &Outgoing) -> Result<Incoming, NetworkFailure> {
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| NetworkFailure {
                message: format!("method {}: {e}", request.method),
            })?;
        let mut builder = self.client.request(method, request.url.clone());
        let has = |name: &str| {
            request
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_slice());
        }
        if !has("accept") {
            builder = builder.header("accept", "*/*");
        }
        let mode = match (request.kind, self.mode) {
            (ExchangeKind::Preflight, _) | (_, RequestMode::Cors) => "cors",
            (_, RequestMode::NoCors) => "no-cors",
            (_, RequestMode::SameOrigin) => "same-origin",
        };
        builder = builder
            .header("sec-fetch-mode", mode)
            .header("sec-fetch-site", self.fetch_site(&request.url))
            .header("sec-fetch-dest", "empty");
        if request.credentials
            && let Some(cookie) = &self.cookie
        {
            builder = builder.header("cookie", cookie.as_slice());
        }
        let response = builder.send().map_err(|e| NetworkFailure {
            message: format!("{} {}: {}", request.method, request.url, error_chain(&e)),
        })?;
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        Ok(Incoming {
            status: response.status().as_u16(),
            headers,
        })
    }
}

/// An error and its sources, `: `-joined.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Does what `browser` does with `init` against the real server: every exchange, its verdict.
pub fn probe(
    init: &RequestInit,
    browser: Browser,
    cookie: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Report, Failure> {
    let mut network = LiveNetwork::new(init.origin.clone(), init.mode, cookie, timeout)?;
    let outcome = Agent::new(Profile::for_browser(browser))
        .fetch(init, &mut network)
        .map_err(|e| Failure(format!("could not ask the server: {e}")))?;
    let others = replay_others(browser, init, &outcome.exchanges);
    Ok(Report::new(browser, init, &outcome, &others))
}

pub fn run(args: &CheckArgs) -> Result<Outcome, Failure> {
    let url = url::Url::parse(&args.url)
        .map_err(|e| Failure(format!("`{}` does not parse: {e}", args.url)))?;
    let origin = if args.origin == "null" {
        Origin::Opaque
    } else {
        Origin::from_url_str(&args.origin)
            .map_err(|e| Failure(format!("--origin `{}` does not parse: {e}", args.origin)))?
    };
    let mut headers = Vec::new();
    let mut cookie = None;
    for raw in &args.headers {
        let (name, value) = parse_header(raw)?;
        if name.eq_ignore_ascii_case("cookie") {
            cookie = Some(value);
        } else {
            headers.push((name, value));
        }
    }
    let init = RequestInit {
        origin: origin.clone(),
        url,
        method: args.method.clone(),
        headers,
        credentials: match args.credentials {
            Credentials::Omit => CredentialsMode::Omit,
            Credentials::SameOrigin => CredentialsMode::SameOrigin,
            Credentials::Include => CredentialsMode::Include,
        },
        mode: match args.mode {
            Mode::Cors => RequestMode::Cors,
            Mode::NoCors => RequestMode::NoCors,
            Mode::SameOrigin => RequestMode::SameOrigin,
        },
        referrer_policy: Default::default(),
        use_cors_preflight: false,
    };
    let browser = args.browser.into();
    if !args.json {
        eprintln!(
            "checking {} {} from {} as {browser}...",
            init.method, init.url, args.origin
        );
    }
    let report = probe(&init, browser, cookie, Duration::from_secs(args.timeout))?;
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        render::report(&mut anstream::stdout(), &report, true)?;
    }
    Ok(if report.allowed {
        Outcome::Yes
    } else {
        Outcome::No
    })
}
