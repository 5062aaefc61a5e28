//! Healing the replica with snapshots: asking a node for one (at most every
//! [`SNAPSHOT_RETRY_MS`]), assembling its parts, replacing the node's
//! entries with it and replaying the ANNOUNCEs buffered meanwhile.

use super::super::wire::Presence;
use super::{Assembly, Replica, MAX_SNAPSHOT, SNAPSHOT_RETRY_MS};

impl Replica {
    /// Whether a snapshot of node `i` should be asked for now (and notes
    /// that it is).
    pub(super) fn ask(&mut self, i: u32, now_ms: u64) -> bool {
        let Some(n) = self.nodes.get_mut(&i) else {
            return false;
        };
        match n.asked_ms {
            Some(at) if now_ms.saturating_sub(at) < SNAPSHOT_RETRY_MS => false,
            _ => {
                n.asked_ms = Some(now_ms);
                true
            }
        }
    }

    /// One part of a SNAPSHOT. When its last part is in, the node's entries
    /// are replaced by it (each pushed to `applied`) and the ANNOUNCEs
    /// buffered since are replayed. True when the snapshot must be asked
    /// for again (a part went missing, or announcements overflowed).
    #[allow(clippy::too_many_arguments)]
    pub fn on_snapshot(
        &mut self,
        name: &str,
        incarnation: u64,
        snap: u64,
        seq: u64,
        part: u32,
        last: bool,
        entries: &[Presence],
        now_ms: u64,
        applied: &mut Vec<Presence>,
    ) -> bool {
        let (i, _) = self.touch(name, incarnation, now_ms);
        let Some(n) = self.nodes.get_mut(&i) else {
            return false;
        };
        let a = n.assembly.get_or_insert_with(Assembly::default);
        if part == 0 {
            *a = Assembly {
                snap,
                ..Assembly::default()
            };
        }
        if a.snap != snap || a.next_part != part || a.entries.len() + entries.len() > MAX_SNAPSHOT {
            n.assembly = None;
            // The parts still coming are useless: ask again (when due).
            return last && self.ask(i, now_ms);
        }
        a.entries.extend_from_slice(entries);
        a.next_part += 1;
        if !last {
            return false;
        }
        let Some(done) = n.assembly.take() else {
            return false;
        };
        let buffered = std::mem::take(&mut n.buffered);
        let overflowed = std::mem::take(&mut n.overflowed);
        n.buffered_events = 0;
        n.asked_ms = None;
        n.synced = true;
        n.seq = seq;
        self.drop_entries(i);
        for p in done.entries {
            applied.push(p);
            self.upsert(i, p);
        }
        let mut top = seq;
        for (s, events) in buffered.into_iter().filter(|(s, _)| *s > seq) {
            top = top.max(s);
            for e in &events {
                self.apply(i, e, applied);
            }
        }
        if let Some(n) = self.nodes.get_mut(&i) {
            n.seq = top;
        }
        overflowed && self.ask(i, now_ms)
    }

    /// Nodes whose snapshot is overdue: asked again now.
    pub fn overdue(&mut self, now_ms: u64) -> Vec<String> {
        let due: Vec<u32> = self
            .nodes
            .iter()
            .filter(|(_, n)| {
                n.asked_ms
                    .is_some_and(|at| now_ms.saturating_sub(at) >= SNAPSHOT_RETRY_MS)
            })
            .map(|(i, _)| *i)
            .collect();
        let mut asked = Vec::with_capacity(due.len());
        for i in due {
            if self.ask(i, now_ms) {
                asked.push(self.node_name(i).to_owned());
            }
        }
        asked
    }
}
