//! The playground in a real browser: the page's own self-test (`/?selftest=TOKEN`, with the
//! token the playground gives the harness) runs every starting point, a sample of the agent
//! matrix, a case composed in the form and a forced disagreement through the page's controls
//! (a starting point's button, the shareable fragment, fields typed, then **Run**), and writes
//! what the page shows.
//!
//! What the page shows is checked against the engine itself: the verdict it shows for the real
//! fetch must be the one the engine's console tells (a CORS message for the run's URL, or none),
//! the prediction it shows for this engine must be that verdict and quote one of those
//! messages, the page must report agreement, and a starting point must end as it says. In
//! Chromium, screenshots of the page at two widths are kept under
//! `target/crossgate-playground/`.

use std::path::PathBuf;
use std::time::Duration;

use crossgate_playground::server::Playground;
use serde_json::{Value, json};

use crate::engine::{CorsLine, Engine, Installed};
use crate::scenarios::{self, Ports};

/// Ports the sample is generated with: no real server listens on them, they only make the
/// harness's URLs recognisable, to be rewritten into the playground's placeholders.
const FAKE: Ports = Ports {
    page: 40001,
    a: 40002,
    b: 40003,
};

/// How many agent-matrix scenarios the sample takes (spread over the whole matrix).
const SAMPLE: usize = 36;

/// One case the page ran.
#[derive(Debug)]
pub struct Mismatch {
    pub id: String,
    pub problems: Vec<String>,
}

/// What the page showed, case by case, and where it was wrong.
#[derive(Debug, Default)]
pub struct Summary {
    pub engine: String,
    pub starts: usize,
    pub sampled: usize,
    /// Whether the suite had the case that must show a disagreement.
    pub forced: bool,
    pub mismatches: Vec<Mismatch>,
    pub screenshots: Vec<PathBuf>,
}

impl Summary {
    pub fn line(&self) -> String {
        format!(
            "playground: {} starting points, {} agent-matrix cases{} run through the page in {}: {} shown wrong{}",
            self.starts,
            self.sampled,
            if self.forced {
                ", one composed in the form and a forced disagreement"
            } else {
                ""
            },
            self.engine,
            self.mismatches.len(),
            if self.screenshots.is_empty() {
                String::new()
            } else {
                format!(
                    "; screenshots {}",
                    self.screenshots
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        )
    }
}

/// Base64url without padding, as the page's `fromBase64Url` reads a fragment.
fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The agent matrix's scenario as a playground case, where the page can run it: one fetch from
/// the first page origin, to the page's origin or the two targets, no referrer policy, every
/// URL in its answers one the playground can name.
fn as_case(job: &scenarios::Job) -> Option<Value> {
    let [step] = job.steps.as_slice() else {
        return None;
    };
    if job.page != 0 || step.request.get("referrer_policy").is_some() {
        return None;
    }
    let origin = |port: u16| format!("http://localhost:{port}");
    let places = [
        (FAKE.page, "page"),
        (FAKE.a, "target"),
        (FAKE.b, "redirect"),
    ];
    let url = step.request["url"].as_str()?;
    let run = format!("/s/{}", job.id);
    let (to, path) = places.iter().find_map(|(port, place)| {
        let rest = url.strip_prefix(&format!("{}{run}", origin(*port)))?;
        Some((*place, rest.to_owned()))
    })?;
    let rewrite = |value: &str| -> Option<String> {
        let mut v = value.to_owned();
        for (port, place) in places {
            v = v.replace(&format!("{}{run}", origin(port)), &format!("{{{place}}}"));
        }
        v = v.replace(&origin(FAKE.page), "{origin}");
        (!v.contains("4000") && !v.contains("api.localhost")).then_some(v)
    };
    let answers = |list: &[crate::scripted::Resp]| -> Option<Vec<Value>> {
        list.iter()
            .map(|r| {
                if r.status < 200 {
                    return None;
                }
                // The harness frames its empty bodies with `Content-Length: 0`; the playground
                // frames its own. Any other framing line is the scenario's point: not here.
                let framed = crossgate_playground::case::FRAMING;
                let headers: Option<Vec<(String, String)>> = r
                    .headers
                    .iter()
                    .filter(|(n, v)| !(n.eq_ignore_ascii_case("content-length") && v == "0"))
                    .map(|(n, v)| {
                        if framed.contains(&n.to_ascii_lowercase().as_str()) {
                            return None;
                        }
                        if !crossgate_playground::case::is_scriptable_value(v) {
                            return None;
                        }
                        let v = rewrite(v)?;
                        // A redirect must lead to one of the playground's origins.
                        if n.eq_ignore_ascii_case("location") && !v.starts_with('{') {
                            return None;
                        }
                        Some((n.clone(), v))
                    })
                    .collect();
                Some(json!({"status": r.status, "headers": headers?}))
            })
            .collect()
    };
    let headers = step.request["headers"].as_array()?;
    if headers.iter().any(|h| h.to_string().contains("4000")) {
        return None;
    }
    Some(json!({
        "request": {
            "to": to,
            "path": path,
            "method": step.request["method"],
            "headers": headers,
            "credentials": step.request["credentials"],
            "mode": step.request["mode"],
        },
        "server": {"kind": "scripted", "preflight": answers(&step.preflight)?, "actual": answers(&step.actual)?},
    }))
}

/// `SAMPLE` convertible scenarios, evenly spread over the matrix (so every family is likely
/// to be in it), in a fixed order.
fn sample() -> Vec<(String, Value)> {
    let generated = scenarios::generate(FAKE);
    let cases: Vec<(String, Value)> = generated
        .jobs
        .iter()
        .filter(|j| !matches!(j.family, "cache"))
        .filter_map(|j| Some((format!("{} [{}] {}", j.id, j.family, j.name), as_case(j)?)))
        .collect();
    let step = (cases.len() / SAMPLE).max(1);
    cases.into_iter().step_by(step).take(SAMPLE).collect()
}

/// A starting point, as `starts.json` has it.
#[derive(Debug, serde::Deserialize)]
struct Start {
    id: String,
    expect: Expect,
}

#[derive(Debug, serde::Deserialize)]
struct Expect {
    allowed: bool,
    preflight: bool,
    #[serde(default)]
    code: Option<String>,
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The page's reports, in order, from the console.
fn reports(console: &[crate::engine::ConsoleLine]) -> (Vec<Value>, bool) {
    const RESULT: &str = "crossgate-playground-result ";
    let mut found = Vec::new();
    let mut done = false;
    for line in console {
        if line.message.contains("crossgate-playground-done ") {
            done = true;
        }
        let Some(at) = line.message.find(RESULT) else {
            continue;
        };
        let hex: String = line.message[at + RESULT.len()..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        if let Some(value) = hex_decode(&hex).and_then(|b| serde_json::from_slice(&b).ok()) {
            found.push(value);
        }
    }
    (found, done)
}

/// `GET /api/runs/<run>`: the exchanges the playground's servers saw for a run.
async fn server_log(page: std::net::SocketAddr, run: &str) -> Result<Vec<Value>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(page).await?;
        let head =
            format!("GET /api/runs/{run} HTTP/1.1\r\nHost: {page}\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| "no answer within 5 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no response head")?;
    if !raw.starts_with(b"HTTP/1.1 200 ") {
        return Err(String::from_utf8_lossy(&raw[..split]).into_owned());
    }
    let log: Value = serde_json::from_slice(&raw[split + 4..]).map_err(|e| e.to_string())?;
    Ok(log["seen"].as_array().cloned().unwrap_or_default())
}

/// Checks one report against the engine's console, the servers' own log and, for a starting
/// point, its expectation.
fn check(
    engine: Engine,
    report: &Value,
    lines: &[CorsLine],
    seen: &[Value],
    expect: Option<&Expect>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let id = engine.simulated().id();
    if report["state"] != "done" {
        problems.push(format!("the page ended in state {}", report["state"]));
        return problems;
    }
    if report["you"] != id {
        problems.push(format!("the page took the browser for {}", report["you"]));
    }
    let run = report["run"].as_str().unwrap_or("?");
    let marker = format!("/c/{run}/");
    let mine: Vec<&CorsLine> = lines
        .iter()
        .filter(|l| {
            l.url.contains(&marker) || l.during.as_deref().is_some_and(|d| d.contains(&marker))
        })
        .collect();
    let shown_real = report["real"].as_str().unwrap_or("?");
    let console_says = if mine.is_empty() {
        "allowed"
    } else {
        "blocked"
    };
    if shown_real != console_says {
        problems.push(format!(
            "the page shows the real fetch {shown_real}, the engine's console says {console_says} ({} CORS line(s) for the run)",
            mine.len()
        ));
    }
    let predicted = &report["predictions"][id];
    if predicted["verdict"] != shown_real {
        problems.push(format!(
            "the page shows {} predicted for {}, but the real fetch {shown_real}",
            predicted["verdict"], engine
        ));
    }
    if report["agree"] != "yes" {
        problems.push(format!(
            "the page reports agree={} {}",
            report["agree"], report["disagreements"]
        ));
    }
    if let Some(message) = predicted["message"]
        .as_str()
        .filter(|m| !m.is_empty() && !m.starts_with('('))
        && !mine
            .iter()
            .any(|l| l.line.contains(message) || l.reason.contains(message))
    {
        problems.push(format!(
            "the page shows the message {message:?}, which is not among {engine}'s: {:?}",
            mine.iter().map(|l| &l.reason).collect::<Vec<_>>()
        ));
    }
    // The preflights the servers saw, against the count the page shows predicted for this
    // engine (the page compares them too; this does not take its word).
    let preflights = seen.iter().filter(|s| s["kind"] == "preflight").count();
    if predicted["preflights"].as_u64() != Some(preflights as u64) {
        problems.push(format!(
            "the servers saw {preflights} preflight(s), the page shows {} predicted",
            predicted["preflights"]
        ));
    }
    if let Some(expect) = expect {
        if expect.preflight != (preflights > 0) {
            problems.push(format!(
                "expected preflight {}, the servers saw {preflights}",
                expect.preflight
            ));
        }
        let want = if expect.allowed { "allowed" } else { "blocked" };
        if shown_real != want {
            problems.push(format!("expected {want}, the page shows {shown_real}"));
        }
        if expect.code.as_deref() != predicted["code"].as_str() {
            problems.push(format!(
                "expected {:?}, the page shows {}",
                expect.code, predicted["code"]
            ));
        }
    }
    problems
}

/// A case composed in the form itself: a starting point, then its method typed over, a
/// header added with `+ request header` and filled in, and credentials chosen. The preflight
/// answer allows PUT and `content-type` only, so PATCH is refused: the page must show that,
/// as the engine does.
fn composed() -> Value {
    json!({
        "id": "composed",
        "start": "preflight-ok",
        "edits": [
            {"select": "#method", "value": "PATCH"},
            {"select": "#request-headers .add", "click": true},
            {"select": "#request-headers .h-name", "value": "X-Trace"},
            {"select": "#request-headers .h-value", "value": "t1"},
            {"select": "#credentials", "value": "omit"},
        ],
    })
}

/// A case where the engines differ (Chromium preflights a `Range` past `i64::MAX - 1`, Firefox
/// and WebKit do not), run while the page compares with another engine's prediction: the page
/// must show the disagreement plainly, with the download of the case.
fn forced_disagreement(engine: Engine) -> Value {
    let other = if engine == Engine::Chromium {
        "firefox"
    } else {
        "chromium"
    };
    json!({
        "id": "forced-disagreement",
        "compare": other,
        "case": {
            "request": {"to": "target", "path": "/range", "headers": [["Range", "bytes=9223372036854775808-"]]},
            "server": {"kind": "scripted",
                "preflight": [{"status": 204, "headers": [["Access-Control-Allow-Origin", "{origin}"], ["Access-Control-Allow-Headers", "range"]]}],
                "actual": [{"status": 200, "headers": [["Access-Control-Allow-Origin", "{origin}"]]}]},
        },
    })
}

fn check_disagreement(engine: Engine, report: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let other = if engine == Engine::Chromium {
        "firefox"
    } else {
        "chromium"
    };
    if report["compared"] != other {
        problems.push(format!(
            "the page compared with {} instead of {other}",
            report["compared"]
        ));
    }
    if report["agree"] != "no" {
        problems.push(format!(
            "the page shows agree={} where {engine} and {other} differ",
            report["agree"]
        ));
    }
    let first = report["disagreements"][0].as_str().unwrap_or_default();
    if !first.starts_with("preflights: the server saw") {
        problems.push(format!(
            "the page's disagreement is {first:?}, not the preflight"
        ));
    }
    if report["download"] != true {
        problems.push("the disagreement has no download button".to_owned());
    }
    // What the button downloads reproduces the prediction the page showed.
    let shown = &report["predictions"][other]["verdict"];
    let downloaded = report["scenario"].as_str().unwrap_or_default();
    match crossgate_playground::simulate::simulate(downloaded, engine_of(other)) {
        Ok(simulated) => {
            let verdict = if simulated.allowed() {
                "allowed"
            } else {
                "blocked"
            };
            if shown != verdict {
                problems.push(format!(
                    "the downloaded scenario simulates {verdict}, the page showed {shown}"
                ));
            }
        }
        Err(e) => problems.push(format!("the downloaded scenario does not simulate: {e}")),
    }
    problems
}

fn engine_of(id: &str) -> crossgate::browser::Browser {
    crossgate::browser::Browser::ALL
        .into_iter()
        .find(|b| b.id() == id)
        .expect("a browser id")
}

/// Where the screenshots go: `target/crossgate-playground/`.
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("crossgate-playground")
}

/// Runs the self-test in `browser`, and in Chromium takes the screenshots.
/// With `filter`, only the sampled cases whose id or name contains it, and no starting point.
pub async fn run(browser: &Installed, filter: Option<&str>) -> Result<Summary, String> {
    let engine = browser.engine;
    let playground = Playground::bind("127.0.0.1:0".parse().expect("an address"))
        .await
        .map_err(|e| format!("cannot start the playground: {e}"))?;
    let page = playground.page_addr();
    let token = playground.enable_self_test();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(playground.serve(async {
        let _ = stopped.await;
    }));
    let outcome = self_test(browser, page, &token, filter).await;
    let screenshots = if engine == Engine::Chromium && outcome.is_ok() {
        screenshots(browser, page).await
    } else {
        Ok(Vec::new())
    };
    let _ = stop.send(());
    let _ = server.await;
    let mut summary = outcome?;
    summary.screenshots = screenshots?;
    Ok(summary)
}

async fn self_test(
    browser: &Installed,
    page: std::net::SocketAddr,
    token: &str,
    filter: Option<&str>,
) -> Result<Summary, String> {
    let engine = browser.engine;
    let starts: Vec<Start> = serde_json::from_str(crossgate_playground::server::STARTS)
        .map_err(|e| format!("starts.json: {e}"))?;
    let mut starts = starts;
    let mut sampled = sample();
    if let Some(filter) = filter {
        starts.clear();
        sampled = scenarios::generate(FAKE)
            .jobs
            .iter()
            .filter(|j| j.id == filter || j.family == filter || j.name.contains(filter))
            .filter_map(|j| Some((format!("{} [{}] {}", j.id, j.family, j.name), as_case(j)?)))
            .collect();
    }
    let mut suite: Vec<Value> = starts
        .iter()
        .map(|s| json!({"id": s.id, "start": s.id}))
        .collect();
    suite.extend(
        sampled
            .iter()
            .map(|(id, case)| json!({"id": id, "case": case})),
    );
    if filter.is_none() {
        suite.push(composed());
        suite.push(forced_disagreement(engine));
    }
    let fragment = base64url(serde_json::to_string(&suite).expect("JSON").as_bytes());
    let url = format!("http://{page}/?selftest={token}#suite={fragment}");
    let profile = std::env::temp_dir().join(format!(
        "crossgate-playground-{}-{}",
        engine.name().to_ascii_lowercase(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile)
        .map_err(|e| format!("cannot create {}: {e}", profile.display()))?;
    let mut running = browser.launch(&url, &profile).await?;
    // Each case is a registration, a fetch and three predictions: well under a second.
    let limit = Duration::from_secs(30 + 3 * suite.len() as u64);
    let started = std::time::Instant::now();
    loop {
        if reports(&running.console()).1 || started.elapsed() > limit || running.exited() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running
        .settle(Duration::from_millis(400), Duration::from_secs(3))
        .await;
    let console = running.stop().await;
    let _ = std::fs::remove_dir_all(&profile);
    let (found, done) = reports(&console);
    if !done {
        return Err(format!(
            "the page's self-test did not finish within {} s: {} of {} cases reported",
            limit.as_secs(),
            found.len(),
            suite.len()
        ));
    }
    let lines: Vec<CorsLine> = console.iter().filter_map(|l| engine.cors_line(l)).collect();
    let mut summary = Summary {
        engine: browser.label(),
        starts: starts.len(),
        sampled: sampled.len(),
        forced: filter.is_none(),
        ..Summary::default()
    };
    for item in &suite {
        let id = item["id"].as_str().unwrap_or_default();
        let report = found.iter().find(|r| r["id"] == id);
        let composed = Expect {
            allowed: false,
            preflight: true,
            code: Some("MethodDisallowedByPreflightResponse".to_owned()),
        };
        let expect = match id {
            "composed" => Some(&composed),
            _ => starts.iter().find(|s| s.id == id).map(|s| &s.expect),
        };
        let problems = match report {
            Some(report) if item.get("compare").is_some() => check_disagreement(engine, report),
            Some(report) => {
                // What the servers saw, asked of the playground itself, not of the page.
                let run = report["run"].as_str().unwrap_or("none");
                match server_log(page, run).await {
                    Ok(seen) => check(engine, report, &lines, &seen, expect),
                    Err(e) => vec![format!("the playground's log of run {run}: {e}")],
                }
            }
            None => vec!["the page did not report it".to_owned()],
        };
        if !problems.is_empty() {
            summary.mismatches.push(Mismatch {
                id: id.to_owned(),
                problems,
            });
        }
    }
    Ok(summary)
}

/// Chromium's own screenshots of the page after a run of a starting point, at a desktop and a
/// phone width. Each must be a PNG of that width.
async fn screenshots(
    browser: &Installed,
    page: std::net::SocketAddr,
) -> Result<Vec<PathBuf>, String> {
    let dir = artifacts();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut taken = Vec::new();
    for (width, height) in [(1280u32, 1400u32), (420, 3000)] {
        let path = dir.join(format!("playground-{width}.png"));
        let _ = std::fs::remove_file(&path);
        let profile = std::env::temp_dir().join(format!(
            "crossgate-playground-shot-{}-{width}",
            std::process::id()
        ));
        let status = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::new(&browser.path)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    "--no-first-run",
                    "--disable-extensions",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg(format!("--window-size={width},{height}"))
                .arg("--virtual-time-budget=8000")
                .arg(format!("--screenshot={}", path.display()))
                .arg(format!("http://{page}/?start=header-not-allowed&run=1"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .status(),
        )
        .await;
        let _ = std::fs::remove_dir_all(&profile);
        match status {
            Ok(Ok(s)) if s.success() => {}
            Ok(Ok(s)) => {
                return Err(format!(
                    "the {width}px screenshot: Chromium exited with {s}"
                ));
            }
            Ok(Err(e)) => return Err(format!("the {width}px screenshot: {e}")),
            Err(_) => return Err(format!("the {width}px screenshot took over 60 s")),
        }
        let png = std::fs::read(&path).map_err(|e| format!("the {width}px screenshot: {e}"))?;
        // The PNG signature, then IHDR: width and height, big-endian, at bytes 16 and 20.
        let shot_width = png
            .get(16..20)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        if !png.starts_with(b"\x89PNG") || shot_width != Some(width) || png.len() < 20_000 {
            return Err(format!(
                "the {width}px screenshot is not a {width}px-wide page ({} bytes, width {shot_width:?})",
                png.len()
            ));
        }
        taken.push(path);
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_spans_the_matrix() {
        let sampled = sample();
        assert_eq!(sampled.len(), SAMPLE);
        let families: std::collections::BTreeSet<&str> = sampled
            .iter()
            .filter_map(|(id, _)| id.split(['[', ']']).nth(1))
            .collect();
        assert!(families.len() >= 6, "{families:?}");
        // Every URL the harness would have used is now a placeholder.
        for (id, case) in &sampled {
            assert!(!case.to_string().contains("4000"), "{id}: {case}");
        }
    }

    #[test]
    fn base64url_matches_the_alphabet() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(hex_decode("00ff10"), Some(vec![0, 255, 16]));
    }
}
