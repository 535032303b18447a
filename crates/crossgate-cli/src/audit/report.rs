//! The audit's one report, for one target or many: text grouped by severity then target, JSON
//! (the one-target document of CONTRACTS §7, or `{"targets": [...]}` of §8), SARIF 2.1.0 with
//! one run whose results each name their URL.

use std::io::Write;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use crossgate::audit::{Ask, BadLine, Class, Endpoint, Finding, RequestKind, Severity, Target};
use serde_json::{Value, json};

use super::baseline::{Baseline, Fixed};
use super::send::TargetRun;
use crate::Failure;

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// One target, audited.
pub struct Audited {
    pub endpoint: Endpoint,
    pub target: Target,
    /// What its preflight probes asked.
    pub ask: Ask,
    /// Requests its plan held before `--max-requests`.
    pub planned: usize,
    pub run: TargetRun,
    pub findings: Vec<Finding>,
    /// With a baseline: whether each finding is new.
    pub new: Option<Vec<bool>>,
}

impl Audited {
    pub fn new(endpoint: Endpoint, target: Target, ask: Ask, planned: usize) -> Audited {
        Audited {
            endpoint,
            target,
            ask,
            planned,
            run: TargetRun::default(),
            findings: Vec::new(),
            new: None,
        }
    }

    pub fn finish(&mut self, run: TargetRun, findings: Vec<Finding>, baseline: Option<&Baseline>) {
        self.new = baseline.map(|b| {
            findings
                .iter()
                .map(|f| b.is_new(self.endpoint.url.as_str(), f.class.as_str(), f.severity))
                .collect()
        });
        self.run = run;
        self.findings = findings;
    }

    /// Why nothing came back, for a target no response came from.
    pub fn error(&self) -> Option<String> {
        if !self.run.observations.is_empty() {
            return None;
        }
        Some(match (&self.run.given_up, self.run.failures.first()) {
            (Some(reason), _) => reason.clone(),
            (None, Some(failure)) => failure.clone(),
            (None, None) => "not audited: the run's --max-total-requests or --max-time ran out \
                             before its first request"
                .to_owned(),
        })
    }

    /// Nothing was sent to it: the run's budget or deadline ran out first (a target whose
    /// host was given up before its turn is unreachable, not this).
    fn not_audited(&self) -> bool {
        self.run.sent == 0 && self.run.given_up.is_none()
    }

    /// Requests were sent and none was answered.
    fn unreachable(&self) -> bool {
        self.run.observations.is_empty() && !self.not_audited()
    }

    /// Every planned request was sent and answered to the end: only then does a class it no
    /// longer shows count as fixed.
    pub fn complete(&self) -> bool {
        self.run.sent >= self.planned && self.run.given_up.is_none()
    }

    /// The distinct failure texts, at most five.
    fn failures(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for f in &self.run.failures {
            if out.len() < 5 && !out.contains(&f.as_str()) {
                out.push(f);
            }
        }
        out
    }

    fn is_new(&self, i: usize) -> bool {
        self.new.as_ref().is_some_and(|n| n[i])
    }
}

/// Everything the report shows.
pub struct Report {
    pub targets: Vec<Audited>,
    pub skipped: Vec<BadLine>,
    /// With a baseline: its findings that are gone.
    pub fixed: Option<Vec<Fixed>>,
    pub method: String,
    pub headers: Vec<(String, Vec<u8>)>,
    /// Many targets (or a list): the estate document.
    pub estate: bool,
    pub deadline_reached: bool,
    pub budget_reached: bool,
    pub elapsed: Duration,
}

impl Report {
    pub fn reached(&self) -> usize {
        self.targets
            .iter()
            .filter(|a| !a.run.observations.is_empty())
            .count()
    }

    /// A finding at or above `fail_on` (with a baseline: a new one).
    pub fn failing(&self, fail_on: Severity) -> bool {
        self.targets.iter().any(|a| {
            a.findings
                .iter()
                .enumerate()
                .any(|(i, f)| f.severity >= fail_on && (a.new.is_none() || a.is_new(i)))
        })
    }

    fn requests(&self) -> usize {
        self.targets.iter().map(|a| a.run.sent).sum()
    }

    fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.targets.iter().flat_map(|a| a.findings.iter())
    }

    /// Findings per severity, most severe first, those with none left out.
    fn counts(&self) -> Vec<(Severity, usize)> {
        SEVERITIES
            .iter()
            .map(|s| (*s, self.findings().filter(|f| f.severity == *s).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    fn findings_json(a: &Audited) -> Vec<Value> {
        a.findings
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut v = json!({
                    "class": f.class.as_str(),
                    "title": f.class.title(),
                    "severity": f.severity.as_str(),
                    "probe_origin": f.probe_origin,
                    "request_kind": f.request_kind,
                    "evidence": f.evidence,
                    "explanation": f.explanation,
                    "remediation": f.remediation,
                    "probes": f.probes,
                });
                if a.new.is_some() {
                    v["new"] = json!(a.is_new(i));
                }
                v
            })
            .collect()
    }

    pub fn json(&self) -> Value {
        let masked: Vec<Value> = self
            .headers
            .iter()
            .map(|(n, _)| json!([n, "***"]))
            .collect();
        let mut doc = if let (false, [a]) = (self.estate, self.targets.as_slice()) {
            json!({
                "target": a.target.origin,
                "url": a.endpoint.url.as_str(),
                "request": {"method": self.method, "headers": masked},
                "requests": a.run.sent,
                "requests_planned": a.planned,
                "requests_failed": a.run.failures.len(),
                "findings": Report::findings_json(a),
            })
        } else {
            let targets: Vec<Value> = self
                .targets
                .iter()
                .map(|a| {
                    json!({
                        "url": a.endpoint.url.as_str(),
                        "target": a.target.origin,
                        "source": a.endpoint.source,
                        "findings": Report::findings_json(a),
                        "requests": a.run.sent,
                        "requests_planned": a.planned,
                        "requests_failed": a.run.failures.len(),
                        "retries": a.run.retries,
                        "preflight": {"method": a.ask.method, "headers": a.ask.header_list()},
                        "complete": a.complete(),
                        "given_up": a.run.given_up,
                        "failures": a.failures(),
                        "error": a.error(),
                    })
                })
                .collect();
            let by_severity: serde_json::Map<String, Value> = self
                .counts()
                .into_iter()
                .map(|(s, n)| (s.as_str().to_owned(), json!(n)))
                .collect();
            json!({
                "targets": targets,
                "request": {"method": self.method, "headers": masked},
                "skipped": self.skipped.iter().map(|b| json!({
                    "source": b.source, "text": b.text, "error": b.error,
                })).collect::<Vec<_>>(),
                "summary": {
                    "targets": self.targets.len(),
                    "reached": self.reached(),
                    "unreachable": self.targets.iter().filter(|a| a.unreachable()).count(),
                    "not_audited": self.targets.iter().filter(|a| a.not_audited()).count(),
                    "findings": self.findings().count(),
                    "by_severity": by_severity,
                    "requests": self.requests(),
                    "seconds": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
                    "deadline_reached": self.deadline_reached,
                    "budget_reached": self.budget_reached,
                },
            })
        };
        if let Some(fixed) = &self.fixed {
            doc["fixed"] = json!(fixed);
        }
        doc
    }

    pub fn print_json(&self, doc: Value) -> Result<(), Failure> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        Ok(())
    }
}

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Critical | Severity::High => AnsiColor::Red.on_default().bold(),
        Severity::Medium => AnsiColor::Yellow.on_default().bold(),
        Severity::Low => AnsiColor::Cyan.on_default(),
        Severity::Info => Style::new().dimmed(),
    }
}

/// A finding's lines, the evidence and the fix under its class, `indent` deep.
fn write_finding(
    out: &mut impl Write,
    f: &Finding,
    indent: &str,
    heading: &str,
    new: bool,
) -> std::io::Result<()> {
    let bold = Style::new().bold();
    let mark = if new {
        let s = AnsiColor::Magenta.on_default().bold();
        format!(" {s}NEW{s:#}")
    } else {
        String::new()
    };
    writeln!(
        out,
        "{heading}{bold}{}{bold:#}: {}{mark}",
        f.class,
        f.class.title()
    )?;
    let kind = match f.request_kind {
        RequestKind::Simple => "simple request",
        RequestKind::Preflight => "preflight",
    };
    writeln!(
        out,
        "{indent}probe: Origin: {} ({kind}) -> {}",
        f.probe_origin, f.evidence.status
    )?;
    for (n, v) in &f.evidence.headers {
        writeln!(out, "{indent}< {n}: {v}")?;
    }
    writeln!(out, "{indent}why: {}", f.explanation)?;
    writeln!(out, "{indent}fix: {}", f.remediation)
}

impl Report {
    pub fn text(&self) -> Result<(), Failure> {
        let mut out = anstream::stdout();
        let bold = Style::new().bold();
        if let (false, [a]) = (self.estate, self.targets.as_slice()) {
            writeln!(
                out,
                "{bold}audit of {}{bold:#} ({})",
                a.target.origin, a.endpoint.url
            )?;
            for (i, f) in a.findings.iter().enumerate() {
                let style = severity_style(f.severity);
                let heading = format!(
                    "{style}{:>8}{style:#}  ",
                    f.severity.as_str().to_ascii_uppercase()
                );
                write_finding(&mut out, f, "          ", &heading, a.is_new(i))?;
            }
        } else {
            writeln!(
                out,
                "{bold}audit of {} targets{bold:#} ({} reached)",
                self.targets.len(),
                self.reached()
            )?;
            // Grouped by severity, then by target: what to fix first comes first.
            for s in SEVERITIES {
                let mut heading_done = false;
                for a in &self.targets {
                    let at: Vec<usize> = (0..a.findings.len())
                        .filter(|i| a.findings[*i].severity == s)
                        .collect();
                    if at.is_empty() {
                        continue;
                    }
                    if !heading_done {
                        let style = severity_style(s);
                        writeln!(out, "{style}{}{style:#}", s.as_str().to_ascii_uppercase())?;
                        heading_done = true;
                    }
                    writeln!(
                        out,
                        "  {bold}{}{bold:#} ({})",
                        a.endpoint.url, a.endpoint.source
                    )?;
                    for i in at {
                        write_finding(&mut out, &a.findings[i], "        ", "    ", a.is_new(i))?;
                    }
                }
            }
            let unreachable: Vec<&Audited> =
                self.targets.iter().filter(|a| a.unreachable()).collect();
            if !unreachable.is_empty() {
                writeln!(out, "{bold}unreachable{bold:#}")?;
                for a in unreachable {
                    writeln!(
                        out,
                        "  {} ({}): {}",
                        a.endpoint.url,
                        a.endpoint.source,
                        a.error().unwrap_or_default()
                    )?;
                }
            }
            let cut: Vec<&Audited> = self
                .targets
                .iter()
                .filter(|a| !a.unreachable() && !a.complete())
                .collect();
            if !cut.is_empty() {
                writeln!(out, "{bold}not every probe sent{bold:#}")?;
                for a in cut {
                    let why = match &a.run.given_up {
                        Some(reason) => reason.clone(),
                        None if self.budget_reached || self.deadline_reached => {
                            "the run's --max-total-requests or --max-time ran out".to_owned()
                        }
                        None => "--max-requests".to_owned(),
                    };
                    writeln!(
                        out,
                        "  {}: {} of {} requests ({why})",
                        a.endpoint.url, a.run.sent, a.planned
                    )?;
                }
            }
        }
        if let Some(fixed) = self.fixed.as_ref().filter(|f| !f.is_empty()) {
            let good = AnsiColor::Green.on_default().bold();
            writeln!(out, "{good}fixed since the baseline{good:#}")?;
            for f in fixed {
                writeln!(out, "  {}: {} ({})", f.url, f.class, f.severity)?;
            }
        }
        writeln!(out, "{}", self.summary_line())?;
        Ok(())
    }

    fn summary_line(&self) -> String {
        let counts: Vec<String> = self
            .counts()
            .into_iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let total = self.findings().count();
        let mut line = if total == 0 {
            "no findings".to_owned()
        } else {
            format!(
                "{} ({})",
                crate::report::count(total, "finding"),
                counts.join(", ")
            )
        };
        if let Some(new) = self.targets.iter().try_fold(0, |n, a| {
            a.new
                .as_ref()
                .map(|flags| n + flags.iter().filter(|x| **x).count())
        }) {
            line.push_str(&format!(", {new} new"));
        }
        if let Some(fixed) = &self.fixed {
            line.push_str(&format!(", {} fixed", fixed.len()));
        }
        line.push_str(&format!(" from {} requests", self.requests()));
        if self.estate {
            line.push_str(&format!(
                " to {} targets in {:.1} s",
                self.targets.len(),
                self.elapsed.as_secs_f64()
            ));
        }
        let planned: usize = self.targets.iter().map(|a| a.planned).sum();
        if !self.estate && planned > self.requests() && !self.budget_reached {
            line.push_str(&format!(
                " ({planned} planned: raise --max-requests to send them all)"
            ));
        }
        let failed: usize = self.targets.iter().map(|a| a.run.failures.len()).sum();
        if failed > 0 {
            line.push_str(&format!("; {failed} failed"));
        }
        if !self.skipped.is_empty() {
            line.push_str(&format!(
                "; {} skipped",
                crate::report::count(self.skipped.len(), "line")
            ));
        }
        if self.deadline_reached {
            line.push_str("; stopped at --max-time");
        }
        if self.budget_reached {
            line.push_str("; stopped at --max-total-requests");
        }
        line
    }

    /// SARIF 2.1.0: one run, one rule per class, one result per finding located at its URL;
    /// unreachable targets as tool notifications.
    pub fn sarif(&self) -> Value {
        let mut classes: Vec<Class> = self.findings().map(|f| f.class).collect();
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
        let mut results: Vec<Value> = Vec::new();
        for a in &self.targets {
            for (i, f) in a.findings.iter().enumerate() {
                let mut r = json!({
                    "ruleId": f.class.as_str(),
                    "level": level(f.severity),
                    "message": {"text": format!("{} {}", f.explanation, f.remediation)},
                    "locations": [{"physicalLocation": {"artifactLocation": {
                        "uri": a.endpoint.url.as_str(),
                    }}}],
                    "properties": {
                        "severity": f.severity.as_str(),
                        "security-severity": security_severity(f.severity),
                        "probe_origin": f.probe_origin,
                        "request_kind": f.request_kind,
                        "evidence": f.evidence,
                        "target": a.target.origin,
                    },
                });
                if a.new.is_some() {
                    r["baselineState"] = json!(if a.is_new(i) { "new" } else { "unchanged" });
                }
                results.push(r);
            }
        }
        let notifications: Vec<Value> = self
            .targets
            .iter()
            .filter_map(|a| {
                a.error().map(|e| {
                    json!({
                        "level": "error",
                        "message": {"text": format!("{}: {e}", a.endpoint.url)},
                    })
                })
            })
            .collect();
        let mut run = json!({
            "tool": {"driver": {
                "name": "crossgate",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/crossgate",
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": self.reached() > 0,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        });
        if let Some(fixed) = &self.fixed {
            run["properties"] = json!({"fixed": fixed});
        }
        json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [run],
        })
    }
}
