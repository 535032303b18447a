//! The two halves check each other: for random policies and random browser requests, the agent
//! (the browser model) talks to the policy's tower layer in-process; the agent must allow the
//! request exactly when the policy means to allow it, and script must be able to read exactly
//! the headers the policy exposes. Any disagreement is a bug in one half. Under every profile.
#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crossgate::agent::{
    Agent, CredentialsMode, Incoming, Network, NetworkFailure, Outgoing, Profile, RequestInit,
    Tainting,
};
use crossgate::fetch::header::{
    is_cors_safelisted_response_header_name, is_forbidden_response_header_name,
};
use crossgate::origin::Origin;
use crossgate::policy::{Policy, PolicyConfig};
use crossgate::tower::Cors;
use http::{HeaderName, HeaderValue, Request, Response};
use proptest::prelude::*;
use proptest::sample::subsequence;
use tower::Service;

const API: &str = "https://api.test/items";

/// The inner service's response: a few headers of each kind.
const INNER: [(&str, &str); 5] = [
    ("content-type", "application/json"),
    ("x-request-id", "42"),
    ("x-other", "1"),
    ("set-cookie", "s=1"),
    ("vary", "Accept-Encoding"),
];

/// Polls a future that never waits (the layer and the inner service are synchronous).
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the service waited"),
    }
}

/// The network of the agent: the policy's layer around an application.
type App = fn(Request<()>) -> std::future::Ready<Result<Response<()>, Infallible>>;

struct Server {
    service: Cors<tower::util::ServiceFn<App>>,
}

fn app(_: Request<()>) -> std::future::Ready<Result<Response<()>, Infallible>> {
    let mut response = Response::new(());
    for (n, v) in INNER {
        response
            .headers_mut()
            .append(HeaderName::from_static(n), HeaderValue::from_static(v));
    }
    std::future::ready(Ok(response))
}

impl Network for Server {
    fn send(&mut self, request: &Outgoing) -> Result<Incoming, NetworkFailure> {
        let mut builder = Request::builder()
            .method(request.method.as_str())
            .uri(request.url.as_str());
        for (n, v) in &request.headers {
            builder = builder.header(n.as_str(), HeaderValue::from_bytes(v).unwrap());
        }
        let response = now(self.service.call(builder.body(()).unwrap())).unwrap();
        Ok(Incoming {
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
        })
    }
}

fn policy_strategy() -> impl Strategy<Value = PolicyConfig> {
    let origins = prop_oneof![
        Just(vec!["*".to_owned()]),
        subsequence(
            vec![
                "https://app.test",
                "https://*.tenant.test",
                "http://localhost:*",
                "https://admin.test:8443",
            ],
            1..=4
        )
        .prop_map(|v| v.into_iter().map(str::to_owned).collect()),
    ];
    let methods = prop_oneof![
        Just(vec!["*".to_owned()]),
        subsequence(vec!["GET", "PUT", "DELETE", "PATCH", "PURGE"], 0..=5)
            .prop_map(|v| v.into_iter().map(str::to_owned).collect()),
    ];
    let headers = prop_oneof![
        Just(vec!["*".to_owned()]),
        Just(vec!["*".to_owned(), "authorization".to_owned()]),
        subsequence(vec!["content-type", "x-token", "authorization"], 0..=3)
            .prop_map(|v| v.into_iter().map(str::to_owned).collect()),
    ];
    let expose = prop_oneof![
        Just(vec!["*".to_owned()]),
        subsequence(vec!["x-request-id", "x-missing"], 0..=2)
            .prop_map(|v| v.into_iter().map(str::to_owned).collect()),
    ];
    (
        origins,
        any::<bool>(),
        methods,
        headers,
        expose,
        prop::option::of(0u32..100),
    )
        .prop_map(
            |(
                allow_origins,
                allow_credentials,
                allow_methods,
                allow_headers,
                expose_headers,
                max_age,
            )| {
                PolicyConfig {
                    allow_origins,
                    allow_credentials,
                    allow_methods,
                    allow_headers,
                    expose_headers,
                    max_age: max_age.map(i64::from),
                    ..PolicyConfig::default()
                }
            },
        )
}

/// A request as script makes it.
#[derive(Clone, Debug)]
struct Script {
    page: &'static str,
    method: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    credentials: CredentialsMode,
}

fn script_strategy() -> impl Strategy<Value = Script> {
    let page = prop::sample::select(vec![
        "https://app.test",
        "https://a.tenant.test",
        "https://tenant.test",
        "http://localhost:3000",
        "https://admin.test:8443",
        "https://admin.test",
        "https://evil.test",
    ]);
    let method = prop::sample::select(vec![
        "GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "patch", "PURGE",
    ]);
    let headers = subsequence(
        vec![
            ("Content-Type", "application/json"),
            ("Accept-Language", "en"),
            ("X-Token", "t"),
            ("Authorization", "Bearer t"),
        ],
        0..=4,
    );
    let credentials = prop::sample::select(vec![
        CredentialsMode::Omit,
        CredentialsMode::SameOrigin,
        CredentialsMode::Include,
    ]);
    (page, method, headers, credentials).prop_map(|(page, method, headers, credentials)| Script {
        page,
        method,
        headers,
        credentials,
    })
}

/// What the policy means: is this request allowed, and which response names may script read?
fn intended(policy: &Policy, config: &PolicyConfig, script: &Script) -> (bool, Vec<String>) {
    let normalized = crossgate::fetch::method::normalize(script.method.as_bytes()).into_owned();
    let method = String::from_utf8(normalized).unwrap();
    let any_methods = config.allow_methods.iter().any(|m| m == "*");
    let any_headers = config.allow_headers.iter().any(|h| h == "*");
    let listed = |name: &str| {
        config
            .allow_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    };
    let include = script.credentials == CredentialsMode::Include;
    // Which headers a browser counts as unsafe (Content-Type: application/json, X-Token,
    // Authorization; Accept-Language: en is safelisted).
    let unsafe_names: Vec<&str> = script
        .headers
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !n.eq_ignore_ascii_case("accept-language"))
        .collect();
    let safelisted_method = matches!(method.as_str(), "GET" | "HEAD" | "POST");
    let preflight = !safelisted_method || !unsafe_names.is_empty();
    let origin_ok = policy.allows_origin(script.page.as_bytes());
    let method_ok = safelisted_method || any_methods || config.allow_methods.contains(&method);
    let headers_ok = unsafe_names
        .iter()
        .all(|n| listed(n) || (any_headers && !n.eq_ignore_ascii_case("authorization")));
    let credentials_ok = !include || config.allow_credentials;
    let allowed = origin_ok && credentials_ok && (!preflight || (method_ok && headers_ok));
    let mut readable: Vec<String> = Vec::new();
    if allowed {
        let expose_all = config.expose_headers.iter().any(|h| h == "*") && !include;
        for (name, _) in INNER {
            let exposed = expose_all
                || is_cors_safelisted_response_header_name(name.as_bytes())
                || config
                    .expose_headers
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(name));
            if exposed && !is_forbidden_response_header_name(name.as_bytes()) {
                readable.push(name.to_owned());
            }
        }
        if expose_all {
            // `*` exposes every name of the response, the CORS headers themselves included.
            readable.extend(
                [
                    "access-control-allow-origin",
                    "access-control-expose-headers",
                ]
                .map(str::to_owned),
            );
            if config.allow_credentials {
                readable.push("access-control-allow-credentials".to_owned());
            }
        }
        readable.sort();
        readable.dedup();
    }
    (allowed, readable)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_agent_allows_exactly_what_the_policy_intends(config in policy_strategy(), script in script_strategy()) {
        let Some(policy) = Policy::check(&config).into_parts().0 else {
            // Invalid combinations (`*` with credentials, ...) never reach a server.
            return Ok(());
        };
        for profile in [Profile::spec(), Profile::chromium(), Profile::firefox(), Profile::webkit()] {
            let mut server = Server {
                service: Cors::new(tower::service_fn(app as App), policy.clone()),
            };
            let init = RequestInit {
                origin: Origin::from_url_str(script.page).unwrap(),
                url: API.parse().unwrap(),
                method: script.method.to_owned(),
                headers: script.headers.iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect(),
                credentials: script.credentials,
                ..RequestInit::get(Origin::Opaque, API.parse().unwrap())
            };
            let outcome = Agent::new(profile).fetch(&init, &mut server).unwrap();
            let (allowed, readable) = intended(&policy, policy.config(), &script);
            prop_assert_eq!(
                outcome.allowed, allowed,
                "{:?}: policy {:?}, script {:?}, error {:?}",
                profile.browser, policy.config(), script, outcome.error
            );
            if outcome.allowed {
                prop_assert_eq!(outcome.tainting, Tainting::Cors);
                prop_assert_eq!(
                    &outcome.exposed_headers, &readable,
                    "{:?}: policy {:?}, script {:?}", profile.browser, policy.config(), script
                );
            }
        }
    }
}
