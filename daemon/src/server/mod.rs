//! The rendezvous server (`peerd server`). Not yet implemented.

use std::process::ExitCode;

/// Flags of `peerd server`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {}

/// Entry point of `peerd server`.
pub fn main(_args: ServerArgs) -> ExitCode {
    eprintln!("peerd server: not implemented yet");
    ExitCode::FAILURE
}
