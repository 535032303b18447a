//! The WebSocket command channel both remote protocols share: WebDriver BiDi (Firefox) and the
//! Chrome DevTools protocol (Chromium). Each sends `{"id", "method", "params"}` (CDP adds a
//! `sessionId` for a target), answers with the same `id`, and sends events as
//! `{"method", "params"}` without one; events go to a callback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::stream::{SplitSink, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a browser may take to answer a command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// A connection: commands (one at a time) wait for their answer by id.
pub struct Wire {
    sink: Sink,
    pending: Pending,
    next_id: u64,
    /// The task reading the socket; stop it with the browser.
    pub reader: tokio::task::JoinHandle<()>,
}

impl Wire {
    /// Connects to `url`; every event is passed to `on_event`.
    pub async fn connect(
        url: &str,
        on_event: impl Fn(&Value) + Send + 'static,
    ) -> Result<Wire, String> {
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
                } else if value["method"].is_string() {
                    on_event(&value);
                }
            }
        });
        Ok(Wire {
            sink,
            pending,
            next_id: 1,
            reader,
        })
    }

    /// Sends a command and returns its `result`, or the error the browser answered.
    pub async fn command(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.command_in(None, method, params).await
    }

    /// Sends a command to a CDP session (a target attached with `flatten`).
    pub async fn command_in(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending lock").insert(id, tx);
        let mut command = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            command["sessionId"] = json!(s);
        }
        self.sink
            .send(Message::text(command.to_string()))
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        let answer = tokio::time::timeout(COMMAND_TIMEOUT, rx)
            .await
            .map_err(|_| format!("{method}: no answer within {COMMAND_TIMEOUT:?}"))?
            .map_err(|_| format!("{method}: the connection closed"))?;
        // WebDriver BiDi: `{"type": "error", "error", "message"}`; CDP: `{"error": {...}}`.
        if answer["type"] == "error" {
            return Err(format!(
                "{method}: {} ({})",
                answer["error"].as_str().unwrap_or("error"),
                answer["message"].as_str().unwrap_or("")
            ));
        }
        if let Some(e) = answer["error"].as_object() {
            return Err(format!(
                "{method}: {}",
                e.get("message").and_then(Value::as_str).unwrap_or("error")
            ));
        }
        Ok(answer["result"].clone())
    }
}
