//! The HAR of a run, as each engine's own tools would export it from the network events the
//! harness received, and `crossgate::har`'s verdicts on it checked against what the browser did.
//!
//! - **Chromium**: DevTools protocol `Network.*` events, put together as DevTools' HAR writer
//!   (`front_end/models/har/Log.ts`) does: one entry per hop, the raw headers of the extra-info
//!   events where they came, preflights as their own entries (`_resourceType: "preflight"`,
//!   `_initiator.type: "preflight"`), `response._error` from `Network.loadingFailed`, and the
//!   default (sanitised) export: `Cookie`, `Authorization` and `Set-Cookie` removed.
//! - **Firefox**: WebDriver BiDi `network.*` events, as the network monitor's HAR builder
//!   (`devtools/client/netmonitor/src/har/har-builder.js`) writes them: one entry per hop, the
//!   real status and headers of a blocked response and no mark of the block, cookies kept,
//!   `startedDateTime` with a UTC offset, and `log.browser`.
//!
//! WebKit is driven without a remote protocol here, so its logs are hand-written
//! (`crates/crossgate/tests/data/har/cases.json`) after Web Inspector's `HARBuilder.js`.

use std::collections::HashMap;

use serde_json::{Value, json};

use crossgate::agent::CredentialsMode;
use crossgate::har::{Har, Judged, Options, Report, Verdict};

use crate::engine::NetworkEvent;
use crate::scripted::job_of;

fn iso(ms: f64, utc_suffix: bool) -> String {
    let nanos = (ms * 1_000_000.0) as i128;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::format_description::well_known::Rfc3339;
    let text = t.format(&format).unwrap_or_default();
    if utc_suffix {
        text
    } else {
        text.replace('Z', "+00:00")
    }
}

fn log(name: &str, version: &str, entries: Vec<Value>, browser: bool) -> Value {
    let mut log = json!({
        "version": "1.2",
        "creator": {"name": name, "version": version},
        "pages": [],
        "entries": entries,
    });
    if browser {
        log["browser"] = json!({"name": name, "version": version});
    }
    json!({ "log": log })
}

/// CDP headers (`{"name": "v1\nv2"}`) as HAR headers, one per line as DevTools splits them.
fn cdp_headers(headers: &Value, sanitise: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for (name, value) in headers.as_object().into_iter().flatten() {
        let lower = name.to_ascii_lowercase();
        if sanitise && matches!(lower.as_str(), "cookie" | "authorization" | "set-cookie") {
            continue;
        }
        for v in value.as_str().unwrap_or_default().split('\n') {
            out.push(json!({"name": name, "value": v}));
        }
    }
    out
}

#[derive(Default)]
struct Hop {
    wall_ms: f64,
    method: String,
    url: String,
    headers: Value,
    initiator: Value,
    kind: Option<String>,
    status: Option<u64>,
    response_headers: Value,
    error: Option<String>,
    finished: bool,
}

/// Chromium's network events as DevTools' HAR export.
pub fn chromium(events: &[NetworkEvent], version: &str) -> Value {
    let mut hops: HashMap<String, Vec<Hop>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut request_extra: HashMap<String, Vec<Value>> = HashMap::new();
    let mut response_extra: HashMap<String, Vec<(Value, Option<u64>)>> = HashMap::new();
    for e in events {
        let p = &e.event["params"];
        let Some(id) = p["requestId"].as_str().map(str::to_owned) else {
            continue;
        };
        let list = hops.entry(id.clone()).or_default();
        match e.event["method"].as_str().unwrap_or_default() {
            "Network.requestWillBeSent" => {
                // A second one for a request in flight without a redirect response (Chromium
                // sends it for a redirect it refuses, to a URL with credentials) is ignored,
                // as DevTools' NetworkManager ignores it.
                if !list.is_empty() && !p["redirectResponse"].is_object() {
                    continue;
                }
                if let Some(last) = list.last_mut()
                    && p["redirectResponse"].is_object()
                {
                    last.status = p["redirectResponse"]["status"].as_u64();
                    last.response_headers = p["redirectResponse"]["headers"].clone();
                    last.finished = true;
                }
                if list.is_empty() {
                    order.push(id.clone());
                }
                let mut url = p["request"]["url"].as_str().unwrap_or_default().to_owned();
                if let Some(f) = p["request"]["urlFragment"].as_str() {
                    url.push_str(f);
                }
                list.push(Hop {
                    wall_ms: p["wallTime"].as_f64().map_or(e.received_ms, |w| w * 1000.0),
                    method: p["request"]["method"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    url,
                    headers: p["request"]["headers"].clone(),
                    initiator: p["initiator"].clone(),
                    kind: p["type"].as_str().map(str::to_ascii_lowercase),
                    ..Hop::default()
                });
            }
            "Network.requestWillBeSentExtraInfo" => {
                request_extra
                    .entry(id)
                    .or_default()
                    .push(p["headers"].clone());
            }
            "Network.responseReceivedExtraInfo" => {
                response_extra
                    .entry(id)
                    .or_default()
                    .push((p["headers"].clone(), p["statusCode"].as_u64()));
            }
            "Network.responseReceived" => {
                if let Some(last) = list.last_mut() {
                    last.status = p["response"]["status"].as_u64();
                    last.response_headers = p["response"]["headers"].clone();
                    last.kind = p["type"].as_str().map(str::to_ascii_lowercase);
                }
            }
            "Network.loadingFinished" => {
                if let Some(last) = list.last_mut() {
                    last.finished = true;
                }
            }
            "Network.loadingFailed" => {
                if let Some(last) = list.last_mut() {
                    if let Some(text) = p["errorText"].as_str().filter(|t| !t.is_empty()) {
                        last.error = Some(text.to_owned());
                    }
                    if last.kind.is_none() {
                        last.kind = p["type"].as_str().map(str::to_ascii_lowercase);
                    }
                    last.finished = true;
                }
            }
            _ => {}
        }
    }
    let mut entries: Vec<(f64, Value)> = Vec::new();
    for id in &order {
        let Some(list) = hops.get(id) else { continue };
        let request_extra = request_extra.get(id);
        let response_extra = response_extra.get(id);
        let mut answered = 0;
        for (k, hop) in list.iter().enumerate() {
            if !hop.finished {
                continue;
            }
            // The extra-info events carry what went on the wire, hop by hop, in order.
            let headers = request_extra.and_then(|x| x.get(k)).unwrap_or(&hop.headers);
            let (response_headers, status) = match hop.status {
                Some(_) => {
                    let extra = response_extra.and_then(|x| x.get(answered));
                    answered += 1;
                    match extra {
                        Some((h, s)) => (h, s.or(hop.status)),
                        None => (&hop.response_headers, hop.status),
                    }
                }
                // No responseReceived (a failed load): DevTools still fills in the raw
                // response when its extra-info arrived.
                None => match response_extra.and_then(|x| x.get(answered)) {
                    Some((h, s)) => {
                        answered += 1;
                        (h, *s)
                    }
                    None => (&Value::Null, None),
                },
            };
            let location = response_headers
                .as_object()
                .and_then(|h| h.iter().find(|(n, _)| n.eq_ignore_ascii_case("location")))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default();
            let initiator_type = if hop.kind.as_deref() == Some("preflight") {
                json!("preflight")
            } else {
                hop.initiator["type"].clone()
            };
            let mut initiator = json!({"type": initiator_type});
            for field in ["url", "requestId", "lineNumber"] {
                if !hop.initiator[field].is_null() {
                    initiator[field] = hop.initiator[field].clone();
                }
            }
            entries.push((
                hop.wall_ms,
                json!({
                    "startedDateTime": iso(hop.wall_ms, true),
                    "_initiator": initiator,
                    "_resourceType": hop.kind.clone().unwrap_or_else(|| "other".to_owned()),
                    "cache": {},
                    "request": {
                        "method": hop.method,
                        "url": hop.url.split('#').next().unwrap_or_default(),
                        "httpVersion": "HTTP/1.1",
                        "headers": cdp_headers(headers, true),
                        "cookies": [],
                    },
                    "response": {
                        "status": status.unwrap_or(0),
                        "statusText": "",
                        "headers": cdp_headers(response_headers, true),
                        "cookies": [],
                        "redirectURL": location,
                        "_error": hop.error,
                    },
                }),
            ));
        }
    }
    entries.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut har = log(
        "WebInspector",
        "537.36",
        entries.into_iter().map(|(_, e)| e).collect(),
        false,
    );
    har["log"]["comment"] = json!(format!(
        "made by crossgate-conformance from Chromium {version}'s DevTools protocol events"
    ));
    har
}

/// BiDi headers (`[{"name", "value": {"type": "string", "value"}}]`) as HAR headers.
fn bidi_headers(headers: &Value) -> Vec<Value> {
    headers
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| json!({"name": h["name"], "value": h["value"]["value"]}))
        .collect()
}

/// Firefox's network events as its network monitor's HAR export.
pub fn firefox(events: &[NetworkEvent], version: &str) -> Value {
    // Keyed by request id and redirect count: each hop is its own entry.
    let mut entries: Vec<((String, u64), Value)> = Vec::new();
    let mut started: Vec<f64> = Vec::new();
    let find = |entries: &[((String, u64), Value)], key: &(String, u64)| {
        entries.iter().position(|(k, _)| k == key)
    };
    for e in events {
        let p = &e.event["params"];
        let key = (
            p["request"]["request"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            p["redirectCount"].as_u64().unwrap_or(0),
        );
        match e.event["method"].as_str().unwrap_or_default() {
            "network.beforeRequestSent" => {
                if find(&entries, &key).is_some() {
                    continue;
                }
                let ms = p["timestamp"].as_f64().unwrap_or(e.received_ms);
                started.push(ms);
                entries.push((
                    key,
                    json!({
                        "startedDateTime": iso(ms, false),
                        "request": {
                            "method": p["request"]["method"],
                            "url": p["request"]["url"],
                            "httpVersion": "HTTP/1.1",
                            "headers": bidi_headers(&p["request"]["headers"]),
                            "cookies": p["request"]["cookies"].as_array().into_iter().flatten()
                                .map(|c| json!({"name": c["name"], "value": c["value"]["value"]}))
                                .collect::<Vec<_>>(),
                        },
                        "response": {"status": 0, "statusText": "", "headers": [], "cookies": [],
                                     "redirectURL": ""},
                        "cache": {},
                        "timings": {},
                    }),
                ));
            }
            "network.responseStarted" | "network.responseCompleted" => {
                let Some(i) = find(&entries, &key) else {
                    continue;
                };
                let r = &p["response"];
                let headers = bidi_headers(&r["headers"]);
                let location = headers
                    .iter()
                    .find(|h| {
                        h["name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case("location"))
                    })
                    .and_then(|h| h["value"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                let response = &mut entries[i].1["response"];
                response["status"] = r["status"].clone();
                response["statusText"] = r["statusText"].clone();
                response["headers"] = Value::from(headers);
                response["redirectURL"] = Value::from(location);
            }
            _ => {}
        }
    }
    let mut all: Vec<(f64, Value)> = started
        .into_iter()
        .zip(entries.into_iter().map(|(_, e)| e))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    log(
        "Firefox",
        version,
        all.into_iter().map(|(_, e)| e).collect(),
        true,
    )
}

/// What the browser did with one step of a job, and crossgate's report of it.
#[derive(Clone, Debug)]
pub struct StepSeen {
    /// The request went out in `cors` mode to another origin (some hop of it) and reached the
    /// server: the log has it as a CORS request.
    pub in_log: bool,
    /// The browser let script read the response.
    pub browser_ok: bool,
    /// crossgate's error code for the step, where it is blocked.
    pub code: Option<String>,
    /// The step's `credentials` (`omit`, `same-origin`, `include`).
    pub credentials: String,
}

/// The steps of one job.
#[derive(Clone, Debug)]
pub struct JobSeen {
    pub id: String,
    pub steps: Vec<StepSeen>,
}

/// How `crossgate har` did on the run's own log.
#[derive(Debug, Default)]
pub struct HarCheck {
    /// CORS requests judged.
    pub requests: usize,
    /// Judged as the browser did.
    pub agree: usize,
    /// No verdict, with why (one line each).
    pub undetermined: Vec<String>,
    /// A verdict the browser contradicts, or requests the log lost or invented.
    pub disagreements: Vec<String>,
}

impl HarCheck {
    pub fn line(&self, engine: &str, how: &str) -> String {
        format!(
            "har ({how}): {}/{} CORS requests of {engine}'s own log judged as {engine} did, {} \
             undetermined, {} disagreements",
            self.agree,
            self.requests,
            self.undetermined.len(),
            self.disagreements.len()
        )
    }
}

type ByJob<'a> = HashMap<String, Vec<&'a Judged>>;

/// The judged requests of each job, in time order.
fn by_job(report: &Report) -> ByJob<'_> {
    let mut out: ByJob<'_> = HashMap::new();
    for r in &report.requests {
        let path = r
            .fetch
            .url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        if let Some(job) = job_of(&path) {
            out.entry(job.to_owned()).or_default().push(r);
        }
    }
    out
}

/// Compares one judged request with what the browser did.
fn compare(out: &mut HarCheck, job: &str, step: &StepSeen, j: &Judged) {
    out.requests += 1;
    let own = &j.judgement;
    let code = own.code.map(|c| c.as_str());
    let entry = j.fetch.entry;
    match own.verdict {
        Verdict::Undetermined => out
            .undetermined
            .push(format!("{job} (entry {entry}): {}", own.missing.join("; "))),
        v if (v == Verdict::Allowed) != step.browser_ok => out.disagreements.push(format!(
            "{job} (entry {entry}): crossgate har says {} ({}), the browser {}",
            v.as_str(),
            code.unwrap_or("-"),
            if step.browser_ok {
                "allowed it"
            } else {
                "blocked it"
            }
        )),
        Verdict::Blocked
            if code != step.code.as_deref()
                && !own
                    .alternatives
                    .iter()
                    .any(|a| Some(a.as_str()) == step.code.as_deref()) =>
        {
            out.disagreements.push(format!(
                "{job} (entry {entry}): crossgate har says {}, crossgate's report {}",
                code.unwrap_or("-"),
                step.code.as_deref().unwrap_or("-")
            ))
        }
        _ => out.agree += 1,
    }
}

/// Judges the run's log with `crossgate::har` and compares each verdict with the browser's:
/// first as a user would with the log alone, then told each request's credentials mode (what
/// `--credentials` tells), which the log does not always show.
pub fn check(har: &Value, jobs: &[JobSeen]) -> (HarCheck, HarCheck) {
    let mut alone = HarCheck::default();
    let mut told = HarCheck::default();
    let parsed = match Har::from_json(&har.to_string()) {
        Ok(h) => h,
        Err(e) => {
            alone
                .disagreements
                .push(format!("the log does not read: {e}"));
            return (alone, told);
        }
    };
    let report = parsed.judge(None);
    let modes = [
        ("omit", CredentialsMode::Omit),
        ("same-origin", CredentialsMode::SameOrigin),
        ("include", CredentialsMode::Include),
    ];
    let told_reports: Vec<(&str, Report)> = modes
        .iter()
        .map(|(name, mode)| {
            let options = Options {
                browser: None,
                credentials: Some(*mode),
            };
            (*name, parsed.judge_with(options))
        })
        .collect();
    let told_by_job: Vec<(&str, ByJob<'_>)> =
        told_reports.iter().map(|(n, r)| (*n, by_job(r))).collect();
    let mut judged_by_job = by_job(&report);
    for job in jobs {
        let mut expected: Vec<&StepSeen> = job.steps.iter().filter(|s| s.in_log).collect();
        let judged = judged_by_job.remove(&job.id).unwrap_or_default();
        // Firefox's log may show the hop of a redirect it refused before sending (to a URL
        // with credentials), which makes a same-origin request cross-origin in the log: where
        // the browser blocked every step and the log has no more requests than steps, each is
        // judged against its step like any other (an `allowed` would be a disagreement).
        if expected.is_empty()
            && judged.len() <= job.steps.len()
            && job.steps.iter().all(|s| !s.browser_ok)
        {
            expected = job.steps.iter().take(judged.len()).collect();
        }
        if expected.len() != judged.len() {
            alone.disagreements.push(format!(
                "{}: the log has {} CORS requests of it (entries {:?}), the browser made {}",
                job.id,
                judged.len(),
                judged.iter().map(|j| j.fetch.entry).collect::<Vec<_>>(),
                expected.len()
            ));
            continue;
        }
        for (k, (step, j)) in expected.iter().zip(judged).enumerate() {
            compare(&mut alone, &job.id, step, j);
            let told_judged = told_by_job
                .iter()
                .find(|(n, _)| *n == step.credentials)
                .and_then(|(_, m)| m.get(&job.id))
                .and_then(|list| list.get(k));
            match told_judged {
                Some(t) => compare(&mut told, &job.id, step, t),
                None => told.disagreements.push(format!(
                    "{}: no judgement told credentials {}",
                    job.id, step.credentials
                )),
            }
        }
    }
    for (job, judged) in judged_by_job {
        alone.disagreements.push(format!(
            "{job}: {} CORS requests in the log for a job that made none",
            judged.len()
        ));
    }
    (alone, told)
}
