//! Sending every target's plan, politely: a global limit on requests in flight, a smaller one
//! per host (host and port, as connections go) with a minimum gap between two starts there, a
//! request budget per target and for the run, a deadline, and retries with backoff for
//! connection errors and 429/503 (honouring `Retry-After`, during which the host gets nothing
//! else). A target that keeps failing is given up, and never holds up the others: while it
//! waits for its timeouts, the rest of the run goes on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crossgate::audit::{Observation, RequestKind, SESSION_PROBE_COOKIE};
use futures_util::future::join_all;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::plan::Planned;
use super::progress::Progress;

/// One target's requests.
pub struct Job {
    pub url: url::Url,
    /// The `Host` header that names the audited host (one target only).
    pub host_header: Option<String>,
    pub plan: Vec<Planned>,
}

/// How the run is paced.
pub struct Settings {
    pub concurrency: usize,
    pub per_host: usize,
    pub delay: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub max_total: Option<usize>,
    pub max_time: Option<Duration>,
    /// Sent with every simple request (the user's credentials).
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Connection failures (after retries) in a row after which a target is given up.
const GIVE_UP_AFTER: usize = 3;
/// The longest `Retry-After` honoured; a longer one ends the retries for that request.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What one target's requests brought back.
#[derive(Default)]
pub struct TargetRun {
    /// In plan order.
    pub observations: Vec<Observation>,
    pub failures: Vec<String>,
    /// Planned requests that got an answer or a final error.
    pub sent: usize,
    /// Attempts beyond the first.
    pub retries: usize,
    /// Why the target was given up before its plan was done.
    pub given_up: Option<String>,
}
/// The whole run.
pub struct RunResult {
    pub targets: Vec<TargetRun>,
    pub deadline_reached: bool,
    pub budget_reached: bool,
    pub elapsed: Duration,
}

/// Failures in a row, and the reason the third of them gave up (a target, or a host across
/// its targets).
#[derive(Default)]
struct Streak {
    failures_in_a_row: AtomicUsize,
    given_up: Mutex<Option<String>>,
}

impl Streak {
    fn given_up(&self) -> Option<String> {
        self.given_up.lock().ok().and_then(|g| g.clone())
    }

    fn give_up(&self, reason: String) {
        if let Ok(mut g) = self.given_up.lock() {
            g.get_or_insert(reason);
        }
    }

    /// Counts a failure (or, with `None`, a success); the third in a row gives up, its reason
    /// `what` followed by the count and the last failure.
    fn record(&self, failure: Option<&str>, what: &str) {
        match failure {
            None => self.failures_in_a_row.store(0, Ordering::Relaxed),
            Some(e) => {
                let n = self.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= GIVE_UP_AFTER {
                    self.give_up(format!("{what} after {n} failed requests in a row: {e}"));
                }
            }
        }
    }
}

/// One host's share: its concurrency (for requests, and for targets so that the targets of a
/// busy or dead host never hold the run's target slots while they wait), the pacing of its
/// request starts, and whether it is given up.
struct Host {
    permits: Semaphore,
    target_slots: Semaphore,
    /// When the last request started; held while a request waits its turn to start.
    last_start: tokio::sync::Mutex<Option<Instant>>,
    /// A `Retry-After` asked for quiet until then (set without waiting for `last_start`).
    quiet_until: Mutex<Option<Instant>>,
    streak: Streak,
}

impl Host {
    fn new(per_host: usize) -> Host {
        Host {
            permits: Semaphore::new(per_host),
            target_slots: Semaphore::new(per_host),
            last_start: tokio::sync::Mutex::new(None),
            quiet_until: Mutex::new(None),
            streak: Streak::default(),
        }
    }

    fn quiet(&self, until: Instant) {
        if let Ok(mut q) = self.quiet_until.lock() {
            *q = Some(q.map_or(until, |old| old.max(until)));
        }
    }
}

/// What the targets share.
struct Run<'a> {
    settings: &'a Settings,
    client: reqwest::Client,
    global: Semaphore,
    target_slots: Semaphore,
    hosts: HashMap<String, Host>,
    budget: AtomicUsize,
    deadline: Option<Instant>,
    deadline_reached: AtomicBool,
    budget_reached: AtomicBool,
    progress: &'a Progress,
}

/// `host:port` of the address requests go to.
fn host_key(url: &url::Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

/// Sends every job's plan and hands each finished target to `finish` (which judges it and
/// returns how many findings it has, for the progress line).
pub fn send_all(
    jobs: &[Job],
    settings: &Settings,
    client: reqwest::Client,
    progress: &Progress,
    finish: &(dyn Fn(usize, &TargetRun) -> usize + Sync),
) -> Result<RunResult, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the audit's runtime: {e}"))?;
    let started = std::time::Instant::now();
    let mut hosts = HashMap::new();
    for job in jobs {
        hosts
            .entry(host_key(&job.url))
            .or_insert_with(|| Host::new(settings.per_host));
    }
    let (targets, deadline_reached, budget_reached) = runtime.block_on(async {
        let run = Run {
            settings,
            client,
            global: Semaphore::new(settings.concurrency),
            target_slots: Semaphore::new(settings.concurrency),
            hosts,
            budget: AtomicUsize::new(settings.max_total.unwrap_or(usize::MAX)),
            deadline: settings.max_time.map(|t| Instant::now() + t),
            deadline_reached: AtomicBool::new(false),
            budget_reached: AtomicBool::new(false),
            progress,
        };
        // Targets start in an order that alternates hosts, so that the first active targets
        // are not all waiting on one host's limit.
        let order = interleaved(jobs);
        let mut done: Vec<(usize, TargetRun)> = join_all(order.into_iter().map(|i| {
            let run = &run;
            async move {
                let target = run.target(&jobs[i]).await;
                let findings = finish(i, &target);
                let unsent = jobs[i].plan.len().saturating_sub(target.sent);
                run.progress.target_done(findings, unsent);
                (i, target)
            }
        }))
        .await;
        done.sort_by_key(|(i, _)| *i);
        let targets: Vec<TargetRun> = done.into_iter().map(|(_, t)| t).collect();
        (
            targets,
            run.deadline_reached.load(Ordering::Relaxed),
            run.budget_reached.load(Ordering::Relaxed),
        )
    });
    Ok(RunResult {
        targets,
        deadline_reached,
        budget_reached,
        elapsed: started.elapsed(),
    })
}

/// Job indices, round-robin over their hosts (each host's jobs in their given order).
fn interleaved(jobs: &[Job]) -> Vec<usize> {
    let mut by_host: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let key = host_key(&job.url);
        match by_host.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(i),
            None => by_host.push((key, vec![i])),
        }
    }
    let mut out = Vec::with_capacity(jobs.len());
    let mut round = 0;
    while out.len() < jobs.len() {
        for (_, list) in &by_host {
            if let Some(i) = list.get(round) {
                out.push(*i);
            }
        }
        round += 1;
    }
    out
}

/// One target's shared state while its workers run.
struct Progressing {
    next: AtomicUsize,
    streak: Streak,
    results: Mutex<Vec<(usize, Result<Observation, String>)>>,
    retries: AtomicUsize,
}

/// How one attempt ended.
enum Attempt {
    Answered(Observation),
    Failed(Failure),
    /// Never sent: the deadline or the budget ran out, or the host was given up meanwhile.
    NotSent,
}

impl Run<'_> {
    async fn target(&self, job: &Job) -> TargetRun {
        let host = &self.hosts[&host_key(&job.url)];
        let state = Progressing {
            next: AtomicUsize::new(0),
            streak: Streak::default(),
            results: Mutex::new(Vec::new()),
            retries: AtomicUsize::new(0),
        };
        // A host's slot first, then the run's: a target waiting on its host holds nothing
        // that another host's targets need.
        let slots = async {
            let host_slot = host.target_slots.acquire().await.ok();
            let run_slot = self.target_slots.acquire().await.ok();
            (host_slot, run_slot)
        };
        let _slots = match self.deadline {
            Some(d) => tokio::time::timeout_at(d, slots).await.ok(),
            None => Some(slots.await),
        };
        if _slots.is_some() && host.streak.given_up().is_none() {
            let workers = self.settings.per_host.min(job.plan.len()).max(1);
            join_all((0..workers).map(|_| self.worker(job, host, &state))).await;
        }
        let mut results = state.results.into_inner().unwrap_or_default();
        results.sort_by_key(|(i, _)| *i);
        let mut run = TargetRun {
            sent: results.len(),
            retries: state.retries.into_inner(),
            given_up: state.streak.given_up(),
            ..TargetRun::default()
        };
        if run.given_up.is_none() && run.sent < job.plan.len() {
            // Its host was given up (through this target or another of its targets).
            run.given_up = host.streak.given_up();
        }
        for (_, r) in results {
            match r {
                Ok(o) => run.observations.push(o),
                Err(e) => run.failures.push(e),
            }
        }
        run
    }

    async fn worker(&self, job: &Job, host: &Host, state: &Progressing) {
        loop {
            if state.streak.given_up().is_some()
                || host.streak.given_up().is_some()
                || self.deadline_passed()
            {
                break;
            }
            let i = state.next.fetch_add(1, Ordering::Relaxed);
            let Some(planned) = job.plan.get(i) else {
                break;
            };
            // None: the budget, the deadline or the host's state stopped it before it went.
            let Some(result) = self.send_with_retries(job, planned, host, state).await else {
                break;
            };
            let failure = result.as_ref().err().map(String::as_str);
            host.streak.record(failure, "the host was given up");
            state.streak.record(failure, "given up");
            if let Ok(mut results) = state.results.lock() {
                results.push((i, result));
            }
        }
    }

    fn deadline_passed(&self) -> bool {
        let passed = self.deadline.is_some_and(|d| Instant::now() >= d);
        if passed {
            self.deadline_reached.store(true, Ordering::Relaxed);
        }
        passed
    }

    /// Takes one request from the run's budget.
    fn take_budget(&self) -> bool {
        let taken = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if !taken {
            self.budget_reached.store(true, Ordering::Relaxed);
        }
        taken
    }

    /// One planned request, retried as the settings allow; `None` when it was never sent. A
    /// 429 or 503 that is still the answer after the retries is a failure: a host that turns
    /// the audit away has not been audited.
    async fn send_with_retries(
        &self,
        job: &Job,
        planned: &Planned,
        host: &Host,
        state: &Progressing,
    ) -> Option<Result<Observation, String>> {
        let mut attempt: u32 = 0;
        let mut last: Option<Result<Observation, String>> = None;
        loop {
            let outcome = match self.deadline {
                Some(d) => tokio::time::timeout_at(d, self.attempt(job, planned, host))
                    .await
                    .unwrap_or_else(|_| {
                        self.deadline_reached.store(true, Ordering::Relaxed);
                        Attempt::NotSent
                    }),
                None => self.attempt(job, planned, host).await,
            };
            if attempt > 0 && !matches!(outcome, Attempt::NotSent) {
                // Counted when it went out: a retry whose turn never came (the host given up
                // while it waited) was not sent.
                state.retries.fetch_add(1, Ordering::Relaxed);
            }
            let (result, wait) = match outcome {
                Attempt::NotSent => return last,
                Attempt::Answered(o) if o.status == 429 || o.status == 503 => {
                    let asked = retry_after(&o);
                    let reason = reqwest::StatusCode::from_u16(o.status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or_default();
                    let text = match asked {
                        Some(w) => {
                            format!("{} {reason} (Retry-After: {} s)", o.status, w.as_secs())
                        }
                        None => format!("{} {reason}", o.status),
                    };
                    if let Some(w) = asked {
                        let until = Instant::now() + w;
                        // The host asked for quiet: nothing more goes there until then, retry
                        // or not; a wait beyond what the run allows ends its audit.
                        if w > LONGEST_RETRY_AFTER || self.deadline.is_some_and(|d| until >= d) {
                            host.streak.give_up(format!(
                                "the host asked to wait {} s (Retry-After), longer than the \
                                 audit waits",
                                w.as_secs()
                            ));
                            return Some(Err(text));
                        }
                        host.quiet(until);
                    }
                    (Err(text), Some(asked.unwrap_or_else(|| backoff(attempt))))
                }
                Attempt::Answered(o) => return Some(Ok(o)),
                Attempt::Failed(Failure::Connection(text)) => (Err(text), Some(backoff(attempt))),
                Attempt::Failed(Failure::Other(text)) => return Some(Err(text)),
            };
            if attempt >= self.settings.retries {
                return Some(result);
            }
            let wait = wait.unwrap_or_default();
            if self.deadline.is_some_and(|d| Instant::now() + wait >= d) {
                return Some(result);
            }
            // A backoff is this request's own wait; a Retry-After is already the host's.
            tokio::time::sleep(wait).await;
            attempt += 1;
            self.progress.retry();
            last = Some(result);
        }
    }

    /// Waits for this host's turn and a slot of the run, then sends once. Only the host's
    /// permit is held while waiting for the host's pace; the run's slot is taken only when the
    /// request can start, so a host that asks for quiet slows nothing but itself.
    async fn attempt(&self, job: &Job, planned: &Planned, host: &Host) -> Attempt {
        let Ok(_host_permit) = host.permits.acquire().await else {
            return Attempt::NotSent;
        };
        let mut last_start = host.last_start.lock().await;
        loop {
            let mut at = Instant::now();
            if let Some(last) = *last_start {
                at = at.max(last + self.settings.delay);
            }
            if let Some(quiet) = host.quiet_until.lock().ok().and_then(|q| *q) {
                at = at.max(quiet);
            }
            if at <= Instant::now() {
                break;
            }
            tokio::time::sleep_until(at).await;
        }
        let Ok(_run_permit) = self.global.acquire().await else {
            return Attempt::NotSent;
        };
        if host.streak.given_up().is_some() || !self.take_budget() {
            return Attempt::NotSent;
        }
        *last_start = Some(Instant::now());
        drop(last_start);
        self.progress.request_sent();
        match self.send(job, planned).await {
            Ok(o) => Attempt::Answered(o),
            Err(f) => Attempt::Failed(f),
        }
    }

    async fn send(&self, job: &Job, p: &Planned) -> Result<Observation, Failure> {
        let method = reqwest::Method::from_bytes(p.method.as_bytes())
            .map_err(|e| Failure::Other(e.to_string()))?;
        let mut b = self.client.request(method, job.url.clone());
        if let Some(host) = &job.host_header {
            b = b.header("host", host.as_str());
        }
        b = b.header("origin", p.probe.origin.as_str());
        if p.kind == RequestKind::Simple {
            // The user's credentials ride on simple requests, as a browser's would.
            for (n, v) in &self.settings.headers {
                b = b.header(n.as_str(), v.as_slice());
            }
            if p.session_cookie {
                b = b.header("cookie", SESSION_PROBE_COOKIE);
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
        let response = b
            .timeout(self.settings.timeout)
            .send()
            .await
            .map_err(Failure::of)?;
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
            session_cookie: p.session_cookie,
        })
    }
}

/// Why a request got no response; a connection that could not be made is worth a retry.
enum Failure {
    Connection(String),
    Other(String),
}

impl Failure {
    fn of(e: reqwest::Error) -> Failure {
        let text = crate::check::error_chain(&e);
        // Only a connection that never carried the request is retried: a request that may
        // have reached the server (a reset mid-response, a timeout) is not sent twice.
        if e.is_connect() && !e.is_timeout() {
            Failure::Connection(text)
        } else {
            Failure::Other(text)
        }
    }
}

/// 250 ms, 500 ms, 1 s, ... capped at 8 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.min(5))
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
fn retry_after(o: &Observation) -> Option<Duration> {
    let value = o
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| String::from_utf8_lossy(v).trim().to_owned())?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(&value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(url: &str) -> Job {
        Job {
            url: url.parse().unwrap(),
            host_header: None,
            plan: Vec::new(),
        }
    }

    #[test]
    fn targets_start_alternating_hosts() {
        let jobs = [
            job("http://a.example/1"),
            job("http://a.example/2"),
            job("http://a.example/3"),
            job("http://b.example/1"),
            job("http://a.example:8080/1"),
        ];
        assert_eq!(interleaved(&jobs), [0, 3, 4, 1, 2]);
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let o = |v: &str| Observation {
            probe: crossgate::audit::Probe {
                generator: crossgate::audit::Generator::Baseline,
                origin: "null".to_owned(),
                note: None,
            },
            kind: RequestKind::Simple,
            requested_method: None,
            requested_headers: None,
            status: 429,
            headers: vec![("Retry-After".to_owned(), v.as_bytes().to_vec())],
            session_cookie: false,
        };
        assert_eq!(retry_after(&o("3")), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        let d = retry_after(&o(&later)).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(retry_after(&o("soon")), None);
        assert_eq!(backoff(0), Duration::from_millis(250));
        assert_eq!(backoff(9), Duration::from_secs(8));
    }
}
