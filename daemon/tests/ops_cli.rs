//! `peerd completions` and `peerd manpages`: the bash script completes
//! `peerd se` to `server` in a real bash, and every man page renders with
//! man-db without a warning.

mod ops_support;

use std::process::Command;

use ops_support::{command, have};

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// What bash's completion of `peerd WORDS...` (the cursor after the last
/// word) offers, using the script `peerd completions bash` prints.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let home = tempfile::tempdir().expect("tempdir");
    let script = home.path().join("peerd.bash");
    let text = run_ok(command(home.path()).args(["completions", "bash"]));
    std::fs::write(&script, text).expect("write script");
    let words = words.join(" ");
    let program = format!(
        r#"source "$1"
func=$(complete -p peerd | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
[ -n "$func" ] || {{ echo "no completion function for peerd" >&2; exit 3; }}
COMP_WORDS=(peerd {words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="peerd {words}"
COMP_POINT=${{#COMP_LINE}}
COMP_TYPE=9
"$func" peerd "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    let out = run_ok(
        Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program, "bash"])
            .arg(&script),
    );
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    assert!(have("bash"), "bash is needed");
    assert_eq!(bash_complete(&["se"]), ["server"]);
    let starts = bash_complete(&["st"]);
    assert_eq!(starts, ["start"]);
    let flags = bash_complete(&["server", "--met"]);
    assert_eq!(flags, ["--metrics"]);
}

#[test]
fn completion_scripts_for_zsh_and_fish_name_the_subcommands() {
    let home = tempfile::tempdir().expect("tempdir");
    let zsh = run_ok(command(home.path()).args(["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef peerd"), "{zsh}");
    let fish = run_ok(command(home.path()).args(["completions", "fish"]));
    assert!(
        fish.contains("complete -c peerd") && fish.contains("-a \"server\""),
        "{fish}"
    );
    let bad = command(home.path())
        .args(["completions", "tcsh"])
        .output()
        .expect("run");
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn every_man_page_renders_without_warnings() {
    assert!(have("man"), "man-db is needed (bash .ci/test installs it)");
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path().join("man1");
    let listed = run_ok(command(home.path()).arg("manpages").arg(&dir));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read man dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let peerd: Vec<&String> = names.iter().filter(|n| n.starts_with("peerd")).collect();
    assert_eq!(
        peerd,
        [
            "peerd-completions.1",
            "peerd-manpages.1",
            "peerd-server.1",
            "peerd-start.1",
            "peerd.1"
        ]
    );
    for page in [
        "peerctl.1",
        "peerctl-send.1",
        "peerctl-inbox.1",
        "peerctl-key.1",
        "peerctl-trust.1",
        "peerctl-completions.1",
    ] {
        assert!(names.iter().any(|n| n == page), "no {page} in {names:?}");
    }
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("peerd") || n.starts_with("peerctl")),
        "{names:?}"
    );
    assert_eq!(listed.lines().count(), names.len(), "{listed}");
    for name in &names {
        let page = dir.join(name);
        let out = Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("run man");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "man -l {name}: {stderr}"
        );
        // Justified text: compare with runs of spaces made one.
        let raw = String::from_utf8_lossy(&out.stdout);
        let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            text.contains("NAME") && text.contains("SYNOPSIS"),
            "{name}: {raw}"
        );
        let command = name.trim_end_matches(".1").replace('-', " ");
        assert!(
            text.contains(&command),
            "{name} does not name `{command}`:\n{raw}"
        );
    }
    let server = std::fs::read_to_string(dir.join("peerd-server.1")).expect("read");
    assert!(
        server.contains("metrics") && server.contains("PEERD_SERVER_LISTEN"),
        "{server}"
    );
}

#[test]
fn version_is_printed() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = run_ok(command(home.path()).arg("--version"));
    assert_eq!(out.trim(), format!("peerd {}", env!("CARGO_PKG_VERSION")));
}
