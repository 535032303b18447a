//! The server around the proxy: request smuggling, slow clients, HTTP/2, graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use common::*;
use crossgate_gateway::{Gateway, Upstream};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused_and_the_connection_closed() {
    bounded(async {
        let upstream = TestUpstream::ok().await;
        let gateway = RunningGateway::start(upstream.upstream()).await;
        let heads = [
            "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "POST /x HTTP/1.1\r\nHost: a\r\ncontent-length:0\r\ntransfer-encoding: chunked\r\n\r\n",
        ];
        for head in heads {
            let request = format!("{head}0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
            let response = raw(gateway.addr, request.as_bytes(), Duration::from_secs(5)).await;
            assert_eq!(response.status, 400, "{head:?}");
            assert_eq!(response.header("connection"), Some("close"), "{head:?}");
            assert!(response.closed, "the connection is closed after the 400");
            // Only one response: the smuggled request was never answered.
            assert_eq!(
                String::from_utf8_lossy(&response.body).matches("HTTP/1.1").count(),
                0
            );
        }
        // The same request behind an ordinary one on a kept-alive connection.
        let request = "GET /first HTTP/1.1\r\nHost: a\r\n\r\n\
                       POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let response = raw(gateway.addr, request.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(response.status, 200);
        let rest = String::from_utf8_lossy(&response.body);
        assert!(rest.contains("HTTP/1.1 400 Bad Request"), "{rest}");
        assert!(response.closed);

        let paths: Vec<String> = upstream
            .requests()
            .iter()
            .map(|s| s.uri.path().to_owned())
            .collect();
        assert_eq!(paths, ["/first"], "nothing else was forwarded");
    })
    .await;
}

#[tokio::test]
async fn ordinary_chunked_and_fixed_length_requests_share_a_connection() {
    bounded(async {
        let upstream = TestUpstream::start(|request| async move {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            Response::new(full(body))
        })
        .await;
        let gateway = RunningGateway::start(upstream.upstream()).await;
        // A body that looks like a smuggling head must not confuse the gateway's detector.
        let decoy = "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let request = format!(
            "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{decoy}\
             POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n\
             GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            decoy.len()
        );
        let response = raw(gateway.addr, request.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(response.status, 200);
        let all = String::from_utf8_lossy(&response.body);
        assert_eq!(all.matches("HTTP/1.1 200 OK").count(), 2, "{all}");
        assert!(!all.contains(" 400 "), "{all}");
        let paths: Vec<String> = upstream
            .requests()
            .iter()
            .map(|s| s.uri.path().to_owned())
            .collect();
        assert_eq!(paths, ["/a", "/b", "/c"]);
    })
    .await;
}

#[tokio::test]
async fn slow_clients_are_disconnected() {
    bounded(async {
        let gateway = RunningGateway::start_with(Upstream::Echo, |g| {
            g.header_read_timeout(Duration::from_millis(300))
        })
        .await;

        // Connects and sends nothing.
        let started = Instant::now();
        let mut silent = TcpStream::connect(gateway.addr).await.unwrap();
        let mut buf = [0u8; 256];
        let n = silent.read(&mut buf).await.unwrap_or(0);
        assert_eq!(n, 0, "closed without an answer");
        assert!(started.elapsed() < Duration::from_secs(5));

        // Sends half a head and stops.
        let started = Instant::now();
        let mut slow = TcpStream::connect(gateway.addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let _ = slow.read_to_end(&mut rest).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
            "{:?}",
            String::from_utf8_lossy(&rest)
        );

        // Starts the HTTP/2 preface and stops.
        let started = Instant::now();
        let mut h2 = TcpStream::connect(gateway.addr).await.unwrap();
        h2.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        let _ = h2.read_to_end(&mut rest).await;
        assert!(started.elapsed() < Duration::from_secs(5));

        // A prompt client on the same gateway is served.
        let request = Request::get(gateway.url("/")).body(empty()).unwrap();
        let (status, _, _) = send(request).await;
        assert_eq!(status, 200);
    })
    .await;
}

#[tokio::test]
async fn h2c_clients_are_served() {
    bounded(async {
        let gateway = RunningGateway::start(Upstream::Echo).await;
        let h2: Client<HttpConnector, TestBody> = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build(HttpConnector::new());
        let request = Request::put(gateway.url("/h2?v=2"))
            .header("origin", ALLOWED)
            .body(full("four"))
            .unwrap();
        let response = h2.request(request).await.unwrap();
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert_eq!(response.status(), 200);
        assert_eq!(
            all(response.headers(), "access-control-allow-origin"),
            [ALLOWED]
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let echo: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(echo["method"], "PUT");
        assert_eq!(echo["path"], "/h2");
        assert_eq!(echo["body_bytes"], 4);
        let host = echo["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|pair| pair[0] == "x-forwarded-host")
            .map(|pair| pair[1].clone());
        assert_eq!(host, Some(Value::from(gateway.addr.to_string())));
    })
    .await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    bounded(async {
        let (arrived_tx, arrived_rx) = oneshot::channel::<()>();
        let arrived_tx = std::sync::Mutex::new(Some(arrived_tx));
        let upstream = TestUpstream::start(move |_| {
            let arrived = arrived_tx.lock().unwrap().take();
            async move {
                if let Some(tx) = arrived {
                    let _ = tx.send(());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                Response::new(full("finished"))
            }
        })
        .await;
        let mut gateway = RunningGateway::start(upstream.upstream()).await;
        let request = Request::get(gateway.url("/slow"))
            .header("origin", ALLOWED)
            .body(empty())
            .unwrap();
        let in_flight = tokio::spawn(send(request));
        arrived_rx.await.unwrap();
        let started = Instant::now();
        gateway.stop().await.unwrap();
        let (status, headers, body) = in_flight.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(body, "finished");
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "serve returned only after the request finished"
        );
        assert!(
            TcpStream::connect(gateway.addr).await.is_err(),
            "no longer accepting"
        );
    })
    .await;
}

#[tokio::test]
async fn shutdown_cuts_off_requests_past_the_drain_timeout() {
    bounded(async {
        let upstream = TestUpstream::start(|_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Response::new(empty())
        })
        .await;
        let mut gateway = RunningGateway::start_with(upstream.upstream(), |g| {
            g.drain_timeout(Duration::from_millis(200))
        })
        .await;
        let request = Request::get(gateway.url("/forever")).body(empty()).unwrap();
        let in_flight = tokio::spawn(client().request(request));
        while upstream.requests().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let started = Instant::now();
        gateway.stop().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(in_flight.await.unwrap().is_err(), "the request was cut off");
    })
    .await;
}

#[tokio::test]
async fn binding_a_taken_port_fails() {
    bounded(async {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = Gateway::bind(taken.local_addr().unwrap(), Upstream::Echo, policy())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    })
    .await;
}
