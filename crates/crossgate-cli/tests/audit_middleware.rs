//! `crossgate audit` on real CORS middleware: Express + `cors` from npm, flask-cors, Starlette
//! (1.x and 0.52) and django-cors-headers from PyPI, each in the configurations their
//! documentation and the most-read answers show (tests/middleware/corpus.toml, one line of
//! justification per row). Every row must give exactly its findings, `info` included, and
//! CORScanner, run on the same server, must report exactly what the table records; everything
//! it finds, crossgate finds too (the class, or a broader one that explains it).
//!
//! The servers come from scripts/install-middleware (under target/middleware, or
//! `$CROSSGATE_MIDDLEWARE_DIR`). Without them this test prints SKIPPED and passes, unless
//! `CROSSGATE_REQUIRE_MIDDLEWARE=1` (CI sets it), which makes it fail. The side-by-side table of
//! both tools is written to `target/audit-vs-corscanner.md` (`scripts/audit-vs-corscanner`
//! prints it).

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crossgate::audit::{Class, SESSION_PROBE_COOKIE};
use serde::Deserialize;
use serde_json::Value;
use support::BIN;

const HOST: &str = "api.example.com";
/// The longest a server may take to start, and an audit or a CORScanner run to finish.
const START: Duration = Duration::from_secs(60);
const RUN: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
struct Corpus {
    server: Vec<Row>,
}

#[derive(Deserialize, Clone)]
struct Row {
    middleware: String,
    config: String,
    findings: Vec<String>,
    corscanner: Vec<String>,
    why: String,
    /// The finding was seen only with the session cookie, and its explanation says so.
    #[serde(default)]
    needs_session_cookie: bool,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/middleware")
}

/// Where scripts/install-middleware put the packages, if it did.
fn installed() -> Option<PathBuf> {
    let dir = std::env::var_os("CROSSGATE_MIDDLEWARE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/middleware"));
    let complete = dir.join("node/.stamp").is_file() && dir.join("venv/.stamp").is_file();
    complete.then_some(dir)
}

/// A corpus server, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a corpus server's standard error goes, so that a failed start shows its traceback.
fn server_log(row: &Row) -> PathBuf {
    workspace().join(format!(
        "target/middleware-logs/{}-{}.log",
        row.middleware, row.config
    ))
}

/// Runs `command` to the end, or kills it after `RUN`: a hang fails the test, never CI's clock.
fn bounded(mut command: Command, what: &str) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Loopback only: a proxy from the environment must not see the requests.
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(RUN) {
        Ok(output) => output.unwrap_or_else(|e| panic!("{what}: {e}")),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("{what} ran longer than {RUN:?}");
        }
    }
}

fn start(dir: &Path, row: &Row) -> Server {
    let corpus = corpus_dir();
    let python = dir.join("venv/bin/python");
    let mut command = match row.middleware.as_str() {
        "express" => {
            let mut c = Command::new("node");
            c.arg(corpus.join("express_app.js"))
                .env("NODE_PATH", dir.join("node/node_modules"));
            c
        }
        "starlette-0.52" => {
            let mut c = Command::new(&python);
            c.arg(corpus.join("python_app.py"))
                .arg("starlette")
                .env("PYTHONPATH", dir.join("starlette-0.52"));
            c
        }
        "flask" | "starlette" | "django" => {
            let mut c = Command::new(&python);
            c.arg(corpus.join("python_app.py")).arg(&row.middleware);
            c
        }
        other => panic!("corpus.toml: unknown middleware `{other}`"),
    };
    let log = server_log(row);
    let _ = std::fs::create_dir_all(log.parent().unwrap());
    let stderr = std::fs::File::create(&log).unwrap();
    let mut child = command
        .arg(&row.config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {} {}: {e}", row.middleware, row.config));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut server = Server { child, port: 0 };
    let line = rx.recv_timeout(START).unwrap_or_default();
    server.port = line.trim().parse().unwrap_or_else(|_| {
        panic!(
            "{} {} did not print its port (got {line:?}); its standard error:\n{}",
            row.middleware,
            row.config,
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    server
}

/// crossgate's findings for the server, as "class:severity", and their explanations.
fn audit(port: u16) -> (BTreeSet<String>, Vec<String>) {
    let url = format!("http://127.0.0.1:{port}/api/items");
    let mut command = Command::new(BIN);
    command.env("NO_COLOR", "1").args([
        "audit",
        &url,
        "--format",
        "json",
        "-H",
        &format!("Host: {HOST}"),
        "--timeout",
        "10",
    ]);
    let out = bounded(command, "crossgate audit");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // A verdict is only as good as the probes that got an answer.
    assert_eq!(doc["requests_failed"], 0, "{doc:#}");
    assert_eq!(doc["requests"], doc["requests_planned"], "{doc:#}");
    let findings = doc["findings"].as_array().unwrap();
    let named = findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["class"].as_str().unwrap(),
                f["severity"].as_str().unwrap()
            )
        })
        .collect();
    let explanations = findings
        .iter()
        .map(|f| f["explanation"].as_str().unwrap().to_owned())
        .collect();
    (named, explanations)
}

/// CORScanner's findings for the server, as "type" or "type+credentials".
fn corscanner(dir: &Path, port: u16) -> BTreeSet<String> {
    let mut command = Command::new(dir.join("venv/bin/python"));
    command
        .arg(corpus_dir().join("corscanner_run.py"))
        .arg(format!("http://{HOST}:{port}/api/items"));
    let out = bounded(command, "CORScanner");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "CORScanner printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    doc["found"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let credentials = if f["credentials"] == true {
                "+credentials"
            } else {
                ""
            };
            format!("{}{credentials}", f["type"].as_str().unwrap())
        })
        .collect()
}

/// The crossgate class of each CORScanner check.
fn class_of_corscanner(kind: &str) -> Class {
    match kind.trim_end_matches("+credentials") {
        "reflect_origin" => Class::OriginReflection,
        "prefix_match" => Class::PrefixMatch,
        "suffix_match" => Class::SuffixMatch,
        "trust_null" => Class::NullOrigin,
        "include_match" => Class::SubstringMatch,
        "not_escape_dot" => Class::UnescapedDot,
        "custom_third_parties" => Class::ThirdPartyOrigin,
        "special_characters_bypass" => Class::SpecialCharacters,
        "trust_any_subdomain" => Class::SubdomainTrust,
        "https_trust_http" => Class::InsecureOrigin,
        other => panic!("a CORScanner check this test does not know: {other}"),
    }
}

/// What one row gave.
struct Outcome {
    row: Row,
    crossgate: BTreeSet<String>,
    explanations: Vec<String>,
    corscanner: BTreeSet<String>,
}

impl Outcome {
    /// Every way the row disagrees with the table, or CORScanner finds what crossgate does not.
    fn problems(&self) -> Vec<String> {
        let name = format!("{} {}", self.row.middleware, self.row.config);
        let expected: BTreeSet<String> = self.row.findings.iter().cloned().collect();
        let mut problems = Vec::new();
        if self.crossgate != expected {
            problems.push(format!(
                "{name}: crossgate found {:?}, the table says {:?} ({})",
                self.crossgate, expected, self.row.why
            ));
        }
        let cookie = SESSION_PROBE_COOKIE;
        let says_cookie = self.explanations.iter().any(|e| e.contains(cookie));
        if says_cookie != self.row.needs_session_cookie {
            problems.push(format!(
                "{name}: a finding that says only `{cookie}` showed it: {says_cookie}, the table \
                 says {}",
                self.row.needs_session_cookie
            ));
        }
        let recorded: BTreeSet<String> = self.row.corscanner.iter().cloned().collect();
        if self.corscanner != recorded {
            problems.push(format!(
                "{name}: CORScanner found {:?}, the table records {:?}",
                self.corscanner, recorded
            ));
        }
        let ours: Vec<Class> = self
            .crossgate
            .iter()
            .filter_map(|f| Class::parse(f.split(':').next().unwrap_or_default()))
            .collect();
        for kind in &self.corscanner {
            let class = class_of_corscanner(kind);
            let explained =
                ours.contains(&class) || class.explained_by().iter().any(|b| ours.contains(b));
            if !explained {
                problems.push(format!(
                    "{name}: CORScanner found {kind} ({class}), crossgate nothing that covers it"
                ));
            }
        }
        problems
    }

    fn table_line(&self) -> String {
        let list = |s: &BTreeSet<String>| {
            if s.is_empty() {
                "clean".to_owned()
            } else {
                s.iter().cloned().collect::<Vec<_>>().join(", ")
            }
        };
        // A reflecting server passes all of CORScanner's checks: name the one that says why.
        let theirs = match self
            .corscanner
            .iter()
            .find(|k| k.starts_with("reflect_origin"))
        {
            Some(reflect) if self.corscanner.len() > 1 => format!(
                "{reflect} (and the {} narrower checks it passes)",
                self.corscanner.len() - 1
            ),
            _ => list(&self.corscanner),
        };
        format!(
            "| {} | `{}` | {} | {} |",
            self.row.middleware,
            self.row.config,
            list(&self.crossgate),
            theirs
        )
    }
}

#[test]
fn real_middleware_against_the_table_and_corscanner() {
    let Some(dir) = installed() else {
        if std::env::var("CROSSGATE_REQUIRE_MIDDLEWARE").is_ok_and(|v| v == "1") {
            panic!(
                "CROSSGATE_REQUIRE_MIDDLEWARE=1 but no middleware: run scripts/install-middleware"
            );
        }
        eprintln!("SKIPPED: no middleware installed (run scripts/install-middleware)");
        return;
    };
    let text = std::fs::read_to_string(corpus_dir().join("corpus.toml")).unwrap();
    let corpus: Corpus = toml::from_str(&text).expect("corpus.toml");
    assert!(corpus.server.len() >= 20, "the corpus lost rows");
    for row in &corpus.server {
        assert!(
            !row.why.trim().is_empty(),
            "{} {}: no why",
            row.middleware,
            row.config
        );
    }
    // Four rows at a time: each row's server, audit and CORScanner run are independent.
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let chunks: Vec<Vec<Row>> = corpus
            .server
            .chunks(corpus.server.len().div_ceil(4))
            .map(<[Row]>::to_vec)
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|rows| {
                let dir = &dir;
                scope.spawn(move || {
                    rows.into_iter()
                        .map(|row| {
                            let server = start(dir, &row);
                            let (crossgate, explanations) = audit(server.port);
                            let corscanner = corscanner(dir, server.port);
                            Outcome {
                                row,
                                crossgate,
                                explanations,
                                corscanner,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });

    let mut table = String::from(
        "| middleware | configuration | crossgate | CORScanner 0.9.7 |\n|---|---|---|---|\n",
    );
    for o in &outcomes {
        table.push_str(&o.table_line());
        table.push('\n');
    }
    let _ = std::fs::write(workspace().join("target/audit-vs-corscanner.md"), &table);
    println!("{table}");
    let problems: Vec<String> = outcomes.iter().flat_map(Outcome::problems).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
