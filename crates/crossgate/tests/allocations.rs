//! No allocation on the request path: the decision never allocates, and writing an actual
//! response's headers allocates only when the response's own header map has to grow.
//!
//! A counting global allocator counts, per thread, the allocations made while a measurement is
//! on, so tests running in parallel do not disturb each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use crossgate::policy::{Actual, Decision};
use crossgate::policy::{Policy, PolicyConfig};
use http::{HeaderMap, HeaderValue, Request};

struct Counting;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ON.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ON.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    COUNT.with(|c| c.set(0));
    ON.with(|on| on.set(true));
    let out = f();
    ON.with(|on| on.set(false));
    (COUNT.with(Cell::get), out)
}

fn policy(origins: &[String], headers: &[&str]) -> Policy {
    Policy::new(&PolicyConfig {
        allow_origins: origins.to_vec(),
        allow_credentials: true,
        allow_methods: vec!["PUT".into(), "DELETE".into()],
        allow_headers: headers.iter().map(|s| s.to_string()).collect(),
        expose_headers: vec!["x-request-id".into()],
        max_age: Some(600),
        ..PolicyConfig::default()
    })
    .unwrap()
}

/// Request header values as hyper makes them: slices of one shared buffer, so a clone is a
/// reference count, never a copy.
fn request(method: &str, headers: &[(&str, &[u8])]) -> Request<()> {
    let mut buffer = Vec::new();
    let mut spans = Vec::new();
    for (_, value) in headers {
        spans.push(buffer.len()..buffer.len() + value.len());
        buffer.extend_from_slice(value);
    }
    let shared = bytes::Bytes::from(buffer);
    let mut builder = Request::builder().method(method).uri("/");
    for ((name, _), span) in headers.iter().zip(spans) {
        let value = HeaderValue::from_maybe_shared(shared.slice(span)).unwrap();
        builder = builder.header(*name, value);
    }
    builder.body(()).unwrap()
}

fn many_origins(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://app{i}.example.com"))
        .chain(["https://*.tenant.example.org".to_owned()])
        .collect()
}

#[test]
fn deciding_never_allocates() {
    let hostile = ",".repeat(1 << 20);
    let names = "x-a,".repeat(1 << 18);
    for n in [1, 10_000] {
        let p = policy(&many_origins(n), &["content-type", "x-a"]);
        let cases: Vec<(&str, Request<()>)> = vec![
            ("no origin", request("GET", &[])),
            (
                "allowed",
                request("GET", &[("origin", b"https://app0.example.com")]),
            ),
            (
                "pattern",
                request("GET", &[("origin", b"https://a.b.tenant.example.org")]),
            ),
            (
                "disallowed",
                request("GET", &[("origin", b"https://evil.example")]),
            ),
            (
                "preflight allowed",
                request(
                    "OPTIONS",
                    &[
                        ("origin", b"https://app0.example.com"),
                        ("access-control-request-method", b"PUT"),
                        ("access-control-request-headers", b"content-type,x-a"),
                    ],
                ),
            ),
            (
                "preflight denied",
                request(
                    "OPTIONS",
                    &[
                        ("origin", b"https://app0.example.com"),
                        ("access-control-request-method", b"PATCH"),
                    ],
                ),
            ),
            (
                "1 MiB of commas",
                request(
                    "OPTIONS",
                    &[
                        ("origin", b"https://app0.example.com"),
                        ("access-control-request-method", b"PUT"),
                        ("access-control-request-headers", hostile.as_bytes()),
                    ],
                ),
            ),
            (
                "1 MiB of an allowed name",
                request(
                    "OPTIONS",
                    &[
                        ("origin", b"https://app0.example.com"),
                        ("access-control-request-method", b"PUT"),
                        ("access-control-request-headers", names.as_bytes()),
                    ],
                ),
            ),
        ];
        for (name, req) in &cases {
            let (count, _) = allocations(|| std::hint::black_box(p.decide_logged(req)));
            assert_eq!(
                count, 0,
                "{name}, {n} origins: deciding allocated {count} times"
            );
        }
    }
}

#[test]
fn writing_an_actual_response_allocates_only_to_grow_the_map() {
    let p = policy(&many_origins(10_000), &["content-type"]);
    let values = p.header_values();
    for (name, origin) in [
        ("allowed", Some(&b"https://app9999.example.com"[..])),
        ("disallowed", Some(&b"https://evil.example"[..])),
        ("no origin", None),
    ] {
        let headers: Vec<(&str, &[u8])> = origin.map(|o| ("origin", o)).into_iter().collect();
        let req = request("GET", &headers);
        // The inner response's map, with room to spare, as a framework's usually has.
        let mut response = HeaderMap::with_capacity(16);
        response.insert("content-type", HeaderValue::from_static("application/json"));
        let (count, ()) = allocations(|| {
            let Decision::Actual(actual) = p.decide(&req) else {
                panic!("not an actual request")
            };
            if name == "allowed" {
                assert!(matches!(actual, Actual::Allowed(_)));
            }
            let answer = p.actual_answer(values, &actual, || {
                req.headers().get(http::header::ORIGIN).cloned()
            });
            p.write_actual(values, answer, &mut response);
        });
        assert_eq!(count, 0, "{name}: writing allocated {count} times");
        assert!(response.contains_key("vary"));
    }
}

/// A request served through a `LivePolicy` allocates exactly what it allocates through the
/// fixed policy (the response's own map), before and after the policy changes.
#[test]
fn a_live_policy_allocates_what_the_fixed_one_does() {
    use crossgate::policy::LivePolicy;
    use crossgate::tower::CorsLayer;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    use tower::{Layer, Service};

    let p = policy(&many_origins(10_000), &["content-type"]);
    let inner = tower::service_fn(|_: Request<()>| {
        std::future::ready(Ok::<_, std::convert::Infallible>(http::Response::new(())))
    });
    let live = LivePolicy::new(p.clone());
    let mut fixed = CorsLayer::new(p).layer(inner);
    let mut through_live = CorsLayer::live(live.clone()).layer(inner);
    fn serve<S>(service: &mut S, request: Request<()>) -> http::Response<()>
    where
        S: Service<Request<()>, Response = http::Response<()>, Error = std::convert::Infallible>,
    {
        let future = std::pin::pin!(service.call(request));
        match future.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(response)) => response,
            Poll::Pending => panic!("the inner service is always ready"),
        }
    }
    let cases = || {
        [
            request("GET", &[("origin", b"https://app9999.example.com")]),
            request("GET", &[("origin", b"https://evil.example")]),
            request(
                "OPTIONS",
                &[
                    ("origin", b"https://app1.example.com"),
                    ("access-control-request-method", b"PUT"),
                ],
            ),
        ]
    };
    for round in 0..2 {
        if round == 1 {
            live.add_origins(["https://new.example"]).unwrap();
        }
        // The first request after a change builds the new policy's preflight template once.
        for request in cases() {
            serve(&mut through_live, request);
        }
        for (fixed_request, live_request) in cases().into_iter().zip(cases()) {
            let what = format!(
                "{} {:?}",
                fixed_request.method(),
                fixed_request.headers().get("origin")
            );
            let (a, _) = allocations(|| serve(&mut fixed, fixed_request));
            let (b, _) = allocations(|| serve(&mut through_live, live_request));
            assert_eq!(a, b, "round {round}, {what}: fixed {a}, live {b}");
        }
    }
}
