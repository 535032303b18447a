//! Starting WebKitGTK's MiniBrowser under a virtual X server and reading its console from
//! stderr.
//!
//! MiniBrowser (Debian's `libwebkit2gtk-4.1-0`, off `PATH`) runs WebCore, where Safari's CORS
//! checks and messages live. It needs a display, so it runs under `xvfb-run -a`. With
//! `--enable-write-console-messages-to-stdout=true` the web process writes every console message
//! to stderr as `[<url>:<line>:<column>: ]CONSOLE [<SOURCE> ]<LEVEL> <text>` (no source for
//! `console.*` calls). The setting is not applied in `--private` mode, so the browser runs in
//! normal mode with every data, cache and configuration directory inside the new profile
//! directory.
//!
//! A CORS failure prints its reason as a `SECURITY ERROR` message, which names no URL, and then
//! `Fetch API cannot load <url> due to access control checks.` as a `JS ERROR`. To attribute the
//! reason, the pages log `crossgate-fetch <url>` before each fetch and run one fetch at a time
//! ([`crate::engine::Engine::needs_markers`]); every message is attributed to the fetch announced
//! last.

use std::path::Path;

use tokio::process::Command;

use crate::engine::{Browser, ConsoleLine, CorsLine, Installed, launch_with_stderr_console};

/// Where distributions install MiniBrowser (Debian and Ubuntu per architecture, then Fedora).
pub const MINIBROWSER_PLACES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
    "/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
    "/usr/libexec/webkit2gtk-4.1/MiniBrowser",
];

/// What the pages log before each fetch, followed by the fetch's URL.
pub const MARKER: &str = "crossgate-fetch ";

/// Environment variables that would send the browser's requests through a proxy: the servers
/// are on loopback, and nothing may leave it.
const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
];

/// A command that runs `program` under a new virtual X server (`xvfb-run -a`, which picks a free
/// display number).
pub fn under_xvfb(program: &Path) -> Result<Command, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let xvfb_run = std::env::split_paths(&path)
        .map(|dir| dir.join("xvfb-run"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "xvfb-run is not on PATH: WebKit needs a virtual X server (install the xvfb and \
             xauth packages with scripts/install-webkit)"
                .to_owned()
        })?;
    let mut command = Command::new(xvfb_run);
    command
        .args(["-a", "-s", "-screen 0 1280x800x24 -nolisten tcp"])
        .arg(program);
    Ok(command)
}

/// Starts MiniBrowser on `url` with every directory it keeps data in under `profile_dir`; its
/// console comes from stderr.
pub fn launch(installed: &Installed, url: &str, profile_dir: &Path) -> Result<Browser, String> {
    let mut command = under_xvfb(&installed.path)?;
    command
        .args([
            "--enable-write-console-messages-to-stdout=true",
            "--enable-dns-prefetching=false",
            "--enable-page-cache=false",
            // The playground's `scheme` origin has a certificate made when it starts.
            "--ignore-tls-errors",
        ])
        .arg(url);
    for (var, dir) in [
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
    ] {
        let dir = profile_dir.join(dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        command.env(var, dir);
    }
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    // No accessibility bus to look for; software rendering (the X server has no GPU).
    command
        .env("NO_AT_BRIDGE", "1")
        .env("LIBGL_ALWAYS_SOFTWARE", "1");
    let mut fetch: Option<String> = None;
    let browser = launch_with_stderr_console(installed, command, move |line| {
        let message = console_message(line)?;
        if message.source.is_none()
            && let Some(url) = message.text.strip_prefix(MARKER)
        {
            fetch = Some(url.to_owned());
            return None;
        }
        Some((message.to_string(), fetch.clone()))
    })?;
    Ok(browser.terminating_group())
}

/// One console message as the web process writes it.
#[derive(Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// `JS`, `SECURITY`, `NETWORK`, ...; `None` for `console.*` calls.
    pub source: Option<&'a str>,
    /// `LOG`, `WARN`, `ERROR`, `DEBUG` or `INFO`.
    pub level: &'a str,
    pub text: &'a str,
}

impl std::fmt::Display for Message<'_> {
    /// `SECURITY ERROR <text>`, the form the harness keeps: the text alone would lose where it
    /// came from.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(source) = self.source {
            write!(f, "{source} ")?;
        }
        write!(f, "{} {}", self.level, self.text)
    }
}

const LEVELS: [&str; 5] = ["LOG", "WARN", "ERROR", "DEBUG", "INFO"];

/// The console message in a line of stderr, if the line is one.
pub fn console_message(line: &str) -> Option<Message<'_>> {
    let rest = match line.strip_prefix("CONSOLE ") {
        Some(rest) => rest,
        None => &line[line.find(": CONSOLE ")? + ": CONSOLE ".len()..],
    };
    message(rest)
}

/// `[<SOURCE> ]<LEVEL> <text>`: a message after `CONSOLE `, or as [`launch`] keeps it.
fn message(rest: &str) -> Option<Message<'_>> {
    let (first, after) = rest.split_once(' ').unwrap_or((rest, ""));
    if LEVELS.contains(&first) {
        return Some(Message {
            source: None,
            level: first,
            text: after,
        });
    }
    let (level, text) = after.split_once(' ').unwrap_or((after, ""));
    if !LEVELS.contains(&level) || first.is_empty() {
        return None;
    }
    Some(Message {
        source: Some(first),
        level,
        text,
    })
}

/// The CORS message in a console line, if it is one: a `SECURITY` message, or the `JS ERROR`
/// `Fetch API cannot load <url> ...`. The URL is the one the line names, or else the fetch the
/// page had announced.
pub fn cors_line(line: &ConsoleLine) -> Option<CorsLine> {
    const CANNOT_LOAD: &str = "Fetch API cannot load ";
    let message = message(&line.message)?;
    let named = match (message.source, message.level) {
        (Some("SECURITY"), _) => None,
        (Some("JS"), "ERROR") => {
            let rest = message.text.strip_prefix(CANNOT_LOAD)?;
            // The URL ends at a space, or at the full stop that ends the sentence.
            let url = rest.split(' ').next().unwrap_or(rest);
            Some(url.trim_end_matches('.').to_owned())
        }
        _ => return None,
    };
    Some(CorsLine {
        url: named.or_else(|| line.fetch.clone()).unwrap_or_default(),
        line: message.text.to_owned(),
        reason: message.text.to_owned(),
        during: line.fetch.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_are_recognised() {
        let m = console_message("http://app.localhost:8801/run/0:2:12: CONSOLE LOG crossgate-fetch http://localhost:8802/s/s001/r").unwrap();
        assert_eq!(m.source, None);
        assert_eq!(
            m.text.strip_prefix(MARKER),
            Some("http://localhost:8802/s/s001/r")
        );
        let m = console_message("CONSOLE SECURITY ERROR Origin http://app.localhost:8801 is not allowed by Access-Control-Allow-Origin. Status code: 200").unwrap();
        assert_eq!((m.source, m.level), (Some("SECURITY"), "ERROR"));
        assert!(console_message("Failed to create /tmp/x for shader cache").is_none());
        assert!(console_message("(MiniBrowser:1): Gtk-WARNING **: cannot open display").is_none());

        let during = |message: &str| ConsoleLine {
            at: std::time::Instant::now(),
            message: message.to_owned(),
            fetch: Some("http://localhost:8802/s/s001/r".to_owned()),
        };
        let reason = cors_line(&during(&m.to_string())).unwrap();
        assert_eq!(reason.url, "http://localhost:8802/s/s001/r");
        assert!(
            reason
                .line
                .starts_with("Origin http://app.localhost:8801 is not allowed")
        );
        let load = cors_line(&during(
            "JS ERROR Fetch API cannot load http://api.localhost:8802/s/s002/r due to access control checks.",
        ))
        .unwrap();
        assert_eq!(load.url, "http://api.localhost:8802/s/s002/r");
        assert!(
            cors_line(&during(
                "JS ERROR Unhandled Promise Rejection: TypeError: Load failed"
            ))
            .is_none()
        );
        assert!(cors_line(&during("LOG hello")).is_none());
    }
}
