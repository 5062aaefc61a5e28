//! `peerd`: the rendezvous server (`peerd server`) and the peer daemon
//! (`peerd start`), plus `peerd completions` and `peerd manpages`. This file
//! only parses arguments and dispatches; the work lives in the library
//! (`peerd::server`, `peerd::peer`, `peerd::manual`).

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use peerd::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(format) = cli.log_format {
        peerd::telemetry::choose_format(format);
    }
    match cli.command {
        Command::Server(args) => peerd::server::main(args),
        Command::Start(args) => peerd::peer::main(args),
        Command::Completions { shell } => {
            peerd::manual::write_completions(
                shell,
                Cli::command(),
                "peerd",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Manpages { dir } => {
            // Both programs' pages: peerd's and peerctl's (the package ships
            // them together).
            let pages = peerd::manual::write_manpages(Cli::command(), "peerd", &dir).and_then(
                |mut written| {
                    let ctl = peerctl::cli::Cli::command();
                    written.extend(peerd::manual::write_manpages(ctl, "peerctl", &dir)?);
                    Ok(written)
                },
            );
            match pages {
                Ok(written) => {
                    for path in written {
                        println!("{}", path.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("peerd manpages: cannot write into {}: {e}", dir.display());
                    ExitCode::FAILURE
                }
            }
        }
    }
}
