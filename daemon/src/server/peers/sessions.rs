//! The sessions of [`Peers`]: the server's index of a session, installing
//! a new one beside or in place of the current one, finding it by index,
//! confirming it, and forgetting the ones set aside.

use peerd_shared::proto::{Session, SessionKeys};
use peerd_shared::PeerId;

use super::{index_of, Live, Peers, Side, GENERATION_BITS, PREVIOUS_GRACE_MS, UNCONFIRMED_MS};

impl Peers {
    /// The server's index for the next session of `id`.
    pub fn next_index(&self, id: PeerId) -> Option<u32> {
        let index = self.index(id)?;
        let generation = u32::from(self.slots[index].generation.wrapping_add(1)) & 7;
        u32::try_from(index << GENERATION_BITS)
            .ok()
            .map(|i| i | generation)
    }

    /// Installs a new session for `id` (made with [`Peers::next_index`]):
    /// current at once unless the current one is confirmed; then it waits
    /// for its first frame ([`Peers::session`] confirms it).
    pub fn install(&mut self, id: PeerId, keys: SessionKeys, local: u32, remote: u32, now_ms: u64) {
        let Some(index) = self.index(id) else {
            return;
        };
        let live = Live {
            session: Session::new(keys, local, remote),
            established_ms: now_ms,
            confirmed: false,
        };
        let slot = &mut self.slots[index];
        slot.generation = slot.generation.wrapping_add(1);
        self.side.remove(&local);
        let current_confirmed = slot.live.as_ref().is_some_and(|l| l.confirmed);
        let parked = if current_confirmed {
            live
        } else {
            match slot.live.replace(live) {
                Some(old) => old,
                None => return,
            }
        };
        let side = Side {
            slot: index as u32,
            forget_ms: now_ms + UNCONFIRMED_MS,
            live: parked,
        };
        self.side.insert(side.live.session.local, side);
    }

    /// The session with the server-side index `local`, and its peer. A
    /// session found here is about to receive an authenticated frame (the
    /// caller opens it next): call [`Peers::confirm_session`] once it did.
    pub fn session(&mut self, local: u32) -> Option<(PeerId, &mut Live)> {
        let index = (local >> GENERATION_BITS) as usize;
        let id = PeerId::new(index as u64 + 1)?;
        let slot = self.slots.get_mut(index)?;
        match slot.live.as_mut() {
            Some(live) if live.session.local == local => Some((id, live)),
            _ => match self.side.get_mut(&local) {
                Some(side) if side.slot as usize == index => Some((id, &mut side.live)),
                _ => None,
            },
        }
    }

    /// A frame authenticated on session `local`: it is confirmed, and if it
    /// was waiting beside the current one it becomes current (the old
    /// current one keeps receiving for [`PREVIOUS_GRACE_MS`]).
    pub fn confirm_session(&mut self, local: u32, now_ms: u64) {
        let index = (local >> GENERATION_BITS) as usize;
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        if let Some(live) = slot.live.as_mut().filter(|l| l.session.local == local) {
            live.confirmed = true;
            return;
        }
        let Some(mut side) = self
            .side
            .remove(&local)
            .filter(|s| s.slot as usize == index)
        else {
            return;
        };
        side.live.confirmed = true;
        let newer = slot
            .live
            .as_ref()
            .is_none_or(|cur| !cur.confirmed || side.live.established_ms >= cur.established_ms);
        if !newer {
            side.forget_ms = now_ms + PREVIOUS_GRACE_MS;
            self.side.insert(local, side);
            return;
        }
        if let Some(old) = slot.live.replace(side.live) {
            let forget_ms = now_ms + PREVIOUS_GRACE_MS;
            let old_local = old.session.local;
            self.side.insert(
                old_local,
                Side {
                    slot: index as u32,
                    live: old,
                    forget_ms,
                },
            );
        }
    }

    /// The current session of `id`, to send it INTRO or RELAYED.
    pub fn current(&mut self, id: PeerId) -> Option<&mut Live> {
        self.registered_slot(id)?.live.as_mut()
    }

    /// Drops every session of `id` (it expired).
    pub fn drop_sessions(&mut self, id: PeerId) {
        if let Some(slot) = self.registered_slot(id) {
            slot.live = None;
        }
        if let Some(index) = index_of(id) {
            self.side.retain(|_, s| s.slot as usize != index);
        }
    }

    /// Forgets replaced and unconfirmed sessions past their time.
    pub fn sweep_side(&mut self, now_ms: u64) {
        self.side.retain(|_, s| s.forget_ms > now_ms);
    }
}
