//! Reading and writing the fields of protocol v2: big-endian integers,
//! fixed byte strings, addresses (`ADDR`, section 1.1) and peer ids. A
//! [`Reader`] never panics: every read of a field that is not there is
//! [`Short`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::PeerId;

/// A field ran past the end of its buffer, or held a value out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed field")]
pub struct Short;

/// Reads fields from a byte slice, front to back.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Short> {
        if self.buf.len() < n {
            return Err(Short);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        self.bytes(N)?.try_into().map_err(|_| Short)
    }

    pub fn u8(&mut self) -> Result<u8, Short> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, Short> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, Short> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, Short> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A peer id: a u64 in 1..=2^53-1.
    pub fn peer(&mut self) -> Result<PeerId, Short> {
        PeerId::new(self.u64()?).ok_or(Short)
    }

    /// An `ADDR`: family 4 or 6, the address, the port.
    pub fn addr(&mut self) -> Result<SocketAddr, Short> {
        let ip = match self.u8()? {
            4 => IpAddr::V4(Ipv4Addr::from(self.array::<4>()?)),
            6 => IpAddr::V6(Ipv6Addr::from(self.array::<16>()?)),
            _ => return Err(Short),
        };
        Ok(canonical(SocketAddr::new(ip, self.u16()?)))
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
}

/// Appends fields to a buffer.
pub trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_addr(&mut self, a: SocketAddr);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }

    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_addr(&mut self, a: SocketAddr) {
        match canonical(a) {
            SocketAddr::V4(v4) => {
                self.push(4);
                self.extend_from_slice(&v4.ip().octets());
            }
            SocketAddr::V6(v6) => {
                self.push(6);
                self.extend_from_slice(&v6.ip().octets());
            }
        }
        self.put_u16(a.port());
    }
}

/// Bytes an `ADDR` takes on the wire.
pub fn addr_len(a: SocketAddr) -> usize {
    match canonical(a) {
        SocketAddr::V4(_) => 7,
        SocketAddr::V6(_) => 19,
    }
}

/// An IPv4-mapped IPv6 address as plain IPv4; others unchanged.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_mapped_ones_become_ipv4() {
        for text in ["1.2.3.4:5", "[2001:db8::1]:65535", "[::ffff:10.0.0.1]:80"] {
            let a: SocketAddr = text.parse().unwrap();
            let mut buf = Vec::new();
            buf.put_addr(a);
            assert_eq!(buf.len(), addr_len(a));
            assert_eq!(Reader::new(&buf).addr(), Ok(canonical(a)));
        }
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:80".parse().unwrap();
        let mut buf = Vec::new();
        buf.put_addr(mapped);
        assert_eq!(buf, [4, 10, 0, 0, 1, 0, 80]);
        assert_eq!(Reader::new(&[5, 0, 0]).addr(), Err(Short));
        assert_eq!(Reader::new(&[4, 1, 2]).addr(), Err(Short));
    }

    #[test]
    fn reads_past_the_end_fail() {
        let mut r = Reader::new(&[0, 1, 2]);
        assert_eq!(r.u16(), Ok(1));
        assert_eq!(r.u16(), Err(Short));
        assert_eq!(r.u8(), Ok(2));
        assert_eq!(r.rest(), &[] as &[u8]);
        assert_eq!(Reader::new(&[0; 8]).peer(), Err(Short), "id 0");
    }
}
