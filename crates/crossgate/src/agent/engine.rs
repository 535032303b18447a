//! The fetch itself (Fetch §4.1 main fetch, §4.4 HTTP fetch, §4.5 redirects), driven over a
//! [`Network`] that answers each exchange: scripted responses for `simulate`, a real HTTP client
//! for `check`. The agent decides every hop; the network never follows a redirect.

use serde::Serialize;

use super::cache::{Clock, Lookup, PreflightCache, SystemClock};
use super::check::cors_check;
use super::classify::{cors_unsafe_header_names, needs_preflight_with};
use super::error::{CorsError, ErrorCode, Stage};
use super::expose::exposed_header_names;
use super::preflight::{PreflightAsk, judge_with};
use super::profile::Profile;
use super::redirect::{follow, redirect_location};
use super::request::{CredentialsMode, Request, RequestInit, RequestMode, Tainting};
use crate::origin::Origin;

/// Which kind of exchange the agent asks the network for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeKind {
    /// The CORS-preflight request: `OPTIONS`, never with credentials (Fetch §4.8).
    Preflight,
    /// The request script asked for, once per hop when redirects lead it on.
    Actual,
}

/// A request the agent sends: its headers as the agent builds them (the network adds the
/// transport's own, such as `Host`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// Whether this is the preflight or the actual request; a [`Network`] that scripts its
    /// answers keeps one queue of each.
    pub kind: ExchangeKind,
    /// `OPTIONS` for a preflight; otherwise the request's method as `fetch()` normalised it
    /// (`get` becomes `GET`, `patch` stays `patch`), or `GET` where a redirect changed it.
    pub method: String,
    /// The URL of this hop: the first URL, or the redirect target the agent is following.
    pub url: url::Url,
    /// Name and value pairs in the order they go out, values as bytes. The actual request:
    /// script's headers as the request holds them (forbidden ones dropped; after a redirect,
    /// less those it removes), then `Origin` where one is sent. A preflight: `Accept: */*`,
    /// `Access-Control-Request-Method`, `Access-Control-Request-Headers` when the request has
    /// CORS-unsafe headers, then `Origin`.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Whether cookies and HTTP authentication go with it (Fetch §4.6 "includeCredentials").
    pub credentials: bool,
}

/// A response as received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Incoming {
    /// The HTTP status code. A redirect status (301, 302, 303, 307, 308) with a `Location` is
    /// a redirect the agent follows itself, or refuses.
    pub status: u16,
    /// The header lines in the order received, names as sent (any case), values as bytes; a
    /// name may repeat (Firefox counts `Access-Control-Allow-Origin` lines, the others combine
    /// them).
    pub headers: Vec<(String, Vec<u8>)>,
}

/// The network could not answer (a connection failure, or a scripted response missing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkFailure {
    /// What went wrong, in words for a person (a [`ScriptedNetwork`](crate::agent::ScriptedNetwork)
    /// names the response the scenario lacks).
    pub message: String,
}

impl std::fmt::Display for NetworkFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NetworkFailure {}

/// Answers the agent's exchanges, one at a time, following nothing.
///
/// The crate has [`ScriptedNetwork`](crate::agent::ScriptedNetwork) (a scenario's answers, from
/// [`Scenario::network`](crate::agent::Scenario::network)) and
/// [`ReplayNetwork`](crate::agent::ReplayNetwork) (recorded exchanges); `crossgate check`
/// sends over HTTP.
pub trait Network {
    /// Sends one request and returns its response as received: a 3xx goes back to the agent,
    /// which decides whether to follow it. `Err` only where no response came (the connection
    /// failed, or nothing is scripted); the agent's [`fetch`](Agent::fetch) then returns it.
    fn send(&mut self, request: &Outgoing) -> Result<Incoming, NetworkFailure>;
}

/// One exchange as it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// What the agent sent.
    pub request: Outgoing,
    /// What came back, before any check.
    pub response: Incoming,
}

/// What a preflight asked, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreflightSent {
    /// The URL preflighted: the hop's URL, a redirect target for a later preflight.
    pub url: String,
    /// The `Origin` header sent with it: the request's serialized origin, `null` once a
    /// redirect tainted it (unless
    /// [`Profile::preflight_origin_untainted`](crate::agent::Profile::preflight_origin_untainted)
    /// keeps the page's origin).
    pub origin: String,
    /// The method and header names it asked for.
    pub ask: PreflightAsk,
    /// The response let `Authorization` through only under `*` (see `PreflightGrant`).
    pub authorization_by_wildcard: bool,
}

/// Everything the agent did and decided for one fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Whether `fetch()` resolves (an opaque `no-cors` response included).
    pub allowed: bool,
    /// Why the fetch was blocked; `Some` exactly when `allowed` is `false`.
    pub error: Option<CorsError>,
    /// Each preflight sent over the network, in order; one answered from the preflight cache
    /// is not here.
    pub preflights: Vec<PreflightSent>,
    /// Per hop of the actual request: the `Origin` header sent, if any.
    pub origin_sent: Vec<Option<String>>,
    /// Every request sent and its response, preflights included, in the order sent.
    pub exchanges: Vec<Exchange>,
    /// The response script gets, when allowed.
    pub response: Option<Incoming>,
    /// Fetch's response tainting of the response script gets: `Basic` (same origin), `Cors` or
    /// `Opaque` (`no-cors`). Left at `Basic` when the fetch was blocked.
    pub tainting: Tainting,
    /// Names of the response's headers script can read (lowercase, sorted).
    pub exposed_headers: Vec<String>,
    /// What the agent did silently (dropped headers, ...).
    pub notes: Vec<String>,
    /// Whether the fetch was a CORS request: in `cors` mode, to another origin than the page's
    /// or redirected toward one. Firefox reports the network failures of such a fetch.
    pub cross_origin: bool,
    /// The URL script asked for.
    pub initial_url: String,
    /// The URL of the last hop: the one whose response script gets, or where the fetch failed
    /// (a redirect's target where the failure is reported there).
    pub final_url: String,
}

/// A user agent: a profile, a preflight cache and a clock.
///
/// [`fetch`](Agent::fetch) runs one `fetch()` over a [`Network`] the way the profile's browser
/// does, and says in an [`Outcome`] whether script gets the response, or the
/// [`CorsError`] that blocked it. The agent keeps its preflight cache from one fetch to the
/// next, as a page does. For a case written as data, [`Scenario`](crate::agent::Scenario)
/// builds the request and the network and runs a fresh agent for you.
///
/// ```
/// use crossgate::agent::{Agent, ErrorCode, Profile, Scenario, Stage, console};
/// use crossgate::browser::Browser;
///
/// // The preflight lets PUT through, but the PUT's own response has no CORS header.
/// let scenario: Scenario = serde_json::from_value(serde_json::json!({
///     "origin": "https://app.example.com",
///     "request": {"url": "https://api.example.com/items/1", "method": "PUT"},
///     "responses": {
///         "preflight": {"status": 204, "headers": [
///             ["Access-Control-Allow-Origin", "https://app.example.com"],
///             ["Access-Control-Allow-Methods", "PUT"]]},
///         "actual": {"status": 200}
///     }
/// })).unwrap();
/// let init = scenario.request_init().unwrap();
/// let mut network = scenario.network().unwrap(); // a ScriptedNetwork
///
/// let mut agent = Agent::new(Profile::chromium());
/// let outcome = agent.fetch(&init, &mut network).unwrap();
/// assert!(!outcome.allowed);
/// assert_eq!(outcome.exchanges.len(), 2); // the OPTIONS, then the PUT
/// let error = outcome.error.as_ref().unwrap();
/// assert_eq!(error.code, ErrorCode::MissingAllowOriginHeader);
/// assert_eq!(error.stage, Stage::Actual);
/// assert_eq!(error.status, Some(200));
/// assert_eq!(
///     console::lines(Browser::Chromium, &init, &outcome),
///     ["Access to fetch at 'https://api.example.com/items/1' from origin \
///       'https://app.example.com' has been blocked by CORS policy: No \
///       'Access-Control-Allow-Origin' header is present on the requested resource."]
/// );
///
/// // A GET the server shares with everyone: allowed, with the headers script may read.
/// let scenario: Scenario = serde_json::from_value(serde_json::json!({
///     "origin": "https://app.example.com",
///     "request": {"url": "https://api.example.com/items"},
///     "responses": {"actual": {"status": 200, "headers": [
///         ["Access-Control-Allow-Origin", "*"],
///         ["Content-Type", "application/json"], ["X-Total", "7"]]}}
/// })).unwrap();
/// let init = scenario.request_init().unwrap();
/// let outcome = agent.fetch(&init, &mut scenario.network().unwrap()).unwrap();
/// assert!(outcome.allowed && outcome.error.is_none());
/// assert!(outcome.preflights.is_empty());
/// assert_eq!(outcome.response.unwrap().status, 200);
/// // `X-Total` is not exposed (no Access-Control-Expose-Headers).
/// assert_eq!(outcome.exposed_headers, ["content-type"]);
/// ```
pub struct Agent<C: Clock = SystemClock> {
    pub(crate) profile: Profile,
    pub(crate) cache: PreflightCache,
    clock: C,
}

impl Agent<SystemClock> {
    /// An agent with an empty cache, whose entries expire by the system's monotonic clock.
    pub fn new(profile: Profile) -> Agent<SystemClock> {
        Agent::with_clock(profile, SystemClock::default())
    }
}

impl<C: Clock> Agent<C> {
    /// An agent with an empty cache that reads the time from `clock`: pass a
    /// `&`[`FakeClock`](crate::agent::FakeClock) and advance it by hand to see an
    /// `Access-Control-Max-Age` run out.
    pub fn with_clock(profile: Profile, clock: C) -> Agent<C> {
        Agent {
            cache: PreflightCache::new(&profile),
            profile,
            clock,
        }
    }

    /// The browser modelled, read at every fetch; the cache was made with it, so a new agent is
    /// how to change browsers.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The preflight cache (Fetch §4.9), kept across fetches: a later fetch it covers sends no
    /// preflight.
    pub fn cache(&self) -> &PreflightCache {
        &self.cache
    }

    /// Runs `fetch()` for `init`. `Err` only when the network could not answer; a blocked
    /// request is an `Ok` outcome with its error.
    pub fn fetch<N: Network>(
        &mut self,
        init: &RequestInit,
        network: &mut N,
    ) -> Result<Outcome, NetworkFailure> {
        let mut out = Outcome {
            allowed: false,
            error: None,
            preflights: Vec::new(),
            origin_sent: Vec::new(),
            exchanges: Vec::new(),
            response: None,
            tainting: Tainting::Basic,
            exposed_headers: Vec::new(),
            notes: Vec::new(),
            cross_origin: false,
            initial_url: init.url.to_string(),
            final_url: init.url.to_string(),
        };
        let mut request = match Request::new(init, &self.profile, &mut out.notes) {
            Ok(r) => r,
            Err(e) => return Ok(blocked(out, e)),
        };
        let include = request.credentials == CredentialsMode::Include;
        // WebKit checks the redirects of a `same-origin` fetch that started at the page's own
        // origin as though credentials were included.
        let redirects_checked_with_credentials =
            self.profile.same_origin_credentials_checked_on_redirects
                && request.credentials == CredentialsMode::SameOrigin
                && request
                    .origin
                    .same_origin(&Origin::of_url(request.current_url()));
        // The headers script gave, which WebKit's later preflights ask for.
        let first_headers = self
            .profile
            .redirect_preflight_asks_first_headers
            .then(|| request.headers.clone());
        // Whether an earlier hop was preflighted (Firefox and WebKit preflight every later one).
        let mut preflighted_before = false;
        loop {
            let url = request.current_url().clone();
            out.final_url = url.to_string();
            let stage = if request.url_list.len() > 1 {
                Stage::Redirect
            } else {
                Stage::Request
            };
            let url_origin = Origin::of_url(&url);
            let error = |code, parameter| CorsError {
                code,
                stage,
                parameter,
                url: url.to_string(),
                origin: request.serialized_origin(),
                status: None,
                value: None,
            };
            // Mixed Content: a secure page never reaches an insecure, non-loopback URL.
            if request.origin.scheme() == Some("https")
                && url.scheme() == "http"
                && !url_origin.is_potentially_trustworthy()
            {
                return Ok(blocked(out, error(ErrorCode::MixedContent, None)));
            }
            // Fetch §4.1 main fetch step 12: which path the request takes.
            let mut preflighted = false;
            let basic = (request.origin.same_origin(&url_origin)
                && request.tainting == Tainting::Basic)
                || url.scheme() == "data";
            if basic {
                // Same origin: no CORS at all.
            } else if request.mode == RequestMode::SameOrigin {
                return Ok(blocked(out, error(ErrorCode::DisallowedByMode, None)));
            } else if request.mode == RequestMode::NoCors {
                request.tainting = Tainting::Opaque;
            } else if !matches!(url.scheme(), "http" | "https") {
                return Ok(blocked(
                    out,
                    error(ErrorCode::CorsDisabledScheme, Some(url.scheme().to_owned())),
                ));
            } else {
                request.tainting = Tainting::Cors;
                out.cross_origin = true;
                // One classification of the headers serves the decision, the cache, the ask
                // and the judgement.
                let unsafe_names = cors_unsafe_header_names(
                    first_headers.as_deref().unwrap_or(&request.headers),
                    &self.profile,
                );
                if needs_preflight_with(&request, &unsafe_names)
                    || (preflighted_before && self.profile.preflight_repeats_after_redirect)
                {
                    preflighted = true;
                    preflighted_before = true;
                    if let Err(e) = self.preflight(&request, &unsafe_names, network, &mut out)? {
                        return Ok(blocked(out, e));
                    }
                }
            }

            // The actual request of this hop (§4.6), with its `Origin` (§3.2).
            let origin_header = request.origin_header(&self.profile);
            out.origin_sent.push(origin_header.clone());
            let mut headers = request.headers.clone();
            if let Some(o) = &origin_header {
                headers.push(("Origin".to_owned(), o.clone().into_bytes()));
            }
            let outgoing = Outgoing {
                kind: ExchangeKind::Actual,
                method: request.method.clone(),
                url: url.clone(),
                headers,
                credentials: request.includes_credentials(),
            };
            let response = network.send(&outgoing)?;
            out.exchanges.push(Exchange {
                request: outgoing,
                response: response.clone(),
            });

            // §4.4 step 4: the CORS check, before any redirect is followed.
            let origin = request.serialized_origin();
            let checked_include = include
                || (redirects_checked_with_credentials
                    && redirect_location(response.status, &response.headers).is_some());
            if request.tainting == Tainting::Cors
                && let Err(f) =
                    cors_check(&self.profile, &origin, checked_include, &response.headers)
            {
                if preflighted && self.profile.actual_failure_clears_preflight_cache {
                    // §4.1 step 12.6.3: a preflighted request that fails clears the cache.
                    self.cache.clear(&origin, url.as_str());
                }
                return Ok(blocked(
                    out,
                    CorsError {
                        code: f.code,
                        stage: Stage::Actual,
                        parameter: f.parameter,
                        url: url.to_string(),
                        origin,
                        status: Some(response.status),
                        value: None,
                    },
                ));
            }

            // §4.4 step 7: follow a redirect, as the agent (not the network) decides.
            if let Some(location) = redirect_location(response.status, &response.headers) {
                if let Err(f) = follow(&mut request, response.status, location, &self.profile) {
                    // A redirect the network refuses before CORS sees it (Firefox: to `data:`)
                    // leaves a fetch that never left the page's origin outside CORS.
                    if request.mode == RequestMode::Cors
                        && f.code != ErrorCode::UnsafeRedirect
                        && f.location
                            .as_ref()
                            .is_some_and(|to| !request.origin.same_origin(&Origin::of_url(to)))
                    {
                        out.cross_origin = true;
                    }
                    // A target outside CORS's schemes is reported at the target (Chromium names
                    // it, redirected from the first URL); other refusals at the redirect.
                    let failed_at = match &f.location {
                        Some(target) if f.at_target => target.to_string(),
                        _ => url.to_string(),
                    };
                    out.final_url = failed_at.clone();
                    return Ok(blocked(
                        out,
                        CorsError {
                            code: f.code,
                            stage: Stage::Redirect,
                            parameter: f.parameter,
                            url: failed_at,
                            origin,
                            status: Some(response.status),
                            value: None,
                        },
                    ));
                }
                continue;
            }

            out.tainting = request.tainting;
            out.exposed_headers =
                exposed_header_names(request.tainting, include, &response.headers);
            out.response = Some(response);
            out.allowed = true;
            return Ok(out);
        }
    }

    /// §4.4 step 1 and §4.8: asks the cache, then the network, for a preflight.
    fn preflight<N: Network>(
        &mut self,
        request: &Request,
        unsafe_headers: &[String],
        network: &mut N,
        out: &mut Outcome,
    ) -> Result<Result<(), CorsError>, NetworkFailure> {
        let url = request.current_url().clone();
        let origin = if self.profile.preflight_origin_untainted {
            request.origin.serialize()
        } else {
            request.serialized_origin()
        };
        let lookup = Lookup {
            origin: &origin,
            url: url.as_str(),
            include: request.credentials == CredentialsMode::Include,
            method: &request.method,
            use_cors_preflight: request.use_cors_preflight,
            unsafe_headers,
        };
        let now = self.clock.now();
        if self.cache.covers(now, &lookup) {
            return Ok(Ok(()));
        }
        let ask = PreflightAsk::with(request, unsafe_headers);
        let mut headers: Vec<(String, Vec<u8>)> = ask
            .request_headers()
            .into_iter()
            .map(|(n, v)| (n, v.into_bytes()))
            .collect();
        headers.push(("Origin".to_owned(), origin.clone().into_bytes()));
        let outgoing = Outgoing {
            kind: ExchangeKind::Preflight,
            method: "OPTIONS".to_owned(),
            url: url.clone(),
            headers,
            // §4.8 step 1: a preflight never carries credentials.
            credentials: false,
        };
        let response = network.send(&outgoing)?;
        out.exchanges.push(Exchange {
            request: outgoing,
            response: response.clone(),
        });
        out.preflights.push(PreflightSent {
            url: url.to_string(),
            origin: origin.clone(),
            ask,
            authorization_by_wildcard: false,
        });
        match judge_with(
            request,
            &self.profile,
            unsafe_headers,
            &origin,
            response.status,
            &response.headers,
        ) {
            Ok(grant) => {
                if let Some(sent) = out.preflights.last_mut() {
                    sent.authorization_by_wildcard = grant.authorization_by_wildcard;
                }
                self.cache
                    .store(self.clock.now(), &origin, url.as_str(), &grant);
                Ok(Ok(()))
            }
            Err(f) => {
                if self.profile.preflight_failure_clears_cache {
                    self.cache.clear(&origin, url.as_str());
                }
                Ok(Err(CorsError {
                    code: f.code,
                    stage: Stage::Preflight,
                    parameter: f.parameter,
                    url: url.to_string(),
                    origin,
                    status: Some(response.status),
                    value: f.value,
                }))
            }
        }
    }
}

fn blocked(mut out: Outcome, error: CorsError) -> Outcome {
    out.allowed = false;
    out.error = Some(error);
    out
}
