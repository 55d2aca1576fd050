//! A small LSP client for tests: drives `asyncforge lsp --stdio` as an editor does, with
//! `Content-Length` framing, request/response matching, and `publishDiagnostics` collected with
//! a timeout (a server that hangs fails the test instead of blocking it). `cargo xtask bench
//! lsp` drives the release binary with the same client.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long any one answer may take (debug build, shared machine).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// One running server.
pub struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Value>,
    /// Messages read while waiting for something else (notifications, server requests).
    pending: VecDeque<Value>,
    next_id: i64,
    /// The `initialize` result.
    pub capabilities: Value,
    /// Requests the server sent to the client (`client/registerCapability`), in order.
    pub server_requests: Vec<Value>,
}

/// Reads one framed message; `None` at the end of the stream.
fn read_message(r: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// A `file://` URI for an absolute path (spaces and other reserved characters escaped as the
/// server escapes them).
pub fn uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.display().to_string().bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'/'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
            | b':'
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Client {
    /// Starts `exe lsp --stdio` (the `asyncforge` binary) in `dir` and completes the
    /// `initialize` handshake.
    pub fn start(exe: &Path, dir: &Path) -> Client {
        let mut child = Command::new(exe)
            .args(["lsp", "--stdio"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start asyncforge lsp");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(msg) = read_message(&mut r) {
                if tx.send(msg).is_err() {
                    break;
                }
            }
        });
        let mut client = Client {
            child,
            stdin,
            incoming,
            pending: VecDeque::new(),
            next_id: 1,
            capabilities: Value::Null,
            server_requests: Vec::new(),
        };
        let result = client
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": uri(dir),
                    "initializationOptions": {},
                    "capabilities": {
                        "workspace": { "didChangeWatchedFiles": { "dynamicRegistration": true } },
                        "textDocument": {
                            "publishDiagnostics": { "relatedInformation": true, "versionSupport": true },
                            "rename": { "prepareSupport": true }
                        }
                    }
                }),
            )
            .expect("initialize succeeds");
        client.capabilities = result["capabilities"].clone();
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, msg: &Value) {
        let body = serde_json::to_vec(msg).expect("json");
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes())
            .and_then(|()| stdin.write_all(&body))
            .and_then(|()| stdin.flush())
            .expect("write to server");
    }

    /// The next message from the server, answering its requests; panics after [`TIMEOUT`].
    fn recv(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = match self.incoming.recv_timeout(left) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "no answer from the server within {TIMEOUT:?} while waiting for {waiting_for}"
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("the server closed its output while waiting for {waiting_for}")
            }
        };
        if msg.get("method").is_some() && msg.get("id").is_some() {
            // A request from the server (client/registerCapability): accept it.
            self.server_requests.push(msg.clone());
            let answer = json!({ "jsonrpc": "2.0", "id": msg["id"], "result": null });
            self.send(&answer);
        }
        msg
    }

    /// Sends a request and waits for its response: `Ok(result)` or `Err(error)`.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline, &format!("the answer to `{method}`"));
            if msg.get("method").is_none() && msg["id"] == json!(id) {
                return match msg.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
            if msg.get("id").is_none() {
                self.pending.push_back(msg);
            }
        }
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Opens a document.
    pub fn open(&mut self, uri: &str, text: &str, version: i64) {
        let language = if uri.ends_with(".json") {
            "json"
        } else {
            "yaml"
        };
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": language, "version": version, "text": text } }),
        );
    }

    /// Applies one ranged edit (0-based lines, UTF-16 columns).
    pub fn edit(&mut self, uri: &str, version: i64, range: [u32; 4], text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": [{
                    "range": {
                        "start": { "line": range[0], "character": range[1] },
                        "end": { "line": range[2], "character": range[3] }
                    },
                    "text": text
                }]
            }),
        );
    }

    /// Replaces the whole text.
    pub fn replace(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    /// Waits for a `publishDiagnostics` on `uri` that `accept` takes (earlier ones for the same
    /// URI are dropped) and returns its parameters.
    pub fn diagnostics_where(
        &mut self,
        uri: &str,
        mut accept: impl FnMut(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        let matches = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        };
        while let Some(i) = self.pending.iter().position(matches) {
            let m = self.pending.remove(i).unwrap_or_default();
            if accept(&m["params"]) {
                return m["params"].clone();
            }
        }
        loop {
            let msg = self.recv(deadline, &format!("diagnostics for {uri}"));
            if matches(&msg) {
                if accept(&msg["params"]) {
                    return msg["params"].clone();
                }
            } else if msg.get("id").is_none() {
                self.pending.push_back(msg);
            }
        }
    }

    /// Whether a `publishDiagnostics` for `uri` was received and not consumed yet.
    pub fn pending_for(&self, uri: &str) -> bool {
        self.pending
            .iter()
            .any(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri)
    }

    /// The diagnostics published for version `version` of an open document.
    pub fn diagnostics_for_version(&mut self, uri: &str, version: i64) -> Vec<Value> {
        let p = self.diagnostics_where(uri, |p| p["version"] == json!(version));
        p["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    /// The next diagnostics published for `uri`.
    pub fn next_diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let p = self.diagnostics_where(uri, |_| true);
        p["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    /// The exit status, once the server has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `shutdown` then `exit`; returns the exit status.
    pub fn shutdown(mut self) -> ExitStatus {
        let r = self.request("shutdown", Value::Null);
        assert_eq!(r, Ok(Value::Null), "shutdown answers null");
        self.notify("exit", Value::Null);
        drop(self.stdin.take());
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit after `exit`"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
