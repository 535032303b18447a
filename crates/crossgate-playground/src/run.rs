//! A run: one case, registered for one click, with the URLs it lives under, the answers its
//! target gives, the `simulate` inputs that predict it, and the log of what the target saw.
//!
//! Every run has a path of its own (`/c/<id>/` on each origin), so the browser's preflight and
//! HTTP caches never answer for an earlier run: the real browser starts as fresh as the agent.

use std::sync::Mutex;

use bytes::Bytes;
use crossgate::agent::{
    Agent, ExchangeKind, FakeClock, Incoming, Network, NetworkFailure, Outgoing, Profile, Scenario,
};
use crossgate::browser::Browser;
use crossgate::policy::{Policy, PolicyConfig};
use crossgate::tower::Cors;
use http_body_util::Full;
use serde::Serialize;
use serde_json::{Value, json};

use crate::case::{Answer, Case, Place, ServerScript};

/// The body of every actual response the target sends (preflights have none).
pub(crate) const BODY: &[u8] = b"crossgate playground: the target's answer\n";

/// The most exchanges a run logs: a redirect loop stops being recorded, not being answered.
const MAX_LOG: usize = 64;

/// The origins of one run, by place, and the run's base URL on each.
#[derive(Clone, Debug)]
pub(crate) struct Origins {
    origins: [String; 5],
    id: String,
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
        let rest = page.strip_prefix("http://")?;
        let (host, port) = rest.rsplit_once(':')?;
        if port.parse::<u16>().ok()? != page_port || host.is_empty() {
            return None;
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b))
        {
            return None;
        }
        let other = if host == "localhost" {
            "127.0.0.1"
        } else {
            "localhost"
        };
        Some(Origins {
            origins: [
                format!("http://{host}:{page_port}"),
                format!("https://{host}:{page_port}"),
                format!("http://{other}:{page_port}"),
                format!("http://{host}:{target_port}"),
                format!("http://{host}:{redirect_port}"),
            ],
            id: id.to_owned(),
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

    fn to_value(&self) -> Value {
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

/// How a run's target answers.
enum Answers {
    Scripted {
        preflight: Vec<WireAnswer>,
        actual: Vec<WireAnswer>,
    },
    Policy(Cors<Handler>),
}

/// The request line and headers the target answers, as the policy layer sees them.
pub(crate) struct Asked<'a> {
    /// The method.
    pub(crate) method: &'a str,
    /// The path and query.
    pub(crate) path: &'a str,
    /// The header lines as received.
    pub(crate) headers: &'a [(String, Vec<u8>)],
}

/// Answers with the policy's layer at once: a fixed policy in front of a ready handler never
/// waits.
fn policy_answer(cors: &Cors<Handler>, asked: &Asked<'_>) -> WireAnswer {
    use std::future::Future;
    use tower_service::Service;
    let mut request = http::Request::builder()
        .method(asked.method)
        .uri(asked.path);
    for (name, value) in asked.headers {
        request = request.header(name.as_str(), value.as_slice());
    }
    let Ok(request) = request.body(()) else {
        return WireAnswer {
            status: 400,
            headers: vec![("content-length".into(), "0".into())],
            body: Bytes::new(),
        };
    };
    let mut future = std::pin::pin!(cors.clone().call(request));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let response = match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Ok(response)) => response,
        std::task::Poll::Ready(Err(never)) => match never {},
        std::task::Poll::Pending => unreachable!("a fixed policy in front of a ready handler"),
    };
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = if has_body(status) && asked.method != "OPTIONS" {
        Bytes::from_static(BODY)
    } else {
        Bytes::new()
    };
    if has_body(status)
        && !response
            .headers()
            .contains_key(http::header::CONTENT_LENGTH)
    {
        headers.push(("content-length".into(), body.len().to_string()));
    }
    WireAnswer {
        status,
        headers,
        body,
    }
}

/// The agent's network in policy mode: each exchange answered by the same layer the target
/// runs, so the prediction is given what the browser will be given.
struct PolicyNetwork<'a>(&'a Cors<Handler>);

impl Network for PolicyNetwork<'_> {
    fn send(&mut self, request: &Outgoing) -> Result<Incoming, NetworkFailure> {
        let path = match request.url.query() {
            Some(q) => format!("{}?{q}", request.url.path()),
            None => request.url.path().to_owned(),
        };
        let answer = policy_answer(
            self.0,
            &Asked {
                method: &request.method,
                path: &path,
                headers: &request.headers,
            },
        );
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
    /// The request's header lines as received.
    pub(crate) headers: Vec<(String, String)>,
    /// The answer's status.
    pub(crate) status: u16,
    /// The answer's header lines.
    pub(crate) response_headers: Vec<(String, String)>,
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
    /// The `simulate` input for each browser (the same in scripted mode; in policy mode each
    /// browser's exchanges with the policy).
    pub(crate) simulate: [(Browser, Value); 3],
    answers: Answers,
    log: Mutex<Log>,
}

impl Run {
    /// Registers `case` as run `id` for a page at `origins`: checks it, expands it, and builds
    /// the simulation inputs. `Err` lists every problem, a line each.
    pub(crate) fn new(id: String, case: &Case, origins: Origins) -> Result<Run, Vec<String>> {
        let mut problems = case.problems();
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
            ServerScript::Scripted { preflight, actual } => Answers::Scripted {
                preflight: preflight
                    .iter()
                    .map(|a| WireAnswer::scripted(a, &origins, ExchangeKind::Preflight))
                    .collect(),
                actual: actual
                    .iter()
                    .map(|a| WireAnswer::scripted(a, &origins, ExchangeKind::Actual))
                    .collect(),
            },
            ServerScript::Policy { policy } => {
                let value = expand_strings(policy, &origins);
                let mut found = Vec::new();
                let config = PolicyConfig::from_value(&value, "server.policy", &mut found);
                let (policy, mut checked) =
                    Policy::check_document(&config, found, "server.policy").into_parts();
                checked.retain(|p| p.is_error());
                problems.extend(checked.iter().map(|p| p.to_string()));
                match policy {
                    Some(policy) => Answers::Policy(Cors::new(Handler, policy)),
                    None => Answers::Policy(Cors::new(
                        Handler,
                        Policy::builder()
                            .build()
                            .expect("the empty policy is valid"),
                    )),
                }
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
        if !problems.is_empty() {
            return Err(problems);
        }
        let init = init.expect("no problems, so the request parsed");
        let simulate = Browser::ALL.map(|browser| {
            let responses = match &answers {
                Answers::Scripted { preflight, actual } => json!({
                    "preflight": preflight.iter().map(WireAnswer::to_value).collect::<Vec<_>>(),
                    "actual": actual.iter().map(WireAnswer::to_value).collect::<Vec<_>>(),
                }),
                Answers::Policy(cors) => {
                    let mut agent = Agent::with_clock(Profile::for_browser(browser), FakeClock::default());
                    let exchanges = agent
                        .fetch(&init, &mut PolicyNetwork(cors))
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
                    json!({ "preflight": of(ExchangeKind::Preflight), "actual": of(ExchangeKind::Actual) })
                }
            };
            let mut input = base.clone();
            input["responses"] = responses;
            (browser, input)
        });
        Ok(Run {
            id,
            origins,
            url,
            simulate,
            answers,
            log: Mutex::new(Log::default()),
        })
    }

    /// The answer to a request that reached `/c/<id><path>` at `place`, logged.
    pub(crate) fn answer(&self, at: Place, asked: &Asked<'_>) -> WireAnswer {
        let is_preflight = asked.method == "OPTIONS"
            && asked
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("access-control-request-method"));
        let kind = if is_preflight {
            ExchangeKind::Preflight
        } else {
            ExchangeKind::Actual
        };
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let n = match kind {
            ExchangeKind::Preflight => &mut log.preflights,
            ExchangeKind::Actual => &mut log.actuals,
        };
        let nth = *n;
        *n += 1;
        let answer = match &self.answers {
            Answers::Scripted { preflight, actual } => {
                let list = if is_preflight { preflight } else { actual };
                match list.get(nth).or(list.last()) {
                    Some(answer) => answer.clone(),
                    None => missing(kind),
                }
            }
            Answers::Policy(cors) => policy_answer(cors, asked),
        };
        if log.seen.len() < MAX_LOG {
            log.seen.push(Seen {
                at,
                kind,
                method: asked.method.to_owned(),
                path: asked.path.to_owned(),
                headers: asked
                    .headers
                    .iter()
                    .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
                    .collect(),
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

/// The answer when the script has none for this kind: the simulation reports the same gap as
/// an input error.
fn missing(kind: ExchangeKind) -> WireAnswer {
    let text = match kind {
        ExchangeKind::Preflight => "no preflight answer is scripted\n",
        ExchangeKind::Actual => "no actual answer is scripted\n",
    };
    WireAnswer {
        status: 501,
        headers: vec![("content-length".into(), text.len().to_string())],
        body: Bytes::from_static(text.as_bytes()),
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
        let local = Origins::new("http://localhost:8090", 8090, 1, 2, "r").expect("localhost");
        assert_eq!(local.origin(Place::Host), "http://127.0.0.1:8090");
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
        let asked = Asked {
            method: "OPTIONS",
            path: "/items/1",
            headers: &[
                ("origin".into(), b"http://127.0.0.1:8090".to_vec()),
                ("access-control-request-method".into(), b"PUT".to_vec()),
                ("access-control-request-headers".into(), b"x-token".to_vec()),
            ],
        };
        let answer = run.answer(Place::Target, &asked);
        assert_eq!(preflight, &answer.to_value());
        assert!(
            answer
                .headers
                .iter()
                .any(|(n, v)| n == "access-control-allow-origin" && v == "http://127.0.0.1:8090")
        );
        let report = simulate(&input.to_string(), Browser::Chromium).expect("simulates");
        assert!(report.allowed());
        assert_eq!(run.seen().len(), 1);
        assert_eq!(run.seen()[0].kind, ExchangeKind::Preflight);
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
            "up to U+00FF",
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
        let get = Asked {
            method: "GET",
            path: "/start",
            headers: &[],
        };
        let first = run.answer(Place::Target, &get);
        assert_eq!(first.status, 302);
        assert_eq!(
            first.headers[0],
            ("Location".into(), "http://127.0.0.1:8092/c/s/next".into())
        );
        assert_eq!(
            first.headers[1],
            ("content-length".into(), BODY.len().to_string())
        );
        assert_eq!(run.answer(Place::Redirect, &get).status, 200);
        let third = run.answer(Place::Redirect, &get);
        assert_eq!((third.status, third.body.as_ref()), (200, BODY));
        let seen = run.seen();
        assert_eq!(
            seen.iter().map(|s| s.at).collect::<Vec<_>>(),
            [Place::Target, Place::Redirect, Place::Redirect]
        );
        // No preflight is scripted: the target says so rather than invent one.
        let options = Asked {
            method: "OPTIONS",
            path: "/start",
            headers: &[("Access-Control-Request-Method".into(), b"PUT".to_vec())],
        };
        assert_eq!(run.answer(Place::Target, &options).status, 501);
    }
}
