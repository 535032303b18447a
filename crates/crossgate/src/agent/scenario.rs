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
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The page's origin (`null` for an opaque one).
    pub origin: String,
    pub request: ScenarioRequest,
    #[serde(default)]
    pub responses: ScenarioResponses,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRequest {
    pub url: String,
    #[serde(default = "get")]
    pub method: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub credentials: CredentialsMode,
    #[serde(default)]
    pub mode: RequestMode,
    #[serde(default)]
    pub referrer_policy: ReferrerPolicy,
    /// Fetch's use-CORS-preflight flag (an upload listener or a stream body).
    #[serde(default)]
    pub use_cors_preflight: bool,
}

fn get() -> String {
    "GET".to_owned()
}

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

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(ScriptedResponse),
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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedResponse {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// Why a scenario cannot be simulated: bad input, or a response the simulation needs is missing.
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

    /// The outcome under one profile, with a fresh agent.
    pub fn outcome(&self, init: &RequestInit, profile: Profile) -> Result<Outcome, ScenarioError> {
        let mut network = self.network()?;
        let mut agent = Agent::new(profile);
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
    pub steps: Vec<SequenceStep>,
}

/// One fetch of a [`Sequence`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceStep {
    /// Milliseconds that pass on the agent's clock before this fetch starts.
    #[serde(default)]
    pub after_ms: u64,
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
            let outcome = Agent::new(Profile::for_browser(*b))
                .fetch(init, &mut network)
                .ok();
            (*b, outcome)
        })
        .collect()
}
