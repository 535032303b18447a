//! The browser-side rules as data: tests/data/agent/scenarios.json (WPT-derived cases, Chromium's
//! preflight-result tables, and every rule family of cors-fetch-rules.md) run through the agent
//! under each profile.

use crossgate::agent::{Outcome, Profile, Scenario};
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
    scenario: Scenario,
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

fn check(
    outcome: &Outcome,
    browser: Option<Browser>,
    key: &str,
    want: &Value,
) -> Result<(), String> {
    let first = outcome.preflights.first();
    let got: Value = match key {
        "allowed" => Value::Bool(outcome.allowed),
        "code" => outcome
            .error
            .as_ref()
            .map_or(Value::Null, |e| Value::String(e.code.as_str())),
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
            let got = outcome
                .error
                .as_ref()
                .and_then(|e| e.message(browser))
                .map_or(Value::Null, Value::String);
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
        let init = case.scenario.request_init().expect("valid scenario");
        let names: Vec<&str> = match &case.browsers {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => PROFILES.to_vec(),
        };
        for name in names {
            runs += 1;
            let (profile, browser) = profile(name);
            let outcome = match case.scenario.outcome(&init, profile) {
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
                .filter_map(|(k, v)| check(&outcome, browser, k, v).err())
                .collect();
            if !diffs.is_empty() {
                let error = outcome.error.as_ref().map(ToString::to_string);
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
