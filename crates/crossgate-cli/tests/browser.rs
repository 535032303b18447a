//! `crossgate check`, `simulate` and `origin` as users run them: check against local servers
//! (127.0.0.1, port 0) that misbehave in each known way; simulate on the very responses check
//! received must agree; bad input exits 2 with one line.

mod support;

use std::net::TcpListener;

use serde_json::{Value, json};
use support::{crossgate, server, stdout_json};
const PAGE: &str = "http://127.0.0.1:9001";

fn check_json(url: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["check", url, "--origin", PAGE, "--json", "--timeout", "10"];
    args.extend_from_slice(extra);
    let out = crossgate(&args, None);
    (out.status.code(), stdout_json(&out))
}

fn allow(origin: &str) -> Vec<(&'static str, String)> {
    vec![("Access-Control-Allow-Origin", origin.to_owned())]
}

/// The simulate input made of what check received: same request, same responses.
fn simulation_of(
    check: &Value,
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    credentials: &str,
) -> Value {
    let mut preflights = Vec::new();
    let mut actual = Vec::new();
    for e in check["exchanges"].as_array().unwrap() {
        let response =
            json!({"status": e["response"]["status"], "headers": e["response"]["headers"]});
        match e["kind"].as_str().unwrap() {
            "preflight" => preflights.push(response),
            _ => actual.push(response),
        }
    }
    json!({
        "origin": PAGE,
        "request": {"url": url, "method": method, "credentials": credentials,
                    "headers": headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>()},
        "responses": {"preflight": preflights, "actual": actual},
    })
}

/// Runs check, then simulate on its exchanges, and asserts they agree; returns check's report.
fn check_and_simulate(
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    credentials: &str,
) -> (Option<i32>, Value) {
    let mut args: Vec<String> = vec![
        "-X".into(),
        method.into(),
        "--credentials".into(),
        credentials.into(),
    ];
    for (n, v) in headers {
        args.push("-H".into());
        args.push(format!("{n}: {v}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, live) = check_json(url, &refs);
    let input = simulation_of(&live, url, method, headers, credentials).to_string();
    let out = crossgate(&["simulate", "--json"], Some(&input));
    let offline: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("simulate failed: {}", String::from_utf8_lossy(&out.stderr)));
    for key in [
        "allowed",
        "error",
        "preflight",
        "origin_sent",
        "exposed_headers",
    ] {
        assert_eq!(
            live[key], offline[key],
            "check and simulate disagree on {key}"
        );
    }
    assert_eq!(code, out.status.code(), "the same exit code");
    (code, live)
}

#[test]
fn auth_middleware_answering_the_preflight() {
    let addr = server(|req| {
        if req.header("authorization").is_none() {
            return (401, vec![("WWW-Authenticate", "Bearer".to_owned())]);
        }
        (200, allow(PAGE))
    });
    let url = format!("http://{addr}/items");
    let (code, r) = check_and_simulate(&url, "PUT", &[("Authorization", "Bearer t")], "include");
    assert_eq!(code, Some(1));
    assert_eq!(r["error"]["code"], "PreflightMissingAllowOriginHeader");
    assert_eq!(r["error"]["status"], 401);
    assert_eq!(
        r["error"]["messages"]["chromium"],
        "Response to preflight request doesn't pass access control check: No \
         'Access-Control-Allow-Origin' header is present on the requested resource."
    );
    assert_eq!(
        r["error"]["messages"]["webkit"],
        "Preflight response is not successful. Status code: 401"
    );
    assert!(
        r["explanation"]["likely_cause"]
            .as_str()
            .unwrap()
            .contains("Authentication")
    );
    // The preflight carried no credentials: no Authorization reached the server on it.
    let preflight = &r["exchanges"][0]["request"];
    assert_eq!(preflight["method"], "OPTIONS");
    assert!(
        !preflight["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "Authorization"),
        "{preflight}"
    );
}

#[test]
fn a_redirect_on_the_preflight() {
    let addr = server(|req| {
        if req.path == "/items" {
            (301, vec![("Location", "/items/".to_owned())])
        } else {
            (200, allow(PAGE))
        }
    });
    let url = format!("http://{addr}/items");
    let (code, r) = check_and_simulate(&url, "DELETE", &[], "same-origin");
    assert_eq!(code, Some(1));
    assert_eq!(r["error"]["code"], "PreflightDisallowedRedirect");
    assert!(
        r["explanation"]["summary"]
            .as_str()
            .unwrap()
            .contains("/items/")
    );
    assert_eq!(
        r["exchanges"].as_array().unwrap().len(),
        1,
        "the agent follows nothing"
    );
}

#[test]
fn an_error_page_without_cors_headers() {
    let addr = server(|_| (500, vec![]));
    let url = format!("http://{addr}/boom");
    let (code, r) = check_and_simulate(&url, "GET", &[], "same-origin");
    assert_eq!(code, Some(1));
    assert_eq!(r["error"]["code"], "MissingAllowOriginHeader");
    assert_eq!(r["error"]["status"], 500);
    assert!(
        r["error"]["messages"]["firefox"]
            .as_str()
            .unwrap()
            .ends_with("Status code: 500.")
    );
    assert!(
        r["explanation"]["summary"]
            .as_str()
            .unwrap()
            .contains("500")
    );
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
    let url = format!("http://{addr}/me");
    let (code, r) = check_and_simulate(&url, "GET", &[], "include");
    assert_eq!(code, Some(1));
    assert_eq!(r["error"]["code"], "WildcardOriginNotAllowed");
    assert!(r["explanation"]["fix"][0].as_str().unwrap().contains(PAGE));
}

#[test]
fn lowercase_patch() {
    let addr = server(|req| {
        let mut h = allow(PAGE);
        if req.method == "OPTIONS" {
            h.push(("Access-Control-Allow-Methods", "GET, PATCH".to_owned()));
        }
        (204, h)
    });
    let url = format!("http://{addr}/items/1");
    let (code, r) = check_and_simulate(&url, "patch", &[], "same-origin");
    assert_eq!(code, Some(1));
    assert_eq!(r["preflight"]["headers"][0][1], "patch", "sent as written");
    assert_eq!(r["error"]["code"], "MethodDisallowedByPreflightResponse");
    assert_eq!(r["error"]["parameter"], "patch");
    assert!(
        r["explanation"]["likely_cause"]
            .as_str()
            .unwrap()
            .contains("lower case")
    );
}

#[test]
fn a_header_missing_from_the_allow_list() {
    let addr = server(|req| {
        let mut h = allow(PAGE);
        if req.method == "OPTIONS" {
            h.push(("Access-Control-Allow-Headers", "x-token".to_owned()));
        }
        (204, h)
    });
    let url = format!("http://{addr}/items");
    let (code, r) = check_and_simulate(
        &url,
        "POST",
        &[("Content-Type", "application/json"), ("X-Token", "t")],
        "same-origin",
    );
    assert_eq!(code, Some(1));
    assert_eq!(r["preflight"]["headers"][1][1], "content-type,x-token");
    assert_eq!(r["error"]["code"], "HeaderDisallowedByPreflightResponse");
    assert_eq!(
        r["error"]["messages"]["chromium"],
        "Request header field content-type is not allowed by Access-Control-Allow-Headers in \
         preflight response."
    );
    assert!(
        r["explanation"]["fix"][0]
            .as_str()
            .unwrap()
            .contains("content-type")
    );
}

#[test]
fn a_correct_server_with_a_redirect() {
    // The agent follows the redirect itself: each hop is checked, the Origin sent on each.
    let addr = server(|req| {
        let mut h = allow(PAGE);
        h.push(("Access-Control-Allow-Credentials", "true".to_owned()));
        if req.path == "/old" {
            h.push(("Location", "/new".to_owned()));
            return (302, h);
        }
        h.push(("Access-Control-Expose-Headers", "x-request-id".to_owned()));
        h.push(("X-Request-Id", "42".to_owned()));
        h.push(("Set-Cookie", "s=1".to_owned()));
        (200, h)
    });
    let url = format!("http://{addr}/old");
    let (code, r) = check_and_simulate(&url, "GET", &[("Cookie", "s=1")], "include");
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(r["allowed"], true);
    assert_eq!(r["origin_sent"], json!([PAGE, PAGE]));
    assert_eq!(
        r["exposed_headers"],
        json!(["content-length", "x-request-id"])
    );
    // The cookie stood for the browser's: sent with credentials, on both hops.
    for e in r["exchanges"].as_array().unwrap() {
        assert_eq!(e["request"]["credentials"], true);
    }
}

#[test]
fn check_exits_2_when_it_cannot_ask() {
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = crossgate(
        &[
            "check",
            &format!("http://{dead}/x"),
            "--origin",
            PAGE,
            "--timeout",
            "5",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not ask"), "{stderr}");
    for bad in [
        vec!["check", "not a url", "--origin", PAGE],
        vec!["check", "http://127.0.0.1:1/", "--origin", "nope"],
        vec![
            "check",
            "http://127.0.0.1:1/",
            "--origin",
            PAGE,
            "-H",
            "no colon",
        ],
    ] {
        let out = crossgate(&bad, None);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim().lines().count(),
            1
        );
    }
}

#[test]
fn simulate_bad_input_exits_2_with_one_line() {
    let cases = [
        "{not json",
        r#"{"origin": "http://a.test", "request": {"url": "::"}}"#,
        r#"{"origin": "http://a.test", "request": {"url": "http://b.test/", "headers": [["X-A", "1\r\nX-B: 2"]]}}"#,
        r#"{"origin": "http://a.test", "request": {"url": "http://b.test/", "method": "PUT"}, "responses": {}}"#,
        r#"{"origin": "http://a.test", "request": {"url": "http://b.test/"}, "surprise": true}"#,
    ];
    for input in cases {
        let out = crossgate(&["simulate"], Some(input));
        assert_eq!(out.status.code(), Some(2), "{input}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{input}: {stderr}");
        assert!(out.stdout.is_empty(), "{input}");
    }
}

#[test]
fn simulate_the_contract_example() {
    let input = json!({
        "origin": "http://127.0.0.1:9001",
        "request": {
            "url": "http://127.0.0.1:9002/items/1",
            "method": "PUT",
            "headers": [["Content-Type", "application/json"], ["X-Token", "a"]],
            "credentials": "same-origin",
            "mode": "cors"
        },
        "responses": {
            "preflight": {"status": 204, "headers": [["Access-Control-Allow-Origin", "http://127.0.0.1:9001"]]},
            "actual": {"status": 200, "headers": [["Access-Control-Allow-Origin", "*"]]}
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sim.json");
    std::fs::write(&file, input.to_string()).unwrap();
    let out = crossgate(&["simulate", "--json", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["allowed"], false);
    assert_eq!(r["preflight"]["sent"], true);
    assert_eq!(r["preflight"]["method"], "OPTIONS");
    assert_eq!(
        r["preflight"]["headers"],
        json!([
            ["Access-Control-Request-Method", "PUT"],
            ["Access-Control-Request-Headers", "content-type,x-token"]
        ])
    );
    assert_eq!(r["error"]["code"], "MethodDisallowedByPreflightResponse");
    assert_eq!(r["error"]["stage"], "preflight");
    assert_eq!(r["error"]["parameter"], "PUT");
    assert_eq!(
        r["error"]["messages"]["chromium"],
        "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response."
    );
    assert_eq!(r["exposed_headers"], json!([]));
    assert_eq!(r["origin_sent"], json!([]));
    // Human output, another browser.
    let out = crossgate(
        &["simulate", "--browser", "firefox", file.to_str().unwrap()],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("blocked by Firefox"), "{text}");
    assert!(text.contains("fix: Add `PUT`"), "{text}");
}

#[test]
fn origin_command() {
    let run = |args: &[&str]| {
        let out = crossgate(args, None);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = run(&["origin", "https://mysite.com/doc1"]);
    assert_eq!((code, text.trim()), (Some(0), "https://mysite.com"));
    let (code, text) = run(&["origin", "data:text/plain,hi"]);
    assert_eq!((code, text.trim()), (Some(0), "null"));
    for (other, differs) in [
        ("http://mysite.com/doc1", json!(["scheme", "port"])),
        ("https://mysite.com:4000/doc1", json!(["port"])),
        ("https://anothersite.com/doc1", json!(["host"])),
    ] {
        let out = crossgate(
            &["origin", "https://mysite.com/doc1", other, "--json"],
            None,
        );
        assert_eq!(out.status.code(), Some(1), "{other}");
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["same_origin"], false);
        assert_eq!(doc["differs"], differs, "{other}");
    }
    let out = crossgate(
        &[
            "origin",
            "https://a.example.com/x",
            "https://b.example.com:443/y",
            "--json",
        ],
        None,
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["same_site"], true);
    assert_eq!(
        doc["origins"],
        json!(["https://a.example.com", "https://b.example.com"])
    );
    let (code, text) = run(&["origin", "http://x.test/a", "http://x.test:80/b"]);
    assert_eq!(code, Some(0));
    assert!(text.contains("same origin"), "{text}");
    let out = crossgate(&["origin", "not a url"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_lists_every_command() {
    let out = crossgate(&["--help"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "lint", "simulate", "check", "origin"] {
        assert!(text.contains(command), "{command} missing from --help");
    }
}

#[test]
fn simulate_a_sequence_shares_the_preflight_cache() {
    let allow = json!({"status": 204, "headers": [
        ["Access-Control-Allow-Origin", PAGE], ["Access-Control-Allow-Methods", "PUT"],
        ["Access-Control-Max-Age", "600"]]});
    let ok = json!({"status": 200, "headers": [["Access-Control-Allow-Origin", PAGE]]});
    let step = |after: u64, preflight: bool| {
        let mut responses = json!({"actual": ok});
        if preflight {
            responses["preflight"] = allow.clone();
        }
        json!({"after_ms": after, "request": {"url": "http://127.0.0.1:9002/x", "method": "PUT"},
               "responses": responses})
    };
    // The second PUT, 1 s later, is served from the cache (the input gives it no preflight
    // response); the third, past the 600 s max-age, is preflighted again.
    let input =
        json!({"origin": PAGE, "steps": [step(0, true), step(1000, false), step(601_000, true)]});
    let out = crossgate(&["simulate", "--json"], Some(&input.to_string()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sent: Vec<bool> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["preflight"]["sent"].as_bool().unwrap())
        .collect();
    assert_eq!(sent, [true, false, true]);
}
