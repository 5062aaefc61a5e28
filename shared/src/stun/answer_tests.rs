//! What the server answers to each kind of STUN request, and to garbage.

use super::*;
use crate::stun::*;

const TXID: [u8; 12] = *b"peerd-txid-1";
const CLASSIC: [u8; 16] = *b"classic-txid-16b";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn run(request: &[u8], source: SocketAddr) -> Option<Vec<u8>> {
    let mut out = [0u8; ANSWER_BUF];
    answer(request, source, &mut out).map(|n| out[..n].to_vec())
}

/// `request` with one attribute appended and the length field fixed.
fn with_attr(request: &[u8], kind: u16, value: &[u8]) -> Vec<u8> {
    let mut m = request.to_vec();
    m.extend_from_slice(&kind.to_be_bytes());
    m.extend_from_slice(&u16::try_from(value.len()).expect("short").to_be_bytes());
    m.extend_from_slice(value);
    m.resize(m.len().next_multiple_of(4), 0);
    let length = u16::try_from(m.len() - HEADER_LEN).expect("short");
    m[2..4].copy_from_slice(&length.to_be_bytes());
    m
}

fn error_code(reply: &[u8]) -> Option<u16> {
    match parse_binding_response(reply) {
        Err(StunError::ErrorResponse { code, .. }) => Some(code),
        _ => None,
    }
}

#[test]
fn rfc5389_ipv4_round_trip() {
    let source = addr("203.0.113.7:40000");
    let reply = run(&binding_request(TXID), source).expect("answered");
    let r = parse_binding_response(&reply).expect("success response");
    assert_eq!(r.txid, TransactionId::Rfc5389(TXID));
    assert_eq!(r.mapped, source);
    assert!(r.xor && r.fingerprint);
    assert_eq!(r.software.as_deref(), Some(SOFTWARE));
    assert!(reply.len() <= 20 + 12 + 4 + SOFTWARE.len() + 3 + 8);
}

#[test]
fn rfc5389_ipv6_and_mapped_v4_round_trip() {
    let source = addr("[2001:db8::42]:5353");
    let reply = run(&binding_request(TXID), source).expect("answered");
    let r = parse_binding_response(&reply).expect("success response");
    assert_eq!((r.mapped, r.xor), (source, true));
    let mapped = addr("[::ffff:192.0.2.9]:1234");
    let reply = run(&binding_request(TXID), mapped).expect("answered");
    assert_eq!(reply[21 + 4], 0x01, "IPv4 family for an IPv4-mapped source");
    let r = parse_binding_response(&reply).expect("success response");
    assert_eq!(r.mapped, addr("192.0.2.9:1234"));
}

#[test]
fn classic_round_trip() {
    let source = addr("198.51.100.3:3478");
    let reply = run(&classic_binding_request(CLASSIC), source).expect("answered");
    // Binding Response, MAPPED-ADDRESS and nothing else.
    assert_eq!(reply.len(), 20 + 12);
    assert_eq!(&reply[..4], &[0x01, 0x01, 0x00, 0x0c]);
    assert_eq!(&reply[4..20], &CLASSIC);
    let r = parse_binding_response(&reply).expect("success response");
    assert_eq!((r.mapped, r.xor, r.fingerprint), (source, false, false));
    assert_eq!(r.txid, TransactionId::Classic(CLASSIC));
    // stund's client always sends CHANGE-REQUEST; with no flag it is answered.
    let test_one = with_attr(
        &classic_binding_request(CLASSIC),
        attr::CHANGE_REQUEST,
        &[0; 4],
    );
    assert_eq!(run(&test_one, source), Some(reply));
}

#[test]
fn change_request_is_never_pretended() {
    let source = addr("127.0.0.1:9");
    for flags in [0x02, 0x04, 0x06] {
        let classic = classic_binding_request(CLASSIC);
        let classic = with_attr(&classic, attr::CHANGE_REQUEST, &[0, 0, 0, flags]);
        assert_eq!(
            run(&classic, source),
            None,
            "classic change {flags:#x} dropped"
        );
        let modern = with_attr(
            &binding_request(TXID),
            attr::CHANGE_REQUEST,
            &[0, 0, 0, flags],
        );
        let reply = run(&modern, source).expect("420");
        assert_eq!(error_code(&reply), Some(420));
        let msg = Message::parse(&reply).expect("valid reply");
        assert!(msg.fingerprint);
        let listed = msg.attribute(attr::UNKNOWN_ATTRIBUTES).expect("listed");
        assert_eq!(listed.value, attr::CHANGE_REQUEST.to_be_bytes());
    }
    let modern = with_attr(&binding_request(TXID), attr::CHANGE_REQUEST, &[0; 4]);
    let reply = run(&modern, source).expect("answered");
    assert_eq!(
        parse_binding_response(&reply).expect("success").mapped,
        source
    );
}

#[test]
fn unknown_required_attributes_get_420() {
    let source = addr("127.0.0.1:9");
    let mut m = binding_request(TXID).to_vec();
    for kind in [0x7001, 0x7002, 0x7001] {
        m = with_attr(&m, kind, b"x");
    }
    m = with_attr(&m, 0x8123, b"optional is ignored");
    let reply = run(&m, source).expect("420");
    assert_eq!(error_code(&reply), Some(420));
    let msg = Message::parse(&reply).expect("valid reply");
    let listed = msg.attribute(attr::UNKNOWN_ATTRIBUTES).expect("listed");
    assert_eq!(listed.value, [0x70, 0x01, 0x70, 0x02]);
    // Classic: RFC 3489 form, an even count of types.
    let classic = with_attr(&classic_binding_request(CLASSIC), 0x0033, &[0; 4]);
    let reply = run(&classic, source).expect("420");
    assert_eq!(error_code(&reply), Some(420));
    let msg = Message::parse(&reply).expect("valid reply");
    let listed = msg.attribute(attr::UNKNOWN_ATTRIBUTES).expect("listed");
    assert_eq!(listed.value, [0x00, 0x33, 0x00, 0x33]);
    // Many unknown types: the list is capped and the answer fits.
    let mut many = binding_request(TXID).to_vec();
    for kind in 0x7000..0x7000 + 200 {
        many = with_attr(&many, kind, &[]);
    }
    let reply = run(&many, source).expect("420");
    assert!(reply.len() <= ANSWER_BUF && reply.len() < many.len());
    // After MESSAGE-INTEGRITY everything but FINGERPRINT is ignored.
    let m = with_attr(&binding_request(TXID), attr::MESSAGE_INTEGRITY, &[0; 20]);
    let m = with_attr(&m, 0x7001, b"ignored");
    assert!(parse_binding_response(&run(&m, source).expect("answered")).is_ok());
    // RESPONSE-ADDRESS is ignored: the answer goes to the source.
    let m = with_attr(
        &binding_request(TXID),
        attr::RESPONSE_ADDRESS,
        &[0, 1, 0, 9, 1, 2, 3, 4],
    );
    assert_eq!(
        parse_binding_response(&run(&m, source).expect("answered")).map(|r| r.mapped),
        Ok(source)
    );
}

#[test]
fn other_methods_and_classes() {
    let source = addr("127.0.0.1:9");
    let mut allocate = binding_request(TXID);
    allocate[1] = 0x03; // Allocate request
    let reply = run(&allocate, source).expect("400");
    assert_eq!(&reply[..2], &[0x01, 0x13], "error class of the same method");
    assert!(matches!(
        parse_binding_response(&reply),
        Err(StunError::NotBindingResponse { .. })
    ));
    let msg = Message::parse(&reply).expect("valid");
    let code = msg.attribute(attr::ERROR_CODE).expect("error code");
    assert_eq!(&code.value[2..4], &[4, 0]);
    let mut classic_secret = classic_binding_request(CLASSIC);
    classic_secret[1] = 0x02; // Shared Secret Request
    assert_eq!(run(&classic_secret, source), None);
    for msg_type in [0x0011u16, 0x0101, 0x0111] {
        let mut m = binding_request(TXID);
        m[..2].copy_from_slice(&msg_type.to_be_bytes());
        assert_eq!(
            run(&m, source),
            None,
            "type {msg_type:#06x} is not answered"
        );
    }
}

#[test]
fn malformed_is_dropped() {
    let source = addr("127.0.0.1:9");
    let good = with_attr(&binding_request(TXID), attr::USERNAME, b"user");
    assert!(run(&good, source).is_some());
    let mut odd = good.clone();
    odd[3] = 6; // not a multiple of 4
    let mut lying = good.clone();
    lying[3] = 12;
    let mut truncated = good.clone();
    truncated[23] = 9; // USERNAME longer than the message
    let mut oversized = with_attr(&binding_request(TXID), 0x8123, &[0; 1200]);
    oversized[2..4].copy_from_slice(&1204u16.to_be_bytes());
    let mut bad_change = with_attr(&binding_request(TXID), attr::CHANGE_REQUEST, &[0; 8]);
    bad_change[0] = 0;
    for bad in [
        &odd,
        &lying,
        &truncated,
        &oversized,
        &bad_change,
        &good[..19].to_vec(),
    ] {
        assert_eq!(run(bad, source), None, "{bad:02x?}");
    }
    // A buffer too small for the answer: dropped, not cut, no panic.
    let mut tiny = [0u8; 40];
    assert_eq!(answer(&binding_request(TXID), source, &mut tiny), None);
}
