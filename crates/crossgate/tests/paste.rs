//! Console messages read back (`crossgate::agent::paste`): every message the agent writes, for
//! every engine, maps back to its error; the console lines of every agent scenario do too; and
//! pastes with noise, several messages, cut or altered text get an answer that says so.

use crossgate::agent::paste::{Item, Message, OtherKind, parse, read_back};
use crossgate::agent::{CorsError, ErrorCode, Scenario, Stage};
use crossgate::browser::Browser;

const URL: &str = "https://api.example.com/v1/items?page=2";
const ORIGIN: &str = "https://app.example.com";

/// A realistic failed parameter for each error.
fn parameter(code: ErrorCode) -> Option<&'static str> {
    Some(match code.base() {
        ErrorCode::WildcardOriginNotAllowed => "*",
        ErrorCode::MultipleAllowOriginValues => "https://app.example.com, https://b.example.com",
        ErrorCode::InvalidAllowOriginValue => "app.example.com",
        ErrorCode::AllowOriginMismatch => "https://other.example.com",
        ErrorCode::InvalidAllowCredentials => "yes",
        ErrorCode::InvalidAllowMethodsPreflightResponse => "PUT;",
        ErrorCode::InvalidAllowHeadersPreflightResponse => "x-a x-b",
        ErrorCode::MethodDisallowedByPreflightResponse => "DELETE",
        ErrorCode::HeaderDisallowedByPreflightResponse => "x-request-id",
        ErrorCode::RedirectContainsCredentials => "https://user:pw@api.example.com/next",
        ErrorCode::CorsDisabledScheme => "file",
        _ => return None,
    })
}

fn error(code: ErrorCode) -> CorsError {
    CorsError {
        code,
        stage: code.stage().unwrap_or(Stage::Actual),
        parameter: parameter(code).map(str::to_owned),
        url: URL.to_owned(),
        origin: ORIGIN.to_owned(),
        status: Some(401),
        value: parameter(code).map(str::to_owned),
    }
}

fn messages(items: &[Item]) -> Vec<&Message> {
    items
        .iter()
        .map(|i| match i {
            Item::Message(m) => m,
            Item::Other(o) => panic!("not read as a CORS message: {o:?}"),
        })
        .collect()
}

fn fits(m: &Message, code: ErrorCode) -> bool {
    m.code == Some(code) || m.alternatives.contains(&code)
}

/// The texts a user may paste for one error: the reason alone and the whole line(s).
fn pastes(e: &CorsError, browser: Browser) -> Vec<String> {
    let Some(reason) = e.message(browser) else {
        return Vec::new();
    };
    let mut out = vec![reason.clone()];
    match browser {
        Browser::Chromium => {
            out.push(e.chromium_console_line(URL, ORIGIN).unwrap());
            out.push(
                e.chromium_console_line("http://api.example.com/start", ORIGIN)
                    .unwrap(),
            );
        }
        Browser::Firefox => {}
        Browser::Webkit => out.push(format!(
            "{reason}\nFetch API cannot load {URL} due to access control checks."
        )),
    }
    out
}

#[test]
fn every_message_of_every_engine_reads_back_to_its_error() {
    let mut checked = 0;
    for browser in Browser::ALL {
        for &code in ErrorCode::ALL {
            let e = error(code);
            for text in pastes(&e, browser) {
                for only in [None, Some(browser)] {
                    let items = parse(&text, only);
                    let found = messages(&items);
                    assert_eq!(found.len(), 1, "{browser} {code}: {text:?} -> {items:?}");
                    let m = found[0];
                    assert!(fits(m, code), "{browser} {code}: {text:?} -> {m:?}");
                    assert!(m.complete, "{browser} {code}: {text:?} -> {m:?}");
                    if only.is_some() {
                        assert_eq!(m.browser, browser, "{code}: {text:?}");
                    }
                    if let Some(p) = &m.parameter {
                        let expected = parameter(code).unwrap_or_default();
                        assert!(
                            p.eq_ignore_ascii_case(expected) || p == URL,
                            "{browser} {code}: parameter {p:?}, expected {expected:?}"
                        );
                    }
                    if let Some(url) = &m.url {
                        assert!(
                            url == URL || url == "http://api.example.com/start",
                            "{browser} {code}: url {url:?}"
                        );
                    }
                    if let Some(origin) = &m.origin {
                        assert_eq!(origin, ORIGIN, "{browser} {code}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 150, "only {checked} pastes checked");
}

#[test]
fn the_message_says_what_the_words_cannot_tell_apart() {
    // WebKit words a missing, a different and an invalid value alike.
    let items = parse(
        "Origin https://app.example.com is not allowed by Access-Control-Allow-Origin. Status \
         code: 200",
        None,
    );
    let m = messages(&items)[0];
    assert_eq!(m.browser, Browser::Webkit);
    assert_eq!(m.code, Some(ErrorCode::MissingAllowOriginHeader));
    assert!(m.alternatives.contains(&ErrorCode::AllowOriginMismatch));
    assert!(
        m.alternatives
            .contains(&ErrorCode::PreflightMissingAllowOriginHeader)
    );
    assert!(!m.stage_certain());
    assert_eq!(m.status, Some(200));
    // Firefox quotes the value and compares it as a string: Firefox's model calls any other
    // value a mismatch, as `simulate` does; Chromium's words would tell an invalid one apart.
    let items = parse(
        "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote \
         resource at https://api.example.com/x. (Reason: CORS header ‘Access-Control-Allow-Origin’ \
         does not match ‘app.example.com’).",
        None,
    );
    let m = messages(&items)[0];
    assert_eq!(m.code, Some(ErrorCode::AllowOriginMismatch));
    assert!(m.alternatives.contains(&ErrorCode::InvalidAllowOriginValue));
    assert_eq!(m.parameter.as_deref(), Some("app.example.com"));
    let items = parse(
        "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote \
         resource at https://api.example.com/x. (Reason: CORS header ‘Access-Control-Allow-Origin’ \
         does not match ‘https://app.example.com/’).",
        None,
    );
    assert_eq!(
        messages(&items)[0].code,
        Some(ErrorCode::AllowOriginMismatch)
    );
}

/// The agent's own scenarios (WPT cases, each engine's departures): whatever console lines the
/// simulated engine prints for a blocked fetch read back to the error it reports.
#[test]
fn every_agent_scenario_console_reads_back() {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("data/agent/scenarios.json")).unwrap();
    let mut checked = 0;
    for case in file["cases"].as_array().unwrap() {
        let Some(input) = case.get("scenario") else {
            continue;
        };
        let scenario: Scenario = serde_json::from_value(input.clone()).unwrap();
        for browser in Browser::ALL {
            let Ok(report) = scenario.run(browser) else {
                continue;
            };
            let (Some(error), false) = (&report.error, report.console.is_empty()) else {
                continue;
            };
            let text = report.console.join("\n");
            let code = ErrorCode::from_name(&error.code).unwrap();
            if let Err(e) = read_back(&text, Some(browser), code) {
                panic!("{} ({browser}): {e}: {text:?}", case["name"]);
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} consoles checked");
}

#[test]
fn pastes_as_they_come() {
    // Chromium with its noise: the location, the network line (which gives the status), the
    // script's TypeError, a stack line.
    let text = "(index):1 Access to XMLHttpRequest at 'https://api.example.com/items' from origin \
                'https://app.example.com' has been blocked by CORS policy: Response to preflight \
                request doesn't pass access control check: No 'Access-Control-Allow-Origin' \
                header is present on the requested resource.\n\
                app.js:12  POST https://api.example.com/items net::ERR_FAILED 401 (Unauthorized)\n\
                Uncaught (in promise) TypeError: Failed to fetch\n    at load (app.js:12:5)\n\
                Understand this error";
    let items = parse(text, None);
    let found = messages(&items);
    assert_eq!(found.len(), 1, "{items:?}");
    let m = found[0];
    assert_eq!(m.code, Some(ErrorCode::PreflightMissingAllowOriginHeader));
    assert_eq!(m.initiator.as_deref(), Some("XMLHttpRequest"));
    assert_eq!(m.status, Some(401));
    assert!(m.alternatives.is_empty());

    // An older Chromium's hint after the reason.
    let items = parse(
        "Access to fetch at 'https://api.example.com/' from origin 'https://app.example.com' \
         has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on \
         the requested resource. If an opaque response serves your needs, set the request's mode \
         to 'no-cors' to fetch the resource with CORS disabled.",
        None,
    );
    assert_eq!(
        messages(&items)[0].code,
        Some(ErrorCode::MissingAllowOriginHeader)
    );

    // Safari: the reason, the URL line, the network line repeating the reason: one failure.
    let items = parse(
        "[Error] Preflight response is not successful. Status code: 404\n\
         [Error] Fetch API cannot load https://api.example.com/items due to access control checks.\n\
         [Error] Failed to load resource: Preflight response is not successful. Status code: 404 (items, line 0)",
        None,
    );
    let found = messages(&items);
    assert_eq!(found.len(), 1, "{items:?}");
    assert_eq!(found[0].code, Some(ErrorCode::PreflightInvalidStatus));
    assert_eq!(
        found[0].url.as_deref(),
        Some("https://api.example.com/items")
    );
    assert_eq!(found[0].status, Some(404));

    // Firefox: the reason, its link, and the request that failed with it.
    let items = parse(
        "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote \
         resource at https://api.example.com/items. (Reason: CORS header \
         ‘Access-Control-Allow-Origin’ missing). Status code: 401. [Learn More]\n\
         https://developer.mozilla.org/docs/Web/HTTP/CORS/Errors/CORSMissingAllowOrigin\n\
         Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote \
         resource at https://api.example.com/items. (Reason: CORS request did not succeed). \
         Status code: (null).",
        None,
    );
    let found = messages(&items);
    assert_eq!(found.len(), 1, "{items:?}");
    assert!(found[0].request_failed_after);
    assert_eq!(
        found[0].code,
        Some(ErrorCode::PreflightMissingAllowOriginHeader)
    );
    assert_eq!(found[0].status, Some(401));

    // Several messages from different engines, in one paste.
    let items = parse(
        "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response.\n\
         Method PUT is not allowed by Access-Control-Allow-Methods.\n\
         CORSMethodNotFound",
        None,
    );
    let found = messages(&items);
    let browsers: Vec<Browser> = found.iter().map(|m| m.browser).collect();
    assert_eq!(
        browsers,
        [Browser::Chromium, Browser::Webkit, Browser::Firefox]
    );
    assert!(
        found
            .iter()
            .all(|m| m.code == Some(ErrorCode::MethodDisallowedByPreflightResponse))
    );
}

#[test]
fn cut_and_altered_pastes_say_so() {
    let items = parse(
        "has been blocked by CORS policy: The value of the 'Access-Control-Allow-Credentials' \
         header in the resp",
        None,
    );
    let m = messages(&items)[0];
    assert!(!m.complete);
    assert_eq!(m.code, Some(ErrorCode::InvalidAllowCredentials));
    // Cut before the words that tell the errors apart: every one stays.
    let items = parse("The 'Access-Control-Allow-Origin' header ", None);
    let m = messages(&items)[0];
    assert!(!m.complete);
    assert!(m.alternatives.len() >= 2, "{m:?}");
    // A short fragment is not a verdict.
    assert!(matches!(
        &parse("No 'Access-Control", None)[..],
        [Item::Other(o)] if o.kind == OtherKind::Unknown
    ));
}

#[test]
fn what_is_not_cors_is_named() {
    let kinds = |text: &str| -> Vec<OtherKind> {
        parse(text, None)
            .into_iter()
            .map(|i| match i {
                Item::Other(o) => o.kind,
                Item::Message(m) => panic!("read as CORS: {m:?}"),
            })
            .collect()
    };
    assert_eq!(
        kinds(
            "Mixed Content: The page at 'https://app.example.com/' was loaded over HTTPS, but \
             requested an insecure resource 'http://api.example.com/'. This request has been \
             blocked; the content must be served over HTTPS."
        ),
        [OtherKind::MixedContent]
    );
    assert_eq!(
        kinds(
            "Access to fetch at 'http://192.168.1.10/' from origin 'https://app.example.com' has \
             been blocked by CORS policy: Permission was denied for this request to access the \
             `local` address space."
        ),
        [OtherKind::PrivateNetworkAccess]
    );
    assert_eq!(
        kinds(
            "Access to fetch at 'https://api.example.com/' from origin 'https://app.example.com' \
             has been blocked by CORS policy: Something new."
        ),
        [OtherKind::UnknownCorsReason]
    );
    assert_eq!(
        kinds("GET https://api.example.com/ net::ERR_CONNECTION_REFUSED"),
        [OtherKind::NetworkError]
    );
    assert_eq!(
        kinds("TypeError: Failed to fetch"),
        [OtherKind::ScriptError]
    );
    assert_eq!(kinds("lorem ipsum"), [OtherKind::Unknown]);
    assert!(parse("", None).is_empty());
    assert!(parse("  \n (index):1 \n", None).is_empty());
}

#[test]
fn hostile_input_is_bounded() {
    let start = std::time::Instant::now();
    let text = "Access to fetch at '".repeat(20_000) + &"x".repeat(100_000);
    let _ = parse(&text, None);
    let text = "No 'Access-Control-Allow-Origin' header is present on the ".repeat(10_000);
    let _ = parse(&text, None);
    // Generous: a debug build on a shared machine; the bound is what matters.
    assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
}

/// Console lines the real engines printed in the conformance harness's agent matrix, with the
/// error crossgate reports for the same exchange (`data/paste/real_*.json`; each file says how
/// it was made): each reads back to that error, with and without naming the engine.
#[test]
fn real_engine_messages_read_back() {
    let files = [
        (
            Browser::Chromium,
            include_str!("data/paste/real_chromium.json"),
        ),
        (
            Browser::Firefox,
            include_str!("data/paste/real_firefox.json"),
        ),
        (Browser::Webkit, include_str!("data/paste/real_webkit.json")),
    ];
    for (browser, text) in files {
        let doc: serde_json::Value = serde_json::from_str(text).unwrap();
        let messages_in_file = doc["messages"].as_array().unwrap();
        assert!(messages_in_file.len() > 100, "{browser}: too few");
        for case in messages_in_file {
            let lines: Vec<&str> = case["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            let text = lines.join("\n");
            let code = ErrorCode::from_name(case["code"].as_str().unwrap()).unwrap();
            for only in [Some(browser), None] {
                let name = case["name"].as_str().unwrap_or("?");
                let m = read_back(&text, only, code)
                    .unwrap_or_else(|e| panic!("{browser} {name}: {e}: {text:?}"));
                assert!(
                    m.browser == browser || m.also.contains(&browser),
                    "{browser} {name}: read as {}'s",
                    m.browser
                );
            }
        }
    }
}

#[test]
fn what_review_found() {
    // Chromium's Private Network Access preflight words begin like a CORS reason; they are not
    // one crossgate knows, and are named for what they are.
    let items = parse(
        "Access to fetch at 'http://192.168.0.2/' from origin 'https://app.example.com' has been \
         blocked by CORS policy: Response to preflight request doesn't pass access control check: \
         No 'Access-Control-Allow-Private-Network' header was present in the preflight response \
         for this private network request targeting the `local` address space.",
        None,
    );
    assert!(
        matches!(&items[..], [Item::Other(o)] if o.kind == OtherKind::PrivateNetworkAccess),
        "{items:?}"
    );
    // Chromium's network lines: noise beside a message, their status given to it.
    let items = parse(
        "Access to fetch at 'https://api.example.com/x' from origin 'https://app.example.com' has \
         been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the \
         requested resource.\n\
         api.example.com/x:1  Failed to load resource: net::ERR_FAILED\n\
         app.js:9 POST https://api.example.com/x 500 (Internal Server Error)\n\
         AxiosError: Network Error",
        None,
    );
    let found = messages(&items);
    assert_eq!(found.len(), 1, "{items:?}");
    assert_eq!(found[0].status, Some(500));
    // A Firefox reason cut short: every reason its words begin stays a candidate.
    let items = parse(
        "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote \
         resource at https://api.example.com/x. (Reason: CORS hea",
        None,
    );
    let m = messages(&items)[0];
    assert!(!m.complete);
    assert!(fits(m, ErrorCode::MissingAllowOriginHeader), "{m:?}");
    assert!(fits(m, ErrorCode::AllowOriginMismatch), "{m:?}");
    // A Chromium line cut before its reason: a message, without a code.
    let items = parse(
        "Access to fetch at 'https://api.example.com/x' from origin 'https://app.example.com' has \
         been blocked by CORS po",
        None,
    );
    let m = messages(&items)[0];
    assert_eq!((m.code, m.complete), (None, false));
    assert_eq!(m.url.as_deref(), Some("https://api.example.com/x"));
    // Messages glued together: an unknown reason ends where the next message starts, and a
    // message right after a digit is found.
    let items = parse(
        "Access to fetch at 'https://a.test/' from origin 'https://b.test' has been blocked by \
         CORS policy: Something new. Cross-Origin Request Blocked: The Same Origin Policy \
         disallows reading the remote resource at https://a.test/. (Reason: CORS request not \
         http).",
        None,
    );
    assert!(matches!(&items[0], Item::Other(o) if o.kind == OtherKind::UnknownCorsReason));
    assert!(matches!(&items[1], Item::Message(m) if m.code == Some(ErrorCode::CorsDisabledScheme)));
    let items = parse(
        "Preflight response is not successful. Status code: 500Fetch API cannot load \
         https://a.test/ due to access control checks.",
        None,
    );
    let found = messages(&items);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].url.as_deref(), Some("https://a.test/"));
    // Another engine's words than the one named.
    let items = parse(
        "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response.",
        Some(Browser::Firefox),
    );
    assert!(matches!(&items[..], [Item::Other(o)] if o.kind == OtherKind::AnotherEngine));
    // Kinds of more than one word.
    let items = parse(
        "Access to CSS stylesheet at 'https://a.test/x.css' from origin 'https://b.test' has been \
         blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the \
         requested resource.",
        None,
    );
    assert_eq!(
        messages(&items)[0].initiator.as_deref(),
        Some("CSS stylesheet")
    );
}

#[test]
fn one_long_line_is_bounded() {
    let start = std::time::Instant::now();
    let _ = parse(&"Origin ".repeat(150_000), None);
    let _ = parse(&"Access to fetch at ".repeat(50_000), None);
    assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
}
