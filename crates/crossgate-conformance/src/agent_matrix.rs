//! The agent matrix: every generated scenario runs in a browser against the scripted targets and
//! through crossgate's agent for that browser (`Scenario::run`, the Report of
//! `crossgate simulate --json`; `Sequence::run` for caching sequences), and the two must agree on
//! the verdict, every exchange that reached the server (preflight or not, its
//! `Access-Control-Request-*` headers, the method, URL and `Origin` of each hop), the headers
//! script can read, and the browser's console message (Chromium's reason and whole line,
//! Firefox's whole line).

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{CorsLine, Engine, Installed};
use crate::har::{JobSeen, StepSeen};
use crate::http::{self, Handler, RawRequest, RawResponse};
use crate::runner::{Batch, FetchJob, FetchStep, Pages, StepResult};
use crate::scenarios::{Job, Ports, generate};
use crate::scripted::{Got, Kind, Scripts, job_of};
use crossgate::agent::{ErrorCode, Report, Scenario, Sequence, paste};

/// One scenario on which crossgate and the browser differ.
#[derive(Clone, Debug)]
pub struct Disagreement {
    pub id: String,
    pub family: String,
    pub name: String,
    /// One line per differing fact.
    pub diffs: Vec<String>,
    /// The scenario (or sequence) as `simulate` / `Sequence` reads it, to reproduce it.
    pub input: String,
}

/// The outcome of the matrix.
#[derive(Debug)]
pub struct Summary {
    /// The engine and its version (`Firefox 153.8.0esr`).
    pub browser: String,
    pub scenarios: usize,
    pub fetches: usize,
    pub agree: usize,
    pub disagreements: Vec<Disagreement>,
    /// `crossgate har` on the run's own network log (engines driven over a remote protocol):
    /// with the log alone, and told each request's credentials mode.
    pub har: Option<(crate::har::HarCheck, crate::har::HarCheck)>,
    pub elapsed: Duration,
}

impl Summary {
    pub fn line(&self) -> String {
        format!(
            "agent matrix: {}/{} agree with {} ({} fetches, {:.1} s in the browser)",
            self.agree,
            self.scenarios,
            self.browser,
            self.fetches,
            self.elapsed.as_secs_f64()
        )
    }
}

/// An exchange as both sides describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ExchangeView {
    kind: &'static str,
    method: String,
    url: String,
    origin: Option<String>,
    acrm: Option<String>,
    acrh: Option<String>,
    /// Which of the script's own headers arrived (lowercase, sorted).
    headers: Vec<String>,
}

/// Headers the browser adds or replaces itself: their presence says nothing about the script's.
fn browser_added(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "user-agent"
            | "accept"
            | "accept-language"
            | "accept-encoding"
            | "cookie"
            | "origin"
            | "referer"
            | "host"
            | "connection"
            | "content-length"
            | "access-control-request-method"
            | "access-control-request-headers"
    ) || n.starts_with("sec-")
}

fn script_headers(script: &[String], present: impl Iterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = present
        .map(|n| n.to_ascii_lowercase())
        .filter(|n| script.contains(n) && !browser_added(n))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The URL as the server can see it: no fragment, no userinfo.
fn wire_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

fn crossgate_exchanges(report: &Report, script: &[String]) -> Vec<ExchangeView> {
    report
        .exchanges
        .iter()
        .map(|e| {
            let get = |name: &str| {
                e.request
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            let preflight = e.kind == crossgate::agent::ExchangeKind::Preflight;
            ExchangeView {
                kind: if preflight { "preflight" } else { "actual" },
                method: e.request.method.clone(),
                url: wire_url(&e.request.url),
                origin: get("origin"),
                acrm: get("access-control-request-method"),
                acrh: get("access-control-request-headers"),
                headers: script_headers(script, e.request.headers.iter().map(|(n, _)| n.clone())),
            }
        })
        .collect()
}

fn browser_exchanges(got: &[Got], script: &[String]) -> Vec<ExchangeView> {
    got.iter()
        .map(|g| ExchangeView {
            kind: match g.kind {
                Kind::Preflight => "preflight",
                Kind::Actual => "actual",
            },
            method: g.method.clone(),
            url: wire_url(&g.url),
            origin: g.header("origin").map(str::to_owned),
            acrm: g.header("access-control-request-method").map(str::to_owned),
            acrh: g
                .header("access-control-request-headers")
                .map(str::to_owned),
            headers: script_headers(script, g.headers.iter().map(|(n, _)| n.clone())),
        })
        .collect()
}

fn show<T: std::fmt::Debug>(v: &T) -> String {
    format!("{v:?}")
}

/// Compares one job: `reports` from crossgate, `results` from script, `got` from the server,
/// `lines` from `engine`'s console (this job's, in order).
fn compare(
    engine: Engine,
    job: &Job,
    reports: &[Report],
    results: &[StepResult],
    got: &[Vec<Got>],
    lines: &[CorsLine],
) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut diff = |step: usize, what: &str, crossgate: String, browser: String| {
        if crossgate != browser {
            let at = if job.steps.len() > 1 {
                format!("step {step}: ")
            } else {
                String::new()
            };
            diffs.push(format!(
                "{at}{what}: crossgate {crossgate}, {engine} {browser}"
            ));
        }
    };
    for (i, report) in reports.iter().enumerate() {
        let empty = StepResult::default();
        let js = results.get(i).unwrap_or(&empty);
        let got = got.get(i).map(Vec::as_slice).unwrap_or_default();
        let script: Vec<String> = job.steps[i].request["headers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p[0].as_str().map(str::to_ascii_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        let verdict = |allowed: bool| if allowed { "allowed" } else { "blocked" }.to_owned();
        let browser_verdict = if js.ok {
            verdict(true)
        } else {
            format!("blocked ({})", js.error.as_deref().unwrap_or("no result"))
        };
        if report.allowed != js.ok {
            diff(i, "verdict", verdict(report.allowed), browser_verdict);
        }
        let preflights = |views: &[ExchangeView]| -> Vec<(Option<String>, Option<String>)> {
            views
                .iter()
                .filter(|v| v.kind == "preflight")
                .map(|v| (v.acrm.clone(), v.acrh.clone()))
                .collect()
        };
        let ours = crossgate_exchanges(report, &script);
        let theirs = browser_exchanges(got, &script);
        diff(
            i,
            "preflights (ACRM, ACRH)",
            show(&preflights(&ours)),
            show(&preflights(&theirs)),
        );
        let actual_origins: Vec<Option<String>> = theirs
            .iter()
            .filter(|v| v.kind == "actual")
            .map(|v| v.origin.clone())
            .collect();
        diff(
            i,
            "Origin per hop",
            show(&report.origin_sent),
            show(&actual_origins),
        );
        if ours != theirs {
            let ours: Vec<String> = ours.iter().map(show).collect();
            let theirs: Vec<String> = theirs.iter().map(show).collect();
            diff(
                i,
                "exchanges",
                format!("\n      {}", ours.join("\n      ")),
                format!("\n      {}", theirs.join("\n      ")),
            );
        }
        if let Some(u) = got.iter().find(|g| g.unscripted) {
            diff(
                i,
                "unscripted request",
                "none".to_owned(),
                format!(
                    "{} {} ({:?}), which the scenario has no response for",
                    u.method, u.url, u.kind
                ),
            );
        }
        if report.allowed && js.ok {
            let mut readable = js.headers.clone();
            readable.sort();
            readable.dedup();
            diff(
                i,
                "readable headers",
                show(&report.exposed_headers),
                show(&readable),
            );
        }
    }
    // Chromium's reasons first (the part its JSON message holds), then every engine's whole
    // lines: Chromium's name the page's origin and any redirect, Firefox's the URL, the reason
    // and the status, one line per request that failed.
    if engine == Engine::Chromium {
        let ours: Vec<String> = reports
            .iter()
            .filter_map(|r| r.error.as_ref().and_then(|e| e.messages.chromium.clone()))
            .collect();
        let theirs: Vec<String> = lines.iter().map(|l| l.reason.clone()).collect();
        if ours != theirs {
            diffs.push(format!(
                "messages.chromium: crossgate {}, Chromium {}",
                show(&ours),
                show(&theirs)
            ));
            return diffs;
        }
    }
    let ours: Vec<&String> = reports.iter().flat_map(|r| &r.console).collect();
    let theirs: Vec<&String> = lines.iter().map(|l| &l.line).collect();
    if ours != theirs {
        diffs.push(format!(
            "console lines: crossgate {}, {engine} {}",
            show(&ours),
            show(&theirs)
        ));
    }
    diffs.extend(read_back(engine, reports, lines));
    diffs
}

/// The engine's own console lines for a blocked fetch, read back as `crossgate explain` reads
/// a paste: every line must be understood, and the error crossgate reports must be among those
/// the words fit.
fn read_back(engine: Engine, reports: &[Report], lines: &[CorsLine]) -> Option<String> {
    let [report] = reports else {
        return None;
    };
    let error = report.error.as_ref()?;
    if lines.is_empty() {
        return None;
    }
    let text: Vec<&str> = lines.iter().map(|l| l.line.as_str()).collect();
    let code = ErrorCode::from_name(&error.code)?;
    paste::read_back(&text.join("\n"), Some(engine.simulated()), code)
        .err()
        .map(|e| format!("explain: {engine}'s lines {e}"))
}

/// crossgate's reports for a job as `engine` would do it: `Scenario::run` for one fetch,
/// `Sequence::run` for several.
fn crossgate_reports(
    engine: Engine,
    job: &Job,
    origin: &str,
) -> Result<(Vec<Report>, String), String> {
    if job.steps.len() == 1 {
        let input = job.scenario_json(origin, 0);
        let scenario: Scenario =
            serde_json::from_value(input.clone()).map_err(|e| format!("scenario: {e}"))?;
        let report = scenario
            .run(engine.simulated())
            .map_err(|e| format!("simulate: {e}"))?;
        Ok((vec![report], input.to_string()))
    } else {
        let input = job.sequence_json(origin);
        let sequence: Sequence =
            serde_json::from_value(input.clone()).map_err(|e| format!("sequence: {e}"))?;
        let reports = sequence
            .run(engine.simulated())
            .map_err(|e| format!("sequence: {e}"))?;
        Ok((reports, input.to_string()))
    }
}

fn fetch_job(job: &Job) -> FetchJob {
    FetchJob {
        id: job.id.clone(),
        steps: job
            .steps
            .iter()
            .map(|s| {
                let r = &s.request;
                let text = |k: &str, d: &str| r[k].as_str().unwrap_or(d).to_owned();
                FetchStep {
                    url: text("url", ""),
                    method: text("method", "GET"),
                    headers: serde_json::from_value(r["headers"].clone()).unwrap_or_default(),
                    credentials: text("credentials", "same-origin"),
                    mode: text("mode", "cors"),
                    referrer_policy: text("referrer_policy", ""),
                    wait_ms: s.after_ms,
                }
            })
            .collect(),
    }
}

/// Whether a job is selected by `filter` (a substring of its id, family or name).
fn selected(job: &Job, filter: Option<&str>) -> bool {
    filter.is_none_or(|f| job.id == f || job.family == f || job.name.contains(f))
}

/// Runs the agent matrix in `browser`; `filter` keeps only some scenarios.
pub async fn run(browser: &Installed, filter: Option<&str>) -> Result<Summary, String> {
    let engine = browser.engine;
    let bind = || async { http::bind().await.map_err(|e| format!("cannot bind: {e}")) };
    let (page_l, page) = bind().await?;
    let (a_l, a) = bind().await?;
    let (b_l, b) = bind().await?;
    let generated = generate(Ports { page, a, b });
    let jobs: Vec<Job> = generated
        .jobs
        .iter()
        .filter(|j| selected(j, filter))
        .cloned()
        .collect();
    if jobs.is_empty() {
        return Err(format!("no scenario matches {filter:?}"));
    }
    let scripts = Arc::new(Scripts::default());
    for job in &jobs {
        scripts.add(
            &job.id,
            job.steps
                .iter()
                .map(|s| (s.preflight.clone(), s.actual.clone()))
                .collect(),
        );
    }
    let batches: Vec<Batch> = generated
        .pages
        .iter()
        .enumerate()
        .map(|(i, origin)| Batch {
            page_origin: origin.clone(),
            jobs: jobs.iter().filter(|j| j.page == i).map(fetch_job).collect(),
        })
        .filter(|b| !b.jobs.is_empty())
        .collect();
    let hook_scripts = Arc::clone(&scripts);
    let pages = Pages::new(
        batches,
        Some(Arc::new(move |id: &str, step| {
            hook_scripts.set_step(id, step)
        })),
    );
    let handler: Handler = {
        let pages = Arc::clone(&pages);
        let scripts = Arc::clone(&scripts);
        Arc::new(move |r: &RawRequest| {
            pages
                .handle(r)
                .or_else(|| scripts.handle(r))
                .unwrap_or_else(|| RawResponse::with_body(404, "text/plain", Vec::new()))
        })
    };
    let servers = [
        http::serve(page_l, Arc::clone(&handler)),
        http::serve(a_l, Arc::clone(&handler)),
        http::serve(b_l, handler),
    ];
    let run = pages.run(browser, Duration::from_secs(240)).await;
    for s in &servers {
        s.abort();
    }
    let run = run?;
    if std::env::var("CROSSGATE_CONFORMANCE_VERBOSE").is_ok_and(|v| v == "1") {
        for m in &run.messages {
            eprintln!("console: {m}");
        }
    }

    let mut summary = Summary {
        browser: browser.label(),
        scenarios: jobs.len(),
        fetches: jobs.iter().map(|j| j.steps.len()).sum(),
        agree: 0,
        disagreements: Vec::new(),
        har: None,
        elapsed: run.elapsed,
    };
    let mut seen: Vec<JobSeen> = Vec::new();
    // The engine's console lines for each blocked fetch, with crossgate's error for it: saved
    // where CROSSGATE_CONFORMANCE_SAVE_CONSOLE names a file (the fixture of real messages that
    // `crossgate::agent::paste` is tested on).
    let mut captured: Vec<serde_json::Value> = Vec::new();
    for (b, batch) in pages.batches().iter().enumerate() {
        for (k, fetch) in batch.jobs.iter().enumerate() {
            let job = jobs
                .iter()
                .find(|j| j.id == fetch.id)
                .expect("a job per fetch job");
            let origin = &generated.pages[job.page];
            let lines: Vec<CorsLine> = run
                .console
                .iter()
                .filter(|l| {
                    let job_of = l.during.as_deref().and_then(line_job);
                    job_of.or_else(|| line_job(&l.line)) == Some(job.id.as_str())
                })
                .cloned()
                .collect();
            let results = run.results[b].get(k).cloned().unwrap_or_default();
            let (diffs, input) = match crossgate_reports(engine, job, origin) {
                Ok((reports, input)) => {
                    if let ([report], false) = (reports.as_slice(), lines.is_empty())
                        && let Some(error) = &report.error
                    {
                        captured.push(serde_json::json!({
                            "job": job.id,
                            "name": job.name,
                            "code": error.code,
                            "lines": lines.iter().map(|l| l.line.clone()).collect::<Vec<_>>(),
                        }));
                    }
                    seen.push(job_seen(job, origin, &reports, &results));
                    (
                        compare(
                            engine,
                            job,
                            &reports,
                            &results,
                            &scripts.received(&job.id),
                            &lines,
                        ),
                        input,
                    )
                }
                Err(e) => (vec![format!("crossgate cannot run it: {e}")], String::new()),
            };
            if diffs.is_empty() {
                summary.agree += 1;
            } else {
                summary.disagreements.push(Disagreement {
                    id: job.id.clone(),
                    family: job.family.to_owned(),
                    name: job.name.clone(),
                    diffs,
                    input,
                });
            }
        }
    }
    let har = match engine {
        Engine::Chromium => Some(crate::har::chromium(&run.network, browser.version_number())),
        Engine::Firefox => Some(crate::har::firefox(&run.network, browser.version_number())),
        Engine::Webkit => None,
    };
    if let Some(har) = &har {
        summary.har = Some(crate::har::check(har, &seen));
        if let Ok(path) = std::env::var("CROSSGATE_CONFORMANCE_SAVE_EVENTS") {
            let events: Vec<&serde_json::Value> = run.network.iter().map(|e| &e.event).collect();
            let text = serde_json::to_string(&events).unwrap_or_default();
            if let Err(e) = std::fs::write(&path, text + "\n") {
                eprintln!("cannot write {path}: {e}");
            }
        }
        if let Ok(path) = std::env::var("CROSSGATE_CONFORMANCE_SAVE_HAR") {
            let text = serde_json::to_string_pretty(har).unwrap_or_default();
            if let Err(e) = std::fs::write(&path, text + "\n") {
                eprintln!("cannot write {path}: {e}");
            }
        }
    }
    if let Ok(path) = std::env::var("CROSSGATE_CONFORMANCE_SAVE_CONSOLE") {
        let doc = serde_json::json!({
            "browser": summary.browser,
            "made_by": "CROSSGATE_CONFORMANCE_SAVE_CONSOLE=FILE cargo test -p crossgate-conformance --test ENGINE (the agent matrix)",
            "messages": captured,
        });
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, text + "\n") {
            eprintln!("cannot write {path}: {e}");
        }
    }
    Ok(summary)
}

/// What the browser did with each step of `job`, beside crossgate's report, for the check of
/// the run's HAR: a step is in the log as a CORS request when it went out in `cors` mode and
/// some exchange of it reached another origin.
fn job_seen(job: &Job, origin: &str, reports: &[Report], results: &[StepResult]) -> JobSeen {
    let page = url::Url::parse(origin).ok().map(|u| u.origin());
    JobSeen {
        id: job.id.clone(),
        steps: job
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let report = reports.get(i);
                let cors = step.request["mode"].as_str().unwrap_or("cors") == "cors";
                let cross = report.is_some_and(|r| {
                    r.exchanges
                        .iter()
                        .any(|e| url::Url::parse(&e.request.url).ok().map(|u| u.origin()) != page)
                });
                StepSeen {
                    credentials: step.request["credentials"]
                        .as_str()
                        .unwrap_or("same-origin")
                        .to_owned(),
                    in_log: cors && cross,
                    browser_ok: results.get(i).is_some_and(|r| r.ok),
                    code: report.and_then(|r| r.error.as_ref().map(|e| e.code.clone())),
                }
            })
            .collect(),
    }
}

/// The job a console line is about: the first `/s/<id>/` in it (the request URL, or the URL it
/// was redirected from).
fn line_job(line: &str) -> Option<&str> {
    let at = line.find("/s/s")?;
    job_of(&line[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_belong_to_their_job() {
        assert_eq!(
            line_job(
                "Access to fetch at 'data:,hello' (redirected from \
                 'http://127.0.0.1:1/s/s012/r0') from origin 'http://127.0.0.1:2' has been \
                 blocked by CORS policy: x"
            ),
            Some("s012")
        );
        assert_eq!(line_job("Access to fetch at 'http://x/' from origin"), None);
    }

    #[test]
    fn wire_urls_lose_fragment_and_userinfo() {
        assert_eq!(
            wire_url("http://u:p@127.0.0.1:1/s/s1/r1#frag"),
            "http://127.0.0.1:1/s/s1/r1"
        );
    }

    #[test]
    fn only_the_scripts_own_headers_are_compared() {
        let script = vec!["x-a".to_owned(), "accept".to_owned()];
        let present = ["X-A", "Accept", "Sec-Fetch-Mode", "X-B"].map(str::to_owned);
        assert_eq!(script_headers(&script, present.into_iter()), ["x-a"]);
    }
}
