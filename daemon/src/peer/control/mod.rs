//! The control socket `peerctl` talks to: the [`listener`] (the socket file
//! and the actor accepting connections), one [`session`] actor per client
//! reading request [`lines`], its [`writer`] answering in order (and
//! streaming `follow` events), and the [`commands`] that turn a request
//! into a reply. [`limits`] bounds what one client costs; [`probe`] asks a
//! socket who answers on it.

pub mod commands;
pub mod limits;
pub mod lines;
pub mod listener;
pub mod probe;
pub mod session;
mod writer;

pub use commands::{DaemonInfo, Services};
pub use listener::{claim, ControlListener, SocketFile};
pub use session::Session;
