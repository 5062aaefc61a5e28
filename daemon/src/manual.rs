//! Man pages and shell completion scripts made from clap definitions, with
//! `clap_mangen` and `clap_complete`: `peerd manpages DIR` and `peerd
//! completions SHELL`. Both take any `clap::Command` and the name it is
//! installed under, so another program's pages are one more call.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// Writes one man page (section 1) per command and visible subcommand of
/// `cmd` into `dir`, named `NAME.1`, `NAME-SUB.1`, `NAME-SUB-SUBSUB.1`, ...
/// (`help` and hidden subcommands get none). Creates `dir` if needed and
/// returns the paths written, parents first.
pub fn write_manpages(cmd: clap::Command, name: &str, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd
        .name(name.to_owned())
        .bin_name(name.to_owned())
        .disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_tree(&cmd, name, dir, &mut written)?;
    Ok(written)
}

fn write_tree(
    cmd: &clap::Command,
    page: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let path = dir.join(format!("{page}.1"));
    let man = clap_mangen::Man::new(cmd.clone())
        .title(page.to_uppercase())
        .source(format!("peerd {}", env!("CARGO_PKG_VERSION")))
        .manual("peerd manual");
    let mut text = Vec::new();
    man.render(&mut text)?;
    std::fs::write(&path, text)?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_tree(sub, &format!("{page}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

/// Writes the completion script of `cmd`, installed as `name`, for `shell`.
pub fn write_completions(shell: Shell, mut cmd: clap::Command, name: &str, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut cmd, name, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> clap::Command {
        clap::Command::new("x")
            .version("1.0")
            .about("A sample")
            .subcommand(
                clap::Command::new("server")
                    .about("Serve")
                    .subcommand(clap::Command::new("check").about("Check")),
            )
            .subcommand(clap::Command::new("secret").hide(true))
    }

    #[test]
    fn one_page_per_visible_command_named_after_the_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("man1");
        let written = write_manpages(sample(), "tool", &out).expect("write");
        let names: Vec<_> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["tool.1", "tool-server.1", "tool-server-check.1"]);
        let page = std::fs::read_to_string(out.join("tool-server-check.1")).expect("read");
        assert!(page.contains(".TH TOOL-SERVER-CHECK 1"), "{page}");
        assert!(
            page.contains("tool server check"),
            "synopsis names the command: {page}"
        );
    }

    #[test]
    fn completions_name_the_subcommands() {
        let mut out = Vec::new();
        write_completions(Shell::Bash, sample(), "tool", &mut out);
        let script = String::from_utf8(out).expect("utf-8");
        assert!(script.contains("complete -F _tool") && script.contains("server"));
    }
}
