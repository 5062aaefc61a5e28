//! Peers registered with a server from raw sockets: the JSON of their
//! requests, written by hand (tests of the wire format must control every
//! byte), and their sockets, tokens and ids.

use peerd_shared::wire::{ErrorCode, Packet};
use peerd_shared::{PeerId, Seq, Token};

use super::server::Server;
use super::udp::Client;

/// A fresh random token as 32 hex characters.
pub fn new_token() -> String {
    Token::generate().expect("os rng").to_hex()
}

/// A REGISTER of `token` with `seq`.
pub fn register_json(seq: u32, token: &str) -> String {
    format!(r#"{{"v":1,"type":"REGISTER","seq":{seq},"token":"{token}"}}"#)
}

/// A request with id and token, plus `extra` fields (starting with a comma).
pub fn request_json(kind: &str, seq: u32, id: PeerId, token: &str, extra: &str) -> String {
    format!(r#"{{"v":1,"type":"{kind}","seq":{seq},"id":{id},"token":"{token}"{extra}}}"#)
}

/// The code of an ERROR, or a failure naming what came instead.
pub fn code_of(p: &Packet) -> ErrorCode {
    match p {
        Packet::Error { code, .. } => *code,
        other => panic!("expected an ERROR, got {other:?}"),
    }
}

/// A registered peer: its socket, token and id.
pub struct Peer {
    pub client: Client,
    pub token: String,
    pub id: PeerId,
    next_seq: u32,
}

impl Peer {
    /// Registers a new token from a new socket.
    pub fn join(server: &Server) -> Self {
        Self::join_with(server.client(), new_token())
    }

    /// Registers `token` from `client`.
    pub fn join_with(client: Client, token: String) -> Self {
        client.send(register_json(1, &token).as_bytes());
        Self::joined(client, token)
    }

    /// Reads the REGISTER_ACK of a REGISTER (seq 1) `client` already sent.
    pub fn joined(client: Client, token: String) -> Self {
        let reply = client.await_reply(&register_json(1, &token));
        let Packet::RegisterAck { id, addr, seq, .. } = reply else {
            panic!("REGISTER answered {reply:?}");
        };
        assert_eq!(seq, Seq(1));
        assert_eq!(
            addr,
            client.addr(),
            "REGISTER_ACK carries the observed address"
        );
        Self {
            client,
            token,
            id,
            next_seq: 2,
        }
    }

    /// The next unused seq.
    pub fn seq(&mut self) -> u32 {
        self.next_seq += 1;
        self.next_seq
    }

    /// The seq of the last request built by [`Peer::json`].
    pub fn next_seq_used(&self) -> Seq {
        Seq(self.next_seq)
    }

    /// A request of this peer as JSON text.
    pub fn json(&mut self, kind: &str, extra: &str) -> String {
        let seq = self.seq();
        request_json(kind, seq, self.id, &self.token, extra)
    }

    /// Sends a request and returns the reply.
    pub fn call(&mut self, kind: &str, extra: &str) -> Packet {
        let text = self.json(kind, extra);
        self.client.call(&text)
    }
}

/// Raises the soft open-files limit (tests with ~1000 sockets).
pub fn raise_fd_limit(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Registers `n` new peers, each from its own socket, sending all REGISTERs
/// before reading the acks (so the server stores the new ids in batches).
pub fn join_many(server: &Server, n: usize) -> Vec<Peer> {
    raise_fd_limit(n as u64 + 256);
    let pending: Vec<(Client, String)> = (0..n).map(|_| (server.client(), new_token())).collect();
    for (c, t) in &pending {
        c.send(register_json(1, t).as_bytes());
    }
    pending
        .into_iter()
        .map(|(client, token)| Peer::joined(client, token))
        .collect()
}
