//! No allocation on the request path: the decision never allocates, and writing an actual
//! response's headers allocates only when the response's own header map has to grow.
//!
//! A counting global allocator counts, per thread, the allocations made while a measurement is
//! on, so tests running in parallel do not disturb each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use crossgate::policy::{Actual, Decision};
use crossgate::{Policy, PolicyConfig};
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
