//! `crossgate audit URL [--format text|json|sarif] [--fail-on ...] [-H 'Name: value']...`
//! (CONTRACTS §7): probes a live server for CORS misconfigurations, on the simple request and on
//! a preflight, without stopping at the first finding. The probes and the judgement are the
//! library's (`crossgate::audit`); this module sends the requests, politely.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anstyle::{AnsiColor, Style};
use clap::{Args, ValueEnum};
use crossgate::audit::{
    Class, Context, Finding, Generator, Observation, Probe, RequestKind, Severity, Target, judge,
    probes,
};
use serde_json::{Value, json};

use crate::check::parse_header;
use crate::{Failure, Outcome};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The URL to audit (http or https).
    #[arg(value_name = "URL")]
    pub url: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::High)]
    pub fail_on: FailOn,
    /// A header sent with every simple request ('Name: value'), e.g. a session cookie or a
    /// token; masked in every output. `Host` names the audited host (the connection still goes
    /// to the URL's address).
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
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Milliseconds each worker waits between two requests.
    #[arg(long, default_value_t = 0)]
    pub delay: u64,
    /// Seconds to wait for each response.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// The most requests to send; probes beyond it are left out (and the summary says so).
    #[arg(long, default_value_t = 400)]
    pub max_requests: usize,
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

/// One request of the plan.
struct Planned {
    probe: Probe,
    kind: RequestKind,
    method: String,
    requested_method: Option<String>,
    requested_headers: Option<String>,
    private_network: bool,
}

/// A random-looking label for this run, so probe origins never collide with a real allowlist.
fn label() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut n = nanos ^ u128::from(std::process::id()) << 64;
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut s = String::from("cg");
    for _ in 0..6 {
        s.push(alphabet[(n % 36) as usize] as char);
        n /= 36;
    }
    s
}

fn plan(probes: Vec<Probe>, method: &str) -> Vec<Planned> {
    let mut out = Vec::new();
    for probe in probes {
        if probe.generator == Generator::PrivateNetwork {
            out.push(Planned {
                probe,
                kind: RequestKind::Preflight,
                method: "OPTIONS".to_owned(),
                requested_method: Some("GET".to_owned()),
                requested_headers: None,
                private_network: true,
            });
            continue;
        }
        if probe.generator == Generator::Baseline {
            // The preflight-reflection probe: a made-up method and header.
            out.push(Planned {
                probe: probe.clone(),
                kind: RequestKind::Preflight,
                method: "OPTIONS".to_owned(),
                requested_method: Some("CROSSGATE-PROBE".to_owned()),
                requested_headers: Some(crossgate::audit::PROBE_HEADER.to_owned()),
                private_network: false,
            });
        }
        out.push(Planned {
            probe: probe.clone(),
            kind: RequestKind::Simple,
            method: method.to_owned(),
            requested_method: None,
            requested_headers: None,
            private_network: false,
        });
        out.push(Planned {
            probe,
            kind: RequestKind::Preflight,
            method: "OPTIONS".to_owned(),
            requested_method: Some(method.to_owned()),
            requested_headers: Some("authorization,content-type".to_owned()),
            private_network: false,
        });
    }
    out
}

struct Prober {
    client: reqwest::blocking::Client,
    url: url::Url,
    host: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
}

impl Prober {
    fn send(&self, p: &Planned) -> Result<Observation, String> {
        let method = reqwest::Method::from_bytes(p.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut b = self.client.request(method, self.url.clone());
        if let Some(host) = &self.host {
            b = b.header("host", host.as_str());
        }
        b = b.header("origin", p.probe.origin.as_str());
        if p.kind == RequestKind::Simple {
            // The user's credentials ride on simple requests, as a browser's would.
            for (n, v) in &self.headers {
                b = b.header(n.as_str(), v.as_slice());
            }
        } else {
            b = b.header("accept", "*/*");
            if let Some(m) = &p.requested_method {
                b = b.header("access-control-request-method", m.as_str());
            }
            if let Some(h) = &p.requested_headers {
                b = b.header("access-control-request-headers", h.as_str());
            }
            if p.private_network {
                b = b.header("access-control-request-private-network", "true");
            }
        }
        let response = b.send().map_err(|e| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        })?;
        Ok(Observation {
            probe: p.probe.clone(),
            kind: p.kind,
            requested_method: p.requested_method.clone(),
            requested_headers: p.requested_headers.clone(),
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
        })
    }
}

pub fn run(args: &AuditArgs) -> Result<Outcome, Failure> {
    let url = url::Url::parse(&args.url)
        .map_err(|e| Failure(format!("`{}` does not parse: {e}", args.url)))?;
    let method = args.method.to_ascii_uppercase();
    if !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") && !args.allow_unsafe_methods {
        return Err(Failure(format!(
            "-X {method} may change state on the server: add --allow-unsafe-methods to use it"
        )));
    }
    let mut host = None;
    let mut headers = Vec::new();
    let mut authenticated = false;
    for raw in &args.headers {
        let (name, value) = parse_header(raw)?;
        if name.eq_ignore_ascii_case("host") {
            host = Some(String::from_utf8_lossy(&value).into_owned());
            continue;
        }
        authenticated |=
            name.eq_ignore_ascii_case("cookie") || name.eq_ignore_ascii_case("authorization");
        headers.push((name, value));
    }
    let target = Target::new(&url, host.as_deref()).map_err(Failure)?;
    let run_label = label();
    let mut planned = plan(probes(&target, &run_label, &args.probe_domain), &method);
    let planned_total = planned.len();
    planned.truncate(args.max_requests);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(args.timeout))
        .user_agent(concat!(
            "crossgate/",
            env!("CARGO_PKG_VERSION"),
            " (CORS audit)"
        ))
        .build()
        .map_err(|e| Failure(format!("cannot build the HTTP client: {e}")))?;
    let prober = Prober {
        client,
        url: url.clone(),
        host,
        headers: headers.clone(),
    };

    let progress = args.format == Format::Text;
    if progress {
        eprintln!(
            "auditing {} ({} requests planned)",
            target.origin,
            planned.len()
        );
    }
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Observation, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..args.concurrency {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(p) = planned.get(i) else { break };
                    let result = prober.send(p);
                    results.lock().unwrap().push((i, result));
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    if progress && (n.is_multiple_of(25) || n == planned.len()) {
                        eprint!("\r  {n}/{} requests", planned.len());
                    }
                    if args.delay > 0 {
                        std::thread::sleep(Duration::from_millis(args.delay));
                    }
                }
            });
        }
    });
    if progress {
        eprintln!();
    }
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    let sent = results.len();
    let mut failures: Vec<String> = Vec::new();
    let observations: Vec<Observation> = results
        .into_iter()
        .filter_map(|(_, r)| r.map_err(|e| failures.push(e)).ok())
        .collect();
    if observations.is_empty() {
        return Err(Failure(format!(
            "could not reach {url}: {}",
            failures.first().cloned().unwrap_or_default()
        )));
    }
    let findings = judge(&target, &observations, &Context { authenticated });
    let fail_on: Severity = args.fail_on.into();
    let failing = findings.iter().any(|f| f.severity >= fail_on);
    let summary = Summary {
        sent,
        planned: planned_total,
        failed: failures.len(),
    };
    match args.format {
        Format::Json => {
            let doc = json_report(&target, &url, &findings, &summary, &method, &headers);
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Sarif => {
            let doc = sarif(&target, &url, &findings);
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Text => text(&target, &url, &findings, &summary)?,
    }
    Ok(if failing { Outcome::No } else { Outcome::Yes })
}

struct Summary {
    sent: usize,
    planned: usize,
    failed: usize,
}

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Critical | Severity::High => AnsiColor::Red.on_default().bold(),
        Severity::Medium => AnsiColor::Yellow.on_default().bold(),
        Severity::Low => AnsiColor::Cyan.on_default(),
        Severity::Info => Style::new().dimmed(),
    }
}

fn text(
    target: &Target,
    url: &url::Url,
    findings: &[Finding],
    summary: &Summary,
) -> Result<(), Failure> {
    let mut out = anstream::stdout();
    let bold = Style::new().bold();
    writeln!(out, "{bold}audit of {}{bold:#} ({url})", target.origin)?;
    for f in findings {
        let style = severity_style(f.severity);
        writeln!(
            out,
            "{style}{:>8}{style:#}  {bold}{}{bold:#}: {}",
            f.severity.as_str().to_ascii_uppercase(),
            f.class,
            f.class.title()
        )?;
        let kind = match f.request_kind {
            RequestKind::Simple => "simple request",
            RequestKind::Preflight => "preflight",
        };
        writeln!(
            out,
            "          probe: Origin: {} ({kind}) -> {}",
            f.probe_origin, f.evidence.status
        )?;
        for (n, v) in &f.evidence.headers {
            writeln!(out, "          < {n}: {v}")?;
        }
        writeln!(out, "          why: {}", f.explanation)?;
        writeln!(out, "          fix: {}", f.remediation)?;
    }
    let mut counts: Vec<String> = Vec::new();
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let n = findings.iter().filter(|f| f.severity == s).count();
        if n > 0 {
            counts.push(format!("{n} {s}"));
        }
    }
    let found = if findings.is_empty() {
        "no findings".to_owned()
    } else {
        format!(
            "{} finding{} ({})",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            counts.join(", ")
        )
    };
    write!(out, "{found} from {} requests", summary.sent)?;
    if summary.planned > summary.sent {
        write!(
            out,
            " ({} planned: raise --max-requests to send them all)",
            summary.planned
        )?;
    }
    if summary.failed > 0 {
        write!(out, "; {} failed", summary.failed)?;
    }
    writeln!(out)?;
    Ok(())
}

fn masked(headers: &[(String, Vec<u8>)]) -> Vec<Value> {
    headers.iter().map(|(n, _)| json!([n, "***"])).collect()
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "class": f.class.as_str(),
        "title": f.class.title(),
        "severity": f.severity.as_str(),
        "probe_origin": f.probe_origin,
        "request_kind": f.request_kind,
        "evidence": f.evidence,
        "explanation": f.explanation,
        "remediation": f.remediation,
        "probes": f.probes,
    })
}

fn json_report(
    target: &Target,
    url: &url::Url,
    findings: &[Finding],
    summary: &Summary,
    method: &str,
    headers: &[(String, Vec<u8>)],
) -> Value {
    json!({
        "target": target.origin,
        "url": url.as_str(),
        "request": {"method": method, "headers": masked(headers)},
        "requests": summary.sent,
        "requests_planned": summary.planned,
        "requests_failed": summary.failed,
        "findings": findings.iter().map(finding_json).collect::<Vec<_>>(),
    })
}

/// SARIF 2.1.0: one rule per class, one result per finding.
fn sarif(target: &Target, url: &url::Url, findings: &[Finding]) -> Value {
    let mut classes: Vec<Class> = findings.iter().map(|f| f.class).collect();
    classes.sort();
    classes.dedup();
    let rules: Vec<Value> = classes
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "name": c.as_str(),
                "shortDescription": {"text": c.title()},
                "help": {"text": c.remediation()},
                "properties": {"tags": ["security", "cors", "CWE-942"]},
            })
        })
        .collect();
    let level = |s: Severity| match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    };
    let security_severity = |s: Severity| match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    };
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.class.as_str(),
                "level": level(f.severity),
                "message": {"text": format!("{} {}", f.explanation, f.remediation)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": url.as_str()}}}],
                "properties": {
                    "severity": f.severity.as_str(),
                    "security-severity": security_severity(f.severity),
                    "probe_origin": f.probe_origin,
                    "request_kind": f.request_kind,
                    "evidence": f.evidence,
                    "target": target.origin,
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "crossgate",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/crossgate",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
