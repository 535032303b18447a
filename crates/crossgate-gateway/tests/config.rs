//! Reading gateway configuration documents and files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crossgate::policy::Problem;
use crossgate::policy::ProblemCode;
use crossgate_gateway::{GatewayConfig, LoadError, Upstream};
use serde_json::json;

/// A file in a fresh directory, removed with it when dropped.
struct TempFile(PathBuf);

impl std::ops::Deref for TempFile {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn file(name: &str, text: &str) -> TempFile {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "crossgate-gateway-config-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    TempFile(path)
}

fn find<'p>(problems: &'p [Problem], field: &str) -> &'p Problem {
    problems
        .iter()
        .find(|p| p.field == field)
        .unwrap_or_else(|| panic!("no problem at {field}: {problems:#?}"))
}

#[test]
fn every_problem_is_reported_at_once() {
    let document = json!({
        "listne": "127.0.0.1:9000",
        "listen": "localhost:8080",
        "upstream": "https://api.example.com/v1",
        "cors": {
            "allow_origin": ["https://app.example.com"],
            "max_age": "ten minutes",
        },
    });
    let mut problems = Vec::new();
    let config = GatewayConfig::from_value(&document, &mut problems);
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(problems.iter().all(Problem::is_error));

    let typo = find(&problems, "listne");
    assert_eq!(typo.code, ProblemCode::UnknownField);
    assert_eq!(typo.fix, "did you mean `listen`?");

    let listen = find(&problems, "listen");
    assert_eq!(listen.code, ProblemCode::InvalidValue);
    assert_eq!(listen.value, "localhost:8080");
    assert!(listen.message.contains("host names"), "{listen}");
    assert_eq!(listen.fix, "write it as 127.0.0.1:8080 or [::1]:8080");

    let upstream = find(&problems, "upstream");
    assert_eq!(upstream.code, ProblemCode::InvalidValue);
    assert!(
        upstream
            .message
            .contains("https upstreams are not supported yet"),
        "{upstream}"
    );
    assert!(
        upstream.fix.contains("http://api.example.com/v1"),
        "{upstream}"
    );

    let origin = find(&problems, "cors.allow_origin");
    assert_eq!(origin.code, ProblemCode::UnknownField);
    assert_eq!(origin.fix, "did you mean `allow_origins`?");
    assert_eq!(find(&problems, "cors.max_age").code, ProblemCode::WrongType);

    // What failed keeps its default.
    assert_eq!(config, GatewayConfig::default());
}

#[test]
fn wrong_types_and_bad_urls() {
    let document = json!({ "listen": 8080, "upstream": "http://user:pw@backend:3000", "cors": [] });
    let mut problems = Vec::new();
    GatewayConfig::from_value(&document, &mut problems);
    let codes: Vec<(&str, ProblemCode)> = problems
        .iter()
        .map(|p| (p.field.as_str(), p.code))
        .collect();
    assert_eq!(
        codes,
        [
            ("listen", ProblemCode::WrongType),
            ("upstream", ProblemCode::InvalidValue),
            ("cors", ProblemCode::WrongType),
        ]
    );
    assert!(problems[1].message.contains("userinfo"), "{}", problems[1]);
}

const TOML: &str = r#"
listen = "127.0.0.1:0"
upstream = "http://127.0.0.1:3000/api"

[cors]
allow_origins = ["https://app.example.com"]
allow_credentials = true
allow_methods = ["GET", "POST", "PUT", "DELETE"]
allow_headers = ["content-type", "authorization"]
expose_headers = ["x-request-id"]
max_age = 600
"#;

const JSON: &str = r#"{
  "listen": "127.0.0.1:0",
  "upstream": "http://127.0.0.1:3000/api",
  "cors": {
    "allow_origins": ["https://app.example.com"],
    "allow_credentials": true,
    "allow_methods": ["GET", "POST", "PUT", "DELETE"],
    "allow_headers": ["content-type", "authorization"],
    "expose_headers": ["x-request-id"],
    "max_age": 600
  }
}"#;

const YAML: &str = r#"
listen: "127.0.0.1:0"
upstream: http://127.0.0.1:3000/api
cors:
  allow_origins: [https://app.example.com]
  allow_credentials: true
  allow_methods: [GET, POST, PUT, DELETE]
  allow_headers: [content-type, authorization]
  expose_headers: [x-request-id]
  max_age: 600
"#;

#[test]
fn loads_toml_json_and_yaml_alike() {
    let (toml, warnings) = GatewayConfig::load(&file("gateway.toml", TOML)).unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(toml.listen, "127.0.0.1:0".parse().unwrap());
    assert_eq!(
        toml.upstream,
        Some(Upstream::parse("http://127.0.0.1:3000/api").unwrap())
    );
    assert_eq!(
        toml.upstream.as_ref().unwrap().to_string(),
        "http://127.0.0.1:3000/api"
    );
    assert_eq!(toml.cors.allow_origins, ["https://app.example.com"]);
    assert!(toml.cors.allow_credentials);
    assert_eq!(toml.cors.max_age, Some(600));
    crossgate::policy::Policy::new(&toml.cors).expect("the policy builds");

    let (json, _) = GatewayConfig::load(&file("gateway.json", JSON)).unwrap();
    let (yaml, _) = GatewayConfig::load(&file("gateway.yaml", YAML)).unwrap();
    let (yml, _) = GatewayConfig::load(&file("gateway.yml", YAML)).unwrap();
    // Any other extension is read as TOML, the documented format.
    let (conf, _) = GatewayConfig::load(&file("gateway.conf", TOML)).unwrap();
    assert_eq!(json, toml);
    assert_eq!(yaml, toml);
    assert_eq!(yml, toml);
    assert_eq!(conf, toml);
}

#[test]
fn every_key_is_optional() {
    for (name, text) in [
        ("empty.toml", ""),
        ("empty.yaml", "# nothing\n"),
        ("empty.json", "{}"),
    ] {
        let (config, warnings) = GatewayConfig::load(&file(name, text)).unwrap();
        assert_eq!(config, GatewayConfig::default(), "{name}");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.upstream, None);
        assert!(config.routes_in_force()[0].upstream.is_echo());
        // A policy that allows nothing is allowed, with a warning saying so.
        let codes: Vec<(&str, ProblemCode)> = warnings
            .iter()
            .map(|p| (p.field.as_str(), p.code))
            .collect();
        assert_eq!(
            codes,
            [("cors.allow_origins", ProblemCode::NoOriginAllowed)],
            "{name}"
        );
    }
}

#[test]
fn policy_problems_are_reported_under_cors_with_the_documents_own() {
    let text = r#"
listen = "127.0.0.1:99999"

[cors]
allow_origins = ["*"]
allow_credentials = true
max_age = 100000
"#;
    let err = GatewayConfig::load(&file("bad.toml", text)).unwrap_err();
    let LoadError::Invalid { problems, .. } = &err else {
        panic!("expected invalid, got {err}");
    };
    assert_eq!(find(problems, "listen").code, ProblemCode::InvalidValue);
    let wildcard = problems
        .iter()
        .find(|p| p.code == ProblemCode::WildcardOriginWithCredentials)
        .unwrap_or_else(|| panic!("{problems:#?}"));
    assert!(wildcard.field.starts_with("cors."), "{wildcard}");
    let cap = problems
        .iter()
        .find(|p| p.code == ProblemCode::MaxAgeAboveBrowserCap)
        .unwrap_or_else(|| panic!("{problems:#?}"));
    assert_eq!(cap.field, "cors.max_age");
    assert!(!cap.is_error(), "warnings come along with the errors");
    let shown = err.to_string();
    assert!(shown.starts_with("invalid configuration "), "{shown}");
    assert!(shown.contains("(2 errors)"), "{shown}");
    assert_eq!(err.problems().len(), problems.len());
}

#[test]
fn warnings_alone_do_not_refuse_a_file() {
    let text = "[cors]\nallow_origins = [\"https://app.example.com\"]\nmax_age = 100000\n";
    let (config, warnings) = GatewayConfig::load(&file("warn.toml", text)).unwrap();
    assert_eq!(config.cors.max_age, Some(100000));
    assert!(!warnings.is_empty());
    assert!(warnings.iter().all(|p| !p.is_error()), "{warnings:#?}");
}

#[test]
fn syntax_errors_and_unreadable_files_are_told_apart() {
    let err = GatewayConfig::load(&file("broken.toml", "listen = [")).unwrap_err();
    assert_eq!(err.problems().len(), 1);
    assert_eq!(err.problems()[0].code, ProblemCode::Syntax);

    let err = GatewayConfig::load(&file("broken.json", "{\"listen\": }")).unwrap_err();
    assert_eq!(err.problems()[0].code, ProblemCode::Syntax);

    let missing = std::env::temp_dir().join("crossgate-gateway-no-such-dir/gateway.toml");
    let err = GatewayConfig::load(&missing).unwrap_err();
    let LoadError::Read { source, .. } = &err else {
        panic!("expected a read error, got {err}");
    };
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().starts_with("cannot read "), "{err}");
    assert!(err.problems().is_empty());
    assert!(std::error::Error::source(&err).is_some());
}

/// `allow_origins_file`: read relative to the configuration, merged after the table's own
/// origins, at the top level and in a route; each bad line reported as `{file}:{line}`.
#[test]
fn origin_list_files_are_merged_and_their_lines_named() {
    let path = file(
        "gateway.toml",
        r#"
upstream = "http://127.0.0.1:9"
[cors]
allow_origins = ["https://app.example.com"]
allow_origins_file = "origins.txt"
allow_credentials = true

[[routes]]
prefix = "/admin"
upstream = "http://127.0.0.1:9"
[routes.cors]
allow_origins_file = "lists/admin.txt"
"#,
    );
    let dir = path.parent().unwrap();
    std::fs::write(
        dir.join("origins.txt"),
        "# tenants\nhttps://t1.example\n\nhttps://*.preview.example.com  # previews\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    std::fs::write(dir.join("lists/admin.txt"), "https://admin.example.com\n").unwrap();
    let (config, warnings) = GatewayConfig::load(&path).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        config.cors.allow_origins,
        [
            "https://app.example.com",
            "https://t1.example",
            "https://*.preview.example.com"
        ]
    );
    assert_eq!(config.cors_origins_file.as_deref(), Some("origins.txt"));
    assert_eq!(
        config.routes[0].cors.as_ref().unwrap().allow_origins,
        ["https://admin.example.com"]
    );
    assert_eq!(
        config.origin_files(),
        [dir.join("origins.txt"), dir.join("lists/admin.txt")]
    );

    // Bad lines: each named by file and line, with its fix; the table's own origin by index.
    std::fs::write(
        dir.join("origins.txt"),
        "https://t1.example\n# a comment\nhttp://insecure.example\nhttps://t1.example/path\n",
    )
    .unwrap();
    let Err(LoadError::Invalid { problems, .. }) = GatewayConfig::load(&path) else {
        panic!("bad lines must refuse the file");
    };
    let fields: Vec<(&str, ProblemCode)> = problems
        .iter()
        .map(|p| (p.field.as_str(), p.code))
        .collect();
    assert_eq!(
        fields,
        [
            ("origins.txt:4", ProblemCode::OriginHasPath),
            ("origins.txt:3", ProblemCode::InsecureOriginWithCredentials),
        ]
    );
    assert!(problems.iter().all(|p| !p.fix.is_empty()));

    // A missing file is an error at the key, naming the path to fix.
    std::fs::remove_file(dir.join("lists/admin.txt")).unwrap();
    std::fs::write(dir.join("origins.txt"), "https://t1.example\n").unwrap();
    let Err(LoadError::Invalid { problems, .. }) = GatewayConfig::load(&path) else {
        panic!("a missing list must refuse the file");
    };
    let missing = find(&problems, "routes[0].cors.allow_origins_file");
    assert_eq!(missing.code, ProblemCode::InvalidValue);
    assert!(missing.message.contains("admin.txt"), "{}", missing.message);
}

#[test]
fn allow_origins_file_must_be_a_path() {
    let (_, problems) = GatewayConfig::check(&json!({
        "cors": {"allow_origins": ["https://a.example"], "allow_origins_file": 3}
    }));
    let p = find(&problems, "cors.allow_origins_file");
    assert_eq!(p.code, ProblemCode::WrongType);
    assert!(p.is_error());
}
