//! The middleware inside real applications: an axum `Router` and an actix-web `App` with routes,
//! extractors, an authentication middleware and error responses, as users write them.

use crossgate::policy::Policy;

const APP: &str = "https://app.example.com";

fn policy() -> Policy {
    Policy::builder()
        .allow_origins([APP])
        .allow_credentials(true)
        .allow_methods(["PUT", "DELETE"])
        .allow_headers(["content-type", "authorization"])
        .expose_headers(["x-request-id"])
        .max_age(600)
        .build()
        .expect("valid policy")
}

const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

mod axum_app {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::middleware::{self, Next};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use crossgate::tower::CorsLayer;
    use tower::ServiceExt;

    use super::*;

    async fn require_token(request: Request<Body>, next: Next) -> Response {
        if request.headers().contains_key(header::AUTHORIZATION) {
            next.run(request).await
        } else {
            StatusCode::UNAUTHORIZED.into_response()
        }
    }

    fn routes() -> Router {
        Router::new()
            .route(
                "/items",
                get(|| async { "[]" }).post(|| async { "created" }),
            )
            .route(
                "/boom",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
            )
            .route(
                "/json",
                post(|axum::Json(v): axum::Json<serde_json::Value>| async move { axum::Json(v) }),
            )
            .route(
                "/vary",
                get(|| async { ([(header::VARY, "Accept-Encoding")], "varies") }),
            )
            .route(
                "/private",
                get(|| async { "secret" }).layer(middleware::from_fn(require_token)),
            )
    }

    fn app() -> Router {
        routes().layer(CorsLayer::new(policy()))
    }

    fn preflight(path: &str, method: &str) -> Request<Body> {
        Request::builder()
            .method("OPTIONS")
            .uri(path)
            .header("origin", APP)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .body(Body::empty())
            .unwrap()
    }

    fn get_from(path: &str, origin: &str) -> Request<Body> {
        Request::builder()
            .uri(path)
            .header("origin", origin)
            .body(Body::empty())
            .unwrap()
    }

    fn header_of<'a>(response: &'a Response, name: &str) -> Vec<&'a str> {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn preflight_to_a_route_without_options_handler_succeeds() {
        // Without the layer, axum itself answers 405: the layer is what makes this work.
        let bare = routes().oneshot(preflight("/items", "PUT")).await.unwrap();
        assert_eq!(bare.status(), StatusCode::METHOD_NOT_ALLOWED);

        let response = app().oneshot(preflight("/items", "PUT")).await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(header_of(&response, "access-control-allow-origin"), [APP]);
        assert_eq!(
            header_of(&response, "access-control-allow-credentials"),
            ["true"]
        );
        assert_eq!(
            header_of(&response, "access-control-allow-methods"),
            ["PUT, DELETE"]
        );
        assert_eq!(
            header_of(&response, "access-control-allow-headers"),
            ["content-type, authorization"]
        );
        assert_eq!(header_of(&response, "access-control-max-age"), ["600"]);
        assert_eq!(header_of(&response, "vary"), [PREFLIGHT_VARY]);
    }

    #[tokio::test]
    async fn preflight_to_an_unknown_route_succeeds_too() {
        let response = app()
            .oneshot(preflight("/nowhere", "DELETE"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    #[tokio::test]
    async fn preflight_never_reaches_the_auth_middleware() {
        let response = app().oneshot(preflight("/private", "PUT")).await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(header_of(&response, "access-control-allow-origin"), [APP]);
    }

    #[tokio::test]
    async fn errors_keep_their_cors_headers() {
        for (path, status) in [
            ("/private", StatusCode::UNAUTHORIZED),
            ("/boom", StatusCode::INTERNAL_SERVER_ERROR),
            ("/nowhere", StatusCode::NOT_FOUND),
        ] {
            let response = app().oneshot(get_from(path, APP)).await.unwrap();
            assert_eq!(response.status(), status, "{path}");
            assert_eq!(
                header_of(&response, "access-control-allow-origin"),
                [APP],
                "{path}"
            );
            assert_eq!(
                header_of(&response, "access-control-allow-credentials"),
                ["true"]
            );
            assert_eq!(header_of(&response, "vary"), ["Origin"], "{path}");
        }
        // An extractor rejection (axum answers 415 for a body without a JSON content type).
        let bad_json = Request::builder()
            .method("POST")
            .uri("/json")
            .header("origin", APP)
            .body(Body::from("not json"))
            .unwrap();
        let response = app().oneshot(bad_json).await.unwrap();
        assert!(response.status().is_client_error());
        assert_eq!(header_of(&response, "access-control-allow-origin"), [APP]);
    }

    #[tokio::test]
    async fn the_apps_vary_survives() {
        let response = app().oneshot(get_from("/vary", APP)).await.unwrap();
        assert_eq!(header_of(&response, "vary"), ["Accept-Encoding", "Origin"]);
        assert_eq!(
            header_of(&response, "access-control-expose-headers"),
            ["x-request-id"]
        );
    }

    #[tokio::test]
    async fn options_without_preflight_headers_reaches_the_router() {
        let request = Request::builder()
            .method("OPTIONS")
            .uri("/items")
            .header("origin", APP)
            .body(Body::empty())
            .unwrap();
        let response = app().oneshot(request).await.unwrap();
        // axum's answer (no OPTIONS route), with the CORS headers of an actual request.
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(header_of(&response, "access-control-allow-origin"), [APP]);
    }

    #[tokio::test]
    async fn disallowed_origins_get_the_response_without_access() {
        let response = app()
            .oneshot(get_from("/items", "https://evil.example"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header_of(&response, "access-control-allow-origin").is_empty());
        assert!(header_of(&response, "access-control-allow-credentials").is_empty());
        assert_eq!(header_of(&response, "vary"), ["Origin"]);
        let denied = app()
            .oneshot(
                Request::builder()
                    .method("OPTIONS")
                    .uri("/items")
                    .header("origin", "https://evil.example")
                    .header("access-control-request-method", "PUT")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        assert!(
            denied
                .headers()
                .keys()
                .all(|k| !k.as_str().starts_with("access-control-")),
            "{:?}",
            denied.headers()
        );
    }

    #[tokio::test]
    async fn over_a_real_connection() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app()).await });
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "OPTIONS /items HTTP/1.1\r\nHost: {addr}\r\nOrigin: {APP}\r\n\
             Access-Control-Request-Method: DELETE\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_string(&mut raw),
        )
        .await
        .expect("answered in time")
        .unwrap();
        server.abort();
        let lower = raw.to_ascii_lowercase();
        assert!(lower.starts_with("http/1.1 204"), "{raw}");
        assert!(
            lower.contains(&format!("access-control-allow-origin: {APP}")),
            "{raw}"
        );
        assert!(
            lower.contains("access-control-allow-methods: put, delete"),
            "{raw}"
        );
    }
}

mod actix_app {
    use actix_web::body::MessageBody;
    use actix_web::dev::{ServiceRequest, ServiceResponse};
    use actix_web::http::StatusCode;
    use actix_web::http::header;
    use actix_web::middleware::{Next, from_fn};
    use actix_web::{App, HttpResponse, error, test, web};
    use crossgate::actix::Cors;

    use super::*;

    fn header_of(
        response: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        name: &str,
    ) -> Vec<String> {
        response
            .headers()
            .get_all(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// An authentication middleware that fails with an error, not a response.
    async fn require_token(
        req: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
        if req.path() == "/private" && !req.headers().contains_key(header::AUTHORIZATION) {
            return Err(error::ErrorUnauthorized("token required"));
        }
        next.call(req).await
    }

    fn routes(config: &mut web::ServiceConfig) {
        config
            .route(
                "/items",
                web::get().to(|| async { HttpResponse::Ok().body("[]") }),
            )
            .route(
                "/private",
                web::get().to(|| async { HttpResponse::Ok().body("secret") }),
            )
            .route(
                "/boom",
                web::get().to(|| async {
                    Err::<HttpResponse, _>(error::ErrorInternalServerError("boom"))
                }),
            )
            .route(
                "/json",
                web::post().to(|v: web::Json<serde_json::Value>| async move {
                    HttpResponse::Ok().json(v.into_inner())
                }),
            )
            .route(
                "/vary",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .insert_header((header::VARY, "Accept-Encoding"))
                        .body("varies")
                }),
            );
    }

    macro_rules! app {
        () => {
            test::init_service(
                App::new()
                    .wrap(from_fn(require_token))
                    .wrap(Cors::new(policy()))
                    .configure(routes),
            )
            .await
        };
    }

    fn preflight(path: &str, method: &str) -> actix_web::test::TestRequest {
        test::TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri(path)
            .insert_header((header::ORIGIN, APP))
            .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, method))
            .insert_header((header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization"))
    }

    #[actix_web::test]
    async fn preflight_to_a_route_without_options_handler_succeeds() {
        let app = app!();
        let response = test::call_service(&app, preflight("/items", "PUT").to_request()).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(header_of(&response, "access-control-allow-origin"), [APP]);
        assert_eq!(
            header_of(&response, "access-control-allow-methods"),
            ["PUT, DELETE"]
        );
        assert_eq!(header_of(&response, "vary"), [PREFLIGHT_VARY]);
        // Also where no route matches, and where the auth middleware would refuse.
        for path in ["/nowhere", "/private"] {
            let response = test::call_service(&app, preflight(path, "DELETE").to_request()).await;
            assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
        }
    }

    #[actix_web::test]
    async fn errors_keep_their_cors_headers() {
        let app = app!();
        for (path, status) in [
            ("/private", StatusCode::UNAUTHORIZED),
            ("/boom", StatusCode::INTERNAL_SERVER_ERROR),
            ("/nowhere", StatusCode::NOT_FOUND),
        ] {
            let req = test::TestRequest::get()
                .uri(path)
                .insert_header((header::ORIGIN, APP))
                .to_request();
            // What actix-web's dispatcher does: an `Err` is rendered with `error_response()`.
            let (got, headers) = match test::try_call_service(&app, req).await {
                Ok(response) => (response.status(), response.headers().clone()),
                Err(error) => {
                    let response = error.error_response();
                    (response.status(), response.headers().clone())
                }
            };
            let get = |name: &str| -> Vec<String> {
                headers
                    .get_all(name)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect()
            };
            assert_eq!(got, status, "{path}");
            assert_eq!(get("access-control-allow-origin"), [APP], "{path}");
            assert_eq!(get("access-control-allow-credentials"), ["true"]);
            assert_eq!(get("vary"), ["Origin"], "{path}");
        }
        let bad_json = test::TestRequest::post()
            .uri("/json")
            .insert_header((header::ORIGIN, APP))
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload("{not json")
            .to_request();
        let response = test::call_service(&app, bad_json).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(header_of(&response, "access-control-allow-origin"), [APP]);
    }

    #[actix_web::test]
    async fn the_apps_vary_survives() {
        let app = app!();
        let req = test::TestRequest::get()
            .uri("/vary")
            .insert_header((header::ORIGIN, APP))
            .to_request();
        let response = test::call_service(&app, req).await;
        assert_eq!(header_of(&response, "vary"), ["Accept-Encoding", "Origin"]);
        assert_eq!(
            header_of(&response, "access-control-expose-headers"),
            ["x-request-id"]
        );
    }

    #[actix_web::test]
    async fn disallowed_preflight_is_403_without_allow_headers() {
        let app = app!();
        let req = test::TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/items")
            .insert_header((header::ORIGIN, "https://evil.example"))
            .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "PUT"))
            .to_request();
        let response = test::call_service(&app, req).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(
            response
                .headers()
                .keys()
                .all(|k| !k.as_str().starts_with("access-control-"))
        );
    }

    #[actix_web::test]
    async fn over_a_real_connection() {
        use std::io::{Read, Write};

        let server = actix_web::HttpServer::new(|| {
            App::new()
                .wrap(from_fn(require_token))
                .wrap(Cors::new(policy()))
                .configure(routes)
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let addr = server.addrs()[0];
        let running = server.run();
        let handle = running.handle();
        actix_web::rt::spawn(running);
        let fetch = move |path: &'static str| {
            actix_web::rt::task::spawn_blocking(move || {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                stream
                    .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
                let request = format!(
                    "GET {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: {APP}\r\nConnection: close\r\n\r\n"
                );
                stream.write_all(request.as_bytes()).unwrap();
                let mut raw = String::new();
                stream.read_to_string(&mut raw).unwrap();
                raw.to_ascii_lowercase()
            })
        };
        let ok = fetch("/items").await.unwrap();
        let unauthorized = fetch("/private").await.unwrap();
        handle.stop(true).await;
        assert!(ok.starts_with("http/1.1 200"), "{ok}");
        assert!(
            ok.contains(&format!("access-control-allow-origin: {APP}")),
            "{ok}"
        );
        assert!(ok.contains("vary: origin"), "{ok}");
        // An error from a middleware inside CORS, rendered by actix-web's dispatcher.
        assert!(unauthorized.starts_with("http/1.1 401"), "{unauthorized}");
        assert!(
            unauthorized.contains(&format!("access-control-allow-origin: {APP}")),
            "{unauthorized}"
        );
    }
}
