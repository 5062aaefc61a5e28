//! The client side of the STUN codec: Binding requests (RFC 5389 and
//! classic RFC 3489) and the parsing of Binding responses, for tests and
//! the load generator.

use std::net::SocketAddr;

use super::{
    attr, decode_address, message_type, xor_mask, Class, Message, StunError, TransactionId,
    METHOD_BINDING,
};

/// An RFC 5389 Binding Request without attributes.
pub fn binding_request(txid: [u8; 12]) -> [u8; 20] {
    request(TransactionId::Rfc5389(txid))
}

/// A classic RFC 3489 Binding Request (no magic cookie) without attributes.
/// `txid` must not start with the magic cookie, or it reads as RFC 5389.
pub fn classic_binding_request(txid: [u8; 16]) -> [u8; 20] {
    request(TransactionId::Classic(txid))
}

fn request(txid: TransactionId) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[..2].copy_from_slice(&message_type(METHOD_BINDING, Class::Request).to_be_bytes());
    m[4..].copy_from_slice(&txid.header_tail());
    m
}

/// A Binding Success Response, as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingResponse {
    pub txid: TransactionId,
    /// The address the server saw the request come from.
    pub mapped: SocketAddr,
    /// `mapped` came from XOR-MAPPED-ADDRESS (else from MAPPED-ADDRESS).
    pub xor: bool,
    /// The SOFTWARE attribute, if any (invalid UTF-8 replaced).
    pub software: Option<String>,
    /// A FINGERPRINT was present and matched.
    pub fingerprint: bool,
}

/// Reads a Binding Success Response. XOR-MAPPED-ADDRESS is preferred over
/// MAPPED-ADDRESS; an error response becomes [`StunError::ErrorResponse`].
pub fn parse_binding_response(datagram: &[u8]) -> Result<BindingResponse, StunError> {
    let msg = Message::parse(datagram)?;
    match (msg.class(), msg.method()) {
        (Class::Success, METHOD_BINDING) => {}
        (Class::Error, METHOD_BINDING) => return Err(error_of(&msg)),
        _ => {
            return Err(StunError::NotBindingResponse {
                msg_type: msg.msg_type,
            })
        }
    }
    let xored = match msg.txid {
        TransactionId::Rfc5389(id) => match msg.attribute(attr::XOR_MAPPED_ADDRESS) {
            Some(a) => Some(decode_address(a.kind, a.value, Some(&xor_mask(&id)))?),
            None => None,
        },
        TransactionId::Classic(_) => None,
    };
    let (mapped, xor) = match xored {
        Some(addr) => (addr, true),
        None => {
            let a = msg
                .attribute(attr::MAPPED_ADDRESS)
                .ok_or(StunError::NoMappedAddress)?;
            (decode_address(a.kind, a.value, None)?, false)
        }
    };
    let software = msg
        .attribute(attr::SOFTWARE)
        .map(|a| String::from_utf8_lossy(a.value).into_owned());
    Ok(BindingResponse {
        txid: msg.txid,
        mapped,
        xor,
        software,
        fingerprint: msg.fingerprint,
    })
}

/// The [`StunError::ErrorResponse`] an error response carries.
fn error_of(msg: &Message<'_>) -> StunError {
    match msg.attribute(attr::ERROR_CODE).map(|a| a.value) {
        Some([_, _, class, number, reason @ ..]) => StunError::ErrorResponse {
            code: u16::from(class & 0x07) * 100 + u16::from(*number),
            reason: String::from_utf8_lossy(reason).trim_end().to_owned(),
        },
        _ => StunError::ErrorResponse {
            code: 0,
            reason: "no ERROR-CODE".to_owned(),
        },
    }
}
