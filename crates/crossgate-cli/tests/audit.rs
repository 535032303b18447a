//! `crossgate audit` against a corpus of local servers (127.0.0.1, port 0), each misconfigured in
//! exactly one way, plus the peers' permissive presets in real apps; correct servers (crossgate's
//! own gateway, tower-http with an exact list) must produce nothing above `info`. The audited
//! host is named with `-H Host: api.example.com`, as CONTRACTS §7 allows.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{BIN, Seen, crossgate, server, server_on};

const HOST: &str = "api.example.com";
const OWN: &str = "http://api.example.com";

/// Answers every request (simple or preflight alike) with these CORS headers for `origin`, or
/// none when `allow` refuses it; `Vary: Origin` always unless `vary` is false.
fn cors_server(
    allow: impl Fn(&str) -> bool + Send + Sync + 'static,
    credentials: bool,
    vary: bool,
    extra: Vec<(&'static str, &'static str)>,
) -> SocketAddr {
    server(move |req: &Seen| {
        let mut h: Vec<(&'static str, String)> =
            extra.iter().map(|(n, v)| (*n, v.to_string())).collect();
        if vary {
            h.push(("Vary", "Origin".to_owned()));
        }
        if let Some(origin) = req.header("origin")
            && allow(origin)
        {
            h.push(("Access-Control-Allow-Origin", origin.to_owned()));
            if credentials {
                h.push(("Access-Control-Allow-Credentials", "true".to_owned()));
            }
        }
        (200, h)
    })
}

/// Runs the audit and returns (exit code, the JSON report).
fn audit(addr: SocketAddr, extra: &[&str]) -> (Option<i32>, Value) {
    let url = format!("http://{addr}/api/items");
    let host = format!("Host: {HOST}");
    let mut args = vec![
        "audit",
        url.as_str(),
        "--format",
        "json",
        "-H",
        host.as_str(),
        "--timeout",
        "10",
    ];
    args.extend_from_slice(extra);
    let out = crossgate(&args, None);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), doc)
}

/// The (class, severity) pairs above `info`.
fn significant(doc: &Value) -> Vec<(String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| {
            (
                f["class"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Every (class, severity) pair, `info` included.
fn every_finding(doc: &Value) -> Vec<(String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["class"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn expect_only(addr: SocketAddr, class: &str, severity: &str) -> Value {
    expect(addr, &[(class, severity)])
}

/// The audit finds exactly `expected` above `info` (most severe first), and fails
/// `--fail-on high` only when one of them is high or critical.
fn expect(addr: SocketAddr, expected: &[(&str, &str)]) -> Value {
    let (code, doc) = audit(addr, &[]);
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(c, s)| (c.to_string(), s.to_string()))
        .collect();
    assert_eq!(significant(&doc), expected, "{doc:#}");
    let fails = expected
        .iter()
        .any(|(_, s)| matches!(s.as_str(), "high" | "critical"));
    assert_eq!(code, Some(if fails { 1 } else { 0 }), "--fail-on high");
    let requests = doc["requests"].as_u64().unwrap();
    assert!(requests > 50 && requests <= 400, "bounded: {requests}");
    doc
}

#[test]
fn reflect_any_origin_with_credentials() {
    let addr = cors_server(|_| true, true, true, vec![]);
    let doc = expect_only(addr, "origin-reflection", "high");
    let f = &doc["findings"][0];
    assert_eq!(f["evidence"]["status"], 200);
    assert!(f["explanation"].as_str().unwrap().contains("cookies"));
    assert!(!f["remediation"].as_str().unwrap().is_empty());
}

#[test]
fn trust_null() {
    let addr = cors_server(|o| o == OWN || o == "null", true, true, vec![]);
    let doc = expect_only(addr, "null-origin", "high");
    assert_eq!(doc["findings"][0]["probe_origin"], "null");
}

#[test]
fn suffix_match_bug() {
    // origin.endswith("example.com")
    let addr = cors_server(|o| o.ends_with("example.com"), true, true, vec![]);
    expect_only(addr, "suffix-match", "high");
}

#[test]
fn prefix_match_bug() {
    // origin.startswith("http://api.example.com")
    let addr = cors_server(|o| o.starts_with(OWN), true, true, vec![]);
    expect_only(addr, "prefix-match", "high");
}

/// The host of an `Origin` header value, parsed as a server with a URL parser does (Express's
/// `new URL(origin).hostname`, Python's `urlsplit`): a value that is not a URL has none.
fn origin_host(origin: &str) -> Option<String> {
    url::Url::parse(origin)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
}

/// Audits `url` (no `Host` header: the URL names the target) and returns the significant
/// findings.
fn audit_url(url: &str, extra: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["audit", url, "--format", "json", "--timeout", "10"];
    args.extend_from_slice(extra);
    let out = crossgate(&args, None);
    let doc = support::stdout_json(&out);
    significant(&doc)
}

/// A server on a non-default port that trusts every origin whose host starts with its own host
/// name: the prefix probe must put the port after the made-up host, not inside it.
#[test]
fn host_prefix_on_a_non_default_port() {
    let named = |host: &'static str| {
        cors_server(
            move |o| origin_host(o).is_some_and(|h| h.starts_with(host)),
            true,
            true,
            vec![],
        )
    };
    let addr = named("api.example.com");
    let url = format!("http://{addr}/api/items");
    let found = audit_url(&url, &["-H", "Host: api.example.com:8443"]);
    assert_eq!(found, [("prefix-match".to_owned(), "high".to_owned())]);
    // IPv4, by address.
    let addr = named("127.0.0.1");
    let found = audit_url(&format!("http://{addr}/x"), &[]);
    assert_eq!(found, [("prefix-match".to_owned(), "high".to_owned())]);
    // localhost, by name.
    let addr = named("localhost");
    let found = audit_url(&format!("http://localhost:{}/x", addr.port()), &[]);
    assert_eq!(found, [("prefix-match".to_owned(), "high".to_owned())]);
    // A prefix check of the whole own origin, port included (`startsWith("http://127.0.0.1:
    // 4000")`): no host passes it, only ports that extend the target's (40001), which is port
    // trust. (The old probe `http://127.0.0.1:4000.x.example`, no origin at all, passed it and
    // was reported as a prefix match.)
    let addr = cors_server(
        |o| o.starts_with("http://api.example.com:4000"),
        true,
        true,
        vec![],
    );
    let found = audit_url(
        &format!("http://{addr}/x"),
        &["-H", "Host: api.example.com:4000"],
    );
    assert_eq!(found, [("port-trust".to_owned(), "low".to_owned())]);
}

/// IPv6: no name can start with a literal, so the loose check shows as the port it ignores.
#[test]
fn ipv6_target_trusting_every_port() {
    let addr = server_on("[::1]:0", |req: &Seen| {
        let mut h = vec![("Vary", "Origin".to_owned())];
        if let Some(o) = req.header("origin")
            && o.starts_with("http://[::1]")
        {
            h.push(("Access-Control-Allow-Origin", o.to_owned()));
            h.push(("Access-Control-Allow-Credentials", "true".to_owned()));
        }
        (200, h)
    });
    let found = audit_url(&format!("http://{addr}/x"), &[]);
    assert_eq!(found, [("port-trust".to_owned(), "low".to_owned())]);
}

#[test]
fn unescaped_dot_regex() {
    // ^http://api.example.com$ with the dots unescaped: `.` matches any one character.
    let addr = cors_server(
        |o| o.len() == OWN.len() && OWN.bytes().zip(o.bytes()).all(|(p, c)| p == b'.' || p == c),
        true,
        true,
        vec![],
    );
    expect_only(addr, "unescaped-dot", "high");
}

#[test]
fn any_subdomain_over_http() {
    let addr = cors_server(
        |o| o == OWN || (o.starts_with("http://") && o.ends_with(".example.com")),
        true,
        true,
        vec![],
    );
    expect_only(addr, "subdomain-trust", "medium");
}

#[test]
fn wildcard_with_credentials() {
    let addr = server(|_| {
        (
            200,
            vec![
                ("Access-Control-Allow-Origin", "*".to_owned()),
                ("Access-Control-Allow-Credentials", "true".to_owned()),
            ],
        )
    });
    // Browsers refuse `*` to credentialed requests: the pair grants what `*` alone grants, which
    // on a public host is nothing a request from anywhere cannot get.
    let doc = expect(addr, &[]);
    assert!(
        every_finding(&doc).contains(&("wildcard-with-credentials".to_owned(), "info".to_owned())),
        "{doc:#}"
    );
}

#[test]
fn dynamic_acao_without_vary() {
    let addr = cors_server(
        |o| o == OWN || o == "http://app.example.com",
        true,
        false,
        vec![("Cache-Control", "public, max-age=300")],
    );
    // A shared cache may store one origin's answer and deny it to the other: availability,
    // not a grant (no attacker's origin is admitted).
    expect_only(addr, "missing-vary", "low");
}

/// Echoes the preflight's requested headers to the origins `allow` admits (with credentials);
/// `any_method`: echoes the requested method too, otherwise refuses one it does not know with
/// a 400, as Starlette does.
fn echoing_server(allow: fn(&str) -> bool, any_method: bool) -> SocketAddr {
    server(move |req: &Seen| {
        let mut h = vec![("Vary", "Origin".to_owned())];
        let Some(origin) = req.header("origin").filter(|o| allow(o)) else {
            return (204, h);
        };
        h.push(("Access-Control-Allow-Origin", origin.to_owned()));
        h.push(("Access-Control-Allow-Credentials", "true".to_owned()));
        if let Some(m) = req.header("access-control-request-method") {
            let known = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"].contains(&m);
            if !known && !any_method {
                return (400, h);
            }
            h.push(("Access-Control-Allow-Methods", m.to_owned()));
        }
        if let Some(hs) = req.header("access-control-request-headers") {
            h.push(("Access-Control-Allow-Headers", hs.to_owned()));
        }
        (204, h)
    })
}

#[test]
fn preflight_echoing_any_method_and_header() {
    // Only the own origin passes: the echo grants an attacker nothing (info).
    let doc = expect(echoing_server(|o| o == OWN, true), &[]);
    let echo = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["class"] == "preflight-reflection")
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(echo["severity"], "info");
    let text = echo["explanation"].as_str().unwrap();
    assert!(
        text.contains("x-crossgate-probe") && text.contains("CROSSGATE-PROBE"),
        "{text}"
    );
    // Subdomains with credentials pass too: the echo widens a medium read (low).
    let subdomains = |o: &str| o == OWN || o.ends_with(".api.example.com");
    expect(
        echoing_server(subdomains, true),
        &[
            ("subdomain-trust", "medium"),
            ("preflight-reflection", "low"),
        ],
    );
}

#[test]
fn a_preflight_refusing_unknown_methods_still_shows_an_echoed_header() {
    let doc = expect(
        echoing_server(|_| true, false),
        &[
            ("origin-reflection", "high"),
            ("preflight-reflection", "medium"),
        ],
    );
    let echo = &doc["findings"].as_array().unwrap()[1];
    let text = echo["explanation"].as_str().unwrap();
    assert!(
        text.contains("x-crossgate-probe") && !text.contains("CROSSGATE-PROBE"),
        "{text}"
    );
}

/// Runs an axum app with `layer` on 127.0.0.1:0 in a background runtime.
fn axum_app(layer: tower_http::cors::CorsLayer) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new()
                .route("/api/items", axum::routing::get(|| async { "[]" }))
                .layer(layer);
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(20)).unwrap()
}

#[test]
fn tower_http_mirror_request_with_credentials() {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let addr = axum_app(
        CorsLayer::new()
            .allow_origin(AllowOrigin::mirror_request())
            .allow_credentials(true),
    );
    expect_only(addr, "origin-reflection", "high");
}

#[test]
fn actix_cors_permissive() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(|| {
                actix_web::App::new()
                    .wrap(actix_cors::Cors::permissive())
                    .route("/api/items", actix_web::web::get().to(|| async { "[]" }))
            })
            .workers(1)
            .bind("127.0.0.1:0")
            .unwrap();
            tx.send(server.addrs()[0]).unwrap();
            server.run().await.unwrap();
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    expect(
        addr,
        &[
            ("origin-reflection", "high"),
            ("preflight-reflection", "medium"),
        ],
    );
}

#[test]
fn tower_http_with_an_exact_list_is_clean() {
    use tower_http::cors::CorsLayer;
    let addr = axum_app(
        CorsLayer::new()
            .allow_origin(["https://app.example.com"
                .parse::<http::HeaderValue>()
                .unwrap()])
            .allow_credentials(true)
            .allow_methods([http::Method::GET, http::Method::PUT])
            .allow_headers([http::header::CONTENT_TYPE]),
    );
    let (code, doc) = audit(addr, &["--fail-on", "low"]);
    assert!(significant(&doc).is_empty(), "{doc:#}");
    assert_eq!(code, Some(0));
}

/// `crossgate serve` with a strict policy, read from its start line.
struct Gateway(Child, SocketAddr);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn crossgates_own_gateway_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        "[cors]\nallow_origins = [\"https://app.example.com\"]\nallow_credentials = true\n\
         allow_methods = [\"PUT\"]\nallow_headers = [\"content-type\"]\n",
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on http://") {
                let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("serve starts");
    let gateway = Gateway(child, addr);
    let (code, doc) = audit(gateway.1, &["--fail-on", "low"]);
    assert!(significant(&doc).is_empty(), "{doc:#}");
    assert_eq!(code, Some(0));
}

#[test]
fn headers_given_with_h_are_masked_in_every_output() {
    let addr = cors_server(|_| true, true, true, vec![]);
    let url = format!("http://{addr}/api/items");
    for format in ["text", "json", "sarif"] {
        let out = crossgate(
            &[
                "audit",
                &url,
                "--format",
                format,
                "-H",
                "Host: api.example.com",
                "-H",
                "Cookie: session=s3cr3t-cookie",
                "-H",
                "Authorization: Bearer t0k3n",
                "--max-requests",
                "60",
            ],
            None,
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains("s3cr3t-cookie") && !all.contains("t0k3n"),
            "{format}: {all}"
        );
        // Credentials were sent: the reflection is critical.
        assert_eq!(out.status.code(), Some(1), "{format}");
        if format == "json" {
            let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(doc["findings"][0]["severity"], "critical");
            assert_eq!(doc["requests"], 60, "the request budget holds");
            assert!(doc["requests_planned"].as_u64().unwrap() > 60);
        }
        if format == "sarif" {
            let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(doc["version"], "2.1.0");
            let run = &doc["runs"][0];
            assert_eq!(run["tool"]["driver"]["name"], "crossgate");
            assert_eq!(run["results"][0]["ruleId"], "origin-reflection");
            assert_eq!(run["results"][0]["level"], "error");
            assert!(
                run["tool"]["driver"]["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["id"] == "origin-reflection")
            );
        }
    }
}

#[test]
fn politeness_and_errors() {
    let out = crossgate(&["audit", "http://127.0.0.1:1/x", "-X", "DELETE"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-unsafe-methods"));
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = crossgate(
        &[
            "audit",
            &format!("http://{dead}/x"),
            "--timeout",
            "5",
            "--max-requests",
            "10",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not reach"));
    // A delay paces each worker: 10 requests, one worker, 50 ms apart take at least 450 ms.
    let addr = cors_server(|o| o == OWN, true, true, vec![]);
    let started = std::time::Instant::now();
    let (code, doc) = audit(
        addr,
        &[
            "--concurrency",
            "1",
            "--delay",
            "50",
            "--max-requests",
            "10",
        ],
    );
    assert_eq!(code, Some(0));
    assert_eq!(doc["requests"], 10);
    assert!(started.elapsed() >= Duration::from_millis(450));
}

#[test]
fn reads_without_credentials_count_only_on_an_internal_target() {
    let pair = |c: &str, s: &str| (c.to_owned(), s.to_owned());
    let wildcard = server(|_| (200, vec![("Access-Control-Allow-Origin", "*".to_owned())]));
    let reflecting = cors_server(|_| true, false, true, vec![]);
    for (addr, class) in [
        (wildcard, "wildcard-origin"),
        (reflecting, "origin-reflection"),
    ] {
        // api.example.com is public: a read without cookies gets what curl gets.
        let (code, public) = audit(addr, &["--fail-on", "low"]);
        assert_eq!(significant(&public), [], "{public:#}");
        assert!(
            every_finding(&public).contains(&pair(class, "info")),
            "{public:#}"
        );
        assert_eq!(code, Some(0));
        // Said to be reachable only inside: the visitor's browser is the way in.
        let (code, internal) = audit(addr, &["--internal", "--fail-on", "medium"]);
        assert_eq!(
            significant(&internal),
            [pair(class, "medium")],
            "{internal:#}"
        );
        assert_eq!(code, Some(1));
    }
}
