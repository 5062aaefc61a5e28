//! The store thread: the only user of the [`Store`], off the actor threads.
//!
//! Callers send closures through [`StoreHandle::call`] and await the result.
//! The thread takes every job waiting in its queue (up to [`MAX_BATCH`]),
//! runs them in one transaction, commits, and only then answers them: a
//! caller that sees `Ok` knows its write is on disk (group commit, which is
//! what makes thousands of durable messages per second possible).
//!
//! Reads ([`StoreHandle::read`]) run outside that transaction, against what
//! is committed, and answer at once: a failed commit (a full disk) fails the
//! writes of its batch, never a `status` or `inbox` that happened to share it.

use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::{Store, StoreError};

/// Most jobs committed in one transaction.
pub const MAX_BATCH: usize = 1024;

type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type WriteJob = Box<dyn FnOnce(&mut Store) -> Done + Send>;
type ReadJob = Box<dyn FnOnce(&Store) + Send>;

enum Job {
    Write(WriteJob),
    Read(ReadJob),
}

/// A cheap, cloneable handle to the store thread.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Job>,
}

impl StoreHandle {
    /// Starts the store thread. It ends when every handle is dropped.
    pub fn spawn(store: Store) -> Result<(Self, JoinHandle<()>), std::io::Error> {
        let (tx, rx) = mpsc::channel::<Job>();
        let join = std::thread::Builder::new()
            .name("peerd-store".into())
            .spawn(move || run(store, rx))?;
        Ok((Self { tx }, join))
    }

    /// Runs `f` on the store thread inside a transaction; resolves once it
    /// has committed.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: WriteJob = Box::new(move |store| {
            let result = f(store);
            Box::new(move |commit: Result<(), StoreError>| {
                let _ = tx.send(commit.and(result));
            })
        });
        self.tx
            .send(Job::Write(job))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs the read-only `f` on the store thread outside any transaction
    /// (it sees only committed data) and resolves with its result.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |store| {
            let _ = tx.send(f(store));
        });
        self.tx
            .send(Job::Read(job))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

fn run(mut store: Store, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::with_capacity(64);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut writes = Vec::with_capacity(batch.len());
        for job in batch {
            match job {
                Job::Read(read) => read(&store),
                Job::Write(write) => writes.push(write),
            }
        }
        if writes.is_empty() {
            continue;
        }
        let begun = store.begin();
        let dones: Vec<Done> = writes.into_iter().map(|job| job(&mut store)).collect();
        let commit = begun.and_then(|()| store.commit());
        if let Err(e) = &commit {
            tracing::error!(error = %e, "store commit failed");
            store.rollback();
        }
        for done in dones {
            done(commit.clone());
        }
    }
}
