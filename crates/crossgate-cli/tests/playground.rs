//! `crossgate playground` as users run it: a real process on 127.0.0.1 (port 0), whose
//! `POST /api/simulate` must answer byte for byte what `crossgate simulate --json` prints
//! (CONTRACTS §9), bounded in time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_crossgate");

/// A running playground, killed when dropped.
struct Running {
    child: Child,
    page: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines of a child's output as they come, read on a thread of their own (so a test can
/// wait for one with a time limit).
fn lines(output: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

fn start(listen: &str) -> Running {
    let mut child = Command::new(BIN)
        .args(["playground", "--listen", listen])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("crossgate runs");
    let rx = lines(child.stdout.take().expect("stdout"));
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a first line within 10 s");
    let page = first
        .strip_prefix("crossgate playground: open http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("the first line names the page: {first:?}"))
        .parse()
        .expect("an address");
    let second = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("a second line");
    assert!(
        second.contains("target http://127.0.0.1:")
            && second.contains("redirects http://127.0.0.1:"),
        "{second}"
    );
    Running { child, page }
}

/// `POST path` with `body` on a fresh connection: (status, body).
fn post(addr: SocketAddr, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let status = String::from_utf8_lossy(&raw[..split])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, raw[split + 4..].to_vec())
}

fn simulate_json(input: &[u8], browser: &str) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    let mut child = Command::new(BIN)
        .args(["simulate", "--json", "--browser", browser])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crossgate runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), out.stdout, out.stderr)
}

#[test]
fn api_simulate_answers_what_simulate_json_prints() {
    let running = start("127.0.0.1:0");
    let inputs: [&[u8]; 3] = [
        br#"{"origin": "http://127.0.0.1:9001",
             "request": {"url": "http://127.0.0.1:9002/items/1", "method": "PUT", "headers": [["X-Token", "a"]], "credentials": "include"},
             "responses": {"preflight": {"status": 204, "headers": [["Access-Control-Allow-Origin", "*"]]},
                           "actual": {"status": 200, "headers": [["Access-Control-Allow-Origin", "*"]]}}}"#,
        br#"{"origin": "http://a.test", "steps": [
             {"request": {"url": "http://b.test/x", "method": "DELETE"},
              "responses": {"preflight": {"status": 204, "headers": [["Access-Control-Allow-Origin", "http://a.test"], ["Access-Control-Allow-Methods", "DELETE"], ["Access-Control-Max-Age", "60"]]},
                            "actual": {"status": 200, "headers": [["Access-Control-Allow-Origin", "http://a.test"]]}}},
             {"after_ms": 1000, "request": {"url": "http://b.test/x", "method": "DELETE"},
              "responses": {"actual": {"status": 200, "headers": [["Access-Control-Allow-Origin", "http://a.test"]]}}}]}"#,
        br#"{"origin": "http://a.test", "request": {"url": "http://b.test/x", "method": "PUT"}}"#,
    ];
    for input in inputs {
        for browser in ["chromium", "firefox", "webkit"] {
            let (status, body) = post(
                running.page,
                &format!("/api/simulate?browser={browser}"),
                input,
            );
            let (code, stdout, stderr) = simulate_json(input, browser);
            match code {
                Some(0 | 1) => {
                    assert_eq!(status, 200, "{browser}");
                    assert_eq!(body, stdout, "{browser}: the page and the CLI differ");
                }
                _ => {
                    // An input error: the same text `simulate` gives after `error: `.
                    assert_eq!(status, 400, "{browser}");
                    let said = String::from_utf8_lossy(&stderr);
                    let body = String::from_utf8_lossy(&body);
                    assert!(
                        said.contains(body.trim()),
                        "{browser}: {said:?} vs {body:?}"
                    );
                    assert!(body.contains("responses.preflight"), "{body}");
                }
            }
        }
    }
}

#[test]
fn a_taken_address_is_an_error_that_says_what_to_do() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["playground", "--listen", &addr])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")) && stderr.contains("--listen"),
        "{stderr}"
    );
}

#[test]
fn beyond_loopback_it_warns() {
    let mut child = Command::new(BIN)
        .args(["playground", "--listen", "0.0.0.0:0"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crossgate runs");
    let rx = lines(child.stderr.take().expect("stderr"));
    let warning = rx.recv_timeout(Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    let warning = warning.expect("a warning within 10 s");
    assert!(
        warning.contains("beyond this machine") && warning.contains("--listen 127.0.0.1:PORT"),
        "{warning}"
    );
}
