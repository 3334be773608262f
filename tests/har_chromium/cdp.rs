//! A DevTools protocol client, as small as the recorder needs: one websocket to the browser,
//! commands answered in turn, events queued in the order they came.
//!
//! Commands are synchronous (send, then read until the answer with the same id); events that
//! arrive meanwhile are kept for [`Cdp::next_event`], so none is lost while the recorder asks for a
//! body. Sessions are flat (`Target.attachToTarget` with `flatten`): a page's commands and events
//! travel on the browser's socket, tagged with its `sessionId`. Every read is bounded by the
//! deadline given at connection: a browser that stops answering fails the test, never hangs it.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::Instant;

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// Why talking to the browser failed.
#[derive(Debug, thiserror::Error)]
pub enum CdpError {
    #[error("the DevTools websocket failed: {0}")]
    Socket(#[from] tungstenite::Error),
    #[error("the browser sent something that is not a DevTools message: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("{method} failed: {message}")]
    Command { method: String, message: String },
    #[error("timed out {doing}")]
    TimedOut { doing: String },
    #[error("the browser closed the DevTools connection")]
    Closed,
}

/// One event: its method (`Network.requestWillBeSent`), its params and the session it came from.
#[derive(Debug, Clone)]
pub struct Event {
    pub method: String,
    pub params: Value,
    pub session: Option<String>,
}

/// A connection to the browser's DevTools endpoint (`ws://127.0.0.1:PORT/devtools/browser/…`).
pub struct Cdp {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: VecDeque<Event>,
    deadline: Instant,
}

impl Cdp {
    /// Connect; nothing read from it may come after `deadline`.
    pub fn connect(url: &str, deadline: Instant) -> Result<Cdp, CdpError> {
        let (socket, _) = tungstenite::connect(url)?;
        Ok(Cdp {
            socket,
            next_id: 1,
            events: VecDeque::new(),
            deadline,
        })
    }

    /// Send a command (to the page's `session`, or to the browser) and wait for its result.
    pub fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, CdpError> {
        let id = self.send(session, method, params)?;
        loop {
            let mut message = self.read(&format!("waiting for the answer to {method}"))?;
            if message.get("id").and_then(Value::as_u64) == Some(id) {
                if let Some(error) = message.get("error") {
                    return Err(CdpError::Command {
                        method: method.to_string(),
                        message: error["message"].as_str().unwrap_or("").to_string(),
                    });
                }
                return Ok(message["result"].take());
            }
            self.keep_event(message);
        }
    }

    /// Send a command and go on without its result, which is dropped when it comes: for a command
    /// that answers only once events have been handled (`Page.navigate` answers when the page's
    /// response, paused for its body, has been let go).
    pub fn send(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<u64, CdpError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        self.socket.send(Message::text(command.to_string()))?;
        Ok(id)
    }

    /// The next event, queued or read; `doing` says what was awaited when the deadline passes.
    pub fn next_event(&mut self, doing: &str) -> Result<Event, CdpError> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            let message = self.read(doing)?;
            self.keep_event(message);
        }
    }

    fn keep_event(&mut self, mut message: Value) {
        // Answers to commands no longer awaited have no method: nothing to keep.
        let Some(method) = message.get("method").and_then(Value::as_str) else {
            return;
        };
        self.events.push_back(Event {
            method: method.to_string(),
            params: message["params"].take(),
            session: message["sessionId"].as_str().map(str::to_string),
        });
    }

    /// One JSON message, read before the deadline.
    fn read(&mut self, doing: &str) -> Result<Value, CdpError> {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CdpError::TimedOut {
                    doing: doing.to_string(),
                });
            }
            if let MaybeTlsStream::Plain(stream) = self.socket.get_ref() {
                stream
                    .set_read_timeout(Some(left))
                    .map_err(|e| CdpError::Socket(e.into()))?;
            }
            match self.socket.read() {
                Ok(Message::Text(text)) => return Ok(serde_json::from_str(text.as_str())?),
                Ok(Message::Close(_)) => return Err(CdpError::Closed),
                Ok(_) => continue, // pings are answered by tungstenite; nothing else is sent
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    continue; // the loop's deadline check decides
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
