//! The daemon's store: the SQLite database ([`Store`]: [`database`],
//! [`outbox_rows`], [`inbox_rows`], `key_rows`), the thread that is its only user and
//! commits in groups ([`thread`]), and the batching of the actors' writes
//! ([`batch`]).

pub mod batch;
pub mod database;
mod inbox_rows;
mod key_rows;
mod outbox_rows;
#[cfg(test)]
mod tests;
pub mod thread;

pub use database::{Counts, QueuedRow, Store, StoreError, DB_FILE};
pub use inbox_rows::order_per_sender;
pub use thread::StoreHandle;
