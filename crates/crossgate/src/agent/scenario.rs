//! `crossgate simulate`'s input (CONTRACTS §3): a request and the server's scripted answers.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::cache::FakeClock;
use super::engine::{
    Agent, Exchange, ExchangeKind, Incoming, Network, NetworkFailure, Outcome, Outgoing,
};
use super::profile::Profile;
use super::report::Report;
use super::request::{CredentialsMode, ReferrerPolicy, RequestInit, RequestMode, normalize_value};
use crate::browser::Browser;
use crate::fetch::is_token;
use crate::origin::Origin;

/// A simulation: the page's origin, what script asks, and what the server answers.
///
/// This is the JSON `crossgate simulate` reads. Unknown fields are refused, so a misspelt
/// field is an error rather than a default. Beyond its shape, nothing is checked until the
/// scenario runs: [`Scenario::run`] gives a [`Report`], and a [`ScenarioError`] when the input
/// is bad or lacks a response the browser asks for.
///
/// ```
/// use crossgate::agent::Scenario;
/// use crossgate::browser::Browser;
///
/// // A credentialed DELETE; the preflight's answer allows any origin with `*`.
/// let scenario: Scenario = serde_json::from_str(r#"{
///     "origin": "https://app.example",
///     "request": {"url": "https://api.example/items/1", "method": "DELETE",
///                 "credentials": "include"},
///     "responses": {"preflight": {"status": 204, "headers": [
///         ["Access-Control-Allow-Origin", "*"],
///         ["Access-Control-Allow-Methods", "DELETE"]]}}
/// }"#).unwrap();
///
/// let report = scenario.run(Browser::Chromium).unwrap();
/// assert!(!report.allowed);
/// assert!(report.preflight.sent);
/// assert_eq!(report.preflight.method.as_deref(), Some("OPTIONS"));
/// // Blocked at the preflight, so the DELETE itself was never sent.
/// assert_eq!(report.exchanges.len(), 1);
/// let error = report.error.unwrap();
/// assert_eq!(error.code, "PreflightWildcardOriginNotAllowed");
/// assert_eq!(error.status, Some(204));
/// // The line Chromium prints to the console, whole.
/// assert_eq!(
///     report.console,
///     ["Access to fetch at 'https://api.example/items/1' from origin 'https://app.example' \
///       has been blocked by CORS policy: Response to preflight request doesn't pass access \
///       control check: The value of the 'Access-Control-Allow-Origin' header in the response \
///       must not be the wildcard '*' when the request's credentials mode is 'include'."]
/// );
/// // Every browser blocks it, each in its own words.
/// assert!(error.messages.firefox.unwrap().contains("Credential is not supported"));
/// assert!(error.messages.webkit.is_some());
///
/// // The same request without credentials goes through: `*` is enough then. The scenario
/// // lacks the actual response, which the browser now needs: an input error, not a verdict.
/// let mut plain = scenario.clone();
/// plain.request.credentials = crossgate::agent::CredentialsMode::Omit;
/// let missing = plain.run(Browser::Chromium).unwrap_err();
/// assert!(missing.to_string().contains("responses.actual has 0"));
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The page's origin (`null` for an opaque one).
    pub origin: String,
    /// What script passes to `fetch()`.
    pub request: ScenarioRequest,
    /// The server's scripted answers; none by default, which is enough for a request that
    /// fails before anything is sent.
    #[serde(default)]
    pub responses: ScenarioResponses,
}

/// The `request` of a [`Scenario`]: `fetch(url, {method, headers, credentials, mode,
/// referrerPolicy})` in JSON, with the defaults `fetch()` has. It becomes a [`RequestInit`]
/// through [`Scenario::request_init`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRequest {
    /// The URL passed to `fetch()`, absolute (`https://api.example/items/1`).
    pub url: String,
    /// The method as script writes it, `GET` by default; `fetch()` normalises it (`delete`
    /// becomes `DELETE`, `patch` stays `patch`).
    #[serde(default = "get")]
    pub method: String,
    /// The headers script sets, as ordered `[name, value]` pairs; a name may repeat. A value
    /// with a character above U+00FF, or NUL, CR or LF, is an input error.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// `"omit"`, `"same-origin"` (the default) or `"include"`.
    #[serde(default)]
    pub credentials: CredentialsMode,
    /// `"cors"` (the default), `"no-cors"` or `"same-origin"`.
    #[serde(default)]
    pub mode: RequestMode,
    /// `referrer_policy` in JSON (`"no-referrer"`, ...; `"strict-origin-when-cross-origin"` by
    /// default). It only decides the `Origin` header of a request not in `cors` mode.
    #[serde(default)]
    pub referrer_policy: ReferrerPolicy,
    /// Fetch's use-CORS-preflight flag (an upload listener or a stream body).
    #[serde(default)]
    pub use_cors_preflight: bool,
}

fn get() -> String {
    "GET".to_owned()
}

/// The `responses` of a [`Scenario`]: what the server answers, by kind of request. The agent
/// takes them in order as it asks; a response it needs but the scenario lacks is a
/// [`ScenarioError`], and responses left over are ignored.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioResponses {
    /// The answer to the preflight, or one per preflight when redirects lead to several.
    #[serde(default)]
    pub preflight: Option<OneOrMany>,
    /// The answer to the actual request, or one per hop: each 3xx hop carries `Location`.
    #[serde(default)]
    pub actual: Option<OneOrMany>,
}

/// One response, or a list of them: in JSON an object or an array of objects.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single response (`{"status": 204, ...}`), the same as a list of one.
    One(ScriptedResponse),
    /// Responses in the order the agent asks for them (`[{...}, {...}]`).
    Many(Vec<ScriptedResponse>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<ScriptedResponse> {
        match self {
            OneOrMany::One(r) => vec![r],
            OneOrMany::Many(v) => v,
        }
    }
}

/// A response as the server would send it (no body: CORS never reads one).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedResponse {
    /// The HTTP status code. A 301, 302, 303, 307 or 308 with a `Location` header is a
    /// redirect, which the agent follows (or refuses) by the standard's rules.
    pub status: u16,
    /// The header lines, as ordered `[name, value]` pairs; a name may repeat, and two
    /// `Access-Control-Allow-Origin` pairs are two lines. A name that is not a token, or a value
    /// with NUL, CR or LF, is an input error. None by default.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// Why a scenario cannot be simulated: bad input, or a response the simulation needs is missing.
///
/// Not a browser's verdict (a blocked request is an `Ok` [`Report`]): the scenario has to
/// change. The string is the message for people, naming the field at fault
/// (`request.url ... does not parse`, `responses.actual has 0`, ...). `crossgate simulate`
/// exits with 2 on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError(pub String);

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScenarioError {}

/// Who wrote a list of header pairs in the input.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Written {
    /// Script, for `fetch()`: a name that is not a token is what script passed, and `fetch()`
    /// refuses it (a TypeError, judged later); values are ByteStrings.
    ByScript,
    /// A server: the name must be a token; values are sent as written (UTF-8).
    ByServer,
}

/// Header pairs of the input, as bytes.
fn header_pairs(
    pairs: &[(String, String)],
    what: &str,
    written: Written,
) -> Result<Vec<(String, Vec<u8>)>, ScenarioError> {
    pairs
        .iter()
        .map(|(name, value)| {
            if written == Written::ByServer && !is_token(name.as_bytes()) {
                return Err(ScenarioError(format!(
                    "{what}: `{name}` is not a header name"
                )));
            }
            if value.bytes().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
                return Err(ScenarioError(format!(
                    "{what}: the value of `{name}` contains NUL, CR or LF"
                )));
            }
            let bytes = if written == Written::ByScript {
                // Script's header values are ByteStrings (WebIDL): each character up to U+00FF
                // becomes one byte, as `fetch()` sends it; anything above is a TypeError.
                value
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|_| {
                        ScenarioError(format!(
                            "{what}: the value of `{name}` has a character above U+00FF; \
                             fetch() would throw a TypeError (header values are byte strings: \
                             encode it, e.g. percent-encoding)"
                        ))
                    })?
            } else {
                value.as_bytes().to_vec()
            };
            Ok((name.clone(), normalize_value(&bytes).to_vec()))
        })
        .collect()
}

impl Scenario {
    /// The request as script makes it.
    ///
    /// Fails when `origin` is neither `null` nor a URL with a tuple origin (a `file:` URL gives
    /// an opaque one: write `null`), when `request.url` does not parse, or when a header is
    /// malformed (see [`ScenarioRequest::headers`]). A header name that is not a token is
    /// passed on, so that `fetch()` refuses it as a browser does.
    pub fn request_init(&self) -> Result<RequestInit, ScenarioError> {
        let origin = if self.origin == "null" {
            Origin::Opaque
        } else {
            let o = Origin::from_url_str(&self.origin).map_err(|e| {
                ScenarioError(format!("origin `{}` does not parse: {e}", self.origin))
            })?;
            if o.is_opaque() {
                return Err(ScenarioError(format!(
                    "origin `{}` is opaque; write \"null\" for an opaque origin",
                    self.origin
                )));
            }
            o
        };
        let url = Url::parse(&self.request.url).map_err(|e| {
            ScenarioError(format!(
                "request.url `{}` does not parse: {e}",
                self.request.url
            ))
        })?;
        Ok(RequestInit {
            origin,
            url,
            method: self.request.method.clone(),
            headers: header_pairs(&self.request.headers, "request.headers", Written::ByScript)?,
            credentials: self.request.credentials,
            mode: self.request.mode,
            referrer_policy: self.request.referrer_policy,
            use_cors_preflight: self.request.use_cors_preflight,
        })
    }

    /// The scripted network: the responses, in the order the agent asks for them.
    ///
    /// Fails when a response header is malformed (see [`ScriptedResponse::headers`]).
    pub fn network(&self) -> Result<ScriptedNetwork, ScenarioError> {
        let convert =
            |list: Option<OneOrMany>, what: &str| -> Result<VecDeque<Incoming>, ScenarioError> {
                list.map(OneOrMany::into_vec)
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| {
                        Ok(Incoming {
                            status: r.status,
                            headers: header_pairs(
                                &r.headers,
                                &format!("responses.{what}[{i}].headers"),
                                Written::ByServer,
                            )?,
                        })
                    })
                    .collect()
            };
        Ok(ScriptedNetwork {
            preflights: convert(self.responses.preflight.clone(), "preflight")?,
            actual: convert(self.responses.actual.clone(), "actual")?,
            preflights_used: 0,
            actual_used: 0,
        })
    }

    /// Runs the scenario as `browser` does; every browser's message for its own verdict.
    ///
    /// Each browser runs with a fresh agent (an empty preflight cache). The report's
    /// [`Messages`](super::Messages) come from each browser's own run over the same responses;
    /// where another browser needs a response the scenario lacks, the message it would print
    /// for `browser`'s error stands in. Fails only when `browser`'s own run does.
    pub fn run(&self, browser: Browser) -> Result<Report, ScenarioError> {
        let init = self.request_init()?;
        let outcome = self.outcome(&init, Profile::for_browser(browser))?;
        let others: Vec<(Browser, Option<Outcome>)> = Browser::ALL
            .iter()
            .filter(|b| **b != browser)
            .map(|b| (*b, self.outcome(&init, Profile::for_browser(*b)).ok()))
            .collect();
        Ok(Report::new(browser, &init, &outcome, &others))
    }

    /// The outcome under one profile, with a fresh agent. `init` is normally
    /// [`Scenario::request_init`]'s; fails when the agent asks for a response the scenario
    /// lacks, or when a response header is malformed.
    pub fn outcome(&self, init: &RequestInit, profile: Profile) -> Result<Outcome, ScenarioError> {
        let mut network = self.network()?;
        // One fetch takes no time that matters (a preflight cached during it expires only with
        // a max-age of 0, at any clock), and a fake clock keeps simulation off the OS clock,
        // which a WebAssembly build in a page does not have.
        let mut agent = Agent::with_clock(profile, FakeClock::default());
        agent
            .fetch(init, &mut network)
            .map_err(|e| ScenarioError(e.message))
    }
}

/// Several fetches from one page, one after another, against one agent: the preflight cache
/// carries over from step to step (max-age, expiry, what a cached result covers, clearing after
/// a failure). Each step is a [`Scenario`] of its own (request and scripted responses) under the
/// sequence's origin, optionally after some time has passed on the agent's clock.
///
/// ```
/// use crossgate::agent::Sequence;
/// use crossgate::browser::Browser;
///
/// let preflighted = serde_json::json!({
///     "request": {"url": "http://127.0.0.1:9002/items", "method": "PUT"},
///     "responses": {
///         "preflight": {"status": 204, "headers": [
///             ["Access-Control-Allow-Origin", "*"], ["Access-Control-Allow-Methods", "PUT"],
///             ["Access-Control-Max-Age", "60"]]},
///         "actual": {"status": 200, "headers": [["Access-Control-Allow-Origin", "*"]]}}
/// });
/// let mut later = preflighted.clone();
/// later["after_ms"] = serde_json::json!(61_000);
/// let sequence: Sequence = serde_json::from_value(serde_json::json!({
///     "origin": "http://127.0.0.1:9001",
///     "steps": [preflighted.clone(), preflighted, later]
/// })).unwrap();
/// let reports = sequence.run(Browser::Chromium).unwrap();
/// // The second fetch is answered from the preflight cache, the third comes after it expired.
/// let sent: Vec<bool> = reports.iter().map(|r| r.preflight.sent).collect();
/// assert_eq!(sent, [true, false, true]);
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    /// The page's origin, for every step.
    pub origin: String,
    /// The fetches, in the order the page makes them.
    pub steps: Vec<SequenceStep>,
}

/// One fetch of a [`Sequence`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceStep {
    /// Milliseconds that pass on the agent's clock before this fetch starts.
    #[serde(default)]
    pub after_ms: u64,
    /// What script passes to `fetch()` for this step.
    pub request: ScenarioRequest,
    /// The responses to this step's exchanges only.
    #[serde(default)]
    pub responses: ScenarioResponses,
}

impl Sequence {
    /// Each step as a standalone scenario (what it would be with a fresh agent).
    pub fn scenarios(&self) -> Vec<Scenario> {
        self.steps
            .iter()
            .map(|step| Scenario {
                origin: self.origin.clone(),
                request: step.request.clone(),
                responses: step.responses.clone(),
            })
            .collect()
    }

    /// The outcomes of the steps under one profile, with one agent (and one preflight cache)
    /// for the whole sequence and a fake clock moved by each step's `after_ms`.
    pub fn outcomes(&self, profile: Profile) -> Result<Vec<Outcome>, ScenarioError> {
        let clock = FakeClock::default();
        let mut agent = Agent::with_clock(profile, &clock);
        let mut outcomes = Vec::with_capacity(self.steps.len());
        for (i, (step, scenario)) in self.steps.iter().zip(self.scenarios()).enumerate() {
            clock.advance(Duration::from_millis(step.after_ms));
            let init = scenario
                .request_init()
                .map_err(|e| ScenarioError(format!("steps[{i}]: {e}")))?;
            let mut network = scenario
                .network()
                .map_err(|e| ScenarioError(format!("steps[{i}]: {e}")))?;
            let outcome = agent
                .fetch(&init, &mut network)
                .map_err(|e| ScenarioError(format!("steps[{i}]: {}", e.message)))?;
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// Runs the sequence as `browser` does: one report per step, each with every browser's
    /// message for its own verdict (the other browsers run the same sequence with their own
    /// agents).
    pub fn run(&self, browser: Browser) -> Result<Vec<Report>, ScenarioError> {
        let mine = self.outcomes(Profile::for_browser(browser))?;
        let others: Vec<(Browser, Option<Vec<Outcome>>)> = Browser::ALL
            .iter()
            .filter(|b| **b != browser)
            .map(|b| (*b, self.outcomes(Profile::for_browser(*b)).ok()))
            .collect();
        self.scenarios()
            .iter()
            .zip(mine.iter())
            .enumerate()
            .map(|(i, (scenario, outcome))| {
                let init = scenario.request_init()?;
                let step_others: Vec<(Browser, Option<Outcome>)> = others
                    .iter()
                    .map(|(b, list)| (*b, list.as_ref().and_then(|l| l.get(i).cloned())))
                    .collect();
                Ok(Report::new(browser, &init, outcome, &step_others))
            })
            .collect()
    }
}

/// Answers each exchange with the next scripted response of its kind.
#[derive(Clone, Debug)]
pub struct ScriptedNetwork {
    preflights: VecDeque<Incoming>,
    actual: VecDeque<Incoming>,
    preflights_used: usize,
    actual_used: usize,
}

impl Network for ScriptedNetwork {
    fn send(&mut self, request: &Outgoing) -> Result<Incoming, NetworkFailure> {
        let (queue, used, what) = match request.kind {
            ExchangeKind::Preflight => {
                (&mut self.preflights, &mut self.preflights_used, "preflight")
            }
            ExchangeKind::Actual => (&mut self.actual, &mut self.actual_used, "actual"),
        };
        *used += 1;
        queue.pop_front().ok_or_else(|| NetworkFailure {
            message: format!(
                "the simulation needs a response to {} {what} request ({} {}), but \
                 responses.{what} has {}",
                ordinal(*used),
                request.method,
                request.url,
                *used - 1
            ),
        })
    }
}

fn ordinal(n: usize) -> String {
    match n {
        1 => "the".to_owned(),
        2 => "a second".to_owned(),
        3 => "a third".to_owned(),
        n => format!("request #{n} of the"),
    }
}

/// Answers from recorded exchanges: the first unused one of the same kind, method and URL. Runs
/// other profiles over the responses a live `check` received, without asking the server again.
#[derive(Clone, Debug)]
pub struct ReplayNetwork {
    exchanges: Vec<(Exchange, bool)>,
}

impl ReplayNetwork {
    /// A network that answers from `exchanges` (an [`Outcome`]'s, say), each used at most
    /// once; a request without an unused match fails with a [`NetworkFailure`].
    pub fn new(exchanges: &[Exchange]) -> ReplayNetwork {
        ReplayNetwork {
            exchanges: exchanges.iter().cloned().map(|e| (e, false)).collect(),
        }
    }
}

impl Network for ReplayNetwork {
    fn send(&mut self, request: &Outgoing) -> Result<Incoming, NetworkFailure> {
        let found = self.exchanges.iter_mut().find(|(e, used)| {
            !*used
                && e.request.kind == request.kind
                && e.request.method == request.method
                && e.request.url == request.url
        });
        match found {
            Some((e, used)) => {
                *used = true;
                Ok(e.response.clone())
            }
            None => Err(NetworkFailure {
                message: format!(
                    "no recorded response for {} {} ({:?})",
                    request.method, request.url, request.kind
                ),
            }),
        }
    }
}

/// The outcomes of the other browsers over the same exchanges (`None` where they asked for
/// something that was not recorded), for their messages in a [`Report`].
pub fn replay_others(
    browser: Browser,
    init: &RequestInit,
    exchanges: &[Exchange],
) -> Vec<(Browser, Option<Outcome>)> {
    Browser::ALL
        .iter()
        .filter(|b| **b != browser)
        .map(|b| {
            let mut network = ReplayNetwork::new(exchanges);
            let outcome = Agent::with_clock(Profile::for_browser(*b), FakeClock::default())
                .fetch(init, &mut network)
                .ok();
            (*b, outcome)
        })
        .collect()
}
