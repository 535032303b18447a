//! A run: one case, registered for one click, with the URLs it lives under, the answers its
//! target gives, the `simulate` inputs that predict it, and the log of what the target saw.
//!
//! Every run has a path of its own (`/c/<id>/` on each origin), so the browser's preflight and
//! HTTP caches never answer for an earlier run: the real browser starts as fresh as the agent.
//!
//! One function answers for the target ([`Answers::answer`]): the real browser's requests go
//! through it, and so do the agent's when the prediction's inputs are made (each engine's
//! requests, recorded with the answers they got). The prediction is therefore given exactly what
//! the browser is given, in scripted and in policy mode alike.

use std::sync::Mutex;

use bytes::Bytes;
use crossgate::agent::{
    Agent, ExchangeKind, FakeClock, Incoming, Network, NetworkFailure, Outgoing, Profile, Scenario,
};
use crossgate::browser::Browser;
use crossgate::policy::{Policy, PolicyConfig, is_preflight};
use crossgate::tower::Cors;
use http_body_util::Full;
use serde::Serialize;
use serde_json::{Value, json};

use crate::case::{Answer, Case, MAX_VALUE, Place, ServerScript};

/// The body of every actual response the target sends (preflights have none).
pub(crate) const BODY: &[u8] = b"crossgate playground: the target's answer\n";

/// The most header bytes (names and values, expanded) one scripted answer may send.
const MAX_ANSWER_BYTES: usize = 16 << 10;
/// The most bytes a run's three simulate inputs may take together: a redirect loop of large
/// answers is recorded once per hop and engine, and the playground keeps its last runs.
const MAX_INPUT_BYTES: usize = 512 << 10;

/// The most exchanges a run logs: a redirect loop stops being recorded, not being answered.
const MAX_LOG: usize = 64;
/// The most header lines a logged exchange keeps, and the longest value it keeps whole.
const MAX_LOGGED_LINES: usize = 64;
const MAX_LOGGED_VALUE: usize = 2048;

/// The origins of one run, by place, and the run's base URL on each.
#[derive(Clone, Debug)]
pub(crate) struct Origins {
    origins: [String; 5],
    id: String,
    /// Whether the `host` place exists: only when the page is opened on loopback, where the
    /// other name (`localhost` or `127.0.0.1`) is this same machine. Elsewhere it would be the
    /// visitor's own machine, which the playground does not send a browser to.
    alias: bool,
}

impl Origins {
    /// From the page's origin as its browser names it (`http://127.0.0.1:8090`) and the ports
    /// of the target and redirect listeners. `None` when the page's origin is not
    /// `http://host:port` on the page listener's port.
    pub(crate) fn new(
        page: &str,
        page_port: u16,
        target_port: u16,
        redirect_port: u16,
        id: &str,
    ) -> Option<Origins> {
        let (host, port) = split_authority(page.strip_prefix("http://")?)?;
        if port != page_port || host.is_empty() {
            return None;
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b))
        {
            return None;
        }
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let other = if host == "localhost" {
            "127.0.0.1"
        } else {
            "localhost"
        };
        Some(Origins {
            origins: [
                serialize("http", host, page_port),
                serialize("https", host, page_port),
                serialize("http", other, page_port),
                serialize("http", host, target_port),
                serialize("http", host, redirect_port),
            ],
            id: id.to_owned(),
            alias: loopback,
        })
    }

    /// The origin of `place`.
    pub(crate) fn origin(&self, place: Place) -> &str {
        &self.origins[place as usize]
    }

    /// The run's base URL on `place`: its origin and `/c/<id>`.
    pub(crate) fn base(&self, place: Place) -> String {
        format!("{}/c/{}", self.origin(place), self.id)
    }

    /// `value` with its placeholders expanded: `{origin}` is the page's origin, `{page}`,
    /// `{scheme}`, `{host}`, `{target}` and `{redirect}` the run's base URLs.
    pub(crate) fn expand(&self, value: &str) -> String {
        if !value.contains('{') {
            return value.to_owned();
        }
        let mut out = value.replace("{origin}", self.origin(Place::Page));
        for place in Place::ALL {
            out = out.replace(&format!("{{{}}}", place.as_str()), &self.base(place));
        }
        out
    }

    /// Whether a `Location` leads to this run on one of the playground's origins, from
    /// whichever of them sends it: resolved as a browser resolves it (the WHATWG URL parser:
    /// backslashes, tabs, `//` and all), the result must be under `/c/<id>` of a playground
    /// origin. The playground never sends the browser anywhere else.
    fn keeps_inside(&self, location: &str) -> bool {
        let run = format!("/c/{}", self.id);
        let inside = |url: &url::Url| {
            let origin = url.origin().ascii_serialization();
            self.origins.contains(&origin)
                && (url.path() == run || url.path().starts_with(&format!("{run}/")))
        };
        Place::ALL.iter().all(|p| {
            url::Url::parse(&self.base(*p))
                .and_then(|base| base.join(location))
                .is_ok_and(|resolved| inside(&resolved))
        })
    }
}

/// `host[:port]` as a URL's authority or a `Host` header writes it (`[::1]:8090`,
/// `localhost`): the host and the port, 80 when none is written.
pub(crate) fn split_authority(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = match authority.rfind(':') {
        Some(at) if !authority[at..].contains(']') => {
            (&authority[..at], authority[at + 1..].parse().ok()?)
        }
        _ => (authority, 80),
    };
    Some((host, port))
}

/// An origin as browsers serialize it: the default port (80 for http, 443 for https) left out.
fn serialize(scheme: &str, host: &str, port: u16) -> String {
    match (scheme, port) {
        ("http", 80) | ("https", 443) => format!("{scheme}://{host}"),
        _ => format!("{scheme}://{host}:{port}"),
    }
}

/// A response exactly as the target sends it: the simulation is given these same lines.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct WireAnswer {
    /// The status.
    pub(crate) status: u16,
    /// The header lines in the order sent.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    #[serde(skip)]
    pub(crate) body: Bytes,
}

/// Whether a response with `status` carries a body (and so `Content-Length`).
fn has_body(status: u16) -> bool {
    !(status == 204 || status == 304 || status < 200)
}

impl WireAnswer {
    /// A scripted answer with its placeholders expanded and its framing added.
    fn scripted(answer: &Answer, origins: &Origins, kind: ExchangeKind) -> WireAnswer {
        let mut headers: Vec<(String, String)> = answer
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), origins.expand(v)))
            .collect();
        let body = match kind {
            ExchangeKind::Actual if has_body(answer.status) => Bytes::from_static(BODY),
            _ => Bytes::new(),
        };
        if has_body(answer.status) {
            headers.push(("content-length".into(), body.len().to_string()));
        }
        WireAnswer {
            status: answer.status,
            headers,
            body,
        }
    }

    /// The answer when the script has none for this kind: a 501 the simulation is given too.
    fn missing(kind: ExchangeKind) -> WireAnswer {
        let text: &'static str = match kind {
            ExchangeKind::Preflight => "no preflight answer is scripted\n",
            ExchangeKind::Actual => "no actual answer is scripted\n",
        };
        WireAnswer {
            status: 501,
            headers: vec![("content-length".into(), text.len().to_string())],
            body: Bytes::from_static(text.as_bytes()),
        }
    }

    #[cfg(test)]
    pub(crate) fn to_value(&self) -> Value {
        json!({ "status": self.status, "headers": self.headers })
    }
}

/// The handler behind a policy: `200` with the playground's body, like any application.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Handler;

impl<B> tower_service::Service<http::Request<B>> for Handler {
    type Response = http::Response<Full<Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<B>) -> Self::Future {
        let response = http::Response::builder()
            .header(http::header::CONTENT_LENGTH, BODY.len())
            .body(Full::new(Bytes::from_static(BODY)))
            .expect("a valid response");
        std::future::ready(Ok(response))
    }
}

/// Polls a future that is ready at once (a fixed policy in front of a ready handler, a full
/// body): nothing here ever waits.
fn at_once<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => unreachable!("a fixed policy and a full body are ready"),
    }
}

/// How a run's target answers.
pub(crate) enum Answers {
    Scripted {
        preflight: Vec<WireAnswer>,
        actual: Vec<WireAnswer>,
    },
    Policy(Cors<Handler>),
}

impl Answers {
    /// The answer to the `nth` request of `kind`: scripted, the `nth` answer (past the end,
    /// the last again; none scripted, a 501); with a policy, the layer's answer, its body and
    /// `Content-Length` as the layer and handler made them.
    pub(crate) fn answer(
        &self,
        kind: ExchangeKind,
        nth: usize,
        request: http::Request<()>,
    ) -> WireAnswer {
        match self {
            Answers::Scripted { preflight, actual } => {
                let list = match kind {
                    ExchangeKind::Preflight => preflight,
                    ExchangeKind::Actual => actual,
                };
                list.get(nth)
                    .or(list.last())
                    .cloned()
                    .unwrap_or_else(|| WireAnswer::missing(kind))
            }
            Answers::Policy(cors) => {
                use http_body_util::BodyExt;
                use tower_service::Service;
                let Ok(response) = at_once(cors.clone().call(request));
                let (parts, body) = response.into_parts();
                let Ok(body) = at_once(body.collect()).map(|c| c.to_bytes());
                let mut headers: Vec<(String, String)> = parts
                    .headers
                    .iter()
                    .map(|(n, v)| {
                        let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                        (n.as_str().to_owned(), value)
                    })
                    .collect();
                let status = parts.status.as_u16();
                if has_body(status) && !parts.headers.contains_key(http::header::CONTENT_LENGTH) {
                    headers.push(("content-length".into(), body.len().to_string()));
                }
                WireAnswer {
                    status,
                    headers,
                    body,
                }
            }
        }
    }
}

/// Which kind of exchange a request is, by Fetch's own test (§3.2.2, `policy::is_preflight`).
fn kind_of(request: &http::Request<()>) -> ExchangeKind {
    if is_preflight(request) {
        ExchangeKind::Preflight
    } else {
        ExchangeKind::Actual
    }
}

/// The agent's network while the prediction's inputs are made: each request answered by the
/// target's own [`Answers::answer`], counted as the target counts.
struct TargetNetwork<'a> {
    answers: &'a Answers,
    preflights: usize,
    actuals: usize,
}

impl Network for TargetNetwork<'_> {
    fn send(&mut self, outgoing: &Outgoing) -> Result<Incoming, NetworkFailure> {
        let mut request = http::Request::builder()
            .method(outgoing.method.as_str())
            .uri(outgoing.url.as_str());
        for (name, value) in &outgoing.headers {
            request = request.header(name.as_str(), value.as_slice());
        }
        let request = request.body(()).map_err(|e| NetworkFailure {
            message: format!("the target cannot take this request: {e}"),
        })?;
        let kind = kind_of(&request);
        let counter = match kind {
            ExchangeKind::Preflight => &mut self.preflights,
            ExchangeKind::Actual => &mut self.actuals,
        };
        let nth = *counter;
        *counter += 1;
        let answer = self.answers.answer(kind, nth, request);
        Ok(Incoming {
            status: answer.status,
            headers: answer
                .headers
                .into_iter()
                .map(|(n, v)| (n, v.into_bytes()))
                .collect(),
        })
    }
}

/// One exchange the target saw, for the page's sequence diagram.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Seen {
    /// Which origin it reached.
    pub(crate) at: Place,
    /// `preflight` or `actual`.
    pub(crate) kind: ExchangeKind,
    /// The method.
    pub(crate) method: String,
    /// The path after the run's base (`/items/1`).
    pub(crate) path: String,
    /// The request's header lines as received: at most 64, long values cut, and the values
    /// of `Cookie` not kept (cookies ignore ports: another local application's would show).
    pub(crate) headers: Vec<(String, String)>,
    /// The answer's status.
    pub(crate) status: u16,
    /// The answer's header lines.
    pub(crate) response_headers: Vec<(String, String)>,
}

/// A request's header lines as the log keeps them.
fn logged(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .take(MAX_LOGGED_LINES)
        .map(|(name, value)| {
            let text = if name == http::header::COOKIE {
                format!("({} bytes, not shown)", value.len())
            } else {
                let bytes = &value.as_bytes()[..value.len().min(MAX_LOGGED_VALUE)];
                let mut text: String = bytes.iter().map(|b| char::from(*b)).collect();
                if value.len() > MAX_LOGGED_VALUE {
                    text.push('…');
                }
                text
            };
            (name.as_str().to_owned(), text)
        })
        .collect()
}

#[derive(Default)]
struct Log {
    seen: Vec<Seen>,
    preflights: usize,
    actuals: usize,
}

/// A registered case.
pub(crate) struct Run {
    /// The run's id, the path segment after `/c/`.
    pub(crate) id: String,
    /// Where it lives.
    pub(crate) origins: Origins,
    /// The URL the page fetches.
    pub(crate) url: String,
    /// The `simulate` input for each browser: the case's request, and as responses what the
    /// target answers to that engine's requests, in the order it asks.
    pub(crate) simulate: [(Browser, Value); 3],
    answers: Answers,
    log: Mutex<Log>,
}

impl Run {
    /// Registers `case` as run `id` for a page at `origins`: checks it, expands it, and builds
    /// the simulation inputs. `Err` lists every problem, a line each.
    pub(crate) fn new(id: String, case: &Case, origins: Origins) -> Result<Run, Vec<String>> {
        let mut problems = case.problems();
        if !origins.alias && (case.request.to == Place::Host || uses_host_placeholder(case)) {
            problems.push(
                "the `host` origin (this server under its other name) exists only when the page \
                 is opened on loopback (127.0.0.1 or localhost)"
                    .to_owned(),
            );
        }
        let url = format!("{}{}", origins.base(case.request.to), case.request.path);
        let mut headers = case.request.headers.clone();
        if let Some(implied) = case.request.body.content_type()
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), implied.into()));
        }
        let request = json!({
            "url": url,
            "method": case.request.method,
            "headers": headers,
            "credentials": case.request.credentials,
            "mode": case.request.mode,
        });
        let base = json!({ "origin": origins.origin(Place::Page), "request": request });
        let answers = match &case.server {
            ServerScript::Scripted { preflight, actual } => {
                let wire =
                    |list: &[Answer], kind: ExchangeKind, at: &str, problems: &mut Vec<String>| {
                        let wire: Vec<WireAnswer> = list
                            .iter()
                            .map(|a| WireAnswer::scripted(a, &origins, kind))
                            .collect();
                        expanded_problems(at, &wire, &origins, problems);
                        wire
                    };
                Answers::Scripted {
                    preflight: wire(
                        preflight,
                        ExchangeKind::Preflight,
                        "server.preflight",
                        &mut problems,
                    ),
                    actual: wire(actual, ExchangeKind::Actual, "server.actual", &mut problems),
                }
            }
            ServerScript::Policy { policy } => {
                let value = expand_strings(policy, &origins);
                let mut found = Vec::new();
                let config = PolicyConfig::from_value(&value, "server.policy", &mut found);
                let (policy, mut checked) =
                    Policy::check_document(&config, found, "server.policy").into_parts();
                checked.retain(|p| p.is_error());
                problems.extend(checked.iter().map(|p| p.to_string()));
                let policy = policy.unwrap_or_else(|| {
                    Policy::builder()
                        .build()
                        .expect("the empty policy is valid")
                });
                Answers::Policy(Cors::new(Handler, policy))
            }
        };
        // The request itself must be one the simulation takes (header values, method, URL).
        let scenario: Result<Scenario, _> = serde_json::from_value(base.clone());
        let init = match scenario.as_ref().map(Scenario::request_init) {
            Ok(Ok(init)) => Some(init),
            Ok(Err(e)) => {
                problems.push(e.to_string());
                None
            }
            Err(e) => {
                problems.push(format!("request: {e}"));
                None
            }
        };
        let Some(init) = init.filter(|_| problems.is_empty()) else {
            return Err(problems);
        };
        let simulate = Browser::ALL.map(|browser| {
            let mut network = TargetNetwork {
                answers: &answers,
                preflights: 0,
                actuals: 0,
            };
            // One fetch takes no time that matters: the agent runs on a fake clock.
            let mut agent = Agent::with_clock(Profile::for_browser(browser), FakeClock::default());
            let exchanges = agent
                .fetch(&init, &mut network)
                .map(|outcome| outcome.exchanges)
                .unwrap_or_default();
            let of = |kind: ExchangeKind| -> Vec<Value> {
                exchanges
                    .iter()
                    .filter(|e| e.request.kind == kind)
                    .map(|e| {
                        let headers: Vec<(String, String)> = e
                            .response
                            .headers
                            .iter()
                            .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
                            .collect();
                        json!({ "status": e.response.status, "headers": headers })
                    })
                    .collect()
            };
            let mut input = base.clone();
            input["responses"] =
                json!({ "preflight": of(ExchangeKind::Preflight), "actual": of(ExchangeKind::Actual) });
            (browser, input)
        });
        let size: usize = simulate
            .iter()
            .map(|(_, input)| input.to_string().len())
            .sum();
        if size > MAX_INPUT_BYTES {
            return Err(vec![format!(
                "the predictions' inputs would take {} KiB (at most 512): fewer or smaller \
                 answers, or a redirect loop that repeats less",
                size >> 10
            )]);
        }
        Ok(Run {
            id,
            origins,
            url,
            simulate,
            answers,
            log: Mutex::new(Log::default()),
        })
    }

    /// The answer to a request that reached `/c/<id><path>` at `place`, logged. `request`
    /// carries the path after the run's base.
    pub(crate) fn answer(&self, at: Place, request: http::Request<()>) -> WireAnswer {
        let kind = kind_of(&request);
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let counter = match kind {
            ExchangeKind::Preflight => &mut log.preflights,
            ExchangeKind::Actual => &mut log.actuals,
        };
        let nth = *counter;
        *counter += 1;
        let method = request.method().as_str().to_owned();
        let path = request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let headers = logged(request.headers());
        let answer = self.answers.answer(kind, nth, request);
        if log.seen.len() < MAX_LOG {
            log.seen.push(Seen {
                at,
                kind,
                method,
                path,
                headers,
                status: answer.status,
                response_headers: answer.headers.clone(),
            });
        }
        answer
    }

    /// What the target saw so far, in order.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .clone()
    }
}

/// The problems of answers once expanded: a `Location` must stay inside the playground, and a
/// value must stay within the limit.
fn expanded_problems(
    at: &str,
    answers: &[WireAnswer],
    origins: &Origins,
    problems: &mut Vec<String>,
) {
    for (i, answer) in answers.iter().enumerate() {
        for (name, value) in &answer.headers {
            if name.eq_ignore_ascii_case("location") && !origins.keeps_inside(value) {
                problems.push(format!(
                    "{at}[{i}]: Location {value:?} leads outside the playground; use {{target}}/..., \
                     {{redirect}}/..., {{page}}/..., {{host}}/... or {{scheme}}/... (this run on that \
                     origin), or a path under this run (/c/<id>/...)"
                ));
            }
            if value.len() > MAX_VALUE {
                problems.push(format!(
                    "{at}[{i}]: the value of {name} is over 8 KiB once expanded"
                ));
            }
        }
        let bytes: usize = answer.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        if bytes > MAX_ANSWER_BYTES {
            problems.push(format!(
                "{at}[{i}]: its header lines are over 16 KiB once expanded ({bytes} bytes)"
            ));
        }
    }
}

/// Whether a case's answers or policy name `{host}`.
fn uses_host_placeholder(case: &Case) -> bool {
    match &case.server {
        ServerScript::Scripted { preflight, actual } => preflight
            .iter()
            .chain(actual)
            .any(|a| a.headers.iter().any(|(_, v)| v.contains("{host}"))),
        ServerScript::Policy { policy } => policy.to_string().contains("{host}"),
    }
}

/// A policy document with `{origin}` (and the other placeholders) expanded in its strings.
fn expand_strings(value: &Value, origins: &Origins) -> Value {
    match value {
        Value::String(s) => Value::String(origins.expand(s)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| expand_strings(v, origins)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), expand_strings(v, origins)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A scripted header value as the wire carries it (printable ASCII: see `case.rs`).
pub(crate) fn wire_value(value: &str) -> Option<http::HeaderValue> {
    http::HeaderValue::from_str(value).ok()
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::simulate;

    fn origins(id: &str) -> Origins {
        Origins::new("http://127.0.0.1:8090", 8090, 8091, 8092, id).expect("a page origin")
    }

    /// Every starting point ends as it says, in all three engines' predictions: the page's
    /// buttons teach what crossgate (and, by the browser harness, the engines) do.
    #[test]
    fn starting_points_end_as_they_say() {
        let starts: Vec<Value> = serde_json::from_str(crate::assets::STARTS).expect("starts.json");
        assert!(starts.len() >= 10);
        for start in &starts {
            let id = start["id"].as_str().expect("an id");
            let case: Case = serde_json::from_value(start["case"].clone()).expect(id);
            let run = Run::new(format!("t-{id}"), &case, origins(id)).expect(id);
            for (browser, input) in &run.simulate {
                let report = simulate(&input.to_string(), *browser).expect(id);
                let report = &report.reports()[0];
                let expect = &start["expect"];
                assert_eq!(
                    Some(report.allowed),
                    expect["allowed"].as_bool(),
                    "{id} in {browser:?}"
                );
                let code = report.error.as_ref().map(|e| e.code.as_str());
                assert_eq!(code, expect["code"].as_str(), "{id} in {browser:?}");
                let preflighted = report.preflights.iter().any(|p| p.sent);
                assert_eq!(
                    Some(preflighted),
                    expect["preflight"].as_bool(),
                    "{id} in {browser:?}"
                );
            }
        }
    }

    #[test]
    fn placeholders_name_the_run_on_each_origin() {
        let o = origins("r-1");
        assert_eq!(o.expand("{origin}"), "http://127.0.0.1:8090");
        assert_eq!(
            o.expand("{redirect}/next"),
            "http://127.0.0.1:8092/c/r-1/next"
        );
        assert_eq!(o.expand("{scheme}/x"), "https://127.0.0.1:8090/c/r-1/x");
        assert_eq!(o.expand("{host}"), "http://localhost:8090/c/r-1");
        assert_eq!(o.expand("no {braces} here"), "no {braces} here");
        // Port 80 is left out of origins and Host headers, as browsers do.
        let on_80 = Origins::new("http://127.0.0.1", 80, 1, 2, "r").expect("port 80");
        assert_eq!(on_80.origin(Place::Page), "http://127.0.0.1");
        assert_eq!(on_80.origin(Place::Scheme), "https://127.0.0.1:80");
        assert_eq!(split_authority("[::1]:8090"), Some(("[::1]", 8090)));
        assert_eq!(split_authority("[::1]"), Some(("[::1]", 80)));
        assert_eq!(split_authority("localhost"), Some(("localhost", 80)));
        let local = Origins::new("http://localhost:8090", 8090, 1, 2, "r").expect("localhost");
        assert_eq!(local.origin(Place::Host), "http://127.0.0.1:8090");
        // Opened from another machine, `host` would be the visitor's own localhost: refused.
        let lan = Origins::new("http://192.168.1.5:8090", 8090, 1, 2, "r").expect("a LAN page");
        let to_host: Case = serde_json::from_value(
            json!({"request": {"to": "host"}, "server": {"kind": "scripted"}}),
        )
        .unwrap();
        let refused = Run::new("r".into(), &to_host, lan.clone())
            .err()
            .expect("refused");
        assert!(
            refused[0].contains("only when the page is opened on loopback"),
            "{refused:?}"
        );
        let to_target: Case =
            serde_json::from_value(json!({"request": {}, "server": {"kind": "scripted"}})).unwrap();
        assert!(Run::new("r".into(), &to_target, lan).is_ok());
        // Not this playground's page: another port, another scheme, a path, junk.
        for page in [
            "http://127.0.0.1:8091",
            "https://127.0.0.1:8090",
            "http://127.0.0.1:8090/",
            "http://a b:8090",
            "http://:8090",
        ] {
            assert!(Origins::new(page, 8090, 1, 2, "r").is_none(), "{page}");
        }
    }

    /// In policy mode the prediction is given exactly what the target then answers.
    #[test]
    fn policy_mode_predicts_with_the_targets_own_answers() {
        let case: Case = serde_json::from_value(json!({
            "request": {"method": "PUT", "headers": [["X-Token", "a"]]},
            "server": {"kind": "policy", "policy": {"allow_origins": ["{origin}"], "allow_methods": ["PUT"], "allow_headers": ["x-token"]}},
        }))
        .expect("a case");
        let run = Run::new("p-1".into(), &case, origins("p-1")).expect("valid");
        let input = &run.simulate[0].1;
        let preflight = &input["responses"]["preflight"][0];
        let asked = request(
            "OPTIONS",
            "/items/1",
            &[
                ("origin", "http://127.0.0.1:8090"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "x-token"),
            ],
        );
        let answer = run.answer(Place::Target, asked);
        assert_eq!(preflight, &answer.to_value());
        assert!(
            answer
                .headers
                .iter()
                .any(|(n, v)| n == "access-control-allow-origin" && v == "http://127.0.0.1:8090")
        );
        let report = simulate(&input.to_string(), Browser::Chromium).expect("simulates");
        assert!(report.allowed());
        // The actual request: the handler's body, and the Content-Length that frames it.
        let put = run.answer(
            Place::Target,
            request("PUT", "/items/1", &[("origin", "http://127.0.0.1:8090")]),
        );
        assert_eq!(&input["responses"]["actual"][0], &put.to_value());
        assert_eq!(put.body.as_ref(), BODY);
        // An OPTIONS that is not a preflight is the application's: its body, its length.
        let options = run.answer(Place::Target, request("OPTIONS", "/items/1", &[]));
        let length = options.headers.iter().find(|(n, _)| n == "content-length");
        assert_eq!(
            length.map(|(_, v)| v.as_str()),
            Some(BODY.len().to_string().as_str())
        );
        assert_eq!(options.body.len(), BODY.len());
        let kinds: Vec<ExchangeKind> = run.seen().iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                ExchangeKind::Preflight,
                ExchangeKind::Actual,
                ExchangeKind::Actual
            ]
        );
    }

    /// A preflighted request redirected: the engine preflights again, and the prediction is
    /// given the target's repeated answer rather than told one is missing.
    #[test]
    fn a_second_preflight_gets_the_repeated_answer() {
        let case: Case = serde_json::from_value(json!({
            "request": {"method": "PUT", "headers": [["X-Token", "a"]]},
            "server": {"kind": "scripted",
                "preflight": [{"status": 204, "headers": [["Access-Control-Allow-Origin", "*"], ["Access-Control-Allow-Methods", "PUT"], ["Access-Control-Allow-Headers", "x-token"]]}],
                "actual": [
                    {"status": 307, "headers": [["Access-Control-Allow-Origin", "*"], ["Location", "{redirect}/next"]]},
                    {"status": 200, "headers": [["Access-Control-Allow-Origin", "*"]]},
                ]},
        }))
        .expect("a case");
        let run = Run::new("r".into(), &case, origins("r")).expect("valid");
        for (browser, input) in &run.simulate {
            let report = simulate(&input.to_string(), *browser).expect("simulates");
            assert!(report.allowed(), "{browser:?}: {}", report.to_json());
            let preflights = input["responses"]["preflight"].as_array().map(Vec::len);
            assert_eq!(
                preflights,
                Some(2),
                "{browser:?} preflights again after the redirect"
            );
        }
    }

    #[test]
    fn locations_stay_inside_the_playground() {
        for (location, inside) in [
            ("{redirect}/next", true),
            ("{target}", true),
            ("{page}?a=1", true),
            ("/relative", false),
            ("http://127.0.0.1:8092/c/other/next", false),
            ("http://127.0.0.1:3000/admin", false),
            ("//evil.example/x", false),
            ("{redirect}evil", false),
            ("data:text/plain,x", false),
            ("/\\evil.example/x", false),
            ("/\t/evil.example/x", false),
            ("/c/i/next", true),
            ("/next", false),
            ("HTTP://127.0.0.1:8092/c/i/x", true),
            ("http://127.0.0.1:8092/c/i/../../admin", false),
        ] {
            let case: Case = serde_json::from_value(json!({
                "request": {},
                "server": {"kind": "scripted", "actual": [{"status": 302, "headers": [["Location", location]]}]},
            }))
            .expect("a case");
            let registered = Run::new("i".into(), &case, origins("i"));
            assert_eq!(
                registered.is_ok(),
                inside,
                "{location}: {:?}",
                registered.err()
            );
        }
    }

    /// A hostile case (values made of placeholders that grow when expanded, a redirect to
    /// itself recorded once per hop and engine) is refused, not kept.
    #[test]
    fn expansion_and_loops_are_bounded() {
        let big = "{page}".repeat(1300); // 7.8 KB written, about 70 KB expanded
        let case: Case = serde_json::from_value(json!({
            "request": {},
            "server": {"kind": "scripted", "actual": [{"status": 302, "headers": [["Location", "{target}/loop"], ["X-Big", big]]}]},
        }))
        .expect("a case");
        let refused = Run::new("m".into(), &case, origins("m"))
            .err()
            .expect("refused");
        assert!(
            refused.iter().any(|p| p.contains("once expanded")),
            "{refused:?}"
        );
        // Under the per-answer limit, but a loop of 21 hops per engine: over the input budget.
        let loop_case: Case = serde_json::from_value(json!({
            "request": {},
            "server": {"kind": "scripted", "actual": [{"status": 302, "headers": [
                ["Access-Control-Allow-Origin", "*"], ["Location", "{target}/loop"],
                ["X-A", "a".repeat(7000)], ["X-B", "b".repeat(7000)]]}]},
        }))
        .expect("a case");
        let refused = Run::new("l".into(), &loop_case, origins("l"))
            .err()
            .expect("refused");
        assert!(refused[0].contains("at most 512"), "{refused:?}");
    }

    fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut request = http::Request::builder().method(method).uri(path);
        for (n, v) in headers {
            request = request.header(*n, *v);
        }
        request.body(()).expect("a request")
    }

    #[test]
    fn a_bad_case_lists_every_problem() {
        let case: Case = serde_json::from_value(json!({
            "request": {"path": "items", "body": "text", "headers": [["X-A", "1"]]},
            "server": {"kind": "scripted", "actual": [{"status": 99, "headers": [["Content-Length", "5"], ["Bad Name", "x"], ["X-B", "a\u{0100}"]]}]},
        }))
        .expect("parses");
        let Err(problems) = Run::new("b".into(), &case, origins("b")) else {
            panic!("a bad case registered");
        };
        let text = problems.join("\n");
        for part in [
            "must start with `/`",
            "cannot have a body",
            "between 200 and 599",
            "Content-Length is the playground's",
            "\"Bad Name\" is not a header name",
            "printable ASCII",
        ] {
            assert!(text.contains(part), "{part} missing from:\n{text}");
        }
        let bad_policy: Case = serde_json::from_value(json!({
            "request": {}, "server": {"kind": "policy", "policy": {"allow_origins": ["*"], "allow_credentials": true, "max_agee": 5}},
        }))
        .expect("parses");
        let Err(problems) = Run::new("c".into(), &bad_policy, origins("c")) else {
            panic!("a bad policy registered");
        };
        assert!(problems.len() >= 2, "{problems:?}");
        assert!(
            problems.iter().all(|p| p.contains("server.policy")),
            "{problems:?}"
        );
    }

    /// The scripted answers are taken in order, the last one again past the end, and every
    /// exchange is logged with where it arrived.
    #[test]
    fn scripted_answers_in_order() {
        let case: Case = serde_json::from_value(json!({
            "request": {"path": "/start"},
            "server": {"kind": "scripted", "actual": [
                {"status": 302, "headers": [["Location", "{redirect}/next"]]},
                {"status": 200, "headers": [["Access-Control-Allow-Origin", "*"]]},
            ]},
        }))
        .expect("a case");
        let run = Run::new("s".into(), &case, origins("s")).expect("valid");
        let get = || request("GET", "/start", &[]);
        let first = run.answer(Place::Target, get());
        assert_eq!(first.status, 302);
        assert_eq!(
            first.headers[0],
            ("Location".into(), "http://127.0.0.1:8092/c/s/next".into())
        );
        assert_eq!(
            first.headers[1],
            ("content-length".into(), BODY.len().to_string())
        );
        assert_eq!(run.answer(Place::Redirect, get()).status, 200);
        let third = run.answer(Place::Redirect, get());
        assert_eq!((third.status, third.body.as_ref()), (200, BODY));
        let seen = run.seen();
        assert_eq!(
            seen.iter().map(|s| s.at).collect::<Vec<_>>(),
            [Place::Target, Place::Redirect, Place::Redirect]
        );
        // No preflight is scripted: the target says so rather than invent one.
        let options = request(
            "OPTIONS",
            "/start",
            &[
                ("Origin", "http://127.0.0.1:8090"),
                ("Access-Control-Request-Method", "PUT"),
            ],
        );
        assert_eq!(run.answer(Place::Target, options).status, 501);
        // A Cookie reached the target (cookies ignore ports): the log does not keep its value.
        run.answer(
            Place::Target,
            request("GET", "/start", &[("Cookie", "session=SECRET")]),
        );
        let logged = run.seen().last().expect("logged").headers.clone();
        assert_eq!(
            logged,
            [("cookie".to_owned(), "(14 bytes, not shown)".to_owned())]
        );
    }
}
