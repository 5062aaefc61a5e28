//! A scripted stand-in for the daemon's control socket: every request line
//! of every connection is recorded and answered by a handler, so tests see
//! exactly what peerctl asked and control what it gets back.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::Value;

/// Write this as a reply line to close the connection instead.
pub const CLOSE: &str = "CLOSE";

type Handler = dyn Fn(usize, &Value) -> Vec<String> + Send + Sync;

/// A listening stand-in; the socket lives as long as it does.
pub struct Fake {
    _dir: tempfile::TempDir,
    pub socket: PathBuf,
    requests: Arc<Mutex<Vec<(usize, Value)>>>,
}

impl Fake {
    /// Serves every connection (numbered from 0) with `handler`: for each
    /// request line, the reply lines it returns, each reply object
    /// (`"ok"` in it) given the request's `req`.
    pub fn start(handler: impl Fn(usize, &Value) -> Vec<String> + Send + Sync + 'static) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("peerd.sock");
        let listener = UnixListener::bind(&socket).expect("bind");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = requests.clone();
        thread::spawn(move || {
            for (conn, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let (handler, log) = (handler.clone(), log.clone());
                thread::spawn(move || serve(conn, stream, &*handler, &log));
            }
        });
        Self {
            _dir: dir,
            socket,
            requests,
        }
    }

    /// The requests so far: (connection, request object).
    pub fn requests(&self) -> Vec<(usize, Value)> {
        self.requests.lock().expect("lock").clone()
    }

    /// `peerctl --socket SOCKET ARGS...` as a command to adjust.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = crate::support::peerctl_command(&["--socket"]);
        cmd.arg(&self.socket).args(args);
        cmd
    }

    /// `peerctl --socket SOCKET ARGS...` to completion.
    pub fn ctl(&self, args: &[&str]) -> crate::support::Run {
        crate::support::run(&mut self.command(args), "")
    }
}

fn serve(conn: usize, stream: UnixStream, handler: &Handler, log: &Mutex<Vec<(usize, Value)>>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let request: Value = serde_json::from_str(&line).expect("request JSON");
        log.lock().expect("lock").push((conn, request.clone()));
        for mut reply in handler(conn, &request) {
            if reply == CLOSE {
                return;
            }
            if reply.contains("\"ok\"") {
                reply = reply.replacen('{', &format!("{{\"req\":{},", request["req"]), 1);
            }
            if writeln!(writer, "{reply}").is_err() {
                return;
            }
        }
    }
}

/// `{"ok":true,"result":RESULT}`.
pub fn ok(result: Value) -> String {
    serde_json::json!({"ok": true, "result": result}).to_string()
}

/// `{"ok":false,"error":{"code":CODE,"message":MESSAGE}}`.
pub fn err(code: &str, message: &str) -> String {
    serde_json::json!({"ok": false, "error": {"code": code, "message": message}}).to_string()
}

/// A stored message from `from` with `text`, received at `received_ms`.
pub fn message(from: u64, msg: u64, text: &str, received_ms: u64) -> Value {
    serde_json::json!({
        "from": from, "msg": msg, "text": text, "addr": "127.0.0.1:35213",
        "path": "direct", "sent_ms": received_ms, "received_ms": received_ms
    })
}

/// A `message` event line.
pub fn event(message: Value) -> String {
    serde_json::json!({"event": "message", "message": message}).to_string()
}
