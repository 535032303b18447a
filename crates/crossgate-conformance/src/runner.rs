//! The pages that run the fetches in a browser, and what they report back.
//!
//! Fetches are grouped into batches, one per page origin. The browser opens the first batch's page
//! (`<origin>/run/0`); the page runs its jobs (a job is one or more fetches in order, the steps
//! of one scenario; jobs run concurrently), posts the results to its own server and navigates to
//! the next batch's page. The run ends when every batch has reported, or at the time limit.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::engine::{CorsLine, Installed};
use crate::http::{RawRequest, RawResponse};

/// One `fetch(url, init)`.
#[derive(Clone, Debug, Serialize)]
pub struct FetchStep {
    pub url: String,
    pub method: String,
    /// In order; a name may repeat (`Headers` combines them, as script's `append` does).
    pub headers: Vec<(String, String)>,
    /// `omit`, `same-origin` or `include`.
    pub credentials: String,
    /// `cors`, `no-cors` or `same-origin`.
    pub mode: String,
    /// Empty: the page's default.
    pub referrer_policy: String,
    /// Milliseconds to wait before this fetch.
    pub wait_ms: u64,
}

/// Fetches that run one after another (a scenario's steps).
#[derive(Clone, Debug, Serialize)]
pub struct FetchJob {
    pub id: String,
    pub steps: Vec<FetchStep>,
}

/// The jobs one page runs.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The page's origin, e.g. `http://app.localhost:41234` (served by the pages' server).
    pub page_origin: String,
    pub jobs: Vec<FetchJob>,
}

/// What script saw of one fetch.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct StepResult {
    /// Whether the promise resolved.
    pub ok: bool,
    #[serde(default)]
    pub status: u16,
    /// `basic`, `cors` or `opaque`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The header names script could read (`[...response.headers.keys()]`).
    #[serde(default)]
    pub headers: Vec<String>,
    /// The rejection, as a string.
    #[serde(default)]
    pub error: Option<String>,
}

/// Called when a job starts one of its steps (only for jobs of several steps): job id, step.
pub type StepHook = Arc<dyn Fn(&str, usize) + Send + Sync>;

/// The pages' server state.
pub struct Pages {
    batches: Vec<Batch>,
    results: Mutex<Vec<Option<Vec<Vec<StepResult>>>>>,
    /// Page errors (a batch's script failed as a whole).
    fatal: Mutex<Vec<String>>,
    reported: AtomicUsize,
    done: watch::Sender<bool>,
    step_hook: Option<StepHook>,
    /// Whether the pages log `crossgate-fetch <url>` before each fetch and run one job at a
    /// time, for an engine whose console lines do not all name their URL (set by [`Pages::run`]
    /// from [`crate::engine::Engine::needs_markers`]).
    markers: AtomicBool,
    /// How many jobs a page runs at once (without markers).
    pub concurrency: usize,
    /// The time limit of each fetch, in milliseconds.
    pub fetch_timeout_ms: u64,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunResult {
    /// Per batch, per job, per step.
    pub results: Vec<Vec<Vec<StepResult>>>,
    /// Every CORS console message, in the order printed.
    pub console: Vec<CorsLine>,
    /// Every console message (CORS or not), in the order printed.
    pub messages: Vec<String>,
    /// The network events of engines driven over a remote protocol (for the run's HAR).
    pub network: Vec<crate::engine::NetworkEvent>,
    pub elapsed: Duration,
}

const RUNNER_JS: &str = r#"
const sleep = ms => new Promise(r => setTimeout(r, ms));
async function step(job, i) {
  const s = job.steps[i];
  if (job.steps.length > 1) {
    await fetch('/step', {method: 'POST', body: job.id + ' ' + i});
  }
  if (s.wait_ms) await sleep(s.wait_ms);
  if (MARKERS) console.log('crossgate-fetch ' + s.url);
  const init = {method: s.method, headers: s.headers, credentials: s.credentials, mode: s.mode,
                signal: AbortSignal.timeout(FETCH_TIMEOUT)};
  if (s.referrer_policy) init.referrerPolicy = s.referrer_policy;
  try {
    const res = await fetch(s.url, init);
    const names = [...res.headers.keys()];
    try { await res.arrayBuffer(); } catch (e) {}
    return {ok: true, status: res.status, type: res.type, headers: names};
  } catch (e) {
    return {ok: false, error: String(e)};
  }
}
async function runJob(job) {
  const out = [];
  for (let i = 0; i < job.steps.length; i++) out.push(await step(job, i));
  return out;
}
async function main() {
  const results = new Array(JOBS.length);
  let next = 0;
  async function worker() {
    while (next < JOBS.length) {
      const k = next++;
      results[k] = await runJob(JOBS[k]);
    }
  }
  await Promise.all(Array.from({length: CONCURRENCY}, worker));
  await fetch('/results/' + BATCH, {method: 'POST', body: JSON.stringify(results)});
  if (NEXT) location.href = NEXT;
}
main().catch(e => fetch('/fatal/' + BATCH, {method: 'POST', body: String(e && e.stack || e)}));
"#;

impl Pages {
    pub fn new(batches: Vec<Batch>, step_hook: Option<StepHook>) -> Arc<Pages> {
        let n = batches.len();
        Arc::new(Pages {
            batches,
            results: Mutex::new(vec![None; n]),
            fatal: Mutex::new(Vec::new()),
            reported: AtomicUsize::new(0),
            done: watch::channel(false).0,
            step_hook,
            markers: AtomicBool::new(false),
            concurrency: 12,
            fetch_timeout_ms: 20_000,
        })
    }

    pub fn batches(&self) -> &[Batch] {
        &self.batches
    }

    /// The URL the browser starts on.
    pub fn start_url(&self) -> String {
        format!("{}/run/0", self.batches[0].page_origin)
    }

    fn page(&self, index: usize) -> RawResponse {
        let batch = &self.batches[index];
        let next = self
            .batches
            .get(index + 1)
            .map(|b| format!("{}/run/{}", b.page_origin, index + 1));
        // JSON inside <script>: no `<` may close the element.
        let jobs = serde_json::to_string(&batch.jobs)
            .expect("jobs serialise")
            .replace('<', "\\u003c");
        let next = serde_json::to_string(&next).expect("a string serialises");
        let markers = self.markers.load(Ordering::SeqCst);
        let concurrency = if markers { 1 } else { self.concurrency };
        let html = format!(
            "<!doctype html><meta charset=utf-8><title>crossgate conformance {index}</title>\
             <script>\nconst JOBS = {jobs};\nconst BATCH = {index};\nconst NEXT = {next};\n\
             const CONCURRENCY = {concurrency};\nconst MARKERS = {markers};\n\
             const FETCH_TIMEOUT = {};\n{RUNNER_JS}</script>\n",
            self.fetch_timeout_ms
        );
        RawResponse::with_body(200, "text/html; charset=utf-8", html.into_bytes())
    }

    /// One more batch has reported; the last one ends the run.
    fn finish_batch(&self) {
        if self.reported.fetch_add(1, Ordering::SeqCst) + 1 >= self.batches.len() {
            let _ = self.done.send(true);
        }
    }

    /// Answers the runner's own paths (`/run/N`, `/step`, `/results/N`, `/fatal/N`,
    /// `/favicon.ico`); `None` for anything else.
    pub fn handle(&self, request: &RawRequest) -> Option<RawResponse> {
        let path = request.path();
        let ok = || RawResponse::with_body(200, "text/plain", b"ok".to_vec());
        let index = |prefix: &str| -> Option<usize> {
            path.strip_prefix(prefix)?
                .parse()
                .ok()
                .filter(|i| *i < self.batches.len())
        };
        if path == "/favicon.ico" {
            return Some(RawResponse::with_body(404, "text/plain", Vec::new()));
        }
        if let Some(i) = index("/run/") {
            return Some(self.page(i));
        }
        if path == "/step" && request.method == "POST" {
            let body = String::from_utf8_lossy(&request.body);
            if let (Some(hook), Some((id, step))) = (&self.step_hook, body.split_once(' '))
                && let Ok(step) = step.parse()
            {
                hook(id, step);
            }
            return Some(ok());
        }
        if let Some(i) = index("/results/")
            && request.method == "POST"
        {
            match serde_json::from_slice::<Vec<Vec<StepResult>>>(&request.body) {
                Ok(results) => {
                    let mut all = self.results.lock().expect("results lock");
                    if all[i].is_none() {
                        all[i] = Some(results);
                        drop(all);
                        self.finish_batch();
                    }
                }
                Err(e) => self
                    .fatal
                    .lock()
                    .expect("fatal lock")
                    .push(format!("batch {i}: unreadable results: {e}")),
            }
            return Some(ok());
        }
        if let Some(i) = index("/fatal/")
            && request.method == "POST"
        {
            self.fatal.lock().expect("fatal lock").push(format!(
                "batch {i}: the page failed: {}",
                String::from_utf8_lossy(&request.body)
            ));
            // The pages after it will not run: end the run now.
            let _ = self.done.send(true);
            return Some(ok());
        }
        None
    }

    /// Runs every batch in a new headless browser, at most `limit`; then waits for the console
    /// to go quiet and stops the browser.
    pub async fn run(&self, browser: &Installed, limit: Duration) -> Result<RunResult, String> {
        let started = Instant::now();
        let engine = browser.engine;
        self.markers.store(engine.needs_markers(), Ordering::SeqCst);
        let profile = ProfileDir::new(engine.name())?;
        let mut browser = browser.launch(&self.start_url(), &profile.0).await?;
        let mut done = self.done.subscribe();
        let outcome = tokio::time::timeout(limit, async {
            loop {
                if *done.borrow_and_update() {
                    return Ok(());
                }
                if browser.exited() {
                    return Err(format!("{engine} exited before the pages reported"));
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), done.changed()).await;
            }
        })
        .await;
        // Messages are printed as the fetches fail; let the last ones arrive.
        browser
            .settle(Duration::from_millis(400), Duration::from_secs(5))
            .await;
        let network = browser.network();
        let console = browser.stop().await;
        let fatal = self.fatal.lock().expect("fatal lock").clone();
        if !fatal.is_empty() {
            return Err(fatal.join("\n"));
        }
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                let missing: Vec<String> = self
                    .results
                    .lock()
                    .expect("results lock")
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.is_none())
                    .map(|(i, _)| self.batches[i].page_origin.clone())
                    .collect();
                return Err(format!(
                    "the pages did not report within {limit:?} (missing: {})",
                    missing.join(", ")
                ));
            }
        }
        let results = self
            .results
            .lock()
            .expect("results lock")
            .iter()
            .map(|r| r.clone().unwrap_or_default())
            .collect();
        Ok(RunResult {
            results,
            console: console.iter().filter_map(|l| engine.cors_line(l)).collect(),
            messages: console.into_iter().map(|l| l.message).collect(),
            network,
            elapsed: started.elapsed(),
        })
    }
}

/// A new, empty browser profile directory, removed when dropped.
struct ProfileDir(PathBuf);

impl ProfileDir {
    fn new(engine: &str) -> Result<ProfileDir, String> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "crossgate-{}-{}-{}",
            engine.to_ascii_lowercase(),
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(ProfileDir(dir))
    }
}

impl Drop for ProfileDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, body: &str) -> RawRequest {
        RawRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn pages_chain_batches_and_collect_results() {
        let steps = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&steps);
        let batch = |origin: &str| Batch {
            page_origin: origin.to_owned(),
            jobs: vec![FetchJob {
                id: "j</script>".to_owned(),
                steps: Vec::new(),
            }],
        };
        let pages = Pages::new(
            vec![batch("http://127.0.0.1:1"), batch("http://app.localhost:1")],
            Some(Arc::new(move |id: &str, step| {
                seen.lock().unwrap().push((id.to_owned(), step));
            })),
        );
        let page = pages.handle(&request("GET", "/run/0", "")).unwrap();
        let html = String::from_utf8(page.body).unwrap();
        assert!(html.contains("const NEXT = \"http://app.localhost:1/run/1\""));
        assert!(
            !html.contains("j</script>"),
            "script-closing text is escaped"
        );
        assert!(pages.handle(&request("GET", "/run/2", "")).is_none());
        assert!(pages.handle(&request("GET", "/s/x", "")).is_none());
        pages.handle(&request("POST", "/step", "j 1")).unwrap();
        assert_eq!(*steps.lock().unwrap(), [("j".to_owned(), 1)]);
        let done = pages.done.subscribe();
        pages
            .handle(&request(
                "POST",
                "/results/0",
                r#"[[{"ok":false,"error":"TypeError"}]]"#,
            ))
            .unwrap();
        assert!(!*done.borrow());
        pages
            .handle(&request(
                "POST",
                "/results/1",
                r#"[[{"ok":true,"status":200,"type":"cors","headers":["content-type"]}]]"#,
            ))
            .unwrap();
        assert!(*done.borrow());
        let results = pages.results.lock().unwrap();
        assert_eq!(results[1].as_ref().unwrap()[0][0].kind, "cors");
    }
}
