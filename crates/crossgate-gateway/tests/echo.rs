//! The built-in echo upstream, reached through the gateway.

mod common;

use common::*;
use crossgate_gateway::{MAX_ECHO_BODY, Upstream};
use http::Request;
use serde_json::{Value, json};

fn header<'v>(echo: &'v Value, name: &str) -> Vec<&'v str> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0] == name)
        .map(|pair| pair[1].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_echo_upstream_describes_what_an_upstream_would_receive() {
    bounded(async {
        let gateway = RunningGateway::start(Upstream::Echo).await;
        let request = Request::post(gateway.url("/items/1?x=1"))
            .header("origin", ALLOWED)
            .header("content-type", "text/plain")
            .header("connection", "x-gone")
            .header("x-gone", "1")
            .body(full("hello"))
            .unwrap();
        let (status, headers, body) = send(request).await;
        assert_eq!(status, 200);
        assert_eq!(all(&headers, "content-type"), ["application/json"]);
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        let echo: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(echo["method"], "POST");
        assert_eq!(echo["path"], "/items/1");
        assert_eq!(echo["query"], "x=1");
        assert_eq!(echo["body_bytes"], 5);
        assert_eq!(header(&echo, "origin"), [ALLOWED]);
        assert_eq!(header(&echo, "content-type"), ["text/plain"]);
        assert_eq!(header(&echo, "x-forwarded-for"), ["127.0.0.1"]);
        assert_eq!(header(&echo, "x-forwarded-proto"), ["http"]);
        let authority = gateway.addr.to_string();
        assert_eq!(header(&echo, "x-forwarded-host"), [authority.as_str()]);
        assert!(header(&echo, "x-gone").is_empty(), "{echo}");
        assert!(header(&echo, "connection").is_empty(), "{echo}");
        // Exactly the documented keys.
        let mut keys: Vec<&str> = echo
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["body_bytes", "headers", "method", "path", "query"]);

        let (_, _, body) = send(Request::get(gateway.url("/")).body(empty()).unwrap()).await;
        let echo: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(echo["query"], Value::Null);
        assert_eq!(echo["body_bytes"], 0);
    })
    .await;
}

#[tokio::test]
async fn the_echo_upstream_counts_streamed_bodies_up_to_its_cap() {
    bounded(async {
        let gateway = RunningGateway::start(Upstream::Echo).await;
        let cap = MAX_ECHO_BODY as usize;

        // Chunked, so the echo learns the size only by reading.
        let (tx, body) = channel_body();
        tokio::spawn(async move {
            for offset in (0..cap).step_by(64 * 1024) {
                tx.send(pattern(offset, 64 * 1024)).await.unwrap();
            }
        });
        let request = Request::post(gateway.url("/")).body(body).unwrap();
        let (status, _, body) = send(request).await;
        assert_eq!(status, 200);
        let echo: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(echo["body_bytes"], cap);

        let (tx, body) = channel_body();
        tokio::spawn(async move {
            // Endless: the answer can only come if the echo stops reading at its cap.
            for offset in (0..).step_by(64 * 1024) {
                if tx.send(pattern(offset, 64 * 1024)).await.is_err() {
                    return;
                }
            }
        });
        let request = Request::post(gateway.url("/"))
            .header("origin", ALLOWED)
            .body(body)
            .unwrap();
        let (status, headers, body) = send(request).await;
        assert_eq!(status, 413);
        assert_eq!(all(&headers, "access-control-allow-origin"), [ALLOWED]);
        let error: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["error"], json!("payload too large"));
    })
    .await;
}
