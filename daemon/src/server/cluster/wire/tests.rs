use super::*;

fn id(n: u64) -> PeerId {
    PeerId::new(n).expect("valid id")
}

fn p(n: u64) -> Presence {
    Presence {
        id: id(n),
        key: PublicKey([n as u8; 32]),
        ts: 1000 + n,
        addr: SocketAddr::from(([10, 0, 0, n as u8], 4000 + n as u16)),
    }
}

#[test]
fn every_message_survives_a_round_trip() {
    let key = [7u8; 32];
    let v6: SocketAddr = "[2001:db8::1]:9".parse().unwrap();
    let bodies = [
        Body::Heartbeat { seq: 9 },
        Body::Announce {
            seq: 3,
            events: vec![Event::Online(p(1)), Event::Offline { id: id(2), ts: 5 }],
        },
        Body::SnapshotRequest,
        Body::Snapshot {
            snap: 77,
            seq: 3,
            part: 2,
            last: true,
            entries: vec![p(4), p(5)],
        },
        Body::Intro {
            target: id(3),
            from: id(4),
            key: PublicKey([1; 32]),
            addr: v6,
        },
        Body::Relayed {
            target: id(3),
            from: id(4),
            data: b"frame bytes",
        },
    ];
    for body in bodies {
        let msg = Message {
            node: "node-a_1",
            incarnation: u64::MAX - 1,
            body,
        };
        let bytes = encode(&msg, &key);
        assert_eq!(decode(&bytes, &key), Ok(msg));
    }
}

#[test]
fn forged_truncated_and_foreign_messages_are_refused() {
    let key = [7u8; 32];
    let msg = Message {
        node: "a",
        incarnation: 1,
        body: Body::Heartbeat { seq: 1 },
    };
    let mut bytes = encode(&msg, &key);
    assert_eq!(decode(&bytes, &[8u8; 32]), Err(WireError::Mac));
    assert_eq!(decode(&bytes[..10], &key), Err(WireError::Short));
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert_eq!(decode(&bytes, &key), Err(WireError::Mac));
    let mut other = encode(&msg, &key);
    other[0] = 2;
    assert_eq!(decode(&other, &key), Err(WireError::Version(2)));
    let unknown = Message {
        node: "a",
        incarnation: 1,
        body: Body::Unknown(42),
    };
    assert_eq!(
        decode(&encode(&unknown, &key), &key).map(|m| m.body),
        Ok(Body::Unknown(42))
    );
    // A count larger than the entries that follow is malformed.
    let mut b = vec![VERSION, kind::ANNOUNCE, 1, b'a'];
    b.put_u64(1);
    b.put_u64(1);
    b.put_u16(500);
    let tag = mac(&key, &b);
    b.extend_from_slice(&tag);
    assert_eq!(decode(&b, &key), Err(WireError::Malformed));
}

#[test]
fn node_names_are_subject_tokens() {
    assert!(valid_node_name("eu-1_a"));
    for bad in ["", "a.b", "a b", "a*", "é", &"x".repeat(65)] {
        assert!(!valid_node_name(bad), "{bad:?}");
    }
}
