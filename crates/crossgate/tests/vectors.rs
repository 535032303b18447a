//! The shared request/response vectors (crates/crossgate-vectors/vectors/*.json), run against the
//! library itself, the tower layer inside an axum app and the actix-web middleware inside an
//! actix-web app. The gateway runs the same vectors in its own tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossgate::policy::{Actual, Decision, PreflightEcho, Refusal, is_preflight};
use crossgate::policy::{Policy, PolicyConfig};
use crossgate_vectors::{
    Case, Handler, Observed, Report, Suite, expand, load_all, run_all, vectors,
};
use http::header::{
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, HeaderMap, HeaderName,
    HeaderValue, ORIGIN,
};

fn policy(suite: &Suite) -> Policy {
    let mut problems = Vec::new();
    let config = PolicyConfig::from_value(&suite.policy, "", &mut problems);
    assert!(problems.is_empty(), "{}: {problems:?}", suite.name);
    Policy::new(&config).unwrap_or_else(|e| panic!("{}: {e}", suite.name))
}

fn request(case: &Case) -> http::Request<()> {
    let mut builder = http::Request::builder()
        .method(case.request.method.as_str())
        .uri(case.request.path.as_str());
    for (name, value) in expand(&case.request.headers) {
        builder = builder.header(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_bytes(&value).expect("header value"),
        );
    }
    builder.body(()).expect("request")
}

fn handler_headers(handler: &Handler) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in expand(&handler.headers) {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(&value).unwrap(),
        );
    }
    map
}

fn lines(map: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    map.iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect()
}

#[test]
fn library() {
    run_all("library", |vector| {
        let (suite, case, handler) = (vector.suite, vector.case, vector.handler());
        let policy = policy(suite);
        let values = policy.header_values();
        let req = request(case);
        let decision = policy.decide(&req);
        assert_eq!(
            is_preflight(&req),
            matches!(
                decision,
                Decision::PreflightAllowed(_) | Decision::PreflightDenied(_)
            ),
            "is_preflight and decide disagree on {:?}",
            case.name
        );
        match decision {
            Decision::PreflightAllowed(allowed) => {
                let mut headers = HeaderMap::new();
                let echo = PreflightEcho {
                    origin: req.headers().get(ORIGIN).cloned(),
                    method: req.headers().get(ACCESS_CONTROL_REQUEST_METHOD).cloned(),
                    headers: req
                        .headers()
                        .get_all(ACCESS_CONTROL_REQUEST_HEADERS)
                        .iter()
                        .cloned(),
                };
                policy.write_preflight_allowed(values, &allowed, echo, &mut headers);
                Observed {
                    status: 204,
                    reached: false,
                    headers: lines(&headers),
                }
            }
            Decision::PreflightDenied(_) => {
                let mut headers = HeaderMap::new();
                policy.write_preflight_denied(values, &mut headers);
                Observed {
                    status: 403,
                    reached: false,
                    headers: lines(&headers),
                }
            }
            Decision::Actual(actual) => {
                let answer =
                    policy.actual_answer(values, &actual, || req.headers().get(ORIGIN).cloned());
                if let Actual::Denied(d) = actual {
                    assert!(!d.to_string().is_empty());
                }
                let mut headers = handler_headers(handler);
                policy.write_actual(values, answer, &mut headers);
                Observed {
                    status: handler.status,
                    reached: true,
                    headers: lines(&headers),
                }
            }
        }
    });
}

/// A vector through a real axum app: `layer` around a router whose fallback is the handler.
async fn in_axum(
    vector: &crossgate_vectors::Vector<'_>,
    layer: crossgate::tower::CorsLayer,
) -> Observed {
    use axum::Router;
    use axum::response::IntoResponse;
    use tower::ServiceExt;

    let handler = vector.handler();
    let reached = Arc::new(AtomicBool::new(false));
    let status = http::StatusCode::from_u16(handler.status).unwrap();
    let headers = handler_headers(handler);
    let flag = Arc::clone(&reached);
    let app = Router::new()
        .fallback(move || {
            flag.store(true, Ordering::SeqCst);
            let headers = headers.clone();
            async move { (status, headers, "bar").into_response() }
        })
        .layer(layer);
    let req = request(vector.case).map(|()| axum::body::Body::empty());
    let response = app.oneshot(req).await.expect("infallible");
    Observed {
        status: response.status().as_u16(),
        reached: reached.load(Ordering::SeqCst),
        headers: lines(response.headers()),
    }
}

/// The tower layer leaves in each response the refusal its decision was (none when allowed),
/// for every vector.
#[tokio::test]
async fn tower_layer_reports_its_refusals() {
    use axum::Router;
    use crossgate::tower::CorsLayer;
    use tower::ServiceExt;

    let files = load_all();
    let mut refusals = 0;
    for vector in vectors(&files) {
        let policy = policy(vector.suite);
        let expected = Refusal::of(&policy.decide(&request(vector.case)));
        refusals += usize::from(expected.is_some());
        let app = Router::new()
            .fallback(|| async { "bar" })
            .layer(CorsLayer::new(policy));
        let req = request(vector.case).map(|()| axum::body::Body::empty());
        let response = app.oneshot(req).await.expect("infallible");
        assert_eq!(
            response.extensions().get::<Refusal>(),
            expected.as_ref(),
            "{:?}",
            vector.case.name
        );
    }
    assert!(refusals > 10, "the vectors refuse only {refusals} requests");
}

#[tokio::test]
async fn tower_layer_in_axum() {
    use crossgate::tower::CorsLayer;

    let files = load_all();
    let mut report = Report::new("tower");
    for vector in vectors(&files) {
        let observed = in_axum(&vector, CorsLayer::new(policy(vector.suite))).await;
        report.record(&vector, &observed);
    }
    report.finish();
}

#[actix_web::test]
async fn actix_middleware_in_actix_app() {
    use actix_web::http::header::{HeaderName as AName, HeaderValue as AValue};
    use actix_web::{App, HttpResponse, test, web};
    use crossgate::actix::Cors;

    let files = load_all();
    let mut report = Report::new("actix");
    for vector in vectors(&files) {
        let reached = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&reached);
        let handler = vector.handler().clone();
        // A real actix-web app: the middleware around an app whose default service is the handler.
        let app = test::init_service(
            App::new()
                .wrap(Cors::new(policy(vector.suite)))
                .default_service(web::to(move || {
                    flag.store(true, Ordering::SeqCst);
                    let mut builder = HttpResponse::build(
                        actix_web::http::StatusCode::from_u16(handler.status).unwrap(),
                    );
                    for (name, value) in expand(&handler.headers) {
                        builder.append_header((
                            AName::from_bytes(name.as_bytes()).unwrap(),
                            AValue::from_bytes(&value).unwrap(),
                        ));
                    }
                    let response = builder.body("bar");
                    async move { response }
                })),
        )
        .await;
        let case = vector.case;
        let mut req = test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(case.request.method.as_bytes()).unwrap())
            .uri(&case.request.path);
        for (name, value) in expand(&case.request.headers) {
            req = req.append_header((
                AName::from_bytes(name.as_bytes()).unwrap(),
                AValue::from_bytes(&value).unwrap(),
            ));
        }
        let response = test::call_service(&app, req.to_request()).await;
        let observed = Observed {
            status: response.status().as_u16(),
            reached: reached.load(Ordering::SeqCst),
            headers: response
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
        };
        report.record(&vector, &observed);
    }
    report.finish();
}

/// The same vectors with the suite's exact origins moved out of the policy into a resolver's
/// store (feature `resolve`): an origin the resolver allows must be answered exactly as a listed
/// one, every refusal and every header included. Suites with `*`, `*.` or `:*` patterns stay
/// listed (a store answers for exact origins).
#[cfg(feature = "resolve")]
#[tokio::test]
async fn tower_layer_with_the_origins_resolved() {
    use crossgate::policy::{BoxError, OriginResolver, Resolution, Resolver};
    use crossgate::tower::CorsLayer;

    struct Listed(Vec<String>);

    impl OriginResolver for Listed {
        async fn resolve(&self, origin: &str) -> Result<Resolution, BoxError> {
            Ok(if self.0.iter().any(|o| o == origin) {
                Resolution::Allowed
            } else {
                Resolution::Refused
            })
        }
    }

    let files = load_all();
    let mut report = Report::new("tower");
    let mut resolved_suites = std::collections::BTreeSet::new();
    for vector in vectors(&files) {
        let listed = policy(vector.suite);
        let origins = listed.config().allow_origins.clone();
        let resolvable = !origins.is_empty() && origins.iter().all(|o| !o.contains('*'));
        let layer = if resolvable {
            resolved_suites.insert(vector.suite.name.clone());
            let mut base = listed.config().clone();
            base.allow_origins.clear();
            let resolver = Resolver::builder(Listed(origins))
                .build()
                .expect("a resolver");
            CorsLayer::new(Policy::new(&base).expect("the policy without its origins"))
                .resolver(resolver)
        } else {
            CorsLayer::new(listed)
        };
        let observed = in_axum(&vector, layer).await;
        report.record(&vector, &observed);
    }
    assert!(
        resolved_suites.len() >= 10,
        "only {} suites had their origins resolved: {resolved_suites:?}",
        resolved_suites.len()
    );
    report.finish();
}
