//! The answer to protocol v1 JSON (docs/protocol.md 7), as properties over
//! any datagram that starts with `{`: at most one answer, to the source,
//! exactly the `unsupported_version` ERROR with the datagram's `seq` (the
//! last top-level `seq` when it is a number without fraction or exponent
//! from 0 to 2^32-1, else 0), and only when the answer is not longer than
//! the datagram. The expected `seq` is worked out here from how each object
//! was written, not by parsing it again.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

/// The answer with `seq`, to the byte.
fn answer(seq: u64) -> Vec<u8> {
    format!(
        "{{\"v\":1,\"type\":\"ERROR\",\"seq\":{seq},\"code\":\"unsupported_version\",\
         \"message\":\"this server speaks peerd protocol v2\"}}"
    )
    .into_bytes()
}

/// The answers of a fresh server to `datagram` from one source.
fn answers_to(datagram: &[u8]) -> Vec<(SocketAddr, Vec<u8>)> {
    Harness::new().send(5001, 0.0, datagram)
}

/// A value for `seq` as written, and the `seq` the server must read from
/// it (`None`: not JSON at all, the datagram's `seq` is 0).
fn seq_text() -> impl Strategy<Value = (String, Option<u64>)> {
    let number = prop_oneof![
        Just(0u64),
        Just(u64::from(u32::MAX)),
        Just(u64::from(u32::MAX) + 1),
        Just(u64::MAX),
        any::<u32>().prop_map(u64::from),
        any::<u64>(),
    ]
    .prop_map(|n| {
        let read = if n <= u64::from(u32::MAX) { n } else { 0 };
        (n.to_string(), Some(read))
    });
    let not_a_seq = prop::sample::select(vec![
        "-1",
        "2.5",
        "1e3",
        "1E3",
        "7.0",
        "18446744073709551616",
        "\"5\"",
        "null",
        "true",
        "[5]",
        "{\"seq\":5}",
    ])
    .prop_map(|t| (t.to_owned(), Some(0)));
    let not_json = prop::sample::select(vec!["01", "+1", "0x10", "5,", ".5", "NaN"])
        .prop_map(|t| (t.to_owned(), None));
    prop_oneof![6 => number, 3 => not_a_seq, 1 => not_json]
}

/// A top-level member of a v1-looking object: a `seq` (however the key is
/// spelled), or another key with any JSON value.
#[derive(Debug, Clone)]
enum Member {
    Seq {
        key: &'static str,
        text: String,
        read: Option<u64>,
    },
    Other(String, Value),
}

fn member() -> impl Strategy<Value = Member> {
    let key = prop::sample::select(vec!["seq", "se\\u0071", "\\u0073eq"]);
    let seq = (key, seq_text()).prop_map(|(key, (text, read))| Member::Seq { key, text, read });
    let value = prop_oneof![
        Just(Value::Null),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        (0u32..5).prop_map(|n| serde_json::json!({ "seq": n })),
        Just(serde_json::json!([1, "seq", {"seq": 2}])),
    ];
    let other_key = prop_oneof![
        prop::sample::select(vec!["v", "type", "id", "token", "Seq", "seq ", "sequence"])
            .prop_map(str::to_owned),
        "[a-z]{0,6}".prop_filter("another key than seq", |k| k != "seq"),
    ];
    prop_oneof![
        2 => seq,
        3 => (other_key, value).prop_map(|(k, v)| Member::Other(k, v)),
    ]
}

/// The object's text, and the `seq` the server must answer with.
fn render(members: &[Member], pad: usize) -> (Vec<u8>, u64) {
    let mut parts = Vec::new();
    let mut seq = Some(0);
    for m in members {
        match m {
            Member::Seq { key, text, read } => {
                parts.push(format!("\"{key}\":{text}"));
                seq = seq.and(*read);
            }
            Member::Other(key, value) => {
                parts.push(format!("{}:{value}", Value::from(key.as_str())))
            }
        }
    }
    parts.push(format!("\"pad\":\"{}\"", "x".repeat(pad)));
    // The last `seq` counts, if everything is JSON.
    let last = members.iter().rev().find_map(|m| match m {
        Member::Seq { read, .. } => Some(*read),
        Member::Other(..) => None,
    });
    let seq = match (seq, last) {
        (Some(_), Some(Some(n))) => n,
        _ => 0,
    };
    (format!("{{{}}}", parts.join(",")).into_bytes(), seq)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_after_a_brace_get_one_exact_answer_or_none(rest in vec(any::<u8>(), 0..1199)) {
        let mut datagram = vec![b'{'];
        datagram.extend_from_slice(&rest);
        let answers = answers_to(&datagram);
        match answers.as_slice() {
            [] => prop_assert!(datagram.len() < answer(u64::from(u32::MAX)).len()),
            [(to, bytes)] => {
                prop_assert_eq!(*to, addr(5001));
                prop_assert!(bytes.len() <= datagram.len(), "no amplification");
                let v: Value = serde_json::from_slice(bytes).expect("the answer is JSON");
                let seq = v["seq"].as_u64().expect("a seq");
                prop_assert!(seq <= u64::from(u32::MAX));
                prop_assert_eq!(bytes, &answer(seq));
            }
            more => return Err(TestCaseError::fail(format!("{} answers", more.len()))),
        }
    }

    #[test]
    fn objects_are_answered_with_their_last_seq(members in vec(member(), 0..6), pad in 0usize..200) {
        let (datagram, seq) = render(&members, pad);
        let want = answer(seq);
        let answers = answers_to(&datagram);
        if want.len() <= datagram.len() {
            prop_assert_eq!(answers.len(), 1, "{}", String::from_utf8_lossy(&datagram));
            prop_assert_eq!(
                String::from_utf8_lossy(&answers[0].1),
                String::from_utf8_lossy(&want),
                "for {}",
                String::from_utf8_lossy(&datagram)
            );
        } else {
            prop_assert!(answers.is_empty(), "an answer longer than {}", String::from_utf8_lossy(&datagram));
        }
    }
}
