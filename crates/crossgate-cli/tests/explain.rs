//! `crossgate explain` as users run it: messages pasted as arguments or on stdin, from each
//! engine, noise and all; JSON per the contract; exit codes; `--check` against servers on
//! 127.0.0.1 that still fail, now pass, or fail differently.

mod support;

use serde_json::Value;
use support::{crossgate, readme_block, server, stdout_json};

const CHROMIUM_PREFLIGHT_401: &str = "(index):1 Access to fetch at 'https://api.example.com/v1/items' \
    from origin 'https://app.example.com' has been blocked by CORS policy: Response to preflight \
    request doesn't pass access control check: No 'Access-Control-Allow-Origin' header is present \
    on the requested resource.\n\
    app.js:14  PUT https://api.example.com/v1/items net::ERR_FAILED 401 (Unauthorized)\n\
    Uncaught (in promise) TypeError: Failed to fetch";

const FIREFOX_METHOD: &str = "Cross-Origin Request Blocked: The Same Origin Policy disallows \
    reading the remote resource at https://api.example.com/v1/items. (Reason: Did not find method \
    in CORS header ‘Access-Control-Allow-Methods’). [Learn More]";

const WEBKIT_HEADER: &str = "[Error] Request header field X-Token is not allowed by \
    Access-Control-Allow-Headers.\n\
    [Error] Fetch API cannot load https://api.example.com/v1/items due to access control checks.";

fn json(args: &[&str], stdin: Option<&str>) -> (Option<i32>, Value) {
    let mut all = vec!["explain", "--json"];
    all.extend_from_slice(args);
    let out = crossgate(&all, stdin);
    (out.status.code(), stdout_json(&out))
}

#[test]
fn one_message_one_object_with_the_contract_fields() {
    let (code, m) = json(&[CHROMIUM_PREFLIGHT_401], None);
    assert_eq!(code, Some(0));
    for key in [
        "browser",
        "code",
        "stage",
        "url",
        "origin",
        "parameter",
        "summary",
        "likely_causes",
        "fix",
    ] {
        assert!(m.get(key).is_some(), "{key} missing: {m}");
    }
    assert_eq!(m["browser"], "chromium");
    assert_eq!(m["code"], "PreflightMissingAllowOriginHeader");
    assert_eq!(m["stage"], "preflight");
    assert_eq!(m["url"], "https://api.example.com/v1/items");
    assert_eq!(m["origin"], "https://app.example.com");
    // The network line's status says who answered: the auth layer.
    assert_eq!(m["status"], 401);
    assert!(
        m["likely_causes"][0]
            .as_str()
            .unwrap()
            .contains("Authentication")
    );
    assert!(!m["fix"].as_array().unwrap().is_empty());
    for stack in ["tower", "actix-web", "gateway", "nginx", "express"] {
        assert!(
            m["fix_by_stack"][stack].is_string(),
            "{stack}: {}",
            m["fix_by_stack"]
        );
    }
}

#[test]
fn several_messages_from_stdin_are_an_array_each_engine_detected() {
    let text = format!("{CHROMIUM_PREFLIGHT_401}\n{FIREFOX_METHOD}\n{WEBKIT_HEADER}");
    let (code, doc) = json(&["-"], Some(&text));
    assert_eq!(code, Some(0));
    let all = doc.as_array().expect("an array");
    let got: Vec<(&str, &str)> = all
        .iter()
        .map(|m| (m["browser"].as_str().unwrap(), m["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("chromium", "PreflightMissingAllowOriginHeader"),
            ("firefox", "MethodDisallowedByPreflightResponse"),
            ("webkit", "HeaderDisallowedByPreflightResponse"),
        ]
    );
    assert_eq!(all[2]["parameter"], "X-Token");
    assert_eq!(all[2]["url"], "https://api.example.com/v1/items");
    // Firefox's reason names no method: the fix says so in general words.
    assert!(all[1]["parameter"].is_null());
}

#[test]
fn words_that_fit_several_failures_are_not_a_verdict() {
    let (code, m) = json(
        &[
            "Origin https://app.example.com is not allowed by Access-Control-Allow-Origin. Status code: 200",
        ],
        None,
    );
    assert_eq!(code, Some(0));
    assert_eq!(m["browser"], "webkit");
    assert_eq!(m["stage_certain"], false);
    let alternatives: Vec<&str> = m["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        alternatives.contains(&"AllowOriginMismatch"),
        "{alternatives:?}"
    );
    assert!(m["summary"].as_str().unwrap().starts_with("Most likely"));
}

#[test]
fn browser_option_reads_only_that_engine() {
    let (code, m) = json(&["--browser", "firefox", CHROMIUM_PREFLIGHT_401], None);
    assert_eq!(code, Some(1), "{m}");
    let (code, m) = json(&["--browser", "webkit", WEBKIT_HEADER], None);
    assert_eq!(code, Some(0));
    assert_eq!(m["browser"], "webkit");
}

#[test]
fn what_is_not_cors_exits_1_and_says_what_it_is() {
    let (code, m) = json(
        &[
            "Mixed Content: The page at 'https://app.example.com/' was loaded over HTTPS, but \
           requested an insecure resource 'http://api.example.com/'. This request has been \
           blocked; the content must be served over HTTPS.",
        ],
        None,
    );
    assert_eq!(code, Some(1));
    assert_eq!(m["understood"], false);
    assert_eq!(m["kind"], "mixed-content");
    assert!(!m["fix"].as_array().unwrap().is_empty());
    let (code, doc) = json(&["-"], Some(&format!("{FIREFOX_METHOD}\nhello there")));
    assert_eq!(code, Some(1));
    assert_eq!(doc[1]["kind"], "unknown");
}

#[test]
fn no_input_exits_2() {
    let out = crossgate(&["explain"], Some("  \n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no input"));
}

#[test]
fn secrets_in_urls_are_masked() {
    let (_, m) = json(
        &[
            "Access to fetch at 'https://api.example.com/me?token=s3cr3t&page=2' from origin \
           'https://app.example.com' has been blocked by CORS policy: No \
           'Access-Control-Allow-Origin' header is present on the requested resource.",
        ],
        None,
    );
    let url = m["url"].as_str().unwrap();
    assert!(!url.contains("s3cr3t") && url.contains("page=2"), "{url}");
    assert!(!m["text"].as_str().unwrap().contains("s3cr3t"));
}

#[test]
fn human_output_names_the_cause_and_each_stack() {
    let out = crossgate(&["explain", CHROMIUM_PREFLIGHT_401], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text.starts_with("Chromium: PreflightMissingAllowOriginHeader"),
        "{text}"
    );
    for needle in [
        "why:",
        "likely causes:",
        "fix:",
        "nginx:",
        "Express (cors):",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    assert!(!text.contains('\u{1b}'), "colour on a pipe");
}

/// A message whose URL is a live server: the probe reproduces the failure, or sees it gone.
fn chromium_message(url: &str, reason: &str) -> String {
    format!(
        "Access to fetch at '{url}' from origin 'http://127.0.0.1:9001' has been blocked by CORS \
         policy: {reason}"
    )
}

#[test]
fn check_says_whether_the_problem_is_still_there() {
    let page = "http://127.0.0.1:9001";
    // Still no CORS headers at all.
    let bare = server(|_| (200, Vec::new()));
    let url = format!("http://{bare}/items");
    let msg = chromium_message(
        &url,
        "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
    );
    let (code, m) = json(&["--check", &msg], None);
    assert_eq!(code, Some(0));
    assert_eq!(m["check"]["verdict"], "still-there", "{}", m["check"]);
    assert_eq!(m["check"]["code"], "MissingAllowOriginHeader");

    // Fixed: the server now allows the origin, and PUT on the preflight.
    let fixed = server(move |req| {
        let mut h = vec![("Access-Control-Allow-Origin", page.to_owned())];
        if req.method == "OPTIONS" {
            h.push(("Access-Control-Allow-Methods", "PUT".to_owned()));
        }
        (if req.method == "OPTIONS" { 204 } else { 200 }, h)
    });
    let url = format!("http://{fixed}/items");
    let msg = chromium_message(
        &url,
        "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response.",
    );
    let (_, m) = json(&["--check", &msg], None);
    assert_eq!(m["check"]["verdict"], "fixed", "{}", m["check"]);
    assert!(m["check"]["request"].as_str().unwrap().starts_with("PUT "));

    // A preflight failure whose trigger the message does not name: the probe forces one.
    let ok = server(move |req| {
        let h = vec![("Access-Control-Allow-Origin", page.to_owned())];
        (if req.method == "OPTIONS" { 204 } else { 200 }, h)
    });
    let msg = chromium_message(
        &format!("http://{ok}/items"),
        "Response to preflight request doesn't pass access control check: It does not have \
         HTTP ok status.",
    );
    let (_, m) = json(&["--check", &msg], None);
    assert_eq!(m["check"]["verdict"], "fixed", "{}", m["check"]);
    assert!(
        m["check"]["request"]
            .as_str()
            .unwrap()
            .contains("preflighted")
    );

    // Different: PUT was refused; now auth answers the preflight.
    let auth = server(|req| {
        if req.method == "OPTIONS" {
            (401, Vec::new())
        } else {
            (200, Vec::new())
        }
    });
    let msg = chromium_message(
        &format!("http://{auth}/items"),
        "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response.",
    );
    let (_, m) = json(&["--check", &msg], None);
    assert_eq!(m["check"]["verdict"], "different", "{}", m["check"]);
    assert_eq!(m["check"]["code"], "PreflightMissingAllowOriginHeader");

    // Firefox names no origin: the probe needs --origin.
    let firefox = format!(
        "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote \
         resource at http://{bare}/items. (Reason: CORS header ‘Access-Control-Allow-Origin’ \
         missing). Status code: 200."
    );
    let (_, m) = json(&["--check", &firefox], None);
    assert_eq!(m["check"]["verdict"], "not-run");
    assert!(m["check"]["note"].as_str().unwrap().contains("--origin"));
    let (_, m) = json(&["--check", "--origin", page, &firefox], None);
    assert_eq!(m["check"]["verdict"], "still-there", "{}", m["check"]);
}

#[test]
fn check_reports_a_server_it_cannot_reach() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let msg = chromium_message(
        &format!("http://127.0.0.1:{port}/x"),
        "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
    );
    let (code, m) = json(&["--check", "--timeout", "5", &msg], None);
    assert_eq!(code, Some(0));
    assert_eq!(m["check"]["verdict"], "not-run");
    assert!(
        m["check"]["note"]
            .as_str()
            .unwrap()
            .contains("could not ask")
    );
}

/// The README shows `explain` on a real message: its output there is the binary's.
#[test]
fn readme_example_is_what_the_binary_prints() {
    let block = readme_block("## `crossgate explain", "```console\n");
    let (command, expected) = block.split_once('\n').unwrap();
    let message = command
        .strip_prefix("$ crossgate explain \"")
        .and_then(|m| m.strip_suffix('"'))
        .expect("$ crossgate explain \"MESSAGE\"");
    let out = crossgate(&["explain", message], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

#[test]
fn options_after_the_message_are_options() {
    let out = crossgate(
        &["explain", FIREFOX_METHOD, "--json", "--browser", "firefox"],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let m = stdout_json(&out);
    assert_eq!(m["code"], "MethodDisallowedByPreflightResponse");
}

#[test]
fn stdin_that_is_not_utf8_is_still_read() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(support::BIN)
        .args(["explain", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut bytes = FIREFOX_METHOD.as_bytes().to_vec();
    bytes.extend_from_slice(b"\n\xe9t\xe9 \xff\n");
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    // Read: the CORS message understood, the Latin-1 line not (exit 1, never 2).
    assert_eq!(out.status.code(), Some(1));
    let doc = stdout_json(&out);
    assert_eq!(doc[0]["code"], "MethodDisallowedByPreflightResponse");
}

#[test]
fn a_message_cut_before_its_reason_says_so() {
    let out = crossgate(
        &[
            "explain",
            "Access to fetch at 'https://api.example.com/x' from origin \
           'https://app.example.com' has been blocked by CORS pol",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("chromium: a CORS message cut before its reason"),
        "{text}"
    );
}
