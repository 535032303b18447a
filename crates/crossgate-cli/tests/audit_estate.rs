//! `crossgate audit` over an estate (issue 15): many targets from arguments, a `--targets` file
//! or standard input, and a HAR log, audited together. Every server is local (127.0.0.1, port
//! 0) and scripted by the test; what politeness promises (concurrency, per-host limits, delays,
//! `Retry-After`) is measured where it matters, at the servers, not taken from the report.
//! Every run of the binary is bounded by a watchdog, so a hang fails the test instead of
//! stalling the suite.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{BIN, Reply, Seen};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---------------------------------------------------------------------------------------------
// Instrumented servers
// ---------------------------------------------------------------------------------------------

/// Requests in flight now, and the most seen at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    fn enter(&self) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// One request as a server saw it: when its connection was accepted, what it asked, and when
/// (and with which status) it was answered.
#[derive(Clone, Debug)]
struct Hit {
    at: Instant,
    seen: Seen,
    answered: Option<(Instant, u16)>,
}

/// What a server does with a request.
enum Answer {
    Now(Reply),
    After(Duration, Reply),
    /// Read the request, keep the connection open, never answer.
    Hang,
}

/// A raw HTTP/1.1 server on 127.0.0.1:0 (thread per connection, `Connection: close`) that
/// records every request and counts the requests in flight: from the connection's accept to
/// just before the answer is written. That interval lies inside the client's own (connect to
/// response read), so a count here never exceeds what the client really had in flight.
struct Server {
    addr: SocketAddr,
    hits: Mutex<Vec<Hit>>,
    gauge: Gauge,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.hits.lock().unwrap().len()
    }
}

/// When each request reached `server` (its connection's accept), earliest first.
fn arrivals(server: &Server) -> Vec<Instant> {
    let mut at: Vec<Instant> = server.hits().iter().map(|h| h.at).collect();
    at.sort();
    at
}

type Behaviour = dyn Fn(&Seen, usize) -> Answer + Send + Sync;

/// Starts a server; `behave(request, n)` decides each answer, `n` counting connections from 0
/// in accept order. `global`, when given, is a gauge shared with other servers.
fn serve(
    global: Option<Arc<Gauge>>,
    behave: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static,
) -> Arc<Server> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = Arc::new(Server {
        addr: listener.local_addr().unwrap(),
        hits: Mutex::default(),
        gauge: Gauge::default(),
    });
    let behave: Arc<Behaviour> = Arc::new(behave);
    let s = Arc::clone(&server);
    thread::spawn(move || {
        for (nth, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let at = Instant::now();
            s.gauge.enter();
            if let Some(g) = &global {
                g.enter();
            }
            let (s, behave, global) = (Arc::clone(&s), Arc::clone(&behave), global.clone());
            thread::spawn(move || handle(stream, at, nth, &s, &*behave, global.as_deref()));
        }
    });
    server
}

fn handle(
    stream: TcpStream,
    at: Instant,
    nth: usize,
    server: &Server,
    behave: &Behaviour,
    global: Option<&Gauge>,
) {
    let leave = || {
        server.gauge.leave();
        if let Some(g) = global {
            g.leave();
        }
    };
    let Some(seen) = support::read_request(&stream) else {
        leave();
        return;
    };
    let index = {
        let mut hits = server.hits.lock().unwrap();
        hits.push(Hit {
            at,
            seen: seen.clone(),
            answered: None,
        });
        hits.len() - 1
    };
    let (delay, (status, headers)) = match behave(&seen, nth) {
        Answer::Hang => {
            // The connection stays open and silent; the client's timeout must end it.
            thread::sleep(secs(120));
            leave();
            drop(stream);
            return;
        }
        Answer::Now(reply) => (Duration::ZERO, reply),
        Answer::After(delay, reply) => (delay, reply),
    };
    thread::sleep(delay);
    leave();
    server.hits.lock().unwrap()[index].answered = Some((Instant::now(), status));
    let mut out = format!("HTTP/1.1 {status} Status\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
}

/// How a server treats the `Origin` of any request, simple or preflight alike. The server's
/// own origin is read from the `Host` header (`http://127.0.0.1:PORT`).
#[derive(Clone, Copy, Debug)]
enum Policy {
    /// Any origin, with credentials: origin-reflection, high.
    Reflect,
    /// Any origin, without credentials.
    ReflectAnonymous,
    /// Its own origin and `null`: null-origin, high.
    TrustNull,
    /// `origin.startsWith("http://127.0.0.1")`: prefix-match, high.
    PrefixIp,
    /// Its own origin only: clean.
    OwnOnly,
    /// `Access-Control-Allow-Origin: *`.
    Wildcard,
}

fn cors(policy: Policy, req: &Seen) -> Reply {
    if let Policy::Wildcard = policy {
        return (200, vec![("Access-Control-Allow-Origin", "*".to_owned())]);
    }
    let own = format!("http://{}", req.header("host").unwrap_or_default());
    let mut h = vec![("Vary", "Origin".to_owned())];
    let Some(o) = req.header("origin") else {
        return (200, h);
    };
    let (allow, credentials) = match policy {
        Policy::Reflect => (true, true),
        Policy::ReflectAnonymous => (true, false),
        Policy::TrustNull => (o == own || o == "null", true),
        Policy::PrefixIp => (o.starts_with("http://127.0.0.1"), true),
        Policy::OwnOnly => (o == own, true),
        Policy::Wildcard => unreachable!(),
    };
    if allow {
        h.push(("Access-Control-Allow-Origin", o.to_owned()));
        if credentials {
            h.push(("Access-Control-Allow-Credentials", "true".to_owned()));
        }
    }
    (200, h)
}

fn policy_server(policy: Policy, global: Option<Arc<Gauge>>) -> Arc<Server> {
    serve(global, move |req, _| Answer::Now(cors(policy, req)))
}

/// An address where nothing listens: bound, then released.
fn refused_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

/// One run of `crossgate`: exit code, output, wall time, and the peak resident memory
/// (`VmHWM`, KiB) polled from `/proc` while it ran.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    peak_kib: u64,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `crossgate args` (NO_COLOR=1, stdio on pipes), killed and failed if it outlives
/// `limit`. Its standard error must never carry a progress bar: it is not a terminal.
fn cli<S: AsRef<OsStr>>(args: &[S], stdin: Option<&str>, limit: Duration) -> Run {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crossgate runs");
    let pid = child.id();
    let mut input = child.stdin.take().unwrap();
    let text = stdin.unwrap_or_default().to_owned();
    let writer = thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
    });
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let mut peak_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Some(kib) = vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
            panic!(
                "crossgate {:?} still running after {limit:?}: killed\nstdout: {stdout}\n\
                 stderr: {stderr}",
                args.iter().map(|a| a.as_ref()).collect::<Vec<_>>()
            );
        }
        thread::sleep(ms(10));
    };
    let elapsed = started.elapsed();
    let _ = writer.join();
    let run = Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed,
        peak_kib,
    };
    // Progress goes to a terminal only; on a pipe no bar or spinner redraws itself.
    assert!(
        !run.stderr.contains('\r') && !run.stderr.contains('\u{1b}'),
        "progress or colour on a pipe: {:?}",
        run.stderr
    );
    run
}

/// `crossgate audit URL --format json extra...` alone (the single-target report).
fn single(url: &str, extra: &[&str]) -> Value {
    let mut args = vec!["audit", url, "--format", "json"];
    args.extend_from_slice(extra);
    let run = cli(&args, None, secs(60));
    let doc = run.json();
    assert!(
        doc.get("targets").is_none(),
        "one URL keeps the single-target report: {doc:#}"
    );
    doc
}

/// The (class, severity) pairs of a findings array.
fn classes(findings: &Value) -> BTreeSet<(String, String)> {
    findings
        .as_array()
        .unwrap_or_else(|| panic!("findings is not an array: {findings}"))
        .iter()
        .map(|f| {
            (
                f["class"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(class: &str, severity: &str) -> (String, String) {
    (class.to_owned(), severity.to_owned())
}

fn targets(doc: &Value) -> &Vec<Value> {
    doc["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("no targets array: {doc:#}"))
}

fn target<'a>(doc: &'a Value, url: &str) -> &'a Value {
    targets(doc)
        .iter()
        .find(|t| t["url"] == url)
        .unwrap_or_else(|| panic!("no target {url} in {doc:#}"))
}

fn urls_of(doc: &Value) -> Vec<String> {
    targets(doc)
        .iter()
        .map(|t| t["url"].as_str().unwrap().to_owned())
        .collect()
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The summary agrees with the targets it sums up.
fn check_summary(doc: &Value) {
    let all = targets(doc);
    let s = &doc["summary"];
    assert_eq!(u64_of(&s["targets"]), all.len() as u64, "{s}");
    // Every target is reached, unreachable (requests sent, none answered) or not audited (the
    // run's budget or deadline ran out before its first request); the last two carry an error.
    assert_eq!(
        u64_of(&s["reached"]) + u64_of(&s["unreachable"]) + u64_of(&s["not_audited"]),
        all.len() as u64,
        "{s}"
    );
    let with_error = all.iter().filter(|t| !t["error"].is_null()).count();
    assert_eq!(
        u64_of(&s["unreachable"]) + u64_of(&s["not_audited"]),
        with_error as u64,
        "{s}"
    );
    if s["budget_reached"] == false && s["deadline_reached"] == false {
        assert_eq!(u64_of(&s["not_audited"]), 0, "{s}");
    }
    let findings: usize = all
        .iter()
        .map(|t| t["findings"].as_array().unwrap().len())
        .sum();
    assert_eq!(u64_of(&s["findings"]), findings as u64, "{s}");
    let mut by_severity: BTreeMap<String, u64> = BTreeMap::new();
    for t in all {
        for f in t["findings"].as_array().unwrap() {
            *by_severity
                .entry(f["severity"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let reported: BTreeMap<String, u64> = s["by_severity"]
        .as_object()
        .unwrap_or_else(|| panic!("by_severity: {s}"))
        .iter()
        .map(|(k, v)| (k.clone(), u64_of(v)))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(reported, by_severity, "{s}");
    let requests: u64 = all.iter().map(|t| u64_of(&t["requests"])).sum();
    assert_eq!(u64_of(&s["requests"]), requests, "{s}");
    assert!(s["seconds"].as_f64().is_some_and(|x| x >= 0.0), "{s}");
    assert!(s["deadline_reached"].is_boolean() && s["budget_reached"].is_boolean());
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The 1-based line of `text` in `lines`.
fn line_of(lines: &[String], text: &str) -> usize {
    lines.iter().position(|l| l == text).unwrap() + 1
}

// ---------------------------------------------------------------------------------------------
// 1. Many targets give what each gives alone
// ---------------------------------------------------------------------------------------------

#[test]
fn each_target_of_an_estate_is_judged_as_it_is_alone() {
    use Policy::*;
    let servers: Vec<Arc<Server>> = [
        Reflect,
        TrustNull,
        PrefixIp,
        ReflectAnonymous,
        OwnOnly,
        Wildcard,
    ]
    .into_iter()
    .map(|p| policy_server(p, None))
    .collect();
    let urls: Vec<String> = servers
        .iter()
        .enumerate()
        .map(|(i, s)| s.url(&format!("/api/{i}")))
        .collect();
    let alone: Vec<Value> = urls.iter().map(|u| single(u, &[])).collect();
    // The corpus is what it claims to be, so equality below compares real findings.
    assert!(classes(&alone[0]["findings"]).contains(&pair("origin-reflection", "high")));
    assert!(classes(&alone[1]["findings"]).contains(&pair("null-origin", "high")));
    assert!(classes(&alone[2]["findings"]).contains(&pair("prefix-match", "high")));
    assert!(
        classes(&alone[4]["findings"])
            .iter()
            .all(|(_, s)| s == "info"),
        "own origin only is clean: {:#}",
        alone[4]
    );

    let lines: Vec<String> = [
        "# the estate under test",
        urls[0].as_str(),
        "",
        urls[1].as_str(),
        "ftp://x",
        urls[2].as_str(),
        "# another comment",
        urls[3].as_str(),
        urls[0].as_str(),
        "not a url",
        "",
        urls[4].as_str(),
        urls[5].as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let text = lines.join("\n") + "\n";
    let first_line = |i: usize| line_of(&lines, &urls[i]);
    let bad = [
        ("ftp://x", line_of(&lines, "ftp://x")),
        ("not a url", line_of(&lines, "not a url")),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "targets.txt", &text);

    let before = servers[0].count();
    let run = cli(
        &["audit", "--targets", &file, "--format", "json"],
        None,
        secs(60),
    );
    // A high finding (reflection, null) fails the run; bad lines do not make it fatal.
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let doc = run.json();
    // Six distinct URLs: the duplicate line is merged, bad lines and comments are not targets.
    assert_eq!(urls_of(&doc), urls, "in file order, each once");
    // Merged for real: the duplicated target was audited once, not twice.
    assert_eq!(
        (servers[0].count() - before) as u64,
        u64_of(&alone[0]["requests"]),
        "the duplicate line must not double the requests"
    );
    for (i, url) in urls.iter().enumerate() {
        let t = target(&doc, url);
        assert_eq!(
            classes(&t["findings"]),
            classes(&alone[i]["findings"]),
            "{url}: estate {t:#}\nalone {:#}",
            alone[i]
        );
        // The same plan as alone: the estate neither trims nor pads a target's probes.
        assert_eq!(t["requests"], alone[i]["requests"], "{url}");
        assert_eq!(t["requests_planned"], alone[i]["requests_planned"], "{url}");
        assert_eq!(t["requests_failed"], 0, "{url}");
        assert_eq!(t["retries"], 0, "{url}");
        assert_eq!(t["complete"], true, "{url}");
        assert!(t["error"].is_null(), "{url}: {t:#}");
        assert_eq!(t["target"], format!("http://{}", servers[i].addr), "{url}");
        assert_eq!(t["source"], format!("{file}:{}", first_line(i)), "{url}");
        // Without a HAR the preflights ask what a single audit asks.
        assert_eq!(
            t["preflight"],
            json!({"method": "GET", "headers": "authorization,content-type"}),
            "{url}"
        );
        // `new` belongs to --baseline runs only.
        for f in t["findings"].as_array().unwrap() {
            assert!(f.get("new").is_none(), "{f:#}");
        }
    }
    assert!(doc.get("fixed").is_none(), "`fixed` only with --baseline");
    let skipped = doc["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{skipped:#?}");
    for (s, (text, line)) in skipped.iter().zip(bad) {
        assert_eq!(s["source"], format!("{file}:{line}"));
        assert_eq!(s["text"], text);
        assert!(!s["error"].as_str().unwrap().is_empty());
        // Also told on stderr, with its line number, where a person running it looks.
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(text) && l.contains(&line.to_string())),
            "stderr does not name line {line} `{text}`: {}",
            run.stderr
        );
    }
    check_summary(&doc);
    assert_eq!(doc["summary"]["reached"], 6);
    assert_eq!(doc["summary"]["deadline_reached"], false);
    assert_eq!(doc["summary"]["budget_reached"], false);

    // The same list on standard input, after a positional URL: arguments come first.
    let extra = servers[5].url("/extra");
    let run = cli(
        &["audit", &extra, "--targets", "-", "--format", "json"],
        Some(&text),
        secs(60),
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let doc = run.json();
    let mut want = vec![extra.clone()];
    want.extend(urls.iter().cloned());
    assert_eq!(urls_of(&doc), want);
    assert_eq!(targets(&doc)[0]["source"], "argument 1");
    assert_eq!(
        classes(&targets(&doc)[0]["findings"]),
        classes(&alone[5]["findings"]),
        "another path of the same server, same findings"
    );
    for (i, url) in urls.iter().enumerate() {
        let t = target(&doc, url);
        assert_eq!(t["source"], format!("stdin:{}", first_line(i)));
        assert_eq!(
            classes(&t["findings"]),
            classes(&alone[i]["findings"]),
            "{url}"
        );
    }
    let sources: Vec<&Value> = doc["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["source"])
        .collect();
    assert_eq!(
        sources,
        [
            &json!(format!("stdin:{}", bad[0].1)),
            &json!(format!("stdin:{}", bad[1].1))
        ]
    );
    check_summary(&doc);
}

// ---------------------------------------------------------------------------------------------
// 2. Politeness, measured at the servers
// ---------------------------------------------------------------------------------------------

/// Servers that answer after 20 ms (so requests overlap when the client lets them), own
/// origin only, all counted by one global gauge as well as their own.
fn slow_clean_servers(n: usize, global: &Arc<Gauge>) -> Vec<Arc<Server>> {
    (0..n)
        .map(|_| {
            serve(Some(Arc::clone(global)), |req, _| {
                Answer::After(ms(20), cors(Policy::OwnOnly, req))
            })
        })
        .collect()
}

#[test]
fn concurrency_per_host_limit_and_delay_hold_at_the_servers() {
    let global = Arc::new(Gauge::default());
    let servers = slow_clean_servers(4, &global);
    let urls: Vec<String> = servers.iter().map(|s| s.url("/p")).collect();
    let run = positional(
        &urls,
        &[
            "--concurrency",
            "3",
            "--per-host",
            "1",
            "--delay",
            "250",
            "--max-requests",
            "8",
        ],
        secs(60),
    );
    assert_eq!(run.code, Some(0), "clean servers: {}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["summary"]["requests"], 32);
    for s in &servers {
        let at = arrivals(s);
        // --max-requests is per target: 8 each, no more, no fewer.
        assert_eq!(at.len(), 8, "{}", s.addr);
        // --per-host 1: never two at once at one server.
        assert_eq!(s.gauge.max(), 1, "{}", s.addr);
        // --delay 250: the starts of two requests to one host are >= 250 ms apart; the
        // arrivals here may jitter a little, never by 50 ms (without the delay they would be
        // ~20 ms apart).
        for w in at.windows(2) {
            let gap = w[1] - w[0];
            assert!(gap >= ms(200), "{}: arrivals {gap:?} apart", s.addr);
        }
    }
    // --concurrency 3: four hosts want to start at once, three may; and more than one did,
    // so the limit, not a serial loop, is what kept it at three.
    assert!(global.max() <= 3, "{} in flight at once", global.max());
    assert!(
        global.max() >= 2,
        "never more than one in flight: concurrency was ignored"
    );

    // --per-host 2 and no delay: a server sees two at once, never three.
    let global = Arc::new(Gauge::default());
    let servers = slow_clean_servers(4, &global);
    let urls: Vec<String> = servers.iter().map(|s| s.url("/p")).collect();
    let run = positional(
        &urls,
        &["--per-host", "2", "--max-requests", "15"],
        secs(60),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let most = servers.iter().map(|s| s.gauge.max()).max().unwrap();
    assert_eq!(
        most,
        2,
        "per host: {:?}",
        servers.iter().map(|s| s.gauge.max()).collect::<Vec<_>>()
    );
    // The default --concurrency is 8.
    assert!(global.max() <= 8, "{}", global.max());
    for s in &servers {
        assert_eq!(s.count(), 15, "{}", s.addr);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Slow, hanging, rate-limiting and refusing targets
// ---------------------------------------------------------------------------------------------

/// Answers after 300 ms; trusts `null`.
fn slow_server() -> Arc<Server> {
    serve(None, |req, _| {
        Answer::After(ms(300), cors(Policy::TrustNull, req))
    })
}

/// `429 Retry-After: 1` to the first request it receives, then a prefix-matching policy.
fn rate_limited_server() -> Arc<Server> {
    serve(None, |req, nth| {
        if nth == 0 {
            Answer::Now((429, vec![("Retry-After", "1".to_owned())]))
        } else {
            Answer::Now(cors(Policy::PrefixIp, req))
        }
    })
}

#[test]
fn hanging_and_refused_targets_are_given_up_without_stalling_the_rest() {
    let opts = ["--timeout", "1", "--max-requests", "30"];
    // Each reachable kind alone first, on its own instance (the rate limiter answers 429 to
    // its first request only).
    let alone_slow = single(&slow_server().url("/s"), &opts);
    let alone_limited = single(&rate_limited_server().url("/l"), &opts);
    let alone_normal = single(&policy_server(Policy::Reflect, None).url("/n"), &opts);
    assert!(classes(&alone_limited["findings"]).contains(&pair("prefix-match", "high")));

    let hanging = serve(None, |_, _| Answer::Hang);
    let refused = refused_addr();
    let slow = slow_server();
    let limited = rate_limited_server();
    let normal = policy_server(Policy::Reflect, None);
    let hanging_url = hanging.url("/h");
    let refused_url = format!("http://{refused}/r");
    let urls = [
        hanging_url.clone(),
        refused_url.clone(),
        slow.url("/s"),
        limited.url("/l"),
        normal.url("/n"),
    ];
    let mut args: Vec<&str> = vec!["audit"];
    args.extend(urls.iter().map(String::as_str));
    args.extend(["--format", "json"]);
    args.extend(opts);
    let run = cli(&args, None, secs(45));
    // The dead targets never stall the others: the run ends in bounded time.
    assert!(run.elapsed < secs(30), "took {:?}", run.elapsed);
    // The reflecting server was reached: its high finding decides the exit code.
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let doc = run.json();
    assert_eq!(urls_of(&doc), urls);
    for url in [&hanging_url, &refused_url] {
        let t = target(&doc, url);
        assert!(
            t["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{url} is unreachable: {t:#}"
        );
        assert_eq!(t["complete"], false, "{url}");
        assert_eq!(t["findings"].as_array().unwrap().len(), 0, "{url}");
    }
    assert_eq!(doc["summary"]["unreachable"], 2);
    assert_eq!(doc["summary"]["reached"], 3);
    check_summary(&doc);
    for (url, alone) in [
        (&urls[2], &alone_slow),
        (&urls[3], &alone_limited),
        (&urls[4], &alone_normal),
    ] {
        let t = target(&doc, url);
        // Reached and kept (not given up). `complete` is not asserted: --max-requests 30 cuts
        // every plan, which counts as incomplete.
        assert!(t["error"].is_null(), "{url}: {t:#}");
        assert_eq!(t["requests_failed"], 0, "{url}: {t:#}");
        assert_eq!(
            classes(&t["findings"]),
            classes(&alone["findings"]),
            "{url}: {t:#}"
        );
    }
    for url in [&urls[2], &urls[4]] {
        assert_eq!(target(&doc, url)["requests"], 30, "{url}");
    }
    // The slow server got every planned request: slowness is not failure.
    assert_eq!(slow.count(), 30);
    // Retry-After: 1 was honoured at the server: after the 429 went out, nothing came for
    // about a second (a request already on its way may land in the first few milliseconds).
    let hits = limited.hits();
    let (t429, _) = hits
        .iter()
        .find_map(|h| h.answered.filter(|(_, s)| *s == 429))
        .expect("the first request was answered 429");
    let early: Vec<Duration> = hits
        .iter()
        .filter(|h| h.at > t429 + ms(50) && h.at < t429 + ms(900))
        .map(|h| h.at - t429)
        .collect();
    assert!(early.is_empty(), "requests {early:?} after the 429");
    assert!(
        hits.iter().any(|h| h.at >= t429 + ms(900)),
        "the limited target was not abandoned"
    );
    let limited_target = target(&doc, &urls[3]);
    assert!(
        u64_of(&limited_target["retries"]) >= 1,
        "{limited_target:#}"
    );

    // Nothing reachable at all: exit 2, in bounded time, and the output names both.
    let run = cli(
        &[
            "audit",
            &hanging_url,
            &refused_url,
            "--format",
            "text",
            "--timeout",
            "1",
            "--max-requests",
            "30",
        ],
        None,
        secs(45),
    );
    assert!(run.elapsed < secs(30), "took {:?}", run.elapsed);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    for addr in [hanging.addr, refused] {
        assert!(all.contains(&addr.to_string()), "{addr} not named: {all}");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. The global budget and the deadline
// ---------------------------------------------------------------------------------------------

#[test]
fn a_global_request_budget_and_a_deadline_cut_the_run() {
    let servers: Vec<Arc<Server>> = (0..3)
        .map(|_| policy_server(Policy::Reflect, None))
        .collect();
    let urls: Vec<String> = servers.iter().map(|s| s.url("/b")).collect();
    let run = positional(&urls, &["--max-total-requests", "50"], secs(60));
    assert_ne!(run.code, Some(2), "targets were reached: {}", run.stderr);
    let doc = run.json();
    // Counted at the servers: the budget is a promise about the traffic, not the report.
    let sent: usize = servers.iter().map(|s| s.count()).sum();
    assert!(sent <= 50, "{sent} requests arrived");
    let reported = u64_of(&doc["summary"]["requests"]);
    assert!(reported <= 50, "{reported}");
    assert_eq!(reported, sent as u64, "the report counts what was sent");
    assert_eq!(doc["summary"]["budget_reached"], true);
    assert_eq!(doc["summary"]["deadline_reached"], false);
    assert!(
        targets(&doc).iter().any(|t| t["complete"] == false),
        "3 targets of ~125 requests each cannot complete on 50"
    );
    check_summary(&doc);

    // One target at a time and 10 requests in all: the first target spends them, the others
    // are not audited, which is not the same as unreachable.
    let urls: Vec<String> = servers.iter().map(|s| s.url("/c")).collect();
    let run = positional(
        &urls,
        &["--concurrency", "1", "--max-total-requests", "10"],
        secs(60),
    );
    let doc = run.json();
    assert_eq!(
        run.code,
        Some(1),
        "the first target's reflection: {}",
        run.stderr
    );
    let s = &doc["summary"];
    assert_eq!(
        (u64_of(&s["reached"]), u64_of(&s["unreachable"])),
        (1, 0),
        "{s}"
    );
    assert_eq!(u64_of(&s["not_audited"]), 2, "{s}");
    assert_eq!(u64_of(&s["requests"]), 10, "{s}");
    check_summary(&doc);

    // --max-time 2 over a server that takes 500 ms an answer (a full audit would take ~30 s);
    // a fast target finishes well within it and keeps its results.
    let slow = serve(None, |req, _| {
        Answer::After(ms(500), cors(Policy::OwnOnly, req))
    });
    let fast = policy_server(Policy::Reflect, None);
    let (slow_url, fast_url) = (slow.url("/slow"), fast.url("/fast"));
    let started = Instant::now();
    let run = cli(
        &[
            "audit",
            &slow_url,
            &fast_url,
            "--format",
            "json",
            "--max-time",
            "2",
        ],
        None,
        secs(30),
    );
    assert!(
        run.elapsed < ms(4000),
        "a 2 s deadline took {:?}",
        run.elapsed
    );
    assert!(run.elapsed >= ms(1900), "stopped early: {:?}", run.elapsed);
    let doc = run.json();
    assert_eq!(doc["summary"]["deadline_reached"], true);
    let s = target(&doc, &slow_url);
    assert_eq!(s["complete"], false, "{s:#}");
    assert!(u64_of(&s["requests"]) < u64_of(&s["requests_planned"]));
    let f = target(&doc, &fast_url);
    assert_eq!(f["complete"], true, "{f:#}");
    assert!(classes(&f["findings"]).contains(&pair("origin-reflection", "high")));
    assert_eq!(run.code, Some(1), "the fast target's finding still counts");
    // No request was started after the deadline (a little slack for the process's start).
    let late: Vec<Duration> = slow
        .hits()
        .iter()
        .map(|h| h.at - started)
        .filter(|d| *d > ms(2150))
        .collect();
    assert!(late.is_empty(), "requests at {late:?} after a 2 s deadline");
    check_summary(&doc);
}

// ---------------------------------------------------------------------------------------------
// 5. Two hundred targets
// ---------------------------------------------------------------------------------------------

#[test]
fn two_hundred_targets_in_bounded_time_and_memory() {
    let global = Arc::new(Gauge::default());
    let servers: Vec<Arc<Server>> = (0..20)
        .map(|_| policy_server(Policy::OwnOnly, Some(Arc::clone(&global))))
        .collect();
    let urls: Vec<String> = servers
        .iter()
        .flat_map(|s| (0..10).map(move |p| s.url(&format!("/r/{p}"))))
        .collect();
    assert_eq!(urls.len(), 200);
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "estate.txt", &(urls.join("\n") + "\n"));
    let run = cli(
        &[
            "audit",
            "--targets",
            &file,
            "--format",
            "json",
            "--max-requests",
            "20",
            "--concurrency",
            "16",
        ],
        None,
        secs(90),
    );
    assert_eq!(run.code, Some(0), "clean servers: {}", run.stderr);
    // Memory stays bounded: the estate is not held as 200 full audits' worth of buffers.
    assert!(run.peak_kib > 0, "VmHWM was never read");
    assert!(
        run.peak_kib < 200 * 1024,
        "peak resident memory {} KiB",
        run.peak_kib
    );
    let doc = run.json();
    assert_eq!(urls_of(&doc), urls);
    for t in targets(&doc) {
        assert!(t["error"].is_null(), "{t:#}");
        // Each target got its whole per-target budget (`complete` is false: the budget cut
        // its 120-odd planned requests to 20).
        assert_eq!(t["requests"], 20, "{t:#}");
    }
    assert_eq!(doc["summary"]["reached"], 200);
    assert_eq!(doc["summary"]["requests"], 4000);
    check_summary(&doc);
    // What the servers saw: all of it, within the limits.
    assert_eq!(servers.iter().map(|s| s.count()).sum::<usize>(), 4000);
    for s in &servers {
        assert!(s.gauge.max() <= 2, "{}: {} at once", s.addr, s.gauge.max());
    }
    assert!(global.max() <= 16, "{} in flight", global.max());
}

// ---------------------------------------------------------------------------------------------
// 6. A baseline
// ---------------------------------------------------------------------------------------------

#[test]
fn a_baseline_marks_new_findings_and_fixed_ones_and_decides_the_exit_code() {
    // 0: trusts `null`; 1: reflects any origin instead.
    let mode = Arc::new(AtomicU8::new(0));
    let m = Arc::clone(&mode);
    let switching = serve(None, move |req, _| {
        let policy = if m.load(Ordering::SeqCst) == 0 {
            Policy::TrustNull
        } else {
            Policy::Reflect
        };
        Answer::Now(cors(policy, req))
    });
    let steady = policy_server(Policy::PrefixIp, None);
    let (switching_url, steady_url) = (switching.url("/s"), steady.url("/t"));
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "targets.txt",
        &format!("{switching_url}\n{steady_url}\n"),
    );
    let audit = |format: &str, extra: &[&str]| {
        let mut args = vec!["audit", "--targets", &file, "--format", format];
        args.extend_from_slice(extra);
        cli(&args, None, secs(60))
    };

    let first = audit("json", &[]);
    assert_eq!(first.code, Some(1), "{}", first.stderr);
    let before = first.json();
    assert!(
        classes(&target(&before, &switching_url)["findings"])
            .contains(&pair("null-origin", "high"))
    );
    assert!(
        classes(&target(&before, &steady_url)["findings"]).contains(&pair("prefix-match", "high"))
    );
    let baseline = write(dir.path(), "baseline.json", &first.stdout);

    // Nothing changed: high findings remain, none is new, so even --fail-on info passes.
    let same = audit("json", &["--baseline", &baseline, "--fail-on", "info"]);
    assert_eq!(same.code, Some(0), "{}\n{}", same.stdout, same.stderr);
    let doc = same.json();
    for t in targets(&doc) {
        for f in t["findings"].as_array().unwrap() {
            assert_eq!(f["new"], false, "{f:#}");
        }
    }
    assert_eq!(doc["fixed"], json!([]));
    assert!(u64_of(&doc["summary"]["findings"]) >= 2);

    // The server now reflects any origin: a new high finding, and `null` trust is gone.
    mode.store(1, Ordering::SeqCst);
    let after = audit("json", &["--baseline", &baseline]);
    assert_eq!(
        after.code,
        Some(1),
        "a new high finding fails --fail-on high"
    );
    let doc = after.json();
    let findings = target(&doc, &switching_url)["findings"].as_array().unwrap();
    let reflection = findings
        .iter()
        .find(|f| f["class"] == "origin-reflection")
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(reflection["new"], true);
    assert!(findings.iter().all(|f| f["class"] != "null-origin"));
    for f in target(&doc, &steady_url)["findings"].as_array().unwrap() {
        assert_eq!(f["new"], false, "unchanged server: {f:#}");
    }
    let fixed = doc["fixed"].as_array().unwrap();
    assert!(
        fixed.contains(&json!({"url": switching_url, "class": "null-origin", "severity": "high"})),
        "{fixed:#?}"
    );
    assert!(
        fixed.iter().all(|f| f["url"] == switching_url),
        "only the changed target has fixed findings: {fixed:#?}"
    );

    // The same in text: NEW marks and a fixed section.
    let text = audit("text", &["--baseline", &baseline]);
    assert_eq!(text.code, Some(1));
    assert!(text.stdout.contains("NEW"), "{}", text.stdout);
    assert!(
        text.stdout.to_lowercase().contains("fixed"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("null-origin"), "{}", text.stdout);
}

// ---------------------------------------------------------------------------------------------
// 7. SARIF
// ---------------------------------------------------------------------------------------------

#[test]
fn sarif_with_many_targets_is_one_run_locating_each_result() {
    let a = policy_server(Policy::Reflect, None).url("/a");
    let b = policy_server(Policy::Reflect, None).url("/b");
    let run = cli(&["audit", &a, &b, "--format", "sarif"], None, secs(60));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["version"], "2.1.0");
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "one tool run for the estate");
    let results = runs[0]["results"].as_array().unwrap();
    let located: BTreeSet<(String, String)> = results
        .iter()
        .map(|r| {
            (
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no location: {r:#}"))
                    .to_owned(),
                r["ruleId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let uris: BTreeSet<&str> = located.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(uris, BTreeSet::from([a.as_str(), b.as_str()]));
    for url in [&a, &b] {
        assert!(
            located.contains(&(url.clone(), "origin-reflection".to_owned())),
            "{url}: {located:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 8. A HAR log
// ---------------------------------------------------------------------------------------------

fn har_entry(
    started: &str,
    resource_type: &str,
    method: &str,
    url: &str,
    request: &[(&str, &str)],
    status: u16,
    response: &[(&str, &str)],
) -> Value {
    let headers = |h: &[(&str, &str)]| -> Vec<Value> {
        h.iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect()
    };
    json!({
        "_initiator": {"type": "script"},
        "_resourceType": resource_type,
        "cache": {},
        "startedDateTime": started,
        "time": 3.0,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": headers(request),
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0
        },
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": headers(response),
            "cookies": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 0,
            "_error": null
        },
        "timings": {"blocked": 0, "dns": -1, "connect": -1, "send": 0, "wait": 3, "receive": 0}
    })
}

fn refs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

#[test]
fn a_har_log_gives_its_cross_origin_requests_as_targets() {
    // The page lives on `page`; it calls `api` (PUT with a JSON body and an API key) and
    // `data` (a plain GET, twice) cross-origin, and `page` itself same-origin.
    let page = policy_server(Policy::OwnOnly, None);
    let api = policy_server(Policy::Reflect, None);
    let data = policy_server(Policy::OwnOnly, None);
    let origin = format!("http://{}", page.addr);
    let referer = format!("{origin}/");
    let api_url = api.url("/api/items");
    let data_url = data.url("/data?page=1");
    // The same route with another query: the same endpoint.
    let data_page_2 = data.url("/data?page=2");
    let ua = "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0.0.0 Safari/537.36";
    let cross = |extra: &[(&'static str, &'static str)]| -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = vec![
            ("Accept".into(), "*/*".into()),
            ("Origin".into(), origin.clone()),
            ("Referer".into(), referer.clone()),
            ("Sec-Fetch-Dest".into(), "empty".into()),
            ("Sec-Fetch-Mode".into(), "cors".into()),
            ("Sec-Fetch-Site".into(), "same-site".into()),
            ("User-Agent".into(), ua.into()),
        ];
        h.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        h
    };
    let allowed = [
        ("Access-Control-Allow-Origin", origin.as_str()),
        ("Access-Control-Allow-Credentials", "true"),
    ];
    let put_headers = cross(&[("Content-Type", "application/json"), ("X-Api-Key", "k")]);
    let preflight_headers = vec![
        ("Accept", "*/*"),
        ("Access-Control-Request-Headers", "content-type,x-api-key"),
        ("Access-Control-Request-Method", "PUT"),
        ("Origin", origin.as_str()),
        ("Sec-Fetch-Mode", "cors"),
        ("User-Agent", ua),
    ];
    let get_headers = cross(&[]);
    let entries = vec![
        // 0: the page itself, a navigation: not a CORS request.
        har_entry(
            "2026-01-05T10:00:00.000Z",
            "document",
            "GET",
            &referer,
            &[
                ("Accept", "text/html"),
                ("Sec-Fetch-Dest", "document"),
                ("Sec-Fetch-Mode", "navigate"),
                ("Sec-Fetch-Site", "none"),
                ("User-Agent", ua),
            ],
            200,
            &[("Content-Type", "text/html")],
        ),
        // 1: a same-origin fetch: not a target.
        har_entry(
            "2026-01-05T10:00:00.100Z",
            "fetch",
            "GET",
            &format!("{origin}/api/me"),
            &[
                ("Accept", "*/*"),
                ("Referer", referer.as_str()),
                ("Sec-Fetch-Dest", "empty"),
                ("Sec-Fetch-Mode", "cors"),
                ("Sec-Fetch-Site", "same-origin"),
                ("User-Agent", ua),
            ],
            200,
            &[],
        ),
        // 2: the cross-origin PUT.
        har_entry(
            "2026-01-05T10:00:00.200Z",
            "fetch",
            "PUT",
            &api_url,
            &refs(&put_headers),
            200,
            &allowed,
        ),
        // 3: its preflight, as Chromium records it.
        har_entry(
            "2026-01-05T10:00:00.201Z",
            "preflight",
            "OPTIONS",
            &api_url,
            &preflight_headers,
            204,
            &[
                ("Access-Control-Allow-Origin", origin.as_str()),
                ("Access-Control-Allow-Credentials", "true"),
                ("Access-Control-Allow-Methods", "PUT"),
                ("Access-Control-Allow-Headers", "content-type,x-api-key"),
            ],
        ),
        // 4 and 5: a plain cross-origin GET of one route, twice (another page the second
        // time): one target, at the first URL.
        har_entry(
            "2026-01-05T10:00:00.300Z",
            "fetch",
            "GET",
            &data_url,
            &refs(&get_headers),
            200,
            &[("Access-Control-Allow-Origin", origin.as_str())],
        ),
        har_entry(
            "2026-01-05T10:00:00.400Z",
            "fetch",
            "GET",
            &data_page_2,
            &refs(&get_headers),
            200,
            &[("Access-Control-Allow-Origin", origin.as_str())],
        ),
    ];
    let har = json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "pages": [],
            "entries": entries
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "page.har",
        &serde_json::to_string_pretty(&har).unwrap(),
    );
    let run = cli(
        &["audit", "--har", &file, "--format", "json"],
        None,
        secs(60),
    );
    // The API reflects any origin with credentials.
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let doc = run.json();
    // Exactly the two cross-origin endpoints, in log order, each once; entries are numbered
    // from 0 as `crossgate har` numbers them (`log.entries[N]`).
    assert_eq!(urls_of(&doc), [api_url.clone(), data_url.clone()]);
    assert_eq!(target(&doc, &api_url)["source"], "har entry 2");
    assert_eq!(target(&doc, &data_url)["source"], "har entry 4");
    // The preflight probes ask for what the page really sent.
    assert_eq!(
        target(&doc, &api_url)["preflight"],
        json!({"method": "PUT", "headers": "content-type,x-api-key"})
    );
    assert_eq!(target(&doc, &data_url)["preflight"]["method"], "GET");
    assert!(
        classes(&target(&doc, &api_url)["findings"]).contains(&pair("origin-reflection", "high"))
    );
    check_summary(&doc);
    // At the server: preflights asking PUT with the page's headers, and never the default
    // question of a target without a log.
    let preflights: Vec<Hit> = api
        .hits()
        .into_iter()
        .filter(|h| h.seen.method == "OPTIONS")
        .collect();
    assert!(
        preflights.iter().any(|h| {
            h.seen.header("access-control-request-method") == Some("PUT")
                && h.seen.header("access-control-request-headers") == Some("content-type,x-api-key")
        }),
        "{preflights:#?}"
    );
    assert!(
        preflights.iter().all(|h| {
            h.seen.header("access-control-request-headers") != Some("authorization,content-type")
        }),
        "the default preflight question was asked of a HAR target"
    );
    assert!(data.count() > 0);
    // Neither the page nor its same-origin API was audited.
    assert_eq!(page.count(), 0, "{:#?}", page.hits());
}

// ---------------------------------------------------------------------------------------------
// 9. Waiting hosts, failing hosts, given-up hosts
// ---------------------------------------------------------------------------------------------

/// Answers `status` to every request, with `Retry-After: retry_after` when given.
fn refusing_server(status: u16, retry_after: Option<&'static str>) -> Arc<Server> {
    serve(None, move |_, _| {
        let headers = retry_after
            .map(|v| vec![("Retry-After", v.to_owned())])
            .unwrap_or_default();
        Answer::Now((status, headers))
    })
}

/// `crossgate audit --targets FILE --format json extra...`: the estate report, even for one
/// URL (which as an argument alone would get the one-target report).
/// The summary's (reached, unreachable, not audited).
fn states(doc: &Value) -> (u64, u64, u64) {
    let s = &doc["summary"];
    (
        u64_of(&s["reached"]),
        u64_of(&s["unreachable"]),
        u64_of(&s["not_audited"]),
    )
}

/// `crossgate audit URL... --format json EXTRA...`: the targets as arguments.
fn positional(urls: &[String], extra: &[&str], limit: Duration) -> Run {
    let mut args: Vec<&str> = vec!["audit"];
    args.extend(urls.iter().map(String::as_str));
    args.extend(["--format", "json"]);
    args.extend_from_slice(extra);
    cli(&args, None, limit)
}

fn estate(urls: &[&str], extra: &[&str], limit: Duration) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "targets.txt", &(urls.join("\n") + "\n"));
    let mut args = vec!["audit", "--targets", file.as_str(), "--format", "json"];
    args.extend_from_slice(extra);
    cli(&args, None, limit)
}

/// A target whose requests went out and all failed: an error, no findings, every request it
/// counts a failure.
fn assert_failed(t: &Value) {
    assert!(
        t["error"].as_str().is_some_and(|e| !e.is_empty()),
        "no error: {t:#}"
    );
    assert!(u64_of(&t["requests"]) > 0, "{t:#}");
    assert_eq!(t["requests_failed"], t["requests"], "{t:#}");
    assert_eq!(t["findings"], json!([]), "{t:#}");
    assert_eq!(t["complete"], false, "{t:#}");
}

/// After each answer `status` from `server`, nothing arrived there for `quiet` (a request
/// already on its way may land in the first 50 ms).
fn assert_quiet_after(server: &Server, status: u16, quiet: Duration) {
    let hits = server.hits();
    for h in &hits {
        let Some((at, s)) = h.answered else { continue };
        if s != status {
            continue;
        }
        let early: Vec<Duration> = hits
            .iter()
            .filter(|o| o.at > at + ms(50) && o.at < at + quiet)
            .map(|o| o.at - at)
            .collect();
        assert!(
            early.is_empty(),
            "{}: requests {early:?} after a {status} asking for {quiet:?} of quiet",
            server.addr
        );
    }
}

#[test]
fn retry_after_is_honoured_when_no_retry_follows_and_a_last_429_is_a_failure() {
    // One request at a time: every arrival after the first follows a 429 answer, so every
    // gap between two arrivals is a Retry-After honoured (with --retries 0 no retry follows:
    // the next request is another probe).
    let limited = refusing_server(429, Some("1"));
    let url = limited.url("/limited");
    let run = estate(
        &[&url],
        &["--retries", "0", "--max-requests", "4", "--per-host", "1"],
        secs(30),
    );
    let at = arrivals(&limited);
    assert!(
        (2..=4).contains(&at.len()),
        "{} requests arrived (--max-requests 4)",
        at.len()
    );
    for w in at.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= ms(900),
            "arrivals {gap:?} apart after a 429 with Retry-After: 1"
        );
    }
    // A 429 still the answer after the retries is a failure, not a response to judge.
    assert_eq!(
        run.code,
        Some(2),
        "nothing but 429s is nothing reached\n{}\n{}",
        run.stdout,
        run.stderr
    );
    let doc = run.json();
    let t = target(&doc, &url);
    assert_failed(t);
    assert_eq!(t["retries"], 0, "{t:#}");
    assert_eq!(u64_of(&t["requests"]), at.len() as u64, "{t:#}");
    assert_eq!(states(&doc), (0, 1, 0), "{}", doc["summary"]);
    check_summary(&doc);

    // Two in flight (the default --per-host 2): the first two leave together, before any
    // 429 is known; after each 429, nothing more arrives until its second has passed.
    let limited = refusing_server(429, Some("1"));
    let url = limited.url("/limited");
    let run = estate(
        &[&url],
        &["--retries", "0", "--max-requests", "4"],
        secs(30),
    );
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert!(
        limited.count() >= 3,
        "{} requests: none followed a 429, nothing to measure",
        limited.count()
    );
    assert_quiet_after(&limited, 429, ms(900));
    let doc = run.json();
    assert_failed(target(&doc, &url));
    assert_eq!(doc["summary"]["unreachable"], 1);
    check_summary(&doc);
}

#[test]
fn a_retry_after_beyond_a_minute_or_the_deadline_gives_the_host_up() {
    // Retry-After: 120 is beyond what the audit waits; Retry-After: 5 under --max-time 3
    // would outlast the run: either way the host is given up at once, not waited on.
    for (retry_after, extra, limit) in [
        ("120", &[][..], secs(10)),
        ("5", &["--max-time", "3"][..], ms(2500)),
    ] {
        let limited = refusing_server(429, Some(retry_after));
        let url = limited.url("/limited");
        let run = estate(&[&url], extra, secs(60));
        assert!(
            run.elapsed < limit,
            "Retry-After: {retry_after}: took {:?}, the host was waited on",
            run.elapsed
        );
        // The requests in flight before the first 429 came back (--per-host 2), and no more.
        assert!(
            (1..=2).contains(&limited.count()),
            "{} requests arrived after a Retry-After: {retry_after}",
            limited.count()
        );
        assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
        let doc = run.json();
        let t = target(&doc, &url);
        assert_failed(t);
        assert!(
            t["error"]
                .as_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("retry-after"),
            "the error does not say why: {t:#}"
        );
        assert_eq!(doc["summary"]["unreachable"], 1);
        check_summary(&doc);
    }
}

#[test]
fn a_host_answering_503_to_everything_is_unreachable_not_clean() {
    let unavailable = refusing_server(503, None);
    let url = unavailable.url("/down");
    let run = estate(&[&url], &[], secs(60));
    assert!(run.elapsed < secs(30), "took {:?}", run.elapsed);
    assert_eq!(
        run.code,
        Some(2),
        "503 to everything is not a clean host\n{}\n{}",
        run.stdout,
        run.stderr
    );
    let doc = run.json();
    let t = target(&doc, &url);
    assert_failed(t);
    assert!(u64_of(&t["requests_failed"]) > 0, "{t:#}");
    // Each attempt reached the server: the requests and their retries, no more.
    assert_eq!(
        unavailable.count() as u64,
        u64_of(&t["requests"]) + u64_of(&t["retries"]),
        "{t:#}"
    );
    assert_eq!(doc["summary"]["unreachable"], 1);
    assert_eq!(doc["summary"]["reached"], 0);
    check_summary(&doc);

    // Beside a reflecting server: its finding decides the exit code; the 503 host is listed
    // unreachable, not reached without findings.
    let unavailable = refusing_server(503, None);
    let reflecting = policy_server(Policy::Reflect, None);
    let (down, up) = (unavailable.url("/down"), reflecting.url("/up"));
    let run = estate(&[&down, &up], &[], secs(60));
    assert!(run.elapsed < secs(30), "took {:?}", run.elapsed);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let doc = run.json();
    assert_failed(target(&doc, &down));
    let r = target(&doc, &up);
    assert!(r["error"].is_null(), "{r:#}");
    assert!(classes(&r["findings"]).contains(&pair("origin-reflection", "high")));
    assert_eq!(states(&doc), (1, 1, 0), "{}", doc["summary"]);
    check_summary(&doc);
}

#[test]
fn a_host_waiting_out_retry_after_holds_no_global_slot() {
    // The limited host comes first, so its requests take both global slots first.
    let limited = refusing_server(429, Some("2"));
    let healthy = policy_server(Policy::OwnOnly, None);
    let (l_url, h_url) = (limited.url("/limited"), healthy.url("/healthy"));
    let started = Instant::now();
    let run = estate(
        &[&l_url, &h_url],
        &[
            "--concurrency",
            "2",
            "--retries",
            "1",
            "--max-requests",
            "20",
        ],
        secs(60),
    );
    assert!(run.elapsed < secs(30), "took {:?}", run.elapsed);
    let at = arrivals(&healthy);
    assert_eq!(at.len(), 20, "the healthy host's budget");
    let last = *at.last().unwrap() - started;
    assert!(
        last < secs(3),
        "the healthy host's last request arrived {last:?} after the start: it waited on \
         the other host's Retry-After"
    );
    // The limited host was still kept quiet.
    assert!(limited.count() >= 2, "{}", limited.count());
    assert_quiet_after(&limited, 429, ms(1900));
    // A clean reached host and an unreachable one: nothing fails the run.
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let doc = run.json();
    assert_failed(target(&doc, &l_url));
    let h = target(&doc, &h_url);
    assert!(h["error"].is_null(), "{h:#}");
    assert_eq!(h["requests"], 20, "{h:#}");
    assert_eq!(h["requests_failed"], 0, "{h:#}");
    check_summary(&doc);
}

#[test]
fn the_deadline_also_stops_requests_waiting_for_their_turn() {
    // Two targets on one host, 3 s between two starts there, 2 s for the run: the second
    // request would start after the deadline, so it never does, and nobody waits for it.
    let server = policy_server(Policy::OwnOnly, None);
    let (a, b) = (server.url("/a"), server.url("/b"));
    let run = cli(
        &[
            "audit",
            &a,
            &b,
            "--format",
            "json",
            "--delay",
            "3000",
            "--max-time",
            "2",
        ],
        None,
        secs(30),
    );
    assert!(
        run.elapsed < ms(4000),
        "a 2 s deadline took {:?}",
        run.elapsed
    );
    assert!(
        server.count() <= 1,
        "{} requests 3 s apart in a 2 s run",
        server.count()
    );
    let doc = run.json();
    assert_eq!(
        doc["summary"]["deadline_reached"], true,
        "{:#}",
        doc["summary"]
    );
    assert!(u64_of(&doc["summary"]["requests"]) <= 1);
    check_summary(&doc);
}

#[test]
fn a_dead_host_with_many_paths_is_given_up_without_holding_up_the_estate() {
    let hanging = serve(None, |_, _| Answer::Hang);
    let healthy = policy_server(Policy::OwnOnly, None);
    let dead: Vec<String> = (0..20).map(|i| hanging.url(&format!("/d/{i}"))).collect();
    let live: Vec<String> = (0..20).map(|i| healthy.url(&format!("/l/{i}"))).collect();
    let all: Vec<&str> = dead.iter().chain(&live).map(String::as_str).collect();
    let started = Instant::now();
    let run = estate(&all, &["--timeout", "1", "--max-requests", "10"], secs(60));
    assert!(run.elapsed < secs(30), "took {:?}", run.elapsed);
    let at = arrivals(&healthy);
    assert_eq!(at.len(), 200, "20 targets of 10 requests");
    let last = *at.last().unwrap() - started;
    assert!(
        last < secs(6),
        "the healthy server's last request arrived {last:?} after the start"
    );
    // Three failures in a row across its targets give the host up; with two in flight there,
    // a handful of requests at most, not 3 for each of 20 targets.
    assert!(
        (3..=8).contains(&hanging.count()),
        "{} requests reached the hanging server",
        hanging.count()
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let doc = run.json();
    assert_eq!(urls_of(&doc), all);
    for url in &dead {
        let t = target(&doc, url);
        assert!(
            t["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{url}: {t:#}"
        );
        assert_eq!(t["findings"], json!([]), "{url}");
        assert_eq!(t["requests_failed"], t["requests"], "{url}: {t:#}");
    }
    for url in &live {
        let t = target(&doc, url);
        assert!(t["error"].is_null(), "{url}: {t:#}");
        assert_eq!(t["requests"], 10, "{url}");
    }
    // A target of a given-up host is unreachable, even one that sent nothing: the run's
    // limits did not stop it, its host did.
    assert_eq!(states(&doc), (20, 20, 0), "{}", doc["summary"]);
    assert_eq!(doc["summary"]["budget_reached"], false);
    assert_eq!(doc["summary"]["deadline_reached"], false);
    check_summary(&doc);
}

// ---------------------------------------------------------------------------------------------
// 10. A baseline and a run cut short
// ---------------------------------------------------------------------------------------------

#[test]
fn a_baseline_lists_as_fixed_only_what_was_checked_again() {
    let clean = policy_server(Policy::OwnOnly, None);
    let url = clean.url("/api");
    let dir = tempfile::tempdir().unwrap();
    let baseline = write(
        dir.path(),
        "baseline.json",
        &json!({"targets": [{
            "url": url,
            "findings": [{"class": "prefix-match", "severity": "high"}],
        }]})
        .to_string(),
    );
    let file = write(dir.path(), "targets.txt", &format!("{url}\n"));
    let audit = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "--targets",
            file.as_str(),
            "--format",
            "json",
            "--baseline",
            baseline.as_str(),
        ];
        args.extend_from_slice(extra);
        cli(&args, None, secs(60))
    };

    // Five requests are not the probes that found the prefix match: not checked, not fixed.
    let cut = audit(&["--max-requests", "5"]);
    assert_eq!(cut.code, Some(0), "{}\n{}", cut.stdout, cut.stderr);
    let doc = cut.json();
    let t = target(&doc, &url);
    assert_eq!(t["complete"], false, "{t:#}");
    assert_eq!(t["requests"], 5, "{t:#}");
    assert!(t["error"].is_null(), "{t:#}");
    assert_eq!(
        doc["fixed"],
        json!([]),
        "a cut run fixed: {:#}",
        doc["fixed"]
    );
    check_summary(&doc);

    // The whole plan: the prefix match is checked again and gone.
    let full = audit(&[]);
    assert_eq!(full.code, Some(0), "{}\n{}", full.stdout, full.stderr);
    let doc = full.json();
    let t = target(&doc, &url);
    assert_eq!(t["complete"], true, "{t:#}");
    assert!(
        classes(&t["findings"])
            .iter()
            .all(|(c, _)| c != "prefix-match"),
        "{t:#}"
    );
    assert_eq!(
        doc["fixed"],
        json!([{"url": url, "class": "prefix-match", "severity": "high"}])
    );
    check_summary(&doc);
}
