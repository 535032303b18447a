//! Starting headless Firefox and reading its console over WebDriver BiDi.
//!
//! Firefox runs with `--headless --no-remote --profile <new dir> --remote-debugging-port 0`; it
//! prints `WebDriver BiDi listening on ws://127.0.0.1:<port>` on stderr. The harness opens a
//! WebSocket at `/session` (the handshake carries no `Origin` header: Firefox refuses one it
//! does not expect), sends `session.new`, subscribes to `log.entryAdded` and navigates the one
//! browsing context to the first page. Every console message arrives as a `log.entryAdded`
//! event; the CORS failures are entries of type `javascript` whose text starts with
//! `Cross-Origin Request Blocked: `. CORS warnings, which `log.entryAdded` leaves out, and
//! with them, to keep the order, every CORS message, come over a BiDi channel from a listener in
//! the parent process instead (`--remote-allow-system-access`; see `forward_cors_messages`). No
//! geckodriver is involved.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::oneshot;

use crate::engine::{Browser, Console, CorsLine, Installed, NetworkEvents, push, spawn};
use crate::wire::Wire;

/// How long Firefox may take to open its WebDriver BiDi port.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The WebDriver BiDi network events kept for the HAR of a run (`crate::har`).
const NETWORK_EVENTS: [&str; 4] = [
    "network.beforeRequestSent",
    "network.responseStarted",
    "network.responseCompleted",
    "network.fetchError",
];

/// Preferences written to the new profile's `user.js`, on top of those the remote agent sets
/// itself (`remote.prefs.recommended`): nothing may reach beyond loopback or change what the
/// pages load.
const PREFS: &[(&str, &str)] = &[
    // No proxy, whatever the environment says: the servers are on loopback.
    ("network.proxy.type", "0"),
    // Plain http:// pages stay http:// (HTTPS-First would try https:// first).
    ("dom.security.https_first", "false"),
    ("dom.security.https_first_schemeless", "false"),
    ("dom.security.https_only_mode", "false"),
    // No speculative connections: every connection the servers see is a fetch's.
    ("network.http.speculative-parallel-limit", "0"),
    ("network.dns.disablePrefetch", "true"),
    ("network.prefetch-next", "false"),
    // Nothing phones home.
    ("app.update.disabledForTesting", "true"),
    ("browser.safebrowsing.malware.enabled", "false"),
    ("browser.safebrowsing.phishing.enabled", "false"),
    ("datareporting.policy.dataSubmissionEnabled", "false"),
    ("toolkit.telemetry.enabled", "false"),
    ("network.captive-portal-service.enabled", "false"),
    ("network.connectivity-service.enabled", "false"),
];

/// Starts headless Firefox on `url` with a new profile in `profile_dir` and subscribes to its
/// console over WebDriver BiDi.
pub async fn launch(
    installed: &Installed,
    url: &str,
    profile_dir: &Path,
) -> Result<Browser, String> {
    let prefs: String = PREFS
        .iter()
        .map(|(name, value)| format!("user_pref(\"{name}\", {value});\n"))
        .collect();
    std::fs::write(profile_dir.join("user.js"), prefs)
        .map_err(|e| format!("cannot write the Firefox profile: {e}"))?;
    let mut command = Command::new(&installed.path);
    command
        .args(["--headless", "--no-remote", "--profile"])
        .arg(profile_dir)
        .args([
            "--remote-debugging-port",
            "0",
            "--remote-allow-system-access",
        ])
        .arg("about:blank")
        .env("MOZ_CRASHREPORTER_DISABLE", "1");
    let mut child = spawn(installed, command)?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let (port_tx, port_rx) = oneshot::channel::<String>();
    // stderr: the line with the BiDi address, then drained until Firefox exits (what it says
    // after that is kept for the failure message of a run that goes wrong).
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let stderr_log = Arc::clone(&log);
    let stderr_task = tokio::spawn(async move {
        let mut port_tx = Some(port_tx);
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(address) = bidi_address(&line)
                && let Some(tx) = port_tx.take()
            {
                let _ = tx.send(address.to_owned());
                continue;
            }
            let mut log = stderr_log.lock().expect("stderr lock");
            if log.len() < 200 {
                log.push(line);
            }
        }
    });
    let address = match tokio::time::timeout(START_TIMEOUT, port_rx).await {
        Ok(Ok(address)) => address,
        _ => {
            let said = log.lock().expect("stderr lock").join("\n");
            return Err(format!(
                "Firefox did not open its WebDriver BiDi port within {START_TIMEOUT:?}; it \
                 said:\n{said}"
            ));
        }
    };
    let console = Console::default();
    let network = NetworkEvents::default();
    let on_event = {
        let console = Console::clone(&console);
        let network = NetworkEvents::clone(&network);
        move |event: &Value| bidi_event(event, &console, &network)
    };
    let mut bidi = Wire::connect(&format!("{address}/session"), on_event).await?;
    bidi.command(
        "session.new",
        // The playground's `scheme` origin has a certificate made when it starts.
        json!({"capabilities": {"alwaysMatch": {"acceptInsecureCerts": true}}}),
    )
    .await?;
    let mut events = vec!["log.entryAdded", "script.message"];
    events.extend(NETWORK_EVENTS);
    bidi.command("session.subscribe", json!({"events": events}))
        .await?;
    forward_cors_messages(&mut bidi).await?;
    let tree = bidi.command("browsingContext.getTree", json!({})).await?;
    let context = tree["contexts"][0]["context"]
        .as_str()
        .ok_or_else(|| format!("Firefox reported no browsing context: {tree}"))?
        .to_owned();
    bidi.command(
        "browsingContext.navigate",
        json!({"context": context, "url": url, "wait": "none"}),
    )
    .await?;
    Ok(Browser::new(child, console, vec![stderr_task, bidi.reader]).with_network(network))
}

/// An event of the BiDi session: console messages (other than CORS ones, which come over the
/// channel, see [`forward_cors_messages`]) and the channel's CORS messages go to the console;
/// network events to the network log.
fn bidi_event(value: &Value, console: &Console, network: &NetworkEvents) {
    let method = value["method"].as_str().unwrap_or_default();
    if method == "log.entryAdded"
        && let Some(text) = value["params"]["text"].as_str()
        && !text.starts_with(CORS_PREFIX)
    {
        push(console, text.to_owned());
    } else if method == "script.message"
        && value["params"]["channel"] == CORS_CHANNEL
        && let Some(text) = value["params"]["data"]["value"].as_str()
    {
        push(console, text.to_owned());
    } else if NETWORK_EVENTS.contains(&method) {
        crate::engine::record(network, value);
    }
}

/// The BiDi channel that carries Firefox's CORS messages to the harness.
const CORS_CHANNEL: &str = "crossgate-cors-messages";

/// How every Firefox CORS message starts: `Cross-Origin Request Blocked: ` for a failure,
/// `Cross-Origin Request Warning: ` for a warning.
const CORS_PREFIX: &str = "Cross-Origin Request ";

/// Firefox prints some CORS messages as warnings ("Cross-Origin Request Warning: ..."), which
/// `log.entryAdded` leaves out (it reports errors only). With `--remote-allow-system-access`, a
/// listener on the parent process's console service, which receives every content process's
/// messages in the order they were logged, sends each CORS message, error or warning, over a
/// BiDi channel (`script.message`). Taking errors from `log.entryAdded` and warnings from the
/// channel would lose their order: the two streams are not synchronised.
async fn forward_cors_messages(bidi: &mut Wire) -> Result<(), String> {
    let tree = bidi
        .command("browsingContext.getTree", json!({"moz:scope": "chrome"}))
        .await?;
    let chrome = tree["contexts"][0]["context"]
        .as_str()
        .ok_or_else(|| format!("Firefox reported no chrome context: {tree}"))?
        .to_owned();
    let listener = r#"(send, CORS_PREFIX) => {
        Services.console.registerListener({
            observe(m) {
                if (m instanceof Ci.nsIScriptError
                    && m.errorMessage.startsWith(CORS_PREFIX)) {
                    send(m.errorMessage);
                }
            },
        });
    }"#;
    bidi.command(
        "script.callFunction",
        json!({
            "functionDeclaration": listener,
            "awaitPromise": false,
            "target": {"context": chrome},
            "arguments": [
                {"type": "channel", "value": {"channel": CORS_CHANNEL}},
                {"type": "string", "value": CORS_PREFIX},
            ],
        }),
    )
    .await?;
    Ok(())
}

/// `ws://127.0.0.1:<port>` from Firefox's `WebDriver BiDi listening on ws://...` line.
fn bidi_address(line: &str) -> Option<&str> {
    line.strip_prefix("WebDriver BiDi listening on ")
        .map(str::trim)
        .filter(|a| a.starts_with("ws://"))
}

/// The common start of Firefox's CORS messages (`security.properties`).
const BLOCKED: &str = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading \
                       the remote resource at ";

/// The start of Firefox's CORS warnings: the request went through, for now.
const WARNING: &str = "Cross-Origin Request Warning: The Same Origin Policy will disallow \
                       reading the remote resource at ";

/// Parses a Firefox CORS console message (`Cross-Origin Request Blocked: The Same Origin Policy
/// disallows reading the remote resource at <url>. (Reason: <reason>).`, the URL quoted
/// `‘<url>’` in one of them; or a warning, `... will disallow reading the remote resource at
/// <url> soon. (Reason: ...)`).
pub fn cors_line(message: &str) -> Option<CorsLine> {
    let (url, reason) = match message.strip_prefix(BLOCKED) {
        Some(rest) => rest.split_once(". (Reason: ")?,
        None => message
            .strip_prefix(WARNING)?
            .split_once(" soon. (Reason: ")?,
    };
    let url = url
        .strip_prefix('‘')
        .and_then(|u| u.strip_suffix('’'))
        .unwrap_or(url);
    Some(CorsLine {
        url: url.to_owned(),
        line: message.to_owned(),
        reason: reason.strip_suffix(").").unwrap_or(reason).to_owned(),
        during: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_are_recognised() {
        let cors = cors_line(
            "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote \
             resource at http://api.localhost:8802/s/s001/r. (Reason: CORS header \
             ‘Access-Control-Allow-Origin’ missing). Status code: 200.",
        )
        .unwrap();
        assert_eq!(cors.url, "http://api.localhost:8802/s/s001/r");
        assert_eq!(
            cors.reason,
            "CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 200."
        );
        let quoted = cors_line(
            "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote \
             resource at ‘http://a.test/x’. (Reason: Credential is not supported if the CORS \
             header ‘Access-Control-Allow-Origin’ is ‘*’).",
        )
        .unwrap();
        assert_eq!(quoted.url, "http://a.test/x");
        let warning = cors_line(
            "Cross-Origin Request Warning: The Same Origin Policy will disallow reading the \
             remote resource at http://a.test/x soon. (Reason: When the \
             `Access-Control-Allow-Headers` is `*`, the `Authorization` header is not covered. \
             To include the `Authorization` header, it must be explicitly listed in CORS \
             header `Access-Control-Allow-Headers`).",
        )
        .unwrap();
        assert_eq!(warning.url, "http://a.test/x");
        assert!(
            warning
                .reason
                .starts_with("When the `Access-Control-Allow-Headers` is `*`")
        );
        assert!(cors_line("TypeError: NetworkError when attempting to fetch resource.").is_none());
        assert_eq!(
            bidi_address("WebDriver BiDi listening on ws://127.0.0.1:43525"),
            Some("ws://127.0.0.1:43525")
        );
        assert_eq!(bidi_address("*** You are running in headless mode."), None);
    }
}
