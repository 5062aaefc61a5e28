//! The `--json` side of the output: error objects, one value per line,
//! and measured times rounded to microseconds.

use peerd_shared::control::Response;
use serde::Serialize;

use crate::client::ClientError;

/// The JSON object printed for a failure.
#[derive(Debug, Serialize)]
struct ErrorObject<'a> {
    error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

/// `{"error":{"code":..,"message":..}}` on one line.
pub fn error_json(code: &str, message: &str) -> String {
    serde_json::to_string(&ErrorObject {
        error: ErrorBody { code, message },
    })
    .unwrap_or_else(|_| r#"{"error":{"code":"internal","message":"cannot encode error"}}"#.into())
}

/// The JSON line of a client error.
pub fn client_error_json(err: &ClientError) -> String {
    error_json(&err.code(), &err.to_string())
}

/// Any serialisable value on one line (a daemon `result`, an event).
pub fn json_line<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| error_json("internal", &e.to_string()))
}

/// Milliseconds rounded to microseconds, as `--json` prints round trips.
pub(super) fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// `response` with its measured times (`elapsed_ms`, `rtt_ms`) rounded
/// to microseconds, for `--json`.
pub fn rounded(mut response: Response) -> Response {
    match &mut response {
        Response::Sent(o) => o.elapsed_ms = o.elapsed_ms.map(round_ms),
        Response::Pong(p) => p.rtt_ms = round_ms(p.rtt_ms),
        Response::Paths { peers } => {
            for p in peers {
                p.rtt_ms = p.rtt_ms.map(round_ms);
            }
        }
        _ => {}
    }
    response
}
