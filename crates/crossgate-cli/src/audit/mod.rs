//! `crossgate audit [URL]... [--targets FILE|-] [--har FILE]` (CONTRACTS §7, §8): probes live
//! servers for CORS misconfigurations, on the simple request and on a preflight, without
//! stopping at the first finding; one target or an estate of them in one report. The probes,
//! the judgement and the target lists are the library's (`crossgate::audit`); this module
//! reads the targets, sends the requests politely (`send`) and prints the report (`report`).

mod baseline;
mod plan;
mod progress;
mod report;
mod send;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use crossgate::audit::{
    BadLine, Context, Endpoint, Finding, Severity, Target, judge, merge_endpoints, parse_target,
    parse_target_list, probes,
};

use crate::check::parse_header;
use crate::{Failure, Outcome};
use baseline::Baseline;
use plan::{default_ask, label, plan};
use progress::Progress;
use report::{Audited, Report};
use send::{Job, Settings, send_all};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The URLs to audit (http or https).
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
    /// More targets from a file, one URL a line (`#` comments, blank lines ignored); `-` reads
    /// standard input. A bad line is reported with its number and skipped.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// More targets from a browser's network log (HAR): every cross-origin endpoint the page
    /// called, its preflight probes asking for the method and headers the page really sent.
    #[arg(long, value_name = "FILE")]
    pub har: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 1 when a finding (with --baseline: a new one) is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::High)]
    pub fail_on: FailOn,
    /// A previous JSON report: findings it has are not new, and those it has that are gone
    /// are listed as fixed.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// A header sent with every simple request ('Name: value'), e.g. a session cookie or a
    /// token; masked in every output. `Host` names the audited host (one target only; the
    /// connection still goes to the URL's address).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// The method of the simple requests. State-changing methods need --allow-unsafe-methods.
    #[arg(
        short = 'X',
        long = "request",
        value_name = "METHOD",
        default_value = "GET"
    )]
    pub method: String,
    /// Allow a state-changing method (POST, PUT, PATCH, DELETE, ...) with -X.
    #[arg(long)]
    pub allow_unsafe_methods: bool,
    /// Requests in flight at once, over all targets.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Requests in flight at once to one host (host and port).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub per_host: u16,
    /// Milliseconds between the starts of two requests to the same host.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub delay: u64,
    /// Seconds to wait for each response.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub timeout: u64,
    /// The most requests for one target; its probes beyond it are left out (the report says so).
    #[arg(long, default_value_t = 400)]
    pub max_requests: usize,
    /// The most requests for the whole run, retries included.
    #[arg(long, value_name = "N")]
    pub max_total_requests: Option<usize>,
    /// Stop sending after this many seconds and report what came back.
    #[arg(long, value_name = "SECONDS")]
    pub max_time: Option<u64>,
    /// Retries of a request whose connection could not be made or that got a 429/503 answer
    /// (after its Retry-After, or a backoff from 250 ms); a 429/503 still there after them is a
    /// failure.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
    /// The targets are reachable only from a private network (an intranet, a VPN), whatever
    /// their names: a read without credentials then counts (up to medium), since a visitor's
    /// browser is the way in. Loopback, private addresses and .local/.internal/.lan names are
    /// private without it.
    #[arg(long)]
    pub internal: bool,
    /// The domain under which attacker-looking probe origins are made.
    #[arg(long, default_value = "crossgate-probe.example", value_name = "DOMAIN")]
    pub probe_domain: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl From<FailOn> for Severity {
    fn from(f: FailOn) -> Severity {
        match f {
            FailOn::Info => Severity::Info,
            FailOn::Low => Severity::Low,
            FailOn::Medium => Severity::Medium,
            FailOn::High => Severity::High,
            FailOn::Critical => Severity::Critical,
        }
    }
}

pub fn run(args: &AuditArgs) -> Result<Outcome, Failure> {
    let method = args.method.to_ascii_uppercase();
    if !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") && !args.allow_unsafe_methods {
        return Err(Failure(format!(
            "-X {method} may change state on the server: add --allow-unsafe-methods to use it"
        )));
    }
    let mut host = None;
    let mut headers = Vec::new();
    let mut authenticated = false;
    let mut has_cookie = false;
    for raw in &args.headers {
        let (name, value) = parse_header(raw)?;
        if name.eq_ignore_ascii_case("host") {
            host = Some(String::from_utf8_lossy(&value).into_owned());
            continue;
        }
        has_cookie |= name.eq_ignore_ascii_case("cookie");
        authenticated |= has_cookie || name.eq_ignore_ascii_case("authorization");
        headers.push((name, value));
    }
    // One URL argument alone keeps the one-target report of CONTRACTS §7; anything else is an
    // estate (§8), whatever the number of targets the lists turn out to hold.
    let estate = args.urls.len() > 1 || args.targets.is_some() || args.har.is_some();
    let (endpoints, mut skipped) = read_targets(args, estate)?;
    for bad in &skipped {
        crate::report::warning_line(&format!(
            "skipped {}: `{}`: {}",
            bad.source, bad.text, bad.error
        ))?;
    }
    if endpoints.is_empty() {
        return Err(Failure(if skipped.is_empty() {
            "nothing to audit: give a URL, --targets FILE (or - for standard input) or --har \
             FILE"
                .to_owned()
        } else {
            "nothing to audit: every target given was skipped (see above)".to_owned()
        }));
    }
    if host.is_some() && endpoints.len() > 1 {
        return Err(Failure(format!(
            "-H Host names the one audited host, but there are {} targets: audit each virtual \
             host on its own",
            endpoints.len()
        )));
    }
    let baseline = args.baseline.as_deref().map(Baseline::read).transpose()?;

    let run_label = label();
    let mut audited: Vec<Audited> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    for endpoint in endpoints {
        let target = match Target::new(&endpoint.url, host.as_deref()) {
            Ok(t) => t,
            Err(error) if estate => {
                skipped.push(BadLine {
                    source: endpoint.source.clone(),
                    text: endpoint.url.to_string(),
                    error,
                });
                continue;
            }
            Err(error) => return Err(Failure(error)),
        };
        let ask = endpoint.ask.clone().unwrap_or_else(|| default_ask(&method));
        let mut planned = plan(
            probes(&target, &run_label, &args.probe_domain),
            &method,
            &ask,
            !has_cookie,
        );
        let planned_total = planned.len();
        planned.truncate(args.max_requests);
        jobs.push(Job {
            url: endpoint.url.clone(),
            host_header: host.clone(),
            plan: planned,
        });
        audited.push(Audited::new(endpoint, target, ask, planned_total));
    }

    let settings = Settings {
        concurrency: usize::from(args.concurrency),
        per_host: usize::from(args.per_host),
        delay: Duration::from_millis(args.delay),
        timeout: Duration::from_secs(args.timeout),
        retries: args.retries,
        max_total: args.max_total_requests,
        max_time: args.max_time.map(Duration::from_secs),
        headers: headers.clone(),
    };
    let planned: usize = jobs.iter().map(|j| j.plan.len()).sum();
    let progress = Progress::new(
        args.max_total_requests.map_or(planned, |m| m.min(planned)),
        jobs.len(),
    );
    let context = Context {
        authenticated,
        internal: args.internal,
    };
    let judged: std::sync::Mutex<Vec<Option<Vec<Finding>>>> =
        std::sync::Mutex::new(vec![None; jobs.len()]);
    let finish = |i: usize, run: &send::TargetRun| {
        let findings = judge(&audited[i].target, &run.observations, &context);
        let n = findings.len();
        if let Ok(mut judged) = judged.lock() {
            judged[i] = Some(findings);
        }
        n
    };
    let result = send_all(&jobs, &settings, client()?, &progress, &finish);
    progress.finish();
    let result = result.map_err(Failure)?;
    let judged = judged.into_inner().unwrap_or_default();
    for ((a, run), findings) in audited.iter_mut().zip(result.targets).zip(judged) {
        a.finish(run, findings.unwrap_or_default(), baseline.as_ref());
    }
    if !estate
        && let Some(a) = audited.first()
        && a.run.observations.is_empty()
    {
        return Err(Failure(format!(
            "could not reach {}: {}",
            a.endpoint.url,
            a.error().unwrap_or_default()
        )));
    }
    let report = Report {
        fixed: baseline.as_ref().map(|b| b.fixed(&audited)),
        targets: audited,
        skipped,
        method,
        headers,
        estate,
        deadline_reached: result.deadline_reached,
        budget_reached: result.budget_reached,
        elapsed: result.elapsed,
    };
    match args.format {
        Format::Json => report.print_json(report.json())?,
        Format::Sarif => report.print_json(report.sarif())?,
        Format::Text => report.text()?,
    }
    if report.reached() == 0 {
        return Err(Failure(
            if result.budget_reached || result.deadline_reached {
                format!(
                    "no answer from any of the {} targets before the run's limits ran out",
                    report.targets.len()
                )
            } else {
                format!(
                    "could not reach any of the {} targets",
                    report.targets.len()
                )
            },
        ));
    }
    Ok(if report.failing(args.fail_on.into()) {
        Outcome::No
    } else {
        Outcome::Yes
    })
}

/// The targets of the arguments, `--targets` and `--har`, duplicates merged, and the lines
/// that are not targets.
fn read_targets(args: &AuditArgs, estate: bool) -> Result<(Vec<Endpoint>, Vec<BadLine>), Failure> {
    let mut endpoints = Vec::new();
    let mut skipped = Vec::new();
    for (i, text) in args.urls.iter().enumerate() {
        match parse_target(text) {
            Ok(url) => endpoints.push(Endpoint {
                url,
                source: format!("argument {}", i + 1),
                ask: None,
            }),
            Err(error) if estate => skipped.push(BadLine {
                source: format!("argument {}", i + 1),
                text: text.clone(),
                error,
            }),
            Err(error) => return Err(Failure(format!("`{text}`: {error}"))),
        }
    }
    if let Some(path) = &args.targets {
        let (name, text) = if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
                .map_err(|e| Failure(format!("standard input: {e}")))?;
            ("stdin".to_owned(), text)
        } else {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure(format!("--targets {name}: {e}")))?;
            (name, text)
        };
        let (found, bad) = parse_target_list(&text, &name);
        endpoints.extend(found);
        skipped.extend(bad);
    }
    if let Some(path) = &args.har {
        let har = crate::har::read(path)?;
        let (found, bad) = crossgate::audit::har_endpoints(&har);
        if found.is_empty() {
            crate::report::warning_line(&format!(
                "{}: the log holds no cross-origin request in cors mode to audit",
                path.display()
            ))?;
        }
        endpoints.extend(found);
        skipped.extend(bad);
    }
    Ok((merge_endpoints(endpoints), skipped))
}

/// The HTTP client: never follows redirects, no proxy, rustls with the system's roots.
fn client() -> Result<reqwest::Client, Failure> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!(
            "crossgate/",
            env!("CARGO_PKG_VERSION"),
            " (CORS audit)"
        ))
        .build()
        .map_err(|e| Failure(format!("cannot build the HTTP client: {e}")))
}
