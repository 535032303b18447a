//! Limits, timeouts and failing upstreams: each answered with the right status and the CORS
//! headers the origin is entitled to, and the gateway keeps serving afterwards.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use crossgate_gateway::{GatewayConfig, Upstream};
use http::{Request, Response};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The CORS headers an allowed origin gets on any actual response.
fn assert_cors(headers: &http::HeaderMap) {
    assert_eq!(all(headers, "access-control-allow-origin"), [ALLOWED]);
    assert_eq!(all(headers, "access-control-allow-credentials"), ["true"]);
    assert_eq!(
        all(headers, "access-control-expose-headers"),
        ["x-request-id"]
    );
}

fn raw_assert_cors(response: &RawResponse) {
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some(ALLOWED),
        "{response:?}"
    );
    assert_eq!(
        response.header("access-control-allow-credentials"),
        Some("true")
    );
}

fn error_of(body: &[u8]) -> String {
    let json: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(body)));
    json["error"].as_str().unwrap().to_owned()
}

/// The gateway still answers an ordinary request.
async fn still_serving(gateway: &RunningGateway) {
    let (status, headers, _) = get(gateway.url("/"), Some(ALLOWED)).await;
    assert!(status < 500 || status == 502 || status == 504, "{status}");
    assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
}

fn with(upstream: Upstream, change: impl FnOnce(&mut GatewayConfig)) -> GatewayConfig {
    let mut config = config(upstream);
    change(&mut config);
    config
}

#[tokio::test]
async fn too_many_or_too_large_headers_are_431_with_cors_headers() {
    bounded(async {
        let upstream = TestUpstream::ok().await;
        let gateway = RunningGateway::start_config(with(upstream.upstream(), |c| {
            c.limits.max_headers = 10;
            c.limits.max_header_bytes = 1024;
        }))
        .await;

        let mut many = format!("GET / HTTP/1.1\r\nHost: a\r\nOrigin: {ALLOWED}\r\n");
        for i in 0..12 {
            many.push_str(&format!("X-H{i}: v\r\n"));
        }
        many.push_str("\r\n");
        let response = raw(gateway.addr, many.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(response.status, 431);
        raw_assert_cors(&response);
        assert_eq!(error_of(&response.body), "request header fields too large");
        assert_eq!(response.header("connection"), Some("close"));

        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nOrigin: {ALLOWED}\r\nX-Big: {}\r\n\r\n",
            "b".repeat(2000)
        );
        let response = raw(gateway.addr, big.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(response.status, 431);
        raw_assert_cors(&response);

        // Past the parser's own ceiling the head is refused before it is read: a bare 431.
        let huge = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nOrigin: {ALLOWED}\r\nX-Huge: {}\r\n\r\n",
            "h".repeat(200 * 1024)
        );
        let response = raw(gateway.addr, huge.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(response.status, 431);
        assert!(!response.has("access-control-allow-origin"));

        assert!(upstream.requests().is_empty(), "nothing was forwarded");
        still_serving(&gateway).await;
        assert_eq!(upstream.requests().len(), 1);
        assert_eq!(
            gateway.metric("crossgate_requests_total{route=\"/\",status=\"431\"}"),
            2.0
        );
    })
    .await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_with_cors_headers_announced_or_streamed() {
    bounded(async {
        let upstream = TestUpstream::start(|request| async move {
            let body = request.into_body().collect().await;
            Response::new(full(format!(
                "{}",
                body.map(|b| b.to_bytes().len()).unwrap_or(0)
            )))
        })
        .await;
        let gateway = RunningGateway::start_config(with(upstream.upstream(), |c| {
            c.limits.max_body_bytes = 1000;
        }))
        .await;

        // Announced by Content-Length: refused before the upstream is contacted.
        let request = Request::post(gateway.url("/upload"))
            .header("origin", ALLOWED)
            .body(full(vec![b'x'; 1001]))
            .unwrap();
        let (status, headers, body) = send(request).await;
        assert_eq!(status, 413);
        assert_cors(&headers);
        assert_eq!(error_of(&body), "payload too large");
        assert!(upstream.requests().is_empty());

        // Streamed without a length: stopped when it passes the limit.
        let (tx, body) = channel_body();
        let request = Request::post(gateway.url("/upload"))
            .header("origin", ALLOWED)
            .body(body)
            .unwrap();
        let sending = tokio::spawn(async move {
            for _ in 0..10 {
                if tx.send(Bytes::from(vec![b'y'; 500])).await.is_err() {
                    break;
                }
            }
        });
        let (status, headers, body) = send(request).await;
        sending.abort();
        assert_eq!(status, 413, "{:?}", String::from_utf8_lossy(&body));
        assert_cors(&headers);

        // At the limit exactly, it goes through.
        let request = Request::post(gateway.url("/upload"))
            .header("origin", ALLOWED)
            .body(full(vec![b'z'; 1000]))
            .unwrap();
        let (status, _, body) = send(request).await;
        assert_eq!(status, 200);
        assert_eq!(body, "1000");
        still_serving(&gateway).await;
    })
    .await;
}

#[tokio::test]
async fn connections_past_the_limit_get_503_with_cors_headers() {
    bounded(async {
        let upstream = TestUpstream::ok().await;
        let gateway = RunningGateway::start_config(with(upstream.upstream(), |c| {
            c.limits.max_connections = 1;
        }))
        .await;
        // One kept-alive connection holds the only slot.
        let mut held = TcpStream::connect(gateway.addr).await.unwrap();
        held.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = held.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

        let request = format!("GET /x HTTP/1.1\r\nHost: a\r\nOrigin: {ALLOWED}\r\n\r\n");
        let response = raw(gateway.addr, request.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(response.status, 503);
        raw_assert_cors(&response);
        assert_eq!(response.header("retry-after"), Some("1"));
        assert!(response.closed, "the extra connection is closed");
        assert_eq!(error_of(&response.body), "overloaded");
        assert_eq!(upstream.requests().len(), 1, "the 503 was not forwarded");
        assert_eq!(gateway.metric("crossgate_connections_refused_total"), 1.0);

        // Once the slot is free, new connections are served.
        drop(held);
        eventually(|| gateway.metric("crossgate_connections_open") == 0.0).await;
        let (status, _, _) = get(gateway.url("/"), Some(ALLOWED)).await;
        assert_eq!(status, 200);
    })
    .await;
}

#[tokio::test]
async fn an_upstream_slow_to_answer_is_504_with_cors_headers() {
    bounded(async {
        let upstream = TestUpstream::start(|request| async move {
            if request.uri().path() == "/slow" {
                tokio::time::sleep(Duration::from_secs(20)).await;
            }
            Response::new(full("ok"))
        })
        .await;
        let gateway = RunningGateway::start_config(with(upstream.upstream(), |c| {
            c.timeouts.response_headers = Duration::from_millis(300);
        }))
        .await;
        let started = Instant::now();
        let (status, headers, body) = get(gateway.url("/slow"), Some(ALLOWED)).await;
        assert_eq!(status, 504);
        assert_cors(&headers);
        assert_eq!(error_of(&body), "upstream timed out");
        assert!(started.elapsed() < Duration::from_secs(5));
        still_serving(&gateway).await;

        // The total deadline bounds the wait for the head too.
        let gateway = RunningGateway::start_config(with(upstream.upstream(), |c| {
            c.timeouts.total = Duration::from_millis(300);
        }))
        .await;
        let (status, _, body) = get(gateway.url("/slow"), Some(ALLOWED)).await;
        assert_eq!(status, 504);
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert!(
            json["detail"].as_str().unwrap().contains("timeouts.total"),
            "{json}"
        );
    })
    .await;
}

#[tokio::test]
async fn connecting_too_long_is_504_and_a_refused_connection_502() {
    bounded(async {
        // A listener whose accept queue is full: the kernel drops further SYNs, so a connect
        // hangs until the gateway's connect timeout.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..4 {
            if let Ok(Ok(s)) =
                tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
            {
                fillers.push(s);
            }
        }
        let blackhole = Upstream::parse(&format!("http://{addr}")).unwrap();
        let gateway = RunningGateway::start_config(with(blackhole, |c| {
            c.timeouts.connect = Duration::from_millis(300);
        }))
        .await;
        let started = Instant::now();
        let (status, headers, body) = get(gateway.url("/"), Some(ALLOWED)).await;
        assert_eq!(status, 504, "{:?}", String::from_utf8_lossy(&body));
        assert_cors(&headers);
        assert_eq!(error_of(&body), "upstream connect timed out");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop((listener, fillers));

        let closed = closed_port().await;
        let down = Upstream::parse(&format!("http://{}", closed.addr)).unwrap();
        let gateway = RunningGateway::start_config(config(down)).await;
        let (status, headers, body) = get(gateway.url("/"), Some(ALLOWED)).await;
        assert_eq!(status, 502);
        assert_cors(&headers);
        assert_eq!(error_of(&body), "upstream unreachable");
    })
    .await;
}

#[tokio::test]
async fn a_malformed_upstream_response_is_502_with_cors_headers() {
    bounded(async {
        let (addr, _task) = raw_upstream(|mut stream| async move {
            read_head(&mut stream).await;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\nhello")
                .await;
            let _ = stream.shutdown().await;
        })
        .await;
        let gateway = RunningGateway::start_config(config(
            Upstream::parse(&format!("http://{addr}")).unwrap(),
        ))
        .await;
        for _ in 0..3 {
            let (status, headers, body) = get(gateway.url("/"), Some(ALLOWED)).await;
            assert_eq!(status, 502);
            assert_cors(&headers);
            assert_eq!(error_of(&body), "upstream failed");
        }
        let (addr, _task) = raw_upstream(|mut stream| async move {
            read_head(&mut stream).await;
            let _ = stream.write_all(b"SMTP ready\r\n\r\n").await;
        })
        .await;
        let gateway = RunningGateway::start_config(config(
            Upstream::parse(&format!("http://{addr}")).unwrap(),
        ))
        .await;
        let (status, headers, _) = get(gateway.url("/"), Some(ALLOWED)).await;
        assert_eq!(status, 502);
        assert_cors(&headers);
    })
    .await;
}

/// Closes with a TCP reset instead of a FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

#[tokio::test]
async fn an_upstream_resetting_mid_body_fails_the_exchange_and_the_gateway_keeps_serving() {
    bounded(async {
        let (addr, _task) = raw_upstream(|mut stream| async move {
            let head = read_head(&mut stream).await;
            let head = String::from_utf8_lossy(&head).into_owned();
            if head.starts_with("POST") {
                // Resets while the request body is still coming.
                reset(stream);
            } else if head.starts_with("GET /partial") {
                // Promises 100 000 bytes, sends 10, resets.
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789")
                    .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                reset(stream);
            } else {
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            }
        })
        .await;
        let gateway = RunningGateway::start_config(config(
            Upstream::parse(&format!("http://{addr}")).unwrap(),
        ))
        .await;

        // Mid request body: the response has not started, so it is a 502 with CORS headers.
        let (tx, body) = channel_body();
        let request = Request::post(gateway.url("/upload"))
            .header("origin", ALLOWED)
            .body(body)
            .unwrap();
        let feeding = tokio::spawn(async move {
            for _ in 0..100 {
                if tx.send(Bytes::from(vec![0u8; 16 * 1024])).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let (status, headers, body) = send(request).await;
        feeding.abort();
        assert_eq!(status, 502, "{:?}", String::from_utf8_lossy(&body));
        assert_cors(&headers);

        // Mid response body: the head (and its CORS headers) went out; the body fails.
        let request = Request::get(gateway.url("/partial"))
            .header("origin", ALLOWED)
            .body(empty())
            .unwrap();
        let response = client().request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_cors(response.headers());
        assert!(
            response.into_body().collect().await.is_err(),
            "the client sees the body fail, not a short success"
        );

        let (status, _, body) = get(gateway.url("/fine"), Some(ALLOWED)).await;
        assert_eq!((status, &body[..]), (200, &b"ok"[..]));
        eventually(|| gateway.metric("crossgate_requests_in_flight") == 0.0).await;
    })
    .await;
}

#[tokio::test]
async fn silence_mid_body_is_bounded_both_ways() {
    bounded(async {
        // The upstream sends the head and a first chunk, then nothing.
        let upstream = TestUpstream::start(|request| async move {
            if request.uri().path() == "/stall" {
                let (tx, body) = channel_body();
                tokio::spawn(async move {
                    tx.send(Bytes::from_static(b"first")).await.unwrap();
                    tokio::time::sleep(Duration::from_secs(20)).await;
                    drop(tx);
                });
                return Response::new(body);
            }
            let n = request
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().len())
                .unwrap_or(0);
            Response::new(full(n.to_string()))
        })
        .await;
        let gateway = RunningGateway::start_config(with(upstream.upstream(), |c| {
            c.timeouts.body_idle = Duration::from_millis(300);
        }))
        .await;

        let started = Instant::now();
        let request = Request::get(gateway.url("/stall"))
            .header("origin", ALLOWED)
            .body(empty())
            .unwrap();
        let response = client().request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_cors(response.headers());
        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "first");
        assert!(body.collect().await.is_err(), "cut off after body_idle");
        assert!(started.elapsed() < Duration::from_secs(5));

        // A client that stops sending its body gets 408 with CORS headers.
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        let head = format!(
            "POST /upload HTTP/1.1\r\nHost: a\r\nOrigin: {ALLOWED}\r\nContent-Length: 100\r\n\r\n0123456789"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut bytes = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut bytes)).await;
        let response = parse_raw(&bytes, true);
        assert_eq!(response.status, 408, "{response:?}");
        raw_assert_cors(&response);
        still_serving(&gateway).await;
    })
    .await;
}

#[tokio::test]
async fn a_client_that_disconnects_mid_request_leaves_nothing_behind() {
    bounded(async {
        // The upstream reports when its connection from the gateway is closed.
        let (closed_tx, mut closed_rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
        let (addr, _task) = raw_upstream(move |mut stream| {
            let closed_tx = closed_tx.clone();
            async move {
                let head = read_head(&mut stream).await;
                let what = if head.starts_with(b"POST") {
                    "upload"
                } else {
                    "wait"
                };
                // Never answers; reads until the gateway hangs up.
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                let _ = closed_tx.send(what);
            }
        })
        .await;
        let gateway = RunningGateway::start_config(config(
            Upstream::parse(&format!("http://{addr}")).unwrap(),
        ))
        .await;

        // Half a body, then gone.
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        stream
            .write_all(
                format!(
                    "POST /upload HTTP/1.1\r\nHost: a\r\nOrigin: {ALLOWED}\r\nContent-Length: 1000\r\n\r\nhalf"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        eventually(|| gateway.metric("crossgate_requests_in_flight") == 1.0).await;
        reset(stream);
        assert_eq!(closed_rx.recv().await, Some("upload"));

        // Waiting for a response, then gone.
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        stream
            .write_all(b"GET /wait HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        eventually(|| gateway.metric("crossgate_requests_in_flight") == 1.0).await;
        drop(stream);
        assert_eq!(closed_rx.recv().await, Some("wait"));

        eventually(|| {
            gateway.metric("crossgate_requests_in_flight") == 0.0
                && gateway.metric("crossgate_connections_open") == 0.0
        })
        .await;
    })
    .await;
}
