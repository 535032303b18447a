//! Finding, starting and stopping headless Chromium, and reading its console from stderr.
//!
//! Chromium runs with `--enable-logging=stderr --v=0`, which writes every console message of
//! every page as `[pid:tid:time:INFO:CONSOLE:0] "<message>", source: <url> (<line>)`. The CORS
//! failures are the messages containing `has been blocked by CORS policy: `.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The environment variable naming the browser binary (otherwise `PATH` is searched).
pub const BROWSER_VAR: &str = "CROSSGATE_CHROMIUM";
/// The environment variable that turns a missing Chromium into a failure (CI sets it).
pub const REQUIRE_VAR: &str = "CROSSGATE_REQUIRE_CHROMIUM";

/// The names tried on `PATH`, in order.
const NAMES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// A Chromium binary and its version.
#[derive(Clone, Debug)]
pub struct Chromium {
    pub path: PathBuf,
    /// What `--version` prints, e.g. `Chromium 156.0.8078.79 built on Debian ...`.
    pub version: String,
}

/// Why Chromium could not be used.
#[derive(Debug)]
pub struct NotFound(pub String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Chromium {
    /// `$CROSSGATE_CHROMIUM`, or the first of `chromium`, `chromium-browser`, `google-chrome`
    /// on `PATH`; its `--version` must answer within 30 seconds.
    pub async fn find() -> Result<Chromium, NotFound> {
        let path = match std::env::var_os(BROWSER_VAR) {
            Some(p) => {
                let p = PathBuf::from(p);
                if !is_executable(&p) {
                    return Err(NotFound(format!(
                        "{BROWSER_VAR}={} is not an executable file",
                        p.display()
                    )));
                }
                p
            }
            None => NAMES.iter().find_map(|n| on_path(n)).ok_or_else(|| {
                NotFound(format!(
                    "none of {} is on PATH (install it with scripts/install-chromium, or set \
                     {BROWSER_VAR})",
                    NAMES.join(", ")
                ))
            })?,
        };
        let mut command = Command::new(&path);
        command
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(30), command.output())
            .await
            .map_err(|_| NotFound(format!("{} --version did not answer", path.display())))?
            .map_err(|e| NotFound(format!("cannot run {}: {e}", path.display())))?;
        let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if !output.status.success() || version.is_empty() {
            return Err(NotFound(format!(
                "{} --version failed ({})",
                path.display(),
                output.status
            )));
        }
        Ok(Chromium { path, version })
    }

    /// The version number alone (`156.0.8078.79`).
    pub fn version_number(&self) -> &str {
        self.version
            .split_whitespace()
            .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
            .unwrap_or(&self.version)
    }

    /// Starts headless Chromium on `url` with a new, empty profile in `profile_dir`.
    pub fn launch(&self, url: &str, profile_dir: &Path) -> std::io::Result<Browser> {
        let mut command = Command::new(&self.path);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile_dir.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so that stopping it reaches its helper processes too.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let console = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&console);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(message) = console_message(&line) {
                    sink.lock().expect("console lock").push(ConsoleLine {
                        at: Instant::now(),
                        message,
                    });
                }
            }
        });
        Ok(Browser { child, console })
    }
}

/// One console message.
#[derive(Clone, Debug)]
pub struct ConsoleLine {
    pub at: Instant,
    pub message: String,
}

/// A running Chromium.
pub struct Browser {
    child: Child,
    console: Arc<Mutex<Vec<ConsoleLine>>>,
}

impl Browser {
    /// The console messages so far.
    pub fn console(&self) -> Vec<ConsoleLine> {
        self.console.lock().expect("console lock").clone()
    }

    /// Whether the browser process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits until no console message has arrived for `quiet`, at most `limit`.
    pub async fn settle(&self, quiet: Duration, limit: Duration) {
        let start = Instant::now();
        loop {
            let last = self
                .console
                .lock()
                .expect("console lock")
                .last()
                .map(|l| l.at);
            let idle = last.map_or(start.elapsed(), |t| t.elapsed());
            if idle >= quiet || start.elapsed() >= limit {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the browser: SIGTERM to the process it started, then, after 5 seconds, SIGKILL to
    /// its process group. Returns the console messages.
    pub async fn stop(mut self) -> Vec<ConsoleLine> {
        if let Some(pid) = self.child.id() {
            let pid = pid as libc::pid_t;
            // SAFETY: signals a process (group) this harness started, by its id.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let exited = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
            // SAFETY: as above; the group id is the id of the process started with
            // `process_group(0)`.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            if exited.is_err() {
                let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
            }
        }
        self.console()
    }
}

/// The message of a console line of `--enable-logging=stderr`, if the line is one.
pub fn console_message(line: &str) -> Option<String> {
    let start = line.find(":INFO:CONSOLE")?;
    let rest = &line[start..];
    let open = rest.find("] \"")? + 3;
    let body = &rest[open..];
    let end = body.rfind("\", source: ")?;
    Some(body[..end].to_owned())
}

/// What Chromium printed for a CORS failure: the request URL (the last, after redirects), the
/// whole message, and the reason after `has been blocked by CORS policy: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsLine {
    pub url: String,
    pub line: String,
    pub reason: String,
}

/// Parses a CORS console message (`Access to fetch at '<url>' ... has been blocked by CORS
/// policy: <reason>`).
pub fn cors_line(message: &str) -> Option<CorsLine> {
    const MARK: &str = " has been blocked by CORS policy: ";
    let at = message.find(MARK)?;
    let url = message
        .strip_prefix("Access to fetch at '")?
        .split('\'')
        .next()?
        .to_owned();
    Some(CorsLine {
        url,
        line: message.to_owned(),
        reason: message[at + MARK.len()..].to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_are_recognised() {
        let line = "[14671:14671:1125/042418.418429:INFO:CONSOLE:0] \"Access to fetch at \
                    'http://api.localhost:8802/b' from origin 'http://127.0.0.1:8801' has been \
                    blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present \
                    on the requested resource.\", source: http://127.0.0.1:8801/page (0)";
        let message = console_message(line).unwrap();
        let cors = cors_line(&message).unwrap();
        assert_eq!(cors.url, "http://api.localhost:8802/b");
        assert_eq!(
            cors.reason,
            "No 'Access-Control-Allow-Origin' header is present on the requested resource."
        );
        assert!(
            console_message("[1:2:3:ERROR:dbus/bus.cc:405] Failed to connect to the bus").is_none()
        );
        assert!(cors_line("Uncaught (in promise) TypeError: Failed to fetch").is_none());
    }

    #[test]
    fn version_numbers() {
        let c = Chromium {
            path: PathBuf::from("/usr/bin/chromium"),
            version: "Chromium 156.0.8078.79 built on Debian GNU/Linux 12 (bookworm)".to_owned(),
        };
        assert_eq!(c.version_number(), "156.0.8078.79");
    }
}
