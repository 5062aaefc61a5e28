//! `peerd`: the rendezvous server (`peerd server`) and the peer daemon
//! (`peerd start`). This file only parses arguments and dispatches; the work
//! lives in the library (`peerd::server`, `peerd::peer`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "peerd",
    version,
    about = "Peer-to-peer messaging across NATs: rendezvous server and peer daemon",
    long_about = "peerd lets programs and people behind NATs find each other and talk.\n\n\
                  Run `peerd server` on a reachable host, `peerd start` on every peer, \
                  then use `peerctl` to list peers and send messages."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the rendezvous server: registry, STUN, introductions and relay.
    Server(peerd::server::ServerArgs),
    /// Run the peer daemon that holds this machine's registration and messages.
    Start(peerd::peer::StartArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Server(args) => peerd::server::main(args),
        Command::Start(args) => peerd::peer::main(args),
    }
}
