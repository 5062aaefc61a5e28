//! The store on a temporary database: dedup, listing order, outbox ids
//! and statuses, listings since a time, removal (and a removed message
//! never stored again), batched writes committed before they answer.

use peerd_shared::control::history::MessageRef;
use peerd_shared::control::{InboxEntry, PathKind};
use peerd_shared::{MsgId, PeerId};

use super::{Store, StoreHandle};

fn entry(from: u64, msg: u64) -> InboxEntry {
    InboxEntry {
        from: PeerId::new(from).unwrap(),
        msg: MsgId(msg),
        text: format!("m{msg}"),
        addr: "127.0.0.1:9".into(),
        path: PathKind::Direct,
        sent_ms: 1,
        received_ms: 2,
    }
}

#[test]
fn inbox_dedups_and_lists_newest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(store.receive(&entry(1, 1)).unwrap().is_some());
    assert!(store.receive(&entry(1, 1)).unwrap().is_none());
    assert!(store.receive(&entry(2, 1)).unwrap().is_some());
    assert!(store.receive(&entry(1, u64::MAX)).unwrap().is_some());
    let all = store.inbox(None, None, None).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].1.msg, MsgId(u64::MAX));
    let last = store.inbox(PeerId::new(1), Some(1), None).unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].1.msg, MsgId(u64::MAX));
    assert_eq!(store.counts().unwrap().inbox, 3);
}

#[test]
fn listing_orders_each_sender_by_msg_keeping_the_interleaving() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for (from, msg) in [(1, 2), (2, 7), (1, 1), (1, 3), (2, 5)] {
        assert!(store.receive(&entry(from, msg)).unwrap().is_some());
    }
    let got: Vec<(u64, u64)> = store
        .inbox(None, None, None)
        .unwrap()
        .into_iter()
        .map(|(_, e)| (e.from.get(), e.msg.0))
        .collect();
    assert_eq!(got, [(1, 1), (2, 5), (1, 2), (1, 3), (2, 7)]);
    let one: Vec<u64> = store
        .inbox(PeerId::new(1), None, None)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.msg.0)
        .collect();
    assert_eq!(one, [1, 2, 3]);
}

#[test]
fn outbox_ids_survive_reopen_and_statuses_count() {
    let dir = tempfile::tempdir().unwrap();
    let to = PeerId::new(2).unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let a = store.queue(to, "a", 1, 100, None).unwrap();
    let b = store.queue(to, "b", 1, 100, None).unwrap();
    assert_ne!(a, b);
    store.delivered(a, PathKind::Relayed, 5, 2).unwrap();
    drop(store);
    let mut store = Store::open(dir.path()).unwrap();
    let c = store.queue(to, "c", 1, 100, Some("x")).unwrap();
    assert!(c.0 > b.0);
    store.failed(c, "expired", 3).unwrap();
    let queued = store.queued().unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].msg, b);
    let c2 = store.counts().unwrap();
    assert_eq!((c2.queued, c2.delivered, c2.failed), (1, 1, 1));
    let out = store.outbox(Some(2), None).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].last_error.as_deref(), Some("expired"));
    assert_eq!(
        store.outbox(None, None).unwrap()[0].path,
        Some(PathKind::Relayed)
    );
}

fn received(from: u64, msg: u64, at_ms: u64) -> InboxEntry {
    InboxEntry {
        received_ms: at_ms,
        ..entry(from, msg)
    }
}

#[test]
fn inbox_since_delete_and_prune_and_removed_ids_stay_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for (msg, at) in [(1, 100), (2, 200), (3, 300), (4, 400)] {
        assert!(store.receive(&received(1, msg, at)).unwrap().is_some());
    }
    let since: Vec<u64> = store
        .inbox(None, None, Some(200))
        .unwrap()
        .iter()
        .map(|(_, e)| e.msg.0)
        .collect();
    assert_eq!(since, [2, 3, 4]);
    assert_eq!(store.inbox(None, Some(1), Some(200)).unwrap().len(), 1);
    let two = MessageRef {
        from: PeerId::new(1).unwrap(),
        msg: MsgId(2),
    };
    let absent = MessageRef {
        from: PeerId::new(9).unwrap(),
        msg: MsgId(2),
    };
    assert_eq!(store.delete_inbox(&[two, absent], 500).unwrap(), 1);
    assert_eq!(store.delete_inbox(&[two], 500).unwrap(), 0);
    // A retransmission of a removed message is not stored again.
    assert!(store.receive(&received(1, 2, 600)).unwrap().is_none());
    assert_eq!(store.prune_inbox(300, 700).unwrap(), 1, "message 1");
    assert!(store.receive(&received(1, 1, 800)).unwrap().is_none());
    let left: Vec<u64> = store
        .inbox(None, None, None)
        .unwrap()
        .iter()
        .map(|(_, e)| e.msg.0)
        .collect();
    assert_eq!(left, [3, 4]);
    // Once the ids are forgotten (after the longest ttl), they are new.
    assert_eq!(store.forget_gone(600).unwrap(), 1, "the id deleted at 500");
    assert!(store.receive(&received(1, 2, 900)).unwrap().is_some());
    assert!(store.receive(&received(1, 1, 900)).unwrap().is_none());
}

#[test]
fn inbox_rows_are_never_numbered_again_after_a_removal() {
    let dir = tempfile::tempdir().unwrap();
    // An inbox of an older version, without AUTOINCREMENT.
    let old = rusqlite::Connection::open(dir.path().join(super::DB_FILE)).unwrap();
    old.execute_batch(
        "CREATE TABLE inbox (
             seq INTEGER PRIMARY KEY, sender INTEGER NOT NULL, msg INTEGER NOT NULL,
             text TEXT NOT NULL, addr TEXT NOT NULL, path TEXT NOT NULL,
             sent_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL, UNIQUE (sender, msg));
         INSERT INTO inbox VALUES (7, 1, 1, 'kept', 'a', 'direct', 1, 2);",
    )
    .unwrap();
    drop(old);
    let store = Store::open(dir.path()).unwrap();
    let rows = store.inbox(None, None, None).unwrap();
    assert_eq!((rows[0].0, rows[0].1.text.as_str()), (7, "kept"), "copied");
    let eight = store.receive(&entry(1, 2)).unwrap().expect("stored");
    assert_eq!(eight, 8);
    assert_eq!(
        store.prune_inbox(1000, 0).unwrap(),
        2,
        "both rows, the newest too"
    );
    let nine = store.receive(&entry(1, 3)).unwrap().expect("stored");
    assert_eq!(nine, 9, "the number of a removed row is not given again");
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.receive(&entry(1, 4)).unwrap(), Some(10));
}

#[test]
fn outbox_since_delete_and_prune_keep_queued_messages() {
    let dir = tempfile::tempdir().unwrap();
    let to = PeerId::new(2).unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let a = store.queue(to, "a", 100, 10_000, None).unwrap();
    let b = store.queue(to, "b", 200, 10_000, None).unwrap();
    let c = store.queue(to, "c", 300, 10_000, None).unwrap();
    let d = store.queue(to, "d", 400, 10_000, None).unwrap();
    store.delivered(a, PathKind::Direct, 150, 1).unwrap();
    store.failed(b, "expired", 1).unwrap();
    store.delivered(d, PathKind::Direct, 450, 1).unwrap();
    let since: Vec<MsgId> = store
        .outbox(None, Some(200))
        .unwrap()
        .iter()
        .map(|m| m.msg)
        .collect();
    assert_eq!(since, [b, c, d]);
    assert_eq!(store.prune_outbox(350).unwrap(), 2, "a and b, not queued c");
    assert_eq!(store.delete_outbox(&[c, MsgId(999)]).unwrap(), 1);
    let left: Vec<MsgId> = store
        .outbox(None, None)
        .unwrap()
        .iter()
        .map(|m| m.msg)
        .collect();
    assert_eq!(left, [d]);
    assert!(store.queue(to, "e", 500, 10_000, None).unwrap().0 > d.0);
}

#[test]
fn jobs_commit_before_they_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (handle, join) = StoreHandle::spawn(store).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let to = PeerId::new(2).unwrap();
    let ids = rt.block_on(async {
        let calls = (0..50).map(|i| {
            let h = handle.clone();
            async move {
                h.call(move |s| s.queue(to, &format!("{i}"), 0, 1, None))
                    .await
            }
        });
        futures_util::future::join_all(calls).await
    });
    assert!(ids.iter().all(Result::is_ok));
    // A second connection sees every row: they were committed.
    let other = Store::open(dir.path()).unwrap();
    assert_eq!(other.counts().unwrap().queued, 50);
    drop(handle);
    join.join().unwrap();
}
