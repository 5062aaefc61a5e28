//! The registry core under per-source rate limits, on a fake clock.

use super::tests::{error_code, Harness, KEEPALIVE};
use super::*;

#[test]
fn rate_limit_answers_rate_limited_then_recovers() {
    let mut h = Harness::with(Limits {
        keepalive: KEEPALIVE,
        rate_per_source: 10,
        burst_per_source: 3,
        global_rate: 0,
        replay_capacity: 16,
    });
    let nonsense = r#"{"v":1,"type":"NOPE","seq":4}"#;
    for _ in 0..3 {
        assert_eq!(
            error_code(&h.send(1, 0.0, nonsense)).0,
            ErrorCode::UnknownType
        );
    }
    assert_eq!(
        error_code(&h.send(1, 0.0, nonsense)),
        (ErrorCode::RateLimited, Seq(4))
    );
    assert!(
        h.send(1, 0.0, nonsense).is_empty(),
        "one notice, then silence"
    );
    assert_eq!(
        error_code(&h.send(2, 0.0, nonsense)).0,
        ErrorCode::UnknownType
    );
    assert_eq!(
        error_code(&h.send(1, 1.0, nonsense)).0,
        ErrorCode::UnknownType
    );
}

#[test]
fn rate_limited_never_answers_an_error() {
    let mut h = Harness::with(Limits {
        keepalive: KEEPALIVE,
        rate_per_source: 1,
        burst_per_source: 1,
        global_rate: 0,
        replay_capacity: 16,
    });
    assert!(h
        .send(1, 0.0, r#"{"v":1,"type":"ERROR","seq":1}"#)
        .is_empty());
    assert!(h
        .send(1, 0.0, r#"{"v":1,"type":"ERROR","seq":1}"#)
        .is_empty());
    assert!(h
        .send(
            1,
            0.0,
            r#"{"v":1,"type":"ERROR","seq":1,"code":"x","message":""}"#
        )
        .is_empty());
    let probe = r#"{"v":1,"type":"NOPE","seq":2}"#;
    assert_eq!(
        error_code(&h.send(1, 0.5, probe)),
        (ErrorCode::RateLimited, Seq(2))
    );
}
