//! Replaying a network log: each engine's agent runs the page's CORS requests in the order
//! they were made, with one preflight cache and a clock that follows `startedDateTime`, and is
//! answered only from what was recorded. Where it asks for something the log does not have,
//! the verdict is `undetermined` and names what is missing; nothing is filled in.

use std::collections::HashMap;
use std::time::Duration;

use super::fetches::RecordedFetch;
use super::{Entry, Har};
use crate::agent::Request;
use crate::agent::classify;
use crate::agent::explain::{Explanation, explain};
use crate::agent::preflight::PreflightGrant;
use crate::agent::{
    Agent, CredentialsMode, ErrorCode, ExchangeKind, FakeClock, Incoming, Network, NetworkFailure,
    Outcome, Outgoing, PreflightCache, Profile, ReferrerPolicy, RequestInit, RequestMode, Stage,
    console,
};
use crate::browser::Browser;
use crate::origin::Origin;

/// An engine's verdict on one request: would it let the page read the response?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every CORS check on the way passes (preflight, redirects, the response): script
    /// reads the response.
    Allowed,
    /// A check fails: script gets a network error (`fetch()` rejects with a `TypeError`);
    /// [`Judgement::code`] says which check.
    Blocked,
    /// The log lacks what the judgement needs.
    Undetermined,
}

impl Verdict {
    /// `allowed`, `blocked` or `undetermined`, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Blocked => "blocked",
            Verdict::Undetermined => "undetermined",
        }
    }
}

/// How the preflight went, for the engine judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Preflight {
    /// The request needed none.
    NotNeeded,
    /// Sent, and recorded in these entries.
    Sent(Vec<usize>),
    /// Answered from the cache, filled by the preflight recorded in this entry.
    Cached(usize),
    /// Needed, not in the log, yet the request went out: the engine had it cached from before
    /// the recording began (or, for WebKit, whose tools never show preflights, it passed).
    Unrecorded,
}

impl Preflight {
    /// `not-needed`, `sent`, `cached` or `unrecorded`, as in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Preflight::NotNeeded => "not-needed",
            Preflight::Sent(_) => "sent",
            Preflight::Cached(_) => "cached",
            Preflight::Unrecorded => "unrecorded",
        }
    }

    /// The preflight entries it rests on.
    pub fn entries(&self) -> Vec<usize> {
        match self {
            Preflight::Sent(e) => e.clone(),
            Preflight::Cached(e) => vec![*e],
            Preflight::NotNeeded | Preflight::Unrecorded => Vec::new(),
        }
    }
}

/// What the log itself shows of the request's fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A response arrived and no failure is marked.
    Completed,
    /// The tools marked the load failed (`response._error`).
    Failed(String),
    /// No response and no mark.
    NotAnswered,
}

impl Recorded {
    /// `completed`, `failed` or `not-answered`, as in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Recorded::Completed => "completed",
            Recorded::Failed(_) => "failed",
            Recorded::NotAnswered => "not-answered",
        }
    }
}

/// One engine's judgement of one request: its verdict, and why.
#[derive(Clone, Debug)]
pub struct Judgement {
    /// The engine judged.
    pub browser: Browser,
    /// Allowed, blocked, or undetermined for want of something in the log.
    pub verdict: Verdict,
    /// The error (Chromium's `CorsError` name, for every engine) when blocked; `None`
    /// otherwise.
    pub code: Option<ErrorCode>,
    /// The error under the other credentials mode, where the log does not tell the mode and
    /// the two differ only in the error.
    pub alternatives: Vec<ErrorCode>,
    /// Where a blocked request failed: in `fetch()` itself, the preflight, the actual
    /// response or a redirect. `None` unless blocked.
    pub stage: Option<Stage>,
    /// The console line the engine prints for it (the first, where it prints several).
    pub message: Option<String>,
    /// The diagnosis of a blocked request (likely causes and the fix); `None` unless
    /// blocked.
    pub explanation: Option<Explanation>,
    /// How the preflight went in the replay. An undetermined verdict may say
    /// [`Preflight::NotNeeded`] for want of a replay.
    pub preflight: Preflight,
    /// HAR paths (or descriptions) of what the judgement lacks.
    pub missing: Vec<String>,
}

/// A request of the log, judged as the engine that recorded it, and as the others.
#[derive(Clone, Debug)]
pub struct Judged {
    /// The request as found in the log: its entries, origin, method, URL and headers.
    pub fetch: RecordedFetch,
    /// What the log itself shows of its fate.
    pub recorded: Recorded,
    /// The judgement as the report's engine ([`Report::browser`]).
    pub judgement: Judgement,
    /// The other engines' judgements on the same recorded answers: the recording engine
    /// first, then the rest in [`Browser::ALL`] order.
    pub other_engines: Vec<Judgement>,
    /// Where the recording and the replay disagree, or what was inferred.
    pub notes: Vec<String>,
}

/// The whole log, judged: what [`Har::judge`] returns.
#[derive(Clone, Debug)]
pub struct Report {
    /// How many entries the log has, CORS requests or not.
    pub entries: usize,
    /// The engine the requests are judged as: the recorder, or the one asked for.
    pub browser: Browser,
    /// Whether `browser` is the recorder as the file names it.
    pub browser_from_file: bool,
    /// Every CORS request of the log ([`Har::fetches`]), in the order they started
    /// (`startedDateTime`, then file order).
    pub requests: Vec<Judged>,
}

/// What the network could not answer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Lack {
    /// A preflight, none recorded for it.
    Preflight { url: String },
    /// An entry's response (status or headers).
    Response(usize),
    /// An entry the tools show as never sent: no response, and only the provisional headers
    /// (no `Origin`, no `Sec-Fetch-Mode`) of a request that did not reach the network.
    NeverSent(usize),
    /// A request (a redirect hop, or one whose preflight alone is in the log) not in the log.
    Hop { url: String },
}

/// Answers from the entries of one recorded fetch.
struct Replay<'a> {
    entries: &'a [Entry],
    split: bool,
    preflights: Vec<(usize, bool)>,
    hops: Vec<(usize, bool)>,
    lack: Option<Lack>,
    preflights_used: Vec<usize>,
}

fn same_url(entry: &Entry, url: &url::Url) -> bool {
    let mut url = url.clone();
    url.set_fragment(None);
    super::fetches::parsed(entry.url.as_deref()).is_some_and(|u| u == url)
}

/// Headers whose repeated lines an engine judges apart from one line of the same values
/// combined: Firefox's tools show repeated lines combined (`a, b`).
const COUNTED_BY_LINE: [&str; 2] = [
    "access-control-allow-origin",
    "access-control-allow-credentials",
];

fn counted_by_line(name: &str) -> bool {
    COUNTED_BY_LINE.iter().any(|c| name.eq_ignore_ascii_case(c))
}

/// An entry's response; with `split`, a combined value of a header counted by line is read as
/// the lines it may have been.
fn incoming(entry: &Entry, split: bool) -> Option<Incoming> {
    let status = u16::try_from(entry.status?)
        .ok()
        .filter(|s| (100..=999).contains(s))?;
    let headers = entry.response_headers.as_ref()?;
    let mut out = Vec::with_capacity(headers.len());
    for (n, v) in headers {
        if split && counted_by_line(n) && v.contains(',') {
            out.extend(
                v.split(',')
                    .map(|part| (n.clone(), part.trim().as_bytes().to_vec())),
            );
        } else {
            out.push((n.clone(), v.as_bytes().to_vec()));
        }
    }
    Some(Incoming {
        status,
        headers: out,
    })
}

impl Network for Replay<'_> {
    fn send(&mut self, request: &Outgoing) -> Result<Incoming, NetworkFailure> {
        let (list, preflight) = match request.kind {
            ExchangeKind::Preflight => (&mut self.preflights, true),
            ExchangeKind::Actual => (&mut self.hops, false),
        };
        let found = list
            .iter_mut()
            .find(|(i, used)| !*used && same_url(&self.entries[*i], &request.url));
        let lack = match found {
            Some((i, used)) => {
                *used = true;
                if preflight {
                    self.preflights_used.push(*i);
                }
                let entry = &self.entries[*i];
                match incoming(entry, self.split) {
                    Some(response) => return Ok(response),
                    None if !preflight
                        && !entry.answered()
                        && entry.request_header("Origin").is_none()
                        && entry.request_header("Sec-Fetch-Mode").is_none() =>
                    {
                        Lack::NeverSent(*i)
                    }
                    None => Lack::Response(*i),
                }
            }
            None if preflight => Lack::Preflight {
                url: request.url.to_string(),
            },
            None => Lack::Hop {
                url: request.url.to_string(),
            },
        };
        self.lack = Some(lack);
        Err(NetworkFailure {
            message: "not in the log".to_owned(),
        })
    }
}

/// One run of one engine over one fetch.
struct Run {
    outcome: Option<Outcome>,
    lack: Option<Lack>,
    preflights_used: Vec<usize>,
    cache: PreflightCache,
}

impl Run {
    /// Verdict and code, to compare runs.
    fn key(&self) -> (Verdict, Option<ErrorCode>) {
        match &self.outcome {
            Some(o) if o.allowed => (Verdict::Allowed, None),
            Some(o) => (Verdict::Blocked, o.error.as_ref().map(|e| e.code)),
            None => (Verdict::Undetermined, None),
        }
    }
}

fn run(
    har: &Har,
    fetch: &RecordedFetch,
    init: &RequestInit,
    split: bool,
    profile: Profile,
    clock: &FakeClock,
    cache: PreflightCache,
) -> Run {
    let mut network = Replay {
        entries: &har.entries,
        split,
        preflights: fetch.preflights.iter().map(|p| (*p, false)).collect(),
        hops: std::iter::once(fetch.entry)
            .filter(|_| fetch.sent)
            .chain(fetch.hops.iter().copied())
            .map(|h| (h, false))
            .collect(),
        lack: None,
        preflights_used: Vec::new(),
    };
    let mut agent = Agent::with_clock(profile, clock);
    agent.cache = cache;
    let outcome = agent.fetch(init, &mut network).ok();
    Run {
        outcome,
        lack: network.lack,
        preflights_used: network.preflights_used,
        cache: agent.cache,
    }
}

/// The request as script made it, with the credentials mode tried.
fn request_init(
    fetch: &RecordedFetch,
    credentials: CredentialsMode,
) -> Result<RequestInit, Vec<String>> {
    if !fetch.missing.is_empty() {
        return Err(fetch.missing.clone());
    }
    let at = |field: &str| format!("log.entries[{}].request.{field}", fetch.entry);
    let origin = match fetch.origin.as_deref() {
        Some("null") => Origin::Opaque,
        Some(o) => Origin::parse_header(o.as_bytes())
            .or_else(|_| Origin::from_url_str(o))
            .map_err(|_| vec![format!("{} (`{o}` is not an origin)", at("headers.Origin"))])?,
        None => return Err(vec![at("headers.Origin")]),
    };
    let url = fetch
        .url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .ok_or_else(|| vec![at("url")])?;
    let method = fetch.method.clone().ok_or_else(|| vec![at("method")])?;
    Ok(RequestInit {
        origin,
        url,
        method,
        headers: fetch
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.as_bytes().to_vec()))
            .collect(),
        credentials,
        mode: RequestMode::Cors,
        referrer_policy: ReferrerPolicy::default(),
        use_cors_preflight: false,
    })
}

/// The request as the agent makes it from `init` (method normalised, headers as `fetch()`
/// keeps them), where `fetch()` accepts it.
fn agent_request(init: &RequestInit, profile: &Profile) -> Option<Request> {
    Request::new(init, profile, &mut Vec::new()).ok()
}

/// What the log shows of the request's fate: a failure mark on any of its entries, else
/// whether its last hop was answered.
fn recorded_fate(har: &Har, fetch: &RecordedFetch) -> Recorded {
    let all = fetch
        .preflights
        .iter()
        .chain(std::iter::once(&fetch.entry))
        .chain(fetch.hops.iter());
    if let Some(error) = all
        .filter_map(|i| har.entries[*i].error.clone())
        .next_back()
    {
        return Recorded::Failed(error);
    }
    let last = fetch.hops.last().copied().unwrap_or(fetch.entry);
    if fetch.sent && har.entries[last].answered() {
        Recorded::Completed
    } else {
        Recorded::NotAnswered
    }
}

/// One engine's replay state over the whole log.
struct EngineState {
    browser: Browser,
    profile: Profile,
    clock: FakeClock,
    now_ms: i64,
    /// The preflight cache, by origin and URL: a fetch runs against the entries it could
    /// match (those of its origin, or `null`, and its URLs), so a long log costs time in
    /// proportion to its length.
    caches: HashMap<(String, String), PreflightCache>,
    /// The preflight entry that last filled the cache for a URL.
    filled: HashMap<String, usize>,
}

impl EngineState {
    fn new(browser: Browser, start_ms: i64) -> EngineState {
        let profile = Profile::for_browser(browser);
        EngineState {
            browser,
            caches: HashMap::new(),
            profile,
            clock: FakeClock::default(),
            now_ms: start_ms,
            filled: HashMap::new(),
        }
    }

    fn advance_to(&mut self, ms: Option<i64>) {
        if let Some(ms) = ms
            && ms > self.now_ms
        {
            self.clock
                .advance(Duration::from_millis((ms - self.now_ms) as u64));
            self.now_ms = ms;
        }
    }

    /// The URLs whose cache entries a fetch may use: its own, and each recorded hop's.
    fn keys(har: &Har, fetch: &RecordedFetch, init: &RequestInit) -> Vec<(String, String)> {
        let mut urls = vec![init.url.to_string()];
        for i in std::iter::once(&fetch.entry).chain(&fetch.hops) {
            if let Some(u) = super::fetches::parsed(har.entries[*i].url.as_deref()) {
                urls.push(u.to_string());
            }
        }
        let origins = [init.origin.serialize(), "null".to_owned()];
        let mut keys: Vec<(String, String)> = urls
            .iter()
            .flat_map(|u| origins.iter().map(move |o| (o.clone(), u.clone())))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The cache a fetch runs against: the entries of its URLs.
    fn cache_for(&self, keys: &[(String, String)]) -> PreflightCache {
        let mut cache = PreflightCache::new(&self.profile);
        for k in keys {
            if let Some(c) = self.caches.get(k) {
                cache.absorb(c.clone());
            }
        }
        cache
    }

    /// Keeps what a fetch left in the cache for its URLs.
    fn commit(&mut self, keys: &[(String, String)], cache: PreflightCache) {
        for k in keys {
            self.caches.remove(k);
        }
        for (key, c) in cache.into_keys() {
            match self.caches.get_mut(&key) {
                Some(existing) => existing.absorb(c),
                None => {
                    self.caches.insert(key, c);
                }
            }
        }
    }

    fn run(&self, har: &Har, fetch: &RecordedFetch, init: &RequestInit, at: At<'_>) -> Run {
        let cache = self.cache_for(at.keys);
        run(har, fetch, init, at.split, self.profile, &self.clock, cache)
    }

    /// Runs every way of reading the request; the recorder's runs that lack a preflight the
    /// log does not show are run again with it cached (see [`EngineState::run_seeded`]).
    fn try_all(
        &self,
        har: &Har,
        fetch: &RecordedFetch,
        ways: &[Way],
        keys: &[(String, String)],
        recorder: bool,
    ) -> Result<Vec<Tried>, Vec<String>> {
        ways.iter()
            .map(|way| {
                let init = request_init(fetch, way.mode)?;
                let at = At {
                    keys,
                    split: way.split,
                };
                let mut run = self.run(har, fetch, &init, at);
                let mut seeded = false;
                if recorder
                    && fetch.sent
                    && matches!(run.lack, Some(Lack::Preflight { .. }))
                    && har.entries[fetch.entry].answered()
                {
                    run = self.run_seeded(har, fetch, &init, at);
                    seeded = true;
                }
                Ok(Tried {
                    way: *way,
                    init,
                    run,
                    seeded,
                })
            })
            .collect()
    }

    /// The run again with the preflight's result in the cache: the recorder made the request,
    /// so its preflight, not in the log, passed.
    fn run_seeded(&self, har: &Har, fetch: &RecordedFetch, init: &RequestInit, at: At<'_>) -> Run {
        let Some(request) = agent_request(init, &self.profile) else {
            return self.run(har, fetch, init, at);
        };
        let mut cache = self.cache_for(at.keys);
        let grant = PreflightGrant {
            methods: vec![request.method.clone()],
            headers: classify::cors_unsafe_request_header_names(&request, &self.profile),
            max_age: 1,
            credentials: init.credentials == CredentialsMode::Include,
            authorization_by_wildcard: false,
        };
        let now = crate::agent::Clock::now(&self.clock);
        cache.store(now, &init.origin.serialize(), init.url.as_str(), &grant);
        run(har, fetch, init, at.split, self.profile, &self.clock, cache)
    }
}

/// Where a run starts: the cache keys of its fetch (computed once per fetch) and whether
/// combined header lines are read split.
#[derive(Clone, Copy)]
struct At<'a> {
    keys: &'a [(String, String)],
    split: bool,
}

/// The words for what the network could not answer.
fn lack_text(lack: &Lack, browser: Browser, recorder: Browser) -> String {
    match lack {
        Lack::Preflight { url } if recorder == Browser::Webkit => format!(
            "a preflight to {url}: {} sends one, and WebKit's tools never record preflights",
            browser.name()
        ),
        Lack::Preflight { url } => format!(
            "a preflight to {url}: {} sends one, and the log has none",
            browser.name()
        ),
        Lack::Response(i) | Lack::NeverSent(i) => {
            format!("log.entries[{i}].response (status and headers)")
        }
        Lack::Hop { url } => format!("the request to {url}: not in the log"),
    }
}

/// Everything a judgement says, from a run.
fn judgement(
    state: &EngineState,
    recorder: Browser,
    init: &RequestInit,
    run: &Run,
    seeded: bool,
) -> Judgement {
    let preflight = if seeded {
        Preflight::Unrecorded
    } else if !run.preflights_used.is_empty() {
        Preflight::Sent(run.preflights_used.clone())
    } else if run.outcome.is_some()
        && agent_request(init, &state.profile)
            .is_some_and(|r| classify::needs_preflight(&r, &state.profile))
    {
        let mut url = init.url.clone();
        url.set_fragment(None);
        match state.filled.get(url.as_str()) {
            Some(entry) => Preflight::Cached(*entry),
            None => Preflight::Unrecorded,
        }
    } else {
        Preflight::NotNeeded
    };
    let (verdict, code, stage, message, explanation) = match &run.outcome {
        Some(o) if o.allowed => (Verdict::Allowed, None, None, None, None),
        Some(o) => (
            Verdict::Blocked,
            o.error.as_ref().map(|e| e.code),
            o.error.as_ref().map(|e| e.stage),
            console::failure_lines(state.browser, init, o)
                .into_iter()
                .next(),
            explain(init, o),
        ),
        None => (Verdict::Undetermined, None, None, None, None),
    };
    Judgement {
        browser: state.browser,
        verdict,
        code,
        alternatives: Vec::new(),
        stage,
        message,
        explanation,
        preflight,
        missing: run
            .lack
            .iter()
            .filter(|_| run.outcome.is_none())
            .map(|l| lack_text(l, state.browser, recorder))
            .collect(),
    }
}

fn undetermined(browser: Browser, missing: Vec<String>) -> Judgement {
    Judgement {
        browser,
        verdict: Verdict::Undetermined,
        code: None,
        alternatives: Vec::new(),
        stage: None,
        message: None,
        explanation: None,
        preflight: Preflight::NotNeeded,
        missing,
    }
}

/// The credentials modes the request may have had: `include` when cookies went with it;
/// otherwise either, since a request without cookies may still have asked for them.
fn credential_modes(fetch: &RecordedFetch, told: Option<CredentialsMode>) -> Vec<CredentialsMode> {
    match (fetch.cookies_sent, told) {
        (true, _) => vec![CredentialsMode::Include],
        (false, Some(mode)) => vec![mode],
        (false, None) => vec![CredentialsMode::SameOrigin, CredentialsMode::Include],
    }
}

/// How to judge a log.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Judge as this engine (default: the one that recorded the log, else Chromium).
    pub browser: Option<Browser>,
    /// The credentials mode of the page's requests that sent no cookies, where the person
    /// judging knows it (the log does not show it).
    pub credentials: Option<CredentialsMode>,
}

/// One way of reading a request the log leaves open: its credentials mode, and whether
/// combined header values are read as separate lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Way {
    mode: CredentialsMode,
    split: bool,
}

/// One engine's run under one way.
struct Tried {
    way: Way,
    init: RequestInit,
    run: Run,
    seeded: bool,
}

fn mode_words(mode: CredentialsMode) -> &'static str {
    match mode {
        CredentialsMode::Include => "with credentials: 'include'",
        _ => "without credentials",
    }
}

/// What Chromium's DevTools writes in `response._error` for a CORS failure (and for nothing
/// else it records as a network error: aborted, blocked by an extension, connection errors
/// each have their own).
const CORS_FAILURE: &str = "net::ERR_FAILED";

/// What the log shows that refutes a way of reading the request.
#[derive(Clone, Copy)]
struct Evidence {
    /// The tools show a request that never went out as such (Chromium's provisional
    /// headers): a way in which the engine sends it is not the request's.
    shows_unsent: bool,
    /// The chain's last recorded entry is marked failed by CORS: a way in which the engine
    /// follows it to a further hop is not the request's.
    failed_at_last_hop: bool,
    /// The verdict the recorded fate shows (Chromium's failure mark, WebKit's finished loads).
    want: Option<Verdict>,
}

/// The credentials mode the log shows, where the recorder's verdict depends on it: a mode
/// every way of which the log refutes is not the request's, and the recorded fate picks
/// between an allowed and a blocked verdict. Absence alone refutes nothing: a log may be cut.
fn pick_mode(tried: &[Tried], evidence: Evidence) -> Option<(CredentialsMode, &'static str)> {
    let mut modes: Vec<CredentialsMode> = tried.iter().map(|t| t.way.mode).collect();
    modes.dedup();
    if modes.len() < 2 {
        return None;
    }
    let refuted = |m: &CredentialsMode| {
        tried
            .iter()
            .filter(|t| t.way.mode == *m)
            .all(|t| match t.run.lack {
                Some(Lack::NeverSent(_)) => evidence.shows_unsent,
                Some(Lack::Hop { .. }) => evidence.failed_at_last_hop,
                _ => false,
            })
    };
    let kept: Vec<CredentialsMode> = modes.iter().filter(|m| !refuted(m)).copied().collect();
    if kept.len() == 1 {
        return Some((kept[0], "where the log shows the request stopped"));
    }
    let verdicts: Vec<Verdict> = tried.iter().map(|t| t.run.key().0).collect();
    let want = evidence.want?;
    if verdicts.contains(&Verdict::Undetermined) || verdicts.iter().all(|v| *v == verdicts[0]) {
        return None;
    }
    modes
        .into_iter()
        .find(|m| {
            tried
                .iter()
                .filter(|t| t.way.mode == *m)
                .all(|t| t.run.key().0 == want)
        })
        .map(|m| (m, "the recorded outcome"))
}

/// The judgement over every way tried: a way the log cannot answer speaks first (what it
/// lacks is what to add); ways that agree on the verdict give it, with the first way's error
/// (fetch's default mode, repeated lines split) and the others' named; ways that disagree
/// leave it undetermined, saying how.
fn verdict_of(
    state: &EngineState,
    recorder: Browser,
    fetch: &RecordedFetch,
    tried: &[Tried],
) -> Judgement {
    if let Some(t) = tried
        .iter()
        .find(|t| t.run.key().0 == Verdict::Undetermined)
    {
        return judgement(state, recorder, &t.init, &t.run, t.seeded);
    }
    let first = &tried[0];
    let mut j = judgement(state, recorder, &first.init, &first.run, first.seeded);
    if tried.iter().all(|t| t.run.key().0 == j.verdict) {
        for t in &tried[1..] {
            if let Some(c) = t.run.key().1
                && Some(c) != j.code
                && !j.alternatives.contains(&c)
            {
                j.alternatives.push(c);
            }
        }
        return j;
    }
    let mut ways: Vec<String> = Vec::new();
    for t in tried {
        let (verdict, code) = t.run.key();
        let code = code
            .map(|c| format!(" ({})", c.as_str()))
            .unwrap_or_default();
        let line = format!("{}: {}{code}", mode_words(t.way.mode), verdict.as_str());
        if !ways.contains(&line) {
            ways.push(line);
        }
    }
    undetermined(
        state.browser,
        vec![format!(
            "log.entries[{}]: the request's credentials mode (no cookies were recorded; {})",
            fetch.entry,
            ways.join("; ")
        )],
    )
}

impl Har {
    /// Judges every CORS request of the log as `browser` (default: the engine that recorded
    /// it, else Chromium), and as the other engines on the same recorded answers.
    pub fn judge(&self, browser: Option<Browser>) -> Report {
        self.judge_with(Options {
            browser,
            credentials: None,
        })
    }

    /// [`Har::judge`], with what the person judging knows that the log does not show.
    pub fn judge_with(&self, options: Options) -> Report {
        let judged_as = options
            .browser
            .or(self.recorded_by)
            .unwrap_or(Browser::Chromium);
        let browser_from_file = self.recorded_by == Some(judged_as);
        // The engine that made the requests: what the log shows is evidence about its runs
        // (the credentials mode it settles holds for every engine).
        let recorder = self.recorded_by.unwrap_or(judged_as);
        // Only Chromium marks a CORS failure (`_error`), and WebKit exports finished loads
        // only: their logs tell which requests failed. Firefox's blocked entries look whole.
        let fate_tells = matches!(self.recorded_by, Some(Browser::Chromium | Browser::Webkit));
        // Chromium's DevTools shows a request that never went out with provisional headers.
        let shows_unsent = self.recorded_by == Some(Browser::Chromium);
        let mut fetches = self.fetches();
        fetches.sort_by_key(|f| (f.at_ms, f.entry));
        let t0 = fetches
            .iter()
            .map(|f| f.at_ms)
            .find(|t| *t != i64::MIN)
            .unwrap_or(0);
        let order =
            std::iter::once(recorder).chain(Browser::ALL.into_iter().filter(|b| *b != recorder));
        let mut states: Vec<EngineState> = order.map(|b| EngineState::new(b, t0)).collect();
        let mut requests = Vec::with_capacity(fetches.len());
        for fetch in fetches {
            for s in &mut states {
                s.advance_to(Some(fetch.at_ms));
            }
            let recorded = recorded_fate(self, &fetch);
            let mut notes = Vec::new();
            let modes = credential_modes(&fetch, options.credentials);
            // Where the credentials mode changes the recorder's verdict, what the log shows of
            // the request's fate picks it, and the other engines are judged in that mode.
            let want = match (&recorded, fate_tells) {
                (Recorded::Completed, true) => Some(Verdict::Allowed),
                (Recorded::Failed(e), true) if e == CORS_FAILURE => Some(Verdict::Blocked),
                _ => None,
            };
            let last = fetch.hops.last().copied().unwrap_or(fetch.entry);
            let evidence = Evidence {
                shows_unsent,
                failed_at_last_hop: fate_tells
                    && fetch.sent
                    && self.entries[last].error.as_deref() == Some(CORS_FAILURE),
                want,
            };
            // Firefox's tools combine repeated header lines; the engine judges them apart.
            let combined = self.recorded_by == Some(Browser::Firefox)
                && fetch
                    .hops
                    .iter()
                    .chain([&fetch.entry])
                    .chain(&fetch.preflights)
                    .any(|i| {
                        self.entries[*i]
                            .response_headers
                            .iter()
                            .flatten()
                            .any(|(n, v)| counted_by_line(n) && v.contains(','))
                    });
            let splits: &[bool] = if combined { &[true, false] } else { &[false] };
            let all_ways: Vec<Way> = modes
                .iter()
                .flat_map(|m| {
                    splits.iter().map(|s| Way {
                        mode: *m,
                        split: *s,
                    })
                })
                .collect();
            // The cache entries a fetch may use: the same for every engine and way.
            let keys = request_init(&fetch, modes[0])
                .map(|init| EngineState::keys(self, &fetch, &init))
                .unwrap_or_default();
            let mut chosen: Option<CredentialsMode> = None;
            let mut judgements = Vec::with_capacity(states.len());
            for (n, state) in states.iter_mut().enumerate() {
                let is_recorder = n == 0;
                let ways: Vec<Way> = all_ways
                    .iter()
                    .filter(|w| chosen.is_none_or(|c| c == w.mode))
                    .copied()
                    .collect();
                let mut tried = match state.try_all(self, &fetch, &ways, &keys, is_recorder) {
                    Ok(t) => t,
                    Err(missing) => {
                        judgements.push(undetermined(state.browser, missing));
                        continue;
                    }
                };
                if is_recorder && let Some((mode, evidence)) = pick_mode(&tried, evidence) {
                    chosen = Some(mode);
                    tried.retain(|t| t.way.mode == mode);
                    if mode == CredentialsMode::Include {
                        notes.push(format!(
                            "no cookies were recorded, but {evidence} shows the request asked \
                             for credentials (credentials: 'include')"
                        ));
                    }
                }
                let j = verdict_of(state, recorder, &fetch, &tried);
                if is_recorder && let Some(other) = j.alternatives.first() {
                    notes.push(format!(
                        "the log does not tell the credentials mode or how repeated header lines \
                         were sent; read the other way, the error is {}",
                        other.as_str()
                    ));
                }
                let primary = tried.swap_remove(0);
                if !primary.seeded {
                    for p in &primary.run.preflights_used {
                        if let Some(u) = super::fetches::parsed(self.entries[*p].url.as_deref()) {
                            state.filled.insert(u.to_string(), *p);
                        }
                    }
                    state.commit(&keys, primary.run.cache);
                }
                judgements.push(j);
            }
            if fate_tells {
                match (&recorded, judgements[0].verdict) {
                    (Recorded::Failed(e), Verdict::Allowed) => notes.push(format!(
                        "the log marks this request failed ({e}), yet its recorded answers pass \
                         {}'s CORS checks: the failure was not CORS (a network error, an \
                         extension, mixed content, Private Network Access, ...)",
                        recorder.name()
                    )),
                    (Recorded::Completed, Verdict::Blocked) => notes.push(format!(
                        "the log shows this request completed, but crossgate's model of {} \
                         blocks it: please report this disagreement",
                        recorder.name()
                    )),
                    _ => {}
                }
            }
            let mine = judgements
                .iter()
                .position(|j| j.browser == judged_as)
                .unwrap_or(0);
            let judgement = judgements.remove(mine);
            requests.push(Judged {
                fetch,
                recorded,
                judgement,
                other_engines: judgements,
                notes,
            });
        }
        Report {
            entries: self.entries.len(),
            browser: judged_as,
            browser_from_file,
            requests,
        }
    }
}
