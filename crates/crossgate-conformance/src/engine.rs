//! The browser engines the matrices run in, behind one interface: find the installed browser,
//! start it headless on a page with a new profile, collect its console lines, stop it. Each
//! engine's own module knows how to start it and where its console comes from (Chromium:
//! stderr; Firefox: WebDriver BiDi; WebKit: stderr, under a virtual X server); the matrices only
//! see [`Engine`], [`Installed`] and [`Browser`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// An engine the harness can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Chromium,
    Firefox,
    /// WebKitGTK's MiniBrowser: WebCore, where Safari's CORS checks and messages live.
    Webkit,
}

impl Engine {
    /// As people write it (`Chromium`, `Firefox`): the name of the browser it judges.
    pub const fn name(self) -> &'static str {
        self.simulated().name()
    }

    /// The browser crossgate's agent simulates for this engine.
    pub const fn simulated(self) -> crossgate::browser::Browser {
        match self {
            Engine::Chromium => crossgate::browser::Browser::Chromium,
            Engine::Firefox => crossgate::browser::Browser::Firefox,
            Engine::Webkit => crossgate::browser::Browser::Webkit,
        }
    }

    /// The environment variable naming the binary (otherwise `PATH` is searched).
    pub const fn binary_var(self) -> &'static str {
        match self {
            Engine::Chromium => "CROSSGATE_CHROMIUM",
            Engine::Firefox => "CROSSGATE_FIREFOX",
            Engine::Webkit => "CROSSGATE_WEBKIT",
        }
    }

    /// The environment variable that turns a missing browser into a failure (CI sets it).
    pub const fn require_var(self) -> &'static str {
        match self {
            Engine::Chromium => "CROSSGATE_REQUIRE_CHROMIUM",
            Engine::Firefox => "CROSSGATE_REQUIRE_FIREFOX",
            Engine::Webkit => "CROSSGATE_REQUIRE_WEBKIT",
        }
    }

    /// The script that installs it.
    pub const fn install_script(self) -> &'static str {
        match self {
            Engine::Chromium => "scripts/install-chromium",
            Engine::Firefox => "scripts/install-firefox",
            Engine::Webkit => "scripts/install-webkit",
        }
    }

    /// The names tried on `PATH`, in order.
    const fn names(self) -> &'static [&'static str] {
        match self {
            Engine::Chromium => &[
                "chromium",
                "chromium-browser",
                "google-chrome",
                "google-chrome-stable",
            ],
            Engine::Firefox => &["firefox-esr", "firefox"],
            // Not on `PATH` in any distribution: see `Engine::places`.
            Engine::Webkit => &[],
        }
    }

    /// Where the browser is installed off `PATH`, tried after it.
    const fn places(self) -> &'static [&'static str] {
        match self {
            Engine::Webkit => crate::webkit::MINIBROWSER_PLACES,
            _ => &[],
        }
    }

    /// Whether the engine reads the pages' marker lines (see `runner::Pages::markers`) to
    /// attribute the console lines that name no URL: it then runs one fetch at a time.
    pub const fn needs_markers(self) -> bool {
        matches!(self, Engine::Webkit)
    }

    /// The CORS message in a console line of this engine, if it is one.
    pub fn cors_line(self, line: &ConsoleLine) -> Option<CorsLine> {
        match self {
            Engine::Chromium => crate::chromium::cors_line(&line.message),
            Engine::Firefox => crate::firefox::cors_line(&line.message),
            Engine::Webkit => crate::webkit::cors_line(line),
        }
    }

    /// How to ask the browser at `path` its version.
    fn version_command(self, path: &Path) -> Result<Command, NotFound> {
        match self {
            // MiniBrowser needs a display even for `--version`.
            Engine::Webkit => crate::webkit::under_xvfb(path)
                .map(|mut c| {
                    c.arg("--version");
                    c
                })
                .map_err(NotFound),
            _ => {
                let mut command = Command::new(path);
                command.arg("--version");
                Ok(command)
            }
        }
    }

    /// `$<binary_var>`, or the first of [`Engine::names`] on `PATH`, or the first of its usual
    /// places off `PATH`; its `--version` must answer within 30 seconds.
    pub async fn find(self) -> Result<Installed, NotFound> {
        let var = self.binary_var();
        let path = match std::env::var_os(var) {
            Some(p) => {
                let p = PathBuf::from(p);
                if !is_executable(&p) {
                    return Err(NotFound(format!(
                        "{var}={} is not an executable file",
                        p.display()
                    )));
                }
                p
            }
            None => self
                .names()
                .iter()
                .find_map(|n| on_path(n))
                .or_else(|| {
                    self.places()
                        .iter()
                        .map(PathBuf::from)
                        .find(|p| is_executable(p))
                })
                .ok_or_else(|| {
                    let tried: Vec<&str> =
                        self.names().iter().chain(self.places()).copied().collect();
                    NotFound(format!(
                        "none of {} is installed (install it with {}, or set {var})",
                        tried.join(", "),
                        self.install_script()
                    ))
                })?,
        };
        let mut command = self.version_command(&path)?;
        command
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
        Ok(Installed {
            engine: self,
            path,
            version,
        })
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a browser could not be used.
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

/// An installed browser of one engine.
#[derive(Clone, Debug)]
pub struct Installed {
    pub engine: Engine,
    pub path: PathBuf,
    /// What `--version` prints (`Chromium 156.0.8078.79 built on Debian ...`,
    /// `Mozilla Firefox 153.8.0esr`, `WebKitGTK 2.50.6`).
    pub version: String,
}

impl Installed {
    /// The version number alone (`156.0.8078.79`, `153.8.0esr`).
    pub fn version_number(&self) -> &str {
        self.version
            .split_whitespace()
            .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
            .unwrap_or(&self.version)
    }

    /// `Firefox 153.8.0esr`: the engine and its version, as the summary lines name them.
    pub fn label(&self) -> String {
        format!("{} {}", self.engine.name(), self.version_number())
    }

    /// Starts the browser headless on `url`, with a new, empty profile in `profile_dir`, and
    /// starts collecting its console.
    pub async fn launch(&self, url: &str, profile_dir: &Path) -> Result<Browser, String> {
        match self.engine {
            Engine::Chromium => crate::chromium::launch(self, url, profile_dir).await,
            Engine::Firefox => crate::firefox::launch(self, url, profile_dir).await,
            Engine::Webkit => crate::webkit::launch(self, url, profile_dir),
        }
    }
}

/// Starts a browser's `command`: no stdin or stdout, stderr piped (each engine reads it), in a
/// process group of its own so that stopping it reaches its helper and content processes too.
pub fn spawn(installed: &Installed, mut command: Command) -> Result<Child, String> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", installed.path.display()))
}

/// Starts `command` (see [`spawn`]) with its console read from stderr: `message` turns each line
/// into a console message and the URL of the fetch it was printed during, or `None` for a line
/// that is not one.
pub fn launch_with_stderr_console(
    installed: &Installed,
    command: Command,
    mut message: impl FnMut(&str) -> Option<(String, Option<String>)> + Send + 'static,
) -> Result<Browser, String> {
    let mut child = spawn(installed, command)?;
    let console = Console::default();
    let stderr = child.stderr.take().expect("stderr is piped");
    let sink = Console::clone(&console);
    let reader = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some((text, fetch)) = message(&line) {
                push_during(&sink, text, fetch);
            }
        }
    });
    Ok(Browser::new(child, console, vec![reader]))
}

/// One console message.
#[derive(Clone, Debug)]
pub struct ConsoleLine {
    pub at: Instant,
    pub message: String,
    /// The URL of the fetch the page had last announced when the message was printed (engines
    /// that read marker lines; see [`Engine::needs_markers`]).
    pub fetch: Option<String>,
}

/// Where an engine's console lines are collected.
pub type Console = Arc<Mutex<Vec<ConsoleLine>>>;

/// Appends a message to a console.
pub fn push(console: &Console, message: String) {
    push_during(console, message, None);
}

/// Appends a message printed while the page was running the fetch of `fetch`.
fn push_during(console: &Console, message: String, fetch: Option<String>) {
    console.lock().expect("console lock").push(ConsoleLine {
        at: Instant::now(),
        message,
        fetch,
    });
}

/// What an engine printed for a CORS failure: the request URL it names, the whole message, and
/// the reason (Chromium: after `has been blocked by CORS policy: `; Firefox: inside
/// `(Reason: ...)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsLine {
    pub url: String,
    pub line: String,
    pub reason: String,
    /// The fetch the page had announced when the line was printed (engines that read marker
    /// lines).
    pub during: Option<String>,
}

/// One event of a remote protocol's network domain, as received.
#[derive(Clone, Debug)]
pub struct NetworkEvent {
    /// When the harness received it, in milliseconds since the Unix epoch.
    pub received_ms: f64,
    /// `{"method", "params"}` as the browser sent it.
    pub event: serde_json::Value,
}

/// Where an engine's network events are collected (engines driven over a remote protocol).
pub type NetworkEvents = Arc<Mutex<Vec<NetworkEvent>>>;

/// Appends a network event.
pub fn record(network: &NetworkEvents, event: &serde_json::Value) {
    let received_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    network.lock().expect("network lock").push(NetworkEvent {
        received_ms,
        event: event.clone(),
    });
}

/// A running browser: its process (in a process group of its own), its console, its network
/// events where the engine reports them, and the tasks that feed them.
pub struct Browser {
    child: Child,
    console: Console,
    network: NetworkEvents,
    tasks: Vec<JoinHandle<()>>,
    /// Whether SIGTERM goes to the whole process group (a wrapper such as `xvfb-run` does not
    /// pass it on) rather than to the started process alone.
    terminate_group: bool,
}

impl Browser {
    /// Wraps a started browser (see the engines' `launch`).
    pub fn new(child: Child, console: Console, tasks: Vec<JoinHandle<()>>) -> Browser {
        Browser {
            child,
            console,
            network: NetworkEvents::default(),
            tasks,
            terminate_group: false,
        }
    }

    /// The browser's network events go to `network`.
    pub fn with_network(mut self, network: NetworkEvents) -> Browser {
        self.network = network;
        self
    }

    /// `task` is stopped with the browser.
    pub fn with_task(mut self, task: JoinHandle<()>) -> Browser {
        self.tasks.push(task);
        self
    }

    /// The network events so far.
    pub fn network(&self) -> Vec<NetworkEvent> {
        self.network.lock().expect("network lock").clone()
    }

    /// Stopping sends SIGTERM to every process of the group, for a browser started under a
    /// wrapper.
    pub fn terminating_group(mut self) -> Browser {
        self.terminate_group = true;
        self
    }

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

    /// Stops the browser: SIGTERM to the process it started (or its group), then, after 5
    /// seconds, SIGKILL to its process group. Returns the console messages.
    pub async fn stop(mut self) -> Vec<ConsoleLine> {
        if let Some(pid) = self.child.id() {
            let pid = pid as libc::pid_t;
            let target = if self.terminate_group { -pid } else { pid };
            // SAFETY: signals a process (group) this harness started, by its id.
            unsafe {
                libc::kill(target, libc::SIGTERM);
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
        for task in &self.tasks {
            task.abort();
        }
        self.console()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_numbers() {
        let c = Installed {
            engine: Engine::Chromium,
            path: PathBuf::from("/usr/bin/chromium"),
            version: "Chromium 156.0.8078.79 built on Debian GNU/Linux 12 (bookworm)".to_owned(),
        };
        assert_eq!(c.version_number(), "156.0.8078.79");
        let f = Installed {
            engine: Engine::Firefox,
            path: PathBuf::from("/usr/bin/firefox-esr"),
            version: "Mozilla Firefox 153.8.0esr".to_owned(),
        };
        assert_eq!(f.label(), "Firefox 153.8.0esr");
    }
}
