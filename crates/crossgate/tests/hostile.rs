//! Hostile requests: bad input never panics and never widens access, and the work it causes is
//! bounded. Every case states the exact outcome: the `Decision` (with its `DenyReason`) from
//! `Policy::decide`, and what the tower layer answers (403 and no `Access-Control-*` for a
//! preflight; no `Access-Control-Allow-Origin` for an actual request, whose inner service still
//! runs).
//!
//! Each case runs under three policies that allow specific origins: a header list with
//! credentials, `allow_headers = ["*"]` without credentials, and `allow_headers = ["*"]` with
//! credentials (where allowed headers are echoed).
#![cfg(feature = "tower")]

use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crossgate::policy::Policy;
use crossgate::policy::{
    Actual, AllowOrigin, CorsRequestHeader, Decision, DenyReason, RequestHead, limits,
};
use crossgate::tower::Cors;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use tower::Service;

const MIB: usize = 1 << 20;
const ALLOWED: &str = "https://app.example.com";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Origins and a list of headers (the longest is `x-requested-with`), with credentials.
    Listed,
    /// The same origins, `allow_headers = ["*"]`, no credentials.
    AnyHeaders,
    /// The same origins, `allow_headers = ["*"]`, with credentials.
    AnyHeadersCredentials,
}

const KINDS: [Kind; 3] = [Kind::Listed, Kind::AnyHeaders, Kind::AnyHeadersCredentials];

fn policy(kind: Kind) -> Policy {
    let headers: &[&str] = match kind {
        Kind::Listed => &["x-a", "content-type", "x-requested-with"],
        Kind::AnyHeaders | Kind::AnyHeadersCredentials => &["*"],
    };
    Policy::builder()
        .allow_origins([
            ALLOWED,
            "https://*.example.org",
            "http://localhost:*",
            "http://localhost:3000",
        ])
        .allow_credentials(kind != Kind::AnyHeaders)
        .allow_methods(["PUT", "DELETE"])
        .allow_headers(headers.iter().copied())
        .build()
        .expect("a valid policy")
}

/// A request as lines of bytes, so anything a client can put on the wire can be said.
#[derive(Clone, Debug)]
struct Req {
    method: Method,
    origin: Vec<Vec<u8>>,
    acrm: Vec<Vec<u8>>,
    acrh: Vec<Vec<u8>>,
}

fn preflight() -> Req {
    Req {
        method: Method::OPTIONS,
        origin: vec![ALLOWED.into()],
        acrm: vec![b"PUT".to_vec()],
        acrh: vec![b"x-a".to_vec()],
    }
}

fn actual() -> Req {
    Req {
        method: Method::GET,
        origin: vec![ALLOWED.into()],
        acrm: vec![],
        acrh: vec![],
    }
}

impl Req {
    fn origin(mut self, lines: &[&[u8]]) -> Req {
        self.origin = lines.iter().map(|l| l.to_vec()).collect();
        self
    }
    fn acrm(mut self, lines: &[&[u8]]) -> Req {
        self.acrm = lines.iter().map(|l| l.to_vec()).collect();
        self
    }
    fn acrh_lines(mut self, lines: Vec<Vec<u8>>) -> Req {
        self.acrh = lines;
        self
    }
    fn acrh(self, line: Vec<u8>) -> Req {
        self.acrh_lines(vec![line])
    }

    fn http(&self) -> Request<String> {
        let mut request = Request::new(String::new());
        *request.method_mut() = self.method.clone();
        let h = request.headers_mut();
        for (name, lines) in [
            (header::ORIGIN, &self.origin),
            (header::ACCESS_CONTROL_REQUEST_METHOD, &self.acrm),
            (header::ACCESS_CONTROL_REQUEST_HEADERS, &self.acrh),
        ] {
            for l in lines {
                h.append(
                    name.clone(),
                    HeaderValue::from_bytes(l).expect("a valid field value"),
                );
            }
        }
        request
    }
}

/// A `RequestHead` that counts how many field lines the library pulls, per header.
struct Counting {
    req: Req,
    origin: Cell<usize>,
    acrm: Cell<usize>,
    acrh: Cell<usize>,
}

impl Counting {
    fn new(req: Req) -> Counting {
        Counting {
            req,
            origin: Cell::new(0),
            acrm: Cell::new(0),
            acrh: Cell::new(0),
        }
    }
}

impl RequestHead for Counting {
    fn is_options(&self) -> bool {
        self.req.method == Method::OPTIONS
    }

    fn header_values(&self, name: CorsRequestHeader) -> impl Iterator<Item = &[u8]> {
        let (lines, counter): (&[Vec<u8>], &Cell<usize>) = match name {
            CorsRequestHeader::Origin => (&self.req.origin, &self.origin),
            CorsRequestHeader::AccessControlRequestMethod => (&self.req.acrm, &self.acrm),
            CorsRequestHeader::AccessControlRequestHeaders => (&self.req.acrh, &self.acrh),
            CorsRequestHeader::AccessControlRequestPrivateNetwork => (&[], &self.acrh),
        };
        lines.iter().map(move |l| {
            counter.set(counter.get() + 1);
            l.as_slice()
        })
    }
}

/// The tower layer's answer, and how often the inner service ran.
fn serve(kind: Kind, req: &Req) -> (Response<String>, usize) {
    let calls = Rc::new(Cell::new(0));
    let counter = calls.clone();
    let inner = tower::service_fn(move |_r: Request<String>| {
        counter.set(counter.get() + 1);
        let mut response = Response::new(String::new());
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("foo"));
        std::future::ready(Ok::<_, Infallible>(response))
    });
    let mut service = Cors::new(inner, policy(kind));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(service.poll_ready(&mut cx), Poll::Ready(Ok(()))));
    let Poll::Ready(Ok(response)) = pin!(service.call(req.http())).poll(&mut cx) else {
        panic!("not ready");
    };
    (response, calls.get())
}

fn has_vary(response: &Response<String>, token: &str) -> bool {
    response.headers().get_all(header::VARY).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|e| e.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

fn access_control(response: &Response<String>) -> Vec<&HeaderName> {
    response
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect()
}

/// A preflight that must be refused for `reason`, by the decision and by the layer.
#[track_caller]
fn refused_preflight(kind: Kind, req: &Req, reason: DenyReason, what: &str) {
    let policy = policy(kind);
    let http = req.http();
    match policy.decide(&http) {
        Decision::PreflightDenied(d) => {
            assert_eq!(d.reason, reason, "{kind:?} {what}: {d}");
            // The refusal's own description never panics, however long the value.
            assert!(d.to_string().len() < 200, "{kind:?} {what}");
        }
        other => panic!("{kind:?} {what}: expected a refused preflight, got {other:?}"),
    }
    let (response, calls) = serve(kind, req);
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "{kind:?} {what}");
    assert_eq!(
        calls, 0,
        "{kind:?} {what}: a preflight reached the inner service"
    );
    assert!(
        access_control(&response).is_empty(),
        "{kind:?} {what}: a refused preflight carries {:?}",
        access_control(&response)
    );
    assert!(has_vary(&response, "origin"), "{kind:?} {what}");
}

/// An actual request that must get no CORS access, for `reason`.
#[track_caller]
fn refused_actual(kind: Kind, req: &Req, reason: DenyReason, what: &str) {
    let policy = policy(kind);
    let http = req.http();
    match policy.decide(&http) {
        Decision::Actual(Actual::Denied(d)) => assert_eq!(d.reason, reason, "{kind:?} {what}"),
        other => panic!("{kind:?} {what}: expected a refused actual request, got {other:?}"),
    }
    let (response, calls) = serve(kind, req);
    assert_eq!(response.status(), StatusCode::OK, "{kind:?} {what}");
    assert_eq!(calls, 1, "{kind:?} {what}");
    assert!(
        access_control(&response).is_empty(),
        "{kind:?} {what}: {:?}",
        access_control(&response)
    );
    assert!(has_vary(&response, "origin"), "{kind:?} {what}");
    assert!(has_vary(&response, "foo"), "{kind:?} {what}");
}

#[track_caller]
fn allowed_preflight(kind: Kind, req: &Req, what: &str) -> Response<String> {
    let policy = policy(kind);
    let http = req.http();
    assert!(
        matches!(policy.decide(&http), Decision::PreflightAllowed(_)),
        "{kind:?} {what}: {:?}",
        policy.decide(&http)
    );
    let (response, calls) = serve(kind, req);
    assert_eq!(response.status(), StatusCode::NO_CONTENT, "{kind:?} {what}");
    assert_eq!(calls, 0);
    response
}

/// The requests below differ from these by one hostile part each.
#[test]
fn the_baseline_requests_are_allowed() {
    for kind in KINDS {
        let response = allowed_preflight(kind, &preflight(), "baseline");
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            ALLOWED
        );
        let (response, _) = serve(kind, &actual());
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            ALLOWED
        );
        for o in [
            "https://a.example.org",
            "https://a.b.example.org",
            "http://localhost",
            "http://localhost:8080",
        ] {
            allowed_preflight(kind, &preflight().origin(&[o.as_bytes()]), o);
        }
    }
}

fn hostile_origins() -> Vec<(&'static str, Vec<u8>)> {
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        // obs-text (0x80-0xFF): a valid field value, never a serialised origin.
        ("obs-text after", b"https://app.example.com\xff".to_vec()),
        ("obs-text in host", b"https://\xe4pp.example.com".to_vec()),
        ("obs-text label", b"https://\xff.example.org".to_vec()),
        ("obs-text in port", b"http://localhost:\xb3000".to_vec()),
        ("UTF-8 host", "https://äpp.example.com".as_bytes().to_vec()),
        // Non-canonical spellings of allowed origins.
        ("upper-case scheme", b"HTTPS://app.example.com".to_vec()),
        ("upper-case host", b"https://APP.example.com".to_vec()),
        ("upper-case label", b"https://A.example.org".to_vec()),
        ("default port", b"https://app.example.com:443".to_vec()),
        (
            "default port, subdomain",
            b"https://a.example.org:443".to_vec(),
        ),
        ("default port, any-port", b"http://localhost:80".to_vec()),
        ("trailing slash", b"https://app.example.com/".to_vec()),
        (
            "trailing slash, subdomain",
            b"https://a.example.org/".to_vec(),
        ),
        ("trailing slash, port", b"http://localhost:3000/".to_vec()),
        ("leading zero port", b"http://localhost:03000".to_vec()),
        ("zero port", b"http://localhost:0".to_vec()),
        ("port too large", b"http://localhost:65536".to_vec()),
        ("trailing dot", b"https://app.example.com.".to_vec()),
        (
            "trailing dot, subdomain",
            b"https://a.example.org.".to_vec(),
        ),
        ("empty label", b"https://.example.org".to_vec()),
        ("double dot", b"https://a..example.org".to_vec()),
        ("apex of *.", b"https://example.org".to_vec()),
        ("userinfo", b"https://evil@app.example.com".to_vec()),
        (
            "userinfo, subdomain",
            b"https://a.example.org@evil.tld".to_vec(),
        ),
        ("leading space", b" https://app.example.com".to_vec()),
        ("trailing space", b"https://app.example.com ".to_vec()),
        (
            "two origins in one line",
            b"https://app.example.com https://evil.tld".to_vec(),
        ),
        (
            "comma list",
            b"https://app.example.com,https://evil.tld".to_vec(),
        ),
        // Look-alikes.
        ("suffix", b"https://app.example.com.evil.tld".to_vec()),
        ("prefix", b"https://evilapp.example.com".to_vec()),
        ("other scheme", b"http://app.example.com".to_vec()),
        ("null", b"null".to_vec()),
        ("wildcard", b"*".to_vec()),
        ("pattern text", b"https://*.example.org".to_vec()),
    ];
    let mut long = b"https://".to_vec();
    long.resize(MIB, b'a');
    long.extend_from_slice(b".example.org");
    v.push(("1 MiB origin", long));
    v
}

#[test]
fn hostile_origins_are_refused() {
    for kind in KINDS {
        let p = policy(kind);
        for (what, origin) in hostile_origins() {
            assert!(!p.allows_origin(&origin), "{kind:?} {what}");
            let o: &[u8] = &origin;
            refused_preflight(
                kind,
                &preflight().origin(&[o]),
                DenyReason::OriginNotAllowed,
                what,
            );
            refused_actual(
                kind,
                &actual().origin(&[o]),
                DenyReason::OriginNotAllowed,
                what,
            );
            // An OPTIONS without ACRM is not a preflight: the application answers it.
            let mut options = actual().origin(&[o]);
            options.method = Method::OPTIONS;
            refused_actual(kind, &options, DenyReason::OriginNotAllowed, what);
        }
    }
}

#[test]
fn several_or_empty_origin_lines_are_refused() {
    let a = ALLOWED.as_bytes();
    let cases: [(&str, Vec<&[u8]>); 5] = [
        ("the allowed origin twice", vec![a, a]),
        ("allowed then another", vec![a, b"https://evil.tld"]),
        ("another then allowed", vec![b"https://evil.tld", a]),
        ("allowed then empty", vec![a, b""]),
        ("empty", vec![b""]),
    ];
    for kind in KINDS {
        for (what, lines) in &cases {
            refused_preflight(
                kind,
                &preflight().origin(lines),
                DenyReason::OriginMalformed,
                what,
            );
            refused_actual(
                kind,
                &actual().origin(lines),
                DenyReason::OriginMalformed,
                what,
            );
        }
        // 1024 Origin lines: at most two are read.
        let many = vec![a; 1024];
        let counting = Counting::new(preflight().origin(&many));
        let p = policy(kind);
        assert!(matches!(
            p.decide(&counting),
            Decision::PreflightDenied(d) if d.reason == DenyReason::OriginMalformed
        ));
        assert!(counting.origin.get() <= 4, "{}", counting.origin.get());
        refused_preflight(
            kind,
            &preflight().origin(&many),
            DenyReason::OriginMalformed,
            "1024 Origin lines",
        );
    }
}

#[test]
fn malformed_request_methods_are_refused() {
    let huge = vec![b'A'; MIB];
    let cases: Vec<(&str, Vec<&[u8]>, DenyReason)> = vec![
        ("empty", vec![b""], DenyReason::MethodMalformed),
        ("twice", vec![b"PUT", b"PUT"], DenyReason::MethodMalformed),
        (
            "two methods",
            vec![b"PUT", b"DELETE"],
            DenyReason::MethodMalformed,
        ),
        (
            "safelisted twice",
            vec![b"GET", b"GET"],
            DenyReason::MethodMalformed,
        ),
        ("a list", vec![b"PUT, DELETE"], DenyReason::MethodMalformed),
        ("with spaces", vec![b" PUT "], DenyReason::MethodMalformed),
        ("obs-text", vec![b"PU\xd4"], DenyReason::MethodMalformed),
        ("lower case", vec![b"put"], DenyReason::MethodNotAllowed),
        ("1 MiB token", vec![&huge], DenyReason::MethodNotAllowed),
    ];
    for kind in KINDS {
        for (what, lines, reason) in &cases {
            refused_preflight(kind, &preflight().acrm(lines), *reason, what);
        }
        let many = vec![&b"PUT"[..]; 1024];
        let counting = Counting::new(preflight().acrm(&many));
        assert!(matches!(
            policy(kind).decide(&counting),
            Decision::PreflightDenied(d) if d.reason == DenyReason::MethodMalformed
        ));
        assert!(counting.acrm.get() <= 4, "{}", counting.acrm.get());
        assert_eq!(
            counting.acrh.get(),
            0,
            "headers read after the method failed"
        );
    }
}

/// The four 1 MiB `Access-Control-Request-Headers` of the brief, and their expected refusals.
fn one_mib_lists(kind: Kind) -> Vec<(&'static str, Vec<u8>, DenyReason)> {
    let repeat = |unit: &[u8]| -> Vec<u8> {
        let mut v = Vec::with_capacity(MIB + unit.len());
        while v.len() < MIB {
            v.extend_from_slice(unit);
        }
        v
    };
    let mut distinct = Vec::with_capacity(MIB + 16);
    let mut i = 0u32;
    while distinct.len() < MIB {
        distinct.extend_from_slice(format!("x-{i},").as_bytes());
        i += 1;
    }
    let listed = kind == Kind::Listed;
    vec![
        (
            "1 MiB of commas",
            repeat(b","),
            DenyReason::HeadersMalformed,
        ),
        (
            "1 MiB of spaces",
            repeat(b" "),
            DenyReason::HeadersMalformed,
        ),
        (
            "1 MiB of tabs and commas",
            repeat(b"\t,"),
            DenyReason::HeadersMalformed,
        ),
        (
            "an allowed name repeated for 1 MiB",
            repeat(b"x-a,"),
            DenyReason::HeadersMalformed,
        ),
        (
            "1 MiB of distinct names",
            distinct,
            // A list refuses the first name it does not hold; `*` stops at its name count.
            if listed {
                DenyReason::HeaderNotAllowed
            } else {
                DenyReason::HeadersMalformed
            },
        ),
        (
            "one 1 MiB name",
            repeat(b"x"),
            if listed {
                DenyReason::HeaderNotAllowed
            } else {
                DenyReason::HeadersMalformed
            },
        ),
    ]
}

#[test]
fn one_mib_request_headers_are_refused() {
    for kind in KINDS {
        for (what, line, reason) in one_mib_lists(kind) {
            refused_preflight(kind, &preflight().acrh(line.clone()), reason, what);
            // An actual request ignores ACRH: the origin still gets its access.
            let (response, calls) = serve(kind, &actual().acrh(line));
            assert_eq!(calls, 1);
            assert_eq!(
                response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                ALLOWED,
                "{kind:?} {what}"
            );
        }
    }
}

/// Splits `bytes` into field lines of `n` bytes.
fn chunks(bytes: &[u8], n: usize) -> Vec<Vec<u8>> {
    bytes.chunks(n).map(<[u8]>::to_vec).collect()
}

/// Boundedness without timing: the same hostile megabyte, cut into 16-byte field lines, is
/// refused after the library has pulled only a few lines, so it has examined at most that many
/// times 16 bytes, never the whole input.
#[test]
fn hostile_request_headers_are_not_fully_read() {
    for kind in KINDS {
        // The most a list or `*` can need before it must refuse: (names + empties) elements of
        // at most (longest + 2 * OWS + 1) bytes each, as `fetch::list::ListLimits` documents.
        let (names, longest) = match kind {
            Kind::Listed => (3, "x-requested-with".len()),
            _ => (
                limits::MAX_WILDCARD_NAMES,
                crossgate::policy::MAX_HEADER_NAME_LEN,
            ),
        };
        let bound_bytes =
            (names + limits::MAX_EMPTY + 1) * (longest + 2 * limits::MAX_OWS + 1) + 16;
        for (what, line, _) in one_mib_lists(kind) {
            let lines = chunks(&line, 16);
            assert!(lines.len() >= MIB / 16);
            let counting = Counting::new(preflight().acrh_lines(lines.clone()));
            let decision = policy(kind).decide(&counting);
            assert!(
                matches!(decision, Decision::PreflightDenied(_)),
                "{kind:?} {what}: {decision:?}"
            );
            let pulled = counting.acrh.get();
            assert!(
                pulled * 16 <= bound_bytes,
                "{kind:?} {what}: pulled {pulled} lines of 16 bytes (bound {bound_bytes} bytes)"
            );
            // The layer refuses the same request.
            let (response, _) = serve(kind, &preflight().acrh_lines(lines));
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{kind:?} {what}");
            assert!(access_control(&response).is_empty());
        }
    }
}

#[test]
fn many_request_header_lines_are_refused_early() {
    for kind in KINDS {
        // 1024 empty lines: refused after MAX_EMPTY + 1 of them.
        let empty = vec![Vec::new(); 1024];
        refused_preflight(
            kind,
            &preflight().acrh_lines(empty.clone()),
            DenyReason::HeadersMalformed,
            "1024 empty ACRH lines",
        );
        let counting = Counting::new(preflight().acrh_lines(empty));
        assert!(matches!(
            policy(kind).decide(&counting),
            Decision::PreflightDenied(d) if d.reason == DenyReason::HeadersMalformed
        ));
        assert_eq!(counting.acrh.get(), limits::MAX_EMPTY + 1, "{kind:?}");

        // 1024 lines of one allowed name: refused after one line more than the policy's names.
        let same = vec![b"x-a".to_vec(); 1024];
        refused_preflight(
            kind,
            &preflight().acrh_lines(same.clone()),
            DenyReason::HeadersMalformed,
            "1024 ACRH lines of x-a",
        );
        let counting = Counting::new(preflight().acrh_lines(same));
        let _ = policy(kind).decide(&counting);
        let names = if kind == Kind::Listed {
            3
        } else {
            limits::MAX_WILDCARD_NAMES
        };
        assert_eq!(counting.acrh.get(), names + 1, "{kind:?}");

        // 1024 lines of comma-only junk.
        let commas = vec![b",,,,".to_vec(); 1024];
        refused_preflight(
            kind,
            &preflight().acrh_lines(commas.clone()),
            DenyReason::HeadersMalformed,
            "1024 lines of commas",
        );
        let counting = Counting::new(preflight().acrh_lines(commas));
        let _ = policy(kind).decide(&counting);
        assert!(counting.acrh.get() <= limits::MAX_EMPTY / 4 + 1, "{kind:?}");
    }
}

#[test]
fn request_header_names_beyond_the_policy_are_refused() {
    let longest_listed = "x-requested-with";
    let one_longer = format!("{longest_listed}x");
    let max_len = crossgate::policy::MAX_HEADER_NAME_LEN;
    let name_of = |n: usize| -> Vec<u8> {
        let mut v = b"x-".to_vec();
        v.resize(n, b'n');
        v
    };
    // Listed: a name longer than any allowed name is simply not allowed.
    refused_preflight(
        Kind::Listed,
        &preflight().acrh(one_longer.clone().into_bytes()),
        DenyReason::HeaderNotAllowed,
        "a name one byte longer than the longest allowed",
    );
    refused_preflight(
        Kind::Listed,
        &preflight().acrh(format!("x-a,{one_longer}").into_bytes()),
        DenyReason::HeaderNotAllowed,
        "an allowed name then a longer one",
    );
    for kind in [Kind::AnyHeaders, Kind::AnyHeadersCredentials] {
        // `*`: any name up to MAX_HEADER_NAME_LEN, none beyond.
        allowed_preflight(
            kind,
            &preflight().acrh(one_longer.clone().into_bytes()),
            "17 bytes",
        );
        allowed_preflight(
            kind,
            &preflight().acrh(name_of(max_len)),
            "the longest name",
        );
        refused_preflight(
            kind,
            &preflight().acrh(name_of(max_len + 1)),
            DenyReason::HeadersMalformed,
            "a name longer than MAX_HEADER_NAME_LEN",
        );
        // `*` never covers authorization.
        refused_preflight(
            kind,
            &preflight().acrh(b"x-a,authorization".to_vec()),
            DenyReason::HeaderNotAllowed,
            "authorization under *",
        );
    }
    for kind in KINDS {
        for (what, line) in [
            ("obs-text", &b"x-a\xff"[..]),
            ("a space inside", b"x a"),
            ("a colon", b"x-a: 1"),
            ("a semicolon", b"x-a;x-b"),
            ("three spaces", b"x-a,   content-type"),
        ] {
            refused_preflight(
                kind,
                &preflight().acrh(line.to_vec()),
                DenyReason::HeadersMalformed,
                what,
            );
        }
    }
}

/// The documented limits are exact: what a proxy may add is accepted, one more is not.
#[test]
fn list_limits_are_exact() {
    for kind in KINDS {
        let ows = " ".repeat(limits::MAX_OWS);
        allowed_preflight(
            kind,
            &preflight().acrh(format!("x-a,{ows}content-type{ows}").into_bytes()),
            "MAX_OWS spaces",
        );
        refused_preflight(
            kind,
            &preflight().acrh(format!("x-a,{ows} content-type").into_bytes()),
            DenyReason::HeadersMalformed,
            "MAX_OWS + 1 spaces",
        );
        let empties = ",".repeat(limits::MAX_EMPTY - 1);
        allowed_preflight(
            kind,
            &preflight().acrh(format!("x-a,{empties}").into_bytes()),
            "MAX_EMPTY empty elements",
        );
        refused_preflight(
            kind,
            &preflight().acrh(format!("x-a,{empties},").into_bytes()),
            DenyReason::HeadersMalformed,
            "MAX_EMPTY + 1 empty elements",
        );
    }
    for kind in [Kind::AnyHeaders, Kind::AnyHeadersCredentials] {
        let names = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|i| format!("x-{i}"))
                .collect::<Vec<_>>()
                .join(",")
                .into_bytes()
        };
        let response = allowed_preflight(
            kind,
            &preflight().acrh(names(limits::MAX_WILDCARD_NAMES)),
            "MAX_WILDCARD_NAMES names",
        );
        let acah = response.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS].as_bytes();
        if kind == Kind::AnyHeadersCredentials {
            // With credentials `*` is literal: the validated request list is echoed.
            assert_eq!(acah, names(limits::MAX_WILDCARD_NAMES).as_slice());
        } else {
            assert_eq!(acah, b"*");
        }
        refused_preflight(
            kind,
            &preflight().acrh(names(limits::MAX_WILDCARD_NAMES + 1)),
            DenyReason::HeadersMalformed,
            "MAX_WILDCARD_NAMES + 1 names",
        );
    }
}

/// A `*` policy answers `*` whatever the request says, and never reflects.
#[test]
fn wildcard_policy_never_reflects() {
    let policy = Policy::builder()
        .allow_origins(["*"])
        .allow_methods(["PUT"])
        .build()
        .unwrap();
    for (what, origin) in hostile_origins() {
        let req = actual().origin(&[&origin]);
        let http = req.http();
        assert_eq!(
            policy.decide(&http),
            Decision::Actual(Actual::Allowed(AllowOrigin::Any)),
            "{what}"
        );
        let mut service = Cors::new(
            tower::service_fn(|_r: Request<String>| {
                std::future::ready(Ok::<_, Infallible>(Response::new(String::new())))
            }),
            policy.clone(),
        );
        let mut cx = Context::from_waker(Waker::noop());
        let Poll::Ready(Ok(response)) = pin!(service.call(http)).poll(&mut cx) else {
            panic!()
        };
        let acao: Vec<_> = response
            .headers()
            .get_all(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .iter()
            .collect();
        assert_eq!(acao, [HeaderValue::from_static("*")], "{what}");
        assert!(
            response
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none()
        );
    }
    // Several Origin lines are still no preflight a browser sends.
    let http = preflight()
        .origin(&[b"https://a.example", b"https://b.example"])
        .http();
    assert!(matches!(
        policy.decide(&http),
        Decision::PreflightDenied(d) if d.reason == DenyReason::OriginMalformed
    ));
}
