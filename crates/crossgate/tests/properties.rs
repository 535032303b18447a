//! Property tests: random valid policies, random requests (browser-like and not), run through the
//! real tower layer. The safety invariants must hold for every pair, and an independent reference
//! matcher (written here from the normalised pattern strings, by string surgery, not by the
//! library's label tree) must agree with what the layer allowed.
//!
//! Run with `cargo test -p crossgate --all-features` (the tower layer is feature `tower`).
#![cfg(feature = "tower")]

use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crossgate::policy::{Policy, PolicyConfig};
use crossgate::tower::Cors;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use proptest::prelude::*;
use proptest::sample::{Index, subsequence};
use tower::Service;

// ---------------------------------------------------------------------------------------------
// The reference: what a normalised pattern allows, from its text alone.

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

/// A port as a browser serialises it: 1-65535, decimal, no leading zero, never the default.
fn canonical_port(scheme: &str, digits: &str) -> bool {
    !digits.is_empty()
        && digits.len() <= 5
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits
            .parse::<u32>()
            .is_ok_and(|p| (1..=65535).contains(&p) && default_port(scheme) != Some(p as u16))
}

/// Labels a `*.` pattern stands for: one or more, each non-empty lowercase LDH or `_`.
fn subdomain_labels(labels: &str) -> bool {
    !labels.is_empty()
        && labels.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

/// Whether the normalised `pattern` allows the request `origin` (its exact bytes).
fn reference_allows(pattern: &str, origin: &[u8]) -> bool {
    if pattern == "*" {
        return true;
    }
    let Ok(origin) = std::str::from_utf8(origin) else {
        return false;
    };
    let (scheme, rest) = pattern.split_once("://").expect("a normalised pattern");
    let Some(authority) = origin
        .strip_prefix(scheme)
        .and_then(|r| r.strip_prefix("://"))
    else {
        return false;
    };
    // The pattern's port: none, `*`, or digits (after the last `:` that follows any `]`).
    let host_end = rest.rfind(']').map_or(0, |i| i + 1);
    let (host_pattern, port_pattern) = match rest[host_end..].rfind(':') {
        Some(i) => (&rest[..host_end + i], Some(&rest[host_end + i + 1..])),
        None => (rest, None),
    };
    let candidates: Vec<&str> = match port_pattern {
        None => vec![authority],
        Some("*") => {
            let mut c = vec![authority];
            let o_host_end = authority.rfind(']').map_or(0, |i| i + 1);
            if let Some(i) = authority[o_host_end..].rfind(':') {
                let (h, p) = (
                    &authority[..o_host_end + i],
                    &authority[o_host_end + i + 1..],
                );
                if canonical_port(scheme, p) {
                    c.push(h);
                }
            }
            c
        }
        Some(digits) => authority
            .strip_suffix(digits)
            .and_then(|a| a.strip_suffix(':'))
            .into_iter()
            .collect(),
    };
    candidates
        .into_iter()
        .any(|host| match host_pattern.strip_prefix("*.") {
            None => host == host_pattern,
            Some(base) => host
                .strip_suffix(base)
                .and_then(|h| h.strip_suffix('.'))
                .is_some_and(subdomain_labels),
        })
}

fn reference_origin(config: &PolicyConfig, origin: &[u8]) -> bool {
    config
        .allow_origins
        .iter()
        .any(|p| reference_allows(p, origin))
}

fn is_safelisted_method(m: &[u8]) -> bool {
    matches!(m, b"GET" | b"HEAD" | b"POST")
}

fn reference_method(config: &PolicyConfig, m: &[u8]) -> bool {
    is_safelisted_method(m)
        || config
            .allow_methods
            .iter()
            .any(|a| a == "*" || a.as_bytes() == m)
}

fn reference_header(config: &PolicyConfig, name: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    let listed = |n: &str| {
        config
            .allow_headers
            .iter()
            .any(|a| a.as_bytes() == n.as_bytes())
    };
    config
        .allow_headers
        .iter()
        .any(|a| a.as_bytes() == lower.as_slice())
        || (listed("*") && lower != b"authorization")
}

/// The non-empty, trimmed elements of a comma list over several lines.
fn list_items(lines: &[Vec<u8>]) -> Vec<Vec<u8>> {
    lines
        .iter()
        .flat_map(|l| l.split(|&b| b == b','))
        .map(|e| e.trim_ascii().to_vec())
        .filter(|e| !e.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Generators

const HOSTS: &[&str] = &[
    "example.com",
    "app.example.com",
    "a.b.example.com",
    "example.org",
    "localhost",
    "127.0.0.1",
    "[::1]",
    "xn--bcher-kva.de",
    "a-b.test",
];
const BASES: &[&str] = &[
    "example.com",
    "b.example.com",
    "example.org",
    "localhost",
    "test",
];
const METHODS: &[&str] = &[
    "PUT", "DELETE", "PATCH", "patch", "X-Custom", "GET", "OPTIONS",
];
const HEADERS: &[&str] = &[
    "x-a",
    "X-B",
    "content-type",
    "authorization",
    "x-a-rather-long-header-name",
];
const ASKED_HEADERS: &[&str] = &[
    "x-a",
    "x-b",
    "content-type",
    "authorization",
    "x-a-rather-long-header-name",
    "x-other",
    "accept",
];
const ASKED_METHODS: &[&str] = &[
    "PUT", "DELETE", "PATCH", "patch", "X-Custom", "GET", "POST", "HEAD", "OPTIONS", "put",
    "x-custom", "PURGE",
];

/// One origin pattern, sometimes in a non-normal spelling that the policy normalises.
fn pattern() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![Just("http"), Just("https")];
    let exact = (
        scheme.clone(),
        proptest::sample::select(HOSTS),
        prop_oneof![Just(""), Just(":8080"), Just(":3000"), Just(":*")],
    )
        .prop_map(|(s, h, p)| format!("{s}://{h}{p}"));
    let sub = (
        scheme,
        proptest::sample::select(BASES),
        prop_oneof![Just(""), Just(":8080"), Just(":*")],
    )
        .prop_map(|(s, b, p)| format!("{s}://*.{b}{p}"));
    let spelled = prop_oneof![
        6 => Just(0u8),
        1 => Just(1), // upper case
        1 => Just(2), // explicit default port
        1 => Just(3), // trailing slash
    ];
    (prop_oneof![exact, sub], spelled).prop_map(|(p, how)| match how {
        1 => p.to_uppercase().replace("XN--", "xn--"),
        2 if !p.ends_with('*') && p.matches(':').count() == 1 && !p.contains('[') => {
            let port = if p.starts_with("https") { 443 } else { 80 };
            format!("{p}:{port}")
        }
        3 => format!("{p}/"),
        _ => p,
    })
}

fn config() -> impl Strategy<Value = PolicyConfig> {
    let origins = prop_oneof![
        9 => proptest::collection::vec(pattern(), 1..5),
        1 => Just(vec!["*".to_owned()]),
    ];
    let methods = prop_oneof![
        4 => subsequence(METHODS, 0..=METHODS.len()).prop_map(|v| v.into_iter().map(String::from).collect()),
        1 => Just(vec!["*".to_owned()]),
    ];
    let headers = prop_oneof![
        4 => subsequence(HEADERS, 0..=HEADERS.len()).prop_map(|v| v.into_iter().map(String::from).collect()),
        1 => Just(vec!["*".to_owned()]),
        1 => Just(vec!["*".to_owned(), "authorization".to_owned()]),
    ];
    let expose = prop_oneof![
        3 => subsequence(&["x-r", "x-s"][..], 0..=2).prop_map(|v| v.into_iter().map(String::from).collect()),
        1 => Just(vec!["*".to_owned()]),
    ];
    (
        origins,
        any::<bool>(),
        methods,
        headers,
        expose,
        proptest::option::of(0i64..100_000),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.8),
    )
        .prop_map(
            |(
                allow_origins,
                creds,
                allow_methods,
                allow_headers,
                expose_headers,
                max_age,
                pna,
                tolerate,
            )| {
                PolicyConfig {
                    allow_origins,
                    allow_credentials: creds,
                    allow_methods,
                    allow_headers,
                    expose_headers,
                    max_age,
                    allow_private_network: pna,
                    dangerously_tolerate_insecure_origins: tolerate,
                    dangerously_tolerate_public_suffix_subdomains: false,
                }
            },
        )
}

/// How a request's `Origin` is made.
#[derive(Clone, Debug)]
enum OriginGen {
    /// From the n-th configured pattern: a subdomain label for `*.`, a port for `:*`, and a
    /// look-alike mutation.
    FromPattern {
        which: Index,
        label: &'static str,
        port: Option<u16>,
        mutation: Mutation,
    },
    Fixed(&'static str),
    Bytes(Vec<u8>),
}

#[derive(Clone, Copy, Debug)]
enum Mutation {
    None,
    Upper,
    DefaultPort,
    TrailingSlash,
    TrailingDot,
    SuffixDomain,
    PrefixLabel,
    SuffixLabel,
    OtherScheme,
    LeadingZeroPort,
}

fn origin_gen() -> impl Strategy<Value = OriginGen> {
    let mutation = prop_oneof![
        20 => Just(Mutation::None),
        1 => Just(Mutation::Upper),
        1 => Just(Mutation::DefaultPort),
        1 => Just(Mutation::TrailingSlash),
        1 => Just(Mutation::TrailingDot),
        1 => Just(Mutation::SuffixDomain),
        1 => Just(Mutation::PrefixLabel),
        1 => Just(Mutation::SuffixLabel),
        1 => Just(Mutation::OtherScheme),
        1 => Just(Mutation::LeadingZeroPort),
    ];
    let label = prop_oneof![
        3 => proptest::sample::select(&["x", "a.b", "x-y", "a_b", "9"][..]),
        1 => proptest::sample::select(&["", "A", "a!b", "a..b", "."][..]),
    ];
    let port = proptest::option::of(prop_oneof![
        Just(1u16),
        Just(80),
        Just(443),
        Just(3000),
        Just(8080),
        Just(65535)
    ]);
    prop_oneof![
        10 => (any::<Index>(), label, port, mutation).prop_map(|(which, label, port, mutation)| {
            OriginGen::FromPattern { which, label, port, mutation }
        }),
        2 => proptest::sample::select(&[
            "null",
            "",
            "https://evil.example",
            "https://example.com.evil.tld",
            "https://evilexample.com",
            "http://localhost",
            "http://localhost:3000",
            "https://app.example.com",
            "http://[::1]:8080",
            "https://x.example.org",
            "https://example.com,https://evil.example",
            "https://*.example.com",
            "*",
        ][..]).prop_map(OriginGen::Fixed),
        1 => proptest::collection::vec(
            prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')],
            0..40
        ).prop_map(OriginGen::Bytes),
    ]
}

fn make_origin(g: &OriginGen, patterns: &[String]) -> Vec<u8> {
    match g {
        OriginGen::Fixed(s) => s.as_bytes().to_vec(),
        OriginGen::Bytes(b) => b.clone(),
        OriginGen::FromPattern {
            which,
            label,
            port,
            mutation,
        } => {
            let p = which.get(patterns);
            let (mut scheme, rest) = match p.split_once("://") {
                Some((s, r)) => (s.to_owned(), r.to_owned()),
                None => ("https".to_owned(), "anything.example".to_owned()),
            };
            let host_end = rest.rfind(']').map_or(0, |i| i + 1);
            let (host_p, port_p) = match rest[host_end..].rfind(':') {
                Some(i) => (
                    rest[..host_end + i].to_owned(),
                    Some(rest[host_end + i + 1..].to_owned()),
                ),
                None => (rest.clone(), None),
            };
            let mut host = match host_p.strip_prefix("*.") {
                Some(base) if label.is_empty() => base.to_owned(),
                Some(base) => format!("{label}.{base}"),
                None => host_p.clone(),
            };
            let mut port_s = match port_p.as_deref() {
                None => String::new(),
                Some("*") => port.map(|p| format!(":{p}")).unwrap_or_default(),
                Some(d) => format!(":{d}"),
            };
            match mutation {
                Mutation::None => {}
                Mutation::Upper => host = host.to_uppercase(),
                Mutation::DefaultPort => {
                    port_s = if scheme == "https" { ":443" } else { ":80" }.into()
                }
                Mutation::TrailingSlash => port_s.push('/'),
                Mutation::TrailingDot => host.push('.'),
                Mutation::SuffixDomain => host.push_str(".evil.tld"),
                Mutation::PrefixLabel => host = format!("evil{host}"),
                Mutation::SuffixLabel => host.push_str("evil"),
                Mutation::OtherScheme => {
                    scheme = if scheme == "https" { "http" } else { "https" }.into()
                }
                Mutation::LeadingZeroPort => {
                    port_s = match port_s.strip_prefix(':') {
                        Some(d) => format!(":0{d}"),
                        None => ":08080".into(),
                    }
                }
            }
            format!("{scheme}://{host}{port_s}").into_bytes()
        }
    }
}

#[derive(Clone, Debug)]
struct RequestGen {
    method: &'static str,
    /// `None`: no `Origin` header.
    origin: Option<OriginGen>,
    /// Send the `Origin` line twice.
    origin_twice: bool,
    /// `Access-Control-Request-Method` lines.
    acrm: Vec<&'static str>,
    /// Browser-like `Access-Control-Request-Headers` (sorted, deduplicated, lowercase, one line)
    /// or arbitrary lines.
    acrh: Acrh,
    acrpn: Option<&'static str>,
    /// The inner service also writes CORS headers of its own (which the layer must replace).
    foreign: bool,
}

#[derive(Clone, Debug)]
enum Acrh {
    Browser(Vec<&'static str>),
    Lines(Vec<String>),
}

impl Acrh {
    fn lines(&self) -> Vec<Vec<u8>> {
        match self {
            Acrh::Browser(names) if names.is_empty() => vec![],
            Acrh::Browser(names) => {
                let mut names = names.clone();
                names.sort_unstable();
                vec![names.join(",").into_bytes()]
            }
            Acrh::Lines(lines) => lines.iter().map(|l| l.clone().into_bytes()).collect(),
        }
    }
}

fn request_gen() -> impl Strategy<Value = RequestGen> {
    let method = prop_oneof![
        4 => Just("OPTIONS"),
        1 => Just("GET"),
        1 => Just("POST"),
        1 => Just("PUT"),
        1 => Just("DELETE"),
        1 => Just("PATCH"),
    ];
    let acrm = prop_oneof![
        1 => Just(vec![]),
        4 => proptest::sample::select(&["GET", "POST", "PUT", "DELETE"][..]).prop_map(|m| vec![m]),
        4 => proptest::sample::select(ASKED_METHODS).prop_map(|m| vec![m]),
        1 => Just(vec![""]),
        1 => proptest::collection::vec(proptest::sample::select(ASKED_METHODS), 2..=2),
    ];
    let acrh = prop_oneof![
        3 => Just(Acrh::Browser(vec![])),
        6 => subsequence(ASKED_HEADERS, 0..=2).prop_map(Acrh::Browser),
        2 => proptest::collection::vec("[a-zA-Z, \t_@-]{0,24}", 0..4).prop_map(Acrh::Lines),
    ];
    (
        method,
        proptest::option::weighted(0.9, origin_gen()),
        prop::bool::weighted(0.05),
        acrm,
        acrh,
        proptest::option::weighted(0.2, prop_oneof![Just("true"), Just("false")]),
        prop::bool::weighted(0.3),
    )
        .prop_map(
            |(method, origin, origin_twice, acrm, acrh, acrpn, foreign)| RequestGen {
                method,
                origin,
                origin_twice,
                acrm,
                acrh,
                acrpn,
                foreign,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Running a request through the tower layer

struct Built {
    request: Request<String>,
    origins: Vec<Vec<u8>>,
    acrm: Vec<Vec<u8>>,
    acrh: Vec<Vec<u8>>,
}

fn build(g: &RequestGen, policy: &Policy) -> Built {
    let mut headers = HeaderMap::new();
    let mut origins = Vec::new();
    if let Some(o) = &g.origin {
        let bytes = make_origin(o, &policy.config().allow_origins);
        let value = HeaderValue::from_bytes(&bytes).expect("generated bytes are a header value");
        origins.push(bytes.clone());
        headers.append(header::ORIGIN, value.clone());
        if g.origin_twice {
            origins.push(bytes);
            headers.append(header::ORIGIN, value);
        }
    }
    let acrm: Vec<Vec<u8>> = g.acrm.iter().map(|m| m.as_bytes().to_vec()).collect();
    for m in &acrm {
        headers.append(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_bytes(m).unwrap(),
        );
    }
    let acrh = g.acrh.lines();
    for l in &acrh {
        headers.append(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_bytes(l).unwrap(),
        );
    }
    if let Some(v) = g.acrpn {
        headers.append(
            "access-control-request-private-network",
            HeaderValue::from_static(v),
        );
    }
    let mut request = Request::new(String::new());
    *request.method_mut() = Method::from_bytes(g.method.as_bytes()).unwrap();
    *request.headers_mut() = headers;
    Built {
        request,
        origins,
        acrm,
        acrh,
    }
}

/// Calls the layer around an inner service that answers 200 with `Vary: foo` (and, with
/// `foreign`, CORS headers of its own); returns the response and how often the inner service ran.
fn call(policy: &Policy, request: Request<String>, foreign: bool) -> (Response<String>, usize) {
    let calls = Rc::new(Cell::new(0usize));
    let counter = calls.clone();
    let inner = tower::service_fn(move |_req: Request<String>| {
        counter.set(counter.get() + 1);
        let mut response = Response::new("body".to_owned());
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("foo"));
        if foreign {
            let h = response.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("TRACE"),
            );
        }
        std::future::ready(Ok::<_, Infallible>(response))
    });
    let mut service = Cors::new(inner, policy.clone());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(service.poll_ready(&mut cx), Poll::Ready(Ok(()))));
    let future = pin!(service.call(request));
    let Poll::Ready(Ok(response)) = future.poll(&mut cx) else {
        panic!("the layer's future is not ready although the inner one is");
    };
    (response, calls.get())
}

fn lines<'a>(response: &'a Response<String>, name: &str) -> Vec<&'a [u8]> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect()
}

fn vary_has(response: &Response<String>, token: &str) -> bool {
    lines(response, "vary").iter().any(|l| {
        l.split(|&b| b == b',')
            .any(|e| e.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// The comma-list items of a response header, trimmed.
fn response_items(response: &Response<String>, name: &str) -> Vec<Vec<u8>> {
    let owned: Vec<Vec<u8>> = lines(response, name).iter().map(|l| l.to_vec()).collect();
    list_items(&owned)
}

/// Every invariant of one request/response pair.
fn check_pair(policy: &Policy, g: &RequestGen) -> Result<(), TestCaseError> {
    let config = policy.config();
    let any_origin = config.allow_origins == ["*"];
    let credentials = config.allow_credentials;
    let built = build(g, policy);
    let is_options = built.request.method() == Method::OPTIONS;
    let preflight = is_options && !built.origins.is_empty() && !built.acrm.is_empty();
    let (response, inner_calls) = call(policy, built.request, g.foreign);

    let acao = lines(&response, "access-control-allow-origin");
    let acac = lines(&response, "access-control-allow-credentials");
    prop_assert!(acao.len() <= 1, "several ACAO lines: {acao:?}");
    prop_assert!(acac.len() <= 1, "several ACAC lines: {acac:?}");
    if let Some(&a) = acao.first() {
        if a == b"*" {
            prop_assert!(any_origin, "ACAO * from a policy that is not `*`");
            prop_assert!(acac.is_empty(), "ACAO * together with ACAC");
        } else {
            prop_assert!(!any_origin, "a `*` policy reflected {a:?}");
            prop_assert_eq!(
                built.origins.len(),
                1,
                "reflected with several Origin lines"
            );
            prop_assert_eq!(
                a,
                built.origins[0].as_slice(),
                "ACAO is not the request's Origin"
            );
            prop_assert!(
                reference_origin(config, a),
                "ACAO {:?} matches none of {:?}",
                String::from_utf8_lossy(a),
                config.allow_origins
            );
        }
    }
    if let Some(&c) = acac.first() {
        prop_assert_eq!(c, b"true");
        prop_assert!(credentials && !acao.is_empty());
    }
    if !any_origin {
        prop_assert!(vary_has(&response, "origin"), "no Vary: Origin");
    }

    if preflight {
        prop_assert_eq!(inner_calls, 0, "a preflight reached the inner service");
        prop_assert!(
            response.status() == StatusCode::NO_CONTENT
                || response.status() == StatusCode::FORBIDDEN,
            "preflight status {}",
            response.status()
        );
        prop_assert!(vary_has(&response, "access-control-request-method"));
        let origin_ok =
            built.origins.len() == 1 && (any_origin || reference_origin(config, &built.origins[0]));
        let method_ok = built.acrm.len() == 1
            && crossgate_token(&built.acrm[0])
            && reference_method(config, &built.acrm[0]);
        let asked = list_items(&built.acrh);
        let headers_ok = asked.iter().all(|n| reference_header(config, n));
        if response.status() == StatusCode::FORBIDDEN {
            for (name, _) in response.headers() {
                prop_assert!(
                    !name.as_str().starts_with("access-control-"),
                    "a refused preflight carries {name}"
                );
            }
            if let Acrh::Browser(_) = g.acrh {
                // A preflight a browser would send, which the reference allows, is answered.
                let wellformed_origin = built.origins.len() == 1 && !built.origins[0].is_empty();
                prop_assert!(
                    !(wellformed_origin && origin_ok && method_ok && headers_ok),
                    "refused a preflight the policy allows: origin {:?} method {:?} headers {:?}",
                    String::from_utf8_lossy(&built.origins[0]),
                    String::from_utf8_lossy(&built.acrm[0]),
                    built.acrh
                );
            }
        } else {
            // Sound: only what the policy allows.
            prop_assert!(origin_ok, "allowed a preflight from an origin not allowed");
            prop_assert!(method_ok, "allowed method {:?}", built.acrm);
            prop_assert!(headers_ok, "allowed headers {:?}", built.acrh);
            prop_assert_eq!(acao.len(), 1);
            // And a browser proceeds (Fetch §4.8 CORS-preflight fetch, steps 7.3-7.6).
            let m = &built.acrm[0];
            let acam = response_items(&response, "access-control-allow-methods");
            prop_assert!(
                is_safelisted_method(m)
                    || acam.iter().any(|x| x == m)
                    || (!credentials && acam.iter().any(|x| x == b"*")),
                "a browser would refuse method {:?} given ACAM {:?}",
                String::from_utf8_lossy(m),
                acam
            );
            let acah: Vec<Vec<u8>> = response_items(&response, "access-control-allow-headers")
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect();
            for n in &asked {
                let n = n.to_ascii_lowercase();
                prop_assert!(
                    acah.contains(&n)
                        || (!credentials
                            && n != b"authorization"
                            && acah.iter().any(|x| x == b"*")),
                    "a browser would refuse header {:?} given ACAH {:?}",
                    String::from_utf8_lossy(&n),
                    acah
                );
            }
            let pna = lines(&response, "access-control-allow-private-network");
            if !pna.is_empty() {
                prop_assert!(config.allow_private_network && g.acrpn == Some("true"));
            }
        }
    } else {
        prop_assert_eq!(inner_calls, 1, "the inner service did not run exactly once");
        prop_assert_eq!(response.status(), StatusCode::OK);
        prop_assert!(
            vary_has(&response, "foo"),
            "the inner service's Vary: foo is lost"
        );
        prop_assert!(
            lines(&response, "access-control-allow-methods").is_empty(),
            "the inner service's own ACAM survived"
        );
        if any_origin {
            prop_assert_eq!(acao, vec![&b"*"[..]]);
        } else if built.origins.len() == 1 && reference_origin(config, &built.origins[0]) {
            prop_assert_eq!(
                acao,
                vec![built.origins[0].as_slice()],
                "allowed origin not reflected"
            );
        } else {
            prop_assert!(acao.is_empty());
        }
    }
    Ok(())
}

fn crossgate_token(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

fn valid(config: &PolicyConfig) -> Option<Policy> {
    Policy::check(config).into_result().ok()
}

// ---------------------------------------------------------------------------------------------
// The properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, max_global_rejects: 20_000, ..ProptestConfig::default() })]

    /// Every safety invariant, for a random valid policy and a batch of random requests.
    #[test]
    fn tower_layer_invariants(config in config(), requests in proptest::collection::vec(request_gen(), 1..12)) {
        let policy = valid(&config);
        prop_assume!(policy.is_some());
        let policy = policy.unwrap();
        for r in &requests {
            check_pair(&policy, r)?;
        }
    }

    /// The library's matcher and the reference agree on every origin, in both directions.
    #[test]
    fn matcher_agrees_with_the_reference(config in config(), origins in proptest::collection::vec(origin_gen(), 1..24)) {
        let policy = valid(&config);
        prop_assume!(policy.is_some());
        let policy = policy.unwrap();
        let patterns = &policy.config().allow_origins;
        for g in &origins {
            let origin = make_origin(g, patterns);
            prop_assert_eq!(
                policy.allows_origin(&origin),
                reference_origin(policy.config(), &origin),
                "origin {:?} under {:?}",
                String::from_utf8_lossy(&origin),
                patterns
            );
        }
    }

    /// Normalising twice changes nothing, and the normal form is valid whenever the input is.
    #[test]
    fn normal_form_is_a_fixed_point(config in config()) {
        let checked = Policy::check(&config);
        prop_assume!(checked.policy().is_some());
        let normal = checked.policy().unwrap().config().clone();
        let again = Policy::check(&normal);
        prop_assert!(again.policy().is_some(), "{:?}", again.problems());
        let second = again.policy().unwrap();
        prop_assert_eq!(second.config(), &normal);
        prop_assert!(
            !again.problems().iter().any(|p| p.code == crossgate::policy::ProblemCode::OriginNormalized),
            "{:?}", again.problems()
        );
    }
}

/// The generators mostly produce valid policies, and the requests exercise both answers.
#[test]
fn generators_are_useful() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut valid_n, mut allowed, mut denied, mut reflected) = (0, 0, 0, 0);
    for _ in 0..300 {
        let config = config().new_tree(&mut runner).unwrap().current();
        let Some(policy) = valid(&config) else {
            continue;
        };
        valid_n += 1;
        for _ in 0..10 {
            let g = request_gen().new_tree(&mut runner).unwrap().current();
            let built = build(&g, &policy);
            let preflight = built.request.method() == Method::OPTIONS
                && !built.origins.is_empty()
                && !built.acrm.is_empty();
            let (response, _) = call(&policy, built.request, false);
            match response.status() {
                StatusCode::NO_CONTENT => allowed += 1,
                StatusCode::FORBIDDEN => denied += 1,
                _ if !preflight
                    && lines(&response, "access-control-allow-origin")
                        .first()
                        .is_some_and(|a| *a != b"*") =>
                {
                    reflected += 1
                }
                _ => {}
            }
        }
    }
    assert!(
        valid_n >= 200,
        "only {valid_n} of 300 generated policies are valid"
    );
    assert!(allowed >= 100, "only {allowed} allowed preflights");
    assert!(denied >= 100, "only {denied} refused preflights");
    assert!(reflected >= 100, "only {reflected} reflected origins");
}

/// The reference itself, on cases whose answer is known.
#[test]
fn reference_matcher_sanity() {
    let yes = [
        ("https://example.com", "https://example.com"),
        ("https://*.example.com", "https://a.example.com"),
        ("https://*.example.com", "https://a.b.example.com"),
        ("http://localhost:*", "http://localhost"),
        ("http://localhost:*", "http://localhost:3000"),
        ("http://[::1]:*", "http://[::1]:8080"),
        ("http://[::1]:*", "http://[::1]"),
        ("http://*.example.com:*", "http://a.example.com:1"),
        ("http://*.example.com:8080", "http://a.example.com:8080"),
        ("*", "null"),
    ];
    let no = [
        ("https://example.com", "https://example.com:443"),
        ("https://example.com", "https://EXAMPLE.com"),
        ("https://*.example.com", "https://example.com"),
        ("https://*.example.com", "https://.example.com"),
        ("https://*.example.com", "https://aexample.com"),
        ("https://*.example.com", "https://A.example.com"),
        ("https://*.example.com", "https://a.example.com.evil"),
        ("http://localhost:*", "http://localhost:80"),
        ("http://localhost:*", "http://localhost:0"),
        ("http://localhost:*", "http://localhost:08080"),
        ("http://localhost:*", "http://localhost:65536"),
        ("http://localhost:*", "http://localhost:"),
        ("http://localhost:*", "http://evil.localhost"),
        ("http://localhost:3000", "http://localhost:30000"),
        ("http://[::1]:*", "http://[::1]:80"),
    ];
    for (p, o) in yes {
        assert!(reference_allows(p, o.as_bytes()), "{p} {o}");
    }
    for (p, o) in no {
        assert!(!reference_allows(p, o.as_bytes()), "{p} {o}");
    }
}
