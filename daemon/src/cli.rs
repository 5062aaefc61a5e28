//! The command line of `peerd` (clap derive): the global `--log-format`
//! and the subcommands. Here rather than in `main.rs` so that `peerd
//! manpages` and the tests can reach the definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

/// `peerd` and its global flags.
#[derive(Debug, Parser)]
#[command(
    name = "peerd",
    version,
    about = "Peer-to-peer messaging across NATs: rendezvous server and peer daemon",
    long_about = "peerd lets programs and people behind NATs find each other and talk.\n\n\
                  Run `peerd server` on a reachable host, `peerd start` on every peer, \
                  then use `peerctl` to list peers and send messages."
)]
pub struct Cli {
    /// Log format: text (human lines; without timestamps when stderr is the
    /// systemd journal), json (one object per line) or journald (native
    /// journal entries) [default: text]
    #[arg(long, global = true, env = "PEERD_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

/// What `peerd` does.
#[derive(Debug, Subcommand)]
pub enum Command {
    // No doc comment here: it would replace the about and long about of
    // `ServerArgs`.
    Server(crate::server::ServerArgs),
    /// Run the peer daemon that holds this machine's registration and messages.
    Start(crate::peer::StartArgs),
    /// Print a shell completion script for peerd to stdout.
    #[command(after_help = "Examples:\n  \
        peerd completions bash > ~/.local/share/bash-completion/completions/peerd\n  \
        peerd completions zsh > ~/.zfunc/_peerd\n  \
        peerd completions fish > ~/.config/fish/completions/peerd.fish")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages of peerd (one per command: peerd.1, peerd-server.1, ...) into DIR.
    Manpages {
        /// Directory to write the pages into (created if missing).
        dir: PathBuf,
    },
}
