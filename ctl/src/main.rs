//! `peerctl`: the control CLI of the peer daemon. This file parses the
//! command line (`peerctl::cli`), runs the command through the `peerctl`
//! library and turns the outcome into an exit status.

use std::process::ExitCode;

use clap::Parser;
use peerctl::cli::Cli;
use peerctl::EXIT_DAEMON_ERROR;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("peerctl: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_DAEMON_ERROR);
        }
    };
    let outcome = runtime.block_on(peerctl::commands::run(cli));
    // Threads blocked on standard input (the shell, `send -`) must not
    // hold up the exit.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            f.report(json);
            ExitCode::from(f.status)
        }
    }
}
