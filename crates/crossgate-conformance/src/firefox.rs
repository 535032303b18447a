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

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::stream::{SplitSink, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::engine::{Browser, Console, CorsLine, Installed, push, spawn};

/// How long Firefox may take to open its WebDriver BiDi port, and to answer a command.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

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
    let mut bidi = Bidi::connect(&format!("{address}/session"), Console::clone(&console)).await?;
    bidi.command("session.new", json!({"capabilities": {}}))
        .await?;
    bidi.command(
        "session.subscribe",
        json!({"events": ["log.entryAdded", "script.message"]}),
    )
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
    Ok(Browser::new(child, console, vec![stderr_task, bidi.reader]))
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
async fn forward_cors_messages(bidi: &mut Bidi) -> Result<(), String> {
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

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// A WebDriver BiDi connection: commands (sent one at a time) wait for their answer by id;
/// CORS messages from the channel and other `log.entryAdded` events go to the console.
struct Bidi {
    sink: Sink,
    pending: Pending,
    next_id: u64,
    reader: tokio::task::JoinHandle<()>,
}

impl Bidi {
    async fn connect(url: &str, console: Console) -> Result<Bidi, String> {
        let (socket, _) =
            tokio::time::timeout(COMMAND_TIMEOUT, tokio_tungstenite::connect_async(url))
                .await
                .map_err(|_| format!("{url}: the WebSocket handshake did not finish"))?
                .map_err(|e| format!("{url}: {e}"))?;
        let (sink, mut stream) = socket.split();
        let pending = Pending::default();
        let waiting = Pending::clone(&pending);
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                if let Some(id) = value["id"].as_u64() {
                    if let Some(tx) = waiting.lock().expect("pending lock").remove(&id) {
                        let _ = tx.send(value);
                    }
                } else if value["method"] == "log.entryAdded"
                    && let Some(text) = value["params"]["text"].as_str()
                    && !text.starts_with(CORS_PREFIX)
                {
                    push(&console, text.to_owned());
                } else if value["method"] == "script.message"
                    && value["params"]["channel"] == CORS_CHANNEL
                    && let Some(text) = value["params"]["data"]["value"].as_str()
                {
                    push(&console, text.to_owned());
                }
            }
        });
        Ok(Bidi {
            sink,
            pending,
            next_id: 1,
            reader,
        })
    }

    /// Sends a command and returns its `result`, or the error Firefox answered.
    async fn command(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending lock").insert(id, tx);
        let text = json!({"id": id, "method": method, "params": params}).to_string();
        self.sink
            .send(Message::text(text))
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        let answer = tokio::time::timeout(COMMAND_TIMEOUT, rx)
            .await
            .map_err(|_| format!("{method}: Firefox did not answer within {COMMAND_TIMEOUT:?}"))?
            .map_err(|_| format!("{method}: the WebDriver BiDi connection closed"))?;
        if answer["type"] == "error" {
            return Err(format!(
                "{method}: {} ({})",
                answer["error"].as_str().unwrap_or("error"),
                answer["message"].as_str().unwrap_or("")
            ));
        }
        Ok(answer["result"].clone())
    }
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
