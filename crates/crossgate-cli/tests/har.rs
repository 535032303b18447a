//! `crossgate har` as users run it: logs the real engines wrote in the conformance harness
//! (`tests/data/har/*-real.har`, excerpts), hand-written ones, standard input, exit codes, the
//! JSON contract, and the README's example checked against the binary.

mod support;

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use support::{BIN, crossgate, readme_block, repo_file, stdout_json};

const CHROMIUM: &str = "crates/crossgate-cli/tests/data/har/chromium-real.har";
const FIREFOX: &str = "crates/crossgate-cli/tests/data/har/firefox-real.har";

/// Runs `crossgate` from the repository's root, as the README does.
fn at_root(args: &[&str]) -> std::process::Output {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Command::new(BIN)
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn json_of(args: &[&str]) -> (Option<i32>, Value) {
    let out = at_root(args);
    (out.status.code(), stdout_json(&out))
}

fn request<'a>(doc: &'a Value, path: &str) -> &'a Value {
    doc["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["url"].as_str().unwrap().contains(path))
        .unwrap_or_else(|| panic!("no request to {path}"))
}

#[test]
fn a_real_chromium_log_is_judged_with_the_contract_fields() {
    let (code, doc) = json_of(&["har", CHROMIUM, "--json"]);
    assert_eq!(code, Some(1), "something was blocked");
    assert_eq!(doc["recorded_by"], "chromium");
    let summary = &doc["summary"];
    for key in [
        "entries",
        "cross_origin",
        "allowed",
        "blocked",
        "undetermined",
    ] {
        assert!(summary[key].is_u64(), "summary.{key}");
    }
    assert_eq!(summary["entries"], 15);
    assert_eq!(summary["cross_origin"], 9);
    assert_eq!(summary["blocked"], 4);
    for r in doc["requests"].as_array().unwrap() {
        for key in [
            "entry",
            "url",
            "method",
            "origin",
            "recorded_by",
            "verdict",
            "code",
            "stage",
            "missing",
            "fix",
            "other_engines",
        ] {
            assert!(r.get(key).is_some(), "requests[].{key} in {r}");
        }
        let verdict = r["verdict"].as_str().unwrap();
        assert!(["allowed", "blocked", "undetermined"].contains(&verdict));
        assert_eq!(r["code"].is_null(), verdict != "blocked", "{r}");
        if verdict == "blocked" {
            assert!(!r["fix"].as_array().unwrap().is_empty(), "{r}");
        }
        let engines = r["other_engines"].as_object().unwrap();
        assert_eq!(engines.len(), 3);
        assert_eq!(engines["chromium"], r["verdict"]);
        assert_eq!(r["recorded_by"], "chromium");
        assert_eq!(r["judged_as"], "chromium");
    }
    // The preflight's own entry is what the verdict rests on.
    let preflighted = request(&doc, "/s/s233/");
    assert_eq!(preflighted["code"], "PreflightMissingAllowOriginHeader");
    assert_eq!(preflighted["stage"], "preflight");
    assert_eq!(preflighted["preflight"], "sent");
    assert_eq!(preflighted["entries"].as_array().unwrap().len(), 2);
    // A PUT that went out without a preflight of its own: the cache, filled by an earlier one.
    let s364: Vec<&Value> = doc["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["url"].as_str().unwrap().contains("/s/s364/"))
        .collect();
    assert_eq!(s364.len(), 2);
    assert_eq!(s364[0]["preflight"], "sent");
    assert_eq!(s364[1]["verdict"], "allowed");
    assert_eq!(s364[1]["preflight"], "cached");
    assert_eq!(s364[1]["preflight_entries"], s364[0]["preflight_entries"]);
    // Allowed by the engine that recorded it, blocked by WebKit on the same answers.
    let differs = request(&doc, "/s/s409/");
    assert_eq!(differs["verdict"], "allowed");
    assert_eq!(differs["other_engines"]["webkit"], "blocked");
    assert_eq!(
        differs["other_engine_details"]["webkit"]["code"],
        "InvalidAllowCredentials"
    );
}

#[test]
fn a_real_firefox_log_needs_the_credentials_mode_where_it_decides() {
    let (code, alone) = json_of(&["har", FIREFOX, "--json"]);
    assert_eq!(code, Some(1));
    assert_eq!(alone["recorded_by"], "firefox");
    // Firefox marks no failure and no cookie went: `*` answers are open.
    let star = request(&alone, "/s/s036/");
    assert_eq!(star["verdict"], "undetermined");
    let missing = star["missing"][0].as_str().unwrap();
    assert!(missing.contains("credentials mode"), "{missing}");
    assert!(missing.contains("WildcardOriginNotAllowed"), "{missing}");
    // The request that missed its ACAO is blocked either way.
    assert_eq!(
        request(&alone, "/s/s000/")["code"],
        "MissingAllowOriginHeader"
    );
    let (_, told) = json_of(&["har", FIREFOX, "--json", "--credentials", "include"]);
    assert_eq!(
        request(&told, "/s/s036/")["code"],
        "WildcardOriginNotAllowed"
    );
    assert_eq!(told["summary"]["undetermined"], 0);
    let (_, told) = json_of(&["har", FIREFOX, "--json", "--credentials", "omit"]);
    assert_eq!(request(&told, "/s/s036/")["verdict"], "allowed");
}

#[test]
fn judged_as_another_engine_on_request() {
    let (_, doc) = json_of(&["har", CHROMIUM, "--json", "--browser", "webkit"]);
    assert_eq!(doc["recorded_by"], "chromium");
    assert_eq!(doc["judged_as"], "webkit");
    let r = request(&doc, "/s/s409/");
    assert_eq!(r["verdict"], "blocked");
    assert_eq!(r["recorded_by"], "chromium");
    assert_eq!(r["judged_as"], "webkit");
    assert_eq!(r["other_engines"]["webkit"], "blocked");
    assert_eq!(r["other_engines"]["chromium"], "allowed");
}

fn log(entries: Value) -> String {
    json!({"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                   "entries": entries}})
    .to_string()
}

#[test]
fn nothing_blocked_exits_0_and_standard_input_is_read() {
    let text = log(json!([{
        "startedDateTime": "2026-01-01T10:00:00.000Z",
        "request": {"method": "GET", "url": "https://api.example/a", "headers": [
            {"name": "Origin", "value": "https://app.example"},
            {"name": "Sec-Fetch-Mode", "value": "cors"}]},
        "response": {"status": 200, "headers": [
            {"name": "Access-Control-Allow-Origin", "value": "https://app.example"}]},
        "_resourceType": "fetch"}]));
    let out = crossgate(&["har", "-"], Some(&text));
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 cross-origin requests: 1 allowed, 0 blocked, 0 undetermined"),
        "{stdout}"
    );
}

#[test]
fn a_file_that_is_not_har_exits_2_naming_the_field() {
    let bad = log(json!([{"request": {"method": "GET", "url": 42}}]));
    let out = crossgate(&["har", "-"], Some(&bad));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`log.entries[0].request.url`"), "{stderr}");
    assert!(stderr.contains("cannot be read as HAR"), "{stderr}");
    let out = crossgate(&["har", "/nonexistent/x.har"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = crossgate(&["har", "-"], Some("<html>"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not JSON"));
}

#[test]
fn the_readme_example_is_what_the_binary_prints() {
    let block = readme_block("## `crossgate har", "```console\n");
    let (command, expected) = block.split_once('\n').unwrap();
    let args: Vec<&str> = command
        .strip_prefix("$ crossgate ")
        .expect("$ crossgate har ...")
        .split(' ')
        .collect();
    let out = at_root(&args);
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    // The file is the real log the fixture says it is.
    assert!(repo_file(CHROMIUM).contains("DevTools protocol events"));
}
