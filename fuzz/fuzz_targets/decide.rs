//! The policy's decision on arbitrary request headers, through the tower layer: never a panic,
//! never `*` with credentials, a reflected origin always allowed, a refused preflight never
//! carrying allow headers.
#![no_main]

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use arbitrary::Arbitrary;
use crossgate::tower::Cors;
use crossgate::{policy::Policy, policy::PolicyConfig};
use http::{HeaderValue, Request, Response};
use libfuzzer_sys::fuzz_target;
use tower_service::Service;

#[derive(Arbitrary, Debug)]
struct Input {
    policy: u8,
    options: bool,
    origins: Vec<Vec<u8>>,
    acrm: Vec<Vec<u8>>,
    acrh: Vec<Vec<u8>>,
    acrpn: Option<Vec<u8>>,
}

fn policies() -> Vec<Policy> {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let configs = [
        PolicyConfig {
            allow_origins: strings(&[
                "https://app.test",
                "https://*.tenant.test",
                "http://localhost:*",
            ]),
            allow_credentials: true,
            allow_methods: strings(&["PUT", "DELETE"]),
            allow_headers: strings(&["content-type", "x-token"]),
            expose_headers: strings(&["x-request-id"]),
            max_age: Some(600),
            allow_private_network: true,
            ..PolicyConfig::default()
        },
        PolicyConfig {
            allow_origins: strings(&["*"]),
            allow_methods: strings(&["*"]),
            allow_headers: strings(&["*", "authorization"]),
            expose_headers: strings(&["*"]),
            ..PolicyConfig::default()
        },
        PolicyConfig {
            allow_origins: strings(&["https://app.test"]),
            allow_credentials: true,
            allow_methods: strings(&["*"]),
            allow_headers: strings(&["*"]),
            ..PolicyConfig::default()
        },
    ];
    configs.iter().map(|c| Policy::new(c).unwrap()).collect()
}

fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the layer waited"),
    }
}

fuzz_target!(|input: Input| {
    let policies = policies();
    let policy = &policies[usize::from(input.policy) % policies.len()];
    let mut builder = Request::builder().method(if input.options { "OPTIONS" } else { "GET" });
    let mut add = |name: &str, values: &[Vec<u8>]| {
        for v in values {
            if let Ok(v) = HeaderValue::from_bytes(v) {
                builder = std::mem::take(&mut builder).header(name, v);
            }
        }
    };
    add("origin", &input.origins);
    add("access-control-request-method", &input.acrm);
    add("access-control-request-headers", &input.acrh);
    add(
        "access-control-request-private-network",
        input.acrpn.as_slice(),
    );
    let request = builder.body(()).unwrap();
    let sent: Vec<Vec<u8>> = request
        .headers()
        .get_all("origin")
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    let mut service = Cors::new(
        tower_service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }),
        policy.clone(),
    );
    let response = now(service.call(request)).unwrap();
    let h = response.headers();
    let acao: Vec<&HeaderValue> = h.get_all("access-control-allow-origin").iter().collect();
    assert!(acao.len() <= 1);
    if let Some(acao) = acao.first() {
        if acao.as_bytes() == b"*" {
            assert!(h.get("access-control-allow-credentials").is_none());
        } else {
            assert_eq!(sent.len(), 1);
            assert_eq!(acao.as_bytes(), sent[0].as_slice());
            assert!(policy.allows_origin(acao.as_bytes()));
        }
    }
    if response.status() == http::StatusCode::FORBIDDEN {
        assert!(
            h.keys()
                .all(|k| !k.as_str().starts_with("access-control-allow"))
        );
    }
});

/// `tower::service_fn` without depending on tower itself.
fn tower_service_fn<F, Fut>(f: F) -> ServiceFn<F>
where
    F: FnMut(Request<()>) -> Fut,
    Fut: Future<Output = Result<Response<()>, Infallible>>,
{
    ServiceFn(f)
}

struct ServiceFn<F>(F);

impl<F, Fut> Service<Request<()>> for ServiceFn<F>
where
    F: FnMut(Request<()>) -> Fut,
    Fut: Future<Output = Result<Response<()>, Infallible>>,
{
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Fut;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Fut {
        (self.0)(request)
    }
}
