//! The request/response vectors every crossgate adapter must satisfy: the library itself, the
//! tower layer (in axum), the actix-web middleware and the gateway.
//!
//! Each file in `vectors/` holds suites; a suite is one policy, the inner handler's response and
//! cases. A case is a request and the exact set of CORS-relevant response headers expected
//! (every `Access-Control-*` header and `Vary`): nothing more may appear. List-valued headers
//! (`Vary`, `-Allow-Methods`, `-Allow-Headers`, `-Expose-Headers`) compare as multisets of their
//! elements; the others compare line by line, exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One vector file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorFile {
    #[serde(skip)]
    pub path: PathBuf,
    pub description: String,
    pub suites: Vec<Suite>,
}

/// A policy and the cases run against it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    pub name: String,
    /// A crossgate policy (CONTRACTS §1), as JSON.
    pub policy: serde_json::Value,
    #[serde(default)]
    pub handler: Handler,
    pub cases: Vec<Case>,
}

/// What the application (or upstream) behind the CORS layer answers to every request it gets.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handler {
    #[serde(default = "ok")]
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<HeaderLine>,
}

fn ok() -> u16 {
    200
}

impl Default for Handler {
    fn default() -> Self {
        Handler {
            status: 200,
            headers: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub request: Request,
    /// Overrides the suite's handler for this case.
    #[serde(default)]
    pub handler: Option<Handler>,
    pub expect: Expect,
    /// A different expectation for the gateway, where its HTTP server refuses the request
    /// before CORS is decided (a header block over its size limit, say). The reason is required.
    #[serde(default)]
    pub expect_gateway: Option<GatewayExpect>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayExpect {
    pub reason: String,
    #[serde(flatten)]
    pub expect: Expect,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: String,
    #[serde(default = "root")]
    pub path: String,
    #[serde(default)]
    pub headers: Vec<HeaderLine>,
}

fn root() -> String {
    "/".to_owned()
}

/// A header line: `["Name", "value"]`, or `{"name", "value", "repeat", "lines", "prefix",
/// "suffix"}` for large values (`prefix`, then `value` repeated `repeat` times, then `suffix`) and
/// many identical lines (`lines` of them).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum HeaderLine {
    Pair(String, String),
    Generated {
        name: String,
        value: String,
        #[serde(default = "one")]
        repeat: usize,
        #[serde(default = "one")]
        lines: usize,
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        suffix: String,
    },
}

fn one() -> usize {
    1
}

/// Expands header lines into (name, value) pairs.
pub fn expand(lines: &[HeaderLine]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for line in lines {
        match line {
            HeaderLine::Pair(n, v) => out.push((n.clone(), v.as_bytes().to_vec())),
            HeaderLine::Generated {
                name,
                value,
                repeat,
                lines,
                prefix,
                suffix,
            } => {
                let value = format!("{prefix}{}{suffix}", value.repeat(*repeat)).into_bytes();
                for _ in 0..*lines {
                    out.push((name.clone(), value.clone()));
                }
            }
        }
    }
    out
}

/// What must be observed.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: u16,
    /// Whether the request reached the handler (never, for a preflight).
    pub reached: bool,
    /// The exact CORS-relevant response headers.
    pub headers: Vec<(String, String)>,
}

/// What an adapter produced for a case.
#[derive(Clone, Debug)]
pub struct Observed {
    pub status: u16,
    pub reached: bool,
    /// Every response header line (all of them; the comparison picks the relevant ones).
    pub headers: Vec<(String, Vec<u8>)>,
}

/// The directory of the vector files.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// Loads every vector file, sorted by name.
pub fn load_all() -> Vec<VectorFile> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("vectors directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no vector files in {}", dir().display());
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable vector file");
            let mut file: VectorFile =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            file.path = path;
            file
        })
        .collect()
}

const LIST_HEADERS: [&str; 4] = [
    "vary",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
];

/// Header names compare case-insensitively wherever a header's elements are header names.
const CASELESS_LIST_HEADERS: [&str; 3] = [
    "vary",
    "access-control-allow-headers",
    "access-control-expose-headers",
];

fn relevant(name: &str) -> bool {
    name == "vary" || name.starts_with("access-control-")
}

/// The CORS-relevant headers of a response, normalised for comparison: list headers as sorted
/// element multisets, the others as their lines in order.
pub fn normalize<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if !relevant(&name) {
            continue;
        }
        let value = String::from_utf8_lossy(value).into_owned();
        let entry = out.entry(name.clone()).or_default();
        if LIST_HEADERS.contains(&name.as_str()) {
            for element in value.split(',') {
                let element = element.trim_matches([' ', '\t']);
                if element.is_empty() {
                    continue;
                }
                if CASELESS_LIST_HEADERS.contains(&name.as_str()) {
                    entry.push(element.to_ascii_lowercase());
                } else {
                    entry.push(element.to_owned());
                }
            }
        } else {
            entry.push(value);
        }
    }
    for (name, values) in out.iter_mut() {
        if LIST_HEADERS.contains(&name.as_str()) {
            values.sort();
        }
    }
    out
}

impl Expect {
    /// Compares an observation, returning a readable difference.
    pub fn check(&self, observed: &Observed) -> Result<(), String> {
        let want = normalize(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
        let got = normalize(
            observed
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_slice())),
        );
        let mut diffs = Vec::new();
        if self.status != observed.status {
            diffs.push(format!(
                "status: want {}, got {}",
                self.status, observed.status
            ));
        }
        if self.reached != observed.reached {
            diffs.push(format!(
                "reached the handler: want {}, got {}",
                self.reached, observed.reached
            ));
        }
        if want != got {
            diffs.push(format!("headers:\n    want {want:?}\n    got  {got:?}"));
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(diffs.join("\n  "))
        }
    }
}

/// One case, with the suite and file it belongs to.
#[derive(Clone, Copy, Debug)]
pub struct Vector<'a> {
    pub file: &'a VectorFile,
    pub suite: &'a Suite,
    pub case: &'a Case,
}

impl<'a> Vector<'a> {
    /// The handler's response for this case (the case's override, or the suite's).
    pub fn handler(&self) -> &'a Handler {
        self.case.handler.as_ref().unwrap_or(&self.suite.handler)
    }

    /// The expectation for a runner: `gateway` takes `expect_gateway` where a case has one.
    pub fn expect(&self, runner: &str) -> &'a Expect {
        match (&self.case.expect_gateway, runner) {
            (Some(g), "gateway") => &g.expect,
            _ => &self.case.expect,
        }
    }

    pub fn label(&self) -> String {
        let file = self
            .file
            .path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        format!("{file} / {} / {}", self.suite.name, self.case.name)
    }
}

/// Every case of every file, in order.
pub fn vectors(files: &[VectorFile]) -> impl Iterator<Item = Vector<'_>> {
    files.iter().flat_map(|file| {
        file.suites.iter().flat_map(move |suite| {
            suite
                .cases
                .iter()
                .map(move |case| Vector { file, suite, case })
        })
    })
}

/// Collects a runner's results; [`Report::finish`] panics listing every failure.
#[derive(Debug)]
pub struct Report {
    runner: String,
    count: usize,
    failures: Vec<String>,
}

impl Report {
    pub fn new(runner: &str) -> Report {
        Report {
            runner: runner.to_owned(),
            count: 0,
            failures: Vec::new(),
        }
    }

    pub fn record(&mut self, vector: &Vector<'_>, observed: &Observed) {
        self.count += 1;
        if let Err(diff) = vector.expect(&self.runner).check(observed) {
            self.failures
                .push(format!("[{}] {}:\n  {diff}", self.runner, vector.label()));
        }
    }

    /// Panics if any vector failed; otherwise returns how many ran.
    pub fn finish(self) -> usize {
        assert!(
            self.failures.is_empty(),
            "{} of {} vectors failed:\n{}",
            self.failures.len(),
            self.count,
            self.failures.join("\n")
        );
        assert!(self.count > 0, "no vectors ran");
        eprintln!("{}: {} vectors passed", self.runner, self.count);
        self.count
    }
}

/// Runs every vector through a synchronous `run` and panics listing every failure.
pub fn run_all(runner: &str, mut run: impl FnMut(&Vector<'_>) -> Observed) -> usize {
    let files = load_all();
    let mut report = Report::new(runner);
    for vector in vectors(&files) {
        let observed = run(&vector);
        report.record(&vector, &observed);
    }
    report.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_treats_lists_as_multisets() {
        let a = normalize([
            ("Vary", &b"Origin, foo"[..]),
            ("Access-Control-Allow-Origin", b"https://a"),
        ]);
        let b = normalize([
            ("vary", &b"foo"[..]),
            ("vary", b"origin"),
            ("access-control-allow-origin", b"https://a"),
            ("content-type", b"text/plain"),
        ]);
        assert_eq!(a, b);
        let c = normalize([("Access-Control-Allow-Methods", &b"put"[..])]);
        let d = normalize([("Access-Control-Allow-Methods", &b"PUT"[..])]);
        assert_ne!(c, d);
    }

    #[test]
    fn every_file_loads() {
        let files = load_all();
        let cases: usize = files
            .iter()
            .flat_map(|f| &f.suites)
            .map(|s| s.cases.len())
            .sum();
        assert!(cases > 50, "only {cases} cases");
    }
}
