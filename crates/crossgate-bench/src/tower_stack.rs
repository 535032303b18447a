//! The tower contenders (`http` 1): no CORS at all, crossgate's `CorsLayer`, tower-http's
//! `CorsLayer`, each around the same inner service, called as hyper and axum call a service:
//! `poll_ready`, `call`, then the future polled to completion.

use std::convert::Infallible;
use std::future::{Ready, ready};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri, header};
use tower::util::{ServiceFn, service_fn};
use tower_service::Service;

use crate::cases::{self, Case, Origins};
use crate::poll::{ready_now, ready_service};

/// The application: answers every request with a JSON content type, as a handler does.
pub type Inner = ServiceFn<fn(Request<()>) -> Ready<Result<Response<()>, Infallible>>>;

fn handler(_request: Request<()>) -> Ready<Result<Response<()>, Infallible>> {
    let mut response = Response::new(());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    ready(Ok(response))
}

pub fn inner() -> Inner {
    service_fn(handler as fn(_) -> _)
}

/// A request template: building a request clones its parts (reference counts for the values,
/// one header map's allocation), as hyper's parser allocates one map per request.
#[derive(Clone, Debug)]
pub struct Template {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl Template {
    pub fn new(case: &Case) -> Template {
        let spec = &case.request;
        let mut headers = HeaderMap::with_capacity(spec.headers.len());
        for (name, value) in &spec.headers {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_maybe_shared(value.clone()).expect("valid header value"),
            );
        }
        Template {
            method: Method::from_bytes(spec.method.as_bytes()).expect("valid method"),
            uri: Uri::from_static(spec.path),
            headers,
        }
    }

    #[inline]
    pub fn request(&self) -> Request<()> {
        let mut request = Request::new(());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

pub fn crossgate_policy(origins: Origins) -> crossgate::policy::Policy {
    crossgate::policy::Policy::builder()
        .allow_origins(origins.patterns())
        .allow_credentials(true)
        .allow_methods(cases::METHODS)
        .allow_headers(cases::HEADERS)
        .expose_headers(cases::EXPOSE)
        .max_age(cases::MAX_AGE)
        .build()
        .expect("a valid policy")
}

/// The same policy, but listing other origins than the ones requested (`https://listed{i}...`
/// instead of `https://app{i}...`): every request's origin is left to a resolver.
pub fn crossgate_policy_unlisted(origins: Origins) -> crossgate::policy::Policy {
    let mut config = crossgate_policy(origins).config().clone();
    for origin in &mut config.allow_origins {
        *origin = origin.replace("://app", "://listed");
    }
    crossgate::policy::Policy::new(&config).expect("a valid policy")
}

/// A store that allows every origin at once, without I/O.
pub struct AllowAll;

impl crossgate::policy::OriginResolver for AllowAll {
    async fn resolve(
        &self,
        _origin: &str,
    ) -> Result<crossgate::policy::Resolution, crossgate::policy::BoxError> {
        Ok(crossgate::policy::Resolution::Allowed)
    }
}

/// The unlisted policy with a resolver that allows every origin (its default grant is the
/// policy's own settings, so the answers are the listed policy's).
pub fn crossgate_resolved_layer(
    origins: Origins,
) -> (crossgate::tower::CorsLayer, crossgate::policy::Resolver) {
    // Answers kept for the longest time allowed: a timed run never sees one expire.
    let resolver = crossgate::policy::Resolver::builder(AllowAll)
        .allowed_ttl(std::time::Duration::from_secs(24 * 60 * 60))
        .build()
        .expect("a valid resolver");
    let layer = crossgate::tower::CorsLayer::new(crossgate_policy_unlisted(origins))
        .resolver(resolver.clone());
    (layer, resolver)
}

pub fn crossgate_layer(origins: Origins) -> crossgate::tower::CorsLayer {
    crossgate::tower::CorsLayer::new(crossgate_policy(origins))
}

/// The same policy behind a [`crossgate::policy::LivePolicy`].
pub fn crossgate_live_layer(origins: Origins) -> crossgate::tower::CorsLayer {
    crossgate::tower::CorsLayer::live(crossgate::policy::LivePolicy::new(crossgate_policy(
        origins,
    )))
}

/// tower-http configured as the policy: the exact origins as a list, the patterns as a
/// predicate, credentials, the same methods, headers, exposed headers and max age.
pub fn tower_http_layer(origins: Origins) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow_origin = match origins {
        Origins::Exact(_) => AllowOrigin::list(
            origins
                .exact()
                .iter()
                .map(|o| HeaderValue::from_str(o).expect("valid origin")),
        ),
        Origins::Subdomains(_) => {
            let suffixes = origins.suffixes();
            AllowOrigin::predicate(move |origin, _parts| {
                cases::matches_suffix(origin.as_bytes(), &suffixes)
            })
        }
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_credentials(true)
        .allow_methods(cases::METHODS.map(|m| Method::from_bytes(m.as_bytes()).unwrap()))
        .allow_headers(cases::HEADERS.map(HeaderName::from_static))
        .expose_headers(cases::EXPOSE.map(HeaderName::from_static))
        .max_age(std::time::Duration::from_secs(cases::MAX_AGE.into()))
}

/// One request through `service` on a tokio runtime (a lookup's timeout needs its timer).
pub fn serve_on<S>(
    runtime: &tokio::runtime::Runtime,
    service: &mut S,
    request: Request<()>,
) -> Response<()>
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    ready_service(|cx| service.poll_ready(cx));
    match runtime.block_on(service.call(request)) {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// One request through `service`, as hyper drives it.
#[inline]
pub fn serve<S>(service: &mut S, request: Request<()>) -> Response<()>
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    ready_service(|cx| service.poll_ready(cx));
    match ready_now(service.call(request)) {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::{Kind, all};
    use tower::Layer;

    fn acao(r: &Response<()>) -> Option<&[u8]> {
        r.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(HeaderValue::as_bytes)
    }

    /// Both layers give every case the answer its policy means (where tower-http answers a
    /// refused preflight differently, the browser's verdict is the same).
    #[test]
    fn both_layers_answer_every_case_as_the_policy_says() {
        for case in all() {
            let template = Template::new(&case);
            let origin = case.request.header("origin").map(|o| o.to_vec());
            let mut crossgate = crossgate_layer(case.origins).layer(inner());
            let mut tower_http = tower_http_layer(case.origins).layer(inner());
            let ours = serve(&mut crossgate, template.request());
            let theirs = serve(&mut tower_http, template.request());
            let label = case.label();
            match case.kind {
                Kind::ActualAllowed | Kind::PreflightAllowed => {
                    assert_eq!(acao(&ours), origin.as_deref(), "{label}");
                    assert_eq!(acao(&theirs), origin.as_deref(), "{label}");
                    assert!(ours.status().is_success(), "{label}");
                    assert!(theirs.status().is_success(), "{label}");
                }
                Kind::ActualDisallowed | Kind::NoOrigin | Kind::PreflightDenied => {
                    assert_eq!(acao(&ours), None, "{label}");
                    assert_eq!(acao(&theirs), None, "{label}");
                }
                Kind::HostilePreflight(_) => {
                    // crossgate refuses; tower-http never reads the list and lets the browser
                    // refuse (its allow-headers omit the names asked for).
                    assert_eq!(ours.status(), http::StatusCode::FORBIDDEN, "{label}");
                    assert_eq!(acao(&ours), None, "{label}");
                }
            }
            if case.kind.is_preflight() {
                assert_eq!(ours.headers().get(header::CONTENT_TYPE), None, "{label}");
            } else {
                assert!(
                    ours.headers().get(header::CONTENT_TYPE).is_some(),
                    "{label}"
                );
            }
        }
    }
}
