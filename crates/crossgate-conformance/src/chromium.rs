//! Starting headless Chromium, reading its console from stderr and its network events over the
//! DevTools protocol.
//!
//! Chromium runs with `--enable-logging=stderr --v=0`, which writes every console message of
//! every page as `[pid:tid:time:INFO:CONSOLE:0] "<message>", source: <url> (<line>)`. The CORS
//! failures are the messages containing `has been blocked by CORS policy: `.
//!
//! With `--remote-debugging-port=0` it also prints `DevTools listening on ws://...`: the harness
//! attaches to the page (`Target.attachToTarget`, flattened), enables the `Network` domain and
//! only then navigates from `about:blank` to the first page, so that every request of the run
//! is in the network log (`crate::har` turns it into the HAR DevTools would export).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;
use tokio::sync::oneshot;

use crate::engine::{Browser, CorsLine, Installed, NetworkEvents, launch_with_stderr_console};
use crate::wire::Wire;

/// How long Chromium may take to open its DevTools port.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts headless Chromium on `url` with a new, empty profile in `profile_dir`; its console
/// comes from stderr, its network events over the DevTools protocol.
pub async fn launch(
    installed: &Installed,
    url: &str,
    profile_dir: &Path,
) -> Result<Browser, String> {
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
            "--remote-debugging-port=0",
            // The playground's `scheme` origin has a certificate made when it starts.
            "--ignore-certificate-errors",
        ])
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .arg("about:blank");
    let (address_tx, address_rx) = oneshot::channel::<String>();
    let address_tx = Mutex::new(Some(address_tx));
    let browser = launch_with_stderr_console(installed, command, move |line| {
        if let Some(address) = line.strip_prefix("DevTools listening on ") {
            if let Some(tx) = address_tx.lock().expect("address lock").take() {
                let _ = tx.send(address.trim().to_owned());
            }
            return None;
        }
        console_message(line).map(|m| (m, None))
    })?;
    let address = match tokio::time::timeout(START_TIMEOUT, address_rx).await {
        Ok(Ok(address)) => address,
        _ => {
            return Err(format!(
                "Chromium did not open its DevTools port within {START_TIMEOUT:?}"
            ));
        }
    };
    let network = NetworkEvents::default();
    let sink = NetworkEvents::clone(&network);
    let mut cdp = Wire::connect(&address, move |event: &Value| {
        if event["method"]
            .as_str()
            .is_some_and(|m| m.starts_with("Network."))
        {
            crate::engine::record(&sink, event);
        }
    })
    .await?;
    let targets = cdp.command("Target.getTargets", json!({})).await?;
    let page = targets["targetInfos"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["type"] == "page"))
        .and_then(|t| t["targetId"].as_str())
        .ok_or_else(|| format!("Chromium reported no page target: {targets}"))?
        .to_owned();
    let attached = cdp
        .command(
            "Target.attachToTarget",
            json!({"targetId": page, "flatten": true}),
        )
        .await?;
    let session = attached["sessionId"]
        .as_str()
        .ok_or_else(|| format!("Target.attachToTarget gave no session: {attached}"))?
        .to_owned();
    cdp.command_in(Some(&session), "Network.enable", json!({}))
        .await?;
    cdp.command_in(Some(&session), "Page.navigate", json!({"url": url}))
        .await?;
    Ok(browser.with_network(network).with_task(cdp.reader))
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
