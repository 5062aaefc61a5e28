//! What the registry link and the control sessions bring the outbox, each
//! fed to the core as it comes.

use actix::prelude::*;

use super::actor::{LinkEvent, ListPaths, Outbox, Ping, Stopping};
use crate::peer::alarm::{now, Driven};
use crate::peer::core::transport::PeerPacket;

impl Handler<LinkEvent> for Outbox {
    type Result = ();

    fn handle(&mut self, event: LinkEvent, ctx: &mut Self::Context) {
        let now = now();
        let core = &mut self.core;
        match event {
            LinkEvent::Packet { origin, packet } => match packet {
                PeerPacket::Probe { nonce } => core.probed(origin, nonce, false, now),
                PeerPacket::ProbeAck { nonce } => core.probed(origin, nonce, true, now),
                PeerPacket::MessageAck { msg } => core.acked(origin, msg, now),
                // The link gives MESSAGEs to the inbox; HELLOs are handshakes.
                PeerPacket::Message { .. } | PeerPacket::Hello => {}
            },
            LinkEvent::PathProof { peer, src } => core.proven(peer, src, now),
            LinkEvent::SessionReady { peer } => core.session_ready(peer, now),
            LinkEvent::KeyChanged { peer, reason } => core.key_changed(peer, reason, now),
            LinkEvent::Trusted { peer } => core.trusted(peer, now),
            LinkEvent::Introduced { peer, addr } => core.introduced(peer, addr, now),
            LinkEvent::RelayRefused {
                target,
                code,
                message,
            } => core.relay_refused(target, code, &message, now),
            LinkEvent::Up { id } => core.link_up(id, now),
            LinkEvent::Down { reason } => {
                tracing::debug!(%reason, "not registered");
                core.link_down();
            }
            LinkEvent::LookupDone {
                peer,
                result,
                upgrade,
            } => core.looked_up(peer, result, upgrade, now),
            LinkEvent::Unsendable { msg, reason } => core.unsendable(msg, reason, now),
        }
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
