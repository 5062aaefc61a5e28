//! What the network, the registry link and the control sessions bring the
//! outbox, each fed to the core as it comes.

use actix::prelude::*;

use super::actor::{
    Introduced, LinkDown, LinkUp, ListPaths, LookupDone, Outbox, PeerPacketReceived, Ping,
    RelayRefused, Stopping, Unsendable,
};
use crate::peer::alarm::now;
use crate::peer::core::transport::PeerPacket;

impl Handler<PeerPacketReceived> for Outbox {
    type Result = ();

    fn handle(&mut self, m: PeerPacketReceived, ctx: &mut Self::Context) {
        let now = now();
        match m.packet {
            PeerPacket::Punch { nonce } => self.core.punched(m.origin, nonce, false, now),
            PeerPacket::PunchAck { nonce } => self.core.punched(m.origin, nonce, true, now),
            PeerPacket::MessageAck { msg } => self.core.acked(m.origin, msg, now),
            // The link gives MESSAGEs to the inbox.
            PeerPacket::Message { .. } => {}
        }
        self.carry_out(ctx);
    }
}

impl Handler<Introduced> for Outbox {
    type Result = ();

    fn handle(&mut self, m: Introduced, ctx: &mut Self::Context) {
        self.core.introduced(m.peer, m.addr, now());
        self.carry_out(ctx);
    }
}

impl Handler<RelayRefused> for Outbox {
    type Result = ();

    fn handle(&mut self, m: RelayRefused, ctx: &mut Self::Context) {
        self.core.relay_refused(m.target, m.code, &m.message, now());
        self.carry_out(ctx);
    }
}

impl Handler<LinkUp> for Outbox {
    type Result = ();

    fn handle(&mut self, m: LinkUp, ctx: &mut Self::Context) {
        self.core.link_up(m.id, now());
        self.carry_out(ctx);
    }
}

impl Handler<LinkDown> for Outbox {
    type Result = ();

    fn handle(&mut self, m: LinkDown, _ctx: &mut Self::Context) {
        tracing::debug!(reason = %m.reason, "not registered");
        self.core.link_down();
    }
}

impl Handler<LookupDone> for Outbox {
    type Result = ();

    fn handle(&mut self, m: LookupDone, ctx: &mut Self::Context) {
        self.core.looked_up(m.peer, m.result, m.upgrade, now());
        self.carry_out(ctx);
    }
}

impl Handler<Unsendable> for Outbox {
    type Result = ();

    fn handle(&mut self, m: Unsendable, ctx: &mut Self::Context) {
        self.core.unsendable(m.msg, m.reason, now());
        self.carry_out(ctx);
    }
}

impl Handler<ListPaths> for Outbox {
    type Result = MessageResult<ListPaths>;

    fn handle(&mut self, _: ListPaths, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.core.paths(now()))
    }
}

impl Handler<Ping> for Outbox {
    type Result = ();

    fn handle(&mut self, m: Ping, ctx: &mut Self::Context) {
        let id = self.next_ping;
        self.next_ping += 1;
        self.pings.insert(id, m.reply);
        self.core.ping(id, m.to, now());
        self.carry_out(ctx);
    }
}

impl Handler<Stopping> for Outbox {
    type Result = ();

    fn handle(&mut self, _: Stopping, _ctx: &mut Self::Context) {
        self.stopping = true;
    }
}
