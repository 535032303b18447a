//! The `crossgate` binary as users run it: real processes, real files, real sockets on
//! 127.0.0.1 (port 0), bounded in time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{readme_block, repo_file};

const BIN: &str = env!("CARGO_BIN_EXE_crossgate");

fn crossgate(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("crossgate runs")
}

fn write_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// --- lint ----------------------------------------------------------------------------------------

#[test]
fn lint_accepts_a_valid_policy() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "policy.toml",
        r#"allow_origins = ["https://app.example.com", "https://*.example.org"]
allow_credentials = true
allow_methods = ["GET", "PUT"]
allow_headers = ["content-type"]
max_age = 600
"#,
    );
    let out = crossgate(&["lint", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("valid: "), "{stdout}");
    assert!(stdout.contains("0 warnings"), "{stdout}");
}

#[test]
fn lint_lists_every_problem_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "policy.toml",
        r#"allow_origins = ["*", "null"]
allow_credentials = true
allow_methods = ["TRACE"]
allow_headers = ["content-type: application/json"]
max_age = -1
alow_private_network = true
"#,
    );
    let out = crossgate(&["lint", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    for (code, field) in [
        ("unknown-field", "alow_private_network"),
        ("origin-null", "allow_origins[1]"),
        ("wildcard-origin-with-credentials", "allow_origins"),
        ("method-forbidden", "allow_methods[0]"),
        ("header-invalid", "allow_headers[0]"),
        ("max-age-negative", "max_age"),
    ] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("error[{code}]: {field}")))
            .unwrap_or_else(|| panic!("no {code} line for {field} in:\n{stdout}"));
        assert!(line.contains("(fix: "), "{line}");
    }
    assert!(
        stdout.contains("did you mean `allow_private_network`?"),
        "{stdout}"
    );
    assert!(
        stdout.contains("write the name only: \"content-type\""),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with("errors, 0 warnings)"),
        "{stdout}"
    );
}

#[test]
fn lint_json_has_the_contract_shape() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "policy.json",
        r#"{"allow_origins": ["HTTPS://App.Example.com:443"], "max_age": 100000, "expose_headers": ["Set-Cookie"]}"#,
    );
    let out = crossgate(&["lint", "--json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["valid"], false);
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{doc:#}");
    assert_eq!(errors[0]["code"], "expose-forbidden");
    assert_eq!(errors[0]["field"], "expose_headers[0]");
    assert_eq!(errors[0]["value"], "Set-Cookie");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("Set-Cookie")
    );
    let warnings: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(warnings.contains(&"origin-normalized"), "{warnings:?}");
    assert!(
        warnings.contains(&"max-age-above-browser-cap"),
        "{warnings:?}"
    );
    for key in ["field", "value", "code", "message"] {
        assert!(errors[0].get(key).is_some(), "missing {key}");
    }
}

#[test]
fn lint_warnings_do_not_change_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "policy.yaml",
        "allow_origins: ['HTTPS://App.Example.com:443']\nmax_age: 100000\n",
    );
    let out = crossgate(&["lint", "--json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 2);
    assert_eq!(doc["policy"]["allow_origins"][0], "https://app.example.com");
}

#[test]
fn lint_reads_the_cors_table_of_a_gateway_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "gateway.toml",
        r#"listen = "127.0.0.1:8080"
upstream = "http://127.0.0.1:3000"
[cors]
allow_origins = ["http://app.example.com"]
allow_credentials = true
"#,
    );
    let out = crossgate(&["lint", "--json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["kind"], "gateway");
    assert_eq!(doc["errors"][0]["field"], "cors.allow_origins[0]");
    assert_eq!(doc["errors"][0]["code"], "insecure-origin-with-credentials");
}

/// An origin list file by itself: each bad line named `file:line`, the normal forms in JSON.
#[test]
fn lint_checks_an_origin_list_file() {
    let dir = tempfile::tempdir().unwrap();
    let list = write_file(
        &dir,
        "origins.txt",
        "# tenants\nhttps://a.example\nHTTPS://B.example   # upper case\n\nhttps://c.example/path\nnull\n",
    );
    let out = crossgate(&["lint", list.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let name = list.display().to_string();
    for line in [3, 5, 6] {
        assert!(
            stdout.contains(&format!("{name}:{line}")),
            "line {line}: {stdout}"
        );
    }
    assert!(
        stdout.contains("origin-has-path") || stdout.contains("path"),
        "{stdout}"
    );
    assert!(
        stdout.contains("credentials"),
        "the note on what is checked elsewhere: {stdout}"
    );

    std::fs::write(&list, "https://a.example\nHTTPS://B.example\n").unwrap();
    let out = crossgate(&["lint", "--json", list.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["kind"], "origins");
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["warnings"][0]["field"], format!("{name}:2"));
    assert_eq!(doc["warnings"][0]["code"], "origin-normalized");
    assert_eq!(
        doc["origins"],
        serde_json::json!(["https://a.example", "https://b.example"])
    );
    assert!(doc["policy"].is_null());

    // Any extension, with --origins.
    let other = write_file(&dir, "tenants.conf", "https://a.example\n");
    let out = crossgate(&["lint", "--origins", "--json", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = crossgate(&["lint", dir.path().join("missing.txt").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

/// A gateway configuration's origin list is checked with the policy that names it: credential
/// rules apply to its lines.
#[test]
fn lint_checks_the_origin_list_a_gateway_config_names() {
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir, "origins.txt", "https://a.example\nhttp://b.example\n");
    let file = write_file(
        &dir,
        "gateway.toml",
        "upstream = \"echo\"\n[cors]\nallow_origins_file = \"origins.txt\"\nallow_credentials = true\n",
    );
    let out = crossgate(&["lint", "--json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["errors"][0]["field"], "origins.txt:2");
    assert_eq!(doc["errors"][0]["code"], "insecure-origin-with-credentials");
}

#[test]
fn lint_reports_syntax_errors_and_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "broken.toml", "allow_origins = [\n");
    let out = crossgate(&["lint", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("error[syntax]"),
        "{}",
        text(&out.stdout)
    );

    let missing = dir.path().join("missing.toml");
    let out = crossgate(&["lint", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_arguments_exit_2() {
    let out = crossgate(&["lint"]);
    assert_eq!(out.status.code(), Some(2));
    let out = crossgate(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

// --- serve ---------------------------------------------------------------------------------------

/// A running `crossgate serve`, stopped with SIGINT when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
    banner: String,
}

impl Served {
    fn start(args: &[&str]) -> Served {
        let mut command = Command::new(BIN);
        command.arg("serve").args(args).stderr(Stdio::piped());
        let (child, banner) = support::start_serve(command);
        let addr = support::banner_addr(&banner, "listening on http://").expect("a listening line");
        Served {
            child,
            addr,
            banner,
        }
    }

    /// Sends SIGINT and waits (bounded) for the exit status.
    fn interrupt(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill runs");
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGINT");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        (status.code(), stderr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange over a fresh connection: (status, lower-cased header lines, body).
fn exchange(addr: SocketAddr, head: &str) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("{head}Host: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = text(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn serve_runs_on_the_embedded_default() {
    // Only the port differs from "no arguments", so the test never collides with a real 8080.
    let served = Served::start(&["--listen", "127.0.0.1:0"]);
    assert_ne!(served.addr.port(), 0);
    assert!(
        served.banner.contains("upstream: built-in echo upstream"),
        "{}",
        served.banner
    );
    assert!(
        served.banner.contains("http://localhost:*"),
        "{}",
        served.banner
    );

    let origin = "http://localhost:5173";
    let (status, headers, _) = exchange(
        served.addr,
        &format!(
            "OPTIONS /items HTTP/1.1\r\nOrigin: {origin}\r\n\
             Access-Control-Request-Method: PATCH\r\nAccess-Control-Request-Headers: content-type\r\n"
        ),
    );
    assert_eq!(status, 204);
    assert_eq!(header(&headers, "access-control-allow-origin"), [origin]);
    assert_eq!(
        header(&headers, "access-control-allow-credentials"),
        ["true"]
    );
    assert_eq!(
        header(&headers, "access-control-allow-methods"),
        ["PUT, PATCH, DELETE"]
    );
    assert_eq!(
        header(&headers, "access-control-allow-headers"),
        ["content-type, authorization"]
    );

    let (status, headers, body) = exchange(
        served.addr,
        &format!("GET /items?page=2 HTTP/1.1\r\nOrigin: {origin}\r\nX-Test: 1\r\n"),
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "access-control-allow-origin"), [origin]);
    assert_eq!(header(&headers, "vary"), ["Origin"]);
    let echo: serde_json::Value = serde_json::from_str(&body).expect("echo JSON");
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["path"], "/items");

    let (status, headers, _) = exchange(
        served.addr,
        "GET / HTTP/1.1\r\nOrigin: https://evil.example\r\n",
    );
    assert_eq!(status, 200);
    assert!(header(&headers, "access-control-allow-origin").is_empty());

    let (code, stderr) = served.interrupt();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
}

#[test]
fn serve_reads_a_config_file_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "gateway.toml",
        r#"listen = "127.0.0.1:1"
upstream = "http://127.0.0.1:9"

[cors]
allow_origins = ["https://app.example.com"]
expose_headers = ["x-request-id"]
"#,
    );
    // --listen and --upstream override the file's (unusable) values.
    let served = Served::start(&[
        "--config",
        file.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "echo",
    ]);
    assert!(
        served.banner.contains(file.to_str().unwrap()),
        "{}",
        served.banner
    );
    let (status, headers, _) = exchange(
        served.addr,
        "GET / HTTP/1.1\r\nOrigin: https://app.example.com\r\n",
    );
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        ["https://app.example.com"]
    );
    assert_eq!(
        header(&headers, "access-control-expose-headers"),
        ["x-request-id"]
    );
    let (code, _) = served.interrupt();
    assert_eq!(code, Some(0));
}

#[test]
fn serve_answers_502_with_cors_headers_when_the_upstream_is_down() {
    // Bind and drop a listener to find a port where nothing listens.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let upstream = format!("http://{dead}");
    let served = Served::start(&["--listen", "127.0.0.1:0", "--upstream", &upstream]);
    let origin = "http://127.0.0.1:3000";
    let (status, headers, body) = exchange(
        served.addr,
        &format!("GET /x HTTP/1.1\r\nOrigin: {origin}\r\n"),
    );
    assert_eq!(status, 502, "{body}");
    assert_eq!(header(&headers, "access-control-allow-origin"), [origin]);
    assert_eq!(
        header(&headers, "access-control-allow-credentials"),
        ["true"]
    );
    assert!(body.contains("upstream"), "{body}");
    let (code, _) = served.interrupt();
    assert_eq!(code, Some(0));
}

#[test]
fn serve_refuses_an_invalid_config_listing_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "gateway.toml",
        r#"listen = "localhost"
upstrem = "http://127.0.0.1:3000"
[cors]
allow_origins = ["*"]
allow_credentials = true
"#,
    );
    let out = crossgate(&["serve", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for needle in [
        "error[invalid-value]: listen",
        "error[unknown-field]: upstrem",
        "did you mean `upstream`?",
        "error[wildcard-origin-with-credentials]: cors.allow_origins",
        "refusing to start: 3 errors",
    ] {
        assert!(stderr.contains(needle), "{needle:?} not in:\n{stderr}");
    }
    assert!(!text(&out.stdout).contains("listening on"));
}

#[test]
fn serve_cannot_answer_with_an_unreadable_config_or_a_bad_upstream() {
    let out = crossgate(&["serve", "--config", "/nonexistent/gateway.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim().lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
    let out = crossgate(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "https://api.example",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--upstream"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn serve_reports_an_address_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = crossgate(&["serve", "--listen", &addr]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot listen on"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn lint_checks_every_route_of_a_gateway_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "gateway.toml",
        r#"listen = "127.0.0.1:0"

[cors]
allow_origins = ["https://app.example.com"]

[[routes]]
prefix = "/api"
upstream = "http://127.0.0.1:3000"

[[routes]]
prefix = "/public"
upstream = "http://127.0.0.1:3001"
[routes.cors]
allow_origins = ["*"]
allow_credentials = true

[[routes]]
prefix = "admin"
upstream = "ftp://127.0.0.1"

[timeouts]
connect = "forever"
"#,
    );
    let out = crossgate(&["lint", "--json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["kind"], "gateway");
    let fields: Vec<&str> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.iter().any(|f| f.starts_with("routes[1].cors.")),
        "{fields:?}"
    );
    for field in ["routes[2].prefix", "routes[2].upstream", "timeouts.connect"] {
        assert!(fields.contains(&field), "{field} not in {fields:?}");
    }
}

/// The admin address from a banner line `admin: http://ADDR/metrics, ...`.
fn admin_addr(banner: &str) -> SocketAddr {
    banner
        .lines()
        .find_map(|l| l.strip_prefix("admin: http://"))
        .and_then(|rest| rest.split('/').next())
        .expect("an admin line")
        .parse()
        .unwrap()
}

fn metric(addr: SocketAddr, series: &str) -> f64 {
    let (status, _, body) = exchange(addr, "GET /metrics HTTP/1.1\r\n");
    assert_eq!(status, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

fn allows(addr: SocketAddr, origin: &str) -> bool {
    let (_, headers, _) = exchange(addr, &format!("GET / HTTP/1.1\r\nOrigin: {origin}\r\n"));
    header(&headers, "access-control-allow-origin") == [origin]
}

/// Waits (at most 10 s, polling) until `done`; fails saying `what` did not happen.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `serve` on `file` with ports picked by the system, reloading on SIGHUP only.
fn serve_without_watching(file: &Path) -> Served {
    Served::start(&[
        "--config",
        file.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--no-watch",
    ])
}

fn hangup(served: &Served) {
    Command::new("kill")
        .args(["-HUP", &served.child.id().to_string()])
        .status()
        .expect("kill runs");
}

#[test]
fn serve_reloads_on_sighup_and_keeps_serving_when_the_new_file_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let policy =
        |origin: &str| format!("upstream = \"echo\"\n[cors]\nallow_origins = [\"{origin}\"]\n");
    let file = write_file(&dir, "gateway.toml", &policy("https://first.example"));
    let served = serve_without_watching(&file);
    let admin = admin_addr(&served.banner);
    assert!(allows(served.addr, "https://first.example"));

    std::fs::write(&file, policy("https://second.example")).unwrap();
    hangup(&served);
    wait_for("SIGHUP did not reload", || {
        allows(served.addr, "https://second.example")
    });
    assert!(!allows(served.addr, "https://first.example"));

    std::fs::write(
        &file,
        "upstream = \"echo\"\n[cors]\nallow_origins = [\"*\"]\nallow_credentials = true\n",
    )
    .unwrap();
    hangup(&served);
    wait_for("the invalid reload was not counted", || {
        metric(admin, "crossgate_config_reloads_total{result=\"failed\"}") >= 1.0
    });
    assert!(allows(served.addr, "https://second.example"));
    assert_eq!(
        metric(admin, "crossgate_config_reloads_total{result=\"ok\"}"),
        1.0
    );
    let (code, stderr) = served.interrupt();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("configuration reloaded"), "{stderr}");
    assert!(
        stderr.contains("wildcard-origin-with-credentials"),
        "{stderr}"
    );
    assert!(stderr.contains("configuration reload refused"), "{stderr}");
}

/// The origin list a configuration names reloads on SIGHUP: a line added grants access; a bad
/// line is logged with its line number and the fix, and the list in force keeps serving.
#[test]
fn serve_reloads_its_origin_list_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let list = write_file(&dir, "origins.txt", "https://first.example\n");
    let file = write_file(
        &dir,
        "gateway.toml",
        "upstream = \"echo\"\n[cors]\nallow_origins_file = \"origins.txt\"\n",
    );
    let served = serve_without_watching(&file);
    let admin = admin_addr(&served.banner);
    assert!(allows(served.addr, "https://first.example"));
    assert!(!allows(served.addr, "https://second.example"));

    std::fs::write(&list, "https://first.example\nhttps://second.example\n").unwrap();
    hangup(&served);
    wait_for("SIGHUP did not reload the list", || {
        allows(served.addr, "https://second.example")
    });

    std::fs::write(&list, "https://third.example\nhttps://bad.example/path\n").unwrap();
    hangup(&served);
    wait_for("the bad list was not refused", || {
        metric(admin, "crossgate_config_reloads_total{result=\"failed\"}") >= 1.0
    });
    assert!(allows(served.addr, "https://second.example"));
    assert!(!allows(served.addr, "https://third.example"));
    let (code, stderr) = served.interrupt();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("origins.txt:2"), "{stderr}");
    assert!(stderr.contains("origin-has-path"), "{stderr}");
}

#[test]
fn serve_reloads_when_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let policy = |origin: &str| format!("[cors]\nallow_origins = [\"{origin}\"]\n");
    let file = write_file(&dir, "watched.toml", &policy("https://first.example"));
    let served = Served::start(&[
        "--config",
        file.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--watch-interval",
        "50ms",
    ]);
    assert!(allows(served.addr, "https://first.example"));
    std::fs::write(&file, policy("https://second.example")).unwrap();
    wait_for("the change was not reloaded", || {
        allows(served.addr, "https://second.example")
    });
    let (code, _) = served.interrupt();
    assert_eq!(code, Some(0));
}

#[test]
fn serve_logs_json_with_one_line_per_refused_cors_request() {
    let served = Served::start(&["--listen", "127.0.0.1:0", "--log-format", "json"]);
    let (status, _, _) = exchange(
        served.addr,
        "OPTIONS /items HTTP/1.1\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: PUT\r\n",
    );
    assert_eq!(status, 403);
    let (status, _, _) = exchange(
        served.addr,
        "GET /items HTTP/1.1\r\nOrigin: http://localhost:3000\r\n",
    );
    assert_eq!(status, 200);
    let (status, _, _) = exchange(
        served.addr,
        "DELETE /items HTTP/1.1\r\nOrigin: https://evil.example\r\n",
    );
    assert_eq!(status, 200);
    let (code, stderr) = served.interrupt();
    assert_eq!(code, Some(0));
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let refused: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["target"] == "crossgate::gateway::cors")
        .collect();
    assert_eq!(refused.len(), 2, "{stderr}");
    assert_eq!(refused[0]["kind"], "preflight");
    assert_eq!(refused[0]["reason"], "origin-not-allowed");
    assert_eq!(refused[0]["level"], "INFO");
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .contains("https://evil.example"),
        "{}",
        refused[0]
    );
    assert_eq!(refused[1]["kind"], "actual");
    assert_eq!(refused[1]["method"], "DELETE");
}

// --- the README ----------------------------------------------------------------------------------

#[test]
fn readme_quick_start_names_the_commands_ci_runs() {
    let block = readme_block("## Quick start", "```");
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty() && *l != "sh")
        .collect();
    assert_eq!(
        commands[..2],
        [
            "cargo run --release --bin crossgate -- serve",
            "cargo test --workspace --all-features"
        ],
        "the first two quick-start commands run the gateway and every test"
    );
    let ci = repo_file(".ci/run");
    assert!(
        ci.contains(commands[1]),
        ".ci/run must run the README's test command"
    );
}
