//! Hostile traffic against the gateway, byte for byte on raw sockets: oversized and numerous
//! headers, invalid bytes, several `Origin` lines, conflicting lengths, slow clients, pipelined
//! requests and abrupt disconnects. Each gets a clear 4xx or a closed connection; the gateway
//! keeps serving everyone else, and its memory stays bounded.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{ALLOWED, RunningGateway, TestUpstream, bounded, config, raw};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(3);

async fn gateway() -> (RunningGateway, TestUpstream) {
    let upstream = TestUpstream::ok().await;
    let mut cfg = config(upstream.upstream());
    cfg.timeouts.client_header = Duration::from_millis(400);
    (RunningGateway::start_config(cfg).await, upstream)
}

fn request(extra: &str) -> Vec<u8> {
    format!("GET /x HTTP/1.1\r\nHost: gw\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

/// The gateway still answers an ordinary request, with its CORS headers.
async fn still_serving(addr: SocketAddr) {
    let r = raw(addr, &request(&format!("Origin: {ALLOWED}\r\n")), WAIT).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("access-control-allow-origin"), Some(ALLOWED));
}

#[tokio::test]
async fn oversized_and_numerous_headers() {
    bounded(async {
        let (gw, _up) = gateway().await;
        // One 40 KiB header (over the 32 KiB limit), then one of 300 KiB (over the parser's).
        for size in [40 * 1024, 300 * 1024] {
            let big = format!("Origin: {ALLOWED}\r\nX-Big: {}\r\n", "a".repeat(size));
            let r = raw(gw.addr, &request(&big), WAIT).await;
            assert_eq!(r.status, 431, "{size}");
            still_serving(gw.addr).await;
        }
        // 90 header lines (over the 64 allowed) and 300 (over the parser's ceiling).
        for lines in [90, 300] {
            let many: String = (0..lines).map(|i| format!("X-H{i}: v\r\n")).collect();
            let r = raw(
                gw.addr,
                &request(&format!("Origin: {ALLOWED}\r\n{many}")),
                WAIT,
            )
            .await;
            assert_eq!(r.status, 431, "{lines} lines");
            still_serving(gw.addr).await;
        }
    })
    .await;
}

#[tokio::test]
async fn invalid_bytes_in_the_head() {
    bounded(async {
        let (gw, up) = gateway().await;
        let before = up.requests().len();
        for head in [
            &b"GET /x HTTP/1.1\r\nHost: gw\r\nX-A: a\x00b\r\n\r\n"[..],
            b"GET /x HTTP/1.1\r\nHost: gw\r\nX-A: a\rb\r\n\r\n",
            b"GET /x HTTP/1.1\r\nHost: gw\r\nX A: b\r\n\r\n",
            b"GET /x HTTP/1.1\r\nHost: gw\r\n: empty\r\n\r\n",
            b"GET /x\x01 HTTP/1.1\r\nHost: gw\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        ] {
            let r = tokio::time::timeout(WAIT * 2, async {
                let mut s = TcpStream::connect(gw.addr).await.unwrap();
                let _ = s.write_all(head).await;
                let mut buf = Vec::new();
                let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut buf)).await;
                buf
            })
            .await
            .expect("answered or closed in time");
            // Either a 400 or a closed connection without an answer; never a forwarded request.
            if !r.is_empty() {
                let text = String::from_utf8_lossy(&r);
                assert!(text.starts_with("HTTP/1.1 400"), "{head:?}: {text}");
            }
        }
        assert_eq!(
            up.requests().len(),
            before,
            "nothing malformed reached the upstream"
        );
        still_serving(gw.addr).await;
    })
    .await;
}

#[tokio::test]
async fn several_origin_lines_give_no_access() {
    bounded(async {
        let (gw, _up) = gateway().await;
        let two = format!("Origin: {ALLOWED}\r\nOrigin: {ALLOWED}\r\n");
        let r = raw(gw.addr, &request(&two), WAIT).await;
        assert_eq!(r.status, 200);
        assert!(!r.has("access-control-allow-origin"), "{r:?}");
        let preflight = format!(
            "OPTIONS /x HTTP/1.1\r\nHost: gw\r\nOrigin: {ALLOWED}\r\nOrigin: https://evil.example\r\n\
             Access-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n"
        );
        let r = raw(gw.addr, preflight.as_bytes(), WAIT).await;
        assert_eq!(r.status, 403);
        assert!(!r.has("access-control-allow-origin"));
    })
    .await;
}

#[tokio::test]
async fn conflicting_lengths_are_refused() {
    bounded(async {
        let (gw, up) = gateway().await;
        let before = up.requests().len();
        for head in [
            "POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            "POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: -1\r\n\r\n",
            "POST /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        ] {
            let r = raw(gw.addr, head.as_bytes(), WAIT).await;
            assert!(r.status == 400 || r.status == 501, "{head:?}: {}", r.status);
            assert!(r.closed, "{head:?}: the connection is closed");
        }
        assert_eq!(up.requests().len(), before);
        still_serving(gw.addr).await;
    })
    .await;
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    bounded(async {
        let (gw, _up) = gateway().await;
        let mut slow = Vec::new();
        for _ in 0..20 {
            let mut s = TcpStream::connect(gw.addr).await.unwrap();
            s.write_all(b"GET /x HTTP/1.1\r\nHost: gw\r\nX-Slow: ")
                .await
                .unwrap();
            slow.push(s);
        }
        // Others are served while the slow ones wait.
        still_serving(gw.addr).await;
        // After the header read timeout (400 ms here) each slow connection is closed.
        for mut s in slow {
            let mut buf = [0u8; 64];
            let n = tokio::time::timeout(WAIT, s.read(&mut buf))
                .await
                .expect("closed within the timeout")
                .unwrap_or(0);
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
        }
    })
    .await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    bounded(async {
        let (gw, _up) = gateway().await;
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        let one = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: gw\r\nOrigin: {ALLOWED}\r\n\r\n");
        let pipeline = format!(
            "{}{}OPTIONS /c HTTP/1.1\r\nHost: gw\r\nOrigin: {ALLOWED}\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n",
            one("/a"),
            one("/b")
        );
        s.write_all(pipeline.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        tokio::time::timeout(WAIT, s.read_to_end(&mut buf)).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&buf);
        let statuses: Vec<&str> = text
            .match_indices("HTTP/1.1 ")
            .map(|(i, _)| &text[i + 9..i + 12])
            .collect();
        assert_eq!(statuses, ["200", "200", "204"], "{text}");
        assert_eq!(text.matches(&format!("access-control-allow-origin: {ALLOWED}")).count(), 3);
    })
    .await;
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn abrupt_disconnects_leave_nothing_behind_and_memory_stays_bounded() {
    bounded(async {
        let (gw, _up) = gateway().await;
        // Warm up, then measure.
        for _ in 0..20 {
            still_serving(gw.addr).await;
        }
        let before = rss_kib();
        for round in 0..600 {
            let mut s = TcpStream::connect(gw.addr).await.unwrap();
            match round % 3 {
                // Half a head, then gone.
                0 => {
                    let _ = s.write_all(b"GET /x HTTP/1.1\r\nHost: gw\r\nX-A: ").await;
                }
                // A whole request with a 20 KiB header, gone before the answer.
                1 => {
                    let head = format!(
                        "GET /x HTTP/1.1\r\nHost: gw\r\nX-Pad: {}\r\n\r\n",
                        "p".repeat(20 * 1024)
                    );
                    let _ = s.write_all(head.as_bytes()).await;
                }
                // Half a body, then gone.
                _ => {
                    let _ = s
                        .write_all(
                            b"POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 100000\r\n\r\nabc",
                        )
                        .await;
                }
            }
            drop(s);
        }
        still_serving(gw.addr).await;
        // Connections drain back to none in flight.
        let mut open = f64::MAX;
        for _ in 0..50 {
            open = gw.metric("crossgate_connections_open");
            if open <= 1.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(open <= 1.0, "{open} connections still open");
        let growth = rss_kib().saturating_sub(before);
        assert!(
            growth < 64 * 1024,
            "memory grew by {growth} KiB over 600 hostile connections"
        );
    })
    .await;
}
