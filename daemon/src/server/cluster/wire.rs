//! The messages nodes of a cluster send each other on the bus (NATS), as
//! bytes: a version byte, a kind byte, the sender (node name and
//! incarnation), the body, and a 16-byte MAC over all of it keyed with a
//! key derived from the server's private key, which every node holds and
//! nobody else does. A message that is too short, of another version, or
//! whose MAC is wrong is dropped; a kind this version does not know is
//! ignored (a newer node may speak to an older one during an upgrade).
//!
//! | kind | message | body |
//! |---|---|---|
//! | 1 | HEARTBEAT | `seq` u64: the last ANNOUNCE sent |
//! | 2 | ANNOUNCE | `seq` u64, `count` u16, events: `0` ONLINE (`id` u64, `key` 32, `ts` u64, ADDR) or `1` OFFLINE (`id` u64, `ts` u64) |
//! | 3 | SNAPSHOT_REQUEST | (none): answered with SNAPSHOT parts on the sender's subject |
//! | 4 | SNAPSHOT | `snap` u64, `seq` u64, `part` u32, `last` u8, `count` u16, ONLINE entries |
//! | 5 | INTRO | `target` u64, `from` u64, `key` 32, ADDR |
//! | 6 | RELAYED | `target` u64, `from` u64, `data` (to the end) |
//!
//! ADDR is the address encoding of docs/protocol.md 1.1.

use std::net::SocketAddr;

use peerd_shared::proto::codec::{Put, Reader};
use peerd_shared::proto::crypto::{mac, mac_eq, MAC_LEN};
use peerd_shared::proto::PublicKey;
use peerd_shared::PeerId;

/// Version of these messages.
pub const VERSION: u8 = 1;
/// The label the bus key is derived with from the server's private key.
pub const KEY_LABEL: &[u8] = b"peerd cluster bus v1";
/// Longest node name, bytes.
pub const MAX_NODE_NAME: usize = 64;
/// Entries in one ANNOUNCE or SNAPSHOT part, at most (about 64 KiB).
pub const MAX_ENTRIES: usize = 1000;

mod kind {
    pub const HEARTBEAT: u8 = 1;
    pub const ANNOUNCE: u8 = 2;
    pub const SNAPSHOT_REQUEST: u8 = 3;
    pub const SNAPSHOT: u8 = 4;
    pub const INTRO: u8 = 5;
    pub const RELAYED: u8 = 6;
}

/// A peer online on a node: its id, key, address and the timestamp of the
/// REGISTER handshake that put it there (the newest one wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    pub id: PeerId,
    pub key: PublicKey,
    pub ts: u64,
    pub addr: SocketAddr,
}

/// A change of presence on the sending node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Registered (or re-keyed, or moved to another address).
    Online(Presence),
    /// The registration at `ts` is gone (expired, unregistered, replaced).
    Offline { id: PeerId, ts: u64 },
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    Heartbeat {
        seq: u64,
    },
    Announce {
        seq: u64,
        events: Vec<Event>,
    },
    SnapshotRequest,
    Snapshot {
        snap: u64,
        seq: u64,
        part: u32,
        last: bool,
        entries: Vec<Presence>,
    },
    Intro {
        target: PeerId,
        from: PeerId,
        key: PublicKey,
        addr: SocketAddr,
    },
    Relayed {
        target: PeerId,
        from: PeerId,
        data: &'a [u8],
    },
    /// A kind this version does not know.
    Unknown(u8),
}

/// A message with its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub node: &'a str,
    /// Random, new at every start of the sending node.
    pub incarnation: u64,
    pub body: Body<'a>,
}

/// Why bytes from the bus are not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("too short")]
    Short,
    #[error("version {0}, this node speaks {VERSION}")]
    Version(u8),
    #[error("bad MAC (another cluster's key?)")]
    Mac,
    #[error("malformed")]
    Malformed,
}

impl From<peerd_shared::proto::codec::Short> for WireError {
    fn from(_: peerd_shared::proto::codec::Short) -> Self {
        WireError::Malformed
    }
}

/// Whether `name` can name a node: 1 to 64 ASCII letters, digits, `-`, `_`
/// (it is a token of NATS subjects).
pub fn valid_node_name(name: &str) -> bool {
    (1..=MAX_NODE_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Encodes `msg` and appends its MAC made with `key`.
pub fn encode(msg: &Message<'_>, key: &[u8; 32]) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.put_u8(VERSION);
    let k = match &msg.body {
        Body::Heartbeat { .. } => kind::HEARTBEAT,
        Body::Announce { .. } => kind::ANNOUNCE,
        Body::SnapshotRequest => kind::SNAPSHOT_REQUEST,
        Body::Snapshot { .. } => kind::SNAPSHOT,
        Body::Intro { .. } => kind::INTRO,
        Body::Relayed { .. } => kind::RELAYED,
        Body::Unknown(k) => *k,
    };
    b.put_u8(k);
    let name = &msg.node.as_bytes()[..msg.node.len().min(MAX_NODE_NAME)];
    b.put_u8(name.len() as u8);
    b.extend_from_slice(name);
    b.put_u64(msg.incarnation);
    match &msg.body {
        Body::Heartbeat { seq } => b.put_u64(*seq),
        Body::Announce { seq, events } => {
            b.put_u64(*seq);
            b.put_u16(events.len() as u16);
            for e in events {
                match e {
                    Event::Online(p) => {
                        b.put_u8(0);
                        put_presence(&mut b, p);
                    }
                    Event::Offline { id, ts } => {
                        b.put_u8(1);
                        b.put_u64(id.get());
                        b.put_u64(*ts);
                    }
                }
            }
        }
        Body::SnapshotRequest | Body::Unknown(_) => {}
        Body::Snapshot {
            snap,
            seq,
            part,
            last,
            entries,
        } => {
            b.put_u64(*snap);
            b.put_u64(*seq);
            b.put_u32(*part);
            b.put_u8(u8::from(*last));
            b.put_u16(entries.len() as u16);
            for p in entries {
                put_presence(&mut b, p);
            }
        }
        Body::Intro {
            target,
            from,
            key,
            addr,
        } => {
            b.put_u64(target.get());
            b.put_u64(from.get());
            b.extend_from_slice(&key.0);
            b.put_addr(*addr);
        }
        Body::Relayed { target, from, data } => {
            b.put_u64(target.get());
            b.put_u64(from.get());
            b.extend_from_slice(data);
        }
    }
    let tag = mac(key, &b);
    b.extend_from_slice(&tag);
    b
}

fn put_presence(b: &mut Vec<u8>, p: &Presence) {
    b.put_u64(p.id.get());
    b.extend_from_slice(&p.key.0);
    b.put_u64(p.ts);
    b.put_addr(p.addr);
}

/// Checks the MAC of `bytes` with `key` and decodes them.
pub fn decode<'a>(bytes: &'a [u8], key: &[u8; 32]) -> Result<Message<'a>, WireError> {
    if bytes.len() < 2 + 1 + 8 + MAC_LEN {
        return Err(WireError::Short);
    }
    if bytes[0] != VERSION {
        return Err(WireError::Version(bytes[0]));
    }
    let (signed, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    if !mac_eq(&mac(key, signed), tag) {
        return Err(WireError::Mac);
    }
    let mut r = Reader::new(&signed[1..]);
    let k = r.u8()?;
    let len = usize::from(r.u8()?);
    let node = std::str::from_utf8(r.bytes(len)?).map_err(|_| WireError::Malformed)?;
    if !valid_node_name(node) {
        return Err(WireError::Malformed);
    }
    let incarnation = r.u64()?;
    let body = match k {
        kind::HEARTBEAT => Body::Heartbeat { seq: r.u64()? },
        kind::ANNOUNCE => {
            let seq = r.u64()?;
            let count = usize::from(r.u16()?);
            let mut events = Vec::with_capacity(count.min(MAX_ENTRIES));
            for _ in 0..count {
                events.push(match r.u8()? {
                    0 => Event::Online(presence(&mut r)?),
                    1 => Event::Offline {
                        id: r.peer()?,
                        ts: r.u64()?,
                    },
                    _ => return Err(WireError::Malformed),
                });
            }
            Body::Announce { seq, events }
        }
        kind::SNAPSHOT_REQUEST => Body::SnapshotRequest,
        kind::SNAPSHOT => {
            let snap = r.u64()?;
            let seq = r.u64()?;
            let part = r.u32()?;
            let last = r.u8()? != 0;
            let count = usize::from(r.u16()?);
            let mut entries = Vec::with_capacity(count.min(MAX_ENTRIES));
            for _ in 0..count {
                entries.push(presence(&mut r)?);
            }
            Body::Snapshot {
                snap,
                seq,
                part,
                last,
                entries,
            }
        }
        kind::INTRO => Body::Intro {
            target: r.peer()?,
            from: r.peer()?,
            key: PublicKey(r.array()?),
            addr: r.addr()?,
        },
        kind::RELAYED => Body::Relayed {
            target: r.peer()?,
            from: r.peer()?,
            data: r.rest(),
        },
        other => Body::Unknown(other),
    };
    Ok(Message {
        node,
        incarnation,
        body,
    })
}

fn presence(r: &mut Reader<'_>) -> Result<Presence, WireError> {
    Ok(Presence {
        id: r.peer()?,
        key: PublicKey(r.array()?),
        ts: r.u64()?,
        addr: r.addr()?,
    })
}

#[cfg(test)]
mod tests;
