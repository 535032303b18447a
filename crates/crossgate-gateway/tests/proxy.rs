//! The gateway between a real client and a real upstream: CORS headers, forwarding, streaming,
//! failures.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use crossgate_gateway::Upstream;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::oneshot;

#[tokio::test]
async fn a_preflight_is_answered_by_the_gateway_and_never_reaches_the_upstream() {
    bounded(async {
        let upstream = TestUpstream::ok().await;
        let gateway = RunningGateway::start(upstream.upstream()).await;

        let preflight = Request::options(gateway.url("/items/1"))
            .header("origin", ALLOWED)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "content-type,x-token")
            .body(empty())
            .unwrap();
        let (status, headers, body) = send(preflight).await;
        assert_eq!(status, 204);
        assert!(body.is_empty());
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        assert_eq!(all(&headers, "access-control-allow-credentials"), ["true"]);
        let methods = elements(&headers, "access-control-allow-methods");
        assert!(methods.contains(&"put".to_owned()), "{methods:?}");
        let allowed = elements(&headers, "access-control-allow-headers");
        assert!(allowed.contains(&"x-token".to_owned()), "{allowed:?}");
        assert_eq!(all(&headers, "access-control-max-age"), ["600"]);

        let refused = Request::options(gateway.url("/items/1"))
            .header("origin", DISALLOWED)
            .header("access-control-request-method", "PUT")
            .body(empty())
            .unwrap();
        let (status, headers, _) = send(refused).await;
        assert_eq!(status, 403);
        assert!(!headers.contains_key("access-control-allow-origin"));

        assert!(upstream.requests().is_empty(), "{:?}", upstream.requests());

        // An OPTIONS request that is not a preflight belongs to the application.
        let plain = Request::options(gateway.url("/items/1"))
            .body(empty())
            .unwrap();
        let (status, _, _) = send(plain).await;
        assert_eq!(status, 200);
        assert_eq!(upstream.requests().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn an_actual_request_gets_the_policy_headers_instead_of_the_upstreams() {
    bounded(async {
        let upstream = TestUpstream::start(|_| async {
            Response::builder()
                .header("access-control-allow-origin", "*")
                .header("access-control-allow-methods", "PATCH")
                .header("access-control-expose-headers", "x-secret")
                .header("vary", "Accept-Encoding")
                .header("x-request-id", "r-1")
                .body(full("payload"))
                .unwrap()
        })
        .await;
        let gateway = RunningGateway::start(upstream.upstream()).await;

        let request = Request::get(gateway.url("/items"))
            .header("origin", ALLOWED)
            .body(empty())
            .unwrap();
        let (status, headers, body) = send(request).await;
        assert_eq!(status, 200);
        assert_eq!(body, "payload");
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        assert_eq!(all(&headers, "access-control-allow-credentials"), ["true"]);
        assert_eq!(
            all(&headers, "access-control-expose-headers"),
            ["x-request-id"]
        );
        assert!(!headers.contains_key("access-control-allow-methods"));
        assert_eq!(all(&headers, "x-request-id"), ["r-1"]);
        // The upstream's Vary is kept, and Origin added once.
        assert_eq!(elements(&headers, "vary"), ["accept-encoding", "origin"]);

        // A refused origin still reaches the upstream (the browser enforces CORS), but gets no
        // CORS headers at all: not even the upstream's own `*`.
        let request = Request::get(gateway.url("/items"))
            .header("origin", DISALLOWED)
            .body(empty())
            .unwrap();
        let (status, headers, _) = send(request).await;
        assert_eq!(status, 200);
        assert!(
            !headers
                .keys()
                .any(|k| k.as_str().starts_with("access-control-")),
            "{headers:?}"
        );
        assert_eq!(elements(&headers, "vary"), ["accept-encoding", "origin"]);
        assert_eq!(upstream.requests().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn the_upstreams_vary_origin_is_not_duplicated() {
    bounded(async {
        let upstream = TestUpstream::start(|_| async {
            Response::builder()
                .header("vary", "origin, accept")
                .body(empty())
                .unwrap()
        })
        .await;
        let gateway = RunningGateway::start(upstream.upstream()).await;
        let request = Request::get(gateway.url("/"))
            .header("origin", ALLOWED)
            .body(empty())
            .unwrap();
        let (_, headers, _) = send(request).await;
        assert_eq!(all(&headers, "vary"), ["origin, accept"]);
    })
    .await;
}

/// 5 MiB each way, in 64 KiB chunks, checked by length and hash. The upload also proves it
/// streams: the upstream must see the first chunk while the client still holds back the rest,
/// which a gateway that buffered whole bodies could never deliver.
#[tokio::test]
async fn bodies_stream_through_intact_in_both_directions() {
    const TOTAL: usize = 5 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    bounded(async {
        let (first_in_tx, first_in_rx) = oneshot::channel::<()>();
        let first_in_tx = std::sync::Mutex::new(Some(first_in_tx));
        let upstream = TestUpstream::start(move |request| {
            let first_in = first_in_tx.lock().unwrap().take();
            async move {
                if request.uri().path() == "/download" {
                    return download().await;
                }
                // Upload: hash what arrives; say when the first bytes came.
                let mut body = request.into_body();
                let (mut hash, mut len) = (Fnv::default(), 0usize);
                let mut first_in = first_in;
                while let Some(frame) = body.frame().await {
                    if let Ok(data) = frame.unwrap().into_data() {
                        len += data.len();
                        hash.update(&data);
                        if let Some(tx) = first_in.take() {
                            let _ = tx.send(());
                        }
                    }
                }
                let json = serde_json::json!({ "len": len, "hash": hash.0.to_string() });
                Response::new(full(json.to_string()))
            }
        })
        .await;
        let gateway = RunningGateway::start(upstream.upstream()).await;

        // Upload.
        let (tx, body) = channel_body();
        let request = Request::post(gateway.url("/upload"))
            .header("origin", ALLOWED)
            .body(body)
            .unwrap();
        let sending = tokio::spawn(async move {
            tx.send(pattern(0, CHUNK)).await.unwrap();
            first_in_rx
                .await
                .expect("the upstream saw the first chunk before the rest was sent");
            for offset in (CHUNK..TOTAL).step_by(CHUNK) {
                tx.send(pattern(offset, CHUNK)).await.unwrap();
            }
        });
        let (status, headers, body) = send(request).await;
        sending.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        let mut expected = Fnv::default();
        expected.update(&pattern(0, TOTAL));
        let received: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(received["len"], TOTAL);
        assert_eq!(received["hash"], expected.0.to_string());

        // Download.
        let request = Request::get(gateway.url("/download"))
            .header("origin", ALLOWED)
            .body(empty())
            .unwrap();
        let response = client().request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            all(response.headers(), "access-control-allow-origin"),
            [ALLOWED]
        );
        assert_eq!(all(response.headers(), "transfer-encoding"), ["chunked"]);
        assert!(!response.headers().contains_key("content-length"));
        let mut body = response.into_body();
        let (mut hash, mut len) = (Fnv::default(), 0usize);
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                len += data.len();
                hash.update(&data);
            }
        }
        assert_eq!(len, TOTAL);
        assert_eq!(hash.0, expected.0);
    })
    .await;

    /// 5 MiB with no length, so HTTP/1 sends it chunked. (That responses are passed on as they
    /// come, not collected first, is `a_response_streams_before_the_upstream_has_finished_it`.)
    async fn download() -> Response<TestBody> {
        let (tx, body) = channel_body();
        tokio::spawn(async move {
            for offset in (0..TOTAL).step_by(CHUNK) {
                if tx.send(pattern(offset, CHUNK)).await.is_err() {
                    return;
                }
            }
        });
        Response::new(body)
    }
}

#[tokio::test]
async fn a_response_streams_before_the_upstream_has_finished_it() {
    bounded(async {
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let release_rx = std::sync::Mutex::new(Some(release_rx));
        let upstream = TestUpstream::start(move |_| {
            let release = release_rx.lock().unwrap().take();
            async move {
                let (tx, body) = channel_body();
                tokio::spawn(async move {
                    tx.send(Bytes::from_static(b"first;")).await.unwrap();
                    if let Some(release) = release {
                        let _ = release.await;
                    }
                    tx.send(Bytes::from_static(b"second")).await.unwrap();
                });
                Response::new(body)
            }
        })
        .await;
        let gateway = RunningGateway::start(upstream.upstream()).await;
        let request = Request::get(gateway.url("/")).body(empty()).unwrap();
        let response = client().request(request).await.unwrap();
        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(
            first, "first;",
            "the first chunk arrives while the upstream waits"
        );
        release_tx.send(()).unwrap();
        let rest = body.collect().await.unwrap().to_bytes();
        assert_eq!(rest, "second");
    })
    .await;
}

#[tokio::test]
async fn hop_by_hop_headers_are_removed_both_ways() {
    bounded(async {
        let upstream = TestUpstream::start(|_| async {
            Response::builder()
                .header("connection", "x-upstream-secret")
                .header("x-upstream-secret", "1")
                .header("keep-alive", "timeout=5")
                .header("proxy-authenticate", "Basic")
                .header("proxy-connection", "keep-alive")
                .header("trailer", "x-sum")
                .header("x-upstream-kept", "yes")
                .body(full("ok"))
                .unwrap()
        })
        .await;
        let gateway = RunningGateway::start(upstream.upstream()).await;
        let request = "GET /hop HTTP/1.1\r\n\
                       Host: gateway.test\r\n\
                       Connection: close, X-Drop-Me\r\n\
                       X-Drop-Me: 1\r\n\
                       Keep-Alive: timeout=5\r\n\
                       Proxy-Connection: keep-alive\r\n\
                       Proxy-Authorization: Basic eDp5\r\n\
                       TE: trailers\r\n\
                       Trailer: x-sum\r\n\
                       Upgrade: websocket\r\n\
                       X-Kept: yes\r\n\r\n";
        let response = raw(gateway.addr, request.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(response.status, 200);
        for gone in [
            "x-upstream-secret",
            "keep-alive",
            "proxy-authenticate",
            "proxy-connection",
            "trailer",
        ] {
            assert!(!response.has(gone), "{gone} in {:?}", response.headers);
        }
        assert_eq!(response.header("x-upstream-kept"), Some("yes"));
        // The client asked to close; what the upstream wanted for its own connection is gone.
        assert_eq!(response.header("connection"), Some("close"));

        let seen = upstream.requests();
        assert_eq!(seen.len(), 1);
        let headers = &seen[0].headers;
        for gone in [
            "connection",
            "x-drop-me",
            "keep-alive",
            "proxy-connection",
            "proxy-authorization",
            "te",
            "trailer",
            "upgrade",
        ] {
            assert!(!headers.contains_key(gone), "{gone} in {headers:?}");
        }
        assert_eq!(all(headers, "x-kept"), ["yes"]);
    })
    .await;
}

#[tokio::test]
async fn forwarded_headers_host_and_base_path() {
    bounded(async {
        let upstream = TestUpstream::ok().await;
        let base = Upstream::parse(&format!("{}/base/", upstream.url())).unwrap();
        let gateway = RunningGateway::start(base).await;
        let request = "POST /items/1?x=1&y=%20 HTTP/1.1\r\n\
                       Host: gateway.test:8080\r\n\
                       X-Forwarded-For: 203.0.113.9\r\n\
                       X-Forwarded-Proto: https\r\n\
                       X-Forwarded-Host: claimed.example\r\n\
                       Content-Length: 2\r\n\
                       Connection: close\r\n\r\nhi";
        let response = raw(gateway.addr, request.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(response.status, 200);
        let seen = upstream.requests();
        assert_eq!(seen.len(), 1);
        let s = &seen[0];
        assert_eq!(s.method, "POST");
        assert_eq!(s.uri.to_string(), "/base/items/1?x=1&y=%20");
        assert_eq!(all(&s.headers, "host"), [upstream.addr.to_string()]);
        assert_eq!(
            all(&s.headers, "x-forwarded-for"),
            ["203.0.113.9, 127.0.0.1"]
        );
        assert_eq!(all(&s.headers, "x-forwarded-proto"), ["http"]);
        assert_eq!(all(&s.headers, "x-forwarded-host"), ["gateway.test:8080"]);
        assert_eq!(all(&s.headers, "content-length"), ["2"]);
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502_with_the_cors_headers_the_origin_is_entitled_to() {
    bounded(async {
        let closed = closed_port().await;
        let down = Upstream::parse(&format!("http://{}", closed.addr)).unwrap();
        let gateway = RunningGateway::start(down).await;

        let request = Request::get(gateway.url("/items"))
            .header("origin", ALLOWED)
            .body(empty())
            .unwrap();
        let (status, headers, body) = send(request).await;
        assert_eq!(status, 502);
        assert_eq!(all(&headers, "content-type"), ["application/json"]);
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "upstream unreachable");
        assert!(
            json["detail"].as_str().unwrap().contains("connect"),
            "{json}"
        );
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        assert_eq!(all(&headers, "access-control-allow-credentials"), ["true"]);
        assert_eq!(elements(&headers, "vary"), ["origin"]);

        let request = Request::get(gateway.url("/items"))
            .header("origin", DISALLOWED)
            .body(empty())
            .unwrap();
        let (status, headers, _) = send(request).await;
        assert_eq!(status, 502);
        assert!(!headers.contains_key("access-control-allow-origin"));
        assert_eq!(elements(&headers, "vary"), ["origin"]);
    })
    .await;
}

#[tokio::test]
async fn an_upstream_failing_mid_request_is_a_502() {
    bounded(async {
        // Accepts, reads a little, and hangs up without answering.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 16];
                let _ = stream.read(&mut buf).await;
                drop(stream);
            }
        });
        let gateway =
            RunningGateway::start(Upstream::parse(&format!("http://{addr}")).unwrap()).await;
        let request = Request::get(gateway.url("/"))
            .header("origin", ALLOWED)
            .body(empty())
            .unwrap();
        let (status, headers, body) = send(request).await;
        assert_eq!(status, 502);
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "upstream failed");
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
    })
    .await;
}

#[tokio::test]
async fn redirects_are_passed_back_not_followed() {
    bounded(async {
        let upstream = TestUpstream::start(|request| async move {
            if request.uri().path() == "/old" {
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header("location", "/new")
                    .body(empty())
                    .unwrap()
            } else {
                Response::new(full("new"))
            }
        })
        .await;
        let gateway = RunningGateway::start(upstream.upstream()).await;
        let request = Request::get(gateway.url("/old"))
            .header("origin", ALLOWED)
            .body(empty())
            .unwrap();
        let (status, headers, _) = send(request).await;
        assert_eq!(status, 302);
        assert_eq!(all(&headers, "location"), ["/new"]);
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        let paths: Vec<String> = upstream
            .requests()
            .iter()
            .map(|s| s.uri.path().to_owned())
            .collect();
        assert_eq!(paths, ["/old"]);
    })
    .await;
}

#[tokio::test]
async fn error_statuses_from_the_upstream_keep_their_cors_headers() {
    bounded(async {
        let upstream = TestUpstream::start(|_| async {
            Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .body(full("who are you"))
                .unwrap()
        })
        .await;
        let gateway = RunningGateway::start(upstream.upstream()).await;
        let request = Request::delete(gateway.url("/items/1"))
            .header("origin", ALLOWED)
            .body(empty())
            .unwrap();
        let (status, headers, body) = send(request).await;
        assert_eq!(status, 401);
        assert_eq!(body, "who are you");
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
    })
    .await;
}
