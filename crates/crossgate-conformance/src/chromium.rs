//! Starting headless Chromium and reading its console from stderr.
//!
//! Chromium runs with `--enable-logging=stderr --v=0`, which writes every console message of
//! every page as `[pid:tid:time:INFO:CONSOLE:0] "<message>", source: <url> (<line>)`. The CORS
//! failures are the messages containing `has been blocked by CORS policy: `.

use std::path::Path;

use tokio::process::Command;

use crate::engine::{Browser, CorsLine, Installed, launch_with_stderr_console};

/// Starts headless Chromium on `url` with a new, empty profile in `profile_dir`; its console
/// comes from stderr.
pub fn launch(installed: &Installed, url: &str, profile_dir: &Path) -> Result<Browser, String> {
    let mut command = Command::new(&installed.path);
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
        .arg(url);
    launch_with_stderr_console(installed, command, |line| {
        console_message(line).map(|m| (m, None))
    })
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
        during: None,
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
}
