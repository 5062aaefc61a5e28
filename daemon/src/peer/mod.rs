//! The peer daemon (`peerd start`). Not yet implemented.

use std::process::ExitCode;

/// Flags of `peerd start`.
#[derive(Debug, clap::Args)]
pub struct StartArgs {}

/// Entry point of `peerd start`.
pub fn main(_args: StartArgs) -> ExitCode {
    eprintln!("peerd start: not implemented yet");
    ExitCode::FAILURE
}
