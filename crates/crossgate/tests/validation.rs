//! Policy validation, driven by the table in `tests/data/validation.toml`.
//!
//! Each case is a policy table as a user writes it. It is read the way `lint` and the gateway
//! read files: the whole data file through `crossgate::policy::document::parse_document`, each
//! case's table through `PolicyConfig::from_value` (so unknown fields and wrong types are
//! problems, not panics), then `Policy::check`. The case lists the EXACT set of problems expected
//! (severity, code, field), each with a substring of its message and of its fix; a problem more
//! or less fails the case. Valid cases may state their normal form (`policy.config()`), and every
//! valid case is checked to be idempotent: building a policy from the normal form gives the same
//! normal form, with nothing left to normalise.

use std::collections::BTreeSet;

use crossgate::policy::document::{Format, parse_document};
use crossgate::policy::{Policy, PolicyConfig, Problem};
use crossgate::policy::{ProblemCode, Severity};
use serde_json::Value;

const TABLE: &str = include_str!("data/validation.toml");

struct Expect {
    severity: Severity,
    code: String,
    field: String,
    value: Option<String>,
    message: String,
    fix: String,
}

struct Case {
    name: String,
    config: Value,
    expect: Vec<Expect>,
    normalized: Option<Value>,
}

fn str_of<'v>(v: &'v Value, key: &str, case: &str) -> &'v str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("case {case:?}: `{key}` must be a string"))
}

fn cases() -> Vec<Case> {
    let doc = parse_document(TABLE, Format::Toml)
        .unwrap_or_else(|p| panic!("validation.toml does not parse: {p}"));
    let list = doc
        .get("case")
        .and_then(Value::as_array)
        .expect("validation.toml holds [[case]] tables");
    let mut names = BTreeSet::new();
    list.iter()
        .map(|c| {
            let name = str_of(c, "name", "?").to_owned();
            assert!(names.insert(name.clone()), "duplicate case name {name:?}");
            for key in c.as_object().unwrap().keys() {
                assert!(
                    ["name", "rule", "config", "expect", "normalized"].contains(&key.as_str()),
                    "case {name:?}: unknown key `{key}`"
                );
            }
            let config = c
                .get("config")
                .cloned()
                .unwrap_or_else(|| panic!("case {name:?}: no [case.config]"));
            let expect = c
                .get("expect")
                .map(|e| e.as_array().expect("expect is an array of tables").clone())
                .unwrap_or_default()
                .iter()
                .map(|e| {
                    for key in e.as_object().unwrap().keys() {
                        assert!(
                            ["severity", "code", "field", "value", "message", "fix"]
                                .contains(&key.as_str()),
                            "case {name:?}: unknown expect key `{key}`"
                        );
                    }
                    Expect {
                        severity: match str_of(e, "severity", &name) {
                            "error" => Severity::Error,
                            "warning" => Severity::Warning,
                            other => panic!("case {name:?}: severity {other:?}"),
                        },
                        code: str_of(e, "code", &name).to_owned(),
                        field: str_of(e, "field", &name).to_owned(),
                        value: e.get("value").map(|_| str_of(e, "value", &name).to_owned()),
                        message: str_of(e, "message", &name).to_owned(),
                        fix: str_of(e, "fix", &name).to_owned(),
                    }
                })
                .collect();
            Case {
                name,
                config,
                expect,
                normalized: c.get("normalized").cloned(),
            }
        })
        .collect()
}

/// Reads a case's table as `lint` would, and checks it.
fn run(config: &Value) -> (PolicyConfig, Vec<Problem>, Option<Policy>) {
    let mut problems = Vec::new();
    let parsed = PolicyConfig::from_value(config, "", &mut problems);
    let (policy, problems) = Policy::check_document(&parsed, problems, "").into_parts();
    (parsed, problems, policy)
}

fn key(severity: Severity, code: &str, field: &str) -> String {
    let s = match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    format!("{s} {code} {field}")
}

fn describe(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("\n    {p}"))
        .collect::<String>()
}

#[test]
fn every_case_reports_exactly_the_expected_problems() {
    let mut failures = Vec::new();
    for case in cases() {
        let (_, problems, policy) = run(&case.config);
        let mut got: Vec<String> = problems
            .iter()
            .map(|p| key(p.severity, p.code.as_str(), &p.field))
            .collect();
        let mut want: Vec<String> = case
            .expect
            .iter()
            .map(|e| key(e.severity, &e.code, &e.field))
            .collect();
        got.sort();
        want.sort();
        if got != want {
            failures.push(format!(
                "case {:?}:\n  expected {want:#?}\n  got {got:#?}{}",
                case.name,
                describe(&problems)
            ));
            continue;
        }
        // Match each expectation to a distinct problem with its texts.
        let mut used = vec![false; problems.len()];
        for e in &case.expect {
            let found = problems.iter().enumerate().position(|(i, p)| {
                !used[i]
                    && p.severity == e.severity
                    && p.code.as_str() == e.code
                    && p.field == e.field
                    && p.message.contains(&e.message)
                    && p.fix.contains(&e.fix)
                    && e.value.as_ref().is_none_or(|v| &p.value == v)
            });
            match found {
                Some(i) => used[i] = true,
                None => failures.push(format!(
                    "case {:?}: no {} whose message contains {:?}, fix contains {:?}{}:{}",
                    case.name,
                    key(e.severity, &e.code, &e.field),
                    e.message,
                    e.fix,
                    e.value
                        .as_ref()
                        .map(|v| format!(", value {v:?}"))
                        .unwrap_or_default(),
                    describe(&problems)
                )),
            }
        }
        let errors = case.expect.iter().any(|e| e.severity == Severity::Error);
        if errors == policy.is_some() {
            failures.push(format!(
                "case {:?}: expected {} policy",
                case.name,
                if errors { "no" } else { "a" }
            ));
        }
        // Every problem explains itself.
        for p in &problems {
            if p.message.is_empty() || p.fix.is_empty() {
                failures.push(format!("case {:?}: problem without text: {p}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The normal form stated by a case (only the fields it names).
#[test]
fn valid_policies_have_the_promised_normal_form() {
    let mut checked = 0;
    for case in cases() {
        let Some(normalized) = &case.normalized else {
            continue;
        };
        let (_, problems, policy) = run(&case.config);
        let policy = policy.unwrap_or_else(|| {
            panic!(
                "case {:?} states a normal form but is invalid:{}",
                case.name,
                describe(&problems)
            )
        });
        let actual = serde_json::to_value(policy.config()).unwrap();
        for (field, want) in normalized.as_object().expect("normalized is a table") {
            let got = actual
                .get(field)
                .unwrap_or_else(|| panic!("case {:?}: no field {field}", case.name));
            let want = match want {
                Value::String(s) if s == "absent" => &Value::Null,
                other => other,
            };
            assert_eq!(got, want, "case {:?}: normalised {field}", case.name);
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} cases state a normal form");
}

/// `Policy::config` promises: "Building a policy from it gives the same policy." The normal form
/// is also normal: checking it again finds nothing to normalise, and it survives a round trip
/// through a TOML file.
#[test]
fn normal_form_is_idempotent() {
    let mut valid = 0;
    for case in cases() {
        let (_, _, Some(policy)) = run(&case.config) else {
            continue;
        };
        valid += 1;
        let normal = policy.config().clone();
        let again = Policy::check(&normal);
        let second = again.policy().unwrap_or_else(|| {
            panic!(
                "case {:?}: the normal form {normal:?} is invalid:{}",
                case.name,
                describe(again.problems())
            )
        });
        assert_eq!(second.config(), &normal, "case {:?}", case.name);
        for p in again.problems() {
            assert!(
                !matches!(
                    p.code,
                    ProblemCode::OriginNormalized
                        | ProblemCode::Duplicate
                        | ProblemCode::ExposeSafelisted
                ),
                "case {:?}: the normal form still needs normalising: {p}",
                case.name
            );
        }
        // Same decisions too: the normal form allows exactly what the original allows.
        for origin in &policy.config().allow_origins {
            if origin != "*" && !origin.contains('*') {
                assert!(
                    policy.allows_origin(origin.as_bytes()),
                    "case {:?}: {origin}",
                    case.name
                );
                assert!(
                    second.allows_origin(origin.as_bytes()),
                    "case {:?}: {origin}",
                    case.name
                );
            }
        }
        // Through a file: serialise to TOML, read back as `lint` does.
        let text = toml::to_string(&normal).unwrap();
        let doc = parse_document(&text, Format::Toml).unwrap();
        let (parsed, problems, third) = run(&doc);
        assert_eq!(
            parsed, normal,
            "case {:?}: TOML round trip\n{text}",
            case.name
        );
        assert!(
            third.is_some(),
            "case {:?}: {}",
            case.name,
            describe(&problems)
        );
    }
    assert!(valid >= 30, "only {valid} valid cases");
}

/// Origins a normalised pattern stands for (a sample): itself when exact, a subdomain for `*.`,
/// no port and a few ports for `:*`.
fn instances(pattern: &str) -> Vec<String> {
    let (scheme, rest) = pattern.split_once("://").unwrap();
    let hosts = match rest.strip_prefix("*.") {
        Some(base) => vec![format!("x.{base}"), format!("a-b.c_d.{base}")],
        None => vec![rest.to_owned()],
    };
    hosts
        .into_iter()
        .flat_map(|h| match h.strip_suffix(":*") {
            Some(h) => vec![format!("{scheme}://{h}"), format!("{scheme}://{h}:8080")],
            None => vec![format!("{scheme}://{h}")],
        })
        .collect()
}

/// `origin-redundant` says "remove it": doing so must not narrow the policy.
#[test]
fn removing_a_redundant_pattern_keeps_what_is_allowed() {
    let mut seen = 0;
    for case in cases() {
        let (config, problems, Some(policy)) = run(&case.config) else {
            continue;
        };
        for p in problems
            .iter()
            .filter(|p| p.code == ProblemCode::OriginRedundant)
        {
            seen += 1;
            let i: usize = p.field["allow_origins[".len()..p.field.len() - 1]
                .parse()
                .unwrap();
            let normal = Policy::builder()
                .allow_origins([config.allow_origins[i].clone()])
                .dangerously_tolerate_insecure_origins(true)
                .build()
                .unwrap()
                .config()
                .allow_origins[0]
                .clone();
            let mut without = config.clone();
            without.allow_origins.remove(i);
            let smaller = Policy::new(&without).unwrap();
            for origin in instances(&normal) {
                assert!(policy.allows_origin(origin.as_bytes()), "{origin}");
                assert!(
                    smaller.allows_origin(origin.as_bytes()),
                    "case {:?}: {} is flagged redundant, but without it {origin} is refused",
                    case.name,
                    p.value
                );
            }
        }
    }
    assert!(seen >= 3, "only {seen} redundant patterns in the table");
}

/// Every problem code a policy table can produce has a case. `Syntax` belongs to whole documents
/// (tested below); `InvalidValue` to the gateway's own fields; `OriginNotListed` to edits of a
/// live policy (tests/live.rs).
#[test]
fn every_problem_code_has_a_case() {
    let covered: BTreeSet<String> = cases()
        .iter()
        .flat_map(|c| c.expect.iter().map(|e| e.code.clone()))
        .collect();
    let mut names = BTreeSet::new();
    for &code in ProblemCode::ALL {
        let name = code.as_str().to_owned();
        assert!(!name.is_empty(), "{code:?} has no name");
        assert!(names.insert(name.clone()), "two codes named {name}");
        if matches!(
            code,
            ProblemCode::Syntax | ProblemCode::InvalidValue | ProblemCode::OriginNotListed
        ) {
            continue;
        }
        assert!(
            covered.contains(&name),
            "no case in validation.toml expects `{name}` ({code:?})"
        );
    }
    // And the table names no code that does not exist.
    for name in &covered {
        assert!(
            names.contains(name),
            "validation.toml names unknown code {name}"
        );
    }
}

#[test]
fn syntax_errors_are_one_problem_with_a_position() {
    for (text, format, position) in [
        (
            "allow_origins = [\"https://a.example\"",
            Format::Toml,
            "line 1",
        ),
        (
            "allow_origins = [\"https://a.example\"]\nmax_age = ",
            Format::Toml,
            "line 2",
        ),
        (
            "allow_origins = [\"https://a.example\"]\nallow_origins = []",
            Format::Toml,
            "line 2",
        ),
        (
            "{\"allow_origins\": [\"https://a.example\",]}",
            Format::Json,
            "line 1",
        ),
        ("{\"allow_origins\": \n [}", Format::Json, "line 2"),
        (
            "allow_origins: [https://a.example\nmax_age: 5",
            Format::Yaml,
            "line",
        ),
    ] {
        let p = parse_document(text, format).expect_err(text);
        assert_eq!(p.code, ProblemCode::Syntax, "{text}");
        assert_eq!(p.severity, Severity::Error, "{text}");
        assert!(p.message.contains(position), "{text}: {}", p.message);
        assert!(!p.message.contains('\n'), "one line: {}", p.message);
        assert!(p.fix.contains("syntax"), "{}", p.fix);
    }
    // A document that is not a table at all is a wrong type, not a panic.
    let doc = parse_document("[1, 2]", Format::Json).unwrap();
    let (_, problems, policy) = run(&doc);
    assert!(policy.is_none());
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].code, ProblemCode::WrongType);
    assert_eq!(problems[0].field, "");
    assert_eq!(problems[1].code, ProblemCode::NoOriginAllowed);
}

/// The three formats read the same policy into the same problems.
#[test]
fn formats_agree() {
    let toml = "allow_origins = [\"HTTPS://A.example:443\", \"null\"]\nmax_age = 601\nallowed_headers = []\n";
    let json = r#"{"allow_origins": ["HTTPS://A.example:443", "null"], "max_age": 601, "allowed_headers": []}"#;
    let yaml =
        "allow_origins: ['HTTPS://A.example:443', 'null']\nmax_age: 601\nallowed_headers: []\n";
    let results: Vec<Vec<Problem>> = [
        (toml, Format::Toml),
        (json, Format::Json),
        (yaml, Format::Yaml),
    ]
    .into_iter()
    .map(|(t, f)| run(&parse_document(t, f).unwrap()).1)
    .collect();
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
    let mut codes: Vec<String> = results[0]
        .iter()
        .map(|p| p.code.as_str().to_owned())
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "max-age-above-browser-cap",
            "origin-normalized",
            "origin-null",
            "unknown-field"
        ]
    );
    let mut sorted: Vec<&str> = results[0].iter().map(|p| p.field.as_str()).collect();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "allow_origins[0]",
            "allow_origins[1]",
            "allowed_headers",
            "max_age"
        ]
    );
}

/// `Policy::new` refuses with every error, and `Display` lists each of them.
#[test]
fn invalid_config_lists_every_error() {
    let config = PolicyConfig {
        allow_origins: vec!["null".into(), "*".into()],
        allow_credentials: true,
        allow_methods: vec!["TRACE".into()],
        max_age: Some(-1),
        ..PolicyConfig::default()
    };
    let err = Policy::new(&config).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("invalid CORS configuration (4 errors)"),
        "{text}"
    );
    for code in [
        "origin-null",
        "wildcard-origin-with-credentials",
        "method-forbidden",
        "max-age-negative",
    ] {
        assert!(
            text.contains(&format!("error[{code}]")),
            "{code} missing from {text}"
        );
    }
}

/// The builder validates like files do, and never panics on what users write.
#[test]
fn builder_validates_like_files() {
    let built = Policy::builder()
        .allow_origins(["*"])
        .allow_credentials(true)
        .build()
        .unwrap_err();
    assert_eq!(built.errors().count(), 1);
    assert_eq!(
        built.problems()[0].code,
        ProblemCode::WildcardOriginWithCredentials
    );
    let ok = Policy::builder()
        .allow_origins(["HTTPS://Example.com:443"])
        .build()
        .unwrap();
    assert_eq!(ok.config().allow_origins, ["https://example.com"]);
    assert!(ok.allows_origin(b"https://example.com"));
    assert!(!ok.allows_origin(b"HTTPS://Example.com:443"));
}
