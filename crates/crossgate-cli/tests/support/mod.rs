//! What the CLI tests share: a raw HTTP/1.1 server on 127.0.0.1:0 whose every answer the test
//! scripts, and running the `crossgate` binary.
#![allow(dead_code)] // each test file uses its own share

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_crossgate");

/// A request as the test server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response: status and headers (the body is empty).
pub type Reply = (u16, Vec<(&'static str, String)>);

/// A raw HTTP/1.1 server on 127.0.0.1:0 that answers each request with `answer(request)` and
/// closes the connection. Runs until the test process ends; every read is bounded.
pub fn server(answer: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> SocketAddr {
    server_on("127.0.0.1:0", answer)
}

/// [`server`] on another loopback address (`[::1]:0`).
pub fn server_on(
    bind: &str,
    answer: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind(bind).unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let answer = Arc::clone(&answer);
            thread::spawn(move || serve_one(stream, &*answer));
        }
    });
    addr
}

fn serve_one(mut stream: TcpStream, answer: &dyn Fn(&Seen) -> Reply) {
    let Some(seen) = read_request(&stream) else {
        return;
    };
    let (status, reply_headers) = answer(&seen);
    let mut out = format!("HTTP/1.1 {status} Status\r\n");
    for (n, v) in reply_headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(out.as_bytes());
}

/// The start line and headers (and any body, discarded), every read bounded.
pub fn read_request(stream: &TcpStream) -> Option<Seen> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((n, v)) = h.trim_end().split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let seen = Seen {
        method,
        path,
        headers,
    };
    let length: u64 = seen
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let _ = std::io::copy(&mut reader.take(length.min(1 << 20)), &mut std::io::sink());
    Some(seen)
}

pub fn crossgate(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crossgate runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// The JSON a run printed on stdout, or a panic showing what it printed instead.
pub fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A file of the repository, by its path from the root.
pub fn repo_file(name: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The first code block opened by `fence` (```` ``` ```` or ```` ```console ````) in the
/// README section whose heading starts with `heading`.
pub fn readme_block(heading: &str, fence: &str) -> String {
    let readme = repo_file("README.md");
    let section = readme
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("README: no section {heading}"));
    section
        .split(fence)
        .nth(1)
        .and_then(|b| b.split("```").next())
        .map(|b| {
            b.trim_start_matches(|c: char| c.is_alphanumeric())
                .to_owned()
        })
        .unwrap_or_else(|| panic!("README: no code block in {heading}"))
}

/// Starts `crossgate serve` from `command` (stdout is piped here) and waits, at most 20 s, for
/// its banner: the lines up to the policy's closing note. Returns the child and the banner.
pub fn start_serve(mut command: Command) -> (std::process::Child, String) {
    let mut child = command
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("crossgate serve starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut banner = String::new();
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("  (GET, HEAD and POST") && !sent {
                sent = true;
                let _ = tx.send(banner.clone());
            }
        }
    });
    let banner = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("serve prints its banner");
    (child, banner)
}

/// The address of the banner's line that starts with `prefix` (`listening on http://`,
/// `admin: http://`), up to the first `/` after it.
pub fn banner_addr(banner: &str, prefix: &str) -> Option<SocketAddr> {
    banner
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|l| l.split('/').next())
        .map(|a| a.parse().expect("a socket address"))
}
