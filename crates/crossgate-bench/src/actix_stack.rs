//! The actix-web contenders (`http` 0.2): an `App` with one `GET` route and no CORS (actix's own
//! passthrough), the same app wrapped in crossgate's `Cors`, and wrapped in actix-cors. Requests
//! go in as the server hands them over (`actix_http::Request`, from actix's pool), through the
//! app's own request handling, middleware and router.

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::{App, Error, HttpResponse, web};

use crate::cases::{self, Case, Origins};
use crate::poll::ready_now;

async fn items() -> HttpResponse {
    let mut response = HttpResponse::new(StatusCode::OK);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A request template: building a request takes a head from actix's pool and appends the header
/// lines (reference counts for the values), as actix's HTTP/1 decoder does.
#[derive(Clone, Debug)]
pub struct Template {
    method: Method,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Template {
    pub fn new(case: &Case) -> Template {
        let spec = &case.request;
        Template {
            method: Method::from_bytes(spec.method.as_bytes()).expect("valid method"),
            uri: Uri::from_static(spec.path),
            headers: spec
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        HeaderName::from_static(name),
                        HeaderValue::from_maybe_shared(value.clone()).expect("valid value"),
                    )
                })
                .collect(),
        }
    }

    #[inline]
    pub fn request(&self) -> Request {
        let mut request = Request::new();
        let head = request.head_mut();
        head.method = self.method.clone();
        head.uri = self.uri.clone();
        for (name, value) in &self.headers {
            head.headers.append(name.clone(), value.clone());
        }
        request
    }
}

/// actix-cors configured as the policy: the exact origins one by one, the patterns as an origin
/// function, credentials, the same methods, headers, exposed headers and max age.
pub fn actix_cors(origins: Origins) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default();
    match origins {
        Origins::Exact(_) => {
            for origin in origins.exact() {
                cors = cors.allowed_origin(&origin);
            }
        }
        Origins::Subdomains(_) => {
            let suffixes = origins.suffixes();
            cors = cors.allowed_origin_fn(move |origin, _head| {
                cases::matches_suffix(origin.as_bytes(), &suffixes)
            });
        }
    }
    cors.allowed_methods(cases::METHODS)
        .allowed_headers(cases::HEADERS)
        .expose_headers(cases::EXPOSE)
        .supports_credentials()
        .max_age(cases::MAX_AGE as usize)
}

pub fn crossgate_cors(origins: Origins) -> crossgate::actix::Cors {
    crossgate::actix::Cors::new(crate::tower_stack::crossgate_policy(origins))
}

/// The app without CORS.
pub fn passthrough()
-> impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = Error> {
    ready_now(actix_web::test::init_service(
        App::new().route(cases::PATH, web::get().to(items)),
    ))
}

/// The app wrapped in crossgate's middleware.
pub fn crossgate(
    origins: Origins,
) -> impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = Error> {
    ready_now(actix_web::test::init_service(
        App::new()
            .wrap(crossgate_cors(origins))
            .route(cases::PATH, web::get().to(items)),
    ))
}

/// The app wrapped in crossgate's middleware reading a live policy.
pub fn crossgate_live(
    origins: Origins,
) -> impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = Error> {
    let live = crossgate::policy::LivePolicy::new(crate::tower_stack::crossgate_policy(origins));
    ready_now(actix_web::test::init_service(
        App::new()
            .wrap(crossgate::actix::Cors::live(live))
            .route(cases::PATH, web::get().to(items)),
    ))
}

/// The app wrapped in actix-cors.
pub fn peer(
    origins: Origins,
) -> impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = Error> {
    ready_now(actix_web::test::init_service(
        App::new()
            .wrap(actix_cors(origins))
            .route(cases::PATH, web::get().to(items)),
    ))
}

/// One request through the app. An `Err` (none of the contenders returns one) is rendered as
/// actix-web's dispatcher would, so every outcome ends as a response.
#[inline]
pub fn serve<S, B>(app: &S, request: Request) -> ServiceResponse<B>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = Error>,
{
    match ready_now(app.call(request)) {
        Ok(response) => response,
        Err(e) => panic!("the app returned an error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::{Kind, all};

    fn acao<B>(r: &ServiceResponse<B>) -> Option<&[u8]> {
        r.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(HeaderValue::as_bytes)
    }

    /// Both middlewares give every case the answer its policy means (actix-cors refuses
    /// preflights with 400 where crossgate uses 403).
    #[test]
    fn both_middlewares_answer_every_case_as_the_policy_says() {
        let pass = passthrough();
        let r = serve(&pass, Template::new(&all()[0]).request());
        assert_eq!(r.status(), StatusCode::OK);
        for case in all() {
            let template = Template::new(&case);
            let origin = case.request.header("origin").map(|o| o.to_vec());
            let ours = serve(&crossgate(case.origins), template.request());
            let theirs = serve(&peer(case.origins), template.request());
            let label = case.label();
            match case.kind {
                Kind::ActualAllowed | Kind::PreflightAllowed => {
                    assert_eq!(acao(&ours), origin.as_deref(), "{label}");
                    assert_eq!(acao(&theirs), origin.as_deref(), "{label}");
                    assert!(ours.status().is_success(), "{label}");
                    assert!(theirs.status().is_success(), "{label}");
                }
                Kind::ActualDisallowed | Kind::NoOrigin => {
                    assert_eq!(acao(&ours), None, "{label}");
                    assert_eq!(acao(&theirs), None, "{label}");
                    assert_eq!(ours.status(), StatusCode::OK, "{label}");
                    assert_eq!(theirs.status(), StatusCode::OK, "{label}");
                }
                Kind::PreflightDenied | Kind::HostilePreflight(_) => {
                    assert_eq!(acao(&ours), None, "{label}");
                    assert_eq!(acao(&theirs), None, "{label}");
                    assert_eq!(ours.status(), StatusCode::FORBIDDEN, "{label}");
                    assert_eq!(theirs.status(), StatusCode::BAD_REQUEST, "{label}");
                }
            }
        }
    }
}
