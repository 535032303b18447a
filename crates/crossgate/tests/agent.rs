//! The browser-side rules as data: tests/data/agent/scenarios.json (WPT-derived cases, Chromium's
//! preflight-result tables, every rule family of cors-fetch-rules.md, and the departures of
//! Chromium 156 found by crates/crossgate-conformance) run through the agent under each profile.
//! A case holds one `scenario`, or a `sequence` of fetches against one agent (its `expect` is
//! about the last step, plus `preflights_per_step`).

use crossgate::agent::{Outcome, Profile, RequestInit, Scenario, Sequence, console};
use crossgate::browser::Browser;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
struct File {
    #[allow(dead_code)]
    description: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    source: Option<String>,
    #[serde(default)]
    browsers: Option<Vec<String>>,
    #[serde(default)]
    scenario: Option<Scenario>,
    #[serde(default)]
    sequence: Option<Sequence>,
    expect: Map<String, Value>,
    #[serde(default)]
    per_browser: Option<Map<String, Value>>,
}

const PROFILES: [&str; 4] = ["spec", "chromium", "firefox", "webkit"];

fn profile(name: &str) -> (Profile, Option<Browser>) {
    match name {
        "spec" => (Profile::spec(), None),
        "chromium" => (Profile::chromium(), Some(Browser::Chromium)),
        "firefox" => (Profile::firefox(), Some(Browser::Firefox)),
        "webkit" => (Profile::webkit(), Some(Browser::Webkit)),
        other => panic!("unknown profile {other}"),
    }
}

/// Runs a case under one profile: the outcome of every step (one for a scenario), and the
/// request of the last.
fn outcomes(case: &Case, profile: Profile) -> Result<(Vec<Outcome>, RequestInit), String> {
    match (&case.scenario, &case.sequence) {
        (Some(scenario), None) => {
            let init = scenario.request_init().map_err(|e| e.0)?;
            let outcome = scenario.outcome(&init, profile).map_err(|e| e.0)?;
            Ok((vec![outcome], init))
        }
        (None, Some(sequence)) => {
            let last = sequence.scenarios().pop().ok_or("an empty sequence")?;
            let init = last.request_init().map_err(|e| e.0)?;
            Ok((sequence.outcomes(profile).map_err(|e| e.0)?, init))
        }
        _ => Err("a case has either `scenario` or `sequence`".to_owned()),
    }
}

fn check(
    steps: &[Outcome],
    init: &RequestInit,
    page: &str,
    browser: Option<Browser>,
    key: &str,
    want: &Value,
) -> Result<(), String> {
    let outcome = steps.last().expect("at least one step");
    let first = outcome.preflights.first();
    let got: Value = match key {
        "preflights_per_step" => steps.iter().map(|o| o.preflights.len()).collect(),
        "console" => outcome
            .error
            .as_ref()
            .and_then(|e| e.chromium_console_line(&outcome.initial_url, page))
            .map_or(Value::Null, Value::String),
        "allowed" => Value::Bool(outcome.allowed),
        "code" => outcome
            .error
            .as_ref()
            .map_or(Value::Null, |e| Value::from(e.code.as_str())),
        "stage" => outcome
            .error
            .as_ref()
            .map_or(Value::Null, |e| serde_json::to_value(e.stage).unwrap()),
        "parameter" => outcome
            .error
            .as_ref()
            .and_then(|e| e.parameter.clone())
            .map_or(Value::Null, Value::String),
        "preflight" => Value::Bool(first.is_some()),
        "preflights" => Value::from(outcome.preflights.len()),
        "acrm" => first.map_or(Value::Null, |p| Value::String(p.ask.method.clone())),
        "acrh" => first
            .and_then(|p| p.ask.headers.clone())
            .map_or(Value::Null, Value::String),
        "origin_sent" => serde_json::to_value(&outcome.origin_sent).unwrap(),
        "exposed_headers" => serde_json::to_value(&outcome.exposed_headers).unwrap(),
        "notes" => Value::from(outcome.notes.len()),
        // Every console line of one browser: `firefox_console`, `webkit_console`.
        _ if key.ends_with("_console") => {
            let Some(browser) = browser.filter(|b| {
                key.strip_suffix("_console") == Some(b.name().to_ascii_lowercase().as_str())
            }) else {
                return Ok(());
            };
            serde_json::to_value(console::lines(browser, init, outcome)).unwrap()
        }
        "message" => {
            let Some(browser) = browser else {
                return Ok(());
            };
            let want = match want {
                Value::Object(per) => match per.get(browser.name().to_ascii_lowercase().as_str()) {
                    Some(w) => w.clone(),
                    None => return Ok(()),
                },
                other => other.clone(),
            };
            let got = console::message(browser, init, outcome).map_or(Value::Null, Value::String);
            return if got == want {
                Ok(())
            } else {
                Err(format!("message: want {want}, got {got}"))
            };
        }
        other => return Err(format!("unknown expectation `{other}`")),
    };
    if &got == want {
        Ok(())
    } else {
        Err(format!("{key}: want {want}, got {got}"))
    }
}

#[test]
fn every_scenario_under_every_profile() {
    let text = include_str!("data/agent/scenarios.json");
    let file: File = serde_json::from_str(text).expect("scenarios.json parses");
    let mut failures = Vec::new();
    let mut runs = 0;
    for case in &file.cases {
        let page = match (&case.scenario, &case.sequence) {
            (Some(s), _) => s.origin.clone(),
            (_, Some(s)) => s.origin.clone(),
            _ => String::new(),
        };
        let names: Vec<&str> = match &case.browsers {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => PROFILES.to_vec(),
        };
        for name in names {
            runs += 1;
            let (profile, browser) = profile(name);
            let (steps, init) = match outcomes(case, profile) {
                Ok(o) => o,
                Err(e) => {
                    failures.push(format!("{} [{name}]: {e}", case.name));
                    continue;
                }
            };
            let mut expect = case.expect.clone();
            if let Some(over) = case.per_browser.as_ref().and_then(|p| p.get(name)) {
                for (k, v) in over.as_object().expect("per_browser entries are objects") {
                    expect.insert(k.clone(), v.clone());
                }
            }
            let diffs: Vec<String> = expect
                .iter()
                .filter_map(|(k, v)| check(&steps, &init, &page, browser, k, v).err())
                .collect();
            if !diffs.is_empty() {
                let error = steps
                    .last()
                    .and_then(|o| o.error.as_ref())
                    .map(ToString::to_string);
                failures.push(format!(
                    "{} [{name}]: {} (error: {error:?})",
                    case.name,
                    diffs.join("; ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(runs > 400, "only {runs} runs");
}

#[test]
fn a_sequence_of_one_step_reports_what_the_scenario_does() {
    let scenario = serde_json::json!({
        "origin": "http://127.0.0.1:9001",
        "request": {"url": "http://127.0.0.1:9002/items", "method": "PUT",
                    "headers": [["X-Token", "a"]], "credentials": "include"},
        "responses": {
            "preflight": {"status": 204, "headers": [
                ["Access-Control-Allow-Origin", "http://127.0.0.1:9001"],
                ["Access-Control-Allow-Credentials", "true"],
                ["Access-Control-Allow-Methods", "PUT"]]},
        }
    });
    let sequence: Sequence = serde_json::from_value(serde_json::json!({
        "origin": scenario["origin"],
        "steps": [{"request": scenario["request"], "responses": scenario["responses"]}],
    }))
    .unwrap();
    let scenario: Scenario = serde_json::from_value(scenario).unwrap();
    for browser in Browser::ALL {
        let one = scenario.run(browser).unwrap();
        assert!(!one.allowed);
        assert_eq!(sequence.run(browser).unwrap(), [one]);
    }
    let err = serde_json::from_value::<Sequence>(serde_json::json!({
        "origin": "http://a.test",
        "steps": [{"request": {"url": "http://b.test/x", "method": "PUT"}}]
    }))
    .unwrap()
    .run(Browser::Chromium)
    .unwrap_err();
    assert!(err.0.starts_with("steps[0]: "), "{err}");
}

#[test]
fn an_invalid_request_header_name_is_refused_by_fetch_not_the_input() {
    let scenario: Scenario = serde_json::from_value(serde_json::json!({
        "origin": "http://a.test",
        "request": {"url": "http://b.test/x", "headers": [["X Bad", "1"]]}
    }))
    .unwrap();
    let report = scenario.run(Browser::Chromium).unwrap();
    let error = report.error.unwrap();
    assert_eq!(error.code, "InvalidHeader");
    assert_eq!(error.messages.chromium, None);
    assert!(report.exchanges.is_empty());
    let response: Scenario = serde_json::from_value(serde_json::json!({
        "origin": "http://a.test",
        "request": {"url": "http://b.test/x"},
        "responses": {"actual": {"status": 200, "headers": [["X Bad", "1"]]}}
    }))
    .unwrap();
    assert!(
        response
            .run(Browser::Chromium)
            .unwrap_err()
            .0
            .contains("not a header name")
    );
}

#[test]
fn missing_responses_are_input_errors() {
    let scenario: Scenario = serde_json::from_value(serde_json::json!({
        "origin": "http://a.test",
        "request": {"url": "http://b.test/x", "method": "PUT"},
        "responses": {"actual": {"status": 200, "headers": []}}
    }))
    .unwrap();
    let err = scenario.run(Browser::Chromium).unwrap_err();
    assert!(err.0.contains("responses.preflight"), "{err}");
    let bad: Result<Scenario, _> = serde_json::from_value(serde_json::json!({
        "origin": "http://a.test", "request": {"url": "http://b.test/x"}, "bogus": 1
    }));
    assert!(bad.is_err());
    let crlf: Scenario = serde_json::from_value(serde_json::json!({
        "origin": "http://a.test",
        "request": {"url": "http://b.test/x", "headers": [["X-A", "1\r\nX-B: 2"]]}
    }))
    .unwrap();
    assert!(
        crlf.run(Browser::Chromium)
            .unwrap_err()
            .0
            .contains("CR or LF")
    );
    let url: Scenario = serde_json::from_value(serde_json::json!({
        "origin": "http://a.test", "request": {"url": "not a url"}
    }))
    .unwrap();
    assert!(
        url.run(Browser::Chromium)
            .unwrap_err()
            .0
            .contains("does not parse")
    );
}

#[test]
fn request_header_values_are_byte_strings_as_fetch_takes_them() {
    let with = |value: &str| -> Scenario {
        serde_json::from_value(serde_json::json!({
            "origin": "http://a.test",
            "request": {"url": "http://b.test/x", "headers": [["Accept", value]]},
            "responses": {
                "preflight": {"status": 204, "headers": [
                    ["Access-Control-Allow-Origin", "*"], ["Access-Control-Allow-Headers", "accept"]]},
                "actual": {"status": 200, "headers": [["Access-Control-Allow-Origin", "*"]]}
            }
        }))
        .unwrap()
    };
    // U+00E9 is the one byte E9, as fetch() sends it (not UTF-8's C3 A9).
    let init = with("text/\u{e9}").request_init().unwrap();
    assert_eq!(init.headers[0].1, b"text/\xe9");
    let report = with("text/\u{e9}").run(Browser::Chromium).unwrap();
    assert!(report.allowed && !report.preflight.sent);
    let report = with("text/\u{e9}").run(Browser::Firefox).unwrap();
    assert!(report.allowed && report.preflight.sent);
    // Above U+00FF, fetch() throws: the scenario says so instead of guessing an encoding.
    let err = with("text/\u{20ac}").run(Browser::Chromium).unwrap_err();
    assert!(err.0.contains("above U+00FF"), "{err}");
}
