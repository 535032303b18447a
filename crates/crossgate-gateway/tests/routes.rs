//! Routes: longest prefix and host matching, per-route policies, only configured upstreams,
//! per-route header hygiene (Forwarded, cookies, the upstream's own CORS headers).

mod common;

use common::*;
use crossgate::policy::PolicyConfig;
use crossgate_gateway::{ForwardedMode, GatewayConfig, RouteConfig, Upstream};
use http::{Request, Response};
use serde_json::Value;

fn route(prefix: &str, upstream: Upstream) -> RouteConfig {
    RouteConfig {
        name: prefix.to_owned(),
        prefix: prefix.to_owned(),
        ..RouteConfig::catch_all(upstream)
    }
}

/// An upstream that answers with its own name, so the test sees where a request went.
async fn named(name: &'static str) -> TestUpstream {
    TestUpstream::start(move |_| async move {
        Response::builder()
            .header("x-upstream", name)
            .body(full(name))
            .unwrap()
    })
    .await
}

const OTHER: &str = "https://other.example.com";

fn other_policy() -> PolicyConfig {
    PolicyConfig {
        allow_origins: vec![OTHER.to_owned()],
        ..PolicyConfig::default()
    }
}

#[tokio::test]
async fn the_longest_prefix_wins_by_segment_and_a_host_route_wins_a_tie() {
    bounded(async {
        let (api, v2, host, root) = (
            named("api").await,
            named("v2").await,
            named("host").await,
            named("root").await,
        );
        let mut config = config(root.upstream());
        config.routes = vec![
            route("/api", api.upstream()),
            route("/api/v2", v2.upstream()),
            RouteConfig {
                host: Some("tenant.example".to_owned()),
                ..route("/api", host.upstream())
            },
        ];
        let gateway = RunningGateway::start_config(config).await;
        let goes_to = |path: &'static str, host: Option<&'static str>| {
            let url = gateway.url(path);
            async move {
                let mut request = Request::get(url);
                if let Some(host) = host {
                    request = request.header("host", host);
                }
                let (status, _, body) = send(request.body(empty()).unwrap()).await;
                assert_eq!(status, 200, "{path}");
                String::from_utf8(body.to_vec()).unwrap()
            }
        };
        assert_eq!(goes_to("/api", None).await, "api");
        assert_eq!(goes_to("/api/items?x=1", None).await, "api");
        assert_eq!(goes_to("/api/v2/items", None).await, "v2");
        assert_eq!(goes_to("/api/v2", None).await, "v2");
        assert_eq!(goes_to("/api/v20", None).await, "api");
        assert_eq!(goes_to("/apis", None).await, "root");
        assert_eq!(goes_to("/", None).await, "root");
        assert_eq!(goes_to("/api/x", Some("tenant.example")).await, "host");
        assert_eq!(goes_to("/api/x", Some("TENANT.example:8443")).await, "host");
        assert_eq!(goes_to("/api/v2/x", Some("tenant.example")).await, "v2");
        assert_eq!(goes_to("/api/x", Some("other.example")).await, "api");
        // The path reaches the upstream as the client wrote it.
        assert_eq!(api.requests()[1].uri, "/api/items?x=1");
    })
    .await;
}

#[tokio::test]
async fn each_route_has_its_policy_or_the_top_levels() {
    bounded(async {
        let (own, inherited) = (named("own").await, named("inherited").await);
        let mut config = config(inherited.upstream());
        config.routes = vec![RouteConfig {
            cors: Some(other_policy()),
            ..route("/own", own.upstream())
        }];
        let gateway = RunningGateway::start_config(config).await;

        let (_, headers, _) = get(gateway.url("/own/x"), Some(OTHER)).await;
        assert_eq!(all(&headers, "access-control-allow-origin"), [OTHER]);
        let (_, headers, _) = get(gateway.url("/own/x"), Some(ALLOWED)).await;
        assert!(!headers.contains_key("access-control-allow-origin"));

        let (_, headers, _) = get(gateway.url("/else"), Some(ALLOWED)).await;
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        let (_, headers, _) = get(gateway.url("/else"), Some(OTHER)).await;
        assert!(!headers.contains_key("access-control-allow-origin"));

        // Preflights are answered by the route's own policy.
        let preflight = Request::options(gateway.url("/own/x"))
            .header("origin", OTHER)
            .header("access-control-request-method", "PUT")
            .body(empty())
            .unwrap();
        let (status, _, _) = send(preflight).await;
        assert_eq!(status, 403, "the route's policy allows no PUT");
        let preflight = Request::options(gateway.url("/else"))
            .header("origin", ALLOWED)
            .header("access-control-request-method", "PUT")
            .body(empty())
            .unwrap();
        let (status, _, _) = send(preflight).await;
        assert_eq!(status, 204);
        // Preflights never reach an upstream: only the four GETs did.
        assert_eq!((own.requests().len(), inherited.requests().len()), (2, 2));
    })
    .await;
}

#[tokio::test]
async fn only_configured_upstreams_are_contacted() {
    bounded(async {
        let api = named("api").await;
        // Routes and no top-level upstream: anything else is the gateway's 404.
        let mut config = config(api.upstream());
        config.upstream = None;
        config.routes = vec![route("/api", api.upstream())];
        let gateway = RunningGateway::start_config(config).await;

        for path in [
            "/",
            "/other",
            "/http://evil.example/",
            "/api.evil.example/x",
        ] {
            let (status, headers, body) = get(gateway.url(path), Some(ALLOWED)).await;
            assert_eq!(status, 404, "{path}");
            let json: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["error"], "no route");
            assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        }
        // An absolute-form target naming another host still goes to the configured upstream.
        let request = "GET http://169.254.169.254/api/latest HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n";
        let response = raw(
            gateway.addr,
            request.as_bytes(),
            std::time::Duration::from_secs(5),
        )
        .await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("x-upstream"), Some("api"));
        // Dot segments could leave the route's prefix at the upstream: refused.
        for path in ["/api/../admin", "/api/%2e%2e/admin", "/api/./x"] {
            let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
            let response = raw(
                gateway.addr,
                request.as_bytes(),
                std::time::Duration::from_secs(5),
            )
            .await;
            assert_eq!(response.status, 400, "{path}");
        }
        assert_eq!(api.requests().len(), 1);
        assert!(gateway.metric("crossgate_requests_total{route=\"(no route)\",status=\"404\"}") >= 4.0);
    })
    .await;
}

#[tokio::test]
async fn a_prefix_can_be_stripped_and_a_base_path_joined() {
    bounded(async {
        let upstream = TestUpstream::ok().await;
        let mut config = config(upstream.upstream());
        config.routes = vec![RouteConfig {
            strip_prefix: true,
            ..route(
                "/svc",
                Upstream::parse(&format!("{}/base", upstream.url())).unwrap(),
            )
        }];
        let gateway = RunningGateway::start_config(config).await;
        get(gateway.url("/svc/items?q=1"), None).await;
        get(gateway.url("/svc"), None).await;
        let uris: Vec<String> = upstream
            .requests()
            .iter()
            .map(|s| s.uri.to_string())
            .collect();
        assert_eq!(uris, ["/base/items?q=1", "/base/"]);
    })
    .await;
}

#[tokio::test]
async fn forwarded_headers_and_cookies_follow_the_route() {
    bounded(async {
        let upstream = TestUpstream::start(|_| async {
            Response::builder()
                .header("set-cookie", "session=1")
                .body(full("ok"))
                .unwrap()
        })
        .await;
        let mut config = config(upstream.upstream());
        config.routes = vec![
            RouteConfig {
                forwarded: ForwardedMode::Replace,
                strip_cookie: true,
                strip_set_cookie: true,
                ..route("/replace", upstream.upstream())
            },
            RouteConfig {
                forwarded: ForwardedMode::Off,
                ..route("/off", upstream.upstream())
            },
        ];
        let gateway = RunningGateway::start_config(config).await;
        let claims = "X-Forwarded-For: 203.0.113.9\r\nForwarded: for=203.0.113.9\r\n\
                      X-Forwarded-Proto: https\r\nX-Real-IP: 203.0.113.9\r\nCookie: a=1\r\n";
        let mut set_cookies = Vec::new();
        for path in ["/append", "/replace", "/off"] {
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: gw.test\r\n{claims}Connection: close\r\n\r\n"
            );
            let response = raw(
                gateway.addr,
                request.as_bytes(),
                std::time::Duration::from_secs(5),
            )
            .await;
            set_cookies.push(response.header("set-cookie").map(str::to_owned));
        }
        let seen = upstream.requests();
        let h = |i: usize, name: &str| all(&seen[i].headers, name);
        // Append (the default): the chain kept, this hop added, proto and host replaced.
        assert_eq!(h(0, "x-forwarded-for"), ["203.0.113.9, 127.0.0.1"]);
        assert_eq!(
            h(0, "forwarded"),
            ["for=203.0.113.9, for=127.0.0.1;proto=http;host=\"gw.test\""]
        );
        assert_eq!(h(0, "x-forwarded-proto"), ["http"]);
        assert_eq!(h(0, "cookie"), ["a=1"]);
        // Replace: only this hop; cookies stripped both ways.
        assert_eq!(h(1, "x-forwarded-for"), ["127.0.0.1"]);
        assert_eq!(
            h(1, "forwarded"),
            ["for=127.0.0.1;proto=http;host=\"gw.test\""]
        );
        assert!(h(1, "x-real-ip").is_empty() && h(1, "cookie").is_empty());
        // Off: nothing about the client.
        for name in [
            "x-forwarded-for",
            "forwarded",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-real-ip",
        ] {
            assert!(h(2, name).is_empty(), "{name}");
        }
        assert_eq!(
            set_cookies,
            [
                Some("session=1".to_owned()),
                None,
                Some("session=1".to_owned())
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_route_can_keep_the_upstreams_own_cors_answers() {
    bounded(async {
        let upstream = TestUpstream::start(|request| async move {
            let preflight = request.method() == http::Method::OPTIONS;
            Response::builder()
                .status(if preflight { 200 } else { 201 })
                .header("access-control-allow-origin", "*")
                .header("access-control-allow-methods", "PATCH")
                .body(full("upstream"))
                .unwrap()
        })
        .await;
        let closed = closed_port().await;
        let down = Upstream::parse(&format!("http://{}", closed.addr)).unwrap();
        let mut config = config(upstream.upstream());
        config.routes = vec![
            RouteConfig {
                keep_upstream_cors: true,
                ..route("/public", upstream.upstream())
            },
            RouteConfig {
                keep_upstream_cors: true,
                ..route("/down", down)
            },
        ];
        let gateway = RunningGateway::start_config(config).await;

        // The upstream's preflight answer and headers pass through untouched.
        let preflight = Request::options(gateway.url("/public/x"))
            .header("origin", DISALLOWED)
            .header("access-control-request-method", "PATCH")
            .body(empty())
            .unwrap();
        let (status, headers, _) = send(preflight).await;
        assert_eq!(status, 200);
        assert_eq!(all(&headers, "access-control-allow-origin"), ["*"]);
        assert_eq!(all(&headers, "access-control-allow-methods"), ["PATCH"]);
        let (status, headers, _) = get(gateway.url("/public/x"), Some(DISALLOWED)).await;
        assert_eq!(status, 201);
        assert_eq!(all(&headers, "access-control-allow-origin"), ["*"]);
        assert_eq!(upstream.requests().len(), 2);

        // Elsewhere the gateway's policy replaces them.
        let (_, headers, _) = get(gateway.url("/x"), Some(DISALLOWED)).await;
        assert!(!headers.contains_key("access-control-allow-origin"));

        // The gateway's own answers on such a route carry the route's policy.
        let (status, headers, _) = get(gateway.url("/down/x"), Some(ALLOWED)).await;
        assert_eq!(status, 502);
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        assert_eq!(elements(&headers, "vary"), ["origin"]);
    })
    .await;
}

#[test]
fn routes_are_read_with_every_problem_at_its_path() {
    let document = serde_json::json!({
        "routes": [
            {"prefix": "/a", "upstream": "echo", "cors": {"allow_origins": ["*"], "allow_credentials": true}},
            {"prefix": "/b", "upstream": "echo", "cors": {"allow_origins": ["https://x.example", 7]}},
            {"prefix": "/c", "upstream": "echo", "keep_upstream_cors": "yes"},
        ],
        "limits": {"max_body_bytes": 0},
        "timeouts": {"connect": "1 week"},
        "tls": {"cert": "c.pem"},
        "admin": {"listen": "localhost:9"},
    });
    let (config, problems) = GatewayConfig::check(&document);
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    let wildcard = problems
        .iter()
        .find(|p| p.code == crossgate::policy::ProblemCode::WildcardOriginWithCredentials)
        .expect("the route's policy is checked");
    assert!(wildcard.field.starts_with("routes[0].cors."), "{wildcard}");
    for field in [
        "routes[1].cors.allow_origins[1]",
        "routes[2].keep_upstream_cors",
        "limits.max_body_bytes",
        "timeouts.connect",
        "tls.key",
        "admin.listen",
    ] {
        assert!(fields.contains(&field), "{field} not in {fields:#?}");
    }
    assert_eq!(config.routes.len(), 3);
    // The wrong-typed item is reported once, not judged again by the policy's rules.
    assert_eq!(
        fields
            .iter()
            .filter(|f| **f == "routes[1].cors.allow_origins[1]")
            .count(),
        1
    );
}
