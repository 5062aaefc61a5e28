//! The STUN message reader: headers, attributes, fingerprints, malformed input.

use std::net::SocketAddr;

use super::*;
use hmac::{Hmac, Mac};

const PASSWORD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";
const TXID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

/// RFC 5769 2.1: sample request.
const REQUEST: [u8; 108] = [
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
];

/// RFC 5769 2.2: sample IPv4 response.
const RESPONSE_V4: [u8; 80] = [
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
];

/// RFC 5769 2.3: sample IPv6 response.
const RESPONSE_V6: [u8; 92] = [
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
];

/// Verifies MESSAGE-INTEGRITY (RFC 8489 14.5): HMAC-SHA1 over the
/// message up to the attribute, with the length field covering it.
fn integrity_ok(msg: &Message<'_>, key: &[u8]) -> bool {
    let Some(mi) = msg.attribute(attr::MESSAGE_INTEGRITY) else {
        return false;
    };
    let mut covered = msg.as_bytes()[..mi.offset].to_vec();
    let length = u16::try_from(mi.offset + 24 - HEADER_LEN).expect("short vector");
    covered[2..4].copy_from_slice(&length.to_be_bytes());
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("any key length");
    mac.update(&covered);
    mac.verify_slice(mi.value).is_ok()
}

#[test]
fn rfc5769_sample_request() {
    let msg = Message::parse(&REQUEST).expect("valid vector");
    assert_eq!(msg.txid, TransactionId::Rfc5389(TXID));
    assert_eq!(
        (msg.class(), msg.method()),
        (Class::Request, METHOD_BINDING)
    );
    assert!(msg.fingerprint, "fingerprint present and matching");
    let kinds: Vec<u16> = msg.attributes().map(|a| a.kind).collect();
    assert_eq!(kinds, [0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028]);
    let software = msg.attribute(attr::SOFTWARE).expect("software");
    assert_eq!(software.value, b"STUN test client");
    let priority = msg.attribute(attr::PRIORITY).expect("priority");
    assert_eq!(priority.value, [0x6e, 0x00, 0x01, 0xff]);
    let username = msg.attribute(attr::USERNAME).expect("username");
    assert_eq!(username.value, b"evtj:h6vY");
    assert!(integrity_ok(&msg, PASSWORD));
    assert!(!integrity_ok(&msg, b"wrong password"));
    // ICE's PRIORITY is understood: a server answers the sample request.
    let source: SocketAddr = "192.0.2.1:32853".parse().expect("addr");
    let mut out = [0u8; ANSWER_BUF];
    let n = answer(&REQUEST, source, &mut out).expect("answered");
    let r = parse_binding_response(&out[..n]).expect("success response");
    assert_eq!((r.txid, r.mapped), (TransactionId::Rfc5389(TXID), source));
}

#[test]
fn stun_is_told_from_json_by_its_first_byte() {
    assert!(is_stun(&binding_request(TXID)));
    assert!(is_stun(&RESPONSE_V4));
    assert!(!is_stun(b"{\"v\":1}"));
    assert!(!is_stun(&[]));
    assert!(!is_stun(&[0x02]));
}

#[test]
fn rfc5769_ipv4_response() {
    let msg = Message::parse(&RESPONSE_V4).expect("valid vector");
    assert!(msg.fingerprint);
    assert!(integrity_ok(&msg, PASSWORD));
    let r = parse_binding_response(&RESPONSE_V4).expect("binding response");
    assert_eq!(
        r.mapped,
        "192.0.2.1:32853".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!(r.txid, TransactionId::Rfc5389(TXID));
    assert!(r.xor && r.fingerprint);
    assert_eq!(r.software.as_deref(), Some("test vector"));
}

#[test]
fn rfc5769_ipv6_response() {
    let msg = Message::parse(&RESPONSE_V6).expect("valid vector");
    assert!(msg.fingerprint);
    assert!(integrity_ok(&msg, PASSWORD));
    let r = parse_binding_response(&RESPONSE_V6).expect("binding response");
    let want: SocketAddr = "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
        .parse()
        .expect("addr");
    assert_eq!(r.mapped, want);
    assert!(r.xor && r.fingerprint);
}

#[test]
fn corrupted_vectors_are_rejected() {
    let mut bad = RESPONSE_V4;
    bad[44] ^= 1; // inside XOR-MAPPED-ADDRESS: the fingerprint no longer matches
    assert_eq!(Message::parse(&bad).err(), Some(StunError::BadFingerprint));
    let mut lying = RESPONSE_V4;
    lying[3] = 0x40; // length field says 4 bytes more than there are
    assert!(matches!(
        Message::parse(&lying),
        Err(StunError::LengthMismatch { .. })
    ));
    // A matching FINGERPRINT followed by another attribute.
    let mut late = REQUEST[..100].to_vec();
    late[3] += 4;
    let crc = crc32fast::hash(&late) ^ FINGERPRINT_XOR;
    late.extend_from_slice(&[0x80, 0x28, 0x00, 0x04]);
    late.extend_from_slice(&crc.to_be_bytes());
    late.extend_from_slice(&[0x80, 0x22, 0x00, 0x00]);
    assert_eq!(
        Message::parse(&late).err(),
        Some(StunError::FingerprintNotLast)
    );
    for cut in 0..REQUEST.len() {
        assert!(
            Message::parse(&REQUEST[..cut]).is_err(),
            "prefix of {cut} bytes"
        );
    }
}
