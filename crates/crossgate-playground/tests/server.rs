//! The playground's servers on loopback (port 0), spoken to over raw HTTP/1.1: what the page's
//! API answers, and what the scripted target sends, line for line.

use std::net::SocketAddr;
use std::time::Duration;

use crossgate::browser::Browser;
use crossgate_playground::server::Playground;
use crossgate_playground::simulate::simulate;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response as received: status, header lines in order, body.
struct Received {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// One request on a fresh connection (`Connection: close`), read to the end, within 5 s.
async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Received {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        let mut head =
            format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        // The API takes JSON only; a test that means otherwise says its own Content-Type.
        if method == "POST"
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).await.expect("writes");
        stream.write_all(body).await.expect("writes");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("reads");
        raw
    };
    let raw = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .expect("answered within 5 s");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8(raw[..split].to_vec()).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .expect("a status line")
        .split(' ')
        .nth(1)
        .expect("a code")
        .parse()
        .expect("a number");
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("a header line");
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    Received {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// A playground serving on 127.0.0.1, port 0, until the test ends.
async fn playground() -> (SocketAddr, SocketAddr, SocketAddr) {
    let playground = Playground::bind("127.0.0.1:0".parse().expect("an address"))
        .await
        .expect("binds");
    let addrs = (
        playground.page_addr(),
        playground.target_addr(),
        playground.redirect_addr(),
    );
    tokio::spawn(playground.serve(std::future::pending()));
    addrs
}

fn scenario() -> Value {
    json!({
        "origin": "http://127.0.0.1:9001",
        "request": {"url": "http://127.0.0.1:9002/items/1", "method": "PUT", "headers": [["X-Token", "a"]]},
        "responses": {
            "preflight": {"status": 204, "headers": [["Access-Control-Allow-Origin", "http://127.0.0.1:9001"]]},
            "actual": {"status": 200, "headers": [["Access-Control-Allow-Origin", "*"]]},
        },
    })
}

#[tokio::test]
async fn the_page_and_its_assets() {
    let (page, target, _) = playground().await;
    let index = send(page, "GET", "/", &[], b"").await;
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(index.body).expect("UTF-8");
    assert!(html.contains("CORS playground") && html.contains("/playground.js"));
    for (path, kind) in [
        ("/playground.js", "text/javascript"),
        ("/playground.css", "text/css"),
        ("/starts.json", "application/json"),
    ] {
        let asset = send(page, "GET", path, &[], b"").await;
        assert_eq!(asset.status, 200, "{path}");
        assert!(
            asset
                .header("content-type")
                .is_some_and(|t| t.starts_with(kind)),
            "{path}"
        );
        assert!(!asset.body.is_empty(), "{path}");
    }
    // The other origins serve runs only.
    assert_eq!(send(target, "GET", "/", &[], b"").await.status, 404);
    assert_eq!(
        send(target, "POST", "/api/simulate", &[], b"{}")
            .await
            .status,
        404
    );
    assert_eq!(send(page, "GET", "/nothing", &[], b"").await.status, 404);
}

/// `POST /api/simulate?browser=B` is byte for byte `simulate --json --browser B`.
#[tokio::test]
async fn api_simulate_is_the_simulate_document() {
    let (page, _, _) = playground().await;
    let input = scenario().to_string();
    for browser in Browser::ALL {
        let answer = send(
            page,
            "POST",
            &format!("/api/simulate?browser={}", browser.id()),
            &[],
            input.as_bytes(),
        )
        .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let expected = simulate(&input, browser).expect("simulates").to_json();
        assert_eq!(
            String::from_utf8(answer.body).expect("UTF-8"),
            expected,
            "{browser:?}"
        );
    }
    let bad = send(
        page,
        "POST",
        "/api/simulate?browser=firefox",
        &[],
        b"{\"origin\": 1}",
    )
    .await;
    assert_eq!(bad.status, 400);
    let error = simulate("{\"origin\": 1}", Browser::Firefox).expect_err("invalid");
    assert_eq!(
        String::from_utf8(bad.body).expect("UTF-8"),
        format!("{error}\n")
    );
    let unknown = send(
        page,
        "POST",
        "/api/simulate?browser=lynx",
        &[],
        input.as_bytes(),
    )
    .await;
    assert_eq!(unknown.status, 400);
    let huge = vec![b' '; 2 << 20];
    assert_eq!(
        send(page, "POST", "/api/simulate", &[], &huge).await.status,
        413
    );
}

/// A run: registered, its target answers exactly as scripted, in order, and the log says so.
#[tokio::test]
async fn a_run_answers_as_scripted_and_logs_it() {
    let (page, target, redirect) = playground().await;
    let page_origin = format!("http://{page}");
    let case = json!({
        "page": page_origin,
        "case": {
            "request": {"to": "target", "path": "/items/1?x=1", "method": "PUT", "headers": [["X-Token", "a"]]},
            "server": {"kind": "scripted",
                "preflight": [{"status": 204, "headers": [["Access-Control-Allow-Origin", "{origin}"], ["Access-Control-Allow-Methods", "PUT"], ["Access-Control-Allow-Headers", "x-token"]]}],
                "actual": [
                    {"status": 307, "headers": [["Access-Control-Allow-Origin", "{origin}"], ["Location", "{redirect}/next"]]},
                    {"status": 200, "headers": [["Access-Control-Allow-Origin", "*"], ["X-Two", "1"], ["X-Two", "2"]]},
                ]},
        },
    });
    let registered = send(
        page,
        "POST",
        "/api/runs",
        &[("Content-Type", "application/json")],
        case.to_string().as_bytes(),
    )
    .await;
    assert_eq!(
        registered.status,
        200,
        "{}",
        String::from_utf8_lossy(&registered.body)
    );
    let run = registered.json();
    let id = run["id"].as_str().expect("an id");
    assert_eq!(run["url"], format!("http://{target}/c/{id}/items/1?x=1"));
    assert_eq!(run["origins"]["redirect"], format!("http://{redirect}"));
    assert_eq!(run["origins"]["scheme"], format!("https://{page}"));
    for browser in Browser::ALL {
        let input = &run["simulate"][browser.id()];
        assert_eq!(input["origin"], page_origin);
        assert_eq!(input["request"]["url"], run["url"]);
    }
    let base = format!("/c/{id}");
    let preflight = send(
        target,
        "OPTIONS",
        &format!("{base}/items/1?x=1"),
        &[
            ("Origin", &page_origin),
            ("Access-Control-Request-Method", "PUT"),
        ],
        b"",
    )
    .await;
    assert_eq!(preflight.status, 204);
    // hyper answers this client's `Connection: close` in kind; a browser keeps the connection.
    let lines: Vec<(String, String)> = preflight
        .headers
        .iter()
        .filter(|(n, _)| n != "connection")
        .cloned()
        .collect();
    assert_eq!(
        lines,
        [
            (
                "access-control-allow-origin".to_owned(),
                page_origin.clone()
            ),
            ("access-control-allow-methods".to_owned(), "PUT".to_owned()),
            (
                "access-control-allow-headers".to_owned(),
                "x-token".to_owned()
            ),
        ],
        "exactly the scripted lines: no Date, no Content-Length on a 204"
    );
    let hop = send(
        target,
        "PUT",
        &format!("{base}/items/1?x=1"),
        &[("Origin", &page_origin)],
        b"",
    )
    .await;
    assert_eq!(hop.status, 307);
    assert_eq!(
        hop.header("location"),
        Some(format!("http://{redirect}/c/{id}/next").as_str())
    );
    let last = send(
        redirect,
        "PUT",
        &format!("{base}/next"),
        &[("Origin", "null")],
        b"",
    )
    .await;
    assert_eq!(last.status, 200);
    let twos: Vec<&str> = last
        .headers
        .iter()
        .filter(|(n, _)| n == "x-two")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(twos, ["1", "2"], "a repeated name is two lines");
    assert_eq!(
        last.header("content-length"),
        Some(last.body.len().to_string().as_str())
    );
    // Exactly the scripted lines, in order, then the framing the playground adds.
    let sent: Vec<(String, String)> = last
        .headers
        .iter()
        .filter(|(n, _)| n != "connection")
        .cloned()
        .collect();
    let length = last.body.len().to_string();
    let expected = [
        ("access-control-allow-origin", "*"),
        ("x-two", "1"),
        ("x-two", "2"),
        ("content-length", length.as_str()),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()));
    assert_eq!(sent, expected);
    // The prediction's engine stops at the second preflight (the redirect tainted the origin
    // and `{origin}` no longer matches `null`), and was given the target's repeated answer.
    let inputs = &run["simulate"]["chromium"]["responses"];
    assert_eq!(inputs["preflight"].as_array().map(Vec::len), Some(2));
    assert_eq!(inputs["preflight"][0], inputs["preflight"][1]);

    let seen = send(page, "GET", &format!("/api/runs/{id}"), &[], b"")
        .await
        .json();
    let seen = seen["seen"].as_array().expect("a log");
    let summary: Vec<(String, String, String, u64)> = seen
        .iter()
        .map(|s| {
            (
                s["at"].as_str().unwrap().into(),
                s["kind"].as_str().unwrap().into(),
                s["path"].as_str().unwrap().into(),
                s["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "target".into(),
                "preflight".into(),
                "/items/1?x=1".into(),
                204
            ),
            ("target".into(), "actual".into(), "/items/1?x=1".into(), 307),
            ("redirect".into(), "actual".into(), "/next".into(), 200),
        ]
    );
    assert!(
        seen[2]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "origin" && h[1] == "null")
    );
    assert_eq!(
        send(page, "GET", "/api/runs/nope", &[], b"").await.status,
        404
    );
    assert_eq!(send(target, "GET", "/c/nope/x", &[], b"").await.status, 404);
}

/// Same-origin and `host` requests reach the page's own listener, told apart by `Host`.
#[tokio::test]
async fn the_page_listener_answers_for_page_and_host() {
    let (page, _, _) = playground().await;
    let case = json!({"page": format!("http://{page}"), "case": {
        "request": {"to": "host", "path": "/doc1"},
        "server": {"kind": "scripted", "actual": [{"status": 200, "headers": []}]},
    }});
    let run = send(page, "POST", "/api/runs", &[], case.to_string().as_bytes())
        .await
        .json();
    let id = run["id"].as_str().expect("an id");
    assert_eq!(
        run["url"],
        format!("http://localhost:{}/c/{id}/doc1", page.port())
    );
    let host = format!("localhost:{}", page.port());
    let stream_request = |h: String| async move {
        let mut stream = TcpStream::connect(page).await.unwrap();
        let text = format!("GET /c/{id}/doc1 HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n");
        stream.write_all(text.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
    };
    stream_request(host).await;
    stream_request(page.to_string()).await;
    let seen = send(page, "GET", &format!("/api/runs/{id}"), &[], b"")
        .await
        .json();
    let at: Vec<&str> = seen["seen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["at"].as_str().unwrap())
        .collect();
    assert_eq!(at, ["host", "page"]);
}

/// A bad registration changes nothing and says every problem; a wrong page origin is refused.
#[tokio::test]
async fn bad_registrations_are_refused_with_every_problem() {
    let (page, _, _) = playground().await;
    let bad = json!({"page": format!("http://{page}"), "case": {
        "request": {"path": "x", "method": "GET", "body": "text"},
        "server": {"kind": "scripted", "actual": [{"status": 700, "headers": [["Transfer-Encoding", "chunked"]]}]},
    }});
    let answer = send(page, "POST", "/api/runs", &[], bad.to_string().as_bytes()).await;
    assert_eq!(answer.status, 400);
    let text = String::from_utf8(answer.body).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    let elsewhere = json!({"page": "http://127.0.0.1:1", "case": {"request": {}, "server": {"kind": "scripted"}}});
    let answer = send(
        page,
        "POST",
        "/api/runs",
        &[],
        elsewhere.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert!(
        String::from_utf8(answer.body)
            .unwrap()
            .contains("is not this playground's origin")
    );
    let garbage = send(page, "POST", "/api/runs", &[], b"{\"page\": 1").await;
    assert_eq!(garbage.status, 400);
}

/// The page and its API answer under the playground's own address only, and take JSON from
/// the page's own origin only: a rebinding or cross-site page gets nothing.
#[tokio::test]
async fn the_api_is_the_pages_own() {
    let (page, _, _) = playground().await;
    let input = scenario().to_string();
    let post = |headers: Vec<(String, String)>| {
        let input = input.clone();
        async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            send(page, "POST", "/api/simulate", &headers, input.as_bytes())
                .await
                .status
        }
    };
    let own = format!("http://{page}");
    assert_eq!(post(vec![("Origin".into(), own.clone())]).await, 200);
    assert_eq!(
        post(vec![("Origin".into(), "http://evil.example".into())]).await,
        403
    );
    assert_eq!(
        post(vec![("Content-Type".into(), "text/plain".into())]).await,
        415
    );
    // A name that is not an address: DNS rebinding.
    let mut stream = TcpStream::connect(page).await.unwrap();
    let head = format!(
        "GET /api/runs/x HTTP/1.1\r\nHost: rebind.example:{}\r\nConnection: close\r\n\r\n",
        page.port()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    assert!(
        raw.starts_with(b"HTTP/1.1 421 "),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    // Run ids are 128-bit keyed hashes: two in a row share nothing visible.
    let case =
        json!({"page": own, "case": {"request": {}, "server": {"kind": "scripted"}}}).to_string();
    let a = send(page, "POST", "/api/runs", &[], case.as_bytes())
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = send(page, "POST", "/api/runs", &[], case.as_bytes())
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!((a.len(), b.len()), (32, 32));
    assert_ne!(a[..8], b[..8]);
}

/// The page's port speaks TLS too (the `scheme` place), with the certificate it made.
#[tokio::test]
async fn the_pages_port_speaks_tls() {
    use tokio_rustls::rustls;
    let playground = Playground::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let page = playground.page_addr();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(
            playground.certificate_der().to_vec(),
        ))
        .unwrap();
    tokio::spawn(playground.serve(std::future::pending()));
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = TcpStream::connect(page).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    tls.write_all(b"GET /c/nope/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    // Over TLS it is the `scheme` origin: runs only, and this one does not exist.
    assert!(
        raw.starts_with(b"HTTP/1.1 404 "),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert!(String::from_utf8_lossy(&raw).contains("no such run"));
    // Plain HTTP on the same port still gets the page.
    assert_eq!(send(page, "GET", "/", &[], b"").await.status, 200);
}

/// Policy mode over HTTP: the target answers with crossgate's layer, and the prediction was
/// given those same answers.
#[tokio::test]
async fn a_policy_run_answers_with_the_layer() {
    let (page, target, _) = playground().await;
    let own = format!("http://{page}");
    let case = json!({"page": own, "case": {
        "request": {"method": "DELETE", "credentials": "include"},
        "server": {"kind": "policy", "policy": {"allow_origins": ["{origin}"], "allow_credentials": true, "allow_methods": ["DELETE"]}},
    }});
    let run = send(page, "POST", "/api/runs", &[], case.to_string().as_bytes())
        .await
        .json();
    let path = run["url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&format!("http://{target}"))
        .to_owned();
    let preflight = send(
        target,
        "OPTIONS",
        &path,
        &[
            ("Origin", &own),
            ("Access-Control-Request-Method", "DELETE"),
        ],
        b"",
    )
    .await;
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(own.as_str())
    );
    assert_eq!(
        preflight.header("access-control-allow-credentials"),
        Some("true")
    );
    let predicted: Vec<(String, String)> = serde_json::from_value(
        run["simulate"]["firefox"]["responses"]["preflight"][0]["headers"].clone(),
    )
    .unwrap();
    for (name, value) in &predicted {
        assert_eq!(preflight.header(name), Some(value.as_str()), "{name}");
    }
    let refused = send(
        target,
        "OPTIONS",
        &path,
        &[
            ("Origin", "http://evil.example"),
            ("Access-Control-Request-Method", "DELETE"),
        ],
        b"",
    )
    .await;
    assert_eq!(refused.header("access-control-allow-origin"), None);
}

/// The playground keeps the last 64 runs: the oldest goes.
#[tokio::test]
async fn old_runs_go() {
    let (page, _, _) = playground().await;
    let case = json!({"page": format!("http://{page}"), "case": {"request": {}, "server": {"kind": "scripted"}}}).to_string();
    let mut ids = Vec::new();
    for _ in 0..65 {
        ids.push(
            send(page, "POST", "/api/runs", &[], case.as_bytes())
                .await
                .json()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        send(page, "GET", &format!("/api/runs/{}", ids[0]), &[], b"")
            .await
            .status,
        404
    );
    assert_eq!(
        send(page, "GET", &format!("/api/runs/{}", ids[1]), &[], b"")
            .await
            .status,
        200
    );
    assert_eq!(
        send(page, "GET", &format!("/api/runs/{}", ids[64]), &[], b"")
            .await
            .status,
        200
    );
    // A case over 64 KiB is refused before it is read whole.
    let huge = json!({"page": format!("http://{page}"), "case": {"request": {"path": format!("/{}", "a".repeat(70_000))}, "server": {"kind": "scripted"}}});
    assert_eq!(
        send(page, "POST", "/api/runs", &[], huge.to_string().as_bytes())
            .await
            .status,
        413
    );
}

/// The page's self-test runs only with the token a harness was given: a link cannot start it.
#[tokio::test]
async fn the_self_test_needs_the_harness_token() {
    let bound = Playground::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let page = bound.page_addr();
    let token = bound.enable_self_test();
    assert_eq!(token.len(), 32);
    assert_eq!(bound.enable_self_test(), token, "one token per playground");
    tokio::spawn(bound.serve(std::future::pending()));
    assert_eq!(
        send(page, "GET", &format!("/api/selftest/{token}"), &[], b"")
            .await
            .status,
        200
    );
    assert_eq!(
        send(page, "GET", "/api/selftest/1", &[], b"").await.status,
        404
    );
    let (plain, _, _) = playground().await;
    assert_eq!(
        send(plain, "GET", "/api/selftest/1", &[], b"").await.status,
        404
    );
}
