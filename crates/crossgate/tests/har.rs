//! `crossgate::har`: hand-written logs in each engine's shape (`tests/data/har/cases.json`,
//! each case with why it is judged so), what a log that cannot be read says, and a large log
//! read in bounded time.

use crossgate::har::{Har, Judged, Preflight, Verdict};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/har/cases.json"
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

/// Checks one expectation against one judged request; returns the problems.
fn check(name: &str, want: &Value, got: &Judged) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |field: &str, wanted: Option<&str>, actual: String| {
        if let Some(w) = wanted
            && w != actual
        {
            problems.push(format!(
                "{name} entry {}: {field} is {actual}, expected {w}",
                got.fetch.entry
            ));
        }
    };
    let j = &got.judgement;
    expect(
        "verdict",
        want["verdict"].as_str(),
        j.verdict.as_str().to_owned(),
    );
    expect(
        "code",
        want["code"].as_str(),
        j.code.map(|c| c.as_str().to_owned()).unwrap_or_default(),
    );
    expect(
        "stage",
        want["stage"].as_str(),
        j.stage.map(|s| s.as_str().to_owned()).unwrap_or_default(),
    );
    expect(
        "preflight",
        want["preflight"].as_str(),
        j.preflight.as_str().to_owned(),
    );
    expect(
        "recorded_by",
        want["recorded_by"].as_str(),
        j.browser.id().to_owned(),
    );
    expect(
        "recorded",
        want["recorded"].as_str(),
        got.recorded.as_str().to_owned(),
    );
    if let Some(others) = want["others"].as_object() {
        for (engine, v) in others {
            let o = got
                .other_engines
                .iter()
                .find(|o| o.browser.id() == engine)
                .unwrap();
            expect(engine, v.as_str(), o.verdict.as_str().to_owned());
        }
    }
    if let Some(entries) = want["entries"].as_array() {
        let mut all: Vec<usize> = std::iter::once(got.fetch.entry)
            .chain(got.fetch.hops.iter().copied())
            .chain(got.fetch.preflights.iter().copied())
            .collect();
        all.sort_unstable();
        expect(
            "entries",
            Some(&Value::from(entries.clone()).to_string()),
            Value::from(all).to_string(),
        );
    }
    if let Some(p) = want["preflight_entries"].as_array()
        && let Preflight::Cached(from) = j.preflight
    {
        expect(
            "preflight_entries",
            Some(&Value::from(p.clone()).to_string()),
            Value::from(vec![from]).to_string(),
        );
    }
    if let Some(h) = want["headers"].as_array() {
        let got_headers: Vec<String> = got.fetch.headers.iter().map(ToString::to_string).collect();
        let want_headers: Vec<&str> = h.iter().filter_map(Value::as_str).collect();
        expect(
            "headers",
            Some(&format!("{want_headers:?}")),
            format!("{got_headers:?}"),
        );
    }
    if let Some(m) = want["missing_contains"].as_str()
        && !j.missing.iter().any(|x| x.contains(m))
    {
        problems.push(format!(
            "{name} entry {}: missing {:?} does not mention {m:?}",
            got.fetch.entry, j.missing
        ));
    }
    problems
}

#[test]
fn hand_written_logs_are_judged_as_their_cases_say() {
    let mut problems = Vec::new();
    let all = cases();
    assert!(all.len() >= 15, "the table lost cases");
    for case in &all {
        let name = case["name"].as_str().unwrap();
        let text = serde_json::to_string(&case["har"]).unwrap();
        let har = Har::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = har.judge(None);
        let want = case["expect"].as_array().unwrap();
        if report.requests.len() != want.len() {
            problems.push(format!(
                "{name}: {} CORS requests found, expected {}: entries {:?}",
                report.requests.len(),
                want.len(),
                report
                    .requests
                    .iter()
                    .map(|r| r.fetch.entry)
                    .collect::<Vec<_>>()
            ));
            continue;
        }
        for (w, got) in want.iter().zip(&report.requests) {
            if w["entry"].as_u64() != Some(got.fetch.entry as u64) {
                problems.push(format!(
                    "{name}: entry {} judged, expected {}",
                    got.fetch.entry, w["entry"]
                ));
                continue;
            }
            problems.extend(check(name, w, got));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_blocked_request_carries_the_engine_message_and_the_fix() {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == "chromium-missing-acao")
        .unwrap();
    let har = Har::from_json(&serde_json::to_string(&case["har"]).unwrap()).unwrap();
    let report = har.judge(None);
    let j = &report.requests[0].judgement;
    let message = j.message.as_deref().unwrap();
    assert!(
        message.starts_with("Access to fetch at 'https://api.example/items' from origin 'https://app.example' has been blocked by CORS policy"),
        "{message}"
    );
    let explanation = j.explanation.as_ref().unwrap();
    assert!(!explanation.fix.is_empty());
    // Judged as Firefox on request, the same log gives Firefox's words.
    let as_firefox = har.judge(Some(crossgate::browser::Browser::Firefox));
    assert!(!as_firefox.browser_from_file);
    let m = as_firefox.requests[0].judgement.message.as_deref().unwrap();
    assert!(m.starts_with("Cross-Origin Request Blocked"), "{m}");
}

#[test]
fn a_log_that_cannot_be_read_says_where() {
    let err = |text: &str| Har::from_json(text).unwrap_err().0;
    assert!(
        err("not json").starts_with("not JSON"),
        "{}",
        err("not json")
    );
    assert!(err("{}").contains("no `log` object"));
    assert!(err(r#"{"log": {"version": "1.2"}}"#).contains("`log.entries` is missing"));
    assert!(err(r#"{"log": {"version": "2.0", "entries": []}}"#).contains("HAR 1.x"));
    let wrong = err(
        r#"{"log": {"entries": [{"request": {"url": "http://a/", "method": "GET"}},
            {"request": {"url": 7}}]}}"#,
    );
    assert!(wrong.contains("`log.entries[1].request.url`"), "{wrong}");
    assert!(wrong.contains("line 2"), "{wrong}");
    let header = err(r#"{"log": {"entries": [{"request": {"headers": [{"name": "a"}]}}]}}"#);
    assert!(
        header.contains("log.entries[0].request.headers[0]"),
        "{header}"
    );
}

/// A 10,000-entry log of about 50 MB (bodies included, as exports carry them) is read and
/// judged in bounded time; bodies are not kept.
#[test]
fn a_large_log_is_read_in_bounded_time() {
    let body = "x".repeat(5_000);
    let mut text = String::from(
        r#"{"log": {"version": "1.2", "creator": {"name": "WebInspector"}, "entries": ["#,
    );
    for i in 0..10_000 {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            r#"{{"startedDateTime": "2026-01-01T10:00:{:02}.{:03}Z",
               "request": {{"method": "GET", "url": "https://api.example/items/{i}",
                 "headers": [{{"name": "Origin", "value": "https://app.example"}},
                             {{"name": "Sec-Fetch-Mode", "value": "cors"}}]}},
               "response": {{"status": 200, "headers": [
                 {{"name": "Access-Control-Allow-Origin", "value": "https://app.example"}}],
                 "content": {{"size": 5000, "text": "{body}"}}}},
               "_resourceType": "fetch"}}"#,
            i / 1000 % 60,
            i % 1000
        ));
    }
    text.push_str("]}}");
    assert!(text.len() > 50_000_000);
    let started = std::time::Instant::now();
    let mut progress_calls = 0;
    let har = Har::read(text.as_bytes(), |_| progress_calls += 1).unwrap();
    let report = har.judge(None);
    let took = started.elapsed();
    assert_eq!(report.requests.len(), 10_000);
    assert!(
        report
            .requests
            .iter()
            .all(|r| r.judgement.verdict == Verdict::Allowed)
    );
    assert!(
        progress_calls > 100,
        "progress reported {progress_calls} times"
    );
    // Generous for a debug build on a shared machine; a release build takes well under 2 s.
    assert!(took.as_secs() < 60, "took {took:?}");
}

/// A log that polls one URL 5,000 times, each with its own preflight, and one that preflights
/// 5,000 URLs with long max-ages: linking preflights and keeping the cache cost time in
/// proportion to the log, not its square.
#[test]
fn many_preflights_are_linked_in_bounded_time() {
    for same_url in [true, false] {
        let mut text =
            String::from(r#"{"log": {"creator": {"name": "WebInspector"}, "entries": ["#);
        for i in 0..5_000 {
            let url = if same_url {
                "https://api.example/poll".to_owned()
            } else {
                format!("https://api.example/items/{i}")
            };
            let t = format!(
                "2026-01-01T10:{:02}:{:02}.{:03}Z",
                i / 1000 % 60,
                i / 10 % 60,
                i % 1000
            );
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!(
                r#"{{"startedDateTime": "{t}", "_resourceType": "fetch",
                   "request": {{"method": "PUT", "url": "{url}", "headers": [
                     {{"name": "Origin", "value": "https://app.example"}},
                     {{"name": "Sec-Fetch-Mode", "value": "cors"}}]}},
                   "response": {{"status": 200, "headers": [
                     {{"name": "Access-Control-Allow-Origin", "value": "https://app.example"}}]}}}},
                  {{"startedDateTime": "{t}", "_resourceType": "preflight",
                   "request": {{"method": "OPTIONS", "url": "{url}", "headers": [
                     {{"name": "Origin", "value": "https://app.example"}},
                     {{"name": "Access-Control-Request-Method", "value": "PUT"}}]}},
                   "response": {{"status": 204, "headers": [
                     {{"name": "Access-Control-Allow-Origin", "value": "https://app.example"}},
                     {{"name": "Access-Control-Allow-Methods", "value": "PUT"}},
                     {{"name": "Access-Control-Max-Age", "value": "{}"}}]}}}}"#,
                if same_url { 0 } else { 7200 }
            ));
        }
        text.push_str("]}}");
        let started = std::time::Instant::now();
        let report = Har::from_json(&text).unwrap().judge(None);
        let took = started.elapsed();
        assert_eq!(report.requests.len(), 5_000);
        assert!(
            report
                .requests
                .iter()
                .all(|r| r.judgement.verdict == Verdict::Allowed
                    && matches!(r.judgement.preflight, Preflight::Sent(_))),
            "every PUT is allowed on its own preflight"
        );
        // Generous for a debug build; quadratic work took minutes.
        assert!(took.as_secs() < 60, "same URL {same_url}: took {took:?}");
    }
}
