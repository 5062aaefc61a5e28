//! Addresses as protocol.md 1 writes them: `"ip:port"` strings, IPv4-mapped
//! IPv6 addresses as plain IPv4 ([`canonical`]), with serde helpers.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use serde::{de, Deserialize, Deserializer, Serializer};

/// Writes an IPv4-mapped IPv6 address as plain IPv4, as protocol.md 1 asks.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

pub fn serialize<S: Serializer>(addr: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&canonical(*addr))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = Cow::<str>::deserialize(d)?;
    text.parse().map(canonical).map_err(de::Error::custom)
}
