//! The shared request/response vectors (crates/crossgate-vectors) through the real gateway: a
//! real upstream and the gateway on 127.0.0.1:0, each request written byte for byte on a socket.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestUpstream, bounded, full};
use crossgate::policy::{Policy, PolicyConfig};
use crossgate_gateway::Gateway;
use crossgate_vectors::{Handler, Observed, Report, expand, load_all, vectors};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn policy(config: &serde_json::Value) -> Policy {
    let mut problems = Vec::new();
    let config = PolicyConfig::from_value(config, "", &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    Policy::new(&config).expect("a valid vector policy")
}

/// Writes the request (ignoring a write cut short by a server that already answered, as one
/// does to an oversized head) and reads the response head.
async fn exchange(addr: std::net::SocketAddr, request: Vec<u8>) -> (u16, Vec<(String, Vec<u8>)>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(&request).await;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no response within 10 s"),
        }
    }
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&bytes)));
    let head = &bytes[..end];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = String::from_utf8_lossy(lines.next().unwrap()).into_owned();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
            let value = line[colon + 1..].trim_ascii().to_vec();
            Some((name, value))
        })
        .collect();
    (status, headers)
}

fn request_bytes(vector: &crossgate_vectors::Vector<'_>, addr: std::net::SocketAddr) -> Vec<u8> {
    let request = &vector.case.request;
    let mut bytes = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\n",
        request.method, request.path
    )
    .into_bytes();
    for (name, value) in expand(&request.headers) {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(&value);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"Connection: close\r\n\r\n");
    bytes
}

#[tokio::test]
async fn every_vector_through_the_gateway() {
    bounded(run()).await;
}

async fn run() {
    // One upstream for all cases: it answers with the current case's handler and counts requests.
    let current: Arc<Mutex<Handler>> = Arc::new(Mutex::new(Handler::default()));
    let answer = Arc::clone(&current);
    let upstream = TestUpstream::start(move |_request| {
        let handler = answer.lock().unwrap().clone();
        async move {
            let mut response = Response::new(full("bar"));
            *response.status_mut() = StatusCode::from_u16(handler.status).unwrap();
            for (name, value) in expand(&handler.headers) {
                response.headers_mut().append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_bytes(&value).unwrap(),
                );
            }
            response
        }
    })
    .await;

    let files = load_all();
    let mut report = Report::new("gateway");
    let mut gateways: Vec<(
        String,
        std::net::SocketAddr,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )> = Vec::new();
    for vector in vectors(&files) {
        let key = vector.label().rsplit_once(" / ").unwrap().0.to_owned();
        if gateways.last().map(|(k, _, _)| k) != Some(&key) {
            let bound = Gateway::bind(
                "127.0.0.1:0".parse().unwrap(),
                upstream.upstream(),
                policy(&vector.suite.policy),
            )
            .await
            .unwrap();
            let addr = bound.local_addr();
            let task = tokio::spawn(bound.serve(std::future::pending()));
            gateways.push((key, addr, task));
        }
        let addr = gateways.last().unwrap().1;
        *current.lock().unwrap() = vector.handler().clone();
        let before = upstream.requests().len();
        let (status, headers) = exchange(addr, request_bytes(&vector, addr)).await;
        let observed = Observed {
            status,
            reached: upstream.requests().len() > before,
            headers,
        };
        report.record(&vector, &observed);
    }
    for (_, _, task) in gateways {
        task.abort();
    }
    report.finish();
}
